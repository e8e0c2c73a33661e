"""How a service with a price list of its own (beyond EC2's and RDS's) is priced: what to ask the Price List Query
API for one :class:`~scheduler.services.pricing.PriceQuery`, which of the products it answers is the on-demand
rate, and which types its rows in a prices file may name. A service module defines one :class:`PriceList` as
``PRICE_LIST``; :mod:`scheduler.savings.prices` looks it up by name (the query's ``service``, the prices file's
``service`` column).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from scheduler.engine.errors import quote

from .pricing import PriceQuery

Filter = dict[str, str]
Document = Mapping[str, Any]
Choice = tuple[Decimal | None, str | None]


def term_match(field: str, value: str) -> Filter:
    """One GetProducts filter: ``field`` equals ``value``."""
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


def on_demand_rate(document: Document, *, hourly_only: bool = True) -> Decimal | None:
    """The USD rate in a PriceList document's OnDemand terms (``None`` when it has none). ``hourly_only``: only a
    price dimension whose unit is hours ("Hrs"); a unit-rate list (Fargate's vCPU-hours, GB-hours) takes any."""
    for term in (document.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            unit = str(dim.get("unit", "")).lower()
            usd = (dim.get("pricePerUnit") or {}).get("USD")
            if usd is None or (hourly_only and not unit.startswith("hr")):
                continue
            try:
                return Decimal(str(usd))
            except InvalidOperation:
                continue
    return None


def lowest_rate(rates: Iterable[Decimal]) -> Choice:
    """The rate among several products' rates for one unit, and a note when they differ: the lowest non-zero one (a
    zero rate next to real ones is a placeholder product, e.g. a host-billed line, not the unit's price)."""
    found = list(rates)
    distinct = sorted(set(found))
    if not distinct:
        return None, None
    if len(distinct) == 1:
        return distinct[0], None
    nonzero = [r for r in distinct if r > 0] or distinct
    return nonzero[0], f"{len(found)} matching price list products; the lowest rate ({nonzero[0]}) was used"


def is_on_demand(attrs: Mapping[str, Any]) -> bool:
    """Whether a product's attributes are an on-demand product (not a reservation, capacity block or unused line)."""
    usage = str(attrs.get("usagetype", ""))
    return attrs.get("marketoption") in (None, "OnDemand") and "Reservation" not in usage and "Unused" not in usage


def choose_matching(
    matches: Callable[[Mapping[str, Any], PriceQuery], bool], *, hourly_only: bool = True
) -> Callable[[Iterable[Document], PriceQuery], Choice]:
    """A :attr:`PriceList.choose` that takes the on-demand products whose attributes ``matches`` the query."""

    def choose(documents: Iterable[Document], query: PriceQuery) -> Choice:
        rates: list[Decimal] = []
        for doc in documents:
            attrs = (doc.get("product") or {}).get("attributes") or {}
            if not is_on_demand(attrs) or not matches(attrs, query):
                continue
            rate = on_demand_rate(doc, hourly_only=hourly_only)
            if rate is not None:
                rates.append(rate)
        return lowest_rate(rates)

    return choose


@dataclass(frozen=True)
class PriceList:
    """One price list: its Pricing API service code and how its products and file rows are read."""

    name: str  # as in PriceQuery.service and the prices file's service column
    service_code: str  # the Price List Query API's ServiceCode
    # GetProducts filters for a query; ``where`` is the region filter (regionCode, or location for older data);
    # None when no product of the list can match the query.
    filters: Callable[[PriceQuery, Filter], list[Filter] | None]
    # The hourly rate among GetProducts documents for a query, and a note when it had to choose
    # (usually :func:`choose_matching`).
    choose: Callable[[Iterable[Document], PriceQuery], Choice]
    # Why a prices file's (or an option's) ``type`` is not a type of this price list, or None when it is one.
    type_problem: Callable[[str], str | None]


def types_like(pattern: re.Pattern[str], what: str) -> Callable[[str], str | None]:
    """A :attr:`PriceList.type_problem` for the types that fully match ``pattern`` (``what``: such a type, for the
    message, e.g. "a Redshift node type (e.g. ra3.xlplus)")."""

    def problem(type_: str) -> str | None:
        return None if pattern.fullmatch(type_) else f"{quote(type_)} is not {what}"

    return problem


def by_instance_type(
    name: str,
    service_code: str,
    *,
    usage: Callable[[str, str], bool],
    type_problem: Callable[[str], str | None],
    listed_as: str = "{}",
    family: str | None = None,
) -> PriceList:
    """A price list whose products are found by instance type: GetProducts asks for the type as the list names it
    (``listed_as``, "{}" standing for the type; optionally only products of the ``productFamily`` ``family``), and
    the rate is that of an on-demand product of that instance type whose usage type, when it has one, is the type's
    usage (``usage(usagetype, type)``)."""

    def filters(query: PriceQuery, where: Filter) -> list[Filter]:
        found = [term_match("instanceType", listed_as.format(query.type)), where]
        return found if family is None else [*found, term_match("productFamily", family)]

    def matches(attrs: Mapping[str, Any], query: PriceQuery) -> bool:
        if attrs.get("instanceType") not in (None, listed_as.format(query.type)):
            return False
        usage_type = str(attrs.get("usagetype") or "")
        return not usage_type or usage(usage_type, query.type)

    return PriceList(name, service_code, filters, choose_matching(matches), type_problem)
