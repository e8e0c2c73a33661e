"""The Fargate price list (Price List service code ``AmazonECS``): what an ECS service's Fargate tasks cost.

Fargate bills each task by the vCPU and memory its task definition reserves, per hour: a vCPU-hour rate and a
GB-hour rate, with separate rates for ARM (Graviton) tasks. So a task of 0.25 vCPU and 0.5 GB costs 0.25 × the
vCPU rate + 0.5 × the GB rate per hour: the units priced here are one vCPU-hour and one GB-hour, counted
fractionally (:class:`~scheduler.services.pricing.Component`).

In the price list the rates are products whose ``usagetype`` is the unit's name behind a region prefix
(``USE1-Fargate-vCPU-Hours:perCPU``, ``EUC1-Fargate-ARM-GB-Hours``; older data for us-east-1 has no prefix). The
GetProducts query selects the region only (a usage type filter would need a table of region prefixes); the
documents are then matched on the usage type's name, so Spot, Windows, ephemeral storage and Spot discount lines
of the same region never count.

A prices file prices these units too: rows ``ecs,REGION,TYPE,USD`` with TYPE one of :data:`UNITS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scheduler.engine.errors import quote

from .price_list import Filter, PriceList, choose_matching
from .pricing import PriceQuery

SERVICE_CODE = "AmazonECS"

# A prices file's (and PriceQuery's) type -> the usage type's name in the price list, and what one unit is.
UNITS: dict[str, tuple[str, str]] = {
    "fargate-vcpu": ("Fargate-vCPU-Hours:perCPU", "one Fargate vCPU for an hour (x86)"),
    "fargate-gb": ("Fargate-GB-Hours", "one GB of Fargate memory for an hour (x86)"),
    "fargate-arm-vcpu": ("Fargate-ARM-vCPU-Hours:perCPU", "one Fargate vCPU for an hour (ARM)"),
    "fargate-arm-gb": ("Fargate-ARM-GB-Hours", "one GB of Fargate memory for an hour (ARM)"),
}

# Upper-case letters and digits and a dash: the region prefix; its absence is older us-east-1 data.
_PREFIX = r"(?:[A-Z0-9]+-)?"


def _usage_pattern(unit: str) -> re.Pattern[str]:
    return re.compile(_PREFIX + re.escape(UNITS[unit][0]) + r"\Z")


_PATTERNS = {unit: _usage_pattern(unit) for unit in UNITS}


def filters(query: PriceQuery, where: Filter) -> list[Filter] | None:
    """GetProducts filters for ``query``: its region only (``where``); None for a type that is no unit here."""
    if query.type not in UNITS:
        return None
    return [where]


def matches(attrs: Mapping[str, Any], query: PriceQuery) -> bool:
    """Whether a product is ``query``'s unit: its usage type names the unit (behind the region prefix)."""
    pattern = _PATTERNS.get(query.type)
    return pattern is not None and pattern.match(str(attrs.get("usagetype", ""))) is not None


def unit_problem(type_: str) -> str | None:
    """Why ``type_`` is not one of the units priced here, or None when it is."""
    if type_ in UNITS:
        return None
    return f"{quote(type_)} is not a unit of the Fargate price list (one of {', '.join(UNITS)})"


PRICE_LIST = PriceList(
    name="ecs",
    service_code=SERVICE_CODE,
    filters=filters,
    # Its rates are per vCPU-hour and GB-hour, not per "Hrs" of an instance.
    choose=choose_matching(matches, hourly_only=False),
    type_problem=unit_problem,
)
