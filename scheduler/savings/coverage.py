"""Reserved Instance and Savings Plans coverage from Cost Explorer: how much of each instance type's usage
Reserved Instances covered (``GetReservationCoverage``, EC2 and RDS) and of each instance family's spend Savings
Plans covered (``GetSavingsPlansCoverage``), asked through a :class:`.costexplorer.CostExplorer` (its request counter
and cache)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from .costexplorer import CostExplorer, explain, to_decimal
from .model import Coverage

SERVICE_EC2 = "Amazon Elastic Compute Cloud - Compute"
SERVICE_RDS = "Amazon Relational Database Service"


def commitment_coverage(explorer: CostExplorer, start: date, end: date) -> Coverage:
    """How much of each instance type's usage Reserved Instances covered (EC2 and RDS), and of each instance
    family's spend Savings Plans covered, over [start, end). Percentages; missing keys are not covered."""
    out: Coverage = {
        "available": False,
        "reservations": {},
        "savings_plans": {},
        "answered": {"ec2": False, "rds": False, "savings_plans": False},
        "notes": [],
    }
    key = explorer.cache_key("coverage", {"start": start, "end": end})
    cached = explorer.cache.get(key, explorer.ttl(end))
    remembered = read_coverage(cached)
    if remembered is not None:
        remembered["cached"] = True
        return remembered
    asked = 0
    services: tuple[tuple[str, Literal["ec2", "rds"]], ...] = ((SERVICE_EC2, "ec2"), (SERVICE_RDS, "rds"))
    for service, label in services:
        try:
            groups = _reservation_groups(explorer, start, end, service)
        except (ClientError, BotoCoreError) as exc:
            out["notes"].append(f"Reserved Instance coverage ({label}): {explain(exc, 'ce:GetReservationCoverage')}")
            continue
        asked += 1
        out["answered"][label] = True
        for attrs, pct in groups:
            itype = _attr(attrs, "instancetype")
            region = _attr(attrs, "region")
            if itype and pct is not None:
                out["reservations"][f"{label}|{region or '*'}|{itype}"] = float(round(pct, 2))
    try:
        plans = _savings_plans_groups(explorer, start, end)
    except (ClientError, BotoCoreError) as exc:
        out["notes"].append(f"Savings Plans coverage: {explain(exc, 'ce:GetSavingsPlansCoverage')}")
    else:
        asked += 1
        out["answered"]["savings_plans"] = True
        for attrs, pct in plans:
            family = _attr(attrs, "instancefamily", "instancetypefamily")
            region = _attr(attrs, "region")
            if family and pct is not None:
                out["savings_plans"][f"{region or '*'}|{family}"] = float(round(pct, 2))
    out["available"] = asked > 0
    if asked == 3:
        explorer.remember(key, out)
    return out


def _pages(explorer: CostExplorer, operation: str, params: dict[str, Any], token: str) -> Iterator[dict[str, Any]]:
    """Every page of a Cost Explorer ``operation`` (its next-page token named ``token`` both ways)."""
    while True:
        page = explorer.ask(operation, params)
        yield page
        following = page.get(token)
        if not following:
            return
        params = {**params, token: following}


def _period(start: date, end: date, *group_by: str) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "GroupBy": [{"Type": "DIMENSION", "Key": key} for key in group_by],
        "Granularity": "MONTHLY",
    }


def _reservation_groups(
    explorer: CostExplorer, start: date, end: date, service: str
) -> list[tuple[dict[str, str], Decimal | None]]:
    params = _period(start, end, "INSTANCE_TYPE", "REGION")
    params["Filter"] = {"Dimensions": {"Key": "SERVICE", "Values": [service]}}
    out: list[tuple[dict[str, str], Decimal | None]] = []
    for page in _pages(explorer, "get_reservation_coverage", params, "NextPageToken"):
        for period in page.get("CoveragesByTime") or []:
            for group in period.get("Groups") or []:
                hours_ = (group.get("Coverage") or {}).get("CoverageHours") or {}
                out.append((dict(group.get("Attributes") or {}), to_decimal(hours_.get("CoverageHoursPercentage"))))
    return out


def _savings_plans_groups(
    explorer: CostExplorer, start: date, end: date
) -> list[tuple[dict[str, str], Decimal | None]]:
    params = _period(start, end, "INSTANCE_FAMILY", "REGION")
    out: list[tuple[dict[str, str], Decimal | None]] = []
    for page in _pages(explorer, "get_savings_plans_coverage", params, "NextToken"):
        for item in page.get("SavingsPlansCoverages") or []:
            pct = to_decimal((item.get("Coverage") or {}).get("CoveragePercentage"))
            out.append((dict(item.get("Attributes") or {}), pct))
    return out


def _attr(attrs: Mapping[str, Any], *names: str) -> str | None:
    """An attribute of a coverage group, whatever its spelling (``instanceType``, ``INSTANCE_TYPE``...)."""
    for k, v in attrs.items():
        if k.lower().replace("_", "") in names and v:
            return str(v)
    return None


def read_coverage(value: object) -> Coverage | None:
    """A coverage answer :func:`commitment_coverage` cached (JSON in the cache file), or None when it is not one."""
    if not isinstance(value, dict):
        return None
    answered = value.get("answered")
    parts = (value.get("reservations"), value.get("savings_plans"))
    if not isinstance(answered, dict) or not all(isinstance(p, dict) for p in parts):
        return None
    reservations, plans = (
        {str(k): float(v) for k, v in p.items() if isinstance(v, int | float)} for p in parts if isinstance(p, dict)
    )
    return {
        "available": bool(value.get("available")),
        "reservations": reservations,
        "savings_plans": plans,
        "answered": {
            "ec2": bool(answered.get("ec2")),
            "rds": bool(answered.get("rds")),
            "savings_plans": bool(answered.get("savings_plans")),
        },
        "notes": [str(n) for n in value.get("notes") or []],
    }
