"""Spoke role ARNs name the hub's partition (aws, aws-cn, aws-us-gov), never a hard-coded ``arn:aws:``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from scheduler.aws import accounts
from scheduler.aws.accounts import AccountSessions, partition_for_region, partition_of, spoke_role_arn


@pytest.mark.parametrize(
    ("arn", "partition"),
    [
        ("arn:aws:sts::111122223333:assumed-role/isched-default-worker-eu-west-1/isched", "aws"),
        ("arn:aws-cn:sts::111122223333:assumed-role/worker/isched", "aws-cn"),
        ("arn:aws-us-gov:iam::111122223333:user/someone", "aws-us-gov"),
        ("arn:aws-iso-b:iam::111122223333:root", "aws-iso-b"),
        ("arn::iam::111122223333:root", None),
        ("arn:aws", None),
        ("aws:iam::111122223333:root", None),
        ("", None),
        (None, None),
    ],
)
def test_partition_of(arn: Any, partition: str | None) -> None:
    assert partition_of(arn) == partition


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("eu-west-1", "aws"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        (None, "aws"),
        ("", "aws"),
        ("xx-nowhere-9", "aws"),  # botocore knows no partition for it
    ],
)
def test_partition_for_region(region: str | None, partition: str) -> None:
    assert partition_for_region(boto3.Session(region_name="eu-west-1"), region) == partition


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_spoke_role_arn(partition: str) -> None:
    assert spoke_role_arn(partition, "210987654321", "isched-spoke") == (
        f"arn:{partition}:iam::210987654321:role/isched-spoke"
    )


class FakeSts:
    def __init__(self, identity: dict[str, str]) -> None:
        self.identity = identity
        self.calls: list[str] = []
        self.assumed: list[dict[str, Any]] = []

    def get_caller_identity(self) -> dict[str, str]:
        self.calls.append("GetCallerIdentity")
        return self.identity

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        self.assumed.append(kwargs)
        expires = datetime.now(UTC) + timedelta(hours=1)
        return {
            "Credentials": {
                "AccessKeyId": "AKID",
                "SecretAccessKey": "secret",
                "SessionToken": "token",
                "Expiration": expires,
            }
        }


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> FakeSts:
    fake = FakeSts({"Account": "111122223333", "Arn": "arn:aws-cn:sts::111122223333:assumed-role/worker/isched"})
    monkeypatch.setattr(accounts, "client", lambda service, **_: fake)
    return fake


def test_the_spoke_role_is_assumed_in_the_hubs_partition(sts: FakeSts) -> None:
    sessions = AccountSessions(boto3.Session(region_name="cn-north-1"), role_name="isched-spoke", external_id="x")
    sessions.session("210987654321")
    assert sts.assumed == [
        {"RoleArn": "arn:aws-cn:iam::210987654321:role/isched-spoke", "RoleSessionName": "isched", "ExternalId": "x"}
    ]
    assert sessions.role_arn("444455556666") == "arn:aws-cn:iam::444455556666:role/isched-spoke"
    assert (sessions.hub_account, sessions.partition) == ("111122223333", "aws-cn")
    assert sts.calls == ["GetCallerIdentity"]  # one call answers both


def test_the_hub_account_itself_is_not_assumed(sts: FakeSts) -> None:
    base = boto3.Session(region_name="cn-north-1")
    assert AccountSessions(base).session("111122223333") is base
    assert sts.assumed == []


def test_without_an_identity_arn_the_region_names_the_partition(sts: FakeSts) -> None:
    sts.identity = {"Account": "111122223333"}
    sessions = AccountSessions(boto3.Session(region_name="us-gov-east-1"))
    assert sessions.role_arn("210987654321") == "arn:aws-us-gov:iam::210987654321:role/isched-spoke"
