"""ECS services: discovery by tag, stop (desired count to 0) and start (the desired count from before the stop).

A service is named ``CLUSTER/SERVICE`` (its cluster's name and its own; service names are unique per cluster
only) or by its ARN in the long format (``arn:…:ecs:REGION:ACCOUNT:service/CLUSTER/SERVICE``). Services with a
short ARN (``service/SERVICE``, from before the long format) cannot carry tags, so they can be neither scheduled
nor tagged.

A stop first writes the desired count into the service's tag ``isched:saved-capacity`` (``desired=3``), then sets
it to 0: as for an Auto Scaling group, the count lives on the service too, so a crash between the two calls or a
lost state table never loses it. A start restores the count from the state table, else from the tag; with
neither, it reports an error rather than guess. A service found running at a start, or scaled up by hand while
stopped, is left at the count it has.

Both launch types are scheduled alike (the desired count is what runs); only Fargate tasks are priced (per vCPU
and GB-hour, :mod:`.fargate`). EC2 launch type tasks run on container instances billed as EC2 instances: their
price is unknown here (schedule the instances' Auto Scaling group to save on them).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from scheduler.engine import Observed

from .base import ActionResult, Resource, Service, ServiceBase, ServiceDetails
from .capacity import SAVED_CAPACITY_TAG, SavedCapacity, SavedFromTags, TaggedOneByOne, desired_to_price
from .common import ClusterListing, aws_error, chunks, not_estimated, tag_each
from .details import number, text, texts
from .naming import ClientSource, Found, InvalidResource, Operation, Reference, TagCall, arn_mismatch
from .pricing import Component, PriceQuery, Pricing

log = logging.getLogger(__name__)

# ListClusters and ListServices maxResults: at most 100; DescribeServices: at most 10 services per call (API
# reference). TagResource and UntagResource take one resource ARN per call.
MAX_PAGE_SIZE = 100
DESCRIBE_BATCH = 10
TAG_BATCH = 1
# What ListClusters and the listing of a cluster's members answer.
_CLUSTERS = ClusterListing("clusterArns", "list_services", "cluster", "serviceArns", "ClusterNotFoundException")

# Cluster and service names: up to 255 letters, digits, hyphens and underscores (CreateCluster, CreateService).
_NAME = r"[A-Za-z0-9_-]{1,255}"
_ID = re.compile(rf"^(?P<cluster>{_NAME})/(?P<service>{_NAME})\Z")
_ARN_LONG = re.compile(rf"^service/(?P<cluster>{_NAME})/(?P<service>{_NAME})\Z")
_ARN_SHORT = re.compile(rf"^service/(?P<service>{_NAME})\Z")

# Task sizes: CPU units (1024 = one vCPU) or "N vCPU"; memory in MiB or "N GB" (task definition parameters).
_VCPU_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*vcpu\s*\Z", re.IGNORECASE)
_GB_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*gb\s*\Z", re.IGNORECASE)
_KIB = Decimal(1024)


SAVED = SavedCapacity(
    noun="ECS service",
    keys=("desired",),
    stored="the stored count {} is",
    nothing="no desired count was saved for it",
    by_hand="set its desired count by hand",
    unsaved=f"could not save its desired count in tag {SAVED_CAPACITY_TAG} ({{}}); left running so that it is not lost",
)


def service_id(service: Mapping[str, Any]) -> str:
    """``CLUSTER/SERVICE`` of a DescribeServices answer."""
    return f"{str(service['clusterArn']).rsplit('/', 1)[-1]}/{service['serviceName']}"


def tag_dict(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """ECS's tag list (lower-case ``key``/``value``) as a dict."""
    return {str(t["key"]): str(t.get("value", "")) for t in tags or () if "key" in t}


def is_long_arn(arn: str) -> bool:
    return _ARN_LONG.match(arn.split(":", 5)[-1]) is not None


def _split(ids: Sequence[str]) -> dict[str, list[str]]:
    """``CLUSTER/SERVICE`` ids by cluster (ids that are not such names are left out: nothing has them)."""
    by_cluster: dict[str, list[str]] = defaultdict(list)
    for ident in ids:
        m = _ID.match(ident)
        if m:
            by_cluster[m["cluster"]].append(m["service"])
    return by_cluster


def describe(ecs: Any, ids: Sequence[str], batch: int = DESCRIBE_BATCH) -> Iterator[dict[str, Any]]:
    """The services among ``ids`` (``CLUSTER/SERVICE``) that exist, with their tags; a missing cluster or service is
    left out. Raises on other failures."""
    for cluster, names in _split(ids).items():
        for chunk in chunks(names, batch):
            try:
                answer = ecs.describe_services(cluster=cluster, services=chunk, include=["TAGS"])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ClusterNotFoundException":
                    break
                raise
            for service in answer.get("services", []):
                if service.get("serviceName") in chunk and service.get("status") != "INACTIVE":
                    yield service


def every_service(ecs: Any, page_size: int = MAX_PAGE_SIZE, batch: int = DESCRIBE_BATCH) -> Iterator[dict[str, Any]]:
    """Every service of every cluster in the region, with its tags (all pages; DescribeServices in batches)."""
    for cluster, arns in _CLUSTERS(ecs, page_size):
        for chunk in chunks(arns, batch):
            answer = ecs.describe_services(cluster=cluster, services=chunk, include=["TAGS"])
            yield from (s for s in answer.get("services", []) if s.get("status") != "INACTIVE")


class EcsDetails(SavedFromTags, total=False):
    """What an ECS service's ``details`` hold: its cluster, counts, task definition and how its tasks launch, its
    task definition's size and platform (each only when known), and what its saved-capacity tag says."""

    cluster: str
    desired: int
    running: int
    task_definition: str | None
    cpu: str  # CPU units ("256") or "0.25 vCPU"
    memory: str  # MiB ("512") or "0.5 GB"
    cpu_architecture: str
    os_family: str
    launch_type: str
    capacity_providers: list[str]
    tags: dict[str, str]  # added by the worker to what it stores


def _size_text(value: object) -> str | None:
    # A task size as the task definition gives it (text); a number read back as such is its CPU units or MiB.
    if isinstance(value, str):
        return value
    found = number(value)
    return None if found is None else str(found)


def _details(details: Mapping[str, object]) -> EcsDetails:
    """The keys pricing reads besides the desired size (:func:`desired_to_price` reads it), as typed (a ledger
    entry's or state record's details, numbers as DynamoDB's Decimals; a value of another type reads as absent)."""
    out: EcsDetails = {"capacity_providers": texts(details.get("capacity_providers"))}
    if (cpu := _size_text(details.get("cpu"))) is not None:
        out["cpu"] = cpu
    if (memory := _size_text(details.get("memory"))) is not None:
        out["memory"] = memory
    if (arch := text(details, "cpu_architecture")) is not None:
        out["cpu_architecture"] = arch
    if (family := text(details, "os_family")) is not None:
        out["os_family"] = family
    if (launch := text(details, "launch_type")) is not None:
        out["launch_type"] = launch
    return out


def launch_kind(details: EcsDetails) -> str:
    """How the service's tasks are billed: ``fargate``, ``fargate-spot``, ``ec2``, ``external`` or ``default``
    (its cluster's default capacity provider strategy, not known from the service)."""
    providers = details.get("capacity_providers") or []
    if providers:
        if all(p == "FARGATE" for p in providers):
            return "fargate"
        return "fargate-spot" if "FARGATE_SPOT" in providers else "ec2"
    launch = (details.get("launch_type") or "").upper()
    return {"FARGATE": "fargate", "EC2": "ec2", "EXTERNAL": "external"}.get(launch, "default")


def _task_size(value: Any, text_form: re.Pattern[str]) -> Decimal | None:
    """A task size given in 1/1024ths (a whole number) or as ``text_form`` (a number and its unit)."""
    text = str(value or "").strip()
    try:
        if text.isdigit():
            return Decimal(text) / _KIB
        m = text_form.match(text)
        return Decimal(m[1]) if m else None
    except InvalidOperation:
        return None


def task_vcpus(value: Any) -> Decimal | None:
    """A task definition's ``cpu`` in vCPUs: CPU units (``"256"``) or ``"0.25 vCPU"``."""
    return _task_size(value, _VCPU_TEXT)


def task_gbs(value: Any) -> Decimal | None:
    """A task definition's ``memory`` in GB (GiB, as Fargate bills it): MiB (``"512"``) or ``"0.5 GB"``."""
    return _task_size(value, _GB_TEXT)


def _plain(n: Decimal) -> str:
    return format(n.normalize(), "f")


def task_label(details: EcsDetails) -> str | None:
    """What a task of the service is, for the report's type column: ``Fargate 0.25 vCPU 0.5 GB``, ``EC2 launch
    type``..."""
    kind = launch_kind(details)
    vcpu, gb = task_vcpus(details.get("cpu")), task_gbs(details.get("memory"))
    if kind in ("fargate", "fargate-spot") and vcpu is not None and gb is not None:
        name = "Fargate Spot" if kind == "fargate-spot" else "Fargate"
        arm = " ARM" if (details.get("cpu_architecture") or "").upper() == "ARM64" else ""
        return f"{name}{arm} {_plain(vcpu)} vCPU {_plain(gb)} GB"
    return {
        "fargate": "Fargate",
        "fargate-spot": "Fargate Spot",
        "ec2": "EC2 launch type",
        "external": "external instances",
    }.get(kind)


class EcsAdapter(TaggedOneByOne):
    """The ECS services of one region (``batch_size``: services per DescribeServices call)."""

    name = "ecs"
    saved_capacity = SAVED
    client_name = "ecs"
    max_page_size = MAX_PAGE_SIZE
    max_batch_size = DESCRIBE_BATCH

    def discover(self, tag_key: str) -> list[Resource]:
        """Every service with tag ``tag_key``: ListServices has no tag filter, so every cluster's services are
        described (with their tags, 10 per call) and filtered here."""
        self.warnings = []
        tagged = [
            s for s in every_service(self.client, self.page_size, self.batch_size) if tag_key in tag_dict(s.get("tags"))
        ]
        sizes = self._task_sizes({str(s["taskDefinition"]) for s in tagged if s.get("taskDefinition")})
        return [self._resource(s, tag_key, sizes.get(str(s.get("taskDefinition")), {})) for s in tagged]

    def _task_sizes(self, arns: Iterable[str]) -> dict[str, EcsDetails]:
        """Each task definition's size and platform (for pricing only: a failed read leaves them unknown)."""
        out: dict[str, EcsDetails] = {}
        for arn in sorted(arns):
            try:
                task = self.client.describe_task_definition(taskDefinition=arn).get("taskDefinition", {})
            except (ClientError, BotoCoreError) as exc:
                log.warning("could not read task definition %s in %s: %s", arn, self.region, aws_error(exc))
                continue
            platform = task.get("runtimePlatform") or {}
            size: EcsDetails = {}
            if task.get("cpu"):
                size["cpu"] = task["cpu"]
            if task.get("memory"):
                size["memory"] = task["memory"]
            if platform.get("cpuArchitecture"):
                size["cpu_architecture"] = platform["cpuArchitecture"]
            if platform.get("operatingSystemFamily"):
                size["os_family"] = platform["operatingSystemFamily"]
            out[arn] = size
        return out

    def _resource(self, service: Mapping[str, Any], tag_key: str, size: EcsDetails) -> Resource:
        ident = service_id(service)
        tags = tag_dict(service.get("tags"))
        desired = int(service.get("desiredCount") or 0)
        details = size.copy()
        details["cluster"] = ident.split("/", 1)[0]
        details["desired"] = desired
        details["running"] = int(service.get("runningCount") or 0)
        details["task_definition"] = service.get("taskDefinition")
        if service.get("launchType"):
            details["launch_type"] = service["launchType"]
        providers = [str(p["capacityProvider"]) for p in service.get("capacityProviderStrategy") or []]
        if providers:
            details["capacity_providers"] = providers
        SAVED.record(details, tags)
        daemon = "a DAEMON service runs one task on every container instance: it has no desired count to set"
        why = daemon if service.get("schedulingStrategy") == "DAEMON" else None
        observed = Observed.RUNNING if desired else Observed.STOPPED
        if service.get("status") != "ACTIVE":  # DRAINING: being deleted
            observed = Observed.OTHER
        return Resource.tagged(
            self.name, ident, tags, tag_key, observed, details, arn=service.get("serviceArn"), unschedulable=why
        )

    def _batches(self, ids: Sequence[str]) -> Iterable[Sequence[str]]:
        for cluster, names in _split(ids).items():
            for chunk in chunks(names, self.batch_size):
                yield [f"{cluster}/{n}" for n in chunk]

    def _describe(self, batch: Sequence[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        # One batch is one cluster's: a single DescribeServices call.
        return ((service_id(s), s) for s in describe(self.client, batch, self.batch_size))

    def _sizes(self, item: Mapping[str, Any]) -> dict[str, int]:
        return {"desired": int(item.get("desiredCount") or 0)}

    def _tags(self, item: Mapping[str, Any]) -> dict[str, str]:
        return tag_dict(item.get("tags"))

    def _zero(self, sizes: dict[str, int]) -> dict[str, int]:
        return {"desired": 0}

    def _save(self, item: Mapping[str, Any], sizes: dict[str, int]) -> None:
        self.client.tag_resource(
            resourceArn=item["serviceArn"], tags=[{"key": SAVED_CAPACITY_TAG, "value": SAVED.format(sizes)}]
        )

    def _set(self, ident: str, sizes: Mapping[str, int]) -> None:
        cluster, name = ident.split("/", 1)
        self.client.update_service(cluster=cluster, service=name, desiredCount=sizes["desired"])

    def set_tags(self, tags: dict[str, dict[str, str]]) -> list[ActionResult]:
        """Sets tags per service (TagResource takes one ARN per call)."""
        current, failed = self._current([i for i in tags if tags[i]])
        arns = {i: str(s["serviceArn"]) for i, s in current.items()}
        return tag_each(
            tags,
            lambda ident, values: self.client.tag_resource(
                resourceArn=arns[ident], tags=[{"key": k, "value": v} for k, v in values.items()]
            ),
            failed,
        )


class EcsService(ServiceBase):
    """ECS services (see :class:`scheduler.services.base.Service`)."""

    name = "ecs"
    kind_name = "ECS service"
    name_pattern = _ID
    saves_capacity = True
    adapter_type = EcsAdapter
    # The Resource Groups Tagging API lists services (long ARN format: the only ones that carry tags).
    tagging_types = ("ecs:service",)

    page_size = MAX_PAGE_SIZE
    describe_batch = DESCRIBE_BATCH

    def pricing(
        self, region: str, instance_type: str | None, details: ServiceDetails, capacity: Mapping[str, Any] | None
    ) -> Pricing:
        d = _details(details)
        desired = desired_to_price(details, capacity)
        label = task_label(d)
        if desired is None:
            return Pricing(label, 0, problem="the service's desired count is unknown")
        kind = launch_kind(d)
        if kind != "fargate":
            why = {
                "fargate-spot": "Fargate Spot has no fixed rate",
                "ec2": "its tasks run on container instances, billed as EC2 instances",
                "external": "its tasks run on external instances",
                "default": "its launch type is its cluster's default capacity provider strategy",
            }[kind]
            return Pricing(label, desired, problem=f"no task price: {why}")
        if (d.get("os_family") or "LINUX").upper() != "LINUX":
            return Pricing(label, desired, problem="no task price: only Linux Fargate tasks are priced")
        vcpu, gb = task_vcpus(d.get("cpu")), task_gbs(d.get("memory"))
        if vcpu is None or gb is None:
            return Pricing(label, desired, problem="no task price: the task size (cpu and memory) is unknown")
        arch = "arm-" if (d.get("cpu_architecture") or "").upper() == "ARM64" else ""
        return Pricing(
            label,
            desired,
            (
                Component(PriceQuery("ecs", region, f"fargate-{arch}vcpu"), vcpu * desired),
                Component(PriceQuery("ecs", region, f"fargate-{arch}gb"), gb * desired),
            ),
        )

    def billing_while_stopped(self, details: ServiceDetails, stopped_hours: Decimal) -> Mapping[str, Any]:
        return not_estimated(
            "nothing of the service's tasks (at desired count 0 none run); its load balancers and other resources "
            "it uses bill on"
        )

    def billed_under_own_tag(self, pricing: Pricing) -> bool:
        return False  # tasks carry the service's tags only with propagateTags=SERVICE

    def parse_arn(self, value: str, resource: str) -> tuple[str, str]:
        found = _ARN_LONG.match(resource)
        if found is not None:
            return "ecs", f"{found['cluster']}/{found['service']}"
        if _ARN_SHORT.match(resource):
            raise InvalidResource(
                f"'{value}' is an ECS service ARN in the short format (no cluster): such a service cannot carry tags "
                "(opt in to the long ARN format, serviceLongArnFormat, and recreate it)"
            )
        raise InvalidResource(f"'{value}' is not an ECS service ARN (…:service/CLUSTER/SERVICE)")

    def _found(self, services: Iterable[Mapping[str, Any]], region: str) -> Iterator[Found]:
        for service in services:
            yield Found(
                kind="ecs",
                id=service_id(service),
                region=region,
                arn=str(service["serviceArn"]),
                tags=tag_dict(service.get("tags")),
                state=service.get("status"),
            )

    def lookup(self, clients: ClientSource, region: str, kind: str, ids: list[str]) -> Iterable[Found]:
        return self._found(describe(clients.get("ecs", region), ids, self.describe_batch), region)

    def find_tagged(
        self, clients: ClientSource, region: str, key: str, value: str
    ) -> Iterator[tuple[str, Iterable[Found]]]:
        # No API lists services by tag: every service is described with its tags and the caller filters.
        services = every_service(clients.get("ecs", region), self.page_size, self.describe_batch)
        yield "ECS services", self._found(services, region)

    def problem(self, ref: Reference, found: Found) -> str | None:
        if not is_long_arn(found.arn):
            return (
                f"ECS service '{found.id}' has a short ARN ({found.arn}): it cannot carry tags (opt in to the long "
                "ARN format, serviceLongArnFormat, and recreate it)"
            )
        return arn_mismatch(ref, found, self.kinds[found.kind])

    def tag_writer(
        self, clients: ClientSource, region: str, kind: str, op: Operation, key: str, value: str
    ) -> tuple[int, TagCall]:
        ecs = clients.get("ecs", region)
        if op == "untag":
            return TAG_BATCH, lambda batch: [ecs.untag_resource(resourceArn=r.arn, tagKeys=[key]) for r in batch]
        return TAG_BATCH, lambda batch: [
            ecs.tag_resource(resourceArn=r.arn, tags=[{"key": key, "value": value}]) for r in batch
        ]


SERVICE: Service = EcsService()
