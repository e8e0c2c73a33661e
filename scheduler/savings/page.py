"""The report as a self-contained HTML page: no external assets and no script (inline CSS, inline SVG charts), so
it can be mailed, archived or opened offline. Every interpolated value is escaped (:func:`.formats.escape`), and
no user text is put in an attribute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .charts import chart_days, daily_savings_svg, hours_by_schedule_svg, months_svg, schedule_colours
from .formats import escape, fields, money, month_title, num, number, percent, price, records, signed_money, texts
from .model import Report

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


def _unpriced_cell(g: Mapping[str, object]) -> str:
    n = g.get("unpriced_resources") or 0
    if not n:
        return ""
    return f"{n} ({number(num(g.get('unpriced_stopped_hours')))} h)"


def _group_table(groups: Sequence[Mapping[str, object]], name: str, title: str, with_actual: bool = False) -> str:
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
            number(num(g.get("running_hours"))),
            number(num(g.get("stopped_hours"))),
            number(num(g.get("manual_stopped_hours"))),
            number(num(g.get("manual_start_hours"))),
            _unknown_or_hours(g.get("override_hours")),
            money(num(g.get("estimated_savings"))),
            money(num(g.get("estimated_running_cost"))),
            _unpriced_cell(g),
        ]
        if with_actual:
            row.append(money(num(g.get("actual_cost")), "—"))
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


def _headline(report: Report) -> str:
    """The cards and the totals strip: what fits on the first screen."""
    t = report["totals"]
    actual = fields(report.get("actual"))
    proj = fields(report.get("projection"))
    forecast = fields(proj.get("cost_explorer_forecast"))
    rec = fields(report.get("reconciliation"))
    savings = num(t.get("estimated_savings"))
    unpriced = t.get("unpriced_resources") or 0
    savings_sub = f"+ {unpriced} unpriced resource(s) not counted" if unpriced else "at on-demand list prices"
    metric = str(actual.get("metric") or "")
    variance = num(rec.get("variance"))
    actual_sub = f"{metric + ' · ' if metric else ''}expected {money(num(t.get('estimated_running_cost')))}"
    if variance is not None:
        actual_sub += f" · variance {signed_money(variance)}"
    forecast_total = num(forecast.get("total"))
    proj_sub = f"Cost Explorer forecast of the spend: {money(forecast_total)}" if forecast_total is not None else ""
    cards = [
        _card("estimated savings", money(savings), savings_sub, "main"),
        _card("savings vs. running all the time", percent(num(t.get("savings_percent")))),
        _card("stopped hours", number(num(t.get("stopped_hours"))), "by the scheduler, priced resources"),
        _card("actual cost (Cost Explorer)", money(num(t.get("actual_cost")), "unavailable"), actual_sub),
        _card("next 12 months (projected)", money(num(proj.get("estimated_savings")), "—"), proj_sub),
    ]
    cumulative = fields(report.get("cumulative"))
    if cumulative:
        cards.append(
            _card(
                f"cumulative since {cumulative.get('since_month')}",
                money(num(cumulative.get("estimated_savings"))),
                "estimated savings since the first action",
            )
        )
    billing = fields(t.get("billing_while_stopped"))
    billing_cost = num(billing.get("estimated_cost"))
    stats = [
        _stat(
            "resources (priced / unpriced)", f"{t.get('resources', 0)} ({t.get('priced_resources', '?')} / {unpriced})"
        ),
        _stat("running hours", number(num(t.get("running_hours")))),
        _stat("stopped by hand (hours)", number(num(t.get("manual_stopped_hours")))),
        _stat(
            "hours lost to manual starts",
            number(num(t.get("manual_start_hours"))) if t.get("manual_start_hours") is not None else "unknown",
        ),
        _stat("hours lost to overrides", _unknown_or_hours(t.get("override_hours"))),
        _stat("unpriced stopped hours", number(num(t.get("unpriced_stopped_hours")))),
        _stat("est. running cost (expected)", money(num(t.get("estimated_running_cost")))),
        _stat("cost if always running", money(num(t.get("cost_if_always_running")))),
        _stat("actual − expected", signed_money(variance, "—")),
        _stat(
            "billing while stopped (est.)",
            money(billing_cost, "not estimated")
            + (f" ({billing.get('estimated_resources')} res.)" if billing_cost is not None else ""),
        ),
        _stat("Cost Explorer forecast, 12 months", money(forecast_total, "—")),
    ]
    return f'<div class="cards">{"".join(cards)}</div><div class="stats">{"".join(stats)}</div>'


def _notes(report: Report) -> list[str]:
    """Every caveat, once: the report's notes, plus Cost Explorer's and the projection's when not already there."""
    t = report["totals"]
    actual = fields(report.get("actual"))
    proj = fields(report.get("projection"))
    notes = [str(n) for n in report.get("notes") or []]
    extra: list[str] = []
    if t.get("unpriced_resources") and not any("could not be priced" in n for n in notes):
        extra.append(
            f"{t['unpriced_resources']} resource(s) could not be priced ({number(num(t.get('unpriced_hours')))} "
            "stopped hours are not in the savings): see “Unpriced” below, or give their prices with --prices FILE."
        )
    for why in (actual.get("note"), proj.get("note")):
        if why and not any(str(why) in n for n in notes):
            extra.append(str(why))
    return extra + notes


def _reconciliation_html(report: Report) -> str:
    rec = fields(report.get("reconciliation"))
    if not rec:
        return ""
    period = fields(rec.get("period"))
    baseline = fields(rec.get("baseline"))
    variance = num(rec.get("variance"))
    var_pct = num(rec.get("variance_percent"))
    rows: list[list[Cell]] = [
        [
            ("actual cost", "Cost Explorer, resources carrying the tag, compute services"),
            money(num(rec.get("actual_cost")), "unavailable"),
        ],
        [
            ("expected cost", "running hours × on-demand hourly price, from the ledger"),
            money(num(rec.get("expected_cost"))),
        ],
        [
            ("variance", "actual − expected"),
            signed_money(variance, "—") + (f" ({var_pct:+g}%)" if var_pct is not None else ""),
        ],
    ]
    hidden = num(rec.get("expected_cost_not_under_tag"))
    if hidden:
        rows.append(
            [
                ("expected cost not under the tag", "ASG instances and Aurora members without the tag"),
                money(hidden),
            ]
        )
        rows.append(
            [
                ("variance against what the tag can see", ""),
                signed_money(num(rec.get("variance_under_tag")), "—"),
            ]
        )
    rows.append(
        [
            ("cost if always running", "managed hours × on-demand price"),
            money(num(rec.get("cost_if_always_running"))),
        ]
    )
    rows.append(
        [
            ("estimated savings", "hours stopped by the scheduler × price"),
            money(num(rec.get("estimated_savings"))),
        ]
    )
    if baseline.get("for_this_period") is not None:
        rows.append(
            [
                (
                    "baseline for this period",
                    f"{money(num(baseline.get('per_day')))} a day in the {baseline.get('days')} days before "
                    f"scheduling ({baseline.get('from')} to {baseline.get('to')}) × {baseline.get('period_days')} days",
                ),
                money(num(baseline.get("for_this_period"))),
            ]
        )
        below = num(rec.get("savings_vs_baseline"))
        versus = "—" if below is None else f"{money(abs(below))} {'lower' if below >= 0 else 'higher'}"
        rows.append([("actual against the baseline", "baseline − actual"), versus])
    else:
        rows.append([("baseline", str(baseline.get("note") or "not asked")), "—"])
    table = _table([("figure", False), ("value", True)], rows, cls="kv")
    explanation = "".join(f"<p>{escape(line)}</p>" for line in texts(rec.get("explanation")))
    accounts = fields(report.get("accounts"))
    scope = ""
    if accounts:
        covered = texts(accounts.get("covered"))
        in_report = ", ".join(texts(accounts.get("in_report")))
        scope = (
            f'<p class="caption">Accounts in the report: {escape(in_report or "none")}'
            f"; the actual figures cover: {escape(', '.join(covered) if covered else 'not known')} "
            f"({escape(accounts.get('scope'))}).</p>"
        )
    return (
        f"<h2>Reconciliation: actual against expected</h2>"
        f'<p class="caption">{escape(period.get("from"))} to {escape(period.get("to"))} '
        f"(Cost Explorer, whole UTC days); the ledger counts to {escape(period.get('counted_to'))}.</p>"
        f'<div class="cols"><div>{table}{scope}</div><div class="explain">{explanation}</div></div>'
    )


def _projection_html(report: Report) -> str:
    proj = fields(report.get("projection"))
    if not proj:
        return ""
    forecast = fields(proj.get("cost_explorer_forecast"))
    ours = _table(
        [("isched projection, next 12 months", False), ("value", True)],
        [
            ["estimated savings", money(num(proj.get("estimated_savings")), "—")],
            ["estimated running cost", money(num(proj.get("estimated_running_cost")), "—")],
            ["stopped hours", number(num(proj.get("stopped_hours")))],
            ["resources (unpriced)", f"{proj.get('resources', 0)} ({proj.get('unpriced_resources', 0)})"],
        ],
        cls="kv",
    )
    if forecast:
        bounds = ""
        if num(forecast.get("lower_bound")) is not None and num(forecast.get("upper_bound")) is not None:
            bounds = f"{money(num(forecast['lower_bound']))} – {money(num(forecast['upper_bound']))}"
        theirs = _table(
            [("Cost Explorer forecast of the tagged spend", False), ("value", True)],
            [
                ["forecast spend", money(num(forecast.get("total")), "unavailable")],
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
                    number(num(p.get("running_hours"))),
                    number(num(p.get("stopped_hours"))),
                    money(num(p.get("estimated_running_cost"))),
                    money(num(p.get("estimated_savings"))),
                ]
                for p in records(proj.get("by_schedule"))
            ],
            total=[
                "total",
                str(proj.get("resources", "")),
                "",
                "",
                money(num(proj.get("estimated_running_cost")), "—"),
                money(num(proj.get("estimated_savings")), "—"),
            ],
        )
    span = f"{str(proj.get('from') or '')[:10]} to {str(proj.get('to') or '')[:10]}"
    return (
        f"<h2>The next 12 months</h2>"
        f'<p class="caption">{escape(span)}: {escape(proj.get("method") or "each schedule over the next year")}.</p>'
        f'<div class="cols"><div>{ours}</div><div>{theirs}</div></div>{by_schedule}'
    )


def _months_html(report: Report) -> str:
    months = report.get("months")
    if months is None:
        return ""
    cumulative = fields(report.get("cumulative"))
    before = num(cumulative.get("estimated_savings_before_span"))
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
                number(num(m.get("stopped_hours"))),
                number(num(m.get("unpriced_stopped_hours"))),
                money(num(m.get("estimated_savings"))),
                money(num(m.get("actual_cost")), "—"),
                money(num(m.get("cumulative_savings")), "—"),
            ]
            for m in months
        ],
    )
    note = f'<p class="caption">{escape(caption)}</p>' if caption else ""
    return f"<h2>Month by month</h2>{months_svg(report)}{note}{table}"


def _unknown_or_hours(value: object) -> str:
    """Hours, or "unknown" where the report could not tell (e.g. hours lost to overrides, schedule unknown)."""
    return number(num(value)) if value is not None else "unknown"


def _resource_table(report: Report) -> str:
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
        coverage = fields(r.get("commitment_coverage"))
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
                number(num(r.get("running_hours"))),
                number(num(r.get("stopped_hours"))),
                number(num(r.get("manual_stopped_hours"))),
                number(num(manual_start)) if manual_start is not None else "unknown",
                _unknown_or_hours(r.get("override_hours")),
                price(num(r.get("hourly_price"))),
                money(num(r.get("estimated_savings"))),
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
            number(num(t.get("running_hours"))),
            number(num(t.get("stopped_hours"))),
            number(num(t.get("manual_stopped_hours"))),
            number(num(t.get("manual_start_hours"))) if t.get("manual_start_hours") is not None else "unknown",
            _unknown_or_hours(t.get("override_hours")),
            "",
            money(num(t.get("estimated_savings"))),
        ],
        cls="resources",
    )


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML page: headline figures and caveats first (one screen at
    1280×800), then the trend, the charts, the reconciliation, the projection, the groups and every resource."""
    title = f"isched savings · {month_title(str(report['month']))}"
    actual = fields(report.get("actual"))
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
