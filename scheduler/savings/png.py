"""The report's charts as a PNG (matplotlib, when installed); chart labels are never TeX (:func:`chart_text`)."""

from __future__ import annotations

import calendar
from datetime import date

from .charts import (
    CUMULATIVE_COLOUR,
    MANUAL_COLOUR,
    MONTH_COLOUR,
    RUNNING_COLOUR,
    STOPPED_COLOUR,
    chart_days,
    schedule_colours,
)
from .formats import money, month_title, num
from .model import Report


class ChartUnavailable(RuntimeError):
    """matplotlib is not installed."""


def chart_text(value: object) -> str:
    """A label matplotlib shows as it is: dollar signs are not TeX math, and a leading underscore does not hide
    it from the legend."""
    text = str(value).replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text


def render_png(report: Report, path: str) -> None:
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
    total = money(num(report["totals"].get("estimated_savings")))
    try:
        if months:
            xs = list(range(len(months)))
            values = [num(m.get("estimated_savings")) or 0.0 for m in months]
            top.bar(xs, values, color=MONTH_COLOUR, label="estimated savings in the month", width=0.6)
            top.set_xticks(xs, [chart_text(m["month"]) for m in months], rotation=45 if len(months) > 12 else 0)
            # Headroom above the highest bar and point, for the legend.
            top.set_ylim(0, (max(values, default=0.0) or 1.0) * 1.3)
            handles, labels = top.get_legend_handles_labels()
            if any(m.get("cumulative_savings") is not None for m in months):
                line = top.twinx()
                cumulative = [num(m.get("cumulative_savings")) or 0.0 for m in months]
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
        run = [num(g.get("running_hours")) or 0.0 for g in groups]
        stop = [(num(g.get("stopped_hours")) or 0.0) + (num(g.get("unpriced_stopped_hours")) or 0.0) for g in groups]
        hand = [num(g.get("manual_stopped_hours")) or 0.0 for g in groups]
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
