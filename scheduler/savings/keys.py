"""Which resource a ledger entry is about, and what its time is priced as (the service's pricing of its type,
details and capacity, as the ledger last recorded them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scheduler.services import registry
from scheduler.services.pricing import Pricing, whole
from scheduler.store.state import ResourceRecord, Target


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


def saves_capacity(service: str) -> bool:
    """Whether a stop of ``service`` saves a capacity that its start restores (and that its price scales with)."""
    return service in registry.SERVICES and registry.get(service).saves_capacity


def pricing_for(
    service: str,
    region: str,
    instance_type: str | None,
    details: Mapping[str, Any] | None,
    capacity: Mapping[str, Any] | None = None,
) -> Pricing:
    """How a resource is priced, from what the ledger or the state record says about it (each service knows)."""
    if service not in registry.SERVICES:
        return Pricing(instance_type, 1, problem=f"service '{service}' is not priced")
    return registry.get(service).pricing(region, instance_type, details or {}, capacity)


def entry_pricing(entry: Mapping[str, Any], fallback: Known | None = None) -> Pricing:
    """How what a ledger entry describes is priced; what the entry lacks comes from ``fallback`` (what earlier
    entries said)."""
    service = str(entry["service"])
    details = entry.get("details") or (fallback.details if fallback is not None else None) or {}
    itype = entry.get("instance_type") or (fallback.instance_type if fallback is not None else None)
    capacity = entry.get("capacity") or (
        fallback.capacity if fallback is not None and saves_capacity(service) else None
    )
    return pricing_for(service, str(entry["region"]), itype, details, capacity)


def record_pricing(key: ResourceKey, rec: ResourceRecord) -> Pricing:
    """How a resource is priced now, from its state record (what the projection uses)."""
    capacity = None
    if saves_capacity(key.service) and not whole((rec.details or {}).get("desired")):
        capacity = rec.saved_capacity  # stopped now: the size it runs at is the one its stop saved
    return pricing_for(key.service, key.region, rec.instance_type, rec.details, capacity)


@dataclass
class Known:
    """What the ledger last said about a resource's type, details and capacity (for pricing its running time)."""

    instance_type: str | None = None
    details: Mapping[str, Any] | None = None
    capacity: Mapping[str, Any] | None = None

    def update(self, entry: Mapping[str, Any]) -> None:
        if entry.get("instance_type"):
            self.instance_type = str(entry["instance_type"])
        if entry.get("details"):
            self.details = entry["details"]
        if entry.get("capacity"):
            self.capacity = entry["capacity"]

    def fill(self, instance_type: str | None, details: Mapping[str, Any] | None, capacity: Any) -> None:
        self.instance_type = self.instance_type or instance_type
        self.details = self.details or details
        self.capacity = self.capacity or capacity

    def pricing(self, key: ResourceKey) -> Pricing:
        capacity = self.capacity if saves_capacity(key.service) else None
        if capacity is not None and not whole(capacity.get("desired")):
            capacity = None  # a group seen at zero (stopped) says nothing of the size it runs at
        return pricing_for(key.service, key.region, self.instance_type, self.details, capacity)
