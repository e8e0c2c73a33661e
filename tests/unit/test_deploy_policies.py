"""Deployable by the book: the CloudFormation service role covers every resource of the hub stack and nothing
outside its names, every hub role sits in /isched/ under the permissions boundary, the boundary covers what the
roles are granted, the spoke StackSet matches spoke.yaml, and the policy checker enforces the new rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_policies import ROOT, checker

HUB = checker.load_template(ROOT / "template.yaml")
DEPLOY = checker.load_template(ROOT / "infra" / "deploy-role.yaml")
SPOKE = checker.load_template(ROOT / "infra" / "spoke.yaml")
OPERATOR = checker.load_template(ROOT / "infra" / "operator-policy.yaml")

# What CloudFormation calls to create, update and delete each resource type of the hub (and of what the SAM
# transform makes of AWS::Serverless::Function). A type missing here fails the coverage test below: whoever adds
# a resource type to template.yaml adds its actions here and to infra/deploy-role.yaml.
NEEDS: dict[str, set[str]] = {
    "AWS::DynamoDB::Table": {
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:UpdateTable",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:UpdateContinuousBackups",
    },
    "AWS::IAM::Role": {
        "iam:CreateRole",
        "iam:GetRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DeleteRole",
        "iam:PassRole",
    },
    "AWS::IAM::Policy": {"iam:PutRolePolicy", "iam:DeleteRolePolicy"},
    "AWS::Serverless::Function": {
        "lambda:CreateFunction",
        "lambda:GetFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:DeleteFunction",
        "lambda:PutFunctionConcurrency",
        "lambda:DeleteFunctionConcurrency",
        "lambda:PutFunctionEventInvokeConfig",
        "lambda:UpdateFunctionEventInvokeConfig",
        "lambda:DeleteFunctionEventInvokeConfig",
        "s3:GetObject",
        # The worker's SQS event (SAM makes an AWS::Lambda::EventSourceMapping of it).
        "lambda:CreateEventSourceMapping",
        "lambda:GetEventSourceMapping",
        "lambda:UpdateEventSourceMapping",
        "lambda:DeleteEventSourceMapping",
    },
    "AWS::Lambda::Permission": {"lambda:AddPermission", "lambda:RemovePermission"},
    "AWS::Logs::LogGroup": {"logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy"},
    "AWS::Scheduler::ScheduleGroup": {
        "scheduler:CreateScheduleGroup",
        "scheduler:GetScheduleGroup",
        "scheduler:DeleteScheduleGroup",
        "scheduler:DeleteSchedule",
    },
    "AWS::Scheduler::Schedule": {
        "scheduler:CreateSchedule",
        "scheduler:GetSchedule",
        "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule",
        "iam:PassRole",
    },
    "AWS::SQS::Queue": {
        "sqs:CreateQueue",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "sqs:DeleteQueue",
    },
    "AWS::Events::Rule": {"events:PutRule", "events:DescribeRule", "events:PutTargets", "events:DeleteRule"},
    "AWS::SNS::Topic": {"sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes"},
    "AWS::SNS::Subscription": {"sns:Subscribe", "sns:Unsubscribe"},
    "AWS::SNS::TopicPolicy": {"sns:SetTopicAttributes", "sns:GetTopicAttributes"},
    "AWS::Events::EventBus": {"events:CreateEventBus", "events:DescribeEventBus", "events:DeleteEventBus"},
    "AWS::CloudWatch::Alarm": {"cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"},
    "AWS::CloudWatch::Dashboard": {"cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"},
    "AWS::S3::Bucket": {
        "s3:CreateBucket",
        "s3:PutEncryptionConfiguration",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketOwnershipControls",
        "s3:PutBucketVersioning",
        "s3:PutLifecycleConfiguration",
    },
    "AWS::S3::BucketPolicy": {"s3:PutBucketPolicy", "s3:DeleteBucketPolicy"},
    "AWS::CloudFormation::StackSet": {
        "cloudformation:CreateStackSet",
        "cloudformation:UpdateStackSet",
        "cloudformation:DeleteStackSet",
        "cloudformation:CreateStackInstances",
        "cloudformation:DeleteStackInstances",
    },
}
# The name each type's resources have in template.yaml, as the service role's resource patterns expect it.
NAMED = {
    "AWS::DynamoDB::Table": ("TableName", "isched-"),
    "AWS::Serverless::Function": ("FunctionName", "isched-"),
    "AWS::Logs::LogGroup": ("LogGroupName", "/aws/lambda/isched-"),
    "AWS::SNS::Topic": ("TopicName", "isched-"),
    "AWS::CloudWatch::Alarm": ("AlarmName", "isched-"),
    "AWS::CloudWatch::Dashboard": ("DashboardName", "isched-"),
    "AWS::CloudFormation::StackSet": ("StackSetName", "isched-"),
    "AWS::IAM::Role": ("RoleName", "isched-"),
    "AWS::Scheduler::ScheduleGroup": ("Name", "isched-"),
    "AWS::SQS::Queue": ("QueueName", "isched-"),
    "AWS::Events::EventBus": ("Name", "isched-"),
}


def statements(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for _, value in checker._policy_properties(resource):
        for document in checker._documents(value):
            yield from checker._statements(document)


def actions(stmt: dict[str, Any]) -> list[str]:
    return [a for a in checker._as_list(stmt.get("Action", [])) if isinstance(a, str)]


def service_role_statements() -> list[dict[str, Any]]:
    role = DEPLOY["Resources"]["ServiceRole"]
    return [s for s in statements(role) if "Principal" not in s]


def _name(value: Any) -> str:
    return checker._sub_text(value["Fn::Sub"]) if isinstance(value, dict) and "Fn::Sub" in value else str(value)


def test_the_service_role_can_deploy_every_resource_type_of_the_hub():
    granted = {a for s in service_role_statements() for a in actions(s)}
    types = {r["Type"] for r in HUB["Resources"].values()}
    unknown = types - set(NEEDS)
    assert not unknown, f"add what CloudFormation needs for {sorted(unknown)} to NEEDS and infra/deploy-role.yaml"
    for rtype in types:
        missing = NEEDS[rtype] - granted
        assert not missing, f"{rtype}: the service role lacks {sorted(missing)}"


def test_every_hub_resource_is_named_as_the_service_role_expects():
    for logical_id, resource in HUB["Resources"].items():
        if resource["Type"] not in NAMED:
            continue
        prop, prefix = NAMED[resource["Type"]]
        assert _name(resource["Properties"][prop]).startswith(prefix), (logical_id, prop)
    # The rules CloudFormation names STACK-LogicalId-RANDOM; the service role scopes them by the stack's name.
    # The notification rules are named isched-NAMESPACE-notify-… (on the default bus, or on the bus isched-NAMESPACE).
    (rules,) = [s for s in service_role_statements() if s.get("Sid") == "Rules"]
    patterns = [_name(r) for r in rules["Resource"]]
    assert patterns[0].endswith(":rule/StackName-*")
    assert {p.split(":rule/")[1] for p in patterns[1:]} == {"isched-*", "isched-*/isched-*"}
    for logical_id, r in HUB["Resources"].items():
        if r["Type"] == "AWS::Events::Rule" and "Name" in r["Properties"]:
            assert _name(r["Properties"]["Name"]).startswith("isched-"), logical_id


def test_every_hub_role_is_in_the_isched_path_under_the_boundary():
    roles = {k: v for k, v in HUB["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
    assert roles
    for logical_id, role in roles.items():
        props = role["Properties"]
        assert props["Path"] == "/isched/", logical_id
        assert props["PermissionsBoundary"] == {
            "Fn::If": ["HasPermissionsBoundary", {"Ref": "PermissionsBoundaryArn"}, {"Ref": "AWS::NoValue"}]
        }, logical_id
    # The service role creates and passes exactly those: roles in /isched/, with its boundary.
    by_sid = {s["Sid"]: s for s in service_role_statements()}
    assert _name(by_sid["CreateBoundedRoles"]["Resource"]).endswith(":role/isched/*")
    assert by_sid["CreateBoundedRoles"]["Condition"] == {
        "StringEquals": {"iam:PermissionsBoundary": {"Ref": "BoundaryPolicy"}}
    }
    assert _name(by_sid["PassStackRolesToLambda"]["Resource"]).endswith(":role/isched/*")
    # The pass schedule's role goes to EventBridge Scheduler only; the orchestrator's wake-ups name it by its path.
    scheduler_role = HUB["Resources"]["SchedulerRole"]["Properties"]
    role_arn = f":role{scheduler_role['Path']}{_name(scheduler_role['RoleName'])}"
    assert role_arn == ":role/isched/isched-Namespace-scheduler-AWS_Region"
    env = HUB["Resources"]["OrchestratorFunction"]["Properties"]["Environment"]["Variables"]
    assert _name(env["ISCHED_WAKEUP_ROLE_ARN"]).endswith(role_arn)
    passes = [s for s in statements(HUB["Resources"]["OrchestratorRole"]) if s.get("Sid") == "PassSchedulerRole"]
    assert _name(passes[0]["Resource"]).endswith(role_arn)
    to_scheduler = by_sid["PassSchedulerRoleToScheduler"]
    assert _name(to_scheduler["Resource"]).endswith(":role/isched/isched-*-scheduler-*")
    assert to_scheduler["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    assert DEPLOY["Outputs"]["BoundaryPolicyArn"]["Value"] == {"Ref": "BoundaryPolicy"}


def _boundary() -> list[dict[str, Any]]:
    return list(statements(DEPLOY["Resources"]["BoundaryPolicy"]))


def test_the_boundary_allows_every_action_the_hub_roles_are_granted():
    bounded = {a for s in _boundary() for a in actions(s)}
    granted: dict[str, set[str]] = {}
    for logical_id, resource in HUB["Resources"].items():
        if resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy"):
            for stmt in statements(resource):
                if "Principal" not in stmt:  # not a trust policy
                    for action in actions(stmt):
                        granted.setdefault(action, set()).add(logical_id)
    missing = {a: sorted(ids) for a, ids in granted.items() if a not in bounded}
    assert not missing, f"the boundary (infra/deploy-role.yaml) would deny: {missing}"


def test_the_boundary_repeats_the_workers_scheduled_resource_rules():
    def by_sid(stmts: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {s["Sid"]: s for s in stmts if "Sid" in s}

    boundary = by_sid(_boundary())
    worker = by_sid(
        s
        for p in HUB["Resources"]["WorkerRole"]["Properties"]["Policies"]
        if p["PolicyName"] == "scheduled-resources"
        for d in checker._documents(p["PolicyDocument"])
        for s in checker._statements(d)
    )
    for sid, stmt in worker.items():
        mine = boundary[sid]
        assert mine["Resource"] == stmt["Resource"] and mine["Condition"] == stmt["Condition"], sid
        assert set(checker._as_list(stmt["Action"])) <= set(checker._as_list(mine["Action"])), sid


def test_the_spoke_stackset_passes_spoke_yaml_its_parameters():
    stackset = HUB["Resources"]["SpokeStackSet"]
    props = stackset["Properties"]
    assert stackset["Condition"] == "HasSpokeOrganizationalUnits"
    assert props["PermissionModel"] == "SERVICE_MANAGED" and props["AutoDeployment"]["Enabled"] is True
    assert props["TemplateURL"] == "infra/spoke.yaml"  # `sam deploy` uploads it (a StackSet's local TemplateURL)
    given = {p["ParameterKey"]: p["ParameterValue"] for p in props["Parameters"]}
    spoke_params = SPOKE["Parameters"]
    assert set(given) <= set(spoke_params)
    assert {k for k, v in spoke_params.items() if "Default" not in v} <= set(given)
    # The spoke trusts the worker role by its path and name, as the hub makes it.
    assert given["HubWorkerRoleName"] == {"Ref": "WorkerRole"}
    assert given["HubWorkerRolePath"] == HUB["Resources"]["WorkerRole"]["Properties"]["Path"]
    assert spoke_params["HubWorkerRolePath"]["Default"] == "/isched/"
    principal = SPOKE["Resources"]["SpokeRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert principal["Principal"]["AWS"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${HubAccountId}:role${HubWorkerRolePath}${HubWorkerRoleName}"
    }
    # The spoke refuses to trust without ExternalId or OrganizationId: so does the hub before making the StackSet.
    rule = HUB["Rules"]["SpokesNeedATrustCondition"]
    assert "ExternalId" in json.dumps(rule) and "OrganizationId" in json.dumps(rule)


def test_the_tables_can_be_kept_and_used_again_by_a_new_stack():
    tables = {k: v for k, v in HUB["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"}
    for logical_id, table in tables.items():
        assert table["Condition"] == "CreateTables" and table["DeletionPolicy"] == "Retain", logical_id
    # Nothing refers to a table resource except through Fn::If [CreateTables, ...]: with ExistingTables=true the
    # names (and the ARNs in the policies) are the namespace's, the same as when the stack creates them.
    text = json.dumps({k: v for k, v in HUB["Resources"].items() if k not in tables})
    for logical_id in tables:
        assert f'{{"Fn::GetAtt": ["{logical_id}"' not in text, logical_id
        assert len(re.findall(rf'\{{"Ref": "{logical_id}"\}}', text)) == len(
            re.findall(rf'"Fn::If": \["CreateTables", \{{"Ref": "{logical_id}"\}}', text)
        ), logical_id


def test_operator_policies_are_for_people_and_name_the_namespace():
    for logical_id in ("ReaderPolicy", "OperatorPolicy"):
        resource = OPERATOR["Resources"][logical_id]
        assert checker._for_people(resource), logical_id
        text = json.dumps(resource)
        assert "table/isched-${Namespace}-" in text and "table/isched-*" not in text, logical_id
    tagging = [s for s in statements(OPERATOR["Resources"]["OperatorPolicy"]) if s["Sid"].startswith("Tag")]
    assert {s["Sid"] for s in tagging} == {
        "TagEc2",
        "TagAutoScaling",
        "TagRds",
        "TagEcs",
        "TagEks",
        "TagRedshift",
        "TagSageMaker",
    }
    # The operator's run repeats the worker's start, stop and scale rules for every service, no more.
    worker_sids = {
        s["Sid"]
        for s in statements(HUB["Resources"]["WorkerRole"])
        if s.get("Sid", "").endswith(
            tuple(f"Scheduled{name}" for name in ("Ec2", "AutoScaling", "Rds", "Ecs", "Eks", "Redshift", "SageMaker"))
        )
        and not s["Sid"].startswith("Tag")
    }
    operator_sids = {s["Sid"] for s in statements(OPERATOR["Resources"]["OperatorPolicy"])}
    assert worker_sids <= operator_sids, sorted(worker_sids - operator_sids)
    for stmt in tagging:
        assert stmt["Condition"]["ForAllValues:StringLike"] == {"aws:TagKeys": ["TagKey", "isched:*"]}


def _write(tmp_path: Path, resources: dict[str, Any]) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(json.dumps({"Resources": resources}), encoding="utf-8")
    return path


def _role(*stmts: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": list(stmts)}}]},
    }


ROLES = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/isched/*"
TO_LAMBDA = {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
BOUNDED = {"StringEquals": {"iam:PermissionsBoundary": {"Ref": "Boundary"}}}


@pytest.mark.parametrize(
    ("stmt", "expected"),
    [
        ({"Action": "iam:PassRole", "Resource": "*", "Condition": TO_LAMBDA}, "iam:PassRole on every role"),
        (
            {"Action": "iam:PassRole", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iam::1:role/*"}},
            "iam:PassRole on every role",
        ),
        ({"Action": "iam:PassRole", "Resource": {"Fn::Sub": ROLES}}, "without an iam:PassedToService condition"),
        ({"Action": "iam:CreateRole", "Resource": {"Fn::Sub": ROLES}}, "iam:PermissionsBoundary condition"),
        ({"Action": ["iam:PutRolePolicy"], "Resource": "*", "Condition": BOUNDED}, "on every role"),
        ({"Action": "iam:AttachRolePolicy", "Resource": {"Fn::Sub": ROLES}}, "iam:PermissionsBoundary condition"),
        ({"Action": "iam:DeleteRolePermissionsBoundary", "Resource": {"Fn::Sub": ROLES}}, "undo the permissions"),
        ({"Action": "iam:CreatePolicyVersion", "Resource": {"Fn::Sub": ROLES}}, "undo the permissions"),
    ],
)
def test_the_checker_refuses_unscoped_pass_role_and_unbounded_role_writes(tmp_path, capsys, stmt, expected):
    path = _write(tmp_path, {"R": _role({"Effect": "Allow", **stmt})})
    assert checker.main([str(path)]) == 1
    assert expected in capsys.readouterr().err


def test_the_checker_accepts_scoped_pass_role_and_bounded_role_writes(tmp_path, capsys):
    path = _write(
        tmp_path,
        {
            "R": _role(
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": {"Fn::Sub": ROLES}, "Condition": TO_LAMBDA},
                {
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": {"Fn::GetAtt": ["Other", "Arn"]},
                    "Condition": TO_LAMBDA,
                },
                {
                    "Effect": "Allow",
                    "Action": ["iam:CreateRole", "iam:PutRolePolicy"],
                    "Resource": {"Fn::Sub": ROLES},
                    "Condition": BOUNDED,
                },
            )
        },
    )
    assert checker.main([str(path)]) == 0, capsys.readouterr().err


def _tagging(keys: list[str]) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
        "Resource": "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*",
        "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": keys}, "Null": {"aws:TagKeys": "false"}},
    }


def test_only_a_policy_for_people_may_write_the_schedule_tag(tmp_path, capsys):
    people = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Metadata": {"isched": {"audience": "operators"}},
        "Properties": {"PolicyDocument": {"Statement": [_tagging(["TagKey", "isched:*"])]}},
    }
    assert checker.main([str(_write(tmp_path, {"P": people}))]) == 0, capsys.readouterr().err
    # The same statement in a role's policy, or in a policy not marked for people, is refused.
    unmarked = {**people, "Metadata": {}}
    for resources in ({"R": _role(_tagging(["TagKey", "isched:*"]))}, {"P": unmarked}):
        assert checker.main([str(_write(tmp_path, resources))]) == 1
        assert "restricting aws:TagKeys to 'isched:*'" in capsys.readouterr().err
    # Even for people, no other tag than the schedule tag and isched's own.
    anything = {**people, "Properties": {"PolicyDocument": {"Statement": [_tagging(["TagKey", "*"])]}}}
    assert checker.main([str(_write(tmp_path, {"P": anything}))]) == 1
    assert "(and the schedule tag, ${TagKey})" in capsys.readouterr().err


def test_no_template_writes_a_literal_partition():
    for path in (ROOT / "template.yaml", *sorted((ROOT / "infra").glob("*.yaml"))):
        text = "\n".join(
            line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")
        )
        assert not re.search(r"\barn:aws(-[a-z]+)*:", text), path.name
