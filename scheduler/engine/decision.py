"""The per-resource decision of a scheduling pass (SPEC §2 "Decisions"), as a pure function.

The pass evaluates each schedule once (:class:`PassView`); :func:`decide` is then cheap per resource. It never
performs anything: it says what to do, why, and what to store if the action succeeds or fails, so the worker can
record a failure for retry without re-deriving the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Literal

from .evaluate import PassView, Transition, iso_z
from .maintenance import MaintenanceWindow, window_at
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
class MaintenanceHold:
    """A resource kept running for a maintenance window although its schedule wants it stopped (SPEC §2 rule 7).

    ``since`` is when it began to run only for the window (the start for it, or the schedule's stop that the window
    deferred), ``until`` the window's end; ``started`` says whether the scheduler started it for the window.
    """

    window: str
    since: datetime
    until: datetime
    started: bool


@dataclass(frozen=True)
class ResourceState:
    """What the scheduler remembers about one resource between passes.

    ``desired`` is the state the scheduler last set out to reach (None: no opinion, e.g. first seen or handed
    back to people by retain_running); ``decided_at`` is the transition (or pass) that decided it, so a repeated
    or overlapping pass never acts twice on one transition; ``pending`` means that action failed or could not
    run yet and is retried; ``retained`` marks a resource found running at a period's start after the schedule
    had stopped it (retain_running); ``maintenance`` marks a resource held running for a maintenance window, to be
    stopped again when it ends if the schedule keeps it stopped; ``override`` is the state an ``isched:override``
    tag held the resource in at the last decision (None: no override), so that its end brings the resource back to
    the schedule's state.
    """

    desired: State | None = None
    decided_at: datetime | None = None
    pending: bool = False
    retained: bool = False
    maintenance: MaintenanceHold | None = None
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
    # The maintenance window this action belongs to: the start for it, or the stop after it.
    maintenance: MaintenanceHold | None = None

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
    maintenance: Sequence[MaintenanceWindow] = (),
    override: Override | None = None,
) -> Decision:
    """Decides one resource for one pass.

    ``stored`` is None for a resource seen for the first time. ``instance_type`` is the resource's current type
    (EC2), used for ``period@type``. ``restarted_by_service`` is set by services that restart stopped resources
    on their own (RDS after seven days), so the schedule's stop is restored instead of read as a manual start.
    ``maintenance`` are the resource's maintenance windows (empty unless its schedule asks for them): inside one
    it runs, and when it ends it is stopped again if the schedule keeps it stopped (SPEC §2 rule 7). ``override`` is
    the resource's parsed ``isched:override`` tag (None: no tag, or a malformed one): while in force it wins over
    everything, maintenance windows included (SPEC §2 rule 6).
    """
    hold = stored.maintenance if stored is not None else None
    plain = replace(stored, maintenance=None) if stored is not None and hold is not None else stored
    d = _decide_schedule(
        view, plain, observed, instance_type=instance_type, restarted_by_service=restarted_by_service, override=override
    )
    if override is not None and override.active(view.now):
        return d  # an override in force wins over maintenance windows too (and ends any hold)
    window = window_at(maintenance, view.now)
    if window is not None:
        return _in_window(view, d, window, hold, observed)
    if hold is not None:
        return _after_window(view, d, hold, observed)
    return d


def _held(state: ResourceState, hold: MaintenanceHold | None) -> ResourceState:
    return replace(state, maintenance=hold)


def _in_window(
    view: PassView, d: Decision, window: MaintenanceWindow, hold: MaintenanceHold | None, observed: Observed
) -> Decision:
    """Inside a maintenance window the resource runs: the schedule's starts go ahead, its stops wait for the end."""
    if d.action in ("start", "resize"):
        return d  # the schedule wants it running anyway: nothing to hold
    if hold is not None:
        hold = replace(hold, until=max(hold.until, window.end))
    until = iso_z(window.end)
    if d.action == "stop":
        since = d.state_if_ok.decided_at or view.now
        held = hold or MaintenanceHold(window.label, min(since, view.now), window.end, started=False)
        return Decision(
            "none",
            "maintenance",
            f"{d.reason}; deferred: inside the {window.label} until {until}",
            _held(d.state_if_ok, held),
            _held(d.state_if_ok, held),
        )
    if observed is Observed.STOPPED:
        started = MaintenanceHold(window.label, view.now, window.end, started=True)
        return Decision(
            "start",
            "maintenance",
            f"maintenance window: the {window.label} runs until {until}",
            _held(d.state_if_ok, started),
            _held(d.state_if_failed, hold),  # retried by the next pass inside the window
            maintenance=started,
        )
    if observed is Observed.STOPPING:
        reason = f"inside the {window.label} until {until}; found stopping, will start next pass"
        return Decision("none", "maintenance", reason, _held(d.state_if_ok, hold), _held(d.state_if_failed, hold))
    return replace(d, state_if_ok=_held(d.state_if_ok, hold), state_if_failed=_held(d.state_if_failed, hold))


def _after_window(view: PassView, d: Decision, hold: MaintenanceHold, observed: Observed) -> Decision:
    """The first pass after a window the resource was held running for: stopped again if the schedule keeps it
    stopped (stopped now, or no opinion now and it was stopped before the window)."""
    ended = f"the {hold.window} ended at {iso_z(hold.until)}"
    if d.acts:
        if d.action != "stop":
            return d
        return replace(d, reason=f"{ended}; {d.reason}", maintenance=hold)
    keeps_stopped = view.state is State.STOPPED or (
        view.state is State.ANY and (hold.started or d.state_if_ok.desired is State.STOPPED)
    )
    if not keeps_stopped or observed.settled is not State.RUNNING:
        return d  # the schedule wants it running now, or it is stopped already (by anyone)
    ok = replace(d.state_if_ok, desired=State.STOPPED, decided_at=view.now, pending=False, retained=False)
    failed = replace(ok, pending=True)
    if observed is not Observed.RUNNING:
        return Decision("none", "maintenance", f"{ended}; found {observed.value}, will stop next pass", failed, failed)
    return Decision(
        "stop",
        "maintenance",
        f"maintenance window over: {ended} and the schedule keeps it stopped",
        ok,
        failed,
        hibernate=view.hibernate,
        maintenance=hold,
    )


def _decide_schedule(
    view: PassView,
    stored: ResourceState | None,
    observed: Observed,
    *,
    instance_type: str | None,
    restarted_by_service: bool,
    override: Override | None,
) -> Decision:
    """The decision without maintenance windows (SPEC §2 rules 1-6)."""
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
