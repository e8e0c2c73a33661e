"""An EC2 instance's price-list query: its type, platform and tenancy."""

from __future__ import annotations

from .base import ServiceDetails
from .ec2_details import typed_details
from .pricing import Component, PriceQuery, Pricing


def instance_pricing(region: str, instance_type: str | None, details: ServiceDetails) -> Pricing:
    if not instance_type:
        return Pricing(None, 1, problem="the instance type is unknown")
    seen = typed_details(details)
    query = PriceQuery("ec2", region, instance_type, platform=seen.get("platform"), tenancy=seen.get("tenancy"))
    return Pricing(instance_type, 1, (Component(query),))
