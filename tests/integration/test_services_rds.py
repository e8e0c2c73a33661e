"""The RDS adapter against a moto server over HTTP: DB instances, an Aurora cluster with members, read replicas.

Every test makes its own resources with unique identifiers and looks only at those: tests on one xdist worker share
a moto server, so discovery also returns other tests' resources.

moto quirks met here (the adapter reads state back with describe calls, so none of them leaks into results):
- StopDBCluster answers with the cluster as it was (``available``), StartDBCluster with ``started``; describe then
  says ``stopped`` / ``available`` at once (no ``stopping`` / ``starting`` phase).
- Stopping a cluster leaves its member instances ``available`` in describe (AWS reports them ``stopped``).
- moto never emits the automatic-start events (RDS-EVENT-0153/0154), nor stopped/started events; the event path is
  driven by real-shaped events injected into DescribeEvents.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scheduler.aws.session import client
from scheduler.engine import Observed
from scheduler.services import rds as rds_module
from scheduler.services.base import Resource
from scheduler.services.rds import RdsAdapter
from scheduler.services.rds_stoppable import cluster_unschedulable, instance_unschedulable

REGION = "us-east-1"
TAG = "Schedule"
NOW = datetime(2026, 11, 27, 9, 30, 12, tzinfo=UTC)


def uid(prefix: str = "t") -> str:
    # RDS identifiers start with a letter and are stored lowercase.
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def rds(aws: str) -> Any:
    return client("rds", REGION)


@pytest.fixture
def make_instance(rds: Any) -> Callable[..., str]:
    def make(name: str | None = None, *, schedule: str | None = "office", **extra: Any) -> str:
        name = name or uid("db")
        kwargs: dict[str, Any] = {
            "DBInstanceIdentifier": name,
            "Engine": "postgres",
            "DBInstanceClass": "db.t3.micro",
            "AllocatedStorage": 20,
            "MasterUsername": "admin1",
            "MasterUserPassword": "password-123",
            **extra,
        }
        if schedule is not None:
            kwargs["Tags"] = [{"Key": TAG, "Value": schedule}, {"Key": "team", "Value": "qa"}]
        rds.create_db_instance(**kwargs)
        return name

    return make


@pytest.fixture
def make_cluster(rds: Any) -> Callable[..., tuple[str, list[str]]]:
    """An Aurora PostgreSQL cluster with a writer and ``readers`` readers; the members themselves are untagged."""

    def make(*, schedule: str | None = "office", readers: int = 0, **extra: Any) -> tuple[str, list[str]]:
        name = uid("cl")
        kwargs: dict[str, Any] = {
            "DBClusterIdentifier": name,
            "Engine": "aurora-postgresql",
            "MasterUsername": "admin1",
            "MasterUserPassword": "password-123",
            **extra,
        }
        if schedule is not None:
            kwargs["Tags"] = [{"Key": TAG, "Value": schedule}]
        rds.create_db_cluster(**kwargs)
        members = []
        for i, klass in enumerate(["db.r6g.large"] + ["db.r6g.xlarge"] * readers):
            member = f"{name}-m{i}"
            rds.create_db_instance(
                DBInstanceIdentifier=member, Engine="aurora-postgresql", DBInstanceClass=klass, DBClusterIdentifier=name
            )
            members.append(member)
        return name, members

    return make


def discover(adapter: RdsAdapter, *ids: str) -> dict[str, Resource]:
    found = {r.id: r for r in adapter.discover(TAG)}
    return {i: found[i] for i in ids if i in found}


def instance_status(rds: Any, name: str) -> str:
    return str(rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DBInstanceStatus"])


def cluster_status(rds: Any, name: str) -> str:
    return str(rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]["Status"])


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


# --- discovery ---------------------------------------------------------------------------------------------------


def test_discover_finds_only_tagged_resources_with_details(rds: Any, make_instance: Any, make_cluster: Any) -> None:
    plain = make_instance(schedule="office-berlin", MultiAZ=True, StorageType="gp3", AllocatedStorage=50)
    untagged = make_instance(schedule=None)
    cluster, members = make_cluster(schedule="nights", readers=1)
    untagged_cluster, _ = make_cluster(schedule=None)

    found = discover(RdsAdapter(REGION), plain, untagged, cluster, untagged_cluster, *members)

    assert set(found) == {plain, cluster}  # the members carry no tag of their own
    db = found[plain]
    assert (db.service, db.schedule, db.observed, db.instance_type) == (
        "rds",
        "office-berlin",
        Observed.RUNNING,
        "db.t3.micro",
    )
    assert db.arn == f"arn:aws:rds:{REGION}:123456789012:db:{plain}"
    assert db.tags == {TAG: "office-berlin", "team": "qa"}
    assert db.unschedulable is None and db.restarted_by_service is False
    assert db.details["kind"] == "instance"
    assert db.details["engine"] == "postgres"
    assert db.details["engine_version"]
    assert db.details["multi_az"] is True
    assert (db.details["storage_type"], db.details["allocated_storage"]) == ("gp3", 50)
    described = rds.describe_db_instances(DBInstanceIdentifier=plain)["DBInstances"][0]
    assert db.details["license_model"] == described["LicenseModel"]

    cl = found[cluster]
    assert (cl.schedule, cl.observed, cl.instance_type, cl.unschedulable) == ("nights", Observed.RUNNING, None, None)
    assert cl.arn == f"arn:aws:rds:{REGION}:123456789012:cluster:{cluster}"
    assert cl.details["kind"] == "cluster"
    assert cl.details["engine"] == "aurora-postgresql"
    assert sorted(cl.details["members"], key=lambda m: m["id"]) == [
        {"id": members[0], "class": "db.r6g.large", "writer": True},
        {"id": members[1], "class": "db.r6g.xlarge", "writer": False},
    ]


def test_replicas_members_and_serverless_v1_are_unschedulable(rds: Any, make_instance: Any, make_cluster: Any) -> None:
    source = make_instance()
    replica = uid("rr")
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier=replica, SourceDBInstanceIdentifier=source, Tags=[{"Key": TAG, "Value": "office"}]
    )
    cluster, members = make_cluster()
    # A member tagged directly (people do this: the console shows instances, not clusters) of an untagged cluster.
    untagged_cluster, untagged_members = make_cluster(schedule=None)
    member_arn = rds.describe_db_instances(DBInstanceIdentifier=untagged_members[0])["DBInstances"][0]["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=member_arn, Tags=[{"Key": TAG, "Value": "office"}])
    # A member of a tagged cluster carries the tag too (`isched tag` copies it, for cost allocation): it is
    # scheduled through its cluster and is not a resource of its own.
    tagged_member_arn = rds.describe_db_instances(DBInstanceIdentifier=members[0])["DBInstances"][0]["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=tagged_member_arn, Tags=[{"Key": TAG, "Value": "office"}])
    serverless = uid("sl")
    rds.create_db_cluster(
        DBClusterIdentifier=serverless,
        Engine="aurora-mysql",
        EngineMode="serverless",
        MasterUsername="admin1",
        MasterUserPassword="password-123",
        Tags=[{"Key": TAG, "Value": "office"}],
    )

    found = discover(RdsAdapter(REGION), source, replica, cluster, untagged_members[0], serverless)
    assert members[0] not in {r.id for r in RdsAdapter(REGION).discover(TAG)}
    members = untagged_members
    cluster_of_member = untagged_cluster

    assert (
        found[replica].unschedulable
        == f"DB instance {replica} is a read replica of {source}: RDS cannot stop a read replica"
    )
    assert found[source].unschedulable == (
        f"DB instance {source} has read replicas ({replica}): RDS cannot stop a DB instance that has read replicas"
    )
    reason = found[members[0]].unschedulable
    assert reason is not None and f"member of DB cluster {cluster_of_member}" in reason
    assert "tag its cluster instead" in reason
    assert found[members[0]].details["cluster"] == cluster_of_member
    assert found[serverless].unschedulable == (
        f"DB cluster {serverless} is an Aurora Serverless v1 cluster (engine mode serverless), which RDS cannot stop"
    )
    assert found[cluster].unschedulable is None

    # The worker never acts on them; should one get through anyway, the adapter refuses without calling RDS.
    adapter = RdsAdapter(REGION)
    results = adapter.stop([found[replica], found[source], found[members[0]]])
    assert [(r.resource, r.ok, r.error) for r in results] == [
        (x, False, found[x].unschedulable) for x in (replica, source, members[0])
    ]
    assert instance_status(rds, source) == instance_status(rds, replica) == "available"


@pytest.mark.parametrize(
    ("db", "expected"),
    [
        ({"Engine": "sqlserver-se", "MultiAZ": True}, "SQL Server in a Multi-AZ deployment"),
        ({"Engine": "sqlserver-se", "MultiAZ": False}, None),
        ({"Engine": "custom-oracle-ee"}, "RDS Custom instance (custom-oracle-ee)"),
        ({"Engine": "mysql", "ReadReplicaDBClusterIdentifiers": ["aurora-rr"]}, "has read replicas (aurora-rr)"),
        ({"Engine": "mysql", "ReadReplicaSourceDBClusterIdentifier": "maz"}, "is a read replica of maz"),
        ({"Engine": "mysql", "MultiAZ": True}, None),
    ],
)
def test_instance_rules_that_describe_alone_decides(db: dict[str, Any], expected: str | None) -> None:
    reason = instance_unschedulable({"DBInstanceIdentifier": "x", **db})
    assert reason == expected if expected is None else (reason is not None and expected in reason)


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        ({"EngineMode": "multimaster"}, "multi-master"),
        ({"EngineMode": "parallelquery"}, "parallel query"),
        ({"EngineMode": "provisioned", "GlobalClusterIdentifier": "g1"}, "Aurora global database g1"),
        ({"EngineMode": "provisioned", "Engine": "neptune"}, None),
        ({"Engine": "docdb"}, None),
    ],
)
def test_cluster_rules(cluster: dict[str, Any], expected: str | None) -> None:
    reason = cluster_unschedulable({"DBClusterIdentifier": "c", **cluster})
    assert reason == expected if expected is None else (reason is not None and expected in reason)


def test_discovery_follows_markers(rds: Any, make_instance: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rds_module, "PAGE_SIZE", 20)  # RDS's minimum, so a few resources span pages
    mine = {make_instance(schedule="paged") for _ in range(21)}
    adapter = RdsAdapter(REGION)
    calls: list[dict[str, Any]] = []
    adapter.client.meta.events.register(
        "provide-client-params.rds.DescribeDBInstances", lambda params, **_: calls.append(dict(params))
    )

    found = discover(adapter, *mine)

    assert set(found) == mine
    assert len(calls) >= 2 and all(c["MaxRecords"] == 20 for c in calls)
    assert "Marker" not in calls[0] and all(c.get("Marker") for c in calls[1:])


# --- stop / start ------------------------------------------------------------------------------------------------


def test_stop_and_start_instance_read_back(rds: Any, make_instance: Any) -> None:
    name = make_instance()
    adapter = RdsAdapter(REGION)
    db = discover(adapter, name)[name]

    [stopped] = adapter.stop([db], hibernate=True)  # no hibernation in RDS: a plain stop
    assert (stopped.resource, stopped.ok, stopped.error) == (name, True, None)
    assert instance_status(rds, name) == "stopped"
    assert discover(adapter, name)[name].observed is Observed.STOPPED

    [again] = adapter.stop([db])
    assert not again.ok and again.error is not None and again.error.startswith("InvalidDBInstanceState")

    [started] = adapter.start([db], saved={})
    assert started.ok and instance_status(rds, name) == "available"
    assert discover(adapter, name)[name].observed is Observed.RUNNING


def test_stop_and_start_cluster_read_back(rds: Any, make_cluster: Any) -> None:
    cluster, _ = make_cluster(readers=1)
    adapter = RdsAdapter(REGION)
    cl = discover(adapter, cluster)[cluster]

    [stopped] = adapter.stop([cl])
    # moto's StopDBCluster answers "available"; the adapter reports what describe says afterwards.
    assert stopped.ok and stopped.details["status"] == "stopped"
    assert cluster_status(rds, cluster) == "stopped"
    assert discover(adapter, cluster)[cluster].observed is Observed.STOPPED

    [started] = adapter.start([cl], saved={})
    # moto's StartDBCluster answers "started", a status AWS does not have; describe says "available".
    assert started.ok and started.details["status"] == "available"
    assert cluster_status(rds, cluster) == "available"

    [refused] = adapter.start([cl], saved={})
    assert not refused.ok and refused.error is not None and refused.error.startswith("InvalidDBClusterStateFault")


def test_one_failure_never_stops_the_others(
    rds: Any, make_instance: Any, make_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, broken, last = make_instance(), make_instance(), make_instance()
    cluster, _ = make_cluster()
    adapter = RdsAdapter(REGION)
    found = discover(adapter, first, broken, last, cluster)
    real_stop = adapter.client.stop_db_instance

    def flaky_stop(**kwargs: Any) -> Any:
        if kwargs["DBInstanceIdentifier"] == broken:
            raise client_error("InvalidDBInstanceState", f"DB instance {broken} is backing-up", "StopDBInstance")
        return real_stop(**kwargs)

    monkeypatch.setattr(adapter.client, "stop_db_instance", flaky_stop)
    results = adapter.stop([found[first], found[broken], found[cluster], found[last]])

    assert [(r.resource, r.ok) for r in results] == [(first, True), (broken, False), (cluster, True), (last, True)]
    assert results[1].error == f"InvalidDBInstanceState: DB instance {broken} is backing-up"
    assert [instance_status(rds, n) for n in (first, broken, last)] == ["stopped", "available", "stopped"]
    assert cluster_status(rds, cluster) == "stopped"

    # Not only AWS errors: anything one resource raises stays with that resource.
    monkeypatch.setattr(adapter.client, "start_db_instance", lambda **kw: (_ for _ in ()).throw(TimeoutError("slow")))
    results = adapter.start([found[first], found[cluster]], saved={})
    assert [(r.resource, r.ok, r.error) for r in results] == [(first, False, "slow"), (cluster, True, None)]


def test_resize_is_refused(make_instance: Any) -> None:
    name = make_instance()
    adapter = RdsAdapter(REGION)
    result = adapter.resize(discover(adapter, name)[name], "db.t3.large")
    assert (result.ok, result.error) == (
        False,
        "resize is not supported for RDS (change the DB instance class yourself)",
    )


# --- snapshots ---------------------------------------------------------------------------------------------------


def test_snapshot_before_stopping_an_instance(rds: Any, make_instance: Any) -> None:
    name = make_instance()
    adapter = RdsAdapter(REGION, snapshot_before_stop=True, clock=lambda: NOW)

    [result] = adapter.stop([discover(adapter, name)[name]])

    expected = f"isched-{name}-202611270930"
    assert result.ok and result.details["snapshot"] == expected
    snaps = rds.describe_db_snapshots(DBInstanceIdentifier=name, SnapshotType="manual")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in snaps] == [expected]
    assert instance_status(rds, name) == "stopped"


def test_snapshot_before_stopping_a_cluster(rds: Any, make_cluster: Any) -> None:
    cluster, _ = make_cluster()
    now = [NOW]
    adapter = RdsAdapter(REGION, snapshot_before_stop=True, clock=lambda: now[0])
    cl = discover(adapter, cluster)[cluster]

    def snapshots() -> list[str]:
        page = rds.describe_db_cluster_snapshots(DBClusterIdentifier=cluster, SnapshotType="manual")
        return sorted(s["DBClusterSnapshotIdentifier"] for s in page["DBClusterSnapshots"])

    [result] = adapter.stop([cl])
    first = f"isched-{cluster}-202611270930"
    assert result.ok and result.details["snapshot"] == first
    assert snapshots() == [first]
    assert cluster_status(rds, cluster) == "stopped"

    # A cluster that cannot be stopped now gets no snapshot (the retry would otherwise pile them up).
    [refused] = adapter.stop([cl])
    assert (
        not refused.ok and refused.error == f"DB cluster {cluster} is stopped, not available: it cannot be stopped now"
    )
    assert snapshots() == [first]

    # moto stamps snapshots with the real clock: move the adapter's clock relative to it.
    adapter.start([cl], saved={})
    now[0] = datetime.now(UTC) + timedelta(minutes=10)
    [soon] = adapter.stop([cl])
    assert soon.ok and soon.details["snapshot"] == first  # a stop retried within the hour reuses the snapshot
    adapter.start([cl], saved={})
    now[0] = datetime.now(UTC) + rds_module.SNAPSHOT_REUSE + timedelta(minutes=5)
    [later] = adapter.stop([cl])
    assert later.ok and later.details["snapshot"] == f"isched-{cluster}-{now[0]:%Y%m%d%H%M}"
    assert snapshots() == sorted([first, later.details["snapshot"]])


# --- tags --------------------------------------------------------------------------------------------------------


def test_set_tags_on_instances_and_clusters(rds: Any, make_instance: Any, make_cluster: Any) -> None:
    name = make_instance()
    cluster, _ = make_cluster()
    missing = uid("gone")
    adapter = RdsAdapter(REGION)
    discover(adapter, name, cluster)

    results = adapter.set_tags(
        {
            name: {"isched:last-action": "stop", "isched:error": "InvalidDBInstanceState: it's 'busy' [retry] (ok)"},
            cluster: {"isched:last-action": "start"},
            missing: {"isched:last-action": "stop"},
        }
    )

    assert [(r.resource, r.ok) for r in results] == [(name, True), (cluster, True), (missing, False)]
    assert results[2].error == f"no RDS DB instance or DB cluster named {missing} in {REGION}"
    db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    tags = {t["Key"]: t["Value"] for t in db["TagList"]}
    assert tags[TAG] == "office" and tags["isched:last-action"] == "stop"
    # RDS rejects quotes and brackets in tag values: they are replaced, the rest kept.
    assert tags["isched:error"] == "InvalidDBInstanceState: it_s _busy_ _retry_ _ok_"
    cl = rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
    assert {t["Key"]: t["Value"] for t in cl["TagList"]}["isched:last-action"] == "start"

    # Without a discover first, ids are resolved with describe calls (instance first, then cluster).
    fresh = RdsAdapter(REGION)
    assert [r.ok for r in fresh.set_tags({cluster: {"k": "v"}, name: {"k": "w"}})] == [True, True]
    cl = rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
    assert {t["Key"]: t["Value"] for t in cl["TagList"]}["k"] == "v"


# --- restarted by the service (7-day limit) ----------------------------------------------------------------------


def _event(source_type: str, ident: str, message: str, at: datetime) -> dict[str, Any]:
    # The shape DescribeEvents returns (API reference, Event): no event id, only the message.
    kind = "db" if source_type == "db-instance" else "cluster"
    return {
        "SourceIdentifier": ident,
        "SourceType": source_type,
        "Message": message,
        "EventCategories": ["notification"],
        "Date": at,
        "SourceArn": f"arn:aws:rds:{REGION}:123456789012:{kind}:{ident}",
    }


def _inject_events(
    adapter: RdsAdapter, monkeypatch: pytest.MonkeyPatch, events: dict[str, list[list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """DescribeEvents answers with ``events[source_type]`` (a list of pages); the other operations stay real."""
    calls: list[dict[str, Any]] = []
    real = adapter.client.get_paginator

    def get_paginator(operation: str) -> Any:
        if operation != "describe_events":
            return real(operation)
        outer = calls

        class ByType:
            def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
                outer.append(kwargs)
                for page in events.get(kwargs["SourceType"], []):
                    yield {"Events": page}

        return ByType()

    monkeypatch.setattr(adapter.client, "get_paginator", get_paginator)
    return calls


INSTANCE_AUTO = "DB instance is being started due to it exceeding the maximum allowed time being stopped."
CLUSTER_AUTO = "DB cluster is being started due to it exceeding the maximum allowed time being stopped."


def test_restarted_by_service_from_rds_events(
    rds: Any, make_instance: Any, make_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    auto, restopped, quiet, still_stopped = (make_instance() for _ in range(4))
    cluster, _ = make_cluster()
    rds.stop_db_instance(DBInstanceIdentifier=still_stopped)
    since = NOW - timedelta(minutes=15)
    adapter = RdsAdapter(REGION, events_since=since, clock=lambda: NOW)
    t = NOW - timedelta(minutes=10)
    calls = _inject_events(
        adapter,
        monkeypatch,
        {
            "db-instance": [
                [
                    _event("db-instance", auto, "DB instance stopped.", t - timedelta(days=7)),
                    _event("db-instance", auto, INSTANCE_AUTO, t),
                    _event("db-instance", restopped, INSTANCE_AUTO, t),
                ],
                [  # a second page: a pass stopped this one again after the automatic start
                    _event("db-instance", auto, "DB instance started.", t + timedelta(minutes=4)),
                    _event("db-instance", restopped, "DB instance stopped.", t + timedelta(minutes=5)),
                    _event("db-instance", quiet, "DB instance started.", t),
                    _event("db-instance", still_stopped, INSTANCE_AUTO, t),
                    _event("db-instance", uid("other"), INSTANCE_AUTO, t),
                ],
            ],
            "db-cluster": [[_event("db-cluster", cluster.upper(), CLUSTER_AUTO, t)]],
        },
    )

    found = discover(adapter, auto, restopped, quiet, still_stopped, cluster)

    flagged = {i for i, r in found.items() if r.restarted_by_service}
    assert flagged == {auto, cluster}
    assert found[auto].details["auto_started_at"] == "2026-11-27T09:20:12.000000Z"
    assert found[restopped].details["auto_started_at"] == "2026-11-27T09:20:12.000000Z"  # known, but already undone
    assert "auto_started_at" not in found[quiet].details
    assert found[still_stopped].observed is Observed.STOPPED  # nothing to restore

    # One call per source type, over the window since the previous pass, notification events only.
    assert sorted(c["SourceType"] for c in calls) == ["db-cluster", "db-instance"]
    for c in calls:
        assert (c["StartTime"], c["EndTime"], c["EventCategories"], c["MaxRecords"]) == (
            since,
            NOW,
            ["notification"],
            100,
        )


def test_event_window_defaults_to_a_day_and_is_capped(make_instance: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    name = make_instance()
    adapter = RdsAdapter(REGION, clock=lambda: NOW)
    calls = _inject_events(adapter, monkeypatch, {})
    discover(adapter, name)
    assert calls[0]["StartTime"] == NOW - timedelta(hours=24)

    adapter.events_since = NOW - timedelta(days=30)  # RDS keeps events for 14 days only
    calls.clear()
    discover(adapter, name)
    assert calls[0]["StartTime"] == NOW - timedelta(days=14)


def test_unreadable_events_are_a_warning_not_a_failure(make_instance: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    name = make_instance()
    adapter = RdsAdapter(REGION)
    real = adapter.client.get_paginator

    class Denied:
        def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
            raise client_error("AccessDenied", "not authorized to perform rds:DescribeEvents", "DescribeEvents")
            yield {}

    monkeypatch.setattr(adapter.client, "get_paginator", lambda op: Denied() if op == "describe_events" else real(op))

    found = discover(adapter, name)

    assert found[name].observed is Observed.RUNNING and not found[name].restarted_by_service
    # (other tests' tagged clusters on this server make a db-cluster warning too)
    assert (
        f"cannot read RDS db-instance events in {REGION}: AccessDenied: not authorized to perform rds:DescribeEvents"
        in adapter.warnings
    )


def test_real_describe_events_call_is_accepted(rds: Any, make_instance: Any) -> None:
    """The parameters the adapter sends pass botocore validation and moto, and moto's own events flag nothing."""
    name = make_instance()
    found = discover(RdsAdapter(REGION), name)
    assert found[name].restarted_by_service is False
