"""DST behaviour of the evaluator (SPEC §2 "Time zones and DST"), table-driven over five zones and both 2026 changes.

A local time that occurs twice maps to its first occurrence (one start, one stop); a local time that does not exist
maps to the instant the clock jumps (a window wholly inside the gap is empty that day). Expected instants are literal
UTC datetimes worked out by hand from these 2026 changes (checked against zoneinfo in ``test_change_facts``):

=================== ====================================== ==================================================
zone                spring forward (gap, local)            fall back (fold, local)
=================== ====================================== ==================================================
America/New_York    03-08 02:00->03:00 at 07:00Z (-5/-4)   11-01 02:00->01:00 at 06:00Z (-4/-5)
Europe/Berlin       03-29 02:00->03:00 at 01:00Z (+1/+2)   10-25 03:00->02:00 at 01:00Z (+2/+1)
Australia/Sydney    10-04 02:00->03:00 at 10-03 16:00Z     04-05 03:00->02:00 at 04-04 16:00Z (+11/+10)
Pacific/Auckland    09-27 02:00->03:00 at 09-26 14:00Z     04-05 03:00->02:00 at 04-04 14:00Z (+13/+12)
Australia/Lord_Howe 10-04 02:00->02:30 at 10-03 15:30Z     04-05 02:00->01:30 at 04-04 15:00Z (+11/+10:30)
=================== ====================================== ==================================================
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.engine import Evaluator, State, local_day_bounds, parse_text

NY, BER, SYD, AKL, LHI = (
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Australia/Lord_Howe",
)


def U(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def make(tz: str, periods: dict[str, dict[str, Any]]) -> Evaluator:
    doc = {"periods": periods, "schedules": {"s": {"timezone": tz, "periods": list(periods)}}}
    return Evaluator.from_config(parse_text(json.dumps(doc)), "s")


def window(begin: str, end: str) -> dict[str, dict[str, Any]]:
    return {"w": {"begintime": begin, "endtime": end}}


def cron(start: str | None = None, stop: str | None = None) -> dict[str, dict[str, Any]]:
    p = {k: v for k, v in (("start", start), ("stop", stop)) if v is not None}
    return {"c": p}


def pairs(ev: Evaluator, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    return [(t.at, t.action) for t in ev.transitions(start, end)]


def hours(ev: Evaluator, start: datetime, end: datetime) -> float:
    return sum((e - s).total_seconds() for s, e in ev.running(start, end)) / 3600.0


# Local day bounds (local midnight to next local midnight) of each change day, as UTC instants.
SPRING_DAY = {
    NY: (date(2026, 3, 8), U(2026, 3, 8, 5), U(2026, 3, 9, 4)),
    BER: (date(2026, 3, 29), U(2026, 3, 28, 23), U(2026, 3, 29, 22)),
    SYD: (date(2026, 10, 4), U(2026, 10, 3, 14), U(2026, 10, 4, 13)),
    AKL: (date(2026, 9, 27), U(2026, 9, 26, 12), U(2026, 9, 27, 11)),
    LHI: (date(2026, 10, 4), U(2026, 10, 3, 13, 30), U(2026, 10, 4, 13)),
}
FALL_DAY = {
    NY: (date(2026, 11, 1), U(2026, 11, 1, 4), U(2026, 11, 2, 5)),
    BER: (date(2026, 10, 25), U(2026, 10, 24, 22), U(2026, 10, 25, 23)),
    SYD: (date(2026, 4, 5), U(2026, 4, 4, 13), U(2026, 4, 5, 14)),
    AKL: (date(2026, 4, 5), U(2026, 4, 4, 11), U(2026, 4, 5, 12)),
    LHI: (date(2026, 4, 5), U(2026, 4, 4, 13), U(2026, 4, 5, 13, 30)),
}
ZONES = [NY, BER, SYD, AKL, LHI]


# -- the facts the tables rely on --------------------------------------------------------------------------------------

CHANGES = [
    # zone, last instant before the change, local wall time just before, local wall time at the change
    (NY, U(2026, 3, 8, 7), "2026-03-08 01:59:59", "2026-03-08 03:00:00"),
    (NY, U(2026, 11, 1, 6), "2026-11-01 01:59:59", "2026-11-01 01:00:00"),
    (BER, U(2026, 3, 29, 1), "2026-03-29 01:59:59", "2026-03-29 03:00:00"),
    (BER, U(2026, 10, 25, 1), "2026-10-25 02:59:59", "2026-10-25 02:00:00"),
    (SYD, U(2026, 4, 4, 16), "2026-04-05 02:59:59", "2026-04-05 02:00:00"),
    (SYD, U(2026, 10, 3, 16), "2026-10-04 01:59:59", "2026-10-04 03:00:00"),
    (AKL, U(2026, 4, 4, 14), "2026-04-05 02:59:59", "2026-04-05 02:00:00"),
    (AKL, U(2026, 9, 26, 14), "2026-09-27 01:59:59", "2026-09-27 03:00:00"),
    (LHI, U(2026, 4, 4, 15), "2026-04-05 01:59:59", "2026-04-05 01:30:00"),
    (LHI, U(2026, 10, 3, 15, 30), "2026-10-04 01:59:59", "2026-10-04 02:30:00"),
]


@pytest.mark.parametrize(("tz", "at", "before", "after"), CHANGES, ids=[f"{c[0]}-{c[1]:%m-%d}" for c in CHANGES])
def test_change_facts(tz: str, at: datetime, before: str, after: str) -> None:
    zi = ZoneInfo(tz)
    assert (at - timedelta(seconds=1)).astimezone(zi).strftime("%Y-%m-%d %H:%M:%S") == before
    assert at.astimezone(zi).strftime("%Y-%m-%d %H:%M:%S") == after


DAY_BOUNDS = [(tz, "spring", *SPRING_DAY[tz]) for tz in ZONES] + [(tz, "fall", *FALL_DAY[tz]) for tz in ZONES]


@pytest.mark.parametrize(("tz", "kind", "day", "start", "end"), DAY_BOUNDS, ids=[f"{c[0]}-{c[1]}" for c in DAY_BOUNDS])
def test_local_day_bounds(tz: str, kind: str, day: date, start: datetime, end: datetime) -> None:
    assert local_day_bounds(day, day, ZoneInfo(tz)) == (start, end)


# -- a window in the repeated hour: one start and one stop, at the first occurrence ------------------------------------

FOLD_WINDOW = [
    # zone, begin, end, start, stop, an instant in the second occurrence of the window's wall times
    (NY, "01:10", "01:50", U(2026, 11, 1, 5, 10), U(2026, 11, 1, 5, 50), U(2026, 11, 1, 6, 30)),
    (BER, "02:10", "02:50", U(2026, 10, 25, 0, 10), U(2026, 10, 25, 0, 50), U(2026, 10, 25, 1, 30)),
    (SYD, "02:10", "02:50", U(2026, 4, 4, 15, 10), U(2026, 4, 4, 15, 50), U(2026, 4, 4, 16, 30)),
    (AKL, "02:10", "02:50", U(2026, 4, 4, 13, 10), U(2026, 4, 4, 13, 50), U(2026, 4, 4, 14, 30)),
    (LHI, "01:35", "01:55", U(2026, 4, 4, 14, 35), U(2026, 4, 4, 14, 55), U(2026, 4, 4, 15, 15)),
]


@pytest.mark.parametrize(
    ("tz", "begin", "end", "start", "stop", "second"), FOLD_WINDOW, ids=[c[0] for c in FOLD_WINDOW]
)
def test_window_in_fold_first_occurrence(
    tz: str, begin: str, end: str, start: datetime, stop: datetime, second: datetime
) -> None:
    ev = make(tz, window(begin, end))
    _, day_start, day_end = FALL_DAY[tz]
    assert pairs(ev, day_start, day_end) == [(start, "start"), (stop, "stop")]
    assert ev.running(day_start, day_end) == [(start, stop)]
    assert ev.state_at(start) is State.RUNNING
    assert ev.state_at(second) is State.STOPPED


FOLD_SPAN = [
    # zone, window, start, stop, hours: a window that spans the fall-back change, and windows that begin or end in it
    (NY, "00:00", "06:00", U(2026, 11, 1, 4), U(2026, 11, 1, 11), 7.0),
    (BER, "00:00", "06:00", U(2026, 10, 24, 22), U(2026, 10, 25, 5), 7.0),
    (SYD, "00:00", "06:00", U(2026, 4, 4, 13), U(2026, 4, 4, 20), 7.0),
    (AKL, "00:00", "06:00", U(2026, 4, 4, 11), U(2026, 4, 4, 18), 7.0),
    (LHI, "00:00", "06:00", U(2026, 4, 4, 13), U(2026, 4, 4, 19, 30), 6.5),
    (NY, "01:30", "03:00", U(2026, 11, 1, 5, 30), U(2026, 11, 1, 8), 2.5),
    (BER, "02:30", "04:00", U(2026, 10, 25, 0, 30), U(2026, 10, 25, 3), 2.5),
    (SYD, "02:30", "04:00", U(2026, 4, 4, 15, 30), U(2026, 4, 4, 18), 2.5),
    (AKL, "02:30", "04:00", U(2026, 4, 4, 13, 30), U(2026, 4, 4, 16), 2.5),
    (LHI, "01:45", "03:00", U(2026, 4, 4, 14, 45), U(2026, 4, 4, 16, 30), 1.75),
    (NY, "00:00", "01:30", U(2026, 11, 1, 4), U(2026, 11, 1, 5, 30), 1.5),
    (BER, "00:00", "02:30", U(2026, 10, 24, 22), U(2026, 10, 25, 0, 30), 2.5),
    (SYD, "00:00", "02:30", U(2026, 4, 4, 13), U(2026, 4, 4, 15, 30), 2.5),
    (AKL, "00:00", "02:30", U(2026, 4, 4, 11), U(2026, 4, 4, 13, 30), 2.5),
    (LHI, "00:00", "01:45", U(2026, 4, 4, 13), U(2026, 4, 4, 14, 45), 1.75),
]


@pytest.mark.parametrize(
    ("tz", "begin", "end", "start", "stop", "expected_hours"),
    FOLD_SPAN,
    ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in FOLD_SPAN],
)
def test_window_across_fall_back(
    tz: str, begin: str, end: str, start: datetime, stop: datetime, expected_hours: float
) -> None:
    ev = make(tz, window(begin, end))
    _, day_start, day_end = FALL_DAY[tz]
    assert pairs(ev, day_start, day_end) == [(start, "start"), (stop, "stop")]
    assert hours(ev, day_start, day_end) == pytest.approx(expected_hours)


# -- the gap: a start inside it is the jump instant; a window wholly inside it is empty --------------------------------

GAP_EDGE = [
    # zone, window, start, stop, hours: windows that begin or end inside the spring-forward gap
    (NY, "02:30", "04:00", U(2026, 3, 8, 7), U(2026, 3, 8, 8), 1.0),
    (BER, "02:30", "04:00", U(2026, 3, 29, 1), U(2026, 3, 29, 2), 1.0),
    (SYD, "02:30", "04:00", U(2026, 10, 3, 16), U(2026, 10, 3, 17), 1.0),
    (AKL, "02:30", "04:00", U(2026, 9, 26, 14), U(2026, 9, 26, 15), 1.0),
    (LHI, "02:15", "04:00", U(2026, 10, 3, 15, 30), U(2026, 10, 3, 17), 1.5),
    (NY, "01:00", "02:30", U(2026, 3, 8, 6), U(2026, 3, 8, 7), 1.0),
    (BER, "01:00", "02:30", U(2026, 3, 29), U(2026, 3, 29, 1), 1.0),
    (SYD, "01:00", "02:30", U(2026, 10, 3, 15), U(2026, 10, 3, 16), 1.0),
    (AKL, "01:00", "02:30", U(2026, 9, 26, 13), U(2026, 9, 26, 14), 1.0),
    (LHI, "01:00", "02:15", U(2026, 10, 3, 14, 30), U(2026, 10, 3, 15, 30), 1.0),
    # a window spanning the change: 00:00-06:00 is an hour (half an hour on Lord Howe) short
    (NY, "00:00", "06:00", U(2026, 3, 8, 5), U(2026, 3, 8, 10), 5.0),
    (BER, "00:00", "06:00", U(2026, 3, 28, 23), U(2026, 3, 29, 4), 5.0),
    (SYD, "00:00", "06:00", U(2026, 10, 3, 14), U(2026, 10, 3, 19), 5.0),
    (AKL, "00:00", "06:00", U(2026, 9, 26, 12), U(2026, 9, 26, 17), 5.0),
    (LHI, "00:00", "06:00", U(2026, 10, 3, 13, 30), U(2026, 10, 3, 19), 5.5),
]


@pytest.mark.parametrize(
    ("tz", "begin", "end", "start", "stop", "expected_hours"),
    GAP_EDGE,
    ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in GAP_EDGE],
)
def test_window_across_spring_forward(
    tz: str, begin: str, end: str, start: datetime, stop: datetime, expected_hours: float
) -> None:
    ev = make(tz, window(begin, end))
    _, day_start, day_end = SPRING_DAY[tz]
    assert pairs(ev, day_start, day_end) == [(start, "start"), (stop, "stop")]
    assert ev.running(day_start, day_end) == [(start, stop)]
    assert hours(ev, day_start, day_end) == pytest.approx(expected_hours)


GAP_EMPTY = [
    # zone, window wholly inside the gap, the jump instant, the next day's start and stop
    (NY, "02:10", "02:50", U(2026, 3, 8, 7), U(2026, 3, 9, 6, 10), U(2026, 3, 9, 6, 50)),
    (BER, "02:10", "02:50", U(2026, 3, 29, 1), U(2026, 3, 30, 0, 10), U(2026, 3, 30, 0, 50)),
    (SYD, "02:10", "02:50", U(2026, 10, 3, 16), U(2026, 10, 4, 15, 10), U(2026, 10, 4, 15, 50)),
    (AKL, "02:10", "02:50", U(2026, 9, 26, 14), U(2026, 9, 27, 13, 10), U(2026, 9, 27, 13, 50)),
    (LHI, "02:05", "02:25", U(2026, 10, 3, 15, 30), U(2026, 10, 4, 15, 5), U(2026, 10, 4, 15, 25)),
]


@pytest.mark.parametrize(
    ("tz", "begin", "end", "jump", "next_start", "next_stop"), GAP_EMPTY, ids=[c[0] for c in GAP_EMPTY]
)
def test_window_wholly_in_gap_is_empty(
    tz: str, begin: str, end: str, jump: datetime, next_start: datetime, next_stop: datetime
) -> None:
    ev = make(tz, window(begin, end))
    _, day_start, day_end = SPRING_DAY[tz]
    assert pairs(ev, day_start, day_end) == []
    assert ev.running(day_start, day_end) == []
    assert hours(ev, day_start, day_end) == 0.0
    assert ev.state_at(jump) is State.STOPPED
    assert pairs(ev, day_start, day_end + timedelta(days=1)) == [(next_start, "start"), (next_stop, "stop")]


# -- 9-17 keeps its wall-clock times across both changes ---------------------------------------------------------------

NINE_TO_FIVE = [
    # zone, change, (start, stop) on the day before, the day of and the day after the change
    (
        NY,
        "spring",
        [
            (U(2026, 3, 7, 14), U(2026, 3, 7, 22)),
            (U(2026, 3, 8, 13), U(2026, 3, 8, 21)),
            (U(2026, 3, 9, 13), U(2026, 3, 9, 21)),
        ],
    ),
    (
        NY,
        "fall",
        [
            (U(2026, 10, 31, 13), U(2026, 10, 31, 21)),
            (U(2026, 11, 1, 14), U(2026, 11, 1, 22)),
            (U(2026, 11, 2, 14), U(2026, 11, 2, 22)),
        ],
    ),
    (
        BER,
        "spring",
        [
            (U(2026, 3, 28, 8), U(2026, 3, 28, 16)),
            (U(2026, 3, 29, 7), U(2026, 3, 29, 15)),
            (U(2026, 3, 30, 7), U(2026, 3, 30, 15)),
        ],
    ),
    (
        BER,
        "fall",
        [
            (U(2026, 10, 24, 7), U(2026, 10, 24, 15)),
            (U(2026, 10, 25, 8), U(2026, 10, 25, 16)),
            (U(2026, 10, 26, 8), U(2026, 10, 26, 16)),
        ],
    ),
    (
        SYD,
        "fall",
        [
            (U(2026, 4, 3, 22), U(2026, 4, 4, 6)),
            (U(2026, 4, 4, 23), U(2026, 4, 5, 7)),
            (U(2026, 4, 5, 23), U(2026, 4, 6, 7)),
        ],
    ),
    (
        SYD,
        "spring",
        [
            (U(2026, 10, 2, 23), U(2026, 10, 3, 7)),
            (U(2026, 10, 3, 22), U(2026, 10, 4, 6)),
            (U(2026, 10, 4, 22), U(2026, 10, 5, 6)),
        ],
    ),
    (
        AKL,
        "fall",
        [
            (U(2026, 4, 3, 20), U(2026, 4, 4, 4)),
            (U(2026, 4, 4, 21), U(2026, 4, 5, 5)),
            (U(2026, 4, 5, 21), U(2026, 4, 6, 5)),
        ],
    ),
    (
        AKL,
        "spring",
        [
            (U(2026, 9, 25, 21), U(2026, 9, 26, 5)),
            (U(2026, 9, 26, 20), U(2026, 9, 27, 4)),
            (U(2026, 9, 27, 20), U(2026, 9, 28, 4)),
        ],
    ),
    (
        LHI,
        "fall",
        [
            (U(2026, 4, 3, 22), U(2026, 4, 4, 6)),
            (U(2026, 4, 4, 22, 30), U(2026, 4, 5, 6, 30)),
            (U(2026, 4, 5, 22, 30), U(2026, 4, 6, 6, 30)),
        ],
    ),
    (
        LHI,
        "spring",
        [
            (U(2026, 10, 2, 22, 30), U(2026, 10, 3, 6, 30)),
            (U(2026, 10, 3, 22), U(2026, 10, 4, 6)),
            (U(2026, 10, 4, 22), U(2026, 10, 5, 6)),
        ],
    ),
]


@pytest.mark.parametrize(("tz", "change", "days"), NINE_TO_FIVE, ids=[f"{c[0]}-{c[1]}" for c in NINE_TO_FIVE])
def test_nine_to_five_keeps_wall_time(tz: str, change: str, days: list[tuple[datetime, datetime]]) -> None:
    ev = make(tz, window("09:00", "17:00"))
    span = (days[0][0] - timedelta(hours=1), days[-1][1] + timedelta(hours=1))
    assert pairs(ev, *span) == [p for s, e in days for p in ((s, "start"), (e, "stop"))]
    assert hours(ev, *span) == pytest.approx(24.0)


# -- whole days and whole weeks: 23/25-hour days (23.5/24.5 on Lord Howe) ----------------------------------------------

WHOLE_DAY = [(tz, "spring", *SPRING_DAY[tz], hrs) for tz, hrs in zip(ZONES, (23, 23, 23, 23, 23.5), strict=True)] + [
    (tz, "fall", *FALL_DAY[tz], hrs) for tz, hrs in zip(ZONES, (25, 25, 25, 25, 24.5), strict=True)
]


@pytest.mark.parametrize(
    ("tz", "kind", "day", "start", "end", "expected_hours"), WHOLE_DAY, ids=[f"{c[0]}-{c[1]}" for c in WHOLE_DAY]
)
def test_whole_day_period_on_change_day(
    tz: str, kind: str, day: date, start: datetime, end: datetime, expected_hours: float
) -> None:
    ev = make(tz, {"d": {"monthdays": str(day.day), "months": str(day.month)}})
    wide = (start - timedelta(days=2), end + timedelta(days=2))
    assert ev.running(*wide) == [(start, end)]
    assert pairs(ev, *wide) == [(start, "start"), (end, "stop")]
    assert hours(ev, *wide) == pytest.approx(expected_hours)


WEEKS = [
    # zone, change, Monday 00:00 .. the next Monday 00:00 (local) as UTC, whole-day hours, Mon-Fri 09-17 hours
    (NY, "spring", U(2026, 3, 2, 5), U(2026, 3, 9, 4), 167.0),
    (NY, "fall", U(2026, 10, 26, 4), U(2026, 11, 2, 5), 169.0),
    (BER, "spring", U(2026, 3, 22, 23), U(2026, 3, 29, 22), 167.0),
    (BER, "fall", U(2026, 10, 18, 22), U(2026, 10, 25, 23), 169.0),
    (SYD, "fall", U(2026, 3, 29, 13), U(2026, 4, 5, 14), 169.0),
    (SYD, "spring", U(2026, 9, 27, 14), U(2026, 10, 4, 13), 167.0),
    (AKL, "fall", U(2026, 3, 29, 11), U(2026, 4, 5, 12), 169.0),
    (AKL, "spring", U(2026, 9, 20, 12), U(2026, 9, 27, 11), 167.0),
    (LHI, "fall", U(2026, 3, 29, 13), U(2026, 4, 5, 13, 30), 168.5),
    (LHI, "spring", U(2026, 9, 27, 13, 30), U(2026, 10, 4, 13), 167.5),
]


@pytest.mark.parametrize(("tz", "change", "start", "end", "whole"), WEEKS, ids=[f"{c[0]}-{c[1]}" for c in WEEKS])
def test_week_hours_across_change(tz: str, change: str, start: datetime, end: datetime, whole: float) -> None:
    monday = start.astimezone(ZoneInfo(tz)).date()
    assert monday.weekday() == 0
    assert local_day_bounds(monday, monday + timedelta(days=6), ZoneInfo(tz)) == (start, end)
    assert hours(make(tz, {"all": {"weekdays": "*"}}), start, end) == pytest.approx(whole)
    office = {"office": {"begintime": "09:00", "endtime": "17:00", "weekdays": "mon-fri"}}
    assert hours(make(tz, office), start, end) == pytest.approx(40.0)


# -- zones whose clocks change at midnight: the day starts at the jump, or its midnight follows the fold ---------------

SCL, HAV, BEY = "America/Santiago", "America/Havana", "Asia/Beirut"

MIDNIGHT = [
    # zone, period, running (one interval), hours
    (SCL, {"monthdays": "6", "months": "9"}, U(2026, 9, 6, 4), U(2026, 9, 7, 3), 23.0),  # 00:00 -> 01:00 at 04:00Z
    (
        SCL,
        {"begintime": "22:00", "endtime": "24:00", "monthdays": "5", "months": "9"},
        U(2026, 9, 6, 2),
        U(2026, 9, 6, 4),
        2.0,
    ),
    (SCL, {"monthdays": "4", "months": "4"}, U(2026, 4, 4, 3), U(2026, 4, 5, 4), 25.0),  # 24:00 -> 23:00 at 03:00Z
    (
        SCL,
        {"begintime": "22:00", "endtime": "24:00", "monthdays": "4", "months": "4"},
        U(2026, 4, 5, 1),
        U(2026, 4, 5, 4),
        3.0,
    ),
    (
        SCL,
        {"begintime": "23:30", "endtime": "00:30", "monthdays": "4", "months": "4"},
        U(2026, 4, 5, 2, 30),
        U(2026, 4, 5, 4, 30),
        2.0,
    ),
    (HAV, {"monthdays": "8", "months": "3"}, U(2026, 3, 8, 5), U(2026, 3, 9, 4), 23.0),  # 00:00 -> 01:00 at 05:00Z
    (HAV, {"monthdays": "1", "months": "11"}, U(2026, 11, 1, 4), U(2026, 11, 2, 5), 25.0),  # 01:00 -> 00:00 at 05:00Z
    (BEY, {"monthdays": "29", "months": "3"}, U(2026, 3, 28, 22), U(2026, 3, 29, 21), 23.0),  # 00:00 -> 01:00
    (BEY, {"monthdays": "24", "months": "10"}, U(2026, 10, 23, 21), U(2026, 10, 24, 22), 25.0),  # 24:00 -> 23:00
]


@pytest.mark.parametrize(
    ("tz", "period", "start", "end", "expected_hours"), MIDNIGHT, ids=[f"{c[0]}-{c[2]:%m-%d}" for c in MIDNIGHT]
)
def test_change_at_midnight(
    tz: str, period: dict[str, str], start: datetime, end: datetime, expected_hours: float
) -> None:
    ev = make(tz, {"p": period})
    wide = (start - timedelta(days=2), end + timedelta(days=2))
    assert ev.running(*wide) == [(start, end)]
    assert pairs(ev, *wide) == [(start, "start"), (end, "stop")]
    assert hours(ev, *wide) == pytest.approx(expected_hours)


# -- cron: fires in a fold are de-duplicated, fires in a gap map to the jump instant -----------------------------------

CRON_FOLD = [
    # zone, expression, the day's fires (first occurrences only)
    (NY, "30 1 * * *", [U(2026, 11, 1, 5, 30)]),
    (BER, "30 2 * * *", [U(2026, 10, 25, 0, 30)]),
    (SYD, "30 2 * * *", [U(2026, 4, 4, 15, 30)]),
    (AKL, "30 2 * * *", [U(2026, 4, 4, 13, 30)]),
    (LHI, "45 1 * * *", [U(2026, 4, 4, 14, 45)]),
    (NY, "*/20 1 * * *", [U(2026, 11, 1, 5, 0), U(2026, 11, 1, 5, 20), U(2026, 11, 1, 5, 40)]),
    (BER, "*/20 2 * * *", [U(2026, 10, 25, 0, 0), U(2026, 10, 25, 0, 20), U(2026, 10, 25, 0, 40)]),
    (SYD, "*/20 2 * * *", [U(2026, 4, 4, 15, 0), U(2026, 4, 4, 15, 20), U(2026, 4, 4, 15, 40)]),
    (AKL, "*/20 2 * * *", [U(2026, 4, 4, 13, 0), U(2026, 4, 4, 13, 20), U(2026, 4, 4, 13, 40)]),
    (LHI, "*/10 1 * * *", [U(2026, 4, 4, 14, m) for m in (0, 10, 20, 30, 40, 50)]),
]

CRON_GAP = [
    # zone, expression, the day's fires: everything inside the gap collapses onto the jump instant
    (NY, "30 2 * * *", [U(2026, 3, 8, 7)]),
    (BER, "30 2 * * *", [U(2026, 3, 29, 1)]),
    (SYD, "30 2 * * *", [U(2026, 10, 3, 16)]),
    (AKL, "30 2 * * *", [U(2026, 9, 26, 14)]),
    (LHI, "15 2 * * *", [U(2026, 10, 3, 15, 30)]),
    (NY, "*/15 2 * * *", [U(2026, 3, 8, 7)]),
    (BER, "*/15 2 * * *", [U(2026, 3, 29, 1)]),
    (SYD, "*/15 2 * * *", [U(2026, 10, 3, 16)]),
    (AKL, "*/15 2 * * *", [U(2026, 9, 26, 14)]),
    (
        LHI,
        "*/10 2 * * *",
        [U(2026, 10, 3, 15, 30), U(2026, 10, 3, 15, 40), U(2026, 10, 3, 15, 50)],
    ),  # 02:30 is 15:30Z too
]

CRON_EVENT_CASES = [(tz, "fall", expr, fires) for tz, expr, fires in CRON_FOLD] + [
    (tz, "spring", expr, fires) for tz, expr, fires in CRON_GAP
]


@pytest.mark.parametrize(
    ("tz", "change", "expr", "fires"), CRON_EVENT_CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CRON_EVENT_CASES]
)
@pytest.mark.parametrize("action", ["start", "stop"])
def test_cron_events_in_fold_and_gap(tz: str, change: str, expr: str, fires: list[datetime], action: str) -> None:
    ev = make(tz, cron(**{action: expr}))
    _, day_start, day_end = (FALL_DAY if change == "fall" else SPRING_DAY)[tz]
    assert pairs(ev, day_start, day_end) == [(f, action) for f in fires]
    assert ev.state_at(fires[0]) is State.ANY


CRON_WINDOWS = [
    # zone, change, start expr, stop expr, window
    (NY, "fall", "0 1 * * *", "30 1 * * *", U(2026, 11, 1, 5), U(2026, 11, 1, 5, 30)),
    (BER, "fall", "0 2 * * *", "30 2 * * *", U(2026, 10, 25, 0), U(2026, 10, 25, 0, 30)),
    (SYD, "fall", "0 2 * * *", "30 2 * * *", U(2026, 4, 4, 15), U(2026, 4, 4, 15, 30)),
    (AKL, "fall", "0 2 * * *", "30 2 * * *", U(2026, 4, 4, 13), U(2026, 4, 4, 13, 30)),
    (LHI, "fall", "35 1 * * *", "55 1 * * *", U(2026, 4, 4, 14, 35), U(2026, 4, 4, 14, 55)),
    (NY, "spring", "30 2 * * *", "0 4 * * *", U(2026, 3, 8, 7), U(2026, 3, 8, 8)),
    (BER, "spring", "30 2 * * *", "0 4 * * *", U(2026, 3, 29, 1), U(2026, 3, 29, 2)),
    (SYD, "spring", "30 2 * * *", "0 4 * * *", U(2026, 10, 3, 16), U(2026, 10, 3, 17)),
    (AKL, "spring", "30 2 * * *", "0 4 * * *", U(2026, 9, 26, 14), U(2026, 9, 26, 15)),
    (LHI, "spring", "15 2 * * *", "0 4 * * *", U(2026, 10, 3, 15, 30), U(2026, 10, 3, 17)),
    (NY, "spring", "0 0 * * *", "0 6 * * *", U(2026, 3, 8, 5), U(2026, 3, 8, 10)),
    (LHI, "spring", "0 0 * * *", "0 6 * * *", U(2026, 10, 3, 13, 30), U(2026, 10, 3, 19)),
]


@pytest.mark.parametrize(
    ("tz", "change", "start_expr", "stop_expr", "start", "stop"),
    CRON_WINDOWS,
    ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CRON_WINDOWS],
)
def test_cron_window_across_change(
    tz: str, change: str, start_expr: str, stop_expr: str, start: datetime, stop: datetime
) -> None:
    ev = make(tz, cron(start_expr, stop_expr))
    _, day_start, day_end = (FALL_DAY if change == "fall" else SPRING_DAY)[tz]
    assert pairs(ev, day_start, day_end) == [(start, "start"), (stop, "stop")]
    assert ev.running(day_start, day_end) == [(start, stop)]


# -- next_transition across the change ---------------------------------------------------------------------------------

NEXT = [
    (NY, U(2026, 3, 7, 22), U(2026, 3, 8, 13)),
    (NY, U(2026, 10, 31, 21), U(2026, 11, 1, 14)),
    (BER, U(2026, 3, 28, 16), U(2026, 3, 29, 7)),
    (BER, U(2026, 10, 24, 15), U(2026, 10, 25, 8)),
    (SYD, U(2026, 4, 4, 6), U(2026, 4, 4, 23)),
    (SYD, U(2026, 10, 3, 7), U(2026, 10, 3, 22)),
    (AKL, U(2026, 4, 4, 4), U(2026, 4, 4, 21)),
    (AKL, U(2026, 9, 26, 5), U(2026, 9, 26, 20)),
    (LHI, U(2026, 4, 4, 6), U(2026, 4, 4, 22, 30)),
    (LHI, U(2026, 10, 3, 6, 30), U(2026, 10, 3, 22)),
]


@pytest.mark.parametrize(("tz", "after", "expected"), NEXT, ids=[f"{c[0]}-{c[1]:%m-%d}" for c in NEXT])
def test_next_transition_across_change(tz: str, after: datetime, expected: datetime) -> None:
    got = make(tz, window("09:00", "17:00")).next_transition(after)
    assert got is not None
    assert (got.at, got.action) == (expected, "start")
