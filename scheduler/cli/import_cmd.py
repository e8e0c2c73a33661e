"""``isched import-instance-scheduler``: an Instance Scheduler on AWS configuration table applied as isched's own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from scheduler.engine import ConfigError
from scheduler.migrate.instance_scheduler import Translation, translate
from scheduler.migrate.is_table import ReadError, TableError, read_items
from scheduler.store.config import ConflictError, StoreError

from .context import config_store, default_timezone
from .errors import CommandError, InputError
from .options import json_option
from .output import console, emit_json, lit
from .store_cmds import plan_json, print_plan


@click.command("import-instance-scheduler")
@click.option("--table", required=True, metavar="NAME", help="The Instance Scheduler stack's ConfigTable (its name).")
@click.option("--dry-run", is_flag=True, help="Show what would change and the notes; write nothing.")
@json_option
@click.pass_context
def import_is_cmd(ctx: click.Context, /, table: str, dry_run: bool, as_json: bool) -> None:
    """Apply an Instance Scheduler on AWS configuration table (its periods and schedules): all of it or none.

    The table is read (in this account and region), every item is translated and validated, and the result is
    applied like `isched apply` (created or updated in one conditional write; stored items the table does not
    have are left alone). One item isched cannot take (a name with spaces, an unknown field value, an unknown
    item type) refuses the whole import, naming it, with nothing written. Importing again changes nothing.

    The output lists notes: what was not imported (the config item's deployment settings, maintenance windows
    this build does not schedule) and where isched's evaluation differs from Instance Scheduler's (overnight
    periods, 23:59 stops, times a DST change skips or repeats, its default of using RDS maintenance windows).

    \b
    Examples:
      isched import-instance-scheduler --table my-is-stack-ConfigTable-1ABC --dry-run
      isched import-instance-scheduler --table my-is-stack-ConfigTable-1ABC --json
    """
    try:
        items = read_items(table)
    except TableError as exc:
        raise InputError(str(exc), "--table") from None
    except ReadError as exc:
        raise CommandError(str(exc)) from None
    try:
        translation = translate(items, default_timezone=default_timezone(ctx), today=datetime.now(UTC).date())
    except ConfigError as exc:
        raise InputError(exc.issues, source=f"table {table}") from None
    try:
        plan = config_store(ctx).apply(translation.config, prune=False, dry_run=dry_run)
    except ConfigError as exc:
        raise InputError(exc.issues, source=f"table {table}") from None
    except (ConflictError, StoreError) as exc:
        raise CommandError(str(exc)) from None
    if as_json:
        body: dict[str, Any] = {"table": table, "dry_run": dry_run, "items": translation.items}
        body.update(plan_json(plan))
        body["notes"] = [n.as_json() for n in translation.notes]
        body["settings"] = translation.settings
        emit_json(body)
        return
    console.print(
        lit(
            f"read {translation.items} item(s) of {table}: {len(translation.config.periods)} period(s), "
            f"{len(translation.config.schedules)} schedule(s)"
        )
    )
    print_plan(plan, dry_run)
    _print_notes(translation)


def _print_notes(translation: Translation) -> None:
    if not translation.notes:
        console.print("No notes: every item means the same in isched.")
        return
    table = Table(title=f"Notes ({len(translation.notes)})", show_edge=False, header_style="bold")
    table.add_column("item")
    table.add_column("field")
    table.add_column("note", overflow="fold")
    for note in translation.notes:
        table.add_row(f"{note.kind} {note.name}", note.field, note.text)
    console.print(table)
