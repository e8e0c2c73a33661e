"""Acting on the resources a pass decided to act on: the adapter's batches (stops, hibernating stops, starts,
resizes), each isolated so one failure never stops the others, and the informational tags that say what was
done."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from scheduler.engine import iso_z, parse_instant
from scheduler.services.base import ActionResult, Resource, ServiceAdapter
from scheduler.store.state import ResourceRecord

from .items import Item

LAST_ACTION_TAG = "isched:last-action"
LAST_ERROR_TAG = "isched:last-error"
MAX_TAG_VALUE = 256


def execute(adapter: ServiceAdapter, acting: list[Item], records: Mapping[str, ResourceRecord]) -> None:
    """Acts on ``acting`` (each item's decision acts) and sets each item's result."""
    stops = [i for i in acting if i.decision and i.decision.action == "stop"]
    starts = [i for i in acting if i.decision and i.decision.action == "start"]
    resizes = [i for i in acting if i.decision and i.decision.action == "resize"]
    outcomes: dict[str, ActionResult] = {}
    for hibernate in (False, True):
        group = [i.resource for i in stops if bool(i.decision and i.decision.hibernate) == hibernate]
        if group:
            outcomes.update(_safely(group, partial(_stop, adapter, hibernate=hibernate)))
    if starts:
        saved = {
            i.resource.id: {"saved_capacity": records[i.resource.id].saved_capacity}
            for i in starts
            if i.resource.id in records and records[i.resource.id].saved_capacity
        }
        outcomes.update(_safely([i.resource for i in starts], partial(_start, adapter, saved=saved)))
    for i in resizes:
        want = i.decision.instance_type if i.decision else None
        if want is None:
            continue
        outcomes.update(_safely([i.resource], partial(_resize, adapter, instance_type=want)))
    for i in acting:
        i.result = outcomes.get(i.resource.id) or ActionResult(i.resource.id, False, "the adapter returned no result")


def _stop(adapter: ServiceAdapter, group: list[Resource], *, hibernate: bool) -> list[ActionResult]:
    return adapter.stop(group, hibernate=hibernate)


def _start(adapter: ServiceAdapter, group: list[Resource], *, saved: dict[str, dict[str, Any]]) -> list[ActionResult]:
    return adapter.start(group, saved=saved)


def _resize(adapter: ServiceAdapter, group: list[Resource], *, instance_type: str) -> list[ActionResult]:
    return [adapter.resize(res, instance_type) for res in group]


def _safely(group: list[Resource], call: Callable[[list[Resource]], list[ActionResult]]) -> dict[str, ActionResult]:
    """Runs one adapter batch; an unexpected exception fails that batch's resources, not the pass."""
    try:
        return {r.resource: r for r in call(group)}
    except Exception as exc:
        return {res.id: ActionResult(res.id, False, f"{type(exc).__name__}: {exc}") for res in group}


def info_tags(acting: list[Item], now_text: str) -> dict[str, dict[str, str]]:
    """The informational tags for the resources acted on: the last action, or the last error."""
    tags: dict[str, dict[str, str]] = {}
    stamp = iso_z(parse_instant(now_text))
    for i in acting:
        if i.decision is None or i.result is None:
            continue
        if i.result.ok:
            tags[i.resource.id] = {LAST_ACTION_TAG: f"{i.decision.action} {stamp}"}
        else:
            text = f"{i.decision.action} failed {stamp}: {i.result.error or ''}"
            tags[i.resource.id] = {LAST_ERROR_TAG: _tag_safe(text)[:MAX_TAG_VALUE]}
    return tags


def _tag_safe(text: str) -> str:
    # RDS and Auto Scaling accept only letters, digits, spaces and _ . : / = + - @ in tag values.
    return "".join(c if c.isalnum() or c in " _.:/=+-@" else " " for c in text)
