"""The contract every service (EC2, Auto Scaling, RDS) implements: :class:`Service`, and the
:class:`ServiceAdapter` it makes for the worker. The services themselves are listed in :mod:`.registry`.

Adapters talk to AWS; they decide nothing. The worker discovers resources, lets the pure engine decide, and
hands the adapter batches to act on. Every batch method returns one :class:`ActionResult` per resource, so one
resource's failure is reported with its id and never stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import boto3

from scheduler.engine import Observed


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
    details: dict[str, Any] = field(default_factory=dict)
    restarted_by_service: bool = False
    # Set when the resource cannot be scheduled at all (e.g. an RDS read replica): reported, never acted on.
    unschedulable: str | None = None


@dataclass
class ActionResult:
    resource: str
    ok: bool
    error: str | None = None
    # What the action learned or changed: e.g. an ASG's saved capacity, an instance's new type.
    details: dict[str, Any] = field(default_factory=dict)


class ServiceAdapter(Protocol):
    """One service in one region and account, for one pass."""

    name: str
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


class Service(Protocol):
    """One service: what the registry hands out (each service module defines ``SERVICE``)."""

    name: str  # as in --services, the ledger and the report's service column

    def adapter(self, region: str, session: boto3.Session, **options: Any) -> ServiceAdapter:
        """The adapter for one region and account; ``options`` are deployment settings it may ignore."""
        ...
