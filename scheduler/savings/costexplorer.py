"""Actual spend from Cost Explorer: what the scheduled resources really cost in the month, per schedule tag value.

One ``GetCostAndUsage`` query per month (paginated): granularity MONTHLY, grouped by the schedule tag and by
SERVICE, metric ``UnblendedCost`` (or ``AmortizedCost``, which spreads reservation and Savings Plans fees over the
usage they cover). Cost Explorer charges US$0.01 per request, so requests are counted and answers cached beside the
price cache (6 hours for a month whose figures may still change, 7 days for one closed for a few days).

Cost Explorer only groups by a tag that is *activated as a cost allocation tag*, and only from the activation on.
Without it every cost comes back under the empty tag value; the report then says so and how to activate it.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .prices import JsonCache, cache_dir

METRICS = {"unblended": "UnblendedCost", "amortized": "AmortizedCost"}
# What a stop saves is instance time: these are the Cost Explorer services that bill it. Other services (EBS
# volumes under "EC2 - Other", backups) go on costing while a resource is stopped and are reported apart.
COMPUTE_SERVICES = frozenset({"Amazon Elastic Compute Cloud - Compute", "Amazon Relational Database Service"})
REQUEST_PRICE = Decimal("0.01")
CE_REGION = "us-east-1"  # Cost Explorer's one endpoint
OPEN_TTL = timedelta(hours=6)
CLOSED_TTL = timedelta(days=7)
SETTLED_AFTER = timedelta(days=3)  # late charges and credits keep arriving for a few days after a month ends


def activation_hint(tag_key: str) -> str:
    return (
        f"activate '{tag_key}' as a cost allocation tag (Billing console → Cost allocation tags, or `aws ce "
        f"update-cost-allocation-tags-status --cost-allocation-tags-status TagKey={tag_key},Status=Active`); "
        "Cost Explorer groups by it from the activation on (it can take 24 hours to appear), not for earlier usage"
    )


@dataclass
class ActualSpend:
    month: str
    metric: str  # the Cost Explorer metric name
    tag_key: str
    available: bool = False
    total: Decimal | None = None  # tagged, compute services
    all_services: Decimal | None = None  # tagged, every service
    untagged: Decimal | None = None  # compute services without the tag
    by_schedule: dict[str, Decimal] = field(default_factory=dict)  # compute services, per tag value
    groups: list[tuple[str, str, Decimal]] = field(default_factory=list)  # (tag value, service, amount)
    estimated: bool = False
    note: str | None = None
    requests: int = 0
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        def money(v: Decimal | None) -> float | None:
            return None if v is None else float(round(v, 2))

        return {
            "metric": self.metric,
            "tag_key": self.tag_key,
            "available": self.available,
            "total": money(self.total),
            "all_services": money(self.all_services),
            "untagged_compute": money(self.untagged),
            "by_schedule_total": {k: money(v) for k, v in sorted(self.by_schedule.items())},
            "by_schedule": [
                {"schedule": s, "service": svc, "amount": money(a)} for s, svc, a in sorted(self.groups, key=_order)
            ],
            "estimated": self.estimated,
            "note": self.note,
            "requests": self.requests,
            "request_cost": float(REQUEST_PRICE * self.requests),
            "cached": self.cached,
        }


def _order(g: tuple[str, str, Decimal]) -> tuple[str, str]:
    return g[0], g[1]


def _amount(metrics: Mapping[str, Any], metric: str) -> Decimal:
    try:
        return Decimal(str((metrics.get(metric) or {}).get("Amount", "0")))
    except InvalidOperation:
        return Decimal(0)


def summarize(results_by_time: Iterable[Mapping[str, Any]], month: str, metric: str, tag_key: str) -> ActualSpend:
    """Reads ``ResultsByTime`` grouped by (TAG tag_key, DIMENSION SERVICE). Pure."""
    spend = ActualSpend(month, metric, tag_key)
    prefix = f"{tag_key}$"
    tagged_all = Decimal(0)
    tagged_compute = Decimal(0)
    untagged = Decimal(0)
    any_cost = False
    amounts: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for period in results_by_time:
        spend.estimated = spend.estimated or bool(period.get("Estimated"))
        for group in period.get("Groups") or []:
            keys = [str(k) for k in group.get("Keys") or []]
            tag = next((k for k in keys if k.startswith(prefix)), None)
            service = next((k for k in keys if k != tag), "")
            value = tag[len(prefix) :] if tag is not None else ""
            amount = _amount(group.get("Metrics") or {}, metric)
            any_cost = any_cost or amount != 0
            if not value:
                if service in COMPUTE_SERVICES:
                    untagged += amount
                continue
            amounts[(value, service)] += amount
            tagged_all += amount
            if service in COMPUTE_SERVICES:
                tagged_compute += amount
                spend.by_schedule[value] = spend.by_schedule.get(value, Decimal(0)) + amount
    spend.groups = [(v, s, a) for (v, s), a in amounts.items()]
    spend.untagged = untagged
    if amounts:
        spend.available = True
        spend.total = tagged_compute
        spend.all_services = tagged_all
    elif any_cost:
        spend.note = f"Cost Explorer returned no cost tagged '{tag_key}' for {month}: {activation_hint(tag_key)}"
    else:
        spend.note = f"Cost Explorer returned no cost at all for {month}"
    return spend


class CostExplorer:
    """``ce:GetCostAndUsage`` with a request counter and a cache (pass ``cache=JsonCache(None, ...)`` for none)."""

    def __init__(
        self,
        client: Any = None,
        *,
        cache: JsonCache | None = None,
        clock: Callable[[], datetime] | None = None,
        identity: str | None = None,
    ) -> None:
        if client is None:
            from scheduler.aws.session import client as make_client

            client = make_client("ce", region=CE_REGION, retries={"mode": "standard", "max_attempts": 3})
        self.client = client
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cache = cache if cache is not None else JsonCache(cache_dir() / "cost-explorer.json", CLOSED_TTL)
        self.identity = identity if identity is not None else _identity(client)
        self.requests = 0

    def month_spend(self, month: str, start: date, end: date, metric: str, tag_key: str) -> ActualSpend:
        """The spend of [start, end) (dates; ``end`` exclusive) grouped by ``tag_key`` and service."""
        key = json.dumps(
            {
                "month": month,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "metric": metric,
                "tag": tag_key,
                "endpoint": str(getattr(getattr(self.client, "meta", None), "endpoint_url", "")),
                "who": self.identity,
            },
            sort_keys=True,
        )
        settled = datetime(end.year, end.month, end.day, tzinfo=UTC) + SETTLED_AFTER <= self.clock()
        ttl = CLOSED_TTL if settled else OPEN_TTL
        cached = self.cache.get(key, ttl)
        if isinstance(cached, list):
            spend = summarize(cached, month, metric, tag_key)
            spend.cached = True
            return spend
        made = self.requests
        try:
            results = self._query(start, end, metric, tag_key)
        except (ClientError, BotoCoreError) as exc:
            spend = ActualSpend(month, metric, tag_key, note=_explain(exc))
            spend.requests = self.requests - made
            return spend
        self.cache.put(key, results)
        self.cache.save()
        spend = summarize(results, month, metric, tag_key)
        spend.requests = self.requests - made
        return spend

    def _query(self, start: date, end: date, metric: str, tag_key: str) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                "Granularity": "MONTHLY",
                "Metrics": [metric],
                "GroupBy": [{"Type": "TAG", "Key": tag_key}, {"Type": "DIMENSION", "Key": "SERVICE"}],
            }
            if token:
                params["NextPageToken"] = token
            self.requests += 1
            page = self.client.get_cost_and_usage(**params)
            results.extend(page.get("ResultsByTime") or [])
            token = page.get("NextPageToken")
            if not token:
                return results


def _identity(client: Any) -> str:
    # Cached answers belong to the credentials that got them: another account's bill is another answer.
    try:
        creds = client._request_signer._credentials
        access_key = creds.access_key if creds is not None else ""
    except AttributeError:
        access_key = ""
    return hashlib.sha256(access_key.encode()).hexdigest()[:16] if access_key else ""


def _explain(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "")
        message = str(err.get("Message") or "").strip()
        if message.startswith("<"):
            message = ""
        if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
            return "Cost Explorer refused the query: the credentials lack ce:GetCostAndUsage"
        if code == "DataUnavailableException":
            return (
                "Cost Explorer has no data for this period (it must be enabled for the account, and the first data "
                "appears about 24 hours after enabling it)"
            )
        return f"Cost Explorer could not be asked: {code or 'error'}{': ' + message[:200] if message else ''}"
    return f"Cost Explorer could not be reached: {str(exc)[:200]}"
