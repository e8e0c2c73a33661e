"""The worker's ledger entries and records, built from one builder and read back through typed readers: every entry
has the same common fields, an action's entry keeps what its result reported, and what DynamoDB gives back (or an
item written by hand) reads as typed details."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from scheduler.engine import Decision, MaintenanceHold, Observed, ResourceState, State, instant_text, parse_override
from scheduler.runtime.items import Item
from scheduler.runtime.ledger_entries import (
    action_draft,
    action_entry,
    details_to_store,
    observed_changes,
    override_changes,
)
from scheduler.runtime.records import record, with_intent
from scheduler.services.base import ActionResult, Resource
from scheduler.services.details import outcome
from scheduler.store.state import ResourceRecord, Target, stored_details

TARGET = Target("123456789012", "eu-west-1", "ec2")
AT = datetime(2026, 11, 3, 19, 0, tzinfo=UTC)
NOW = instant_text(AT)
COMMON = ("at", "target", "account", "region", "service", "resource", "schedule", "action", "instance_type")


def _resource(rid: str, observed: Observed = Observed.RUNNING, **details: Any) -> Resource:
    tags = {"Schedule": "office", "Name": f"name-{rid}", "aws:cloudformation:stack-name": "s", "isched:x": "y"}
    return Resource("ec2", rid, "office", observed, instance_type="t3.micro", tags=tags, details=details)


def _decision(action: str, rule: str = "transition", **kw: Any) -> Decision:
    after = ResourceState(desired=State.STOPPED if action == "stop" else State.RUNNING, decided_at=AT, **kw)
    return Decision(action, rule, f"why {action}", after, ResourceState(pending=True))  # type: ignore[arg-type]


def test_every_entry_starts_from_the_same_fields() -> None:
    stop = Item(_resource("i-stop"), None, _decision("stop"), result=ActionResult("i-stop", True))
    held = Item(
        _resource("i-held"),
        ResourceRecord("i-held"),
        _decision("none", "override", override=State.RUNNING),
        override=parse_override("running"),
    )
    manual = Item(_resource("i-man"), ResourceRecord("i-man", observed="stopped", last_seen_at="2026-11-03T18:00:00Z"))
    records = {"i-man": manual.record, "i-gone": ResourceRecord("i-gone", schedule="office", instance_type="m5.large")}
    entries = [
        action_entry(TARGET, stop, NOW),
        *override_changes(TARGET, [stop, held, manual], NOW),
        *observed_changes(TARGET, [stop, held, manual], records, NOW),  # type: ignore[arg-type]
    ]
    assert [(e["resource"], e["action"]) for e in entries] == [
        ("i-stop", "stop"),
        ("i-held", "override"),
        ("i-man", "manual-start"),
        ("i-gone", "gone"),
    ]
    for e in entries:
        assert tuple(e)[: len(COMMON)] == COMMON  # one builder: the same fields, in the same order
        assert (e["at"], e["target"], e["account"], e["region"], e["service"], e["schedule"]) == (
            NOW,
            "123456789012#eu-west-1#ec2",
            "123456789012",
            "eu-west-1",
            "ec2",
            "office",
        )
    assert entries[1]["override"] == "running"
    assert entries[3]["instance_type"] == "m5.large"  # a gone resource: as its record last saw it


def test_an_action_entry_keeps_what_its_result_reported() -> None:
    hold = MaintenanceHold("patching", AT, datetime(2026, 11, 3, 21, 0, tzinfo=UTC), False)
    res = _resource("i-1", platform="Linux/UNIX", saved_capacity={"min": 1})
    why = "maintenance window: patching"
    d = Decision("stop", "maintenance", why, ResourceState(), ResourceState(), None, False, hold)
    result = ActionResult(
        "i-1",
        True,
        details={
            "saved_capacity": {"min": 1, "max": 3, "desired": 2},
            "billing_while_stopped": {"volume_gb": 30},
            "hibernate_error": "not configured",  # not kept: the ledger has no use for it
        },
    )
    entry = action_entry(TARGET, Item(res, None, d, result=result), NOW, simulated=True)
    # Rebuilt by hand: what the stored JSON holds, key for key.
    assert json.loads(json.dumps(entry)) == {
        "at": NOW,
        "target": TARGET.key,
        "account": TARGET.account,
        "region": TARGET.region,
        "service": "ec2",
        "resource": "i-1",
        "schedule": "office",
        "action": "stop",
        "instance_type": "t3.micro",
        "details": {
            "platform": "Linux/UNIX",
            "tags": {"Name": "name-i-1", "Schedule": "office"},
            "billing_while_stopped": {"volume_gb": 30},
        },
        "capacity": {"min": 1, "max": 3, "desired": 2},
        "reason": "maintenance window: patching",
        "maintenance": {"window": "patching", "since": NOW, "until": "2026-11-03T21:00:00.000000Z", "started": False},
        "simulated": True,
    }
    # The draft stored with the intent is the same entry before the result was known.
    draft = action_draft(TARGET, Item(res, None, d), NOW)
    assert set(entry) - set(draft) == {"capacity", "simulated"}
    intent = with_intent(TARGET, Item(res, None, d), NOW).intent
    assert intent is not None and intent["entry"] == draft


def test_a_resize_entry_and_record_take_the_type_the_result_reported() -> None:
    res = _resource("i-2")
    d = _decision("resize")
    d = Decision("resize", "transition", "period type", d.state_if_ok, d.state_if_failed, "m5.large")
    i = Item(res, None, d, result=ActionResult("i-2", True, details={"instance_type": "m5.large", "changed": True}))
    entry = action_entry(TARGET, i, NOW)
    assert (entry["instance_type"], entry["previous_instance_type"]) == ("m5.large", "t3.micro")
    rec = record(i, NOW)
    assert (rec.instance_type, rec.last_action, rec.observed, rec.saved_capacity) == (
        "m5.large",
        "resize",
        "running",
        None,
    )
    assert rec.details == details_to_store(res) == {"tags": {"Name": "name-i-2", "Schedule": "office"}}


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ({}, {}),
        (None, {}),
        ({"instance_type": "m5.large", "changed": True}, {"instance_type": "m5.large"}),
        ({"instance_type": "", "saved_capacity": {}}, {}),  # empty: as good as absent
        ({"instance_type": 5, "saved_capacity": [1, 2], "billing_while_stopped": "30 GB"}, {}),  # other types
        ({"saved_capacity": {"desired": 2}}, {"saved_capacity": {"desired": 2}}),
        ({"billing_while_stopped": {"volume_gb": 8}}, {"billing_while_stopped": {"volume_gb": 8}}),
    ],
)
def test_outcome_reads_only_the_keys_the_worker_keeps(details: dict[str, object] | None, expected: object) -> None:
    assert outcome(details) == expected


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"platform": "Windows", "tags": {"Name": "a"}}, {"platform": "Windows", "tags": {"Name": "a"}}),
        (None, {}),
        ("Windows", {}),  # written by hand: not a map
        ([{"platform": "Windows"}], {}),
        ({1: "x"}, {}),  # keys that are not strings
    ],
)
def test_stored_details_read_back_as_a_map(stored: object, expected: object) -> None:
    assert stored_details(stored) == expected
    data = {"schedule": "office", "details": stored} if stored is not None else {"schedule": "office"}
    rec = ResourceRecord.from_data("i-1", data)
    assert rec.details == expected and rec.schedule == "office"


def test_a_record_round_trips_with_its_details_and_intent() -> None:
    res = _resource("i-3", Observed.STOPPED, platform="Linux/UNIX")
    i = Item(res, None, _decision("start"))
    rec = with_intent(TARGET, i, NOW)
    rec.details = details_to_store(res)
    data = json.loads(json.dumps(rec.to_data()))  # as the state table's JSON attribute stores it
    back = ResourceRecord.from_data("i-3", data)
    assert back == rec
    assert back.intent is not None and back.intent["entry"]["details"] == {
        "platform": "Linux/UNIX",
        "tags": {"Name": "name-i-3", "Schedule": "office"},
    }
