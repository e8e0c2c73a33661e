"""How a service's usage is priced: what each of its resources costs per hour while running, as price-list
queries (:class:`PriceQuery`) times counts. Each service's ``pricing`` builds a :class:`Pricing` from what its
ledger entries and state records say; :mod:`scheduler.savings` looks the prices up and does the accounting.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

AURORA_IO_OPTIMIZED = "aurora-iopt1"


@dataclass(frozen=True)
class PriceQuery:
    """What one priced unit is: an EC2 instance type or an RDS DB instance class, and what changes its price."""

    service: str  # the price list it comes from: "ec2", "rds" or a service's own (redshift, sagemaker)
    region: str
    type: str  # instance type or DB instance class
    platform: str | None = None  # EC2 PlatformDetails ("Linux/UNIX" when unknown)
    tenancy: str | None = None  # EC2 tenancy: default | dedicated | host
    engine: str | None = None  # RDS Engine (postgres, aurora-postgresql, ...)
    deployment: str = "single-az"  # RDS: single-az | multi-az | multi-az-cluster
    license_model: str | None = None  # RDS LicenseModel
    storage: str | None = None  # Aurora cluster storage type (aurora-iopt1 = I/O-Optimized)
    origin: str | None = None  # "asg" for an Auto Scaling group's instances (its file rows come first)

    def cache_key(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None and k != "origin"}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def describe(self) -> str:
        if self.service == "rds":
            extra = [self.engine or "engine?", self.deployment]
            if self.storage == AURORA_IO_OPTIMIZED:
                extra.append("I/O-Optimized")
            return f"{self.type} ({', '.join(extra)}) in {self.region}"
        if self.service != "ec2":
            return f"{self.service} {self.type} in {self.region}"
        return f"{self.type} ({self.platform or 'Linux/UNIX'}, {self.tenancy or 'default'} tenancy) in {self.region}"


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


def whole(value: Any) -> int | None:
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
