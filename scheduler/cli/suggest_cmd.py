"""``isched suggest``: running resources without a schedule tag that sit idle at regular times, and the schedule
each could follow (a stored one that fits, else new periods), with the estimated monthly savings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import click
from pynamodb.exceptions import PynamoDBException
from rich.table import Table

from scheduler.aws.session import client, default_region, is_region, new_session
from scheduler.engine import Config, FieldError, iso_z, zone
from scheduler.engine.errors import quote
from scheduler.savings.price_book import PriceBook
from scheduler.services import registry, tagging
from scheduler.store.config import ConflictError, StoreError
from scheduler.suggest import analysis
from scheduler.suggest.analysis import Analysis, Status, Thresholds
from scheduler.suggest.metrics import SERVICES, Candidate, Problem, candidates, failure, hourly_values

from .context import config_store
from .errors import CommandError, InputError
from .options import F, json_option, parse_instant
from .output import console, emit_json, err_console, error_line, lit, styled
from .report_cmds import load_prices
from .tagging import DEFAULT_TAG_KEY, TAG_KEY_ENV, _check_tag_key

MIN_DAYS = 7  # a weekly pattern needs a week
MAX_DAYS = 455  # CloudWatch keeps hourly statistics for 455 days (15 months)
MAX_REGIONS = 50


@dataclass(frozen=True)
class Row:
    """One candidate and what suggest says about it."""

    candidate: Candidate
    analysis: Analysis | None  # None: its metrics could not be read
    error: str | None = None
    hourly: Decimal | None = None
    price_note: str | None = None
    savings: Decimal | None = None

    @property
    def status(self) -> str:
        return "error" if self.analysis is None else self.analysis.status.value

    def to_json(self) -> dict[str, Any]:
        c, a = self.candidate, self.analysis
        run = a.run if a is not None else None
        return {
            "account": c.account,
            "region": c.region,
            "service": c.service,
            "resource": c.id,
            "arn": c.arn,
            "name": c.name,
            "type": c.type,
            "status": self.status,
            "reason": self.error if a is None else a.reason,
            "schedule": {"name": a.schedule, "existing": a.existing} if a is not None and a.schedule else None,
            "running_hours_per_week": round(run.running_hours, 2) if run else None,
            "stopped_hours_per_week": round(run.week_hours - run.running_hours, 2) if run else None,
            "hourly_price": float(self.hourly) if self.hourly is not None else None,
            "price_note": self.price_note,
            "estimated_monthly_savings": float(self.savings) if self.savings is not None else None,
            "confidence": a.confidence.to_json() if a is not None and a.confidence else None,
        }


def _regions(text: str | None) -> list[str]:
    if text is None:
        return [default_region(new_session())]
    regions = list(dict.fromkeys(r.strip() for r in text.split(",") if r.strip()))
    if not regions:
        raise InputError(f"{quote(text)} names no region (e.g. eu-west-1,us-east-1)", "--regions")
    bad = [r for r in regions if not is_region(r)]
    if bad:
        raise InputError(f"{quote(bad[0])} is not an AWS region (e.g. eu-west-1)", "--regions")
    if len(regions) > MAX_REGIONS:
        raise InputError(f"{len(regions)} regions: at most {MAX_REGIONS}", "--regions")
    return regions


def _services(text: str) -> list[str]:
    names = list(dict.fromkeys(s.strip().lower() for s in text.split(",") if s.strip()))
    bad = [s for s in names if s not in SERVICES]
    if bad or not names:
        shown = quote(bad[0]) if bad else quote(text)
        raise InputError(f"{shown} is not a service suggest reads (one of {', '.join(SERVICES)})", "--services")
    return names


def _price(book: PriceBook, c: Candidate) -> tuple[Decimal | None, str | None]:
    pricing = registry.get(c.service).pricing(c.region, c.type, c.details, None)
    if pricing.problem:
        return None, pricing.problem
    total = Decimal(0)
    for comp in pricing.components:
        answer = book.price(comp.query)
        if answer.hourly is None:
            return None, answer.note or f"no price for {comp.query.describe()}"
        total += answer.hourly * comp.count
    return total, None


def _stored(ctx: click.Context, needed: bool) -> tuple[Config | None, str | None]:
    """The stored configuration, or None and why (suggest still proposes new schedules without it)."""
    try:
        return config_store(ctx).load(), None
    except (StoreError, PynamoDBException) as exc:
        if needed:
            raise CommandError(f"the stored configuration cannot be read, so nothing can be applied: {exc}") from None
        return None, f"stored schedules were not compared (the configuration table cannot be read: {exc})"


def _idle_below(flag: str, default: float, metavar: str, help_text: str) -> Callable[[F], F]:
    """One of the thresholds an hour's metrics must all stay below for the hour to be idle."""
    return click.option(flag, type=float, default=default, show_default=True, metavar=metavar, help=help_text)


@click.command("suggest")
@click.option("--regions", metavar="R1,R2", help="Regions to look in (default: AWS_REGION / AWS_DEFAULT_REGION).")
@click.option(
    "--days",
    type=int,
    default=14,
    show_default=True,
    metavar="N",
    help=f"Days of CloudWatch data to read ({MIN_DAYS}-{MAX_DAYS}).",
)
@click.option(
    "--services",
    "services_text",
    default=",".join(SERVICES),
    show_default=True,
    metavar="S1,S2",
    help="Which resources to look at: ec2 (running instances), rds (available DB instances).",
)
@click.option(
    "--timezone",
    "timezone",
    default="UTC",
    show_default=True,
    metavar="ZONE",
    help="IANA zone of the hours of the week, and of the proposed schedules.",
)
@click.option("--at", "at", metavar="TIME", help="Analyse the days up to this instant (ISO 8601; default now).")
@click.option(
    "--tag-key",
    envvar=TAG_KEY_ENV,
    default=DEFAULT_TAG_KEY,
    show_default=True,
    metavar="K",
    help=f"Resources with this tag are already scheduled and left out (env {TAG_KEY_ENV}).",
)
@_idle_below(
    "--cpu-below",
    Thresholds.cpu_percent,
    "PCT",
    "An hour is idle when CPUUtilization's Maximum in it is below this (percent)...",
)
@_idle_below("--network-below", 5.0, "MIB", "...and EC2 NetworkIn + NetworkOut in it below this many MiB...")
@_idle_below(
    "--connections-below", Thresholds.connections, "N", "...and RDS DatabaseConnections' Maximum in it below this."
)
@click.option("--prices", "prices_file", metavar="FILE", help="CSV/JSON prices (service,region,type,hourly_usd).")
@click.option(
    "--pricing-api/--no-pricing-api",
    default=True,
    show_default=True,
    help="Ask the AWS Price List API for prices the --prices file does not give.",
)
@click.option("--apply", "do_apply", is_flag=True, help="Store the proposed new periods and schedules (all or none).")
@click.option("--tag", "do_tag", is_flag=True, help="Tag each resource with its proposed schedule.")
@click.option("--yes", "-y", "yes", is_flag=True, help="Apply/tag without asking (required with --json).")
@json_option
@click.pass_context
def suggest_cmd(
    ctx: click.Context,
    /,
    regions: str | None,
    days: int,
    services_text: str,
    timezone: str,
    at: str | None,
    tag_key: str,
    cpu_below: float,
    network_below: float,
    connections_below: float,
    prices_file: str | None,
    pricing_api: bool,
    do_apply: bool,
    do_tag: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Find running resources without a schedule tag that sit idle at regular hours, and propose a schedule.

    Reads --days of hourly CloudWatch statistics (GetMetricData) for every running EC2 instance and available
    RDS DB instance without the tag, sorts each hour into its hour of the week (in --timezone), and proposes a
    schedule that runs at every hour in which the resource was busy. A stored schedule is proposed when one fits
    (running at all those hours, saving nearly as much), else new periods. Savings are at on-demand list price
    (--prices, the price cache, the Price List API). A resource busy at all hours gets no proposal; one idle at
    all hours is a candidate for stopping; one with less than a week of data is reported as such.

    --apply stores the new periods and schedules in one all-or-nothing write; --tag tags each resource with its
    schedule (needs --apply when a schedule is new). Both ask first, unless --yes.

    \b
    Examples:
      isched suggest
      isched suggest --regions eu-west-1,eu-central-1 --days 28 --timezone Europe/Berlin
      isched suggest --json | jq .new > proposed.json      # a schedule file for `isched apply`
      isched suggest --prices prices.csv --apply --tag --yes
    """
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise InputError(f"'{days}' is not a number of days from {MIN_DAYS} to {MAX_DAYS}", "--days")
    region_list = _regions(regions)
    service_list = _services(services_text)
    try:
        tz = zone(timezone)
    except FieldError as exc:
        raise InputError(str(exc), "--timezone") from None
    key = _check_tag_key(tag_key)
    for value, name, high in ((cpu_below, "--cpu-below", 100.0), (network_below, "--network-below", 1e6)):
        if not 0 < value <= high:  # NaN fails this too
            raise InputError(f"'{value}' is not a threshold above 0 and at most {high:g}", name)
    if not 0 < connections_below <= 1e6:
        raise InputError(f"'{connections_below}' is not a threshold above 0 and at most 1e6", "--connections-below")
    if (do_apply or do_tag) and as_json and not yes:
        raise InputError("--apply/--tag with --json need --yes: there is no prompt to confirm", "--yes")
    end = analysis.floor_hour(parse_instant(at, "--at") if at else datetime.now(UTC))
    start = end - timedelta(days=days)
    thresholds = Thresholds(cpu_below, network_below * 1024 * 1024, connections_below)
    book = PriceBook(load_prices(prices_file), use_api=pricing_api)

    stored, note = _stored(ctx, do_apply)
    notes = [note] if note else []
    reference = analysis.week_start(end, tz)
    runs = analysis.stored_runs(stored, reference, tz)
    session = new_session()
    rows: list[Row] = []
    problems: list[Problem] = []
    for region in region_list:
        found, failed = candidates(region, session, key, service_list)
        problems += failed
        if not found:
            continue
        try:
            values, errors = hourly_values(client("cloudwatch", region=region, session=session), found, start, end)
        except Exception as exc:  # e.g. a region whose endpoint does not resolve: that region only
            problems.append(Problem(region, "cloudwatch", None, failure(exc)))
            continue
        for c in found:
            if c.arn in errors:
                rows.append(Row(c, None, error=f"metrics not read: {errors[c.arn]}"))
                continue
            a = analysis.analyse(
                values.get(c.arn, []),
                analysed_hours=days * 24,
                timezone=timezone,
                reference=reference,
                thresholds=thresholds,
                stored=stored,
                runs=runs,
            )
            hourly, price_note = _price(book, c) if a.run is not None else (None, None)
            savings = analysis.monthly_savings(a.run.stopped_fraction, hourly) if a.run is not None else None
            rows.append(Row(c, a, hourly=hourly, price_note=price_note, savings=savings))
    book.save()
    if book.api_error:
        notes.append(book.api_error)

    new = analysis.merged_config(r.analysis.config for r in rows if r.analysis is not None and r.analysis.config)
    body = _body(rows, problems, new, notes, end, start, days, timezone, thresholds, reference)
    acting = do_apply or do_tag
    proposed = [r for r in rows if r.analysis is not None and r.analysis.schedule]
    if acting:
        _check_actions(new, proposed, stored, do_apply, do_tag)
    if not as_json or not acting:
        _print(body, rows, new, as_json)
    if acting and proposed:
        if not yes:
            what = " and ".join(w for w, on in (("store the new items", do_apply), ("tag", do_tag)) if on)
            click.confirm(f"{what.capitalize()} for {len(proposed)} resource(s)?", abort=True)
        if do_apply:
            body["applied"] = _apply(ctx, new)
        if do_tag:
            body["tagged"] = _tag(proposed, key)
        if as_json:
            emit_json(body)
        else:
            _print_actions(body)
    elif acting and as_json:
        emit_json(body)
    failed_tags = [t for t in body.get("tagged") or [] if not t["ok"]]
    if problems or any(r.analysis is None for r in rows) or failed_tags:
        for p in problems:
            err_console.print(error_line(p.region, p.service, p.error), soft_wrap=True)
        raise click.exceptions.Exit(1)


def _body(
    rows: Sequence[Row],
    problems: Sequence[Problem],
    new: Config,
    notes: list[str],
    end: datetime,
    start: datetime,
    days: int,
    timezone: str,
    thresholds: Thresholds,
    reference: datetime,
) -> dict[str, Any]:
    priced = [r.savings for r in rows if r.savings is not None]
    proposed = [r for r in rows if r.analysis is not None and r.analysis.status is Status.PROPOSED]
    return {
        "at": iso_z(end),
        "from": iso_z(start),
        "to": iso_z(end),
        "days": days,
        "timezone": timezone,
        "reference_week": iso_z(reference),
        "currency": "USD",
        "thresholds": thresholds.to_json(),
        "resources": [r.to_json() for r in rows],
        "new": new.to_dict(),
        "totals": {
            "resources": len(rows),
            "proposed": len(proposed),
            "new_schedules": len(new.schedules),
            "estimated_monthly_savings": float(sum(priced, Decimal(0))),
            "unpriced_resources": len([r for r in proposed if r.savings is None]),
        },
        "errors": [p.to_json() for p in problems],
        "notes": notes,
        "applied": None,
        "tagged": None,
    }


def _check_actions(new: Config, proposed: Sequence[Row], stored: Config | None, do_apply: bool, do_tag: bool) -> None:
    """Refuses (exit 2, nothing written) a --tag that would name schedules that are neither stored nor applied."""
    if do_tag and not do_apply:
        missing = sorted(n for n in new.schedules if stored is None or n not in stored.schedules)
        if missing:
            raise InputError(
                f"the proposed schedule(s) {', '.join(missing[:5])} are not stored: add --apply to store them first",
                "--tag",
            )


def _apply(ctx: click.Context, new: Config) -> dict[str, list[str]]:
    """Stores exactly the new periods and schedules, in one all-or-nothing apply; nothing else is changed."""
    store = config_store(ctx)
    try:
        plan, _ = store.plan_apply(new, prune=False)
        if plan.updated or plan.deleted:
            raise CommandError(
                f"{', '.join(plan.updated + plan.deleted)} changed since they were read; nothing was written: run "
                "suggest again"
            )
        plan = store.apply(new, prune=False, dry_run=False)
    except (ConflictError, StoreError) as exc:
        raise CommandError(str(exc)) from None
    return {"created": plan.created, "unchanged": plan.unchanged}


def _tag(proposed: Sequence[Row], key: str) -> list[dict[str, Any]]:
    """Tags each resource with its schedule through the tagging code of ``isched tag`` (one outcome each)."""
    clients = tagging.Clients()
    by_schedule: dict[str, list[Row]] = {}
    for r in proposed:
        assert r.analysis is not None and r.analysis.schedule is not None
        by_schedule.setdefault(r.analysis.schedule, []).append(r)
    out: list[dict[str, Any]] = []
    for schedule, group in sorted(by_schedule.items()):
        targets = [tagging.parse_target(r.candidate.arn, r.candidate.region) for r in group]
        for outcome in tagging.tag_targets(targets, key, schedule, clients):
            out.append({**outcome.to_json(), "schedule": schedule})
    return out


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _print(body: dict[str, Any], rows: Sequence[Row], new: Config, as_json: bool) -> None:
    if as_json:
        emit_json(body)
        return
    table = Table(
        title=f"Suggestions from {body['from']} to {body['to']} (hours of the week in {body['timezone']})",
        show_edge=False,
        header_style="bold",
        title_justify="left",
    )
    for col, right in (
        ("resource", False),
        ("region", False),
        ("type", False),
        ("proposal", False),
        ("running h/week", True),
        ("savings/month", True),
        ("confidence", False),
    ):
        table.add_column(col, justify="right" if right else "left", overflow="fold")
    for row in rows:
        r = row.to_json()
        label = f"{r['resource']}" + (f" ({r['name']})" if r["name"] else "")
        if r["schedule"]:
            kind = "stored" if r["schedule"]["existing"] else "new"
            proposal = styled("[green]{}[/] ({})", r["schedule"]["name"], kind)
        else:
            proposal = lit(r["reason"] or "", "red" if r["status"] == "error" else "yellow")
        conf = r["confidence"]
        table.add_row(
            label,
            r["region"],
            r["type"] or "?",
            proposal,
            "" if r["running_hours_per_week"] is None else f"{r['running_hours_per_week']:g}",
            "" if r["schedule"] is None else _money(r["estimated_monthly_savings"]),
            "" if conf is None or r["schedule"] is None else f"{conf['level']} ({conf['score']:g})",
        )
    console.print(table)
    if not rows:
        console.print("No running resource without a schedule tag was found.")
    totals = body["totals"]
    console.print(
        f"{totals['proposed']} of {totals['resources']} resource(s) have a proposal; estimated savings "
        f"{_money(totals['estimated_monthly_savings'])} a month at list price"
        + (f" ({totals['unpriced_resources']} unpriced)" if totals["unpriced_resources"] else "")
    )
    if new.schedules:
        console.print(styled("[bold]New schedules proposed[/] (store them with --apply):"))
        for name, schedule in sorted(new.schedules.items()):
            console.print(styled("  {}: {}", name, schedule.description or ""), soft_wrap=True)
    for row in rows:
        if row.price_note and row.savings is None and row.analysis is not None and row.analysis.schedule:
            console.print(styled("[yellow]unpriced:[/] {}: {}", row.candidate.id, row.price_note), soft_wrap=True)
    for note in body["notes"]:
        console.print(styled("[yellow]note:[/] {}", note), soft_wrap=True)


def _print_actions(body: dict[str, Any]) -> None:
    applied = body.get("applied")
    if applied is not None:
        created = applied["created"]
        console.print(f"stored {len(created)} new item(s)" + (f": {', '.join(created)}" if created else ""))
    for t in body.get("tagged") or []:
        if t["ok"]:
            console.print(styled("[green]✓ tagged[/] {} with {}", t["resource"], t["schedule"]))
        else:
            err_console.print(error_line(t["resource"], t["error"] or "failed"), soft_wrap=True)
