"""The bisecting batcher (``scheduler.services.ec2_batches.run_bisected``): a batch refused because of some of its
ids is split until each bad id stands alone with its own error, and every other id still acts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from scheduler.services.base import ActionResult
from scheduler.services.ec2 import MAX_ACTION_BATCH
from scheduler.services.ec2_batches import run_bisected


class FakeEc2:
    """StopInstances as EC2 answers it: the whole call fails when any id is bad (nothing in it acts)."""

    def __init__(self, bad: Mapping[str, str]) -> None:
        self.bad = dict(bad)  # id -> error code
        self.calls: list[list[str]] = []
        self.acted: list[str] = []

    def __call__(self, batch: list[str]) -> dict[str, dict[str, Any]]:
        self.calls.append(list(batch))
        refused = [i for i in batch if i in self.bad]
        if refused:
            code = self.bad[refused[0]]
            raise ClientError({"Error": {"Code": code, "Message": f"'{refused[0]}' refused"}}, "StopInstances")
        self.acted.extend(batch)
        return {i: {"state": "stopping"} for i in batch}


def ids(n: int) -> list[str]:
    return [f"i-{k:017x}" for k in range(n)]


@pytest.mark.parametrize(
    ("n", "size", "bad", "code"),
    [
        (1, 1000, [0], "IncorrectInstanceState"),
        (2, 1000, [1], "IncorrectInstanceState"),
        (7, 4, [5], "UnauthorizedOperation"),
        (500, 1000, [0], "InvalidInstanceID.NotFound"),
        (500, 1000, [499], "IncorrectInstanceState"),
        (500, 1000, [17, 250, 251], "IncorrectInstanceState"),
        (1000, 1000, list(range(0, 1000, 100)), "IncorrectInstanceState"),
        (2500, 1000, [999, 1000, 2499], "UnsupportedOperation"),
        (64, 1000, list(range(64)), "IncorrectInstanceState"),  # every one bad
        (300, 1000, [], "IncorrectInstanceState"),  # nothing bad: one call
    ],
)
def test_every_good_id_acts_and_each_bad_one_gets_its_own_error(n: int, size: int, bad: list[int], code: str) -> None:
    every = ids(n)
    bad_ids = {every[k] for k in bad}
    ec2 = FakeEc2(dict.fromkeys(bad_ids, code))

    results = run_bisected(every, size, ec2)

    assert set(results) == set(every)
    assert sorted(ec2.acted) == sorted(i for i in every if i not in bad_ids)  # each good id acted exactly once
    for i in every:
        r = results[i]
        assert isinstance(r, ActionResult) and r.resource == i
        if i in bad_ids:
            assert not r.ok and r.error == f"{code}: '{i}' refused"
        else:
            assert r.ok and r.error is None and r.details == {"state": "stopping"}
    assert all(len(c) <= size for c in ec2.calls)
    batches = math.ceil(n / size)
    if not bad_ids:
        assert len(ec2.calls) == batches
    # Each bad id costs at most two calls per level of the split of its batch.
    assert len(ec2.calls) <= batches + 2 * len(bad_ids) * max(1, math.ceil(math.log2(min(n, size))))


def test_one_bad_id_among_the_maximum_costs_a_logarithmic_number_of_calls() -> None:
    every = ids(MAX_ACTION_BATCH)
    ec2 = FakeEc2({every[123]: "IncorrectInstanceState"})
    run_bisected(every, MAX_ACTION_BATCH, ec2)
    # 1 + 2 per level of the halving down to the single id (log2(1000) < 10 levels).
    assert len(ec2.calls) <= 1 + 2 * 10


@pytest.mark.parametrize("code", ["Throttling", "RequestLimitExceeded", "AuthFailure", "ExpiredToken"])
def test_errors_about_the_request_fail_the_batch_without_bisecting(code: str) -> None:
    every = ids(8)
    ec2 = FakeEc2(dict.fromkeys(every, code))
    results = run_bisected(every, 1000, ec2)
    assert len(ec2.calls) == 1
    assert all(not r.ok and r.error is not None and r.error.startswith(f"{code}: ") for r in results.values())


def test_no_answer_at_all_fails_the_batch_without_bisecting() -> None:
    calls: list[list[str]] = []

    def unreachable(batch: list[str]) -> dict[str, dict[str, Any]]:
        calls.append(batch)
        raise EndpointConnectionError(endpoint_url="https://ec2.example")

    results = run_bisected(ids(5), 1000, unreachable)
    assert len(calls) == 1 and not any(r.ok for r in results.values())


def test_a_bad_id_alone_gets_the_fallback() -> None:
    every = ids(6)
    ec2 = FakeEc2({every[2]: "UnsupportedHibernationConfiguration"})
    fallback_for: list[str] = []

    def fallback(iid: str, exc: ClientError) -> ActionResult:
        fallback_for.append(iid)
        return ActionResult(iid, ok=True, details={"hibernate_error": str(exc.response["Error"]["Code"])})

    results = run_bisected(every, 1000, ec2, fallback)
    assert fallback_for == [every[2]]
    assert (
        results[every[2]].ok and results[every[2]].details["hibernate_error"] == "UnsupportedHibernationConfiguration"
    )
    assert all(results[i].ok for i in every)
