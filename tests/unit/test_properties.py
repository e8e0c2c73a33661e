"""Property tests of schedule evaluation and decisions (SPEC §2) over random window-only schedules.

Schedules are built from random window periods (any begin/end minute, overnight windows, ``24:00``, random weekday
sets) in zones with unusual DST rules (southern hemisphere, Lord Howe's 30-minute shift), over random ranges that
are often placed around a DST change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from scheduler.engine import (
    Decision,
    Evaluator,
    Observed,
    ResourceState,
    State,
    Transition,
    decide,
    parse_text,
    running_hours,
)

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Pacific/Auckland", "Australia/Lord_Howe"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
YEARS = range(2024, 2028)
ONE_SECOND = timedelta(seconds=1)
ONE_MINUTE = timedelta(minutes=1)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------------------------------
# DST changes of the zones (found by scanning, so the tests do not trust the engine's tz code)
# ------------------------------------------------------------------------------------------------------------------


@cache
def dst_changes(name: str) -> tuple[tuple[datetime, timedelta, timedelta], ...]:
    """(instant, offset before, offset after) of every UTC-offset change in YEARS, to the second."""
    tz = ZoneInfo(name)
    out = []
    t = datetime(YEARS[0], 1, 1, tzinfo=UTC)
    end = datetime(YEARS[-1] + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=6)
    while t < end:
        a, b = t.astimezone(tz).utcoffset(), (t + step).astimezone(tz).utcoffset()
        assert a is not None
        assert b is not None
        if a != b:
            lo, hi = t, t + step
            while hi - lo > ONE_SECOND:
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == a:
                    lo = mid
                else:
                    hi = mid
            out.append((hi, a, b))
        t += step
    return tuple(out)


def folds(name: str) -> list[tuple[datetime, timedelta, timedelta]]:
    return [c for c in dst_changes(name) if c[2] < c[1]]


# ------------------------------------------------------------------------------------------------------------------
# Strategies
# ------------------------------------------------------------------------------------------------------------------

# Minutes after midnight, biased toward the small hours where DST changes happen and toward the ends of the day.
_EDGE_MINUTES = [0, 1, 30, 59, 60, 89, 90, 105, 119, 120, 135, 150, 179, 180, 181, 210, 1380, 1438, 1439]
begin_minutes = st.one_of(st.sampled_from(_EDGE_MINUTES), st.integers(0, 1439))
end_minutes = st.one_of(st.sampled_from([*_EDGE_MINUTES, 1440]), st.integers(0, 1440))


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class WindowPeriod:
    begin: int
    end: int
    weekdays: tuple[int, ...] | None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"begintime": hhmm(self.begin), "endtime": hhmm(self.end)}
        if self.weekdays is not None:
            out["weekdays"] = [DAYS[d] for d in self.weekdays]
        return out


@st.composite
def window_periods(draw: st.DrawFn) -> WindowPeriod:
    begin = draw(begin_minutes)
    end = draw(end_minutes.filter(lambda e: e != begin))
    weekdays = draw(st.one_of(st.none(), st.sets(st.integers(0, 6), min_size=1).map(lambda s: tuple(sorted(s)))))
    return WindowPeriod(begin, end, weekdays)


@dataclass(frozen=True)
class Spec:
    zone: str
    periods: tuple[WindowPeriod, ...]
    flags: tuple[tuple[str, Any], ...] = ()

    def text(self) -> str:
        doc = {
            "periods": {f"p{i}": p.to_dict() for i, p in enumerate(self.periods)},
            "schedules": {
                "s": {"timezone": self.zone, "periods": [f"p{i}" for i in range(len(self.periods))], **dict(self.flags)}
            },
        }
        return json.dumps(doc)

    def evaluator(self) -> Evaluator:
        return Evaluator.from_config(parse_text(self.text()), "s")


specs = st.builds(
    Spec,
    zone=st.sampled_from(ZONES),
    periods=st.lists(window_periods(), min_size=1, max_size=3).map(tuple),
)


@st.composite
def instants(draw: st.DrawFn, zone: str) -> datetime:
    """Random instants in YEARS, half of them within three days of one of the zone's DST changes."""
    changes = dst_changes(zone)
    near_change: bool = draw(st.booleans())
    if changes and near_change:
        at = draw(st.sampled_from(changes))[0]
        return at + timedelta(seconds=draw(st.integers(-3 * 86400, 3 * 86400)))
    base = datetime(YEARS[0], 1, 1, tzinfo=UTC)
    return base + timedelta(seconds=draw(st.integers(0, (len(YEARS) * 365 - 30) * 86400)))


@st.composite
def spec_and_range(draw: st.DrawFn, max_days: int = 12) -> tuple[Spec, datetime, datetime]:
    spec = draw(specs)
    start = draw(instants(spec.zone))
    length = timedelta(seconds=draw(st.integers(60, max_days * 86400)))
    return spec, start, start + length


def target(tr: Transition) -> State:
    return State.RUNNING if tr.action == "start" else State.STOPPED


# ------------------------------------------------------------------------------------------------------------------
# Evaluation properties
# ------------------------------------------------------------------------------------------------------------------


@FAST
@given(spec_and_range())
def test_transitions_alternate_and_match_state(case: tuple[Spec, datetime, datetime]) -> None:
    spec, a, b = case
    ev = spec.evaluator()
    trs = ev.transitions(a, b)
    assert trs == sorted(trs)
    assert all(a <= tr.at < b for tr in trs)
    for x, y in pairwise(trs):
        assert x.action != y.action, (x, y)
        assert x.at < y.at, (x, y)
    assert all(tr.source == "window" for tr in trs)
    # the state changes exactly there: entering running at a start, leaving it at a stop
    for tr in trs[:8]:
        assert ev.state_at(tr.at) is target(tr), tr
        assert ev.state_at(tr.at - ONE_SECOND) is not target(tr), tr
    if trs and trs[0].at > a:
        assert ev.state_at(a) is not target(trs[0])


@FAST
@given(spec_and_range(max_days=40))
def test_running_hours_within_range(case: tuple[Spec, datetime, datetime]) -> None:
    spec, a, b = case
    hours = running_hours(spec.evaluator().running(a, b))
    assert 0 <= hours <= (b - a).total_seconds() / 3600 + 1e-9


@FAST
@given(spec_and_range(), st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=8))
def test_state_at_agrees_with_running(case: tuple[Spec, datetime, datetime], fractions: list[float]) -> None:
    spec, a, b = case
    ev = spec.evaluator()
    running = ev.running(a, b)
    for f in fractions:
        at = a + timedelta(seconds=int((b - a).total_seconds() * f))  # whole seconds, so always < b
        inside = any(s <= at < e for s, e in running)
        assert ev.state_at(at) is (State.RUNNING if inside else State.STOPPED), (at, running)


@FAST
@given(spec_and_range(), st.floats(0, 1))
def test_transitions_split_at_midpoint(case: tuple[Spec, datetime, datetime], f: float) -> None:
    spec, a, b = case
    ev = spec.evaluator()
    m = a + (b - a) * f
    whole = ev.transitions(a, b)
    assert ev.transitions(a, m) + ev.transitions(m, b) == whole
    # and the running time adds up too
    split = running_hours(ev.running(a, m)) + running_hours(ev.running(m, b))
    assert split == pytest.approx(running_hours(ev.running(a, b)), abs=1e-6)


@FAST
@given(spec_and_range(max_days=20))
def test_running_intervals_disjoint_sorted_separated(case: tuple[Spec, datetime, datetime]) -> None:
    spec, a, b = case
    running = spec.evaluator().running(a, b)
    for s, e in running:
        assert a <= s < e <= b
    for (_, e1), (s2, _) in pairwise(running):
        assert s2 - e1 > ONE_MINUTE, running


@st.composite
def fold_windows(draw: st.DrawFn) -> tuple[str, date, int, int]:
    """A zone, the local date of one of its DST folds, and a window touching the repeated hour."""
    zone = draw(st.sampled_from([z for z in ZONES if folds(z)]))
    at, before, after = draw(st.sampled_from(folds(zone)))
    tz = ZoneInfo(zone)
    day = at.astimezone(tz).date()
    # the repeated local wall times: [jump - (before - after), jump) in local time after the change
    rep_end = at.astimezone(tz).replace(tzinfo=None) + (before - after)
    rep_start = at.astimezone(tz).replace(tzinfo=None)
    rep = (rep_start.hour * 60 + rep_start.minute, rep_end.hour * 60 + rep_end.minute)
    inside = st.integers(rep[0], rep[1] - 1)
    begin = draw(st.one_of(inside, st.integers(0, 1439)))
    end = draw(st.one_of(inside, st.integers(0, 1440)).filter(lambda e: e != begin))
    assume(rep[0] <= begin < rep[1] or rep[0] <= end < rep[1])
    return zone, day, begin, end


def first_occurrence(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    local = datetime(day.year, day.month, day.day) + timedelta(minutes=minutes)
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


@FAST
@given(fold_windows())
def test_window_in_dst_fold_one_start_one_stop(case: tuple[str, date, int, int]) -> None:
    zone, day, begin, end = case
    tz = ZoneInfo(zone)
    period = {"begintime": hhmm(begin), "endtime": hhmm(end), "monthdays": str(day.day), "months": str(day.month)}
    doc = {"periods": {"p": period}, "schedules": {"s": {"timezone": zone, "periods": ["p"]}}}
    ev = Evaluator.from_config(parse_text(json.dumps(doc)), "s")
    lo = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=2)
    trs = ev.transitions(lo, lo + timedelta(days=5))
    assert [tr.action for tr in trs] == ["start", "stop"], trs
    # a repeated local time is its first occurrence
    assert trs[0].at == first_occurrence(day, begin, tz)
    end_day = day + timedelta(days=1) if end < begin else day
    assert trs[1].at == first_occurrence(end_day, end, tz)
    assert trs[1].at.astimezone(tz).strftime("%H:%M") == ("00:00" if end == 1440 else hhmm(end))


@pytest.mark.parametrize("zone", [z for z in ZONES if folds(z)])
def test_every_fold_of_every_zone_daily_window(zone: str) -> None:
    """A daily window over the repeated hour: one start and one stop on every fold day of every year."""
    tz = ZoneInfo(zone)
    for at, before, after in folds(zone):
        local = at.astimezone(tz).replace(tzinfo=None)
        begin = local.hour * 60 + local.minute
        end = begin + int((before - after).total_seconds() // 60)
        doc = {"periods": {"p": {"begintime": hhmm(begin), "endtime": hhmm(end)}},
               "schedules": {"s": {"timezone": zone, "periods": ["p"]}}}  # fmt: skip
        ev = Evaluator.from_config(parse_text(json.dumps(doc)), "s")
        day = local.date()
        lo = datetime.combine(day, datetime.min.time()).replace(tzinfo=tz).astimezone(UTC)
        trs = ev.transitions(lo, lo + timedelta(hours=24))
        assert [tr.action for tr in trs] == ["start", "stop"], (zone, day, trs)
        assert trs[0].at == first_occurrence(day, begin, tz)


# ------------------------------------------------------------------------------------------------------------------
# Decisions over a run of passes
# ------------------------------------------------------------------------------------------------------------------


@dataclass
class Fake:
    observed: Observed
    stored: ResourceState | None = None


def apply(res: Fake, d: Decision, fail: bool) -> None:
    if d.acts and not fail:
        res.observed = Observed.RUNNING if d.action in ("start", "resize") else Observed.STOPPED
    res.stored = d.state_if_failed if (d.acts and fail) else d.state_if_ok


flag_sets = st.fixed_dictionaries(
    {"stop_new_instances": st.booleans(), "retain_running": st.booleans(), "hibernate": st.booleans()}
)
gaps = st.one_of(
    st.integers(60, 15 * 60),  # the usual few minutes
    st.integers(60, 2 * 86400),  # missed passes
)


@st.composite
def pass_runs(draw: st.DrawFn, enforced: bool = False) -> tuple[Spec, list[datetime], Observed, bool]:
    base = draw(specs)
    flags = {**draw(flag_sets), "enforced": enforced}
    spec = Spec(base.zone, base.periods, tuple(sorted(flags.items())))
    start = draw(instants(spec.zone))
    times = [start]
    for gap in draw(st.lists(gaps, min_size=3, max_size=30)):
        times.append(times[-1] + timedelta(seconds=gap))
    initial = draw(st.sampled_from([Observed.RUNNING, Observed.STOPPED]))
    first_has_last = draw(st.booleans())
    return spec, times, initial, first_has_last


def run_passes(
    spec: Spec, times: list[datetime], initial: Observed, first_has_last: bool, fails: set[int] | None = None
) -> list[tuple[datetime, bool, bool, Observed, State]]:
    """Per pass: (now, a transition seen so far, this pass failed, resource state after, schedule state)."""
    ev = spec.evaluator()
    res = Fake(initial)
    last: datetime | None = times[0] - timedelta(minutes=5) if first_has_last else None
    seen = False
    out = []
    for i, now in enumerate(times):
        v = ev.pass_view(last, now)
        seen = seen or bool(v.transitions)
        d = decide(v, res.stored, res.observed)
        failed = bool(fails and i in fails and d.acts)
        apply(res, d, failed)
        out.append((now, seen, failed, res.observed, v.state))
        last = now
    return out


@SLOW
@given(pass_runs())
def test_untouched_resource_follows_schedule(run: tuple[Spec, list[datetime], Observed, bool]) -> None:
    """Non-enforced: once a transition has been seen, the resource is in the schedule's state after every pass."""
    spec, times, initial, first_has_last = run
    for now, seen, _, observed, state in run_passes(spec, times, initial, first_has_last):
        if seen:
            assert observed.value == state.value, (now, spec)


@SLOW
@given(pass_runs(enforced=True))
def test_enforced_untouched_resource_always_in_state(run: tuple[Spec, list[datetime], Observed, bool]) -> None:
    spec, times, initial, first_has_last = run
    for now, _, _, observed, state in run_passes(spec, times, initial, first_has_last):
        assert observed.value == state.value, (now, spec)


# Shrunk by hypothesis (suspected engine bug, see test_regression_failed_stop_then_start_is_not_retained).
_RETAIN_AFTER_FAILED_STOP = (
    Spec(
        "Europe/Berlin",
        (WindowPeriod(begin=105, end=119, weekdays=None),),
        (("enforced", False), ("hibernate", False), ("retain_running", True), ("stop_new_instances", True)),
    ),
    [datetime(2024, 1, 1, 0, m, tzinfo=UTC) for m in (30, 45, 46, 59)],
    Observed.RUNNING,
    False,
)


@SLOW
@given(pass_runs(), st.sets(st.integers(0, 30), max_size=10))
@example(_RETAIN_AFTER_FAILED_STOP, {0})
def test_failed_actions_are_retried_until_in_state(
    run: tuple[Spec, list[datetime], Observed, bool], fails: set[int]
) -> None:
    """With random failed actions: after any pass whose action did not fail, the resource is in the schedule's
    state (once a transition has been seen), i.e. a failure is retried and never turns into a permanent deviation."""
    spec, times, initial, first_has_last = run
    for now, seen, failed, observed, state in run_passes(spec, times, initial, first_has_last, fails):
        if seen and not failed:
            assert observed.value == state.value, (now, spec)


def test_regression_failed_stop_then_start_is_not_retained() -> None:
    """Regression (shrunk from the property above). Berlin window 01:45-01:59, retain_running on.

    00:30Z (01:30 local): first seen running outside the window -> stop (stop_new_instances), the stop FAILS.
    00:45Z (01:45 local): start transition; still running because the stop failed.
    00:59Z (01:59 local): stop transition. SPEC §2 Decisions 4 retains only "a resource found running at a period's
    start, having been stopped by the schedule"; this one never was (its stop failed), so it must be stopped here.
    """
    spec, times, initial, first_has_last = _RETAIN_AFTER_FAILED_STOP
    rows = run_passes(spec, times, initial, first_has_last, {0})
    _, seen, failed, observed, state = rows[-1]
    assert (seen, failed, state) == (True, False, State.STOPPED)
    assert observed is Observed.STOPPED, "kept running by retain_running although the schedule never stopped it"


@st.composite
def holiday_specs(draw: st.DrawFn) -> tuple[Spec, tuple[str, ...]]:
    spec = draw(specs)
    days = draw(st.lists(st.dates(date(YEARS[0], 1, 1), date(YEARS[-1], 12, 31)), max_size=4))
    return spec, tuple(d.isoformat() for d in days)


@FAST
@given(holiday_specs(), st.lists(st.integers(0, len(YEARS) * 365 * 86400), min_size=1, max_size=40), st.booleans())
def test_cached_state_at_equals_the_reference_evaluation(
    case: tuple[Spec, tuple[str, ...]], offsets: list[int], near_boundaries: bool
) -> None:
    """The fast path (a cached boundary array per span, one binary search) answers exactly what the direct
    evaluation of the timeline around each instant answers, at random instants, at the boundaries themselves and
    one microsecond either side of them, holidays and DST changes included."""
    spec, holidays = case
    flags: tuple[tuple[str, Any], ...] = (("holidays", list(holidays)),) if holidays else ()
    ev = Evaluator.from_config(parse_text(Spec(spec.zone, spec.periods, flags).text()), "s")
    ev._direct_left = 0  # the cached path from the first query (it otherwise starts after a few direct answers)
    base = datetime(YEARS[0], 1, 1, tzinfo=UTC)
    points = [base + timedelta(seconds=s) for s in offsets]
    if near_boundaries:
        edges = [iv for p in points[:3] for iv in ev.running(p - timedelta(days=2), p + timedelta(days=2))]
        points += [
            e + d
            for s, end in edges
            for e in (s, end)
            for d in (-timedelta(microseconds=1), timedelta(), timedelta(microseconds=1))
        ]
    zone = ZoneInfo(spec.zone)
    for t in points:
        expected = ev.reference_state_at(t)
        assert ev.state_at(t) is expected
        assert ev.state_at(t.astimezone(zone)) is expected  # the same instant in another zone
    assert ev._spans  # answered from the cache


THREE_DAYS = (
    '{"periods": {"p": {"begintime": "09:00", "endtime": "17:00", "weekdays": "mon,wed,fri"}}, '
    '"schedules": {"s": {"periods": ["p"], "timezone": "Europe/Berlin"}}}'
)


@pytest.mark.parametrize(
    "text",
    [
        # Events only: no opinion between events, stopped on a holiday.
        '{"periods": {"e": {"begintime": "07:00"}}, '
        '"schedules": {"s": {"periods": ["e"], "holidays": ["2025-11-07"]}}}',
        # Override: the same answer everywhere.
        '{"periods": {"p": {"begintime": "09:00", "endtime": "17:00"}}, '
        '"schedules": {"s": {"periods": ["p"], "override_status": "stopped"}}}',
        # Cron windows (2025-11-08 00:00 UTC is a boundary of the cache's 400-day spans).
        '{"periods": {"c": {"start": "0 */4 * * *", "stop": "30 */4 * * *"}}, "schedules": {"s": {"periods": ["c"]}}}',
    ],
)
def test_cached_state_at_equals_the_reference_for_events_overrides_and_cron(text: str) -> None:
    ev = Evaluator.from_config(parse_text(text), "s")
    ev._direct_left = 0
    start = datetime(2025, 11, 6, tzinfo=UTC)
    for minutes in range(0, 3 * 24 * 60, 7):
        t = start + timedelta(minutes=minutes, seconds=13)
        assert ev.state_at(t) is ev.reference_state_at(t)
    with pytest.raises(ValueError, match="timezone-aware"):
        ev.state_at(datetime(2025, 11, 7, 12))


def test_the_first_queries_are_answered_directly_then_from_the_cache() -> None:
    ev = Evaluator.from_config(parse_text(THREE_DAYS), "s")
    t = datetime(2026, 3, 4, 10, tzinfo=UTC)
    for k in range(64):
        assert ev.state_at(t + timedelta(days=k)) is ev.reference_state_at(t + timedelta(days=k))
    assert not ev._spans  # a pass's two or three queries never pay for a span
    ev.state_at(t)
    assert len(ev._spans) == 1
