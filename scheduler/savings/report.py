"""One month's savings report from the store: the code behind ``isched report`` and the demo's report."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.engine import Config
from scheduler.store.state import StateStore

from .accounting import build_report, month_usages, parse_month, price_of, project, read_ledger, value_usages
from .costexplorer import METRICS, CostExplorer
from .prices import PriceBook, PriceTable


def cost_explorer_spend(month: str, instant: datetime, metric: str, tag_key: str) -> dict[str, Any]:
    """Actual spend of the tagged resources from Cost Explorer, up to the end of the report's day."""
    start, end = parse_month(month)
    today = instant.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end_day = min(end, today + timedelta(days=1))  # Cost Explorer's end date is exclusive, in whole UTC days
    return CostExplorer().month_spend(month, start.date(), end_day.date(), METRICS[metric], tag_key).to_json()


def not_asked(metric: str, tag_key: str, why: str) -> dict[str, Any]:
    return {"metric": METRICS[metric], "tag_key": tag_key, "available": False, "note": why, "requests": 0}


def monthly_report(
    store: StateStore,
    month: str,
    instant: datetime,
    prices: PriceTable,
    *,
    config: Config | None,
    pricing_api: bool,
    actual: Mapping[str, Any],
) -> dict[str, Any]:
    """The report's JSON (SPEC §3 shape plus breakdowns) for ``month`` counted up to ``instant``."""
    view = read_ledger(store, month)
    usages = month_usages(month, instant, view.entries, view.records, view.opened)
    book = PriceBook(prices, use_api=pricing_api)
    rows = value_usages(usages, book.price)
    current = [(r.usage, price_of(r.usage.current, book.price)[0]) for r in rows if r.usage.current is not None]
    report = build_report(month, instant, rows, actual=actual, projection=project(current, config, instant))
    report["ce_requests"] = int(actual.get("requests") or 0)
    report["pricing_api_requests"] = book.api_requests
    report["ledger_months_read"] = view.months_read
    book.save()
    return report
