"""When the next pass should run: clock-aligned regular passes, and a one-time wake-up at a transition between them.

Regular passes run on the UTC clock every ``interval`` minutes (``interval`` divides an hour, so the boundaries are
the minutes ``m`` with ``m % interval == 0``). A transition that falls on a boundary is acted on by that boundary's
pass; one that falls between two boundaries would wait for the next one (up to ``interval`` minutes), so a pass
asks for a wake-up at it instead. Only transitions before the next boundary are looked at: the pass at that
boundary looks at the interval after it, so every transition between boundaries gets its wake-up from the pass
just before it (a regular pass or the previous wake-up), and a changed configuration is seen at most one
interval ahead.

Pure: the configuration, the pass time and the interval are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .evaluate import Evaluator, Transition, iso_z
from .schedule import Config

# Minutes between regular passes: the divisors of 60, so that a cron expression fires at evenly spaced minutes.
ALLOWED_INTERVALS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)
_MINUTE = timedelta(minutes=1)


def check_interval(interval: int) -> int:
    if interval not in ALLOWED_INTERVALS:
        allowed = ", ".join(str(i) for i in ALLOWED_INTERVALS)
        raise ValueError(f"{interval!r} is not a pass interval in minutes (one of {allowed}: they divide an hour)")
    return interval


def cron_expression(interval: int) -> str:
    """The EventBridge Scheduler cron expression (UTC) of clock-aligned passes every ``interval`` minutes."""
    check_interval(interval)
    return "cron(0 * * * ? *)" if interval == 60 else f"cron(0/{interval} * * * ? *)"


def _aware_utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"instant must be timezone-aware, got {t!r}")
    return t.astimezone(UTC)


def is_pass_boundary(t: datetime, interval: int) -> bool:
    """Whether a regular pass runs at instant ``t`` (a whole minute that is a multiple of ``interval``)."""
    t = _aware_utc(t)
    return t.second == 0 and t.microsecond == 0 and t.minute % check_interval(interval) == 0


def next_pass_boundary(t: datetime, interval: int) -> datetime:
    """The first regular pass strictly after ``t``."""
    t = _aware_utc(t)
    floor = t.replace(minute=t.minute - t.minute % check_interval(interval), second=0, microsecond=0)
    return floor + timedelta(minutes=interval)


@dataclass(frozen=True)
class Upcoming:
    """A schedule's next transition."""

    schedule: str
    transition: Transition

    @property
    def at(self) -> datetime:
        return self.transition.at

    def to_json(self) -> dict[str, str]:
        return {"schedule": self.schedule, "at": iso_z(self.at), "action": self.transition.action}


def evaluators(config: Config, names: Iterable[str] | None = None) -> list[Evaluator]:
    """One evaluator per schedule of ``config`` (or per name of ``names`` that it has), in name order."""
    wanted = sorted(config.schedules if names is None else {n for n in names if n in config.schedules})
    return [Evaluator.from_config(config, n) for n in wanted]


def next_transition(schedules: Iterable[Evaluator], after: datetime, until: datetime) -> Upcoming | None:
    """The first transition of any of ``schedules`` in (``after``, ``until``); ties go to the first schedule."""
    after, until = _aware_utc(after), _aware_utc(until)
    best: Upcoming | None = None
    for ev in schedules:
        found = ev.transitions(after, best.at if best else until, include_start=False)
        if found:
            best = Upcoming(ev.schedule.name, found[0])
    return best


def wake_up_at(schedules: Iterable[Evaluator], at: datetime, interval: int) -> Upcoming | None:
    """The wake-up a pass at ``at`` should ask for: the first transition after ``at`` that falls before the next
    regular pass, if any (one on that pass's boundary needs none). Its instant, rounded up to a whole minute (a
    pass time is a whole minute), is :func:`wake_up_instant`."""
    at = _aware_utc(at)
    boundary = next_pass_boundary(at, interval)
    upcoming = next_transition(schedules, at, boundary)
    if upcoming is None or wake_up_instant(upcoming) >= boundary:
        return None
    return upcoming


def wake_up_instant(upcoming: Upcoming) -> datetime:
    """The whole minute at or after the transition (transitions fall on whole minutes; a DST jump might not)."""
    at = upcoming.at.astimezone(UTC)
    whole = at.replace(second=0, microsecond=0)
    return whole if whole == at else whole + _MINUTE


__all__ = [
    "ALLOWED_INTERVALS",
    "Upcoming",
    "check_interval",
    "cron_expression",
    "evaluators",
    "is_pass_boundary",
    "next_pass_boundary",
    "next_transition",
    "wake_up_at",
    "wake_up_instant",
]
