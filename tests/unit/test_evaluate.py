"""Table-driven tests of the evaluator (SPEC §2 "Evaluation semantics"): windows, their union and 1-minute gap merging,
events, state, transitions, holidays, cron periods, instance types, next_transition and preview-style running hours.

Every expected instant is written by hand as a literal UTC datetime. 2026-01-05 is a Monday; Europe/Berlin is UTC+1 in
January and UTC+2 in July.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduler.engine import Evaluator, State, parse_text


def U(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def make(periods: dict[str, dict[str, Any]], refs: list[str] | None = None, **schedule: Any) -> Evaluator:
    """An evaluator for schedule ``s`` using ``refs`` (default: every period, in order)."""
    sched: dict[str, Any] = {"periods": list(periods) if refs is None else refs, **schedule}
    doc = {"periods": periods, "schedules": {"s": sched}}
    return Evaluator.from_config(parse_text(json.dumps(doc)), "s")


def hours(ev: Evaluator, start: datetime, end: datetime) -> float:
    return sum((e - s).total_seconds() for s, e in ev.running(start, end)) / 3600.0


# -- period library ----------------------------------------------------------------------------------------------------

OFFICE = {"office": {"begintime": "09:00", "endtime": "17:00", "weekdays": "mon-fri"}}
NIGHT = {"night": {"begintime": "22:00", "endtime": "06:00"}}
WEEKDAY_NIGHT = {"night": {"begintime": "22:00", "endtime": "06:00", "weekdays": "mon-fri"}}
FRI_NIGHT = {"fri": {"begintime": "22:00", "endtime": "06:00", "weekdays": "fri"}}
TO_MIDNIGHT = {"late": {"begintime": "18:00", "endtime": "24:00"}}
TO_MIDNIGHT_AND_EARLY = {
    "late": {"begintime": "18:00", "endtime": "24:00"},
    "early": {"endtime": "06:00", "begintime": "00:00"},
}
WEEKEND = {"weekend": {"weekdays": "sat-sun"}}
FIFTEENTH = {"fifteenth": {"monthdays": "15"}}
FEBRUARY = {"feb": {"months": "feb"}}
ALWAYS = {"always": {"weekdays": "*"}}
OVERLAP = {"a": {"begintime": "09:00", "endtime": "12:00"}, "b": {"begintime": "11:00", "endtime": "14:00"}}
DISJOINT = {"a": {"begintime": "09:00", "endtime": "10:00"}, "b": {"begintime": "11:00", "endtime": "12:00"}}
TOUCHING = {"a": {"begintime": "09:00", "endtime": "12:00"}, "b": {"begintime": "12:00", "endtime": "17:00"}}
GAP_1MIN_MIDDAY = {"a": {"begintime": "09:00", "endtime": "12:00"}, "b": {"begintime": "12:01", "endtime": "17:00"}}
GAP_2MIN_MIDDAY = {"a": {"begintime": "09:00", "endtime": "12:00"}, "b": {"begintime": "12:02", "endtime": "17:00"}}
GAP_1MIN_NIGHT = {"a": {"begintime": "18:00", "endtime": "23:59"}, "b": {"begintime": "00:00", "endtime": "06:00"}}
GAP_2MIN_NIGHT = {"a": {"begintime": "18:00", "endtime": "23:58"}, "b": {"begintime": "00:00", "endtime": "06:00"}}
MORNING_START = {"morning": {"begintime": "07:00"}}
WEEKDAY_MORNING_START = {"morning": {"begintime": "07:00", "weekdays": "mon-fri"}}
EVENING_STOP = {"evening": {"endtime": "19:00"}}
OFFICE_AND_MORNING_START = {**OFFICE, **MORNING_START}
OFFICE_AND_START_AT_17 = {**OFFICE, "kick": {"begintime": "17:00"}}
CRON_START_ONLY = {"c": {"start": "0 7 * * 1-5"}}
CRON_STOP_ONLY = {"c": {"stop": "0 19 * * *"}}
CRON_DAY = {"c": {"start": "0 8 * * *", "stop": "0 18 * * *"}}
CRON_MULTI_START = {"c": {"start": "0 8,10,12 * * *", "stop": "0 18 * * *"}}
CRON_FREQUENT_STOP = {"c": {"start": "0 9 * * *", "stop": "0 */6 * * *"}}
CRON_WEEKEND_OFF = {"c": {"start": "0 6 * * 1", "stop": "0 20 * * 5"}}
CRON_MON_TO_SAT = {"c": {"start": "0 0 * * 1", "stop": "0 0 * * 6"}}
CRON_OFFICE = {"c": {"start": "0 9 * * *", "stop": "0 17 * * *"}}
CRON_AND_WINDOW = {"c": {"start": "0 8 * * *", "stop": "0 12 * * *"}, "w": {"begintime": "11:00", "endtime": "17:00"}}
CRON_DAILY_START_7 = {"c": {"start": "0 7 * * *"}}
CRON_MONTHLY = {"c": {"start": "0 0 1,5 * *", "stop": "0 0 15 * *"}}  # starts long before the query
BERLIN = {"timezone": "Europe/Berlin"}


# -- transitions -------------------------------------------------------------------------------------------------------

TRANSITION_CASES: list[tuple[str, dict[str, Any], dict[str, Any], datetime, datetime, list[tuple[datetime, str]]]] = [
    (
        "office-monday",
        OFFICE,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [(U(2026, 1, 5, 9), "start"), (U(2026, 1, 5, 17), "stop")],
    ),
    (
        "office-week",
        OFFICE,
        {},
        U(2026, 1, 5),
        U(2026, 1, 12),
        [(U(2026, 1, d, h), a) for d in range(5, 10) for h, a in ((9, "start"), (17, "stop"))],
    ),
    ("office-weekend-none", OFFICE, {}, U(2026, 1, 10), U(2026, 1, 12), []),
    ("office-end-exclusive", OFFICE, {}, U(2026, 1, 5, 9), U(2026, 1, 5, 17), [(U(2026, 1, 5, 9), "start")]),
    (
        "overnight-daily",
        NIGHT,
        {},
        U(2026, 1, 5),
        U(2026, 1, 7),
        [
            (U(2026, 1, 5, 6), "stop"),
            (U(2026, 1, 5, 22), "start"),
            (U(2026, 1, 6, 6), "stop"),
            (U(2026, 1, 6, 22), "start"),
        ],
    ),
    (
        "overnight-last-matching-day-friday",
        FRI_NIGHT,
        {},
        U(2026, 1, 8),
        U(2026, 1, 12),
        [(U(2026, 1, 9, 22), "start"), (U(2026, 1, 10, 6), "stop")],
    ),
    (
        "overnight-weekdays-weekend",
        WEEKDAY_NIGHT,
        {},
        U(2026, 1, 9, 12),
        U(2026, 1, 13),
        [
            (U(2026, 1, 9, 22), "start"),
            (U(2026, 1, 10, 6), "stop"),
            (U(2026, 1, 12, 22), "start"),
        ],
    ),
    (
        "end-24-00",
        TO_MIDNIGHT,
        {},
        U(2026, 1, 5, 1),
        U(2026, 1, 6, 1),
        [(U(2026, 1, 5, 18), "start"), (U(2026, 1, 6), "stop")],
    ),
    (
        "end-24-00-then-00-00-runs-through",
        TO_MIDNIGHT_AND_EARLY,
        {},
        U(2026, 1, 5, 1),
        U(2026, 1, 6, 12),
        [(U(2026, 1, 5, 6), "stop"), (U(2026, 1, 5, 18), "start"), (U(2026, 1, 6, 6), "stop")],
    ),
    (
        "whole-day-weekend",
        WEEKEND,
        {},
        U(2026, 1, 8),
        U(2026, 1, 13),
        [(U(2026, 1, 10), "start"), (U(2026, 1, 12), "stop")],
    ),
    (
        "whole-day-monthday",
        FIFTEENTH,
        {},
        U(2026, 1, 14),
        U(2026, 1, 17),
        [(U(2026, 1, 15), "start"), (U(2026, 1, 16), "stop")],
    ),
    (
        "whole-day-month",
        FEBRUARY,
        {},
        U(2026, 1, 30),
        U(2026, 3, 2),
        [(U(2026, 2, 1), "start"), (U(2026, 3, 1), "stop")],
    ),
    (
        "union-overlap",
        OVERLAP,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [(U(2026, 1, 5, 9), "start"), (U(2026, 1, 5, 14), "stop")],
    ),
    (
        "union-disjoint",
        DISJOINT,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [
            (U(2026, 1, 5, 9), "start"),
            (U(2026, 1, 5, 10), "stop"),
            (U(2026, 1, 5, 11), "start"),
            (U(2026, 1, 5, 12), "stop"),
        ],
    ),
    (
        "union-touching",
        TOUCHING,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [(U(2026, 1, 5, 9), "start"), (U(2026, 1, 5, 17), "stop")],
    ),
    (
        "gap-1min-midday-merged",
        GAP_1MIN_MIDDAY,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [(U(2026, 1, 5, 9), "start"), (U(2026, 1, 5, 17), "stop")],
    ),
    (
        "gap-2min-midday-not-merged",
        GAP_2MIN_MIDDAY,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [
            (U(2026, 1, 5, 9), "start"),
            (U(2026, 1, 5, 12), "stop"),
            (U(2026, 1, 5, 12, 2), "start"),
            (U(2026, 1, 5, 17), "stop"),
        ],
    ),
    (
        "gap-1min-2359-0000-runs-through",
        GAP_1MIN_NIGHT,
        {},
        U(2026, 1, 5, 1),
        U(2026, 1, 6, 12),
        [(U(2026, 1, 5, 6), "stop"), (U(2026, 1, 5, 18), "start"), (U(2026, 1, 6, 6), "stop")],
    ),
    (
        "gap-2min-2358-0000-not-merged",
        GAP_2MIN_NIGHT,
        {},
        U(2026, 1, 5, 1),
        U(2026, 1, 6, 12),
        [
            (U(2026, 1, 5, 6), "stop"),
            (U(2026, 1, 5, 18), "start"),
            (U(2026, 1, 5, 23, 58), "stop"),
            (U(2026, 1, 6), "start"),
            (U(2026, 1, 6, 6), "stop"),
        ],
    ),
    (
        "begintime-only-start-events",
        MORNING_START,
        {},
        U(2026, 1, 5),
        U(2026, 1, 7),
        [(U(2026, 1, 5, 7), "start"), (U(2026, 1, 6, 7), "start")],
    ),
    (
        "endtime-only-stop-events",
        EVENING_STOP,
        {},
        U(2026, 1, 5),
        U(2026, 1, 7),
        [(U(2026, 1, 5, 19), "stop"), (U(2026, 1, 6, 19), "stop")],
    ),
    (
        "event-only-matching-days",
        WEEKDAY_MORNING_START,
        {},
        U(2026, 1, 9),
        U(2026, 1, 12),
        [(U(2026, 1, 9, 7), "start")],
    ),
    (
        "window-plus-event",
        OFFICE_AND_MORNING_START,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [(U(2026, 1, 5, 7), "start"), (U(2026, 1, 5, 9), "start"), (U(2026, 1, 5, 17), "stop")],
    ),
    (
        "window-plus-event-weekend-event-only",
        OFFICE_AND_MORNING_START,
        {},
        U(2026, 1, 10),
        U(2026, 1, 11),
        [(U(2026, 1, 10, 7), "start")],
    ),
    ("override-running-none", OFFICE, {"override_status": "running"}, U(2026, 1, 5), U(2026, 1, 12), []),
    ("override-stopped-none", OFFICE, {"override_status": "stopped"}, U(2026, 1, 5), U(2026, 1, 12), []),
    (
        "holiday-explicit-date",
        OFFICE,
        {"holidays": ["2026-01-07"]},
        U(2026, 1, 6),
        U(2026, 1, 9),
        [
            (U(2026, 1, 6, 9), "start"),
            (U(2026, 1, 6, 17), "stop"),
            (U(2026, 1, 8, 9), "start"),
            (U(2026, 1, 8, 17), "stop"),
        ],
    ),
    (
        "holiday-calendar-de-by-epiphany",
        OFFICE,
        {**BERLIN, "holiday_calendar": "DE-BY"},
        U(2026, 1, 5),
        U(2026, 1, 8),
        [
            (U(2026, 1, 5, 8), "start"),
            (U(2026, 1, 5, 16), "stop"),
            (U(2026, 1, 7, 8), "start"),
            (U(2026, 1, 7, 16), "stop"),
        ],
    ),
    (
        "holiday-calendar-de-be-no-epiphany",
        OFFICE,
        {**BERLIN, "holiday_calendar": "DE-BE"},
        U(2026, 1, 5),
        U(2026, 1, 8),
        [(U(2026, 1, d, h), a) for d in (5, 6, 7) for h, a in ((8, "start"), (16, "stop"))],
    ),
    (
        "holiday-cuts-overnight-at-midnight",
        NIGHT,
        {"holidays": ["2026-12-25"]},
        U(2026, 12, 24),
        U(2026, 12, 27),
        [
            (U(2026, 12, 24, 6), "stop"),
            (U(2026, 12, 24, 22), "start"),
            (U(2026, 12, 25), "stop"),
            (U(2026, 12, 26), "start"),
            (U(2026, 12, 26, 6), "stop"),
            (U(2026, 12, 26, 22), "start"),
        ],
    ),
    (
        "holiday-cuts-overnight-at-local-midnight-berlin",
        NIGHT,
        {**BERLIN, "holiday_calendar": "DE-BY"},
        U(2026, 1, 5),
        U(2026, 1, 7, 12),
        [
            (U(2026, 1, 5, 5), "stop"),
            (U(2026, 1, 5, 21), "start"),
            (U(2026, 1, 5, 23), "stop"),
            (U(2026, 1, 6, 23), "start"),
            (U(2026, 1, 7, 5), "stop"),
        ],
    ),
    (
        "holiday-suppresses-events",
        MORNING_START,
        {"holidays": ["2026-01-06"]},
        U(2026, 1, 5),
        U(2026, 1, 8),
        [(U(2026, 1, 5, 7), "start"), (U(2026, 1, 7, 7), "start")],
    ),
    (
        "holiday-calendar-suppresses-cron-events",
        CRON_DAILY_START_7,
        {**BERLIN, "holiday_calendar": "DE-BY"},
        U(2026, 1, 5),
        U(2026, 1, 8),
        [(U(2026, 1, 5, 6), "start"), (U(2026, 1, 7, 6), "start")],
    ),
    (
        "holiday-cuts-cron-window",
        CRON_MON_TO_SAT,
        {"holidays": ["2026-01-07"]},
        U(2026, 1, 5),
        U(2026, 1, 12),
        [
            (U(2026, 1, 5), "start"),
            (U(2026, 1, 7), "stop"),
            (U(2026, 1, 8), "start"),
            (U(2026, 1, 10), "stop"),
        ],
    ),
    (
        "cron-start-only-events",
        CRON_START_ONLY,
        {},
        U(2026, 1, 9),
        U(2026, 1, 13),
        [(U(2026, 1, 9, 7), "start"), (U(2026, 1, 12, 7), "start")],
    ),
    (
        "cron-stop-only-events",
        CRON_STOP_ONLY,
        {},
        U(2026, 1, 5),
        U(2026, 1, 7),
        [(U(2026, 1, 5, 19), "stop"), (U(2026, 1, 6, 19), "stop")],
    ),
    (
        "cron-window",
        CRON_DAY,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [(U(2026, 1, 5, 8), "start"), (U(2026, 1, 5, 18), "stop")],
    ),
    (
        "cron-several-starts-one-window",
        CRON_MULTI_START,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [(U(2026, 1, 5, 8), "start"), (U(2026, 1, 5, 18), "stop")],
    ),
    (
        "cron-window-ends-at-next-stop-fire",
        CRON_FREQUENT_STOP,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [(U(2026, 1, 5, 9), "start"), (U(2026, 1, 5, 12), "stop")],
    ),
    (
        "cron-berlin-winter",
        CRON_OFFICE,
        BERLIN,
        U(2026, 1, 5),
        U(2026, 1, 6),
        [(U(2026, 1, 5, 8), "start"), (U(2026, 1, 5, 16), "stop")],
    ),
    (
        "cron-berlin-summer",
        CRON_OFFICE,
        BERLIN,
        U(2026, 7, 6),
        U(2026, 7, 7),
        [(U(2026, 7, 6, 7), "start"), (U(2026, 7, 6, 15), "stop")],
    ),
    (
        "cron-weekend-off-window",
        CRON_WEEKEND_OFF,
        {},
        U(2026, 1, 4),
        U(2026, 1, 12),
        [(U(2026, 1, 5, 6), "start"), (U(2026, 1, 9, 20), "stop")],
    ),
    ("cron-weekend-off-midweek-none", CRON_WEEKEND_OFF, {}, U(2026, 1, 6), U(2026, 1, 9), []),
    ("cron-monthly-stop-only-in-range", CRON_MONTHLY, {}, U(2026, 1, 6), U(2026, 2, 1), [(U(2026, 1, 15), "stop")]),
    (
        "cron-monthly-two-starts-one-stop",
        CRON_MONTHLY,
        {},
        U(2026, 1, 1),
        U(2026, 2, 2),
        [(U(2026, 1, 1), "start"), (U(2026, 1, 15), "stop"), (U(2026, 2, 1), "start")],
    ),
    (
        "cron-union-with-window",
        CRON_AND_WINDOW,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [(U(2026, 1, 5, 8), "start"), (U(2026, 1, 5, 17), "stop")],
    ),
]


@pytest.mark.parametrize(
    ("periods", "schedule", "start", "end", "expected"),
    [c[1:] for c in TRANSITION_CASES],
    ids=[c[0] for c in TRANSITION_CASES],
)
def test_transitions(
    periods: dict[str, Any],
    schedule: dict[str, Any],
    start: datetime,
    end: datetime,
    expected: list[tuple[datetime, str]],
) -> None:
    got = [(t.at, t.action) for t in make(periods, **schedule).transitions(start, end)]
    assert got == expected


def test_transitions_are_utc_and_in_range() -> None:
    ev = make(NIGHT, timezone="Europe/Berlin")
    got = ev.transitions(U(2026, 1, 5, 5), U(2026, 1, 6, 5))
    assert [t.at for t in got] == [U(2026, 1, 5, 5), U(2026, 1, 5, 21)]
    assert all(t.at.utcoffset() == timedelta(0) for t in got)


def test_event_at_window_boundary_comes_after_window_transition() -> None:
    got = make(OFFICE_AND_START_AT_17).transitions(U(2026, 1, 5, 12), U(2026, 1, 5, 18))
    assert [(t.at, t.action, t.source) for t in got] == [
        (U(2026, 1, 5, 17), "stop", "window"),
        (U(2026, 1, 5, 17), "start", "event"),
    ]


@pytest.mark.parametrize(
    ("periods", "start", "expected"),
    [
        (
            OFFICE,
            U(2026, 1, 5),
            [{"at": "2026-01-05T09:00:00Z", "action": "start"}, {"at": "2026-01-05T17:00:00Z", "action": "stop"}],
        ),
        (MORNING_START, U(2026, 1, 5), [{"at": "2026-01-05T07:00:00Z", "action": "start"}]),
    ],
    ids=["window", "event"],
)
def test_transition_json(periods: dict[str, Any], start: datetime, expected: list[dict[str, str]]) -> None:
    assert [t.to_json() for t in make(periods).transitions(start, start + timedelta(days=1))] == expected


def test_naive_instants_are_rejected() -> None:
    ev = make(OFFICE)
    with pytest.raises(ValueError):
        ev.state_at(datetime(2026, 1, 5, 10))
    with pytest.raises(ValueError):
        ev.transitions(datetime(2026, 1, 5), U(2026, 1, 6))


# -- state -------------------------------------------------------------------------------------------------------------

R, S, A = State.RUNNING, State.STOPPED, State.ANY

STATE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], datetime, State]] = [
    ("office-inside", OFFICE, {}, U(2026, 1, 5, 10), R),
    ("office-at-begin", OFFICE, {}, U(2026, 1, 5, 9), R),
    ("office-just-before-begin", OFFICE, {}, U(2026, 1, 5, 8, 59, 59), S),
    ("office-just-before-end", OFFICE, {}, U(2026, 1, 5, 16, 59, 59), R),
    ("office-end-exclusive", OFFICE, {}, U(2026, 1, 5, 17), S),
    ("office-saturday", OFFICE, {}, U(2026, 1, 10, 10), S),
    ("office-berlin-local-time", OFFICE, BERLIN, U(2026, 1, 5, 8, 30), R),
    ("office-berlin-before-local-begin", OFFICE, BERLIN, U(2026, 1, 5, 7, 59), S),
    ("office-berlin-summer", OFFICE, BERLIN, U(2026, 7, 6, 14, 59), R),
    ("office-berlin-summer-after-end", OFFICE, BERLIN, U(2026, 7, 6, 15), S),
    ("overnight-after-midnight", NIGHT, {}, U(2026, 1, 6, 3), R),
    ("overnight-midday", NIGHT, {}, U(2026, 1, 6, 12), S),
    ("fri-night-saturday-morning", FRI_NIGHT, {}, U(2026, 1, 10, 3), R),
    ("fri-night-saturday-end", FRI_NIGHT, {}, U(2026, 1, 10, 6), S),
    ("fri-night-friday-before", FRI_NIGHT, {}, U(2026, 1, 9, 21, 59), S),
    ("fri-night-thursday-night", FRI_NIGHT, {}, U(2026, 1, 8, 23), S),
    ("weekday-night-from-friday", WEEKDAY_NIGHT, {}, U(2026, 1, 10, 5), R),
    ("weekday-night-sunday-morning", WEEKDAY_NIGHT, {}, U(2026, 1, 11, 5), S),
    ("weekday-night-monday-morning", WEEKDAY_NIGHT, {}, U(2026, 1, 12, 5), S),
    ("weekday-night-monday-night", WEEKDAY_NIGHT, {}, U(2026, 1, 12, 23), R),
    ("end-24-00-last-minute", TO_MIDNIGHT, {}, U(2026, 1, 5, 23, 59, 30), R),
    ("end-24-00-midnight", TO_MIDNIGHT, {}, U(2026, 1, 6), S),
    ("whole-day-saturday-start", WEEKEND, {}, U(2026, 1, 10), R),
    ("whole-day-sunday-last-minute", WEEKEND, {}, U(2026, 1, 11, 23, 59), R),
    ("whole-day-monday", WEEKEND, {}, U(2026, 1, 12), S),
    ("whole-day-friday", WEEKEND, {}, U(2026, 1, 9, 23, 59), S),
    ("gap-1min-inside-gap", GAP_1MIN_NIGHT, {}, U(2026, 1, 5, 23, 59, 30), R),
    ("gap-2min-inside-gap", GAP_2MIN_NIGHT, {}, U(2026, 1, 5, 23, 59), S),
    ("gap-1min-midday-inside-gap", GAP_1MIN_MIDDAY, {}, U(2026, 1, 5, 12, 0, 30), R),
    ("gap-2min-midday-inside-gap", GAP_2MIN_MIDDAY, {}, U(2026, 1, 5, 12, 1), S),
    ("union-second-period", DISJOINT, {}, U(2026, 1, 5, 11, 30), R),
    ("union-between-periods", DISJOINT, {}, U(2026, 1, 5, 10, 30), S),
    ("event-only-any-begintime", MORNING_START, {}, U(2026, 1, 5, 8), A),
    ("event-only-any-endtime", EVENING_STOP, {}, U(2026, 1, 5, 20), A),
    ("event-only-any-cron", CRON_START_ONLY, {}, U(2026, 1, 5, 8), A),
    ("event-only-any-cron-stop", CRON_STOP_ONLY, {}, U(2026, 1, 5, 8), A),
    ("window-plus-event-outside-window-stopped", OFFICE_AND_MORNING_START, {}, U(2026, 1, 5, 8), S),
    ("window-plus-event-weekend-stopped", OFFICE_AND_MORNING_START, {}, U(2026, 1, 10, 8), S),
    ("override-running-outside-window", OFFICE, {"override_status": "running"}, U(2026, 1, 10, 3), R),
    ("override-stopped-inside-window", OFFICE, {"override_status": "stopped"}, U(2026, 1, 5, 10), S),
    (
        "override-running-on-holiday",
        OFFICE,
        {"override_status": "running", "holidays": ["2026-01-05"]},
        U(2026, 1, 5, 10),
        R,
    ),
    ("override-only-no-periods", {}, {"override_status": "running"}, U(2026, 1, 5, 10), R),
    ("holiday-explicit-inside-window", OFFICE, {"holidays": ["2026-01-07"]}, U(2026, 1, 7, 10), S),
    ("holiday-explicit-next-day", OFFICE, {"holidays": ["2026-01-07"]}, U(2026, 1, 8, 10), R),
    ("holiday-whole-day-period", ALWAYS, {"holidays": ["2026-01-07"]}, U(2026, 1, 7, 23, 59), S),
    ("holiday-whole-day-period-day-after", ALWAYS, {"holidays": ["2026-01-07"]}, U(2026, 1, 8), R),
    ("holiday-event-only-schedule-stopped", MORNING_START, {"holidays": ["2026-01-06"]}, U(2026, 1, 6, 12), S),
    ("holiday-event-only-schedule-other-day-any", MORNING_START, {"holidays": ["2026-01-06"]}, U(2026, 1, 5, 12), A),
    ("holiday-de-by-epiphany", OFFICE, {**BERLIN, "holiday_calendar": "DE-BY"}, U(2026, 1, 6, 9), S),
    ("holiday-de-be-not-epiphany", OFFICE, {**BERLIN, "holiday_calendar": "DE-BE"}, U(2026, 1, 6, 9), R),
    ("holiday-de-by-local-day-starts-2300z", ALWAYS, {**BERLIN, "holiday_calendar": "DE-BY"}, U(2026, 1, 5, 23), S),
    ("holiday-de-by-local-day-before", ALWAYS, {**BERLIN, "holiday_calendar": "DE-BY"}, U(2026, 1, 5, 22, 59), R),
    ("holiday-de-by-local-day-ends-2300z", ALWAYS, {**BERLIN, "holiday_calendar": "DE-BY"}, U(2026, 1, 6, 23), R),
    ("holiday-overnight-before-midnight", NIGHT, {"holidays": ["2026-12-25"]}, U(2026, 12, 24, 23), R),
    ("holiday-overnight-cut-after-midnight", NIGHT, {"holidays": ["2026-12-25"]}, U(2026, 12, 25, 1), S),
    ("holiday-overnight-from-holiday-into-next-day", NIGHT, {"holidays": ["2026-12-25"]}, U(2026, 12, 26, 1), R),
    ("cron-window-inside", CRON_DAY, {}, U(2026, 1, 5, 12), R),
    ("cron-window-after-stop", CRON_DAY, {}, U(2026, 1, 5, 19), S),
    ("cron-window-at-stop", CRON_DAY, {}, U(2026, 1, 5, 18), S),
    ("cron-multi-start-after-first", CRON_MULTI_START, {}, U(2026, 1, 5, 9), R),
    ("cron-berlin-before-local-start", CRON_OFFICE, BERLIN, U(2026, 1, 5, 7, 30), S),
    ("cron-berlin-at-local-start", CRON_OFFICE, BERLIN, U(2026, 1, 5, 8), R),
    ("cron-weekend-off-wednesday-night", CRON_WEEKEND_OFF, {}, U(2026, 1, 7, 3), R),
    ("cron-weekend-off-saturday", CRON_WEEKEND_OFF, {}, U(2026, 1, 10, 12), S),
    ("cron-weekend-off-monday-before-start", CRON_WEEKEND_OFF, {}, U(2026, 1, 5, 5, 59), S),
    ("cron-weekend-off-friday-before-stop", CRON_WEEKEND_OFF, {}, U(2026, 1, 9, 19, 59), R),
    ("cron-holiday-midweek", CRON_MON_TO_SAT, {"holidays": ["2026-01-07"]}, U(2026, 1, 7, 12), S),
    ("cron-monthly-after-first-start", CRON_MONTHLY, {}, U(2026, 1, 3), R),
    ("cron-monthly-nine-days-after-start", CRON_MONTHLY, {}, U(2026, 1, 14, 23, 59), R),
    ("cron-monthly-after-stop", CRON_MONTHLY, {}, U(2026, 1, 20), S),
]


@pytest.mark.parametrize(
    ("periods", "schedule", "t", "expected"), [c[1:] for c in STATE_CASES], ids=[c[0] for c in STATE_CASES]
)
def test_state_at(periods: dict[str, Any], schedule: dict[str, Any], t: datetime, expected: State) -> None:
    assert make(periods, **schedule).state_at(t) is expected


# -- running intervals and preview-style hours -------------------------------------------------------------------------

WEEK = (U(2026, 1, 5), U(2026, 1, 12))  # Monday 2026-01-05 .. Sunday 2026-01-11 in UTC
BERLIN_WEEK = (U(2026, 1, 4, 23), U(2026, 1, 11, 23))  # the same local week in Europe/Berlin (UTC+1)

HOURS_CASES: list[tuple[str, dict[str, Any], dict[str, Any], tuple[datetime, datetime], float]] = [
    ("office-mon-fri-9-17", OFFICE, {}, WEEK, 40.0),
    ("office-berlin-local-week", OFFICE, BERLIN, BERLIN_WEEK, 40.0),
    (
        "office-sydney-local-week",
        OFFICE,
        {"timezone": "Australia/Sydney"},
        (U(2026, 1, 4, 13), U(2026, 1, 11, 13)),
        40.0,
    ),
    ("office-with-holiday", OFFICE, {"holidays": ["2026-01-07"]}, WEEK, 32.0),
    ("office-de-by-epiphany-week", OFFICE, {**BERLIN, "holiday_calendar": "DE-BY"}, BERLIN_WEEK, 32.0),
    ("office-de-be-week", OFFICE, {**BERLIN, "holiday_calendar": "DE-BE"}, BERLIN_WEEK, 40.0),
    ("office-plus-events", OFFICE_AND_MORNING_START, {}, WEEK, 40.0),
    ("overnight-daily", NIGHT, {}, WEEK, 56.0),
    ("fri-night-only", FRI_NIGHT, {}, WEEK, 8.0),
    ("weekend-whole-days", WEEKEND, {}, WEEK, 48.0),
    ("always", ALWAYS, {}, WEEK, 168.0),
    ("union-overlap-daily", OVERLAP, {}, WEEK, 35.0),
    ("gap-1min-merged-daily", GAP_1MIN_NIGHT, {}, WEEK, 84.0),
    ("gap-2min-not-merged-daily", GAP_2MIN_NIGHT, {}, WEEK, 7 * (11 + 58 / 60)),
    ("gap-1min-midday-merged", GAP_1MIN_MIDDAY, {}, WEEK, 56.0),
    ("event-only-none", MORNING_START, {}, WEEK, 0.0),
    ("override-running", OFFICE, {"override_status": "running"}, WEEK, 168.0),
    ("override-stopped", OFFICE, {"override_status": "stopped"}, WEEK, 0.0),
    ("cron-daily-window", CRON_DAY, {}, WEEK, 70.0),
    ("cron-mon-to-sat", CRON_MON_TO_SAT, {}, WEEK, 120.0),
    ("cron-weekend-off", CRON_WEEKEND_OFF, {}, WEEK, 4 * 24 + 14.0),
    ("cron-mon-to-sat-holiday", CRON_MON_TO_SAT, {"holidays": ["2026-01-07"]}, WEEK, 96.0),
]


@pytest.mark.parametrize(
    ("periods", "schedule", "span", "expected"), [c[1:] for c in HOURS_CASES], ids=[c[0] for c in HOURS_CASES]
)
def test_running_hours_week(
    periods: dict[str, Any], schedule: dict[str, Any], span: tuple[datetime, datetime], expected: float
) -> None:
    assert hours(make(periods, **schedule), *span) == pytest.approx(expected)


RUNNING_CASES: list[tuple[str, dict[str, Any], dict[str, Any], datetime, datetime, list[tuple[datetime, datetime]]]] = [
    (
        "overnight-clipped",
        NIGHT,
        {},
        U(2026, 1, 5),
        U(2026, 1, 6),
        [(U(2026, 1, 5), U(2026, 1, 5, 6)), (U(2026, 1, 5, 22), U(2026, 1, 6))],
    ),
    (
        "gap-1min-one-interval",
        GAP_1MIN_NIGHT,
        {},
        U(2026, 1, 5, 12),
        U(2026, 1, 6, 12),
        [(U(2026, 1, 5, 18), U(2026, 1, 6, 6))],
    ),
    (
        "gap-2min-two-intervals",
        GAP_2MIN_NIGHT,
        {},
        U(2026, 1, 5, 12),
        U(2026, 1, 6, 12),
        [(U(2026, 1, 5, 18), U(2026, 1, 5, 23, 58)), (U(2026, 1, 6), U(2026, 1, 6, 6))],
    ),
    (
        "weekend-merged",
        WEEKEND,
        {},
        U(2026, 1, 5),
        U(2026, 1, 19),
        [(U(2026, 1, 10), U(2026, 1, 12)), (U(2026, 1, 17), U(2026, 1, 19))],
    ),
    ("cron-multi-start", CRON_MULTI_START, {}, U(2026, 1, 5), U(2026, 1, 6), [(U(2026, 1, 5, 8), U(2026, 1, 5, 18))]),
    (
        "holiday-berlin-local-day-hole",
        ALWAYS,
        {**BERLIN, "holiday_calendar": "DE-BY"},
        U(2026, 1, 5),
        U(2026, 1, 8),
        [(U(2026, 1, 5), U(2026, 1, 5, 23)), (U(2026, 1, 6, 23), U(2026, 1, 8))],
    ),
    ("event-only-empty", MORNING_START, {}, U(2026, 1, 5), U(2026, 1, 8), []),
]


@pytest.mark.parametrize(
    ("periods", "schedule", "start", "end", "expected"),
    [c[1:] for c in RUNNING_CASES],
    ids=[c[0] for c in RUNNING_CASES],
)
def test_running_intervals(
    periods: dict[str, Any],
    schedule: dict[str, Any],
    start: datetime,
    end: datetime,
    expected: list[tuple[datetime, datetime]],
) -> None:
    assert make(periods, **schedule).running(start, end) == expected


# -- instance types ----------------------------------------------------------------------------------------------------

DAY_NIGHT = {"day": {"begintime": "08:00", "endtime": "20:00"}, "night": {"begintime": "20:00", "endtime": "08:00"}}

INSTANCE_TYPE_CASES: list[tuple[str, dict[str, Any], list[str], dict[str, Any], datetime, str | None]] = [
    (
        "first-listed-wins",
        {**OFFICE, **ALWAYS},
        ["office@m5.xlarge", "always@t3.micro"],
        {},
        U(2026, 1, 5, 10),
        "m5.xlarge",
    ),
    (
        "second-period-outside-first",
        {**OFFICE, **ALWAYS},
        ["office@m5.xlarge", "always@t3.micro"],
        {},
        U(2026, 1, 5, 20),
        "t3.micro",
    ),
    (
        "second-period-weekend",
        {**OFFICE, **ALWAYS},
        ["office@m5.xlarge", "always@t3.micro"],
        {},
        U(2026, 1, 10, 10),
        "t3.micro",
    ),
    ("order-matters", {**OFFICE, **ALWAYS}, ["always@t3.micro", "office@m5.xlarge"], {}, U(2026, 1, 5, 10), "t3.micro"),
    ("day-period", DAY_NIGHT, ["day@t3.large", "night@t3.small"], {}, U(2026, 1, 5, 10), "t3.large"),
    ("night-period-evening", DAY_NIGHT, ["day@t3.large", "night@t3.small"], {}, U(2026, 1, 5, 23), "t3.small"),
    ("night-period-after-midnight", DAY_NIGHT, ["day@t3.large", "night@t3.small"], {}, U(2026, 1, 6, 3), "t3.small"),
    ("untyped-running-period", {**OFFICE, **ALWAYS}, ["office@m5.xlarge", "always"], {}, U(2026, 1, 10, 10), None),
    ("stopped-none", OFFICE, ["office@t3.large"], {}, U(2026, 1, 10, 10), None),
    ("no-type-none", OFFICE, ["office"], {}, U(2026, 1, 5, 10), None),
    ("holiday-none", OFFICE, ["office@t3.large"], {"holidays": ["2026-01-07"]}, U(2026, 1, 7, 10), None),
    ("cron-period-typed", CRON_DAY, ["c@c5.large"], {}, U(2026, 1, 5, 12), "c5.large"),
    ("berlin-local-time", OFFICE, ["office@t3.large"], BERLIN, U(2026, 1, 5, 8), "t3.large"),
]


@pytest.mark.parametrize(
    ("periods", "refs", "schedule", "t", "expected"),
    [c[1:] for c in INSTANCE_TYPE_CASES],
    ids=[c[0] for c in INSTANCE_TYPE_CASES],
)
def test_instance_type_at(
    periods: dict[str, Any], refs: list[str], schedule: dict[str, Any], t: datetime, expected: str | None
) -> None:
    assert make(periods, refs, **schedule).instance_type_at(t) == expected


# -- next transition ---------------------------------------------------------------------------------------------------

NEXT_CASES: list[tuple[str, dict[str, Any], dict[str, Any], datetime, tuple[datetime, str] | None]] = [
    ("before-start", OFFICE, {}, U(2026, 1, 5, 8), (U(2026, 1, 5, 9), "start")),
    ("strictly-after-start", OFFICE, {}, U(2026, 1, 5, 9), (U(2026, 1, 5, 17), "stop")),
    ("over-weekend", OFFICE, {}, U(2026, 1, 9, 17), (U(2026, 1, 12, 9), "start")),
    ("over-weekend-and-holiday", OFFICE, {"holidays": ["2026-01-12"]}, U(2026, 1, 9, 17), (U(2026, 1, 13, 9), "start")),
    ("berlin-local", OFFICE, BERLIN, U(2026, 1, 5, 7), (U(2026, 1, 5, 8), "start")),
    ("monthday-weeks-ahead", {"first": {"monthdays": "1"}}, {}, U(2026, 1, 2), (U(2026, 2, 1), "start")),
    ("month-months-ahead", {"dec": {"months": "dec"}}, {}, U(2026, 1, 5), (U(2026, 12, 1), "start")),
    ("event-only", MORNING_START, {}, U(2026, 1, 5, 7), (U(2026, 1, 6, 7), "start")),
    ("cron-weekend-off-stop", CRON_MON_TO_SAT, {}, U(2026, 1, 6), (U(2026, 1, 10), "stop")),
    ("cron-monthly-stop", CRON_MONTHLY, {}, U(2026, 1, 6), (U(2026, 1, 15), "stop")),
    ("cron-monthly-next-start", CRON_MONTHLY, {}, U(2026, 1, 15), (U(2026, 2, 1), "start")),
    ("override-none", OFFICE, {"override_status": "running"}, U(2026, 1, 5), None),
    ("always-running-none", ALWAYS, {}, U(2026, 1, 5), None),
]


@pytest.mark.parametrize(
    ("periods", "schedule", "after", "expected"), [c[1:] for c in NEXT_CASES], ids=[c[0] for c in NEXT_CASES]
)
def test_next_transition(
    periods: dict[str, Any], schedule: dict[str, Any], after: datetime, expected: tuple[datetime, str] | None
) -> None:
    got = make(periods, **schedule).next_transition(after)
    assert (None if got is None else (got.at, got.action)) == expected
