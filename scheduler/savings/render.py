"""The savings report as CSV, as a self-contained HTML page and as a PNG chart.

Every renderer takes the report's JSON (``accounting.build_report``), so all formats show the same numbers. The
HTML page has no external assets (inline CSS, inline SVG charts): it can be mailed, archived or opened offline.

Names, tag values and notes in a report come from users and from AWS, and each format shows them as data: the HTML
escapes every interpolated value (:func:`escape`: text and attribute values alike) and has no script; CSV cells
that a spreadsheet would run as a formula start with a quote (:func:`csv_cell`); chart labels are never TeX.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable, Mapping, Sequence
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
)

# Colour-blind-safe (Okabe-Ito) colours, one per schedule in the order schedules are listed.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
RUNNING_COLOUR = "#9AA3B5"  # neutral: running is the cost, not a schedule
STOPPED_COLOUR = "#009E73"


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


def render_csv(report: Mapping[str, Any]) -> str:
    """One row per resource; empty cells where a value is unknown (never 0 for an unknown price)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for r in report["resources"]:
        row = {**r, "month": report["month"]}
        writer.writerow([csv_cell(row.get(f)) for f in CSV_FIELDS])
    return out.getvalue()


def money(value: float | None, unknown: str = "unknown") -> str:
    return unknown if value is None else f"${value:,.2f}"


def price(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.4f}/h"


def number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"


def schedule_colours(report: Mapping[str, Any]) -> dict[str, str]:
    names = [g["schedule"] for g in report.get("by_schedule", [])]
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def month_title(month: str) -> str:
    """``2026-11`` as "November 2026"; a span ``2026-01/2026-03`` as "January 2026 – March 2026"."""
    import calendar

    if "/" in month:
        first, last = month.split("/", 1)
        return f"{month_title(first)} – {month_title(last)}"
    year, m = month.split("-")
    return f"{calendar.month_name[int(m)]} {year}"


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


def daily_savings_svg(report: Mapping[str, Any], width: int = 1040, height: int = 300) -> str:
    """Stacked bars: each UTC day's estimated savings, one colour per schedule."""
    days: Sequence[Mapping[str, Any]] = report.get("daily", [])
    colours = schedule_colours(report)
    left, right, top, bottom = 64, 16, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((d["estimated_savings"] or 0.0 for d in days), default=0.0)
    ticks = nice_ticks(peak)
    y_max = ticks[-1] or 1.0
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="Estimated savings per day">'
    ]
    for t in ticks:
        y = top + plot_h - plot_h * t / y_max
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" class="tick" text-anchor="end">${t:,.2f}</text>')
    n = max(1, len(days))
    slot = plot_w / n
    bar = max(2.0, slot * 0.72)
    for i, d in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for name, value in (d.get("by_schedule") or {}).items():
            if not value:
                continue
            h = plot_h * value / y_max
            y -= h
            label = f"{d['date']} {name}: ${value:,.2f}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colours.get(name, PALETTE[-1])}"><title>{escape(label)}</title></rect>'
            )
        day = int(d["date"][8:10])
        if day == 1 or day % 5 == 0 or n <= 10:
            cx = left + i * slot + slot / 2
            parts.append(f'<text x="{cx:.1f}" y="{top + plot_h + 18}" class="tick" text-anchor="middle">{day}</text>')
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" class="axis"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" class="label" text-anchor="middle">'
        f"day of {escape(month_title(report['month']))} (UTC)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def hours_by_schedule_svg(report: Mapping[str, Any], width: int = 1040) -> str:
    """One horizontal bar per schedule: its resources' running hours then stopped hours, with the stopped share."""
    groups: Sequence[Mapping[str, Any]] = report.get("by_schedule", [])
    row_h, gap, left, right, top = 30, 14, 180, 240, 8
    height = top + max(1, len(groups)) * (row_h + gap) + 28
    plot_w = width - left - right
    longest = max((g["running_hours"] + g["stopped_hours"] for g in groups), default=0.0) or 1.0
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="Running and stopped hours per schedule">'
    ]
    for i, g in enumerate(groups):
        y = top + i * (row_h + gap)
        run, stop = g["running_hours"], g["stopped_hours"]
        w_run, w_stop = plot_w * run / longest, plot_w * stop / longest
        total = run + stop
        share = f"{100 * stop / total:.0f}% stopped" if total else "no hours"
        name = escape(str(g["schedule"]) or "(none)")
        parts.append(f'<text x="{left - 10}" y="{y + row_h / 2 + 5:.1f}" class="name" text-anchor="end">{name}</text>')
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w_run:.1f}" height="{row_h}" fill="{RUNNING_COLOUR}">'
            f"<title>{name}: {run:,.1f} running hours</title></rect>"
            f'<rect x="{left + w_run:.1f}" y="{y}" width="{w_stop:.1f}" height="{row_h}" fill="{STOPPED_COLOUR}">'
            f"<title>{name}: {stop:,.1f} stopped hours</title></rect>"
        )
        parts.append(
            f'<text x="{left + w_run + w_stop + 8:.1f}" y="{y + row_h / 2 + 5:.1f}" class="tick">'
            f"{run:,.0f} h / {stop:,.0f} h · {share}</text>"
        )
    legend_y = height - 10
    parts.append(
        f'<rect x="{left}" y="{legend_y - 10}" width="12" height="12" fill="{RUNNING_COLOUR}"/>'
        f'<text x="{left + 18}" y="{legend_y}" class="tick">running hours</text>'
        f'<rect x="{left + 130}" y="{legend_y - 10}" width="12" height="12" fill="{STOPPED_COLOUR}"/>'
        f'<text x="{left + 148}" y="{legend_y}" class="tick">stopped by the scheduler</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


# --- HTML --------------------------------------------------------------------------------------------------------

_CSS = """
:root { --ink: #1d2433; --muted: #5b6478; --line: #d9dee7; --bg: #f6f7fa; --good: #00795c; --warn: #a35200; }
* { box-sizing: border-box; }
body { margin: 0; padding: 28px 40px 48px; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; }
.sub { color: var(--muted); margin: 0 0 20px; }
.cards { display: flex; flex-wrap: wrap; gap: 14px; }
.card { flex: 1 1 180px; background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
.card .v { font-size: 24px; font-weight: 600; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.main .v { color: var(--good); }
.note { background: #fff6e8; border-left: 4px solid var(--warn); padding: 8px 12px; margin: 12px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 8px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 2px solid var(--ink); }
td.unknown { color: var(--warn); }
.chart { max-width: 100%; height: auto; display: block; }
.chart .grid { stroke: #e6e9ef; stroke-width: 1; }
.chart .axis { stroke: #8a93a6; stroke-width: 1; }
.chart .tick { font-size: 12px; fill: var(--muted); }
.chart .label { font-size: 13px; fill: var(--ink); }
.chart .name { font-size: 13px; fill: var(--ink); }
.legend { display: flex; flex-wrap: wrap; gap: 16px; margin: 6px 0 0 64px; color: var(--muted); }
.legend span::before { content: ""; display: inline-block; width: 12px; height: 12px; margin-right: 6px;
                        vertical-align: -1px; background: var(--c); }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
"""


def _table(
    headers: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]], total: Sequence[str] | None = None
) -> str:
    head = "".join(f'<th class="n">{escape(h)}</th>' if n else f"<th>{escape(h)}</th>" for h, n in headers)
    body = []
    for row in rows:
        cells: list[str] = []
        for (_, numeric), cell in zip(headers, row, strict=True):
            cls = ["n"] if numeric else []
            if cell == "unknown":
                cls.append("unknown")
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if total is not None:
        last = "".join(
            f'<td class="n">{escape(c)}</td>' if n else f"<td>{escape(c)}</td>"
            for (_, n), c in zip(headers, total, strict=True)
        )
        body.append(f'<tr class="total">{last}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _group_table(groups: Sequence[Mapping[str, Any]], name: str, with_actual: bool = False) -> str:
    headers = [
        (name, False),
        ("resources", True),
        ("running h", True),
        ("stopped h", True),
        ("est. savings", True),
        ("est. running cost", True),
        ("unpriced", True),
    ]
    if with_actual:
        headers.append(("actual cost (CE)", True))
    rows = []
    for g in groups:
        row = [
            str(g[name]) or "(none)",
            str(g["resources"]),
            number(g["running_hours"]),
            number(g["stopped_hours"]),
            money(g["estimated_savings"]),
            money(g["estimated_running_cost"]),
            str(g["unpriced_resources"]),
        ]
        if with_actual:
            row.append(money(g.get("actual_cost"), "—"))
        rows.append(row)
    return _table(headers, rows)


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report as one self-contained HTML page."""
    t = report["totals"]
    title = f"isched savings · {month_title(report['month'])}"
    actual = report.get("actual") or {}
    proj = report.get("projection") or {}
    cards = [
        ("main", "estimated savings", money(t["estimated_savings"])),
        ("", "stopped hours", number(t["stopped_hours"])),
        ("", "savings vs. running all the time", "—" if t["savings_percent"] is None else f"{t['savings_percent']}%"),
        ("", f"actual cost ({actual.get('metric', 'Cost Explorer')})", money(t["actual_cost"], "unavailable")),
        ("", "next 12 months (projected)", money(proj.get("estimated_savings"), "—")),
    ]
    notes = []
    if t["unpriced_resources"] and not report.get("notes"):
        notes.append(
            f"{t['unpriced_resources']} resource(s) could not be priced ({number(t['unpriced_hours'])} stopped hours "
            "are not in the savings): see “Unpriced” below, or give their prices with --prices FILE."
        )
    report_notes = [str(n) for n in report.get("notes") or []]
    if actual.get("note") and not any(str(actual["note"]) in n for n in report_notes):
        notes.append(str(actual["note"]))
    if proj.get("note") and not any(str(proj["note"]) in n for n in report_notes):
        notes.append(str(proj["note"]))
    notes.extend(report_notes)
    card_html = "".join(
        f'<div class="card {cls}"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div></div>'
        for cls, k, v in cards
    )
    colours = schedule_colours(report)
    legend = "".join(f'<span style="--c:{c}">{escape(name or "(none)")}</span>' for name, c in colours.items())
    resource_rows = [
        [
            r["account"],
            r["region"],
            r["service"],
            r["resource"],
            r["schedule"] or "(none)",
            (r["type"] or "?")
            + (f" ×{r['units']}" if r.get("units") not in (1, None) and "+" not in (r["type"] or "") else ""),
            number(r["running_hours"]),
            number(r["stopped_hours"]),
            price(r["hourly_price"]),
            money(r["estimated_savings"]),
        ]
        for r in report["resources"]
    ]
    resource_table = _table(
        [
            ("account", False),
            ("region", False),
            ("service", False),
            ("resource", False),
            ("schedule", False),
            ("type", False),
            ("running h", True),
            ("stopped h", True),
            ("hourly price", True),
            ("est. savings", True),
        ],
        resource_rows,
        total=[
            "total",
            "",
            "",
            f"{len(report['resources'])} resources",
            "",
            "",
            number(t["running_hours"]),
            number(t["stopped_hours"]),
            "",
            money(t["estimated_savings"]),
        ],
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
                [u["resource"], u["service"], u["region"], u["type"] or "?", number(u["stopped_hours"]), u["reason"]]
                for u in unpriced
            ],
        )
    proj_html = ""
    if proj.get("by_schedule"):
        proj_html = (
            f'<h2>Projection: the next 12 months at current prices</h2><p class="sub">{escape(proj["from"][:10])} '
            f"to {escape(proj['to'][:10])}: each managed resource's schedule over 8,760 hours.</p>"
            + _table(
                [
                    ("schedule", False),
                    ("resources", True),
                    ("running h / resource", True),
                    ("stopped h / resource", True),
                    ("est. savings", True),
                ],
                [
                    [
                        p["schedule"],
                        str(p["resources"]),
                        number(p["running_hours"]),
                        number(p["stopped_hours"]),
                        money(p["estimated_savings"]),
                    ]
                    for p in proj["by_schedule"]
                ],
                total=["total", str(proj["resources"]), "", "", money(proj.get("estimated_savings"), "—")],
            )
        )
    ce_line = ""
    if actual:
        ce_line = (
            f" Actual cost: Cost Explorer {escape(actual.get('metric'))} of resources tagged "
            f"{escape(actual.get('tag_key'))}, compute services only; {escape(actual.get('requests', 0))} request(s) "
            f"(US$0.01 each){', from the cache' if actual.get('cached') else ''}."
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">UTC month {escape(report["month"])}, counted up to {escape(report["at"])} · currency USD ·
savings = hours stopped by the scheduler × on-demand hourly price</p>
<div class="cards">{card_html}</div>
{"".join(f'<p class="note">{escape(n)}</p>' for n in notes)}
<h2>Estimated savings per day</h2>
{daily_savings_svg(report)}
<div class="legend">{legend}</div>
<h2>Running and stopped hours per schedule</h2>
{hours_by_schedule_svg(report)}
<h2>By schedule</h2>
{_group_table(report.get("by_schedule", []), "schedule", with_actual=True)}
<h2>By account</h2>
{_group_table(report.get("by_account", []), "account")}
<h2>By service</h2>
{_group_table(report.get("by_service", []), "service")}
<h2>Resources</h2>
{resource_table}
{unpriced_html}
{proj_html}
<footer>Generated by isched.{ce_line} Estimated running cost = running hours × the same hourly price; compare it
with the actual cost to reconcile the estimate with the bill.</footer>
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
    """Daily savings (stacked per schedule) and running vs stopped hours per schedule, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise ChartUnavailable(
            "--chart needs matplotlib: pip install 'instance-scheduler[charts]' (or pip install 'matplotlib>=3.8')"
        ) from None
    days = report.get("daily", [])
    groups = report.get("by_schedule", [])
    colours = schedule_colours(report)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 7.5), gridspec_kw={"height_ratios": [3, max(1.2, 0.45 * len(groups) + 0.6)]}
    )
    try:
        xs = [int(d["date"][8:10]) for d in days]
        base = [0.0] * len(days)
        for name, colour in colours.items():
            values = [float((d.get("by_schedule") or {}).get(name) or 0.0) for d in days]
            if any(values):
                top.bar(xs, values, bottom=base, color=colour, label=chart_text(name or "(none)"), width=0.75)
                base = [b + v for b, v in zip(base, values, strict=True)]
        top.set_title(
            chart_text(
                f"Estimated savings per day, {month_title(report['month'])}: "
                f"{money(report['totals']['estimated_savings'])} in all"
            )
        )
        top.set_xlabel("day of month (UTC)")
        top.set_ylabel("USD")
        top.yaxis.set_major_formatter(lambda v, _pos: f"${v:,.2f}")
        top.grid(axis="y", alpha=0.3)
        if xs:
            top.set_xlim(0.3, max(xs) + 0.7)
        if any(base):
            top.legend(loc="upper left", fontsize=9, frameon=False)
        names = [chart_text(g["schedule"] or "(none)") for g in groups]
        run = [g["running_hours"] for g in groups]
        stop = [g["stopped_hours"] for g in groups]
        bottom.barh(names, run, color=RUNNING_COLOUR, label="running hours")
        bottom.barh(names, stop, left=run, color=STOPPED_COLOUR, label="stopped by the scheduler")
        bottom.invert_yaxis()
        bottom.set_title("Running vs. stopped hours per schedule")
        bottom.set_xlabel("hours (all resources of the schedule)")
        # Below the axes, so the legend never covers the longest bar.
        bottom.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, fontsize=9, frameon=False)
        bottom.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
