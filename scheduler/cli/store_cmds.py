"""``isched init``, ``isched apply`` and ``isched export``: the tables, and schedules as code."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from scheduler.engine import ConfigError, dump_document
from scheduler.store.config import ApplyPlan, ConflictError, StoreError

from .config_source import load_config, load_file
from .context import config_store, tables
from .errors import CommandError, InputError
from .options import json_option
from .output import console, emit_json, lit, styled


@click.command("init")
@json_option
@click.pass_context
def init_cmd(ctx: click.Context, /, as_json: bool) -> None:
    """Create the namespace's DynamoDB tables if they are missing (safe to run again).

    In AWS the stack creates the tables; `init` is for first use against a local endpoint or a plain account.
    """
    t = tables(ctx)
    result = t.create_missing()
    if as_json:
        emit_json({"namespace": ctx.find_root().obj["namespace"], "tables": result})
        return
    for name, status in result.items():
        console.print(styled("{}: [green]created[/]", name) if status == "created" else lit(f"{name}: exists"))


def _labels(items: list[str]) -> list[dict[str, str]]:
    out = []
    for label in items:
        kind, _, name = label.partition(" ")
        out.append({"kind": kind, "name": name})
    return out


def plan_json(plan: ApplyPlan) -> dict[str, Any]:
    """An apply plan's changes as JSON: ``created``, ``updated``, ``unchanged``, ``deleted`` (kind and name each)
    and ``writes``."""
    body: dict[str, Any] = {k: _labels(v) for k, v in plan.summary().items()}
    body["writes"] = plan.writes
    return body


def print_plan(plan: ApplyPlan, dry_run: bool) -> None:
    """An apply plan as a table, and how many items it changes (or would, with ``dry_run``)."""
    table = Table(show_edge=False, header_style="bold", title="dry run: nothing written" if dry_run else None)
    table.add_column("change")
    table.add_column("items")
    colours = {"created": "green", "updated": "yellow", "deleted": "red", "unchanged": "dim"}
    for key, items in plan.summary().items():
        table.add_row(lit(key, colours[key]), ", ".join(items) if key != "unchanged" else str(len(items)))
    console.print(table)
    changes = len(plan.created) + len(plan.updated) + len(plan.deleted)
    verb = "would change" if dry_run else "changed"
    console.print(f"{verb} {changes} item(s)" + ("" if changes or dry_run else ": already up to date"))


@click.command("apply")
@click.option("--file", "-f", "file", required=True, metavar="F", help="Schedule file (YAML or JSON).")
@click.option("--prune", is_flag=True, help="Also delete stored periods and schedules that are not in the file.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--yes", is_flag=True, help="Confirm a --prune that deletes more than half of the stored items.")
@json_option
@click.pass_context
def apply_cmd(ctx: click.Context, /, file: str, prune: bool, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Make the stored configuration match a schedule file: all of it or none of it.

    The whole file is validated first (every error reported, nothing written). Then every change is written
    in one DynamoDB transaction, each item conditional on the version read, so a concurrent edit makes the
    apply fail with nothing changed. Re-applying the same file changes nothing.

    A --prune that would delete more than half of the stored periods and schedules (or all of them: an empty
    or wrong file) is refused, with nothing written, unless --yes confirms it; --dry-run shows the plan.

    \b
    Examples:
      isched apply --file schedules.yaml --dry-run
      isched apply --file schedules.yaml --prune     # also delete what the file no longer has
    """
    config = load_file(file)
    store = config_store(ctx)
    try:
        guard = _prune_guard(store.plan_apply(config, prune=True)[0]) if prune and not yes else None
        if guard is not None and not dry_run:
            raise InputError(f"{guard}; nothing written. Add --yes to confirm (see the plan with --dry-run)", "--prune")
        plan = store.apply(config, prune=prune, dry_run=dry_run)
    except ConfigError as exc:
        raise InputError(exc.issues, source=file) from None
    except (ConflictError, StoreError) as exc:
        raise CommandError(str(exc)) from None
    if as_json:
        body: dict[str, Any] = {"file": file, "dry_run": dry_run, "prune": prune}
        body.update(plan_json(plan))
        if guard is not None:
            body["needs_yes"] = guard
        emit_json(body)
        return
    print_plan(plan, dry_run)
    if guard is not None:
        console.print(lit(f"without --dry-run this needs --yes: {guard}", "yellow"))


def _prune_guard(plan: ApplyPlan) -> str | None:
    """Why a --prune needs --yes (it would delete more than half of the stored items, or all), else None."""
    stored = len(plan.updated) + len(plan.unchanged) + len(plan.deleted)
    deleted = len(plan.deleted)
    if deleted == 0 or deleted * 2 <= stored:
        return None
    share = "all" if deleted == stored else "more than half"
    return f"it would delete {deleted} of the {stored} stored periods and schedules ({share} of them)"


@click.command("export")
@json_option
def export_cmd(as_json: bool) -> None:
    """Print the stored configuration as a schedule file (YAML; JSON with --json).

    `isched export > schedules.yaml` then `isched apply --file schedules.yaml` changes nothing.
    """
    config = load_config(None)
    if as_json:
        emit_json(config.to_dict())
    else:
        click.echo(dump_document(config), nl=False)
