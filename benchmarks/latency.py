"""Transition latency benchmark: how late a start or stop is acted on, for three ways of triggering passes.

A simulated clock over one week and random schedules (random zones, window times on the quarter hour or on any
minute). For every transition, the latency is the time from the transition to the first pass that acts on it (a
pass at time ``at``, floored to the minute, acts on transitions at or before ``at``):

* ``rate`` — an EventBridge ``rate(N minutes)`` rule: passes every N minutes with a random phase (the rule fires
  relative to when it was created), averaged over many phases;
* ``aligned`` — EventBridge Scheduler ``cron(0/N * * * ? *)``: passes on the UTC clock at every N-th minute;
* ``aligned + wake-up`` — the same, plus the one-time wake-ups each pass asks for, computed by the real engine
  (:func:`scheduler.engine.wakeup.wake_up_at`), a wake-up pass asking for the next one in turn.

Latency here is structural: it leaves out the delivery delay of the trigger itself (EventBridge Scheduler invokes a
target within seconds of its time with the flexible time window off), which every strategy pays alike.

Run: ``.venv/bin/python benchmarks/latency.py`` (or ``make bench``).
"""

from __future__ import annotations

import bisect
import platform
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from scheduler.engine import Evaluator, parse_text
from scheduler.engine.wakeup import evaluators, wake_up_at, wake_up_instant

START = datetime(2026, 3, 23, tzinfo=UTC)  # a week that crosses Europe's spring DST change (29 March)
DAYS = 7
SCHEDULES = 40
PHASES = 50
INTERVALS = (5, 15)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Sydney"]


def random_config(n: int, seed: int = 13) -> str:
    rng = random.Random(seed)
    lines = ["periods:"]
    for i in range(n):
        # Most schedules start and stop on the quarter hour; some at any minute (09:07, 17:52 ...).
        step = 15 if rng.random() < 0.7 else 1
        b = rng.randrange(0, 24 * 60, step)
        e = (b + rng.randrange(60, 14 * 60, step)) % (24 * 60)
        days = rng.choice(["mon-fri", "mon-thu", "*", "tue-sat"])
        lines.append(f'  p{i}: {{begintime: "{b // 60:02d}:{b % 60:02d}", endtime: "{e // 60:02d}:{e % 60:02d}", ')
        lines[-1] += f'weekdays: "{days}"}}'
    lines.append("schedules:")
    lines += [f"  s{i}: {{timezone: {rng.choice(ZONES)}, periods: [p{i}]}}" for i in range(n)]
    return "\n".join(lines) + "\n"


def first_pass_latency(passes: list[float], t: float) -> float:
    """Seconds from transition ``t`` to the first pass whose minute-floored time is at or after it."""
    # A pass at p acts on t when floor_minute(p) >= t, i.e. p >= t rounded up to the minute.
    due = -(-t // 60) * 60
    i = bisect.bisect_left(passes, due)
    return passes[i] - t


def rate_passes(interval: int, phase: float, span: float) -> list[float]:
    step = interval * 60
    return [phase + k * step for k in range(int(span // step) + 2)]


def aligned_passes(interval: int, span: float) -> list[float]:
    return [float(k * interval * 60) for k in range(int(span // (interval * 60)) + 2)]


def wake_up_passes(evs: list[Evaluator], interval: int, span: float) -> tuple[list[float], int]:
    """The regular passes plus every wake-up they (and the wake-ups) ask for; and how many wake-ups there were."""
    passes = set(aligned_passes(interval, span))
    wakes = 0
    for base in aligned_passes(interval, span):
        at = START + timedelta(seconds=base)
        upcoming = wake_up_at(evs, at, interval)
        while upcoming is not None:
            when = wake_up_instant(upcoming)
            passes.add((when - START).total_seconds())
            wakes += 1
            upcoming = wake_up_at(evs, when, interval)
    return sorted(passes), wakes


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    within = sum(1 for x in ordered if x <= 60) / len(ordered)
    return (
        f"mean {statistics.fmean(ordered):6.1f} s · p95 {p95:6.1f} s · max {ordered[-1]:6.1f} s · ≤ 60 s: {within:6.1%}"
    )


def main() -> None:
    print(f"isched transition latency · Python {platform.python_version()} · {platform.machine()}")
    config = parse_text(random_config(SCHEDULES))
    evs = evaluators(config)
    end = START + timedelta(days=DAYS)
    span = (end - START).total_seconds()
    transitions = sorted(
        (tr.at - START).total_seconds() for ev in evs for tr in ev.transitions(START, end, include_start=False)
    )
    print(f"{SCHEDULES} random schedules, {DAYS} days from {START:%Y-%m-%d}: {len(transitions)} transitions")
    rng = random.Random(5)
    for interval in INTERVALS:
        print(f"\npasses every {interval} minutes")
        rate = [
            first_pass_latency(rate_passes(interval, rng.uniform(0, interval * 60), span), t)
            for _ in range(PHASES)
            for t in transitions
        ]
        print(f"  rate(), random phase ({PHASES} phases) {summary(rate)}")
        aligned = [first_pass_latency(aligned_passes(interval, span), t) for t in transitions]
        print(f"  aligned (cron)                  {summary(aligned)}")
        t0 = time.perf_counter()
        passes, wakes = wake_up_passes(evs, interval, span)
        planning = time.perf_counter() - t0
        woken = [first_pass_latency(passes, t) for t in transitions]
        print(f"  aligned + wake-ups              {summary(woken)}")
        regular = len(aligned_passes(interval, span)) - 2
        print(
            f"  wake-ups: {wakes / DAYS:.1f} a day on top of {regular / DAYS:.0f} regular passes; planning them "
            f"took {planning / regular * 1e3:.2f} ms per pass for {SCHEDULES} schedules"
        )


if __name__ == "__main__":
    main()
