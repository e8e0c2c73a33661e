"""The per-resource decision of a scheduling pass (SPEC §2 "Decisions"), as a pure function.

The pass evaluates each schedule once (:class:`PassView`); :func:`decide` is then cheap per resource. It never
performs anything: it says what to do, why, and what to store if the action succeeds or fails, so the worker can
record a failure for retry without re-deriving the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal

from .evaluate import PassView, Transition, iso_z
from .override import OVERRIDE_TAG, Override
from .schedule import State

ActionName = Literal["start", "stop", "resize", "none"]


class Observed(StrEnum):
    """A resource's actual state as the service reports it, folded to what the rules need."""

    RUNNING = "running"
    STOPPED = "stopped"
    STARTING = "starting"
    STOPPING = "stopping"
    OTHER = "other"  # a state nothing can be done from now (modifying, backing-up, ...): try again next pass

    @property
    def settled(self) -> State | None:
        if self in (Observed.RUNNING, Observed.STARTING):
            return State.RUNNING
        if self in (Observed.STOPPED, Observed.STOPPING):
            return State.STOPPED
        return None


@dataclass(frozen=True)
class ResourceState:
    """What the scheduler remembers about one resource between passes.

    ``desired`` is the state the scheduler last set out to reach (None: no opinion, e.g. first seen or handed
    back to people by retain_running); ``decided_at`` is the transition (or pass) that decided it, so a repeated
    or overlapping pass never acts twice on one transition; ``pending`` means that action failed or could not
    run yet and is retried; ``retained`` marks a resource found running at a period's start after the schedule
    had stopped it (retain_running); ``override`` is the state an ``isched:override`` tag held the resource in at
    the last decision (None: no override), so that its end brings the resource back to the schedule's state.
    """

    desired: State | None = None
    decided_at: datetime | None = None
    pending: bool = False
    retained: bool = False
    override: State | None = None


@dataclass(frozen=True)
class Decision:
    action: ActionName
    rule: str
    reason: str
    state_if_ok: ResourceState
    state_if_failed: ResourceState
    instance_type: str | None = None
    hibernate: bool = False

    @property
    def acts(self) -> bool:
        return self.action != "none"


def _target(tr: Transition) -> State:
    return State.RUNNING if tr.action == "start" else State.STOPPED


def _none(rule: str, reason: str, state: ResourceState) -> Decision:
    return Decision("none", rule, reason, state, state)


def _act(
    view: PassView,
    target: State,
    observed: Observed,
    current_type: str | None,
    rule: str,
    why: str,
    base: ResourceState,
    decided_at: datetime,
) -> Decision:
    """Moves toward ``target``: start, stop, resize, or nothing when already there."""
    ok = replace(base, desired=target, decided_at=decided_at, pending=False)
    failed = replace(ok, pending=True)
    settled = observed.settled
    want_type = view.instance_type if target is State.RUNNING else None
    wrong_type = want_type is not None and current_type is not None and current_type != want_type
    if settled is None:
        return Decision(
            "none",
            rule,
            f"{why}; found {observed.value}, cannot act now: will retry next pass",
            failed,
            failed,
        )
    if settled is target:
        if wrong_type and observed is Observed.RUNNING:
            return Decision(
                "resize",
                rule,
                f"{why}; running as {current_type}, the period wants {want_type}",
                ok,
                failed,
                want_type,
            )
        return _none(rule, f"{why}; already {target.value}", ok)
    # Mid-transition the other way: the service would refuse the action now, so it is retried next pass.
    if observed is Observed.STARTING:
        return Decision("none", rule, f"{why}; found starting, will stop next pass", failed, failed)
    if observed is Observed.STOPPING:
        return Decision("none", rule, f"{why}; found stopping, will start next pass", failed, failed)
    if target is State.RUNNING:
        if wrong_type:
            return Decision(
                "resize", rule, f"{why}; starting as {want_type} (was {current_type})", ok, failed, want_type
            )
        return Decision("start", rule, why, ok, failed, want_type)
    return Decision("stop", rule, why, ok, failed, hibernate=view.hibernate)


def decide(
    view: PassView,
    stored: ResourceState | None,
    observed: Observed,
    *,
    instance_type: str | None = None,
    restarted_by_service: bool = False,
    override: Override | None = None,
) -> Decision:
    """Decides one resource for one pass.

    ``stored`` is None for a resource seen for the first time. ``instance_type`` is the resource's current type
    (EC2), used for ``period@type``. ``restarted_by_service`` is set by services that restart stopped resources
    on their own (RDS after seven days), so the schedule's stop is restored instead of read as a manual start.
    ``override`` is the resource's parsed ``isched:override`` tag (None: no tag, or a malformed one).
    """
    first_seen = stored is None
    base = stored if stored is not None else ResourceState()
    if base.retained and observed.settled is State.STOPPED:
        base = replace(base, retained=False)  # stopped since (by anyone): nothing left to retain
    now = view.now
    settled = observed.settled

    # 6. An override in force wins over every other rule; its end brings the schedule's state back at once.
    if override is not None and override.active(now):
        kept = replace(base, retained=False, override=override.state)
        why = f"override {override.describe()} (tag {OVERRIDE_TAG})"
        return _act(view, override.state, observed, instance_type, "override", why, kept, now)
    if base.override is not None:
        if override is not None:
            ended = f"the override {override.describe()} expired"
        else:
            ended = f"the override ({base.override.value}) was removed"
        base = replace(base, override=None, retained=False, pending=False)
        if view.state is not State.ANY:
            why = f"{ended}; the schedule says {view.state.value}"
            return _act(view, view.state, observed, instance_type, "override-end", why, base, now)
        # No opinion now: the transitions since the override's last pass (if any) decide, as usual.

    # 1. A transition since the last pass decides, unless this resource already acted on it.
    tr = view.last_transition
    if tr is not None and (base.decided_at is None or base.decided_at < tr.at):
        target = _target(tr)
        when = f"{tr.action} at {iso_z(tr.at)} ({'event' if tr.source == 'event' else 'schedule'})"
        if tr.action == "stop" and view.retain_running and base.retained and settled is State.RUNNING:
            # Still marked retained until the next start, so an enforced schedule does not stop it either.
            kept = ResourceState(desired=None, decided_at=tr.at, retained=True)
            return _none(
                "retain_running",
                f"{when}; started by hand before the period began, so kept running (retain_running)",
                kept,
            )
        if (
            tr.action == "start"
            and view.retain_running
            and base.desired is State.STOPPED
            and not base.pending  # a stop that failed is not a hand start: the schedule never stopped it
            and observed is Observed.RUNNING
        ):
            kept = ResourceState(desired=State.RUNNING, decided_at=tr.at, retained=True)
            return _none(
                "retain_running",
                f"{when}; already running (started by hand): will not be stopped at this period's end (retain_running)",
                kept,
            )
        return _act(view, target, observed, instance_type, "transition", when, replace(base, retained=False), tr.at)

    # 5. A failed or postponed action is retried.
    if base.pending and base.desired is not None:
        return _act(
            view,
            base.desired,
            observed,
            instance_type,
            "retry",
            f"retrying: the schedule wants it {base.desired.value} since "
            f"{iso_z(base.decided_at) if base.decided_at else 'an earlier pass'}",
            base,
            base.decided_at or now,
        )

    # A period@type change inside a running stretch (windows merged, so no start/stop transition).
    if (
        view.instance_type is not None
        and view.instance_type != view.previous_instance_type
        and observed is Observed.RUNNING
        and instance_type is not None
        and instance_type != view.instance_type
    ):
        return _act(
            view,
            State.RUNNING,
            observed,
            instance_type,
            "resize",
            f"the period now running asks for {view.instance_type}",
            base,
            now,
        )

    # Services that restart a stopped resource on their own (RDS after 7 days) are stopped again.
    if (
        restarted_by_service
        and base.desired is State.STOPPED
        and view.state is not State.RUNNING
        and settled is State.RUNNING
    ):
        return _act(
            view,
            State.STOPPED,
            observed,
            instance_type,
            "service-restart",
            "restarted by the service after 7 days stopped; the schedule still says stopped",
            base,
            now,
        )

    # 2. Enforced schedules revert manual changes toward the state now.
    if view.enforced and view.state is not State.ANY:
        if base.retained and view.state is State.STOPPED:
            return _none("retain_running", "kept running: started by hand before its period (retain_running)", base)
        return _act(
            view,
            view.state,
            observed,
            instance_type,
            "enforced",
            f"enforced: the schedule says {view.state.value}",
            base,
            now,
        )

    # 3. A resource seen for the first time outside its running time is stopped.
    if first_seen:
        if view.state is State.STOPPED and view.stop_new_instances:
            return _act(
                view,
                State.STOPPED,
                observed,
                instance_type,
                "new",
                "first seen outside its running time (stop_new_instances)",
                base,
                now,
            )
        note = {
            State.RUNNING: "first seen inside its running time",
            State.STOPPED: "first seen outside its running time; stop_new_instances is off",
            State.ANY: "first seen; the schedule has no opinion between its events",
        }[view.state]
        return _none("new", f"{note}: no action until the next transition", ResourceState(decided_at=None))

    # 4. No transition: people's starts and stops are respected.
    if settled is not None and view.state is not State.ANY and settled is not view.state:
        verb = "started" if settled is State.RUNNING else "stopped"
        return _none(
            "manual",
            f"no transition since the last pass; the schedule says {view.state.value} but it was "
            f"{verb} by hand: respected",
            base,
        )
    if view.state is State.ANY:
        return _none("idle", "no transition since the last pass; the schedule has no opinion now", base)
    return _none("in-sync", f"no transition since the last pass; {view.state.value} as scheduled", base)
