"""EKS managed node groups: discovery by tag, stop (minimum and desired size to 0) and start (the sizes from before
the stop, exactly).

A node group is named ``CLUSTER/NODEGROUP`` (node group names are unique per cluster only) or by its ARN
(``arn:…:eks:REGION:ACCOUNT:nodegroup/CLUSTER/NODEGROUP/UUID``). EKS requires a maximum size of at least 1, so a
stop sets minimum and desired size to 0 and keeps the maximum; the start restores all three.

The sizes a stop saves live in the state table, which is the source of truth (the worker hands them to
:meth:`EksAdapter.start`, as for an Auto Scaling group). The stop also mirrors them in the node group's tag
``isched:saved-capacity`` (``min=1,max=3,desired=2``) so that people see them and a lost state table can be
recovered; a mirror that cannot be written (no eks:TagResource permission) is a warning, not a reason to leave the
group running. A start restores from the state table, else from the tag; with neither it reports an error.

Node groups are priced as their instances: the EC2 price of their instance type × the desired size (like an Auto
Scaling group). Spot node groups and groups of several instance types have no single price.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scheduler.engine import Observed

from .base import ActionResult, Resource, Service, ServiceBase, ServiceDetails
from .capacity import (
    SAVED_CAPACITY_TAG,
    SIZE_KEYS,
    CapacityError,
    SavedCapacity,
    SavedFromTags,
    TaggedOneByOne,
    desired_to_price,
)
from .common import ClusterListing, aws_error, not_estimated, tag_each
from .details import text, texts
from .naming import ClientSource, Found, Operation, TagCall, match_arn
from .pricing import Component, PriceQuery, Pricing

log = logging.getLogger(__name__)

# ListClusters and ListNodegroups maxResults: 1-100 (API reference). DescribeNodegroup, UpdateNodegroupConfig and
# TagResource take one node group per call.
MAX_PAGE_SIZE = 100
TAG_BATCH = 1
# What ListClusters and the listing of a cluster's members answer.
_CLUSTERS = ClusterListing("clusters", "list_nodegroups", "clusterName", "nodegroups", "ResourceNotFoundException")

# Cluster names: 1-100 characters, node group names 1-63, both a letter or digit then letters, digits, - and _
# (CreateCluster, CreateNodegroup).
_CLUSTER = r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}"
_NODEGROUP = r"[0-9A-Za-z][A-Za-z0-9_-]{0,62}"
_ID = re.compile(rf"^(?P<cluster>{_CLUSTER})/(?P<nodegroup>{_NODEGROUP})\Z")
_ARN_RESOURCE = re.compile(rf"^nodegroup/(?P<cluster>{_CLUSTER})/(?P<nodegroup>{_NODEGROUP})/[0-9a-fA-F-]+\Z")

# States in which a node group cannot be scaled (being created, deleted, or failed at either).
_OTHER_STATES = {"CREATING", "DELETING", "CREATE_FAILED", "DELETE_FAILED"}


def _max_at_least_one(sizes: dict[str, int]) -> None:
    if sizes["max"] < 1:
        raise CapacityError("EKS needs a maximum size of at least 1")


SAVED = SavedCapacity(
    noun="EKS node group",
    keys=SIZE_KEYS,
    stored="the stored sizes {} are",
    nothing="no sizes were saved for it",
    by_hand="set its minimum, maximum and desired sizes by hand",
    restorable=_max_at_least_one,
    unsaved=None,
)


def _not_found(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException")


class EksDetails(SavedFromTags, total=False):
    """What an EKS node group's ``details`` hold: its sizes when seen, its cluster, the instance types it launches
    (its own or its launch template's), its capacity and AMI types, and what its saved-capacity tag says."""

    min: int
    max: int
    desired: int
    cluster: str
    instance_types: list[str]
    capacity_type: str  # ON_DEMAND, SPOT or CAPACITY_BLOCK
    ami_type: str
    tags: dict[str, str]  # added by the worker to what it stores


def _details(details: Mapping[str, object]) -> EksDetails:
    """The keys pricing reads besides the desired size (:func:`desired_to_price` reads it), as typed (a ledger
    entry's or state record's details, numbers as DynamoDB's Decimals; a value of another type reads as absent)."""
    out: EksDetails = {"instance_types": texts(details.get("instance_types"))}
    if capacity_type := text(details, "capacity_type"):
        out["capacity_type"] = capacity_type
    if ami_type := text(details, "ami_type"):
        out["ami_type"] = ami_type
    return out


def sizes_of(group: Mapping[str, Any]) -> dict[str, int]:
    scaling = group.get("scalingConfig") or {}
    return {
        "min": int(scaling.get("minSize") or 0),
        "max": int(scaling.get("maxSize") or 0),
        "desired": int(scaling.get("desiredSize") or 0),
    }


def node_group(eks: Any, ident: str) -> dict[str, Any] | None:
    """The node group ``CLUSTER/NODEGROUP`` as DescribeNodegroup answers, None when it (or its cluster) does not
    exist; raises on other failures."""
    m = _ID.match(ident)
    if m is None:
        return None
    try:
        group = eks.describe_nodegroup(clusterName=m["cluster"], nodegroupName=m["nodegroup"]).get("nodegroup")
    except ClientError as exc:
        if _not_found(exc):
            return None
        raise
    return dict(group) if group else None


def every_node_group(eks: Any, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict[str, Any]]:
    """Every managed node group of every cluster in the region (all pages; one DescribeNodegroup each)."""
    for cluster, names in _CLUSTERS(eks, page_size):
        for name in names:
            group = node_group(eks, f"{cluster}/{name}")
            if group is not None:
                yield group


def tag_dict(group: Mapping[str, Any]) -> dict[str, str]:
    """A node group's tags (EKS answers a map)."""
    return {str(k): str(v) for k, v in (group.get("tags") or {}).items()}


def group_id(group: Mapping[str, Any]) -> str:
    return f"{group['clusterName']}/{group['nodegroupName']}"


class EksAdapter(TaggedOneByOne):
    """The managed node groups of one region."""

    name = "eks"
    saved_capacity = SAVED
    client_name = "eks"
    max_page_size = MAX_PAGE_SIZE

    def __init__(self, region: str, session: boto3.Session | None = None, *, page_size: int | None = None) -> None:
        super().__init__(region, session, page_size=page_size)
        self._arns: dict[str, str] = {}

    def discover(self, tag_key: str) -> list[Resource]:
        """Every node group with tag ``tag_key``: EKS lists node groups by cluster without tags, so each is
        described and filtered here."""
        self.warnings = []
        groups = [g for g in every_node_group(self.client, self.page_size) if tag_key in (g.get("tags") or {})]
        self._arns |= {group_id(g): str(g["nodegroupArn"]) for g in groups}
        return [self._resource(g, tag_key) for g in groups]

    def _resource(self, group: Mapping[str, Any], tag_key: str) -> Resource:
        ident = group_id(group)
        tags = self._tags(group)
        sizes = sizes_of(group)
        details: EksDetails = {
            "min": sizes["min"],
            "max": sizes["max"],
            "desired": sizes["desired"],
            "cluster": group["clusterName"],
        }
        types = [str(t) for t in group.get("instanceTypes") or []]
        if not types:
            lt_type = self._launch_template_type(group.get("launchTemplate") or {})
            types = [lt_type] if lt_type else []
        if types:
            details["instance_types"] = types
        if group.get("capacityType"):
            details["capacity_type"] = str(group["capacityType"])
        if group.get("amiType"):
            details["ami_type"] = str(group["amiType"])
        SAVED.record(details, tags)
        observed = Observed.RUNNING if sizes["desired"] else Observed.STOPPED
        if group.get("status") in _OTHER_STATES:
            observed = Observed.OTHER
        one_type = types[0] if len(set(types)) == 1 else None
        return Resource.tagged(
            self.name, ident, tags, tag_key, observed, details, arn=group.get("nodegroupArn"), instance_type=one_type
        )

    def _launch_template_type(self, template: Mapping[str, Any]) -> str | None:
        """The instance type a node group's launch template sets (for pricing only: a failed read leaves it
        unknown)."""
        if not template.get("id") and not template.get("name"):
            return None
        version = str(template.get("version") or "$Default")
        try:
            return self.launch_template_type(template.get("id"), template.get("name"), version)
        except (ClientError, BotoCoreError) as exc:
            log.warning("could not read launch template %s in %s: %s", template, self.region, aws_error(exc))
            return None

    def _batches(self, ids: Sequence[str]) -> Iterable[Sequence[str]]:
        return ([i] for i in ids)  # DescribeNodegroup reads one group

    def _describe(self, batch: Sequence[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        for ident in batch:
            group = node_group(self.client, ident)
            if group is not None:
                self._arns[ident] = str(group["nodegroupArn"])
                yield ident, group

    def _sizes(self, item: Mapping[str, Any]) -> dict[str, int]:
        return sizes_of(item)

    def _tags(self, item: Mapping[str, Any]) -> dict[str, str]:
        return tag_dict(item)

    def _zero(self, sizes: dict[str, int]) -> dict[str, int]:
        return {"min": 0, "max": sizes["max"], "desired": 0}  # EKS needs a maximum of at least 1: it stays

    def _save(self, item: Mapping[str, Any], sizes: dict[str, int]) -> None:
        # Only a mirror: without it the group is stopped all the same (SAVED.unsaved is None).
        self.client.tag_resource(resourceArn=item["nodegroupArn"], tags={SAVED_CAPACITY_TAG: SAVED.format(sizes)})

    def _set(self, ident: str, sizes: Mapping[str, int]) -> None:
        cluster, name = ident.split("/", 1)
        self.client.update_nodegroup_config(
            clusterName=cluster,
            nodegroupName=name,
            scalingConfig={"minSize": sizes["min"], "maxSize": sizes["max"], "desiredSize": sizes["desired"]},
        )

    def set_tags(self, tags: dict[str, dict[str, str]]) -> list[ActionResult]:
        """Sets tags per node group (TagResource takes one ARN per call, all its tags at once)."""
        unknown = [i for i in tags if tags[i] and i not in self._arns]
        _, failed = self._current(unknown)
        return tag_each(
            tags,
            lambda ident, values: self.client.tag_resource(resourceArn=self._arns[ident], tags=dict(values)),
            failed,
        )


class EksService(ServiceBase):
    """EKS managed node groups (see :class:`scheduler.services.base.Service`)."""

    name = "eks"
    kind_name = "EKS node group"
    name_pattern = _ID
    saves_capacity = True
    price_list = "ec2"
    plural = "EKS managed node groups"
    adapter_type = EksAdapter
    tagging_types = ("eks:nodegroup",)

    page_size = MAX_PAGE_SIZE

    def pricing(
        self, region: str, instance_type: str | None, details: ServiceDetails, capacity: Mapping[str, Any] | None
    ) -> Pricing:
        d = _details(details)
        desired = desired_to_price(details, capacity)
        types = sorted(set(d.get("instance_types") or []))
        type_ = instance_type or (types[0] if len(types) == 1 else None)
        label = type_ or (", ".join(types) or None)
        if desired is None:
            return Pricing(label, 0, problem="the node group's desired size is unknown")
        capacity_type = d.get("capacity_type") or "ON_DEMAND"
        if capacity_type.upper() != "ON_DEMAND":
            why = f"{capacity_type.lower().replace('_', ' ')} capacity has no on-demand rate"
            return Pricing(label, desired, problem=f"no instance price: {why}")
        if type_ is None:
            why = f"it launches several instance types ({', '.join(types)})" if types else "type unknown"
            return Pricing(label, desired, problem=f"no single instance price: {why}")
        platform = "Windows" if (d.get("ami_type") or "").upper().startswith("WINDOWS") else None
        query = PriceQuery("ec2", region, type_, platform=platform, origin="eks")
        return Pricing(type_, desired, (Component(query, desired),))

    def billing_while_stopped(self, details: ServiceDetails, stopped_hours: Decimal) -> Mapping[str, Any]:
        return not_estimated(
            "the cluster's control plane (billed per cluster, whatever its node groups run); the group's instances "
            "are terminated at size 0"
        )

    def billed_under_own_tag(self, pricing: Pricing) -> bool:
        return False  # its instances are billed; a node group's tags are not propagated to them

    def parse_arn(self, value: str, resource: str) -> tuple[str, str]:
        found = match_arn(_ARN_RESOURCE, value, resource, "an EKS node group ARN (…:nodegroup/CLUSTER/NODEGROUP/UUID)")
        return "eks", f"{found['cluster']}/{found['nodegroup']}"

    def _found(self, groups: Iterable[Mapping[str, Any]], region: str) -> Iterator[Found]:
        for group in groups:
            yield Found(
                kind="eks",
                id=group_id(group),
                region=region,
                arn=str(group["nodegroupArn"]),
                tags=tag_dict(group),
                state=group.get("status"),
            )

    def lookup(self, clients: ClientSource, region: str, kind: str, ids: list[str]) -> Iterable[Found]:
        eks = clients.get("eks", region)
        return self._found((g for g in (node_group(eks, i) for i in ids) if g is not None), region)

    def find_tagged(
        self, clients: ClientSource, region: str, key: str, value: str
    ) -> Iterator[tuple[str, Iterable[Found]]]:
        # No API lists node groups by tag: every group is described (tags included) and the caller filters.
        yield "EKS node groups", self._found(every_node_group(clients.get("eks", region), self.page_size), region)

    def tag_writer(
        self, clients: ClientSource, region: str, kind: str, op: Operation, key: str, value: str
    ) -> tuple[int, TagCall]:
        eks = clients.get("eks", region)
        if op == "untag":
            return TAG_BATCH, lambda batch: [eks.untag_resource(resourceArn=r.arn, tagKeys=[key]) for r in batch]
        return TAG_BATCH, lambda batch: [eks.tag_resource(resourceArn=r.arn, tags={key: value}) for r in batch]


SERVICE: Service = EksService()
