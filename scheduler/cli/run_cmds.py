"""``isched run`` (one scheduling pass) and ``isched status`` (what is managed, and what happens next)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from scheduler.aws.accounts import DEFAULT_ROLE_NAME, AccountSessions
from scheduler.aws.session import default_region, is_account_id, is_region
from scheduler.engine import iso_z
from scheduler.runtime.deployment import Deployment
from scheduler.runtime.notify import ERROR, Event, EventBridgeSink
from scheduler.runtime.orchestrator import PassRequest, run_pass, targets_for
from scheduler.runtime.status import fleet_status
from scheduler.runtime.worker import invalid_schedules
from scheduler.services.common import aws_error
from scheduler.services.registry import SERVICES, not_a_service

from .context import config_store, tables
from .errors import CommandError, InputError
from .options import json_option, parse_instant
from .output import console, emit_json, err_console, error_line, lit, styled


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _targets_options(fn: Any) -> Any:
    opts = [
        click.option("--accounts", metavar="A,B", help="Account ids (default: the account of your credentials)."),
        click.option("--regions", metavar="R1,R2", help="Regions (default: AWS_DEFAULT_REGION / your profile's)."),
        click.option("--services", metavar="S1,S2", help=f"Services among {', '.join(SERVICES)} (default: all)."),
        click.option(
            "--tag-key",
            envvar="ISCHED_TAG_KEY",
            default="Schedule",
            show_default=True,
            help="The tag naming each resource's schedule (env ISCHED_TAG_KEY).",
        ),
        click.option(
            "--role-name",
            envvar="ISCHED_ROLE_NAME",
            default=DEFAULT_ROLE_NAME,
            show_default=True,
            help="Role assumed in every other account (env ISCHED_ROLE_NAME).",
        ),
        click.option(
            "--external-id", envvar="ISCHED_EXTERNAL_ID", help="External id for the spoke role, if it needs one."
        ),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _resolve_targets(
    accounts: str | None, regions: str | None, services: str | None, sessions: AccountSessions
) -> tuple[list[str], list[str], list[str]]:
    acc = _split(accounts)
    for a in acc:
        if not is_account_id(a):
            raise InputError(f"'{a}' is not an AWS account id (12 digits)", "--accounts")
    reg = _split(regions)
    for r in reg:
        if not is_region(r):
            raise InputError(f"'{r}' is not an AWS region name (e.g. eu-west-1)", "--regions")
    svc = _split(services) or list(SERVICES)
    for s in svc:
        if s not in SERVICES:
            raise InputError(not_a_service(s), "--services")
    if not acc:
        acc = [sessions.hub_account]
    if not reg:
        reg = [default_region(sessions.base)]
    return list(dict.fromkeys(acc)), list(dict.fromkeys(reg)), list(dict.fromkeys(svc))


class _StderrDecisions(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        err_console.print(styled("[dim]{}[/] {}", getattr(record, "target", ""), record.getMessage()), soft_wrap=True)


@click.command("run")
@click.option("--at", "at", metavar="TIME", help="Run as if at this instant (ISO 8601 with offset; default now).")
@click.option("--dry-run", is_flag=True, help="Decide and report; change nothing and write nothing.")
@_targets_options
@click.option(
    "--rds-snapshot/--no-rds-snapshot",
    envvar="ISCHED_RDS_SNAPSHOT",
    default=False,
    help="Take a snapshot of each RDS instance or cluster before stopping it (env ISCHED_RDS_SNAPSHOT).",
)
@click.option(
    "--event-bus",
    envvar="ISCHED_EVENT_BUS",
    metavar="NAME",
    help="Publish the pass's actions, errors and upcoming stops to this EventBridge bus (name or ARN; "
    "env ISCHED_EVENT_BUS).",
)
@click.option("-v", "--verbose", is_flag=True, help="Print one decision line per resource on stderr.")
@json_option
@click.pass_context
def run_cmd(
    ctx: click.Context,
    /,
    at: str | None,
    dry_run: bool,
    accounts: str | None,
    regions: str | None,
    services: str | None,
    tag_key: str,
    role_name: str,
    external_id: str | None,
    rds_snapshot: bool,
    event_bus: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Run one scheduling pass over every account × region × service, in parallel.

    Each resource tagged `<tag-key>=<schedule>` is decided from its schedule's transitions since the previous
    pass (a late or missed pass catches up), its stored state and what it is doing now; manual starts and stops
    are respected unless the schedule is enforced. A problem with one resource or target (an unknown schedule, a
    failed stop, a role that cannot be assumed) does not stop the pass: it is listed under errors, the other
    resources proceed, and the exit code is 1. Exit code 0 means the pass ran without errors (warnings, and a
    target skipped because a pass at the same instant already ran there, do not count). The actions and errors
    are printed (as JSON with --json) either way.

    With --event-bus, each action and error is also published as an EventBridge event (source isched), and each
    running resource whose schedule has notify_before gets one "Upcoming Stop" event per scheduled stop (not in
    a dry run; no Upcoming Stop from a pass ahead of the real clock).

    \b
    Examples:
      isched run --dry-run
      isched run --at 2026-11-27T17:00:00Z --regions eu-west-1,us-east-1 --services ec2,rds --json
      isched run --accounts 111111111111,222222222222 --role-name isched-spoke
      isched run --event-bus isched-events
    """
    instant = parse_instant(at, "--at") if at else datetime.now(UTC)
    sessions = AccountSessions(role_name=role_name, external_id=external_id)
    acc, reg, svc = _resolve_targets(accounts, regions, services, sessions)
    events = _event_sink(event_bus, sessions) if event_bus is not None else None
    # A partly invalid stored configuration does not stop the pass: the valid schedules are scheduled, and each
    # item left out is an error naming it.
    config, issues = config_store(ctx).load_partial()
    logger = logging.getLogger("isched.worker")
    if verbose:
        logger.setLevel(logging.DEBUG)  # every decision (acting ones are INFO, the rest DEBUG)
        if not any(isinstance(h, _StderrDecisions) for h in logger.handlers):
            logger.addHandler(_StderrDecisions())
    deployment = Deployment(tables(ctx), sessions, {"snapshot_before_stop": rds_snapshot}, tag_key=tag_key)
    invoker = deployment.local_invoker(
        config,
        logger=logger,
        invalid_schedules=invalid_schedules(issues),
        events=events,
    )
    targets = targets_for(acc, reg, svc)
    request = PassRequest(at=instant, tag_key=tag_key, dry_run=dry_run)
    show_progress = not as_json and err_console.is_terminal
    with Progress(
        TextColumn("[bold]pass[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} targets"),
        console=err_console,
        transient=True,
        disable=not show_progress,
    ) as progress:
        task = progress.add_task(iso_z(instant), total=len(targets))
        result = run_pass(invoker, targets, request, on_done=lambda _r: progress.advance(task))
    body = result.to_json()
    body["errors"] = [
        {
            "account": None,
            "region": None,
            "service": None,
            "resource": None,
            "error": f"stored configuration: {i}",
            "severity": "error",
        }
        for i in issues
    ] + body["errors"]
    if events is not None and issues and not dry_run:  # the targets' own events went out with their passes
        unsent = events.publish([Event(ERROR, e) for e in body["errors"][: len(issues)]])
        for f in unsent:
            warning = f"could not publish a '{ERROR}' event: {f.error}"
            body["errors"].append({**f.event.detail, "error": warning, "severity": "warning"})
    failures = [e for e in body["errors"] if is_failure(e)]
    if as_json:
        if failures:
            body = {**body, "error": f"{len(failures)} error(s) in the pass at {body['at']}"}
        emit_json(body)
    else:
        try:
            _print_pass(body, result, dry_run, len(targets))
        except BrokenPipeError:
            raise
        except Exception as exc:  # the pass has acted: never lose its record to a display problem
            err_console.print(error_line("the tables cannot be shown", f"{type(exc).__name__}: {exc}"))
            emit_json(body)
    if failures:
        raise click.exceptions.Exit(1)


def _event_sink(bus: str, sessions: AccountSessions) -> EventBridgeSink:
    """The bus to publish to, with the credentials of the CLI's own account (never a spoke role); exit 2 for a
    value that cannot be a bus, exit 1 for a bus that cannot be found or described."""
    try:
        sink = EventBridgeSink(bus, sessions.base)
    except ValueError as exc:
        raise InputError(str(exc), "--event-bus") from exc
    try:
        sink.check()
    except Exception as exc:
        raise CommandError(f"--event-bus: the event bus '{sink.bus}' cannot be used: {aws_error(exc)}") from exc
    return sink


def is_failure(error: Mapping[str, Any]) -> bool:
    """Whether an error of a pass makes ``isched run`` exit 1: not a warning, not a duplicate pass's skip notice."""
    return bool(error.get("severity", "error") == "error")


def _print_pass(body: dict[str, Any], result: Any, dry_run: bool, n_targets: int) -> None:
    managed = sum(r.managed for r in result.results)
    title = f"pass at {body['at']}" + (" (dry run: nothing changed)" if dry_run else "")
    if body["actions"]:
        table = Table(title=title, show_edge=False, header_style="bold")
        for col in ("account", "region", "service", "resource", "schedule", "action", "reason"):
            table.add_column(col, no_wrap=col in ("account", "resource"))
        colours = {"start": "green", "stop": "red", "resize": "yellow"}
        for a in body["actions"]:
            table.add_row(
                a["account"],
                a["region"],
                a["service"],
                a["resource"],
                a["schedule"],
                lit(a["action"], colours.get(a["action"], "white")),
                a["reason"],
            )
        console.print(table)
    else:
        console.print(f"{title}: nothing to do")
    for e in body["errors"]:
        where = (
            f"{e['account']}/{e['region']}/{e['service']}" + (f" {e['resource']}" if e["resource"] else "")
            if e["account"]
            else "isched"
        )
        if is_failure(e):
            err_console.print(error_line(where, e["error"]), soft_wrap=True)
        else:
            err_console.print(styled("[yellow]{}[/]: {}", where, e["error"]), soft_wrap=True)
    counts: dict[str, int] = {}
    for a in body["actions"]:
        counts[a["action"]] = counts.get(a["action"], 0) + 1
    done = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no actions"
    failures = sum(is_failure(e) for e in body["errors"])
    console.print(f"{managed} managed resource(s) in {n_targets} target(s): {done}; {failures} error(s)")


@click.command("status")
@click.option("--at", "at", metavar="TIME", help="As if at this instant (default now).")
@_targets_options
@json_option
@click.pass_context
def status_cmd(
    ctx: click.Context,
    /,
    at: str | None,
    accounts: str | None,
    regions: str | None,
    services: str | None,
    tag_key: str,
    role_name: str,
    external_id: str | None,
    as_json: bool,
) -> None:
    """Managed resources: schedule, actual state, stored state, last action and the next transition.

    Also lists, as errors (exit code 1), targets that cannot be read, stored schedules or periods that are
    invalid, and targets whose recent passes were skipped because another pass held them.

    \b
    Examples:
      isched status
      isched status --regions eu-west-1 --services ec2,rds --json
    """
    instant = parse_instant(at, "--at") if at else datetime.now(UTC)
    sessions = AccountSessions(role_name=role_name, external_id=external_id)
    acc, reg, svc = _resolve_targets(accounts, regions, services, sessions)
    config, issues = config_store(ctx).load_partial()
    deployment = Deployment(tables(ctx), sessions, tag_key=tag_key)
    rows, errors = fleet_status(targets_for(acc, reg, svc), instant, config, sessions, deployment.state, tag_key)
    errors = [
        {"account": None, "region": None, "service": None, "error": f"stored configuration: {i}"} for i in issues
    ] + errors
    if as_json:
        body: dict[str, Any] = {"at": iso_z(instant), "resources": rows, "errors": errors}
        if errors:
            body["error"] = f"{len(errors)} error(s): {errors[0]['error']}"
        emit_json(body)
        if errors:
            raise click.exceptions.Exit(1)
        return
    by_target: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        by_target.setdefault((r["account"], r["region"], r["service"]), []).append(r)
    for (account, region_name, service), group in by_target.items():
        # One compact table per target keeps ids and times whole in an 80-column terminal.
        table = Table(show_edge=False, header_style="bold", title=f"{service} in {account} {region_name}")
        table.add_column("resource", no_wrap=True)
        table.add_column("schedule", overflow="fold", min_width=8)
        table.add_column("state", overflow="fold", min_width=7)
        table.add_column("should be", overflow="fold", min_width=7)
        table.add_column("last action", no_wrap=True)
        table.add_column("next (UTC)", no_wrap=True)
        for r in group:
            last = f"{r['last_action']} {_short(r['last_action_at'])}" if r["last_action"] else ""
            nxt = f"{r['next_action']} {_short(r['next_at'])}" if r["next_action"] else ""
            table.add_row(r["resource"], r["schedule"], r["state"], _should_be(r), last, nxt)
        console.print(table)
    if not rows:
        console.print("No resources carry the schedule tag in these targets.")
    for e in errors:
        where = f"{e['account']}/{e['region']}/{e['service']}" if e["account"] else "isched"
        err_console.print(error_line(where, e["error"]), soft_wrap=True)
    if errors:
        raise click.exceptions.Exit(1)


def _should_be(row: Mapping[str, Any]) -> str:
    """What the next pass makes of the resource: the schedule's state, or an override's (with its end, UTC)."""
    scheduled = row["schedule_state"] or ""
    if row["override"] is None or (row["problem"] and row["problem"] != row["override_error"]):
        return scheduled or row["problem"] or ""
    if row["override_error"]:
        return f"{scheduled} (override tag malformed: ignored)".lstrip()
    if row["override_expired"]:
        return f"{scheduled} (override expired {_short(row['override_until'])})".lstrip()
    if row["override_until"]:
        return f"{row['override_state']} (override until {_short(row['override_until'])})"
    return f"{row['override_state']} (override until cleared)"


def _short(instant: str | None) -> str:
    """``2026-03-02T17:00:00Z`` -> ``03-02 17:00`` (UTC), for narrow tables."""
    if not instant:
        return ""
    return f"{instant[5:10]} {instant[11:16]}"
