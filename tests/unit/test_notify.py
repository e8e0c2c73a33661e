"""Notifications (issue 14): the schedule's notify_before, the next stop the engine announces, and the EventBridge
sink (bus names, PutEvents batches at their maxima, a failed entry retried once), with a stubbed client."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from scheduler.engine import ConfigError, Evaluator, parse_text
from scheduler.runtime.notify import (
    ACTION,
    MAX_ENTRIES,
    MAX_REQUEST_BYTES,
    Event,
    EventBridgeSink,
    batches,
    check_bus,
    entry_size,
    upcoming_stop,
)
from scheduler.store.state import Target


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def config(extra: str) -> Any:
    return parse_text(
        f"""
periods:
  office: {{begintime: "09:00", endtime: "17:00", weekdays: mon-fri}}
  lunch-stop: {{endtime: "12:30", weekdays: mon-fri}}
schedules:
  s: {{periods: [office], timezone: Europe/Berlin{extra}}}
"""
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (15, 15), (1440, 1440), ("30", 30), (" 45 ", 45), (None, None)],
)
def test_notify_before_accepted(value: object, expected: int | None) -> None:
    text = "" if value is None else f", notify_before: {json.dumps(value)}"
    sched = config(text).schedules["s"]
    assert sched.notify_before == expected
    assert sched.to_dict().get("notify_before") == expected  # exported as stored


@pytest.mark.parametrize("value", [0, -5, 1441, 2.5, "15m", "", "abc", True, [15], "١٢"])
def test_notify_before_refused_naming_field_and_value(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        config(f", notify_before: {json.dumps(value)}")
    issue = info.value.issues[0]
    assert issue.path == "schedules.s.notify_before"
    assert "minutes from 1 to 1440" in issue.message


# Berlin is UTC+1 in March 2026: the office stop at 17:00 local is 16:00Z; Monday 2026-03-02.
@pytest.mark.parametrize(
    ("extra", "now", "expected"),
    [
        (", notify_before: 15", "2026-03-02T15:44:00Z", None),  # 16 minutes ahead: not yet
        (", notify_before: 15", "2026-03-02T15:45:00Z", "2026-03-02T16:00:00Z"),  # exactly 15 minutes: due
        (", notify_before: 15", "2026-03-02T15:59:00Z", "2026-03-02T16:00:00Z"),
        (", notify_before: 15", "2026-03-02T16:00:00Z", None),  # the stop itself: (now, now + 15] is after it
        ("", "2026-03-02T15:50:00Z", None),  # no notify_before: nothing to announce
        (", notify_before: 1440", "2026-03-02T16:00:00Z", "2026-03-03T16:00:00Z"),  # a day ahead
        (", notify_before: 1440", "2026-03-06T16:00:00Z", None),  # Friday's stop passed; Monday's is 3 days off
        (", notify_before: 15, override_status: running", "2026-03-02T15:50:00Z", None),  # no stops at all
    ],
)
def test_upcoming_stop_in_pass_view(extra: str, now: str, expected: str | None) -> None:
    cfg = config(extra)
    view = Evaluator.from_config(cfg, "s").pass_view(None, z(now))
    assert view.upcoming_stop == (z(expected) if expected else None)


def test_one_sided_stop_event_is_announced_and_start_is_not() -> None:
    cfg = parse_text(
        """
periods:
  lunch-stop: {endtime: "12:30", weekdays: mon-fri}
  early: {begintime: "12:20", weekdays: mon-fri}
schedules:
  s: {periods: [lunch-stop, early], notify_before: 20}
"""
    )
    ev = Evaluator.from_config(cfg, "s")
    assert ev.first_stop(z("2026-03-02T12:10:00Z"), z("2026-03-02T12:30:00Z")) == z("2026-03-02T12:30:00Z")
    assert ev.pass_view(None, z("2026-03-02T12:10:00Z")).upcoming_stop == z("2026-03-02T12:30:00Z")
    assert ev.first_stop(z("2026-03-02T12:00:00Z"), z("2026-03-02T12:25:00Z")) is None  # only the 12:20 start


def test_upcoming_stop_event_shape() -> None:
    event = upcoming_stop(Target("111111111111", "eu-west-1", "ec2"), "i-0abc", "office", z("2026-03-02T16:00:00Z"))
    assert event.detail_type == "Upcoming Stop"
    assert dict(event.detail) == {
        "account": "111111111111",
        "region": "eu-west-1",
        "service": "ec2",
        "resource": "i-0abc",
        "schedule": "office",
        "at": "2026-03-02T16:00:00Z",
        "override_until": "2026-03-02T17:00:00Z",
        "override_command": "isched override i-0abc --state running --until 2026-03-02T17:00:00Z",
        "override_tag": "isched:override=running@2026-03-02T17:00:00Z",
    }
    # A name with shell metacharacters (an ASG name may have spaces) is quoted in the command.
    odd = upcoming_stop(Target("1" * 12, "eu-west-1", "asg"), "web tier;rm", "s", z("2026-03-02T16:00:00Z"))
    assert odd.detail["override_command"].startswith("isched override 'web tier;rm' --state running")


@pytest.mark.parametrize(
    "bus",
    ["default", "isched-events", "a.b_c/d", "arn:aws:events:eu-west-1:123456789012:event-bus/isched-events"],
)
def test_bus_names_accepted(bus: str) -> None:
    assert check_bus(bus) == bus


@pytest.mark.parametrize("bus", ["", "bad bus", "x" * 257, "bus\n", "arn:aws:sqs:eu-west-1:123456789012:q", "ü"])
def test_bus_names_refused(bus: str) -> None:
    with pytest.raises(ValueError, match="not an event bus name"):
        check_bus(bus)


def _events(n: int, size: int = 10) -> list[tuple[Event, dict[str, Any]]]:
    out = []
    for k in range(n):
        e = Event(ACTION, {"resource": f"i-{k}", "pad": "x" * size}, f"i-{k}")
        out.append((e, e.entry("b")))
    return out


def test_batches_at_ten_entries_and_256_kb() -> None:
    assert [len(b) for b in batches(_events(23))] == [10, 10, 3]
    # Entries of ~100 KB: two fit in a request (256 KB), three do not.
    big = _events(5, size=100_000)
    sizes = [sum(entry_size(x) for _, x in b) for b in batches(big)]
    assert [len(b) for b in batches(big)] == [2, 2, 1]
    assert all(s <= MAX_REQUEST_BYTES for s in sizes)
    # The size is AWS's: source + detail-type + detail in UTF-8 bytes.
    e = Event(ACTION, {"r": "é"}, None)
    assert entry_size(e.entry("b")) == len("isched") + len(ACTION) + len('{"r":"é"}'.encode())
    assert MAX_ENTRIES == 10


def _sink() -> tuple[EventBridgeSink, Stubber]:
    session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="eu-west-1")
    sink = EventBridgeSink("isched-events", session)
    return sink, Stubber(sink.client)


def _ok(n: int) -> dict[str, Any]:
    return {"FailedEntryCount": 0, "Entries": [{"EventId": f"e{k}"} for k in range(n)]}


def test_a_failed_entry_is_retried_once_then_published() -> None:
    sink, stub = _sink()
    events = [e for e, _ in _events(12)]
    entries = [e.entry("isched-events") for e in events]
    first = _ok(10)
    first["FailedEntryCount"] = 1
    first["Entries"][3] = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
    stub.add_response("put_events", first, {"Entries": entries[:10]})
    stub.add_response("put_events", _ok(2), {"Entries": entries[10:]})
    stub.add_response("put_events", _ok(1), {"Entries": [entries[3]]})  # the retry: only the failed entry
    with stub:
        assert sink.publish(events) == []
    stub.assert_no_pending_responses()


def test_an_entry_failing_twice_is_reported_and_the_others_are_published() -> None:
    sink, stub = _sink()
    events = [e for e, _ in _events(3)]
    entries = [e.entry("isched-events") for e in events]
    failed = {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
    stub.add_response(
        "put_events",
        {"FailedEntryCount": 1, "Entries": [{"EventId": "a"}, failed, {"EventId": "c"}]},
        {"Entries": entries},
    )
    stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [failed]}, {"Entries": [entries[1]]})
    with stub:
        failures = sink.publish(events)
    assert [(f.event.resource, f.error) for f in failures] == [("i-1", "ThrottlingException: slow down")]


def test_a_failed_call_fails_its_entries_after_one_retry() -> None:
    sink, stub = _sink()
    events = [e for e, _ in _events(2)]
    stub.add_client_error("put_events", "ResourceNotFoundException", "Event bus isched-events does not exist.")
    stub.add_client_error("put_events", "ResourceNotFoundException", "Event bus isched-events does not exist.")
    with stub:
        failures = sink.publish(events)
    assert [f.event.resource for f in failures] == ["i-0", "i-1"]
    assert all("ResourceNotFoundException" in f.error for f in failures)


def test_an_event_too_large_for_any_request_is_not_sent() -> None:
    sink, stub = _sink()
    huge = Event(ACTION, {"pad": "x" * MAX_REQUEST_BYTES}, "i-huge")
    small = Event(ACTION, {"r": "i-1"}, "i-1")
    stub.add_response("put_events", _ok(1), {"Entries": [small.entry("isched-events")]})
    with stub:
        failures = sink.publish([huge, small])
    assert [f.event.resource for f in failures] == ["i-huge"]
    assert "larger than" in failures[0].error


def test_a_bus_arn_is_called_in_its_own_region() -> None:
    session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1")
    sink = EventBridgeSink("arn:aws:events:eu-central-1:123456789012:event-bus/b", session)
    assert sink.client.meta.region_name == "eu-central-1"
