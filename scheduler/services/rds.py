"""RDS DB instances and Aurora, Neptune and DocumentDB clusters (all share the RDS control plane and its API).

DescribeDBClusters and DescribeDBInstances answer every engine alike (``Engine`` says which: ``aurora-*``,
``neptune``, ``docdb``, or ``mysql``/``postgres`` for a Multi-AZ DB cluster), and StopDBCluster/StartDBCluster stop
and start all of them; what differs per engine is how a cluster is billed (see
:func:`scheduler.services.rds_pricing.cluster_pricing`).
DocumentDB elastic clusters and Neptune Analytics graphs are other APIs and never appear here.

A DB instance that belongs to a cluster is stopped and started only through its cluster (StopDBCluster); single
instances through StopDBInstance. There is no batch API, so every action is one call per resource and one
resource's failure never stops the others.

What RDS refuses to stop is found at discovery and marked ``unschedulable`` with the reason, so users read why in
the report instead of a raw AWS error on every pass (:mod:`scheduler.services.rds_stoppable`).

RDS starts a database that has been stopped for seven days on its own. The AWS solution reads that as a manual
start and leaves it running for the rest of the stopped period; here discovery reads the RDS events that announce
such a start and flags the resource ``restarted_by_service`` so the engine restores the schedule's stop
(:mod:`scheduler.services.rds_events`). What the details hold is in :mod:`scheduler.services.rds_details`, and what
keeps billing while stopped in :mod:`scheduler.services.rds_billing`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scheduler.aws.session import client
from scheduler.engine import Observed
from scheduler.services.base import ActionResult, Resource, Service, ServiceBase, ServiceDetails
from scheduler.services.common import aws_error, chunks, guarded, tag_map
from scheduler.services.naming import ClientSource, Found, Operation, TagCall, match_arn
from scheduler.services.pricing import Pricing, cluster_family
from scheduler.services.rds_billing import billing_while_stopped
from scheduler.services.rds_details import RdsDetails, aware, iso
from scheduler.services.rds_events import mark_restarted
from scheduler.services.rds_pricing import db_pricing
from scheduler.services.rds_stoppable import cluster_unschedulable, instance_unschedulable

log = logging.getLogger(__name__)


# DescribeDBInstances / DescribeDBClusters / DescribeEvents MaxRecords: minimum 20, maximum 100.
PAGE_SIZE = 100
# A cluster snapshot taken before a stop that then failed is reused for this long, so a cluster that stays
# unstoppable for a while (e.g. busy backing up) does not collect one snapshot per pass.
SNAPSHOT_REUSE = timedelta(hours=1)

# RDS tag values: at most 256 Unicode letters, digits, white space and _ . : / = + - @ (AddTagsToResource, Tag).
# Informational values (last error) carry AWS messages with quotes and brackets, which RDS would reject.
TAG_VALUE_MAX = 256
# Details that describe the live state (the record's ``observed`` is what the scheduler keeps of it).
VOLATILE_DETAILS = frozenset({"status", "automatic_restart_time", "auto_started_at"})
_TAG_VALUE_BAD = re.compile(r"[^\w .:/=+\-@]")

_OBSERVED = {
    "available": Observed.RUNNING,
    "stopped": Observed.STOPPED,
    "starting": Observed.STARTING,
    "stopping": Observed.STOPPING,
}


def observed(status: str | None) -> Observed:
    return _OBSERVED.get((status or "").lower(), Observed.OTHER)


def tag_value(value: str) -> str:
    """``value`` made acceptable to RDS: disallowed characters become ``_``, then cut to the maximum length."""
    return _TAG_VALUE_BAD.sub("_", value)[:TAG_VALUE_MAX]


def snapshot_id(resource_id: str, at: datetime) -> str:
    """``isched-<id>-<yyyymmddhhmm>`` (UTC): RDS snapshot ids allow letters, digits and single hyphens."""
    return f"isched-{resource_id}-{at.astimezone(UTC):%Y%m%d%H%M}"


def pages(rds: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item under ``key`` of every page of ``operation`` (pages of :data:`PAGE_SIZE`)."""
    for page in rds.get_paginator(operation).paginate(MaxRecords=PAGE_SIZE, **kwargs):
        yield from page.get(key, [])


# Where DescribeDBInstances and DescribeDBClusters put the identifier, the ARN and the status.
_FIELDS = {
    "instance": ("DBInstanceIdentifier", "DBInstanceArn", "DBInstanceStatus"),
    "cluster": ("DBClusterIdentifier", "DBClusterArn", "Status"),
}


class RdsAdapter:
    """The RDS service adapter of one region (see :class:`scheduler.services.base.ServiceAdapter`)."""

    name = "rds"
    resizable = False

    def __init__(
        self,
        region: str,
        session: boto3.Session | None = None,
        snapshot_before_stop: bool = False,
        *,
        events_since: datetime | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.region = region
        self.snapshot_before_stop = snapshot_before_stop
        # The worker sets this to its previous pass so no automatic start between passes is missed; None = the
        # last DEFAULT_EVENT_WINDOW.
        self.events_since = events_since
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.client: Any = client("rds", region=region, session=session)
        # Non-fatal problems of the last discover (e.g. no permission to read events), for the worker to log.
        self.warnings: list[str] = []
        # ARNs seen by discover, so set_tags needs no extra describe calls.
        self._arns: dict[str, str] = {}

    def _pages(self, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return pages(self.client, operation, key, **kwargs)

    def discover(self, tag_key: str) -> list[Resource]:
        # DescribeDBInstances has no tag filter, so every instance is read: untagged ones are still needed for the
        # instance classes of cluster members.
        self.warnings = []
        instances = list(self._pages("describe_db_instances", "DBInstances"))
        clusters = list(self._pages("describe_db_clusters", "DBClusters"))
        classes = {db["DBInstanceIdentifier"]: db.get("DBInstanceClass") for db in instances}

        # `isched tag` copies a cluster's schedule tag onto its member instances, so that their cost is allocated to
        # the tag; such a member is scheduled with its cluster, not on its own.
        cluster_tags = {c["DBClusterIdentifier"]: tag_map(c.get("TagList")).get(tag_key) for c in clusters}
        found: list[Resource] = []
        for db in instances:
            tags = tag_map(db.get("TagList"))
            if tag_key not in tags:
                continue
            cluster = db.get("DBClusterIdentifier")
            if cluster and cluster_tags.get(cluster) is not None:
                continue
            found.append(self._instance(db, tags, tags[tag_key]))
        for cluster in clusters:
            tags = tag_map(cluster.get("TagList"))
            if tag_key in tags:
                found.append(self._cluster(cluster, tags, tags[tag_key], classes))
        for r in found:
            if r.arn:
                self._arns[r.id] = r.arn
        if found:
            self.warnings += mark_restarted(found, self._pages, self.region, self.clock(), self.events_since)
        return found

    def _instance(self, db: dict[str, Any], tags: dict[str, str], schedule: str) -> Resource:
        extra: RdsDetails = {"license_model": db.get("LicenseModel")}
        if db.get("DBClusterIdentifier"):
            extra["cluster"] = db["DBClusterIdentifier"]
        return self._resource(
            db, "instance", tags, schedule, db.get("DBInstanceClass"), instance_unschedulable(db), extra
        )

    def _cluster(
        self, cluster: dict[str, Any], tags: dict[str, str], schedule: str, classes: dict[str, str | None]
    ) -> Resource:
        extra: RdsDetails = {
            "engine_mode": cluster.get("EngineMode"),
            # Clusters carry no license model; their members do, and all members share the cluster's engine.
            "license_model": None,
            "members": [
                {
                    "id": m["DBInstanceIdentifier"],
                    "class": classes.get(m["DBInstanceIdentifier"]),
                    "writer": bool(m.get("IsClusterWriter")),
                }
                for m in cluster.get("DBClusterMembers") or []
            ],
        }
        if cluster.get("DBClusterInstanceClass"):  # Multi-AZ DB clusters (non-Aurora) have one class for all
            extra["cluster_instance_class"] = cluster["DBClusterInstanceClass"]
        return self._resource(cluster, "cluster", tags, schedule, None, cluster_unschedulable(cluster), extra)

    def _resource(
        self,
        item: dict[str, Any],
        kind: Literal["instance", "cluster"],
        tags: dict[str, str],
        schedule: str,
        instance_type: str | None,
        unschedulable: str | None,
        extra: RdsDetails,
    ) -> Resource:
        """A DB instance or cluster as the worker sees it: what both describe alike, plus ``extra`` details."""
        ident, arn, status_key = _FIELDS[kind]
        status = item.get(status_key)
        details: RdsDetails = {
            "kind": kind,
            "status": status,
            "engine": item.get("Engine"),
            "engine_version": item.get("EngineVersion"),
            "multi_az": bool(item.get("MultiAZ")),
            "storage_type": item.get("StorageType"),
            "allocated_storage": item.get("AllocatedStorage"),
            **extra,
        }
        if item.get("AutomaticRestartTime"):
            details["automatic_restart_time"] = iso(item["AutomaticRestartTime"])
        if item.get("PreferredMaintenanceWindow"):  # ddd:hh:mm-ddd:hh:mm, UTC: for use_maintenance_window
            details["maintenance_window"] = str(item["PreferredMaintenanceWindow"])
        return Resource(
            service=self.name,
            id=item[ident],
            schedule=schedule,
            observed=observed(status),
            arn=item.get(arn),
            instance_type=instance_type,
            tags=tags,
            details=details,
            unschedulable=unschedulable,
            volatile=VOLATILE_DETAILS,
        )

    def stop(self, resources: list[Resource], *, hibernate: bool = False) -> list[ActionResult]:
        # RDS has no hibernation: ``hibernate`` is an EC2 option and a plain stop is what the schedule means.
        return [self._guarded(r, self._stop_one) for r in resources]

    def start(self, resources: list[Resource], *, saved: dict[str, dict[str, Any]] | None = None) -> list[ActionResult]:
        return [self._guarded(r, self._start_one) for r in resources]

    def resize(self, resource: Resource, instance_type: str) -> ActionResult:
        return ActionResult(
            resource.id, ok=False, error="resize is not supported for RDS (change the DB instance class yourself)"
        )

    def _guarded(self, resource: Resource, action: Callable[[Resource], ActionResult]) -> ActionResult:
        return guarded(resource, action, "RDS")

    def _stop_one(self, r: Resource) -> ActionResult:
        if _is_cluster(r):
            return self._stop_cluster(r)
        kwargs: dict[str, Any] = {"DBInstanceIdentifier": r.id}
        details: dict[str, Any] = {}
        if self.snapshot_before_stop:
            # StopDBInstance takes the snapshot itself, before stopping, and takes none if the stop is refused.
            kwargs["DBSnapshotIdentifier"] = details["snapshot"] = snapshot_id(r.id, self.clock())
        response = self.client.stop_db_instance(**kwargs)
        details["status"] = response.get("DBInstance", {}).get("DBInstanceStatus")
        return ActionResult(r.id, ok=True, details=details)

    def _stop_cluster(self, r: Resource) -> ActionResult:
        details: dict[str, Any] = {}
        if self.snapshot_before_stop:
            # StopDBCluster has no snapshot parameter, so the snapshot comes first; a cluster that cannot be
            # stopped now gets none (the stop would be refused, and the retry would snapshot again).
            status = self._cluster_status(r.id)
            if status is not None and status != "available":
                return ActionResult(
                    r.id, ok=False, error=f"DB cluster {r.id} is {status}, not available: it cannot be stopped now"
                )
            details["snapshot"] = self._cluster_snapshot(r.id)
        try:
            self.client.stop_db_cluster(DBClusterIdentifier=r.id)
        except ClientError as exc:
            if "snapshot" in details:
                return ActionResult(
                    r.id,
                    ok=False,
                    error=f"{aws_error(exc)} (snapshot {details['snapshot']} is kept and reused by the retry)",
                    details=details,
                )
            raise
        details["status"] = self._cluster_status(r.id)
        return ActionResult(r.id, ok=True, details=details)

    def _cluster_snapshot(self, cluster_id: str) -> str:
        """A fresh snapshot of the cluster: a recent one of isched's (a retried stop) or a new one."""
        now = self.clock()
        prefix = f"isched-{cluster_id}-".lower()
        for snap in self._pages(
            "describe_db_cluster_snapshots", "DBClusterSnapshots", DBClusterIdentifier=cluster_id, SnapshotType="manual"
        ):
            ident = str(snap.get("DBClusterSnapshotIdentifier") or "")
            created = aware(snap.get("SnapshotCreateTime"))
            if not ident.lower().startswith(prefix) or snap.get("Status") not in ("creating", "available"):
                continue
            if snap.get("Status") == "creating" or (created is not None and now - created <= SNAPSHOT_REUSE):
                return ident
        ident = snapshot_id(cluster_id, now)
        self.client.create_db_cluster_snapshot(
            DBClusterSnapshotIdentifier=ident,
            DBClusterIdentifier=cluster_id,
            Tags=[{"Key": "isched:reason", "Value": "snapshot before scheduled stop"}],
        )
        return ident

    def _cluster_status(self, cluster_id: str) -> str | None:
        # StopDBCluster/StartDBCluster answer with the cluster as it was when asked (moto even says "available"
        # after a stop): the state is read back instead. A failed read-back does not undo a successful action.
        try:
            clusters = self.client.describe_db_clusters(DBClusterIdentifier=cluster_id).get("DBClusters", [])
        except (ClientError, BotoCoreError):
            return None
        return clusters[0].get("Status") if clusters else None

    def _start_one(self, r: Resource) -> ActionResult:
        if _is_cluster(r):
            self.client.start_db_cluster(DBClusterIdentifier=r.id)
            return ActionResult(r.id, ok=True, details={"status": self._cluster_status(r.id)})
        response = self.client.start_db_instance(DBInstanceIdentifier=r.id)
        return ActionResult(r.id, ok=True, details={"status": response.get("DBInstance", {}).get("DBInstanceStatus")})

    def set_tags(self, tags: dict[str, dict[str, str]]) -> list[ActionResult]:
        # AddTagsToResource takes one ARN per call: no batching is possible.
        results = []
        for ident, values in tags.items():
            try:
                arn = self._arn(ident)
                self.client.add_tags_to_resource(
                    ResourceName=arn, Tags=[{"Key": k, "Value": tag_value(v)} for k, v in values.items()]
                )
                results.append(ActionResult(ident, ok=True))
            except (ClientError, BotoCoreError, LookupError) as exc:
                results.append(ActionResult(ident, ok=False, error=aws_error(exc)))
        return results

    def _arn(self, ident: str) -> str:
        if ident.startswith("arn:"):
            return ident
        if ident in self._arns:
            return self._arns[ident]
        arn = None
        for operation, param, key, not_found in (
            ("describe_db_instances", "DBInstanceIdentifier", "DBInstances", "DBInstanceNotFound"),
            ("describe_db_clusters", "DBClusterIdentifier", "DBClusters", "DBClusterNotFoundFault"),
        ):
            try:
                found = getattr(self.client, operation)(**{param: ident}).get(key, [])
            except ClientError as exc:
                if _code(exc) != not_found:
                    raise
                continue
            arn = found[0][_FIELDS["instance" if key == "DBInstances" else "cluster"][1]] if found else None
            if arn is not None:
                break
        if arn is None:
            raise LookupError(f"no RDS DB instance or DB cluster named {ident} in {self.region}")
        self._arns[ident] = arn
        return str(arn)


def _is_cluster(r: Resource) -> bool:
    return r.details.get("kind") == "cluster"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


# RDS identifiers: 1-63 letters, digits or hyphens, starting with a letter; stored and matched case-insensitively.
_RDS_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}\Z")
_ARN_RESOURCE = re.compile(r"^(?P<type>db|cluster):(?P<id>[A-Za-z][A-Za-z0-9-]{0,62})\Z")


class RdsService(ServiceBase):
    """DB instances (kind ``rds``) and DB clusters (kind ``rds-cluster``); see
    :class:`scheduler.services.base.Service`. ``filter_values`` is an attribute so tests can shrink it."""

    name = "rds"
    # Names RDS would reject are not sent to it (it may answer InvalidParameterValue rather than "none").
    name_pattern = _RDS_ID
    case_insensitive = True
    plural = "RDS DB instances and clusters"
    # DB instances, and clusters (Aurora, DocumentDB, Neptune).
    tagging_types = ("rds:db", "rds:cluster")

    def __init__(self) -> None:
        self.kinds = {"rds": "RDS DB instance", "rds-cluster": "RDS DB cluster"}
        # RDS documents no maximum number of filter values, so keep id filters modest.
        self.filter_values = 50

    def adapter(self, region: str, session: boto3.Session, **options: Any) -> RdsAdapter:
        return RdsAdapter(region, session=session, snapshot_before_stop=bool(options.get("snapshot_before_stop")))

    def pricing(
        self, region: str, instance_type: str | None, details: ServiceDetails, capacity: Mapping[str, Any] | None
    ) -> Pricing:
        return db_pricing(region, instance_type, details)

    def billing_while_stopped(self, details: ServiceDetails, stopped_hours: Decimal) -> Mapping[str, Any]:
        return billing_while_stopped(details, stopped_hours)

    def billed_under_own_tag(self, pricing: Pricing) -> bool:
        # An Aurora, Neptune or DocumentDB cluster's member instances are billed, not the cluster.
        engine = pricing.components[0].query.engine if pricing.components else None
        return cluster_family(engine) is None

    def parse_arn(self, value: str, resource: str) -> tuple[str, str]:
        expected = "an RDS DB instance or cluster ARN (…:db:ID or …:cluster:ID)"
        found = match_arn(_ARN_RESOURCE, value, resource, expected)
        return ("rds" if found["type"] == "db" else "rds-cluster"), found["id"].lower()

    def _found(self, clients: ClientSource, region: str, kind: str, **params: Any) -> Iterator[Found]:
        """The DB instances (kind ``rds``) or DB clusters (``rds-cluster``) DescribeDB… answers for ``params``."""
        instance = kind == "rds"
        operation, key = (
            ("describe_db_instances", "DBInstances") if instance else ("describe_db_clusters", "DBClusters")
        )
        ident, arn, status = _FIELDS["instance" if instance else "cluster"]
        for item in pages(clients.get("rds", region), operation, key, **params):
            yield Found(
                kind=kind,
                id=item[ident],
                region=region,
                arn=item[arn],
                tags=tag_map(item.get("TagList")),
                state=item.get(status),
                cluster=item.get("DBClusterIdentifier") if instance else None,
                # An identifier (moto answers an ARN there: its last part is the identifier).
                members=tuple(
                    str(m["DBInstanceIdentifier"]).rsplit(":db:", 1)[-1] for m in item.get("DBClusterMembers") or []
                ),
            )

    def lookup(self, clients: ClientSource, region: str, kind: str, ids: list[str]) -> Iterable[Found]:
        for batch in chunks(ids, self.filter_values):
            name = "db-instance-id" if kind == "rds" else "db-cluster-id"
            yield from self._found(clients, region, kind, Filters=[{"Name": name, "Values": batch}])

    def find_tagged(
        self, clients: ClientSource, region: str, key: str, value: str
    ) -> Iterator[tuple[str, Iterable[Found]]]:
        # DescribeDBInstances/Clusters have no tag filter for every engine: everything is listed, the caller
        # filters on TagList. Instances of a cluster are left out: the cluster is what a schedule acts on.
        yield "RDS DB instances", (r for r in self._found(clients, region, "rds") if not r.cluster)
        yield "RDS DB clusters", self._found(clients, region, "rds-cluster")

    def refusal(self, found: Found, op: Operation) -> str | None:
        if op == "tag" and found.kind == "rds" and found.cluster:
            # RDS refuses to stop or start one instance of a cluster: only the cluster is scheduled.
            return (
                f"RDS DB instance '{found.id}' belongs to DB cluster '{found.cluster}', which starts and stops "
                "as a whole: tag the cluster instead"
            )
        return None

    def members(self, found: Found) -> tuple[str, list[str]] | None:
        return ("rds", list(found.members)) if found.kind == "rds-cluster" and found.members else None

    def tag_writer(
        self, clients: ClientSource, region: str, kind: str, op: Operation, key: str, value: str
    ) -> tuple[int, TagCall]:
        # AddTagsToResource/RemoveTagsFromResource take a single ResourceName (ARN) per call: no batching.
        rds = clients.get("rds", region)
        if op == "tag":
            return 1, lambda batch: rds.add_tags_to_resource(
                ResourceName=batch[0].arn, Tags=[{"Key": key, "Value": value}]
            )
        return 1, lambda batch: rds.remove_tags_from_resource(ResourceName=batch[0].arn, TagKeys=[key])


SERVICE: Service = RdsService()
