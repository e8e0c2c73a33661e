"""Maintenance windows as intervals (SPEC §2 rule 7), and the validation of the schedule fields that ask for them.

A window is an input to the decision, never looked up here: the worker reads an RDS resource's preferred
maintenance window (``sun:05:00-sun:05:30``, UTC, may wrap the week) or the executions of the named SSM maintenance
windows and hands them to :func:`scheduler.engine.decision.decide` as :class:`MaintenanceWindow` intervals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import FieldError, quote

# RDS: running from 10 minutes before the preferred window to its end (SPEC §2 rule 7).
RDS_LEAD = timedelta(minutes=10)
WEEK = timedelta(days=7)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RDS_POINT = r"(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):([0-5][0-9])"
_RDS_WINDOW = re.compile(_RDS_POINT + "-" + _RDS_POINT)
# SSM maintenance window names: 3-128 characters of letters, digits, -, _ and . (the SSM API's own rule).
_SSM_NAME = re.compile(r"[A-Za-z0-9_.-]{3,128}")
MAX_SSM_WINDOWS = 20


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """One occurrence of a maintenance window: the resource runs in [start, end). ``label`` says which, for
    reasons and the ledger (``RDS preferred window sun:05:00-sun:05:30``, ``SSM window patching``)."""

    start: datetime
    end: datetime
    label: str

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end


def parse_ssm_window_name(value: object) -> str:
    if not isinstance(value, str) or not _SSM_NAME.fullmatch(value):
        raise FieldError(f"{quote(value)} is not an SSM maintenance window name (3-128 letters, digits, -, _ and .)")
    return value


def parse_ssm_window_names(items: Iterable[object]) -> tuple[str, ...]:
    """Validated names, in the order given, each once (a repeat is refused, naming it)."""
    names: list[str] = []
    for item in items:
        name = parse_ssm_window_name(item)
        if name in names:
            raise FieldError(f"{quote(name)} is listed twice")
        names.append(name)
    if len(names) > MAX_SSM_WINDOWS:
        raise FieldError(f"{len(names)} SSM maintenance windows (at most {MAX_SSM_WINDOWS})")
    return tuple(names)


def _minute_of_week(day: str, hour: str, minute: str) -> int:
    return _DAYS.index(day) * 1440 + int(hour) * 60 + int(minute)


def parse_rds_window(text: str) -> tuple[int, int]:
    """``ddd:hh:mm-ddd:hh:mm`` (UTC) as minutes after Monday 00:00: (begin, end); end < begin wraps the week.
    Raises ValueError for anything else (RDS writes the days in lower case; any case is read)."""
    match = _RDS_WINDOW.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{quote(text)} is not an RDS maintenance window (ddd:hh:mm-ddd:hh:mm)")
    g = match.groups()
    begin, end = _minute_of_week(*g[:3]), _minute_of_week(*g[3:])
    if begin == end:
        raise ValueError(f"{quote(text)} is an empty maintenance window")
    return begin, end


def rds_windows(preferred: str, around: datetime, lead: timedelta = RDS_LEAD) -> list[MaintenanceWindow]:
    """The occurrences of an RDS preferred maintenance window in the weeks around instant ``around`` (the one
    before, the one of, and the one after), each from ``lead`` before its begin to its end."""
    begin, end = parse_rds_window(preferred)
    length = timedelta(minutes=(end - begin) % (7 * 1440))
    t = around.astimezone(UTC)
    monday = datetime(t.year, t.month, t.day, tzinfo=UTC) - timedelta(days=t.weekday())
    label = f"RDS preferred window {preferred.strip().lower()}"
    out = []
    for week in (-1, 0, 1):
        start = monday + week * WEEK + timedelta(minutes=begin)
        out.append(MaintenanceWindow(start - lead, start + length, label))
    return out


def window_at(windows: Sequence[MaintenanceWindow], t: datetime) -> MaintenanceWindow | None:
    """The window containing ``t`` (the one ending last, if several overlap), or None."""
    inside = [w for w in windows if w.contains(t)]
    return max(inside, key=lambda w: w.end) if inside else None


__all__ = [
    "MAX_SSM_WINDOWS",
    "RDS_LEAD",
    "MaintenanceWindow",
    "parse_rds_window",
    "parse_ssm_window_name",
    "parse_ssm_window_names",
    "rds_windows",
    "window_at",
]
