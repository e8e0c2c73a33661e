"""``isched report``: what every scheduler stop saved in a UTC month, in dollars, reconciled with Cost Explorer.

Also the savings estimate of ``isched schedule preview --savings`` (:func:`preview_savings`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import click
from rich.table import Table

from scheduler.aws.session import is_region
from scheduler.engine import Config, Evaluator, iso_z
from scheduler.savings.costexplorer import METRICS, CostExplorer
from scheduler.savings.formats import money, number, price, render_csv
from scheduler.savings.model import Actual, Reconciliation, Report, ResourceJson, Sums
from scheduler.savings.months import LEDGER_MONTHS_BACK, hours, months_between, parse_month
from scheduler.savings.page import render_html
from scheduler.savings.png import ChartUnavailable, render_png
from scheduler.savings.price_book import PriceBook
from scheduler.savings.price_file import PricesFileError, PriceTable, load_prices_file, type_problem
from scheduler.savings.report import CostQuestions, monthly_report, not_asked
from scheduler.services.pricing import PriceQuery
from scheduler.store.config import StoreError
from scheduler.store.state import StateStore

from .context import config_store, tables
from .errors import InputError
from .options import json_option, parse_instant
from .output import SafeConsole, console, err_console, lit, styled

FORMATS = ("table", "json", "csv", "html")
CHART_HINT = "pip install 'instance-scheduler[charts]' (matplotlib>=3.8)"


def load_prices(path: str | None) -> PriceTable:
    """The ``--prices`` file, or an empty table; a bad file is an exit-2 error naming each line, field and value."""
    if path is None:
        return PriceTable()
    try:
        return load_prices_file(path)
    except PricesFileError as exc:
        source = None if exc.issues and exc.issues[0].path == "--prices" else path
        raise InputError(exc.issues, source=source) from None


@click.command("report")
@click.option("--month", metavar="YYYY-MM", help="The UTC month, e.g. 2026-11 (or --from/--to for several).")
@click.option("--from", "from_month", metavar="YYYY-MM", help="First UTC month of a report over several months.")
@click.option("--to", "to_month", metavar="YYYY-MM", help="Last UTC month (included) of a report over several months.")
@click.option("--at", "at", metavar="TIME", help="Count up to this instant (ISO 8601; default now).")
@click.option("--prices", "prices_file", metavar="FILE", help="CSV/JSON prices (service,region,type,hourly_usd).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--chart", "chart", metavar="FILE", help="Also write a PNG chart (needs matplotlib: the charts extra).")
@click.option(
    "--group-by-tag",
    "group_by_tag",
    metavar="KEY",
    help="Also break the savings down by the value of this resource tag (e.g. Team); untagged is its own group.",
)
@click.option(
    "--metric",
    type=click.Choice(tuple(METRICS)),
    default="unblended",
    show_default=True,
    help="Cost Explorer metric for the actual cost.",
)
@click.option(
    "--tag-key",
    envvar="ISCHED_TAG_KEY",
    default="Schedule",
    show_default=True,
    help="The schedule tag, as activated for cost allocation (env ISCHED_TAG_KEY).",
)
@click.option("--out", "out", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option(
    "--csv-summary",
    is_flag=True,
    help="CSV: after the resources, an empty row and the report's totals, notes, reconciliation, forecast, months "
    "and groups as section,item,field,value rows.",
)
@click.option(
    "--cost-explorer/--no-cost-explorer",
    default=True,
    show_default=True,
    help="Ask Cost Explorer for the actual cost, its forecast and RI/SP coverage (US$0.01 per request; cached).",
)
@click.option(
    "--linked-accounts",
    is_flag=True,
    help="Break the actual cost down by linked account (run with the organization's management account).",
)
@click.option(
    "--pricing-api/--no-pricing-api",
    default=True,
    show_default=True,
    help="Ask the AWS Price List API for prices the --prices file does not give.",
)
@json_option
@click.pass_context
def report_cmd(
    ctx: click.Context,
    /,
    month: str | None,
    from_month: str | None,
    to_month: str | None,
    at: str | None,
    prices_file: str | None,
    fmt: str,
    chart: str | None,
    group_by_tag: str | None,
    metric: str,
    tag_key: str,
    out: str | None,
    csv_summary: bool,
    cost_explorer: bool,
    linked_accounts: bool,
    pricing_api: bool,
    as_json: bool,
) -> None:
    """What the scheduler's stops saved in one UTC month (as AWS bills), or several, in dollars.

    Each stop in the action ledger counts from the stop until the resource was started again (by the scheduler
    or by hand), deleted or untagged, clipped to the month; one still stopped counts up to --at (default now).
    Savings = stopped hours × the on-demand hourly price: an ASG's saved desired capacity × its instance price,
    an Aurora cluster's member instances, Multi-AZ as Multi-AZ. Running hours are the hours a resource really ran
    while managed (time stopped by hand and time lost to manual starts are shown apart). Prices come from --prices,
    then a local cache (7 days, ISCHED_PRICE_CACHE), then the AWS Price List API; a price found nowhere is unknown,
    never $0, and the totals say how much is unpriced. Cost Explorer gives the actual cost of the tagged resources,
    its 12-month forecast and Reserved Instance / Savings Plans coverage; the report reconciles actual and expected.

    \b
    Examples:
      isched report --month 2026-11
      isched report --month 2026-11 --prices prices.csv --format html --out savings.html --chart savings.png
      isched report --from 2026-01 --to 2026-06 --group-by-tag Team --json
      isched report --month 2026-10 --format csv --no-cost-explorer > savings.csv
      isched report --month 2026-10 --format csv --csv-summary --out savings.csv
    """
    if as_json:
        fmt = "json"
    first, last = _months(month, from_month, to_month)
    instant = parse_instant(at, "--at") if at else datetime.now(UTC)
    start, _ = parse_month(first)
    if instant <= start:
        raise InputError(
            f"'{first}' has not begun at {iso_z(instant)} (nothing to report yet)", "--month" if month else "--from"
        )
    if group_by_tag is not None and (not group_by_tag.strip() or len(group_by_tag) > 128):
        raise InputError(f"'{group_by_tag[:40]}' is not a tag key (1-128 characters)", "--group-by-tag")
    table = load_prices(prices_file)
    if chart is not None and importlib.util.find_spec("matplotlib") is None:
        raise InputError(f"'{chart}': writing a chart needs matplotlib: {CHART_HINT}", "--chart")

    questions: CostQuestions | None = None
    actual: Actual | None = None
    if cost_explorer:
        questions = CostQuestions(CostExplorer(), metric, tag_key, linked_accounts)
    else:
        actual = not_asked(metric, tag_key, "Cost Explorer was not asked (--no-cost-explorer)")
    config: Config | None
    try:
        config = config_store(ctx).load()
    except StoreError:
        config = None
    report = monthly_report(
        StateStore(tables(ctx)),
        first,
        instant,
        table,
        config=config,
        pricing_api=pricing_api,
        actual=actual,
        last_month=last if last != first else None,
        group_by_tag=group_by_tag,
        ce=questions,
    )

    if chart is not None:
        try:
            render_png(report, chart)
        except ChartUnavailable as exc:
            raise InputError(str(exc), "--chart") from None
        except OSError as exc:
            raise InputError(f"'{chart}' cannot be written: {exc.strerror}", "--chart") from None

    if fmt == "json":
        _emit_text(_json_text(report), out)
    elif fmt == "csv":
        _emit_text(render_csv(report, summary=csv_summary), out)
    elif fmt == "html":
        _emit_text(render_html(report), out)
    elif out is not None:
        with _open_out(out) as fh:
            print_tables(report, SafeConsole(file=fh, width=160, color_system=None))
    else:
        print_tables(report, console)
    if out is not None:
        err_console.print(f"wrote {out}")


MAX_MONTHS = LEDGER_MONTHS_BACK + 1  # the ledger keeps 800 days: a longer span would be mostly empty


def _months(month: str | None, from_month: str | None, to_month: str | None) -> tuple[str, str]:
    """The first and last month reported: ``--month``, or ``--from`` and ``--to`` (exit 2 otherwise)."""
    if month is not None and (from_month is not None or to_month is not None):
        raise InputError("give either --month or --from/--to, not both", "--month")
    if month is not None:
        return _month(month, "--month"), _month(month, "--month")
    if from_month is None and to_month is None:
        raise InputError("missing: the month to report (--month YYYY-MM, or --from YYYY-MM --to YYYY-MM)", "--month")
    if from_month is None or to_month is None:
        raise InputError(
            "--from and --to go together (e.g. --from 2026-01 --to 2026-06)", "--from" if from_month is None else "--to"
        )
    first, last = _month(from_month, "--from"), _month(to_month, "--to")
    if last < first:
        raise InputError(f"'{to_month}' is before --from '{from_month}'", "--to")
    if len(months_between(first, last)) > MAX_MONTHS:
        raise InputError(
            f"at most {MAX_MONTHS} months (the ledger keeps 800 days): '{from_month}' to '{to_month}'", "--to"
        )
    return first, last


def _month(text: str, option: str) -> str:
    try:
        first, _ = parse_month(text)
    except ValueError as exc:
        raise InputError(str(exc), option) from None
    return first.strftime("%Y-%m")


def _json_text(report: Report) -> str:
    import json

    return json.dumps(report, indent=2) + "\n"


def _open_out(path: str) -> Any:
    try:
        return Path(path).open("w", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"'{path}' cannot be written: {exc.strerror}", "--out") from None


def _emit_text(text: str, out: str | None) -> None:
    if out is None:
        click.echo(text, nl=False)
        return
    with _open_out(out) as fh:
        fh.write(text)


def _hours_or_unknown(value: float | None) -> str:
    return "unknown" if value is None else number(value)


def _group_table(
    title: str, groups: Sequence[tuple[str | None, Sums, float | None]], name: str, *, actual: bool = False
) -> Table:
    """One row per group: its name (``groups``: name, sums, actual cost), its sums, and the actual cost if asked."""
    table = Table(title=title, show_edge=False, header_style="bold", title_justify="left")
    table.add_column(name, overflow="fold")
    for col in ("resources", "running h", "stopped h", "by hand h", "lost h", "override h", "est. savings", "unpriced"):
        table.add_column(col, justify="right")
    if actual:
        table.add_column("actual cost", justify="right")
    for label, g, actual_cost in groups:
        unpriced = g["unpriced_resources"]
        cells = [
            str(label) or "(none)",
            str(g["resources"]),
            number(g["running_hours"]),
            number(g["stopped_hours"]),
            number(g.get("manual_stopped_hours")),
            _hours_or_unknown(g.get("manual_start_hours")),
            _hours_or_unknown(g.get("override_hours")),
            money(g["estimated_savings"]),
            f"{unpriced} ({number(g.get('unpriced_stopped_hours'))} h)" if unpriced else "",
        ]
        if actual:
            cells.append(money(actual_cost, "—"))
        table.add_row(*cells)
    return table


def _totals_table(report: Report) -> Table:
    t = report["totals"]
    actual = report["actual"]
    proj = report["projection"]
    rec = report.get("reconciliation")
    totals = Table(show_header=False, show_edge=False)
    totals.add_column("what", style="bold")
    totals.add_column("value", justify="right")
    totals.add_row("estimated savings", lit(money(t["estimated_savings"]), "green"))
    percent = "—" if t["savings_percent"] is None else f"{t['savings_percent']}%"
    totals.add_row("savings vs. running all the time", percent)
    totals.add_row("stopped hours (by the scheduler)", number(t["stopped_hours"]))
    totals.add_row("running hours", number(t["running_hours"]))
    totals.add_row("stopped by hand (hours)", number(t.get("manual_stopped_hours")))
    totals.add_row("hours lost to manual starts", _hours_or_unknown(t.get("manual_start_hours")))
    if t.get("maintenance_hours"):
        totals.add_row("running for maintenance windows (hours)", number(t["maintenance_hours"]))
    totals.add_row("hours lost to overrides", _hours_or_unknown(t.get("override_hours")))
    totals.add_row("estimated running cost (expected)", money(t["estimated_running_cost"]))
    totals.add_row("cost if always running", money(t.get("cost_if_always_running")))
    metric = actual["metric"] if actual is not None else "Cost Explorer"
    totals.add_row(f"actual cost ({metric})", money(t["actual_cost"], "unavailable"))
    if rec is not None and rec["variance"] is not None:
        pct = rec["variance_percent"]
        totals.add_row("actual − expected", f"{money(rec['variance'])}" + (f" ({pct:+g}%)" if pct is not None else ""))
    billing = t["billing_while_stopped"]
    if billing["estimated_cost"] is not None:
        totals.add_row(
            "billing while stopped (estimated)",
            f"{money(billing['estimated_cost'])} ({billing['estimated_resources']} resource(s))",
        )
    totals.add_row("resources", f"{t['resources']} ({t['priced_resources']} priced)")
    if t["unpriced_resources"]:
        totals.add_row(
            lit("unpriced", "yellow"), f"{t['unpriced_resources']} resource(s), {number(t['unpriced_hours'])} h"
        )
    if proj is not None and proj["estimated_savings"] is not None:
        totals.add_row("next 12 months (projected savings)", money(proj["estimated_savings"]))
    forecast = proj.get("cost_explorer_forecast") if proj is not None else None
    if forecast is not None and forecast["total"] is not None:
        bounds = ""
        if forecast["lower_bound"] is not None and forecast["upper_bound"] is not None:
            bounds = f" ({money(forecast['lower_bound'])} – {money(forecast['upper_bound'])})"
        totals.add_row("Cost Explorer forecast of the tagged spend, 12 months", money(forecast["total"]) + bounds)
    cumulative = report.get("cumulative")
    if cumulative:
        totals.add_row(f"cumulative savings since {cumulative['since_month']}", money(cumulative["estimated_savings"]))
    return totals


def _resource_tables(report: Report) -> list[Table]:
    """The resources, one table per account and region (so that each row fits a terminal)."""
    where: dict[tuple[str, str], list[ResourceJson]] = {}
    for r in report["resources"]:
        where.setdefault((str(r["account"]), str(r["region"])), []).append(r)
    tables = []
    for (account, region), rows in where.items():
        table = Table(
            title=f"Resources · {account} · {region} (hours; price per hour)",
            show_edge=False,
            header_style="bold",
            title_justify="left",
            collapse_padding=True,
        )
        named = any(r.get("name") for r in rows)
        # Only where an override cost hours (or may have): the table stays within a terminal otherwise.
        overridden = any(r.get("override_hours") != 0 for r in rows)
        columns = [("service", False), ("resource", False), ("name", False), ("schedule", False), ("type", False)]
        columns += [(c, True) for c in ("stopped", "running", "by hand", "lost", "override", "price", "savings")]
        for col, right in columns:
            if (col == "name" and not named) or (col == "override" and not overridden):
                continue
            table.add_column(
                col, justify="right" if right else "left", overflow="fold", no_wrap=right or col == "resource"
            )
        for r in rows:
            units = f" ×{r['units']}" if r.get("units") not in (1, None) and "," not in (r["type"] or "") else ""
            flags = []
            if r.get("gone_at"):
                flags.append(f"gone {r['gone_at']}")
            coverage = r["commitment_coverage"]
            if coverage is not None and coverage["covered"]:
                flags.append("RI/SP covered")
            cells = [r["service"], r["resource"], r.get("name") or ""] if named else [r["service"], r["resource"]]
            table.add_row(
                *cells,
                r["schedule"] or "(none)",
                f"{r['type'] or '?'}{units}" + (f" ({'; '.join(flags)})" if flags else ""),
                number(r["stopped_hours"]),
                number(r["running_hours"]),
                number(r.get("manual_stopped_hours")),
                _hours_or_unknown(r.get("manual_start_hours")),
                *([_hours_or_unknown(r.get("override_hours"))] if overridden else []),
                "unknown" if r["hourly_price"] is None else f"${r['hourly_price']:,.4f}",
                money(r["estimated_savings"]),
            )
        tables.append(table)
    return tables


def _reconciliation_table(rec: Reconciliation) -> Table:
    table = Table(
        title=f"Reconciliation ({rec['period']['from']} to {rec['period']['to']})",
        show_header=False,
        show_edge=False,
        title_justify="left",
    )
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("actual cost (Cost Explorer)", money(rec.get("actual_cost"), "unavailable"))
    table.add_row("expected cost (running hours × price)", money(rec.get("expected_cost")))
    pct = rec.get("variance_percent")
    variance = money(rec.get("variance"), "—") + (f" ({pct:+g}%)" if pct is not None else "")
    table.add_row("variance (actual − expected)", variance)
    if rec.get("expected_cost_not_under_tag"):
        table.add_row("expected cost not under the tag (ASG, Aurora)", money(rec["expected_cost_not_under_tag"]))
        table.add_row("variance against what the tag can see", money(rec.get("variance_under_tag"), "—"))
    table.add_row("cost if always running", money(rec.get("cost_if_always_running")))
    baseline = rec["baseline"]
    if baseline is not None and baseline["for_this_period"] is not None:
        per_day = f"{money(baseline['per_day'])}/day before {baseline['to']}"
        table.add_row(f"baseline ({per_day} × {baseline.get('period_days')} d)", money(baseline["for_this_period"]))
        diff = rec.get("savings_vs_baseline")
        if diff is not None:
            table.add_row("actual against the baseline", f"{money(abs(diff))} {'lower' if diff >= 0 else 'higher'}")
    else:
        table.add_row("baseline", str((baseline["note"] if baseline is not None else None) or "not asked"))
    return table


def print_tables(report: Report, out: SafeConsole) -> None:
    """The human report: totals, then by month, schedule, account, service and tag, then every resource, then
    the reconciliation and the notes."""
    span = "UTC months" if report.get("months") is not None else "UTC month"
    out.print(styled("[bold]Savings {}[/] ({}, counted up to {})", report["month"], span, report["at"]))
    out.print(_totals_table(report))
    out.print()
    if report.get("months") is not None:
        months = Table(title="By month", show_edge=False, header_style="bold", title_justify="left")
        for col in ("month", "stopped h", "unpriced h", "est. savings", "actual cost", "cumulative"):
            months.add_column(col, justify="left" if col == "month" else "right")
        for m in report["months"]:
            months.add_row(
                m["month"],
                number(m["stopped_hours"]),
                number(m.get("unpriced_stopped_hours")),
                money(m["estimated_savings"]),
                money(m["actual_cost"], "—"),
                money(m.get("cumulative_savings"), "—"),
            )
        out.print(months)
    by_schedule = [(g["schedule"], g, g["actual_cost"]) for g in report["by_schedule"]]
    out.print(_group_table("By schedule", by_schedule, "schedule", actual=True))
    out.print(_group_table("By account", [(g["account"], g, None) for g in report["by_account"]], "account"))
    out.print(_group_table("By service", [(g["service"], g, None) for g in report["by_service"]], "service"))
    by_tag = report.get("by_tag")
    if by_tag is not None:
        groups = [(g["value"] if g["value"] is not None else "(untagged)", g, None) for g in by_tag["groups"]]
        out.print(_group_table(f"By tag {by_tag['key']}", groups, "tag"))
    for table in _resource_tables(report):
        out.print(table)
    for u in report.get("unpriced") or []:
        out.print(
            styled("[yellow]unpriced:[/] {} {} ({}): {}", u["service"], u["resource"], u["region"], u["reason"]),
            soft_wrap=True,
        )
    rec = report.get("reconciliation")
    if rec:
        out.print()
        out.print(_reconciliation_table(rec))
        for line in rec["explanation"]:
            out.print(styled("  {}", line), soft_wrap=True)
    accounts = report.get("accounts")
    if accounts is not None and accounts["scope"]:
        out.print(
            styled(
                "[bold]Accounts:[/] in the report {}; actual figures: {}",
                ", ".join(accounts["in_report"]) or "none",
                accounts["scope"],
            ),
            soft_wrap=True,
        )
    for note in report.get("notes") or []:
        out.print(styled("[yellow]note:[/] {}", note), soft_wrap=True)
    if report.get("ce_requests"):
        out.print(styled("[dim]Cost Explorer: {} request(s), US$0.01 each[/]", report["ce_requests"]))


class PreviewSavings(TypedDict):
    """``isched schedules preview --savings``: what one resource would save under a schedule (``--json``'s
    ``savings``)."""

    service: str
    region: str
    type: str
    hourly_price: float | None
    price_source: str | None
    range_hours: float
    running_hours: float
    stopped_hours: float | None
    estimated_savings: float | None
    note: str | None
    engine: NotRequired[str]
    multi_az: NotRequired[bool]


def preview_savings(
    ev: Evaluator,
    start: datetime,
    end: datetime,
    running: list[tuple[datetime, datetime]],
    *,
    service: str,
    region: str | None,
    type_: str | None,
    engine: str,
    multi_az: bool,
    prices_file: str | None,
    use_api: bool = True,
) -> PreviewSavings:
    """What one resource of ``type_`` would save under the schedule over [start, end): stopped hours × price."""
    if not type_:
        raise InputError("--savings needs the instance type or DB class (e.g. --type t3.large)", "--type")
    if not region:
        raise InputError("--savings needs the region whose prices apply (e.g. --region eu-west-1)", "--region")
    if not is_region(region):
        raise InputError(f"'{region}' is not a region name (e.g. eu-west-1)", "--region")
    problem = type_problem(service, type_)
    if problem:
        raise InputError(problem, "--type")
    table = load_prices(prices_file)
    if service == "rds":
        query = PriceQuery("rds", region, type_, engine=engine, deployment="multi-az" if multi_az else "single-az")
    else:
        query = PriceQuery("ec2", region, type_)
    book = PriceBook(table, use_api=use_api)
    answer = book.price(query)
    book.save()
    micros_total = (end - start) // timedelta(microseconds=1)
    micros_running = sum(((e - s) // timedelta(microseconds=1) for s, e in running), 0)
    range_h = hours(micros_total)
    running_h = hours(micros_running)
    knows = ev.has_windows or ev.schedule.override_status is not None
    stopped_h: Decimal | None = range_h - running_h if knows else None
    note = answer.note
    if not knows:
        note = "the schedule has only start/stop events: its stopped time depends on people, not on the schedule"
    savings = None
    if stopped_h is not None and answer.hourly is not None:
        savings = float(round(stopped_h * answer.hourly, 2))
    out: PreviewSavings = {
        "service": service,
        "region": region,
        "type": type_,
        "hourly_price": float(answer.hourly) if answer.hourly is not None else None,
        "price_source": answer.source,
        "range_hours": float(round(range_h, 4)),
        "running_hours": float(round(running_h, 4)),
        "stopped_hours": float(round(stopped_h, 4)) if stopped_h is not None else None,
        "estimated_savings": savings,
        "note": note,
    }
    if service == "rds":
        out["engine"] = engine
        out["multi_az"] = multi_az
    return out


def print_preview_savings(s: PreviewSavings) -> None:
    what = f"one {s['type']} ({s['service']}, {s['region']})"
    if s["stopped_hours"] is None:
        console.print(f"Savings for {what}: unknown ({s['note']})")
        return
    hours_text = f"{number(s['stopped_hours'])} stopped of {number(s['range_hours'])} hours"
    if s["hourly_price"] is None:
        console.print(f"Savings for {what}: {hours_text}; price unknown ({s['note'] or 'no price found'})")
        return
    source = {"file": "the prices file", "pricing-api": "the AWS Price List API", "cache": "the price cache"}.get(
        s["price_source"] or "", "?"
    )
    console.print(
        styled(
            "Savings for {}: {} × {} = [green]{}[/] (price from {})",
            what,
            hours_text,
            price(s["hourly_price"]),
            money(s["estimated_savings"]),
            source,
        )
    )
