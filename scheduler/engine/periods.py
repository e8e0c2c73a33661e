"""Periods: window periods (begin/end times on matching days) and cron periods (start/stop expressions).

A period is configuration only; :mod:`scheduler.engine.evaluate` turns it into windows and events in a time zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from croniter import croniter

from .errors import FieldError, Issue, path_key, quote, unknown_field
from .fields import DayField, Kind, parse_field

_TIME_RE = re.compile(r"(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})")  # fullmatch: "$" also matches before a final "\n"
END_OF_DAY = 24 * 60
MAX_DESCRIPTION = 1024  # characters; keeps every stored item far below DynamoDB's 400 KB
MAX_CRON_CHARS = 256
# Control characters other than tab and newline, and lone surrogates (which no UTF-8 file or DynamoDB string holds).
_BAD_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

PERIOD_FIELDS = ("begintime", "endtime", "weekdays", "monthdays", "months", "start", "stop", "description")


def parse_time(value: object, *, end: bool = False) -> int:
    """``H:MM`` or ``HH:MM`` (00:00-23:59; ``24:00`` also as an end) -> minutes after midnight."""
    text = value if isinstance(value, str) else None
    m = _TIME_RE.fullmatch(text.strip()) if text is not None and len(text) <= 16 else None
    if m is not None:
        h, mi = int(m.group("h")), int(m.group("m"))
        if (h < 24 and mi < 60) or (end and h == 24 and mi == 0):
            return h * 60 + mi
    allowed = "00:00-23:59, or 24:00 for the end of the day" if end else "00:00-23:59"
    shown = quote(value)
    hint = ' (quote times in YAML: "9:00")' if isinstance(value, int) and not isinstance(value, bool) else ""
    raise FieldError(f"{shown} is not a time (H:MM or HH:MM, {allowed}){hint}")


def format_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_description(value: object) -> str | None:
    """Free text (a description): at most :data:`MAX_DESCRIPTION` characters, no control characters but tab and
    newline, no lone surrogates."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(f"{quote(value)} is not text")
    if len(value) > MAX_DESCRIPTION:
        raise FieldError(f"{quote(value)} is too long (at most {MAX_DESCRIPTION:,} characters)")
    bad = _BAD_TEXT.search(value)
    if bad is not None:
        raise FieldError(
            f"{quote(value)} contains the character {quote(bad.group())} at position {bad.start() + 1} "
            "(text may not hold control characters or unpaired surrogates)"
        )
    return value


def _parse_cron(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldError(f"{quote(value)} is not a cron expression (5 fields: minute hour day-of-month month weekday)")
    if len(value) > MAX_CRON_CHARS:
        raise FieldError(f"{quote(value)} is too long for a cron expression (at most {MAX_CRON_CHARS} characters)")
    if not value.isascii():
        raise FieldError(f"{quote(value)} is not a valid cron expression")
    expr = " ".join(value.split())
    if len(expr.split(" ")) != 5:
        raise FieldError(
            f"{quote(value)} is not a 5-field cron expression (minute hour day-of-month month weekday; "
            "AWS's 6-field form with '?' and a year is not accepted here)"
        )
    try:
        valid = croniter.is_valid(expr)
    except Exception:  # croniter's own checks can fail on odd input instead of answering False
        valid = False
    if not valid:
        raise FieldError(f"{quote(value)} is not a valid cron expression")
    try:
        croniter(expr, datetime(2000, 1, 1)).get_next(datetime)
    except Exception:  # croniter raises its own error types when an expression can never fire
        raise FieldError(f"{quote(value)} never fires") from None
    return expr


@dataclass(frozen=True)
class Period:
    """A validated period. Times are minutes after local midnight; ``None`` when not given."""

    name: str
    begintime: int | None = None
    endtime: int | None = None
    weekdays: DayField | None = None
    monthdays: DayField | None = None
    months: DayField | None = None
    start: str | None = None
    stop: str | None = None
    description: str | None = None
    _month_cache: dict[tuple[int, int], frozenset[int]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @property
    def is_cron(self) -> bool:
        return self.start is not None or self.stop is not None

    @property
    def gives_windows(self) -> bool:
        """True when this period gives running windows (and so an opinion outside them: stopped)."""
        if self.is_cron:
            return self.start is not None and self.stop is not None
        return (self.begintime is None) == (self.endtime is None)

    def days_of_month(self, year: int, month: int) -> frozenset[int]:
        """Local days of the month on which this (window) period applies: the AND of its day fields."""
        key = (year, month)
        cached = self._month_cache.get(key)
        if cached is not None:
            return cached
        days: frozenset[int] | None = None
        for f in (self.months, self.monthdays, self.weekdays):
            if f is not None:
                got = f.days_of_month(year, month)
                days = got if days is None else days & got
        if days is None:
            from calendar import monthrange

            days = frozenset(range(1, monthrange(year, month)[1] + 1))
        self._month_cache[key] = days
        return days

    def matching_days(self, first: date, last: date) -> Iterator[date]:
        """Matching local dates from ``first`` to ``last`` inclusive."""
        y, m = first.year, first.month
        while (y, m) <= (last.year, last.month):
            for d in sorted(self.days_of_month(y, m)):
                day = date(y, m, d)
                if first <= day <= last:
                    yield day
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)

    def to_dict(self) -> dict[str, Any]:
        """The period in the schedule file's field names (what ``export`` and ``show`` print)."""
        out: dict[str, Any] = {}
        if self.begintime is not None:
            out["begintime"] = format_time(self.begintime)
        if self.endtime is not None:
            out["endtime"] = format_time(self.endtime)
        for key in ("weekdays", "monthdays", "months"):
            f: DayField | None = getattr(self, key)
            if f is not None:
                out[key] = f.text
        if self.start is not None:
            out["start"] = self.start
        if self.stop is not None:
            out["stop"] = self.stop
        if self.description:
            out["description"] = self.description
        return out


def parse_period(name: str, raw: object, path: str) -> tuple[Period | None, list[Issue]]:
    """Validates one period mapping; returns the period (or None) and every issue found."""
    issues: list[Issue] = []
    if not isinstance(raw, dict) or not raw:
        what = "an empty period" if isinstance(raw, dict) or raw is None else quote(raw)
        issues.append(Issue(path, f"{what} is not a period: give at least one of {', '.join(PERIOD_FIELDS[:-1])}"))
        return None, issues
    values: dict[str, Any] = {}
    for key, value in raw.items():
        fpath = f"{path}.{path_key(key)}"
        if key not in PERIOD_FIELDS:
            issues.append(unknown_field(key, PERIOD_FIELDS, fpath))
            continue
        try:
            if key in ("begintime", "endtime"):
                values[key] = parse_time(value, end=(key == "endtime"))
            elif key in ("weekdays", "monthdays", "months"):
                values[key] = parse_field(value, Kind(key))
            elif key in ("start", "stop"):
                values[key] = _parse_cron(value)
            else:
                values[key] = parse_description(value)
        except FieldError as exc:
            issues.append(Issue(fpath, str(exc)))
    has_cron = "start" in raw or "stop" in raw
    window_keys = [k for k in ("begintime", "endtime", "weekdays", "monthdays", "months") if k in raw]
    if has_cron and window_keys:
        issues.append(
            Issue(path, f"a cron period (start/stop) cannot also have {', '.join(window_keys)}: use two periods")
        )
    if not has_cron and not window_keys:
        issues.append(Issue(path, "a period needs at least one of begintime, endtime, weekdays, monthdays, months"))
    b, e = values.get("begintime"), values.get("endtime")
    if b is not None and e is not None and b == e:
        issues.append(Issue(f"{path}.endtime", f"'{format_time(e)}' equals begintime: the window would be empty"))
    if b is not None and b == END_OF_DAY:
        issues.append(Issue(f"{path}.begintime", "'24:00' is only valid as an endtime"))
    if issues:
        return None, issues
    return Period(name=name, **values), []


def step_day(day: date, n: int = 1) -> date:
    return day + timedelta(days=n)
