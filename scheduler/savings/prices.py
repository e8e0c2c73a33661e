"""What a price is, and the price lists isched knows beyond EC2's and RDS's.

An hourly on-demand price comes from, in order, the prices file (:mod:`.price_file`), the local cache
(:mod:`.price_cache`) and the AWS Price List Query API (:mod:`.price_api`); :class:`.price_book.PriceBook` asks them
in that order. A price that none of them knows is *unknown* (``None``), never zero: reports count what is unpriced
instead of under-reporting it as a saving of $0.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from scheduler.services.price_list import PriceList

# RDS ``Engine`` values billed in a price list of their own (service code), with one product per instance class
# (attributes instanceType and productFamily "Database Instance"; no databaseEngine, no deploymentOption). Every
# other engine is in AmazonRDS.
RDS_OWN_PRICE_LISTS = {"neptune": "AmazonNeptune", "docdb": "AmazonDocDB"}

# Price lists beyond EC2's and RDS's, by the name a PriceQuery's ``service`` gives: the module that describes each
# (its ``PRICE_LIST``: GetProducts service code, filters, how a document is chosen, the prices file's types).
PRICE_LISTS: dict[str, str] = {
    "ecs": "scheduler.services.fargate",
    "redshift": "scheduler.services.redshift",
    "sagemaker": "scheduler.services.sagemaker",
}


def price_list(name: str) -> PriceList | None:
    """The price list called ``name`` if a service module describes it (imported on first use)."""
    module = PRICE_LISTS.get(name)
    return cast(PriceList, importlib.import_module(module).PRICE_LIST) if module is not None else None


@dataclass(frozen=True)
class PriceAnswer:
    hourly: Decimal | None
    source: str | None = None  # "file" | "pricing-api" | "cache"
    note: str | None = None
