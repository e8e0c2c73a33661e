"""How a service's usage is priced: what each of its resources costs per hour while running, as price-list
queries (:class:`PriceQuery`) times counts. Each service's ``pricing`` builds a :class:`Pricing` from what its
ledger entries and state records say; :mod:`scheduler.savings` looks the prices up and does the accounting.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

AURORA_IO_OPTIMIZED = "aurora-iopt1"
# Cluster StorageType values of the I/O-Optimized configuration: Aurora's, and Neptune's and DocumentDB's.
IO_OPTIMIZED_STORAGE = frozenset({AURORA_IO_OPTIMIZED, "iopt1"})

# DB cluster engines whose clusters are billed per member instance (plus the cluster volume by GB used), by the
# family name people know them by. Every other cluster engine (mysql, postgres) makes a Multi-AZ DB cluster, billed
# as one deployment of its class. Neptune and DocumentDB have price lists of their own (AmazonNeptune,
# AmazonDocDB); Aurora is in AmazonRDS.
_INSTANCE_BILLED_CLUSTERS = {"neptune": "Neptune", "docdb": "DocumentDB"}


def cluster_family(engine: str | None) -> str | None:
    """ "Aurora", "Neptune" or "DocumentDB" for an engine whose clusters are billed per member instance, else None."""
    name = (engine or "").strip().lower()
    if name.startswith("aurora"):
        return "Aurora"
    return _INSTANCE_BILLED_CLUSTERS.get(name)


def own_price_list(engine: str | None) -> bool:
    """Whether ``engine`` (an RDS ``Engine``) is priced outside the RDS price list: Neptune and DocumentDB."""
    return (engine or "").strip().lower() in _INSTANCE_BILLED_CLUSTERS


@dataclass(frozen=True)
class PriceQuery:
    """What one priced unit is: an EC2 instance type, an RDS DB instance class or a unit of another price list
    (a Fargate vCPU-hour), and what changes its price."""

    service: str  # the price list it comes from: "ec2", "rds" or a service's own (:mod:`.price_list`)
    region: str
    type: str  # instance type, DB instance class, or the unit's name in its price list (e.g. "fargate-vcpu")
    platform: str | None = None  # EC2 PlatformDetails ("Linux/UNIX" when unknown)
    tenancy: str | None = None  # EC2 tenancy: default | dedicated | host
    engine: str | None = None  # RDS Engine (postgres, aurora-postgresql, neptune, docdb, ...)
    deployment: str = "single-az"  # RDS: single-az | multi-az | multi-az-cluster
    license_model: str | None = None  # RDS LicenseModel
    storage: str | None = None  # cluster storage type (aurora-iopt1, iopt1 = I/O-Optimized)
    # The service whose resource this is, when its prices file rows come before the price list's own ("asg" for an
    # Auto Scaling group's instances, "eks" for a node group's)
    origin: str | None = None

    def cache_key(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None and k != "origin"}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def describe(self) -> str:
        if self.service == "rds":
            extra = [self.engine or "engine?"]
            if not own_price_list(self.engine):  # Neptune and DocumentDB instances have no deployment option
                extra.append(self.deployment)
            if self.storage in IO_OPTIMIZED_STORAGE:
                extra.append("I/O-Optimized")
            return f"{self.type} ({', '.join(extra)}) in {self.region}"
        if self.service != "ec2":
            return f"{self.service} {self.type} in {self.region}"
        return f"{self.type} ({self.platform or 'Linux/UNIX'}, {self.tenancy or 'default'} tenancy) in {self.region}"


@dataclass(frozen=True)
class Component:
    """``count`` units of ``query``: whole instances, or a fraction where the unit is finer than the resource (a
    Fargate task of 0.25 vCPU is 0.25 vCPU-hours per hour)."""

    query: PriceQuery
    count: int | Decimal = 1


@dataclass(frozen=True)
class Pricing:
    """What one resource costs per hour while running: ``count`` × price of each component.

    ``type`` is the label shown in reports (an instance type, a DB class, or an Aurora, Neptune or DocumentDB
    cluster's member classes); ``units`` the number of instances (an ASG's desired capacity, such a cluster's
    members). ``problem`` says why the resource cannot be priced at all (no type known, capacity billed per ACU...).
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
