"""Fan-out at scale against the moto server: the target look-up (Tagging API, Auto Scaling DescribeTags, the state
table's live count, fallbacks), the SQS fan-out in batches of 10, the worker's SQS batches with partial failures,
and the configuration encoded once per pass."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scheduler.aws.accounts import AccountSessions
from scheduler.engine import Config
from scheduler.handlers import orchestrator, worker
from scheduler.handlers.events import OrchestratorSettings
from scheduler.runtime.lambda_invoker import ASYNC_PAYLOAD_LIMIT, PayloadBuilder, WorkerPayload
from scheduler.runtime.orchestrator import PassRequest, targets_for
from scheduler.runtime.sqs_invoker import SqsInvoker
from scheduler.runtime.targets import select_targets
from scheduler.runtime.worker import run_target
from scheduler.store.config import ConfigStore
from scheduler.store.pass_scope import publish_scope
from scheduler.store.state import StateStore, Target
from scheduler.store.tables import Tables

from .hub_helpers import EVENT, HUB, configured_tables, event_clock, launch, spoke_session, unique

REGION = "mx-central-1"
REGION2 = "ap-southeast-6"
SPOKE = "444455556666"


@pytest.fixture(autouse=True)
def _event_day(monkeypatch: pytest.MonkeyPatch) -> None:
    event_clock(monkeypatch)


@pytest.fixture
def tables(namespace: str) -> Tables:
    return configured_tables(namespace)


def pass_at() -> Any:
    return orchestrator.ScheduledEvent.from_event(EVENT).at


class Calls:
    """Counts API calls by operation on every client made from a session (botocore event hooks)."""

    def __init__(self, session: boto3.Session) -> None:
        self.ops: list[str] = []
        session.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.ops.append(f"{model.service_model.service_name}:{model.name}")

    def count(self, op: str) -> int:
        return self.ops.count(op)


def tag_rds(session: boto3.Session, region: str, tag_key: str) -> str:
    name = unique("db")
    session.client("rds", region_name=region).create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="u",
        MasterUserPassword="password1",
        Tags=[{"Key": tag_key, "Value": "office"}],
    )
    return name


def asg_with_tag(region: str, tag_key: str) -> str:
    ec2 = boto3.client("ec2", region_name=region)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    name = unique("lt")
    ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"}
    )
    group = unique("asg")
    zone = boto3.client("ec2", region_name=region).describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    boto3.client("autoscaling", region_name=region).create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=0,
        AvailabilityZones=[zone],
        Tags=[{"Key": tag_key, "Value": "office", "PropagateAtLaunch": False}],
    )
    return group


def test_lookup_invokes_only_targets_with_tagged_resources_or_state_to_settle(tables):
    tag_key = unique("Sched")
    base = boto3.Session()
    calls = Calls(base)
    iid = launch(base, REGION, tag_key, "office")  # hub, REGION, ec2
    tag_rds(base, REGION2, tag_key)  # hub, REGION2, rds
    asg_with_tag(REGION2, tag_key)  # hub, REGION2, asg
    launch(spoke_session(SPOKE, REGION2), REGION2, tag_key, "office")  # spoke, REGION2, ec2
    launch(base, REGION, unique("Other"), "office")  # another tag key: not this deployment's
    targets = targets_for([HUB, SPOKE], [REGION, REGION2], ["ec2", "asg", "rds"])
    state = StateStore(tables, tag_key=tag_key)
    calls.ops.clear()

    sel = select_targets(targets, AccountSessions(base), state, tag_key)

    expected = [
        Target(HUB, REGION, "ec2"),
        Target(HUB, REGION2, "asg"),
        Target(HUB, REGION2, "rds"),
        Target(SPOKE, REGION2, "ec2"),
    ]
    assert sel.targets == expected and sel.configured == 12 and sel.skipped == 8
    assert (sel.tagged, sel.settling, sel.unknown, sel.problems) == (4, 0, 0, [])
    # One GetResources and one DescribeTags per account and region (4 pairs); the spoke's look-ups go through
    # the lookup role, assumed once for both its regions.
    assert calls.count("resourcegroupstaggingapi:GetResources") == 4
    assert calls.count("autoscaling:DescribeTags") == 4
    assert calls.count("sts:AssumeRole") == 1

    # A managed instance loses its tag: the target has no tagged resource, but its state has a live record, so it
    # is still invoked: that pass records the instance gone, and the next look-up skips the target.
    ec2_target = Target(HUB, REGION, "ec2")
    at = pass_at()
    run_target(ec2_target, at, ConfigStore(tables).load(), state, AccountSessions(base), tag_key=tag_key, now=at)
    base.client("ec2", region_name=REGION).delete_tags(Resources=[iid], Tags=[{"Key": tag_key}])
    sel = select_targets(targets, AccountSessions(base), state, tag_key)
    assert ec2_target in sel.targets and sel.settling == 1
    later = at + timedelta(minutes=5)
    gone = run_target(
        ec2_target, later, ConfigStore(tables).load(), state, AccountSessions(base), tag_key=tag_key, now=later
    )
    assert gone.managed == 0 and not gone.errors
    assert any(e["action"] == "gone" and e["resource"] == iid for e in state.ledger_month(at.strftime("%Y-%m")))
    sel = select_targets(targets, AccountSessions(base), state, tag_key)
    assert ec2_target not in sel.targets and sel.settling == 0 and len(sel.targets) == 3


def refusing(session: boto3.Session, operation: str, code: str, when: str = "") -> None:
    """Makes every ``operation`` call of ``session``'s clients whose parameters mention ``when`` fail with ``code``."""

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if when in json.dumps(params, default=str):
            raise ClientError({"Error": {"Code": code, "Message": f"refused {operation}"}}, operation)

    session.events.register(f"provide-client-params.{operation}", refuse)


def test_lookup_failures_fall_back_to_invoking(tables, monkeypatch):
    tag_key = unique("Sched")
    base = boto3.Session()
    refusing(base, "sts.AssumeRole", "AccessDenied", SPOKE)  # the spoke has no lookup role
    targets = targets_for([HUB, SPOKE], [REGION], ["ec2", "asg"])
    state = StateStore(tables, tag_key=tag_key)

    sel = select_targets(targets, AccountSessions(base), state, tag_key)
    # Nothing is tagged anywhere: the hub's targets are skipped, the spoke's invoked because they could not be seen.
    assert sel.targets == [Target(SPOKE, REGION, "ec2"), Target(SPOKE, REGION, "asg")] and sel.unknown == 2
    assert len(sel.problems) == 1 and sel.problems[0].startswith(f"{SPOKE}/{REGION}: cannot assume")

    # The Tagging API throttles past retries: EC2 and RDS are invoked; Auto Scaling's own probe still says nothing.
    other = boto3.Session()
    refusing(other, "resource-groups-tagging-api.GetResources", "ThrottlingException")
    sel = select_targets(targets_for([HUB], [REGION], ["ec2", "rds", "asg"]), AccountSessions(other), state, tag_key)
    assert [t.service for t in sel.targets] == ["ec2", "rds"] and sel.unknown == 2
    assert sel.problems == [
        f"{HUB}/{REGION}: tag:GetResources: ThrottlingException: refused resource-groups-tagging-api.GetResources"
    ]

    # The state table cannot answer: every target that looked empty is invoked.
    def broken(self: StateStore, targets: Any) -> set[Target]:
        raise RuntimeError("DynamoDB unavailable")

    monkeypatch.setattr(StateStore, "settled_targets", broken)
    sel = select_targets(targets_for([HUB], [REGION], ["ec2", "asg"]), AccountSessions(base), state, tag_key)
    assert len(sel.targets) == 2 and sel.settling == 2 and sel.problems == ["state table: DynamoDB unavailable"]


def queue(name: str) -> str:
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
    return str(sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": redrive})["QueueUrl"])


def receive_all(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not got:
            return out
        out += got


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The event the SQS event source mapping hands the worker (the fields Powertools reads)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def test_sqs_fan_out_sends_batches_of_ten_and_encodes_the_configuration_once(tables, monkeypatch):
    url = queue(unique("isched-work-"))
    config = ConfigStore(tables).load()
    encodings: list[int] = []
    real = Config.to_dict

    def counting(self: Config) -> Any:
        encodings.append(1)
        return real(self)

    monkeypatch.setattr(Config, "to_dict", counting)
    targets = targets_for([HUB, SPOKE], [REGION, REGION2], ["ec2", "asg", "rds"])
    targets += targets_for(["555566667777"], [REGION, REGION2, "eu-west-1"], ["ec2", "asg", "rds"][:2])  # 18 in all
    payloads = PayloadBuilder(config, tables.names.config)
    invoker = SqsInvoker(url, payloads, pass_id=EVENT["id"])
    calls = Calls(boto3.Session())  # not the invoker's session: count on its client directly
    invoker.client.meta.events.register("before-call.sqs.SendMessageBatch", lambda **_: calls.ops.append("batch"))

    results = invoker.invoke(targets, PassRequest(at=pass_at()))

    assert calls.count("batch") == 2 == invoker.calls  # 18 messages: 10 + 8
    assert len(encodings) == 1 and payloads.config_encodings == 1
    assert all(r.submitted and r.request_id and not r.errors for r in results)
    bodies = [json.loads(m["Body"]) for m in receive_all(url)]
    assert sorted((b["target"]["account"], b["target"]["region"], b["target"]["service"]) for b in bodies) == sorted(
        (t.account, t.region, t.service) for t in targets
    )
    # Each message is the payload a direct invocation carries, with the same configuration.
    first = WorkerPayload.from_json(bodies[0])
    assert first.config == config and first.pass_id == EVENT["id"] and first.tag_key == "Schedule"
    monkeypatch.setattr(Config, "to_dict", real)


def test_sqs_batches_respect_the_byte_limit(tables):
    url = queue(unique("isched-big-"))
    config = ConfigStore(tables).load()
    payloads = PayloadBuilder(config, tables.names.config)
    one = len(payloads.encode(Target(HUB, REGION, "ec2"), PassRequest(at=pass_at())))
    # A limit that fits three messages a batch (the payload limit itself is untouched).
    invoker = SqsInvoker(url, PayloadBuilder(config, tables.names.config), pass_id=EVENT["id"])
    from scheduler.runtime import sqs_invoker

    targets = targets_for([HUB], [REGION, REGION2], ["ec2", "asg", "rds"])
    groups = sqs_invoker.batches([b"x" * one] * len(targets), size=3 * one + 10)
    assert [len(g) for g in groups] == [3, 3]
    invoker.invoke(targets, PassRequest(at=pass_at()))
    assert invoker.calls == 1 and len(receive_all(url)) == 6


def test_worker_processes_an_sqs_batch_and_reports_only_retryable_failures(tables, monkeypatch):
    tag_key = unique("Sched")
    at = pass_at()
    config = ConfigStore(tables).load()
    publish_scope(tables, config, [HUB, SPOKE], [REGION], ["ec2"], at, tag_key)
    iid = launch(boto3.Session(), REGION, tag_key, "office")
    url = queue(unique("isched-work-"))
    invoker = SqsInvoker(url, PayloadBuilder(config, tables.names.config), pass_id=EVENT["id"])
    invoker.invoke([Target(HUB, REGION, "ec2"), Target(SPOKE, REGION, "ec2")], PassRequest(at=at, tag_key=tag_key))
    sqs = boto3.client("sqs")
    # Forged: an account outside the pass scope; and a message that is not JSON at all.
    forged = WorkerPayload(at, Target("999988887777", REGION, "ec2"), tag_key, config=config).to_json()
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(forged))
    sqs.send_message(QueueUrl=url, MessageBody="{not json")
    messages = receive_all(url)
    assert len(messages) == 4
    # The spoke's STS throttles: its pass is retryable, so its message is a batch item failure (delivered again).
    base = boto3.Session()
    refusing(base, "sts.AssumeRole", "Throttling", SPOKE)

    answer = worker.process_queue_batch(sqs_event(messages), sessions=AccountSessions(base), tables=tables, now=at)

    spoke_message = next(m["MessageId"] for m in messages if f'"account":"{SPOKE}"' in m["Body"])
    assert answer == {"batchItemFailures": [{"itemIdentifier": spoke_message}]}
    # The hub's pass ran; the forged and the unreadable messages were dropped (not failures: a redelivery would be
    # refused the same way), each logged and counted as a rejected payload.
    ec2 = boto3.client("ec2", region_name=REGION)
    state_now = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state_now == "stopped"
    records, info = StateStore(tables, tag_key=tag_key).load_all(Target("999988887777", REGION, "ec2"))
    assert records == {} and info.completed_at is None


def test_orchestrator_fans_out_through_the_queue_to_populated_targets_and_publishes_metrics(tables, capsys):
    tag_key = unique("Sched")
    launch(boto3.Session(), REGION2, tag_key, "office")
    url = queue(unique("isched-work-"))
    settings = OrchestratorSettings(
        accounts=(HUB, SPOKE),
        organization_id=None,
        regions=(REGION, REGION2),
        services=("ec2", "asg", "rds"),
        tag_key=tag_key,
        role_name="isched-spoke",
        external_id=None,
        worker_function=None,
        max_payload_bytes=ASYNC_PAYLOAD_LIMIT,
        worker_queue=url,
    )
    out = orchestrator.orchestrate(EVENT, settings=settings, tables=tables)
    assert out["targets"] == 12 and out["submitted"] == 1 and out["errors"] == [] and out["payload"] == "inline"
    assert out["lookup"]["skipped"] == 11 and out["lookup"]["tagged"] == 1
    body = json.loads(receive_all(url)[0]["Body"])
    assert body["target"] == {"account": HUB, "region": REGION2, "service": "ec2"}
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"function"' in line]
    assert len(emf) == 1
    metrics = {k: v for k, v in emf[0].items() if k not in ("_aws", "function")}
    assert metrics["targets"] == [12.0] and metrics["invoked"] == [1.0] and "refused" not in metrics
    assert metrics["duration"][0] > 0
