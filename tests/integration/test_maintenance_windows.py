"""Maintenance windows end to end on the moto server (SPEC §2 rule 7): `isched run --at` passes over a weekend.

* An RDS instance with ``use_maintenance_window`` is started 10 minutes before its preferred window (Sunday
  05:00-05:30 UTC) and stopped again when it ends; one on a schedule without the field is never started for it.
* An EC2 instance with ``ssm_maintenance_windows`` runs during the named SSM window. moto's SSM leaves out
  ``NextExecutionTime``, so there the window's ``cron(...)`` schedule is read; the path real AWS takes (only the next
  execution reported, so an open one must be remembered in the state table) is driven through botocore's Stubber.
* The report counts the window's running time as maintenance, not as lost savings, rebuilt here from the passes'
  clock times.

Each test uses its own namespace (tables) and its own tag key, so resources of other tests are never scheduled.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from scheduler.aws.accounts import AccountSessions
from scheduler.engine import instant_text, parse_text
from scheduler.runtime.worker import run_worker
from scheduler.services.ec2 import Ec2Adapter
from scheduler.services.ssm_windows import Execution, read_executions
from scheduler.store.config import ConfigStore
from scheduler.store.state import StateStore, Target
from scheduler.store.tables import Tables

pytestmark = pytest.mark.integration

REGION = "us-east-1"
FRI12, FRI17 = "2026-11-20T12:00:00Z", "2026-11-20T17:00:00Z"
SUN0445, SUN0450, SUN0510, SUN0530 = (
    "2026-11-22T04:45:00Z",
    "2026-11-22T04:50:00Z",
    "2026-11-22T05:10:00Z",
    "2026-11-22T05:30:00Z",
)
MON09, MON12 = "2026-11-23T09:00:00Z", "2026-11-23T12:00:00Z"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def hours(a: str, b: str) -> Decimal:
    return Decimal(int((t(b) - t(a)).total_seconds())) / 3600


def schedules(ssm_name: str) -> str:
    return f"""
periods:
  office: {{begintime: "09:00", endtime: "17:00", weekdays: mon-fri}}
schedules:
  office: {{periods: [office]}}
  office-mw: {{periods: [office], use_maintenance_window: true}}
  office-ssm: {{periods: [office], ssm_maintenance_windows: [{ssm_name}]}}
"""


@pytest.fixture
def world(deploy: Callable[[str, str], str], namespace: str) -> dict[str, Any]:
    ssm_name = f"patching-{uuid.uuid4().hex[:8]}"
    deploy(REGION, schedules(ssm_name))
    return {"tag": f"mw-{uuid.uuid4().hex[:8]}", "ssm": ssm_name, "namespace": namespace}


def passes(run: Callable[..., Any], tag: str, services: str, *times: str) -> dict[str, list[dict[str, Any]]]:
    """`isched run --at T` for each time; returns each pass's actions. No pass may report an error."""
    out = {}
    for at in times:
        r = run("run", "--at", at, "--services", services, "--tag-key", tag, "--json")
        assert r.code == 0, r.out + r.err
        body = r.json()
        assert not [e for e in body["errors"] if not e["error"].startswith("warning")], body
        out[at] = body["actions"]
    return out


def acted(actions: list[dict[str, Any]], resource: str) -> list[tuple[str, str]]:
    return [(a["action"], a["reason"]) for a in actions if a["resource"] == resource]


def test_rds_runs_for_its_preferred_window_and_is_stopped_after_it(
    run: Callable[..., Any], world: dict[str, Any], write: Callable[..., str]
) -> None:
    rds = boto3.client("rds", region_name=REGION)
    tag = world["tag"]
    ids = {}
    for schedule in ("office-mw", "office"):
        ident = f"db{uuid.uuid4().hex[:10]}"
        rds.create_db_instance(
            DBInstanceIdentifier=ident,
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="admin1",
            MasterUserPassword="password-123",
            PreferredMaintenanceWindow="sun:05:00-sun:05:30",
            Tags=[{"Key": tag, "Value": schedule}],
        )
        ids[schedule] = ident
    mw, plain = ids["office-mw"], ids["office"]

    def status(ident: str) -> str:
        return str(rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]["DBInstanceStatus"])

    got = passes(run, tag, "rds", FRI12, FRI17, SUN0445)
    assert [a for a, _ in acted(got[FRI17], mw)] == ["stop"] and [a for a, _ in acted(got[FRI17], plain)] == ["stop"]
    assert got[SUN0445] == [] and status(mw) == "stopped"

    got = passes(run, tag, "rds", SUN0450)
    assert acted(got[SUN0450], mw) == [
        ("start", "maintenance window: the RDS preferred window sun:05:00-sun:05:30 runs until 2026-11-22T05:30:00Z")
    ]
    assert acted(got[SUN0450], plain) == []  # off by default: never started for its window
    assert status(mw) == "available" and status(plain) == "stopped"

    got = passes(run, tag, "rds", SUN0510, SUN0530)
    assert got[SUN0510] == []
    assert acted(got[SUN0530], mw) == [
        (
            "stop",
            "maintenance window over: the RDS preferred window sun:05:00-sun:05:30 ended at 2026-11-22T05:30:00Z "
            "and the schedule keeps it stopped",
        )
    ]
    assert status(mw) == "stopped" and status(plain) == "stopped"

    got = passes(run, tag, "rds", MON09)
    assert {a["resource"]: a["action"] for a in got[MON09]} == {mw: "start", plain: "start"}

    # The ledger says why, and which window.
    ledger = StateStore(Tables.for_namespace(world["namespace"])).ledger_month("2026-11")
    window = [e for e in ledger if e["resource"] == mw and e.get("maintenance")]
    assert [(e["action"], e["at"]) for e in window] == [
        ("start", instant_text(t(SUN0450))),
        ("stop", instant_text(t(SUN0530))),
    ]
    assert window[0]["maintenance"] == {
        "window": "RDS preferred window sun:05:00-sun:05:30",
        "since": instant_text(t(SUN0450)),
        "until": instant_text(t(SUN0530)),
        "started": True,
    }
    assert window[0]["reason"].startswith("maintenance window: ")

    # The report, rebuilt from the passes' clock times: the 40 minutes are maintenance, never lost savings.
    price = Decimal("0.018")
    prices = write(f"service,region,type,hourly_usd\nrds,{REGION},db.t3.micro,{price}\n", "prices.csv")
    r = run(
        "report",
        "--month",
        "2026-11",
        "--at",
        MON12,
        "--prices",
        prices,
        "--no-pricing-api",
        "--no-cost-explorer",
        "--json",
    )
    assert r.code == 0, r.err
    rows = {row["resource"]: row for row in r.json()["resources"]}
    stopped_mw = hours(FRI17, SUN0450) + hours(SUN0530, MON09)
    stopped_plain = hours(FRI17, MON09)
    assert Decimal(str(rows[mw]["stopped_hours"])) == round(stopped_mw, 4)
    assert Decimal(str(rows[mw]["maintenance_hours"])) == round(hours(SUN0450, SUN0530), 4)
    assert Decimal(str(rows[mw]["running_hours"])) == round(hours(FRI12, FRI17) + hours(SUN0450, SUN0530) + 3, 4)
    assert rows[mw]["manual_start_hours"] == 0.0
    assert [s["ended_by"] for s in rows[mw]["stops"]] == ["maintenance", "start"]
    cents = Decimal("0.01")
    expected = sum((h * price).quantize(cents) for h in (hours(FRI17, SUN0450), hours(SUN0530, MON09)))
    assert abs(Decimal(str(rows[mw]["estimated_savings"])) - (stopped_mw * price).quantize(cents)) <= cents
    assert sum(Decimal(str(s["estimated_savings"])) for s in rows[mw]["stops"]) == Decimal(
        str(rows[mw]["estimated_savings"])
    )
    assert abs(expected - Decimal(str(rows[mw]["estimated_savings"]))) <= cents
    assert rows[plain]["maintenance_hours"] == 0.0
    assert Decimal(str(rows[plain]["stopped_hours"])) == round(stopped_plain, 4)


def test_ec2_runs_during_its_ssm_window_read_from_moto(run: Callable[..., Any], world: dict[str, Any]) -> None:
    """moto's SSM: the window's cron schedule (Sunday 05:00 UTC for 2 hours) gives its executions."""
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.create_maintenance_window(
        Name=world["ssm"], Schedule="cron(0 5 ? * SUN *)", Duration=2, Cutoff=1, AllowUnassociatedTargets=True
    )
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tag = world["tag"]

    def instance(schedule: str) -> str:
        spec = [{"ResourceType": "instance", "Tags": [{"Key": tag, "Value": schedule}]}]
        got = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", TagSpecifications=spec)
        return str(got["Instances"][0]["InstanceId"])

    patched, plain = instance("office-ssm"), instance("office")

    def state(ident: str) -> str:
        return str(ec2.describe_instances(InstanceIds=[ident])["Reservations"][0]["Instances"][0]["State"]["Name"])

    got = passes(run, tag, "ec2", FRI12, FRI17, "2026-11-22T04:55:00Z", "2026-11-22T05:00:00Z")
    assert got["2026-11-22T04:55:00Z"] == []
    assert acted(got["2026-11-22T05:00:00Z"], patched) == [
        ("start", f"maintenance window: the SSM window {world['ssm']} runs until 2026-11-22T07:00:00Z")
    ]
    assert acted(got["2026-11-22T05:00:00Z"], plain) == []
    assert state(patched) in ("pending", "running") and state(plain) == "stopped"
    got = passes(run, tag, "ec2", "2026-11-22T06:00:00Z", "2026-11-22T07:00:00Z")
    assert got["2026-11-22T06:00:00Z"] == []
    assert [a for a, _ in acted(got["2026-11-22T07:00:00Z"], patched)] == ["stop"]
    assert state(patched) in ("stopping", "stopped")


def test_an_open_ssm_window_is_remembered_when_ssm_reports_only_the_next(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real AWS: DescribeMaintenanceWindows gives NextExecutionTime only. At 04:55 it says 05:00; from 05:00 on it
    says next week's. The worker remembers 05:00-07:00 in the state table, so the instance runs through it."""
    name = world["ssm"]
    tables = Tables.for_namespace(world["namespace"])
    config = ConfigStore(tables).load()
    state = StateStore(tables, tag_key=world["tag"])
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    spec = [{"ResourceType": "instance", "Tags": [{"Key": world["tag"], "Value": "office-ssm"}]}]
    ident = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", TagSpecifications=spec)[
        "Instances"
    ][0]["InstanceId"]
    target = Target(AccountSessions().hub_account, REGION, "ec2")
    stubbed = boto3.client("ssm", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(stubbed)
    stub.activate()
    monkeypatch.setattr(
        Ec2Adapter,
        "maintenance_windows",
        lambda self, names, at: read_executions(stubbed, names, at)[0],
    )

    def answer(next_time: str) -> None:
        stub.add_response(
            "describe_maintenance_windows",
            {
                "WindowIdentities": [
                    {
                        "WindowId": "mw-0123456789abcdef0",
                        "Name": name,
                        "Enabled": True,
                        "Duration": 2,
                        "Cutoff": 1,
                        "Schedule": "cron(0 5 ? * SUN *)",
                        "NextExecutionTime": next_time,
                    }
                ]
            },
            {"Filters": [{"Key": "Name", "Values": [name]}], "MaxResults": ANY},
        )

    def one_pass(at: str) -> list[tuple[str, str]]:
        adapter = Ec2Adapter(REGION)
        result = run_worker(target, t(at), config, adapter, state, tag_key=world["tag"])
        assert not [e for e in result.errors if e.is_failure], result.errors
        return [(a.resource, a.action) for a in result.actions]

    # Friday: stopped by the schedule (SSM says Sunday 05:00 is next).
    answer("2026-11-22T05:00Z")
    one_pass(FRI12)
    answer("2026-11-22T05:00Z")
    assert one_pass(FRI17) == [(ident, "stop")]
    answer("2026-11-22T05:00Z")
    assert one_pass("2026-11-22T04:55:00Z") == []
    _, info = state.load_all(target)
    assert [Execution.from_data(e) for e in info.ssm_windows] == [
        Execution(name, t("2026-11-22T05:00:00Z"), t("2026-11-22T07:00:00Z"))
    ]
    # From 05:00 SSM reports next week's execution only: the remembered one applies.
    answer("2026-11-29T05:00Z")
    assert one_pass("2026-11-22T05:00:00Z") == [(ident, "start")]
    answer("2026-11-29T05:00Z")
    assert one_pass("2026-11-22T06:30:00Z") == []
    answer("2026-11-29T05:00Z")
    assert one_pass("2026-11-22T07:00:00Z") == [(ident, "stop")]
    stub.assert_no_pending_responses()
    _, info = state.load_all(target)
    assert [Execution.from_data(e) for e in info.ssm_windows] == [
        Execution(name, t("2026-11-29T05:00:00Z"), t("2026-11-29T07:00:00Z"))
    ]


def test_schedule_flags_show_export_and_refusals(run: Callable[..., Any], world: dict[str, Any]) -> None:
    r = run("schedule", "create", "db-only", "--use-maintenance-window", "--json")
    assert r.code == 0, r.out
    r = run("schedule", "create", "patched", "--periods", "office", "--ssm-maintenance-windows", "patching,hot.fix")
    assert r.code == 0, r.out
    shown = run("schedule", "show", "patched", "--json").json()
    assert shown["ssm_maintenance_windows"] == ["patching", "hot.fix"] and "use_maintenance_window" not in shown
    assert run("schedule", "show", "db-only", "--json").json()["use_maintenance_window"] is True
    # update changes only the flag given; '' clears the list.
    assert run("schedule", "update", "patched", "--use-maintenance-window").code == 0
    assert run("schedule", "update", "patched", "--ssm-maintenance-windows", "").code == 0
    shown = run("schedule", "show", "patched", "--json").json()
    assert shown["use_maintenance_window"] is True and "ssm_maintenance_windows" not in shown
    exported = parse_text(run("export").out)
    assert exported.schedules["db-only"].use_maintenance_window
    assert exported.schedules["patched"].periods[0].name == "office"
    # Bad input: exit 2, the field and the value named, nothing written.
    r = run("schedule", "create", "bad", "--ssm-maintenance-windows", "ok-name,x y", "--json")
    assert r.code == 2 and "--ssm-maintenance-windows" in r.json()["error"] and "'x y'" in r.json()["error"]
    r = run("schedule", "update", "db-only", "--no-use-maintenance-window", "--json")
    assert r.code == 2 and "a maintenance window" in r.json()["error"]
    assert run("schedule", "show", "bad", "--json").code != 0
    assert run("schedule", "show", "db-only", "--json").json()["use_maintenance_window"] is True
