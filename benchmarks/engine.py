"""Engine benchmark: prints state queries per second, one year of transitions, and a year's preview for 1,000
distinct schedules, plus how a pass's evaluation scales with resources per schedule.

Run: ``.venv/bin/python benchmarks/engine.py`` (or ``make bench``). Numbers depend on the machine; the README
quotes a run on the project's 2-core reference machine.
"""

from __future__ import annotations

import platform
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from scheduler.engine import Evaluator, Observed, decide, local_day_bounds, parse_text

PERIODS = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  evening: {begintime: "18:00", endtime: "22:30", weekdays: "mon-thu", months: "jan-jun,sep-dec"}
  maintenance: {weekdays: "sat#1", begintime: "02:00", endtime: "06:00"}
"""
THREE_PERIODS = (
    PERIODS
    + """schedules:
  three:
    timezone: Europe/Berlin
    periods: [office, "evening@t3.small", maintenance]
    holidays: ["2026-12-24", "2026-12-25"]
"""
)


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def random_schedules(n: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    zones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo", "Pacific/Auckland"]
    days = ["mon-fri", "mon-thu", "tue-sat", "sat,sun", "mon,wed,fri", "*", "fri-mon"]
    lines = ["periods:"]
    for i in range(n):
        b = rng.randrange(0, 24 * 4) * 15
        e = (b + rng.randrange(2, 14) * 60) % (24 * 60)
        lines.append(
            f'  p{i}: {{begintime: "{b // 60:02d}:{b % 60:02d}", endtime: "{e // 60:02d}:{e % 60:02d}", '
            f'weekdays: "{rng.choice(days)}"}}'
        )
    lines.append("schedules:")
    for i in range(n):
        lines.append(f"  s{i}: {{timezone: {rng.choice(zones)}, periods: [p{i}]}}")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(f"isched engine benchmark · Python {platform.python_version()} · {platform.machine()}")
    cfg = parse_text(THREE_PERIODS)

    # 1. State queries per second, random instants over a year, fresh evaluator (cold caches) and warm; side by
    # side with the direct evaluation (a timeline around each instant: what state_at did before its cache), on the
    # same instants in the same run, so the ratio holds whatever else the machine is doing.
    rng = random.Random(1)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    instants = [base + timedelta(seconds=rng.randrange(0, 365 * 86400)) for _ in range(200_000)]
    ev = Evaluator.from_config(cfg, "three")
    t0 = time.perf_counter()
    for t in instants:
        ev.state_at(t)
    cold = len(instants) / (time.perf_counter() - t0)
    warm = len(instants) / best_of(lambda: [ev.state_at(t) for t in instants], repeat=3)
    sample = instants[:20_000]
    direct = len(sample) / best_of(lambda: [ev.reference_state_at(t) for t in sample], repeat=2)
    assert all(ev.state_at(t) is ev.reference_state_at(t) for t in sample[:2_000])
    print(
        f"state_at, 3-period schedule:          {cold:,.0f}/s first pass over a year, {warm:,.0f}/s warm; "
        f"direct evaluation {direct:,.0f}/s ({warm / direct:.1f}x)"
    )

    # 2. One year of transitions for the 3-period schedule (a new evaluator each time: no warm cache).
    start, end = local_day_bounds(date(2026, 1, 1), date(2026, 12, 31), ev.tz)

    def year() -> int:
        return len(Evaluator.from_config(cfg, "three").transitions(start, end))

    n = year()
    t_year = best_of(year)
    print(f"one year of transitions (3 periods):  {t_year * 1000:.1f} ms ({n} transitions)")

    # 3. Preview one year for 1,000 distinct schedules (transitions + running intervals, as the preview command).
    many = parse_text(random_schedules(1000))

    def preview_all() -> int:
        total = 0
        for name in many.schedules:
            e = Evaluator.from_config(many, name)
            a, b = local_day_bounds(date(2026, 1, 1), date(2026, 12, 31), e.tz)
            total += len(e.transitions(a, b)) + len(e.running(a, b))
        return total

    t_many = best_of(preview_all, repeat=2)
    print(f"preview one year, 1,000 schedules:    {t_many:.2f} s ({t_many / 1000 * 1000:.2f} ms per schedule)")

    # 4. A pass: evaluate once per schedule, then decide per resource; cost per resource stays flat.
    now = datetime(2026, 11, 27, 8, 5, tzinfo=UTC)
    last = now - timedelta(minutes=5)
    for resources in (10, 1_000, 100_000):
        samples = []
        for _ in range(3):
            t0 = time.perf_counter()
            view = Evaluator.from_config(cfg, "three").pass_view(last, now)
            t1 = time.perf_counter()
            for _ in range(resources):
                decide(view, None, Observed.RUNNING)
            t2 = time.perf_counter()
            samples.append((t1 - t0, (t2 - t1) / resources))
        ev_t = statistics.median(s[0] for s in samples)
        per = statistics.median(s[1] for s in samples)
        print(
            f"pass, 1 schedule × {resources:>7,} resources: evaluate {ev_t * 1000:.2f} ms once, "
            f"decide {per * 1e6:.1f} µs per resource"
        )


if __name__ == "__main__":
    main()
