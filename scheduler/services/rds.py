"""RDS DB instances and Aurora, Neptune and DocumentDB clusters (all share the RDS control plane and its API).

DescribeDBClusters and DescribeDBInstances answer every engine alike (``Engine`` says which: ``aurora-*``,
``neptune``, ``docdb``, or ``mysql``/``postgres`` for a Multi-AZ DB cluster), and StopDBCluster/StartDBCluster stop
and start all of them; what differs per engine is how a cluster is billed (see :func:`_cluster_pricing`).
DocumentDB elastic clusters and Neptune Analytics graphs are other APIs and never appear here.

A DB instance that belongs to a cluster is stopped and started only through its cluster (StopDBCluster); single
instances through StopDBInstance. There is no batch API, so every action is one call per resource and one
resource's failure never stops the others.

What RDS refuses to stop is found at discovery and marked ``unschedulable`` with the reason, so users read why in
the report instead of a raw AWS error on every pass.

RDS starts a database that has been stopped for seven days on its own. The AWS solution reads that as a manual
start and leaves it running for the rest of the stopped period; here discovery reads the RDS events that announce
such a start and flags the resource ``restarted_by_service`` so the engine restores the schedule's stop.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypedDict

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scheduler.aws.session import client
from scheduler.engine import Observed, instant_text
from scheduler.services.base import ActionResult, Resource, Service, ServiceBase, ServiceDetails
from scheduler.services.common import aws_error, chunks, guarded, tag_map
from scheduler.services.details import flag, maps, text
from scheduler.services.naming import ClientSource, Found, Operation, TagCall, match_arn
from scheduler.services.pricing import IO_OPTIMIZED_STORAGE, Component, PriceQuery, Pricing, cluster_family, whole

log = logging.getLogger(__name__)


# One instance of a DB cluster ("class" is a keyword, hence the functional form); class None: not described.
ClusterMember = TypedDict("ClusterMember", {"id": str, "class": str | None, "writer": bool})


class RdsDetails(TypedDict, total=False):
    """What a DB instance's or DB cluster's ``details`` hold (``members`` and the engine mode: clusters only;
    ``cluster`` and ``license_model``: instances, the latter None on clusters)."""

    kind: Literal["instance", "cluster"]
    status: str | None
    engine: str | None
    engine_version: str | None
    multi_az: bool
    storage_type: str | None
    allocated_storage: int | None
    license_model: str | None
    cluster: str  # the DB cluster an instance belongs to
    engine_mode: str | None
    members: list[ClusterMember]
    cluster_instance_class: str  # Multi-AZ DB clusters (non-Aurora): one class for all members
    automatic_restart_time: str  # when RDS will start a stopped database on its own
    maintenance_window: str  # ddd:hh:mm-ddd:hh:mm, UTC
    auto_started_at: str  # when RDS last started it on its own (from its events)
    tags: dict[str, str]  # added by the worker to what it stores


def _details(details: Mapping[str, object]) -> RdsDetails:
    """The keys pricing and the stopped-billing estimate read, as typed (a ledger entry's or state record's
    details, numbers as DynamoDB's Decimals; a value of another type reads as absent)."""
    out: RdsDetails = {
        "kind": "cluster" if details.get("kind") == "cluster" else "instance",
        "engine": text(details, "engine"),
        "engine_mode": text(details, "engine_mode"),
        "multi_az": bool(flag(details, "multi_az")),
        "storage_type": text(details, "storage_type"),
        "allocated_storage": whole(details.get("allocated_storage")),
        "license_model": text(details, "license_model"),
        "members": [
            {"id": text(m, "id") or "", "class": text(m, "class"), "writer": bool(flag(m, "writer"))}
            for m in maps(details.get("members"))
        ],
    }
    if (cls := text(details, "cluster_instance_class")) is not None:
        out["cluster_instance_class"] = cls
    return out


# DescribeDBInstances / DescribeDBClusters / DescribeEvents MaxRecords: minimum 20, maximum 100.
PAGE_SIZE = 100
# Without StartTime or Duration DescribeEvents covers only the past hour; a day covers any sane pass interval and
# a missed pass or two. RDS keeps events for 14 days.
DEFAULT_EVENT_WINDOW = timedelta(hours=24)
MAX_EVENT_WINDOW = timedelta(days=14)

# RDS-EVENT-0154 (db-instance) "DB instance is being started due to it exceeding the maximum allowed time being
# stopped." and RDS-EVENT-0153 (db-cluster) "DB cluster is being started due to it exceeding the maximum allowed
# time being stopped." (RDS and Aurora user guides, event message tables). DescribeEvents returns no event id,
# only the message, so the message is what is matched; the common tail is matched so a changed first word or a
# missing final period does not hide the event.
AUTO_START_MESSAGE = "exceeding the maximum allowed time being stopped"
# RDS-EVENT-0087 "DB instance stopped." and RDS-EVENT-0150 "DB cluster stopped.": a stop after the automatic start
# means that start was already undone (by a previous pass), so a later start is someone's, not the service's.
STOPPED_MESSAGES = ("db instance stopped", "db cluster stopped")
# All four events are in the "notification" category; asking for it alone keeps the event pages short.
EVENT_CATEGORIES = ["notification"]

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

# Aurora engine modes that cannot be stopped (Aurora user guide, "Stopping and starting an Aurora DB cluster",
# limitations; the same list is in the AWS-StartStopAuroraCluster runbook).
_UNSTOPPABLE_ENGINE_MODES = {
    "serverless": "an Aurora Serverless v1 cluster (engine mode serverless)",
    "multimaster": "an Aurora multi-master cluster",
    "parallelquery": "an Aurora cluster using parallel query (engine mode parallelquery)",
}


def observed(status: str | None) -> Observed:
    return _OBSERVED.get((status or "").lower(), Observed.OTHER)


def tag_value(value: str) -> str:
    """``value`` made acceptable to RDS: disallowed characters become ``_``, then cut to the maximum length."""
    return _TAG_VALUE_BAD.sub("_", value)[:TAG_VALUE_MAX]


def snapshot_id(resource_id: str, at: datetime) -> str:
    """``isched-<id>-<yyyymmddhhmm>`` (UTC): RDS snapshot ids allow letters, digits and single hyphens."""
    return f"isched-{resource_id}-{at.astimezone(UTC):%Y%m%d%H%M}"


def instance_unschedulable(db: dict[str, Any]) -> str | None:
    """Why RDS cannot stop this DB instance on its own, or None.

    RDS user guide, "Stopping an Amazon RDS DB instance temporarily", limitations: no read replicas, no sources of
    read replicas, no SQL Server Multi-AZ; StopDBInstance does not apply to cluster members (use StopDBCluster)
    nor to RDS Custom (API reference).
    """
    name = db["DBInstanceIdentifier"]
    engine = str(db.get("Engine") or "")
    if db.get("DBClusterIdentifier"):
        return (
            f"DB instance {name} is a member of DB cluster {db['DBClusterIdentifier']}: RDS stops and starts "
            f"cluster members only with their cluster; tag its cluster instead"
        )
    source = db.get("ReadReplicaSourceDBInstanceIdentifier") or db.get("ReadReplicaSourceDBClusterIdentifier")
    if source:
        return f"DB instance {name} is a read replica of {source}: RDS cannot stop a read replica"
    replicas = [*(db.get("ReadReplicaDBInstanceIdentifiers") or []), *(db.get("ReadReplicaDBClusterIdentifiers") or [])]
    if replicas:
        return (
            f"DB instance {name} has read replicas ({', '.join(replicas)}): RDS cannot stop a DB instance that has "
            f"read replicas"
        )
    if engine.lower().startswith("sqlserver") and db.get("MultiAZ"):
        return f"DB instance {name} is SQL Server in a Multi-AZ deployment, which RDS cannot stop"
    if engine.lower().startswith("custom-"):
        return f"DB instance {name} is an RDS Custom instance ({engine}), which StopDBInstance does not apply to"
    return None


# What a global database is called per cluster family (Aurora and Neptune: global database; DocumentDB: global
# cluster). Stopping a member is refused for Aurora (user guide, stop/start limitations); isched treats the other
# families' global members the same way rather than find out on every pass.
_GLOBAL_NAMES = {"Aurora": "Aurora global database", "Neptune": "Neptune global database"}


def cluster_unschedulable(cluster: dict[str, Any]) -> str | None:
    """Why RDS cannot stop this DB cluster, or None (Aurora user guide, stop/start limitations; Neptune and
    DocumentDB clusters stop and start with the same calls)."""
    name = cluster["DBClusterIdentifier"]
    mode = str(cluster.get("EngineMode") or "").lower()
    if mode in _UNSTOPPABLE_ENGINE_MODES:
        return f"DB cluster {name} is {_UNSTOPPABLE_ENGINE_MODES[mode]}, which RDS cannot stop"
    if cluster.get("GlobalClusterIdentifier"):
        family = cluster_family(cluster.get("Engine")) or "Aurora"
        what = _GLOBAL_NAMES.get(family, f"{family} global cluster")
        return f"DB cluster {name} is part of the {what} {cluster['GlobalClusterIdentifier']}, which RDS cannot stop"
    return None


def pages(rds: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item under ``key`` of every page of ``operation`` (pages of :data:`PAGE_SIZE`)."""
    for page in rds.get_paginator(operation).paginate(MaxRecords=PAGE_SIZE, **kwargs):
        yield from page.get(key, [])


# Storage, USD per GB-month at US East (N. Virginia) list rates (Single-AZ; Multi-AZ bills it twice). Provisioned
# IOPS and throughput, backups and snapshots are extra and not estimated. AWS prorates a GB-month over 730 hours.
STORAGE_GB_MONTH = {
    "gp2": Decimal("0.115"),
    "gp3": Decimal("0.115"),
    "io1": Decimal("0.125"),
    "io2": Decimal("0.125"),
    "standard": Decimal("0.10"),
}
HOURS_PER_MONTH = Decimal(730)

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
            self._mark_restarted(found)
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
            details["automatic_restart_time"] = _iso(item["AutomaticRestartTime"])
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

    def _mark_restarted(self, resources: list[Resource]) -> None:
        """Flags resources RDS started on its own (7-day limit) and that are still up since then."""
        now = self.clock()
        since = max(_aware(self.events_since) or now - DEFAULT_EVENT_WINDOW, now - MAX_EVENT_WINDOW)
        window: dict[str, Any] = {"StartTime": since, "EndTime": now}
        for source_type, kind in (("db-instance", "instance"), ("db-cluster", "cluster")):
            wanted = {r.id.lower(): r for r in resources if r.details.get("kind") == kind}
            if not wanted:
                continue
            auto_started: dict[str, datetime] = {}
            stopped: dict[str, datetime] = {}
            try:
                events = self._pages(
                    "describe_events", "Events", SourceType=source_type, EventCategories=EVENT_CATEGORIES, **window
                )
                for event in events:
                    ident = str(event.get("SourceIdentifier") or "").lower()
                    if ident not in wanted:
                        continue
                    message = str(event.get("Message") or "").lower()
                    at = _aware(event.get("Date")) or now
                    if AUTO_START_MESSAGE in message:
                        auto_started[ident] = max(at, auto_started.get(ident, at))
                    elif message.startswith(STOPPED_MESSAGES):
                        stopped[ident] = max(at, stopped.get(ident, at))
            except (ClientError, BotoCoreError) as exc:
                # Without events a service restart looks like a manual start: a lesser harm than failing the pass.
                warning = f"cannot read RDS {source_type} events in {self.region}: {aws_error(exc)}"
                log.warning(warning)
                self.warnings.append(warning)
                continue
            for ident, at in auto_started.items():
                r = wanted[ident]
                r.details = {**r.details, "auto_started_at": _iso(at)}
                if ident in stopped and stopped[ident] >= at:
                    continue  # already stopped again after the automatic start (the event is older news)
                if r.observed not in (Observed.STOPPED, Observed.STOPPING):
                    r.restarted_by_service = True

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
            created = _aware(snap.get("SnapshotCreateTime"))
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


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: Any) -> str:
    at = _aware(value)
    return instant_text(at) if at else str(value)


# RDS identifiers: 1-63 letters, digits or hyphens, starting with a letter; stored and matched case-insensitively.
_RDS_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}\Z")
_ARN_RESOURCE = re.compile(r"^(?P<type>db|cluster):(?P<id>[A-Za-z][A-Za-z0-9-]{0,62})\Z")


# What a serverless member instance (class db.serverless) is billed by, per cluster family.
_CAPACITY_UNITS = {"Aurora": "ACU", "Neptune": "NCU", "DocumentDB": "DCU"}


def _cluster_pricing(region: str, d: RdsDetails) -> Pricing:
    """An Aurora, Neptune or DocumentDB cluster is billed as its member instances, each at its class's rate in its
    engine's price list (and its I/O-Optimized rate with that storage); the cluster itself has no hourly price.
    Any other DB cluster is a Multi-AZ DB cluster: one deployment of its class."""
    engine = d.get("engine") or ""
    family = cluster_family(engine)
    members = d.get("members") or []
    classes = [m["class"] or None for m in members]
    if family is None:
        # A Multi-AZ DB cluster: one writer and two readable standbys of one class, billed as one deployment.
        cls = d.get("cluster_instance_class") or next((c for c in classes if c), None)
        if not cls:
            return Pricing(None, len(members) or 3, problem="the DB cluster's instance class is unknown")
        query = PriceQuery("rds", region, cls, engine=engine, deployment="multi-az-cluster")
        return Pricing(cls, len(members) or 3, (Component(query),))
    if d.get("engine_mode") == "serverless":
        return Pricing("serverless", 0, problem="Aurora Serverless v1 is billed per ACU-hour, not per instance")
    if not members:
        return Pricing(None, 0, problem="the cluster has no member instances known to the ledger")
    if None in classes:
        return Pricing(None, len(members), problem="a member's DB instance class is unknown")
    counts = Counter(c for c in classes if c)
    # One class: the class (units says how many); several: each with its count.
    label = (
        next(iter(counts))
        if len(counts) == 1
        else " + ".join(f"{n}×{c}" if n > 1 else c for c, n in sorted(counts.items()))
    )
    if "db.serverless" in counts:
        serverless = "Aurora Serverless v2" if family == "Aurora" else f"{family} serverless"
        unit = _CAPACITY_UNITS[family]
        return Pricing(
            label, len(members), problem=f"{serverless} members are billed per {unit}-hour, not per instance"
        )
    storage_type = d.get("storage_type") or ""
    storage = storage_type if storage_type in IO_OPTIMIZED_STORAGE else None
    parts = tuple(
        Component(PriceQuery("rds", region, c, engine=engine, storage=storage), n) for c, n in sorted(counts.items())
    )
    return Pricing(label, len(members), parts)


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
        d = _details(details)
        if d.get("kind") == "cluster":
            return _cluster_pricing(region, d)
        if not instance_type:
            return Pricing(None, 1, problem="the DB instance class is unknown")
        query = PriceQuery(
            "rds",
            region,
            instance_type,
            engine=d.get("engine"),
            deployment="multi-az" if d.get("multi_az") else "single-az",
            license_model=d.get("license_model"),
        )
        return Pricing(instance_type, 1, (Component(query),))

    def billing_while_stopped(self, details: ServiceDetails, stopped_hours: Decimal) -> Mapping[str, Any]:
        d = _details(details)
        if d.get("kind") == "cluster":
            family = cluster_family(d.get("engine"))
            return {
                "what": "the cluster's storage" + (" (billed per GB used) and I/O" if family else ""),
                "estimated_cost": None,
                "note": "not estimated: "
                + (
                    f"{family} bills the storage used, which no describe call returns" if family else "no rate is known"
                ),
            }
        gb = d.get("allocated_storage")
        storage = d.get("storage_type") or ""
        rate = STORAGE_GB_MONTH.get(storage)
        if gb is None or rate is None:
            return {
                "what": "allocated storage",
                "estimated_cost": None,
                "note": "not estimated: "
                + ("the allocated storage is not recorded" if gb is None else f"no rate for storage type '{storage}'"),
            }
        copies = 2 if d.get("multi_az") else 1
        return {
            "what": f"{gb} GB of {storage} storage" + (" (Multi-AZ: two copies)" if copies == 2 else ""),
            "storage_gb": gb,
            "storage_type": storage,
            "rate_per_gb_month": float(rate * copies),
            "estimated_cost": stopped_hours * gb * rate * copies / HOURS_PER_MONTH,
            "note": "at US East (N. Virginia) list rates, over the stopped hours; provisioned IOPS, backups excluded",
        }

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
