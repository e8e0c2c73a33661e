"""The ledger entries a pass writes: the actions it takes, the overrides that come into force or end, and what
happened to managed resources without the scheduler. Every entry starts from one builder, :func:`ledger_entry`.
"""

from __future__ import annotations

from collections.abc import Mapping

from scheduler.engine import Observed, State, instant_text, parse_instant
from scheduler.services.base import Resource
from scheduler.services.details import common, outcome
from scheduler.store.state import LedgerEntry, ResourceRecord, Target, hold_data

from .items import Item

STORED_TAGS_MAX = 2048  # characters of JSON: tags beyond it (Name first) are not stored


def ledger_entry(
    target: Target, at: str, resource: str, action: str, schedule: str | None, instance_type: str | None
) -> LedgerEntry:
    """The fields every ledger entry has: when (``at``, as :func:`instant_text`), where, what and which schedule."""
    return {
        "at": at,
        "target": target.key,
        "account": target.account,
        "region": target.region,
        "service": target.service,
        "resource": resource,
        "schedule": schedule,
        "action": action,
        "instance_type": instance_type,
    }


def action_draft(target: Target, i: Item, now_text: str) -> LedgerEntry:
    """The ledger entry an action will have, before its result is known (the intent's copy)."""
    d = i.decision
    assert d is not None
    res = i.resource
    entry = ledger_entry(target, now_text, res.id, d.action, res.schedule, d.instance_type or res.instance_type)
    entry["details"] = details_to_store(res)
    if d.action == "resize":
        entry["previous_instance_type"] = res.instance_type
    if d.maintenance is not None:
        entry["reason"] = d.reason
        entry["maintenance"] = hold_data(d.maintenance)
    if d.rule in ("override", "override-end"):
        entry["rule"] = d.rule
        if d.rule == "override" and i.override is not None:
            entry["override"] = i.override.value
    return entry


def action_entry(target: Target, i: Item, now_text: str, simulated: bool = False) -> LedgerEntry:
    """The ledger entry of an action that succeeded: its draft, completed with what the action reported."""
    assert i.result is not None
    entry = action_draft(target, i, now_text)
    done = outcome(i.result.details)
    entry["instance_type"] = done.get("instance_type") or i.resource.instance_type
    if "saved_capacity" in done:
        entry["capacity"] = done["saved_capacity"]
    if "billing_while_stopped" in done:
        # What the adapter found still billing after the stop (EC2: volumes, Elastic IPs), for the report.
        entry["details"] = {**entry["details"], "billing_while_stopped": done["billing_while_stopped"]}
    if simulated:
        entry["simulated"] = True  # taken by a pass ahead of the real clock, dated as that pass
    return entry


def override_changes(target: Target, items: list[Item], now_text: str) -> list[LedgerEntry]:
    """Ledger entries where an override came into force (``override``, with its value) or ended (``override-end``):
    the report counts the hours an override kept a resource running while its schedule said stopped."""
    out: list[LedgerEntry] = []
    for i in items:
        d = i.decision
        if d is None:
            continue
        before = i.record.override if i.record is not None else None
        after = d.state_if_ok.override
        if (after.value if after else None) == before:
            continue
        res = i.resource
        action = "override" if after is not None else "override-end"
        entry = ledger_entry(target, now_text, res.id, action, res.schedule, res.instance_type)
        if after is not None and i.override is not None:
            entry["override"] = i.override.value
        out.append(entry)
    return out


def observed_changes(
    target: Target, items: list[Item], records: Mapping[str, ResourceRecord], now_text: str
) -> list[LedgerEntry]:
    """Ledger entries for what happened to managed resources without the scheduler, for the savings report.

    ``manual-start``: found running after it was last seen stopped (at its launch time where the service reports
    one, else when seen); ``manual-stop``: found stopped after it was last seen running; ``gone``: a managed
    resource no longer found (deleted, or no longer carrying the tag), at the first pass that misses it;
    ``returned``: found again after that.
    """
    out: list[LedgerEntry] = []
    seen = set()
    for i in items:
        res = i.resource
        seen.add(res.id)
        rec = i.record
        if rec is None:
            continue
        if rec.gone_at:
            out.append(ledger_entry(target, now_text, res.id, "returned", res.schedule, res.instance_type))
        was, now = settled(rec.observed), res.observed.settled
        if was is State.STOPPED and now is State.RUNNING:
            if i.decision is not None and i.decision.action in ("start", "resize") and i.decision.acts:
                continue
            when = now_text
            launched = common(res.details).get("launch_time")
            since = rec.last_seen_at or rec.last_action_at
            if launched is not None and since and between(since, launched, now_text):
                when = instant_text(parse_instant(launched))
            out.append(ledger_entry(target, when, res.id, "manual-start", res.schedule, res.instance_type))
        elif was is State.RUNNING and now is State.STOPPED:
            when = now_text
            stopped = common(res.details).get("stopped_at")  # EC2 says when (StateTransitionReason)
            since = rec.last_seen_at or rec.last_action_at
            if stopped is not None and since and between(since, stopped, now_text):
                when = instant_text(parse_instant(stopped))
            out.append(ledger_entry(target, when, res.id, "manual-stop", res.schedule, res.instance_type))
    for rid, rec in records.items():
        if rid in seen or rec.gone_at:
            continue
        out.append(ledger_entry(target, now_text, rid, "gone", rec.schedule, rec.instance_type))
    return out


def settled(observed: str | None) -> State | None:
    """The settled state of an observed state as stored (``stopping`` is stopped); None if unknown."""
    try:
        return Observed(observed).settled if observed else None
    except ValueError:
        return None


def between(since: str, text: str, until: str) -> bool:
    """Whether the instant ``text`` is after ``since`` and not after ``until`` (stored instants, of any format
    written so far: compared as instants, never as strings); False when one cannot be read."""
    try:
        return parse_instant(since) < parse_instant(text) <= parse_instant(until)
    except ValueError:
        return False


def details_to_store(res: Resource) -> dict[str, object]:
    """The resource's details as its record and ledger entries store them: without ``saved_capacity`` (the record
    keeps it in its own field), with its tags (for the report's Name column and --group-by-tag)."""
    return {**{k: v for k, v in res.details.items() if k != "saved_capacity"}, "tags": stored_tags(res.tags)}


def stored_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The resource's own tags as stored with its record and ledger entries (for reports): Name first, then the
    others by key, leaving out AWS's (``aws:``) and isched's (``isched:``), up to :data:`STORED_TAGS_MAX`."""
    out: dict[str, str] = {}
    size = 2
    for k in sorted(tags, key=lambda k: (k != "Name", k)):
        if k.startswith(("aws:", "isched:")):
            continue
        size += len(k) + len(str(tags[k])) + 8
        if size > STORED_TAGS_MAX:
            break
        out[k] = str(tags[k])
    return out
