"""The handlers' typed inputs without AWS: worker payloads, the scheduled event, settings, and the policy checker."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from scheduler.engine import parse_text
from scheduler.handlers.common import SettingsError, is_retryable
from scheduler.handlers.events import EventError, OrchestratorSettings, ScheduledEvent
from scheduler.runtime.lambda_invoker import PayloadBuilder, PayloadError, WorkerPayload
from scheduler.runtime.orchestrator import PassRequest
from scheduler.store.state import Target

ROOT = Path(__file__).resolve().parents[2]
CONFIG = parse_text(
    """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office], timezone: Europe/Berlin}
"""
)
TARGET = Target("123456789012", "eu-west-1", "ec2")
AT = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)


def _good() -> dict[str, Any]:
    return WorkerPayload(AT, TARGET, "Schedule", False, CONFIG, None, "evt-1").to_json()


def test_payload_round_trip_keeps_target_time_and_schedules():
    back = WorkerPayload.from_json(json.loads(json.dumps(_good())))
    assert (back.at, back.target, back.tag_key, back.pass_id) == (AT, TARGET, "Schedule", "evt-1")
    assert back.config is not None and back.config.to_dict() == CONFIG.to_dict()


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"version": 7}, "payload.version: 7 is not a supported payload version"),
        ({"at": "2026-03-02T20:00:00"}, "payload.at: '2026-03-02T20:00:00' has no UTC offset"),
        ({"at": "tomorrow"}, "payload.at: 'tomorrow' is not an ISO 8601 instant"),
        ({"target": "123456789012/eu-west-1/ec2"}, "payload.target: '123456789012/eu-west-1/ec2' is not an object"),
        ({"target": {"account": "12345", "region": "eu-west-1", "service": "ec2"}}, "payload.target.account: '12345'"),
        ({"target": {"account": "123456789012", "region": "mars", "service": "ec2"}}, "payload.target.region: 'mars'"),
        (
            {"target": {"account": "123456789012", "region": "eu-west-1", "service": "lambda"}},
            "payload.target.service: 'lambda' is not a service",
        ),
        ({"tag_key": ""}, "payload.tag_key: '' is not a usable tag key"),
        ({"tag_key": "aws:cloudformation:stack-name"}, "payload.tag_key: 'aws:cloudformation:stack-name' is not"),
        ({"tag_key": "Sched\nule"}, "payload.tag_key: 'Sched\\nule' is not a usable tag key"),
        (
            {"target": {"account": "123456789012\n", "region": "eu-west-1", "service": "ec2"}},
            "payload.target.account: '123456789012\\n'",
        ),
        (
            {"target": {"account": " 123456789012", "region": "eu-west-1", "service": "ec2"}},
            "payload.target.account: ' 123456789012'",
        ),
        (
            {"target": {"account": "123456789012", "region": "eu-west-1\n", "service": "ec2"}},
            "payload.target.region: 'eu-west-1\\n'",
        ),
        ({"at": "9999-12-31T23:59:00-01:00"}, "payload.at: '9999-12-31T23:59:00-01:00' is out of range"),
        ({"at": "0001-01-01T00:00:00+01:00"}, "payload.at: '0001-01-01T00:00:00+01:00' is out of range"),
        ({"at": "0001-01-01T00:00:00Z"}, "payload.at: '0001-01-01T00:00:00Z' is out of range (the year 1 is outside"),
        ({"at": "1969-12-31T23:59:00Z"}, "is out of range (the year 1969 is outside 1970-2999)"),
        ({"dry_run": "yes"}, "payload.dry_run: 'yes' is not true or false"),
        ({"config_ref": {"table": "t"}}, "payload.config: exactly one of 'config' and 'config_ref'"),
        ({"config": {"schedules": {"s": {"periods": ["nope"]}}}}, "payload.config.schedules.s.periods: 'nope'"),
    ],
)
def test_malformed_payload_names_the_field(change, needle):
    raw = {**_good(), **change}
    with pytest.raises(PayloadError) as exc:
        WorkerPayload.from_json(raw)
    assert needle in str(exc.value)


def test_worker_handler_rejects_a_malformed_payload_without_raising(capsys):
    from scheduler.handlers import worker

    bad = {**_good(), "target": {"account": "12345", "region": "eu-west-1", "service": "ec2"}}
    out = worker.handler(bad, FakeContext())
    assert out["status"] == "rejected"
    assert "payload.target.account: '12345' is not an AWS account id" in out["error"]
    # The rejection is counted, so the errors alarm sees it even though Lambda retries nothing.
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf and emf[-1]["errors"] == [1.0] and emf[-1]["service"] == "payload"


def test_payload_builder_inlines_small_configs_and_refers_to_the_table_past_the_limit():
    request = PassRequest(at=AT)
    small = PayloadBuilder(CONFIG, "isched-x-config")
    body = json.loads(small.encode(TARGET, request))
    assert "config" in body and small.inline is True
    tiny_limit = PayloadBuilder(CONFIG, "isched-x-config", limit=200)
    ref = json.loads(tiny_limit.encode(TARGET, request))
    assert ref["config_ref"] == {"table": "isched-x-config"} and "config" not in ref and tiny_limit.inline is False
    assert WorkerPayload.from_json(ref).config is None


def test_scheduled_event_time_is_floored_to_the_minute():
    then = datetime(2026, 3, 2, 20, 1, tzinfo=UTC)
    ev = ScheduledEvent.from_event({"id": "e1", "time": "2026-03-02T20:00:41Z", "source": "aws.events"}, now=then)
    assert ev.at == AT and ev.id == "e1"
    assert ScheduledEvent.from_event({}, now=datetime(2026, 3, 2, 20, 0, 59, 5, tzinfo=UTC)).at == AT
    with pytest.raises(EventError, match=r"event.time: 'soon' is not an ISO 8601 instant"):
        ScheduledEvent.from_event({"time": "soon"})


@pytest.mark.parametrize(
    ("time", "needle"),
    [
        ("2099-01-01T00:00:00Z", "is ahead of the real clock"),
        ("2026-03-02T20:06:00Z", "is ahead of the real clock"),  # beyond the 5 minutes of tolerated skew
        ("2026-03-02T13:59:00Z", "is more than 6:00:00 before the real clock"),  # a replay, not a pass
        ("0001-01-01T00:01:00Z", "before the real clock"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
    ],
)
def test_an_event_far_from_the_real_clock_is_refused(time, needle):
    with pytest.raises(EventError, match=needle):
        ScheduledEvent.from_event({"time": time}, now=datetime(2026, 3, 2, 20, 0, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ISCHED_ACCOUNTS": "123456789012,99"}, "ISCHED_ACCOUNTS: '99' is not an AWS account id"),
        ({"ISCHED_REGIONS": "eu-west-1,moon"}, "ISCHED_REGIONS: 'moon' is not an AWS region name"),
        ({"ISCHED_SERVICES": "ec2,lambda"}, "ISCHED_SERVICES: 'lambda' is not a service"),
        ({"ISCHED_ORGANIZATION_ID": "r-abcd"}, "ISCHED_ORGANIZATION_ID: 'r-abcd' is not an organization id"),
        ({"ISCHED_MAX_PAYLOAD_BYTES": "lots"}, "ISCHED_MAX_PAYLOAD_BYTES: 'lots' is not a number"),
    ],
)
def test_settings_errors_name_the_variable(env, needle):
    with pytest.raises(SettingsError) as exc:
        OrchestratorSettings.from_env({"AWS_REGION": "eu-west-1", **env})
    assert needle in str(exc.value)


def test_settings_defaults():
    s = OrchestratorSettings.from_env({"AWS_REGION": "eu-west-1"})
    assert (
        s.regions == ("eu-west-1",)
        and s.services == ("ec2", "asg", "rds", "ecs", "eks", "redshift", "sagemaker")
        and s.tag_key == "Schedule"
    )
    assert s.accounts == () and s.organization_id is None and s.max_payload_bytes == 256 * 1024


def test_retry_policy_retries_throttling_and_unreachable_services_only():
    from botocore.exceptions import ClientError, EndpointConnectionError

    def err(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": code}}, "DescribeInstances")

    assert is_retryable(err("RequestLimitExceeded")) and is_retryable(err("ThrottlingException"))
    assert is_retryable(EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"))
    assert not is_retryable(err("UnauthorizedOperation")) and not is_retryable(ValueError("bug"))


class FakeContext:
    """The attributes of a Lambda context that Powertools' inject_lambda_context reads."""

    function_name = "isched-test-worker"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:isched-test-worker"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


# --- the least-privilege checker (scripts/check_policies.py) ------------------------------------------------


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_policies", ROOT / "scripts" / "check_policies.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


BAD_TEMPLATE = """
Parameters:
  TagKey: {Type: String, Default: Schedule}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: too-broad
          PolicyDocument:
            Statement:
              - Sid: EverythingEc2
                Effect: Allow
                Action: ["ec2:*"]
                Resource: "*"
              - Sid: StopAnything
                Effect: Allow
                Action: [ec2:StopInstances, rds:StopDBInstance]
                Resource: !Sub arn:${AWS::Partition}:ec2:*:*:instance/*
              - !If
                - SomeCondition
                - {Sid: Prefix, Effect: Allow, Action: autoscaling:Update*, Resource: "*"}
                - !Ref AWS::NoValue
              - Sid: DenyIsFine
                Effect: Deny
                Action: "*"
                Resource: "*"
        - PolicyName: guarded
          PolicyDocument: !Sub |
            {"Statement": [{"Sid": "Guarded", "Effect": "Allow", "Action": "ec2:StartInstances", "Resource": "*",
              "Condition": {"StringLike": {"aws:ResourceTag/${TagKey}": "*"}}}]}
"""


def test_policy_checker_catches_wildcards_and_unguarded_actions(tmp_path, capsys):
    checker = _checker()
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_TEMPLATE, encoding="utf-8")
    assert checker.main([str(path)]) == 1
    err = capsys.readouterr().err
    assert "Role policy 'too-broad' statement 'EverythingEc2': wildcard action 'ec2:*'" in err
    assert "statement 'StopAnything': ec2:StopInstances, rds:StopDBInstance allowed without an aws:ResourceTag" in err
    assert "statement 'Prefix': wildcard action 'autoscaling:Update*'" in err
    assert "'Prefix': autoscaling:Update* allowed without" in err
    assert "DenyIsFine" not in err and "Guarded" not in err


def test_policy_checker_passes_the_shipped_templates(capsys):
    checker = _checker()
    assert checker.main([str(ROOT / "template.yaml"), str(ROOT / "infra" / "spoke.yaml")]) == 0
    assert "no wildcard or unguarded action" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("env", "snapshot"),
    [({}, False), ({"ISCHED_RDS_SNAPSHOT": "true"}, True), ({"ISCHED_RDS_SNAPSHOT": "FALSE"}, False)],
)
def test_worker_settings_rds_snapshot(env: dict[str, str], snapshot: bool) -> None:
    from scheduler.handlers.events import WorkerSettings

    assert WorkerSettings.from_env(env).rds_snapshot is snapshot


def test_worker_settings_reject_a_bad_snapshot_switch() -> None:
    from scheduler.handlers.common import SettingsError
    from scheduler.handlers.events import WorkerSettings

    with pytest.raises(SettingsError, match="ISCHED_RDS_SNAPSHOT"):
        WorkerSettings.from_env({"ISCHED_RDS_SNAPSHOT": "sometimes"})
