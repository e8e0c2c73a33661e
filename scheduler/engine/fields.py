"""The day-field grammar of periods: ``weekdays``, ``monthdays`` and ``months``.

A field is a comma list of items; it matches a day when any item does. Each field compiles to a function from
(year, month) to the set of matching days of that month, cached, so evaluating a year costs twelve set
intersections per period rather than a parse per day.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import Enum

from .errors import FieldError, quote

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH_FULL = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


class Kind(Enum):
    WEEKDAYS = "weekdays"
    MONTHDAYS = "monthdays"
    MONTHS = "months"


@dataclass(frozen=True)
class _KindInfo:
    noun: str
    low: int
    high: int
    names: dict[str, int]
    wraps: bool


def _names(short: tuple[str, ...], full: tuple[str, ...], base: int) -> dict[str, int]:
    out = {n: i + base for i, n in enumerate(short)}
    out.update({n: i + base for i, n in enumerate(full)})
    return out


_INFO = {
    Kind.WEEKDAYS: _KindInfo("weekday", 0, 6, _names(WEEKDAY_NAMES, WEEKDAY_FULL, 0), True),
    Kind.MONTHDAYS: _KindInfo("day of the month", 1, 31, {}, False),
    Kind.MONTHS: _KindInfo("month", 1, 12, _names(MONTH_NAMES, MONTH_FULL, 1), True),
}

# Matched with fullmatch: "$" would also match before a final newline.
_STEP_RE = re.compile(r"(?P<base>.+?)/(?P<step>[^/]*)")
_NTH_RE = re.compile(r"(?P<day>[a-z0-9]+)#(?P<k>[^#]*)")
_LAST_WD_RE = re.compile(r"(?P<day>[a-z]+|[0-9]+)l")
_NEAREST_RE = re.compile(r"(?P<day>[0-9]+)w")

# A field longer than this is not a schedule (every day of a month, spelled out with spaces, is about 120).
MAX_FIELD_CHARS = 512
MAX_FIELD_ITEMS = 100

# A compiled item: given (year, month, days in month, weekday of the 1st), the matching days of that month.
_DaySet = Callable[[int, int, int, int], Iterable[int]]


def _value(token: str, kind: Kind, item: str) -> int:
    info = _INFO[kind]
    t = token.strip()
    if _is_number(t):
        n = int(t)
        if info.low <= n <= info.high:
            return n
        raise FieldError(f"{quote(item)} is not a {info.noun} ({quote(n, 12)} is outside {info.low}-{info.high})")
    if t in info.names:
        return info.names[t]
    if kind is Kind.MONTHDAYS:
        raise FieldError(f"{quote(item)} is not a {info.noun} ({quote(t)} is not a number 1-31)")
    raise FieldError(
        f"{quote(item)} is not a {info.noun} ({quote(t)} is not a {info.noun} name or a number {info.low}-{info.high})"
    )


def _span(lo: int, hi: int, kind: Kind, item: str) -> list[int]:
    info = _INFO[kind]
    if lo <= hi:
        return list(range(lo, hi + 1))
    if not info.wraps:
        raise FieldError(f"{quote(item)} is not a {info.noun} range (start {lo} is after end {hi}; days do not wrap)")
    return list(range(lo, info.high + 1)) + list(range(info.low, hi + 1))


@dataclass(frozen=True)
class DayField:
    """A parsed field. ``static`` holds plain values; ``dynamic`` items depend on the month (L, #, W)."""

    kind: Kind
    text: str
    static: frozenset[int]
    dynamic: tuple[_DaySet, ...] = field(default=(), compare=False)
    every: bool = False

    def days_of_month(self, year: int, month: int) -> frozenset[int]:
        """Days (1-based) of ``year``-``month`` that this field matches."""
        first_wd, ndays = calendar.monthrange(year, month)
        if self.every:
            return frozenset(range(1, ndays + 1))
        out: set[int] = set()
        if self.kind is Kind.MONTHS:
            return frozenset(range(1, ndays + 1)) if month in self.static else frozenset()
        if self.kind is Kind.MONTHDAYS:
            out.update(d for d in self.static if d <= ndays)
        else:
            out.update(d for d in range(1, ndays + 1) if (first_wd + d - 1) % 7 in self.static)
        for fn in self.dynamic:
            out.update(fn(year, month, ndays, first_wd))
        return frozenset(out)

    def matches(self, day: date) -> bool:
        return day.day in self.days_of_month(day.year, day.month)


def _nth_weekday(wd: int, k: int) -> _DaySet:
    def fn(_y: int, _m: int, ndays: int, first_wd: int) -> list[int]:
        d = 1 + (wd - first_wd) % 7 + 7 * (k - 1)
        return [d] if d <= ndays else []

    return fn


def _last_weekday(wd: int) -> _DaySet:
    def fn(_y: int, _m: int, ndays: int, first_wd: int) -> list[int]:
        last_wd = (first_wd + ndays - 1) % 7
        return [ndays - (last_wd - wd) % 7]

    return fn


def _last_day(lo: int, step: int) -> _DaySet:
    """Days lo..last day of the month by ``step`` (``L`` is lo = last, step 1; ``20-L`` is lo = 20)."""

    def fn(_y: int, _m: int, ndays: int, _f: int) -> list[int]:
        start = ndays if lo == 0 else lo
        return list(range(start, ndays + 1, step))

    return fn


def _nearest_weekday(n: int) -> _DaySet:
    """Quartz-style ``NW``: the Mon-Fri nearest to day N, never leaving the month."""

    def fn(_y: int, _m: int, ndays: int, first_wd: int) -> list[int]:
        if n > ndays:
            return []
        wd = (first_wd + n - 1) % 7
        if wd < 5:
            return [n]
        if wd == 5:  # Saturday: Friday before, unless that leaves the month
            return [n - 1] if n > 1 else [n + 2]
        return [n + 1] if n < ndays else [n - 2]  # Sunday: Monday after, unless that leaves the month

    return fn


def _is_number(text: str) -> bool:
    # str.isdigit() also accepts superscripts and other scripts' digits, which int() rejects or misreads.
    return text.isascii() and text.isdigit()


def _parse_step(text: str, item: str) -> int:
    if not _is_number(text):
        raise FieldError(f"{quote(item)} has an invalid step {quote(text)} (a whole number of 1 or more)")
    step = int(text)
    if step < 1:
        raise FieldError(f"{quote(item)} has an invalid step {quote(text)} (a whole number of 1 or more)")
    return step


def _parse_item(item: str, kind: Kind, static: set[int], dynamic: list[_DaySet]) -> bool:
    """Adds one item's matches; returns True when it matches everything (``*`` or ``?``)."""
    info = _INFO[kind]
    t = item.strip().lower()
    if t in ("*", "?"):
        return True
    step = 1
    base = t
    m = _STEP_RE.fullmatch(t)
    if m:
        # Instance Scheduler compatibility: spaces around the step and its base (" oct-apr/ 3 ").
        step = _parse_step(m.group("step").strip(), item)
        base = m.group("base").strip()
    if kind is Kind.WEEKDAYS and step == 1:
        mm = _NTH_RE.fullmatch(t)
        if mm:
            wd = _value(mm.group("day"), kind, item)
            k = mm.group("k")
            if not (_is_number(k) and 1 <= int(k) <= 5):
                raise FieldError(f"{quote(item)} is not a weekday (the k in day#k must be 1-5, not {quote(k)})")
            dynamic.append(_nth_weekday(wd, int(k)))
            return False
        if t == "l":
            static.add(6)
            return False
        mm = _LAST_WD_RE.fullmatch(t)
        if mm:
            dynamic.append(_last_weekday(_value(mm.group("day"), kind, item)))
            return False
    if kind is Kind.MONTHDAYS:
        if t == "l":
            dynamic.append(_last_day(0, 1))
            return False
        mm = _NEAREST_RE.fullmatch(t)
        if mm:
            dynamic.append(_nearest_weekday(_value(mm.group("day"), kind, item)))
            return False
    if base in ("*", "?"):
        static.update(range(info.low, info.high + 1, step))
        return False
    if "-" in base:
        lo_s, _, hi_s = base.partition("-")
        lo = _value(lo_s, kind, item)
        if kind is Kind.MONTHDAYS and hi_s.strip() == "l":
            dynamic.append(_last_day(lo, step))
            return False
        hi = _value(hi_s, kind, item)
        static.update(_span(lo, hi, kind, item)[::step])
        return False
    lo = _value(base, kind, item)
    if m:  # "A/n": from A to the end of the range
        if kind is Kind.MONTHDAYS:
            dynamic.append(_last_day(lo, step))
        else:
            static.update(range(lo, info.high + 1, step))
        return False
    static.add(lo)
    return False


def parse_field(value: object, kind: Kind) -> DayField:
    """Parses a field given as a comma string, a number, or a list of those.

    Raises :class:`FieldError` naming the offending item, e.g. ``'mon-fry' is not a weekday``.
    """
    items: list[str]
    noun = _INFO[kind].noun
    if isinstance(value, bool):
        raise FieldError(f"{quote(value)} is not a {noun} list")
    if isinstance(value, int):
        if not -(10**9) < value < 10**9:
            raise FieldError(f"{quote(value)} is not a {noun}")
        items = [str(value)]
    elif isinstance(value, str):
        if len(value) > MAX_FIELD_CHARS:
            raise FieldError(f"{quote(value)} is too long for a {noun} list (at most {MAX_FIELD_CHARS} characters)")
        items = value.split(",")
    elif isinstance(value, list | tuple):
        if len(value) > MAX_FIELD_ITEMS:
            raise FieldError(f"{quote(value)} has {len(value):,} items (a {noun} list has at most {MAX_FIELD_ITEMS})")
        items = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, str | int):
                raise FieldError(f"{quote(v)} is not a {noun}")
            if isinstance(v, int) and not -(10**9) < v < 10**9:
                raise FieldError(f"{quote(v)} is not a {noun}")
            items.extend(str(v).split(","))
    else:
        raise FieldError(f"{quote(value)} is not a {noun} list (a string or a list of strings)")
    items = [i.strip() for i in items]
    if not items or any(i == "" for i in items):
        raise FieldError(f"{quote(_text(value))} has an empty item")
    for item in items:
        if not item.isprintable():
            raise FieldError(f"{quote(item)} is not a {noun} (it contains a control character)")
    if len(items) > MAX_FIELD_ITEMS or sum(len(i) + 1 for i in items) > MAX_FIELD_CHARS:
        raise FieldError(
            f"{quote(_text(value))} is too long for a {noun} list "
            f"(at most {MAX_FIELD_ITEMS} items and {MAX_FIELD_CHARS} characters)"
        )
    static: set[int] = set()
    dynamic: list[_DaySet] = []
    every = False
    for item in items:
        every = _parse_item(item, kind, static, dynamic) or every
    return DayField(kind, ",".join(items), frozenset(static), tuple(dynamic), every)


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)
