"""The resources' stored records through a pass: the write-ahead intent, the record after the pass, whether it
must be written at all, and the repair of what an earlier pass could not write."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol, cast

from scheduler.engine import State, instant_text, parse_instant
from scheduler.services.base import Resource
from scheduler.services.details import outcome, whole
from scheduler.store.state import Intent, LedgerEntry, ResourceRecord, StateStore, Target, hold_data, ledger_key

from .items import Item
from .ledger_entries import action_draft, details_to_store, settled
from .results import WorkerResult, describe


class InfoLogger(Protocol):
    def info(self, msg: str, /) -> object: ...


def forget_future_decisions(records: Mapping[str, ResourceRecord], at: datetime) -> None:
    """A decision dated after this pass can only come from a simulation (a pass ahead of the real clock): it
    must not make this pass think a transition was already handled."""
    stamp = at.astimezone(UTC)
    for rec in records.values():
        if rec.decided_at and parse_instant(rec.decided_at) > stamp:
            rec.decided_at = None


def with_intent(target: Target, i: Item, now_text: str) -> ResourceRecord:
    """The resource's record as it stands, plus what is about to be done to it (the write-ahead intent)."""
    d = i.decision
    assert d is not None
    rec = copy.copy(i.record) if i.record is not None else ResourceRecord(resource=i.resource.id)
    ok = d.state_if_ok
    rec.intent = {
        "action": d.action,
        "at": now_text,
        "desired": ok.desired.value if ok.desired else None,
        "decided_at": instant_text(ok.decided_at) if ok.decided_at else None,
        "instance_type": d.instance_type,
        "maintenance": hold_data(ok.maintenance) if ok.maintenance else None,
        "override": ok.override.value if ok.override else None,
        "entry": action_draft(target, i, now_text),
    }
    return rec


def record(i: Item, now_text: str) -> ResourceRecord:
    """The resource's record after this pass: what was found, decided and done."""
    res = i.resource
    rec = i.record or ResourceRecord(resource=res.id, first_seen_at=now_text)
    rec.schedule = res.schedule
    rec.last_seen_at = now_text
    rec.gone_at = None
    rec.observed = res.observed.value
    rec.instance_type = res.instance_type
    rec.details = details_to_store(res)
    d = i.decision
    if d is None:
        return rec
    if not d.acts:
        rec.with_engine_state(d.state_if_ok)
        return rec
    ok = i.result is not None and i.result.ok
    rec.with_engine_state(d.state_if_ok if ok else d.state_if_failed)
    if ok:
        assert i.result is not None
        rec.last_action = d.action
        rec.last_action_at = now_text
        rec.last_error = None
        rec.observed = "stopped" if d.action == "stop" else "running"  # what it is now, after the action
        done = outcome(i.result.details)
        if "saved_capacity" in done:
            rec.saved_capacity = sizes(done["saved_capacity"])
        if "instance_type" in done:
            rec.instance_type = done["instance_type"]
    else:
        rec.last_error = (i.result.error if i.result else None) or "failed"
    return rec


def sizes(capacity: Mapping[str, object]) -> dict[str, int]:
    """Saved capacity as the record keeps it: its sizes (a value that is not one is left out)."""
    return {k: n for k, v in capacity.items() if (n := whole(v)) is not None}


# Compared field by field to decide whether a record must be written; ``last_seen_at`` alone never is a reason,
# ``observed`` only when its settled state changes (stopping then stopped is one stop), ``details`` without the
# resource's volatile keys.
_COMPARED = tuple(f for f in ResourceRecord.__dataclass_fields__ if f not in ("last_seen_at", "observed", "details"))


def unchanged(old: ResourceRecord | None, new: ResourceRecord, volatile: frozenset[str] = frozenset()) -> bool:
    """Whether writing ``new`` over ``old`` (as stored) would change nothing that matters, without copying either."""
    if old is None:
        return False
    for name in _COMPARED:
        if _stored(getattr(old, name)) != _stored(getattr(new, name)):
            return False
    if old.observed != new.observed and (settled(old.observed) or old.observed) != (
        settled(new.observed) or new.observed
    ):
        return False
    a, b = old.details or {}, new.details or {}
    return all(a.get(k) == b.get(k) for k in a.keys() | b.keys() if k not in volatile)


def _stored(value: object) -> object:
    """A field's value as stored (:meth:`ResourceRecord.to_data` leaves empty and false values out)."""
    return None if value in (None, {}, [], False) else value


def live(items: list[Item], records: Mapping[str, ResourceRecord], seen: set[str]) -> int:
    """How many resources the next pass must look at even if the tag is gone from all of them: those found now,
    and records not found with something left to settle (not yet recorded as gone, an intent, an unwritten ledger
    entry). Zero lets the orchestrator skip the target while nothing is tagged there."""
    unsettled = sum(
        1 for rid, rec in records.items() if rid not in seen and (not rec.gone_at or rec.intent or rec.unrecorded)
    )
    return len(items) + unsettled


def repair(
    target: Target,
    state: StateStore,
    records: dict[str, ResourceRecord],
    found: Mapping[str, Resource],
    result: WorkerResult,
    log: InfoLogger,
) -> None:
    """Repairs what an earlier pass could not write.

    * ``unrecorded``: ledger entries whose write failed while the state write succeeded: written now.
    * ``intent``: the earlier pass stored what it was about to do, then its final state write failed. The action
      was taken if its ledger entry exists, or if the resource is now where the action would have put it; then
      the ledger entry (if missing) and the record are completed. Otherwise the action did not happen and the
      intent is dropped: the schedule decides again in this pass.
    """
    pending = [e for rec in records.values() for e in rec.unrecorded or []]
    if pending:
        try:
            state.append_ledger(pending)
        except Exception as exc:
            result.error(
                None,
                f"could not write {len(pending)} ledger entries kept from an earlier pass: "
                f"{describe(exc)} (tried again next pass)",
            )
        else:
            for rec in records.values():
                rec.unrecorded = None
            log.info(f"{target}: wrote {len(pending)} ledger entries kept from an earlier pass")
    intents = {rid: rec for rid, rec in records.items() if rec.intent}
    if not intents:
        return
    in_ledger = state.ledger_has(rec.intent["entry"] for rec in intents.values() if rec.intent)
    missing: list[LedgerEntry] = []
    for rid, rec in intents.items():
        intent: Intent = rec.intent or {}
        entry = cast(LedgerEntry, dict(intent.get("entry") or {}))
        rec.intent = None
        recorded = ledger_key(entry) in in_ledger
        if not recorded and not _reached(str(intent.get("action")), found.get(rid), intent.get("instance_type")):
            log.info(f"{rid}: the {intent.get('action')} planned at {intent.get('at')} did not happen")
            continue
        if not recorded:
            entry["repaired"] = True  # recorded late, by observation
            missing.append(entry)
        rec.last_action = str(intent.get("action"))
        rec.last_action_at = str(intent.get("at"))
        rec.desired = intent.get("desired")
        rec.decided_at = intent.get("decided_at")
        rec.maintenance = intent.get("maintenance")
        if "override" in intent:
            rec.override = intent.get("override")
        rec.pending = False
        rec.last_error = None
        rec.observed = "stopped" if rec.last_action == "stop" else "running"
        if entry.get("capacity"):
            rec.saved_capacity = sizes(entry["capacity"])
        if entry.get("instance_type"):
            rec.instance_type = str(entry["instance_type"])
        log.info(f"{rid}: repaired the record of the {rec.last_action} at {rec.last_action_at}")
    if missing:
        try:
            state.append_ledger(missing)
        except Exception as exc:
            for entry in missing:
                rec = records[entry["resource"]]
                rec.unrecorded = [*(rec.unrecorded or []), entry]
            result.error(
                None,
                f"could not write {len(missing)} repaired ledger entries: {describe(exc)} "
                "(kept in the state table, written next pass)",
            )


def _reached(action: str, res: Resource | None, instance_type: object) -> bool:
    """Whether ``res`` is now where ``action`` would have put it."""
    if res is None:
        return False
    now = res.observed.settled
    if action == "stop":
        return now is State.STOPPED
    if action == "start":
        return now is State.RUNNING
    if action == "resize":
        return now is State.RUNNING and (instance_type is None or res.instance_type == instance_type)
    return False
