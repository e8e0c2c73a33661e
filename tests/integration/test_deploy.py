"""The hub stack deployed and run: template.yaml translated offline, created in moto's CloudFormation, then a pass.

The SAM transform is the real one (aws-sam-translator, with a stub managed-policy loader: the template attaches no
managed policies). CodeUri points at an S3 object, as `sam package` would leave it; moto runs no Lambda code, so
the object is a placeholder zip and the orchestrator handler is called directly, with a LocalInvoker standing in
for the Lambda fan-out.

What moto's CloudFormation cannot create is stripped before the stack is created (moto would only warn and skip
it): AWS::CloudWatch::Alarm, AWS::Lambda::EventInvokeConfig, AWS::S3::BucketPolicy (the reports bucket's TLS-only
policy) and the EventBridge Scheduler pass schedule and its group, all checked in the translated template instead.
Everything else (tables, with their deletion protection, roles and the optional snapshot policy, functions, log
groups, the SNS topic) is created as the template says. moto does not evaluate IAM policies: what the policies
allow is checked by scripts/check_policies.py (tests/unit/test_policies.py); here, that the stack attaches them as
written.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import zipfile
from datetime import UTC, datetime
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

from .hub_helpers import EVENT, HUB, SCHEDULES, FakeContext, event_clock, instance_state, launch, spoke_session, unique

ROOT = Path(__file__).resolve().parents[2]
MOTO_CANNOT_CREATE = {
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::S3::BucketPolicy",
    # moto's CloudFormation has no EventBridge Scheduler resources (its scheduler API has: see test_wakeup.py).
    "AWS::Scheduler::Schedule",
    "AWS::Scheduler::ScheduleGroup",
    # Not in moto's CloudFormation either (the notification topic's policy and e-mail subscription).
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
}
SPOKE = "333344445555"
# Regions for which moto loads only its few default AMIs: an EC2 backend there starts in milliseconds, not seconds.
REGIONS = ("ap-southeast-7", "ap-east-2")


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def translate(code_uri: str, *, everything: bool = False) -> dict[str, Any]:
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    template["Globals"]["Function"]["CodeUri"] = code_uri
    out = transform(template, {}, _NoManagedPolicies())
    if not everything:
        out["Resources"] = {k: v for k, v in out["Resources"].items() if v["Type"] not in MOTO_CANNOT_CREATE}
    return dict(out)


@pytest.fixture(autouse=True)
def _event_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """EVENT is a pass of 2026-03-02: the handlers' real clock is that day, as in production."""
    event_clock(monkeypatch)


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
        "scheduler.handlers.report.handler",  # MonthlyReport (on by default)
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
    orchestrator_statements = {
        s["Sid"]: s
        for s in res["OrchestratorRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        if isinstance(s, dict) and "Sid" in s
    }
    # The pass goes to the worker queue (and only there); the worker reads it through the event source mapping.
    send = orchestrator_statements["SendToWorkerQueue"]
    assert send["Action"] == "sqs:SendMessage" and send["Resource"] == {"Fn::GetAtt": ["WorkerQueue", "Arn"]}
    assert "InvokeWorker" not in orchestrator_statements
    mapping = next(v["Properties"] for v in res.values() if v["Type"] == "AWS::Lambda::EventSourceMapping")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["WorkerQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerConcurrency"}}
    queue = res["WorkerQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["WorkerDeadLetterQueue", "Arn"]}
    assert queue["VisibilityTimeout"] >= 900  # at least the longest worker timeout, as Lambda requires


def _if(value: Any, conditions: dict[str, bool]) -> Any:
    """``value`` with each Fn::If resolved by ``conditions``."""
    if isinstance(value, dict) and "Fn::If" in value:
        name, yes, no = value["Fn::If"]
        return _if(yes if conditions[name] else no, conditions)
    return value


@pytest.mark.parametrize(
    ("interval", "expression"),
    [("5", {"Fn::Sub": "cron(0/${ScheduleInterval} * * * ? *)"}), ("60", "cron(0 * * * ? *)")],
)
def test_passes_run_on_the_clock_through_eventbridge_scheduler(translated, interval, expression):
    """No rate() rule (its phase is wherever it was created): a cron pass schedule in UTC that invokes only the
    orchestrator through a role allowed nothing else, with the payload the handler reads."""
    res = translated.get("Resources", {})
    full = translate("s3://isched-artifacts/isched.zip", everything=True)["Resources"]
    assert "PassSchedule" not in res  # moto cannot create it: stripped for the deployed tests
    # The rules are the monthly report's and the notifications' (on the events bus), never the pass's.
    notify = {"NotifyErrorsRule", "NotifyUpcomingStopsRule", "NotifyActionsRule"}
    assert not [k for k, v in full.items() if v["Type"] == "AWS::Events::Rule" and k not in {"ReportRule", *notify}]
    params = yaml.safe_load(
        (ROOT / "template.yaml").read_text(encoding="utf-8").split("\nParameters:\n", 1)[1].split("\nConditions:", 1)[0]
    )
    assert params["ScheduleInterval"]["AllowedValues"] == [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60]
    schedule = full["PassSchedule"]["Properties"]
    assert _if(schedule["ScheduleExpression"], {"HourlyPasses": interval == "60"}) == expression
    assert schedule["ScheduleExpressionTimezone"] == "UTC" and schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["GroupName"] == {"Ref": "PassScheduleGroup"}
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["OrchestratorFunction", "Arn"]}
    assert target["RoleArn"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
    payload = json.loads(target["Input"])
    assert payload == {
        "source": "isched.pass",
        "time": "<aws.scheduler.scheduled-time>",
        "id": "<aws.scheduler.execution-id>",
    }
    role = full["SchedulerRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    (policy,) = role["Policies"]
    (grant,) = policy["PolicyDocument"]["Statement"]
    assert grant["Action"] == "lambda:InvokeFunction"
    function_name = full["OrchestratorFunction"]["Properties"]["FunctionName"]["Fn::Sub"]
    assert grant["Resource"]["Fn::Sub"].endswith(f":function:{function_name}")
    # The orchestrator may create wake-ups (only wake-* in the stack's group) and pass that role (only to
    # EventBridge Scheduler); the names it builds the ARNs from are the ones the template gives the resources.
    statements = {
        s["Sid"]: s
        for s in full["OrchestratorRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        if isinstance(s, dict) and "Sid" in s
    }
    wake = statements["ScheduleWakeUps"]
    assert wake["Action"] == "scheduler:CreateSchedule"
    assert wake["Resource"]["Fn::Sub"].endswith(":schedule/isched-${Namespace}/wake-*")
    assert full["PassScheduleGroup"]["Properties"]["Name"] == {"Fn::Sub": "isched-${Namespace}"}
    passing = statements["PassSchedulerRole"]
    assert passing["Action"] == "iam:PassRole"
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    role_name = role["RoleName"]["Fn::Sub"]
    assert role["Path"] == "/isched/"  # the ARN carries the path
    assert passing["Resource"]["Fn::Sub"].endswith(f":role/isched/{role_name}")
    env = full["OrchestratorFunction"]["Properties"]["Environment"]["Variables"]
    assert env["ISCHED_WAKEUP_ROLE_ARN"] == passing["Resource"]
    assert env["ISCHED_WAKEUP_TARGET_ARN"] == grant["Resource"]
    assert env["ISCHED_WAKEUP_GROUP"] == full["PassScheduleGroup"]["Properties"]["Name"]
    assert env["ISCHED_PASS_INTERVAL"] == {"Ref": "ScheduleInterval"}
    assert env["ISCHED_DEFAULT_TIMEZONE"] == {"Ref": "DefaultTimezone"}


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
    assert variables["ISCHED_WORKER_QUEUE"].endswith(f"isched-{namespace}-worker")
    for key, value in variables.items():
        monkeypatch.setenv(key, str(value))

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


# --- the monthly report (MonthlyReport) --------------------------------------------------------------------------

REPORT_RESOURCES = {
    "ReportsBucket": "AWS::S3::Bucket",
    "ReportsTopic": "AWS::SNS::Topic",
    "ReportRole": "AWS::IAM::Role",
    "ReportLogGroup": "AWS::Logs::LogGroup",
    "ReportFunction": "AWS::Lambda::Function",
    "ReportRule": "AWS::Events::Rule",
    "ReportRulePermission": "AWS::Lambda::Permission",
}


def test_every_monthly_report_resource_is_conditional(translated):
    """After the SAM transform, every resource the monthly report adds (the function's generated ones too) and
    its outputs carry the MonthlyReportEnabled condition (or one that implies it), so MonthlyReport=false leaves
    none of them."""
    full = translate("s3://isched-artifacts/isched.zip", everything=True)  # with what moto cannot create too
    conditions = full["Conditions"]
    assert conditions["MonthlyReportEnabled"] == {"Fn::Equals": [{"Ref": "MonthlyReport"}, "true"]}
    assert {"Condition": "MonthlyReportEnabled"} in conditions["HasReportEmail"]["Fn::And"]
    report = {k: v for k, v in full["Resources"].items() if k.startswith("Report")}
    made_elsewhere = {"ReportsBucketPolicy", "ReportsEmail", "ReportErrorsAlarm", "ReportFunctionEventInvokeConfig"}
    assert set(REPORT_RESOURCES) | made_elsewhere <= set(report)
    assert {k: v["Condition"] for k, v in report.items()} == {
        k: "HasReportEmail" if k == "ReportsEmail" else "MonthlyReportEnabled" for k in report
    }
    outputs = {k: v for k, v in full["Outputs"].items() if k.startswith("Report")}
    assert set(outputs) == {"ReportsBucket", "ReportsTopic", "ReportFunction"}
    assert all(v["Condition"] == "MonthlyReportEnabled" for v in outputs.values())
    # Nothing else refers to them (a reference from an unconditional resource would fail with the switch off).
    others = {k: v for k, v in full["Resources"].items() if k not in report}
    assert not any(name in json.dumps(others) for name in report)
    rule = report["ReportRule"]["Properties"]
    assert rule["ScheduleExpression"] == {"Ref": "MonthlyReportSchedule"}
    assert full["Parameters"]["MonthlyReportSchedule"]["Default"] == "cron(0 6 1 * ? *)"
    assert full["Parameters"]["MonthlyReport"]["Default"] == "true"
    bucket = report["ReportsBucket"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    blocks = bucket["Properties"]["PublicAccessBlockConfiguration"]
    assert blocks == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    (rule_,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule_["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    (tls,) = report["ReportsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_deployed_monthly_report_with_the_switch_on_and_off(aws, translated, monkeypatch):
    from scheduler.handlers import report as report_handler

    on, outputs = deploy(copy.deepcopy(translated), Namespace=unique("r"))
    types = {r["LogicalResourceId"]: r["ResourceType"] for r in cfn_resources(on)}
    assert {k: types.get(k) for k in REPORT_RESOURCES} == REPORT_RESOURCES
    bucket, topic = outputs["ReportsBucket"], outputs["ReportsTopic"]
    config = boto3.client("lambda").get_function_configuration(FunctionName=outputs["ReportFunction"])
    variables = config["Environment"]["Variables"]
    assert config["Handler"] == "scheduler.handlers.report.handler"
    assert variables["ISCHED_REPORT_BUCKET"] == bucket and variables["ISCHED_REPORT_TOPIC"] == topic
    rule = boto3.client("events").describe_rule(
        Name=next(r["PhysicalResourceId"] for r in cfn_resources(on) if r["LogicalResourceId"] == "ReportRule")
    )
    assert rule["ScheduleExpression"] == "cron(0 6 1 * ? *)"
    role = f"isched-{outputs['Namespace']}-report-us-east-1"
    doc = boto3.client("iam").get_role_policy(RoleName=role, PolicyName="report")["PolicyDocument"]
    if isinstance(doc, str):  # moto keeps a YAML-written policy as Python's repr of it
        import ast

        doc = ast.literal_eval(doc)
    sids = {s["Sid"]: s for s in doc["Statement"]}
    assert sids["WriteReports"]["Resource"] == f"arn:aws:s3:::{bucket}/reports/*"
    assert sids["PublishSummary"]["Resource"] == topic

    # The function, run with the environment the stack gave it, writes into the stack's bucket.
    for key, value in variables.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("ISCHED_REPORT_COST_EXPLORER", "false")
    monkeypatch.setenv("ISCHED_REPORT_PRICING_API", "false")
    out = report_handler.process({"month": "2026-02"}, now=datetime(2026, 3, 1, 6, tzinfo=UTC))
    assert out["published"] is True
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="reports/2026-02/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [f"reports/2026-02/report.{f}" for f in ("csv", "html", "json")]

    off, outputs = deploy(copy.deepcopy(translated), Namespace=unique("r"), MonthlyReport="false")
    types = {r["LogicalResourceId"]: r["ResourceType"] for r in cfn_resources(off)}
    assert not [k for k in types if k.startswith("Report")]
    assert not [k for k in outputs if k.startswith("Report")]
    assert {"OrchestratorFunction", "WorkerFunction", "ConfigTable"} <= set(types)


REPORT_BREAKAGES = [
    ("BlockPublicPolicy: true", "BlockPublicPolicy: false", "without public access blocks: BlockPublicPolicy"),
    ("SSEAlgorithm: AES256", "Algorithm: AES256", "without default encryption"),
    ('aws:SecureTransport: "false"', 'aws:SecureTransport: "true"', "denying requests without TLS"),
    ('- !Sub "${ReportsBucket.Arn}/*"', "- !GetAtt ReportsBucket.Arn", "denying requests without TLS"),
    ('Resource: !Sub "${ReportsBucket.Arn}/reports/*"', 'Resource: "*"', "s3:PutObject allowed on every resource"),
    ("Resource: !Ref ReportsTopic", 'Resource: "*"', "sns:Publish allowed on every resource"),
    (  # an Allow in place of the Deny: a wildcard action for anyone
        "          - Sid: TlsOnly\n            Effect: Deny",
        "          - Sid: TlsOnly\n            Effect: Allow",
        "resource policy statement 'TlsOnly': wildcard action 's3:*'",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), REPORT_BREAKAGES)
def test_check_policies_refuses_a_weakened_reports_bucket_or_role(tmp_path, capsys, old, new, expected):
    """scripts/check_policies.py (make templates) holds the delivery to its rules: breaking one is refused."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("check_policies", ROOT / "scripts" / "check_policies.py")
    assert spec is not None and spec.loader is not None
    checker = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = checker  # dataclasses resolve their module by name
    spec.loader.exec_module(checker)
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "template.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    assert checker.main([str(path)]) == 1
    assert expected in capsys.readouterr().err


def test_deployed_events_own_bus_notifications_and_none(aws, translated):
    """EventBus=own: the stack's bus, the worker's PutEvents on it alone and its ARN in the worker's environment;
    the notification topic with its rules (readable messages) and a topic policy for EventBridge. none: nothing."""
    ns = unique("e")
    stack, outputs = deploy(
        copy.deepcopy(translated),
        Namespace=ns,
        EventBus="own",
        NotificationEmail="ops@example.com",
        NotifyActions="true",
    )
    types = {r["LogicalResourceId"]: r["ResourceType"] for r in cfn_resources(stack)}
    assert types["IschedEventBus"] == "AWS::Events::EventBus"
    assert {types[k] for k in ("NotifyErrorsRule", "NotifyUpcomingStopsRule", "NotifyActionsRule")} == {
        "AWS::Events::Rule"
    }
    bus_arn = outputs["EventBusArn"]
    assert bus_arn.endswith(f":event-bus/isched-{ns}")
    worker = boto3.client("lambda").get_function_configuration(FunctionName=outputs["WorkerFunction"])
    assert worker["Environment"]["Variables"]["ISCHED_EVENT_BUS"] == bus_arn
    doc = boto3.client("iam").get_role_policy(RoleName=f"isched-{ns}-worker-us-east-1", PolicyName="publish-events")[
        "PolicyDocument"
    ]
    if isinstance(doc, str):  # moto keeps a YAML-written policy as Python's repr of it
        import ast

        doc = ast.literal_eval(doc)
    assert [(s["Action"], s["Resource"]) for s in doc["Statement"]] == [("events:PutEvents", bus_arn)]
    rule = boto3.client("events").describe_rule(Name=f"isched-{ns}-notify-upcoming-stops", EventBusName=f"isched-{ns}")
    assert json.loads(rule["EventPattern"]) == {"source": ["isched"], "detail-type": ["Upcoming Stop"]}
    (target,) = boto3.client("events").list_targets_by_rule(
        Rule=f"isched-{ns}-notify-upcoming-stops", EventBusName=f"isched-{ns}"
    )["Targets"]
    assert target["Arn"] == outputs["NotificationsTopic"]
    assert "<command>" in target["InputTransformer"]["InputTemplate"]

    off, outputs = deploy(copy.deepcopy(translated), Namespace=unique("e"), EventBus="none", NotificationTopic="true")
    types = {r["LogicalResourceId"]: r["ResourceType"] for r in cfn_resources(off)}
    assert not [k for k in types if k.startswith(("Notify", "Notifications", "IschedEventBus", "WorkerEvents"))]
    worker = boto3.client("lambda").get_function_configuration(FunctionName=outputs["WorkerFunction"])
    assert worker["Environment"]["Variables"].get("ISCHED_EVENT_BUS", "") == ""
