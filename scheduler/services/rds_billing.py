"""What keeps billing while an RDS DB instance or cluster is stopped (its storage), and the estimate of it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from scheduler.services.base import ServiceDetails
from scheduler.services.pricing import cluster_family
from scheduler.services.rds_details import typed_details

# Storage, USD per GB-month at US East (N. Virginia) list rates (Single-AZ; Multi-AZ bills it twice). Provisioned
# IOPS and throughput, backups and snapshots are extra and not estimated. AWS prorates a GB-month over 730 hours.
STORAGE_GB_MONTH = {
    "gp2": Decimal("0.115"),
    "gp3": Decimal("0.115"),
    "io1": Decimal("0.125"),
    "io2": Decimal("0.125"),
    "standard": Decimal("0.10"),
}
HOURS_PER_MONTH = Decimal(730)


def billing_while_stopped(details: ServiceDetails, stopped_hours: Decimal) -> Mapping[str, Any]:
    d = typed_details(details)
    if d.get("kind") == "cluster":
        family = cluster_family(d.get("engine"))
        return {
            "what": "the cluster's storage" + (" (billed per GB used) and I/O" if family else ""),
            "estimated_cost": None,
            "note": "not estimated: "
            + (f"{family} bills the storage used, which no describe call returns" if family else "no rate is known"),
        }
    gb = d.get("allocated_storage")
    storage = d.get("storage_type") or ""
    rate = STORAGE_GB_MONTH.get(storage)
    if gb is None or rate is None:
        return {
            "what": "allocated storage",
            "estimated_cost": None,
            "note": "not estimated: "
            + ("the allocated storage is not recorded" if gb is None else f"no rate for storage type '{storage}'"),
        }
    copies = 2 if d.get("multi_az") else 1
    return {
        "what": f"{gb} GB of {storage} storage" + (" (Multi-AZ: two copies)" if copies == 2 else ""),
        "storage_gb": gb,
        "storage_type": storage,
        "rate_per_gb_month": float(rate * copies),
        "estimated_cost": stopped_hours * gb * rate * copies / HOURS_PER_MONTH,
        "note": "at US East (N. Virginia) list rates, over the stopped hours; provisioned IOPS, backups excluded",
    }
