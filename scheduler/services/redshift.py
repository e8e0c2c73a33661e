"""Amazon Redshift provisioned clusters: discovery by tag, stop (PauseCluster) and start (ResumeCluster).

A paused cluster bills no node-hours, only its storage. Redshift has no batch pause or resume, so every action is
one call per cluster and one cluster's failure never stops the others. DescribeClusters filters by tag key on the
server and answers the tags with each cluster, so discovery costs one call per 100 clusters.

DescribeClusters returns no cluster ARN; tagging needs one (``arn:PARTITION:redshift:REGION:ACCOUNT:cluster:ID``).
The account comes from the cluster's namespace ARN when Redshift returns it, else from STS GetCallerIdentity
(asked once, and only when a tag is to be written).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypedDict

import boto3
from botocore.exceptions import ClientError

from scheduler.aws.session import client, new_session
from scheduler.engine import Observed, State

from .base import ActionResult, Resource, Service, ServiceBase, ServiceDetails
from .common import not_estimated, one_by_one, tag_each, tag_map
from .details import flag
from .naming import ClientSource, Found, Operation, TagCall, match_arn
from .price_list import by_instance_type, types_like
from .pricing import Component, PriceQuery, Pricing, whole

log = logging.getLogger(__name__)

# DescribeClusters MaxRecords: 20-100 (API reference).
PAGE_SIZE = 100
# Above this many names, one listing of every cluster is cheaper than one DescribeClusters per name.
LOOKUP_ONE_BY_ONE = 20
# Tag values: at most 256 characters (Redshift API reference, Tag).
TAG_VALUE_MAX = 256

# ClusterStatus values (Redshift management guide, "Cluster status"). Everything else (creating, modifying,
# resizing, rebooting, renaming, deleting, storage-full, incompatible-*, hardware-failure...) is a state nothing
# can be done from now.
_OBSERVED = {
    "available": Observed.RUNNING,
    "paused": Observed.STOPPED,
    "pausing": Observed.STOPPING,
    "resuming": Observed.STARTING,
}

# Cluster identifiers: 1-63 letters, digits or hyphens, starting with a letter; Redshift keeps them in lower case.
_CLUSTER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}\Z")
_ARN_RESOURCE = re.compile(r"^cluster:(?P<id>[A-Za-z][A-Za-z0-9-]{0,62})\Z")
_ACCOUNT_IN_ARN = re.compile(r"^arn:[^:]+:[^:]*:[^:]*:(?P<account>\d{12}):")
# Node types: a family and a size (ra3.xlplus, ra3.4xlarge, dc2.large, ds2.8xlarge).
_NODE_TYPE = re.compile(r"[a-z]{2}[0-9]\.[a-z0-9]{1,16}")


def observed(status: str | None) -> Observed:
    return _OBSERVED.get((status or "").strip().lower(), Observed.OTHER)


def cluster_arn(partition: str, region: str, account: str, cluster_id: str) -> str:
    return f"arn:{partition}:redshift:{region}:{account}:cluster:{cluster_id}"


def clusters(redshift: Any, **params: Any) -> Iterator[dict[str, Any]]:
    """Every cluster DescribeClusters answers for ``params``, all pages of :data:`PAGE_SIZE`."""
    pages = redshift.get_paginator("describe_clusters").paginate(**params, PaginationConfig={"PageSize": PAGE_SIZE})
    for page in pages:
        yield from page.get("Clusters", [])


def partition_of(session: boto3.Session, region: str) -> str:
    try:
        return str(session.get_partition_for_region(region))
    except Exception:  # an unknown region (new, or a local endpoint's invention) is still in the aws partition
        return "aws"


def _namespace_account(cluster: Mapping[str, Any]) -> str | None:
    found = _ACCOUNT_IN_ARN.match(str(cluster.get("ClusterNamespaceArn") or ""))
    return found["account"] if found else None


class RedshiftDetails(TypedDict, total=False):
    """What a Redshift cluster's ``details`` hold (its node type is the resource's ``instance_type``)."""

    kind: Literal["cluster"]
    status: str | None
    nodes: int | None
    multi_az: bool
    tags: dict[str, str]  # added by the worker to what it stores


def _details(details: Mapping[str, object]) -> RedshiftDetails:
    """The keys pricing reads, as typed (a ledger entry's or state record's details, numbers as DynamoDB's
    Decimals; a value of another type reads as absent)."""
    return {"nodes": whole(details.get("nodes")), "multi_az": bool(flag(details, "multi_az"))}


def _multi_az(cluster: Mapping[str, Any]) -> bool:
    return str(cluster.get("MultiAZ") or "").strip().lower() == "enabled"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


class RedshiftAdapter:
    """The Redshift clusters of one region (see :class:`scheduler.services.base.ServiceAdapter`)."""

    name = "redshift"
    resizable = False

    def __init__(self, region: str, session: boto3.Session | None = None) -> None:
        self.region = region
        self.session = session or new_session()
        self.client: Any = client("redshift", region=region, session=self.session)
        self.events_since: datetime | None = None  # unused: Redshift resumes nothing on its own
        self.warnings: list[str] = []
        self._account: str | None = None

    def discover(self, tag_key: str) -> list[Resource]:
        self.warnings = []
        found = []
        for cluster in clusters(self.client, TagKeys=[tag_key]):
            tags = tag_map(cluster.get("Tags"))
            if tag_key not in tags:  # a server that ignores the filter must not make every cluster scheduled
                continue
            self._account = self._account or _namespace_account(cluster)
            found.append(self._resource(cluster, tags, tag_key))
        return found

    def _resource(self, cluster: Mapping[str, Any], tags: dict[str, str], tag_key: str) -> Resource:
        status = cluster.get("ClusterStatus")
        details: RedshiftDetails = {
            "kind": "cluster",
            "status": status,
            "nodes": whole(cluster.get("NumberOfNodes")),
            "multi_az": _multi_az(cluster),
        }
        ident, node_type = str(cluster["ClusterIdentifier"]), cluster.get("NodeType")
        return Resource.tagged(self.name, ident, tags, tag_key, observed(status), details, instance_type=node_type)

    def stop(self, resources: list[Resource], *, hibernate: bool = False) -> list[ActionResult]:
        """Pauses each cluster (``hibernate`` is an EC2 option: a pause is what the schedule means). One already
        paused or pausing (resumed or resuming) is left alone: Redshift would refuse with InvalidClusterState."""
        return one_by_one(resources, State.STOPPED, self._call(self.client.pause_cluster), "Redshift")

    def start(self, resources: list[Resource], *, saved: dict[str, dict[str, Any]] | None = None) -> list[ActionResult]:
        return one_by_one(resources, State.RUNNING, self._call(self.client.resume_cluster), "Redshift")

    @staticmethod
    def _call(api: Callable[..., Any]) -> Callable[[str], dict[str, Any]]:
        """One cluster's pause or resume (``api``), with the status Redshift answers."""
        return lambda ident: {"status": (api(ClusterIdentifier=ident).get("Cluster") or {}).get("ClusterStatus")}

    def resize(self, resource: Resource, instance_type: str) -> ActionResult:
        return ActionResult(
            resource.id, ok=False, error="resize is not supported for Redshift clusters (resize the cluster yourself)"
        )

    def set_tags(self, tags: dict[str, dict[str, str]]) -> list[ActionResult]:
        # CreateTags takes one ResourceName (ARN) per call: no batching is possible.
        return tag_each(
            tags,
            lambda ident, values: self.client.create_tags(
                ResourceName=self._arn(ident), Tags=[{"Key": k, "Value": v[:TAG_VALUE_MAX]} for k, v in values.items()]
            ),
        )

    def _arn(self, ident: str) -> str:
        if self._account is None:
            sts = client("sts", region=self.region, session=self.session)
            self._account = str(sts.get_caller_identity()["Account"])
        return cluster_arn(partition_of(self.session, self.region), self.region, self._account, ident)


PRICE_LIST = by_instance_type(
    "redshift",
    "AmazonRedshift",
    # "Compute Instance" is the node itself; concurrency scaling, managed storage and Serverless are other families.
    family="Compute Instance",
    # USE1-Node:ra3.xlplus (us-east-1 has no prefix: Node:ra3.xlplus)
    usage=lambda usage, _: "Node:" in usage,
    type_problem=types_like(_NODE_TYPE, "a Redshift node type (e.g. ra3.xlplus)"),
)


class RedshiftService(ServiceBase):
    """Redshift provisioned clusters (kind ``redshift``); see :class:`scheduler.services.base.Service`."""

    name = "redshift"
    kind_name = "Redshift cluster"
    name_pattern = _CLUSTER_ID
    case_insensitive = True
    adapter_type = RedshiftAdapter
    tagging_types = ("redshift:cluster",)

    def __init__(self) -> None:
        super().__init__()
        self.lookup_one_by_one = LOOKUP_ONE_BY_ONE

    def pricing(
        self, region: str, instance_type: str | None, details: ServiceDetails, capacity: Mapping[str, Any] | None
    ) -> Pricing:
        """Node type × number of nodes; a Multi-AZ cluster runs (and bills) its nodes in two zones."""
        d = _details(details)
        nodes = d.get("nodes")
        if not instance_type:
            return Pricing(None, nodes or 0, problem="the node type is unknown")
        if not nodes:
            return Pricing(instance_type, 0, problem="the number of nodes is unknown")
        billed = nodes * 2 if d.get("multi_az") else nodes
        label = f"{instance_type} (Multi-AZ)" if d.get("multi_az") else instance_type
        return Pricing(label, nodes, (Component(PriceQuery("redshift", region, instance_type), billed),))

    def billing_while_stopped(self, details: ServiceDetails, stopped_hours: Decimal) -> Mapping[str, Any]:
        return not_estimated(
            "the cluster's storage (Redshift Managed Storage on RA3 nodes; backups)",
            "DescribeClusters does not report the storage used",
        )

    def parse_arn(self, value: str, resource: str) -> tuple[str, str]:
        return "redshift", match_arn(_ARN_RESOURCE, value, resource, "a Redshift cluster ARN (…:cluster:ID)")[
            "id"
        ].lower()

    def _found(self, clients: ClientSource, region: str, cluster: Mapping[str, Any], account: str) -> Found:
        ident = str(cluster["ClusterIdentifier"])
        return Found(
            kind="redshift",
            id=ident,
            region=region,
            arn=cluster_arn(clients.partition(region), region, _namespace_account(cluster) or account, ident),
            tags=tag_map(cluster.get("Tags")),
            state=cluster.get("ClusterStatus"),
        )

    def _listed(self, clients: ClientSource, region: str, items: Iterable[Mapping[str, Any]]) -> Iterator[Found]:
        account: str | None = None
        for cluster in items:
            if account is None and _namespace_account(cluster) is None:
                account = str(clients.get("sts", region).get_caller_identity()["Account"])
            yield self._found(clients, region, cluster, account or "")

    def lookup(self, clients: ClientSource, region: str, kind: str, ids: list[str]) -> Iterable[Found]:
        redshift = clients.get("redshift", region)
        if len(ids) > self.lookup_one_by_one:
            yield from self._listed(clients, region, clusters(redshift))
            return
        # DescribeClusters takes one ClusterIdentifier: a few names cost a call each, not a listing of all.
        for ident in ids:
            try:
                answer = redshift.describe_clusters(ClusterIdentifier=ident).get("Clusters", [])
            except ClientError as exc:
                if _code(exc) == "ClusterNotFound":
                    continue
                raise
            yield from self._listed(clients, region, answer)

    def find_tagged(
        self, clients: ClientSource, region: str, key: str, value: str
    ) -> Iterator[tuple[str, Iterable[Found]]]:
        redshift = clients.get("redshift", region)
        yield "Redshift clusters", self._listed(clients, region, clusters(redshift, TagKeys=[key], TagValues=[value]))

    def tag_writer(
        self, clients: ClientSource, region: str, kind: str, op: Operation, key: str, value: str
    ) -> tuple[int, TagCall]:
        # CreateTags/DeleteTags take a single ResourceName (ARN) per call: no batching.
        redshift = clients.get("redshift", region)
        if op == "tag":
            return 1, lambda batch: redshift.create_tags(ResourceName=batch[0].arn, Tags=[{"Key": key, "Value": value}])
        return 1, lambda batch: redshift.delete_tags(ResourceName=batch[0].arn, TagKeys=[key])


SERVICE: Service = RedshiftService()
