"""``isched override``: keep resources running or stopped whatever their schedule says, indefinitely or until an
instant, by writing their ``isched:override`` tag (SPEC §2 rule 6, §3); ``isched override clear`` removes it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import click
from rich.table import Table
from rich.text import Text

from scheduler.engine import OVERRIDE_TAG, Override, State, iso_z
from scheduler.engine.errors import quote
from scheduler.services import tagging
from scheduler.services.tagging import Outcome, kind_name

from .errors import InputError
from .options import json_option, parse_instant
from .output import console, emit_json, err_console, error_line, styled
from .tagging import _check_region, _region_option, _targets

# The longest --for accepted: an override meant for longer is an indefinite one (no --for), cleared by hand.
MAX_DURATION = timedelta(days=366)
_DURATION = re.compile(r"(?:(\d{1,30})d)?(?:(\d{1,30})h)?(?:(\d{1,30})m)?")
CLEAR = "clear"


def parse_duration(text: str) -> timedelta:
    """``3h``, ``90m``, ``2d``, ``1d12h``, ``1h30m``: more than zero and at most :data:`MAX_DURATION`."""
    value = text.strip().lower()
    m = _DURATION.fullmatch(value)
    if not value or m is None:
        raise InputError(f"{quote(text)} is not a duration (e.g. 3h, 90m, 2d, 1h30m)", "--for")
    days, hours, minutes = (int(g) if g else 0 for g in m.groups())
    total = (days * 24 + hours) * 60 + minutes  # whole minutes, compared before any timedelta could overflow
    if total <= 0:
        raise InputError(f"{quote(text)} is no time at all: give a duration longer than zero", "--for")
    if total > MAX_DURATION // timedelta(minutes=1):
        raise InputError(
            f"{quote(text)} is longer than {MAX_DURATION.days} days: leave out --for for an override until cleared",
            "--for",
        )
    return timedelta(minutes=total)


def _override(state: str | None, until: str | None, duration: str | None, now: datetime) -> Override:
    if state is None:
        raise InputError("give --state running or --state stopped", "--state")
    try:
        wanted = State(state.strip().lower())
    except ValueError:
        wanted = State.ANY
    if wanted is State.ANY:
        raise InputError(f"{quote(state)} is not an override state (running or stopped)", "--state")
    if until is not None and duration is not None:
        raise InputError(f"{quote(until)} cannot be combined with --for {quote(duration)}: give one", "--until")
    if duration is not None:
        end = now + parse_duration(duration)
        return Override(wanted, end.replace(microsecond=0) + (timedelta(seconds=1) if end.microsecond else timedelta()))
    if until is not None:
        end = parse_instant(until, "--until").astimezone(UTC)
        if end <= now:
            raise InputError(f"{quote(until)} is not in the future (now is {iso_z(now)})", "--until")
        return Override(wanted, end)
    return Override(wanted)


def _result_text(outcome: Outcome, value: str | None) -> Text:
    if not outcome.ok:
        return styled("[red]✗ failed[/]")
    before = outcome.previous
    if value is None:
        if before is None:
            return styled("[green]✓ cleared[/] (had no override)")
        return styled("[green]✓ cleared[/] (was {})", before)
    if before is None or before == value:
        return styled("[green]✓ {}[/]", value)
    return styled("[green]✓ {}[/] (was {})", value, before)


def _report(outcomes: Sequence[Outcome], override: Override | None, as_json: bool) -> None:
    failed = [o for o in outcomes if not o.ok]
    if as_json:
        emit_json(
            {
                "tag_key": OVERRIDE_TAG,
                "override": override.value if override else None,
                "state": override.state.value if override else None,
                "until": iso_z(override.until) if override and override.until else None,
                "results": [o.to_json() for o in outcomes],
            }
        )
    else:
        table = Table(show_edge=False, header_style="bold")
        table.add_column("resource", overflow="fold")
        table.add_column("kind")
        table.add_column("region", no_wrap=True)
        table.add_column("result", overflow="fold")
        for o in outcomes:
            table.add_row(
                o.resource,
                kind_name(o.kind) if o.kind else "?",
                o.region,
                _result_text(o, override.value if override else None),
            )
        console.print(table)
        done = len(outcomes) - len(failed)
        if override is None:
            console.print(f"{done} of {len(outcomes)} resource(s) back on their schedule from the next pass")
        else:
            console.print(
                f"{done} of {len(outcomes)} resource(s) kept {override.describe()} from the next pass "
                f"({OVERRIDE_TAG}={override.value})"
            )
    for o in failed:
        err_console.print(error_line(o.resource, o.error or "failed"), soft_wrap=True)
    if failed:
        raise click.exceptions.Exit(1)


@click.command("override")
@click.argument("resources", nargs=-1, metavar="[clear] RESOURCE...")
@click.option("--state", "state", metavar="running|stopped", help="The state to keep the resources in.")
@click.option("--until", "until", metavar="TIME", help="Until this instant (ISO 8601 with Z or an offset).")
@click.option("--for", "duration", metavar="DURATION", help="For this long from now: 3h, 90m, 2d, 1h30m (≤ 366d).")
@_region_option
@json_option
def override_cmd(
    resources: tuple[str, ...],
    state: str | None,
    until: str | None,
    duration: str | None,
    region: str | None,
    as_json: bool,
) -> None:
    """Keep resources running (or stopped) whatever their schedule says, by setting their isched:override tag.

    Each scheduling pass brings a resource with the tag to its state and keeps it there (a manual stop of an
    overridden-running resource is undone, enforced and retain_running do not apply). Without --until or --for
    the override lasts until cleared. When it ends, the next pass brings the resource to its schedule's state
    at that moment, without waiting for a transition, and removes the expired tag. `override clear` removes the
    tag now (the next pass does the same). Anyone who can tag the resource in the console can write the tag
    by hand: `running`, `stopped`, `running@2026-12-06T22:00:00Z` or `stopped@…`. Only resources that carry the
    schedule tag are scheduled; RESOURCE is named as for `isched tag` (a resource named `clear`: give its ARN).

    \b
    Examples:
      isched override i-0abc12345def67890 --state running --for 3h     # keep it up tonight
      isched override web-asg orders-db --state running --until 2026-12-07T06:00:00Z
      isched override reports-cluster --state stopped                  # until cleared
      isched override clear i-0abc12345def67890 web-asg --json
    """
    clear = bool(resources) and resources[0] == CLEAR
    names = resources[1:] if clear else resources
    _check_region(region)
    override: Override | None = None
    if clear:
        for given, name in ((state, "--state"), (until, "--until"), (duration, "--for")):
            if given is not None:
                raise InputError(f"{quote(given)} does not apply to `override clear`", name)
    else:
        override = _override(state, until, duration, datetime.now(UTC))
    if not names:
        raise InputError("give at least one RESOURCE", "RESOURCE")
    clients = tagging.Clients()
    targets = _targets(names, region or clients.default_region())
    if override is None:
        outcomes = tagging.untag_targets(targets, OVERRIDE_TAG, clients, follow_members=False)
    else:
        outcomes = tagging.tag_targets(targets, OVERRIDE_TAG, override.value, clients, follow_members=False)
    _report(outcomes, override, as_json)
