"""An RDS DB instance's or DB cluster's price-list queries: per engine, deployment, license model and, for the
members of an Aurora, Neptune or DocumentDB cluster, per instance class."""

from __future__ import annotations

from collections import Counter

from scheduler.services.base import ServiceDetails
from scheduler.services.pricing import IO_OPTIMIZED_STORAGE, Component, PriceQuery, Pricing, cluster_family
from scheduler.services.rds_details import RdsDetails, typed_details


def db_pricing(region: str, instance_type: str | None, details: ServiceDetails) -> Pricing:
    """A DB instance at its class's rate for its engine, deployment and license model; a DB cluster as
    :func:`cluster_pricing` says."""
    d = typed_details(details)
    if d.get("kind") == "cluster":
        return cluster_pricing(region, d)
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


# What a serverless member instance (class db.serverless) is billed by, per cluster family.
_CAPACITY_UNITS = {"Aurora": "ACU", "Neptune": "NCU", "DocumentDB": "DCU"}


def cluster_pricing(region: str, d: RdsDetails) -> Pricing:
    """An Aurora, Neptune or DocumentDB cluster is billed as its member instances, each at its class's rate in its
    engine's price list (and its I/O-Optimized rate with that storage); the cluster itself has no hourly price.
    Any other DB cluster is a Multi-AZ DB cluster: one deployment of its class."""
    engine = d.get("engine") or ""
    family = cluster_family(engine)
    members = d.get("members") or []
    classes = [m["class"] or None for m in members]
    if family is None:
        # A Multi-AZ DB cluster: one writer and two readable standbys of one class, billed as one deployment.
        cls = d.get("cluster_instance_class") or next((c for c in classes if c), None)
        if not cls:
            return Pricing(None, len(members) or 3, problem="the DB cluster's instance class is unknown")
        query = PriceQuery("rds", region, cls, engine=engine, deployment="multi-az-cluster")
        return Pricing(cls, len(members) or 3, (Component(query),))
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
        serverless = "Aurora Serverless v2" if family == "Aurora" else f"{family} serverless"
        unit = _CAPACITY_UNITS[family]
        return Pricing(
            label, len(members), problem=f"{serverless} members are billed per {unit}-hour, not per instance"
        )
    storage_type = d.get("storage_type") or ""
    storage = storage_type if storage_type in IO_OPTIMIZED_STORAGE else None
    parts = tuple(
        Component(PriceQuery("rds", region, c, engine=engine, storage=storage), n) for c, n in sorted(counts.items())
    )
    return Pricing(label, len(members), parts)
