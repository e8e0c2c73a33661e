"""Neptune clusters against a moto server over HTTP: the RDS API answers them like Aurora clusters (``Engine``
``neptune``), and isched schedules them through the same code: the cluster stops and starts, its instances are
never acted on one by one, ``isched tag`` takes its identifier or ARN, and the report prices it as its instances
from a prices file (Neptune rows, ``db.r5.large:neptune``, apart from RDS's).

moto accepts ``neptune`` for CreateDBCluster (no master user needed) and CreateDBInstance, and stops and starts
Neptune clusters like any other (StopDBCluster answers ``available``, describe then says ``stopped``; the member
instances stay ``available`` in describe). It refuses ``docdb``: DocumentDB is covered in
tests/unit/test_docdb_stubbed.py.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import boto3
import pytest

from scheduler.cli import tagging as tag_cli
from scheduler.cli.main import main
from scheduler.engine import Observed
from scheduler.services.rds import RdsAdapter
from tests.conftest import Result

from .report_helpers import by_resource, report

REGION = "ap-east-1"
TAG = "Schedule"


def uid(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def region(point_at: Callable[[str], str]) -> str:
    return point_at(REGION)


@pytest.fixture
def rds(region: str) -> Any:
    return boto3.client("rds", region_name=region)


def make_neptune(rds: Any, *, schedule: str | None = "office", classes: tuple[str, ...] = ("db.r5.large",) * 2):
    """A Neptune cluster and its instances (only the cluster tagged); returns (name, ARN, member names)."""
    name = uid("graph")
    tags = [{"Key": TAG, "Value": schedule}] if schedule else []
    arn = rds.create_db_cluster(DBClusterIdentifier=name, Engine="neptune", Tags=tags)["DBCluster"]["DBClusterArn"]
    members = []
    for i, klass in enumerate(classes):
        member = f"{name}-{i}"
        rds.create_db_instance(
            DBInstanceIdentifier=member, Engine="neptune", DBInstanceClass=klass, DBClusterIdentifier=name
        )
        members.append(member)
    return name, arn, members


def status(rds: Any, cluster: str) -> str:
    return str(rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]["Status"])


def member_tags(rds: Any, member: str) -> dict[str, str]:
    db = rds.describe_db_instances(DBInstanceIdentifier=member)["DBInstances"][0]
    return {t["Key"]: t["Value"] for t in db.get("TagList", [])}


def test_adapter_stops_and_starts_the_cluster_and_never_its_instances(rds: Any) -> None:
    name, arn, members = make_neptune(rds, classes=("db.r5.large", "db.r5.xlarge"))
    # Members carrying the cluster's tag (as `isched tag` leaves them) are still not resources of their own.
    member_arn = rds.describe_db_instances(DBInstanceIdentifier=members[0])["DBInstances"][0]["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=member_arn, Tags=[{"Key": TAG, "Value": "office"}])
    adapter = RdsAdapter(REGION)
    calls: list[str] = []
    adapter.client.meta.events.register("before-call.rds", lambda model, **_: calls.append(model.name))

    found = {r.id: r for r in adapter.discover(TAG)}

    assert name in found and not set(members) & set(found)
    cluster = found[name]
    assert (cluster.arn, cluster.observed, cluster.unschedulable) == (arn, Observed.RUNNING, None)
    assert (cluster.details["kind"], cluster.details["engine"]) == ("cluster", "neptune")
    assert sorted(cluster.details["members"], key=lambda m: m["id"]) == [
        {"id": members[0], "class": "db.r5.large", "writer": True},
        {"id": members[1], "class": "db.r5.xlarge", "writer": False},
    ]

    [stopped] = adapter.stop([cluster])
    assert (stopped.ok, stopped.details["status"]) == (True, "stopped") and status(rds, name) == "stopped"
    [started] = adapter.start([cluster], saved={})
    assert (started.ok, started.details["status"]) == (True, "available") and status(rds, name) == "available"
    assert "StopDBCluster" in calls and "StartDBCluster" in calls
    assert not {"StopDBInstance", "StartDBInstance"} & set(calls)


@pytest.fixture
def cli(region: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``isched ARGS`` in-process; every schedule name counts as stored (the lookup is tested elsewhere)."""
    monkeypatch.delenv("ISCHED_TAG_KEY", raising=False)
    monkeypatch.setattr(tag_cli, "schedule_exists", lambda _ctx, _name: True)

    def _run(*args: str) -> Result:
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", io.StringIO(""))
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


def test_tag_by_identifier_and_arn_carries_the_tag_to_the_instances(cli: Callable[..., Result], rds: Any) -> None:
    name, arn, members = make_neptune(rds, schedule=None)

    r = cli("tag", name.upper(), "--schedule", "graph-hours", "--json")  # identifiers are case-insensitive
    assert r.code == 0, r.out
    [result] = r.json()["results"]
    assert (result["kind"], result["ok"]) == ("rds-cluster", True)
    cluster = rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]
    assert {t["Key"]: t["Value"] for t in cluster["TagList"]}[TAG] == "graph-hours"
    assert all(member_tags(rds, m)[TAG] == "graph-hours" for m in members)  # cost allocation

    assert cli("untag", name, "--json").code == 0
    assert TAG not in {t["Key"] for t in rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]["TagList"]}

    r = cli("tag", arn, "--schedule", "office", "--json")
    assert r.code == 0, r.out
    assert r.json()["results"][0]["kind"] == "rds-cluster"
    assert all(member_tags(rds, m)[TAG] == "office" for m in members)

    # An instance of the cluster on its own is refused: only the cluster starts and stops.
    r = cli("tag", members[1], "--schedule", "office", "--json")
    assert r.code == 1
    error = r.json()["results"][0]["error"]
    assert f"belongs to DB cluster '{name}'" in error and "tag the cluster" in error


SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""

# Mon 2026-03-02 09:00 first seen running; stopped 17:03 -> Tue 09:01, Tue 17:00 -> Wed 09:00, Wed 17:10 -> the
# report's end, Wed 20:40: 958 + 960 + 210 minutes stopped. Passes run late so hours are checked to the minute.
WEEK = (
    "2026-03-02T09:00:00Z",
    "2026-03-02T17:03:00Z",
    "2026-03-03T09:01:00Z",
    "2026-03-03T17:00:00Z",
    "2026-03-04T09:00:00Z",
    "2026-03-04T17:10:00Z",
)
AT = "2026-03-04T20:40:00Z"
STOPPED_MINUTES = 958 + 960 + 210
SEEN_MINUTES = (2 * 24 + 11) * 60 + 40  # Mon 09:00 -> Wed 20:40


def test_passes_act_on_the_cluster_and_the_report_prices_its_instances(
    run: Callable[..., Result], namespace: str, region: str, write: Callable[..., str], rds: Any
) -> None:
    assert run("init").code == 0
    assert run("apply", "--file", write(SCHEDULES)).code == 0
    name, _, members = make_neptune(rds)
    mine = {name, *members}

    acted: list[tuple[str, str]] = []
    for at in WEEK:
        r = run("run", "--at", at, "--services", "rds", "--regions", region, "--json")
        body = r.json()
        assert not [e for e in body["errors"] if e.get("resource") in mine], r.out
        acted += [(a["resource"], a["action"]) for a in body["actions"] if a["resource"] in mine]
        if at == WEEK[1]:
            assert status(rds, name) == "stopped"
    assert acted == [(name, "stop"), (name, "start"), (name, "stop"), (name, "start"), (name, "stop")]
    assert status(rds, name) == "stopped"

    prices = write(
        "service,region,type,hourly_usd\n"
        "rds,*,db.r5.large,0.25\n"  # an RDS DB instance of that class: not Neptune's rate
        f"rds,{region},db.r5.large:neptune,0.348\n",
        "prices.csv",
    )
    body = report(run, "--month", "2026-03", "--at", AT, "--prices", prices)
    rows = by_resource(body)
    assert name in rows and not set(members) & set(rows)
    row = rows[name]
    hourly = 2 * Decimal("0.348")  # two db.r5.large instances at Neptune's rate
    stopped = Decimal(STOPPED_MINUTES) / 60
    assert (row["service"], row["schedule"], row["type"], row["units"]) == ("rds", "office", "db.r5.large", 2)
    assert row["hourly_price"] == pytest.approx(float(hourly))
    assert row["stopped_hours"] == pytest.approx(float(stopped), abs=1e-4)
    assert row["running_hours"] == pytest.approx((SEEN_MINUTES - STOPPED_MINUTES) / 60, abs=1e-4)
    savings = (stopped * hourly).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)  # 24.6848 -> 24.68
    assert Decimal(str(row["estimated_savings"])) == savings
    assert row["price_source"] == "file"
