"""The report page's sections around the tables: the headline cards and totals strip, the caveats, the
reconciliation of actual against expected cost, the 12-month projection and the month-by-month trend.
"""

from __future__ import annotations

from .charts import months_svg
from .formats import escape, fields, money, num, number, percent, records, signed_money, texts
from .model import Report
from .page_tables import Cell, html_table, unknown_or_hours


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


def headline_html(report: Report) -> str:
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
        _stat("hours lost to overrides", unknown_or_hours(t.get("override_hours"))),
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


def report_notes(report: Report) -> list[str]:
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


def reconciliation_html(report: Report) -> str:
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
    table = html_table([("figure", False), ("value", True)], rows, cls="kv")
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


def projection_html(report: Report) -> str:
    proj = fields(report.get("projection"))
    if not proj:
        return ""
    forecast = fields(proj.get("cost_explorer_forecast"))
    ours = html_table(
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
        theirs = html_table(
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
        theirs = html_table(
            [("Cost Explorer forecast of the tagged spend", False), ("value", True)],
            [["forecast spend", "not asked"]],
            cls="kv",
        )
    by_schedule = ""
    if proj.get("by_schedule"):
        by_schedule = html_table(
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


def months_html(report: Report) -> str:
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
    table = html_table(
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
