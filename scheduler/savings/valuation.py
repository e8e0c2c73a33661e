"""Usage valued at hourly prices. Money is exact (``Decimal``) until it is shown: each resource's savings are
rounded to the cent once, and every breakdown (per stop, per day, per type) splits those cents by largest
remainder, so every sum of printed figures equals the printed total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from scheduler.services.pricing import PriceQuery, Pricing

from .events import RUNNING, STOPPED
from .model import TypePrice
from .months import hours, split_days
from .prices import PriceAnswer
from .timeline import Stop
from .usage import Usage

CENT = Decimal("0.01")

PriceLookup = Callable[[PriceQuery], PriceAnswer]


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
    by_type: list[TypePrice] = field(default_factory=list)
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
                "hourly_price": to_float(k[1], 6),
                "stopped_hours": float_hours(sum(v.stop.micros for v in types[k])),
                "estimated_savings": to_float(share),
            }
        )


def to_float(value: Decimal | None, places: int = 2) -> float | None:
    return None if value is None else float(round(value, places))


def float_hours(micros: int) -> float:
    return float(round(hours(micros), 4))
