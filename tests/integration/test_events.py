"""EventBridge notifications (issue 14) against the moto server: a rule on the bus sends every isched event to an
SQS queue (moto delivers events to SQS targets, scheduler-independent), and the tests read the queue.

Each test has its own bus, queue, namespace and region (regions no other module schedules in), so no one else's
resources or events are in its way.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
import pytest

from scheduler.aws.accounts import AccountSessions
from scheduler.engine import instant_text, parse_text
from scheduler.handlers import orchestrator
from scheduler.runtime.deployment import Deployment
from scheduler.runtime.lambda_invoker import LambdaInvoker, PayloadBuilder
from scheduler.runtime.notify import Event, EventBridgeSink
from scheduler.runtime.orchestrator import PassRequest, run_pass, targets_for
from scheduler.store.config import ConfigStore
from scheduler.store.pass_scope import publish_scope
from scheduler.store.state import StateStore, Target
from scheduler.store.tables import Tables

from .hub_helpers import EVENT, HUB, InProcessLambda, event_clock, launch, spoke_session

SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office], notify_before: 15}
  quiet: {periods: [office]}
"""
MON = "2026-03-02"  # a Monday
_REGIONS = itertools.cycle(["me-south-1", "af-south-1", "ap-east-1", "eu-south-1", "il-central-1", "me-central-1"])


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def region(point_at: Callable[[str], str]) -> str:
    return point_at(next(_REGIONS))


class Bus:
    """An event bus whose rule sends everything from source isched to an SQS queue."""

    def __init__(self, region: str, session: boto3.Session | None = None) -> None:
        session = session or boto3.Session()
        self.name = f"isched-{uuid.uuid4().hex[:8]}"
        events = session.client("events", region_name=region)
        self.arn = events.create_event_bus(Name=self.name)["EventBusArn"]
        self.sqs = session.client("sqs", region_name=region)
        self.url = self.sqs.create_queue(QueueName=self.name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name="all", EventBusName=self.name, EventPattern=json.dumps({"source": ["isched"]}))
        events.put_targets(Rule="all", EventBusName=self.name, Targets=[{"Id": "queue", "Arn": queue_arn}])

    def received(self, detail_type: str | None = None) -> list[dict[str, Any]]:
        """The events delivered since the last call (all of them, or those of one detail-type)."""
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                break
            for m in got:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        return [e for e in out if detail_type is None or e["detail-type"] == detail_type]


@pytest.fixture
def setup(run: Callable[..., Any], namespace: str, region: str, write: Callable[..., str]) -> Bus:
    assert run("init").code == 0
    assert run("apply", "--file", write(SCHEDULES)).code == 0
    return Bus(region)


def instance(region: str, schedule: str, running: bool = True) -> str:
    iid = launch(boto3.Session(), region, "Schedule", schedule)
    if not running:
        boto3.client("ec2", region_name=region).stop_instances(InstanceIds=[iid])
    return iid


def state(region: str, iid: str) -> str:
    ec2 = boto3.client("ec2", region_name=region)
    return str(ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"])


def run_at(run: Callable[..., Any], bus: Bus, at: str, code: int = 0) -> dict[str, Any]:
    r = run("run", "--at", at, "--services", "ec2", "--event-bus", bus.name, "--json")
    assert r.code == code, r.out + r.err
    return dict(r.json())


def test_actions_errors_and_one_upcoming_stop_with_their_exact_shapes(run, setup, region):
    bus = setup
    a = instance(region, "office", running=False)
    b = instance(region, "no-such-schedule")
    run_at(run, bus, f"{MON}T08:55:00Z", code=1)  # the first pass: no transitions before it
    bus.received()

    body = run_at(run, bus, f"{MON}T09:00:00Z", code=1)  # b's unknown schedule is an error
    got = bus.received()
    assert {e["source"] for e in got} == {"isched"}
    actions = [e["detail"] for e in got if e["detail-type"] == "Scheduler Action"]
    errors = [e["detail"] for e in got if e["detail-type"] == "Scheduler Error"]
    assert (
        actions
        == body["actions"]
        == [
            {
                "account": HUB,
                "region": region,
                "service": "ec2",
                "resource": a,
                "schedule": "office",
                "action": "start",
                "reason": actions[0]["reason"],
            }
        ]
    )
    assert errors == body["errors"] and [(e["resource"], e["severity"]) for e in errors] == [(b, "error")]
    assert set(errors[0]) == {"account", "region", "service", "resource", "error", "severity"}

    # 16:40: the 17:00 stop is 20 minutes away, beyond notify_before (15).
    run_at(run, bus, f"{MON}T16:40:00Z", code=1)
    assert bus.received("Upcoming Stop") == []
    # 16:45: within 15 minutes: announced once, however many passes follow inside the window.
    run_at(run, bus, f"{MON}T16:45:00Z", code=1)
    (upcoming,) = bus.received("Upcoming Stop")
    assert upcoming["source"] == "isched"
    assert upcoming["detail"] == {
        "account": HUB,
        "region": region,
        "service": "ec2",
        "resource": a,
        "schedule": "office",
        "at": f"{MON}T17:00:00Z",
        "override_until": f"{MON}T18:00:00Z",
        "override_command": f"isched override {a} --state running --until {MON}T18:00:00Z",
        "override_tag": f"isched:override=running@{MON}T18:00:00Z",
    }
    for at in ("16:50", "16:55", "16:59"):
        run_at(run, bus, f"{MON}T{at}:00Z", code=1)
    assert bus.received("Upcoming Stop") == []
    body = run_at(run, bus, f"{MON}T17:00:00Z", code=1)
    stops = bus.received("Scheduler Action")
    assert [e["detail"] for e in stops] == body["actions"] and body["actions"][0]["action"] == "stop"
    assert state(region, a) == "stopped"
    # The next day's stop is announced again, once.
    run_at(run, bus, "2026-03-03T09:00:00Z", code=1)
    run_at(run, bus, "2026-03-03T16:50:00Z", code=1)
    run_at(run, bus, "2026-03-03T16:55:00Z", code=1)
    assert [e["detail"]["at"] for e in bus.received("Upcoming Stop")] == ["2026-03-03T17:00:00Z"]


def test_no_upcoming_stop_for_a_stopped_resource_or_without_notify_before(run, setup, region):
    bus = setup
    instance(region, "quiet")  # running, but its schedule has no notify_before
    stopped = instance(region, "office", running=False)
    run_at(run, bus, f"{MON}T16:50:00Z")
    assert state(region, stopped) == "stopped"  # no transition: left alone
    assert bus.received() == []


def test_a_simulated_pass_announces_nothing_and_does_not_use_up_the_real_announcement(namespace, setup, region):
    bus = setup
    a = instance(region, "office")
    deployment = Deployment(Tables.for_namespace(namespace), AccountSessions())
    sink = EventBridgeSink(bus.name, deployment.sessions.base, region)
    invoker = deployment.local_invoker(deployment.config.load(), events=sink)
    targets = targets_for([HUB], [region], ["ec2"])

    # A pass at 16:50 while the real clock says 12:00: a simulation.
    ahead = run_pass(invoker, targets, PassRequest(at=z(f"{MON}T16:50:00Z"), now=z(f"{MON}T12:00:00Z")))
    assert ahead.results[0].simulated
    assert bus.received("Upcoming Stop") == []
    # The real-time pass inside the same window announces that same stop.
    run_pass(invoker, targets, PassRequest(at=z(f"{MON}T16:52:00Z"), now=z(f"{MON}T16:52:00Z")))
    assert [(e["detail"]["resource"], e["detail"]["at"]) for e in bus.received("Upcoming Stop")] == [
        (a, f"{MON}T17:00:00Z")
    ]
    records, _ = StateStore(deployment.tables).load_all(Target(HUB, region, "ec2"))
    assert records[a].announced_stop == instant_text(z(f"{MON}T17:00:00Z"))


def test_unknown_bus_is_a_clear_error_and_a_bad_name_is_bad_input(run, setup, region):
    a = instance(region, "office", running=False)
    r = run("run", "--at", f"{MON}T09:00:00Z", "--services", "ec2", "--event-bus", "no-such-bus", "--json")
    assert r.code == 1
    error = r.json()["error"]
    assert "no-such-bus" in error and "ResourceNotFoundException" in error
    assert state(region, a) == "stopped"  # refused before the pass: nothing done
    r = run("run", "--at", f"{MON}T09:00:00Z", "--services", "ec2", "--event-bus", "bad bus!", "--json")
    assert r.code == 2
    assert "--event-bus" in r.json()["error"] and "'bad bus!'" in r.json()["error"]
    assert state(region, a) == "stopped"


def _failing(monkeypatch: pytest.MonkeyPatch, bad: Callable[[Event], bool]) -> list[str]:
    """Makes PutEvents fail every entry ``bad`` picks (each time it is tried); returns the resources refused."""
    refused: list[str] = []
    real_put = EventBridgeSink._put

    def put(self: EventBridgeSink, batch: list[tuple[Event, dict[str, Any]]]) -> list[str | None]:
        good = [item for item in batch if not bad(item[0])]
        answers = iter(real_put(self, good) if good else [])
        out: list[str | None] = []
        for event, _ in batch:
            if bad(event):
                refused.append(str(event.resource))
                out.append("InternalFailure: injected")
            else:
                out.append(next(answers))
        return out

    monkeypatch.setattr(EventBridgeSink, "_put", put)
    return refused


def test_a_failed_entry_loses_no_action(run, setup, region, monkeypatch):
    bus = setup
    a = instance(region, "office", running=False)
    b = instance(region, "office", running=False)
    run_at(run, bus, f"{MON}T08:55:00Z")
    refused = _failing(monkeypatch, lambda e: e.resource == a and e.detail_type == "Scheduler Action")

    body = run_at(run, bus, f"{MON}T09:00:00Z")  # a warning: exit 0
    assert refused == [a, a]  # tried, then retried once
    assert sorted((x["resource"], x["action"]) for x in body["actions"]) == sorted([(a, "start"), (b, "start")])
    assert [(e["resource"], e["severity"]) for e in body["errors"]] == [(a, "warning")]
    assert "could not publish its 'Scheduler Action' event: InternalFailure: injected" in body["errors"][0]["error"]
    assert [e["detail"]["resource"] for e in bus.received("Scheduler Action")] == [b]
    assert bus.received() == []  # the publishing warning itself is not published (it would fail the same way)
    assert state(region, a) == state(region, b) == "running"
    # The action is recorded: the next pass does not start it again.
    assert run_at(run, bus, f"{MON}T09:05:00Z")["actions"] == []


def test_an_upcoming_stop_that_could_not_be_published_is_announced_by_the_next_pass(run, setup, region, monkeypatch):
    bus = setup
    a = instance(region, "office")
    run_at(run, bus, f"{MON}T10:00:00Z")
    broken = [True]
    refused = _failing(monkeypatch, lambda e: broken[0] and e.detail_type == "Upcoming Stop")
    body = run_at(run, bus, f"{MON}T16:50:00Z")
    assert refused == [a, a]
    assert [(e["resource"], e["severity"]) for e in body["errors"]] == [(a, "warning")]
    assert "(tried again next pass)" in body["errors"][0]["error"]
    broken[0] = False
    run_at(run, bus, f"{MON}T16:55:00Z")
    assert [e["detail"]["resource"] for e in bus.received("Upcoming Stop")] == [a]


def test_the_lambda_worker_publishes_to_the_hub_bus_with_hub_credentials(namespace, monkeypatch):
    """A spoke account's pass: the worker acts with the spoke role, and publishes on the hub's bus as the hub."""
    region = "mx-central-1"
    event_clock(monkeypatch)
    tables = Tables.for_namespace(namespace)
    tables.create_missing()
    ConfigStore(tables).apply(parse_text(SCHEDULES), prune=False, dry_run=False)
    spoke = "444455556666"
    tag_key = f"Sched{uuid.uuid4().hex[:8]}"
    at = orchestrator.ScheduledEvent.from_event(EVENT).at
    publish_scope(tables, ConfigStore(tables).load(), [spoke], [region], ["ec2"], at, tag_key)
    iid = launch(spoke_session(spoke, region), region, tag_key, "office")
    bus = Bus(region)
    monkeypatch.setenv("ISCHED_EVENT_BUS", bus.arn)
    lam = InProcessLambda(tables)
    invoker = LambdaInvoker(
        "isched-test-worker",
        PayloadBuilder(ConfigStore(tables).load(), tables.names.config),
        lambda_client=lam,
        pass_id=EVENT["id"],
    )
    invoker.invoke(
        [Target(spoke, region, "ec2")],
        PassRequest(at=at, tag_key=tag_key),
    )
    assert lam.raised == []
    (answer,) = lam.answers
    assert [(a["resource"], a["action"]) for a in answer["actions"]] == [(iid, "stop")]
    assert answer["errors"] == []
    (event,) = bus.received()
    # On the hub's bus (the queue is the hub's); with the spoke role's credentials the bus would not be found.
    assert event["detail-type"] == "Scheduler Action"
    assert event["detail"]["account"] == spoke and event["detail"]["resource"] == iid


@pytest.mark.parametrize("bad", ["0", "1441", "15m", "-5", "x" * 100])
def test_notify_before_flag_refuses_bad_values(run, namespace, write, bad):
    assert run("init").code == 0
    assert run("apply", "--file", write(SCHEDULES)).code == 0
    r = run("schedule", "create", "s", "--periods", "office", "--notify-before", bad, "--json")
    assert r.code == 2
    error = r.json()["error"]
    assert "--notify-before" in error and "minutes from 1 to 1440" in error and bad[:20] in error
    assert [i["name"] for i in run("schedule", "list", "--json").json()] == ["office", "quiet"]  # nothing stored


def test_notify_before_flag_sets_exports_and_clears(run, namespace, write):
    assert run("init").code == 0
    assert run("apply", "--file", write(SCHEDULES)).code == 0
    assert run("schedule", "create", "s", "--periods", "office", "--notify-before", "30", "--json").code == 0
    assert run("schedule", "show", "s", "--json").json()["notify_before"] == 30
    exported = run("export").out
    assert "notify_before: 30" in exported and "notify_before: 15" in exported  # s, and office from the file
    assert run("schedule", "update", "s", "--notify-before", "", "--json").code == 0
    assert "notify_before" not in run("schedule", "show", "s", "--json").json()


def test_stored_configuration_errors_are_published_too(run, setup, region, namespace):
    """An item written into the config table by hand that does not validate: its error (reported by the CLI,
    not by a target's pass) goes out as a Scheduler Error, the same object as in `run --json`."""
    bus = setup
    Tables.for_namespace(namespace).config("schedule", "broken", body={"periods": ["nope"]}, version=1).save()
    body = run_at(run, bus, f"{MON}T12:00:00Z", code=1)
    (stored,) = [e for e in body["errors"] if e["error"].startswith("stored configuration: schedules.broken")]
    # Other tests of the module may leave resources in the region whose errors this pass reports too: every error
    # published is one of the pass's, and the stored configuration's is among them, once.
    received = [e["detail"] for e in bus.received("Scheduler Error")]
    assert received.count(stored) == 1 and all(e in body["errors"] for e in received)


def test_no_upcoming_stop_for_a_resource_whose_override_outlasts_the_stop(run, setup, region):
    """The snooze an Upcoming Stop offers, applied as its tag: that stop is not announced (it will not happen);
    an override that ends before the stop does not keep it from being announced."""
    bus = setup
    snoozed, short, plain = (instance(region, "office") for _ in range(3))
    ec2 = boto3.client("ec2", region_name=region)
    ec2.create_tags(Resources=[snoozed], Tags=[{"Key": "isched:override", "Value": f"running@{MON}T18:00:00Z"}])
    ec2.create_tags(Resources=[short], Tags=[{"Key": "isched:override", "Value": f"running@{MON}T16:55:00Z"}])
    run_at(run, bus, f"{MON}T16:50:00Z")
    assert sorted(e["detail"]["resource"] for e in bus.received("Upcoming Stop")) == sorted([short, plain])
