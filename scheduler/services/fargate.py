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
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .pricing import Filter, PriceList, PriceQuery

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


def _rate(document: Mapping[str, Any]) -> Decimal | None:
    """The USD rate of a document's OnDemand terms (one dimension; its unit is the usage type's: vCPU or GB-hours)."""
    for term in (document.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            usd = (dim.get("pricePerUnit") or {}).get("USD")
            if usd is None:
                continue
            try:
                return Decimal(str(usd))
            except InvalidOperation:
                continue
    return None


def choose(documents: Iterable[Mapping[str, Any]], query: PriceQuery) -> tuple[Decimal | None, str | None]:
    """The rate of ``query``'s unit among the region's documents, and a note when several products matched."""
    pattern = _PATTERNS.get(query.type)
    if pattern is None:
        return None, None
    rates: list[Decimal] = []
    for doc in documents:
        attrs = (doc.get("product") or {}).get("attributes") or {}
        if not pattern.match(str(attrs.get("usagetype", ""))):
            continue
        rate = _rate(doc)
        if rate is not None:
            rates.append(rate)
    distinct = sorted(set(rates))
    if not distinct:
        return None, None
    if len(distinct) == 1:
        return distinct[0], None
    nonzero = [r for r in distinct if r > 0] or distinct
    return nonzero[0], f"{len(rates)} matching price list products; the lowest rate ({nonzero[0]}) was used"


PRICE_LIST = PriceList(
    service_code=SERVICE_CODE,
    types={unit: what for unit, (_, what) in UNITS.items()},
    filters=filters,
    choose=choose,
)
