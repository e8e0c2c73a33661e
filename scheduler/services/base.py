"""The contract every service (EC2, Auto Scaling, RDS, ECS, EKS...) implements: :class:`Service`, and the
:class:`ServiceAdapter` it makes for the worker. The services themselves are listed in :mod:`.registry`.

Adapters talk to AWS; they decide nothing. The worker discovers resources, lets the pure engine decide, and
hands the adapter batches to act on. Every batch method returns one :class:`ActionResult` per resource, so one
resource's failure is reported with its id and never stops the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import boto3

from scheduler.engine import Observed

from .naming import ClientSource, Found, Operation, Reference, TagCall, arn_mismatch
from .pricing import Pricing

if TYPE_CHECKING:
    from .ssm_windows import Execution

# A resource's details as its service's adapter builds them: each service declares its keys as a TypedDict
# (``Ec2Details``, ``RdsDetails``...) and reads them back through its own typed reader; everyone else reads only
# the common keys, through :func:`scheduler.services.details.common`.
ServiceDetails = Mapping[str, object]


@dataclass
class Resource:
    """A discovered resource carrying a schedule tag.

    ``details`` holds what pricing needs later (platform, tenancy, engine, Multi-AZ, capacity, cluster members)
    and what the adapter needs to act (e.g. ``kind`` instance|cluster for RDS, the ASG's current sizes).
    """

    service: str
    id: str
    schedule: str
    observed: Observed
    arn: str | None = None
    instance_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    details: ServiceDetails = field(default_factory=dict)
    restarted_by_service: bool = False
    # Set when the resource cannot be scheduled at all (e.g. an RDS read replica): reported, never acted on.
    unschedulable: str | None = None
    # Keys of ``details`` that only describe the live state, which every discovery reads again (EC2's state and
    # its reason, RDS's status): a change in them alone does not rewrite the resource's stored record, so the
    # quiet pass after an action writes nothing.
    volatile: frozenset[str] = frozenset()

    @classmethod
    def tagged(
        cls,
        service: str,
        ident: str,
        tags: dict[str, str],
        tag_key: str,
        observed: Observed,
        details: ServiceDetails,
        *,
        arn: str | None = None,
        instance_type: str | None = None,
        unschedulable: str | None = None,
        volatile: frozenset[str] = frozenset(),
    ) -> Resource:
        """A resource discovery found with the schedule tag ``tag_key`` (its value, blanks around it left out, is the
        schedule): one with an empty tag is reported, never acted on, as is one ``unschedulable`` gives a reason."""
        schedule = tags[tag_key].strip()
        why = unschedulable or (None if schedule else "the schedule tag is empty")
        return cls(
            service, ident, schedule, observed, arn, instance_type, tags, details, unschedulable=why, volatile=volatile
        )


@dataclass
class ActionResult:
    resource: str
    ok: bool
    error: str | None = None
    # What the action learned or changed: e.g. an ASG's saved capacity, an instance's new type. A
    # :data:`ServiceDetails` the adapter may still add to while it finishes the batch (hence a dict); the worker
    # reads it through :func:`scheduler.services.details.outcome`.
    details: dict[str, object] = field(default_factory=dict)
    # Something worth knowing about an action that succeeded (e.g. a copy of the saved capacity in a tag that could
    # not be written): reported as a warning.
    warning: str | None = None


class ServiceAdapter(Protocol):
    """One service in one region and account, for one pass."""

    name: str
    # Whether ``resize`` can change the type (a period's ``name@type`` applies); otherwise it reports an error.
    resizable: bool
    # Set by the worker before ``discover``: the previous pass, so that a service that reports its own restarts
    # (RDS restarts a stopped instance after 7 days) looks back that far; None = the service's default window.
    events_since: datetime | None
    # Non-fatal problems of the last ``discover`` (e.g. no permission to read events), reported as warnings.
    warnings: list[str]

    def discover(self, tag_key: str) -> list[Resource]:
        """Every resource of this service in the region with the tag ``tag_key`` (paginated, tag-filtered)."""
        ...

    def stop(self, resources: list[Resource], *, hibernate: bool = False) -> list[ActionResult]: ...

    def start(self, resources: list[Resource], *, saved: dict[str, dict[str, Any]]) -> list[ActionResult]:
        """Starts resources; ``saved`` maps ids to what their stop saved (ASG capacity)."""
        ...

    def resize(self, resource: Resource, instance_type: str) -> ActionResult:
        """Changes the type and leaves the resource running (stop, modify, start where the service needs it)."""
        ...

    def set_tags(self, tags: dict[str, dict[str, str]]) -> list[ActionResult]:
        """Sets informational tags (last action, last error), batched per the service's maxima."""
        ...


@runtime_checkable
class MaintenanceWindowSource(Protocol):
    """An adapter whose resources can follow SSM maintenance windows (EC2: ``ssm_maintenance_windows``)."""

    def maintenance_windows(self, names: Sequence[str], at: datetime) -> list[Execution]:
        """The executions of the named windows open at ``at`` or to come (problems go to ``warnings``)."""
        ...


class Service(Protocol):
    """One service: what the registry hands out (each service module defines ``SERVICE``).

    Scheduling goes through its :meth:`adapter`; the rest lets ``isched tag`` name its resources by id, name or
    ARN and write the schedule tag on them, batched as its API allows.
    """

    name: str  # as in --services, the ledger and the report's service column

    @property
    def kinds(self) -> Mapping[str, str]:
        """Each kind of resource it schedules, with its name for people ("EC2 instance")."""
        ...

    @property
    def named_kinds(self) -> tuple[str, ...]:
        """The kinds a bare name (not an id, not an ARN) may denote, in lookup order."""
        ...

    @property
    def plural(self) -> str:
        """What it schedules, for people ("EC2 instances")."""
        ...

    @property
    def arn_service(self) -> str:
        """The service field of its resources' ARNs."""
        ...

    @property
    def saves_capacity(self) -> bool:
        """Whether a stop saves a capacity (sizes, counts) that the start restores and the price scales with."""
        ...

    @property
    def price_list(self) -> str:
        """The price list (and Reserved Instance coverage) its usage falls under: "ec2", "rds", or one of
        :data:`scheduler.savings.prices.PRICE_LISTS` ("ecs": Fargate)."""
        ...

    def adapter(self, region: str, session: boto3.Session, **options: Any) -> ServiceAdapter:
        """The adapter for one region and account; ``options`` are deployment settings it may ignore."""
        ...

    def billing_while_stopped(self, details: ServiceDetails, stopped_hours: Decimal) -> Mapping[str, Any]:
        """What goes on billing while one of its resources is stopped (storage, addresses): ``what``, ``note`` and
        ``estimated_cost`` (a Decimal in USD over ``stopped_hours``, or None when not estimated)."""
        ...

    def billed_under_own_tag(self, pricing: Pricing) -> bool:
        """Whether what is billed for a resource so priced carries the resource's own schedule tag (not so for an
        Auto Scaling group's instances, or an Aurora cluster's): Cost Explorer then allocates its cost to the tag."""
        ...

    def pricing(
        self, region: str, instance_type: str | None, details: ServiceDetails, capacity: Mapping[str, Any] | None
    ) -> Pricing:
        """What one resource costs per hour while running, from what a ledger entry or state record says of it
        (``capacity``: what its stop saved, for a service that :attr:`saves_capacity`)."""
        ...

    def kind_of_id(self, text: str) -> str | None:
        """The kind of resource ``text`` is the id of, if only this service uses such ids (EC2's ``i-…``)."""
        ...

    def kinds_for_name(self, text: str) -> tuple[str, ...]:
        """The kinds a bare name ``text`` may denote (none when the API would reject such a name)."""
        ...

    def parse_arn(self, value: str, resource: str) -> tuple[str, str]:
        """(kind, id) from the resource part of an ARN of this service; :class:`InvalidResource` if it names
        nothing this service schedules (``value``: the argument as given, for the message)."""
        ...

    def normalise(self, kind: str, ident: str) -> str:
        """An id as the service compares ids (RDS: case-insensitively)."""
        ...

    def lookup(self, clients: ClientSource, region: str, kind: str, ids: list[str]) -> Iterable[Found]:
        """The resources of ``kind`` among ``ids`` (normalised) in ``region``; batched, missing ids left out."""
        ...

    def find_tagged(
        self, clients: ClientSource, region: str, key: str, value: str
    ) -> Iterator[tuple[str, Iterable[Found]]]:
        """Listings that hold every resource with tag ``key=value`` (what each lists, its resources)."""
        ...

    def problem(self, ref: Reference, found: Found) -> str | None:
        """Why ``found`` is not what ``ref`` names after all (an ARN of another account), or cannot be tagged
        (a terminated instance)."""
        ...

    def refusal(self, found: Found, op: Operation) -> str | None:
        """Why ``found`` must not get the schedule tag, if it must not (an RDS cluster member)."""
        ...

    def members(self, found: Found) -> tuple[str, list[str]] | None:
        """(kind, ids) of the resources that carry ``found``'s schedule tag with it (an Aurora cluster's
        instances, billed in its place)."""
        ...

    def tag_writer(
        self, clients: ClientSource, region: str, kind: str, op: Operation, key: str, value: str
    ) -> tuple[int, TagCall]:
        """The batch size and the call that tags (or untags) one batch of resources of ``kind``."""
        ...

    @property
    def tagging_types(self) -> tuple[str, ...]:
        """The Resource Groups Tagging API's resource types (``service:type``) that list its resources, so the
        orchestrator can tell with one ``tag:GetResources`` per account and region whether it has anything to
        schedule there; empty when that API does not list them (then :meth:`any_tagged` is asked)."""
        ...

    def any_tagged(self, clients: ClientSource, region: str, key: str) -> bool | None:
        """Whether ``region`` holds any of its resources with tag ``key``, by one cheap call of its own API; None
        when it cannot tell cheaply (its targets are then always invoked)."""
        ...


class ServiceBase:
    """What most services answer alike; a service module subclasses it and overrides what differs (its
    :meth:`adapter`, lookups, listings and tag writers are its own).

    Most services schedule one kind of resource, named as the service: such a service names it for people in
    :attr:`kind_name`, and its kinds, the kinds a name may denote, its plural, its ARNs' service field and its price
    list follow from that and its name unless it says otherwise."""

    name: str
    kinds: Mapping[str, str]
    # The one kind's name for people ("Redshift cluster"); a service of several kinds sets ``kinds`` instead.
    kind_name = ""

    def __init__(self) -> None:
        if self.kind_name:
            self.kinds = {self.name: self.kind_name}

    @property
    def named_kinds(self) -> tuple[str, ...]:
        """Every kind (a service whose resources have no names, as EC2's, sets none)."""
        return tuple(self.kinds)

    @property
    def plural(self) -> str:
        return f"{self.kind_name}s"

    @property
    def arn_service(self) -> str:
        return self.name

    @property
    def price_list(self) -> str:
        return self.name

    # What :meth:`adapter` makes, given the region and ``session=``; a service whose adapter takes deployment
    # options (RDS) overrides :meth:`adapter` instead.
    adapter_type: Callable[..., ServiceAdapter]
    # What the API accepts as a name: a bare name that does not match is not sent (None: any name is).
    name_pattern: re.Pattern[str] | None = None
    # Whether the service compares ids (and ARNs) without regard to case (RDS, Redshift, SageMaker).
    case_insensitive = False
    saves_capacity = False

    def adapter(self, region: str, session: boto3.Session, **options: Any) -> ServiceAdapter:
        return self.adapter_type(region, session=session)

    def kind_of_id(self, text: str) -> str | None:
        return None

    def kinds_for_name(self, text: str) -> tuple[str, ...]:
        if self.name_pattern is not None and not self.name_pattern.match(text):
            return ()
        return self.named_kinds

    def normalise(self, kind: str, ident: str) -> str:
        return ident.lower() if self.case_insensitive else ident

    def problem(self, ref: Reference, found: Found) -> str | None:
        return arn_mismatch(ref, found, self.kinds[found.kind], fold_case=self.case_insensitive)

    def refusal(self, found: Found, op: Operation) -> str | None:
        return None

    def members(self, found: Found) -> tuple[str, list[str]] | None:
        return None

    tagging_types: tuple[str, ...] = ()

    def any_tagged(self, clients: ClientSource, region: str, key: str) -> bool | None:
        return None

    def billed_under_own_tag(self, pricing: Pricing) -> bool:
        return True
