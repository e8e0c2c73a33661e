"""The configuration store's transactions against the moto server: one failed condition writes nothing, the
cancellation names the item whose condition failed (PynamoDB sends the actions grouped by type, not in the order
they were added), and items written by hand without a version are written and restored as they were."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import boto3
import pytest

from scheduler.engine import parse_text
from scheduler.store.config import ConfigStore, ConflictError, StoreError
from scheduler.store.tables import TableNames, Tables

Raw = dict[tuple[str, str], dict[str, Any]]


@pytest.fixture
def ns(aws: str) -> str:
    """A namespace with its config table (the only one these tests need)."""
    name = f"x{uuid.uuid4().hex[:10]}"
    _client().create_table(
        TableName=TableNames.for_namespace(name).config,
        KeySchema=[{"AttributeName": "kind", "KeyType": "HASH"}, {"AttributeName": "name", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "kind", "AttributeType": "S"},
            {"AttributeName": "name", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _client() -> Any:
    return boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def _raw(namespace: str) -> Raw:
    """Every item exactly as stored, every attribute (tokens and timestamps included)."""
    out: Raw = {}
    for page in _client().get_paginator("scan").paginate(TableName=TableNames.for_namespace(namespace).config):
        for item in page["Items"]:
            out[(item["kind"]["S"], item["name"]["S"])] = item
    return out


def _put_raw(namespace: str, kind: str, name: str, body: dict[str, Any], **extra: Any) -> None:
    item = {"kind": {"S": kind}, "name": {"S": name}, "body": {"S": json.dumps(body)}, **extra}
    _client().put_item(TableName=TableNames.for_namespace(namespace).config, Item=item)


def _delete_raw(namespace: str, kind: str, name: str) -> None:
    key = {"kind": {"S": kind}, "name": {"S": name}}
    _client().delete_item(TableName=TableNames.for_namespace(namespace).config, Key=key)


PERIOD = {"begintime": "09:00", "endtime": "17:00"}


@pytest.mark.parametrize("gone", ["a", "b", "c"])
def test_one_failed_condition_in_a_schedule_write_writes_nothing(ns: str, gone: str) -> None:
    store = ConfigStore(Tables.for_namespace(ns))
    for period in ("a", "b", "c"):
        store.create_period(period, PERIOD)
    store.put_schedule("s", {"timezone": "UTC", "periods": ["a"]}, None)
    seen = store.get("schedule", "s")
    assert seen is not None
    # The write's actions: a check that kept period a still exists, the schedule's put, and the additions to b's and
    # c's used_by. One of the periods disappears (by hand: a is in use) just before the commit.
    snapshot: Raw = {}

    def remove(_chunk: int) -> None:
        _delete_raw(ns, "period", gone)
        snapshot.update(_raw(ns))

    store.before_commit = remove
    with pytest.raises(ConflictError) as caught:
        store.put_schedule("s", {"timezone": "UTC", "periods": ["a", "b", "c"]}, seen)
    assert f"period(s) '{gone}' no longer exist" in str(caught.value)
    assert "nothing was written" in str(caught.value)
    # Not one attribute of any item changed: the actions whose conditions held were not written either.
    assert _raw(ns) == snapshot
    assert ("period", gone) not in snapshot and len(snapshot) == 3


def test_a_failed_put_names_the_schedule_not_its_periods(ns: str) -> None:
    store, other = ConfigStore(Tables.for_namespace(ns)), ConfigStore(Tables.for_namespace(ns))
    for period in ("a", "b"):
        store.create_period(period, PERIOD)
    store.put_schedule("s", {"timezone": "UTC", "periods": ["a"]}, None)
    seen = store.get("schedule", "s")
    assert seen is not None
    snapshot: Raw = {}

    def edit(_chunk: int) -> None:
        current = other.get("schedule", "s")
        assert current is not None
        other.put_schedule("s", {"timezone": "Europe/Berlin", "periods": ["a"]}, current)
        snapshot.update(_raw(ns))

    store.before_commit = edit
    with pytest.raises(ConflictError, match="schedule 's' was changed by someone else"):
        store.put_schedule("s", {"timezone": "UTC", "periods": ["b"]}, seen)
    assert _raw(ns) == snapshot
    assert _raw(ns)[("period", "b")].get("used_by") is None


def test_an_item_without_a_version_is_repaired_and_restored_as_it_was(ns: str) -> None:
    store = ConfigStore(Tables.for_namespace(ns))
    file = "periods:\n  p: {begintime: '09:00', endtime: '17:00'}\nschedules:\n  s: {timezone: UTC, periods: [p]}\n"
    stored = parse_text(file).to_dict()
    # Written by hand: a period without version, tokens or used_by, and a schedule naming it (so its used_by is
    # out of step); both as the file has them.
    _put_raw(ns, "period", "p", stored["periods"]["p"])
    _put_raw(ns, "schedule", "s", stored["schedules"]["s"], version={"N": "1"})
    read = store.get("period", "p")
    assert read is not None and read.version == 0 and read.rev is None

    plan = store.apply(parse_text(file), prune=False, dry_run=False)
    assert plan.unchanged == ["period p", "schedule s"] and plan.writes == 1  # the repair of p's used_by
    repaired = _raw(ns)[("period", "p")]
    assert "version" not in repaired  # still without one, as it was written
    assert set(repaired["used_by"]["SS"]) == {"s"} and "refs_rev" in repaired
    assert json.loads(repaired["body"]["S"]) == stored["periods"]["p"]
    # Its conditions (no rev, no version) hold on what was written: applying again writes nothing.
    assert store.apply(parse_text(file), prune=False, dry_run=False).writes == 0

    # A chunked apply that changes p in its first chunk and fails later puts p back as it was: still no version.
    _put_raw(ns, "period", "p", stored["periods"]["p"], used_by={"SS": ["s"]})
    before = _raw(ns)
    periods = "\n".join(f"  p{i}: {{begintime: '09:00'}}" for i in range(120))
    schedules = "\n".join(f"  s{i}: {{periods: [p{i}]}}" for i in range(120))
    big = parse_text(
        f"periods:\n  p: {{begintime: '08:00'}}\n{periods}\n"
        f"schedules:\n  a: {{periods: [p]}}\n  s: {{timezone: UTC, periods: [p]}}\n{schedules}\n"
    )

    def fail_second(chunk: int) -> None:
        if chunk == 1:
            assert _raw(ns)[("period", "p")]["version"] == {"N": "1"}  # the first chunk changed p
            raise RuntimeError("simulated outage")

    store.before_commit = fail_second
    with pytest.raises(StoreError, match="rolled back"):
        store.apply(big, prune=False, dry_run=False)
    after = _raw(ns)
    assert set(after) == set(before)
    restored = after[("period", "p")]
    restored.pop("updated_at", None)  # a restore is a write, and says when it was made
    assert restored == before[("period", "p")]
