"""How a service with a price list of its own (beyond EC2's and RDS's) is priced: what to ask the Price List Query
API for one :class:`~scheduler.services.pricing.PriceQuery`, which of the products it answers is the on-demand
rate, and which types its rows in a prices file may name. A service module defines one :class:`PriceList`;
:mod:`scheduler.savings.prices` looks it up by name (the query's ``service``, the prices file's ``service`` column).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .pricing import PriceQuery

Filter = dict[str, str]


def term_match(field: str, value: str) -> Filter:
    """One GetProducts filter: ``field`` equals ``value``."""
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


@dataclass(frozen=True)
class PriceList:
    """One price list: its Pricing API service code and how its products and file rows are read."""

    name: str  # as in PriceQuery.service and the prices file's service column
    service_code: str  # the Price List Query API's ServiceCode
    # GetProducts filters for a query; ``where`` is the region filter (regionCode, or location for older data).
    filters: Callable[[PriceQuery, Filter], list[Filter] | None]
    # Whether a product's attributes (``product.attributes`` of a PriceList document) are the query's on-demand unit.
    matches: Callable[[Mapping[str, Any], PriceQuery], bool]
    # Why a prices file's (or an option's) ``type`` is not a type of this price list, or None when it is one.
    type_problem: Callable[[str], str | None]
