"""State queries side by side with Instance Scheduler on AWS: the same schedule, the same random instants, the same
process.

Instance Scheduler's code is not part of isched: the benchmark imports it from a checkout you point it at, e.g.

    git clone --depth 1 --branch v3.2.8 https://github.com/aws-solutions/instance-scheduler-on-aws /tmp/aws-is
    .venv/bin/python benchmarks/versus_instance_scheduler.py /tmp/aws-is

(its ``source/app`` needs only aws-lambda-powertools, which isched's environment has). The schedule is the engine
benchmark's three periods in Europe/Berlin without holidays (Instance Scheduler has none): office hours on
weekdays, evenings Monday to Thursday in ten months, and the first Saturday of each month's night. Both answer
whether the schedule runs at each of 20,000 random instants of 2026; isched answers through ``Evaluator.state_at``
(a cached boundary array and a binary search) and through its direct evaluation, Instance Scheduler through
``InstanceSchedule.get_desired_state``. It prints the rates, their ratios and on how many instants the answers agree.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from engine import PERIODS, best_of

from scheduler.engine import Evaluator, State, parse_text

SCHEDULE = (
    PERIODS
    + """schedules:
  three:
    timezone: Europe/Berlin
    periods: [office, evening, maintenance]
"""
)


def their_schedule(checkout: Path) -> Callable[[datetime], bool]:
    """Instance Scheduler's schedule for the same periods, as a function of an instant: running or not."""
    app = checkout / "source" / "app"
    if not (app / "instance_scheduler").is_dir():
        raise SystemExit(
            f"{checkout}: no source/app/instance_scheduler in it (a checkout of instance-scheduler-on-aws)"
        )
    sys.path.insert(0, str(app))
    from instance_scheduler.configuration.instance_schedule import InstanceSchedule  # type: ignore[import-not-found]
    from instance_scheduler.model.period_definition import PeriodDefinition  # type: ignore[import-not-found]
    from instance_scheduler.scheduling.states import ScheduleState  # type: ignore[import-not-found]

    periods = [
        PeriodDefinition(name="office", begintime="09:00", endtime="17:00", weekdays={"mon-fri"}),
        PeriodDefinition(
            name="evening", begintime="18:00", endtime="22:30", weekdays={"mon-thu"}, months={"jan-jun", "sep-dec"}
        ),
        PeriodDefinition(name="maintenance", begintime="02:00", endtime="06:00", weekdays={"sat#1"}),
    ]
    schedule = InstanceSchedule(
        name="three",
        timezone=ZoneInfo("Europe/Berlin"),
        periods=[{"period": p.to_running_period(), "instancetype": None} for p in periods],
    )
    return lambda t: schedule.get_desired_state(t)[0] is ScheduleState.RUNNING


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    theirs = their_schedule(Path(sys.argv[1]))
    ev = Evaluator.from_config(parse_text(SCHEDULE), "three")
    rng = random.Random(1)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    instants = [base + timedelta(seconds=rng.randrange(0, 365 * 86400)) for _ in range(20_000)]
    n = len(instants)

    their_rate = n / best_of(lambda: [theirs(t) for t in instants], repeat=3)
    t0 = time.perf_counter()
    [ev.state_at(t) for t in instants]  # a fresh evaluator: computes each boundary of the year as it goes
    cold = n / (time.perf_counter() - t0)
    warm = n / best_of(lambda: [ev.state_at(t) for t in instants], repeat=5)
    direct = n / best_of(lambda: [ev.reference_state_at(t) for t in instants], repeat=3)
    agree = sum((ev.state_at(t) is State.RUNNING) == theirs(t) for t in instants)
    print(f"state queries, 3 periods in Europe/Berlin, {n:,} random instants of 2026, one process")
    print(f"  Instance Scheduler get_desired_state: {their_rate:>12,.0f}/s")
    print(f"  isched direct evaluation:             {direct:>12,.0f}/s ({direct / their_rate:.1f}x)")
    print(f"  isched state_at, fresh evaluator:     {cold:>12,.0f}/s ({cold / their_rate:.1f}x)")
    print(f"  isched state_at (cached, warm):       {warm:>12,.0f}/s ({warm / their_rate:.1f}x)")
    print(f"  same answer on {agree:,} of {n:,} instants")


if __name__ == "__main__":
    main()
