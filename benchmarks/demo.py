"""Demo benchmark: wall time of ``isched demo`` (7 simulated days), where the time goes (inside the simulated AWS
or in isched), and a check that skipping idle passes changes nothing (one day, every pass vs idle ones skipped).

Run: ``.venv/bin/python benchmarks/demo.py [--skip-equivalence]``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from _aws import hook_all_clients

from scheduler.demo import runner
from scheduler.savings.model import Report
from scheduler.savings.price_file import parse_prices


class AwsTimer:
    """Time spent in AWS calls (moto, here), measured with botocore's before-call/after-call event hooks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        hook_all_clients({"before-call": self._before, "after-call": self._after}, "isched-aws-timer")

    def _before(self, context: dict[str, Any], **_: Any) -> None:
        context["isched_t0"] = time.perf_counter()

    def _after(self, context: dict[str, Any], **_: Any) -> None:
        t0 = context.get("isched_t0")
        if t0 is not None:
            self.seconds += time.perf_counter() - t0
            self.calls += 1


def timed_demo(days: int, every_pass: bool) -> tuple[runner.DemoRun, Report, float]:
    t0 = time.perf_counter()
    with runner.embedded_aws():
        run = runner.run_demo(days=days, seed=7, every_pass=every_pass)
        report = runner.demo_report(run, parse_prices(runner.demo_text("prices.csv"), "demo prices"))
    return run, report, time.perf_counter() - t0


def actions(run: runner.DemoRun) -> list[tuple[str, str, str]]:
    """What happened, with resources named by their place in the fleet (moto's ids differ from run to run)."""
    label = {
        (r.account, r.region, r.id): f"{r.account}/{r.region}/{r.service}#{n}"
        for n, r in enumerate(run.fleet.resources)
    }
    return sorted(
        (r.at.isoformat(), label[(a.account, a.region, a.resource)], a.action)
        for r in run.sim.results
        for w in r.results
        for a in w.actions
        if a.ok
    )


def main() -> None:
    timer = AwsTimer()
    run, report, wall = timed_demo(7, every_pass=False)
    t = run.timings
    fleet = run.fleet.resources
    accounts, regions = len({r.account for r in fleet}), len({r.region for r in fleet})
    where = f"{len(fleet)} resources in {accounts} accounts x {regions} regions"
    print(f"isched demo, 7 simulated days, {where}, passes every 5 minutes")
    print(f"  wall time (without printing):   {wall:.1f} s")
    print(f"  setup (tables, fleet, tags):    {t['setup']:.1f} s")
    print(f"  passes:                         {t['passes']:.1f} s for {run.sim.passes_run} of {run.sim.passes_total}")
    print(f"  AWS calls (moto) during the run: {timer.calls} calls, {timer.seconds:.1f} s = {timer.seconds / wall:.0%}")
    print(f"  estimated savings:              ${report['totals']['estimated_savings']:,.2f}")
    if "--skip-equivalence" in sys.argv:
        return
    fast, _, fast_wall = timed_demo(1, every_pass=False)
    full, _, full_wall = timed_demo(1, every_pass=True)
    same = actions(fast) == actions(full)
    print("one simulated day, idle passes skipped vs every pass run:")
    print(
        f"  skipped: {fast.sim.passes_run} passes in {fast_wall:.1f} s; every pass: {full.sim.passes_run} in "
        f"{full_wall:.1f} s; identical actions: {same} ({len(actions(full))} actions)"
    )


if __name__ == "__main__":
    main()
