"""Table tests of the per-resource decision of a scheduling pass (SPEC §2 "Decisions").

Every case builds a :class:`PassView` from a real schedule (``Evaluator.pass_view``) and calls :func:`decide` with a
stored state and an observed state, so the tests exercise the contract end to end without AWS. Dates: 2026-03-02 is
a Monday; all schedules are UTC unless named ``-berlin``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.engine import (
    Decision,
    Evaluator,
    Observed,
    PassView,
    ResourceState,
    State,
    decide,
    parse_text,
)

CONFIG_TEXT = """
periods:
  office:
    begintime: "09:00"
    endtime: "17:00"
    weekdays: mon-fri
  early:
    begintime: "06:00"
    endtime: "09:00"
    weekdays: mon-fri
  late-stop:
    endtime: "23:59"
  start-08:
    begintime: "08:00"
  start-12:
    begintime: "12:00"
  start-16:
    begintime: "16:00"
  stop-20:
    endtime: "20:00"
  cron-starts:
    start: "0 8,12,16 * * *"
schedules:
  office:
    periods: [office]
  office-berlin:
    timezone: Europe/Berlin
    periods: [office]
  office-enforced:
    periods: [office]
    enforced: true
  office-retain:
    periods: [office]
    retain_running: true
  office-retain-enforced:
    periods: [office]
    retain_running: true
    enforced: true
  office-keep-new:
    periods: [office]
    stop_new_instances: false
  office-hibernate:
    periods: [office]
    hibernate: true
  office-typed:
    periods: ["office@t3.large"]
  two-types:
    periods: ["early@t3.small", "office@t3.large"]
  late-stop:
    periods: [late-stop]
  late-stop-berlin:
    timezone: Europe/Berlin
    periods: [late-stop]
  starts:
    periods: [start-08, start-12, start-16]
  cron-starts:
    periods: [cron-starts]
  events-enforced:
    periods: [start-08, stop-20]
    enforced: true
"""

CFG = parse_text(CONFIG_TEXT)
_EVALUATORS: dict[str, Evaluator] = {}

PREV_FRI = "2026-02-27"
MON = "2026-03-02"
TUE = "2026-03-03"
WED = "2026-03-04"
FRI = "2026-03-06"
SAT = "2026-03-07"
SUN = "2026-03-08"
NEXT_MON = "2026-03-09"

R, S_, A = State.RUNNING, State.STOPPED, State.ANY
RUN, STOP = Observed.RUNNING, Observed.STOPPED
STARTING, STOPPING, OTHER = Observed.STARTING, Observed.STOPPING, Observed.OTHER


def t(text: str) -> datetime:
    """``"2026-03-02 09:00"`` (UTC unless an offset is given) -> aware datetime."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def evaluator(name: str) -> Evaluator:
    ev = _EVALUATORS.get(name)
    if ev is None:
        ev = _EVALUATORS[name] = Evaluator.from_config(CFG, name)
    return ev


def view(name: str, last: str | datetime | None, now: str | datetime) -> PassView:
    last_dt = t(last) if isinstance(last, str) else last
    now_dt = t(now) if isinstance(now, str) else now
    return evaluator(name).pass_view(last_dt, now_dt)


def S(desired: State | None, at: str | None = None, *, pending: bool = False, retained: bool = False) -> ResourceState:
    return ResourceState(desired=desired, decided_at=t(at) if at else None, pending=pending, retained=retained)


_UNSET = object()


@dataclass(frozen=True)
class Case:
    schedule: str
    last: str | None
    now: str
    stored: ResourceState | None
    observed: Observed
    action: str
    rule: str | None = None  # the rule that decided (None: not checked)
    desired: object = _UNSET  # expected state_if_ok.desired (_UNSET: not checked)
    pending: bool | None = False  # expected state_if_ok.pending (None: not checked)
    retained: bool | None = None  # expected state_if_ok.retained (None: not checked)
    decided_at: str | None = None  # expected state_if_ok.decided_at (None: not checked)
    itype: str | None = None  # the resource's current instance type
    want_type: str | None = None  # expected Decision.instance_type for resize
    hibernate: bool = False
    restarted: bool = False
    reason_has: tuple[str, ...] = field(default_factory=tuple)


def check_reason(d: Decision) -> None:
    """Reasons are human text: non-empty sentences, no Python reprs."""
    assert isinstance(d.reason, str)
    assert len(d.reason.strip()) >= 10, d.reason
    assert re.search(r"[a-z]{3,}", d.reason), d.reason
    for leak in ("<State.", "<Observed.", "datetime.datetime(", "ResourceState(", "Transition("):
        assert leak not in d.reason, d.reason


def check_invariants(v: PassView, d: Decision) -> None:
    check_reason(d)
    assert d.action in ("start", "stop", "resize", "none")
    assert d.rule
    if d.acts:
        # an action that fails is stored for retry, one that succeeds is not pending
        assert d.state_if_failed.pending is True
        assert d.state_if_ok.pending is False
        assert d.state_if_failed.desired == d.state_if_ok.desired
    if d.action == "stop":
        assert d.hibernate is v.hibernate
        assert d.state_if_ok.desired is State.STOPPED
    else:
        assert d.hibernate is False
    if d.action in ("start", "resize"):
        assert d.state_if_ok.desired is State.RUNNING
    if d.action == "resize":
        assert d.instance_type


CASES: list[tuple[str, Case]] = [
    # --- 1. transitions: start/stop at the transition ------------------------------------------------------
    (
        "start-at-0900",
        Case(
            "office",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            STOP,
            "start",
            "transition",
            R,
            decided_at=f"{MON} 09:00",
            reason_has=("start",),
        ),
    ),
    (
        "start-seen-late-in-pass",
        Case(
            "office",
            f"{MON} 08:58",
            f"{MON} 09:03",
            S(S_, f"{PREV_FRI} 17:00"),
            STOP,
            "start",
            "transition",
            R,
            decided_at=f"{MON} 09:00",
        ),
    ),
    (
        "stop-at-1700",
        Case(
            "office",
            f"{MON} 16:55",
            f"{MON} 17:00",
            S(R, f"{MON} 09:00"),
            RUN,
            "stop",
            "transition",
            S_,
            decided_at=f"{MON} 17:00",
            reason_has=("stop",),
        ),
    ),
    (
        "start-already-running-by-hand",
        Case(
            "office",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            RUN,
            "none",
            "transition",
            R,
            decided_at=f"{MON} 09:00",
        ),
    ),
    (
        "stop-already-stopped-by-hand",
        Case("office", f"{MON} 16:55", f"{MON} 17:00", S(R, f"{MON} 09:00"), STOP, "none", "transition", S_),
    ),
    (
        "transition-at-last-pass-belongs-to-it",
        Case("office", f"{MON} 09:00", f"{MON} 09:05", S(S_, f"{PREV_FRI} 17:00"), STOP, "none"),
    ),
    (
        "first-seen-at-start-transition",
        Case("office", f"{MON} 08:55", f"{MON} 09:00", None, STOP, "start", "transition", R),
    ),
    (
        "first-seen-at-stop-transition-keep-new",
        Case("office-keep-new", f"{MON} 16:55", f"{MON} 17:00", None, RUN, "stop", "transition", S_),
    ),
    # --- transitions already handled are not acted on twice --------------------------------------------------
    (
        "start-handled-then-stopped-by-hand",
        Case("office", f"{MON} 08:55", f"{MON} 09:00", S(R, f"{MON} 09:00"), STOP, "none"),
    ),
    (
        "stop-handled-then-started-by-hand",
        Case("office", f"{MON} 16:50", f"{MON} 17:02", S(S_, f"{MON} 17:00"), RUN, "none"),
    ),
    ("decided-after-transition", Case("office", f"{MON} 08:55", f"{MON} 09:00", S(S_, f"{MON} 09:00"), STOP, "none")),
    (
        "overlapping-pass-handled-later-pass",
        Case("office", f"{MON} 08:00", f"{MON} 10:00", S(R, f"{MON} 09:30"), STOP, "none"),
    ),
    # --- catch-up after missed passes: the last transition in the interval wins ------------------------------
    (
        "catch-up-day-missed-stop-wins",
        Case(
            "office",
            f"{MON} 08:00",
            f"{MON} 18:00",
            S(S_, f"{PREV_FRI} 17:00"),
            RUN,
            "stop",
            "transition",
            S_,
            decided_at=f"{MON} 17:00",
        ),
    ),
    (
        "catch-up-day-missed-already-stopped",
        Case(
            "office",
            f"{MON} 08:00",
            f"{MON} 18:00",
            S(S_, f"{PREV_FRI} 17:00"),
            STOP,
            "none",
            "transition",
            S_,
            decided_at=f"{MON} 17:00",
        ),
    ),
    (
        "catch-up-weekend-start-wins",
        Case(
            "office",
            f"{PREV_FRI} 16:00",
            f"{MON} 10:00",
            S(R, f"{PREV_FRI} 09:00"),
            RUN,
            "none",
            "transition",
            R,
            decided_at=f"{MON} 09:00",
        ),
    ),
    (
        "catch-up-weekend-start-wins-stopped",
        Case("office", f"{PREV_FRI} 16:00", f"{MON} 10:00", S(R, f"{PREV_FRI} 09:00"), STOP, "start", "transition", R),
    ),
    (
        "catch-up-into-weekend-stop",
        Case(
            "office",
            f"{FRI} 08:00",
            f"{SAT} 12:00",
            S(S_, f"{TUE} 17:00"),
            RUN,
            "stop",
            "transition",
            S_,
            decided_at=f"{FRI} 17:00",
        ),
    ),
    (
        "catch-up-partly-handled",
        Case("office", f"{MON} 08:00", f"{MON} 18:00", S(R, f"{MON} 09:00"), RUN, "stop", "transition", S_),
    ),
    # --- a one-sided stop event at 23:59 is seen by the pass at 00:00 ----------------------------------------
    (
        "stop-event-2359-seen-at-midnight",
        Case(
            "late-stop",
            f"{MON} 23:55",
            f"{TUE} 00:00",
            S(None),
            RUN,
            "stop",
            "transition",
            S_,
            decided_at=f"{MON} 23:59",
            reason_has=("event",),
        ),
    ),
    (
        "stop-event-2359-late-pass",
        Case("late-stop", f"{MON} 23:55", f"{TUE} 00:07", S(None), RUN, "stop", "transition", S_),
    ),
    (
        "stop-event-2359-berlin",
        Case(
            "late-stop-berlin",
            f"{MON} 22:55",
            f"{MON} 23:00",
            S(None),
            RUN,
            "stop",
            "transition",
            S_,
            decided_at=f"{MON} 22:59",
        ),
    ),
    (
        "stop-event-2359-not-twice",
        Case("late-stop", f"{MON} 23:59", f"{TUE} 00:04", S(S_, f"{MON} 23:59"), RUN, "none"),
    ),
    (
        "no-event-no-opinion",
        Case("late-stop", f"{TUE} 00:00", f"{TUE} 00:05", S(S_, f"{MON} 23:59"), RUN, "none", "idle"),
    ),
    # --- several one-sided start events a day ----------------------------------------------------------------
    (
        "start-event-0800",
        Case(
            "starts",
            f"{MON} 07:55",
            f"{MON} 08:00",
            S(S_, f"{PREV_FRI} 17:00"),
            STOP,
            "start",
            "transition",
            R,
            reason_has=("event",),
        ),
    ),
    (
        "start-event-1200-after-hand-stop",
        Case(
            "starts",
            f"{MON} 11:55",
            f"{MON} 12:00",
            S(R, f"{MON} 08:00"),
            STOP,
            "start",
            "transition",
            R,
            decided_at=f"{MON} 12:00",
        ),
    ),
    (
        "start-event-1600-after-hand-stop",
        Case("starts", f"{MON} 15:55", f"{MON} 16:00", S(R, f"{MON} 12:00"), STOP, "start", "transition", R),
    ),
    (
        "between-start-events-hand-stop-kept",
        Case("starts", f"{MON} 12:25", f"{MON} 12:30", S(R, f"{MON} 12:00"), STOP, "none", "idle"),
    ),
    (
        "cron-start-event-after-hand-stop",
        Case("cron-starts", f"{MON} 11:55", f"{MON} 12:00", S(R, f"{MON} 08:00"), STOP, "start", "transition", R),
    ),
    (
        "catch-up-over-three-start-events",
        Case(
            "starts",
            f"{MON} 07:00",
            f"{MON} 17:00",
            S(R, f"{PREV_FRI} 16:00"),
            STOP,
            "start",
            "transition",
            R,
            decided_at=f"{MON} 16:00",
        ),
    ),
    # --- 2. enforced -----------------------------------------------------------------------------------------
    (
        "enforced-reverts-manual-stop",
        Case("office-enforced", f"{MON} 10:55", f"{MON} 11:00", S(R, f"{MON} 09:00"), STOP, "start", "enforced", R),
    ),
    (
        "enforced-reverts-manual-start",
        Case("office-enforced", f"{MON} 19:55", f"{MON} 20:00", S(S_, f"{MON} 17:00"), RUN, "stop", "enforced", S_),
    ),
    (
        "enforced-reverts-manual-start-weekend",
        Case("office-enforced", f"{SAT} 11:55", f"{SAT} 12:00", S(S_, f"{FRI} 17:00"), RUN, "stop", "enforced", S_),
    ),
    ("enforced-in-sync", Case("office-enforced", f"{MON} 10:55", f"{MON} 11:00", S(R, f"{MON} 09:00"), RUN, "none")),
    (
        "enforced-after-handled-transition",
        Case("office-enforced", f"{MON} 08:55", f"{MON} 09:00", S(R, f"{MON} 09:00"), STOP, "start", "enforced", R),
    ),
    (
        "enforced-state-any-running",
        Case("events-enforced", f"{MON} 12:25", f"{MON} 12:30", S(R, f"{MON} 08:00"), RUN, "none"),
    ),
    (
        "enforced-state-any-stopped",
        Case("events-enforced", f"{MON} 12:25", f"{MON} 12:30", S(R, f"{MON} 08:00"), STOP, "none"),
    ),
    (
        "enforced-event-still-acts",
        Case("events-enforced", f"{MON} 19:55", f"{MON} 20:00", S(R, f"{MON} 08:00"), RUN, "stop", "transition", S_),
    ),
    # --- 4. without enforced, manual starts and stops are respected ------------------------------------------
    (
        "manual-stop-respected",
        Case("office", f"{MON} 10:55", f"{MON} 11:00", S(R, f"{MON} 09:00"), STOP, "none", "manual", R),
    ),
    (
        "manual-start-respected",
        Case("office", f"{MON} 19:55", f"{MON} 20:00", S(S_, f"{MON} 17:00"), RUN, "none", "manual", S_),
    ),
    (
        "manual-start-weekend-respected",
        Case("office", f"{SAT} 11:55", f"{SAT} 12:00", S(S_, f"{FRI} 17:00"), RUN, "none", "manual"),
    ),
    ("in-sync-running", Case("office", f"{MON} 10:55", f"{MON} 11:00", S(R, f"{MON} 09:00"), RUN, "none", "in-sync")),
    ("in-sync-stopped", Case("office", f"{MON} 19:55", f"{MON} 20:00", S(S_, f"{MON} 17:00"), STOP, "none", "in-sync")),
    # --- 3. first seen: stop_new_instances ---------------------------------------------------------------------
    (
        "new-outside-running-stopped",
        Case("office", f"{MON} 19:55", f"{MON} 20:00", None, RUN, "stop", "new", S_, reason_has=("first seen",)),
    ),
    ("new-outside-running-first-pass-ever", Case("office", None, f"{MON} 20:00", None, RUN, "stop", "new", S_)),
    ("new-weekend-stopped", Case("office", f"{SAT} 11:55", f"{SAT} 12:00", None, RUN, "stop", "new", S_)),
    ("new-outside-already-stopped", Case("office", f"{MON} 19:55", f"{MON} 20:00", None, STOP, "none", "new", S_)),
    ("new-outside-keep-new", Case("office-keep-new", f"{MON} 19:55", f"{MON} 20:00", None, RUN, "none", "new", None)),
    ("new-inside-running-not-started", Case("office", f"{MON} 10:55", f"{MON} 11:00", None, STOP, "none", "new", None)),
    ("new-inside-running-running", Case("office", f"{MON} 10:55", f"{MON} 11:00", None, RUN, "none", "new")),
    ("new-no-opinion", Case("starts", f"{MON} 12:25", f"{MON} 12:30", None, RUN, "none", "new", None)),
    (
        "new-hibernate",
        Case("office-hibernate", f"{MON} 19:55", f"{MON} 20:00", None, RUN, "stop", "new", S_, hibernate=True),
    ),
    # --- retain_running ----------------------------------------------------------------------------------------
    (
        "retain-found-running-at-start",
        Case(
            "office-retain",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            RUN,
            "none",
            "retain_running",
            retained=True,
        ),
    ),
    (
        "retain-not-stopped-at-end",
        Case(
            "office-retain",
            f"{MON} 16:55",
            f"{MON} 17:00",
            S(R, f"{MON} 09:00", retained=True),
            RUN,
            "none",
            "retain_running",
            retained=True,  # kept until the next start, so an enforced schedule does not stop it either
        ),
    ),
    (
        "retain-not-stopped-catch-up",
        Case(
            "office-retain",
            f"{MON} 16:00",
            f"{MON} 18:00",
            S(R, f"{MON} 09:00", retained=True),
            RUN,
            "none",
            "retain_running",
        ),
    ),
    (
        "retain-started-by-schedule-stopped",
        Case("office-retain", f"{MON} 16:55", f"{MON} 17:00", S(R, f"{MON} 09:00"), RUN, "stop", "transition", S_),
    ),
    (
        "retain-stopped-at-start-started",
        Case(
            "office-retain",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            STOP,
            "start",
            "transition",
            R,
            retained=False,
        ),
    ),
    (
        "retain-first-seen-not-stopped-by-schedule",
        Case("office-retain", f"{MON} 08:55", f"{MON} 09:00", None, RUN, "none", "transition", R, retained=False),
    ),
    (
        "no-retain-found-running-at-start",
        Case(
            "office",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            RUN,
            "none",
            "transition",
            R,
            retained=False,
        ),
    ),
    (
        "no-retain-stopped-at-end",
        Case("office", f"{MON} 16:55", f"{MON} 17:00", S(R, f"{MON} 09:00"), RUN, "stop", "transition", S_),
    ),
    (
        "retain-flag-turned-off-stopped-at-end",
        Case(
            "office", f"{MON} 16:55", f"{MON} 17:00", S(R, f"{MON} 09:00", retained=True), RUN, "stop", "transition", S_
        ),
    ),
    # SPEC: only a resource "having been stopped by the schedule" is retained. A scheduled stop that failed (still
    # pending) did not stop it, so finding it running at the next start is not a manual start.
    (
        "retain-failed-stop-is-not-a-hand-start",
        Case(
            "office-retain",
            f"{TUE} 08:55",
            f"{TUE} 09:00",
            S(S_, f"{MON} 17:00", pending=True),
            RUN,
            "none",
            "transition",
            R,
            retained=False,
        ),
    ),
    # --- 5. retry ----------------------------------------------------------------------------------------------
    (
        "retry-failed-stop",
        Case(
            "office",
            f"{MON} 17:00",
            f"{MON} 17:05",
            S(S_, f"{MON} 17:00", pending=True),
            RUN,
            "stop",
            "retry",
            S_,
            decided_at=f"{MON} 17:00",
        ),
    ),
    (
        "retry-failed-start",
        Case("office", f"{MON} 09:00", f"{MON} 09:05", S(R, f"{MON} 09:00", pending=True), STOP, "start", "retry", R),
    ),
    (
        "retry-hours-later",
        Case("office", f"{MON} 19:55", f"{MON} 20:00", S(S_, f"{MON} 17:00", pending=True), RUN, "stop", "retry", S_),
    ),
    (
        "retry-already-there",
        Case(
            "office",
            f"{MON} 17:00",
            f"{MON} 17:05",
            S(S_, f"{MON} 17:00", pending=True),
            STOP,
            "none",
            None,
            S_,
            pending=False,
        ),
    ),
    (
        "retry-found-starting-postponed",
        Case(
            "office",
            f"{MON} 17:00",
            f"{MON} 17:05",
            S(S_, f"{MON} 17:00", pending=True),
            STARTING,
            "none",
            None,
            S_,
            pending=True,
        ),
    ),
    (
        "retry-superseded-by-transition",
        Case(
            "office", f"{TUE} 08:55", f"{TUE} 09:00", S(S_, f"{MON} 17:00", pending=True), RUN, "none", "transition", R
        ),
    ),
    (
        "retry-stop-new-instance",
        Case("office", f"{MON} 20:00", f"{MON} 20:05", S(S_, f"{MON} 20:00", pending=True), RUN, "stop", "retry", S_),
    ),
    (
        "retry-hibernate",
        Case(
            "office-hibernate",
            f"{MON} 17:00",
            f"{MON} 17:05",
            S(S_, f"{MON} 17:00", pending=True),
            RUN,
            "stop",
            "retry",
            S_,
            hibernate=True,
        ),
    ),
    # --- observed transitional and odd states --------------------------------------------------------------------
    (
        "start-found-starting",
        Case("office", f"{MON} 08:55", f"{MON} 09:00", S(S_, f"{PREV_FRI} 17:00"), STARTING, "none", "transition", R),
    ),
    (
        "stop-found-stopping",
        Case("office", f"{MON} 16:55", f"{MON} 17:00", S(R, f"{MON} 09:00"), STOPPING, "none", "transition", S_),
    ),
    (
        "stop-found-starting-postponed",
        Case(
            "office",
            f"{MON} 16:55",
            f"{MON} 17:00",
            S(R, f"{MON} 09:00"),
            STARTING,
            "none",
            "transition",
            S_,
            pending=True,
        ),
    ),
    (
        "start-found-other-postponed",
        Case(
            "office",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            OTHER,
            "none",
            "transition",
            R,
            pending=True,
        ),
    ),
    (
        "stop-found-other-postponed",
        Case(
            "office",
            f"{MON} 16:55",
            f"{MON} 17:00",
            S(R, f"{MON} 09:00"),
            OTHER,
            "none",
            "transition",
            S_,
            pending=True,
        ),
    ),
    (
        "enforced-found-other-postponed",
        Case(
            "office-enforced",
            f"{MON} 19:55",
            f"{MON} 20:00",
            S(S_, f"{MON} 17:00"),
            OTHER,
            "none",
            "enforced",
            S_,
            pending=True,
        ),
    ),
    (
        "new-found-other-postponed",
        Case("office", f"{MON} 19:55", f"{MON} 20:00", None, OTHER, "none", "new", S_, pending=True),
    ),
    # --- hibernate -----------------------------------------------------------------------------------------------
    (
        "hibernate-on-stop",
        Case(
            "office-hibernate",
            f"{MON} 16:55",
            f"{MON} 17:00",
            S(R, f"{MON} 09:00"),
            RUN,
            "stop",
            "transition",
            S_,
            hibernate=True,
        ),
    ),
    (
        "hibernate-not-on-start",
        Case(
            "office-hibernate",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            STOP,
            "start",
            "transition",
            R,
        ),
    ),
    (
        "no-hibernate-plain-stop",
        Case(
            "office",
            f"{MON} 16:55",
            f"{MON} 17:00",
            S(R, f"{MON} 09:00"),
            RUN,
            "stop",
            "transition",
            S_,
            hibernate=False,
        ),
    ),
    # --- period@type -----------------------------------------------------------------------------------------------
    (
        "typed-start-resize-stopped",
        Case(
            "office-typed",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            STOP,
            "resize",
            "transition",
            R,
            itype="t3.micro",
            want_type="t3.large",
        ),
    ),
    (
        "typed-start-same-type",
        Case(
            "office-typed",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            STOP,
            "start",
            "transition",
            R,
            itype="t3.large",
        ),
    ),
    (
        "typed-start-resize-running",
        Case(
            "office-typed",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            RUN,
            "resize",
            "transition",
            R,
            itype="t3.micro",
            want_type="t3.large",
        ),
    ),
    (
        "typed-start-running-same-type",
        Case(
            "office-typed",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            RUN,
            "none",
            "transition",
            R,
            itype="t3.large",
        ),
    ),
    (
        "typed-start-unknown-type",
        Case(
            "office-typed",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(S_, f"{PREV_FRI} 17:00"),
            STOP,
            "start",
            "transition",
            R,
            itype=None,
        ),
    ),
    (
        "typed-stop-no-resize",
        Case(
            "office-typed",
            f"{MON} 16:55",
            f"{MON} 17:00",
            S(R, f"{MON} 09:00"),
            RUN,
            "stop",
            "transition",
            S_,
            itype="t3.micro",
        ),
    ),
    (
        "typed-change-inside-merged-run",
        Case(
            "two-types",
            f"{MON} 08:55",
            f"{MON} 09:00",
            S(R, f"{MON} 06:00"),
            RUN,
            "resize",
            "resize",
            R,
            itype="t3.small",
            want_type="t3.large",
        ),
    ),
    (
        "typed-change-already-resized",
        Case("two-types", f"{MON} 09:00", f"{MON} 09:05", S(R, f"{MON} 09:00"), RUN, "none", itype="t3.large"),
    ),
    (
        "typed-first-period-type",
        Case(
            "two-types",
            f"{MON} 05:55",
            f"{MON} 06:00",
            S(S_, f"{PREV_FRI} 17:00"),
            STOP,
            "resize",
            "transition",
            R,
            itype="t3.large",
            want_type="t3.small",
        ),
    ),
    # --- restarted_by_service (RDS after 7 days) --------------------------------------------------------------------
    (
        "service-restart-stopped-again",
        Case(
            "office",
            f"{SAT} 11:55",
            f"{SAT} 12:00",
            S(S_, f"{FRI} 17:00"),
            RUN,
            "stop",
            "service-restart",
            S_,
            restarted=True,
        ),
    ),
    (
        "service-restart-weeknight",
        Case(
            "office",
            f"{TUE} 01:55",
            f"{TUE} 02:00",
            S(S_, f"{MON} 17:00"),
            RUN,
            "stop",
            "service-restart",
            S_,
            restarted=True,
        ),
    ),
    (
        "service-restart-without-flag-is-manual",
        Case("office", f"{SAT} 11:55", f"{SAT} 12:00", S(S_, f"{FRI} 17:00"), RUN, "none", "manual"),
    ),
    (
        "service-restart-in-running-time",
        Case("office", f"{MON} 10:55", f"{MON} 11:00", S(R, f"{MON} 09:00"), RUN, "none", restarted=True),
    ),
    (
        "service-restart-found-starting",
        Case(
            "office",
            f"{SAT} 11:55",
            f"{SAT} 12:00",
            S(S_, f"{FRI} 17:00"),
            STARTING,
            "none",
            "service-restart",
            S_,
            pending=True,
            restarted=True,
        ),
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=i) for i, c in CASES])
def test_decision_table(case: Case) -> None:
    v = view(case.schedule, case.last, case.now)
    d = decide(v, case.stored, case.observed, instance_type=case.itype, restarted_by_service=case.restarted)
    assert d.action == case.action, d
    if case.rule is not None:
        assert d.rule == case.rule, d
    if case.desired is not _UNSET:
        assert d.state_if_ok.desired == case.desired, d
    if case.pending is not None:
        assert d.state_if_ok.pending is case.pending, d
    if case.retained is not None:
        assert d.state_if_ok.retained is case.retained, d
    if case.decided_at is not None:
        assert d.state_if_ok.decided_at == t(case.decided_at), d
    if case.action == "resize":
        assert d.instance_type == case.want_type, d
    if case.action == "stop":
        assert d.hibernate is case.hibernate, d
    for word in case.reason_has:
        assert word in d.reason, d.reason
    check_invariants(v, d)


def test_case_count() -> None:
    assert len(CASES) >= 40
    assert len({i for i, _ in CASES}) == len(CASES)


def test_start_while_stopping_is_started_or_retried() -> None:
    """A start found ``stopping`` may start (and fail/retry) or postpone; either way it is not forgotten."""
    v = view("office", f"{MON} 08:55", f"{MON} 09:00")
    d = decide(v, S(S_, f"{PREV_FRI} 17:00"), STOPPING)
    assert d.action in ("start", "none")
    assert d.state_if_failed.pending is True
    assert d.state_if_failed.desired is State.RUNNING
    if d.action == "none":
        assert d.state_if_ok.pending is True
    # next pass, the instance is stopped and the retry starts it
    nxt = decide(view("office", f"{MON} 09:00", f"{MON} 09:05"), d.state_if_failed, STOP)
    assert nxt.action == "start"
    assert nxt.rule == "retry"


def test_failed_stop_is_retried_then_settles() -> None:
    """SPEC §2.5: a failed stop is retried on the next pass; after the success nothing more happens."""
    d1 = decide(view("office", f"{MON} 16:55", f"{MON} 17:00"), S(R, f"{MON} 09:00"), RUN)
    assert d1.action == "stop"
    stored = d1.state_if_failed  # the stop failed
    d2 = decide(view("office", f"{MON} 17:00", f"{MON} 17:05"), stored, RUN)
    assert d2.action == "stop"
    assert d2.rule == "retry"
    stored = d2.state_if_ok  # the retry succeeded
    for now in ("17:10", "17:15", "20:00"):
        last = (t(f"{MON} {now}") - timedelta(minutes=5)).isoformat()
        d = decide(view("office", last, f"{MON} {now}"), stored, STOP)
        assert d.action == "none", d
        stored = d.state_if_ok
    assert stored.desired is State.STOPPED
    assert stored.pending is False


def test_failed_start_retried_each_pass_until_it_works() -> None:
    stored = decide(view("office", f"{MON} 08:55", f"{MON} 09:00"), S(S_, f"{PREV_FRI} 17:00"), STOP).state_if_failed
    now = t(f"{MON} 09:00")
    for _ in range(3):  # keeps failing
        last, now = now, now + timedelta(minutes=5)
        d = decide(view("office", last, now), stored, STOP)
        assert d.action == "start"
        assert d.rule == "retry"
        stored = d.state_if_failed
    last, now = now, now + timedelta(minutes=5)
    d = decide(view("office", last, now), stored, STOP)
    assert d.action == "start"
    stored = d.state_if_ok
    d = decide(view("office", now, now + timedelta(minutes=5)), stored, RUN)
    assert d.action == "none"
    assert d.rule == "in-sync"


def test_decision_is_pure() -> None:
    v = view("office", f"{MON} 16:55", f"{MON} 17:00")
    stored = S(R, f"{MON} 09:00")
    assert decide(v, stored, RUN) == decide(v, stored, RUN)
    assert stored == S(R, f"{MON} 09:00")


# ------------------------------------------------------------------------------------------------------------------
# Multi-pass simulation: passes every few minutes, decisions applied to a fake resource.
# ------------------------------------------------------------------------------------------------------------------


@dataclass
class FakeResource:
    observed: Observed = Observed.STOPPED
    instance_type: str | None = None
    stored: ResourceState | None = None

    def apply(self, d: Decision, *, fail: bool = False) -> None:
        """What the worker does: act, then store state_if_ok (or state_if_failed when the call failed)."""
        if not d.acts:
            self.stored = d.state_if_ok
            return
        if fail:
            self.stored = d.state_if_failed
            return
        if d.action == "start":
            self.observed = Observed.RUNNING
            if d.instance_type:
                self.instance_type = d.instance_type
        elif d.action == "stop":
            self.observed = Observed.STOPPED
        elif d.action == "resize":
            self.observed = Observed.RUNNING
            self.instance_type = d.instance_type
        self.stored = d.state_if_ok


@dataclass(frozen=True)
class Act:
    at: datetime
    action: str
    rule: str
    failed: bool = False


def simulate(
    schedule: str,
    start: str,
    end: str,
    resource: FakeResource,
    *,
    step: timedelta = timedelta(minutes=5),
    manual: Iterable[tuple[str, Observed]] = (),
    fail_at: Iterable[str] = (),
    restarted_at: Iterable[str] = (),
    last_pass: str | None = None,
) -> list[Act]:
    """Runs passes at ``start``, ``start + step``, ... ``<= end``; returns the passes that acted.

    ``manual`` changes the resource by hand at a time (applied before the first pass at or after it);
    ``fail_at`` makes the action of the pass at that time fail; ``restarted_at`` marks the resource as restarted by
    the service (and running) just before the pass at that time.
    """
    ev = evaluator(schedule)
    changes = sorted((t(w), o) for w, o in manual)
    fails = {t(w) for w in fail_at}
    restarts = {t(w) for w in restarted_at}
    last = t(last_pass) if last_pass else None
    now = t(start)
    stop_at = t(end)
    acts: list[Act] = []
    while now <= stop_at:
        while changes and changes[0][0] <= now:
            resource.observed = changes.pop(0)[1]
        restarted = now in restarts
        if restarted:
            resource.observed = Observed.RUNNING
        v = ev.pass_view(last, now)
        d = decide(
            v, resource.stored, resource.observed, instance_type=resource.instance_type, restarted_by_service=restarted
        )
        check_invariants(v, d)
        failed = d.acts and now in fails
        resource.apply(d, fail=failed)
        if d.acts:
            acts.append(Act(now, d.action, d.rule, failed))
        last, now = now, now + step
    return acts


def summary(acts: list[Act]) -> list[tuple[str, str]]:
    return [(a.at.strftime("%a %H:%M"), a.action + (" (failed)" if a.failed else "")) for a in acts]


def test_sim_two_weekdays() -> None:
    res = FakeResource(Observed.RUNNING)
    acts = simulate("office", f"{MON} 00:00", f"{WED} 00:00", res)
    assert summary(acts) == [
        ("Mon 00:00", "stop"),  # first seen outside running time (stop_new_instances)
        ("Mon 09:00", "start"),
        ("Mon 17:00", "stop"),
        ("Tue 09:00", "start"),
        ("Tue 17:00", "stop"),
    ]
    assert [a.rule for a in acts] == ["new", "transition", "transition", "transition", "transition"]
    assert res.observed is Observed.STOPPED


def test_sim_weekend_no_actions() -> None:
    acts = simulate(
        "office", f"{FRI} 12:00", f"{NEXT_MON} 12:00", FakeResource(Observed.RUNNING, stored=S(R, f"{FRI} 09:00"))
    )
    assert summary(acts) == [("Fri 17:00", "stop"), ("Mon 09:00", "start")]


def test_sim_irregular_passes_catch_up() -> None:
    """Passes every 7 hours: each transition is caught up by the first pass after it; no doubles."""
    res = FakeResource(Observed.STOPPED, stored=S(S_, f"{PREV_FRI} 17:00"))
    acts = simulate("office", f"{MON} 01:00", f"{WED} 01:00", res, step=timedelta(hours=7))
    # passes: Mon 01,08,15,22, Tue 05,12,19, Wed 02 -> Mon start caught at 15:00, stop at 22:00, Tue 12/19
    assert summary(acts) == [
        ("Mon 15:00", "start"),
        ("Mon 22:00", "stop"),
        ("Tue 12:00", "start"),
        ("Tue 19:00", "stop"),
    ]


def test_sim_manual_changes_respected() -> None:
    res = FakeResource(Observed.STOPPED, stored=S(S_, f"{PREV_FRI} 17:00"))
    acts = simulate(
        "office",
        f"{MON} 00:00",
        f"{WED} 00:00",
        res,
        manual=[
            (f"{MON} 19:00", Observed.RUNNING),
            (f"{TUE} 11:00", Observed.STOPPED),
            (f"{TUE} 11:30", Observed.RUNNING),
        ],
    )
    # the hand start at Mon 19:00 is kept overnight; Tue 09:00 finds it running; the next stop is Tue 17:00
    assert summary(acts) == [("Mon 09:00", "start"), ("Mon 17:00", "stop"), ("Tue 17:00", "stop")]


def test_sim_enforced_reverts_on_next_pass() -> None:
    res = FakeResource(Observed.STOPPED, stored=S(S_, f"{PREV_FRI} 17:00"))
    acts = simulate(
        "office-enforced",
        f"{MON} 00:00",
        f"{TUE} 00:00",
        res,
        manual=[(f"{MON} 11:02", Observed.STOPPED), (f"{MON} 20:01", Observed.RUNNING)],
    )
    assert summary(acts) == [
        ("Mon 09:00", "start"),
        ("Mon 11:05", "start"),
        ("Mon 17:00", "stop"),
        ("Mon 20:05", "stop"),
    ]
    assert [a.rule for a in acts] == ["transition", "enforced", "transition", "enforced"]


def test_sim_start_events_each_start_after_hand_stop() -> None:
    res = FakeResource(Observed.STOPPED)
    acts = simulate(
        "starts",
        f"{MON} 00:00",
        f"{WED} 00:00",
        res,
        manual=[
            (f"{MON} 10:00", Observed.STOPPED),
            (f"{MON} 13:00", Observed.STOPPED),
            (f"{MON} 18:00", Observed.STOPPED),
            (f"{TUE} 09:00", Observed.STOPPED),
            # Tue 16:00 finds it still running (started at 12:00): nothing to do
            (f"{TUE} 17:00", Observed.STOPPED),
        ],
    )
    assert summary(acts) == [
        ("Mon 08:00", "start"),
        ("Mon 12:00", "start"),
        ("Mon 16:00", "start"),
        ("Tue 08:00", "start"),
        ("Tue 12:00", "start"),
    ]


def test_sim_cron_start_events_same_as_window_events() -> None:
    manual = [(f"{MON} 10:00", Observed.STOPPED), (f"{MON} 13:00", Observed.STOPPED)]
    a = simulate("starts", f"{MON} 00:00", f"{TUE} 00:00", FakeResource(Observed.STOPPED), manual=manual)
    b = simulate("cron-starts", f"{MON} 00:00", f"{TUE} 00:00", FakeResource(Observed.STOPPED), manual=manual)
    assert summary(a) == summary(b) == [("Mon 08:00", "start"), ("Mon 12:00", "start"), ("Mon 16:00", "start")]


@pytest.mark.parametrize(
    ("schedule", "start", "end", "expected"),
    [
        ("late-stop", f"{MON} 20:00", f"{TUE} 02:00", [("Tue 00:00", "stop")]),
        ("late-stop-berlin", f"{MON} 20:00", f"{TUE} 02:00", [("Mon 23:00", "stop")]),  # 00:00 CET
    ],
)
def test_sim_stop_event_at_2359_with_five_minute_passes(
    schedule: str, start: str, end: str, expected: list[tuple[str, str]]
) -> None:
    res = FakeResource(Observed.RUNNING, stored=S(R, f"{MON} 08:00"))
    acts = simulate(schedule, start, end, res)
    assert summary(acts) == expected
    assert res.observed is Observed.STOPPED


def test_sim_failed_stop_retried_once() -> None:
    res = FakeResource(Observed.STOPPED, stored=S(S_, f"{PREV_FRI} 17:00"))
    acts = simulate("office", f"{MON} 00:00", f"{TUE} 08:00", res, fail_at=[f"{MON} 17:00"])
    assert [(*s, a.rule) for s, a in zip(summary(acts), acts, strict=True)] == [
        ("Mon 09:00", "start", "transition"),
        ("Mon 17:00", "stop (failed)", "transition"),
        ("Mon 17:05", "stop", "retry"),
    ]
    assert res.observed is Observed.STOPPED
    assert res.stored is not None
    assert res.stored.pending is False


def test_sim_failures_in_a_row_then_success() -> None:
    res = FakeResource(Observed.STOPPED, stored=S(S_, f"{PREV_FRI} 17:00"))
    acts = simulate("office", f"{MON} 08:00", f"{MON} 12:00", res, fail_at=[f"{MON} 09:00", f"{MON} 09:05"])
    assert summary(acts) == [("Mon 09:00", "start (failed)"), ("Mon 09:05", "start (failed)"), ("Mon 09:10", "start")]
    assert res.observed is Observed.RUNNING


def test_sim_retain_running() -> None:
    res = FakeResource(Observed.STOPPED)
    acts = simulate("office-retain", f"{MON} 00:00", f"{MON} 23:55", res, manual=[(f"{MON} 08:00", Observed.RUNNING)])
    # first seen stopped outside its time: the schedule stopped it; started by hand before 09:00 -> kept at 17:00
    assert summary(acts) == []
    assert res.observed is Observed.RUNNING


def test_sim_retain_running_failed_stops_are_not_hand_starts() -> None:
    """Every stop attempt fails overnight (e.g. a missing permission, fixed in the morning): the schedule never
    stopped it, so retain_running must not keep it running past Tuesday's end (SPEC §2 Decisions, 4)."""
    res = FakeResource(Observed.STOPPED, stored=S(S_, f"{PREV_FRI} 17:00"))
    failing = [(t(f"{MON} 17:00") + timedelta(minutes=5 * i)).isoformat() for i in range(16 * 12)]  # to Tue 08:55
    acts = simulate("office-retain", f"{MON} 08:00", f"{TUE} 18:00", res, fail_at=failing)
    ok = [a for a in acts if not a.failed]
    assert res.observed is Observed.STOPPED, (
        f"kept running after Tue 17:00; {len(acts) - len(ok)} failed stops, then {summary(ok)}"
    )
    assert ok[-1:] == [Act(t(f"{TUE} 17:00"), "stop", "transition")]


def test_sim_without_retain_running_stopped_at_end() -> None:
    res = FakeResource(Observed.STOPPED)
    acts = simulate("office", f"{MON} 00:00", f"{MON} 23:55", res, manual=[(f"{MON} 08:00", Observed.RUNNING)])
    assert summary(acts) == [("Mon 17:00", "stop")]
    assert res.observed is Observed.STOPPED


def test_sim_service_restart() -> None:
    res = FakeResource(Observed.RUNNING, stored=S(R, f"{FRI} 09:00"))
    acts = simulate("office", f"{FRI} 12:00", f"{SUN} 12:00", res, restarted_at=[f"{SAT} 10:05"])
    assert summary(acts) == [("Fri 17:00", "stop"), ("Sat 10:05", "stop")]
    assert [a.rule for a in acts] == ["transition", "service-restart"]


def test_sim_typed_periods() -> None:
    res = FakeResource(Observed.STOPPED, instance_type="t3.micro", stored=S(S_, f"{PREV_FRI} 17:00"))
    acts = simulate("two-types", f"{MON} 05:00", f"{MON} 18:00", res)
    assert summary(acts) == [("Mon 06:00", "resize"), ("Mon 09:00", "resize"), ("Mon 17:00", "stop")]
    assert res.instance_type == "t3.large"


def test_sim_dst_change_berlin() -> None:
    """Office hours 09:00-17:00 Berlin across the 2026-03-29 DST change: 08:00Z before, 07:00Z after."""
    res = FakeResource(Observed.STOPPED, stored=S(S_, "2026-03-26 16:00"))
    acts = simulate("office-berlin", "2026-03-27 00:00", "2026-03-31 00:00", res)
    assert [(a.at, a.action) for a in acts] == [
        (t("2026-03-27 08:00"), "start"),
        (t("2026-03-27 16:00"), "stop"),
        (t("2026-03-30 07:00"), "start"),
        (t("2026-03-30 15:00"), "stop"),
    ]


def test_retained_resource_is_not_stopped_by_enforcement_after_its_period() -> None:
    """retain_running with enforced: kept running from the period's end until the next period starts."""
    end = decide(
        view("office-retain-enforced", f"{MON} 16:55", f"{MON} 17:00"), S(R, f"{MON} 09:00", retained=True), RUN
    )
    assert end.action == "none" and end.state_if_ok.retained
    later = decide(view("office-retain-enforced", f"{MON} 17:00", f"{MON} 17:05"), end.state_if_ok, RUN)
    assert later.action == "none" and later.rule == "retain_running"
    # The next period's start clears the mark; that evening's end stops it as usual.
    start = decide(view("office-retain-enforced", f"{TUE} 08:55", f"{TUE} 09:00"), later.state_if_ok, RUN)
    assert not start.state_if_ok.retained
    stop = decide(view("office-retain-enforced", f"{TUE} 16:55", f"{TUE} 17:00"), start.state_if_ok, RUN)
    assert stop.action == "stop"


def test_retained_mark_cleared_once_found_stopped() -> None:
    stored = S(None, f"{MON} 17:00", retained=True)
    d = decide(view("office-retain-enforced", f"{MON} 18:00", f"{MON} 18:05"), stored, STOP)
    assert d.action == "none" and not d.state_if_ok.retained
