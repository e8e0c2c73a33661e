"""Actual spend from Cost Explorer: what the scheduled resources really cost, per schedule tag value, and what
Cost Explorer knows around it (its forecast, Reserved Instance and Savings Plans coverage, the linked accounts).

``GetCostAndUsage`` (paginated): granularity MONTHLY, grouped by the schedule tag and by SERVICE, metric
``UnblendedCost`` (or ``AmortizedCost``, which spreads reservation and Savings Plans fees over the usage they cover);
with ``--linked-accounts`` a second query groups the tagged compute spend by LINKED_ACCOUNT. ``GetCostForecast``
forecasts the tagged compute spend for the next 12 months; ``GetReservationCoverage`` and
``GetSavingsPlansCoverage`` (:mod:`.coverage`) tell how much of the stopped types' usage commitments cover,
through :meth:`CostExplorer.ask`. Cost Explorer charges
US$0.01 per request, so requests are counted and answers cached beside the price cache (6 hours for figures that may
still change, 7 days for a month closed for a few days); an empty answer (nothing under the tag yet, a failure) is
never cached, so that a tag activated or backfilled since shows at once.

Cost Explorer answers for the calling account: a member account sees its own costs, an organization's management
(payer) account sees every member's. It only groups by a tag that is *activated as a cost allocation tag*, from the
activation on, or as far back as a backfill (up to 12 months) reaches. Without it every cost comes back under the
empty tag value; the report then says so and how to activate (and backfill) it.
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

from .model import Actual, Forecast, LinkedSpend
from .price_cache import JsonCache, cache_dir

METRICS = {"unblended": "UnblendedCost", "amortized": "AmortizedCost"}
# What a stop saves is instance time: these are the Cost Explorer services that bill it. Other services (EBS
# volumes under "EC2 - Other", backups) go on costing while a resource is stopped and are reported apart. Redshift
# and SageMaker bill their storage under the same service name as their node and instance hours. EKS node groups'
# instances bill as EC2, Fargate tasks under ECS, and Neptune and DocumentDB clusters under services of their own.
COMPUTE_SERVICES = frozenset(
    {
        "Amazon Elastic Compute Cloud - Compute",
        "Amazon Relational Database Service",
        "Amazon Neptune",
        "Amazon DocumentDB (with MongoDB compatibility)",
        "Amazon Elastic Container Service",
        "Amazon Redshift",
        "Amazon SageMaker",
    }
)
REQUEST_PRICE = Decimal("0.01")
CE_REGION = "us-east-1"  # Cost Explorer's one endpoint
OPEN_TTL = timedelta(hours=6)
CLOSED_TTL = timedelta(days=7)
SETTLED_AFTER = timedelta(days=3)  # late charges and credits keep arriving for a few days after a month ends


def activation_hint(tag_key: str) -> str:
    return (
        f"activate '{tag_key}' as a cost allocation tag (Billing console → Cost allocation tags, or `aws ce "
        f"update-cost-allocation-tags-status --cost-allocation-tags-status TagKey={tag_key},Status=Active`; "
        "it can take 24 hours to appear), then backfill it to cover up to 12 months of earlier usage (console: "
        "Backfill tags, or `aws ce start-cost-allocation-tag-backfill --backfill-from YYYY-MM-01T00:00:00Z`); "
        "usage from before the tag was on a resource stays untagged"
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

    def to_json(self) -> Actual:
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


def ce_client() -> Any:
    """The Cost Explorer client (one endpoint, us-east-1); tests replace this to answer what moto cannot."""
    from scheduler.aws.session import client as make_client

    return make_client("ce", region=CE_REGION, retries={"mode": "standard", "max_attempts": 3})


def caller_account(client: Any = None) -> str | None:
    """The account whose credentials ask Cost Explorer (STS GetCallerIdentity); None when it cannot be told."""
    try:
        if client is None:
            from scheduler.aws.session import client as make_client

            client = make_client("sts", retries={"mode": "standard", "max_attempts": 2})
        return str(client.get_caller_identity()["Account"])
    except (ClientError, BotoCoreError, KeyError):
        return None


FORECAST_METRICS = {"UnblendedCost": "UNBLENDED_COST", "AmortizedCost": "AMORTIZED_COST"}


def _compute_filter() -> dict[str, Any]:
    return {"Dimensions": {"Key": "SERVICE", "Values": sorted(COMPUTE_SERVICES)}}


def _tag_filter(tag_key: str, values: Iterable[str] | None) -> dict[str, Any]:
    """The resources carrying ``tag_key`` with one of ``values`` (any value when None: not ABSENT)."""
    if values is None:
        return {"Not": {"Tags": {"Key": tag_key, "MatchOptions": ["ABSENT"]}}}
    return {"Tags": {"Key": tag_key, "Values": sorted(set(values)), "MatchOptions": ["EQUALS"]}}


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 2))


def to_decimal(value: Any) -> Decimal | None:
    """A Cost Explorer amount as a Decimal; None when it is missing or not a number."""
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


class CostExplorer:
    """Cost Explorer queries with a request counter and a cache (pass ``cache=JsonCache(None, ...)`` for none)."""

    def __init__(
        self,
        client: Any = None,
        *,
        cache: JsonCache | None = None,
        clock: Callable[[], datetime] | None = None,
        identity: str | None = None,
    ) -> None:
        self.client = client if client is not None else ce_client()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cache = cache if cache is not None else JsonCache(cache_dir() / "cost-explorer.json", CLOSED_TTL)
        self.identity = identity if identity is not None else _identity(self.client)
        self.requests = 0

    def ask(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One Cost Explorer request (``operation`` is the client's method name), counted: each costs US$0.01."""
        self.requests += 1
        return dict(getattr(self.client, operation)(**params))

    def cache_key(self, kind: str, params: Mapping[str, Any]) -> str:
        """The cache key of a question: its kind and parameters, the endpoint and who asks."""
        return json.dumps(
            {
                "kind": kind,
                **params,
                "endpoint": str(getattr(getattr(self.client, "meta", None), "endpoint_url", "")),
                "who": self.identity,
            },
            sort_keys=True,
            default=str,
        )

    def ttl(self, end: date) -> timedelta:
        """How long an answer about a period ending at ``end`` is kept: longer once the month has settled."""
        settled = datetime(end.year, end.month, end.day, tzinfo=UTC) + SETTLED_AFTER <= self.clock()
        return CLOSED_TTL if settled else OPEN_TTL

    def remember(self, key: str, value: Any) -> None:
        self.cache.put(key, value)
        self.cache.save()

    def month_spend(self, month: str, start: date, end: date, metric: str, tag_key: str) -> ActualSpend:
        """The spend of [start, end) (dates; ``end`` exclusive) grouped by ``tag_key`` and service.

        Only an answer with tagged cost in it is cached: an empty one (no data yet, the tag not activated or not
        backfilled yet) is asked again next time.
        """
        key = self.cache_key("spend", {"month": month, "start": start, "end": end, "metric": metric, "tag": tag_key})
        cached = self.cache.get(key, self.ttl(end))
        if isinstance(cached, list):
            spend = summarize(cached, month, metric, tag_key)
            spend.cached = True
            return spend
        made = self.requests
        try:
            results = self._query(start, end, metric, tag_key)
        except (ClientError, BotoCoreError) as exc:
            spend = ActualSpend(month, metric, tag_key, note=explain(exc))
            spend.requests = self.requests - made
            return spend
        spend = summarize(results, month, metric, tag_key)
        if spend.available:
            self.remember(key, results)
        spend.requests = self.requests - made
        return spend

    def months_spend(
        self, months: list[str], start: date, end: date, metric: str, tag_key: str
    ) -> dict[str, ActualSpend]:
        """The spend of [start, end) month by month (one query, MONTHLY granularity), keyed by ``YYYY-MM``."""
        key = self.cache_key("months", {"start": start, "end": end, "metric": metric, "tag": tag_key})
        cached = self.cache.get(key, self.ttl(end))
        made = self.requests
        results: list[dict[str, Any]] | None = cached if isinstance(cached, list) else None
        note = None
        if results is None:
            try:
                results = self._query(start, end, metric, tag_key)
            except (ClientError, BotoCoreError) as exc:
                note = explain(exc)
        out: dict[str, ActualSpend] = {}
        for m in months:
            periods = [p for p in results or [] if str((p.get("TimePeriod") or {}).get("Start", ""))[:7] == m]
            spend = summarize(periods, m, metric, tag_key) if results is not None else ActualSpend(m, metric, tag_key)
            if note:
                spend.note = note
            spend.cached = cached is not None
            out[m] = spend
        if cached is None and results is not None and any(s.available for s in out.values()):
            self.remember(key, results)
        if out:
            next(iter(out.values())).requests = self.requests - made
        return out

    def _query(self, start: date, end: date, metric: str, tag_key: str) -> list[dict[str, Any]]:
        return self._pages(
            {
                "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                "Granularity": "MONTHLY",
                "Metrics": [metric],
                "GroupBy": [{"Type": "TAG", "Key": tag_key}, {"Type": "DIMENSION", "Key": "SERVICE"}],
            }
        )

    def _pages(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            call = dict(params)
            if token:
                call["NextPageToken"] = token
            page = self.ask("get_cost_and_usage", call)
            results.extend(page.get("ResultsByTime") or [])
            token = page.get("NextPageToken")
            if not token:
                return results

    def linked_spend(self, start: date, end: date, metric: str, tag_key: str) -> LinkedSpend:
        """The tagged compute spend of [start, end) per linked account (asked from the management account)."""
        key = self.cache_key("linked", {"start": start, "end": end, "metric": metric, "tag": tag_key})
        cached = self.cache.get(key, self.ttl(end))
        made = self.requests
        if isinstance(cached, list):
            results = cached
        else:
            try:
                results = self._pages(
                    {
                        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                        "Granularity": "MONTHLY",
                        "Metrics": [metric],
                        "Filter": _compute_filter(),
                        "GroupBy": [{"Type": "TAG", "Key": tag_key}, {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}],
                    }
                )
            except (ClientError, BotoCoreError) as exc:
                return {"available": False, "by_account": {}, "note": explain(exc), "requests": self.requests - made}
        prefix = f"{tag_key}$"
        by_account: dict[str, Decimal] = defaultdict(Decimal)
        for period in results:
            for group in period.get("Groups") or []:
                keys = [str(k) for k in group.get("Keys") or []]
                tag = next((k for k in keys if k.startswith(prefix)), None)
                account = next((k for k in keys if k != tag), "")
                if tag is None or not tag[len(prefix) :]:
                    continue
                by_account[account] += _amount(group.get("Metrics") or {}, metric)
        available = bool(by_account)
        if available and not isinstance(cached, list):
            self.remember(key, results)
        return {
            "available": available,
            "by_account": {a: _money(v) for a, v in sorted(by_account.items())},
            "note": None if available else f"Cost Explorer returned no compute cost tagged '{tag_key}' per account",
            "requests": self.requests - made,
            "cached": isinstance(cached, list),
        }

    def forecast(self, start: date, end: date, metric: str, tag_key: str, values: Iterable[str] | None) -> Forecast:
        """Cost Explorer's forecast of the tagged compute spend over [start, end) (GetCostForecast, monthly)."""
        values = sorted(set(values)) if values is not None else None
        out: Forecast = {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "metric": FORECAST_METRICS.get(metric, "UNBLENDED_COST"),
            "tag_key": tag_key,
            "tag_values": values,
            "total": None,
            "lower_bound": None,
            "upper_bound": None,
            "by_month": [],
            "note": None,
        }
        if values is not None and not values:
            out["note"] = "no schedule to forecast"
            return out
        key = self.cache_key(
            "forecast", {"start": start, "end": end, "metric": metric, "tag": tag_key, "values": values}
        )
        cached = self.cache.get(key, OPEN_TTL)
        answer: dict[str, Any] | None = cached if isinstance(cached, dict) else None
        if answer is None:
            params = {
                "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                "Metric": out["metric"],
                "Granularity": "MONTHLY",
                "Filter": {"And": [_tag_filter(tag_key, values), _compute_filter()]},
                "PredictionIntervalLevel": 80,
            }
            try:
                got = self.ask("get_cost_forecast", params)
            except (ClientError, BotoCoreError) as exc:
                out["note"] = explain(exc, "ce:GetCostForecast")
                return out
            answer = {"Total": got.get("Total") or {}, "ForecastResultsByTime": got.get("ForecastResultsByTime") or []}
        total = to_decimal((answer.get("Total") or {}).get("Amount"))
        if total is None:
            out["note"] = "Cost Explorer gave no forecast (too little history under the tag: it needs some)"
            return out
        if not isinstance(cached, dict):
            self.remember(key, answer)
        lower = upper = Decimal(0)
        bounded = True
        for period in answer.get("ForecastResultsByTime") or []:
            mean = to_decimal(period.get("MeanValue"))
            lo = to_decimal(period.get("PredictionIntervalLowerBound"))
            hi = to_decimal(period.get("PredictionIntervalUpperBound"))
            if lo is None or hi is None:
                bounded = False
            else:
                lower += lo
                upper += hi
            out["by_month"].append(
                {"from": str((period.get("TimePeriod") or {}).get("Start", "")), "amount": _money(mean)}
            )
        out["total"] = _money(total)
        if bounded and out["by_month"]:
            out["lower_bound"], out["upper_bound"] = _money(lower), _money(upper)
        out["cached"] = isinstance(cached, dict)
        return out


def _identity(client: Any) -> str:
    # Cached answers belong to the credentials that got them: another account's bill is another answer.
    try:
        creds = client._request_signer._credentials
        access_key = creds.access_key if creds is not None else ""
    except AttributeError:
        access_key = ""
    return hashlib.sha256(access_key.encode()).hexdigest()[:16] if access_key else ""


def explain(exc: Exception, action: str = "ce:GetCostAndUsage") -> str:
    """Why Cost Explorer did not answer ``action``, in a sentence for the report's notes."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "")
        message = str(err.get("Message") or "").strip()
        if message.startswith("<"):
            message = ""
        if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
            return f"Cost Explorer refused the query: the credentials lack {action}"
        if code == "DataUnavailableException":
            return (
                "Cost Explorer has no data for this period (it must be enabled for the account, and the first data "
                "appears about 24 hours after enabling it)"
            )
        return f"Cost Explorer could not be asked: {code or 'error'}{': ' + message[:200] if message else ''}"
    return f"Cost Explorer could not be reached: {str(exc)[:200]}"
