"""Each resource's timeline from its ledger entries replayed in order: *running*, *stopped by the scheduler*,
*stopped by someone else* (by hand, or already stopped when first seen), or *gone* (not managed: it counts for
nothing), clipped to the span reported and counted up to the report time or the span's end, whichever is first.
Only time stopped by the scheduler is the scheduler's saving; running time is what the resource really ran while
managed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from scheduler.engine import Evaluator
from scheduler.services.pricing import Pricing
from scheduler.store.state import ResourceRecord

from .events import MANUAL_STOPPED, MARKERS, RUNNING, STATE_AFTER, STOPPED, overrides_after
from .keys import Known, ResourceKey, entry_pricing, saves_capacity
from .months import entry_instant, micros_between
from .priors import Prior


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
        return micros_between(self.start, self.end)


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
        return sum(p.micros for p in self.pieces) if self.pieces else micros_between(self.start, self.end)


def resource_timeline(
    key: ResourceKey,
    events: Sequence[Mapping[str, Any]],
    prior: Prior,
    w_start: datetime,
    w_end: datetime,
    rec: ResourceRecord | None,
) -> tuple[list[Piece], list[Stop], datetime | None]:
    """The resource's pieces and scheduler stops in [w_start, w_end), and when it was gone (if it still is)."""
    known = Known()
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
                    entry_instant(stop_entry["at"]),
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
        at = entry_instant(ev["at"])
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
        overridden = overrides_after(ev, overridden)
        if action in MARKERS:
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
        new_state = STATE_AFTER[action]
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
        return entry_instant(hold["since"]), entry_instant(hold["until"])
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


def schedule_cut(pieces: list[Piece], ev: Evaluator | None) -> list[Piece]:
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
