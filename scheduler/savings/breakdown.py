"""The report's JSON (:class:`.model.Report`) from valued rows: per resource, totals, per schedule, account,
service, day, month and tag, what keeps billing while stopped, and the notes a reader must know.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar, cast

from scheduler.engine import iso_z
from scheduler.services import registry

from .model import (
    AccountGroup,
    Actual,
    BillingWhileStopped,
    ByTag,
    Day,
    Month,
    Projection,
    Report,
    ResourceJson,
    ScheduleGroup,
    StorageTotals,
    Sums,
    TagGroup,
    Totals,
)
from .months import DAY, day_start, hours, parse_month
from .valuation import Row, cents, float_hours, to_float

K = TypeVar("K", bound=str | None)

ON_DEMAND_NOTE = (
    "Savings are valued at on-demand list prices (the prices file or the AWS Price List); Reserved Instances, "
    "Savings Plans, spot and negotiated discounts make a stop save less than shown (see commitment_coverage)."
)


def billing_while_stopped(row: Row) -> BillingWhileStopped | None:
    """What goes on billing while the resource is stopped (storage, addresses), estimated where the ledger knows
    enough (each service says what); ``None`` for a resource never stopped by the scheduler in the span."""
    u = row.usage
    if not u.stops or u.key.service not in registry.SERVICES:
        return None
    details = u.stops[-1].pieces[-1].stop.get("details") if u.stops[-1].pieces and u.stops[-1].pieces[-1].stop else {}
    figures = registry.get(u.key.service).billing_while_stopped(details or {}, hours(u.stopped_micros))
    exact = figures.get("estimated_cost")
    out = {**figures, "estimated_cost": to_float(cents(exact)) if isinstance(exact, Decimal) else exact}
    # The services' interface gives its figures as a mapping; the model names the keys they set.
    return cast(BillingWhileStopped, out)


def resource_json(row: Row) -> ResourceJson:
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
        "stopped_hours": float_hours(u.stopped_micros),
        "running_hours": float_hours(u.running_micros),
        "manual_stopped_hours": float_hours(u.manual_stopped_micros),
        "manual_start_hours": float_hours(u.manual_start_micros) if u.manual_start_micros is not None else None,
        "maintenance_hours": float_hours(u.maintenance_micros),
        "override_hours": float_hours(u.override_micros) if u.override_micros is not None else None,
        "managed_hours": float_hours(u.managed_micros),
        "hourly_price": to_float(row.hourly, 6),
        "estimated_savings": to_float(row.savings),
        "estimated_running_cost": to_float(row.running_cost),
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
                "hours": float_hours(v.stop.micros),
                "type": v.stop.pricing.type,
                "hourly_price": to_float(v.hourly, 6),
                "estimated_savings": to_float(v.cents),
            }
            for v in row.stops
        ],
    }


def _money_sum(values: Iterable[Decimal | None]) -> Decimal:
    return sum((v for v in values if v is not None), Decimal(0))


def _sums(rows: Sequence[Row]) -> Sums:
    """Hours and money of ``rows``: money and hours over priced resources only; the unpriced are counted apart."""
    priced = [r for r in rows if r.priced]
    unpriced = [r for r in rows if not r.priced]
    known_run = [r for r in priced if r.running_cost is not None]
    return {
        "resources": len(rows),
        "stopped_hours": float_hours(sum(r.usage.stopped_micros for r in priced)),
        "running_hours": float_hours(sum(r.usage.running_micros for r in priced)),
        "manual_stopped_hours": float_hours(sum(r.usage.manual_stopped_micros for r in priced)),
        "manual_start_hours": None
        if any(r.usage.manual_start_micros is None for r in priced)
        else float_hours(sum(r.usage.manual_start_micros or 0 for r in priced)),
        "maintenance_hours": float_hours(sum(r.usage.maintenance_micros for r in priced)),
        "override_hours": None
        if any(r.usage.override_micros is None for r in priced)
        else float_hours(sum(r.usage.override_micros or 0 for r in priced)),
        "estimated_savings": to_float(_money_sum(r.savings for r in priced)) if priced or not rows else None,
        "estimated_running_cost": to_float(_money_sum(r.running_cost for r in known_run)) if known_run else None,
        "unpriced_resources": len(unpriced),
        "unpriced_stopped_hours": float_hours(sum(r.usage.stopped_micros for r in unpriced)),
    }


def _grouped(rows: Iterable[Row], key: Callable[[Row], K]) -> list[tuple[K, Sums]]:
    """The rows grouped by ``key`` (sorted, ``None`` last), each group's sums."""
    groups: dict[K, list[Row]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return [(value, _sums(groups[value])) for value in sorted(groups, key=lambda v: (v is None, v or ""))]


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
    while day_start(d) < end:
        days.append(d)
        d += DAY
    return days


def daily(rows: Sequence[Row], start: datetime, end: datetime, limit: datetime | None = None) -> list[Day]:
    """Savings and stopped hours per UTC day of the span, overall and per schedule; they add up to the totals.

    A day that has not begun at ``limit`` (the instant the report counts up to) is listed with nulls: nothing is
    known of it yet, which is not the same as nothing saved."""
    priced = [r for r in rows if r.priced]
    known = bool(priced) or not rows
    out: list[Day] = []
    for day in _days(start, end):
        if limit is not None and day_start(day) >= limit:
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
                "estimated_savings": to_float(_money_sum(r.by_day.get(day) for r in priced)) if known else None,
                "stopped_hours": float_hours(sum(r.day_micros.get(day, 0) for r in priced)),
                "unpriced_stopped_hours": float_hours(sum(r.day_micros.get(day, 0) for r in rows if not r.priced)),
                "by_schedule": {k: to_float(v) for k, v in sorted(by_schedule.items())},
            }
        )
    return out


def monthly(rows: Sequence[Row], months: Sequence[str]) -> list[Month]:
    """Savings and stopped hours per UTC month (sums of the days: they add up to the totals)."""
    priced = [r for r in rows if r.priced]
    known = bool(priced) or not rows
    out: list[Month] = []
    for m in months:

        def inside(d: date, m: str = m) -> bool:
            return d.strftime("%Y-%m") == m

        out.append(
            {
                "month": m,
                "stopped_hours": float_hours(sum(n for r in priced for d, n in r.day_micros.items() if inside(d))),
                "estimated_savings": to_float(_money_sum(c for r in priced for d, c in r.by_day.items() if inside(d)))
                if known
                else None,
                "actual_cost": None,
                "unpriced_stopped_hours": float_hours(
                    sum(n for r in rows if not r.priced for d, n in r.day_micros.items() if inside(d))
                ),
            }
        )
    return out


def by_tag(rows: Sequence[Row], tag_key: str) -> ByTag:
    """The rows grouped by the value of one of their tags; resources without it are the group ``None``."""
    groups: list[TagGroup] = [
        {"value": v, **g, "unpriced_hours": g["unpriced_stopped_hours"]}
        for v, g in _grouped(rows, lambda r: (r.usage.tags or {}).get(tag_key))
    ]
    return {
        "key": tag_key,
        "groups": groups,
        "resources_without_stored_tags": sum(1 for r in rows if r.usage.tags is None),
    }


def _storage_totals(rows: Sequence[Row]) -> StorageTotals:
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
        "estimated_cost": to_float(sum(known, Decimal(0))) if known else None,
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
            f"{float_hours(sum(r.usage.stopped_micros for r in unpriced)):,} stopped hours are not in the savings "
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
    actual: Actual | None = None,
    projection: Projection | None = None,
    span: tuple[datetime, datetime] | None = None,
    months: Sequence[str] | None = None,
    group_by_tag: str | None = None,
) -> Report:
    """The report as SPEC §3's JSON (``month``, ``currency``, ``resources``, ``totals``) plus breakdowns.

    ``month`` is ``YYYY-MM``, or ``YYYY-MM/YYYY-MM`` for a span of several months (``span`` and ``months`` give
    them); every money figure is a sum of rounded per-resource figures, so the printed numbers add up.
    """
    start, end = span if span is not None else parse_month(month)
    limit = min(end, at)
    unpriced = [r for r in rows if not r.priced]
    available = actual is not None and actual["available"]
    actual_by_schedule = (actual.get("by_schedule_total") if actual is not None else None) or {}
    by_schedule: list[ScheduleGroup] = [
        {
            "schedule": v,
            **g,
            "unpriced_hours": g["unpriced_stopped_hours"],
            "actual_cost": actual_by_schedule.get(v) if available else None,
        }
        for v, g in _grouped(rows, lambda r: r.usage.schedule)
    ]
    sums = _sums(rows)
    totals: Totals = {
        **sums,
        "actual_cost": actual.get("total") if actual is not None and available else None,
        "savings_percent": savings_percent(rows),
        "priced_resources": len(rows) - len(unpriced),
        "unpriced_hours": sums["unpriced_stopped_hours"],
        "cost_if_always_running": to_float(
            _money_sum(r.cost_if_always_running for r in rows if r.priced and r.cost_if_always_running is not None)
        )
        if any(r.priced and r.cost_if_always_running is not None for r in rows)
        else None,
        "billing_while_stopped": _storage_totals(rows),
    }
    report: Report = {
        "month": month,
        "currency": "USD",
        "at": iso_z(limit),
        "from": iso_z(start),
        "to": iso_z(end),
        "resources": [resource_json(r) for r in rows],
        "totals": totals,
        "by_schedule": by_schedule,
        "by_account": [
            # actual_cost is added only with --linked-accounts (report.py): strict mypy wants it in some item.
            AccountGroup(account=v, **g, unpriced_hours=g["unpriced_stopped_hours"])  # type: ignore[typeddict-item]
            for v, g in _grouped(rows, lambda r: r.usage.key.account)
        ],
        "by_service": [
            {"service": v, **g, "unpriced_hours": g["unpriced_stopped_hours"]}
            for v, g in _grouped(rows, lambda r: r.usage.key.service)
        ],
        "daily": daily(rows, start, end, limit),
        "unpriced": [
            {
                "account": r.usage.key.account,
                "region": r.usage.key.region,
                "service": r.usage.key.service,
                "resource": r.usage.key.resource,
                "type": resource_json(r)["type"],
                "stopped_hours": float_hours(r.usage.stopped_micros),
                "reason": "; ".join(r.notes) or "no price found",
            }
            for r in unpriced
        ],
        "actual": actual.copy() if actual is not None else None,
        "projection": projection.copy() if projection is not None else None,
        "notes": report_notes(rows),
    }
    if months is not None:
        report["months"] = monthly(rows, months)
    if group_by_tag is not None:
        report["by_tag"] = by_tag(rows, group_by_tag)
    return report
