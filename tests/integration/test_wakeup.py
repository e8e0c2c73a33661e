"""Exact-time transitions against moto's EventBridge Scheduler: a pass creates the one-time wake-up at the next
transition before the next regular pass (idempotently), the orchestrator handler accepts the wake-up's event and
acts at the transition's minute; schedules without a zone follow the deployment's DefaultTimezone end to end
(orchestrator, Lambda invoker, worker handler).

moto implements create_schedule/get_schedule (and schedule groups) of the ``scheduler`` API but never fires a
schedule: the test reads the wake-up back and delivers the payload EventBridge Scheduler would send.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from scheduler.aws.accounts import AccountSessions
from scheduler.engine import parse_text
from scheduler.handlers import common, orchestrator
from scheduler.handlers.events import EventError, OrchestratorSettings, WakeUpSettings
from scheduler.handlers.wakeup import schedule_wake_up
from scheduler.runtime.lambda_invoker import ASYNC_PAYLOAD_LIMIT, LambdaInvoker, PayloadBuilder
from scheduler.runtime.orchestrator import LocalInvoker
from scheduler.store.config import ConfigStore
from scheduler.store.state import StateStore
from scheduler.store.tables import Tables

from .hub_helpers import HUB, FakeContext, InProcessLambda, instance_state, launch, unique

REGION = "mx-central-1"  # moto loads only a few AMIs here: a fast EC2 backend
SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  early: {begintime: "09:02", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
  early: {periods: [early], timezone: UTC}
"""
TARGET = f"arn:aws:lambda:us-east-1:{HUB}:function:isched-t-orchestrator"
ROLE = f"arn:aws:iam::{HUB}:role/isched-t-scheduler-us-east-1"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def clock(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(common, "real_clock", lambda: at(text))


@pytest.fixture
def tables(namespace: str) -> Tables:
    t = Tables.for_namespace(namespace)
    t.create_missing()
    ConfigStore(t).apply(parse_text(SCHEDULES), prune=False, dry_run=False)
    return t


@pytest.fixture
def group(aws: str) -> str:
    name = unique("isched-")
    boto3.client("scheduler").create_schedule_group(Name=name)
    return name


def settings(tag_key: str, group: str | None, **kw: Any) -> OrchestratorSettings:
    wake = WakeUpSettings(interval=5, group=group, role_arn=ROLE, target_arn=TARGET) if group else None
    base: dict[str, Any] = {
        "accounts": (HUB,),
        "organization_id": None,
        "regions": (REGION,),
        "services": ("ec2",),
        "tag_key": tag_key,
        "role_name": "isched-spoke",
        "external_id": None,
        "worker_function": "isched-test-worker",
        "max_payload_bytes": ASYNC_PAYLOAD_LIMIT,
        "wake_up": wake,
    }
    return OrchestratorSettings(**{**base, **kw})


def local(tables: Tables, tag_key: str) -> LocalInvoker:
    return LocalInvoker(ConfigStore(tables).load(), StateStore(tables, tag_key=tag_key), AccountSessions())


def pass_event(time: str) -> dict[str, str]:
    """The regular pass schedule's payload (template.yaml PassSchedule's Input, keywords filled in)."""
    return {"source": "isched.pass", "time": time, "id": "0f1e2d3c4b5a6978"}


def test_a_pass_schedules_the_wake_up_and_the_wake_up_acts_at_the_transition(aws, tables, group, monkeypatch):
    tag_key = unique("Sched")
    iid = launch(boto3.Session(), REGION, tag_key, "early")
    sched = boto3.client("scheduler")

    # 08:55: 'early' is stopped (seen for the first time); nothing falls before 09:00 (09:00 itself is a pass).
    clock(monkeypatch, "2026-03-02T08:55:03Z")
    out = orchestrator.orchestrate(
        pass_event("2026-03-02T08:55:00Z"),
        settings=settings(tag_key, group),
        invoker=local(tables, tag_key),
        tables=tables,
    )
    assert [(a["resource"], a["action"]) for a in out["actions"]] == [(iid, "stop")]
    assert out["wake_up"] == {"status": "none", "at": None, "name": None}
    assert sched.list_schedules(GroupName=group)["Schedules"] == []

    # 09:00: 'office' starts now (nothing tagged with it here); 'early' starts at 09:02, before the 09:05 pass.
    clock(monkeypatch, "2026-03-02T09:00:04Z")
    out = orchestrator.orchestrate(
        pass_event("2026-03-02T09:00:00Z"),
        settings=settings(tag_key, group),
        invoker=local(tables, tag_key),
        tables=tables,
    )
    assert out["actions"] == [] and out["errors"] == []
    assert out["wake_up"] == {
        "status": "created",
        "at": "2026-03-02T09:02:00Z",
        "name": "wake-20260302T0902Z",
        "schedule": "early",
        "action": "start",
    }
    got = sched.get_schedule(GroupName=group, Name="wake-20260302T0902Z")
    assert got["ScheduleExpression"] == "at(2026-03-02T09:02:00)"
    assert got["ScheduleExpressionTimezone"] == "UTC" and got["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert got["ActionAfterCompletion"] == "DELETE" and got["State"] == "ENABLED"
    assert got["Target"]["Arn"] == TARGET and got["Target"]["RoleArn"] == ROLE

    # The same pass delivered again: the wake-up is already there (one schedule, unchanged).
    out = orchestrator.orchestrate(
        pass_event("2026-03-02T09:00:00Z"),
        settings=settings(tag_key, group),
        invoker=local(tables, tag_key),
        tables=tables,
    )
    assert out["wake_up"]["status"] == "exists"
    assert [s["Name"] for s in sched.list_schedules(GroupName=group)["Schedules"]] == ["wake-20260302T0902Z"]

    # EventBridge Scheduler fires it at 09:02 with the Input it was given; the handler runs the pass of 09:02.
    payload = got["Target"]["Input"].replace("<aws.scheduler.scheduled-time>", "2026-03-02T09:02:00Z")
    event = json.loads(payload.replace("<aws.scheduler.execution-id>", "d32c5kddcf5bb8c3"))
    assert event["source"] == "isched.wake-up"
    clock(monkeypatch, "2026-03-02T09:02:01Z")
    monkeypatch.setenv("ISCHED_ACCOUNTS", HUB)
    monkeypatch.setenv("ISCHED_REGIONS", REGION)
    monkeypatch.setenv("ISCHED_SERVICES", "ec2")
    monkeypatch.setenv("ISCHED_TAG_KEY", tag_key)
    monkeypatch.setenv("ISCHED_WAKEUP_GROUP", group)
    monkeypatch.setenv("ISCHED_WAKEUP_ROLE_ARN", ROLE)
    monkeypatch.setenv("ISCHED_WAKEUP_TARGET_ARN", TARGET)
    monkeypatch.setenv("ISCHED_PASS_INTERVAL", "5")
    out = orchestrator.handler(event, FakeContext(), invoker=local(tables, tag_key))
    assert out["at"] == "2026-03-02T09:02:00Z" and out["errors"] == []
    assert [(a["resource"], a["action"], a["reason"]) for a in out["actions"]] == [
        (iid, "start", "start at 2026-03-02T09:02:00Z (schedule)")
    ]
    assert instance_state(boto3.Session(), REGION, iid) == "running"
    # Nothing else falls before 09:05: the wake-up pass asks for none.
    assert out["wake_up"]["status"] == "none"

    # A wake-up event is held to the same rules as a pass: never from the future.
    clock(monkeypatch, "2026-03-02T08:00:00Z")
    with pytest.raises(EventError, match="ahead of the real clock"):
        orchestrator.handler(event, FakeContext(), invoker=local(tables, tag_key))


def test_schedules_without_a_zone_start_at_the_default_zone_time(aws, tables, namespace, monkeypatch):
    """DefaultTimezone=Europe/Berlin: 'office' (no zone) starts at 09:00 Berlin = 08:00 UTC on 2 March, through the
    orchestrator, the Lambda invoker and the worker handler, which each read ISCHED_DEFAULT_TIMEZONE."""
    monkeypatch.setenv("ISCHED_DEFAULT_TIMEZONE", "Europe/Berlin")
    tag_key = unique("Sched")
    iid = launch(boto3.Session(), REGION, tag_key, "office")
    lam = InProcessLambda(tables)

    def run(time: str) -> dict[str, Any]:
        clock(monkeypatch, time)
        store = ConfigStore(tables, "Europe/Berlin")
        invoker = LambdaInvoker(
            "isched-test-worker", PayloadBuilder(store.load(), tables.names.config), lambda_client=lam
        )
        return orchestrator.orchestrate(
            pass_event(time),
            settings=settings(tag_key, None, default_timezone="Europe/Berlin"),
            invoker=invoker,
            tables=tables,
        )

    run("2026-03-02T07:55:00Z")  # 08:55 in Berlin: stopped (seen for the first time)
    assert instance_state(boto3.Session(), REGION, iid) == "stopped"
    run("2026-03-02T08:00:00Z")
    answer = lam.answers[-1]
    assert answer["status"] == "done", answer
    assert [(a["resource"], a["action"], a["reason"]) for a in answer["actions"]] == [
        (iid, "start", "start at 2026-03-02T08:00:00Z (schedule)")
    ]
    assert instance_state(boto3.Session(), REGION, iid) == "running"
    # The inline configuration carries no zone for 'office': the worker applied its own default.
    assert "timezone" not in lam.payloads[-1]["config"]["schedules"]["office"]


def test_a_wake_up_that_cannot_be_created_is_an_error_and_the_pass_still_ran():
    """EventBridge Scheduler refuses (moto cannot be made to): the pass reports it; nothing raises."""
    config = parse_text(SCHEDULES)
    client = boto3.client("scheduler", region_name="us-east-1")
    wake = WakeUpSettings(interval=5, group="isched-t", role_arn=ROLE, target_arn=TARGET)
    with Stubber(client) as stub:
        stub.add_client_error("create_schedule", "AccessDeniedException", "not authorized to perform CreateSchedule")
        got = schedule_wake_up(
            config, at("2026-03-02T09:00:00Z"), wake, now=at("2026-03-02T09:00:05Z"), scheduler=client
        )
    assert got.status == "failed" and got.error == "AccessDeniedException: not authorized to perform CreateSchedule"
    assert got.to_json()["at"] == "2026-03-02T09:02:00Z"
    # A pass that runs after the transition's minute asks for no wake-up: the next regular pass catches up.
    late = schedule_wake_up(config, at("2026-03-02T09:00:00Z"), wake, now=at("2026-03-02T09:02:30Z"), scheduler=client)
    assert late.status == "too-late"
