"""Evaluation of a schedule: windows, their union, events, state, transitions and running intervals.

All instants are aware UTC datetimes. Local wall-clock times become instants through :func:`tz.to_instant`
(fold -> first occurrence, gap -> the jump instant). Everything here is a pure function of the configuration and
the instants passed in.
"""

from __future__ import annotations

import bisect
import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

from croniter import croniter

from .instants import iso_z
from .periods import Period
from .schedule import Config, PeriodRef, Schedule, State
from .tz import local_midnight, to_instant, zone

Action = Literal["start", "stop"]
Interval = tuple[datetime, datetime]

MERGE_GAP = timedelta(minutes=1)
_MARGIN = timedelta(minutes=2)
_DAY = timedelta(days=1)
# State queries answer from boundary arrays cached per span of this length (aligned on the Unix epoch): a year of
# queries computes one or two spans, then each query is one binary search.
SPAN = timedelta(days=400)
_SPAN_SECONDS = SPAN.total_seconds()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_SPANS = 16
# A span costs about as much as several hundred direct evaluations: an evaluator answers its first queries directly
# (a pass asks two or three) and builds spans only once it is asked more than this many.
_DIRECT_QUERIES = 64
_HOLIDAY_CACHE: dict[tuple[str, int], frozenset[date]] = {}


@dataclass(frozen=True, slots=True, order=True)
class Transition:
    """A start or stop at an instant. ``source`` says why: ``window`` (entering/leaving running) or ``event``."""

    at: datetime
    order: int  # window transitions sort before events at the same instant, so an explicit event is the last word
    action: Action
    source: str

    def to_json(self) -> dict[str, str]:
        return {"at": iso_z(self.at), "action": self.action}


def _require_aware(t: datetime, what: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {t!r}")
    return t.astimezone(UTC)


def calendar_holidays(code: str, year: int) -> frozenset[date]:
    """Public holidays of ``code`` (``DE`` or ``DE-BY``) in ``year``, from the ``holidays`` package (cached)."""
    key = (code, year)
    got = _HOLIDAY_CACHE.get(key)
    if got is None:
        import holidays as hol

        country, _, subdiv = code.partition("-")
        cal = hol.country_holidays(country, subdiv=subdiv or None, years=year)
        got = frozenset(d for d in cal if d.year == year)
        _HOLIDAY_CACHE[key] = got
    return got


def merge(intervals: Iterable[Interval], gap: timedelta = MERGE_GAP) -> list[Interval]:
    """Union of intervals; intervals whose gap is ``gap`` or less are merged too."""
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if out and start - out[-1][1] <= gap:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def subtract(intervals: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """``intervals`` minus ``holes`` (both sorted and disjoint)."""
    if not holes:
        return list(intervals)
    out: list[Interval] = []
    for start, end in intervals:
        cur = start
        for hs, he in holes:
            if he <= cur or hs >= end:
                continue
            if hs > cur:
                out.append((cur, hs))
            cur = max(cur, he)
            if cur >= end:
                break
        if cur < end:
            out.append((cur, end))
    return out


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    return [(max(s, start), min(e, end)) for s, e in intervals if e > start and s < end]


class _CronSeries:
    """Fires of one 5-field cron expression, as de-duplicated instants in a zone."""

    def __init__(self, expr: str, tz: ZoneInfo) -> None:
        self.expr = expr
        self.tz = tz

    def _local(self, t: datetime) -> datetime:
        return t.astimezone(self.tz).replace(tzinfo=None, second=0, microsecond=0)

    def last_at_or_before(self, t: datetime) -> datetime | None:
        # Walk back in local time; a fire in a fold maps to its first occurrence, which may be earlier than it reads.
        it = croniter(self.expr, self._local(t) + timedelta(minutes=1))
        for _ in range(4):
            try:
                local = it.get_prev(datetime)
            except Exception:  # croniter gives up on expressions that never fire in its search horizon
                return None
            inst = to_instant(local, self.tz)
            if inst <= t:
                return inst
        return None

    def between(self, start: datetime, end: datetime, limit: int = 1_000_000) -> list[datetime]:
        """Fires in [start, end] (instants), ascending and unique."""
        it = croniter(self.expr, self._local(start) - timedelta(minutes=61))
        out: list[datetime] = []
        end_local = self._local(end) + timedelta(minutes=61)
        while len(out) < limit:
            try:
                local = it.get_next(datetime)
            except Exception:
                break
            if local > end_local:
                break
            inst = to_instant(local, self.tz)
            if start <= inst <= end and (not out or inst > out[-1]):
                out.append(inst)
            elif out and inst <= out[-1]:
                continue  # a fold's second pass or a gap's collapsed fires: already counted once
        return out

    def first_after(self, t: datetime, horizon: timedelta = timedelta(days=800)) -> datetime | None:
        it = croniter(self.expr, self._local(t) - timedelta(minutes=61))
        limit_local = self._local(t + horizon)
        while True:
            try:
                local = it.get_next(datetime)
            except Exception:
                return None
            if local > limit_local:
                return None
            inst = to_instant(local, self.tz)
            if inst > t:
                return inst


@dataclass(frozen=True)
class Timeline:
    """What a schedule does over a span: merged running intervals and events (not clipped to the span)."""

    running: list[Interval]
    events: list[Transition]
    holidays: list[Interval]


class Evaluator:
    """A schedule compiled against its periods; answers state, transitions and running time.

    One evaluator serves every resource of its schedule in a pass (see :meth:`pass_view`).
    """

    def __init__(self, schedule: Schedule, periods: dict[str, Period], default_timezone: str = "UTC") -> None:
        self.schedule = schedule
        # The zone the schedule is evaluated in: its own, else the deployment's default.
        self.timezone = schedule.timezone or default_timezone
        self.tz = zone(self.timezone)
        self.refs: list[tuple[PeriodRef, Period]] = [(r, periods[r.name]) for r in schedule.periods]
        self._window_periods = [p for _, p in self.refs if p.gives_windows]
        self.has_windows = bool(self._window_periods)
        self._crons: dict[str, _CronSeries] = {}
        self._day_cache: dict[date, tuple[list[Interval], list[Transition]]] = {}
        self._spans: dict[int, _Span] = {}
        self._span_now = _Span(0.0, 0.0, [], [])  # the span of the latest query (empty: none yet)
        self._direct_left = _DIRECT_QUERIES
        self._override = schedule.override_status

    @classmethod
    def from_config(cls, config: Config, name: str) -> Evaluator:
        schedule = config.schedules[name]
        return cls(schedule, config.periods_for(schedule), config.default_timezone)

    # -- building blocks -------------------------------------------------------------------------------------

    def _cron(self, expr: str) -> _CronSeries:
        series = self._crons.get(expr)
        if series is None:
            series = self._crons[expr] = _CronSeries(expr, self.tz)
        return series

    def _day(self, day: date) -> tuple[list[Interval], list[Transition]]:
        """Windows and events of the (non-cron) periods that apply on local ``day`` (cached per day)."""
        cached = self._day_cache.get(day)
        if cached is not None:
            return cached
        windows: list[Interval] = []
        events: list[Transition] = []
        midnight = datetime(day.year, day.month, day.day)
        for _, p in self.refs:
            if p.is_cron or day.day not in p.days_of_month(day.year, day.month):
                continue
            if p.gives_windows:
                windows.extend(self._window_of(p, day))
            elif p.begintime is not None:
                at = to_instant(midnight + timedelta(minutes=p.begintime), self.tz)
                events.append(Transition(at, 1, "start", "event"))
            elif p.endtime is not None:
                at = to_instant(midnight + timedelta(minutes=p.endtime), self.tz)
                events.append(Transition(at, 1, "stop", "event"))
        if len(self._day_cache) > 4096:
            self._day_cache.clear()
        self._day_cache[day] = (windows, events)
        return windows, events

    def _holiday_dates(self, first: date, last: date) -> set[date]:
        days = {d for d in self.schedule.holidays if first <= d <= last}
        if self.schedule.holiday_calendar:
            for year in range(first.year, last.year + 1):
                days.update(d for d in calendar_holidays(self.schedule.holiday_calendar, year) if first <= d <= last)
        return days

    def _raw(
        self, start: datetime, end: datetime, *, with_periods: bool = False
    ) -> tuple[list[Interval], list[Transition], list[tuple[Period, Interval]]]:
        """Windows (unmerged) and events intersecting [start - margin, end + margin]."""
        lo, hi = start - _MARGIN, end + _MARGIN
        first = lo.astimezone(self.tz).date() - 2 * _DAY
        last = hi.astimezone(self.tz).date() + _DAY
        windows: list[Interval] = []
        events: list[Transition] = []
        owned: list[tuple[Period, Interval]] = []
        day = first
        while day <= last:
            w, ev = self._day(day)
            windows.extend(w)
            events.extend(ev)
            day += _DAY
        if with_periods:
            for _, p in self.refs:
                if p.is_cron or not p.gives_windows:
                    continue
                for d in p.matching_days(first, last):
                    for iv in self._window_of(p, d):
                        owned.append((p, iv))
        for _, p in self.refs:
            if not p.is_cron:
                continue
            if p.start is not None and p.stop is not None:
                starts = self._cron(p.start)
                stops = self._cron(p.stop)
                s0 = starts.last_at_or_before(lo) or lo
                fires = starts.between(s0, hi)
                if fires:
                    stop_fires = stops.between(fires[0], hi + _DAY)
                    for s in fires:
                        i = bisect.bisect_right(stop_fires, s)
                        if i < len(stop_fires):
                            e = stop_fires[i]
                        else:
                            e = stops.first_after(s) or datetime.max.replace(tzinfo=UTC)
                        windows.append((s, e))
                        if with_periods:
                            owned.append((p, (s, e)))
            else:
                expr = p.start if p.start is not None else p.stop
                assert expr is not None
                action: Action = "start" if p.start is not None else "stop"
                events.extend(Transition(t, 1, action, "event") for t in self._cron(expr).between(lo, hi))
        return windows, events, owned

    def _window_of(self, p: Period, day: date) -> list[Interval]:
        """The window a (non-cron, window-giving) period gives on local ``day``; empty inside a DST gap."""
        midnight = datetime(day.year, day.month, day.day)
        b, e = p.begintime, p.endtime
        if b is None or e is None:
            return [(local_midnight(day, self.tz), local_midnight(day + _DAY, self.tz))]
        begin = to_instant(midnight + timedelta(minutes=b), self.tz)
        end = to_instant(midnight + timedelta(minutes=e) + (_DAY if e < b else timedelta()), self.tz)
        return [(begin, end)] if end > begin else []

    def timeline(self, start: datetime, end: datetime) -> Timeline:
        """Merged running intervals and holiday-filtered events around [start, end]."""
        start = _require_aware(start, "start")
        end = _require_aware(end, "end")
        if self.schedule.override_status is not None:
            if self.schedule.override_status is State.RUNNING:
                return Timeline([(start - _MARGIN, end + _MARGIN)], [], [])
            return Timeline([], [], [])
        windows, events, _ = self._raw(start, end)
        running = merge(windows)
        first = (start - _MARGIN).astimezone(self.tz).date() - 2 * _DAY
        last_window_end = max((e for _, e in running), default=end)
        last = max(end + _MARGIN, min(last_window_end, end + 400 * _DAY)).astimezone(self.tz).date() + _DAY
        hdays = sorted(self._holiday_dates(first, last))
        holes = merge(((local_midnight(d, self.tz), local_midnight(d + _DAY, self.tz)) for d in hdays), timedelta())
        if holes:
            running = subtract(running, holes)
            hset = set(hdays)
            events = [ev for ev in events if ev.at.astimezone(self.tz).date() not in hset]
        return Timeline(running, sorted(set(events)), holes)

    # -- public answers -----------------------------------------------------------------------------------

    def state_at(self, t: datetime) -> State:
        """The schedule's state at instant ``t`` (SPEC §2).

        Answered from the boundaries of the running intervals and holidays of the span holding ``t``, computed once
        per span and kept: a binary search per query. It equals :meth:`reference_state_at` at every instant (a
        property test checks it): whether ``t`` is running depends only on the windows and holidays around ``t``,
        which the span's timeline holds in full.
        """
        tz = t.tzinfo
        if tz is None or (type(tz) is not timezone and tz.utcoffset(t) is None):
            raise ValueError(f"t must be timezone-aware, got {t!r}")
        if self._override is not None:
            return self._override
        at = t.timestamp()
        span = self._span_now
        if not span.start <= at < span.end:
            if self._direct_left > 0:
                self._direct_left -= 1
                return self.reference_state_at(t)
            try:
                span = self._span_now = self._span(math.floor(at / _SPAN_SECONDS))
            except OverflowError:  # a span reaching past the years datetime can hold
                return self.reference_state_at(t)
        if bisect_right(span.running, at) & 1:
            return State.RUNNING
        if self.has_windows or bisect_right(span.holidays, at) & 1:
            return State.STOPPED
        return State.ANY

    def _span(self, key: int) -> _Span:
        span = self._spans.get(key)
        if span is not None:
            return span
        start = _EPOCH + key * SPAN
        end = start + SPAN
        tl = self.timeline(start, end)
        span = _Span(
            start.timestamp(),
            end.timestamp(),
            _boundaries(clip(tl.running, start, end)),
            _boundaries(clip(tl.holidays, start, end)),
        )
        if len(self._spans) >= _MAX_SPANS:
            self._spans.clear()
        self._spans[key] = span
        return span

    def reference_state_at(self, t: datetime) -> State:
        """The state at ``t`` evaluated directly from the timeline around ``t``: what :meth:`state_at` answers
        faster."""
        t = _require_aware(t, "t")
        if self.schedule.override_status is not None:
            return self.schedule.override_status
        tl = self.timeline(t, t)
        for hs, he in tl.holidays:
            if hs <= t < he:
                return State.STOPPED
        for s, e in tl.running:
            if s <= t < e:
                return State.RUNNING
        return State.STOPPED if self.has_windows else State.ANY

    def running(self, start: datetime, end: datetime) -> list[Interval]:
        """Maximal running intervals clipped to [start, end)."""
        return clip(self.timeline(start, end).running, _require_aware(start, "start"), _require_aware(end, "end"))

    def transitions(
        self, start: datetime, end: datetime, *, include_end: bool = False, include_start: bool = True
    ) -> list[Transition]:
        """Transitions with ``at`` in [start, end) (bounds adjustable), in order."""
        start = _require_aware(start, "start")
        end = _require_aware(end, "end")
        if self.schedule.override_status is not None:
            return []
        tl = self.timeline(start, end)
        found: set[Transition] = set(tl.events)
        for s, e in tl.running:
            found.add(Transition(s, 0, "start", "window"))
            found.add(Transition(e, 0, "stop", "window"))

        def inside(at: datetime) -> bool:
            lower = at >= start if include_start else at > start
            upper = at <= end if include_end else at < end
            return lower and upper

        return sorted(tr for tr in found if inside(tr.at))

    def instance_type_at(self, t: datetime) -> str | None:
        """The instance type of the first listed ``period@type`` whose window contains ``t``, if any."""
        t = _require_aware(t, "t")
        typed = [(r, p) for r, p in self.refs if r.instance_type and p.gives_windows]
        if not typed or self.state_at(t) is not State.RUNNING:
            return None
        _, _, owned = self._raw(t, t, with_periods=True)
        for ref, period in typed:
            if any(p is period and s <= t < e for p, (s, e) in owned):
                return ref.instance_type
        return None

    def next_transition(self, after: datetime, horizon: timedelta = timedelta(days=366)) -> Transition | None:
        """The first transition strictly after ``after`` within ``horizon``."""
        after = _require_aware(after, "after")
        step = timedelta(days=7)
        cur = after
        while cur < after + horizon:
            found = self.transitions(cur, cur + step, include_start=cur != after)
            found = [t for t in found if t.at > after]
            if found:
                return found[0]
            cur += step
        return None

    def first_stop(self, after: datetime, until: datetime) -> datetime | None:
        """The first stop (leaving a window, or a stop event) in (``after``, ``until``], if any."""
        stops = [t for t in self.transitions(after, until, include_start=False, include_end=True) if t.action == "stop"]
        return stops[0].at if stops else None

    def pass_view(self, last_pass: datetime | None, now: datetime) -> PassView:
        """Everything a pass needs about this schedule at ``now``, computed once for all its resources."""
        now = _require_aware(now, "now")
        last = _require_aware(last_pass, "last_pass") if last_pass is not None else None
        window: tuple[Transition, ...] = ()
        if last is not None and last < now:
            window = tuple(self.transitions(last, now, include_start=False, include_end=True))
        s = self.schedule
        return PassView(
            schedule=s.name,
            now=now,
            last_pass=last,
            state=self.state_at(now),
            transitions=window,
            instance_type=self.instance_type_at(now),
            previous_instance_type=self.instance_type_at(last) if last is not None else None,
            enforced=s.enforced,
            retain_running=s.retain_running,
            stop_new_instances=s.stop_new_instances,
            hibernate=s.hibernate,
            upcoming_stop=self.first_stop(now, now + timedelta(minutes=s.notify_before)) if s.notify_before else None,
        )


@dataclass(frozen=True, slots=True)
class _Span:
    """The running intervals and holidays of [start, end) as sorted boundary instants (all POSIX seconds): an
    instant is inside when an odd number of boundaries are at or before it."""

    start: float
    end: float
    running: list[float]
    holidays: list[float]


def _boundaries(intervals: Iterable[Interval]) -> list[float]:
    out: list[float] = []
    for start, end in intervals:
        if end > start:
            out.append(start.timestamp())
            out.append(end.timestamp())
    return out


@dataclass(frozen=True)
class PassView:
    """A schedule's answer for one pass: the state now and the transitions in (last_pass, now]."""

    schedule: str
    now: datetime
    last_pass: datetime | None
    state: State
    transitions: tuple[Transition, ...]
    instance_type: str | None = None
    previous_instance_type: str | None = None
    enforced: bool = False
    retain_running: bool = False
    stop_new_instances: bool = True
    hibernate: bool = False
    # With notify_before: the first stop in (now, now + notify_before], to be announced ("Upcoming Stop").
    upcoming_stop: datetime | None = None

    @property
    def last_transition(self) -> Transition | None:
        return self.transitions[-1] if self.transitions else None


def running_hours(intervals: Iterable[Interval]) -> float:
    return sum((e - s).total_seconds() for s, e in intervals) / 3600.0


def local_day_bounds(first: date, last: date, tz: ZoneInfo) -> Interval:
    """[start of local ``first``, start of the local day after ``last``): an inclusive date range as instants."""
    return local_midnight(first, tz), local_midnight(last + _DAY, tz)


__all__ = [
    "Evaluator",
    "Interval",
    "PassView",
    "Timeline",
    "Transition",
    "clip",
    "iso_z",
    "local_day_bounds",
    "merge",
    "running_hours",
    "subtract",
]
_ = to_instant  # re-exported for callers that convert local times themselves
