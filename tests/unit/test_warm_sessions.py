"""Warm Lambda invocations reuse their sessions and assumed-role credentials; the hub account comes from the
function's ARN, never from a GetCallerIdentity per invocation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from scheduler.aws import accounts
from scheduler.aws.accounts import AccountSessions, AssumeRoleError, function_identity, warm_sessions
from scheduler.handlers import orchestrator, worker

HUB = "111122223333"
SPOKE = "444455556666"
OTHER = "777788889999"
ARN = f"arn:aws-us-gov:lambda:us-gov-west-1:{HUB}:function:isched-worker"


class FakeSts:
    """STS answering AssumeRole with credentials that expire ``lifetime`` after the call; counts every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.assumed: list[str] = []
        self.lifetime = timedelta(hours=1)
        self.refuse: set[str] = set()

    def get_caller_identity(self) -> dict[str, str]:
        self.calls.append("GetCallerIdentity")
        return {"Account": HUB, "Arn": f"arn:aws:sts::{HUB}:assumed-role/worker/isched"}

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("AssumeRole")
        role = str(kwargs["RoleArn"])
        if role in self.refuse:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "AssumeRole")
        self.assumed.append(role)
        n = len(self.assumed)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIA{n}",
                "SecretAccessKey": f"secret{n}",
                "SessionToken": f"token{n}",
                "Expiration": datetime.now(UTC) + self.lifetime,
            }
        }


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSts]:
    fake = FakeSts()
    monkeypatch.setattr(accounts, "client", lambda service, **_: fake)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-gov-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDHUB")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hub-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    accounts.forget_warm_sessions()
    yield fake
    accounts.forget_warm_sessions()


@pytest.mark.parametrize(
    ("arn", "identity"),
    [
        (f"arn:aws:lambda:eu-west-1:{HUB}:function:isched-worker", (HUB, "aws")),
        (f"arn:aws:lambda:eu-west-1:{HUB}:function:isched-worker:live", (HUB, "aws")),  # an alias
        (f"arn:aws-cn:lambda:cn-north-1:{HUB}:function:f", (HUB, "aws-cn")),
        (ARN, (HUB, "aws-us-gov")),
        (f"arn:aws:lambda:eu-west-1:{HUB}:layer:l:1", None),
        (f"arn:aws:sts::{HUB}:assumed-role/worker/isched", None),
        ("arn:aws:lambda:eu-west-1:12345:function:f", None),  # not a 12-digit account
        ("arn:aws:lambda:eu-west-1", None),
        ("", None),
        (None, None),
    ],
)
def test_function_identity(arn: Any, identity: tuple[str, str] | None) -> None:
    assert function_identity(arn) == identity


def test_a_known_function_arn_needs_no_get_caller_identity(sts: FakeSts) -> None:
    base = boto3.Session(region_name="us-gov-west-1")
    sessions = AccountSessions(base, hub=function_identity(ARN))

    assert sessions.session(HUB) is base
    assert sessions.role_arn(SPOKE) == f"arn:aws-us-gov:iam::{SPOKE}:role/isched-spoke"
    sessions.session(SPOKE)

    assert sts.calls == ["AssumeRole"]
    assert sts.assumed == [f"arn:aws-us-gov:iam::{SPOKE}:role/isched-spoke"]


def test_without_an_arn_the_hub_is_asked_once(sts: FakeSts) -> None:
    sessions = warm_sessions()
    assert sessions.hub_account == HUB and sessions.partition == "aws"
    assert warm_sessions().hub_account == HUB
    assert sts.calls == ["GetCallerIdentity"]


def frozen(session: boto3.Session) -> tuple[str, str, str | None]:
    creds = session.get_credentials()
    assert creds is not None
    f = creds.get_frozen_credentials()
    return f.access_key, f.secret_key, f.token


def test_warm_invocations_assume_each_role_once_until_it_expires(sts: FakeSts) -> None:
    # Three "invocations" of a warm container, each asking for the sessions again.
    for _ in range(3):
        sessions = warm_sessions("isched-spoke", "ext", ARN)
        assert frozen(sessions.session(SPOKE)) == ("ASIA1", "secret1", "token1")
        assert frozen(sessions.session(OTHER)) == ("ASIA2", "secret2", "token2")
        assert sessions.session(HUB) is sessions.base
    assert sts.calls == ["AssumeRole", "AssumeRole"]  # one per spoke account, no GetCallerIdentity

    # A different configuration (another role name) is another set of sessions.
    assert warm_sessions("other-role", "ext", ARN) is not warm_sessions("isched-spoke", "ext", ARN)


def test_credentials_close_to_expiry_are_refreshed_by_one_new_assume_role(sts: FakeSts) -> None:
    sts.lifetime = timedelta(minutes=5)  # inside botocore's mandatory refresh window (10 minutes)
    session = warm_sessions(function_arn=ARN).session(SPOKE)
    assert sts.assumed == [f"arn:aws-us-gov:iam::{SPOKE}:role/isched-spoke"]

    sts.lifetime = timedelta(hours=1)
    assert frozen(session) == ("ASIA2", "secret2", "token2")  # refreshed when used
    assert frozen(warm_sessions(function_arn=ARN).session(SPOKE)) == ("ASIA2", "secret2", "token2")
    assert sts.calls == ["AssumeRole", "AssumeRole"]


def test_a_refused_role_is_not_cached(sts: FakeSts) -> None:
    role = f"arn:aws-us-gov:iam::{SPOKE}:role/isched-spoke"
    sts.refuse.add(role)
    with pytest.raises(AssumeRoleError, match="AccessDenied"):
        warm_sessions(function_arn=ARN).session(SPOKE)
    sts.refuse.clear()
    warm_sessions(function_arn=ARN).session(SPOKE)  # the next invocation tries again
    assert sts.calls == ["AssumeRole", "AssumeRole"]


def test_a_changed_environment_gets_new_sessions(sts: FakeSts, monkeypatch: pytest.MonkeyPatch) -> None:
    first = warm_sessions(function_arn=ARN)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDOTHER")
    assert warm_sessions(function_arn=ARN) is not first
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDHUB")
    assert warm_sessions(function_arn=ARN) is first


class Context:
    invoked_function_arn = ARN
    function_name = "isched-worker"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize("module", [worker, orchestrator])
def test_the_handlers_reuse_one_set_of_sessions_named_by_the_function_arn(
    sts: FakeSts, monkeypatch: pytest.MonkeyPatch, module: Any
) -> None:
    seen: list[AccountSessions] = []

    def capture(event: object, **kwargs: Any) -> dict[str, Any]:
        seen.append(kwargs["sessions"])
        return {}

    monkeypatch.setattr(module, "process" if module is worker else "orchestrate", capture)
    for _ in range(2):
        module.handler({}, Context())

    assert seen[0] is seen[1]
    assert seen[0].hub_account == HUB and seen[0].partition == "aws-us-gov"
    assert sts.calls == []
