"""From hourly utilisation to a proposed schedule: pure, so every step is a table test.

The steps, each a function here:

1. :func:`classify`: one hour of metrics is *busy* (CPU Maximum at or above the threshold, or network in+out, or
   RDS connections, at or above theirs), *idle*, or unknown (no CPU datapoint: the resource was stopped, or
   CloudWatch has nothing).
2. :func:`bucket`: every observed hour goes to its hour-of-the-week slot in the analysis zone (168 slots, Monday
   00:00 = slot 0); an hour that straddles two local hours (zones with half-hour offsets) goes to both.
3. :func:`needed_mask`: a slot is needed when any observation in it was busy. Slots seen only idle, or never seen
   (the resource was stopped then), are not needed.
4. :func:`fill_gaps`: idle runs shorter than ``min_gap`` hours between needed slots are filled (a stop and a start
   for less is not worth it), around the week too (Sunday night joins Monday morning).
5. :func:`day_windows` and :func:`periods_of`: the running slots of each weekday as windows, identical windows of
   several weekdays as one window period (``08:00``–``18:00`` on ``mon-fri``); a window to midnight ends at
   ``24:00`` and the engine joins it to the next day's ``00:00``.
6. :func:`analyse`: a stored schedule is proposed instead when one fits (the engine runs it at every needed slot of
   a reference week, and it stops at least :data:`STORED_SHARE` of what the new schedule would), else the new
   periods and schedule; with the weekly running hours, savings inputs and the confidence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from scheduler.engine import Config, Evaluator, parse_config, to_instant, zone

HOURS_PER_WEEK = 168
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# AWS prices a month as 730 hours.
HOURS_PER_MONTH = Decimal(730)
ONE_HOUR = timedelta(hours=1)
# Less data than this shows no weekly pattern: the observed hours must span a week, and hold a day of data.
MIN_SPAN = timedelta(days=7)
MIN_HOURS = 24
# A stored schedule is preferred to a new one when it stops at least this share of what the new one would.
STORED_SHARE = 0.8
# Idle gaps shorter than this many hours between busy hours are run through.
MIN_GAP_HOURS = 2
DESCRIPTION = "Proposed by isched suggest"
MAX_NAME = 64

Mask = tuple[bool, ...]


@dataclass(frozen=True)
class Thresholds:
    """An hour is idle when all of these hold (README, "isched suggest")."""

    cpu_percent: float = 10.0  # CPUUtilization Maximum over the hour below this
    network_bytes: float = 5 * 1024 * 1024  # EC2: NetworkIn + NetworkOut over the hour below this
    connections: float = 1.0  # RDS: DatabaseConnections Maximum over the hour below this

    def to_json(self) -> dict[str, float]:
        return {
            "cpu_percent": self.cpu_percent,
            "network_bytes_per_hour": self.network_bytes,
            "connections": self.connections,
        }


@dataclass(frozen=True)
class HourValues:
    """One hour of CloudWatch statistics for one resource (``start``: the hour's first instant, UTC)."""

    start: datetime
    cpu: float | None = None  # CPUUtilization, Maximum, percent
    network: float | None = None  # NetworkIn + NetworkOut, Sum, bytes (EC2)
    connections: float | None = None  # DatabaseConnections, Maximum (RDS)


def classify(values: HourValues, thresholds: Thresholds) -> bool | None:
    """True busy, False idle, None unknown. The CPU is every resource's heartbeat: without it, nothing is known."""
    if values.cpu is None:
        return None
    if values.cpu >= thresholds.cpu_percent:
        return True
    if values.network is not None and values.network >= thresholds.network_bytes:
        return True
    return values.connections is not None and values.connections >= thresholds.connections


@dataclass(frozen=True)
class Observation:
    start: datetime  # aware; the hour [start, start + 1 h)
    busy: bool


def observations(values: Iterable[HourValues], thresholds: Thresholds) -> list[Observation]:
    out = []
    for v in values:
        busy = classify(v, thresholds)
        if busy is not None:
            out.append(Observation(v.start, busy))
    return out


def slot_of(local: datetime) -> int:
    return local.weekday() * 24 + local.hour


def slots(start: datetime, tz: ZoneInfo) -> tuple[int, ...]:
    """The local hour-of-week slots the hour [start, start + 1 h) overlaps (two where the offset is not whole)."""
    first = slot_of(start.astimezone(tz))
    last = slot_of((start + ONE_HOUR - timedelta(microseconds=1)).astimezone(tz))
    return (first,) if first == last else (first, last)


@dataclass(frozen=True)
class Grid:
    """Per hour-of-week slot: how many observations were busy and how many idle."""

    busy: tuple[int, ...]
    idle: tuple[int, ...]

    def observed(self, slot: int) -> int:
        return self.busy[slot] + self.idle[slot]


def bucket(obs: Iterable[Observation], tz: ZoneInfo) -> Grid:
    busy = [0] * HOURS_PER_WEEK
    idle = [0] * HOURS_PER_WEEK
    for o in obs:
        for s in slots(o.start, tz):
            if o.busy:
                busy[s] += 1
            else:
                idle[s] += 1
    return Grid(tuple(busy), tuple(idle))


def needed_mask(grid: Grid) -> Mask:
    return tuple(b > 0 for b in grid.busy)


def fill_gaps(mask: Mask, min_gap: int = MIN_GAP_HOURS) -> Mask:
    """``mask`` with every run of idle slots shorter than ``min_gap`` made running (the week is a circle)."""
    n = len(mask)
    if all(mask) or not any(mask):
        return mask
    out = list(mask)
    first = mask.index(True)
    i = 0
    while i < n:
        if mask[(first + i) % n]:
            i += 1
            continue
        j = i
        while j < n and not mask[(first + j) % n]:
            j += 1
        if j - i < min_gap:
            for k in range(i, j):
                out[(first + k) % n] = True
        i = j
    return tuple(out)


Window = tuple[int, int]  # local hours [begin, end), end 24 = midnight


def day_windows(mask: Mask) -> tuple[tuple[Window, ...], ...]:
    """The running windows of each weekday (Monday first), from the slots of ``mask``."""
    days: list[tuple[Window, ...]] = []
    for day in range(7):
        hours = mask[day * 24 : day * 24 + 24]
        windows: list[Window] = []
        h = 0
        while h < 24:
            if not hours[h]:
                h += 1
                continue
            begin = h
            while h < 24 and hours[h]:
                h += 1
            windows.append((begin, h))
        days.append(tuple(windows))
    return tuple(days)


def weekday_text(days: Sequence[int]) -> str:
    """``mon-fri``, ``mon,wed,fri``, ``sat-sun``: consecutive days (3 or more) as a range."""
    parts: list[str] = []
    run: list[int] = []
    for d in sorted(days):
        if run and d == run[-1] + 1:
            run.append(d)
            continue
        if run:
            parts.append(_run_text(run))
        run = [d]
    if run:
        parts.append(_run_text(run))
    return ",".join(parts)


def _run_text(run: list[int]) -> str:
    if len(run) >= 3:
        return f"{WEEKDAYS[run[0]]}-{WEEKDAYS[run[-1]]}"
    return ",".join(WEEKDAYS[d] for d in run)


@dataclass(frozen=True)
class PeriodSpec:
    """A window period: ``begin``-``end`` (local hours; 0-24 is the whole day) on ``weekdays``."""

    begin: int
    end: int
    weekdays: tuple[int, ...]

    @property
    def whole_day(self) -> bool:
        return self.begin == 0 and self.end == 24

    def body(self) -> dict[str, str]:
        if self.whole_day:
            return {"weekdays": weekday_text(self.weekdays)}
        return {
            "begintime": f"{self.begin:02d}:00",
            "endtime": f"{self.end:02d}:00",
            "weekdays": weekday_text(self.weekdays),
        }

    def label(self) -> str:
        days = weekday_text(self.weekdays)
        return f"{days} all day" if self.whole_day else f"{days} {self.begin:02d}:00-{self.end:02d}:00"

    def base_name(self) -> str:
        days = weekday_text(self.weekdays).replace(",", ".")
        hours = "allday" if self.whole_day else f"{self.begin:02d}00-{self.end:02d}00"
        return f"suggest-{days}-{hours}"


def periods_of(mask: Mask) -> tuple[PeriodSpec, ...]:
    """One period per distinct window, on every weekday that has it; ordered by first weekday, then hour."""
    by_window: dict[Window, list[int]] = {}
    for day, windows in enumerate(day_windows(mask)):
        for w in windows:
            by_window.setdefault(w, []).append(day)
    specs = [PeriodSpec(b, e, tuple(days)) for (b, e), days in by_window.items()]
    return tuple(sorted(specs, key=lambda p: (p.weekdays[0], p.begin, p.end)))


def _unused(base: str, body: Mapping[str, object], stored: Mapping[str, Mapping[str, object]]) -> str:
    """``base``, or ``base-2``, ``base-3``…: the first name that is free or already holds exactly ``body``."""
    n = 1
    while True:
        name = base if n == 1 else f"{base}-{n}"
        if stored.get(name) in (None, body):
            return name
        n += 1


def proposal_config(specs: Sequence[PeriodSpec], timezone: str, stored: Config | None = None) -> tuple[str, Config]:
    """The new periods and the schedule that runs them in ``timezone``; names never clash with a different stored
    item (a stored item with the same name and body is the same item)."""
    stored_p = {n: p.to_dict() for n, p in (stored.periods if stored else {}).items()}
    stored_s = {n: s.to_dict() for n, s in (stored.schedules if stored else {}).items()}
    periods: dict[str, dict[str, str]] = {}
    for spec in specs:
        body = spec.body()
        periods[_unused(spec.base_name(), body, stored_p)] = body
    labels = "; ".join(s.label() for s in specs)
    schedule = {
        "timezone": timezone,
        "periods": list(periods),
        "description": f"{DESCRIPTION}: running {labels} ({timezone})"[:1024],
    }
    base = f"{specs[0].base_name()}-{timezone.lower().replace('/', '.')}" if len(specs) == 1 else ""
    if not base or len(base) > MAX_NAME - 3 or not all(c.isalnum() or c in "-_." for c in base):
        digest = hashlib.sha256(json.dumps(schedule, sort_keys=True).encode()).hexdigest()[:10]
        base = f"suggest-{digest}"
    name = _unused(base, schedule, stored_s)
    return name, parse_config({"periods": periods, "schedules": {name: schedule}})


def week_start(at: datetime, tz: ZoneInfo) -> datetime:
    """The first local Monday 00:00 at or after ``at`` that begins a week of 168 hours: the reference week schedules
    are compared over (a week with a DST change, whose missing or repeated hour would blur the hours of the week,
    is skipped)."""
    local = at.astimezone(tz)
    monday = datetime(local.year, local.month, local.day) + timedelta(days=(7 - local.weekday()) % 7)
    while True:
        start = to_instant(monday, tz)
        if start >= at and to_instant(monday + timedelta(days=7), tz) - start == timedelta(hours=HOURS_PER_WEEK):
            return start
        monday += timedelta(days=7)


@dataclass(frozen=True)
class WeekRun:
    """A schedule over the reference week: the slots it runs throughout, and its running share of the week."""

    mask: Mask
    running_hours: float
    week_hours: float

    @property
    def stopped_fraction(self) -> float:
        return 1 - self.running_hours / self.week_hours if self.week_hours else 0.0

    def covers(self, needed: Mask) -> bool:
        return all(m for m, n in zip(self.mask, needed, strict=True) if n)


def week_run(ev: Evaluator, start: datetime, tz: ZoneInfo) -> WeekRun:
    """Evaluates the schedule with the engine over the local week from ``start`` (a local Monday 00:00)."""
    monday = start.astimezone(tz).replace(tzinfo=None)
    end = to_instant(monday + timedelta(days=7), tz)
    running = ev.running(start, end)
    mask = []
    for slot in range(HOURS_PER_WEEK):
        local = monday + timedelta(hours=slot)
        s, e = to_instant(local, tz), to_instant(local + ONE_HOUR, tz)
        mask.append(s >= e or any(a <= s and e <= b for a, b in running))
    hours = sum((b - a).total_seconds() for a, b in running) / 3600
    return WeekRun(tuple(mask), hours, (end - start).total_seconds() / 3600)


def stored_runs(config: Config | None, start: datetime, tz: ZoneInfo) -> dict[str, WeekRun]:
    """Every stored schedule with windows over the reference week (events-only schedules never fit)."""
    runs: dict[str, WeekRun] = {}
    if config is None:
        return runs
    for name in sorted(config.schedules):
        ev = Evaluator.from_config(config, name)
        if ev.has_windows or ev.schedule.override_status is not None:
            runs[name] = week_run(ev, start, tz)
    return runs


class Status(StrEnum):
    PROPOSED = "proposed"
    BUSY = "busy"
    IDLE = "idle"
    INSUFFICIENT = "insufficient_data"


@dataclass(frozen=True)
class Confidence:
    """How far the proposal can be trusted: how much data, and how regular the busy hours were week by week."""

    level: str  # high | medium | low
    score: float  # consistency × min(1, weeks / 2) × min(1, 2 × data_fraction)
    weeks: float  # weeks spanned by the observed hours
    data_hours: int  # hours with data
    data_fraction: float  # of the analysed hours
    consistency: float  # of the observations in needed slots, the share that was busy

    def to_json(self) -> dict[str, object]:
        return {
            "level": self.level,
            "score": self.score,
            "weeks": self.weeks,
            "data_hours": self.data_hours,
            "data_fraction": self.data_fraction,
            "consistency": self.consistency,
        }


def confidence(obs: Sequence[Observation], grid: Grid, needed: Mask, analysed_hours: int) -> Confidence:
    span = _span(obs)
    weeks = round(span / timedelta(days=7), 2)
    data = round(len(obs) / analysed_hours, 3) if analysed_hours else 0.0
    seen = sum(grid.observed(s) for s in range(HOURS_PER_WEEK) if needed[s])
    busy = sum(grid.busy[s] for s in range(HOURS_PER_WEEK) if needed[s])
    consistency = round(busy / seen, 3) if seen else 1.0
    score = round(consistency * min(1.0, weeks / 2) * min(1.0, 2 * data), 2)
    level = "high" if score >= 0.75 else "medium" if score >= 0.5 else "low"
    return Confidence(level, score, weeks, len(obs), data, consistency)


def _span(obs: Sequence[Observation]) -> timedelta:
    if not obs:
        return timedelta()
    return max(o.start for o in obs) + ONE_HOUR - min(o.start for o in obs)


@dataclass(frozen=True)
class Analysis:
    """What ``suggest`` says about one resource."""

    status: Status
    reason: str
    schedule: str | None = None
    existing: bool = False
    config: Config | None = None  # the new periods and schedule (None when a stored one fits, or no proposal)
    run: WeekRun | None = None  # the proposed schedule over the reference week
    needed: Mask | None = None
    confidence: Confidence | None = None


def analyse(
    values: Sequence[HourValues],
    *,
    analysed_hours: int,
    timezone: str,
    reference: datetime,
    thresholds: Thresholds | None = None,
    stored: Config | None = None,
    runs: Mapping[str, WeekRun] | None = None,
    min_gap: int = MIN_GAP_HOURS,
) -> Analysis:
    """One resource's hours → a proposal. ``reference``: the local Monday 00:00 of the week schedules are compared
    over (:func:`week_start`); ``runs``: :func:`stored_runs` of ``stored``, computed once for every resource."""
    tz = zone(timezone)
    obs = observations(values, thresholds or Thresholds())
    if len(obs) < MIN_HOURS or _span(obs) < MIN_SPAN:
        days = _span(obs) / timedelta(days=1)
        return Analysis(
            Status.INSUFFICIENT,
            f"too little data: {len(obs)} hour(s) with CloudWatch data over {days:.1f} day(s); at least "
            f"{MIN_HOURS} hours spanning {MIN_SPAN.days} days are needed to see a weekly pattern",
        )
    grid = bucket(obs, tz)
    needed = needed_mask(grid)
    conf = confidence(obs, grid, needed, analysed_hours)
    if not any(needed):
        return Analysis(
            Status.IDLE,
            f"idle at all hours for {conf.weeks:g} week(s): a candidate for stopping (or terminating), not a schedule",
            needed=needed,
            confidence=conf,
        )
    running = fill_gaps(needed, min_gap)
    if all(running):
        return Analysis(Status.BUSY, "busy at all hours", needed=needed, confidence=conf)
    name, config = proposal_config(periods_of(running), timezone, stored)
    new_run = week_run(Evaluator.from_config(config, name), reference, tz)
    fits = [
        (run.running_hours, n, run)
        for n, run in (runs if runs is not None else stored_runs(stored, reference, tz)).items()
        if run.covers(needed) and run.stopped_fraction >= STORED_SHARE * new_run.stopped_fraction
    ]
    if fits:
        _, best, run = min(fits, key=lambda f: (f[0], f[1]))
        return Analysis(
            Status.PROPOSED,
            f"idle at regular hours; the stored schedule '{best}' runs at every busy hour",
            schedule=best,
            existing=True,
            run=run,
            needed=needed,
            confidence=conf,
        )
    return Analysis(
        Status.PROPOSED,
        "idle at regular hours; no stored schedule fits, so a new one is proposed",
        schedule=name,
        config=config,
        run=new_run,
        needed=needed,
        confidence=conf,
    )


def monthly_savings(stopped_fraction: float, hourly: Decimal | None) -> Decimal | None:
    """Stopped share of a 730-hour month × the hourly price, in cents (None when the price is unknown)."""
    if hourly is None:
        return None
    amount = HOURS_PER_MONTH * Decimal(str(round(stopped_fraction, 6))) * hourly
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def merged_config(configs: Iterable[Config]) -> Config:
    """The new items of every proposal as one configuration (equal names hold equal items)."""
    periods: dict[str, object] = {}
    schedules: dict[str, object] = {}
    for c in configs:
        periods.update({n: p.to_dict() for n, p in c.periods.items()})
        schedules.update({n: s.to_dict() for n, s in c.schedules.items()})
    return parse_config({"periods": periods, "schedules": schedules})


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
