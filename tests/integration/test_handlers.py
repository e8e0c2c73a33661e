"""The Lambda handlers against moto: payload fallback, the Lambda invoker, Organizations, a missing spoke role,
the worker's retry policy.

moto runs no Lambda code: :class:`InProcessLambda` stands in for the Lambda service behind the real LambdaInvoker
(it hands each payload to the worker handler in this process); the test of the LambdaInvoker itself uses moto's
Lambda and counts the Invoke calls with a botocore event hook. Every test tags its instances with a tag key of its
own, so other tests' resources in the same moto server are never in its targets.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scheduler.aws.accounts import AccountSessions
from scheduler.engine import parse_config, parse_text
from scheduler.handlers import orchestrator, worker
from scheduler.handlers.common import SettingsError
from scheduler.handlers.events import OrchestratorSettings
from scheduler.runtime.lambda_invoker import ASYNC_PAYLOAD_LIMIT, LambdaInvoker, PayloadBuilder, SubmittedResult
from scheduler.runtime.orchestrator import PassRequest
from scheduler.store.config import ConfigStore
from scheduler.store.pass_scope import publish_scope
from scheduler.store.state import Target
from scheduler.store.tables import Tables

from .hub_helpers import (
    EVENT,
    HUB,
    SCHEDULES,
    FakeContext,
    InProcessLambda,
    configured_tables,
    event_clock,
    instance_state,
    launch,
    unique,
)

# Regions for which moto loads only its few default AMIs (fast EC2 backends).
REGION = "mx-central-1"
REGION2 = "ap-southeast-6"


@pytest.fixture(autouse=True)
def _event_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """EVENT is a pass of 2026-03-02: the handlers' real clock is that day, as in production."""
    event_clock(monkeypatch)


@pytest.fixture
def tables(namespace: str) -> Tables:
    t = configured_tables(namespace)
    # What an orchestrator run records before it fans out; the worker acts only inside it.
    publish_scope(
        t,
        ConfigStore(t).load(),
        [HUB, "444455556666", "555566667777"],
        [REGION, REGION2],
        ["ec2", "asg", "rds"],
        orchestrator.ScheduledEvent.from_event(EVENT).at,
    )
    return t


def settings(**kw: Any) -> OrchestratorSettings:
    base: dict[str, Any] = {
        "accounts": (HUB,),
        "organization_id": None,
        "regions": (REGION,),
        "services": ("ec2",),
        "tag_key": "Schedule",
        "role_name": "isched-spoke",
        "external_id": None,
        "worker_function": "isched-test-worker",
        "max_payload_bytes": ASYNC_PAYLOAD_LIMIT,
    }
    return OrchestratorSettings(**{**base, **kw})


def fan_out(tables: Tables, lam: InProcessLambda, tag_key: str) -> LambdaInvoker:
    """The production invoker, with the stand-in Lambda behind it."""
    payloads = PayloadBuilder(ConfigStore(tables).load(), tables.names.config)
    return LambdaInvoker("isched-test-worker", payloads, lambda_client=lam, pass_id=EVENT["id"])


def failing_sts(account: str, code: str) -> boto3.Session:
    """A hub session whose STS refuses to let it assume the spoke role of ``account`` (moto accepts any role)."""
    session = boto3.Session()

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if f":{account}:" in params.get("RoleArn", ""):
            raise ClientError(
                {
                    "Error": {
                        "Code": code,
                        "Message": f"not authorized to perform sts:AssumeRole on {params['RoleArn']}",
                    }
                },
                "AssumeRole",
            )

    session.events.register("provide-client-params.sts.AssumeRole", refuse)
    return session


def test_large_configuration_goes_by_reference_and_the_worker_loads_it_from_the_table(tables):
    # ~300 KB of schedules: past the 256 KB asynchronous payload limit.
    big = {
        "periods": {"office": {"begintime": "09:00", "endtime": "17:00", "weekdays": "mon-fri"}},
        "schedules": {f"s{n:03}": {"periods": ["office"], "description": "x" * 1000} for n in range(300)},
    }
    ConfigStore(tables).apply(parse_config(big), prune=False, dry_run=False)
    assert len(json.dumps(big)) > ASYNC_PAYLOAD_LIMIT
    tag_key = unique("Sched")
    iid = launch(boto3.Session(), REGION, tag_key, "s123")
    lam = InProcessLambda(tables)

    out = orchestrator.orchestrate(
        EVENT, settings=settings(tag_key=tag_key), invoker=fan_out(tables, lam, tag_key), tables=tables
    )
    assert out["payload"] == "reference" and out["submitted"] == 1 and out["errors"] == []
    assert lam.payloads[0]["config_ref"] == {"table": tables.names.config} and "config" not in lam.payloads[0]
    assert lam.sizes[0] < 1024
    # The worker read the schedules from the table and acted on them.
    assert [(a["resource"], a["action"], a["schedule"]) for a in lam.answers[0]["actions"]] == [(iid, "stop", "s123")]
    assert instance_state(boto3.Session(), REGION, iid) == "stopped"


def test_small_configuration_is_inlined_and_the_worker_publishes_metrics(tables, capsys, caplog):
    tag_key = unique("Sched")
    iid = launch(boto3.Session(), REGION, tag_key, "office")
    lam = InProcessLambda(tables)
    out = orchestrator.orchestrate(
        EVENT, settings=settings(tag_key=tag_key), invoker=fan_out(tables, lam, tag_key), tables=tables
    )
    assert out["payload"] == "inline" and "office" in lam.payloads[0]["config"]["schedules"]
    assert lam.answers[0]["status"] == "done" and lam.answers[0]["actions"][0]["resource"] == iid
    lines = capsys.readouterr().out.splitlines()
    emf = [json.loads(line) for line in lines if '"_aws"' in line and '"service"' in line]
    # Zero counts (started, errors) are not published: CloudWatch bills each metric for every hour it gets data.
    assert {k: v for k, v in emf[-1].items() if k != "_aws"} == {"service": "ec2", "managed": [1.0], "stopped": [1.0]}
    # One structured decision line per resource, from the Powertools logger (its keys are the record's extras).
    decisions = [r for r in caplog.records if getattr(r, "resource", None) == iid and hasattr(r, "rule")]
    assert [(r.name, r.action, r.schedule, r.rule) for r in decisions] == [("isched-worker", "stop", "office", "new")]


def test_lambda_invoker_sends_one_event_invocation_per_target(aws, namespace, monkeypatch):
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=unique("isched-worker-"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    name = unique("isched-worker-")
    code = _zip({"scheduler/__init__.py": ""})
    boto3.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="scheduler.handlers.worker.handler", Code=code
    )
    sent: list[dict[str, Any]] = []
    targets = [Target(HUB, REGION, s) for s in ("ec2", "asg", "rds")]
    invoker = LambdaInvoker(name, PayloadBuilder(parse_text(SCHEDULES), "isched-x-config"))
    invoker.client.meta.events.register("provide-client-params.lambda.Invoke", lambda params, **_: sent.append(params))
    done: list[Any] = []
    results = invoker.invoke(targets, PassRequest(at=orchestrator.ScheduledEvent.from_event(EVENT).at), done.append)

    assert len(sent) == 3 and {p["InvocationType"] for p in sent} == {"Event"}
    assert {p["FunctionName"] for p in sent} == {name}
    assert sorted(json.loads(p["Payload"])["target"]["service"] for p in sent) == ["asg", "ec2", "rds"]
    assert len(done) == 3 and all(isinstance(r, SubmittedResult) and r.submitted for r in results)
    assert all(r.request_id and not r.errors for r in results)

    # The orchestrator handler builds that invoker itself from ISCHED_WORKER_FUNCTION.
    monkeypatch.setenv("ISCHED_WORKER_FUNCTION", name)
    monkeypatch.setenv("ISCHED_ACCOUNTS", HUB)
    monkeypatch.setenv("ISCHED_REGIONS", f"{REGION},{REGION2}")
    monkeypatch.setenv("ISCHED_SERVICES", "ec2,rds")
    monkeypatch.setenv("ISCHED_TARGET_LOOKUP", "false")  # every target, populated or not (test_fanout.py looks up)
    Tables.for_namespace(namespace).create_missing()
    counted: list[str] = []
    real_client = orchestrator_client_factory()

    def counting_client(service: str, **kw: Any) -> Any:
        c = real_client(service, **kw)
        c.meta.events.register("before-call.lambda.Invoke", lambda **_: counted.append(service))
        return c

    monkeypatch.setattr("scheduler.runtime.lambda_invoker.client", counting_client)
    out = orchestrator.handler(EVENT, FakeContext())
    assert out["targets"] == 4 and out["submitted"] == 4 and out["payload"] == "inline" and out["errors"] == []
    assert len(counted) == 4


def orchestrator_client_factory() -> Callable[..., Any]:
    from scheduler.aws import session

    return session.client


def test_organization_accounts_are_the_active_ones(aws, namespace):
    org = boto3.client("organizations")
    try:
        org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    except ClientError:  # the moto server is shared by this process's tests: already in an organization
        org_id = org.describe_organization()["Organization"]["Id"]
    created = []
    for _ in range(3):
        status = org.create_account(Email=f"{uuid.uuid4().hex[:8]}@example.com", AccountName=unique("acct-"))
        created.append(status["CreateAccountStatus"]["AccountId"])
    org.close_account(AccountId=created[2])

    accounts = orchestrator.organization_accounts(org_id)
    assert set(created[:2]) <= set(accounts) and created[2] not in accounts
    with pytest.raises(SettingsError, match="ISCHED_ORGANIZATION_ID: 'o-aaaaaaaaaa' is not the organization"):
        orchestrator.organization_accounts("o-aaaaaaaaaa")

    seen: list[Target] = []

    class Recorder:
        def invoke(self, targets: Any, request: Any, on_done: Any = None) -> list[Any]:
            seen.extend(targets)
            return []

    Tables.for_namespace(namespace).create_missing()
    out = orchestrator.orchestrate(
        EVENT,
        settings=settings(accounts=(), organization_id=org_id, services=("ec2", "asg"), target_lookup=False),
        invoker=Recorder(),
    )
    assert {t.account for t in seen} == set(accounts) and out["targets"] == 2 * len(accounts)


def test_missing_spoke_role_is_one_error_and_the_other_targets_proceed(tables):
    spoke = "444455556666"
    tag_key = unique("Sched")
    iid = launch(boto3.Session(), REGION, tag_key, "office")
    lam = InProcessLambda(tables, sessions=AccountSessions(base=failing_sts(spoke, "AccessDenied")))
    out = orchestrator.orchestrate(
        EVENT,
        settings=settings(tag_key=tag_key, accounts=(HUB, spoke), target_lookup=False),
        invoker=fan_out(tables, lam, tag_key),
        tables=tables,
    )
    assert out["submitted"] == 2 and not lam.raised  # a missing role is not retried by Lambda
    by_account = {a["target"].split("/")[0]: a for a in lam.answers}
    assert [e["error"] for e in by_account[spoke]["errors"]] == [
        f"cannot assume arn:aws:iam::{spoke}:role/isched-spoke: An error occurred (AccessDenied) when calling the "
        f"AssumeRole operation: not authorized to perform sts:AssumeRole on arn:aws:iam::{spoke}:role/isched-spoke"
    ]
    assert by_account[HUB]["errors"] == [] and by_account[HUB]["actions"][0]["resource"] == iid
    assert instance_state(boto3.Session(), REGION, iid) == "stopped"


def test_worker_raises_for_throttling_and_releases_the_pass_for_the_retry(tables):
    tag_key = unique("Sched")
    iid = launch(boto3.Session(), REGION2, tag_key, "office")
    config = ConfigStore(tables).load()
    at = orchestrator.ScheduledEvent.from_event(EVENT).at
    publish_scope(tables, config, [HUB, "555566667777"], [REGION, REGION2], ["ec2"], at, tag_key)
    payload = PayloadBuilder(config, tables.names.config).encode(
        Target(HUB, REGION2, "ec2"), PassRequest(at=orchestrator.ScheduledEvent.from_event(EVENT).at, tag_key=tag_key)
    )
    throttled = boto3.Session()

    def throttle(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}}, "DescribeInstances")

    throttled.events.register("before-call.ec2.DescribeInstances", throttle)
    with pytest.raises(worker.RetryableError, match="RequestLimitExceeded"):
        worker.process(json.loads(payload), sessions=AccountSessions(base=throttled), tables=tables)
    assert instance_state(boto3.Session(), REGION2, iid) == "running"

    # Lambda's retry of the same event runs the pass (the claim was released) ...
    retry = worker.process(json.loads(payload), sessions=AccountSessions(), tables=tables)
    assert retry["status"] == "done" and [a["resource"] for a in retry["actions"]] == [iid]
    # ... and a duplicate delivery after it is recognised and does nothing.
    duplicate = worker.process(json.loads(payload), sessions=AccountSessions(), tables=tables)
    assert duplicate["status"] == "skipped" and duplicate["actions"] == []

    # A throttled AssumeRole is retried too; an access-denied one is not (see the test above).
    spoke_payload = json.loads(payload) | {"target": {"account": "555566667777", "region": REGION2, "service": "ec2"}}
    with pytest.raises(worker.RetryableError, match="Throttling"):
        worker.process(spoke_payload, sessions=AccountSessions(base=failing_sts("555566667777", "Throttling")))


def _zip(files: dict[str, str]) -> dict[str, bytes]:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return {"ZipFile": buf.getvalue()}
