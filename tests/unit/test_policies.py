"""The least-privilege checker (scripts/check_policies.py): each rule refuses a small bad template, the shipped
templates pass, and breaking one of the shipped templates' rules makes the checker refuse it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = (ROOT / "template.yaml", *sorted((ROOT / "infra").glob("*.yaml")))


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_policies", ROOT / "scripts" / "check_policies.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


checker = _load_checker()

INSTANCES = "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*"
GROUPS = "arn:${AWS::Partition}:autoscaling:*:${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/*"
DATABASES = "arn:${AWS::Partition}:rds:*:${AWS::AccountId}:db:*"
REDSHIFT_CLUSTERS = "arn:${AWS::Partition}:redshift:*:${AWS::AccountId}:cluster:*"
NOTEBOOKS = "arn:${AWS::Partition}:sagemaker:*:${AWS::AccountId}:notebook-instance/*"
TAGGED = {"StringLike": {"aws:ResourceTag/Schedule": "*"}}
OWN_TAGS = {"ForAllValues:StringLike": {"aws:TagKeys": "isched:*"}, "Null": {"aws:TagKeys": "false"}}
INSTANCE_TYPE = {"StringEquals": {"ec2:Attribute": "InstanceType"}}
TAG_WRITES = (
    ("ec2:CreateTags", INSTANCES),
    ("ec2:DeleteTags", INSTANCES),
    ("autoscaling:CreateOrUpdateTags", GROUPS),
    ("autoscaling:DeleteTags", GROUPS),
    ("rds:AddTagsToResource", DATABASES),
    ("rds:RemoveTagsFromResource", DATABASES),
    ("redshift:CreateTags", REDSHIFT_CLUSTERS),
    ("redshift:DeleteTags", REDSHIFT_CLUSTERS),
    ("sagemaker:AddTags", NOTEBOOKS),
    ("sagemaker:DeleteTags", NOTEBOOKS),
)
# Start/stop actions of every scheduled service: each must be conditioned on the schedule tag.
START_STOP = (
    ("ec2:StopInstances", INSTANCES),
    ("autoscaling:UpdateAutoScalingGroup", GROUPS),
    ("rds:StopDBCluster", DATABASES),
    ("redshift:PauseCluster", REDSHIFT_CLUSTERS),
    ("redshift:ResumeCluster", REDSHIFT_CLUSTERS),
    ("sagemaker:StopNotebookInstance", NOTEBOOKS),
    ("sagemaker:StartNotebookInstance", NOTEBOOKS),
)


def stmt(sid: str, action: str | list[str], resource: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
    if condition is not None:
        out["Condition"] = condition
    return out


def table(**overrides: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "TableName": "t",
            "BillingMode": "PAY_PER_REQUEST",
            "DeletionProtectionEnabled": True,
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        },
    }
    for key, value in overrides.items():
        if value is None:
            resource.pop(key, None)
            resource["Properties"].pop(key, None)
        elif key in ("DeletionPolicy", "UpdateReplacePolicy", "Type"):
            resource[key] = value
        else:
            resource["Properties"][key] = value
    return resource


def good_statements() -> list[dict[str, Any]]:
    """What the roles need, written the way the rules want it."""
    return [
        stmt("StartStop", ["ec2:StartInstances", "ec2:StopInstances"], INSTANCES, TAGGED),
        stmt("Resize", "ec2:ModifyInstanceAttribute", INSTANCES, {**TAGGED, **INSTANCE_TYPE}),
        stmt("TagEc2", "ec2:CreateTags", INSTANCES, {**TAGGED, **OWN_TAGS}),
        stmt("Scale", "autoscaling:UpdateAutoScalingGroup", GROUPS, TAGGED),
        stmt("TagAsg", "autoscaling:CreateOrUpdateTags", GROUPS, {**TAGGED, **OWN_TAGS}),
        stmt("TagRds", "rds:AddTagsToResource", DATABASES, {**TAGGED, **OWN_TAGS}),
        stmt("PauseResume", ["redshift:PauseCluster", "redshift:ResumeCluster"], REDSHIFT_CLUSTERS, TAGGED),
        stmt("TagRedshift", "redshift:CreateTags", REDSHIFT_CLUSTERS, {**TAGGED, **OWN_TAGS}),
        stmt("Notebooks", ["sagemaker:StartNotebookInstance", "sagemaker:StopNotebookInstance"], NOTEBOOKS, TAGGED),
        stmt("TagSageMaker", "sagemaker:AddTags", NOTEBOOKS, {**TAGGED, **OWN_TAGS}),
        stmt(
            "IschedSnapshots",
            ["rds:StopDBInstance", "rds:CreateDBSnapshot"],
            "arn:${AWS::Partition}:rds:*:${AWS::AccountId}:snapshot:isched-*",
        ),
    ]


def template(statements: list[dict[str, Any]] | None = None, **resources: Any) -> dict[str, Any]:
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ]
            },
            "Policies": [
                {
                    "PolicyName": "scheduled",
                    "PolicyDocument": {"Statement": good_statements() if statements is None else statements},
                }
            ],
        },
    }
    return {"Resources": {"Role": role, "Table": table(), **resources}}


def problems(doc: dict[str, Any]) -> list[str]:
    found, _ = checker.check_template(doc, "t.yaml")
    return [str(f) for f in found]


def with_statement(replacement: dict[str, Any]) -> dict[str, Any]:
    """The good template with the statement of the same Sid replaced."""
    statements = [replacement if s["Sid"] == replacement["Sid"] else s for s in good_statements()]
    return template(statements)


def test_the_good_template_passes():
    assert problems(template()) == []


@pytest.mark.parametrize(("action", "resource"), START_STOP)
def test_a_start_or_stop_action_without_the_schedule_tag_condition_is_refused(action, resource):
    found = problems(template([*good_statements(), stmt("Loose", action, resource)]))
    assert len(found) == 1, found
    assert f"{action} allowed without an aws:ResourceTag" in found[0]


# --- ModifyInstanceAttribute: the instance type only ------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (TAGGED, "ec2:ModifyInstanceAttribute allowed without an ec2:Attribute condition admitting only InstanceType"),
        (
            {**TAGGED, "StringEquals": {"ec2:Attribute": ["InstanceType", "UserData"]}},
            "without an ec2:Attribute condition admitting only InstanceType",
        ),
        (
            {**TAGGED, "StringNotEquals": {"ec2:Attribute": "UserData"}},
            "without an ec2:Attribute condition admitting only InstanceType",
        ),
        (
            {**TAGGED, "StringLike": {"aws:ResourceTag/Schedule": "*", "ec2:Attribute": "*"}},
            "without an ec2:Attribute condition admitting only InstanceType",
        ),
        (
            {**TAGGED, "ForAnyValue:StringEquals": {"ec2:Attribute": "InstanceType"}},
            "without an ec2:Attribute condition admitting only InstanceType",
        ),
        (
            {**TAGGED, "StringEqualsIgnoreCaseIfExists": {"ec2:Attribute": "InstanceType"}},
            "no Null check that ec2:Attribute/InstanceType is present",
        ),
        (
            {
                **TAGGED,
                "StringEqualsIfExists": {"ec2:Attribute": "InstanceType"},
                "Null": {"ec2:Attribute/InstanceType": "true"},
            },
            "no Null check that ec2:Attribute/InstanceType is present",
        ),
    ],
)
def test_modify_instance_attribute_without_the_instance_type_condition_is_refused(condition, expected):
    found = problems(with_statement(stmt("Resize", "ec2:ModifyInstanceAttribute", INSTANCES, condition)))
    assert len(found) == 1, found
    assert found[0].startswith("t.yaml: Role policy 'scheduled' statement 'Resize': ")
    assert expected in found[0]


@pytest.mark.parametrize(
    "condition",
    [
        {**TAGGED, "StringEqualsIgnoreCase": {"ec2:Attribute": "instanceType"}},
        {
            **TAGGED,
            "StringEqualsIgnoreCaseIfExists": {"ec2:Attribute": "InstanceType"},
            "Null": {"ec2:Attribute/InstanceType": "false"},
        },
    ],
)
def test_modify_instance_attribute_with_the_instance_type_condition_passes(condition):
    assert problems(with_statement(stmt("Resize", "ec2:ModifyInstanceAttribute", INSTANCES, condition))) == []


def test_modify_instance_attribute_must_have_a_statement_of_its_own():
    resize = stmt(
        "Resize", ["ec2:StartInstances", "ec2:ModifyInstanceAttribute"], INSTANCES, {**TAGGED, **INSTANCE_TYPE}
    )
    found = problems(with_statement(resize))
    assert found == [
        "t.yaml: Role policy 'scheduled' statement 'Resize': ec2:ModifyInstanceAttribute shares its statement with "
        "ec2:StartInstances: give it a statement of its own (its ec2:Attribute condition would deny them, or an "
        "...IfExists one let them through)"
    ]


def test_a_deny_of_modify_instance_attribute_needs_no_condition():
    deny = {"Sid": "Resize", "Effect": "Deny", "Action": "ec2:ModifyInstanceAttribute", "Resource": "*"}
    assert problems(with_statement(deny)) == []


# --- tag writes: isched's own keys only ---------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "resource"), TAG_WRITES)
def test_a_tag_write_without_a_tag_keys_condition_is_refused(action, resource):
    found = problems(template([stmt("Tags", action, resource, TAGGED)]))
    assert found == [
        f"t.yaml: Role policy 'scheduled' statement 'Tags': {action} allowed without a ForAllValues:StringLike "
        "condition restricting aws:TagKeys to 'isched:*'"
    ]


@pytest.mark.parametrize(("action", "resource"), TAG_WRITES)
def test_a_tag_write_restricted_to_isched_keys_passes(action, resource):
    assert problems(template([stmt("Tags", action, resource, {**TAGGED, **OWN_TAGS})])) == []


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # ForAllValues alone is true for a request without tag keys (DeleteTags without Tags removes every tag).
        ({"ForAllValues:StringLike": {"aws:TagKeys": "isched:*"}}, "but no Null check (or ForAnyValue)"),
        (
            {"ForAllValues:StringLike": {"aws:TagKeys": "isched:*"}, "Null": {"aws:TagKeys": "true"}},
            "but no Null check (or ForAnyValue)",
        ),
        (
            {"ForAllValues:StringLike": {"aws:TagKeys": "isched:*"}, "ForAnyValue:StringLike": {"aws:TagKeys": "*"}},
            "but no Null check (or ForAnyValue)",
        ),
        ({"ForAllValues:StringLike": {"aws:TagKeys": "*"}, "Null": {"aws:TagKeys": "false"}}, "to 'isched:*'"),
        (
            {"ForAllValues:StringLike": {"aws:TagKeys": ["isched:*", "Schedule"]}, "Null": {"aws:TagKeys": "false"}},
            "to 'isched:*'",
        ),
        ({"StringLike": {"aws:TagKeys": "isched:*"}, "Null": {"aws:TagKeys": "false"}}, "to 'isched:*'"),
        (
            {"ForAnyValue:StringLike": {"aws:TagKeys": "isched:*"}, "Null": {"aws:TagKeys": "false"}},
            "to 'isched:*'",
        ),
        (
            {"ForAllValues:StringNotLike": {"aws:TagKeys": "isched:*"}, "Null": {"aws:TagKeys": "false"}},
            "to 'isched:*'",
        ),
    ],
)
def test_a_tag_keys_condition_that_lets_other_keys_through_is_refused(condition, expected):
    found = problems(with_statement(stmt("TagEc2", "ec2:DeleteTags", INSTANCES, {**TAGGED, **condition})))
    assert len(found) == 1, found
    assert found[0].startswith("t.yaml: Role policy 'scheduled' statement 'TagEc2': ec2:DeleteTags allowed ")
    assert expected in found[0]


def test_for_any_value_also_requires_the_request_to_name_its_keys():
    condition = {
        **TAGGED,
        "ForAllValues:StringEquals": {"aws:TagKeys": ["isched:last-action", "isched:last-error"]},
        "ForAnyValue:StringEquals": {"aws:TagKeys": ["isched:last-action", "isched:last-error"]},
    }
    assert problems(with_statement(stmt("TagEc2", "ec2:CreateTags", INSTANCES, condition))) == []


def test_tag_writes_must_have_a_statement_of_their_own():
    both = stmt(
        "TagAsg",
        ["autoscaling:UpdateAutoScalingGroup", "autoscaling:CreateOrUpdateTags"],
        GROUPS,
        {**TAGGED, **OWN_TAGS},
    )
    found = problems(with_statement(both))
    assert found == [
        "t.yaml: Role policy 'scheduled' statement 'TagAsg': autoscaling:CreateOrUpdateTags shares a statement with "
        "autoscaling:UpdateAutoScalingGroup: give tag writes a statement of their own (their aws:TagKeys "
        "condition would deny the others)"
    ]


def test_statements_in_a_conditional_policy_and_in_a_policy_resource_are_checked():
    doc = template()
    unguarded = {"Statement": [stmt("Conditional", "rds:AddTagsToResource", DATABASES, TAGGED)]}
    doc["Resources"]["Role"]["Properties"]["Policies"].append(
        {"Fn::If": ["Cond", {"PolicyName": "optional", "PolicyDocument": unguarded}, {"Ref": "AWS::NoValue"}]}
    )
    doc["Resources"]["Extra"] = {
        "Type": "AWS::IAM::Policy",
        "Condition": "Cond",
        "Properties": {
            "PolicyName": "extra",
            "Roles": [{"Ref": "Role"}],
            "PolicyDocument": json.dumps(
                {"Statement": [stmt("Resize", "ec2:ModifyInstanceAttribute", INSTANCES, TAGGED)]}
            ),
        },
    }
    found = problems(doc)
    assert any(
        f.startswith("t.yaml: Role policy 'optional' statement 'Conditional': rds:AddTagsToResource") for f in found
    )
    assert any(
        f.startswith("t.yaml: Extra policy 'extra' statement 'Resize': ec2:ModifyInstanceAttribute") for f in found
    )
    assert len(found) == 2, found


# --- snapshots isched names itself ------------------------------------------------------------------------------


def test_stop_on_an_isched_snapshot_needs_no_tag_condition_but_on_any_snapshot_it_does():
    any_snapshot = stmt(
        "IschedSnapshots",
        ["rds:StopDBInstance", "rds:CreateDBSnapshot"],
        "arn:${AWS::Partition}:rds:*:${AWS::AccountId}:snapshot:*",
    )
    assert problems(with_statement(any_snapshot)) == [
        "t.yaml: Role policy 'scheduled' statement 'IschedSnapshots': rds:StopDBInstance allowed without an "
        "aws:ResourceTag/... condition"
    ]
    with_a_database = stmt(
        "IschedSnapshots",
        "rds:StopDBInstance",
        ["arn:${AWS::Partition}:rds:*:${AWS::AccountId}:snapshot:isched-*", DATABASES],
    )
    assert len(problems(with_statement(with_a_database))) == 1


# --- tables ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"DeletionProtectionEnabled": None}, "DynamoDB table without DeletionProtectionEnabled: true"),
        ({"DeletionProtectionEnabled": False}, "DynamoDB table without DeletionProtectionEnabled: true"),
        ({"DeletionProtectionEnabled": "false"}, "DynamoDB table without DeletionProtectionEnabled: true"),
        (
            {"DeletionProtectionEnabled": {"Fn::If": ["Cond", True, False]}},
            "DynamoDB table without DeletionProtectionEnabled: true",
        ),
        ({"DeletionPolicy": None}, "DynamoDB table without DeletionPolicy: Retain"),
        ({"DeletionPolicy": "Delete"}, "DynamoDB table without DeletionPolicy: Retain"),
        ({"UpdateReplacePolicy": "Delete"}, "DynamoDB table without UpdateReplacePolicy: Retain"),
    ],
)
def test_a_table_that_can_be_deleted_is_refused(overrides, expected):
    doc = template()
    doc["Resources"]["Table"] = table(**overrides)
    assert problems(doc) == [f"t.yaml: Table: {expected}"]


def test_a_table_with_deletion_protection_given_as_text_passes():
    doc = template()
    doc["Resources"]["Table"] = table(DeletionProtectionEnabled="true")
    assert problems(doc) == []


def test_a_global_table_needs_deletion_protection_on_every_replica():
    doc = template()
    doc["Resources"]["Table"] = table(
        Type="AWS::DynamoDB::GlobalTable",
        DeletionProtectionEnabled=None,
        Replicas=[{"Region": "eu-west-1", "DeletionProtectionEnabled": True}, {"Region": "eu-west-2"}],
    )
    assert problems(doc) == ["t.yaml: Table: a replica without DeletionProtectionEnabled: true"]
    doc["Resources"]["Table"]["Properties"]["Replicas"][1]["DeletionProtectionEnabled"] = True
    assert problems(doc) == []


# --- partitions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_a_literal_partition_in_a_resource_is_refused(partition):
    statements = good_statements()
    statements[0]["Resource"] = f"arn:{partition}:ec2:*:123456789012:instance/*"
    found = problems(template(statements))
    assert found == [
        "t.yaml: Resources.Role.Properties.Policies[0].PolicyDocument.Statement[0].Resource: literal partition in "
        f"'arn:{partition}:ec2:*:123456789012:instance/*': use arn:${{AWS::Partition}}:"
    ]


def test_a_literal_partition_in_a_sub_or_an_output_is_refused_but_not_in_a_description():
    doc = template()
    doc["Resources"]["Topic"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": {"Fn::Sub": "arn:aws:sns:${AWS::Region}:${AWS::AccountId}:x"}},
    }
    doc["Outputs"] = {
        "Role": {"Description": "like arn:aws:iam::123456789012:role/x", "Value": "arn:aws:iam::1:role/x"},
        "Fine": {"Value": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x"}},
    }
    assert sorted(f.split(": literal")[0] for f in problems(doc)) == [
        "t.yaml: Outputs.Role.Value",
        "t.yaml: Resources.Topic.Properties.TopicName.Fn::Sub",
    ]


# --- role passing, invocation and schedule writes name their resources ------------------------------------------

PASSED = {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
ROLE = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/isched/isched-default-scheduler-${AWS::Region}"


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (stmt("Pass", "iam:PassRole", ROLE, PASSED), None),
        (stmt("Pass", "iam:PassRole", ROLE), "iam:PassRole without an iam:PassedToService condition"),
        (stmt("Pass", "iam:PassRole", "*", PASSED), "iam:PassRole on every role"),
        (stmt("Invoke", "lambda:InvokeFunction", "*"), "lambda:InvokeFunction allowed on every resource"),
        (stmt("Wake", "scheduler:CreateSchedule", "*"), "scheduler:CreateSchedule allowed on every resource"),
        (stmt("Wake", "scheduler:UpdateSchedule", "*"), "scheduler:UpdateSchedule allowed on every resource"),
        (stmt("Wake", "scheduler:CreateSchedule", "arn:${AWS::Partition}:scheduler:*:*:schedule/g/wake-*"), None),
    ],
)
def test_role_passing_invocation_and_schedule_writes_must_name_their_resources(statement, expected):
    found = problems(template([*good_statements(), statement]))
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found


# --- the shipped templates ---------------------------------------------------------------------------------------


def test_the_shipped_templates_pass(capsys):
    assert checker.main([str(p) for p in TEMPLATES]) == 0
    out = capsys.readouterr().out
    assert "no wildcard or unguarded action" in out and "isched-only tag writes" in out


def _shipped() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in TEMPLATES}


# Each edit breaks one rule in the shipped text; every occurrence is replaced, and the edit must apply.
BREAKAGES = [
    ('"StringEqualsIgnoreCaseIfExists": {"ec2:Attribute": "InstanceType"},', "", "admitting only InstanceType"),
    (
        '"Null": {"ec2:Attribute/InstanceType": "false"}',
        '"Null": {"ec2:Attribute/UserData": "false"}',
        "no Null check that ec2:Attribute/InstanceType",
    ),
    ('"aws:TagKeys": "isched:*"', '"aws:TagKeys": "*"', "restricting aws:TagKeys to 'isched:*'"),
    ('"Null": {"aws:TagKeys": "false"}', '"Null": {"aws:TagKeys": "true"}', "but no Null check"),
    ("DeletionProtectionEnabled: true", "DeletionProtectionEnabled: false", "DeletionProtectionEnabled: true"),
    ("arn:${AWS::Partition}:rds:", "arn:aws:rds:", "literal partition"),
    (":snapshot:isched-*", ":snapshot:*", "rds:StopDBInstance allowed without an aws:ResourceTag"),
    (
        "StringEquals: {iam:PassedToService: scheduler.amazonaws.com}",
        "StringEquals: {aws:SourceAccount: !Ref AWS::AccountId}",
        "iam:PassRole without an iam:PassedToService condition",
    ),
    (
        'Resource: !Sub "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/isched-${Namespace}'
        '/wake-*"',
        'Resource: "*"',
        "scheduler:CreateSchedule allowed on every resource",
    ),
    # infra/deploy-role.yaml: PassRole only to Lambda, roles only with the boundary.
    ("StringEquals: {iam:PassedToService: lambda.amazonaws.com}", "{}", "without an iam:PassedToService condition"),
    ("StringEquals: {iam:PermissionsBoundary: !Ref BoundaryPolicy}", "{}", "iam:PermissionsBoundary condition"),
    # infra/operator-policy.yaml: people write the schedule tag and isched's own, nothing else.
    ('"aws:TagKeys": ["${TagKey}", "isched:*"]', '"aws:TagKeys": ["${TagKey}", "*"]', "and the schedule tag"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BREAKAGES)
def test_breaking_a_rule_in_the_shipped_templates_is_refused(tmp_path, capsys, old, new, expected):
    broken = 0
    for name, text in _shipped().items():
        if old not in text:
            continue
        path = tmp_path / name
        path.write_text(text.replace(old, new), encoding="utf-8")
        assert checker.main([str(path)]) == 1, name
        assert expected in capsys.readouterr().err, name
        broken += 1
    assert broken, f"{old!r} is in no shipped template"


def test_both_roles_grant_the_same_scheduled_resource_statements():
    def scheduled(name: str, role: str, policy: str) -> list[dict[str, Any]]:
        doc = checker.load_template(ROOT / name)
        resource = doc["Resources"][role]
        value = (
            resource["Properties"]["PolicyDocument"]
            if policy == ""
            else next(p["PolicyDocument"] for p in resource["Properties"]["Policies"] if p.get("PolicyName") == policy)
        )
        return [s for d in checker._documents(value) for s in checker._statements(d)]

    hub = scheduled("template.yaml", "WorkerRole", "scheduled-resources")
    spoke = scheduled("infra/spoke.yaml", "SpokeRole", "scheduled-resources")
    assert hub == spoke and len(hub) == 15  # ec2 3, asg 2, rds 2, ecs 2, eks 2, redshift 2, sagemaker 2
    assert scheduled("template.yaml", "WorkerSnapshotPolicy", "") == scheduled(
        "infra/spoke.yaml", "SpokeSnapshotPolicy", ""
    )
    sids = {s["Sid"]: s for s in hub}
    assert sids["ResizeScheduledEc2"]["Action"] == "ec2:ModifyInstanceAttribute"
    tagging = [s["Action"] for s in hub if "aws:TagKeys" in json.dumps(s.get("Condition"))]
    # Writes of isched's own tags, and the deletes that remove an expired isched:override.
    assert sorted(tuple(a) for a in tagging) == [
        ("autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"),
        ("ec2:CreateTags", "ec2:DeleteTags"),
        ("ecs:TagResource", "ecs:UntagResource"),
        ("eks:TagResource", "eks:UntagResource"),
        ("rds:AddTagsToResource", "rds:RemoveTagsFromResource"),
        ("redshift:CreateTags", "redshift:DeleteTags"),
        ("sagemaker:AddTags", "sagemaker:DeleteTags"),
    ]
    assert {json.dumps(s["Action"]) for s in hub if s["Sid"].startswith(("PauseResume", "StartStopScheduledSage"))} == {
        '["redshift:PauseCluster", "redshift:ResumeCluster"]',
        '["sagemaker:StartNotebookInstance", "sagemaker:StopNotebookInstance"]',
    }
    # Scaling ECS services and EKS node groups only where the schedule tag is.
    for sid in ("ScaleScheduledEcs", "ScaleScheduledEks"):
        assert "aws:ResourceTag/" in json.dumps(sids[sid]["Condition"]), sid


def test_the_snapshot_permissions_exist_only_with_snapshots_on():
    for name, logical_id in (("template.yaml", "WorkerSnapshotPolicy"), ("infra/spoke.yaml", "SpokeSnapshotPolicy")):
        doc = checker.load_template(ROOT / name)
        assert doc["Resources"][logical_id]["Condition"] == "SnapshotBeforeStop"
        assert doc["Conditions"]["SnapshotBeforeStop"] == {"Fn::Equals": [{"Ref": "RdsSnapshotBeforeStop"}, "true"]}
        assert doc["Parameters"]["RdsSnapshotBeforeStop"]["Default"] == "false"
        others = {k: v for k, v in doc["Resources"].items() if k != logical_id}
        assert "rds:CreateDBSnapshot" not in json.dumps(others)
