"""Maintenance windows (SPEC §2 rule 7): the RDS preferred window as intervals, SSM schedules read as executions, the
schedule fields, the decision with windows as inputs, and the savings accounting of the time they ran.

Dates: 2026-11-20 is a Friday, 2026-11-22 a Sunday, 2026-11-23 a Monday. The schedule ``office`` runs 09:00-17:00
UTC on weekdays; the RDS preferred window ``sun:05:00-sun:05:30`` gives [Sun 04:50, Sun 05:30).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from scheduler.engine import (
    ConfigError,
    Evaluator,
    MaintenanceHold,
    MaintenanceWindow,
    Observed,
    ResourceState,
    State,
    decide,
    dump_document,
    parse_text,
    rds_windows,
)
from scheduler.engine.maintenance import parse_rds_window
from scheduler.savings.breakdown import build_report
from scheduler.savings.keys import ResourceKey
from scheduler.savings.prices import PriceAnswer
from scheduler.savings.usage import month_usages
from scheduler.savings.valuation import value_usages
from scheduler.services.ssm_windows import Execution, aws_cron, merge_executions, read_executions
from scheduler.store.state import ResourceRecord, hold_data

CONFIG = parse_text(
    """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  sunday-early: {begintime: "05:00", endtime: "06:00", weekdays: sun}
schedules:
  office: {periods: [office]}
  office-mw: {periods: [office], use_maintenance_window: true}
  sunday-early: {periods: [sunday-early], use_maintenance_window: true}
  only-window: {use_maintenance_window: true}
  office-enforced: {periods: [office], enforced: true}
"""
)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


WINDOWS = rds_windows("sun:05:00-sun:05:30", t("2026-11-22T05:00Z"))
W_START, W_END = t("2026-11-22T04:50Z"), t("2026-11-22T05:30Z")
LABEL = "RDS preferred window sun:05:00-sun:05:30"
FRI_STOP = ResourceState(State.STOPPED, t("2026-11-20T17:00Z"))


# --- the RDS preferred window -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "around", "expected"),
    [
        # 10 minutes early, to the window's end; the weeks before and after too.
        (
            "sun:05:00-sun:05:30",
            "2026-11-22T05:00Z",
            [
                ("2026-11-15T04:50Z", "2026-11-15T05:30Z"),
                ("2026-11-22T04:50Z", "2026-11-22T05:30Z"),
                ("2026-11-29T04:50Z", "2026-11-29T05:30Z"),
            ],
        ),
        # A window over midnight, and one over the end of the week (Sunday night into Monday).
        (
            "Tue:23:45-wed:00:15",
            "2026-11-25T00:00Z",
            [
                ("2026-11-17T23:35Z", "2026-11-18T00:15Z"),
                ("2026-11-24T23:35Z", "2026-11-25T00:15Z"),
                ("2026-12-01T23:35Z", "2026-12-02T00:15Z"),
            ],
        ),
        (
            "sun:23:50-mon:00:20",
            "2026-11-23T00:00Z",
            [
                ("2026-11-22T23:40Z", "2026-11-23T00:20Z"),
                ("2026-11-29T23:40Z", "2026-11-30T00:20Z"),
                ("2026-12-06T23:40Z", "2026-12-07T00:20Z"),
            ],
        ),
        # Monday 00:05 falls 10 minutes early on Sunday 23:55.
        (
            "mon:00:05-mon:00:35",
            "2026-11-23T00:00Z",
            [
                ("2026-11-15T23:55Z", "2026-11-16T00:35Z"),
                ("2026-11-22T23:55Z", "2026-11-23T00:35Z"),
                ("2026-11-29T23:55Z", "2026-11-30T00:35Z"),
            ],
        ),
    ],
)
def test_rds_windows(text: str, around: str, expected: list[tuple[str, str]]) -> None:
    got = rds_windows(text, t(around))
    assert [(w.start, w.end) for w in got] == [(t(a), t(b)) for a, b in expected]
    assert all(w.label == f"RDS preferred window {text.lower()}" for w in got)


@pytest.mark.parametrize(
    "text", ["", "sun:05:00", "sun:5:00-sun:05:30", "sun:24:00-mon:00:30", "son:05:00-sun:05:30", "sun:05:00-sun:05:00"]
)
def test_rds_window_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rds_window(text)


# --- schedule fields --------------------------------------------------------------------------------------------


def test_fields_round_trip_and_default_off() -> None:
    doc = parse_text(
        "schedules:\n  a: {ssm_maintenance_windows: 'patching, hot.fix-1', use_maintenance_window: true}\n"
        "  c: {override_status: stopped}\n"
    )
    a = doc.schedules["a"]
    assert a.ssm_maintenance_windows == ("patching", "hot.fix-1") and a.use_maintenance_window
    assert not doc.schedules["c"].use_maintenance_window and doc.schedules["c"].ssm_maintenance_windows == ()
    assert parse_text(dump_document(doc)) == doc
    assert "maintenance" not in dump_document(parse_text("schedules: {c: {override_status: stopped}}"))


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("{ssm_maintenance_windows: [ab]}", "schedules.s.ssm_maintenance_windows: 'ab' is not an SSM maintenance"),
        ("{ssm_maintenance_windows: ['patch ing']}", "'patch ing' is not an SSM maintenance window name"),
        ("{ssm_maintenance_windows: [" + "x" * 129 + "]}", "is not an SSM maintenance window name"),
        ("{ssm_maintenance_windows: [abc, abc]}", "'abc' is listed twice"),
        ("{use_maintenance_window: maybe}", "schedules.s.use_maintenance_window: 'maybe' is not true or false"),
        ("{ssm_maintenance_windows: []}", "at least one period, an override_status or a maintenance window"),
        ("{use_maintenance_window: false}", "at least one period, an override_status or a maintenance window"),
    ],
)
def test_fields_refused(body: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_text(f"schedules:\n  s: {body}\n")
    assert needle in str(err.value)


def test_a_maintenance_window_alone_is_a_schedule() -> None:
    ev = Evaluator.from_config(CONFIG, "only-window")
    assert ev.state_at(t("2026-11-22T05:00Z")) is State.ANY
    assert ev.transitions(t("2026-11-16T00:00Z"), t("2026-11-30T00:00Z")) == []


# --- decisions ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    schedule: str
    last: str
    now: str
    stored: ResourceState | None
    observed: Observed
    action: str
    rule: str
    hold: MaintenanceHold | None
    windows: tuple[MaintenanceWindow, ...] = tuple(WINDOWS)
    reason: str = ""


STARTED = MaintenanceHold(LABEL, W_START, W_END, started=True)

CASES = [
    Case(
        "stopped by the schedule: started 10 min before the window",
        "office-mw",
        "2026-11-22T04:45Z",
        "2026-11-22T04:50Z",
        FRI_STOP,
        Observed.STOPPED,
        "start",
        "maintenance",
        STARTED,
        reason="maintenance window: the RDS preferred window sun:05:00-sun:05:30 runs until 2026-11-22T05:30:00Z",
    ),
    Case(
        "a pass 5 min before: nothing yet",
        "office-mw",
        "2026-11-22T04:40Z",
        "2026-11-22T04:45Z",
        FRI_STOP,
        Observed.STOPPED,
        "none",
        "in-sync",
        None,
    ),
    Case(
        "off by default: no windows, never started",
        "office",
        "2026-11-22T04:45Z",
        "2026-11-22T04:50Z",
        FRI_STOP,
        Observed.STOPPED,
        "none",
        "in-sync",
        None,
        windows=(),
    ),
    Case(
        "inside, running: the hold is kept",
        "office-mw",
        "2026-11-22T04:50Z",
        "2026-11-22T05:10Z",
        ResourceState(State.STOPPED, t("2026-11-20T17:00Z"), maintenance=STARTED),
        Observed.RUNNING,
        "none",
        "manual",
        STARTED,
    ),
    Case(
        "the window's end: stopped again",
        "office-mw",
        "2026-11-22T05:25Z",
        "2026-11-22T05:30Z",
        ResourceState(State.STOPPED, t("2026-11-20T17:00Z"), maintenance=STARTED),
        Observed.RUNNING,
        "stop",
        "maintenance",
        None,
        reason="maintenance window over: the RDS preferred window sun:05:00-sun:05:30 ended at "
        "2026-11-22T05:30:00Z and the schedule keeps it stopped",
    ),
    Case(
        "the window's end, still starting: stopped next pass",
        "office-mw",
        "2026-11-22T05:25Z",
        "2026-11-22T05:30Z",
        ResourceState(State.STOPPED, t("2026-11-20T17:00Z"), maintenance=STARTED),
        Observed.STARTING,
        "none",
        "maintenance",
        None,
    ),
    Case(
        "the window's end, stopped by hand meanwhile: nothing",
        "office-mw",
        "2026-11-22T05:25Z",
        "2026-11-22T05:30Z",
        ResourceState(State.STOPPED, t("2026-11-20T17:00Z"), maintenance=STARTED),
        Observed.STOPPED,
        "none",
        "in-sync",
        None,
    ),
    Case(
        "inside, found stopping: started next pass",
        "office-mw",
        "2026-11-22T04:45Z",
        "2026-11-22T04:50Z",
        FRI_STOP,
        Observed.STOPPING,
        "none",
        "maintenance",
        None,
    ),
    Case(
        "inside, first seen stopped: started for the window",
        "office-mw",
        "2026-11-22T04:45Z",
        "2026-11-22T04:55Z",
        None,
        Observed.STOPPED,
        "start",
        "maintenance",
        MaintenanceHold(LABEL, t("2026-11-22T04:55Z"), W_END, started=True),
    ),
    Case(
        "only a window: started, then stopped after it",
        "only-window",
        "2026-11-22T04:45Z",
        "2026-11-22T04:50Z",
        ResourceState(),
        Observed.STOPPED,
        "start",
        "maintenance",
        STARTED,
    ),
    Case(
        "only a window, after it: stopped (it was started for the window)",
        "only-window",
        "2026-11-22T05:25Z",
        "2026-11-22T05:35Z",
        ResourceState(maintenance=STARTED),
        Observed.RUNNING,
        "stop",
        "maintenance",
        None,
    ),
    Case(
        "only a window, running by hand, no hold: left running",
        "only-window",
        "2026-11-22T05:25Z",
        "2026-11-22T05:35Z",
        ResourceState(),
        Observed.RUNNING,
        "none",
        "idle",
        None,
    ),
]


def _case_id(case: Case) -> str:
    return case.name


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_decide_with_windows(case: Case) -> None:
    view = Evaluator.from_config(CONFIG, case.schedule).pass_view(t(case.last), t(case.now))
    d = decide(view, case.stored, case.observed, maintenance=case.windows)
    assert (d.action, d.rule) == (case.action, case.rule), d.reason
    assert d.state_if_ok.maintenance == case.hold
    if case.reason:
        assert d.reason == case.reason
    if d.action == "stop":
        assert d.maintenance == STARTED and d.state_if_ok.desired is State.STOPPED
        assert d.state_if_failed.pending and d.state_if_failed.maintenance is None  # retried as a plain stop
    if d.action == "start":
        assert d.maintenance == case.hold
        assert d.state_if_failed.maintenance is None  # not started: nothing to stop after the window


def test_a_stop_inside_the_window_waits_for_its_end() -> None:
    """The schedule's 06:00 stop falls inside an SSM window 05:30-07:00: deferred, then done at 07:00."""
    window = MaintenanceWindow(t("2026-11-22T05:30Z"), t("2026-11-22T07:00Z"), "SSM window patching")
    ev = Evaluator.from_config(CONFIG, "sunday-early")
    running = ResourceState(State.RUNNING, t("2026-11-22T05:00Z"))
    d = decide(
        ev.pass_view(t("2026-11-22T05:55Z"), t("2026-11-22T06:00Z")), running, Observed.RUNNING, maintenance=[window]
    )
    hold = MaintenanceHold("SSM window patching", t("2026-11-22T06:00Z"), window.end, started=False)
    assert (d.action, d.rule, d.state_if_ok.maintenance) == ("none", "maintenance", hold)
    assert "deferred: inside the SSM window patching until 2026-11-22T07:00:00Z" in d.reason
    # A later pass inside the window: the transition was handled, the hold stays.
    later = decide(
        ev.pass_view(t("2026-11-22T06:00Z"), t("2026-11-22T06:30Z")),
        d.state_if_ok,
        Observed.RUNNING,
        maintenance=[window],
    )
    assert (later.action, later.state_if_ok.maintenance) == ("none", hold)
    end = decide(
        ev.pass_view(t("2026-11-22T06:30Z"), t("2026-11-22T07:00Z")),
        later.state_if_ok,
        Observed.RUNNING,
        maintenance=[window],
    )
    assert (end.action, end.rule, end.maintenance) == ("stop", "maintenance", hold)


def test_a_start_inside_the_window_is_the_schedules() -> None:
    ev = Evaluator.from_config(CONFIG, "sunday-early")
    d = decide(
        ev.pass_view(t("2026-11-22T04:55Z"), t("2026-11-22T05:00Z")), FRI_STOP, Observed.STOPPED, maintenance=WINDOWS
    )
    assert (d.action, d.rule, d.maintenance, d.state_if_ok.maintenance) == ("start", "transition", None, None)


def test_held_and_the_schedule_starts_at_the_windows_end_is_not_stopped() -> None:
    ev = Evaluator.from_config(CONFIG, "office-mw")
    hold = MaintenanceHold(LABEL, t("2026-11-23T08:50Z"), t("2026-11-23T09:30Z"), started=True)
    d = decide(
        ev.pass_view(t("2026-11-23T09:25Z"), t("2026-11-23T09:30Z")),
        ResourceState(State.RUNNING, t("2026-11-23T09:00Z"), maintenance=hold),
        Observed.RUNNING,
    )
    assert (d.action, d.state_if_ok.maintenance) == ("none", None)


def test_enforced_stop_after_the_window_carries_the_hold() -> None:
    ev = Evaluator.from_config(CONFIG, "office-enforced")
    stored = ResourceState(State.STOPPED, t("2026-11-20T17:00Z"), maintenance=STARTED)
    inside = decide(
        ev.pass_view(t("2026-11-22T05:00Z"), t("2026-11-22T05:05Z")), stored, Observed.RUNNING, maintenance=WINDOWS
    )
    assert (inside.action, inside.rule, inside.state_if_ok.maintenance) == ("none", "maintenance", STARTED)
    after = decide(
        ev.pass_view(t("2026-11-22T05:25Z"), t("2026-11-22T05:30Z")), stored, Observed.RUNNING, maintenance=WINDOWS
    )
    assert (after.action, after.rule, after.maintenance) == ("stop", "enforced", STARTED)
    assert after.reason.startswith(f"the {LABEL} ended at 2026-11-22T05:30:00Z; ")


def test_the_hold_survives_the_state_record() -> None:
    rec = ResourceRecord("db-1").with_engine_state(ResourceState(State.STOPPED, W_START, maintenance=STARTED))
    back = ResourceRecord.from_data("db-1", rec.to_data())
    assert back.engine_state.maintenance == STARTED
    assert ResourceRecord("db-1", maintenance={"since": "garbage"}).engine_state.maintenance is None


# --- SSM windows --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("cron(0 5 ? * SUN *)", "0 5 * * SUN"),
        ("cron(30 23 ? * 1 *)", "30 23 * * 0"),  # AWS: 1 = Sunday
        ("cron(0 2 ? * 2-6 *)", "0 2 * * 1-5"),
        ("cron(0 4 ? * 3#2 *)", "0 4 * * 2#2"),  # second Tuesday (patch Tuesday)
        ("cron(15 10 1 * ? *)", "15 10 1 * *"),
        ("cron(0 5 ? * SUN 2027)", None),  # specific years are not followed
        ("rate(7 days)", None),
        ("cron(nonsense)", None),
    ],
)
def test_aws_cron(schedule: str, expected: str | None) -> None:
    assert aws_cron(schedule) == expected


def _stubbed_ssm(identities: list[dict[str, Any]], names: list[str]) -> tuple[Any, Stubber]:
    ssm = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(ssm)
    stub.add_response(
        "describe_maintenance_windows",
        {"WindowIdentities": identities},
        {"Filters": [{"Key": "Name", "Values": names}], "MaxResults": 100},
    )
    stub.activate()
    return ssm, stub


def _identity(name: str, **over: Any) -> dict[str, Any]:
    return {"WindowId": "mw-0123456789abcdef0", "Name": name, "Enabled": True, "Duration": 2, "Cutoff": 1, **over}


def test_read_executions_from_next_execution_time_schedules_and_problems() -> None:
    at = t("2026-11-22T06:00Z")
    names = ["next", "cron-berlin", "rate", "off", "missing"]
    ssm, stub = _stubbed_ssm(
        [
            _identity("next", NextExecutionTime="2026-11-29T05:00Z", Schedule="cron(0 5 ? * SUN *)"),
            # 07:00 Berlin = 06:00 UTC in November: open now (06:00-08:00 UTC), and next week's.
            _identity("cron-berlin", Schedule="cron(0 7 ? * SUN *)", ScheduleTimezone="Europe/Berlin"),
            _identity("rate", Schedule="rate(7 days)"),
            _identity("off", Enabled=False, Schedule="cron(0 5 ? * SUN *)"),
        ],
        names,
    )
    got, warnings = read_executions(ssm, names, at)
    stub.assert_no_pending_responses()
    assert got == [
        Execution("next", t("2026-11-29T05:00Z"), t("2026-11-29T07:00Z")),
        Execution("cron-berlin", t("2026-11-22T06:00Z"), t("2026-11-22T08:00Z")),
        Execution("cron-berlin", t("2026-11-29T06:00Z"), t("2026-11-29T08:00Z")),
    ]
    assert len(warnings) == 3
    assert "'rate'" in warnings[0] and "gives no fixed instants" in warnings[0]
    assert "'off'" in warnings[1] and "disabled" in warnings[1]
    assert warnings[2] == "SSM maintenance window 'missing' not found in this account and region"


def test_remembered_executions_are_kept_until_over() -> None:
    open_now = Execution("p", t("2026-11-22T05:00Z"), t("2026-11-22T07:00Z"))
    over = Execution("p", t("2026-11-15T05:00Z"), t("2026-11-15T07:00Z"))
    following = Execution("p", t("2026-11-29T05:00Z"), t("2026-11-29T07:00Z"))
    kept = merge_executions([open_now, over], [following, open_now], t("2026-11-22T06:00Z"))
    assert kept == [open_now, following]
    assert [Execution.from_data(e.to_data()) for e in kept] == kept
    assert Execution.from_data({"name": "p", "start": "x", "end": "y"}) is None


# --- savings --------------------------------------------------------------------------------------------------------

ACCOUNT, REGION = "123456789012", "us-east-1"
PRICE = Decimal("0.034")


def _entry(at: str, action: str, **extra: Any) -> dict[str, Any]:
    return {
        "at": t(at).isoformat(),
        "target": f"{ACCOUNT}#{REGION}#rds",
        "account": ACCOUNT,
        "region": REGION,
        "service": "rds",
        "resource": "db-1",
        "schedule": "office-mw",
        "action": action,
        "instance_type": "db.t3.micro",
        "details": {"kind": "instance", "engine": "postgres", "multi_az": False},
        **extra,
    }


def test_report_counts_the_window_as_maintenance_not_as_lost_savings() -> None:
    """Fri 17:00 stop; Sun 04:50 start for the window; Sun 05:35 stop after it (a pass 5 min after its end); Mon
    09:00 start. Rebuilt by hand: stopped 35 h 50 min + 27 h 25 min; maintenance 45 min, part of the running time."""
    hold = hold_data(STARTED)
    entries = [
        _entry("2026-11-20T17:00Z", "stop"),
        _entry("2026-11-22T04:50Z", "start", reason="maintenance window: …", maintenance=hold),
        _entry("2026-11-22T05:35Z", "stop", reason="maintenance window over: …", maintenance=hold),
        _entry("2026-11-23T09:00Z", "start"),
    ]
    key = ResourceKey(ACCOUNT, REGION, "rds", "db-1")
    records = {key: ResourceRecord("db-1", schedule="office-mw", first_seen_at="2026-11-20T12:00:00+00:00")}
    until = t("2026-11-23T12:00Z")
    usages = month_usages("2026-11", until, entries, records, config=CONFIG)
    rows = value_usages(usages, lambda q: PriceAnswer(PRICE, "file"))
    body = build_report("2026-11", until, rows)
    row = body["resources"][0]
    stopped = Decimal(35 * 60 + 50 + 27 * 60 + 25) / 60  # Fri 17:00 → Sun 04:50, Sun 05:35 → Mon 09:00
    running = Decimal(5 * 60 + 45 + 3 * 60) / 60  # Fri 12:00 → 17:00, the 45 min for the window, Mon 09:00 → 12:00
    assert Decimal(str(row["stopped_hours"])) == stopped.quantize(Decimal("0.0001"))
    assert Decimal(str(row["running_hours"])) == running.quantize(Decimal("0.0001"))
    assert row["maintenance_hours"] == 0.75
    assert row["manual_start_hours"] == 0.0  # not lost to a manual start
    assert [s["ended_by"] for s in row["stops"]] == ["maintenance", "start"]
    savings = sum((Decimal(int(s["hours"] * 3600)) / 3600 * PRICE).quantize(Decimal("0.01")) for s in row["stops"])
    assert Decimal(str(row["estimated_savings"])) == (stopped * PRICE).quantize(Decimal("0.01"))
    assert abs(savings - Decimal(str(row["estimated_savings"]))) <= Decimal("0.01")
    assert body["totals"]["maintenance_hours"] == 0.75 and body["totals"]["manual_start_hours"] == 0.0


def test_deferred_stop_counts_from_the_schedules_stop_and_schedule_time_is_not_maintenance() -> None:
    """Running by the schedule until its 17:00 stop, which an SSM window 16:30-18:00 deferred to 18:00: maintenance
    is 17:00-18:00 only (16:30-17:00 the schedule wanted it running anyway)."""
    hold = {
        "window": "SSM window p",
        "since": "2026-11-23T17:00:00+00:00",
        "until": "2026-11-23T18:00:00+00:00",
        "started": False,
    }
    entries = [
        _entry("2026-11-23T09:00Z", "start"),
        _entry("2026-11-23T18:00Z", "stop", reason="…", maintenance=hold),
    ]
    key = ResourceKey(ACCOUNT, REGION, "rds", "db-1")
    records = {key: ResourceRecord("db-1", schedule="office-mw", first_seen_at="2026-11-23T08:00:00+00:00")}
    until = t("2026-11-23T20:00Z")
    rows = value_usages(
        month_usages("2026-11", until, entries, records, config=CONFIG), lambda q: PriceAnswer(PRICE, "file")
    )
    row = build_report("2026-11", until, rows)["resources"][0]
    assert (row["running_hours"], row["maintenance_hours"], row["stopped_hours"]) == (9.0, 1.0, 2.0)
    # A maintenance start while the schedule already wanted it running (its window ran into the period): the
    # part inside the period is plain running time.
    start_hold = {
        "window": LABEL,
        "since": "2026-11-23T08:50:00+00:00",
        "until": "2026-11-23T09:30:00+00:00",
        "started": True,
    }
    entries = [_entry("2026-11-23T08:00Z", "stop"), _entry("2026-11-23T08:50Z", "start", maintenance=start_hold)]
    rows = value_usages(
        month_usages("2026-11", until, entries, records, config=CONFIG), lambda q: PriceAnswer(PRICE, "file")
    )
    row = build_report("2026-11", until, rows)["resources"][0]
    assert row["maintenance_hours"] == pytest.approx(10 / 60, abs=1e-4)
    assert row["stops"][0]["ended_by"] == "maintenance"
