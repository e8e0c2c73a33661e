"""The savings report as CSV, as a self-contained HTML page and as a PNG chart.

Every renderer takes the report's JSON (``report.monthly_report`` / ``accounting.build_report``), so all formats
show the same numbers. The HTML page has no external assets and no script (inline CSS, inline SVG charts): it can
be mailed, archived or opened offline.

Names, tag values and notes in a report come from users and from AWS, and each format shows them as data: the HTML
escapes every interpolated value (:func:`escape`: text and attribute values alike), puts no user text in an
attribute and has no script; CSV cells that a spreadsheet would run as a formula start with a quote
(:func:`csv_cell`); chart labels are never TeX. An unknown figure (a resource without a price, a Cost Explorer
figure that is not available) is "unknown" (or an empty CSV cell), never $0.

The charts place every label themselves (no layout engine inside an SVG): text widths are estimated on the safe
side (:func:`text_width`), labels that would collide are left out, and names too long for their margin are
shortened with an ellipsis (the full name is in the tables and in the bar's tooltip). The daily chart covers the
days the report counts (up to ``at``), from the first day anything was stopped, never a mostly empty month.
"""

from __future__ import annotations

import calendar
import csv
import html
import io
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

CSV_FIELDS = (
    "month",
    "account",
    "region",
    "service",
    "resource",
    "schedule",
    "type",
    "units",
    "stopped_hours",
    "running_hours",
    "hourly_price",
    "estimated_savings",
    "price_source",
    "note",
    # Added after the first release: appended, so that column positions readers rely on stay where they were.
    "name",
    "manual_stopped_hours",
    "manual_start_hours",
    "managed_hours",
    "estimated_running_cost",
    "gone_at",
    "commitment_covered",
    "billing_while_stopped",
    "billing_while_stopped_cost",
    "tags",
    "maintenance_hours",
    "override_hours",
)
SUMMARY_FIELDS = ("section", "item", "field", "value")

# Colour-blind-safe (Okabe-Ito) colours, one per schedule in the order schedules are listed.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
RUNNING_COLOUR = "#9AA3B5"  # neutral: running is the cost, not a schedule
STOPPED_COLOUR = "#009E73"
UNPRICED_COLOUR = "#B7DCCF"  # stopped, but without a price: a pale stopped colour
MANUAL_COLOUR = "#CC79A7"  # stopped by hand
MONTH_COLOUR = "#0072B2"
CUMULATIVE_COLOUR = "#D55E00"

CHART_WIDTH = 1200  # the page's content width at 1280 px: chart text is drawn at its CSS size there
TICK_SIZE = 12  # px, the .tick font size
NAME_SIZE = 13  # px, the .name and .label font size


def escape(value: object) -> str:
    """Any value as HTML text or a quoted attribute value: ``& < > " '`` escaped (``None`` is empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


# What a spreadsheet reads as the start of a formula (OWASP "CSV injection"), and a plain number, which it does not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula: text starting with ``= + - @``, a tab or a carriage
    return gets a leading single quote; numbers (and text that is just a number, like ``-1.5``) stay numbers."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


# --- small formatters ---------------------------------------------------------------------------------------------


def money(value: float | None, unknown: str = "unknown") -> str:
    return unknown if value is None else f"${value:,.2f}"


def signed_money(value: float | None, unknown: str = "unknown") -> str:
    """``+$1.50`` / ``−$1.50`` (a difference); ``$0.00`` for none."""
    if value is None:
        return unknown
    if value == 0:
        return "$0.00"
    return f"{'+' if value > 0 else '−'}${abs(value):,.2f}"


def price(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.4f}/h"


def number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


def _num(value: Any) -> float | None:
    """A number from the report, or None (a missing, null or non-numeric value is unknown, never 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return float(value)


def schedule_colours(report: Mapping[str, Any]) -> dict[str, str]:
    names = [g["schedule"] for g in report.get("by_schedule", [])]
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def month_title(month: str) -> str:
    """``2026-11`` as "November 2026"; a span ``2026-01/2026-03`` as "January 2026 – March 2026"."""
    if "/" in month:
        first, last = month.split("/", 1)
        return f"{month_title(first)} – {month_title(last)}"
    try:
        year, m = month.split("-")
        return f"{calendar.month_name[int(m)]} {year}"
    except (ValueError, IndexError):
        return month


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# --- CSV -----------------------------------------------------------------------------------------------------------


def _resource_cells(report: Mapping[str, Any], r: Mapping[str, Any]) -> list[object]:
    coverage = r.get("commitment_coverage") or {}
    billing = r.get("billing_while_stopped") or {}
    tags = r.get("tags")
    row = {
        **r,
        "month": report["month"],
        "commitment_covered": coverage.get("covered") if isinstance(coverage, Mapping) else None,
        "billing_while_stopped": billing.get("what") if isinstance(billing, Mapping) else None,
        "billing_while_stopped_cost": billing.get("estimated_cost") if isinstance(billing, Mapping) else None,
        "tags": json.dumps(tags, ensure_ascii=False, sort_keys=True) if isinstance(tags, Mapping) else None,
    }
    cells = []
    for f in CSV_FIELDS:
        value = row.get(f)
        if isinstance(value, bool):
            value = "yes" if value else "no"
        cells.append(csv_cell(value))
    return cells


def render_csv(report: Mapping[str, Any], *, summary: bool = False) -> str:
    """One row per resource (:data:`CSV_FIELDS`); an empty cell where a value is unknown (never 0 for an unknown
    price). With ``summary``, the report-level figures follow: after one empty row, a second block with its own
    header ``section,item,field,value`` (:func:`summary_rows`): totals, the notes, the reconciliation and its
    explanation, the projection beside Cost Explorer's forecast, the months, the groups. A reader that wants only
    the resources stops at the first empty row (:func:`read_csv_blocks` splits the two)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for r in report["resources"]:
        writer.writerow(_resource_cells(report, r))
    if summary:
        writer.writerow([])
        writer.writerow(SUMMARY_FIELDS)
        for row in summary_rows(report):
            writer.writerow([csv_cell(c) for c in row])
    return out.getvalue()


def read_csv_blocks(text: str) -> list[list[dict[str, str]]]:
    """The blocks of a :func:`render_csv` text (resources, then the summary if any), each as dict rows."""
    blocks: list[list[list[str]]] = [[]]
    for row in csv.reader(io.StringIO(text)):
        if not row:
            blocks.append([])
        else:
            blocks[-1].append(row)
    return [[dict(zip(b[0], r, strict=False)) for r in b[1:]] for b in blocks if b]


_TOTAL_FIELDS = (
    "resources",
    "priced_resources",
    "unpriced_resources",
    "stopped_hours",
    "unpriced_stopped_hours",
    "running_hours",
    "manual_stopped_hours",
    "manual_start_hours",
    "maintenance_hours",
    "override_hours",
    "estimated_savings",
    "estimated_running_cost",
    "cost_if_always_running",
    "savings_percent",
    "actual_cost",
)
_GROUP_FIELDS = (
    "resources",
    "stopped_hours",
    "running_hours",
    "manual_stopped_hours",
    "manual_start_hours",
    "override_hours",
    "estimated_savings",
    "estimated_running_cost",
    "unpriced_resources",
    "unpriced_stopped_hours",
    "actual_cost",
)


def summary_rows(report: Mapping[str, Any]) -> list[list[object]]:
    """The report-level figures as ``[section, item, field, value]`` rows (a value ``None`` is unknown)."""
    rows: list[list[object]] = [["report", "", "month", report.get("month")], ["report", "", "at", report.get("at")]]
    rows.append(["report", "", "currency", report.get("currency", "USD")])
    t = report.get("totals") or {}
    rows += [["totals", "", f, t.get(f)] for f in _TOTAL_FIELDS if f in t]
    billing = t.get("billing_while_stopped") or {}
    if billing:
        rows.append(["totals", "", "billing_while_stopped_cost", billing.get("estimated_cost")])
        rows.append(["totals", "", "billing_while_stopped_resources", billing.get("estimated_resources")])
    for n, note in enumerate(report.get("notes") or [], 1):
        rows.append(["note", n, "text", note])
    rec = report.get("reconciliation") or {}
    if rec:
        period = rec.get("period") or {}
        rows += [["reconciliation", "", f"period_{k}", v] for k, v in period.items()]
        for f in (
            "actual_cost",
            "expected_cost",
            "cost_if_always_running",
            "estimated_savings",
            "expected_cost_not_under_tag",
            "variance",
            "variance_percent",
            "variance_under_tag",
            "savings_vs_baseline",
        ):
            rows.append(["reconciliation", "", f, rec.get(f)])
        baseline = rec.get("baseline") or {}
        for f in ("from", "to", "days", "total", "per_day", "for_this_period", "note"):
            if f in baseline:
                rows.append(["reconciliation", "baseline", f, baseline.get(f)])
        for n, line in enumerate(rec.get("explanation") or [], 1):
            rows.append(["reconciliation", "explanation", n, line])
    proj = report.get("projection") or {}
    if proj:
        for f in ("from", "to", "stopped_hours", "estimated_savings", "estimated_running_cost", "unpriced_resources"):
            rows.append(["projection", "", f, proj.get(f)])
        for p in proj.get("by_schedule") or []:
            rows.append(["projection", p.get("schedule"), "estimated_savings", p.get("estimated_savings")])
        forecast = proj.get("cost_explorer_forecast") or {}
        for f in ("from", "to", "total", "lower_bound", "upper_bound", "note"):
            if f in forecast:
                rows.append(["cost_explorer_forecast", "", f, forecast.get(f)])
    accounts = report.get("accounts") or {}
    if accounts:
        rows.append(["accounts", "", "scope", accounts.get("scope")])
        for f in ("in_report", "covered", "not_covered"):
            if accounts.get(f) is not None:
                rows.append(["accounts", "", f, " ".join(str(a) for a in accounts[f])])
    for m in report.get("months") or []:
        for f in ("stopped_hours", "unpriced_stopped_hours", "estimated_savings", "actual_cost", "cumulative_savings"):
            if f in m:
                rows.append(["month", m["month"], f, m.get(f)])
    cumulative = report.get("cumulative") or {}
    if cumulative:
        rows.append(
            ["cumulative", cumulative.get("since_month"), "estimated_savings", cumulative.get("estimated_savings")]
        )
    for section, name in (("schedule", "by_schedule"), ("account", "by_account"), ("service", "by_service")):
        for g in report.get(name) or []:
            rows += [[section, g.get(section), f, g.get(f)] for f in _GROUP_FIELDS if f in g]
    by_tag = report.get("by_tag") or {}
    for g in by_tag.get("groups") or []:
        value = g.get("value")
        item = f"{by_tag.get('key')}={value}" if value is not None else f"{by_tag.get('key')} (untagged)"
        rows += [["tag", item, f, g.get(f)] for f in _GROUP_FIELDS if f in g]
    return rows


# --- text measure -------------------------------------------------------------------------------------------------

_NARROW = frozenset("ijlrtfI.,:;'|!`()[]{}/\\ ")
_WIDE_ASCII = frozenset("MWmw@%")


def text_width(text: str, size: float) -> float:
    """A width no smaller than ``text`` takes at ``size`` px in the page's sans-serif fonts (DejaVu Sans, the
    widest of the usual fallbacks, Arial, Helvetica, Segoe UI, Roboto): an upper bound for placing labels."""
    em = 0.0
    for ch in text:
        if ch == " ":
            em += 0.33
        elif ch in _NARROW:
            em += 0.42
        elif ch in _WIDE_ASCII:
            em += 1.0
        elif ch.isascii():
            em += 0.78 if ch.isupper() else 0.66
        elif unicodedata.east_asian_width(ch) in ("W", "F"):
            em += 1.05
        elif unicodedata.combining(ch):
            continue
        else:
            em += 0.9
    return em * size


def fit_text(text: str, width: float, size: float) -> str:
    """``text``, or as much of it as fits in ``width`` followed by an ellipsis."""
    if text_width(text, size) <= width:
        return text
    out = text
    while out and text_width(out + "…", size) > width:
        out = out[:-1]
    return out.rstrip() + "…"


def _spaced(labels: Sequence[tuple[float, str]], size: float, gap: float = 10.0) -> list[tuple[float, str]]:
    """The centred labels (x, text) that fit without touching the previous one kept (greedy, left to right)."""
    kept: list[tuple[float, str]] = []
    right = float("-inf")
    for x, text in labels:
        half = text_width(text, size) / 2
        if x - half >= right + gap:
            kept.append((x, text))
            right = x + half
    return kept


# --- SVG charts --------------------------------------------------------------------------------------------------


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top`` (1, 2, 2.5 or 5 × a power of ten apart)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** _floor_log10(raw)
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _floor_log10(x: float) -> int:
    n = 0
    while x >= 10:
        x /= 10
        n += 1
    while x < 1:
        x *= 10
        n -= 1
    return n


def tick_money(ticks: Sequence[float]) -> list[str]:
    """Axis labels: whole dollars when every tick is whole, else cents."""
    whole = all(abs(t - round(t)) < 1e-9 for t in ticks)
    return [f"${t:,.0f}" if whole else f"${t:,.2f}" for t in ticks]


def _svg_open(width: int, height: int, label: str, cls: str = "chart") -> str:
    return (
        f'<svg class="{cls}" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(label)}">'
    )


def _text(x: float, y: float, text: str, cls: str = "tick", anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}">{escape(text)}</text>'


def chart_days(report: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], str | None]:
    """The days the daily chart shows, and a caption for those it leaves out.

    Only days the report counts (before ``at``: a report on the 3rd shows 3 days, not the month), and from the
    first day on which anything was stopped (a scheduler that began on the 23rd shows the 23rd onwards), so the
    chart is never mostly empty."""
    days: Sequence[Mapping[str, Any]] = report.get("daily") or []
    at = _instant(report.get("at"))
    if at is not None:
        days = [d for d in days if _day_start(d["date"], at) < at]
    counted = list(days)
    first = next(
        (i for i, d in enumerate(counted) if (d.get("stopped_hours") or 0) or (d.get("unpriced_stopped_hours") or 0)),
        None,
    )
    if first is None:
        return [], None
    shown = counted[first:]
    caption = None
    if first:
        caption = f"{_day_text(counted[0]['date'])} – {_day_text(counted[first - 1]['date'])}: nothing was stopped"
    return shown, caption


def _day_start(text: str, like: datetime) -> datetime:
    d = date.fromisoformat(text)
    return datetime(d.year, d.month, d.day, tzinfo=like.tzinfo)


def _day_text(text: str) -> str:
    d = date.fromisoformat(text)
    return f"{d.day} {calendar.month_abbr[d.month]}"


def daily_savings_svg(report: Mapping[str, Any], width: int = CHART_WIDTH, height: int = 280) -> str:
    """Stacked bars: each counted UTC day's estimated savings, one colour per schedule (see :func:`chart_days`)."""
    days, _ = chart_days(report)
    colours = schedule_colours(report)
    known = [d for d in days if d.get("estimated_savings") is not None]
    peak = max((_num(d["estimated_savings"]) or 0.0 for d in known), default=0.0)
    ticks = nice_ticks(peak)
    labels = tick_money(ticks)
    left = int(max(text_width(t, TICK_SIZE) for t in labels)) + 14
    right, top, bottom = 12, 12, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = ticks[-1] or 1.0
    parts = [_svg_open(width, height, "Estimated savings per day")]
    if not days or not known:
        why = "nothing was stopped in this period" if not days else "savings unknown: no stopped resource has a price"
        parts.append(_text(width / 2, height / 2, why, "label", "middle"))
        parts.append("</svg>")
        return "".join(parts)
    for t, text in zip(ticks, labels, strict=True):
        y = top + plot_h - plot_h * t / y_max
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(_text(left - 8, y + 4, text, anchor="end"))
    n = len(days)
    slot = plot_w / n
    bar = min(56.0, max(1.0, slot * 0.72)) if slot >= 3 else slot
    for i, d in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for name, value in (d.get("by_schedule") or {}).items():
            v = _num(value)
            if not v:
                continue
            h = plot_h * v / y_max
            y -= h
            tip = f"{d['date']} {name}: ${v:,.2f}"
            parts.append(
                f'<rect class="bar" x="{x:.2f}" y="{y:.2f}" width="{bar:.2f}" height="{h:.2f}" '
                f'fill="{colours.get(name, PALETTE[-1])}"><title>{escape(tip)}</title></rect>'
            )
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" class="axis"/>')
    parts.extend(_day_axis(days, left, slot, top + plot_h + 18))
    span = f"{_day_text(days[0]['date'])} – {_day_text(days[-1]['date'])} {days[-1]['date'][:4]}"
    parts.append(_text(left + plot_w / 2, height - 6, f"day (UTC), {span}", "label", "middle"))
    parts.append("</svg>")
    return "".join(parts)


def _day_axis(days: Sequence[Mapping[str, Any]], left: float, slot: float, y: float) -> list[str]:
    """Day-of-month labels (the month's name where it starts, over long spans), none overlapping."""
    long_span = len(days) > 62
    wanted: list[tuple[float, str]] = []
    for i, d in enumerate(days):
        day = date.fromisoformat(d["date"])
        cx = left + i * slot + slot / 2
        if long_span:
            if day.day == 1 or i == 0:
                text = calendar.month_abbr[day.month] + (f" {day.year}" if day.month == 1 or i == 0 else "")
                wanted.append((cx, text))
        else:
            wanted.append((cx, str(day.day)))
    if not long_span:
        # Every k-th day, k the smallest step of 1, 2, 5, 7, 10, 15 that keeps labels apart.
        for step in (1, 2, 5, 7, 10, 15, 31):
            if slot * step >= text_width("30", TICK_SIZE) + 10:
                break
        wanted = [w for i, w in enumerate(wanted) if i % step == 0]
    return [_text(x, y, text, anchor="middle") for x, text in _spaced(wanted, TICK_SIZE)]


def hours_by_schedule_svg(report: Mapping[str, Any], width: int = CHART_WIDTH) -> str:
    """One horizontal bar per schedule: its resources' running hours, hours stopped by the scheduler (priced, then
    unpriced) and hours stopped by hand, with the stopped share."""
    groups: Sequence[Mapping[str, Any]] = report.get("by_schedule", [])
    row_h, gap, top = 26, 12, 8
    legend_h = 30
    height = top + max(1, len(groups)) * (row_h + gap) + legend_h
    names = [str(g["schedule"]) or "(none)" for g in groups]
    left = math.ceil(min(240.0, max((text_width(n, NAME_SIZE) for n in names), default=60.0))) + 16
    ends: list[tuple[float, float, float, float, str]] = []
    for g in groups:
        run = _num(g.get("running_hours")) or 0.0
        stop = _num(g.get("stopped_hours")) or 0.0
        unpriced = _num(g.get("unpriced_stopped_hours")) or 0.0
        manual = _num(g.get("manual_stopped_hours")) or 0.0
        total = run + stop + unpriced + manual
        share = f"{100 * (stop + unpriced) / total:.0f}% stopped by the scheduler" if total else "no hours"
        label = f"{number(round(run))} h running · {number(round(stop + unpriced))} h stopped · {share}"
        ends.append((run, stop, unpriced, manual, label))
    label_w = max((text_width(e[4], TICK_SIZE) for e in ends), default=0.0) + 16
    plot_w = max(80.0, width - left - label_w - 8)
    longest = max((sum(e[:4]) for e in ends), default=0.0) or 1.0
    parts = [_svg_open(width, height, "Running and stopped hours per schedule")]
    for i, (name, (run, stop, unpriced, manual, label)) in enumerate(zip(names, ends, strict=True)):
        y = top + i * (row_h + gap)
        shown = fit_text(name, left - 16, NAME_SIZE)
        parts.append(_text(left - 10, y + row_h / 2 + 5, shown, "name", "end"))
        x = float(left)
        for value, colour, what in (
            (run, RUNNING_COLOUR, "running hours"),
            (stop, STOPPED_COLOUR, "hours stopped by the scheduler"),
            (unpriced, UNPRICED_COLOUR, "hours stopped by the scheduler, unpriced"),
            (manual, MANUAL_COLOUR, "hours stopped by hand"),
        ):
            if value <= 0:
                continue
            w = plot_w * value / longest
            parts.append(
                f'<rect class="hbar" x="{x:.2f}" y="{y}" width="{w:.2f}" height="{row_h}" fill="{colour}">'
                f"<title>{escape(name)}: {value:,.1f} {what}</title></rect>"
            )
            x += w
        parts.append(_text(x + 8, y + row_h / 2 + 4, label))
    legend_y = height - 10
    x = float(left)
    present = [any(e[0] > 0 for e in ends), any(e[1] > 0 for e in ends)]
    present += [any(e[2] > 0 for e in ends), any(e[3] > 0 for e in ends)]
    for shown_, (colour, text) in zip(
        present,
        (
            (RUNNING_COLOUR, "running"),
            (STOPPED_COLOUR, "stopped by the scheduler"),
            (UNPRICED_COLOUR, "stopped by the scheduler, no price"),
            (MANUAL_COLOUR, "stopped by hand"),
        ),
        strict=True,
    ):
        if not shown_:
            continue
        parts.append(f'<rect x="{x:.1f}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 18, legend_y, text))
        x += 18 + text_width(text, TICK_SIZE) + 22
    parts.append("</svg>")
    return "".join(parts)


def months_svg(report: Mapping[str, Any], width: int = CHART_WIDTH, height: int = 280) -> str:
    """Estimated savings per month (bars, left axis) and cumulative savings (line, right axis)."""
    months: Sequence[Mapping[str, Any]] = report.get("months") or []
    values = [_num(m.get("estimated_savings")) for m in months]
    cumulative = [_num(m.get("cumulative_savings")) for m in months]
    parts = [_svg_open(width, height, "Estimated savings per month and cumulative")]
    if not months or all(v is None for v in values):
        parts.append(
            _text(width / 2, height / 2, "savings unknown: no stopped resource has a price", "label", "middle")
        )
        parts.append("</svg>")
        return "".join(parts)
    ticks = nice_ticks(max((v or 0.0 for v in values), default=0.0))
    labels = tick_money(ticks)
    has_cum = any(c is not None for c in cumulative)
    cum_ticks = nice_ticks(max((c or 0.0 for c in cumulative), default=0.0)) if has_cum else []
    cum_labels = tick_money(cum_ticks) if has_cum else []
    left = int(max(text_width(t, TICK_SIZE) for t in labels)) + 14
    right = int(max((text_width(t, TICK_SIZE) for t in cum_labels), default=0.0)) + 14 if has_cum else 12
    top, bottom = 12, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = ticks[-1] or 1.0
    base = top + plot_h
    for t, text in zip(ticks, labels, strict=True):
        y = base - plot_h * t / y_max
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(_text(left - 8, y + 4, text, anchor="end"))
    if has_cum:
        c_max = cum_ticks[-1] or 1.0
        # The right axis's ticks sit where the left axis's do when both have as many; else at their own heights.
        for t, text in zip(cum_ticks, cum_labels, strict=True):
            y = base - plot_h * t / c_max
            parts.append(_text(width - right + 8, y + 4, text, "tick cum"))
    n = len(months)
    slot = plot_w / n
    bar = max(2.0, min(64.0, slot * 0.6))
    points: list[tuple[float, float]] = []
    wanted: list[tuple[float, str]] = []
    for i, m in enumerate(months):
        cx = left + i * slot + slot / 2
        v = values[i]
        if v:
            h = plot_h * v / y_max
            parts.append(
                f'<rect class="bar" x="{cx - bar / 2:.2f}" y="{base - h:.2f}" width="{bar:.2f}" height="{h:.2f}" '
                f'fill="{MONTH_COLOUR}"><title>{escape(m["month"])}: {escape(money(v))}</title></rect>'
            )
        c = cumulative[i]
        if has_cum and c is not None:
            points.append((cx, base - plot_h * c / (cum_ticks[-1] or 1.0)))
        year, month = str(m["month"]).split("-") if "-" in str(m["month"]) else ("", "0")
        text = calendar.month_abbr[int(month)] if month.isdigit() and 1 <= int(month) <= 12 else str(m["month"])
        wanted.append((cx, text + (f" {year}" if i == 0 or text == "Jan" else "")))
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        parts.append(f'<line class="cumline" x1="{x1:.2f}" y1="{y1:.2f}" x2="{x2:.2f}" y2="{y2:.2f}"/>')
    for x, y in points:
        parts.append(f'<rect x="{x - 3.5:.2f}" y="{y - 3.5:.2f}" width="7" height="7" fill="{CUMULATIVE_COLOUR}"/>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" class="axis"/>')
    for x, text in _spaced(wanted, TICK_SIZE):
        parts.append(_text(x, base + 18, text, anchor="middle"))
    legend_y = height - 12
    x = float(left)
    for colour, text in ((MONTH_COLOUR, "estimated savings in the month (left axis)"),) + (
        ((CUMULATIVE_COLOUR, "cumulative savings (right axis)"),) if has_cum else ()
    ):
        parts.append(f'<rect x="{x:.1f}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 18, legend_y, text))
        x += 18 + text_width(text, TICK_SIZE) + 22
    parts.append("</svg>")
    return "".join(parts)


# --- HTML --------------------------------------------------------------------------------------------------------

_CSS = """
:root { --ink: #1d2433; --muted: #5b6478; --line: #d9dee7; --bg: #f6f7fa; --good: #00795c; --warn: #a35200; }
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 40px 48px; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 24px; margin: 0 0 2px; }
h2 { font-size: 18px; margin: 30px 0 8px; }
.sub { color: var(--muted); margin: 0 0 14px; font-size: 13px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 170px; min-width: 0; background: var(--bg); border: 1px solid var(--line); border-radius: 8px;
        padding: 10px 14px; }
.card .v { font-size: 24px; font-weight: 600; overflow-wrap: anywhere; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .s { color: var(--muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
.card.main .v { color: var(--good); }
.card .v.unknown { color: var(--warn); }
.stats { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 0; margin: 12px 0 0;
         border: 1px solid var(--line); border-radius: 8px; }
.stat { padding: 6px 14px; border-bottom: 1px solid var(--line); border-right: 1px solid var(--line); min-width: 0; }
.stat:nth-child(5n) { border-right: 0; }
.stat .k { color: var(--muted); font-size: 12px; }
.stat .v { font-size: 15px; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.stat .v.unknown { color: var(--warn); }
.notes { margin: 12px 0 0; padding: 6px 14px; background: #fff6e8; border-left: 4px solid var(--warn);
         font-size: 13px; }
.notes .k { font-weight: 600; margin: 2px 0; }
.note { margin: 3px 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 8px; }
th, td { text-align: left; padding: 5px 9px; border-bottom: 1px solid var(--line); vertical-align: top; }
td { overflow-wrap: anywhere; }
th { background: var(--bg); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 2px solid var(--ink); }
td.unknown { color: var(--warn); }
td .name { color: var(--muted); font-size: 12px; }
td .flag { color: var(--warn); font-size: 12px; }
table.resources { font-size: 13px; }
table.kv td:first-child { width: 70%; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 24px; }
.cols > div { min-width: 0; }
.explain p { margin: 4px 0; color: var(--ink); }
.caption { color: var(--muted); font-size: 12px; margin: 2px 0 0; }
.chart { max-width: 100%; height: auto; display: block; }
.chart .grid { stroke: #e6e9ef; stroke-width: 1; }
.chart .axis { stroke: #8a93a6; stroke-width: 1; }
.chart .cumline { stroke: #D55E00; stroke-width: 2; }
.chart .tick { font-size: 12px; fill: var(--muted); }
.chart .tick.cum { fill: #a34700; }
.chart .label { font-size: 13px; fill: var(--ink); }
.chart .name { font-size: 13px; fill: var(--ink); }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 4px 0 0; color: var(--muted); font-size: 13px; }
.legend span { overflow-wrap: anywhere; }
.legend span::before { content: ""; display: inline-block; width: 12px; height: 12px; margin-right: 6px;
                        vertical-align: -1px; background: var(--c); }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
"""


def _cell(text: str, numeric: bool) -> str:
    cls = ["n"] if numeric else []
    if text == "unknown":
        cls.append("unknown")
    attr = f' class="{" ".join(cls)}"' if cls else ""
    return f"<td{attr}>{escape(text)}</td>"


Cell = str | tuple[str, str]  # text, or (text, second line in muted type: a Name tag, a flag)


def _table(
    headers: Sequence[tuple[str, bool]],
    rows: Iterable[Sequence[Cell]],
    total: Sequence[str] | None = None,
    cls: str = "",
) -> str:
    head = "".join(f'<th class="n">{escape(h)}</th>' if n else f"<th>{escape(h)}</th>" for h, n in headers)
    body = []
    for row in rows:
        cells: list[str] = []
        for (_, numeric), cell in zip(headers, row, strict=True):
            if isinstance(cell, tuple):
                text, extra = cell
                inner = escape(text) + (f'<div class="name">{escape(extra)}</div>' if extra else "")
                cells.append(f'<td class="n">{inner}</td>' if numeric else f"<td>{inner}</td>")
            else:
                cells.append(_cell(cell, numeric))
        body.append("<tr>" + "".join(cells) + "</tr>")
    if total is not None:
        last = "".join(
            f'<td class="n">{escape(c)}</td>' if n else f"<td>{escape(c)}</td>"
            for (_, n), c in zip(headers, total, strict=True)
        )
        body.append(f'<tr class="total">{last}</tr>')
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _unpriced_cell(g: Mapping[str, Any]) -> str:
    n = g.get("unpriced_resources") or 0
    if not n:
        return ""
    return f"{n} ({number(_num(g.get('unpriced_stopped_hours')))} h)"


def _group_table(groups: Sequence[Mapping[str, Any]], name: str, title: str, with_actual: bool = False) -> str:
    headers = [
        (title, False),
        ("resources", True),
        ("running h", True),
        ("stopped h", True),
        ("by hand h", True),
        ("lost to manual starts h", True),
        ("lost to overrides h", True),
        ("est. savings", True),
        ("est. running cost", True),
        ("unpriced (stopped h)", True),
    ]
    if with_actual:
        headers.append(("actual cost (CE)", True))
    rows = []
    for g in groups:
        row: list[Cell] = [
            str(g[name]) if g[name] not in (None, "") else ("(untagged)" if name == "value" else "(none)"),
            str(g["resources"]),
            number(_num(g.get("running_hours"))),
            number(_num(g.get("stopped_hours"))),
            number(_num(g.get("manual_stopped_hours"))),
            number(_num(g.get("manual_start_hours"))),
            _unknown_or_hours(g.get("override_hours")),
            money(_num(g.get("estimated_savings"))),
            money(_num(g.get("estimated_running_cost"))),
            _unpriced_cell(g),
        ]
        if with_actual:
            row.append(money(_num(g.get("actual_cost")), "—"))
        rows.append(row)
    return _table(headers, rows)


def _card(key: str, value: str, sub: str = "", cls: str = "") -> str:
    v_cls = "v unknown" if value in ("unknown", "unavailable") else "v"
    sub_html = f'<div class="s">{escape(sub)}</div>' if sub else ""
    return (
        f'<div class="card {cls}"><div class="k">{escape(key)}</div><div class="{v_cls}">{escape(value)}</div>'
        f"{sub_html}</div>"
    )


def _stat(key: str, value: str) -> str:
    v_cls = "v unknown" if value == "unknown" else "v"
    return f'<div class="stat"><div class="k">{escape(key)}</div><div class="{v_cls}">{escape(value)}</div></div>'


def _headline(report: Mapping[str, Any]) -> str:
    """The cards and the totals strip: what fits on the first screen."""
    t = report["totals"]
    actual = report.get("actual") or {}
    proj = report.get("projection") or {}
    forecast = proj.get("cost_explorer_forecast") or {}
    rec = report.get("reconciliation") or {}
    savings = _num(t.get("estimated_savings"))
    unpriced = t.get("unpriced_resources") or 0
    savings_sub = f"+ {unpriced} unpriced resource(s) not counted" if unpriced else "at on-demand list prices"
    metric = str(actual.get("metric") or "")
    variance = _num(rec.get("variance"))
    actual_sub = f"{metric + ' · ' if metric else ''}expected {money(_num(t.get('estimated_running_cost')))}"
    if variance is not None:
        actual_sub += f" · variance {signed_money(variance)}"
    forecast_total = _num(forecast.get("total"))
    proj_sub = f"Cost Explorer forecast of the spend: {money(forecast_total)}" if forecast_total is not None else ""
    cards = [
        _card("estimated savings", money(savings), savings_sub, "main"),
        _card("savings vs. running all the time", percent(_num(t.get("savings_percent")))),
        _card("stopped hours", number(_num(t.get("stopped_hours"))), "by the scheduler, priced resources"),
        _card("actual cost (Cost Explorer)", money(_num(t.get("actual_cost")), "unavailable"), actual_sub),
        _card("next 12 months (projected)", money(_num(proj.get("estimated_savings")), "—"), proj_sub),
    ]
    cumulative = report.get("cumulative") or {}
    if cumulative:
        cards.append(
            _card(
                f"cumulative since {cumulative.get('since_month')}",
                money(_num(cumulative.get("estimated_savings"))),
                "estimated savings since the first action",
            )
        )
    billing = t.get("billing_while_stopped") or {}
    billing_cost = _num(billing.get("estimated_cost"))
    stats = [
        _stat(
            "resources (priced / unpriced)", f"{t.get('resources', 0)} ({t.get('priced_resources', '?')} / {unpriced})"
        ),
        _stat("running hours", number(_num(t.get("running_hours")))),
        _stat("stopped by hand (hours)", number(_num(t.get("manual_stopped_hours")))),
        _stat(
            "hours lost to manual starts",
            number(_num(t.get("manual_start_hours"))) if t.get("manual_start_hours") is not None else "unknown",
        ),
        _stat("hours lost to overrides", _unknown_or_hours(t.get("override_hours"))),
        _stat("unpriced stopped hours", number(_num(t.get("unpriced_stopped_hours")))),
        _stat("est. running cost (expected)", money(_num(t.get("estimated_running_cost")))),
        _stat("cost if always running", money(_num(t.get("cost_if_always_running")))),
        _stat("actual − expected", signed_money(variance, "—")),
        _stat(
            "billing while stopped (est.)",
            money(billing_cost, "not estimated")
            + (f" ({billing.get('estimated_resources')} res.)" if billing_cost is not None else ""),
        ),
        _stat("Cost Explorer forecast, 12 months", money(forecast_total, "—")),
    ]
    return f'<div class="cards">{"".join(cards)}</div><div class="stats">{"".join(stats)}</div>'


def _notes(report: Mapping[str, Any]) -> list[str]:
    """Every caveat, once: the report's notes, plus Cost Explorer's and the projection's when not already there."""
    t = report["totals"]
    actual = report.get("actual") or {}
    proj = report.get("projection") or {}
    notes = [str(n) for n in report.get("notes") or []]
    extra: list[str] = []
    if t.get("unpriced_resources") and not any("could not be priced" in n for n in notes):
        extra.append(
            f"{t['unpriced_resources']} resource(s) could not be priced ({number(_num(t.get('unpriced_hours')))} "
            "stopped hours are not in the savings): see “Unpriced” below, or give their prices with --prices FILE."
        )
    for why in (actual.get("note"), proj.get("note")):
        if why and not any(str(why) in n for n in notes):
            extra.append(str(why))
    return extra + notes


def _reconciliation_html(report: Mapping[str, Any]) -> str:
    rec = report.get("reconciliation") or {}
    if not rec:
        return ""
    period = rec.get("period") or {}
    baseline = rec.get("baseline") or {}
    variance = _num(rec.get("variance"))
    var_pct = _num(rec.get("variance_percent"))
    rows: list[list[Cell]] = [
        [
            ("actual cost", "Cost Explorer, resources carrying the tag, compute services"),
            money(_num(rec.get("actual_cost")), "unavailable"),
        ],
        [
            ("expected cost", "running hours × on-demand hourly price, from the ledger"),
            money(_num(rec.get("expected_cost"))),
        ],
        [
            ("variance", "actual − expected"),
            signed_money(variance, "—") + (f" ({var_pct:+g}%)" if var_pct is not None else ""),
        ],
    ]
    hidden = _num(rec.get("expected_cost_not_under_tag"))
    if hidden:
        rows.append(
            [
                ("expected cost not under the tag", "ASG instances and Aurora members without the tag"),
                money(hidden),
            ]
        )
        rows.append(
            [("variance against what the tag can see", ""), signed_money(_num(rec.get("variance_under_tag")), "—")]
        )
    rows.append(
        [("cost if always running", "managed hours × on-demand price"), money(_num(rec.get("cost_if_always_running")))]
    )
    rows.append(
        [("estimated savings", "hours stopped by the scheduler × price"), money(_num(rec.get("estimated_savings")))]
    )
    if baseline.get("for_this_period") is not None:
        rows.append(
            [
                (
                    "baseline for this period",
                    f"{money(_num(baseline.get('per_day')))} a day in the {baseline.get('days')} days before "
                    f"scheduling ({baseline.get('from')} to {baseline.get('to')}) × {baseline.get('period_days')} days",
                ),
                money(_num(baseline.get("for_this_period"))),
            ]
        )
        below = _num(rec.get("savings_vs_baseline"))
        versus = "—" if below is None else f"{money(abs(below))} {'lower' if below >= 0 else 'higher'}"
        rows.append([("actual against the baseline", "baseline − actual"), versus])
    else:
        rows.append([("baseline", str(baseline.get("note") or "not asked")), "—"])
    table = _table([("figure", False), ("value", True)], rows, cls="kv")
    explanation = "".join(f"<p>{escape(line)}</p>" for line in rec.get("explanation") or [])
    accounts = report.get("accounts") or {}
    scope = ""
    if accounts:
        covered = accounts.get("covered")
        scope = (
            f'<p class="caption">Accounts in the report: {escape(", ".join(accounts.get("in_report") or []) or "none")}'
            f"; the actual figures cover: {escape(', '.join(covered) if covered else 'not known')} "
            f"({escape(accounts.get('scope'))}).</p>"
        )
    return (
        f"<h2>Reconciliation: actual against expected</h2>"
        f'<p class="caption">{escape(period.get("from"))} to {escape(period.get("to"))} '
        f"(Cost Explorer, whole UTC days); the ledger counts to {escape(period.get('counted_to'))}.</p>"
        f'<div class="cols"><div>{table}{scope}</div><div class="explain">{explanation}</div></div>'
    )


def _projection_html(report: Mapping[str, Any]) -> str:
    proj = report.get("projection") or {}
    if not proj:
        return ""
    forecast = proj.get("cost_explorer_forecast") or {}
    ours = _table(
        [("isched projection, next 12 months", False), ("value", True)],
        [
            ["estimated savings", money(_num(proj.get("estimated_savings")), "—")],
            ["estimated running cost", money(_num(proj.get("estimated_running_cost")), "—")],
            ["stopped hours", number(_num(proj.get("stopped_hours")))],
            ["resources (unpriced)", f"{proj.get('resources', 0)} ({proj.get('unpriced_resources', 0)})"],
        ],
        cls="kv",
    )
    if forecast:
        bounds = ""
        if _num(forecast.get("lower_bound")) is not None and _num(forecast.get("upper_bound")) is not None:
            bounds = f"{money(_num(forecast['lower_bound']))} – {money(_num(forecast['upper_bound']))}"
        theirs = _table(
            [("Cost Explorer forecast of the tagged spend", False), ("value", True)],
            [
                ["forecast spend", money(_num(forecast.get("total")), "unavailable")],
                ["80% prediction interval", bounds or "—"],
                ["period", f"{forecast.get('from') or '?'} to {forecast.get('to') or '?'}"],
                ["note", str(forecast.get("note") or "")],
            ],
            cls="kv",
        )
    else:
        theirs = _table(
            [("Cost Explorer forecast of the tagged spend", False), ("value", True)],
            [["forecast spend", "not asked"]],
            cls="kv",
        )
    by_schedule = ""
    if proj.get("by_schedule"):
        by_schedule = _table(
            [
                ("schedule", False),
                ("resources", True),
                ("running h / resource", True),
                ("stopped h / resource", True),
                ("est. running cost", True),
                ("est. savings", True),
            ],
            [
                [
                    str(p["schedule"]),
                    str(p["resources"]),
                    number(_num(p.get("running_hours"))),
                    number(_num(p.get("stopped_hours"))),
                    money(_num(p.get("estimated_running_cost"))),
                    money(_num(p.get("estimated_savings"))),
                ]
                for p in proj["by_schedule"]
            ],
            total=[
                "total",
                str(proj.get("resources", "")),
                "",
                "",
                money(_num(proj.get("estimated_running_cost")), "—"),
                money(_num(proj.get("estimated_savings")), "—"),
            ],
        )
    span = f"{str(proj.get('from') or '')[:10]} to {str(proj.get('to') or '')[:10]}"
    return (
        f"<h2>The next 12 months</h2>"
        f'<p class="caption">{escape(span)}: {escape(proj.get("method") or "each schedule over the next year")}.</p>'
        f'<div class="cols"><div>{ours}</div><div>{theirs}</div></div>{by_schedule}'
    )


def _months_html(report: Mapping[str, Any]) -> str:
    months = report.get("months")
    if months is None:
        return ""
    cumulative = report.get("cumulative") or {}
    before = _num(cumulative.get("estimated_savings_before_span"))
    caption = (
        f"Cumulative savings count from {cumulative.get('since_month')}"
        + (f", with {money(before)} saved before this span" if before else "")
        + "."
        if cumulative
        else ""
    )
    table = _table(
        [
            ("month", False),
            ("stopped h", True),
            ("unpriced stopped h", True),
            ("est. savings", True),
            ("actual cost (CE)", True),
            ("cumulative savings", True),
        ],
        [
            [
                str(m["month"]),
                number(_num(m.get("stopped_hours"))),
                number(_num(m.get("unpriced_stopped_hours"))),
                money(_num(m.get("estimated_savings"))),
                money(_num(m.get("actual_cost")), "—"),
                money(_num(m.get("cumulative_savings")), "—"),
            ]
            for m in months
        ],
    )
    note = f'<p class="caption">{escape(caption)}</p>' if caption else ""
    return f"<h2>Month by month</h2>{months_svg(report)}{note}{table}"


def _unknown_or_hours(value: Any) -> str:
    """Hours, or "unknown" where the report could not tell (e.g. hours lost to overrides, schedule unknown)."""
    return number(_num(value)) if value is not None else "unknown"


def _resource_table(report: Mapping[str, Any]) -> str:
    t = report["totals"]
    rows: list[list[Cell]] = []
    for r in report["resources"]:
        units = r.get("units")
        typ = (r.get("type") or "?") + (
            f" ×{units}" if units not in (1, None) and "," not in (r.get("type") or "") else ""
        )
        flags = []
        if r.get("gone_at"):
            flags.append(f"gone {str(r['gone_at'])[:16].replace('T', ' ')}")
        coverage = r.get("commitment_coverage") or {}
        if isinstance(coverage, Mapping) and coverage.get("covered"):
            flags.append("RI/SP covered")
        manual_start = r.get("manual_start_hours")
        rows.append(
            [
                (str(r["resource"]), str(r.get("name") or "")),
                (str(r["account"]), str(r["region"])),
                str(r["service"]),
                str(r["schedule"] or "(none)"),
                (typ, "; ".join(flags)),
                number(_num(r.get("running_hours"))),
                number(_num(r.get("stopped_hours"))),
                number(_num(r.get("manual_stopped_hours"))),
                number(_num(manual_start)) if manual_start is not None else "unknown",
                _unknown_or_hours(r.get("override_hours")),
                price(_num(r.get("hourly_price"))),
                money(_num(r.get("estimated_savings"))),
            ]
        )
    return _table(
        [
            ("resource / Name", False),
            ("account / region", False),
            ("service", False),
            ("schedule", False),
            ("type", False),
            ("running h", True),
            ("stopped h", True),
            ("by hand h", True),
            ("lost h", True),
            ("override h", True),
            ("hourly price", True),
            ("est. savings", True),
        ],
        rows,
        total=[
            "total",
            "",
            "",
            f"{len(report['resources'])} resources",
            "",
            number(_num(t.get("running_hours"))),
            number(_num(t.get("stopped_hours"))),
            number(_num(t.get("manual_stopped_hours"))),
            number(_num(t.get("manual_start_hours"))) if t.get("manual_start_hours") is not None else "unknown",
            _unknown_or_hours(t.get("override_hours")),
            "",
            money(_num(t.get("estimated_savings"))),
        ],
        cls="resources",
    )


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report as one self-contained HTML page: headline figures and caveats first (one screen at
    1280×800), then the trend, the charts, the reconciliation, the projection, the groups and every resource."""
    title = f"isched savings · {month_title(str(report['month']))}"
    actual = report.get("actual") or {}
    several = report.get("months") is not None
    notes = _notes(report)
    notes_html = ""
    if notes:
        notes_html = (
            '<div class="notes"><div class="k">What these numbers do not include</div>'
            + "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
            + "</div>"
        )
    colours = schedule_colours(report)
    legend = "".join(f'<span style="--c:{c}">{escape(name or "(none)")}</span>' for name, c in colours.items())
    _, skipped = chart_days(report)
    caption = f'<p class="caption">{escape(skipped)}.</p>' if skipped else ""
    by_tag = report.get("by_tag")
    tag_html = ""
    if by_tag is not None:
        without = by_tag.get("resources_without_stored_tags") or 0
        tag_html = f"<h2>By tag {escape(by_tag.get('key'))}</h2>" + _group_table(
            by_tag.get("groups") or [], "value", f"{by_tag.get('key')} value"
        )
        if without:
            tag_html += (
                f'<p class="caption">{escape(without)} resource(s) have no stored tags yet (recorded from their next '
                "pass): they are in the untagged group.</p>"
            )
    unpriced = report.get("unpriced") or []
    unpriced_html = ""
    if unpriced:
        unpriced_html = "<h2>Unpriced</h2>" + _table(
            [
                ("resource", False),
                ("service", False),
                ("region", False),
                ("type", False),
                ("stopped h", True),
                ("why", False),
            ],
            [
                [
                    str(u["resource"]),
                    str(u["service"]),
                    str(u["region"]),
                    str(u["type"] or "?"),
                    number(_num(u.get("stopped_hours"))),
                    str(u["reason"]),
                ]
                for u in unpriced
            ],
        )
    ce_line = ""
    if actual:
        cached = ", from the cache" if actual.get("cached") else ""
        ce_line = (
            f" Actual cost: Cost Explorer {escape(actual.get('metric'))} of resources tagged "
            f"{escape(actual.get('tag_key'))}, compute services only; {escape(actual.get('requests', 0))} request(s) "
            f"(US$0.01 each){cached}."
        )
    span = "UTC months" if several else "UTC month"
    what = escape(report["month"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">{span} {what}, counted up to {escape(report["at"])} · currency USD ·
savings = hours stopped by the scheduler × on-demand hourly price</p>
{_headline(report)}
{notes_html}
{_months_html(report)}
<h2>Estimated savings per day</h2>
{daily_savings_svg(report)}
<div class="legend">{legend}</div>
{caption}
<h2>Running and stopped hours per schedule</h2>
{hours_by_schedule_svg(report)}
{_reconciliation_html(report)}
{_projection_html(report)}
<h2>By schedule</h2>
{_group_table(report.get("by_schedule", []), "schedule", "schedule", with_actual=True)}
{tag_html}
<h2>By account</h2>
{_group_table(report.get("by_account", []), "account", "account")}
<h2>By service</h2>
{_group_table(report.get("by_service", []), "service", "service")}
<h2>Resources</h2>
{_resource_table(report)}
{unpriced_html}
<footer>Generated by isched.{ce_line} Estimated running cost = running hours × the same hourly price; compare it
with the actual cost to reconcile the estimate with the bill. “By hand h”: hours a person kept the resource
stopped (not the scheduler's saving); “lost h”: hours the schedule wanted it stopped while someone kept it
running.</footer>
</body></html>
"""


# --- PNG (matplotlib) --------------------------------------------------------------------------------------------


class ChartUnavailable(RuntimeError):
    """matplotlib is not installed."""


def chart_text(value: object) -> str:
    """A label matplotlib shows as it is: dollar signs are not TeX math, and a leading underscore does not hide
    it from the legend."""
    text = str(value).replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text


def render_png(report: Mapping[str, Any], path: str) -> None:
    """Savings over time (per month with cumulative savings for several months, else per counted day, stacked
    per schedule) and running vs stopped hours per schedule, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise ChartUnavailable(
            "--chart needs matplotlib: pip install 'instance-scheduler[charts]' (or pip install 'matplotlib>=3.8')"
        ) from None
    days, skipped = chart_days(report)
    groups = report.get("by_schedule", [])
    colours = schedule_colours(report)
    months = report.get("months")
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 7.5), gridspec_kw={"height_ratios": [3, max(1.2, 0.45 * len(groups) + 0.6)]}
    )
    total = money(_num(report["totals"].get("estimated_savings")))
    try:
        if months:
            xs = list(range(len(months)))
            values = [_num(m.get("estimated_savings")) or 0.0 for m in months]
            top.bar(xs, values, color=MONTH_COLOUR, label="estimated savings in the month", width=0.6)
            top.set_xticks(xs, [chart_text(m["month"]) for m in months], rotation=45 if len(months) > 12 else 0)
            # Headroom above the highest bar and point, for the legend.
            top.set_ylim(0, (max(values, default=0.0) or 1.0) * 1.3)
            handles, labels = top.get_legend_handles_labels()
            if any(m.get("cumulative_savings") is not None for m in months):
                line = top.twinx()
                cumulative = [_num(m.get("cumulative_savings")) or 0.0 for m in months]
                line.plot(xs, cumulative, color=CUMULATIVE_COLOUR, marker="s", label="cumulative savings")
                line.set_ylabel("cumulative USD")
                line.yaxis.set_major_formatter(lambda v, _pos: f"${v:,.0f}")
                line.set_ylim(0, (max(cumulative, default=0.0) or 1.0) * 1.3)
                more_handles, more_labels = line.get_legend_handles_labels()
                handles, labels = handles + more_handles, labels + more_labels
            top.set_title(chart_text(f"Estimated savings per month, {month_title(str(report['month']))}: {total}"))
            top.set_xlabel("month (UTC)")
            top.legend(handles, labels, loc="upper left", ncol=2, fontsize=9, frameon=False)
        else:
            when = [date.fromisoformat(d["date"]) for d in days]
            base = [0.0] * len(days)
            for name, colour in colours.items():
                values = [float((d.get("by_schedule") or {}).get(name) or 0.0) for d in days]
                if any(values):
                    top.bar(
                        range(len(when)),
                        values,
                        bottom=base,
                        color=colour,
                        label=chart_text(name or "(none)"),
                        width=0.75,
                    )
                    base = [b + v for b, v in zip(base, values, strict=True)]
            title = f"Estimated savings per day, {month_title(str(report['month']))}: {total}"
            top.set_title(chart_text(title))
            top.set_xlabel("day (UTC)" + (f"; {skipped}" if skipped else ""))
            if when:
                top.set_xlim(-0.7, len(when) - 0.3)
                top.xaxis.set_major_formatter(
                    lambda v, _pos: (
                        f"{when[int(v)].day} {calendar.month_abbr[when[int(v)].month]}"
                        if 0 <= v < len(when) and v == int(v)
                        else ""
                    )
                )
            else:
                top.text(0.5, 0.5, "nothing was stopped in this period", ha="center", transform=top.transAxes)
            if any(base):
                rows = -(-len(top.get_legend_handles_labels()[1]) // 4)  # the legend's rows, 4 names a row
                top.set_ylim(0, max(base) * (1.12 + 0.1 * rows))  # headroom: the legend never covers a bar
                top.legend(loc="upper left", ncol=4, fontsize=9, frameon=False)
        top.set_ylabel("USD")
        top.yaxis.set_major_formatter(lambda v, _pos: f"${v:,.2f}")
        top.grid(axis="y", alpha=0.3)
        names = [chart_text(g["schedule"] or "(none)") for g in groups]
        run = [_num(g.get("running_hours")) or 0.0 for g in groups]
        stop = [(_num(g.get("stopped_hours")) or 0.0) + (_num(g.get("unpriced_stopped_hours")) or 0.0) for g in groups]
        hand = [_num(g.get("manual_stopped_hours")) or 0.0 for g in groups]
        bottom.barh(names, run, color=RUNNING_COLOUR, label="running hours")
        bottom.barh(names, stop, left=run, color=STOPPED_COLOUR, label="stopped by the scheduler")
        lefts = [a + b for a, b in zip(run, stop, strict=True)]
        if any(hand):
            bottom.barh(names, hand, left=lefts, color=MANUAL_COLOUR, label="stopped by hand")
        bottom.invert_yaxis()
        bottom.set_title("Running vs. stopped hours per schedule")
        bottom.set_xlabel("hours (all resources of the schedule)")
        # Below the axes, so the legend never covers the longest bar.
        bottom.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3, fontsize=9, frameon=False)
        bottom.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
