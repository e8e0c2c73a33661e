"""The calendar's data: for each schedule, each local day of a month in the schedule's own zone.

Everything comes from the engine's evaluator (the same answers as ``isched schedule preview``): running intervals
clipped to each local day, the transitions that fall in it, and the holidays the evaluator cuts out. Instants are
aware UTC datetimes; a day is [its local midnight, the next local midnight), so a clock-change day is 23 or 25
hours long.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from scheduler.engine import Config, Evaluator, iso_z, local_day_bounds, running_hours
from scheduler.engine.evaluate import Interval, clip
from scheduler.engine.tz import year_problem

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAY = timedelta(days=1)


def parse_month(text: str) -> tuple[date, date]:
    """``YYYY-MM`` as its first and last day; :class:`ValueError` (with a message naming the value) otherwise."""
    value = text.strip()
    found = _MONTH.fullmatch(value) if value.isascii() else None
    shown = value[:40]
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise ValueError(f"'{shown}' is not a month (YYYY-MM, e.g. 2026-11)")
    year, month = int(found.group(1)), int(found.group(2))
    problem = year_problem(year)
    if problem:
        raise ValueError(f"'{shown}' is not a month this tool schedules ({problem})")
    first = date(year, month, 1)
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first, following - _DAY


@dataclass(frozen=True, slots=True)
class DayTransition:
    """One start or stop on a day: when (UTC), the local wall time, and why (``window`` or ``event``)."""

    at: datetime
    local: str  # e.g. "09:00 CET"
    action: str
    source: str


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """One local day of one schedule."""

    day: date
    start: datetime  # the instant the local day begins
    end: datetime  # the instant the next local day begins
    running: tuple[Interval, ...]  # running intervals clipped to [start, end)
    transitions: tuple[DayTransition, ...]
    holiday: bool
    offset_before: str  # UTC offset at the day's start, e.g. "+01:00"
    offset_after: str  # UTC offset at its end; differs on a clock-change day

    @property
    def hours_long(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0

    @property
    def running_hours(self) -> float:
        return round(running_hours(self.running), 4)

    @property
    def clock_change(self) -> bool:
        """The clocks change this local day (a DST change, or a zone changing its standard offset)."""
        return self.offset_before != self.offset_after or self.hours_long != 24.0


@dataclass(frozen=True, slots=True)
class ScheduleMonth:
    """One schedule over the month's local days, in its zone."""

    name: str
    description: str
    timezone: str
    periods: tuple[str, ...]
    override: str | None  # "running" / "stopped" when the schedule's override_status fixes the state
    events_only: bool  # no period gives running time: only start/stop events (the state between them is "any")
    days: tuple[CalendarDay, ...]

    @property
    def running_hours(self) -> float:
        return round(sum(running_hours(d.running) for d in self.days), 4)

    @property
    def transition_count(self) -> int:
        return sum(len(d.transitions) for d in self.days)

    @property
    def holidays(self) -> list[date]:
        return [d.day for d in self.days if d.holiday]

    @property
    def clock_changes(self) -> list[date]:
        return [d.day for d in self.days if d.clock_change]


@dataclass(frozen=True, slots=True)
class MonthCalendar:
    month: str  # YYYY-MM
    first: date
    last: date
    schedules: tuple[ScheduleMonth, ...]


def _offset(instant: datetime, ev: Evaluator) -> str:
    off = instant.astimezone(ev.tz).utcoffset() or timedelta()
    minutes = int(off.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def schedule_month(ev: Evaluator, first: date, last: date) -> ScheduleMonth:
    """The local days ``first``..``last`` of the evaluator's schedule, in its zone."""
    start, end = local_day_bounds(first, last, ev.tz)
    running = ev.running(start, end)
    transitions = ev.transitions(start, end)
    holes = ev.timeline(start, end).holidays
    days: list[CalendarDay] = []
    day = first
    while day <= last:
        d0, d1 = local_day_bounds(day, day, ev.tz)
        mine = tuple(clip(running, d0, d1))
        trs = tuple(
            DayTransition(t.at, t.at.astimezone(ev.tz).strftime("%H:%M %Z"), t.action, t.source)
            for t in transitions
            if d0 <= t.at < d1
        )
        holiday = any(hs <= d0 < he for hs, he in holes)
        days.append(CalendarDay(day, d0, d1, mine, trs, holiday, _offset(d0, ev), _offset(d1, ev)))
        day += _DAY
    s = ev.schedule
    return ScheduleMonth(
        name=s.name,
        description=s.description or "",
        timezone=ev.timezone,
        periods=tuple(str(p) for p in s.periods),
        override=s.override_status.value if s.override_status is not None else None,
        events_only=s.override_status is None and not ev.has_windows,
        days=tuple(days),
    )


def build_calendar(config: Config, month: str, names: Iterable[str] | None = None) -> MonthCalendar:
    """The calendar of ``month`` (``YYYY-MM``) for the named schedules (all of them without ``names``), by name.

    Raises :class:`ValueError` for a month that is not one and :class:`KeyError` for a name that is not a schedule.
    """
    first, last = parse_month(month)
    chosen = sorted(config.schedules) if names is None else list(dict.fromkeys(names))
    for name in chosen:
        if name not in config.schedules:
            raise KeyError(name)
    months = tuple(schedule_month(Evaluator.from_config(config, n), first, last) for n in chosen)
    return MonthCalendar(first.strftime("%Y-%m"), first, last, months)


def intervals_text(intervals: Iterable[Interval]) -> str:
    """Intervals as ``start/end`` UTC ISO 8601 pairs separated by spaces (the page's ``data-running``)."""
    return " ".join(f"{iso_z(s)}/{iso_z(e)}" for s, e in intervals)
