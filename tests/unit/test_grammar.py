"""The day-field grammar of periods (SPEC.md section 1, "Field grammar") and period times.

Expected days are written out by hand from a real calendar; the month facts used are listed next to each table
(they were double-checked once against the ``calendar`` module, which the tests themselves do not use).
"""

from __future__ import annotations

from datetime import date

import pytest

from scheduler.engine.errors import FieldError
from scheduler.engine.fields import Kind, parse_field
from scheduler.engine.periods import parse_time

W, MD, M = Kind.WEEKDAYS, Kind.MONTHDAYS, Kind.MONTHS

# June 2024: the 1st is a Saturday, 30 days. Every weekday occurs, so a weekday set maps to one set of days.
JUNE_2024 = {
    "mon": (3, 10, 17, 24),
    "tue": (4, 11, 18, 25),
    "wed": (5, 12, 19, 26),
    "thu": (6, 13, 20, 27),
    "fri": (7, 14, 21, 28),
    "sat": (1, 8, 15, 22, 29),
    "sun": (2, 9, 16, 23, 30),
}
ALL_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def june(*names: str) -> frozenset[int]:
    return frozenset(d for n in names for d in JUNE_2024[n])


def days(lo: int, hi: int, step: int = 1) -> frozenset[int]:
    return frozenset(range(lo, hi + 1, step))


# ---------------------------------------------------------------------------------------------------------------
# weekdays: names, numbers, *, ?, ranges (wrapping), steps, L, lists


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("mon", ("mon",)),
        ("MON", ("mon",)),
        ("Mon", ("mon",)),
        ("monday", ("mon",)),
        ("MONDAY", ("mon",)),
        ("Wednesday", ("wed",)),
        ("sunday", ("sun",)),
        ("sat", ("sat",)),
        ("0", ("mon",)),
        ("3", ("thu",)),
        ("6", ("sun",)),
        (4, ("fri",)),
        (0, ("mon",)),
        ("mon-fri", ("mon", "tue", "wed", "thu", "fri")),
        ("Monday-Friday", ("mon", "tue", "wed", "thu", "fri")),
        ("Tue-Thu", ("tue", "wed", "thu")),
        ("0-4", ("mon", "tue", "wed", "thu", "fri")),
        ("sat-sun", ("sat", "sun")),
        ("wed-wed", ("wed",)),
        ("fri-mon", ("fri", "sat", "sun", "mon")),
        ("sun-mon", ("sun", "mon")),
        ("sat-tue", ("sat", "sun", "mon", "tue")),
        ("5-1", ("sat", "sun", "mon", "tue")),
        ("thursday-tuesday", ("thu", "fri", "sat", "sun", "mon", "tue")),
        ("*", ALL_WEEK),
        ("?", ALL_WEEK),
        ("*,mon", ALL_WEEK),
        ("*/2", ("mon", "wed", "fri", "sun")),
        ("?/3", ("mon", "thu", "sun")),
        ("*/10", ("mon",)),
        ("mon-sun/3", ("mon", "thu", "sun")),
        ("0-6/2", ("mon", "wed", "fri", "sun")),
        ("1-5/2", ("tue", "thu", "sat")),
        ("tue/2", ("tue", "thu", "sat")),
        ("fri/1", ("fri", "sat", "sun")),
        ("fri-mon/2", ("fri", "sun")),
        ("sat-fri/2", ("sat", "mon", "wed", "fri")),
        ("L", ("sun",)),
        ("l", ("sun",)),
        ("L,sat", ("sat", "sun")),
        ("mon,wed,fri", ("mon", "wed", "fri")),
        (" mon , wed ,fri ", ("mon", "wed", "fri")),
        ("mon,mon", ("mon",)),
        ("mon-wed,fri", ("mon", "tue", "wed", "fri")),
        ("sat,fri-mon", ("fri", "sat", "sun", "mon")),
        (["mon", "fri"], ("mon", "fri")),
        (["mon-tue", "sat"], ("mon", "tue", "sat")),
        (["mon,tue", "thu"], ("mon", "tue", "thu")),
        ([0, 6], ("mon", "sun")),
        ([1, "Friday"], ("tue", "fri")),
    ],
)
def test_weekdays_in_june_2024(value: object, names: tuple[str, ...]) -> None:
    field = parse_field(value, W)
    assert field.days_of_month(2024, 6) == june(*names)


@pytest.mark.parametrize(
    ("value", "year", "month", "expected"),
    [
        # June 2024 (Sat 1st, 30 days): see JUNE_2024
        ("sat#1", 2024, 6, {1}),
        ("sun#1", 2024, 6, {2}),
        ("mon#1", 2024, 6, {3}),
        ("Saturday#2", 2024, 6, {8}),
        ("tue#3", 2024, 6, {18}),
        ("fri#4", 2024, 6, {28}),
        ("sat#5", 2024, 6, {29}),
        ("sun#5", 2024, 6, {30}),
        ("5#5", 2024, 6, {29}),
        ("1#1", 2024, 6, {4}),
        ("mon#5", 2024, 6, set()),
        ("fri#5", 2024, 6, set()),
        ("mon#2,mon#4", 2024, 6, {10, 24}),
        ("mon#1,friL", 2024, 6, {3, 28}),
        ("monL", 2024, 6, {24}),
        ("friL", 2024, 6, {28}),
        ("satL", 2024, 6, {29}),
        ("sunL", 2024, 6, {30}),
        ("SundayL", 2024, 6, {30}),
        ("5L", 2024, 6, {29}),
        # February 2026: Sun 1st, 28 days, exactly four weeks
        ("sun#4", 2026, 2, {22}),
        ("sun#5", 2026, 2, set()),
        ("sat#4", 2026, 2, {28}),
        ("monL", 2026, 2, {23}),
        ("sunL", 2026, 2, {22}),
        ("satL", 2026, 2, {28}),
        # February 2024 (leap): Thu 1st, 29 days -> five Thursdays
        ("thu#5", 2024, 2, {29}),
        ("thuL", 2024, 2, {29}),
        ("wedL", 2024, 2, {28}),
        # May 2024: Wed 1st, 31 days -> Fridays 3, 10, 17, 24, 31
        ("fri#5", 2024, 5, {31}),
        ("friL", 2024, 5, {31}),
        ("thu#5", 2024, 5, {30}),
        ("sat#5", 2024, 5, set()),
        # August 2025: Fri 1st, 31 days -> Fridays 1 ... 29, Sundays 3 ... 31
        ("friL", 2025, 8, {29}),
        ("fri#1", 2025, 8, {1}),
        ("sunL", 2025, 8, {31}),
        # September 2024: Sun 1st, 30 days: L is Sunday
        ("L", 2024, 9, {1, 8, 15, 22, 29}),
        ("sun", 2024, 9, {1, 8, 15, 22, 29}),
        ("mon#5", 2024, 9, {30}),
    ],
)
def test_weekdays_month_dependent(value: str, year: int, month: int, expected: set[int]) -> None:
    assert parse_field(value, W).days_of_month(year, month) == frozenset(expected)


# ---------------------------------------------------------------------------------------------------------------
# monthdays: numbers, ranges (no wrap), 20-L, steps, L, NW, lists


@pytest.mark.parametrize(
    ("value", "year", "month", "expected"),
    [
        ("15", 2024, 1, {15}),
        (15, 2024, 1, {15}),
        ("01", 2024, 1, {1}),
        ("1", 2024, 2, {1}),
        ("31", 2024, 1, {31}),
        ("31", 2024, 4, set()),
        ("30", 2024, 2, set()),
        ("29", 2024, 2, {29}),
        ("29", 2023, 2, set()),
        ("1-5", 2024, 1, days(1, 5)),
        ("1-15", 2024, 6, days(1, 15)),
        ("10-10", 2024, 1, {10}),
        ("28-31", 2023, 2, {28}),
        ("28-31", 2024, 4, {28, 29, 30}),
        ("*", 2023, 2, days(1, 28)),
        ("?", 2024, 2, days(1, 29)),
        ("*", 2024, 1, days(1, 31)),
        # L: the last day, February in leap and non-leap years (1900 is not a leap year, 2000 is)
        ("L", 2024, 1, {31}),
        ("L", 2024, 2, {29}),
        ("L", 2023, 2, {28}),
        ("L", 1900, 2, {28}),
        ("L", 2000, 2, {29}),
        ("L", 2024, 4, {30}),
        ("l", 2024, 12, {31}),
        ("20-L", 2023, 2, days(20, 28)),
        ("20-L", 2024, 2, days(20, 29)),
        ("20-L", 2024, 4, days(20, 30)),
        ("20-l", 2024, 1, days(20, 31)),
        ("1,15,L", 2024, 2, {1, 15, 29}),
        # steps, with multi-digit n
        ("*/2", 2024, 2, days(1, 29, 2)),
        ("*/10", 2024, 1, {1, 11, 21, 31}),
        ("*/100", 2024, 1, {1}),
        ("1-31/10", 2024, 1, {1, 11, 21, 31}),
        ("1-31/10", 2024, 2, {1, 11, 21}),
        ("1-31/15", 2024, 1, {1, 16, 31}),
        ("2-30/14", 2024, 1, {2, 16, 30}),
        ("5/10", 2024, 1, {5, 15, 25}),
        ("1/7", 2024, 2, {1, 8, 15, 22, 29}),
        ("1/7", 2023, 2, {1, 8, 15, 22}),
        ("20-L/5", 2024, 1, {20, 25, 30}),
        ("20-L/5", 2023, 2, {20, 25}),
        # lists
        ([1, 15], 2024, 1, {1, 15}),
        (["1-3", "L"], 2024, 4, {1, 2, 3, 30}),
        (["1,2", 31], 2024, 4, {1, 2}),
    ],
)
def test_monthdays(value: object, year: int, month: int, expected: set[int]) -> None:
    assert parse_field(value, MD).days_of_month(year, month) == frozenset(expected)


@pytest.mark.parametrize(
    ("value", "year", "month", "expected"),
    [
        # June 2024: Sat 1st ... Sat 15th, Sun 16th, Sun 30th (last day)
        ("1W", 2024, 6, {3}),  # Saturday the 1st: Friday would leave the month -> Monday the 3rd
        ("3W", 2024, 6, {3}),  # already a Monday
        ("15W", 2024, 6, {14}),  # Saturday -> Friday
        ("16W", 2024, 6, {17}),  # Sunday -> Monday
        ("30W", 2024, 6, {28}),  # Sunday the last day: Monday would leave the month -> Friday the 28th
        ("31W", 2024, 6, set()),  # June has no 31st
        ("1W,15", 2024, 6, {3, 15}),
        ("1w", 2024, 6, {3}),
        # August 2025: Sunday the 31st -> Friday the 29th
        ("31W", 2025, 8, {29}),
        # May 2026: Fri 1st, Sunday the 31st
        ("31W", 2026, 5, {29}),
        # March 2025: Sat 1st, Monday the 31st
        ("1W", 2025, 3, {3}),
        ("31W", 2025, 3, {31}),
        # February 2025: Saturday the 1st
        ("1W", 2025, 2, {3}),
        # February 2026: Sunday the 1st, Saturday the 28th (last day)
        ("1W", 2026, 2, {2}),
        ("28W", 2026, 2, {27}),
        # September 2024: Sunday the 1st, Monday the 30th
        ("1W", 2024, 9, {2}),
        ("30W", 2024, 9, {30}),
        # February 2024: Thursday the 29th; February 2023 has no 29th
        ("29W", 2024, 2, {29}),
        ("29W", 2023, 2, set()),
        # January 2024: Wednesday the 31st
        ("31W", 2024, 1, {31}),
    ],
)
def test_monthdays_nearest_weekday(value: str, year: int, month: int, expected: set[int]) -> None:
    assert parse_field(value, MD).days_of_month(year, month) == frozenset(expected)


# ---------------------------------------------------------------------------------------------------------------
# months: names, numbers, wrapping ranges, steps


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jan", {1}),
        ("JAN", {1}),
        ("January", {1}),
        ("september", {9}),
        ("Dec", {12}),
        ("3", {3}),
        (12, {12}),
        ("*", set(range(1, 13))),
        ("?", set(range(1, 13))),
        ("jan-jun", {1, 2, 3, 4, 5, 6}),
        ("jun-aug", {6, 7, 8}),
        ("4-6", {4, 5, 6}),
        ("nov-feb", {11, 12, 1, 2}),
        ("November-February", {11, 12, 1, 2}),
        ("dec-jan", {12, 1}),
        ("12-1", {12, 1}),
        ("*/2", {1, 3, 5, 7, 9, 11}),
        ("*/12", {1}),
        ("1-12/4", {1, 5, 9}),
        ("feb/3", {2, 5, 8, 11}),
        ("oct-mar/2", {10, 12, 2}),
        ("jan,jul", {1, 7}),
        ([1, "dec"], {1, 12}),
        (["mar-apr", "oct"], {3, 4, 10}),
    ],
)
def test_months(value: object, expected: set[int]) -> None:
    field = parse_field(value, M)
    matching = {m for m in range(1, 13) if field.days_of_month(2024, m)}
    assert matching == expected
    # a matching month matches all of its days
    assert field.days_of_month(2024, 2) == (days(1, 29) if 2 in expected else frozenset())


# ---------------------------------------------------------------------------------------------------------------
# DayField.matches(date)


@pytest.mark.parametrize(
    ("kind", "value", "day", "expected"),
    [
        (W, "mon-fri", date(2024, 6, 3), True),  # Monday
        (W, "mon-fri", date(2024, 6, 1), False),  # Saturday
        (W, "fri-mon", date(2024, 6, 1), True),
        (W, "fri-mon", date(2024, 6, 5), False),  # Wednesday
        (W, "L", date(2024, 6, 30), True),  # Sunday
        (W, "fri#5", date(2024, 5, 31), True),
        (W, "fri#4", date(2024, 5, 31), False),
        (W, "monL", date(2024, 12, 30), True),  # December 2024: Mondays 2, 9, 16, 23, 30
        (W, "monL", date(2024, 12, 23), False),
        (MD, "L", date(2024, 2, 29), True),
        (MD, "L", date(2023, 2, 28), True),
        (MD, "L", date(2024, 2, 28), False),
        (MD, "1W", date(2024, 6, 3), True),
        (MD, "1W", date(2024, 6, 1), False),
        (MD, "31W", date(2025, 8, 29), True),
        (MD, "31W", date(2025, 8, 31), False),
        (MD, "1-31/10", date(2024, 1, 31), True),
        (MD, "1-31/10", date(2024, 1, 30), False),
        (M, "nov-feb", date(2025, 1, 15), True),
        (M, "nov-feb", date(2024, 11, 30), True),
        (M, "nov-feb", date(2025, 3, 1), False),
    ],
)
def test_matches(kind: Kind, value: str, day: date, expected: bool) -> None:
    assert parse_field(value, kind).matches(day) is expected


# ---------------------------------------------------------------------------------------------------------------
# errors: FieldError naming the offending item


@pytest.mark.parametrize(
    ("kind", "value", "fragments"),
    [
        (W, "mon-fry", ["'mon-fry' is not a weekday"]),
        (W, "fry", ["'fry' is not a weekday"]),
        (W, "thurs", ["'thurs' is not a weekday"]),
        (W, "mon,fry", ["'fry' is not a weekday"]),
        (W, "7", ["'7' is not a weekday"]),
        (W, "0-7", ["'0-7'"]),
        (W, "-1", ["'-1'"]),
        (W, "mon-", ["'mon-'"]),
        (W, "mon#6", ["'mon#6'"]),
        (W, "mon#0", ["'mon#0'"]),
        (W, "mon#", ["'mon#'"]),
        (W, "mon#x", ["'mon#x'"]),
        (W, "fry#2", ["'fry#2'"]),
        (W, "*/0", ["'*/0'"]),
        (W, "mon/0", ["'mon/0'"]),
        (W, "mon-fri/0", ["'mon-fri/0'"]),
        (W, "mon-fri/x", ["'mon-fri/x'"]),
        (W, "*/", ["'*/'"]),
        (W, "1W", ["'1W' is not a weekday"]),
        (W, "funL", ["'funL'"]),
        (W, "8L", ["'8L'"]),
        (W, "mon,,fri", ["empty"]),
        (W, "", ["empty"]),
        (W, " , mon", ["empty"]),
        (W, [], ["empty"]),
        (W, True, ["True"]),
        (W, None, ["None"]),
        (W, 3.5, ["3.5"]),
        (W, [["mon"]], ["['mon']"]),
        (MD, "32", ["'32' is not a day of the month"]),
        (MD, "0", ["'0' is not a day of the month"]),
        (MD, "1-32", ["'1-32'"]),
        (MD, "20-10", ["'20-10'"]),
        (MD, "31-1", ["'31-1'"]),
        (MD, "L-20", ["'L-20'"]),
        (MD, "1-31/0", ["'1-31/0'"]),
        (MD, "*/0", ["'*/0'"]),
        (MD, "32W", ["'32W'"]),
        (MD, "0W", ["'0W'"]),
        (MD, "5L", ["'5L'"]),
        (MD, "mon", ["'mon' is not a day of the month"]),
        (MD, "1#2", ["'1#2'"]),
        (MD, "abc", ["'abc'"]),
        (MD, "15,,16", ["empty"]),
        (MD, [1, True], ["True"]),
        (MD, "\u00b2", ["'\u00b2'"]),  # a superscript two: str.isdigit() is True, int() refuses it
        (MD, "*/\u00b2", ["'*/\u00b2'"]),
        (M, "13", ["'13' is not a month"]),
        (M, "0", ["'0' is not a month"]),
        (M, "sept", ["'sept' is not a month"]),
        (M, "nov-fer", ["'nov-fer'"]),
        (M, "L", ["'L'"]),
        (M, "*/0", ["'*/0'"]),
        (M, "jan#1", ["'jan#1'"]),
        (M, "1W", ["'1W'"]),
        (M, "mon", ["'mon' is not a month"]),
    ],
)
def test_field_errors(kind: Kind, value: object, fragments: list[str]) -> None:
    with pytest.raises(FieldError) as exc:
        parse_field(value, kind)
    for fragment in fragments:
        assert fragment in str(exc.value)


# ---------------------------------------------------------------------------------------------------------------
# parse_time: H:MM or HH:MM, 00:00-23:59, 24:00 only as an end


@pytest.mark.parametrize(
    ("value", "end", "minutes"),
    [
        ("9:00", False, 540),
        ("09:00", False, 540),
        ("0:00", False, 0),
        ("00:00", False, 0),
        ("7:05", False, 425),
        ("12:30", False, 750),
        ("23:59", False, 1439),
        (" 9:00 ", False, 540),
        ("17:00", True, 1020),
        ("0:00", True, 0),
        ("23:59", True, 1439),
        ("24:00", True, 1440),
    ],
)
def test_parse_time(value: str, end: bool, minutes: int) -> None:
    assert parse_time(value, end=end) == minutes


@pytest.mark.parametrize(
    ("value", "end", "fragment"),
    [
        ("24:00", False, "'24:00'"),
        ("24:01", True, "'24:01'"),
        ("25:00", True, "'25:00'"),
        ("9:60", False, "'9:60'"),
        ("9", False, "'9'"),
        ("900", False, "'900'"),
        ("9:0", False, "'9:0'"),
        ("9:000", False, "'9:000'"),
        ("123:00", False, "'123:00'"),
        ("-1:00", False, "'-1:00'"),
        ("9.00", False, "'9.00'"),
        ("9:00am", False, "'9:00am'"),
        ("ab:cd", False, "'ab:cd'"),
        ("", False, "''"),
        (540, False, "540"),
        (None, True, "None"),
        (True, False, "True"),
    ],
)
def test_parse_time_errors(value: object, end: bool, fragment: str) -> None:
    with pytest.raises(FieldError) as exc:
        parse_time(value, end=end)
    assert fragment in str(exc.value)
    assert "is not a time" in str(exc.value)


def test_parse_time_int_hints_at_quoting() -> None:
    # YAML 1.1 reads an unquoted 9:00 as 540; if such a number ever arrives, the message says to quote it
    with pytest.raises(FieldError, match="quote"):
        parse_time(540)
