"""``isched period …`` and ``isched schedule create|update|delete|show|list``: edit one stored item.

``update`` changes only the fields given (an empty value, e.g. ``--monthdays ''``, removes that field); the
AWS solution's full-replace update silently dropped every field not repeated, which is the footgun avoided here.
"""

from __future__ import annotations

from collections.abc import Callable
from difflib import get_close_matches
from typing import Any

import click
from rich.table import Table

from scheduler.engine import parse_period
from scheduler.engine.errors import FieldError, Issue, quote
from scheduler.engine.schedule import check_schedule, parse_name, parse_schedule
from scheduler.store.config import ConfigStore, ConflictError, InUse, NotFound, StoredItem, StoreError

from .context import config_store, default_timezone
from .errors import CommandError, InputError
from .options import json_option
from .output import console, emit_json, styled

PERIOD_FLAGS = ("begintime", "endtime", "weekdays", "monthdays", "months", "start", "stop", "description")


def _flag_issues(issues: list[Issue], kind: str, name: str) -> list[Issue]:
    """Engine issue paths (``X.weekdays``) to the flags a user typed (``--weekdays``)."""
    out = []
    for i in issues:
        head, _, rest = i.path.partition(".")
        if head == "X" and rest:
            field = rest.split(".")[0].split("[")[0]
            out.append(Issue(f"--{field.replace('_', '-')}", i.message))
        else:
            out.append(Issue(f"{kind} {name}", i.message))
    return out


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if value is None:
            continue
        if value in ("", []):
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _check_name(name: str, kind: str) -> None:
    try:
        parse_name(name, kind)
    except FieldError as exc:
        raise InputError(str(exc), "NAME") from None


def _require(store: ConfigStore, kind: str, name: str) -> StoredItem:
    # No stored item has such a name, and DynamoDB would refuse it as a key (1 KB, valid UTF-8) with an exit-1 error.
    if len(name) > 256 or any("\ud800" <= c <= "\udfff" for c in name):
        raise InputError(f"{quote(name)} is not a stored {kind}", "NAME")
    item = store.get(kind, name)  # type: ignore[arg-type]
    if item is None:
        known = sorted(store.items(kind))  # type: ignore[arg-type]
        close = get_close_matches(name, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(f"{quote(name)} is not a stored {kind}{hint}", "NAME")
    return item


def _store_call(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except InUse as exc:
        raise InputError(str(exc), "NAME") from None
    except NotFound as exc:
        raise InputError(str(exc), "--periods") from None
    except ValueError as exc:  # already exists
        raise InputError(str(exc), "NAME") from None
    except ConflictError as exc:
        raise CommandError(str(exc)) from None
    except StoreError as exc:
        raise CommandError(str(exc)) from None


def _print_item(item: dict[str, Any], kind: str, extra: dict[str, str] | None = None) -> None:
    table = Table(title=f"{kind} {item['name']}", show_header=False, show_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in item.items():
        if key == "name":
            continue
        table.add_row(key, ", ".join(map(str, value)) if isinstance(value, list) else str(value))
    for key, value in (extra or {}).items():
        table.add_row(key, value)
    console.print(table)


def _emit(item: StoredItem, as_json: bool, verb: str) -> None:
    if as_json:
        emit_json(item.as_json())
    else:
        console.print(styled("[green]✓[/] {} {} '{}' (version {})", verb, item.kind, item.name, item.version))


# -- periods ---------------------------------------------------------------------------------------------------


def period_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--begintime", metavar="HH:MM", help="Start of the daily window (or a start event alone)."),
        click.option("--endtime", metavar="HH:MM", help="End (exclusive; 24:00 = midnight; < begin = overnight)."),
        click.option("--weekdays", metavar="LIST", help="e.g. mon-fri, sat,sun, fri-mon, mon#1, friL."),
        click.option("--monthdays", metavar="LIST", help="e.g. 1-15, L (last day), 15W, 1-31/2."),
        click.option("--months", metavar="LIST", help="e.g. jan-jun, nov-feb, */3."),
        click.option("--start", metavar="CRON", help="Cron period start (5 fields, 0 = Sunday)."),
        click.option("--stop", metavar="CRON", help="Cron period stop (5 fields)."),
        click.option("--description", metavar="TEXT"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _validated_period(name: str, body: dict[str, Any]) -> dict[str, Any]:
    period, issues = parse_period(name, body, "X")
    if issues or period is None:
        raise InputError(_flag_issues(issues, "period", name))
    return period.to_dict()


@click.group("period")
def period_group() -> None:
    """Create, change, delete and list stored periods.

    \b
    Examples:
      isched period create office --begintime 09:00 --endtime 17:00 --weekdays mon-fri
      isched period update office --endtime 18:00          # other fields stay as they are
      isched period update office --months ''              # an empty value removes a field
      isched period show office --json
      isched period delete office                          # refused while a schedule uses it
    """


@period_group.command("create")
@click.argument("name")
@period_options
@json_option
@click.pass_context
def period_create(ctx: click.Context, /, name: str, as_json: bool, **fields: Any) -> None:
    """Create period NAME (refused if it exists)."""
    _check_name(name, "period")
    body = _validated_period(name, _merge({}, fields))
    store = config_store(ctx)
    _emit(_store_call(lambda: store.create_period(name, body)), as_json, "created")


@period_group.command("update")
@click.argument("name")
@period_options
@json_option
@click.pass_context
def period_update(ctx: click.Context, /, name: str, as_json: bool, **fields: Any) -> None:
    """Change only the given fields of period NAME."""
    if all(v is None for v in fields.values()):
        raise InputError("give at least one field to change (e.g. --endtime 18:00)", "NAME")
    store = config_store(ctx)
    current = _require(store, "period", name)
    body = _validated_period(name, _merge(current.body, fields))
    _emit(_store_call(lambda: store.update_period(current, body)), as_json, "updated")


@period_group.command("delete")
@click.argument("name")
@json_option
@click.pass_context
def period_delete(ctx: click.Context, /, name: str, as_json: bool) -> None:
    """Delete period NAME; refused (naming them) while schedules use it."""
    store = config_store(ctx)
    current = _require(store, "period", name)
    if current.used_by:
        raise InputError(str(InUse(name, current.used_by)), "NAME")
    _store_call(lambda: store.delete_period(current))
    if as_json:
        emit_json({"deleted": {"kind": "period", "name": name}})
    else:
        console.print(styled("[green]✓[/] deleted period '{}'", name))


@period_group.command("show")
@click.argument("name")
@json_option
@click.pass_context
def period_show(ctx: click.Context, /, name: str, as_json: bool) -> None:
    """Show period NAME (JSON: the file's field names plus name)."""
    item = _require(config_store(ctx), "period", name)
    if as_json:
        emit_json(item.as_json())
    else:
        _print_item(item.as_json(), "period", {"used by": ", ".join(sorted(item.used_by)) or "-"})


@period_group.command("list")
@json_option
@click.pass_context
def period_list(ctx: click.Context, /, as_json: bool) -> None:
    """List stored periods."""
    items = sorted(config_store(ctx).items("period").values(), key=lambda i: i.name)
    if as_json:
        emit_json([i.as_json() for i in items])
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("name", "begintime", "endtime", "weekdays", "monthdays", "months", "cron", "used by"):
        table.add_column(col)
    for i in items:
        b = i.body
        cron = " / ".join(x for x in (b.get("start"), b.get("stop")) if x)
        table.add_row(
            i.name,
            *(str(b.get(k, "")) for k in ("begintime", "endtime", "weekdays", "monthdays", "months")),
            cron,
            ", ".join(sorted(i.used_by)),
        )
    console.print(table if items else "No periods stored (create one with `isched period create`).")


# -- schedules -------------------------------------------------------------------------------------------------


def schedule_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--periods", metavar="A,B", help="Period names, each optionally NAME@instance-type."),
        click.option(
            "--timezone",
            metavar="ZONE",
            help="IANA time zone, e.g. Europe/Berlin (default: isched --default-timezone).",
        ),
        click.option("--description", metavar="TEXT"),
        click.option("--override-status", metavar="STATE", help="running | stopped (replaces all periods); '' clears."),
        click.option("--holidays", metavar="D1,D2", help="Local dates (YYYY-MM-DD) stopped all day."),
        click.option("--holiday-calendar", metavar="CC", help="Public holidays, e.g. US, DE-BY."),
        click.option("--enforced/--no-enforced", default=None, help="Act every pass, reverting manual changes."),
        click.option(
            "--retain-running/--no-retain-running",
            default=None,
            help="Keep a resource started by hand before its period running after the period ends.",
        ),
        click.option(
            "--stop-new-instances/--no-stop-new-instances",
            default=None,
            help="Stop a resource first seen outside its running time (default on).",
        ),
        click.option("--hibernate/--no-hibernate", default=None, help="EC2: hibernate instead of stop."),
        click.option(
            "--use-maintenance-window/--no-use-maintenance-window",
            default=None,
            help="RDS family: run from 10 minutes before the preferred maintenance window to its end (default off).",
        ),
        click.option(
            "--ssm-maintenance-windows",
            metavar="A,B",
            help="EC2: run during each execution of these SSM maintenance windows (names); '' clears.",
        ),
        click.option(
            "--notify-before",
            metavar="MINUTES",
            help="Publish an 'Upcoming Stop' event this many minutes (1-1440) before each stop; '' clears.",
        ),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _schedule_changes(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key in ("periods", "holidays", "ssm_maintenance_windows") and isinstance(value, str):
            out[key] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            out[key] = value
    return out


def _validated_schedule(store: ConfigStore, name: str, body: dict[str, Any]) -> dict[str, Any]:
    schedule, issues = parse_schedule(name, body, "X")
    if issues or schedule is None:
        raise InputError(_flag_issues(issues, "schedule", name))
    issues = check_schedule(schedule, set(store.items("period")), "X")
    if issues:
        raise InputError(_flag_issues(issues, "schedule", name))
    return schedule.to_dict()


@click.command("create")
@click.argument("name")
@schedule_options
@json_option
@click.pass_context
def schedule_create(ctx: click.Context, /, name: str, as_json: bool, **fields: Any) -> None:
    """Create schedule NAME; every period it names must exist.

    \b
    Example:
      isched schedule create office-berlin --periods office,late@t3.small --timezone Europe/Berlin
      isched schedule create db-nights --periods office --use-maintenance-window
      isched schedule create patch-only --ssm-maintenance-windows patching,hotfix
    """
    _check_name(name, "schedule")
    store = config_store(ctx)
    body = _validated_schedule(store, name, _merge({}, _schedule_changes(fields)))
    _emit(_store_call(lambda: store.put_schedule(name, body, None)), as_json, "created")


@click.command("update")
@click.argument("name")
@schedule_options
@json_option
@click.pass_context
def schedule_update(ctx: click.Context, /, name: str, as_json: bool, **fields: Any) -> None:
    """Change only the given fields of schedule NAME (an empty value removes a field)."""
    changes = _schedule_changes(fields)
    if not changes:
        raise InputError("give at least one field to change (e.g. --timezone Europe/Paris)", "NAME")
    store = config_store(ctx)
    current = _require(store, "schedule", name)
    body = _validated_schedule(store, name, _merge(current.body, changes))
    _emit(_store_call(lambda: store.put_schedule(name, body, current)), as_json, "updated")


@click.command("delete")
@click.argument("name")
@json_option
@click.pass_context
def schedule_delete(ctx: click.Context, /, name: str, as_json: bool) -> None:
    """Delete schedule NAME (resources tagged with it are then reported as unknown by passes)."""
    store = config_store(ctx)
    current = _require(store, "schedule", name)
    _store_call(lambda: store.delete_schedule(current))
    if as_json:
        emit_json({"deleted": {"kind": "schedule", "name": name}})
    else:
        console.print(styled("[green]✓[/] deleted schedule '{}'", name))


@click.command("show")
@click.argument("name")
@json_option
@click.pass_context
def schedule_show(ctx: click.Context, /, name: str, as_json: bool) -> None:
    """Show schedule NAME (JSON: the file's field names plus name)."""
    item = _require(config_store(ctx), "schedule", name)
    if as_json:
        emit_json(item.as_json())
    else:
        _print_item(item.as_json(), "schedule")


@click.command("list")
@json_option
@click.pass_context
def schedule_list(ctx: click.Context, /, as_json: bool) -> None:
    """List stored schedules."""
    items = sorted(config_store(ctx).items("schedule").values(), key=lambda i: i.name)
    if as_json:
        emit_json([i.as_json() for i in items])
        return
    default_zone = default_timezone(ctx)
    table = Table(show_edge=False, header_style="bold")
    for col in ("name", "timezone", "periods", "override", "flags", "description"):
        table.add_column(col)
    for i in items:
        b = i.body
        flags = [f for f in ("enforced", "retain_running", "hibernate", "use_maintenance_window") if b.get(f)]
        if b.get("ssm_maintenance_windows"):
            flags.append("ssm: " + ", ".join(b["ssm_maintenance_windows"]))
        if b.get("stop_new_instances") is False:
            flags.append("no stop_new_instances")
        table.add_row(
            i.name,
            b.get("timezone") or f"{default_zone} (default)",
            ", ".join(b.get("periods", [])),
            b.get("override_status", ""),
            ", ".join(flags),
            b.get("description", ""),
        )
    console.print(table if items else "No schedules stored (create one with `isched schedule create`).")


SCHEDULE_ITEM_COMMANDS = (schedule_create, schedule_update, schedule_delete, schedule_show, schedule_list)
