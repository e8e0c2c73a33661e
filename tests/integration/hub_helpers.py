"""Helpers for the Lambda handler tests: a Lambda context, spoke sessions, tagged instances, a stand-in Lambda.

moto runs no Lambda code, so :class:`InProcessLambda` stands in for the Lambda service behind the real
:class:`LambdaInvoker`: each ``invoke`` hands the payload (as JSON bytes, as Lambda would) to the worker handler
in-process and answers 202 like an accepted asynchronous invocation.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import boto3

from scheduler.aws.accounts import AccountSessions
from scheduler.engine import parse_text
from scheduler.store.config import ConfigStore
from scheduler.store.tables import Tables

HUB = "123456789012"  # moto's default account: the credentials of the moto fixture
SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
# Monday 2026-03-02, 20:00 UTC: after office hours, so instances seen for the first time are stopped.
EVENT = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": HUB,
    "time": "2026-03-02T20:00:41Z",
    "region": "us-east-1",
    "resources": [f"arn:aws:events:us-east-1:{HUB}:rule/isched-pass"],
    "detail": {},
}


class FakeContext:
    """The attributes of a Lambda context that Powertools' inject_lambda_context reads."""

    function_name = "isched-test"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{HUB}:function:isched-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def spoke_session(account: str, region: str | None = None) -> boto3.Session:
    """Credentials in another moto account, obtained the way the hub gets them: sts:AssumeRole."""
    return AccountSessions(boto3.Session(region_name=region)).session(account)


def launch(session: boto3.Session, region: str, tag_key: str, schedule: str) -> str:
    ec2 = session.client("ec2", region_name=region)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    return str(
        ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": tag_key, "Value": schedule}]}],
        )["Instances"][0]["InstanceId"]
    )


def instance_state(session: boto3.Session, region: str, iid: str) -> str:
    ec2 = session.client("ec2", region_name=region)
    return str(ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"])


class InProcessLambda:
    """A Lambda client whose ``invoke`` runs the worker handler in this process (see the module docstring)."""

    def __init__(self, tables: Tables, sessions: AccountSessions | None = None) -> None:
        self.tables = tables
        self.sessions = sessions
        self.payloads: list[dict[str, Any]] = []
        self.sizes: list[int] = []
        self.answers: list[dict[str, Any]] = []
        self.raised: list[BaseException] = []
        # Each real invocation has its own process; Powertools' metrics and log keys are per process.
        self._lock = threading.Lock()

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        from scheduler.handlers import worker

        assert InvocationType == "Event"
        with self._lock:
            payload = json.loads(Payload)
            self.payloads.append(payload)
            self.sizes.append(len(Payload))
            try:
                self.answers.append(worker.process(payload, sessions=self.sessions, tables=self.tables))
            except Exception as exc:  # Lambda would retry it; the test looks at what was raised
                self.raised.append(exc)
        return {"StatusCode": 202, "ResponseMetadata": {"RequestId": str(uuid.uuid4())}}


def event_clock(monkeypatch: Any) -> datetime:
    """Makes the handlers' real clock the minute after EVENT, so its pass is a real-time one (not a replay)."""
    from scheduler.handlers import common

    now = datetime.fromisoformat(EVENT["time"].replace("Z", "+00:00")) + timedelta(minutes=1)
    monkeypatch.setattr(common, "real_clock", lambda: now)
    return now


def configured_tables(namespace: str) -> Tables:
    """The tables of ``namespace``, made, with :data:`SCHEDULES` applied."""
    tables = Tables.for_namespace(namespace)
    tables.create_missing()
    ConfigStore(tables).apply(parse_text(SCHEDULES), prune=False, dry_run=False)
    return tables
