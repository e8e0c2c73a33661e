"""What the scheduler's stops saved: a timeline per resource from the action ledger, clipped to UTC months, valued
at hourly prices.

The ledger (``StateStore.ledger_month``) holds every action the scheduler took (``stop``, ``start``, ``resize``) and
what it observed happening without it (``manual-start``, ``manual-stop``, ``gone``: no longer found, deleted or
untagged; ``returned``: found again). Replayed in order, they give each resource's timeline: *running*, *stopped by
the scheduler*, *stopped by someone else* (by hand, or already stopped when first seen), or *gone* (not managed: it
counts for nothing). Only time stopped by the scheduler is the scheduler's saving; running time is what the resource
really ran while managed. AWS bills by UTC month, and so does this: a timeline is clipped to the span reported (one or
more UTC months), and counts up to the report time or the span's end, whichever is first.

What a resource was when the span began comes from the last ledger entry before it (earlier months are read one by
one, newest first, never further back than needed), or, when the ledger no longer has it, from the stored state
record (``last_action`` ``stop`` at ``last_action_at``; ``observed``).

Money is exact (``Decimal``) until it is shown: each resource's savings are rounded to the cent once, and every
breakdown (per stop, per day, per month, per type) splits those cents by largest remainder, so every sum of printed
figures equals the printed total.

Everything here is pure except :func:`read_ledger`, which reads the store; prices come in as a lookup function.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from scheduler.engine import Config, Evaluator, Observed, State, iso_z, parse_instant
from scheduler.services import registry
from scheduler.services.details import common
from scheduler.services.pricing import PriceQuery, Pricing, whole
from scheduler.store.state import ResourceRecord, StateStore, Target

from .prices import PriceAnswer

# The ledger keeps entries for 800 days (LEDGER_RETENTION_DAYS): looking further back finds nothing.
LEDGER_MONTHS_BACK = 27
YEAR = timedelta(days=365)  # the projection's horizon: 24 × 365 = 8,760 hours
CENT = Decimal("0.01")
_MICRO = timedelta(microseconds=1)
_HOUR_MICROS = Decimal(3_600_000_000)
_DAY = timedelta(days=1)

PriceLookup = Callable[[PriceQuery], PriceAnswer]

# What a resource is at a point of its timeline.
RUNNING = "running"
STOPPED = "stopped"  # by the scheduler
MANUAL_STOPPED = "manual-stopped"  # by anyone else: by hand, or already stopped when first seen

# At one instant (one pass), what the pass observed comes before what it did: found again, then changed by hand,
# then the scheduler's action. A close sorts before a stop, so a stop at the same instant opens a new interval.
_ORDER = {
    "gone": 0,
    "returned": 1,
    "manual-start": 2,
    "manual-stop": 2,
    "override": 2,
    "override-end": 2,
    "start": 3,
    "resize": 3,
    "stop": 4,
}
# Entries that change no state, only whether an isched:override tag holds the resource (see _overrides_after).
_MARKERS = frozenset({"override", "override-end"})
# The state each entry leaves the resource in (gone and returned leave it as it was: they only hide or show it).
_STATE_AFTER = {
    "stop": STOPPED,
    "start": RUNNING,
    "resize": RUNNING,
    "manual-start": RUNNING,
    "manual-stop": MANUAL_STOPPED,
}


def _overrides_after(entry: Mapping[str, Any], current: bool) -> bool:
    """Whether an override keeps the resource running after ``entry`` (``current``: before it). The markers say so
    (``override`` with a running value, ``override-end``); so do the actions an override drove (``rule``)."""
    action = entry.get("action")
    if action == "override":
        return str(entry.get("override") or "").startswith("running")
    if action == "override-end" or entry.get("rule") == "override-end":
        return False
    if entry.get("rule") == "override":
        return action in ("start", "resize")
    return current


# --- months ----------------------------------------------------------------------------------------------------


def parse_month(text: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` as the UTC instants [first day 00:00, first day of the next month 00:00)."""
    value = text.strip()
    try:
        if len(value) != 7 or value[4] != "-":
            raise ValueError
        first = datetime(int(value[:4]), int(value[5:]), 1, tzinfo=UTC)
    except ValueError:
        raise ValueError(f"'{text}' is not a month (YYYY-MM, e.g. 2026-11)") from None
    return first, _next_month(first)


def _next_month(first: datetime) -> datetime:
    return first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)


def month_of(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m")


def shift_month(month: str, n: int) -> str:
    first, _ = parse_month(month)
    index = first.year * 12 + first.month - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    """The months from ``first`` to ``last``, both included (empty when ``last`` is before ``first``)."""
    out: list[str] = []
    m = first
    while m <= last:
        out.append(m)
        m = shift_month(m, 1)
    return out


def _at(value: Any) -> datetime:
    return parse_instant(str(value))


def _micros(start: datetime, end: datetime) -> int:
    return max(0, (end - start) // _MICRO)


def hours(micros: int) -> Decimal:
    return Decimal(micros) / _HOUR_MICROS


def _day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def split_days(start: datetime, end: datetime) -> list[tuple[date, int]]:
    """[start, end) cut at UTC midnights: (day, microseconds) for each day it touches."""
    out: list[tuple[date, int]] = []
    cur = start
    while cur < end:
        day = cur.date()
        nxt = min(end, _day_start(day) + _DAY)
        out.append((day, _micros(cur, nxt)))
        cur = nxt
    return out


# --- what a stop is priced as --------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class ResourceKey:
    account: str
    region: str
    service: str
    resource: str

    @property
    def target(self) -> Target:
        return Target(self.account, self.region, self.service)


def key_of(entry: Mapping[str, Any]) -> ResourceKey:
    return ResourceKey(str(entry["account"]), str(entry["region"]), str(entry["service"]), str(entry["resource"]))


def saves_capacity(service: str) -> bool:
    """Whether a stop of ``service`` saves a capacity that its start restores (and that its price scales with)."""
    return service in registry.SERVICES and registry.get(service).saves_capacity


def pricing_for(
    service: str,
    region: str,
    instance_type: str | None,
    details: Mapping[str, Any] | None,
    capacity: Mapping[str, Any] | None = None,
) -> Pricing:
    """How a resource is priced, from what the ledger or the state record says about it (each service knows)."""
    if service not in registry.SERVICES:
        return Pricing(instance_type, 1, problem=f"service '{service}' is not priced")
    return registry.get(service).pricing(region, instance_type, details or {}, capacity)


def entry_pricing(entry: Mapping[str, Any], fallback: _Known | None = None) -> Pricing:
    """How what a ledger entry describes is priced; what the entry lacks comes from ``fallback`` (what earlier
    entries said)."""
    service = str(entry["service"])
    details = entry.get("details") or (fallback.details if fallback is not None else None) or {}
    itype = entry.get("instance_type") or (fallback.instance_type if fallback is not None else None)
    capacity = entry.get("capacity") or (
        fallback.capacity if fallback is not None and saves_capacity(service) else None
    )
    return pricing_for(service, str(entry["region"]), itype, details, capacity)


def record_pricing(key: ResourceKey, rec: ResourceRecord) -> Pricing:
    """How a resource is priced now, from its state record (what the projection uses)."""
    capacity = None
    if saves_capacity(key.service) and not whole((rec.details or {}).get("desired")):
        capacity = rec.saved_capacity  # stopped now: the size it runs at is the one its stop saved
    return pricing_for(key.service, key.region, rec.instance_type, rec.details, capacity)


# --- what a resource was when a span began ------------------------------------------------------------------------


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


def _sorted_events(entries: Iterable[Mapping[str, Any]]) -> dict[ResourceKey, list[Mapping[str, Any]]]:
    by_key: dict[ResourceKey, list[Mapping[str, Any]]] = defaultdict(list)
    for e in entries:
        if e.get("action") in _ORDER and e.get("at") and e.get("resource"):
            by_key[key_of(e)].append(e)
    for events in by_key.values():
        events.sort(key=lambda e: (_at(e["at"]), _ORDER[str(e["action"])]))
    return by_key


def _seen_running(rec: ResourceRecord | None) -> bool | None:
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


def _stopped_before(rec: ResourceRecord, start: datetime) -> bool:
    if rec.last_action != "stop" or not rec.last_action_at or _at(rec.last_action_at) >= start:
        return False
    return not (rec.gone_at and _at(rec.gone_at) < start)


def _relevant(rec: ResourceRecord, start: datetime, limit: datetime) -> bool:
    """Whether a resource with no ledger entry in the span may still have been managed in it."""
    first = _at(rec.first_seen_at) if rec.first_seen_at else None
    if first is not None and first >= limit:
        return False
    seen = _at(rec.last_seen_at) if rec.last_seen_at else None
    if seen is not None and seen >= start:
        return True
    return _stopped_before(rec, start)


def _synthetic_stop(key: ResourceKey, rec: ResourceRecord) -> dict[str, Any]:
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


def _implied_before(entry: Mapping[str, Any]) -> str | None:
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
    by_key = _sorted_events(entries)
    oldest = shift_month(month, -max_months)
    keys = set(by_key) | {k for k, r in records.items() if _relevant(r, start, limit)}
    out: dict[ResourceKey, Prior] = {}
    floors: dict[ResourceKey, str] = {}
    for key in keys:
        rec = records.get(key)
        events = by_key.get(key, [])
        first_seen = _at(rec.first_seen_at) if rec is not None and rec.first_seen_at else None
        if first_seen is not None and first_seen >= start:
            continue  # nothing before the span: inferred below, at first sight
        first = next((e for e in events if e["action"] not in _MARKERS), None)
        if first is not None and first["action"] in ("stop", "manual-stop"):
            out[key] = Prior(RUNNING, entry=first, source="inferred")
            continue
        if not events and rec is not None and not rec.last_action and not rec.gone_at and _seen_running(rec):
            out[key] = Prior(RUNNING, source="state-record")  # never acted on, seen running: nothing changed it
            continue
        floor = oldest
        if rec is not None and rec.last_action_at and _at(rec.last_action_at) < start:
            floor = max(floor, month_of(_at(rec.last_action_at)))
        elif first_seen is not None:
            floor = max(floor, month_of(first_seen))
        floors[key] = floor
    reads = 0
    gone_seen: dict[ResourceKey, bool] = {}
    override_seen: dict[ResourceKey, bool] = {}
    m = shift_month(month, -1)
    while floors and m >= min(floors.values()):
        earlier = _sorted_events(read_month(m))
        reads += 1
        for key in list(floors):
            for ev in reversed(earlier.get(key, [])):
                action = str(ev["action"])
                if action in ("gone", "returned"):
                    gone_seen.setdefault(key, action == "gone")
                    continue
                if action in _MARKERS:
                    override_seen.setdefault(key, _overrides_after(ev, False))
                    continue
                out[key] = Prior(
                    _STATE_AFTER[action],
                    gone=gone_seen.get(key, False),
                    entry=ev,
                    manual=action == "manual-start",
                    source="ledger",
                    override=override_seen.get(key, _overrides_after(ev, False)),
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
        if rec is not None and _stopped_before(rec, start):
            out[key] = Prior(
                STOPPED, gone=gone_seen.get(key, False), entry=_synthetic_stop(key, rec), source="state-record"
            )
            continue
        for ev in by_key.get(key, []):
            if _implied_before(ev) is not None:
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
            state = _implied_before(later[key]) or RUNNING
            out[key] = Prior(state, gone=gone, source="inferred")
            continue
        seen = _seen_running(rec)
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
        marks = [_at(v) for v in ((rec.last_seen_at, rec.gone_at, rec.last_action_at) if rec else ()) if v is not None]
        if marks and month_of(max(marks)) > last:
            bounds[key] = month_of(max(marks))
    reads = 0
    m = shift_month(last, 1)
    while bounds and m <= max(bounds.values()):
        events = _sorted_events(read_month(m))
        reads += 1
        for key in list(bounds):
            ev = next((e for e in events.get(key, []) if _implied_before(e) is not None), None)
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


# --- timelines -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A stretch of a resource's managed time in one state: [start, end). ``pricing`` is what the resource cost
    per hour then (running, or stopped by hand), or what the scheduler's stop saved per hour (stopped)."""

    start: datetime
    end: datetime
    state: str
    pricing: Pricing
    manual: bool = False  # running since a manual start
    stop: Mapping[str, Any] | None = None  # the scheduler's stop entry, for stopped pieces
    # Running only for a maintenance window (SPEC §2 rule 7): the scheduler's own start for it, or its stop
    # deferred to the window's end, while the schedule wanted it stopped. Maintenance, not a savings loss.
    maintenance: bool = False
    override: bool = False  # running held by an isched:override tag

    @property
    def micros(self) -> int:
        return _micros(self.start, self.end)


@dataclass
class Stop:
    """One scheduler stop, clipped to the span: [start, end). ``opened_at``/``closed_at`` are unclipped."""

    key: ResourceKey
    schedule: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    start: datetime
    end: datetime
    pricing: Pricing
    pieces: list[Piece] = field(default_factory=list)

    @property
    def micros(self) -> int:
        return sum(p.micros for p in self.pieces) if self.pieces else _micros(self.start, self.end)


@dataclass
class _Known:
    """What the ledger last said about a resource's type, details and capacity (for pricing its running time)."""

    instance_type: str | None = None
    details: Mapping[str, Any] | None = None
    capacity: Mapping[str, Any] | None = None

    def update(self, entry: Mapping[str, Any]) -> None:
        if entry.get("instance_type"):
            self.instance_type = str(entry["instance_type"])
        if entry.get("details"):
            self.details = entry["details"]
        if entry.get("capacity"):
            self.capacity = entry["capacity"]

    def fill(self, instance_type: str | None, details: Mapping[str, Any] | None, capacity: Any) -> None:
        self.instance_type = self.instance_type or instance_type
        self.details = self.details or details
        self.capacity = self.capacity or capacity

    def pricing(self, key: ResourceKey) -> Pricing:
        capacity = self.capacity if saves_capacity(key.service) else None
        if capacity is not None and not whole(capacity.get("desired")):
            capacity = None  # a group seen at zero (stopped) says nothing of the size it runs at
        return pricing_for(key.service, key.region, self.instance_type, self.details, capacity)


def _timeline(
    key: ResourceKey,
    events: Sequence[Mapping[str, Any]],
    prior: Prior,
    w_start: datetime,
    w_end: datetime,
    rec: ResourceRecord | None,
) -> tuple[list[Piece], list[Stop], datetime | None]:
    """The resource's pieces and scheduler stops in [w_start, w_end), and when it was gone (if it still is)."""
    known = _Known()
    if prior.entry is not None:
        known.update(prior.entry)
    for ev in events:  # before the first entry, the resource was what the first entries say it was then
        known.fill(
            str(ev["instance_type"]) if ev.get("instance_type") and ev.get("action") != "resize" else None,
            ev.get("details") or None,
            ev.get("capacity") or None,
        )
    if rec is not None:
        saved = rec.saved_capacity if saves_capacity(key.service) else None
        known.fill(rec.instance_type, rec.details or None, saved)
    state, gone, manual, overridden = prior.state, prior.gone, prior.manual, prior.override
    stop_entry = prior.entry if prior.state == STOPPED else None
    pieces: list[Piece] = []
    stops: list[Stop] = []
    current: Stop | None = None
    cursor = w_start
    gone_at: datetime | None = None
    held: tuple[datetime, datetime] | None = None  # running counts as maintenance in [since, until)

    def emit(upto: datetime) -> None:
        nonlocal current
        if upto <= cursor or gone:
            return
        if state == STOPPED and stop_entry is not None:
            piece = Piece(cursor, upto, STOPPED, entry_pricing(stop_entry, known), stop=stop_entry)
            if current is None:
                current = Stop(
                    key,
                    str(stop_entry.get("schedule") or ""),
                    _at(stop_entry["at"]),
                    None,
                    None,
                    cursor,
                    upto,
                    piece.pricing,
                )
                stops.append(current)
            current.end = upto
            current.pieces.append(piece)
        else:
            kind = state if state != STOPPED else MANUAL_STOPPED
            pricing = known.pricing(key)
            held_by_override = overridden and state == RUNNING
            window = held if state == RUNNING and not manual and not held_by_override else None
            for lo, hi, maintenance in _held_parts(cursor, upto, window):
                pieces.append(
                    Piece(
                        lo,
                        hi,
                        kind,
                        pricing,
                        manual=manual and state == RUNNING,
                        maintenance=maintenance,
                        override=held_by_override,
                    )
                )
            return
        pieces.append(piece)

    def close(at: datetime, by: str) -> None:
        nonlocal current
        if current is not None:
            current.closed_at, current.closed_by = at, by
            current = None

    for ev in events:
        at = _at(ev["at"])
        if at >= w_end:
            break
        at = max(at, w_start)
        hold = _hold_span(ev)
        if hold is not None and ev.get("action") == "stop":
            # The stop after a window: it ran only for the window since the hold began (a deferred stop, or the
            # scheduler's start for it), up to this stop.
            held = (min(hold[0], held[0]) if held else hold[0], max(at, hold[1]))
        emit(at)
        cursor = at
        action = str(ev["action"])
        overridden = _overrides_after(ev, overridden)
        if action in _MARKERS:
            continue
        held = hold if hold is not None and action == "start" else None
        if action == "gone":
            if not gone:
                gone, gone_at = True, at
                close(at, "gone")
            continue
        if action == "returned":
            gone, gone_at = False, None
            continue
        new_state = _STATE_AFTER[action]
        if action == "stop" and state == STOPPED:
            continue  # a retried or repeated stop does not restart the interval
        if state == STOPPED and new_state != STOPPED:
            close(at, "maintenance" if held is not None else action)
        if new_state == STOPPED:
            stop_entry = ev
        known.update(ev)
        state, manual = new_state, action == "manual-start"
    emit(w_end)
    return pieces, stops, gone_at


def _hold_span(entry: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    """The maintenance hold a ledger entry carries (its ``maintenance``: since, until), if readable."""
    hold = entry.get("maintenance")
    if not isinstance(hold, Mapping):
        return None
    try:
        return _at(hold["since"]), _at(hold["until"])
    except (KeyError, TypeError, ValueError):
        return None


def _held_parts(
    start: datetime, end: datetime, held: tuple[datetime, datetime] | None
) -> list[tuple[datetime, datetime, bool]]:
    """[start, end) cut where it meets ``held``: (from, to, inside the hold), in order, none empty."""
    if held is None or held[1] <= start or held[0] >= end:
        return [(start, end, False)]
    lo, hi = max(start, held[0]), min(end, held[1])
    parts = [(start, lo, False), (lo, hi, True), (hi, end, False)]
    return [(a, b, m) for a, b, m in parts if b > a]


def _schedule_cut(pieces: list[Piece], ev: Evaluator | None) -> list[Piece]:
    """Maintenance pieces keep only the time the schedule wanted the resource stopped: where the schedule wanted it
    running anyway, the window cost nothing extra (plain running time)."""
    if ev is None or not any(p.maintenance for p in pieces):
        return pieces
    out: list[Piece] = []
    for p in pieces:
        if not p.maintenance:
            out.append(p)
            continue
        cursor = p.start
        for s, e in ev.running(p.start, p.end):
            if s > cursor:
                out.append(replace(p, start=cursor, end=s))
            out.append(replace(p, start=s, end=e, maintenance=False))
            cursor = e
        if cursor < p.end:
            out.append(replace(p, start=cursor))
    return out


# --- resources in the span ------------------------------------------------------------------------------------------


@dataclass
class Usage:
    """One managed resource in the span: its timeline (pieces), its scheduler stops, how it is priced."""

    key: ResourceKey
    schedule: str
    window_start: datetime
    window_end: datetime
    pieces: list[Piece]
    stops: list[Stop]
    pricing: Pricing  # the span's label: its last stop's, else its last piece's
    current: Pricing | None  # now, for the projection; None once gone
    gone: bool = False  # gone (deleted or untagged) at the report time
    gone_at: datetime | None = None  # gone inside the span and not back at its end
    tags: dict[str, str] | None = None  # None: no tags were stored for it
    manual_start_micros: int | None = 0  # None: its schedule is not known, so the stopped time it set is not
    # Time its schedule said stopped while an isched:override tag kept it running (None: the schedule is not known).
    override_micros: int | None = 0
    simulated: int = 0  # ledger entries of passes ahead of the real clock
    repaired: int = 0  # ledger entries recorded late by a repair pass
    prior: Prior = field(default_factory=Prior)

    def _sum(self, state: str) -> int:
        return sum(p.micros for p in self.pieces if p.state == state)

    @property
    def stopped_micros(self) -> int:
        return self._sum(STOPPED)

    @property
    def running_micros(self) -> int:
        return self._sum(RUNNING)

    @property
    def manual_stopped_micros(self) -> int:
        return self._sum(MANUAL_STOPPED)

    @property
    def maintenance_micros(self) -> int:
        """Running time that was a maintenance window the schedule would have kept stopped (part of running)."""
        return sum(p.micros for p in self.pieces if p.maintenance)

    @property
    def managed_micros(self) -> int:
        return sum(p.micros for p in self.pieces)

    @property
    def window_micros(self) -> int:
        return self.managed_micros

    @property
    def types(self) -> list[str]:
        return sorted({p.pricing.type for p in self.pieces if p.pricing.type})

    @property
    def name(self) -> str | None:
        return (self.tags or {}).get("Name")


class _Schedules:
    """Evaluators of the stored configuration's schedules, made once each (None: not in the configuration)."""

    def __init__(self, config: Config | None) -> None:
        self.config = config
        self._made: dict[str, Evaluator | None] = {}

    def get(self, name: str) -> Evaluator | None:
        if name not in self._made:
            ev = None
            if self.config is not None and name in self.config.schedules:
                ev = Evaluator.from_config(self.config, name)
            self._made[name] = ev
        return self._made[name]

    def stopped_micros(self, name: str, start: datetime, end: datetime) -> int | None:
        """How much of [start, end) the schedule wants the resource stopped (None: it cannot say)."""
        ev = self.get(name)
        if ev is None or not (ev.has_windows or ev.schedule.override_status is not None):
            return None
        running = sum(_micros(s, e) for s, e in ev.running(start, end))
        return max(0, _micros(start, end) - running)


def _stored_tags(*sources: Mapping[str, Any] | None) -> dict[str, str] | None:
    for details in sources:
        tags = common(details).get("tags")
        if tags is not None:
            return tags
    return None


def _infer_prior(
    events: Sequence[Mapping[str, Any]], rec: ResourceRecord | None, key: ResourceKey, start: datetime
) -> Prior:
    """What a resource was at the start of its timeline when no earlier ledger entry is at hand."""
    if rec is not None and _stopped_before(rec, start):
        return Prior(STOPPED, entry=_synthetic_stop(key, rec), source="state-record")
    for ev in events:
        state = _implied_before(ev)
        if state is not None:
            return Prior(state, source="inferred")
    seen = _seen_running(rec)
    if seen is False:
        return Prior(MANUAL_STOPPED, source="state-record")
    return Prior(RUNNING, source="state-record" if seen else "assumed")


def usages(
    start: datetime,
    end: datetime,
    until: datetime,
    entries: Sequence[Mapping[str, Any]],
    records: Mapping[ResourceKey, ResourceRecord],
    priors: Mapping[ResourceKey, Prior] | None = None,
    config: Config | None = None,
) -> list[Usage]:
    """Every resource managed in [start, min(end, until)), with its timeline.

    A resource counts from when the scheduler first saw it (or the span's start) to the span's end or the report
    time, whichever is first, except while it is gone (deleted or untagged: from the first pass that no longer
    found it to the pass that found it again, if any).
    """
    limit = min(end, until)
    by_key = _sorted_events(entries)
    keys = set(by_key) | set(priors or {}) | {k for k, r in records.items() if _relevant(r, start, limit)}
    schedules = _Schedules(config)
    out: list[Usage] = []
    for key in sorted(keys):
        rec = records.get(key)
        events = [e for e in by_key.get(key, []) if _at(e["at"]) < limit]
        w_start = start
        if rec is not None and rec.first_seen_at:
            w_start = max(start, _at(rec.first_seen_at))
        if events and _at(events[0]["at"]) < w_start:
            w_start = max(start, _at(events[0]["at"]))
        if limit <= w_start:
            continue
        prior = (priors or {}).get(key) or _infer_prior(events, rec, key, start)
        pieces, stops, gone_at = _timeline(key, events, prior, w_start, limit, rec)
        if not pieces:
            continue
        schedule = (
            (stops[-1].schedule if stops else "")
            or next((str(e.get("schedule")) for e in reversed(events) if e.get("schedule")), "")
            or (rec.schedule if rec is not None and rec.schedule else "")
            or str((prior.entry or {}).get("schedule") or "")
        )
        pieces = _schedule_cut(pieces, schedules.get(schedule) if schedule else None)
        label = stops[-1].pricing if stops else pieces[-1].pricing
        gone_now = gone_at is not None
        if rec is not None:
            gone_now = rec.gone_at is not None and _at(rec.gone_at) <= until
        current = None if gone_now else (record_pricing(key, rec) if rec is not None else label)
        tags = _stored_tags(
            *[e.get("details") for e in reversed(events)],
            rec.details if rec is not None else None,
            (prior.entry or {}).get("details"),
        )
        manual: int | None = 0
        overridden: int | None = 0
        for p in pieces:
            if p.state != RUNNING or not (p.manual or p.override):
                continue
            lost = schedules.stopped_micros(schedule, p.start, p.end)
            if p.override:  # the override held it, whoever started it
                overridden = None if lost is None or overridden is None else overridden + lost
            else:
                manual = None if lost is None or manual is None else manual + lost
        out.append(
            Usage(
                key,
                schedule,
                w_start,
                limit,
                pieces,
                stops,
                label,
                current,
                gone_now,
                gone_at,
                tags,
                manual,
                override_micros=overridden,
                simulated=sum(1 for e in events if e.get("simulated")),
                repaired=sum(1 for e in events if e.get("repaired")),
                prior=prior,
            )
        )
    return out


def month_usages(
    month: str,
    until: datetime,
    entries: Sequence[Mapping[str, Any]],
    records: Mapping[ResourceKey, ResourceRecord],
    opened: Mapping[ResourceKey, Mapping[str, Any]] | None = None,
    *,
    priors: Mapping[ResourceKey, Prior] | None = None,
    config: Config | None = None,
) -> list[Usage]:
    """:func:`usages` for one UTC month; ``opened`` (scheduler stops open when it began) or ``priors``."""
    start, end = parse_month(month)
    if priors is None:
        priors = {k: Prior(STOPPED, entry=e, source="ledger") for k, e in (opened or {}).items()}
    return usages(start, end, until, entries, records, priors, config)


def stopped_intervals(
    entries: Iterable[Mapping[str, Any]],
    start: datetime,
    end: datetime,
    until: datetime,
    opened: Mapping[ResourceKey, Mapping[str, Any]] | None = None,
) -> list[Stop]:
    """The scheduler's stops that overlap [start, min(end, until)), clipped to it."""
    priors = {k: Prior(STOPPED, entry=e, source="ledger") for k, e in (opened or {}).items()}
    found = usages(start, end, until, list(entries), {}, priors)
    return [s for u in found for s in u.stops]


# --- valuation -------------------------------------------------------------------------------------------------


def price_of(pricing: Pricing, lookup: PriceLookup) -> tuple[Decimal | None, str | None, list[str]]:
    """The hourly price of ``pricing`` (None when any part is unknown), where it came from, and notes."""
    if pricing.problem:
        return None, None, [pricing.problem]
    total = Decimal(0)
    sources: set[str] = set()
    notes: list[str] = []
    unknown = False
    for c in pricing.components:
        answer = lookup(c.query)
        if answer.note:
            notes.append(answer.note)
        if answer.hourly is None:
            unknown = True
            continue
        total += answer.hourly * c.count
        if answer.source:
            sources.add(answer.source)
    if unknown:
        return None, None, notes
    source = sources.pop() if len(sources) == 1 else ("+".join(sorted(sources)) or None)
    return total, source, notes


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def allocate(total: Decimal, parts: Sequence[Decimal]) -> list[Decimal]:
    """Splits ``total`` (whole cents) over ``parts`` (exact amounts) by largest remainder: every share is a whole
    number of cents within a cent of its part, and the shares add up to ``total`` exactly."""
    if not parts:
        return []
    shares = [p.quantize(CENT, rounding=ROUND_FLOOR) for p in parts]
    left = int((total - sum(shares, Decimal(0))) / CENT)
    order = sorted(range(len(parts)), key=lambda i: (-(parts[i] - shares[i]), i))
    step = CENT if left >= 0 else -CENT
    if left < 0:
        order.reverse()
    for n in range(abs(left)):
        shares[order[n % len(order)]] += step
    return shares


@dataclass
class StopValue:
    stop: Stop
    hourly: Decimal | None
    savings: Decimal | None  # exact (not rounded)
    cents: Decimal | None = None  # its share of the row's rounded savings


@dataclass
class Row:
    usage: Usage
    hourly: Decimal | None  # the price shown: one price, or the blend over the stopped hours
    source: str | None
    notes: list[str] = field(default_factory=list)
    stops: list[StopValue] = field(default_factory=list)
    savings: Decimal | None = None  # rounded to the cent; None when any stop is unpriced
    running_cost: Decimal | None = None  # rounded; None when any running piece is unpriced
    manual_stopped_cost: Decimal | None = None  # what the time stopped by others would have cost running
    by_day: dict[date, Decimal] = field(default_factory=dict)  # the savings' cents per UTC day
    day_micros: dict[date, int] = field(default_factory=dict)  # stopped time per UTC day
    by_type: list[dict[str, Any]] = field(default_factory=list)
    priced: bool = False

    @property
    def cost_if_always_running(self) -> Decimal | None:
        """What the resource would have cost running all its managed time (None when not known)."""
        if self.savings is None or self.running_cost is None or self.manual_stopped_cost is None:
            return None
        return self.savings + self.running_cost + self.manual_stopped_cost


def value_usages(usages: Iterable[Usage], lookup: PriceLookup) -> list[Row]:
    memo: dict[Pricing, tuple[Decimal | None, str | None, list[str]]] = {}

    def price(p: Pricing) -> tuple[Decimal | None, str | None, list[str]]:
        if p not in memo:
            memo[p] = price_of(p, lookup)
        return memo[p]

    rows = []
    for u in usages:
        notes: list[str] = []
        sources: set[str] = set()
        values: list[StopValue] = []
        for s in u.stops:
            hourly, source, n = price(s.pricing)
            notes += n
            if source:
                sources.add(source)
            values.append(StopValue(s, hourly, hours(s.micros) * hourly if hourly is not None else None))
        running: Decimal | None = Decimal(0)
        by_hand: Decimal | None = Decimal(0)
        for p in u.pieces:
            if p.state == STOPPED:
                continue
            hourly, _, n = price(p.pricing)
            if p.state == RUNNING:
                running = None if hourly is None or running is None else running + hours(p.micros) * hourly
            else:
                by_hand = None if hourly is None or by_hand is None else by_hand + hours(p.micros) * hourly
        row = Row(u, None, None, stops=values)
        row.running_cost = cents(running) if running is not None else None
        row.manual_stopped_cost = cents(by_hand) if by_hand is not None else None
        priced = all(v.hourly is not None for v in values)
        if values and priced:
            exact = sum((v.savings or Decimal(0) for v in values), Decimal(0))
            row.savings = cents(exact)
            _split(row, exact)
            shown = {v.hourly for v in values}
            if len(shown) == 1:
                row.hourly = next(iter(shown))
            elif u.stopped_micros:
                row.hourly = (exact / hours(u.stopped_micros)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
                notes.append(
                    "stopped as several types or sizes: hourly_price is the blend over its stopped hours "
                    "(each is in prices)"
                )
        elif not values:
            hourly, source, n = price(u.pricing)
            notes += n
            row.hourly = hourly
            if source:
                sources.add(source)
            row.savings = Decimal("0.00") if hourly is not None else None
        if not priced:
            row.hourly = None
        row.source = sources.pop() if len(sources) == 1 else ("+".join(sorted(sources)) or None)
        row.priced = row.savings is not None
        for v in values:
            for piece in v.stop.pieces:
                for day, micros in split_days(piece.start, piece.end):
                    row.day_micros[day] = row.day_micros.get(day, 0) + micros
        row.notes = list(dict.fromkeys(notes))
        rows.append(row)
    return rows


def _split(row: Row, exact: Decimal) -> None:
    """Shares the row's rounded savings out per stop, per UTC day and per type, each adding up to the row."""
    assert row.savings is not None
    parts: list[tuple[int, date, Decimal]] = []
    for i, v in enumerate(row.stops):
        assert v.hourly is not None
        for piece in v.stop.pieces:
            for day, micros in split_days(piece.start, piece.end):
                parts.append((i, day, hours(micros) * v.hourly))
    shares = allocate(row.savings, [p[2] for p in parts])
    per_stop: dict[int, Decimal] = defaultdict(Decimal)
    for (i, day, _), share in zip(parts, shares, strict=True):
        per_stop[i] += share
        row.by_day[day] = row.by_day.get(day, Decimal(0)) + share
    for i, v in enumerate(row.stops):
        v.cents = per_stop.get(i, Decimal("0.00"))
    types: dict[tuple[str | None, Decimal | None], list[StopValue]] = defaultdict(list)
    for v in row.stops:
        types[(v.stop.pricing.type, v.hourly)].append(v)
    keys = sorted(types, key=lambda k: (str(k[0]), k[1] or Decimal(0)))
    type_exact = [sum((v.savings or Decimal(0) for v in types[k]), Decimal(0)) for k in keys]
    for k, share in zip(keys, allocate(row.savings, type_exact), strict=True):
        row.by_type.append(
            {
                "type": k[0],
                "hourly_price": _num(k[1], 6),
                "stopped_hours": _hours(sum(v.stop.micros for v in types[k])),
                "estimated_savings": _num(share),
            }
        )


# --- what keeps billing while stopped ----------------------------------------------------------------------------

ON_DEMAND_NOTE = (
    "Savings are valued at on-demand list prices (the prices file or the AWS Price List); Reserved Instances, "
    "Savings Plans, spot and negotiated discounts make a stop save less than shown (see commitment_coverage)."
)


def billing_while_stopped(row: Row) -> dict[str, Any] | None:
    """What goes on billing while the resource is stopped (storage, addresses), estimated where the ledger knows
    enough (each service says what); ``None`` for a resource never stopped by the scheduler in the span."""
    u = row.usage
    if not u.stops or u.key.service not in registry.SERVICES:
        return None
    details = u.stops[-1].pieces[-1].stop.get("details") if u.stops[-1].pieces and u.stops[-1].pieces[-1].stop else {}
    out = dict(registry.get(u.key.service).billing_while_stopped(details or {}, hours(u.stopped_micros)))
    exact = out.get("estimated_cost")
    if isinstance(exact, Decimal):
        out["estimated_cost"] = _num(cents(exact))
    return out


def _num(value: Decimal | None, places: int = 2) -> float | None:
    return None if value is None else float(round(value, places))


def _hours(micros: int) -> float:
    return float(round(hours(micros), 4))


def resource_json(row: Row) -> dict[str, Any]:
    u = row.usage
    types = u.types
    return {
        "account": u.key.account,
        "region": u.key.region,
        "service": u.key.service,
        "resource": u.key.resource,
        "name": u.name,
        "schedule": u.schedule,
        "type": ", ".join(types) if types else u.pricing.type,
        "stopped_hours": _hours(u.stopped_micros),
        "running_hours": _hours(u.running_micros),
        "manual_stopped_hours": _hours(u.manual_stopped_micros),
        "manual_start_hours": _hours(u.manual_start_micros) if u.manual_start_micros is not None else None,
        "maintenance_hours": _hours(u.maintenance_micros),
        "override_hours": _hours(u.override_micros) if u.override_micros is not None else None,
        "managed_hours": _hours(u.managed_micros),
        "hourly_price": _num(row.hourly, 6),
        "estimated_savings": _num(row.savings),
        "estimated_running_cost": _num(row.running_cost),
        "units": u.pricing.units,
        "prices": list(row.by_type),
        "price_source": row.source,
        "note": "; ".join(row.notes) or None,
        "gone_at": iso_z(u.gone_at) if u.gone_at else None,
        "billing_while_stopped": billing_while_stopped(row),
        "commitment_coverage": None,
        "tags": dict(u.tags) if u.tags is not None else None,
        "stops": [
            {
                "start": iso_z(v.stop.start),
                "end": iso_z(v.stop.end),
                "stopped_at": iso_z(v.stop.opened_at),
                "ended_at": iso_z(v.stop.closed_at) if v.stop.closed_at else None,
                "ended_by": v.stop.closed_by,
                "hours": _hours(v.stop.micros),
                "type": v.stop.pricing.type,
                "hourly_price": _num(v.hourly, 6),
                "estimated_savings": _num(v.cents),
            }
            for v in row.stops
        ],
    }


def _money_sum(values: Iterable[Decimal | None]) -> Decimal:
    return sum((v for v in values if v is not None), Decimal(0))


def _sums(rows: Sequence[Row]) -> dict[str, Any]:
    """Hours and money of ``rows``: money and hours over priced resources only; the unpriced are counted apart."""
    priced = [r for r in rows if r.priced]
    unpriced = [r for r in rows if not r.priced]
    known_run = [r for r in priced if r.running_cost is not None]
    return {
        "resources": len(rows),
        "stopped_hours": _hours(sum(r.usage.stopped_micros for r in priced)),
        "running_hours": _hours(sum(r.usage.running_micros for r in priced)),
        "manual_stopped_hours": _hours(sum(r.usage.manual_stopped_micros for r in priced)),
        "manual_start_hours": None
        if any(r.usage.manual_start_micros is None for r in priced)
        else _hours(sum(r.usage.manual_start_micros or 0 for r in priced)),
        "maintenance_hours": _hours(sum(r.usage.maintenance_micros for r in priced)),
        "override_hours": None
        if any(r.usage.override_micros is None for r in priced)
        else _hours(sum(r.usage.override_micros or 0 for r in priced)),
        "estimated_savings": _num(_money_sum(r.savings for r in priced)) if priced or not rows else None,
        "estimated_running_cost": _num(_money_sum(r.running_cost for r in known_run)) if known_run else None,
        "unpriced_resources": len(unpriced),
        "unpriced_stopped_hours": _hours(sum(r.usage.stopped_micros for r in unpriced)),
    }


def _group(rows: Iterable[Row], name: str, key: Callable[[Row], str | None]) -> list[dict[str, Any]]:
    groups: dict[str | None, list[Row]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    out = []
    for value in sorted(groups, key=lambda v: (v is None, v or "")):
        members = groups[value]
        g: dict[str, Any] = {name: value, **_sums(members)}
        g["unpriced_hours"] = g["unpriced_stopped_hours"]
        out.append(g)
    return out


def savings_percent(rows: Iterable[Row]) -> float | None:
    """Savings as a share (in %) of what the same resources would have cost running all their managed time."""
    saved = Decimal(0)
    full = Decimal(0)
    for r in rows:
        if not r.priced or r.cost_if_always_running is None:
            continue
        saved += r.savings or Decimal(0)
        full += r.cost_if_always_running
    if full <= 0:
        return None
    return float(round(saved * 100 / full, 2))


def _days(start: datetime, end: datetime) -> list[date]:
    days: list[date] = []
    d = start.date()
    while _day_start(d) < end:
        days.append(d)
        d += _DAY
    return days


def daily(rows: Sequence[Row], start: datetime, end: datetime, limit: datetime | None = None) -> list[dict[str, Any]]:
    """Savings and stopped hours per UTC day of the span, overall and per schedule; they add up to the totals.

    A day that has not begun at ``limit`` (the instant the report counts up to) is listed with nulls: nothing is
    known of it yet, which is not the same as nothing saved."""
    priced = [r for r in rows if r.priced]
    known = bool(priced) or not rows
    out: list[dict[str, Any]] = []
    for day in _days(start, end):
        if limit is not None and _day_start(day) >= limit:
            out.append(
                {
                    "date": day.isoformat(),
                    "estimated_savings": None,
                    "stopped_hours": None,
                    "unpriced_stopped_hours": None,
                    "by_schedule": {},
                }
            )
            continue
        by_schedule: dict[str, Decimal] = {}
        for r in priced:
            if r.day_micros.get(day):
                by_schedule[r.usage.schedule] = by_schedule.get(r.usage.schedule, Decimal(0)) + r.by_day.get(
                    day, Decimal(0)
                )
        out.append(
            {
                "date": day.isoformat(),
                "estimated_savings": _num(_money_sum(r.by_day.get(day) for r in priced)) if known else None,
                "stopped_hours": _hours(sum(r.day_micros.get(day, 0) for r in priced)),
                "unpriced_stopped_hours": _hours(sum(r.day_micros.get(day, 0) for r in rows if not r.priced)),
                "by_schedule": {k: _num(v) for k, v in sorted(by_schedule.items())},
            }
        )
    return out


def monthly(rows: Sequence[Row], months: Sequence[str]) -> list[dict[str, Any]]:
    """Savings and stopped hours per UTC month (sums of the days: they add up to the totals)."""
    priced = [r for r in rows if r.priced]
    known = bool(priced) or not rows
    out = []
    for m in months:

        def inside(d: date, m: str = m) -> bool:
            return d.strftime("%Y-%m") == m

        out.append(
            {
                "month": m,
                "stopped_hours": _hours(sum(n for r in priced for d, n in r.day_micros.items() if inside(d))),
                "estimated_savings": _num(_money_sum(c for r in priced for d, c in r.by_day.items() if inside(d)))
                if known
                else None,
                "actual_cost": None,
                "unpriced_stopped_hours": _hours(
                    sum(n for r in rows if not r.priced for d, n in r.day_micros.items() if inside(d))
                ),
            }
        )
    return out


def by_tag(rows: Sequence[Row], tag_key: str) -> dict[str, Any]:
    """The rows grouped by the value of one of their tags; resources without it are the group ``None``."""
    groups = _group(rows, "value", lambda r: (r.usage.tags or {}).get(tag_key))
    return {
        "key": tag_key,
        "groups": groups,
        "resources_without_stored_tags": sum(1 for r in rows if r.usage.tags is None),
    }


def _storage_totals(rows: Sequence[Row]) -> dict[str, Any]:
    known: list[Decimal] = []
    unknown: list[str] = []
    for r in rows:
        b = billing_while_stopped(r)
        if b is None:
            continue
        if b["estimated_cost"] is None:
            unknown.append(r.usage.key.resource)
        else:
            known.append(Decimal(str(b["estimated_cost"])))
    return {
        "estimated_cost": _num(sum(known, Decimal(0))) if known else None,
        "estimated_resources": len(known),
        "not_estimated": unknown,
    }


def report_notes(rows: Sequence[Row]) -> list[str]:
    """What a reader must know about these numbers, as sentences (every format prints them)."""
    notes = [ON_DEMAND_NOTE]
    storage = _storage_totals(rows)
    text = (
        "EBS volumes, RDS and Aurora storage and Elastic IPs keep billing while a resource is stopped; "
        "the savings do not include them."
    )
    if storage["estimated_resources"]:
        text += (
            f" Estimated for {storage['estimated_resources']} resource(s) from their storage and addresses: "
            f"US${storage['estimated_cost']:,.2f} over their stopped hours (US East list rates)."
        )
    if storage["not_estimated"]:
        names = list(dict.fromkeys(storage["not_estimated"]))  # one name in several accounts is named once
        shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
        text += f" Not estimated (no size or rate recorded): {shown}."
    notes.append(text)
    unpriced = [r for r in rows if not r.priced]
    if unpriced:
        notes.append(
            f"{len(unpriced)} resource(s) could not be priced: their "
            f"{_hours(sum(r.usage.stopped_micros for r in unpriced)):,} stopped hours are not in the savings "
            "(give their prices with --prices FILE)."
        )
    unknown_manual = [r.usage.key.resource for r in rows if r.usage.manual_start_micros is None]
    if unknown_manual:
        notes.append(
            "Hours lost to manual starts are not known for "
            + ", ".join(unknown_manual[:10])
            + ": their schedule is not in the configuration or has only start/stop events."
        )
    unknown_override = [r.usage.key.resource for r in rows if r.usage.override_micros is None]
    if unknown_override:
        notes.append(
            "Hours lost to overrides are not known for "
            + ", ".join(unknown_override[:10])
            + ": their schedule is not in the configuration or has only start/stop events."
        )
    simulated = sum(r.usage.simulated for r in rows)
    if simulated:
        notes.append(
            f"{simulated} ledger entr{'y' if simulated == 1 else 'ies'} come from simulated passes (isched run --at "
            "ahead of the real clock): they are counted like real ones."
        )
    repaired = sum(r.usage.repaired for r in rows)
    if repaired:
        notes.append(
            f"{repaired} ledger entr{'y was' if repaired == 1 else 'ies were'} recorded late by a repair pass."
        )
    return notes


def build_report(
    month: str,
    at: datetime,
    rows: Sequence[Row],
    *,
    actual: Mapping[str, Any] | None = None,
    projection: Mapping[str, Any] | None = None,
    span: tuple[datetime, datetime] | None = None,
    months: Sequence[str] | None = None,
    group_by_tag: str | None = None,
) -> dict[str, Any]:
    """The report as SPEC §3's JSON (``month``, ``currency``, ``resources``, ``totals``) plus breakdowns.

    ``month`` is ``YYYY-MM``, or ``YYYY-MM/YYYY-MM`` for a span of several months (``span`` and ``months`` give
    them); every money figure is a sum of rounded per-resource figures, so the printed numbers add up.
    """
    start, end = span if span is not None else parse_month(month)
    limit = min(end, at)
    unpriced = [r for r in rows if not r.priced]
    available = bool(actual and actual.get("available"))
    by_schedule = _group(rows, "schedule", lambda r: r.usage.schedule)
    actual_by_schedule = (actual or {}).get("by_schedule_total") or {}
    for g in by_schedule:
        g["actual_cost"] = actual_by_schedule.get(g["schedule"]) if available else None
    totals: dict[str, Any] = _sums(rows)
    totals.update(
        {
            "actual_cost": (actual or {}).get("total") if available else None,
            "savings_percent": savings_percent(rows),
            "priced_resources": len(rows) - len(unpriced),
            "unpriced_hours": totals["unpriced_stopped_hours"],
            "cost_if_always_running": _num(
                _money_sum(r.cost_if_always_running for r in rows if r.priced and r.cost_if_always_running is not None)
            )
            if any(r.priced and r.cost_if_always_running is not None for r in rows)
            else None,
            "billing_while_stopped": _storage_totals(rows),
        }
    )
    report: dict[str, Any] = {
        "month": month,
        "currency": "USD",
        "at": iso_z(limit),
        "from": iso_z(start),
        "to": iso_z(end),
        "resources": [resource_json(r) for r in rows],
        "totals": totals,
        "by_schedule": by_schedule,
        "by_account": _group(rows, "account", lambda r: r.usage.key.account),
        "by_service": _group(rows, "service", lambda r: r.usage.key.service),
        "daily": daily(rows, start, end, limit),
        "unpriced": [
            {
                "account": r.usage.key.account,
                "region": r.usage.key.region,
                "service": r.usage.key.service,
                "resource": r.usage.key.resource,
                "type": resource_json(r)["type"],
                "stopped_hours": _hours(r.usage.stopped_micros),
                "reason": "; ".join(r.notes) or "no price found",
            }
            for r in unpriced
        ],
        "actual": dict(actual) if actual is not None else None,
        "projection": dict(projection) if projection is not None else None,
        "notes": report_notes(rows),
    }
    if months is not None:
        report["months"] = monthly(rows, months)
    if group_by_tag is not None:
        report["by_tag"] = by_tag(rows, group_by_tag)
    return report


# --- the projection ------------------------------------------------------------------------------------------------


@dataclass
class _Year:
    """A schedule over the projection's year: its running windows and, for ``period@type`` schedules, the type
    each window leaves the instance in (the type its following stop is priced at, as the monthly report does)."""

    running: list[tuple[datetime, datetime]]
    types: list[tuple[str | None, str | None]] | None  # per window: (type at its start, type at its end)

    @property
    def running_micros(self) -> int:
        return sum(_micros(s, e) for s, e in self.running)


def _year(ev: Evaluator, start: datetime, end: datetime) -> _Year:
    running = ev.running(start, end)
    typed = any(ref.instance_type for ref, _ in ev.refs)
    types = None
    if typed:
        types = [(ev.instance_type_at(s), ev.instance_type_at(e - _MICRO)) for s, e in running]
    return _Year(running, types)


def _typed_value(
    year: _Year, start: datetime, end: datetime, current: str | None, price: Callable[[str | None], Decimal | None]
) -> tuple[Decimal | None, Decimal | None]:
    """(savings, running cost) over the year for an instance now of type ``current``, typed windows at their type
    and every stop at the type the window before it left the instance in."""
    assert year.types is not None
    saved = Decimal(0)
    cost = Decimal(0)
    persisted = current
    cursor = start
    for (s, e), (t_start, t_end) in zip(year.running, year.types, strict=True):
        gap = price(persisted)
        if gap is None:
            return None, None
        saved += hours(_micros(cursor, s)) * gap
        run_type = t_start or persisted
        run = price(run_type)
        if run is None:
            return None, None
        cost += hours(_micros(s, e)) * run
        persisted = t_end or run_type
        cursor = e
    last = price(persisted)
    if last is None:
        return None, None
    saved += hours(_micros(cursor, end)) * last
    return saved, cost


def project(
    usages_and_prices: Iterable[tuple[Usage, Decimal | None]],
    config: Config | None,
    at: datetime,
    *,
    lookup: PriceLookup | None = None,
) -> dict[str, Any]:
    """What the current schedules will save over the next 12 months (365 days from ``at``) at current prices.

    For each resource still managed: its schedule's stopped hours over the year × its hourly price, and its running
    hours × the same price (what it will cost). For EC2 instances of ``period@type`` schedules (with ``lookup``),
    the way the monthly report prices them: a typed period runs at its type, and each stop is priced at the type
    the period before it left the instance in. Resources whose schedule has only start/stop events (no running
    windows) or is not in the configuration are left out and counted, as are unpriced ones. Each resource's figures
    are rounded to the cent, then added up.
    """
    end = at + YEAR
    year_micros = _micros(at, end)
    total_hours = hours(year_micros)
    result: dict[str, Any] = {
        "from": iso_z(at),
        "to": iso_z(end),
        "hours": float(total_hours),
        "resources": 0,
        "stopped_hours": 0.0,
        "estimated_savings": None,
        "estimated_running_cost": None,
        "unpriced_resources": 0,
        "unscheduled_resources": 0,
        "by_schedule": [],
        "method": "each schedule's stopped hours over the next 365 days × the resource's on-demand hourly price; "
        "period@type windows at their type, each stop at the type the window before it left the instance in",
        "note": None,
    }
    if config is None:
        result["note"] = "the stored configuration could not be read: no projection"
        return result
    schedules = _Schedules(config)
    years: dict[str, _Year | None] = {}
    per: dict[str, dict[str, Any]] = {}
    saved_total = Decimal(0)
    cost_total = Decimal(0)
    stopped_total = 0
    priced_any = False
    for usage, price in usages_and_prices:
        name = usage.schedule
        ev = schedules.get(name)
        if name not in years:
            windowed = ev is not None and (ev.has_windows or ev.schedule.override_status is not None)
            years[name] = _year(ev, at, end) if ev is not None and windowed else None
        year = years[name]
        if year is None:
            result["unscheduled_resources"] += 1
            continue
        result["resources"] += 1
        run = year.running_micros
        slot = per.setdefault(
            name,
            {
                "schedule": name,
                "resources": 0,
                "running_hours": _hours(run),
                "stopped_hours": _hours(year_micros - run),
                "estimated_savings": Decimal(0),
                "estimated_running_cost": Decimal(0),
                "unpriced_resources": 0,
            },
        )
        slot["resources"] += 1
        saved: Decimal | None
        cost: Decimal | None
        current = usage.current
        if (
            year.types is not None
            and lookup is not None
            and usage.key.service == "ec2"
            and current is not None
            and current.components
        ):
            base = current.components[0].query

            def type_price(t: str | None, base: PriceQuery = base) -> Decimal | None:
                if t is None:
                    return None
                answer = lookup(PriceQuery("ec2", base.region, t, platform=base.platform, tenancy=base.tenancy))
                return answer.hourly

            saved, cost = _typed_value(year, at, end, current.type, type_price)
        elif price is not None:
            saved, cost = hours(year_micros - run) * price, hours(run) * price
        else:
            saved = cost = None
        if saved is None or cost is None:
            result["unpriced_resources"] += 1
            slot["unpriced_resources"] += 1
            continue
        priced_any = True
        stopped_total += year_micros - run
        slot["estimated_savings"] += cents(saved)
        slot["estimated_running_cost"] += cents(cost)
        saved_total += cents(saved)
        cost_total += cents(cost)
    for slot in per.values():
        all_unpriced = slot["unpriced_resources"] == slot["resources"]
        slot["estimated_savings"] = None if all_unpriced else _num(slot["estimated_savings"])
        slot["estimated_running_cost"] = None if all_unpriced else _num(slot["estimated_running_cost"])
    result["by_schedule"] = [per[k] for k in sorted(per)]
    result["stopped_hours"] = _hours(stopped_total)
    result["estimated_savings"] = _num(saved_total) if priced_any else None
    result["estimated_running_cost"] = _num(cost_total) if priced_any else None
    if result["unscheduled_resources"]:
        result["note"] = (
            f"{result['unscheduled_resources']} resource(s) left out: their schedule is not in the configuration "
            "or has only start/stop events (no running time to project)"
        )
    return result


# --- reading the store -------------------------------------------------------------------------------------------


@dataclass
class LedgerView:
    entries: list[dict[str, Any]]
    priors: dict[ResourceKey, Prior]
    records: dict[ResourceKey, ResourceRecord]
    months_read: int

    @property
    def opened(self) -> dict[ResourceKey, Mapping[str, Any]]:
        return {k: p.entry for k, p in self.priors.items() if p.state == STOPPED and not p.gone and p.entry}


def read_state(store: StateStore) -> dict[ResourceKey, ResourceRecord]:
    records: dict[ResourceKey, ResourceRecord] = {}
    for target_key in store.all_targets():
        # account#region#service, with #tag-key for passes that use a tag key other than the default.
        parts = target_key.split("#", 3)
        if len(parts) < 3:
            continue
        target = Target(*parts[:3])
        tagged = StateStore(store.tables, tag_key=parts[3]) if len(parts) == 4 else store
        found, _ = tagged.load(target)
        for rid, rec in found.items():
            records.setdefault(ResourceKey(target.account, target.region, target.service, rid), rec)
    return records


class MonthReader:
    """The ledger's months, each read once (a month is one query)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._months: dict[str, list[dict[str, Any]]] = {}
        self.reads = 0

    def __call__(self, month: str) -> list[dict[str, Any]]:
        if month not in self._months:
            self._months[month] = self.store.ledger_month(month)
            self.reads += 1
        return self._months[month]


def read_ledger(
    store: StateStore,
    month: str,
    last_month: str | None = None,
    *,
    until: datetime | None = None,
    records: dict[ResourceKey, ResourceRecord] | None = None,
    reader: MonthReader | None = None,
) -> LedgerView:
    """The ledger of ``month`` (to ``last_month``), the stored state, and what each resource was when it began."""
    read = reader or MonthReader(store)
    before = read.reads
    entries = [e for m in months_between(month, last_month or month) for e in read(m)]
    records = records if records is not None else read_state(store)
    priors, _ = prior_states(month, entries, records, read, last_month=last_month, until=until)
    return LedgerView(entries, priors, records, read.reads - before)


def earliest_first_seen(records: Mapping[ResourceKey, ResourceRecord]) -> datetime | None:
    """When the scheduler first saw any of the resources it manages (None: no record says)."""
    seen = [_at(r.first_seen_at) for r in records.values() if r.first_seen_at]
    return min(seen) if seen else None
