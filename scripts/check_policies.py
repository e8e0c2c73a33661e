#!/usr/bin/env python3
"""Least-privilege check of the IAM policies in CloudFormation/SAM templates (run by ``make templates``).

Fails (exit 1, naming each offending statement) on:

* any wildcard action in an Allow statement (``*``, ``ec2:*``, ``ec2:Stop*``, ``rds:?tart*``) or a ``NotAction``;
* any start/stop/modify/update/reboot/hibernate action of ec2, autoscaling or rds allowed without an
  ``aws:ResourceTag/...`` condition (so the scheduler can only touch resources that carry the schedule tag).

Templates are read with CloudFormation's short-form tags (``!Ref``, ``!Sub``, ``!GetAtt``, ``!If`` ...). Policy
documents may be YAML objects or JSON text, also inside ``Fn::Sub`` (how a condition key can name a parameter);
both branches of an ``Fn::If`` are checked.

Usage: check_policies.py [TEMPLATE ...]   (default: template.yaml infra/spoke.yaml)
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

DEFAULT_TEMPLATES = ("template.yaml", "infra/spoke.yaml")
GUARDED_SERVICES = ("ec2", "autoscaling", "rds")
GUARDED_VERBS = ("start", "stop", "modify", "update", "reboot", "hibernate")
TAG_CONDITION_PREFIX = "aws:resourcetag/"
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
        if isinstance(stmt, dict) and "Fn::If" in stmt and isinstance(stmt["Fn::If"], list):
            for branch in stmt["Fn::If"][1:]:
                if isinstance(branch, dict) and branch != {"Ref": "AWS::NoValue"}:
                    yield branch
        elif isinstance(stmt, dict):
            yield stmt


def _policy_properties(resource: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(label, policy document value) for each policy a resource carries."""
    rtype = resource.get("Type")
    props = resource.get("Properties") or {}
    if not isinstance(props, dict):
        return
    if rtype == "AWS::IAM::Role":
        if "AssumeRolePolicyDocument" in props:
            yield "trust policy", props["AssumeRolePolicyDocument"]
        for n, policy in enumerate(_as_list(props.get("Policies") or [])):
            if isinstance(policy, dict) and "PolicyDocument" in policy:
                yield f"policy '{policy.get('PolicyName', n)}'", policy["PolicyDocument"]
    elif rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
        yield f"policy '{props.get('PolicyName', props.get('ManagedPolicyName', ''))}'", props.get("PolicyDocument")
    elif rtype == "AWS::Serverless::Function":
        for n, policy in enumerate(_as_list(props.get("Policies") or [])):
            if isinstance(policy, dict) and "Statement" in policy:
                yield f"inline policy {n}", policy


def _has_tag_condition(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator_body in condition.values():
        if isinstance(operator_body, dict) and any(
            isinstance(k, str) and k.lower().startswith(TAG_CONDITION_PREFIX) for k in operator_body
        ):
            return True
    return False


def _is_guarded(action: str) -> bool:
    service, _, name = action.partition(":")
    return service.lower() in GUARDED_SERVICES and name.lower().startswith(GUARDED_VERBS)


def check_statement(stmt: dict[str, Any], where: str) -> list[Finding]:
    if stmt.get("Effect") != "Allow":
        return []  # a wildcard in a Deny only narrows what is allowed
    findings: list[Finding] = []
    if "NotAction" in stmt:
        findings.append(Finding(where, "NotAction in an Allow statement allows every other action"))
    actions = [a for a in _as_list(stmt.get("Action", [])) if isinstance(a, str)]
    for action in actions:
        if "*" in action or "?" in action:
            findings.append(Finding(where, f"wildcard action '{action}'"))
    unguarded = [a for a in actions if _is_guarded(a)]
    if unguarded and not _has_tag_condition(stmt.get("Condition")):
        findings.append(Finding(where, f"{', '.join(unguarded)} allowed without an aws:ResourceTag/... condition"))
    return findings


def check_template(template: dict[str, Any], name: str) -> tuple[list[Finding], int]:
    """The findings in one parsed template and the number of statements checked."""
    findings: list[Finding] = []
    checked = 0
    resources = template.get("Resources") or {}
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        for label, value in _policy_properties(resource):
            for document in _documents(value):
                for n, stmt in enumerate(_statements(document)):
                    checked += 1
                    sid = stmt.get("Sid")
                    where = f"{name}: {logical_id} {label} statement " + (f"'{sid}'" if sid else f"#{n}")
                    findings.extend(check_statement(stmt, where))
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
    print(f"policies: {checked} statements in {len(paths)} templates, no wildcard or unguarded action")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
