"""Translating Instance Scheduler on AWS's stored items (pure: DynamoDB attribute values in, isched config out).

Expected days are written out from a calendar by hand: 1 March 2026 is a Sunday, 1 January 2026 a Thursday.
Europe/Berlin's clocks go forward on 29 March 2026 (02:00 -> 03:00) and back on 25 October 2026 (03:00 -> 02:00);
America/New_York's on 8 March and 1 November 2026 (back from 02:00 to 01:00).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from scheduler.engine import ConfigError, Evaluator, Kind, parse_field
from scheduler.migrate.instance_scheduler import (
    MAINTENANCE_FIELDS,
    ClockChange,
    Note,
    Translation,
    clock_changes,
    translate,
)

TODAY = date(2026, 1, 15)


def S(v: str) -> dict[str, str]:
    return {"S": v}


def SS(*v: str) -> dict[str, list[str]]:
    return {"SS": list(v)}


def B(v: bool) -> dict[str, bool]:
    return {"BOOL": v}


NULL = {"NULL": True}


def period(name: str, **attrs: Any) -> dict[str, Any]:
    return {"type": S("period"), "name": S(name), **attrs}


def schedule(name: str, **attrs: Any) -> dict[str, Any]:
    return {"type": S("schedule"), "name": S(name), **attrs}


def run(*items: dict[str, Any], default_timezone: str = "UTC") -> Translation:
    return translate(list(items), default_timezone=default_timezone, today=TODAY)


def notes(t: Translation, kind: str, name: str, *, zone: bool = False) -> list[Note]:
    """The notes on one item (without the note every zone-less schedule gets when the table has no default zone)."""
    return [n for n in t.notes if n.kind == kind and n.name == name and (zone or not n.text.startswith("no time zone"))]


def issues(*items: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        run(*items)
    return [str(i) for i in exc.value.issues]


# -- the grammar takes what Instance Scheduler stores: spaces around steps and items ------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "year", "month", "expected"),
    [
        (" oct-apr/ 3 ", Kind.MONTHS, 2026, 1, range(1, 32)),  # oct, jan, apr
        (" oct-apr/ 3 ", Kind.MONTHS, 2026, 2, ()),
        ("1 - 15 / 2", Kind.MONTHDAYS, 2026, 3, (1, 3, 5, 7, 9, 11, 13, 15)),
        ("* / 3", Kind.WEEKDAYS, 2026, 3, (1, 2, 5, 8, 9, 12, 15, 16, 19, 22, 23, 26, 29, 30)),  # mon, thu, sun
        ("mon - wed", Kind.WEEKDAYS, 2026, 3, (2, 3, 4, 9, 10, 11, 16, 17, 18, 23, 24, 25, 30, 31)),
        ("20-L / 5", Kind.MONTHDAYS, 2026, 3, (20, 25, 30)),
    ],
)
def test_spaces_around_steps_and_ranges(value: str, kind: Kind, year: int, month: int, expected: Any) -> None:
    assert parse_field(value, kind).days_of_month(year, month) == frozenset(expected)


# -- value shapes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weekdays",
    [SS("mon-fri"), S("mon-fri"), SS("mon-wed", "thu", "fri"), S("mon-wed, thu,fri"), {"L": [S("mon-fri")]}],
)
def test_day_fields_as_sets_lists_or_comma_strings(weekdays: dict[str, Any]) -> None:
    t = run(period("p", begintime=S("9:00"), endtime=S("17:00"), weekdays=weekdays), schedule("s", periods=SS("p")))
    ev = Evaluator.from_config(t.config, "s")
    assert ev.state_at(datetime(2026, 3, 6, 10, tzinfo=UTC)) == "running"  # Friday
    assert ev.state_at(datetime(2026, 3, 7, 10, tzinfo=UTC)) == "stopped"  # Saturday


def test_sets_are_stored_in_one_order() -> None:
    a = run(
        period("p", weekdays=SS("fri", "mon")), schedule("s", periods=SS("p", "q@t3.large")), period("q", months=S("*"))
    )
    b = run(period("p", weekdays=S("mon,fri")), schedule("s", periods=S(" q@t3.large , p")), period("q", months=S("*")))
    assert a.config.to_dict() == b.config.to_dict()
    assert a.config.to_dict()["schedules"]["s"]["periods"] == ["p", "q@t3.large"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(B(True), True), (B(False), False), (S("TRUE"), True), (S("false"), False), (S(" True "), True)],
)
def test_booleans(value: dict[str, Any], expected: bool) -> None:
    t = run(period("p", weekdays=S("mon")), schedule("s", periods=SS("p"), enforced=value, hibernate=value))
    s = t.config.schedules["s"]
    assert (s.enforced, s.hibernate) == (expected, expected)


@pytest.mark.parametrize("status", ["running", "RUNNING", "Running", " stopped "])
def test_override_status_in_any_case(status: str) -> None:
    t = run(schedule("s", override_status=S(status)))
    assert t.config.to_dict()["schedules"]["s"] == {"override_status": status.strip().lower()}


@pytest.mark.parametrize(("overwrite", "state"), [(B(True), "running"), (S("false"), "stopped")])
def test_legacy_overwrite(overwrite: dict[str, Any], state: str) -> None:
    assert run(schedule("s", overwrite=overwrite)).config.schedules["s"].override_status == state


@pytest.mark.parametrize("zone", [S(""), S("  "), NULL, None])
def test_empty_or_null_timezone_is_the_default_zone(zone: dict[str, Any] | None) -> None:
    attrs = {"timezone": zone} if zone is not None else {}
    t = run(period("p", begintime=S("09:00"), endtime=S("10:00")), schedule("s", periods=SS("p"), **attrs))
    assert "timezone" not in t.config.to_dict()["schedules"]["s"]
    berlin = run(
        period("p", begintime=S("09:00"), endtime=S("10:00")),
        schedule("s", periods=SS("p"), **attrs),
        default_timezone="Europe/Berlin",
    )
    at = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # 09:30 in Berlin (CET), 08:30 in UTC
    assert Evaluator.from_config(t.config, "s").state_at(at) == "stopped"
    assert Evaluator.from_config(berlin.config, "s").state_at(at) == "running"


# -- notes ---------------------------------------------------------------------------------------------------------


def test_overnight_and_2359_notes() -> None:
    t = run(
        period("night", begintime=S("22:00"), endtime=S("06:00")),
        period("late", begintime=S("17:00"), endtime=S("23:59")),
        schedule("s", periods=SS("night", "late"), use_maintenance_window=B(False)),
    )
    night = notes(t, "period", "night")
    assert len(night) == 1 and night[0].field == "endtime" and "overnight" in night[0].text
    late = notes(t, "period", "late")
    assert len(late) == 1 and "23:59" in late[0].text
    ev = Evaluator.from_config(t.config, "s")
    assert ev.state_at(datetime(2026, 3, 3, 3, tzinfo=UTC)) == "running"  # 03:00, in the night before


def test_dst_notes_name_the_days() -> None:
    t = run(
        period("early", begintime=S("02:30"), endtime=S("05:00"), weekdays=S("sun")),
        schedule("berlin", timezone=S("Europe/Berlin"), periods=SS("early"), use_maintenance_window=B(False)),
        schedule("utc", periods=SS("early"), use_maintenance_window=B(False)),
    )
    texts = [n.text for n in notes(t, "schedule", "berlin")]
    assert len(texts) == 2
    assert "does not exist on 2026-03-29" in texts[0] and "isched acts at 03:00" in texts[0]
    assert "occurs twice on 2026-10-25" in texts[1]
    assert notes(t, "schedule", "utc") == []
    (zone_note,) = notes(t, "schedule", "utc", zone=True)
    assert "default zone ('UTC' here)" in zone_note.text


def test_dst_note_only_on_matching_days() -> None:
    # Berlin's changes are on Sundays; a weekday period never meets them
    t = run(
        period("p", begintime=S("02:30"), endtime=S("05:00"), weekdays=S("mon-fri")),
        schedule("s", timezone=S("Europe/Berlin"), periods=SS("p"), use_maintenance_window=B(True)),
    )
    assert all("2026" not in n.text for n in notes(t, "schedule", "s"))


C = ClockChange


@pytest.mark.parametrize(
    ("zone", "year", "expected"),
    [
        ("Europe/Berlin", 2026, (C(date(2026, 3, 29), 120, 180, True), C(date(2026, 10, 25), 120, 180, False))),
        ("America/New_York", 2026, (C(date(2026, 3, 8), 120, 180, True), C(date(2026, 11, 1), 60, 120, False))),
        ("Australia/Lord_Howe", 2026, (C(date(2026, 4, 5), 90, 120, False), C(date(2026, 10, 4), 120, 150, True))),
        ("UTC", 2026, ()),
        ("Asia/Tokyo", 2026, ()),
    ],
)
def test_clock_changes(zone: str, year: int, expected: tuple[ClockChange, ...]) -> None:
    assert clock_changes(zone, year) == expected


def test_multi_digit_step_note() -> None:
    t = run(period("p", monthdays=S("1-31/10")), schedule("s", periods=SS("p"), use_maintenance_window=B(False)))
    (note,) = notes(t, "period", "p")
    assert note.field == "monthdays" and "last digit" in note.text
    assert t.config.periods["p"].days_of_month(2026, 3) == frozenset({1, 11, 21, 31})


def test_maintenance_windows() -> None:
    t = run(
        period("p", weekdays=S("mon")),
        schedule("set", periods=SS("p"), use_maintenance_window=B(True), ssm_maintenance_window=S("patch")),
        schedule("unset", periods=SS("p")),
        schedule("off", periods=SS("p"), use_maintenance_window=S("false")),
    )
    unset = notes(t, "schedule", "unset")
    assert [n.field for n in unset] == ["use_maintenance_window"] and "default is true" in unset[0].text
    assert notes(t, "schedule", "off") == []
    body = t.config.to_dict()["schedules"]["set"]
    if MAINTENANCE_FIELDS:
        assert body["use_maintenance_window"] is True and body["ssm_maintenance_windows"] == ["patch"]
    else:
        fields = {n.field: n.text for n in notes(t, "schedule", "set")}
        assert fields["use_maintenance_window"].startswith("not imported")
        assert fields["ssm_maintenance_window"].startswith("not imported: patch")
        assert "use_maintenance_window" not in body


def test_one_sided_period_in_an_enforced_schedule() -> None:
    t = run(
        period("morning", begintime=S("07:00")),
        schedule("s", periods=SS("morning"), enforced=B(True), use_maintenance_window=B(False)),
        schedule("lax", periods=SS("morning"), use_maintenance_window=B(False)),
    )
    (note,) = notes(t, "schedule", "s")
    assert note.field == "enforced" and "only a begintime" in note.text
    assert notes(t, "schedule", "lax") == []


def test_config_item_settings_are_notes() -> None:
    t = run(
        {
            "type": S("config"),
            "name": S("scheduler"),
            "tagname": S("Schedule"),
            "default_timezone": S("Europe/Paris"),
            "regions": SS("us-east-1", "eu-west-1"),
            "create_rds_snapshot": B(False),
            "started_tags": S("state=started"),
        },
        period("p", weekdays=S("mon")),
        schedule("s", periods=SS("p"), use_maintenance_window=B(False)),
    )
    assert t.settings["regions"] == "eu-west-1,us-east-1"
    fields = {n.field: n.text for n in notes(t, "config", "scheduler")}
    assert set(fields) == {"default_timezone", "regions", "create_rds_snapshot", "started_tags"}
    assert "Europe/Paris" in fields["default_timezone"] and "DefaultTimezone" in fields["default_timezone"]
    assert "Regions" in fields["regions"]
    (zone_note,) = notes(t, "schedule", "s", zone=True)
    assert "'Europe/Paris'" in zone_note.text


# -- refusals ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "path", "words"),
    [
        ([period("p", weekdays=S("mon-fry"))], "periods.p.weekdays", "'fry'"),
        ([period("office hours", weekdays=S("mon"))], "periods.office hours", "not a valid period name"),
        ([schedule("s", periods=SS("missing"))], "schedules.s.periods", "'missing' is not a defined period"),
        ([period("p", begintime=S("25:00"))], "periods.p.begintime", "'25:00'"),
        ([schedule("s", override_status=S("paused"))], "schedules.s.override_status", "'paused'"),
        ([schedule("s", override_status=S("running"), enforced={"N": "1"})], "schedules.s.enforced", "DynamoDB N"),
        ([schedule("s", override_status=S("running"), hibernate=S("yes please"))], "schedules.s.hibernate", "true"),
        ([schedule("s", timezone=S("Mars/Base"), override_status=S("running"))], "schedules.s.timezone", "IANA"),
        ([schedule("s", overwrite=B(True), override_status=S("running"))], "schedules.s", "both"),
        ([period("p", weekdays=SS(*(f"{i}" for i in range(500))))], "periods.p.weekdays", "500 items"),
        ([period("p", description=S("x" * 50_000))], "periods.p.description", "too long"),
        ([period("p", weekdays={"M": {}})], "periods.p.weekdays", "DynamoDB M"),
        ([{"type": S("instance"), "name": S("i-1")}], "items[0] ('i-1')", "unknown type 'instance'"),
        ([{"type": S("period")}], "items[0]", "no type or no name"),
        ([{"type": {"N": "1"}, "name": S("x")}], "items[0]", "not a string"),
        (["not an item"], "items[0]", "not a DynamoDB item"),
    ],
)
def test_refusals_name_the_item(items: list[Any], path: str, words: str) -> None:
    found = issues(*items)
    assert any(i.startswith(f"{path}:") and words in i for i in found), found


def test_every_bad_item_is_reported_at_once() -> None:
    found = issues(period("a", weekdays=S("xyz")), period("b", months=S("jan-xyz")), period("ok", weekdays=S("mon")))
    assert [i.split(":")[0] for i in found] == ["periods.a.weekdays", "periods.b.months"]


def test_hostile_text_is_bounded_in_messages() -> None:
    found = issues(period("p", weekdays=S("\x1b[31m" + "x" * 400)))
    assert all("\x1b" not in i and len(i) < 600 for i in found)


def test_dst_notes_look_ahead_from_today() -> None:
    items = [
        period("early", begintime=S("02:30"), endtime=S("05:00"), weekdays=S("sun")),
        schedule("s", timezone=S("Europe/Berlin"), periods=SS("early"), use_maintenance_window=B(False)),
    ]
    t = translate(items, today=date(2026, 12, 6))
    texts = [n.text for n in notes(t, "schedule", "s")]
    assert len(texts) == 2
    assert "does not exist on 2027-03-28" in texts[0] and "occurs twice on 2027-10-31" in texts[1]
