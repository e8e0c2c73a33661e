"""The savings report's JSON as typed dictionaries: the ``isched report --json`` contract (SPEC §3, the README's
"Report fields" table), from the builders (:mod:`.breakdown`, :mod:`.projection`, :mod:`.report`,
:mod:`.costexplorer`) to the renderers and the CLI.

Money is in US$ as floats rounded to the cent (prices to 6 places), hours as floats rounded to 4 places; ``None``
is unknown, never 0. Keys and nesting are what the report has always had: a key a report may lack is
``NotRequired`` (``months`` and ``by_tag`` are asked for; ``accounts``, ``reconciliation`` and the request counts are
added by :func:`.report.monthly_report` to what :func:`.breakdown.build_report` lays out).
"""

from typing import NotRequired, TypedDict

# One resource.


class StopJson(TypedDict):
    """One stop by the scheduler, clipped to the span."""

    start: str
    end: str
    stopped_at: str
    ended_at: str | None
    ended_by: str | None  # start, maintenance, resize, manual-start, manual-stop, gone; None: still stopped
    hours: float
    type: str | None
    hourly_price: float | None
    estimated_savings: float | None


class TypePrice(TypedDict):
    """A type a resource was stopped as, its price and what its stops at that type saved."""

    type: str | None
    hourly_price: float | None
    stopped_hours: float
    estimated_savings: float | None


class BillingWhileStopped(TypedDict):
    """What keeps billing while a resource is stopped, as its service estimates it (the optional figures are the
    ones a service records: storage size, type and rate, Elastic IPs)."""

    what: str
    estimated_cost: float | None
    note: NotRequired[str | None]
    storage_gb: NotRequired[float | None]
    storage_type: NotRequired[str | None]
    rate_per_gb_month: NotRequired[float]
    elastic_ips: NotRequired[int]


class ResourceCoverage(TypedDict):
    """Reserved Instance and Savings Plans coverage of a resource's stopped types (``None``: not known)."""

    reserved_instances_percent: float | None
    savings_plans_percent: float | None
    covered: bool | None


class ResourceJson(TypedDict):
    """One managed resource's row."""

    account: str
    region: str
    service: str
    resource: str
    name: str | None
    schedule: str
    type: str | None
    stopped_hours: float
    running_hours: float
    manual_stopped_hours: float
    manual_start_hours: float | None
    maintenance_hours: float
    override_hours: float | None
    managed_hours: float
    hourly_price: float | None
    estimated_savings: float | None
    estimated_running_cost: float | None
    units: int
    prices: list[TypePrice]
    price_source: str | None
    note: str | None
    gone_at: str | None
    billing_while_stopped: BillingWhileStopped | None
    commitment_coverage: ResourceCoverage | None
    tags: dict[str, str] | None
    stops: list[StopJson]


class UnpricedJson(TypedDict):
    """A resource without a price, and why."""

    account: str
    region: str
    service: str
    resource: str
    type: str | None
    stopped_hours: float
    reason: str


# Sums of rows: the totals and every group.


class Sums(TypedDict):
    """Hours and money of some rows (money and hours over priced resources only; the unpriced counted apart)."""

    resources: int
    stopped_hours: float
    running_hours: float
    manual_stopped_hours: float
    manual_start_hours: float | None
    maintenance_hours: float
    override_hours: float | None
    estimated_savings: float | None
    estimated_running_cost: float | None
    unpriced_resources: int
    unpriced_stopped_hours: float


class StorageTotals(TypedDict):
    estimated_cost: float | None
    estimated_resources: int
    not_estimated: list[str]


class Totals(Sums):
    actual_cost: float | None
    savings_percent: float | None
    priced_resources: int
    unpriced_hours: float
    cost_if_always_running: float | None
    billing_while_stopped: StorageTotals


class ScheduleGroup(Sums):
    schedule: str
    unpriced_hours: float
    actual_cost: float | None


class AccountGroup(Sums):
    account: str
    unpriced_hours: float
    actual_cost: NotRequired[float | None]  # with --linked-accounts


class ServiceGroup(Sums):
    service: str
    unpriced_hours: float


class TagGroup(Sums):
    value: str | None  # None: resources without the tag
    unpriced_hours: float


class ByTag(TypedDict):
    key: str
    groups: list[TagGroup]
    resources_without_stored_tags: int


class Day(TypedDict):
    """One UTC day; a day not begun at the report's ``at`` has nulls (unknown, not nothing saved)."""

    date: str
    estimated_savings: float | None
    stopped_hours: float | None
    unpriced_stopped_hours: float | None
    by_schedule: dict[str, float | None]


class Month(TypedDict):
    month: str
    stopped_hours: float
    estimated_savings: float | None
    actual_cost: float | None
    unpriced_stopped_hours: float
    cumulative_savings: NotRequired[float]


class Cumulative(TypedDict):
    since_month: str
    first_action_before_span: str | None
    estimated_savings_before_span: float
    estimated_savings: float
    note: str | None


# Cost Explorer's answers.


class ScheduleSpend(TypedDict):
    schedule: str
    service: str
    amount: float | None


class Actual(TypedDict):
    """Cost Explorer's tagged compute spend (or why there is none: ``available`` false and a ``note``)."""

    metric: str
    tag_key: str
    available: bool
    note: str | None
    requests: int
    total: NotRequired[float | None]
    all_services: NotRequired[float | None]
    untagged_compute: NotRequired[float | None]
    by_schedule_total: NotRequired[dict[str, float | None]]
    by_schedule: NotRequired[list[ScheduleSpend]]
    estimated: NotRequired[bool]
    request_cost: NotRequired[float]
    cached: NotRequired[bool]


class LinkedSpend(TypedDict):
    """The tagged compute spend per linked account (``--linked-accounts``)."""

    available: bool
    by_account: dict[str, float | None]
    note: str | None
    requests: int
    cached: NotRequired[bool]


ForecastMonth = TypedDict("ForecastMonth", {"from": str, "amount": float | None})

Forecast = TypedDict(
    "Forecast",
    {
        "from": str,
        "to": str,
        "metric": str,
        "tag_key": str,
        "tag_values": list[str] | None,
        "total": float | None,
        "lower_bound": float | None,
        "upper_bound": float | None,
        "by_month": list[ForecastMonth],
        "note": str | None,
        "cached": NotRequired[bool],
    },
)


class Answered(TypedDict):
    ec2: bool
    rds: bool
    savings_plans: bool


class Coverage(TypedDict):
    """Reserved Instance coverage per ``service|region|type`` and Savings Plans coverage per ``region|family``, in
    percent (a type or family missing from an answered question had none)."""

    available: bool
    reservations: dict[str, float]
    savings_plans: dict[str, float]
    answered: Answered
    notes: list[str]
    cached: NotRequired[bool]


class Accounts(TypedDict):
    calling_account: str | None
    in_report: list[str]
    covered: list[str] | None
    not_covered: list[str] | None
    scope: str
    by_account: dict[str, float | None]
    note: str | None


# The projection.


class ProjectedSchedule(TypedDict):
    schedule: str
    resources: int
    running_hours: float
    stopped_hours: float
    estimated_savings: float | None
    estimated_running_cost: float | None
    unpriced_resources: int


Projection = TypedDict(
    "Projection",
    {
        "from": str,
        "to": str,
        "hours": float,
        "resources": int,
        "stopped_hours": float,
        "estimated_savings": float | None,
        "estimated_running_cost": float | None,
        "unpriced_resources": int,
        "unscheduled_resources": int,
        "by_schedule": list[ProjectedSchedule],
        "method": str,
        "note": str | None,
        "cost_explorer_forecast": NotRequired[Forecast | None],
    },
)

# The reconciliation.

Period = TypedDict("Period", {"from": str, "to": str, "counted_to": str})

Baseline = TypedDict(
    "Baseline",
    {
        "from": str | None,
        "to": str | None,
        "days": int,
        "total": float | None,
        "per_day": float | None,
        "for_this_period": float | None,
        "note": str | None,
        "period_days": NotRequired[int],
    },
)


class Reconciliation(TypedDict):
    period: Period
    actual_cost: float | None
    expected_cost: float | None
    cost_if_always_running: float | None
    estimated_savings: float | None
    expected_cost_not_under_tag: float | None
    variance: float | None
    variance_percent: float | None
    variance_under_tag: float | None
    baseline: Baseline | None
    savings_vs_baseline: float | None
    explanation: list[str]


Report = TypedDict(
    "Report",
    {
        "month": str,  # YYYY-MM, or FIRST/LAST for a span of months (then from_month and to_month too)
        "currency": str,
        "at": str,
        "from": str,
        "to": str,
        "resources": list[ResourceJson],
        "totals": Totals,
        "by_schedule": list[ScheduleGroup],
        "by_account": list[AccountGroup],
        "by_service": list[ServiceGroup],
        "daily": list[Day],
        "unpriced": list[UnpricedJson],
        "actual": Actual | None,
        "projection": Projection | None,
        "notes": list[str],
        "months": NotRequired[list[Month]],
        "by_tag": NotRequired[ByTag],
        "from_month": NotRequired[str],
        "to_month": NotRequired[str],
        "cumulative": NotRequired[Cumulative],
        "accounts": NotRequired[Accounts],
        "commitment_coverage": NotRequired[Coverage | None],
        "reconciliation": NotRequired[Reconciliation],
        "ce_requests": NotRequired[int],
        "pricing_api_requests": NotRequired[int],
        "ledger_months_read": NotRequired[int],
    },
)
