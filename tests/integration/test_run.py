"""Scheduling passes end to end: `isched run` against a moto server, resources changed by hand between passes.

Each test has its own namespace (tables) and its own region, so the resources of other tests (running in the
same moto server) are never in its targets.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError

from scheduler.aws.accounts import AccountSessions
from scheduler.engine import parse_instant

SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  late: {begintime: "17:00", endtime: "20:00", weekdays: mon-fri}
  stop-2359: {endtime: "23:59"}
  start-08: {begintime: "08:00"}
  start-12: {begintime: "12:00"}
schedules:
  office: {periods: [office]}
  office-enforced: {periods: [office], enforced: true}
  office-keep-new: {periods: [office], stop_new_instances: false}
  office-retain: {periods: [office], retain_running: true}
  office-hibernate: {periods: [office], hibernate: true}
  office-resize: {periods: [office, "late@t3.nano"]}
  late-stop: {periods: [stop-2359]}
  starts: {periods: [start-08, start-12]}
"""

# 2026-03-02 is a Monday.
MON = "2026-03-02"
TUE = "2026-03-03"
_REGIONS = itertools.cycle(
    [
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "ca-central-1",
        "sa-east-1",
        "us-west-1",
        "us-west-2",
        "us-east-2",
        "ap-south-1",
    ]
)


@pytest.fixture
def region(point_at: Callable[[str], str]) -> str:
    """A region of this test's own, made the default for the CLI."""
    return point_at(next(_REGIONS))


@pytest.fixture
def fleet(deploy: Callable[[str, str], str], region: str) -> Fleet:
    deploy(region, SCHEDULES)
    f = Fleet(region)
    yield f
    f.cleanup()


class Fleet:
    """Creates real resources in moto and reads their state back, as a person with the console would."""

    def __init__(self, region: str, session: boto3.Session | None = None) -> None:
        self.region = region
        self.session = session or boto3.Session()
        self.ec2 = self.session.client("ec2", region_name=region)
        self.asg = self.session.client("autoscaling", region_name=region)
        self.rds = self.session.client("rds", region_name=region)
        self.image = "ami-12c6146b"  # served by moto in every region; describe_images would cost seconds
        self.instances: list[str] = []

    def instance(self, schedule: str | None, itype: str = "t3.micro", running: bool = True, **kw: Any) -> str:
        tags = [{"Key": "Schedule", "Value": schedule}] if schedule else []
        spec = [{"ResourceType": "instance", "Tags": tags}] if tags else []
        iid = self.ec2.run_instances(
            ImageId=self.image, MinCount=1, MaxCount=1, InstanceType=itype, TagSpecifications=spec, **kw
        )["Instances"][0]["InstanceId"]
        if not running:
            self.ec2.stop_instances(InstanceIds=[iid])
        self.instances.append(iid)
        return iid

    def state(self, iid: str) -> str:
        inst = self.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        return str(inst["State"]["Name"])

    def itype(self, iid: str) -> str:
        inst = self.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        return str(inst["InstanceType"])

    def tags(self, iid: str) -> dict[str, str]:
        inst = self.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        return {t["Key"]: t["Value"] for t in inst.get("Tags", [])}

    def stop(self, iid: str) -> None:
        self.ec2.stop_instances(InstanceIds=[iid])

    def start(self, iid: str) -> None:
        self.ec2.start_instances(InstanceIds=[iid])

    def cleanup(self) -> None:
        if self.instances:
            self.ec2.terminate_instances(InstanceIds=self.instances)


def passes(run: Callable[..., Any], *times: str, extra: tuple[str, ...] = (), code: int = 0) -> list[dict[str, Any]]:
    """Runs a pass at each time; ``code`` 1 when the passes report errors (the exit code says so)."""
    out = []
    for t in times:
        r = run("run", "--at", t, "--services", "ec2", "--json", *extra)
        assert r.code == code, r.err or r.out
        out.append(r.json())
    return out


def actions(body: dict[str, Any]) -> dict[str, str]:
    return {a["resource"]: a["action"] for a in body["actions"]}


def test_start_and_stop_at_transitions(run, fleet):
    a = fleet.instance("office", running=False)
    b = fleet.instance("office", running=False)
    untagged = fleet.instance(None, running=False)
    first, start = passes(run, f"{MON}T08:55:00Z", f"{MON}T09:00:00Z")
    assert actions(first) == {}  # first pass: stopped outside the window, as it should be
    assert actions(start) == {a: "start", b: "start"}
    assert all(x["schedule"] == "office" and x["reason"] for x in start["actions"])
    assert fleet.state(a) == "running" and fleet.state(untagged) == "stopped"
    assert fleet.tags(a)["isched:last-action"] == "start 2026-03-02T09:00:00Z"
    mid, stop = passes(run, f"{MON}T12:00:00Z", f"{MON}T17:05:00Z")
    assert actions(mid) == {}
    assert actions(stop) == {a: "stop", b: "stop"}
    assert fleet.state(a) == "stopped" and fleet.state(b) == "stopped"
    assert fleet.tags(a)["isched:last-action"].startswith("stop 2026-03-02T17:05")


def test_manual_changes_respected_without_a_transition(run, fleet):
    a = fleet.instance("office", running=False)
    b = fleet.instance("office", running=False)
    passes(run, f"{MON}T08:55:00Z", f"{MON}T09:00:00Z")
    fleet.stop(a)  # someone stops it in office hours
    (body,) = passes(run, f"{MON}T10:00:00Z")
    assert actions(body) == {} and fleet.state(a) == "stopped"
    passes(run, f"{MON}T17:00:00Z")
    fleet.start(b)  # someone works late
    (body,) = passes(run, f"{MON}T19:00:00Z")
    assert actions(body) == {} and fleet.state(b) == "running"


def test_enforced_reverts_manual_starts_and_stops(run, fleet):
    a = fleet.instance("office-enforced", running=False)
    passes(run, f"{MON}T08:55:00Z", f"{MON}T09:00:00Z")
    fleet.stop(a)
    (body,) = passes(run, f"{MON}T10:00:00Z")
    assert actions(body) == {a: "start"} and fleet.state(a) == "running"
    passes(run, f"{MON}T17:00:00Z")
    fleet.start(a)
    (body,) = passes(run, f"{MON}T19:00:00Z")
    assert actions(body) == {a: "stop"} and fleet.state(a) == "stopped"


def test_stop_new_instances_on_and_off(run, fleet):
    a = fleet.instance("office")
    b = fleet.instance("office-keep-new")
    (body,) = passes(run, f"{MON}T20:00:00Z")
    assert actions(body) == {a: "stop"}
    assert fleet.state(a) == "stopped" and fleet.state(b) == "running"


def test_retain_running(run, fleet):
    a = fleet.instance("office-retain", running=False)
    b = fleet.instance("office", running=False)
    passes(run, f"{MON}T17:30:00Z")
    fleet.start(a)  # started by hand before the period
    fleet.start(b)
    passes(run, f"{TUE}T09:00:00Z")
    (body,) = passes(run, f"{TUE}T17:00:00Z")
    assert actions(body) == {b: "stop"}
    assert fleet.state(a) == "running"


@pytest.fixture
def fail_ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Instance ids whose StopInstances/StartInstances fail (as AWS answers: an error response, not a mock)."""
    failing: set[str] = set()
    real = botocore.client.BaseClient._make_api_call

    def fake(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation in ("StopInstances", "StartInstances") and failing & set(params.get("InstanceIds", [])):
            raise ClientError({"Error": {"Code": "IncorrectInstanceState", "Message": "injected failure"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", fake)
    yield failing


def test_failed_stop_is_retried_next_pass_and_others_proceed(run, fleet, fail_ec2):
    a = fleet.instance("office", running=False)
    b = fleet.instance("office", running=False)
    passes(run, f"{MON}T08:55:00Z", f"{MON}T09:00:00Z")
    fail_ec2.add(a)
    (body,) = passes(run, f"{MON}T17:00:00Z", code=1)
    assert fleet.state(a) == "running" and fleet.state(b) == "stopped"
    assert [e["resource"] for e in body["errors"]] == [a] and "injected failure" in body["errors"][0]["error"]
    fail_ec2.clear()
    (body,) = passes(run, f"{MON}T17:05:00Z")
    assert actions(body) == {a: "stop"} and fleet.state(a) == "stopped"
    (body,) = passes(run, f"{MON}T17:10:00Z")
    assert actions(body) == {}


def test_missed_pass_is_caught_up(run, fleet):
    a = fleet.instance("office", running=False)
    passes(run, f"{MON}T08:55:00Z")
    (body,) = passes(run, f"{MON}T11:42:00Z")  # the 09:00 pass never ran
    assert actions(body) == {a: "start"}
    (body,) = passes(run, f"{TUE}T08:00:00Z")  # a whole evening of passes lost: the 17:00 stop still happens
    assert actions(body) == {a: "stop"}


def test_stop_at_2359_seen_by_the_midnight_pass(run, fleet):
    a = fleet.instance("late-stop")
    (first,) = passes(run, f"{MON}T23:55:00Z")
    assert actions(first) == {}
    (body,) = passes(run, f"{TUE}T00:00:00Z")
    assert actions(body) == {a: "stop"} and fleet.state(a) == "stopped"


def test_several_one_sided_starts_a_day(run, fleet):
    a = fleet.instance("starts", running=False)
    passes(run, f"{MON}T07:55:00Z")
    (body,) = passes(run, f"{MON}T08:00:00Z")
    assert actions(body) == {a: "start"}
    fleet.stop(a)
    (body,) = passes(run, f"{MON}T10:00:00Z")
    assert actions(body) == {}  # between events nobody is overruled
    (body,) = passes(run, f"{MON}T12:00:00Z")
    assert actions(body) == {a: "start"} and fleet.state(a) == "running"


def test_dry_run_changes_and_writes_nothing(run, fleet):
    a = fleet.instance("office", running=False)
    passes(run, f"{MON}T08:55:00Z")
    (dry,) = passes(run, f"{MON}T09:00:00Z", extra=("--dry-run",))
    assert actions(dry) == {a: "start"} and fleet.state(a) == "stopped"
    (real,) = passes(run, f"{MON}T09:00:00Z")  # the dry run did not consume the transition or the pass
    assert actions(real) == {a: "start"} and fleet.state(a) == "running"


def test_unknown_schedule_reported_while_others_proceed(run, fleet):
    a = fleet.instance("office", running=False)
    ghost = fleet.instance("no-such-schedule", running=False)
    passes(run, f"{MON}T08:55:00Z", code=1)
    (body,) = passes(run, f"{MON}T09:00:00Z", code=1)
    assert actions(body) == {a: "start"}
    assert [(e["resource"], "unknown schedule 'no-such-schedule'" in e["error"]) for e in body["errors"]] == [
        (ghost, True)
    ]


def test_hibernate_and_resize(run, fleet):
    h = fleet.instance("office-hibernate", HibernationOptions={"Configured": True})
    r = fleet.instance("office-resize", itype="t3.large", running=False)
    passes(run, f"{MON}T08:55:00Z")
    passes(run, f"{MON}T09:00:00Z")
    assert fleet.state(r) == "running" and fleet.itype(r) == "t3.large"
    (body,) = passes(run, f"{MON}T17:00:00Z")
    assert actions(body) == {h: "stop", r: "resize"}
    assert fleet.state(h) == "stopped"
    assert fleet.state(r) == "running" and fleet.itype(r) == "t3.nano"
    (body,) = passes(run, f"{MON}T20:00:00Z")
    assert actions(body) == {r: "stop"}


def test_repeated_pass_does_not_act_twice(run, fleet):
    a = fleet.instance("office", running=False)
    passes(run, f"{MON}T08:55:00Z", f"{MON}T09:00:00Z")
    fleet.stop(a)
    r = run("run", "--at", f"{MON}T09:00:00Z", "--services", "ec2", "--json")
    body = r.json()
    assert actions(body) == {} and "already" in body["errors"][0]["error"]
    assert fleet.state(a) == "stopped"


def test_asg_to_zero_and_back(run, fleet):
    lt = fleet.ec2.create_launch_template(
        LaunchTemplateName=f"lt-{fleet.region}", LaunchTemplateData={"ImageId": fleet.image, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    zones = [z["ZoneName"] for z in fleet.ec2.describe_availability_zones()["AvailabilityZones"]][:1]
    fleet.asg.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": lt},
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        AvailabilityZones=zones,
        Tags=[{"Key": "Schedule", "Value": "office", "PropagateAtLaunch": False}],
    )

    def sizes() -> tuple[int, int, int]:
        g = fleet.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
        return g["MinSize"], g["MaxSize"], g["DesiredCapacity"]

    def go(t: str) -> dict[str, Any]:
        r = run("run", "--at", t, "--services", "asg", "--json")
        assert r.code == 0, r.err
        return r.json()

    go(f"{MON}T16:55:00Z")
    assert actions(go(f"{MON}T17:00:00Z")) == {"web": "stop"} and sizes() == (0, 0, 0)
    assert actions(go(f"{TUE}T09:00:00Z")) == {"web": "start"} and sizes() == (1, 4, 2)


def test_rds_instance_and_aurora_cluster(run, fleet):
    tags = [{"Key": "Schedule", "Value": "office"}]
    fleet.rds.create_db_instance(
        DBInstanceIdentifier="pg1",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="password123",
        Tags=tags,
    )
    fleet.rds.create_db_cluster(
        DBClusterIdentifier="aurora1",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="password123",
        Tags=tags,
    )

    def go(t: str, *extra: str) -> dict[str, Any]:
        r = run("run", "--at", t, "--services", "rds", "--json", *extra)
        assert r.code == 0, r.err
        return r.json()

    go(f"{MON}T16:55:00Z")
    body = go(f"{MON}T17:00:00Z", "--rds-snapshot")
    assert actions(body) == {"pg1": "stop", "aurora1": "stop"}, body
    snaps = fleet.rds.describe_db_snapshots(DBInstanceIdentifier="pg1")["DBSnapshots"]
    assert any(s["DBSnapshotIdentifier"].startswith("isched-pg1-") for s in snaps)
    db = fleet.rds.describe_db_instances(DBInstanceIdentifier="pg1")["DBInstances"][0]
    assert db["DBInstanceStatus"] == "stopped"
    body = go(f"{TUE}T09:00:00Z")
    assert actions(body).get("pg1") == "start"
    db = fleet.rds.describe_db_instances(DBInstanceIdentifier="pg1")["DBInstances"][0]
    assert db["DBInstanceStatus"] == "available"


def test_two_accounts_and_two_regions_in_one_pass(run, namespace, write, aws, monkeypatch):
    assert run("init").code == 0
    assert run("apply", "--file", write(SCHEDULES)).code == 0
    regions = [next(_REGIONS), next(_REGIONS)]
    monkeypatch.setenv("AWS_DEFAULT_REGION", regions[0])
    spoke = "222233334444"
    spoke_session = AccountSessions(boto3.Session()).session(spoke)
    hub_account = boto3.client("sts").get_caller_identity()["Account"]
    ids = {}
    for account, session in ((hub_account, boto3.Session()), (spoke, spoke_session)):
        for reg in regions:
            ids[(account, reg)] = Fleet(reg, session).instance("office")
    r = run(
        "run",
        "--at",
        f"{MON}T20:00:00Z",
        "--accounts",
        f"{hub_account},{spoke}",
        "--regions",
        ",".join(regions),
        "--services",
        "ec2",
        "--json",
    )
    assert r.code == 0, r.err
    body = r.json()
    got = {(a["account"], a["region"], a["resource"]) for a in body["actions"] if a["action"] == "stop"}
    assert got == {(acc, reg, iid) for (acc, reg), iid in ids.items()}
    assert body["errors"] == []
    spoke_ec2 = spoke_session.client("ec2", region_name=regions[1])
    inst = spoke_ec2.describe_instances(InstanceIds=[ids[(spoke, regions[1])]])["Reservations"][0]["Instances"][0]
    assert inst["State"]["Name"] == "stopped"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--accounts", "12345"], "--accounts: '12345' is not an AWS account id"),
        (["--regions", "mars-1"], "--regions: 'mars-1'"),
        (["--services", "ec2,lambda"], "--services: 'lambda' is not a service"),
        (["--at", "2026-03-02T09:00:00"], "--at: '2026-03-02T09:00:00' has no UTC offset"),
    ],
)
def test_run_rejects_bad_input(run, aws, namespace, args, needle):
    r = run("run", *args)
    assert r.code == 2 and needle in r.err


def test_status_lists_managed_resources(run, fleet):
    a = fleet.instance("office", running=False)
    passes(run, f"{MON}T08:55:00Z", f"{MON}T09:00:00Z")
    r = run("status", "--at", f"{MON}T10:00:00Z", "--services", "ec2", "--json")
    assert r.code == 0, r.err
    (row,) = [x for x in r.json()["resources"] if x["resource"] == a]
    assert row["schedule"] == "office" and row["state"] == "running" and row["desired"] == "running"
    assert row["last_action"] == "start" and row["next_action"] == "stop" and row["next_at"] == f"{MON}T17:00:00Z"
    human = run("status", "--at", f"{MON}T10:00:00Z", "--services", "ec2")
    assert human.code == 0 and a in human.out and "start 03-02 09:00" in human.out


def test_ledger_records_actions_and_what_ended_a_stop(run, fleet, namespace):
    from scheduler.store.state import StateStore
    from scheduler.store.tables import Tables

    a = fleet.instance("office", itype="t3.large")
    gone = fleet.instance("office")
    passes(run, f"{MON}T16:55:00Z", f"{MON}T17:00:00Z")
    fleet.start(a)  # someone starts it in the evening: the scheduler's stop ends here
    fleet.ec2.terminate_instances(InstanceIds=[gone])
    passes(run, f"{MON}T19:00:00Z")
    entries = StateStore(Tables.for_namespace(namespace)).ledger_month("2026-03")
    by = {(e["resource"], e["action"]): e for e in entries}
    assert by[(a, "stop")]["at"].startswith("2026-03-02T17:00") and by[(a, "stop")]["instance_type"] == "t3.large"
    assert by[(a, "stop")]["details"]["tenancy"] == "default"
    assert (a, "manual-start") in by
    assert parse_instant(by[(a, "manual-start")]["at"]) <= parse_instant("2026-03-02T19:00:00Z")
    assert (gone, "gone") in by
    passes(run, f"{MON}T19:05:00Z")  # each ending is recorded once
    again = StateStore(Tables.for_namespace(namespace)).ledger_month("2026-03")
    assert len(again) == len(entries)
