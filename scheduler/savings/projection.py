"""What the current schedules will save over the next 12 months at current prices."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from scheduler.engine import Config, Evaluator, iso_z
from scheduler.services.pricing import PriceQuery

from .model import ProjectedSchedule, Projection
from .months import MICRO, hours, micros_between
from .usage import Schedules, Usage
from .valuation import PriceLookup, cents, float_hours, to_float

YEAR = timedelta(days=365)  # the projection's horizon: 24 × 365 = 8,760 hours


@dataclass
class _Year:
    """A schedule over the projection's year: its running windows and, for ``period@type`` schedules, the type
    each window leaves the instance in (the type its following stop is priced at, as the monthly report does)."""

    running: list[tuple[datetime, datetime]]
    types: list[tuple[str | None, str | None]] | None  # per window: (type at its start, type at its end)

    @property
    def running_micros(self) -> int:
        return sum(micros_between(s, e) for s, e in self.running)


def _year(ev: Evaluator, start: datetime, end: datetime) -> _Year:
    running = ev.running(start, end)
    typed = any(ref.instance_type for ref, _ in ev.refs)
    types = None
    if typed:
        types = [(ev.instance_type_at(s), ev.instance_type_at(e - MICRO)) for s, e in running]
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
        saved += hours(micros_between(cursor, s)) * gap
        run_type = t_start or persisted
        run = price(run_type)
        if run is None:
            return None, None
        cost += hours(micros_between(s, e)) * run
        persisted = t_end or run_type
        cursor = e
    last = price(persisted)
    if last is None:
        return None, None
    saved += hours(micros_between(cursor, end)) * last
    return saved, cost


def project(
    usages_and_prices: Iterable[tuple[Usage, Decimal | None]],
    config: Config | None,
    at: datetime,
    *,
    lookup: PriceLookup | None = None,
) -> Projection:
    """What the current schedules will save over the next 12 months (365 days from ``at``) at current prices.

    For each resource still managed: its schedule's stopped hours over the year × its hourly price, and its running
    hours × the same price (what it will cost). For EC2 instances of ``period@type`` schedules (with ``lookup``),
    the way the monthly report prices them: a typed period runs at its type, and each stop is priced at the type
    the period before it left the instance in. Resources whose schedule has only start/stop events (no running
    windows) or is not in the configuration are left out and counted, as are unpriced ones. Each resource's figures
    are rounded to the cent, then added up.
    """
    end = at + YEAR
    year_micros = micros_between(at, end)
    total_hours = hours(year_micros)
    result: Projection = {
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
    schedules = Schedules(config)
    years: dict[str, _Year | None] = {}
    per: dict[str, ProjectedSchedule] = {}
    money: dict[str, tuple[Decimal, Decimal]] = {}  # per schedule: exact savings and running cost
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
                "running_hours": float_hours(run),
                "stopped_hours": float_hours(year_micros - run),
                "estimated_savings": None,
                "estimated_running_cost": None,
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
        so_far = money.get(name, (Decimal(0), Decimal(0)))
        money[name] = (so_far[0] + cents(saved), so_far[1] + cents(cost))
        saved_total += cents(saved)
        cost_total += cents(cost)
    for name, slot in per.items():
        if slot["unpriced_resources"] != slot["resources"]:
            saved_sum, cost_sum = money.get(name, (Decimal(0), Decimal(0)))
            slot["estimated_savings"] = to_float(saved_sum)
            slot["estimated_running_cost"] = to_float(cost_sum)
    result["by_schedule"] = [per[k] for k in sorted(per)]
    result["stopped_hours"] = float_hours(stopped_total)
    result["estimated_savings"] = to_float(saved_total) if priced_any else None
    result["estimated_running_cost"] = to_float(cost_total) if priced_any else None
    if result["unscheduled_resources"]:
        result["note"] = (
            f"{result['unscheduled_resources']} resource(s) left out: their schedule is not in the configuration "
            "or has only start/stop events (no running time to project)"
        )
    return result
