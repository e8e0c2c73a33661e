"""The resources in a span: each one's timeline summed into stopped, running, stopped-by-hand, maintenance and
override hours (:class:`Usage`), with its name, schedule and tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scheduler.engine import Config, Evaluator
from scheduler.services.details import common
from scheduler.services.pricing import Pricing
from scheduler.store.state import ResourceRecord

from .events import MANUAL_STOPPED, RUNNING, STOPPED
from .keys import ResourceKey, record_pricing
from .months import entry_instant, micros_between, parse_month
from .priors import Prior, implied_before, relevant, seen_running, sorted_events, stopped_before, synthetic_stop
from .timeline import Piece, Stop, resource_timeline, schedule_cut


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


class Schedules:
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
        running = sum(micros_between(s, e) for s, e in ev.running(start, end))
        return max(0, micros_between(start, end) - running)


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
    if rec is not None and stopped_before(rec, start):
        return Prior(STOPPED, entry=synthetic_stop(key, rec), source="state-record")
    for ev in events:
        state = implied_before(ev)
        if state is not None:
            return Prior(state, source="inferred")
    seen = seen_running(rec)
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
    by_key = sorted_events(entries)
    keys = set(by_key) | set(priors or {}) | {k for k, r in records.items() if relevant(r, start, limit)}
    schedules = Schedules(config)
    out: list[Usage] = []
    for key in sorted(keys):
        rec = records.get(key)
        events = [e for e in by_key.get(key, []) if entry_instant(e["at"]) < limit]
        w_start = start
        if rec is not None and rec.first_seen_at:
            w_start = max(start, entry_instant(rec.first_seen_at))
        if events and entry_instant(events[0]["at"]) < w_start:
            w_start = max(start, entry_instant(events[0]["at"]))
        if limit <= w_start:
            continue
        prior = (priors or {}).get(key) or _infer_prior(events, rec, key, start)
        pieces, stops, gone_at = resource_timeline(key, events, prior, w_start, limit, rec)
        if not pieces:
            continue
        schedule = (
            (stops[-1].schedule if stops else "")
            or next((str(e.get("schedule")) for e in reversed(events) if e.get("schedule")), "")
            or (rec.schedule if rec is not None and rec.schedule else "")
            or str((prior.entry or {}).get("schedule") or "")
        )
        pieces = schedule_cut(pieces, schedules.get(schedule) if schedule else None)
        label = stops[-1].pricing if stops else pieces[-1].pricing
        gone_now = gone_at is not None
        if rec is not None:
            gone_now = rec.gone_at is not None and entry_instant(rec.gone_at) <= until
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
