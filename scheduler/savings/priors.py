"""What a resource was when a span began: from the last ledger entry before it (earlier months are read one by
one, newest first, never further back than needed), or, when the ledger no longer has it, from the stored state
record (``last_action`` ``stop`` at ``last_action_at``; ``observed``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scheduler.engine import Observed, State
from scheduler.services.details import common
from scheduler.store.state import ResourceRecord

from .events import MANUAL_STOPPED, MARKERS, ORDER, RUNNING, STATE_AFTER, STOPPED, overrides_after
from .keys import ResourceKey, key_of
from .months import LEDGER_MONTHS_BACK, entry_instant, month_of, parse_month, shift_month


@dataclass(frozen=True)
class Prior:
    """A resource's state where its timeline starts: running, stopped by the scheduler or by someone else; whether
    it was gone (not managed) then; the ledger entry that put it there (a stop's entry prices the stop); and
    whether it runs since a manual start."""

    state: str = RUNNING
    gone: bool = False
    entry: Mapping[str, Any] | None = None
    manual: bool = False
    source: str = "assumed"  # ledger | state-record | inferred | assumed
    override: bool = False  # an isched:override tag keeps it running


def sorted_events(entries: Iterable[Mapping[str, Any]]) -> dict[ResourceKey, list[Mapping[str, Any]]]:
    by_key: dict[ResourceKey, list[Mapping[str, Any]]] = defaultdict(list)
    for e in entries:
        if e.get("action") in ORDER and e.get("at") and e.get("resource"):
            by_key[key_of(e)].append(e)
    for events in by_key.values():
        events.sort(key=lambda e: (entry_instant(e["at"]), ORDER[str(e["action"])]))
    return by_key


def seen_running(rec: ResourceRecord | None) -> bool | None:
    """Whether the record last saw the resource running (None: not known)."""
    if rec is None or not rec.observed:
        return None
    try:
        settled = Observed(rec.observed).settled
    except ValueError:
        return None
    if settled is State.RUNNING:
        return True
    if settled is State.STOPPED:
        return False
    return None


def stopped_before(rec: ResourceRecord, start: datetime) -> bool:
    if rec.last_action != "stop" or not rec.last_action_at or entry_instant(rec.last_action_at) >= start:
        return False
    return not (rec.gone_at and entry_instant(rec.gone_at) < start)


def relevant(rec: ResourceRecord, start: datetime, limit: datetime) -> bool:
    """Whether a resource with no ledger entry in the span may still have been managed in it."""
    first = entry_instant(rec.first_seen_at) if rec.first_seen_at else None
    if first is not None and first >= limit:
        return False
    seen = entry_instant(rec.last_seen_at) if rec.last_seen_at else None
    if seen is not None and seen >= start:
        return True
    return stopped_before(rec, start)


def synthetic_stop(key: ResourceKey, rec: ResourceRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "at": rec.last_action_at,
        "account": key.account,
        "region": key.region,
        "service": key.service,
        "resource": key.resource,
        "schedule": rec.schedule or "",
        "action": "stop",
        "instance_type": rec.instance_type,
        "details": dict(rec.details or {}),
        "from_state": True,
    }
    if rec.saved_capacity:
        entry["capacity"] = dict(rec.saved_capacity)
    return entry


def implied_before(entry: Mapping[str, Any]) -> str | None:
    """What a resource was just before ``entry``, as far as the entry alone tells (None: it does not say)."""
    action = entry.get("action")
    if action in ("stop", "manual-stop"):
        return RUNNING
    if action in ("start", "manual-start"):
        return MANUAL_STOPPED  # stopped, and (no scheduler stop being known) not by the scheduler
    if action == "resize":
        state = common(entry.get("details")).get("state") or ""
        return RUNNING if state == "running" else MANUAL_STOPPED if state == "stopped" else RUNNING
    return None


def prior_states(
    month: str,
    entries: Iterable[Mapping[str, Any]],
    records: Mapping[ResourceKey, ResourceRecord],
    read_month: Callable[[str], list[dict[str, Any]]],
    *,
    max_months: int = LEDGER_MONTHS_BACK,
    last_month: str | None = None,
    until: datetime | None = None,
) -> tuple[dict[ResourceKey, Prior], int]:
    """What each resource was when ``month`` began (or when it was first seen, if later), and how many other
    months of ledger were read.

    ``entries`` are the ledger entries of the span (``month`` to ``last_month``). For each resource, the last
    entry before the span decides; earlier months are read one by one, newest first, never further back than the
    resource was first seen or than its record's last scheduler action. Where no earlier entry exists, the first
    entry of the span (or of a later month, read forward) tells what it was before, and failing that the state
    record: a scheduler stop it records (``last_action``), else what it last observed.
    """
    start, _ = parse_month(month)
    last = last_month or month
    _, span_end = parse_month(last)
    limit = min(span_end, until) if until is not None else span_end
    by_key = sorted_events(entries)
    oldest = shift_month(month, -max_months)
    keys = set(by_key) | {k for k, r in records.items() if relevant(r, start, limit)}
    out: dict[ResourceKey, Prior] = {}
    floors: dict[ResourceKey, str] = {}
    for key in keys:
        rec = records.get(key)
        events = by_key.get(key, [])
        first_seen = entry_instant(rec.first_seen_at) if rec is not None and rec.first_seen_at else None
        if first_seen is not None and first_seen >= start:
            continue  # nothing before the span: inferred below, at first sight
        first = next((e for e in events if e["action"] not in MARKERS), None)
        if first is not None and first["action"] in ("stop", "manual-stop"):
            out[key] = Prior(RUNNING, entry=first, source="inferred")
            continue
        if not events and rec is not None and not rec.last_action and not rec.gone_at and seen_running(rec):
            out[key] = Prior(RUNNING, source="state-record")  # never acted on, seen running: nothing changed it
            continue
        floor = oldest
        if rec is not None and rec.last_action_at and entry_instant(rec.last_action_at) < start:
            floor = max(floor, month_of(entry_instant(rec.last_action_at)))
        elif first_seen is not None:
            floor = max(floor, month_of(first_seen))
        floors[key] = floor
    reads = 0
    gone_seen: dict[ResourceKey, bool] = {}
    override_seen: dict[ResourceKey, bool] = {}
    m = shift_month(month, -1)
    while floors and m >= min(floors.values()):
        earlier = sorted_events(read_month(m))
        reads += 1
        for key in list(floors):
            for ev in reversed(earlier.get(key, [])):
                action = str(ev["action"])
                if action in ("gone", "returned"):
                    gone_seen.setdefault(key, action == "gone")
                    continue
                if action in MARKERS:
                    override_seen.setdefault(key, overrides_after(ev, False))
                    continue
                out[key] = Prior(
                    STATE_AFTER[action],
                    gone=gone_seen.get(key, False),
                    entry=ev,
                    manual=action == "manual-start",
                    source="ledger",
                    override=override_seen.get(key, overrides_after(ev, False)),
                )
                del floors[key]
                break
            else:
                if floors[key] >= m:
                    del floors[key]  # read back to its floor: nothing before (resolved below)
        m = shift_month(m, -1)
    # Nothing in the ledger before the span: the state record, then what the first later entry implies.
    later: dict[ResourceKey, Mapping[str, Any]] = {}
    unresolved = [k for k in keys if k not in out]
    for key in unresolved:
        rec = records.get(key)
        if rec is not None and stopped_before(rec, start):
            out[key] = Prior(
                STOPPED, gone=gone_seen.get(key, False), entry=synthetic_stop(key, rec), source="state-record"
            )
            continue
        for ev in by_key.get(key, []):
            if implied_before(ev) is not None:
                later[key] = ev
                break
    forward = [k for k in unresolved if k not in out and k not in later]
    if forward:
        reads += _read_forward(forward, records, last, read_month, later)
    for key in unresolved:
        if key in out:
            continue
        rec = records.get(key)
        gone = gone_seen.get(key, False)
        if key in later:
            state = implied_before(later[key]) or RUNNING
            out[key] = Prior(state, gone=gone, source="inferred")
            continue
        seen = seen_running(rec)
        if seen is False:
            out[key] = Prior(MANUAL_STOPPED, gone=gone, source="state-record")
        else:
            held = override_seen.get(key, False)  # a marker before the span, with no state entry after it
            out[key] = Prior(RUNNING, gone=gone, source="state-record" if seen else "assumed", override=held)
    return out, reads


def _read_forward(
    keys: list[ResourceKey],
    records: Mapping[ResourceKey, ResourceRecord],
    last: str,
    read_month: Callable[[str], list[dict[str, Any]]],
    found: dict[ResourceKey, Mapping[str, Any]],
) -> int:
    """Reads the months after the span, up to each resource's last sighting, for its first telling entry."""
    bounds: dict[ResourceKey, str] = {}
    for key in keys:
        rec = records.get(key)
        marks = [
            entry_instant(v)
            for v in ((rec.last_seen_at, rec.gone_at, rec.last_action_at) if rec else ())
            if v is not None
        ]
        if marks and month_of(max(marks)) > last:
            bounds[key] = month_of(max(marks))
    reads = 0
    m = shift_month(last, 1)
    while bounds and m <= max(bounds.values()):
        events = sorted_events(read_month(m))
        reads += 1
        for key in list(bounds):
            ev = next((e for e in events.get(key, []) if implied_before(e) is not None), None)
            if ev is not None:
                found[key] = ev
                del bounds[key]
            elif bounds[key] <= m:
                del bounds[key]
        m = shift_month(m, 1)
    return reads


def open_at_start(
    month: str,
    entries: Iterable[Mapping[str, Any]],
    records: Mapping[ResourceKey, ResourceRecord],
    read_month: Callable[[str], list[dict[str, Any]]],
    max_months: int = LEDGER_MONTHS_BACK,
) -> tuple[dict[ResourceKey, Mapping[str, Any]], int]:
    """The scheduler stops still open when ``month`` began (their stop entries), and how many months were read."""
    priors, reads = prior_states(month, entries, records, read_month, max_months=max_months)
    opened = {k: p.entry for k, p in priors.items() if p.state == STOPPED and not p.gone and p.entry is not None}
    return opened, reads
