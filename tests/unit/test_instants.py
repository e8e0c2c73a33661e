"""Instants as stored text: one written form (instant_text), every form stored so far read back (parse_instant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.engine import MaintenanceHold, instant_text, iso_z, parse_instant
from scheduler.runtime.ledger_entries import between
from scheduler.services.ssm_windows import Execution
from scheduler.store.state import ResourceRecord, _hold, _stamp, hold_data, ledger_key, legacy_ledger_key

AT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)

offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
# Any instant from 1970 to 2999, written with any UTC offset (the input need not be UTC).
instants = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 30), timezones=offsets)


@given(instants)
def test_instant_text_round_trips_and_is_fixed_width_utc(t: datetime) -> None:
    text = instant_text(t)
    assert parse_instant(text) == t
    assert parse_instant(text).utcoffset() == timedelta(0)
    assert len(text) == 27 and text.endswith("Z") and text[19] == "."


@given(instants, instants)
def test_string_order_is_time_order(a: datetime, b: datetime) -> None:
    ta, tb = instant_text(a), instant_text(b)
    assert (ta < tb) == (a < b)
    assert (ta == tb) == (a == b)


@given(instants)
def test_every_older_form_of_an_instant_reads_back_the_same(t: datetime) -> None:
    u = t.astimezone(UTC)
    older = [
        u.isoformat(),  # datetime.isoformat(): "+00:00", microseconds only when not zero
        t.isoformat(),  # with the offset it was made with
        u.isoformat().replace("+00:00", "Z"),
        str(u),  # a space for the T
        u.strftime("%Y-%m-%dT%H:%M:%S.%f+0000"),  # PynamoDB's UTCDateTimeAttribute
    ]
    assert {parse_instant(text) for text in older} == {u}


SAME = AT + timedelta(microseconds=250000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-03T09:00:00+00:00", AT),  # worker now_text, decided_at, holds, ledger "at" before instant_text
        ("2026-11-03T09:00:00.250000+00:00", SAME),
        ("2026-11-03T09:00:00Z", AT),  # iso_z (display form; the worker payload and pass scope before)
        ("2026-11-03T09:00:00.000000Z", AT),  # instant_text (pass stamps all along)
        ("2026-11-03T09:00:00.250000Z", SAME),
        ("2026-11-03T10:00:00+01:00", AT),  # an offset other than UTC
        ("2026-11-03T04:00:00-05:00", AT),
        ("2026-11-03T09:00:00.250+00:00", SAME),  # milliseconds
        ("2026-11-03 09:00:00+00:00", AT),  # str(datetime)
        ("2026-11-03T09:00:00.000000+0000", AT),  # PynamoDB's UTCDateTimeAttribute
        ("2026-11-03T09:00Z", AT),  # no seconds
    ],
)
def test_stored_forms_parse_to_the_same_instant(text: str, expected: datetime) -> None:
    got = parse_instant(text)
    assert got == expected and got.tzinfo is UTC
    assert instant_text(got) == instant_text(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-11-03",  # a date is not an instant
        "2026-11-03T09:00:00",  # no offset: ambiguous
        "2026-11-03T09:00:00.000000",
        "20261103T090000Z",  # basic format: never stored
        "2026-11-03T25:00:00Z",
        "2026-13-03T09:00:00Z",
        "2026-11-03T09:00:00\x00Z",
        "2026-11-03T09:00:00Z" + " " * 40,
        "２０２６-11-03T09:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "yesterday",
    ],
)
def test_what_is_not_a_stored_instant_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(text)


def test_parse_instant_refuses_what_is_not_text() -> None:
    with pytest.raises(ValueError):
        parse_instant(1762160400)  # type: ignore[arg-type]


def test_instant_text_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        instant_text(datetime(2026, 11, 3, 9))


def test_iso_z_stays_the_display_form() -> None:
    assert iso_z(SAME.astimezone(timezone(timedelta(hours=2)))) == "2026-11-03T09:00:00Z"
    assert instant_text(SAME) == "2026-11-03T09:00:00.250000Z"


def _entry(at: str, action: str = "stop") -> dict[str, Any]:
    return {"at": at, "target": "111111111111#eu-west-1#ec2", "resource": "i-0abc", "action": action}


@pytest.mark.parametrize(
    "at",
    ["2026-11-03T09:00:00+00:00", "2026-11-03T09:00:00Z", "2026-11-03T09:00:00.000000Z", "2026-11-03T10:00:00+01:00"],
)
def test_ledger_key_is_the_same_for_every_form_of_an_instant(at: str) -> None:
    assert ledger_key(_entry(at)) == ("2026-11", "2026-11-03T09:00:00.000000Z#111111111111#eu-west-1#ec2#i-0abc#stop")
    # The key the build before instant_text wrote for the same entry (it used datetime.isoformat() in UTC).
    old = datetime.fromisoformat(at).astimezone(UTC)
    assert legacy_ledger_key(_entry(at)) == ("2026-11", f"{old.isoformat()}#111111111111#eu-west-1#ec2#i-0abc#stop")


def test_ledger_keys_sort_in_time_order_across_input_forms() -> None:
    texts = ["2026-11-03T09:00:00.5+00:00", "2026-11-03T09:00:00Z", "2026-11-03T08:59:59.999999-00:00"]
    keys = sorted(ledger_key(_entry(t))[1] for t in texts)
    assert [parse_instant(k.split("#")[0]) for k in keys] == sorted(parse_instant(t) for t in texts)


def test_month_is_the_utc_month_of_the_instant() -> None:
    assert ledger_key(_entry("2026-12-01T00:30:00+01:00"))[0] == "2026-11"


@pytest.mark.parametrize(
    ("since", "text", "until", "expected"),
    [
        ("2026-11-03T08:00:00+00:00", "2026-11-03T08:30:00.000000Z", "2026-11-03T09:00:00.000000Z", True),
        # As strings "2026-11-03T09:00:00+00:00" < "2026-11-03T09:00:00.000000Z": as instants they are equal.
        ("2026-11-03T09:00:00+00:00", "2026-11-03T09:00:00.000000Z", "2026-11-03T10:00:00Z", False),
        ("2026-11-03T08:00:00.000000Z", "2026-11-03T10:00:00+01:00", "2026-11-03T09:00:00.000000Z", True),
        ("2026-11-03T08:00:00.000000Z", "2026-11-03T09:00:01+00:00", "2026-11-03T09:00:00.000000Z", False),
        ("not a time", "2026-11-03T08:30:00Z", "2026-11-03T09:00:00Z", False),
    ],
)
def test_worker_compares_stored_instants_as_instants(since: str, text: str, until: str, expected: bool) -> None:
    assert between(since, text, until) is expected


def test_holds_and_decisions_are_written_as_instant_text_and_read_in_the_older_form() -> None:
    hold = MaintenanceHold("patching", AT, AT + timedelta(hours=1), True)
    data = hold_data(hold)
    assert (data["since"], data["until"]) == ("2026-11-03T09:00:00.000000Z", "2026-11-03T10:00:00.000000Z")
    assert _hold(data) == hold
    older = {"window": "patching", "since": AT.isoformat(), "until": (AT + timedelta(hours=1)).isoformat()}
    assert _hold({**older, "started": True}) == hold
    rec = ResourceRecord("i-0abc", desired="stopped", decided_at="2026-11-03T09:00:00+00:00", maintenance=older)
    state = rec.engine_state
    assert state.decided_at == AT and state.maintenance == MaintenanceHold("patching", AT, hold.until, False)
    assert rec.with_engine_state(state).decided_at == "2026-11-03T09:00:00.000000Z"


def test_ssm_executions_are_written_as_instant_text_and_read_in_the_older_form() -> None:
    ex = Execution("mw-1", AT, AT + timedelta(hours=2))
    assert ex.to_data()["start"] == "2026-11-03T09:00:00.000000Z"
    assert Execution.from_data(ex.to_data()) == ex
    assert Execution.from_data({"name": "mw-1", "start": AT.isoformat(), "end": "2026-11-03T11:00:00Z"}) == ex
    assert Execution.from_data({"name": "mw-1", "start": "2026-11-03T09:00:00", "end": "2026-11-03T11:00:00Z"}) is None


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-11-03T09:00:00.000000Z", AT),
        (None, None),
        # Pass stamps are compared as strings by DynamoDB conditions: only instant_text's form is taken as a time.
        ("2026-11-03T09:00:00+00:00", datetime.max.replace(tzinfo=UTC)),
        ("2026-11-03T09:00:00Z", datetime.max.replace(tzinfo=UTC)),
        ("garbage", datetime.max.replace(tzinfo=UTC)),
    ],
)
def test_pass_stamps_are_read_only_in_the_fixed_width_form(stored: str | None, expected: datetime | None) -> None:
    assert _stamp(stored) == expected
