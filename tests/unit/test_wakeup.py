"""Exact-time transitions (issue 13): clock-aligned pass boundaries, the next transition across the schedules in
use, the wake-up a pass asks for; and the default zone of schedules that name none (engine, settings, CLI)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from scheduler.engine import Transition, parse_text
from scheduler.engine.wakeup import (
    ALLOWED_INTERVALS,
    Upcoming,
    check_interval,
    cron_expression,
    evaluators,
    is_pass_boundary,
    next_pass_boundary,
    next_transition,
    wake_up_at,
    wake_up_instant,
)
from scheduler.handlers.common import SettingsError, env_default_timezone
from scheduler.handlers.events import ScheduledEvent, WakeUpSettings


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# Monday 2026-03-02 .. : Berlin is UTC+1 until the spring change on Sunday 2026-03-29 (02:00 -> 03:00 local).
CONFIG = parse_text(
    """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  early: {begintime: "08:47", endtime: "17:13", weekdays: mon-fri}
  gap: {begintime: "02:30", endtime: "03:30"}
  kick: {begintime: "06:07"}
  cron-batch: {start: "3 22 * * *", stop: "33 23 * * *"}
schedules:
  berlin: {periods: [office], timezone: Europe/Berlin}
  early-utc: {periods: [early], timezone: UTC, holidays: ["2026-03-04"]}
  dst: {periods: [gap], timezone: Europe/Berlin}
  events: {periods: [kick], timezone: UTC}
  batch: {periods: [cron-batch], timezone: UTC}
  always: {override_status: running}
  nozone: {periods: [office]}
"""
)


@pytest.mark.parametrize(
    ("names", "after", "until", "expected"),
    [
        # Berlin 09:00 = 08:00Z; the first of several schedules wins.
        (["berlin", "early-utc"], "2026-03-02T07:00:00Z", "2026-03-03T00:00:00Z", ("berlin", "08:00", "start")),
        (["early-utc"], "2026-03-02T07:00:00Z", "2026-03-03T00:00:00Z", ("early-utc", "08:47", "start")),
        (["early-utc"], "2026-03-02T08:47:00Z", "2026-03-03T00:00:00Z", ("early-utc", "17:13", "stop")),  # after
        # A listed holiday (Wednesday 4 March) has no transitions: Tuesday's stop, then Thursday's start.
        (["early-utc"], "2026-03-03T17:13:00Z", "2026-03-06T00:00:00Z", ("early-utc", "2026-03-05T08:47", "start")),
        # The spring change: 02:30 does not exist on 29 March, so the window starts at the jump (01:00Z) and ends
        # at 03:30 CEST (01:30Z); the day before it was 01:30Z-02:30Z.
        (["dst"], "2026-03-28T12:00:00Z", "2026-03-30T00:00:00Z", ("dst", "2026-03-29T01:00", "start")),
        (["dst"], "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", ("dst", "2026-03-29T01:30", "stop")),
        (["dst"], "2026-03-27T12:00:00Z", "2026-03-30T00:00:00Z", ("dst", "2026-03-28T01:30", "start")),
        # Events: a one-sided period and a cron window.
        (["events"], "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", ("events", "06:07", "start")),
        (["batch"], "2026-03-02T22:03:00Z", "2026-03-03T00:00:00Z", ("batch", "23:33", "stop")),
        # No transitions: an override has none, an empty set has none, nothing inside a short span.
        (["always"], "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z", None),
        ([], "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z", None),
        (["berlin"], "2026-03-02T08:00:00Z", "2026-03-02T16:00:00Z", None),  # (after, until): both ends excluded
    ],
)
def test_next_transition_across_the_schedules_in_use(names, after, until, expected):
    found = next_transition(evaluators(CONFIG, names), z(after), z(until))
    if expected is None:
        assert found is None
        return
    schedule, when, action = expected
    day = "2026-03-02T" if "T" not in when else ""
    assert found is not None
    assert (found.schedule, found.at, found.transition.action) == (schedule, z(f"{day}{when}:00Z"), action)


def test_names_not_in_the_configuration_are_ignored_and_all_schedules_are_the_default():
    assert [e.schedule.name for e in evaluators(CONFIG, ["berlin", "gone"])] == ["berlin"]
    assert len(evaluators(CONFIG)) == len(CONFIG.schedules)


@pytest.mark.parametrize(
    ("default", "expected"),
    [("UTC", "2026-03-02T09:00:00Z"), ("Europe/Berlin", "2026-03-02T08:00:00Z"), ("Asia/Kolkata", None)],
)
def test_a_schedule_without_a_zone_follows_the_default_zone(default, expected):
    config = CONFIG.with_default_timezone(default)
    found = next_transition(evaluators(config, ["nozone"]), z("2026-03-02T06:00:00Z"), z("2026-03-02T12:00:00Z"))
    # Kolkata is UTC+5:30: its 09:00 is 03:30Z, before the span; its 17:00 stop (11:30Z) is the next transition.
    if expected is None:
        assert found is not None and (found.at, found.transition.action) == (z("2026-03-02T11:30:00Z"), "stop")
    else:
        assert found is not None and (found.at, found.transition.action) == (z(expected), "start")


@pytest.mark.parametrize(
    ("at", "interval", "boundary", "next_boundary"),
    [
        ("2026-03-02T09:00:00Z", 5, True, "2026-03-02T09:05:00Z"),
        ("2026-03-02T09:02:00Z", 5, False, "2026-03-02T09:05:00Z"),
        ("2026-03-02T09:05:30Z", 5, False, "2026-03-02T09:10:00Z"),
        ("2026-03-02T09:45:00Z", 15, True, "2026-03-02T10:00:00Z"),
        ("2026-03-02T23:59:00Z", 60, False, "2026-03-03T00:00:00Z"),
        ("2026-03-02T09:07:00Z", 1, True, "2026-03-02T09:08:00Z"),
        ("2026-03-02T10:00:00+01:00", 60, True, "2026-03-02T10:00:00Z"),  # instants, whatever the offset
    ],
)
def test_pass_boundaries_are_on_the_utc_clock(at, interval, boundary, next_boundary):
    assert is_pass_boundary(z(at), interval) is boundary
    assert next_pass_boundary(z(at), interval) == z(next_boundary)


@pytest.mark.parametrize(
    ("interval", "expression"),
    [(1, "cron(0/1 * * * ? *)"), (5, "cron(0/5 * * * ? *)"), (30, "cron(0/30 * * * ? *)"), (60, "cron(0 * * * ? *)")],
)
def test_cron_expressions(interval, expression):
    assert cron_expression(interval) == expression


@pytest.mark.parametrize("interval", [0, 7, 45, 61, 90, -5])
def test_intervals_that_do_not_divide_an_hour_are_refused(interval):
    with pytest.raises(ValueError, match=f"{interval} is not a pass interval"):
        check_interval(interval)
    assert all(60 % i == 0 for i in ALLOWED_INTERVALS)


@pytest.mark.parametrize(
    ("pass_at", "interval", "expected"),
    [
        ("2026-03-02T08:45:00Z", 5, ("early-utc", "2026-03-02T08:47:00Z")),  # between 08:45 and 08:50
        ("2026-03-02T08:40:00Z", 5, None),  # 08:47 is after the next pass (08:45), which asks for it
        ("2026-03-02T07:55:00Z", 5, None),  # Berlin's 09:00 is the 08:00 pass itself
        ("2026-03-02T08:47:00Z", 5, None),  # the wake-up's own pass: nothing more before 08:50
        ("2026-03-02T08:30:00Z", 30, ("early-utc", "2026-03-02T08:47:00Z")),
        ("2026-03-02T08:46:00Z", 1, None),  # every minute is a pass
        ("2026-03-02T06:05:00Z", 5, ("events", "2026-03-02T06:07:00Z")),
        ("2026-03-29T00:55:00Z", 5, None),  # the DST jump start (01:00Z) is on a boundary
        ("2026-03-29T01:00:00Z", 60, ("dst", "2026-03-29T01:30:00Z")),
    ],
)
def test_the_wake_up_a_pass_asks_for(pass_at, interval, expected):
    names = ["berlin", "early-utc", "events", "dst"]
    got = wake_up_at(evaluators(CONFIG, names), z(pass_at), interval)
    if expected is None:
        assert got is None
    else:
        assert got is not None and (got.schedule, wake_up_instant(got)) == (expected[0], z(expected[1]))


def test_a_transition_off_the_minute_wakes_up_at_the_next_minute():
    odd = Upcoming("s", Transition(z("2026-03-02T09:02:30Z"), 0, "start", "window"))
    assert wake_up_instant(odd) == z("2026-03-02T09:03:00Z")
    whole = Upcoming("s", Transition(z("2026-03-02T09:02:00Z"), 0, "start", "window"))
    assert wake_up_instant(whole) == z("2026-03-02T09:02:00Z")
    assert whole.to_json() == {"schedule": "s", "at": "2026-03-02T09:02:00Z", "action": "start"}


def test_every_transition_of_a_week_gets_a_pass_at_its_minute():
    """Regular passes every 5 minutes plus the wake-ups they ask for: each transition's minute is a pass time."""
    evs = evaluators(CONFIG)
    start, end = z("2026-03-23T00:00:00Z"), z("2026-03-30T00:00:00Z")
    passes: set[datetime] = set()
    t = start
    while t < end:
        passes.add(t)
        wake = wake_up_at(evs, t, 5)
        if wake is not None:
            nxt = wake_up_instant(wake)
            # A wake-up pass asks again, until the next boundary.
            while nxt is not None:
                passes.add(nxt)
                again = wake_up_at(evs, nxt, 5)
                nxt = wake_up_instant(again) if again else None
        t += timedelta(minutes=5)
    transitions = [tr.at for ev in evs for tr in ev.transitions(start, end)]
    assert len(transitions) > 50
    assert all(wake_up_instant(Upcoming("x", Transition(a, 0, "start", "window"))) in passes for a in transitions)


# --- settings and events ------------------------------------------------------------------------------------------

WAKE = {
    "ISCHED_WAKEUP_GROUP": "isched-default",
    "ISCHED_WAKEUP_ROLE_ARN": "arn:aws:iam::123456789012:role/isched-default-scheduler-eu-west-1",
    "ISCHED_WAKEUP_TARGET_ARN": "arn:aws:lambda:eu-west-1:123456789012:function:isched-default-orchestrator",
}


def test_wake_up_settings_from_the_environment():
    assert WakeUpSettings.from_env({}) is None
    got = WakeUpSettings.from_env({**WAKE, "ISCHED_PASS_INTERVAL": "15"})
    assert got is not None and got.interval == 15 and got.group == "isched-default"


@pytest.mark.parametrize(
    ("env", "variable", "needle"),
    [
        ({**WAKE, "ISCHED_PASS_INTERVAL": "7"}, "ISCHED_PASS_INTERVAL", "'7' is not a pass interval"),
        ({**WAKE, "ISCHED_PASS_INTERVAL": "five"}, "ISCHED_PASS_INTERVAL", "'five'"),
        ({**WAKE, "ISCHED_WAKEUP_GROUP": ""}, "ISCHED_WAKEUP_GROUP", "is not set"),
        ({**WAKE, "ISCHED_WAKEUP_ROLE_ARN": "isched-role"}, "ISCHED_WAKEUP_ROLE_ARN", "'isched-role' is not an IAM"),
        ({**WAKE, "ISCHED_WAKEUP_TARGET_ARN": "arn:aws:sns:x"}, "ISCHED_WAKEUP_TARGET_ARN", "not a Lambda function"),
        ({**WAKE, "ISCHED_WAKEUP_GROUP": "a/b"}, "ISCHED_WAKEUP_GROUP", "'a/b' is not a schedule group"),
    ],
)
def test_bad_wake_up_settings_name_the_variable_and_value(env, variable, needle):
    with pytest.raises(SettingsError) as exc:
        WakeUpSettings.from_env(env)
    assert exc.value.variable == variable and needle in str(exc.value)


@pytest.mark.parametrize(("value", "expected"), [("", "UTC"), ("Europe/Berlin", "Europe/Berlin"), (" UTC ", "UTC")])
def test_default_timezone_from_the_environment(value, expected):
    assert env_default_timezone({"ISCHED_DEFAULT_TIMEZONE": value}) == expected


@pytest.mark.parametrize("value", ["Mars/Base", "../etc/passwd", "localtime", "Europe/Berlin/x"])
def test_a_default_timezone_that_is_not_a_zone_is_refused(value):
    with pytest.raises(SettingsError) as exc:
        env_default_timezone({"ISCHED_DEFAULT_TIMEZONE": value})
    assert exc.value.variable == "ISCHED_DEFAULT_TIMEZONE" and "is not an IANA time zone" in str(exc.value)


def test_the_wake_up_payload_is_a_pass_at_its_minute():
    now = z("2026-03-02T09:02:04Z")
    event = {"source": "isched.wake-up", "time": "2026-03-02T09:02:00Z", "id": "d32c5kddcf5bb8c3"}
    got = ScheduledEvent.from_event(event, now=now)
    assert got.at == z("2026-03-02T09:02:00Z") and got.is_wake_up and got.id == "d32c5kddcf5bb8c3"
    regular = ScheduledEvent.from_event({**event, "source": "isched.pass"}, now=now)
    assert not regular.is_wake_up


# --- the CLI's --default-timezone ----------------------------------------------------------------------------------

NOZONE = "periods:\n  office: {begintime: '09:00', endtime: '17:00'}\nschedules:\n  office: {periods: [office]}\n"


@pytest.mark.parametrize(
    ("args", "env", "state", "zone"),
    [
        ([], None, "stopped", "UTC"),  # 08:30Z is 08:30 UTC
        (["--default-timezone", "Europe/Berlin"], None, "running", "Europe/Berlin"),  # 09:30 in Berlin
        ([], "Europe/Berlin", "running", "Europe/Berlin"),
        (["--default-timezone", "UTC"], "Europe/Berlin", "stopped", "UTC"),  # the option wins over the env
    ],
)
def test_cli_default_timezone(run, write, monkeypatch, args, env, state, zone):
    if env is not None:
        monkeypatch.setenv("ISCHED_DEFAULT_TIMEZONE", env)
    else:
        monkeypatch.delenv("ISCHED_DEFAULT_TIMEZONE", raising=False)
    path = write(NOZONE)
    r = run(*args, "schedule", "state", "office", "--at", "2026-03-02T08:30:00Z", "--file", path, "--json")
    assert r.code == 0 and r.json()["state"] == state
    body = run(
        *args, "schedule", "preview", "office", "--from", "2026-03-02", "--to", "2026-03-02", "-f", path, "--json"
    )
    assert body.json()["timezone"] == zone


@pytest.mark.parametrize("value", ["Mars/Base", "Europe/Berlni", "../../etc/passwd"])
def test_cli_refuses_a_default_timezone_that_is_not_a_zone(run, write, value):
    r = run(
        "--default-timezone",
        value,
        "--json",
        "schedule",
        "state",
        "office",
        "--at",
        "2026-03-02T08:30:00Z",
        "--file",
        write(NOZONE),
    )
    assert r.code == 2
    (issue,) = r.json()["issues"]
    assert issue["path"] == "--default-timezone" and value in issue["message"]
