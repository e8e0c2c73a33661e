"""The demo's simulated week: passes every five minutes on a simulated clock, with people starting and stopping
resources by hand at random (seeded) moments.

Passes run through the real orchestrator, workers, adapters and store. A pass whose five minutes hold no schedule
transition, no change of instance type, no manual change and no retry due is idle by construction (every decision
would be "none" and nothing would be written), so by default only the other passes run; ``every_pass`` runs them
all (and is what the demo's benchmark compares against).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import boto3

from scheduler.aws.session import client
from scheduler.engine import Config, Evaluator
from scheduler.runtime.orchestrator import Invoker, PassRequest, PassResult, run_pass
from scheduler.store.state import Target

from .fleet import DemoResource, Fleet

STEP = timedelta(minutes=5)


@dataclass
class PersonEvent:
    at: datetime
    resource: DemoResource
    action: str  # start | stop
    who: str

    def describe(self) -> str:
        return f"{self.who} {self.action}s {self.resource.id} by hand"


@dataclass
class Simulation:
    start: datetime
    end: datetime
    passes_total: int = 0
    passes_run: int = 0
    results: list[PassResult] = field(default_factory=list)
    events: list[PersonEvent] = field(default_factory=list)


PEOPLE = ("Ana", "Ben", "Chen", "Dara", "Emil", "Fatima", "Gus", "Hana")


def plan_people(fleet: Fleet, start: datetime, days: int, rng: random.Random) -> list[PersonEvent]:
    """A few manual starts and stops a day on EC2 instances, at random minutes of the working day."""
    ec2 = [r for r in fleet.of("ec2") if r.schedule != "batch-nights"]
    events: list[PersonEvent] = []
    for day in range(days):
        for _ in range(rng.randint(1, 3)):
            res = rng.choice(ec2)
            hour = rng.choice([6, 7, 12, 13, 19, 20, 21, 22])
            at = start + timedelta(days=day, hours=hour, minutes=rng.randrange(0, 60, 1))
            action = "start" if hour >= 19 or hour <= 7 else "stop"
            events.append(PersonEvent(at, res, action, rng.choice(PEOPLE)))
    return sorted(events, key=lambda e: e.at)


def _apply_event(event: PersonEvent, sessions: dict[str, boto3.Session]) -> None:
    ec2 = client("ec2", region=event.resource.region, session=sessions[event.resource.account])
    state = ec2.describe_instances(InstanceIds=[event.resource.id])["Reservations"][0]["Instances"][0]["State"]
    if event.action == "start" and state["Name"] == "stopped":
        ec2.start_instances(InstanceIds=[event.resource.id])
    elif event.action == "stop" and state["Name"] == "running":
        ec2.stop_instances(InstanceIds=[event.resource.id])


def _busy_ticks(config: Config, start: datetime, end: datetime) -> set[datetime]:
    """Pass times whose preceding five minutes hold a transition or a change of instance type."""
    busy: set[datetime] = set()
    for name in config.schedules:
        ev = Evaluator.from_config(config, name)
        for tr in ev.transitions(start, end + STEP):
            # The first pass at or after the transition sees it.
            k = -(-(tr.at - start) // STEP)
            busy.add(start + k * STEP)
        if any(ref.instance_type for ref in ev.schedule.periods):
            t, last = start, ev.instance_type_at(start)
            while t <= end:
                now = ev.instance_type_at(t)
                if now != last:
                    busy.add(t)
                last = now
                t += STEP
    return busy


def simulate(
    fleet: Fleet,
    config: Config,
    invoker: Invoker,
    targets: list[Target],
    start: datetime,
    days: int,
    seed: int,
    *,
    tag_key: str = "Schedule",
    every_pass: bool = False,
    on_tick: Callable[[datetime, int], None] | None = None,
) -> Simulation:
    rng = random.Random(seed)
    end = start + timedelta(days=days)
    sim = Simulation(start, end)
    sim.events = plan_people(fleet, start, days, rng)
    busy = _busy_ticks(config, start, end)
    pending = list(sim.events)
    retry_due = True  # the first pass always runs: it meets the fleet
    t = start
    while t <= end:
        sim.passes_total += 1
        due = [e for e in pending if e.at <= t]
        for e in due:
            _apply_event(e, fleet.sessions)
            pending.remove(e)
        if every_pass or retry_due or due or t in busy:
            result = run_pass(invoker, targets, PassRequest(at=t, tag_key=tag_key, now=t))
            sim.results.append(result)
            sim.passes_run += 1
            retry_due = any(r.pending for r in result.results)
        if on_tick is not None:
            on_tick(t, sim.passes_run)
        t += STEP
    return sim
