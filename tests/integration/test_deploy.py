"""The hub stack deployed and run: template.yaml translated offline, created in moto's CloudFormation, then a pass.

The SAM transform is the real one (aws-sam-translator, with a stub managed-policy loader: the template attaches no
managed policies). CodeUri points at an S3 object, as `sam package` would leave it; moto runs no Lambda code, so
the object is a placeholder zip and the orchestrator handler is called directly, with a LocalInvoker standing in
for the Lambda fan-out.

What moto's CloudFormation cannot create is stripped before the stack is created (moto would only warn and skip
it): AWS::CloudWatch::Alarm and AWS::Lambda::EventInvokeConfig. Everything else (tables, with their deletion
protection, roles and the optional snapshot policy, functions, log groups, the rule and its permission, the SNS
topic) is created as the template says. moto does not evaluate IAM policies: what the policies allow is checked
by scripts/check_policies.py (tests/unit/test_policies.py); here, that the stack attaches them as written.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from scheduler.aws.accounts import AccountSessions
from scheduler.handlers import orchestrator
from scheduler.runtime.orchestrator import LocalInvoker
from scheduler.store.config import ConfigStore
from scheduler.store.state import StateStore
from scheduler.store.tables import TableNames, Tables

from .hub_helpers import EVENT, HUB, SCHEDULES, FakeContext, instance_state, launch, spoke_session, unique

ROOT = Path(__file__).resolve().parents[2]
MOTO_CANNOT_CREATE = {"AWS::CloudWatch::Alarm", "AWS::Lambda::EventInvokeConfig"}
SPOKE = "333344445555"
# Regions for which moto loads only its few default AMIs: an EC2 backend there starts in milliseconds, not seconds.
REGIONS = ("ap-southeast-7", "ap-east-2")


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def translate(code_uri: str) -> dict[str, Any]:
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    template["Globals"]["Function"]["CodeUri"] = code_uri
    out = transform(template, {}, _NoManagedPolicies())
    out["Resources"] = {k: v for k, v in out["Resources"].items() if v["Type"] not in MOTO_CANNOT_CREATE}
    return dict(out)


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    import os

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator wants a region for its ARNs
    return translate("s3://isched-artifacts/isched.zip")


def deploy(template: dict[str, Any], **parameters: str) -> tuple[str, dict[str, str]]:
    s3 = boto3.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):  # other tests of this process made it
        s3.create_bucket(Bucket="isched-artifacts")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("scheduler/__init__.py", "")  # moto stores the code; it never runs it
    s3.put_object(Bucket="isched-artifacts", Key="isched.zip", Body=code.getvalue())
    name = unique("isched-hub-")
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return name, {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_translated_template_keeps_the_functions_and_least_privilege_roles(translated):
    res = translated["Resources"]
    fns = {k: v["Properties"] for k, v in res.items() if v["Type"] == "AWS::Lambda::Function"}
    assert {p["Handler"] for p in fns.values()} == {
        "scheduler.handlers.orchestrator.handler",
        "scheduler.handlers.worker.handler",
    }
    assert all(p["Architectures"] == ["arm64"] and p["Runtime"].startswith("python3.1") for p in fns.values())
    # moto's CloudFormation ignores TTL, point-in-time recovery and SSE, so they are checked in the template.
    for table in ("ConfigTable", "StateTable", "LedgerTable"):
        props = res[table]["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST" and props["SSESpecification"] == {"SSEEnabled": True}
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["DeletionProtectionEnabled"] is True
        assert res[table]["DeletionPolicy"] == res[table]["UpdateReplacePolicy"] == "Retain"
    ttl = res["LedgerTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}
    worker_policies = {p["PolicyName"]: p["PolicyDocument"] for p in res["WorkerRole"]["Properties"]["Policies"]}
    assume = next(s for s in worker_policies["worker"]["Statement"] if s.get("Sid") == "AssumeSpokeRoles")
    assert assume["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${SpokeRoleName}"}
    invoke = next(
        s
        for s in res["OrchestratorRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        if isinstance(s, dict) and s.get("Sid") == "InvokeWorker"
    )
    assert invoke["Resource"][0] == {"Fn::GetAtt": ["WorkerFunction", "Arn"]}


def test_deployed_hub_runs_a_pass_over_two_accounts_and_two_regions(aws, translated, run, write, monkeypatch):
    tag_key = unique("Sched")
    namespace = unique("d")
    stack, outputs = deploy(
        copy.deepcopy(translated),
        Namespace=namespace,
        TagKey=tag_key,
        Accounts=f"{HUB},{SPOKE}",
        Regions=",".join(REGIONS),
        Services="ec2",
    )
    assert set(outputs) >= {"ConfigTable", "StateTable", "LedgerTable", "OrchestratorFunction", "WorkerFunction"}
    assert outputs["Namespace"] == namespace

    # The tables have exactly the keys scheduler/store/tables.py uses.
    ddb = boto3.client("dynamodb")
    for output, keys in (
        ("ConfigTable", [("kind", "HASH"), ("name", "RANGE")]),
        ("StateTable", [("target", "HASH"), ("resource", "RANGE")]),
        ("LedgerTable", [("month", "HASH"), ("key", "RANGE")]),
    ):
        table = ddb.describe_table(TableName=outputs[output])["Table"]
        assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == keys
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["DeletionProtectionEnabled"] is True
    # RdsSnapshotBeforeStop defaults to false: no snapshot permissions at all.
    types = {r["LogicalResourceId"]: r["ResourceType"] for r in cfn_resources(stack)}
    assert "WorkerSnapshotPolicy" not in types and types["WorkerRole"] == "AWS::IAM::Role"

    # Schedules go in through the CLI, which finds the tables from the stack's outputs.
    r = run("--stack", stack, "apply", "--file", write(SCHEDULES), "--json")
    assert r.code == 0, r.err

    # The orchestrator runs with the environment the stack gave its function.
    env = boto3.client("lambda").get_function_configuration(FunctionName=outputs["OrchestratorFunction"])
    variables = env["Environment"]["Variables"]
    assert variables["ISCHED_CONFIG_TABLE"] == outputs["ConfigTable"]
    assert variables["ISCHED_WORKER_FUNCTION"] == outputs["WorkerFunction"]
    for key, value in variables.items():
        monkeypatch.setenv(key, value)

    sessions = {HUB: boto3.Session(), SPOKE: spoke_session(SPOKE)}
    ids = {(acc, reg): launch(sess, reg, tag_key, "office") for acc, sess in sessions.items() for reg in REGIONS}
    tables = Tables.for_names(TableNames(outputs["ConfigTable"], outputs["StateTable"], outputs["LedgerTable"]))

    def local_invoker() -> LocalInvoker:
        return LocalInvoker(
            ConfigStore(tables).load(), StateStore(tables), AccountSessions(role_name=variables["ISCHED_ROLE_NAME"])
        )

    out = orchestrator.handler(EVENT, FakeContext(), invoker=local_invoker())
    assert out["at"] == "2026-03-02T20:00:00Z" and out["targets"] == 4 and out["errors"] == []
    stopped = {(a["account"], a["region"], a["resource"]) for a in out["actions"] if a["action"] == "stop"}
    assert stopped == {(acc, reg, iid) for (acc, reg), iid in ids.items()}
    for (acc, reg), iid in ids.items():
        assert instance_state(sessions[acc], reg, iid) == "stopped"

    # EventBridge delivered the same scheduled event twice: the second run acts on nothing.
    again = orchestrator.handler({**EVENT, "time": "2026-03-02T20:00:59Z"}, FakeContext(), invoker=local_invoker())
    assert again["actions"] == []
    assert len(again["errors"]) == 4 and all(e["error"].startswith("skipped:") for e in again["errors"])


def cfn_resources(stack: str) -> list[dict[str, Any]]:
    pages = boto3.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack)
    return [r for page in pages for r in page["StackResourceSummaries"]]


def test_deployed_roles_carry_the_policies_as_written(aws, translated):
    """With RdsSnapshotBeforeStop=true the worker role gets the snapshot policy; the tag-write and resize
    conditions arrive in IAM unchanged (moto evaluates none of them, so their wording is what is checked)."""
    namespace = unique("p")
    stack, _ = deploy(copy.deepcopy(translated), Namespace=namespace, RdsSnapshotBeforeStop="true")
    types = {r["LogicalResourceId"]: r["ResourceType"] for r in cfn_resources(stack)}
    assert types["WorkerSnapshotPolicy"] == "AWS::IAM::Policy"

    iam = boto3.client("iam")
    worker = f"isched-{namespace}-worker-us-east-1"

    def document(role: str, name: str) -> dict[str, Any]:
        doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        return json.loads(doc) if isinstance(doc, str) else dict(doc)

    scheduled = {s["Sid"]: s for s in document(worker, "scheduled-resources")["Statement"]}
    account = boto3.client("sts").get_caller_identity()["Account"]
    assert scheduled["ResizeScheduledEc2"] == {
        "Sid": "ResizeScheduledEc2",
        "Effect": "Allow",
        "Action": "ec2:ModifyInstanceAttribute",
        "Resource": f"arn:aws:ec2:*:{account}:instance/*",
        "Condition": {
            "StringLike": {"aws:ResourceTag/Schedule": "*"},
            "StringEqualsIgnoreCaseIfExists": {"ec2:Attribute": "InstanceType"},
            "Null": {"ec2:Attribute/InstanceType": "false"},
        },
    }
    for sid in ("TagScheduledEc2", "TagScheduledAutoScaling", "TagScheduledRds"):
        assert scheduled[sid]["Condition"] == {
            "StringLike": {"aws:ResourceTag/Schedule": "*"},
            "ForAllValues:StringLike": {"aws:TagKeys": "isched:*"},
            "Null": {"aws:TagKeys": "false"},
        }
    snapshot = {s["Sid"]: s for s in document(worker, "snapshot-before-stop")["Statement"]}
    assert snapshot["CreateIschedSnapshots"]["Action"] == [
        "rds:StopDBInstance",
        "rds:CreateDBSnapshot",
        "rds:CreateDBClusterSnapshot",
    ]
    assert snapshot["CreateIschedSnapshots"]["Resource"] == [
        f"arn:aws:rds:*:{account}:snapshot:isched-*",
        f"arn:aws:rds:*:{account}:cluster-snapshot:isched-*",
    ]


def test_stack_option_names_a_missing_stack_or_missing_outputs(aws, run):
    r = run("--stack", "no-such-isched-stack", "export")
    assert r.code == 2 and "--stack: stack 'no-such-isched-stack' does not exist" in r.err
    other = unique("not-isched-")
    body = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": other}}}}
    boto3.client("cloudformation").create_stack(StackName=other, TemplateBody=yaml.safe_dump(body))
    r = run("--stack", other, "export")
    assert r.code == 2 and f"stack '{other}' has no output ConfigTable, StateTable, LedgerTable" in r.err
