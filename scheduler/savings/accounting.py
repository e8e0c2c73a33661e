"""What the scheduler's stops saved: stopped intervals from the action ledger, clipped to UTC months, valued at
hourly prices.

The ledger (``StateStore.ledger_month``) holds every action the scheduler took, and what ended one of its stops
without it. A *stop* opens an interval; the resource's next ``start``, ``resize``, ``manual-start`` (someone started
it) or ``gone`` (deleted or untagged) closes it. Manual stops are not in the ledger, so they are never counted as
the scheduler's savings. AWS bills by UTC month, and so does this: an interval is clipped to the month, and one
still open counts up to the report time or the month's end, whichever is first. An interval opened in an earlier
month is found in the previous months' ledger, or, when the ledger no longer has it, from the stored state record
(``last_action`` ``stop`` at ``last_action_at``).

Everything here is pure except :func:`read_ledger`, which reads the store; prices come in as a lookup function.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from scheduler.engine import Config, Evaluator, iso_z, running_hours
from scheduler.store.state import ResourceRecord, StateStore, Target

from .prices import AURORA_IO_OPTIMIZED, PriceAnswer, PriceQuery

CLOSING = frozenset({"start", "resize", "manual-start", "gone"})
# The ledger keeps entries for 800 days (LEDGER_RETENTION_DAYS): looking further back finds nothing.
LEDGER_MONTHS_BACK = 27
YEAR = timedelta(days=365)  # the projection's horizon: 24 × 365 = 8,760 hours
CENT = Decimal("0.01")
_MICRO = timedelta(microseconds=1)
_HOUR_MICROS = Decimal(3_600_000_000)

PriceLookup = Callable[[PriceQuery], PriceAnswer]


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


def _at(value: Any) -> datetime:
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def _micros(start: datetime, end: datetime) -> int:
    return max(0, (end - start) // _MICRO)


def hours(micros: int) -> Decimal:
    return Decimal(micros) / _HOUR_MICROS


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


@dataclass(frozen=True)
class Component:
    query: PriceQuery
    count: int = 1


@dataclass(frozen=True)
class Pricing:
    """What one resource costs per hour while running: ``count`` × price of each component.

    ``type`` is the label shown in reports (an instance type, a DB class, or an Aurora cluster's member classes);
    ``units`` the number of instances (an ASG's desired capacity, an Aurora cluster's members). ``problem`` says
    why the resource cannot be priced at all (no type known, capacity billed per ACU...).
    """

    type: str | None
    units: int
    components: tuple[Component, ...] = ()
    problem: str | None = None


def pricing_for(
    service: str,
    region: str,
    instance_type: str | None,
    details: Mapping[str, Any] | None,
    capacity: Mapping[str, Any] | None = None,
) -> Pricing:
    """How a resource is priced, from what the ledger or the state record says about it."""
    d = details or {}
    if service == "ec2":
        if not instance_type:
            return Pricing(None, 1, problem="the instance type is unknown")
        query = PriceQuery("ec2", region, instance_type, platform=d.get("platform"), tenancy=d.get("tenancy"))
        return Pricing(instance_type, 1, (Component(query),))
    if service == "asg":
        return _asg_pricing(region, instance_type, d, capacity)
    if service == "rds":
        if d.get("kind") == "cluster":
            return _cluster_pricing(region, d)
        if not instance_type:
            return Pricing(None, 1, problem="the DB instance class is unknown")
        query = PriceQuery(
            "rds",
            region,
            instance_type,
            engine=d.get("engine"),
            deployment="multi-az" if d.get("multi_az") else "single-az",
            license_model=d.get("license_model"),
        )
        return Pricing(instance_type, 1, (Component(query),))
    return Pricing(instance_type, 1, problem=f"service '{service}' is not priced")


def _asg_pricing(
    region: str, instance_type: str | None, d: Mapping[str, Any], capacity: Mapping[str, Any] | None
) -> Pricing:
    # The capacity a stop saved is what the group would have run; without it, the group's size when seen.
    desired = _whole((capacity or {}).get("desired"))
    if desired is None:
        desired = _whole(d.get("desired"))
    types = [str(t) for t in d.get("instance_types") or []]
    type_ = instance_type or (types[0] if len(set(types)) == 1 else None)
    if desired is None:
        return Pricing(type_, 0, problem="the group's desired capacity is unknown")
    if type_ is None:
        why = f"it launches several instance types ({', '.join(sorted(set(types)))})" if types else "type unknown"
        return Pricing(", ".join(sorted(set(types))) or None, desired, problem=f"no single instance price: {why}")
    return Pricing(type_, desired, (Component(PriceQuery("ec2", region, type_, origin="asg"), desired),))


def _cluster_pricing(region: str, d: Mapping[str, Any]) -> Pricing:
    engine = str(d.get("engine") or "")
    members = [m for m in d.get("members") or [] if isinstance(m, Mapping)]
    classes = [str(m.get("class")) if m.get("class") else None for m in members]
    if not engine.startswith("aurora"):
        # A Multi-AZ DB cluster: one writer and two readable standbys of one class, billed as one deployment.
        cls = d.get("cluster_instance_class") or next((c for c in classes if c), None)
        if not cls:
            return Pricing(None, len(members) or 3, problem="the DB cluster's instance class is unknown")
        query = PriceQuery("rds", region, str(cls), engine=engine, deployment="multi-az-cluster")
        return Pricing(str(cls), len(members) or 3, (Component(query),))
    if d.get("engine_mode") == "serverless":
        return Pricing("serverless", 0, problem="Aurora Serverless v1 is billed per ACU-hour, not per instance")
    if not members:
        return Pricing(None, 0, problem="the cluster has no member instances known to the ledger")
    if None in classes:
        return Pricing(None, len(members), problem="a member's DB instance class is unknown")
    counts = Counter(c for c in classes if c)
    # One class: the class (units says how many); several: each with its count.
    label = (
        next(iter(counts))
        if len(counts) == 1
        else " + ".join(f"{n}×{c}" if n > 1 else c for c, n in sorted(counts.items()))
    )
    if "db.serverless" in counts:
        return Pricing(label, len(members), problem="Aurora Serverless v2 members are billed per ACU-hour")
    storage = AURORA_IO_OPTIMIZED if d.get("storage_type") == AURORA_IO_OPTIMIZED else None
    parts = tuple(
        Component(PriceQuery("rds", region, c, engine=engine, storage=storage), n) for c, n in sorted(counts.items())
    )
    return Pricing(label, len(members), parts)


def _whole(value: Any) -> int | None:
    """A size as stored: an int, a DynamoDB Decimal or a digit string; anything else is unknown."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return int(value) if value.strip().isdigit() else None
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n >= 0 and n == value else None


def entry_pricing(entry: Mapping[str, Any]) -> Pricing:
    return pricing_for(
        str(entry["service"]),
        str(entry["region"]),
        entry.get("instance_type"),
        entry.get("details") or {},
        entry.get("capacity"),
    )


def record_pricing(key: ResourceKey, rec: ResourceRecord) -> Pricing:
    """How a resource is priced now, from its state record (what the projection uses)."""
    capacity = None
    if key.service == "asg" and not _whole((rec.details or {}).get("desired")):
        capacity = rec.saved_capacity  # stopped now: the size it runs at is the one its stop saved
    return pricing_for(key.service, key.region, rec.instance_type, rec.details, capacity)


# --- stopped intervals -----------------------------------------------------------------------------------------


@dataclass
class Stop:
    """One scheduler stop, clipped to the month: [start, end). ``opened_at``/``closed_at`` are unclipped."""

    key: ResourceKey
    schedule: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    start: datetime
    end: datetime
    pricing: Pricing

    @property
    def micros(self) -> int:
        return _micros(self.start, self.end)


def _sorted_events(entries: Iterable[Mapping[str, Any]]) -> dict[ResourceKey, list[Mapping[str, Any]]]:
    by_key: dict[ResourceKey, list[Mapping[str, Any]]] = defaultdict(list)
    for e in entries:
        if e.get("action") and e.get("at") and e.get("resource"):
            by_key[key_of(e)].append(e)
    for events in by_key.values():
        # At one instant a close comes first: it ends the previous stop, a stop then opens the next one.
        events.sort(key=lambda e: (_at(e["at"]), 0 if e["action"] in CLOSING else 1))
    return by_key


def stopped_intervals(
    entries: Iterable[Mapping[str, Any]],
    start: datetime,
    end: datetime,
    until: datetime,
    opened: Mapping[ResourceKey, Mapping[str, Any]] | None = None,
) -> list[Stop]:
    """The scheduler's stops that overlap [start, min(end, until)), clipped to it.

    ``entries`` are the ledger entries of the month (any order); ``opened`` maps resources whose scheduler stop
    was still open at ``start`` to that stop's ledger entry.
    """
    limit = min(end, until)
    by_key = _sorted_events(entries)
    out: list[Stop] = []

    def close(key: ResourceKey, stop: Mapping[str, Any], closed_at: datetime | None, closed_by: str | None) -> None:
        opened_at = _at(stop["at"])
        s, e = max(opened_at, start), min(closed_at or limit, limit)
        if e > s:
            out.append(
                Stop(key, str(stop.get("schedule") or ""), opened_at, closed_at, closed_by, s, e, entry_pricing(stop))
            )

    for key in sorted(set(by_key) | set(opened or {})):
        current: Mapping[str, Any] | None = (opened or {}).get(key)
        for ev in by_key.get(key, []):
            if ev["action"] == "stop":
                # A second stop while one is open (a retried or repeated stop) does not restart the interval.
                current = current or ev
            elif ev["action"] in CLOSING and current is not None:
                close(key, current, _at(ev["at"]), str(ev["action"]))
                current = None
        if current is not None:
            close(key, current, None, None)
    return out


def open_at_start(
    month: str,
    entries: Iterable[Mapping[str, Any]],
    records: Mapping[ResourceKey, ResourceRecord],
    read_month: Callable[[str], list[dict[str, Any]]],
    max_months: int = LEDGER_MONTHS_BACK,
) -> tuple[dict[ResourceKey, Mapping[str, Any]], int]:
    """The scheduler stops still open when ``month`` began, and how many earlier months of ledger were read.

    Candidates are resources whose first event this month closes a stop, and resources whose state record says
    the scheduler stopped them before the month (possibly with no event at all this month). For each, the last
    ledger event before the month decides; the previous months are read one by one, newest first, and never
    further back than the resource was first seen. When the ledger has nothing (expired), the state record's
    ``last_action`` stop is taken at its word.
    """
    start, _ = parse_month(month)
    by_key = _sorted_events(entries)
    oldest = shift_month(month, -max_months)
    floors: dict[ResourceKey, str] = {}
    for key, events in by_key.items():
        if events[0]["action"] in CLOSING:
            rec = records.get(key)
            floors[key] = max(oldest, month_of(_at(rec.first_seen_at))) if rec and rec.first_seen_at else oldest
    for key, rec in records.items():
        if _stopped_before(rec, start):
            assert rec.last_action_at is not None
            floors[key] = max(oldest, month_of(_at(rec.last_action_at)))
    opened: dict[ResourceKey, Mapping[str, Any]] = {}
    reads = 0
    m = shift_month(month, -1)
    while floors and m >= min(floors.values()):
        earlier = _sorted_events(read_month(m))
        reads += 1
        for key in list(floors):
            if key in earlier:
                last = earlier[key][-1]
                if last["action"] == "stop":
                    opened[key] = last
                del floors[key]
            elif floors[key] >= m:
                # Read back to its floor without an event: nothing before, unless the record says otherwise.
                rec = records.get(key)
                if rec is not None and _stopped_before(rec, start):
                    opened[key] = _synthetic_stop(key, rec)
                del floors[key]
        m = shift_month(m, -1)
    for key in floors:
        rec = records.get(key)
        if rec is not None and _stopped_before(rec, start):
            opened[key] = _synthetic_stop(key, rec)
    return opened, reads


def _stopped_before(rec: ResourceRecord, start: datetime) -> bool:
    if rec.last_action != "stop" or not rec.last_action_at or _at(rec.last_action_at) >= start:
        return False
    return not (rec.gone_at and _at(rec.gone_at) < start)


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


# --- resources in the month ------------------------------------------------------------------------------------


@dataclass
class Usage:
    """One managed resource in the month: the span it was managed, its scheduler stops, how it is priced."""

    key: ResourceKey
    schedule: str
    window_start: datetime
    window_end: datetime
    stops: list[Stop]
    pricing: Pricing  # the month's: its last stop's, else the state record's
    current: Pricing | None  # now, for the projection; None once gone
    gone: bool = False

    @property
    def window_micros(self) -> int:
        return _micros(self.window_start, self.window_end)

    @property
    def stopped_micros(self) -> int:
        return sum(s.micros for s in self.stops)

    @property
    def running_micros(self) -> int:
        return max(0, self.window_micros - self.stopped_micros)


def month_usages(
    month: str,
    until: datetime,
    entries: Sequence[Mapping[str, Any]],
    records: Mapping[ResourceKey, ResourceRecord],
    opened: Mapping[ResourceKey, Mapping[str, Any]] | None = None,
) -> list[Usage]:
    """Every resource managed in ``month`` up to ``until``, with its stops.

    A resource counts from when the scheduler first saw it (or the month's start) to the month's end, the report
    time, or when it was gone, whichever is first; its running hours are that span less its scheduler stops (so a
    manual stop counts as running: it is not the scheduler's saving).
    """
    start, end = parse_month(month)
    limit = min(end, until)
    stops = stopped_intervals(entries, start, end, until, opened)
    by_key: dict[ResourceKey, list[Stop]] = defaultdict(list)
    for s in stops:
        by_key[s.key].append(s)
    events = _sorted_events(entries)
    keys = set(by_key) | set(events)
    for key, record in records.items():
        seen = _at(record.last_seen_at) if record.last_seen_at else None
        first = _at(record.first_seen_at) if record.first_seen_at else None
        if seen is not None and seen >= start and (first is None or first < limit):
            keys.add(key)
    out: list[Usage] = []
    for key in sorted(keys):
        rec = records.get(key)
        mine = by_key.get(key, [])
        w_start = start
        if rec is not None and rec.first_seen_at:
            w_start = max(start, _at(rec.first_seen_at))
        gone_at = next((_at(e["at"]) for e in events.get(key, []) if e["action"] == "gone"), None)
        if gone_at is None and rec is not None and rec.gone_at:
            gone_at = _at(rec.gone_at)
        w_end = min(limit, gone_at) if gone_at is not None else limit
        if mine:
            w_start = min(w_start, mine[0].start)
            w_end = max(w_end, mine[-1].end)
        if w_end <= w_start and not mine:
            continue
        schedule = (
            (mine[-1].schedule if mine else "")
            or next((str(e.get("schedule")) for e in reversed(events.get(key, [])) if e.get("schedule")), "")
            or (rec.schedule if rec is not None and rec.schedule else "")
        )
        if mine:
            pricing = mine[-1].pricing
        elif rec is not None:
            pricing = record_pricing(key, rec)
        else:
            last = events[key][-1]
            pricing = entry_pricing(last)
        gone = gone_at is not None and gone_at <= until
        current = None if gone else (record_pricing(key, rec) if rec is not None else pricing)
        out.append(Usage(key, schedule, w_start, w_end, mine, pricing, current, gone))
    return out


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


@dataclass
class StopValue:
    stop: Stop
    hourly: Decimal | None
    savings: Decimal | None  # exact (not rounded)


@dataclass
class Row:
    usage: Usage
    hourly: Decimal | None
    source: str | None
    notes: list[str] = field(default_factory=list)
    stops: list[StopValue] = field(default_factory=list)

    @property
    def priced(self) -> bool:
        return self.hourly is not None and all(s.hourly is not None for s in self.stops)

    @property
    def savings(self) -> Decimal | None:
        """The month's savings, rounded to the cent; ``None`` when any stop could not be priced."""
        if not self.priced:
            return None
        return cents(sum((s.savings or Decimal(0) for s in self.stops), Decimal(0)))

    @property
    def running_cost(self) -> Decimal | None:
        if self.hourly is None:
            return None
        return cents(hours(self.usage.running_micros) * self.hourly)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def value_usages(usages: Iterable[Usage], lookup: PriceLookup) -> list[Row]:
    rows = []
    for u in usages:
        hourly, source, notes = price_of(u.pricing, lookup)
        row = Row(u, hourly, source, list(dict.fromkeys(notes)))
        for s in u.stops:
            price = hourly if s.pricing == u.pricing else price_of(s.pricing, lookup)[0]
            row.stops.append(StopValue(s, price, hours(s.micros) * price if price is not None else None))
        rows.append(row)
    return rows


# --- the report --------------------------------------------------------------------------------------------------


def _num(value: Decimal | None, places: int = 2) -> float | None:
    return None if value is None else float(round(value, places))


def _hours(micros: int) -> float:
    return float(round(hours(micros), 4))


def resource_json(row: Row) -> dict[str, Any]:
    u = row.usage
    return {
        "account": u.key.account,
        "region": u.key.region,
        "service": u.key.service,
        "resource": u.key.resource,
        "schedule": u.schedule,
        "type": u.pricing.type,
        "stopped_hours": _hours(u.stopped_micros),
        "running_hours": _hours(u.running_micros),
        "hourly_price": _num(row.hourly, 6),
        "estimated_savings": _num(row.savings),
        "units": u.pricing.units,
        "price_source": row.source,
        "note": "; ".join(row.notes) or None,
        "stops": [
            {
                "start": iso_z(v.stop.start),
                "end": iso_z(v.stop.end),
                "stopped_at": iso_z(v.stop.opened_at),
                "ended_at": iso_z(v.stop.closed_at) if v.stop.closed_at else None,
                "ended_by": v.stop.closed_by,
                "hours": _hours(v.stop.micros),
                "estimated_savings": _num(cents(v.savings)) if v.savings is not None else None,
            }
            for v in row.stops
        ],
    }


def _group(rows: Iterable[Row], name: str, key: Callable[[Row], str]) -> list[dict[str, Any]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    out = []
    for value, members in sorted(groups.items()):
        priced = [r for r in members if r.priced]
        out.append(
            {
                name: value,
                "resources": len(members),
                "stopped_hours": _hours(sum(r.usage.stopped_micros for r in members)),
                "running_hours": _hours(sum(r.usage.running_micros for r in members)),
                "estimated_savings": _num(sum((r.savings or Decimal(0) for r in priced), Decimal(0))),
                "estimated_running_cost": _num(sum((r.running_cost or Decimal(0) for r in priced), Decimal(0))),
                "unpriced_resources": len(members) - len(priced),
            }
        )
    return out


def savings_percent(rows: Iterable[Row]) -> float | None:
    """Savings as a share (in %) of what the same resources would have cost running the whole span."""
    saved = Decimal(0)
    full = Decimal(0)
    for r in rows:
        if not r.priced or r.hourly is None:
            continue
        s = r.savings or Decimal(0)
        saved += s
        full += s + (r.running_cost or Decimal(0))
    if full <= 0:
        return None
    return float(round(saved * 100 / full, 2))


def daily(rows: Iterable[Row], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Savings and stopped hours per UTC day of the month, overall and per schedule."""
    days: list[date] = []
    d = start.date()
    while datetime(d.year, d.month, d.day, tzinfo=UTC) < end:
        days.append(d)
        d += timedelta(days=1)
    saved: dict[date, dict[str, Decimal]] = {day: defaultdict(Decimal) for day in days}
    stopped: dict[date, int] = dict.fromkeys(days, 0)
    for r in rows:
        for v in r.stops:
            s = v.stop
            cur = s.start
            while cur < s.end:
                day = cur.date()
                nxt = min(s.end, datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1))
                micros = _micros(cur, nxt)
                if day in stopped:
                    stopped[day] += micros
                    if v.hourly is not None:
                        saved[day][r.usage.schedule] += hours(micros) * v.hourly
                cur = nxt
    return [
        {
            "date": day.isoformat(),
            "estimated_savings": _num(sum(saved[day].values(), Decimal(0))),
            "stopped_hours": _hours(stopped[day]),
            "by_schedule": {k: _num(v) for k, v in sorted(saved[day].items())},
        }
        for day in days
    ]


def project(
    usages_and_prices: Iterable[tuple[Usage, Decimal | None]], config: Config | None, at: datetime
) -> dict[str, Any]:
    """What the current schedules will save over the next 12 months (365 days from ``at``) at current prices.

    For each resource still managed: (8,760 − the schedule's running hours over the year) × its hourly price.
    Resources whose schedule has only start/stop events (no running windows) or is not in the configuration are
    left out and counted, as are unpriced ones.
    """
    end = at + YEAR
    total_hours = Decimal(YEAR // _MICRO) / _HOUR_MICROS
    result: dict[str, Any] = {
        "from": iso_z(at),
        "to": iso_z(end),
        "hours": float(total_hours),
        "resources": 0,
        "stopped_hours": 0.0,
        "estimated_savings": None,
        "unpriced_resources": 0,
        "unscheduled_resources": 0,
        "by_schedule": [],
        "note": None,
    }
    if config is None:
        result["note"] = "the stored configuration could not be read: no projection"
        return result
    evaluators: dict[str, Evaluator] = {}
    running: dict[str, Decimal | None] = {}
    per: dict[str, dict[str, Any]] = {}
    saved_total = Decimal(0)
    stopped_total = Decimal(0)
    for usage, price in usages_and_prices:
        name = usage.schedule
        if name not in config.schedules:
            result["unscheduled_resources"] += 1
            continue
        if name not in running:
            ev = evaluators[name] = Evaluator.from_config(config, name)
            windowed = ev.has_windows or ev.schedule.override_status is not None
            running[name] = Decimal(str(running_hours(ev.running(at, end)))) if windowed else None
        run = running[name]
        if run is None:
            result["unscheduled_resources"] += 1
            continue
        result["resources"] += 1
        slot = per.setdefault(
            name,
            {
                "schedule": name,
                "resources": 0,
                "running_hours": float(round(run, 4)),
                "stopped_hours": float(round(total_hours - run, 4)),
                "estimated_savings": Decimal(0),
                "unpriced_resources": 0,
            },
        )
        slot["resources"] += 1
        if price is None:
            result["unpriced_resources"] += 1
            slot["unpriced_resources"] += 1
            continue
        stopped_total += total_hours - run
        saved = (total_hours - run) * price
        slot["estimated_savings"] += saved
        saved_total += saved
    for slot in per.values():
        slot["estimated_savings"] = _num(slot["estimated_savings"])
    result["by_schedule"] = [per[k] for k in sorted(per)]
    result["stopped_hours"] = float(round(stopped_total, 4))
    result["estimated_savings"] = _num(saved_total) if result["resources"] > result["unpriced_resources"] else None
    if result["unscheduled_resources"]:
        result["note"] = (
            f"{result['unscheduled_resources']} resource(s) left out: their schedule is not in the configuration "
            "or has only start/stop events (no running time to project)"
        )
    return result


def build_report(
    month: str,
    at: datetime,
    rows: Sequence[Row],
    *,
    actual: Mapping[str, Any] | None = None,
    projection: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report as SPEC §3's JSON (``month``, ``currency``, ``resources``, ``totals``) plus breakdowns."""
    start, end = parse_month(month)
    limit = min(end, at)
    priced = [r for r in rows if r.priced]
    unpriced = [r for r in rows if not r.priced]
    by_schedule = _group(rows, "schedule", lambda r: r.usage.schedule)
    actual_by_schedule = (actual or {}).get("by_schedule_total") or {}
    for g in by_schedule:
        value = actual_by_schedule.get(g["schedule"]) if actual and actual.get("available") else None
        g["actual_cost"] = value
    totals = {
        "stopped_hours": _hours(sum(r.usage.stopped_micros for r in rows)),
        "estimated_savings": _num(sum((r.savings or Decimal(0) for r in priced), Decimal(0))),
        "actual_cost": (actual or {}).get("total") if actual and actual.get("available") else None,
        "savings_percent": savings_percent(rows),
        "running_hours": _hours(sum(r.usage.running_micros for r in rows)),
        "estimated_running_cost": _num(sum((r.running_cost or Decimal(0) for r in priced), Decimal(0))),
        "resources": len(rows),
        "unpriced_resources": len(unpriced),
        "unpriced_hours": _hours(sum(r.usage.stopped_micros for r in unpriced)),
    }
    return {
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
        "daily": daily(rows, start, end),
        "unpriced": [
            {
                "account": r.usage.key.account,
                "region": r.usage.key.region,
                "service": r.usage.key.service,
                "resource": r.usage.key.resource,
                "type": r.usage.pricing.type,
                "stopped_hours": _hours(r.usage.stopped_micros),
                "reason": "; ".join(r.notes) or "no price found",
            }
            for r in unpriced
        ],
        "actual": dict(actual) if actual is not None else None,
        "projection": dict(projection) if projection is not None else None,
    }


# --- reading the store -------------------------------------------------------------------------------------------


@dataclass
class LedgerView:
    entries: list[dict[str, Any]]
    opened: dict[ResourceKey, Mapping[str, Any]]
    records: dict[ResourceKey, ResourceRecord]
    months_read: int


def read_state(store: StateStore) -> dict[ResourceKey, ResourceRecord]:
    records: dict[ResourceKey, ResourceRecord] = {}
    for target_key in store.all_targets():
        parts = target_key.split("#")
        if len(parts) != 3:
            continue
        target = Target(*parts)
        found, _ = store.load(target)
        for rid, rec in found.items():
            records[ResourceKey(target.account, target.region, target.service, rid)] = rec
    return records


def read_ledger(store: StateStore, month: str) -> LedgerView:
    """The month's ledger, the stored state, and the stops still open when the month began."""
    entries = store.ledger_month(month)
    records = read_state(store)
    opened, reads = open_at_start(month, entries, records, store.ledger_month)
    return LedgerView(entries, opened, records, 1 + reads)
