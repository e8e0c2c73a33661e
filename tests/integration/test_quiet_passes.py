"""Cheap passes: the quiet pass after an acting one writes nothing, and a pass logs one summary line per target.

Requests are counted on the wire by the fault proxy (tests/integration/fault_proxy.py, failing nothing), so the
count does not depend on isched's own call counter; the test checks that counter against it too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from scheduler.aws.accounts import AccountSessions
from scheduler.aws.session import counting_calls, reset_clients
from scheduler.engine import instant_text, parse_text
from scheduler.runtime.worker import WorkerResult, run_target
from scheduler.store.config import ConfigStore
from scheduler.store.state import StateStore, Target
from scheduler.store.tables import Tables

from .fault_proxy import FaultProxy

pytestmark = pytest.mark.integration

REGION = "ap-northeast-3"
SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
MON = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday in the past: real-time passes
WRITES = ("dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:TransactWriteItems")


@pytest.fixture(scope="module")
def proxy(moto_server: str) -> Iterator[FaultProxy]:
    p = FaultProxy(moto_server)
    yield p
    p.close()


class Fleet:
    """Instances with a tag key of their own, and passes over them through the proxy."""

    def __init__(self, moto: str, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
        self.proxy = proxy
        self.tag_key = f"sched-{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        reset_clients()
        self.tables = Tables.for_namespace(f"q{uuid.uuid4().hex[:10]}")
        self.tables.create_missing()
        ConfigStore(self.tables).apply(parse_text(SCHEDULES), prune=False, dry_run=False)
        self.config = ConfigStore(self.tables).load()
        self.ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto)
        image = self.ec2.describe_images()["Images"][0]["ImageId"]
        self.ec2.run_instances(
            ImageId=image,
            MinCount=count,
            MaxCount=count,
            InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": self.tag_key, "Value": "office"}]}],
        )
        self.sessions = AccountSessions()
        self.target = Target(self.sessions.hub_account, REGION, "ec2")
        self.state = StateStore(self.tables, tag_key=self.tag_key)

    def run(self, at: datetime, logger: Any = None) -> tuple[WorkerResult, list[str], dict[str, int]]:
        """One pass; returns its result, the requests the proxy saw and what isched counted itself."""
        self.proxy.reset()
        with counting_calls() as counted:
            result = run_target(
                self.target, at, self.config, self.state, self.sessions, tag_key=self.tag_key, logger=logger
            )
        seen = list(self.proxy.calls)
        self.proxy.reset()
        return result, seen, dict(counted)


@pytest.fixture
def fleet(moto_server: str, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield lambda count: Fleet(moto_server, proxy, monkeypatch, count)
    reset_clients()


def test_the_quiet_pass_after_an_acting_pass_writes_nothing(fleet: Any) -> None:
    f = fleet(30)
    f.run(MON + timedelta(hours=12))  # first seen: every record is written once
    acting, acting_calls, _ = f.run(MON + timedelta(hours=17))
    assert sum(1 for a in acting.actions if a.ok and a.action == "stop") == 30
    assert any(op in WRITES for op in acting_calls)

    quiet, calls, counted = f.run(MON + timedelta(hours=17, minutes=5))

    assert quiet.actions == [] and quiet.errors == []
    assert not [op for op in calls if op in WRITES]
    # The state query, the pass's claim and completion, and one describe page: nothing else.
    assert sorted(calls) == ["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:UpdateItem", "ec2:DescribeInstances"]
    assert counted == {"dynamodb:Query": 1, "dynamodb:UpdateItem": 2, "ec2:DescribeInstances": 1}

    # Nothing of what matters was lost by not writing: the records still say stopped, by the 17:00 stop.
    records, _ = f.state.load_all(f.target)
    assert {(r.observed, r.desired, r.last_action, r.last_action_at) for r in records.values()} == {
        ("stopped", "stopped", "stop", instant_text(MON + timedelta(hours=17)))
    }


def test_a_changed_tag_is_still_written_by_a_quiet_pass(fleet: Any) -> None:
    f = fleet(2)
    f.run(MON + timedelta(hours=12))
    iid = sorted(f.state.load_all(f.target)[0])[0]
    f.ec2.create_tags(Resources=[iid], Tags=[{"Key": "Team", "Value": "data"}])

    _, calls, _ = f.run(MON + timedelta(hours=12, minutes=5))

    assert calls.count("dynamodb:BatchWriteItem") == 1
    assert f.state.load_all(f.target)[0][iid].details["tags"]["Team"] == "data"


def test_one_summary_line_per_pass_and_no_line_for_resources_left_alone(
    fleet: Any, caplog: pytest.LogCaptureFixture
) -> None:
    f = fleet(4)
    log = logging.getLogger("isched.worker.test")
    stopped = f.ec2.describe_instances(Filters=[{"Name": "tag-key", "Values": [f.tag_key]}])
    one = stopped["Reservations"][0]["Instances"][0]["InstanceId"]
    f.run(MON + timedelta(hours=12))
    f.ec2.stop_instances(InstanceIds=[one])  # stopped by hand: respected, decided "none"

    with caplog.at_level(logging.INFO, logger=log.name):
        result, _, _ = f.run(MON + timedelta(hours=17), logger=log)
    info = [r for r in caplog.records if r.levelno == logging.INFO]

    summaries = [r for r in info if hasattr(r, "summary")]
    assert len(summaries) == 1
    summary = summaries[0].summary
    assert summary["target"] == str(f.target) and summary["managed"] == 4
    assert summary["actions"] == {"stop": 3}
    assert sum(n for by in summary["decisions"].values() for n in by.values()) == 4
    assert sum(by.get("stop", 0) for by in summary["decisions"].values()) == 3
    assert summary["aws_calls"] == sum(summary["aws_calls_by_operation"].values()) > 0
    assert summary["duration_ms"] > 0 and summary["errors"] == 0
    # A line per resource acted on, none for the one left alone (its decision is at DEBUG).
    per_resource = [r for r in info if hasattr(r, "resource")]
    assert sorted(r.resource for r in per_resource) == sorted(a.resource for a in result.actions)
    assert one not in {r.resource for r in per_resource}

    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=log.name):
        f.run(MON + timedelta(hours=17, minutes=5), logger=log)
    assert len([r for r in caplog.records if hasattr(r, "summary")]) == 1
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG and hasattr(r, "resource")]
    assert len(debug) == 4 and {r.action for r in debug} == {"none"}  # every decision, at DEBUG
    assert not [r for r in caplog.records if r.levelno == logging.INFO and hasattr(r, "resource")]
