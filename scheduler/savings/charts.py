"""The report's charts as inline SVG (daily savings, hours by schedule, months), with the colours every format
shares.

The charts place every label themselves (no layout engine inside an SVG): text widths are estimated on the safe
side (:func:`text_width`), labels that would collide are left out, and names too long for their margin are
shortened with an ellipsis (the full name is in the tables and in the bar's tooltip). The daily chart covers the
days the report counts (up to ``at``), from the first day anything was stopped, never a mostly empty month.
"""

from __future__ import annotations

import calendar
import itertools
import math
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime

from .formats import escape, instant_or_none, money, num, number
from .model import Day, Month, Report, ScheduleGroup

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


def schedule_colours(report: Report) -> dict[str, str]:
    names = [g["schedule"] for g in report.get("by_schedule", [])]
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


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


def chart_days(report: Report) -> tuple[list[Day], str | None]:
    """The days the daily chart shows, and a caption for those it leaves out.

    Only days the report counts (before ``at``: a report on the 3rd shows 3 days, not the month), and from the
    first day on which anything was stopped (a scheduler that began on the 23rd shows the 23rd onwards), so the
    chart is never mostly empty."""
    days: Sequence[Day] = report.get("daily") or []
    at = instant_or_none(report.get("at"))
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


def daily_savings_svg(report: Report, width: int = CHART_WIDTH, height: int = 280) -> str:
    """Stacked bars: each counted UTC day's estimated savings, one colour per schedule (see :func:`chart_days`)."""
    days, _ = chart_days(report)
    colours = schedule_colours(report)
    known = [d for d in days if d.get("estimated_savings") is not None]
    peak = max((num(d["estimated_savings"]) or 0.0 for d in known), default=0.0)
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
            v = num(value)
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


def _day_axis(days: Sequence[Day], left: float, slot: float, y: float) -> list[str]:
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


def hours_by_schedule_svg(report: Report, width: int = CHART_WIDTH) -> str:
    """One horizontal bar per schedule: its resources' running hours, hours stopped by the scheduler (priced, then
    unpriced) and hours stopped by hand, with the stopped share."""
    groups: Sequence[ScheduleGroup] = report.get("by_schedule", [])
    row_h, gap, top = 26, 12, 8
    legend_h = 30
    height = top + max(1, len(groups)) * (row_h + gap) + legend_h
    names = [str(g["schedule"]) or "(none)" for g in groups]
    left = math.ceil(min(240.0, max((text_width(n, NAME_SIZE) for n in names), default=60.0))) + 16
    ends: list[tuple[float, float, float, float, str]] = []
    for g in groups:
        run = num(g.get("running_hours")) or 0.0
        stop = num(g.get("stopped_hours")) or 0.0
        unpriced = num(g.get("unpriced_stopped_hours")) or 0.0
        manual = num(g.get("manual_stopped_hours")) or 0.0
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


def months_svg(report: Report, width: int = CHART_WIDTH, height: int = 280) -> str:
    """Estimated savings per month (bars, left axis) and cumulative savings (line, right axis)."""
    months: Sequence[Month] = report.get("months") or []
    values = [num(m.get("estimated_savings")) for m in months]
    cumulative = [num(m.get("cumulative_savings")) for m in months]
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
