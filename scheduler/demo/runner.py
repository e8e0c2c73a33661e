"""Runs the demo: an embedded simulated AWS, the real store, orchestrator, workers and report."""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from scheduler.aws.session import new_session, reset_clients
from scheduler.engine import Config, parse_instant, parse_text
from scheduler.runtime.deployment import Deployment
from scheduler.runtime.orchestrator import targets_for
from scheduler.savings.model import Report
from scheduler.services.registry import SERVICES
from scheduler.store.state import StateStore

from .fleet import HUB_ACCOUNT, REGIONS, SPOKE_ACCOUNT, Fleet, build, spoke_session
from .lean_moto import default_images_only, node_group_tags
from .simulate import Simulation, simulate

NAMESPACE = "demo"
ROLE_NAME = "isched-spoke"
DEFAULT_START = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday; Thursday is Thanksgiving in New York


@dataclass
class DemoRun:
    fleet: Fleet
    config: Config
    sim: Simulation
    state: StateStore
    timings: dict[str, float] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)


def demo_text(name: str) -> str:
    return resources.files("scheduler.demo").joinpath(name).read_text(encoding="utf-8")


@contextmanager
def embedded_aws() -> Iterator[None]:
    """moto in-process, with its own credentials and no endpoint override, restored afterwards."""
    from moto import mock_aws

    default_images_only()

    env = {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_SESSION_TOKEN": "demo",
        "AWS_DEFAULT_REGION": REGIONS[0],
        "AWS_REGION": REGIONS[0],
    }
    drop = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "ISCHED_CONFIG_TABLE", "ISCHED_STATE_TABLE", "ISCHED_LEDGER_TABLE")
    saved = {k: os.environ.get(k) for k in (*env, *drop)}
    os.environ.update(env)
    for key in drop:
        os.environ.pop(key, None)
    reset_clients()
    try:
        with mock_aws(), node_group_tags():
            yield
    finally:
        reset_clients()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_demo(
    days: int = 7,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    *,
    every_pass: bool = False,
    on_phase: Callable[[str], None] | None = None,
    on_tick: Callable[[datetime, int], None] | None = None,
) -> DemoRun:
    """Sets up everything and simulates ``days`` days of passes. Must be called inside :func:`embedded_aws`."""
    say = on_phase or (lambda _msg: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    base = new_session()
    deployment = Deployment.build(namespace=NAMESPACE, base=base, role_name=ROLE_NAME)
    deployment.tables.create_missing()
    store = deployment.config
    store.apply(parse_text(demo_text("schedules.yaml")), prune=False, dry_run=False)
    config = store.load()
    say(f"applied {len(config.periods)} periods and {len(config.schedules)} schedules")
    sessions = {HUB_ACCOUNT: base, SPOKE_ACCOUNT: spoke_session(base, ROLE_NAME)}
    fleet = build(sessions, "Schedule")
    timings["setup"] = time.perf_counter() - t0
    say(f"created and tagged {len(fleet.resources)} resources in 2 accounts × 2 regions")
    state = deployment.state
    # One worker thread: the embedded AWS runs in this process and holds the GIL, so more threads only contend.
    invoker = deployment.local_invoker(config, max_workers=1)
    targets = targets_for([HUB_ACCOUNT, SPOKE_ACCOUNT], REGIONS, list(SERVICES))
    t1 = time.perf_counter()
    sim = simulate(fleet, config, invoker, targets, start, days, seed, every_pass=every_pass, on_tick=on_tick)
    timings["passes"] = time.perf_counter() - t1
    run = DemoRun(fleet, config, sim, state, timings)
    month = start.strftime("%Y-%m")
    months = {month, (start + timedelta(days=days)).strftime("%Y-%m")}
    for m in sorted(months):
        run.ledger.extend(state.ledger_month(m))
    return run


def actions_per_day(run: DemoRun) -> dict[date, Counter[str]]:
    """Actions taken per UTC day and service (start/stop/resize), from the passes' results."""
    out: dict[date, Counter[str]] = defaultdict(Counter)
    for result in run.sim.results:
        for worker in result.results:
            for action in worker.actions:
                if action.ok:
                    out[result.at.date()][f"{worker.target.service} {action.action}"] += 1
    return dict(sorted(out.items()))


def errors(run: DemoRun) -> list[str]:
    seen: list[str] = []
    for result in run.sim.results:
        for worker in result.results:
            for e in worker.errors:
                text = f"{e.account}/{e.region}/{e.service} {e.resource or ''}: {e.error}"
                if text not in seen:
                    seen.append(text)
    return seen


def timelines(run: DemoRun, day: date) -> list[tuple[str, str, list[bool]]]:
    """Running (True) or not per half hour of ``day`` (UTC) for the hub's resources in the first region.

    Built from what actually happened: the ledger's starts and stops and the people's manual changes.
    """
    changes: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    for e in run.ledger:
        at = parse_instant(str(e["at"]))
        if e["action"] in ("start", "resize", "manual-start"):
            changes[e["resource"]].append((at, True))
        elif e["action"] == "stop":
            changes[e["resource"]].append((at, False))
    for ev in run.sim.events:
        changes[ev.resource.id].append((ev.at, ev.action == "start"))
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    rows = []
    for res in run.fleet.resources:
        if res.account != HUB_ACCOUNT or res.region != REGIONS[0]:
            continue
        history = sorted(changes.get(res.id, []))
        cells = []
        for k in range(48):
            t = start + timedelta(minutes=30 * k + 15)
            running = True  # everything is created running
            for at, value in history:
                if at <= t:
                    running = value
            cells.append(running)
        rows.append((res.id, res.schedule, cells))
    return rows


def out_dir(path: str | None) -> Path:
    p = Path(path or "isched-demo")
    p.mkdir(parents=True, exist_ok=True)
    return p


def demo_report(run: DemoRun, prices: Any) -> Report:
    """The monthly-style report for the simulated period, with the demo's price table and no Cost Explorer
    (the embedded AWS has no billing data)."""
    from scheduler.savings.report import monthly_report, not_asked

    end = run.sim.end
    month = (end - timedelta(microseconds=1)).strftime("%Y-%m")
    return monthly_report(
        run.state,
        month,
        end,
        prices,
        config=run.config,
        pricing_api=False,
        actual=not_asked("unblended", "Schedule", "the embedded simulated AWS has no billing data"),
    )
