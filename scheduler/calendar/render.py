"""The month calendar as one self-contained HTML page (inline CSS and script; no fonts, images or other requests).

One grid of the month's dates (Monday first); each date's cell has a row per schedule: a bar for the schedule's
local day (00:00 to 24:00 in its zone, drawn to scale, so a clock-change day of 23 or 25 hours fills the bar
too), shaded where the schedule runs, with a tick per transition, the running times and hours as text, and marks
for a holiday and a clock change. Below the grid, each schedule's transitions are listed in a table.

Readable without the script: every fact is text on the page, and each tick is a button whose label (and tooltip)
says what happens when. The script only adds a richer tooltip on hover, focus or click. It builds the tooltip with
``textContent`` from ``data-`` attributes, so user text never becomes markup; every interpolated value is escaped
(:func:`scheduler.savings.formats.escape`), and a Content-Security-Policy allows no request and no script but the
page's own (by its hash).
"""

from __future__ import annotations

import base64
import calendar as stdlib_calendar
import hashlib
from collections.abc import Iterable
from datetime import datetime

from scheduler.engine import iso_z, zone
from scheduler.engine.errors import printable
from scheduler.engine.evaluate import Interval
from scheduler.savings.charts import PALETTE
from scheduler.savings.formats import escape, number

from .model import CalendarDay, DayTransition, MonthCalendar, ScheduleMonth, intervals_text

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_CSS = """
:root { --ink: #1d2433; --muted: #5b6478; --line: #d9dee7; --bg: #f6f7fa; --run: #0072B2; --warn: #a35200; }
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 32px 48px; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 18px; margin: 28px 0 8px; }
.sub { color: var(--muted); margin: 0 0 12px; font-size: 13px; max-width: 1100px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td { overflow-wrap: anywhere; }
.key { display: inline-block; min-width: 18px; padding: 0 4px; border-radius: 4px; background: var(--c);
       color: #fff; font-size: 11px; font-weight: 700; text-align: center; line-height: 16px; }
table.month { table-layout: fixed; border: 1px solid var(--line); }
table.month th { text-align: center; }
table.month td { border: 1px solid var(--line); padding: 3px 5px 5px; height: 60px; }
table.month td.out { background: var(--bg); }
.date { font-weight: 600; font-size: 13px; }
ul.runs { list-style: none; margin: 0; padding: 0; }
li.run { margin: 3px 0 0; font-size: 11px; line-height: 14px; }
.line { display: flex; align-items: center; gap: 4px; }
.bar { position: relative; flex: 1 1 auto; height: 12px; background: #eef0f4; border: 1px solid #c9ced8;
       border-radius: 2px; }
li.holiday .bar { background: repeating-linear-gradient(135deg, #eef0f4 0 4px, #f7d9b5 4px 7px); }
.seg { position: absolute; top: 0; bottom: 0; background: var(--c); }
button.tr { position: absolute; top: -4px; width: 10px; height: 18px; margin-left: -5px; padding: 0; border: 0;
            background: transparent; cursor: pointer; }
button.tr::before { content: ""; position: absolute; left: 4px; top: 0; width: 2px; height: 18px;
                    background: var(--ink); }
button.tr.stop::before { background: #c0392b; }
button.tr:focus-visible { outline: 2px solid #e69f00; outline-offset: 1px; }
.line.txt { flex-wrap: wrap; gap: 0 4px; color: var(--muted); }
.txt b { color: var(--ink); font-weight: 600; white-space: nowrap; }
.mark { display: inline-block; padding: 0 3px; border-radius: 3px; font-size: 10px; font-weight: 700;
        white-space: nowrap; }
.mark.hol { background: #f7d9b5; color: #6b3500; }
.mark.dst { background: #d7e3f5; color: #123e7a; }
.legend td .desc { color: var(--muted); font-size: 12px; white-space: pre-wrap; }
details { margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
#tip { position: fixed; z-index: 10; max-width: 340px; padding: 8px 10px; border-radius: 6px; background: #1d2433;
       color: #fff; font-size: 12px; line-height: 1.45; pointer-events: none; white-space: pre-line;
       box-shadow: 0 4px 14px rgba(0,0,0,.25); }
#tip[hidden] { display: none; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
"""

# Tooltips with richer detail on hover, focus and click. User text only ever goes through textContent.
_SCRIPT = """
(function () {
  "use strict";
  var tip = document.getElementById("tip");
  var pinned = null;
  function rowText(row) {
    var d = row.dataset;
    var lines = [d.schedule + " \\u00b7 " + d.day + " (" + d.timezone + ")",
                 "running " + d.hours + " h of a " + d.dayHours + " h day" + (d.local ? ": " + d.local : "")];
    if (d.holiday === "true") lines.push("holiday: stopped all day");
    if (d.dst === "true") lines.push("clocks change: UTC" + d.offsetBefore + " \\u2192 UTC" + d.offsetAfter);
    row.querySelectorAll("button.tr").forEach(function (b) { lines.push(b.dataset.label); });
    return lines.join("\\n");
  }
  function show(text, el) {
    tip.textContent = text;
    tip.hidden = false;
    var r = el.getBoundingClientRect();
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var x = Math.min(Math.max(4, r.left), window.innerWidth - w - 4);
    var y = r.bottom + 6 + h > window.innerHeight ? r.top - h - 6 : r.bottom + 6;
    tip.style.left = x + "px";
    tip.style.top = Math.max(4, y) + "px";
  }
  function hide() { if (!pinned) tip.hidden = true; }
  function target(ev) {
    var el = ev.target instanceof Element ? ev.target : null;
    return el ? el.closest("button.tr, li.run") : null;
  }
  function describe(el) { return el.matches("button.tr") ? el.dataset.detail : rowText(el); }
  document.querySelectorAll("button.tr").forEach(function (b) { b.removeAttribute("title"); });
  document.addEventListener("mouseover", function (ev) {
    var el = target(ev);
    if (el && !pinned) show(describe(el), el);
  });
  document.addEventListener("mouseout", function (ev) { if (target(ev)) hide(); });
  document.addEventListener("focusin", function (ev) { var el = target(ev); if (el) show(describe(el), el); });
  document.addEventListener("focusout", function () { pinned = null; hide(); });
  document.addEventListener("click", function (ev) {
    var el = target(ev);
    if (!el) { pinned = null; hide(); return; }
    pinned = pinned === el ? null : el;
    show(describe(el), el);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { pinned = null; tip.hidden = true; }
  });
})();
"""


def script_hash(script: str = _SCRIPT) -> str:
    """The CSP source that allows exactly ``script`` (``'sha256-…'``)."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src {script_hash()}; base-uri 'none'; form-action 'none'"


def text(value: object) -> str:
    """User text (a name, a description) as HTML: control and format characters written out, then escaped."""
    return escape(printable(str(value)))


def _hours(value: float) -> str:
    return f"{value:g}" if value == round(value, 2) else f"{value:.2f}"


def _clock(instant: datetime, day: CalendarDay, tz_name: str) -> str:
    """Local wall time of ``instant`` on ``day`` (the end of the day is 24:00)."""
    if instant >= day.end:
        return "24:00"
    return instant.astimezone(zone(tz_name)).strftime("%H:%M")


def local_spans(day: CalendarDay, tz_name: str) -> str:
    return ", ".join(f"{_clock(s, day, tz_name)}–{_clock(e, day, tz_name)}" for s, e in day.running)


def _pct(instant: datetime, day: CalendarDay) -> float:
    span = (day.end - day.start).total_seconds()
    return max(0.0, min(100.0, (instant - day.start).total_seconds() / span * 100.0))


def _segments(running: Iterable[Interval], day: CalendarDay) -> str:
    out = []
    for s, e in running:
        left, right = _pct(s, day), _pct(e, day)
        out.append(
            f'<span class="seg" aria-hidden="true" style="left:{left:.3f}%;width:{right - left:.3f}%" '
            f'data-start="{iso_z(s)}" data-end="{iso_z(e)}"></span>'
        )
    return "".join(out)


def _transition_label(name: str, day: CalendarDay, tr: DayTransition) -> str:
    why = "event" if tr.source == "event" else "running time begins" if tr.action == "start" else "running time ends"
    return f"{printable(name)}: {tr.action} at {day.day.isoformat()} {tr.local} ({iso_z(tr.at)}), {why}"


def _ticks(name: str, day: CalendarDay) -> str:
    out = []
    for tr in day.transitions:
        label = _transition_label(name, day, tr)
        short = f"{tr.action} {tr.local} ({iso_z(tr.at)})"
        out.append(
            f'<button type="button" class="tr {escape(tr.action)}" style="left:{_pct(tr.at, day):.3f}%" '
            f'data-at="{iso_z(tr.at)}" data-action="{escape(tr.action)}" data-label="{escape(short)}" '
            f'data-detail="{escape(label)}" aria-label="{escape(label)}" title="{escape(label)}"></button>'
        )
    return "".join(out)


def _row(sm: ScheduleMonth, index: int, colour: str, day: CalendarDay) -> str:
    spans = local_spans(day, sm.timezone)
    classes = ["run"] + (["holiday"] if day.holiday else []) + (["dst"] if day.clock_change else [])
    marks = []
    if day.holiday:
        marks.append('<span class="mark hol" title="holiday: stopped all local day">holiday</span>')
    if day.clock_change:
        shift = f"{_hours(day.hours_long)} h day, UTC{day.offset_before} → UTC{day.offset_after}"
        marks.append(
            f'<span class="mark dst" title="clocks change: {escape(shift)}">DST {_hours(day.hours_long)} h</span>'
        )
    summary = (
        f"{printable(sm.name)} on {day.day.isoformat()} ({sm.timezone}): "
        + (f"running {spans}, {_hours(day.running_hours)} h" if spans else "not running")
        + ("; holiday" if day.holiday else "")
        + (f"; clocks change, a {_hours(day.hours_long)} hour day" if day.clock_change else "")
    )
    attrs = {
        "data-schedule": printable(sm.name),
        "data-day": day.day.isoformat(),
        "data-timezone": sm.timezone,
        "data-hours": _hours(day.running_hours),
        "data-day-hours": _hours(day.hours_long),
        "data-day-start": iso_z(day.start),
        "data-day-end": iso_z(day.end),
        "data-running": intervals_text(day.running),
        "data-local": spans,
        "data-holiday": "true" if day.holiday else "false",
        "data-dst": "true" if day.clock_change else "false",
        "data-offset-before": day.offset_before,
        "data-offset-after": day.offset_after,
    }
    attr_html = " ".join(f'{k}="{escape(v)}"' for k, v in attrs.items())
    return (
        f'<li class="{" ".join(classes)}" style="--c:{colour}" {attr_html}>'
        f'<span class="sr">{escape(summary)}</span>'
        f'<div class="line"><span class="key" aria-hidden="true">{index}</span>'
        f'<span class="bar">{_segments(day.running, day)}{_ticks(sm.name, day)}</span></div>'
        f'<div class="line txt" aria-hidden="true"><b>{_hours(day.running_hours)} h</b>{"".join(marks)}'
        f"<span>{escape(spans)}</span></div></li>"
    )


def colours(cal: MonthCalendar) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(len(cal.schedules))]


def _grid(cal: MonthCalendar) -> str:
    cols = colours(cal)
    weeks = stdlib_calendar.Calendar(firstweekday=0).monthdatescalendar(cal.first.year, cal.first.month)
    by_day = [{d.day: d for d in sm.days} for sm in cal.schedules]
    head = "".join(f'<th scope="col">{w}</th>' for w in WEEKDAYS)
    rows = []
    for week in weeks:
        cells = []
        for d in week:
            if d.month != cal.first.month:
                cells.append('<td class="out" aria-hidden="true"></td>')
                continue
            runs = "".join(
                _row(sm, i + 1, cols[i], by_day[i][d]) for i, sm in enumerate(cal.schedules) if d in by_day[i]
            )
            cells.append(
                f'<td data-date="{d.isoformat()}"><div class="date">{d.day}'
                f'<span class="sr"> {d.strftime("%A")}</span></div><ul class="runs">{runs}</ul></td>'
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"Running time per local day, {stdlib_calendar.month_name[cal.first.month]} {cal.first.year}"
    return (
        f'<table class="month"><caption class="sr">{escape(caption)}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _legend(cal: MonthCalendar) -> str:
    cols = colours(cal)
    rows = []
    for i, sm in enumerate(cal.schedules):
        notes = []
        if sm.override is not None:
            notes.append(f"override_status {sm.override}: {sm.override} all month, no transitions")
        if sm.events_only:
            notes.append("only start/stop events: between them the schedule leaves the state as it is")
        desc = "".join(f'<div class="desc">{text(n)}</div>' for n in ([sm.description] if sm.description else []))
        desc += "".join(f'<div class="desc">{escape(n)}</div>' for n in notes)
        hol = ", ".join(d.strftime("%d") for d in sm.holidays) or "none"
        dst = ", ".join(d.strftime("%d") for d in sm.clock_changes) or "none"
        rows.append(
            f'<tr data-schedule="{text(sm.name)}"><td><span class="key" style="--c:{cols[i]}">{i + 1}</span></td>'
            f"<td>{text(sm.name)}{desc}</td><td>{escape(sm.timezone)}</td>"
            f"<td>{text(', '.join(sm.periods)) or '—'}</td>"
            f'<td class="n">{escape(number(sm.running_hours))}</td><td class="n">{sm.transition_count}</td>'
            f"<td>{escape(hol)}</td><td>{escape(dst)}</td></tr>"
        )
    head = (
        "<tr><th>key</th><th>schedule</th><th>time zone</th><th>periods</th><th class='n'>running h</th>"
        "<th class='n'>transitions</th><th>holidays</th><th>clock changes</th></tr>"
    )
    return f'<table class="legend"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _transition_tables(cal: MonthCalendar) -> str:
    out = []
    for sm in cal.schedules:
        rows = []
        for day in sm.days:
            for tr in day.transitions:
                why = "event" if tr.source == "event" else "window"
                rows.append(
                    f"<tr><td>{day.day.strftime('%a %Y-%m-%d')} {escape(tr.local)}</td><td>{iso_z(tr.at)}</td>"
                    f"<td>{escape(tr.action)}</td><td>{why}</td></tr>"
                )
        body = (
            "<table><thead><tr><th>local time</th><th>UTC</th><th>action</th><th>why</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            if rows
            else "<p>No transitions this month.</p>"
        )
        out.append(
            f'<details data-schedule="{text(sm.name)}"><summary>{text(sm.name)} ({escape(sm.timezone)}): '
            f"{len(rows)} transition(s)</summary>{body}</details>"
        )
    return "".join(out)


def render_calendar(cal: MonthCalendar) -> str:
    """The calendar as one HTML page."""
    title = f"isched calendar · {stdlib_calendar.month_name[cal.first.month]} {cal.first.year}"
    if cal.schedules:
        body = (
            f"<h2>Schedules</h2>{_legend(cal)}<h2>Running time per day</h2>{_grid(cal)}"
            f"<h2>Transitions</h2>{_transition_tables(cal)}"
        )
    else:
        body = "<p>There are no schedules to draw.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">{len(cal.schedules)} schedule(s), each on its own local days: a bar is one day from 00:00 to 24:00 in
the schedule's time zone, drawn to scale (a day when the clocks change is 23 or 25 hours long, marked DST), shaded
while the schedule runs. Ticks are transitions (dark: start, red: stop); hover, focus or click one for details.
Holidays (hatched) are stopped all day.</p>
{body}
<div id="tip" role="tooltip" hidden></div>
<footer>Generated by isched from the schedules' definitions (the same evaluation as
<code>isched schedule preview</code>), not from what resources did.</footer>
<script>{_SCRIPT}</script>
</body></html>
"""
