"""The report as a self-contained HTML page: no external assets and no script (inline CSS, inline SVG charts), so
it can be mailed, archived or opened offline. Every interpolated value is escaped (:func:`.formats.escape`), and
no user text is put in an attribute.
"""

from __future__ import annotations

from .charts import chart_days, daily_savings_svg, hours_by_schedule_svg, schedule_colours
from .formats import escape, fields, month_title, num, number
from .model import Report
from .page_sections import headline_html, months_html, projection_html, reconciliation_html, report_notes
from .page_tables import group_table, html_table, resource_table

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


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML page: headline figures and caveats first (one screen at
    1280×800), then the trend, the charts, the reconciliation, the projection, the groups and every resource."""
    title = f"isched savings · {month_title(str(report['month']))}"
    actual = fields(report.get("actual"))
    several = report.get("months") is not None
    notes = report_notes(report)
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
        tag_html = f"<h2>By tag {escape(by_tag.get('key'))}</h2>" + group_table(
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
        unpriced_html = "<h2>Unpriced</h2>" + html_table(
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
                    number(num(u.get("stopped_hours"))),
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
{headline_html(report)}
{notes_html}
{months_html(report)}
<h2>Estimated savings per day</h2>
{daily_savings_svg(report)}
<div class="legend">{legend}</div>
{caption}
<h2>Running and stopped hours per schedule</h2>
{hours_by_schedule_svg(report)}
{reconciliation_html(report)}
{projection_html(report)}
<h2>By schedule</h2>
{group_table(report.get("by_schedule", []), "schedule", "schedule", with_actual=True)}
{tag_html}
<h2>By account</h2>
{group_table(report.get("by_account", []), "account", "account")}
<h2>By service</h2>
{group_table(report.get("by_service", []), "service", "service")}
<h2>Resources</h2>
{resource_table(report)}
{unpriced_html}
<footer>Generated by isched.{ce_line} Estimated running cost = running hours × the same hourly price; compare it
with the actual cost to reconcile the estimate with the bill. “By hand h”: hours a person kept the resource
stopped (not the scheduler's saving); “lost h”: hours the schedule wanted it stopped while someone kept it
running.</footer>
</body></html>
"""
