#!/usr/bin/env python3
"""Least-privilege check of the IAM policies in CloudFormation/SAM templates (run by ``make templates``).

Fails (exit 1, naming each offending statement or resource) on:

* any wildcard action in an Allow statement (``*``, ``ec2:*``, ``ec2:Stop*``, ``rds:?tart*``) or a ``NotAction``;
* any start/stop/modify/update/reboot/hibernate/pause/resume action of ec2, autoscaling, rds, ecs, eks, redshift
  or sagemaker allowed without an ``aws:ResourceTag/...`` condition (so the scheduler can only touch resources that
  carry the schedule tag); the one exception is a statement whose every resource is an RDS snapshot named
  ``isched-*``: the snapshot that StopDBInstance creates does not exist yet, so it carries no tag, and its name is
  what limits it;
* ``ec2:ModifyInstanceAttribute`` allowed other than alone in its statement with an ``ec2:Attribute`` condition
  that admits only ``InstanceType`` (and, when that condition is ``...IfExists``, a ``Null`` check that
  ``ec2:Attribute/InstanceType`` is present): the scheduler changes instance types, never user data, security
  groups or the shutdown behaviour;
* a tag write (ec2 CreateTags/DeleteTags, rds AddTagsToResource/RemoveTagsFromResource, autoscaling
  CreateOrUpdateTags/DeleteTags, ecs and eks TagResource/UntagResource) allowed other than alone in its statement
  with ``ForAllValues:StringLike`` (or ``StringEquals``) on ``aws:TagKeys`` admitting only ``isched:...`` keys,
  paired with ``Null`` ``aws:TagKeys`` = false or a ``ForAnyValue`` on the same keys (``ForAllValues`` alone is
  true for a request with no tag keys, such as a DeleteTags that removes every tag): the roles may write isched's
  own tags, never the schedule tag. Policies for people (a resource with ``Metadata: {isched: {audience:
  operators}}``, infra/operator-policy.yaml) may also admit the schedule tag (the ``TagKey`` parameter): ``isched
  tag`` and ``untag`` write it;
* ``iam:PassRole`` on ``*`` or on every role (``role/*``), or without an ``iam:PassedToService`` condition: a
  role may be passed only to the service it is for, and only roles of a known name or path;
* an IAM action that creates a role or changes its permissions (CreateRole, PutRolePolicy, AttachRolePolicy,
  PutRolePermissionsBoundary) on ``*`` or without a ``StringEquals`` ``iam:PermissionsBoundary`` condition, and
  any grant of an action that removes or rewrites a boundary or a managed policy (DeleteRolePermissionsBoundary,
  CreatePolicyVersion, SetDefaultPolicyVersion): whoever can write a role's policy could otherwise grant anything;
* a DynamoDB table without ``DeletionProtectionEnabled: true`` or without ``DeletionPolicy`` and
  ``UpdateReplacePolicy`` ``Retain`` (the tables hold the configuration, the state and the record of savings);
* a literal partition in an ARN anywhere in a template (``arn:aws:``, ``arn:aws-cn:`` ...): templates use
  ``arn:${AWS::Partition}:`` so that they deploy in every partition;
* an object read or write (``s3:GetObject*``, ``s3:PutObject*``, ``s3:DeleteObject*``), ``sns:Publish``,
  ``lambda:InvokeFunction`` or an EventBridge Scheduler schedule write allowed on ``Resource: "*"``: each names the
  bucket (or key prefix), topic, function or schedules it needs (``iam:PassRole``: see above);
* an S3 bucket without default encryption, without all four public access blocks, or without a bucket policy in
  the template that denies every request not made over TLS (``aws:SecureTransport`` false) for the bucket and its
  objects (the reports bucket holds finance records);
* a resource policy (bucket, topic or queue policy) that allows anyone (``Principal: "*"``) without a condition.

Templates are read with CloudFormation's short-form tags (``!Ref``, ``!Sub``, ``!GetAtt``, ``!If`` ...). Policy
documents may be YAML objects or JSON text, also inside ``Fn::Sub`` (how a condition key can name a parameter);
both branches of an ``Fn::If`` are checked.

Usage: check_policies.py [TEMPLATE ...]   (default: template.yaml and infra/*.yaml, as DEFAULT_TEMPLATES)
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEMPLATES = ("template.yaml", "infra/spoke.yaml", "infra/deploy-role.yaml", "infra/operator-policy.yaml")
GUARDED_SERVICES = ("ec2", "autoscaling", "rds", "ecs", "eks", "redshift", "sagemaker")
GUARDED_VERBS = ("start", "stop", "modify", "update", "reboot", "hibernate", "pause", "resume")
TAG_CONDITION_PREFIX = "aws:resourcetag/"
# Every action that writes or removes tags on the services the roles act on. Each supports aws:TagKeys (Service
# Authorization Reference: Amazon EC2, Amazon EC2 Auto Scaling, Amazon RDS, Amazon ECS, Amazon EKS, Amazon
# Redshift, Amazon SageMaker).
TAG_WRITE_ACTIONS = frozenset(
    {
        "ec2:createtags",
        "ec2:deletetags",
        "rds:addtagstoresource",
        "rds:removetagsfromresource",
        "autoscaling:createorupdatetags",
        "autoscaling:deletetags",
        "ecs:tagresource",
        "ecs:untagresource",
        "eks:tagresource",
        "eks:untagresource",
        "redshift:createtags",
        "redshift:deletetags",
        "sagemaker:addtags",
        "sagemaker:deletetags",
    }
)
OWN_TAG_PREFIX = "isched:"
# What a tag write of a policy for people may name besides isched's own keys: the TagKey parameter (after _sub_text).
SCHEDULE_TAG_KEY = "TagKey"
PASS_ROLE = "iam:passrole"
# Creating a role, or writing its permissions: only with a permissions boundary (iam:PermissionsBoundary).
ROLE_WRITES = frozenset(
    {"iam:createrole", "iam:putrolepolicy", "iam:attachrolepolicy", "iam:putrolepermissionsboundary"}
)
# Removing a boundary or rewriting a managed policy (a boundary is one) undoes every other rule.
NEVER_GRANTED = frozenset(
    {"iam:deleterolepermissionsboundary", "iam:createpolicyversion", "iam:setdefaultpolicyversion"}
)
# Data actions that must name their bucket, key prefix or topic (prefixes: s3:PutObjectTagging ... too).
SCOPED_ACTION_PREFIXES = (
    "s3:getobject",
    "s3:putobject",
    "s3:deleteobject",
    "sns:publish",
    "lambda:invokefunction",
    "scheduler:createschedule",
    "scheduler:updateschedule",
    "scheduler:deleteschedule",
)
RESOURCE_POLICY_TYPES = ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy")
PUBLIC_ACCESS_BLOCKS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
MODIFY_INSTANCE_ATTRIBUTE = "ec2:modifyinstanceattribute"
INSTANCE_TYPE = "instancetype"
# A literal partition in an ARN: arn:aws:, arn:aws-cn:, arn:aws-us-gov: ... (arn:${AWS::Partition}: is fine).
_LITERAL_PARTITION = re.compile(r"\barn:aws(?:-[a-z]+)*:")
# After _sub_text, ${AWS::Partition} reads AWS_Partition: a snapshot isched names itself (isched-<id>-<time>).
_ISCHED_SNAPSHOT = re.compile(r"^arn:[^:]+:rds:[^:]*:[^:]*:(?:snapshot|cluster-snapshot):isched-", re.IGNORECASE)
# Free text that may quote an ARN as an example.
_PROSE_KEYS = frozenset({"Description", "AssertDescription", "ConstraintDescription", "AlarmDescription"})
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short-form tags into their long form (``!Ref X`` → ``{"Ref": X}``)."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CfnLoader.add_multi_constructor("!", _intrinsic)


@dataclass(frozen=True)
class Finding:
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


def load_template(path: Path) -> dict[str, Any]:
    # CfnLoader derives from SafeLoader: tags other than the intrinsic functions construct nothing.
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a CloudFormation template (a mapping)")
    return doc


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _sub_text(value: Any) -> str | None:
    """The text of an ``Fn::Sub`` with its variables replaced by their names (``${TagKey}`` → ``TagKey``)."""
    if isinstance(value, str):
        template = value
    elif isinstance(value, list) and value and isinstance(value[0], str):
        template = value[0]
    else:
        return None
    return _SUB_VARIABLE.sub(lambda m: m.group(1).replace("::", "_"), template)


def _branches(value: Any) -> Iterator[Any]:
    """``value`` itself, or each branch of an ``Fn::If`` (recursively), leaving out ``AWS::NoValue``."""
    if isinstance(value, dict) and "Fn::If" in value and isinstance(value["Fn::If"], list):
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


def _documents(value: Any) -> Iterator[dict[str, Any]]:
    """Every policy document a property value can stand for (both branches of Fn::If, JSON text, Fn::Sub)."""
    if isinstance(value, str):
        parsed = json.loads(value)
        if isinstance(parsed, dict):
            yield parsed
    elif isinstance(value, dict):
        if "Fn::Sub" in value:
            text = _sub_text(value["Fn::Sub"])
            if text is not None:
                yield from _documents(text)
        elif "Fn::If" in value and isinstance(value["Fn::If"], list) and len(value["Fn::If"]) == 3:
            for branch in value["Fn::If"][1:]:
                yield from _documents(branch)
        elif "Statement" in value:
            yield value


def _statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for stmt in _as_list(document.get("Statement", [])):
        for branch in _branches(stmt):
            if isinstance(branch, dict):
                yield branch


def _policy_properties(resource: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(label, policy document value) for each policy a resource carries."""
    rtype = resource.get("Type")
    props = resource.get("Properties") or {}
    if not isinstance(props, dict):
        return
    if rtype == "AWS::IAM::Role":
        if "AssumeRolePolicyDocument" in props:
            yield "trust policy", props["AssumeRolePolicyDocument"]
        for n, item in enumerate(_as_list(props.get("Policies") or [])):
            # A whole inline policy may be conditional: !If [Cond, {PolicyName, PolicyDocument}, !Ref AWS::NoValue].
            for policy in _branches(item):
                if isinstance(policy, dict) and "PolicyDocument" in policy:
                    yield f"policy '{policy.get('PolicyName', n)}'", policy["PolicyDocument"]
    elif rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
        yield f"policy '{props.get('PolicyName', props.get('ManagedPolicyName', ''))}'", props.get("PolicyDocument")
    elif rtype == "AWS::Serverless::Function":
        for n, policy in enumerate(_as_list(props.get("Policies") or [])):
            if isinstance(policy, dict) and "Statement" in policy:
                yield f"inline policy {n}", policy
    elif rtype in RESOURCE_POLICY_TYPES:
        yield "resource policy", props.get("PolicyDocument")


# --- conditions -----------------------------------------------------------------------------------------------


def _condition_entries(condition: Any) -> Iterator[tuple[str, str, list[Any]]]:
    """(operator, key, values) for each test of a Condition block; operator and key in lower case."""
    if not isinstance(condition, dict):
        return
    for operator, body in condition.items():
        if not isinstance(operator, str) or not isinstance(body, dict):
            continue
        for key, values in body.items():
            if isinstance(key, str):
                yield operator.lower(), key.lower(), _as_list(values)


def _has_tag_condition(condition: Any) -> bool:
    return any(key.startswith(TAG_CONDITION_PREFIX) for _, key, _ in _condition_entries(condition))


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")


def _requires_present(condition: Any, key: str) -> bool:
    """Whether the condition holds only when ``key`` is in the request (``"Null": {key: "false"}``)."""
    return any(
        op == "null" and k == key and len(values) == 1 and _is_false(values[0])
        for op, k, values in _condition_entries(condition)
    )


def _instance_type_only(condition: Any) -> str | None:
    """Why ``condition`` does not restrict ModifyInstanceAttribute to the instance type (None: it does)."""
    tests = [(op, values) for op, key, values in _condition_entries(condition) if key == "ec2:attribute"]
    positive = ("stringequals", "stringequalsignorecase", "stringlike")
    restricting = [
        (op, values)
        for op, values in tests
        if op.removesuffix("ifexists") in positive
        and values
        and all(isinstance(v, str) and v.lower() == INSTANCE_TYPE for v in values)
    ]
    if not restricting:
        return "without an ec2:Attribute condition admitting only InstanceType"
    if all(op.endswith("ifexists") for op, _ in restricting) and not _requires_present(
        condition, "ec2:attribute/instancetype"
    ):
        return (
            "with an ec2:Attribute ...IfExists condition but no Null check that ec2:Attribute/InstanceType is "
            "present (without it, a request naming no attribute passes)"
        )
    return None


def _own_tag_keys(values: list[Any], people: bool = False) -> bool:
    return bool(values) and all(
        isinstance(v, str) and (v.startswith(OWN_TAG_PREFIX) or (people and v == SCHEDULE_TAG_KEY)) for v in values
    )


def _own_tags_only(condition: Any, people: bool = False) -> str | None:
    """Why ``condition`` does not restrict a tag write to isched's own keys (None: it does); ``people``: a policy
    for people, which may also write the schedule tag."""
    entries = [(op, values) for op, key, values in _condition_entries(condition) if key == "aws:tagkeys"]
    every = [values for op, values in entries if op in ("forallvalues:stringlike", "forallvalues:stringequals")]
    if not any(_own_tag_keys(values, people) for values in every):
        also = f" (and the schedule tag, ${{{SCHEDULE_TAG_KEY}}})" if people else ""
        return f"without a ForAllValues:StringLike condition restricting aws:TagKeys to '{OWN_TAG_PREFIX}*'{also}"
    some = any(
        _own_tag_keys(values, people)
        for op, values in entries
        if op in ("foranyvalue:stringlike", "foranyvalue:stringequals")
    )
    if not (some or _requires_present(condition, "aws:tagkeys")):
        return (
            "with ForAllValues on aws:TagKeys but no Null check (or ForAnyValue) that the request names tag keys: "
            "ForAllValues is true for a request without any, such as a DeleteTags that removes every tag"
        )
    return None


# --- statements -----------------------------------------------------------------------------------------------


def _is_guarded(action: str) -> bool:
    service, _, name = action.partition(":")
    return service.lower() in GUARDED_SERVICES and name.lower().startswith(GUARDED_VERBS)


def _resource_texts(stmt: dict[str, Any]) -> list[str | None]:
    texts: list[str | None] = []
    for resource in _as_list(stmt.get("Resource", [])):
        if isinstance(resource, str):
            texts.append(_sub_text(resource))  # ${AWS::Partition} reads the same inside a JSON text Fn::Sub
        elif isinstance(resource, dict) and "Fn::Sub" in resource:
            texts.append(_sub_text(resource["Fn::Sub"]))
        else:
            texts.append(None)
    return texts


def _isched_snapshots_only(stmt: dict[str, Any]) -> bool:
    """Whether every resource of the statement is an RDS snapshot named ``isched-*`` (one isched creates)."""
    texts = _resource_texts(stmt)
    return bool(texts) and all(t is not None and _ISCHED_SNAPSHOT.match(t) for t in texts)


def _every_role(resource: str | None) -> bool:
    """Whether a PassRole resource (after _sub_text) names every role: ``*`` or ``arn:...:role/*``. None (a
    ``!GetAtt Role.Arn`` or ``!Ref``) names one resource."""
    return resource is not None and (resource == "*" or resource.endswith((":role/*", ":*")))


def _has_condition(condition: Any, key: str, operators: tuple[str, ...] = ("stringequals", "stringlike")) -> bool:
    return any(op in operators and k == key and values for op, k, values in _condition_entries(condition))


def check_iam_actions(stmt: dict[str, Any], actions: list[str], where: str) -> list[Finding]:
    """PassRole names its roles and the service; role writes carry a permissions boundary."""
    findings: list[Finding] = []
    lowered = {a.lower() for a in actions}
    condition = stmt.get("Condition")
    resources = _resource_texts(stmt) or ["*"]
    if PASS_ROLE in lowered:
        if any(_every_role(r) for r in resources):
            findings.append(Finding(where, "iam:PassRole on every role: name the roles (their name or path)"))
        if not _has_condition(condition, "iam:passedtoservice"):
            findings.append(Finding(where, "iam:PassRole without an iam:PassedToService condition"))
    writes = sorted(a for a in actions if a.lower() in ROLE_WRITES)
    if writes:
        if any(_every_role(r) for r in resources):
            findings.append(Finding(where, f"{', '.join(writes)} on every role: name the roles (their path)"))
        if not _has_condition(condition, "iam:permissionsboundary", ("stringequals",)):
            findings.append(
                Finding(where, f"{', '.join(writes)} without a StringEquals iam:PermissionsBoundary condition")
            )
    never = sorted(a for a in actions if a.lower() in NEVER_GRANTED)
    if never:
        findings.append(Finding(where, f"{', '.join(never)} allowed: it would undo the permissions boundary"))
    return findings


def check_statement(stmt: dict[str, Any], where: str, people: bool = False) -> list[Finding]:
    if stmt.get("Effect") != "Allow":
        return []  # a wildcard in a Deny only narrows what is allowed
    findings: list[Finding] = []
    if "NotAction" in stmt:
        findings.append(Finding(where, "NotAction in an Allow statement allows every other action"))
    actions = [a for a in _as_list(stmt.get("Action", [])) if isinstance(a, str)]
    condition = stmt.get("Condition")
    for action in actions:
        if "*" in action or "?" in action:
            findings.append(Finding(where, f"wildcard action '{action}'"))
    unguarded = [a for a in actions if _is_guarded(a)]
    if unguarded and not _has_tag_condition(condition) and not _isched_snapshots_only(stmt):
        findings.append(Finding(where, f"{', '.join(unguarded)} allowed without an aws:ResourceTag/... condition"))

    modify = [a for a in actions if a.lower() == MODIFY_INSTANCE_ATTRIBUTE]
    if modify:
        others = [a for a in actions if a.lower() != MODIFY_INSTANCE_ATTRIBUTE]
        if others:
            findings.append(
                Finding(
                    where,
                    f"{modify[0]} shares its statement with {', '.join(others)}: give it a statement of its own "
                    "(its ec2:Attribute condition would deny them, or an ...IfExists one let them through)",
                )
            )
        problem = _instance_type_only(condition)
        if problem:
            findings.append(Finding(where, f"{modify[0]} allowed {problem}"))

    scoped = [a for a in actions if a.lower().startswith(SCOPED_ACTION_PREFIXES)]
    if scoped and any(r == "*" for r in _as_list(stmt.get("Resource", []))):
        findings.append(
            Finding(where, f"{', '.join(scoped)} allowed on every resource ('*'): name the resources it needs")
        )

    tag_writes = [a for a in actions if a.lower() in TAG_WRITE_ACTIONS]
    if tag_writes:
        others = [a for a in actions if a.lower() not in TAG_WRITE_ACTIONS]
        if others:
            findings.append(
                Finding(
                    where,
                    f"{', '.join(tag_writes)} {'share' if len(tag_writes) > 1 else 'shares'} a statement with "
                    f"{', '.join(others)}: give tag writes a statement of their own (their aws:TagKeys condition "
                    "would deny the others)",
                )
            )
        problem = _own_tags_only(condition, people)
        if problem:
            findings.append(Finding(where, f"{', '.join(tag_writes)} allowed {problem}"))
    findings.extend(check_iam_actions(stmt, actions, where))
    return findings


def _is_anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and any(v in ("*", ["*"]) for v in principal.values())


def check_resource_statement(stmt: dict[str, Any], where: str) -> list[Finding]:
    """A resource policy's statement: no unconditional Allow for anyone."""
    if stmt.get("Effect") == "Allow" and _is_anyone(stmt.get("Principal")) and not stmt.get("Condition"):
        return [Finding(where, "allows anyone (Principal '*') without a condition")]
    return []


# --- buckets --------------------------------------------------------------------------------------------------


def _refers_to(value: Any, logical_id: str) -> bool:
    """Whether a property value is the bucket ``logical_id`` (``!Ref``) or its ARN (``!GetAtt X.Arn``, ``!Sub``)."""
    if value in ({"Ref": logical_id}, {"Fn::GetAtt": [logical_id, "Arn"]}):
        return True
    text = _sub_text(value["Fn::Sub"]) if isinstance(value, dict) and "Fn::Sub" in value else None
    return text is not None and (text.startswith((f"{logical_id}.Arn", f"arn:AWS_Partition:s3:::{logical_id}")))


def _tls_only(document: dict[str, Any], logical_id: str) -> bool:
    """Whether the document denies, to anyone, every S3 action on the bucket and its objects without TLS."""
    for stmt in _statements(document):
        if stmt.get("Effect") != "Deny" or not _is_anyone(stmt.get("Principal")):
            continue
        if not any(a in ("s3:*", "*") for a in _as_list(stmt.get("Action", []))):
            continue
        tls = any(
            op == "bool" and key == "aws:securetransport" and values and all(_is_false(v) for v in values)
            for op, key, values in _condition_entries(stmt.get("Condition"))
        )
        resources = _as_list(stmt.get("Resource", []))
        bucket = any(
            isinstance(r, dict) and _refers_to(r, logical_id) and "/" not in (_sub_text(r.get("Fn::Sub")) or "")
            for r in resources
        )
        objects = any(
            isinstance(r, dict)
            and "Fn::Sub" in r
            and (_sub_text(r["Fn::Sub"]) or "").endswith("/*")
            and _refers_to(r, logical_id)
            for r in resources
        )
        if tls and bucket and objects:
            return True
    return False


def check_bucket(logical_id: str, resource: dict[str, Any], resources: dict[str, Any], name: str) -> list[Finding]:
    """An S3 bucket is encrypted, private and reachable over TLS only."""
    where = f"{name}: {logical_id}"
    findings: list[Finding] = []
    props = resource.get("Properties") or {}
    props = props if isinstance(props, dict) else {}
    rules = ((props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")) or []
    if not any(
        isinstance(r, dict) and (r.get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
        for r in _as_list(rules)
    ):
        findings.append(Finding(where, "S3 bucket without default encryption (BucketEncryption)"))
    blocks = props.get("PublicAccessBlockConfiguration") or {}
    missing = [b for b in PUBLIC_ACCESS_BLOCKS if not (isinstance(blocks, dict) and _is_true(blocks.get(b)))]
    if missing:
        findings.append(Finding(where, f"S3 bucket without public access blocks: {', '.join(missing)} must be true"))
    policies = [
        r.get("Properties") or {}
        for r in resources.values()
        if isinstance(r, dict)
        and r.get("Type") == "AWS::S3::BucketPolicy"
        and (r.get("Properties") or {}).get("Bucket") == {"Ref": logical_id}
    ]
    if not any(_tls_only(doc, logical_id) for p in policies for doc in _documents(p.get("PolicyDocument"))):
        findings.append(
            Finding(
                where,
                "S3 bucket without a bucket policy denying requests without TLS (Deny s3:* to '*' on the bucket "
                "and its objects when aws:SecureTransport is false)",
            )
        )
    return findings


# --- templates ------------------------------------------------------------------------------------------------


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def check_table(logical_id: str, resource: dict[str, Any], name: str) -> list[Finding]:
    """A DynamoDB table keeps its data: deletion protection on, retained on stack deletion and replacement."""
    where = f"{name}: {logical_id}"
    findings: list[Finding] = []
    props = resource.get("Properties") or {}
    if resource.get("Type") == "AWS::DynamoDB::GlobalTable":
        replicas = _as_list(props.get("Replicas") or []) if isinstance(props, dict) else []
        if not replicas or not all(
            isinstance(r, dict) and _is_true(r.get("DeletionProtectionEnabled")) for r in replicas
        ):
            findings.append(Finding(where, "a replica without DeletionProtectionEnabled: true"))
    elif not (isinstance(props, dict) and _is_true(props.get("DeletionProtectionEnabled"))):
        findings.append(Finding(where, "DynamoDB table without DeletionProtectionEnabled: true"))
    for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
        if resource.get(policy) != "Retain":
            findings.append(Finding(where, f"DynamoDB table without {policy}: Retain"))
    return findings


def _literal_partitions(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every string in ``value`` that holds an ARN with a literal partition."""
    if isinstance(value, str):
        match = _LITERAL_PARTITION.search(value)
        if match:
            yield path, value[match.start() : match.start() + 60].splitlines()[0]
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _PROSE_KEYS:
                yield from _literal_partitions(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _literal_partitions(item, f"{path}[{n}]")


def _for_people(resource: dict[str, Any]) -> bool:
    """Whether a managed policy is for people (``Metadata: {isched: {audience: operators}}``), not for a role."""
    metadata = resource.get("Metadata") or {}
    marker = metadata.get("isched") if isinstance(metadata, dict) else None
    return (
        resource.get("Type") == "AWS::IAM::ManagedPolicy"
        and isinstance(marker, dict)
        and marker.get("audience") == "operators"
    )


def check_template(template: dict[str, Any], name: str) -> tuple[list[Finding], int]:
    """The findings in one parsed template and the number of statements checked."""
    findings: list[Finding] = []
    checked = 0
    resources = template.get("Resources") or {}
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        if resource.get("Type") in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            findings.extend(check_table(logical_id, resource, name))
        if resource.get("Type") == "AWS::S3::Bucket":
            findings.extend(check_bucket(logical_id, resource, resources, name))
        for label, value in _policy_properties(resource):
            for document in _documents(value):
                for n, stmt in enumerate(_statements(document)):
                    checked += 1
                    sid = stmt.get("Sid")
                    where = f"{name}: {logical_id} {label} statement " + (f"'{sid}'" if sid else f"#{n}")
                    findings.extend(check_statement(stmt, where, people=_for_people(resource)))
                    if resource.get("Type") in RESOURCE_POLICY_TYPES:
                        findings.extend(check_resource_statement(stmt, where))
    for path, text in _literal_partitions(template, ""):
        findings.append(Finding(f"{name}: {path}", f"literal partition in '{text}': use arn:${{AWS::Partition}}:"))
    return findings, checked


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv else DEFAULT_TEMPLATES)]
    findings: list[Finding] = []
    checked = 0
    for path in paths:
        found, n = check_template(load_template(path), str(path))
        findings += found
        checked += n
    for finding in findings:
        print(f"error: {finding}", file=sys.stderr)
    if findings:
        print(f"{len(findings)} least-privilege problem(s) in {checked} policy statements", file=sys.stderr)
        return 1
    print(
        f"policies: {checked} statements in {len(paths)} templates, no wildcard or unguarded action; "
        "instance-type-only modify, isched-only tag writes, protected tables, no literal partition; "
        "data actions on named resources, private encrypted TLS-only buckets, no public resource policy; "
        "PassRole scoped to named roles and a service, role writes only with a permissions boundary"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
