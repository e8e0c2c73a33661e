"""``isched validate`` and the offline schedule commands: ``schedule preview`` and ``schedule state``."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import click
from rich.table import Table
from rich.text import Text

from scheduler.engine import Config, Evaluator, iso_z, local_day_bounds, running_hours, to_instant
from scheduler.engine.errors import quote
from scheduler.engine.evaluate import Interval, clip

from .config_source import load_config, load_file
from .errors import InputError
from .options import json_option, parse_day, parse_instant
from .output import console, emit_json, issue_json, lit, report_issues, styled

MAX_PREVIEW_DAYS = 3700
SLOTS_PER_HOUR = 2  # the day bar has one cell per half hour


def _evaluator(config: Config, name: str) -> Evaluator:
    if name not in config.schedules:
        from difflib import get_close_matches

        close = get_close_matches(name[:200], list(config.schedules), n=1)
        known = sorted(config.schedules)
        listed = ", ".join(known[:10]) + (f", … ({len(known)} in all)" if len(known) > 10 else "")
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {listed})"
        raise InputError(f"{quote(name)} is not a schedule{hint}", "NAME")
    return Evaluator.from_config(config, name)


@click.command("validate")
@click.option(
    "--file", "-f", "file", required=True, metavar="F", help="Schedule file; without it, the stored configuration."
)
@json_option
def validate_cmd(file: str, as_json: bool) -> None:
    """Check a schedule file without touching AWS.

    Every problem is reported at once, each naming the field and the value, e.g.
    `periods.office.weekdays: 'mon-fry' is not a weekday`. Exit code 0 when valid, 2 when not.

    \b
    Example:
      isched validate --file schedules.yaml
    """
    try:
        config = load_file(file)
    except InputError as exc:
        if not as_json:
            raise
        report_issues(exc.issues, as_json=False, source=exc.source)
        emit_json(
            {
                "error": "; ".join(str(i) for i in exc.issues),
                "file": file,
                "valid": False,
                "periods": [],
                "schedules": [],
                "errors": [issue_json(i) for i in exc.issues],
            }
        )
        raise click.exceptions.Exit(2) from None
    if as_json:
        emit_json(
            {
                "file": file,
                "valid": True,
                "periods": sorted(config.periods),
                "schedules": sorted(config.schedules),
                "errors": [],
            }
        )
        return
    console.print(
        styled(
            "[green]✓[/] {} is valid: {} period(s), {} schedule(s)", file, len(config.periods), len(config.schedules)
        )
    )


@click.group("schedule")
def schedule_group() -> None:
    """Preview and query schedules.

    \b
    Examples:
      isched schedule preview office --from 2026-03-23 --to 2026-04-05 --file schedules.yaml
      isched schedule state office --at 2026-11-27T09:30:00+01:00 --file schedules.yaml
    """


@schedule_group.command("preview")
@click.argument("name")
@click.option("--from", "from_", required=True, metavar="DATE", help="First local date (YYYY-MM-DD), inclusive.")
@click.option("--to", "to", required=True, metavar="DATE", help="Last local date (YYYY-MM-DD), inclusive.")
@click.option("--file", "-f", "file", metavar="F", help="Schedule file; without it, the stored configuration.")
@click.option("--savings", is_flag=True, help="Also estimate what one resource of --type would save in the range.")
@click.option("--type", "type_", metavar="TYPE", help="EC2 instance type or RDS DB instance class (implies --savings).")
@click.option("--region", metavar="REGION", help="With --savings: the region whose prices apply.")
@click.option("--service", type=click.Choice(["ec2", "rds"]), default="ec2", show_default=True, help="With --savings.")
@click.option("--engine", default="postgres", show_default=True, help="With --savings --service rds: the DB engine.")
@click.option("--multi-az", is_flag=True, help="With --savings --service rds: a Multi-AZ DB instance.")
@click.option("--prices", "prices_file", metavar="FILE", help="With --savings: prices file (else the Price List API).")
@json_option
def preview_cmd(
    name: str,
    from_: str,
    to: str,
    file: str | None,
    savings: bool,
    type_: str | None,
    region: str | None,
    service: str,
    engine: str,
    multi_az: bool,
    prices_file: str | None,
    as_json: bool,
) -> None:
    """Transitions and running time of schedule NAME between two local dates.

    Dates are in the schedule's time zone and both inclusive. JSON instants are UTC; the human view draws one
    row per day, one cell per half hour (█ running, ▌ part of the half hour, · stopped), in local time.

    With --savings: what one resource of --type in --region would save under the schedule over the range
    (stopped hours × its on-demand hourly price; EC2 priced as Linux, shared tenancy).

    \b
    Example:
      isched schedule preview office --from 2026-11-01 --to 2026-11-30 --savings --type t3.large --region eu-west-1
    """
    first = parse_day(from_, "--from")
    last = parse_day(to, "--to")
    if last < first:
        raise InputError(f"'{to}' is before --from '{from_}'", "--to")
    if (last - first).days + 1 > MAX_PREVIEW_DAYS:
        raise InputError(f"'{to}' is more than {MAX_PREVIEW_DAYS} days after --from", "--to")
    config = load_config(file)
    ev = _evaluator(config, name)
    start, end = local_day_bounds(first, last, ev.tz)
    transitions = ev.transitions(start, end)
    running = ev.running(start, end)
    hours = round(running_hours(running), 4)
    estimate = None
    if savings or type_ is not None:  # asking for a type's price means asking for its savings
        from .report_cmds import preview_savings

        estimate = preview_savings(
            ev,
            start,
            end,
            running,
            service=service,
            region=region,
            type_=type_,
            engine=engine,
            multi_az=multi_az,
            prices_file=prices_file,
        )
    if as_json:
        body = {
            "schedule": name,
            "timezone": ev.timezone,
            "from": start.astimezone(ev.tz).isoformat(),
            "to": end.astimezone(ev.tz).isoformat(),
            "transitions": [t.to_json() for t in transitions],
            "running": [{"start": iso_z(s), "end": iso_z(e)} for s, e in running],
            "running_hours": hours,
        }
        if estimate is not None:
            body["savings"] = estimate
        emit_json(body)
        return
    _print_timeline(ev, first, last, running, hours)
    if transitions:
        table = Table(title="Transitions", show_edge=False, header_style="bold")
        table.add_column(f"local time ({ev.timezone})", no_wrap=True)
        table.add_column("UTC", no_wrap=True)
        table.add_column("action")
        table.add_column("why")
        for tr in transitions:
            local = tr.at.astimezone(ev.tz)
            colour = "green" if tr.action == "start" else "red"
            table.add_row(
                local.strftime("%a %Y-%m-%d %H:%M %Z"),
                iso_z(tr.at),
                lit(tr.action, colour),
                "event"
                if tr.source == "event"
                else "running time begins"
                if tr.action == "start"
                else "running time ends",
            )
        console.print(table)
    else:
        console.print("No transitions in this range.")
    if estimate is not None:
        from .report_cmds import print_preview_savings

        print_preview_savings(estimate)


def _print_timeline(ev: Evaluator, first: date, last: date, running: list[Interval], hours: float) -> None:
    slots = 24 * SLOTS_PER_HOUR
    table = Table(
        title=f"{ev.schedule.name} ({ev.timezone}): {hours:g} running hours",
        show_edge=False,
        header_style="bold",
        pad_edge=False,
    )
    table.add_column("day")
    ruler = "".join(f"{h:02d}".ljust(SLOTS_PER_HOUR * 3) for h in range(0, 24, 3))
    table.add_column(ruler[:slots], no_wrap=True)
    table.add_column("hours", justify="right")
    day = first
    while day <= last:
        d0, d1 = local_day_bounds(day, day, ev.tz)
        mine = clip(running, d0, d1)
        bar = Text()
        naive0 = datetime(day.year, day.month, day.day)
        for i in range(slots):
            # Cells are local wall-clock half hours; on a DST change day some cells are empty or doubled.
            s = to_instant(naive0 + timedelta(minutes=30 * i), ev.tz)
            e = to_instant(naive0 + timedelta(minutes=30 * (i + 1)), ev.tz)
            covered = sum(((min(e, b) - max(s, a)).total_seconds() for a, b in mine if b > s and a < e), 0.0)
            span = (e - s).total_seconds()
            if span > 0 and covered >= span:
                bar.append("█", style="green")
            elif covered > 0:
                bar.append("▌", style="green")
            else:
                bar.append("·", style="dim")
        table.add_row(day.strftime("%a %Y-%m-%d"), bar, f"{running_hours(mine):g}")
        day += timedelta(days=1)
    console.print(table)


@schedule_group.command("state")
@click.argument("name")
@click.option("--at", "at", required=True, metavar="TIME", help="ISO 8601 instant with offset, e.g. 2026-11-27T09:00Z.")
@click.option("--file", "-f", "file", metavar="F", help="Schedule file; without it, the stored configuration.")
@json_option
def state_cmd(name: str, at: str, file: str | None, as_json: bool) -> None:
    """The state of schedule NAME at one instant: running, stopped or any (no opinion)."""
    instant = parse_instant(at, "--at")
    config = load_config(file)
    ev = _evaluator(config, name)
    state = ev.state_at(instant)
    if as_json:
        emit_json({"schedule": name, "at": iso_z(instant), "state": state.value})
        return
    nxt = ev.next_transition(instant)
    local = instant.astimezone(ev.tz)
    colour = {"running": "green", "stopped": "red"}.get(state.value, "yellow")
    when = f"{local.strftime('%a %Y-%m-%d %H:%M %Z')} ({iso_z(instant)})"
    console.print(styled("{} at {}: {}", name, when, lit(state.value, colour)))
    if nxt is not None:
        console.print(f"next: {nxt.action} at {nxt.at.astimezone(ev.tz).strftime('%a %Y-%m-%d %H:%M %Z')}")
