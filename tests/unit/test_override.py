"""The ``isched:override`` tag (SPEC §2 rule 6): parsing, and the decision it makes, table-driven, plus a property:
while an unexpired override is set, the decided state is the override's.

Dates: 2026-03-02 is a Monday; the office schedule runs Mon-Fri 09:00-17:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.engine import (
    Decision,
    Evaluator,
    Observed,
    Override,
    ResourceState,
    State,
    decide,
    parse_override,
    parse_text,
)
from scheduler.engine.errors import FieldError

CFG = parse_text(
    """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  start-08: {begintime: "08:00"}
  stop-20: {endtime: "20:00"}
schedules:
  office: {periods: [office]}
  office-enforced: {periods: [office], enforced: true}
  office-retain: {periods: [office], retain_running: true}
  office-keep-new: {periods: [office], stop_new_instances: false}
  office-hibernate: {periods: [office], hibernate: true}
  office-typed: {periods: ["office@t3.large"]}
  events: {periods: [start-08, stop-20]}
"""
)
R, S_ = State.RUNNING, State.STOPPED
RUN, STOP, OTHER = Observed.RUNNING, Observed.STOPPED, Observed.OTHER


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def view(schedule: str, last: str | None, now: str) -> object:
    return Evaluator.from_config(CFG, schedule).pass_view(t(last) if last else None, t(now))


# --- parsing -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "state", "until"),
    [
        ("running", R, None),
        ("stopped", S_, None),
        (" Running ", R, None),
        ("STOPPED", S_, None),
        ("running@2026-03-02T21:00:00Z", R, t("2026-03-02 21:00")),
        ("stopped@2026-03-02T21:00Z", S_, t("2026-03-02 21:00")),
        ("running@2026-03-02T22:00:00+01:00", R, t("2026-03-02 21:00")),
        ("running @ 2026-03-02T21:00:00Z", R, t("2026-03-02 21:00")),
    ],
)
def test_parse_valid(text: str, state: State, until: datetime | None) -> None:
    got = parse_override(text)
    assert got == Override(state, until)
    assert parse_override(got.value) == got  # the canonical value reads back the same


@pytest.mark.parametrize(
    "text",
    [
        "",
        "on",
        "any",
        "run",
        "running@",
        "running@tomorrow",
        "running@2026-03-02",  # a date has no instant
        "running@2026-03-02T21:00:00",  # no offset
        "running@0001-01-01T00:00:00Z",
        "running@2026-03-02T21:00:00Z@x",
        "stopped;rm -rf",
        "running\x1b[31m",
        "r" * 300,
    ],
)
def test_parse_malformed_names_the_value(text: str) -> None:
    with pytest.raises(FieldError) as exc:
        parse_override(text)
    message = str(exc.value)
    assert text[:20].replace("\x1b", "\\x1b") in message or "characters" in message
    assert len(message) < 300


def test_active_until_is_exclusive() -> None:
    o = Override(R, t("2026-03-02 21:00"))
    assert o.active(t("2026-03-02 20:59"))
    assert not o.active(t("2026-03-02 21:00"))
    assert Override(S_).active(t("2999-01-01 00:00"))


# --- decisions -----------------------------------------------------------------------------------------------------

MON, TUE = "2026-03-02", "2026-03-03"
UNTIL_21 = Override(R, t(f"{MON} 21:00"))
STOP_UNTIL_12 = Override(S_, t(f"{MON} 12:00"))


def S(
    desired: State | None,
    at: str | None = None,
    *,
    override: State | None = None,
    retained: bool = False,
    pending: bool = False,
) -> ResourceState:
    return ResourceState(desired, t(at) if at else None, pending=pending, retained=retained, override=override)


@dataclass(frozen=True)
class Case:
    schedule: str
    last: str | None
    now: str
    stored: ResourceState | None
    observed: Observed
    override: Override | None
    action: str
    rule: str
    desired: State | None
    stored_override: State | None  # expected state_if_ok.override
    itype: str | None = None
    want_type: str | None = None
    hibernate: bool = False
    reason_has: tuple[str, ...] = ()


CASES: dict[str, Case] = {
    # An override running keeps a resource up through the schedule's stop.
    "running-through-stop-transition": Case(
        "office",
        f"{MON} 16:55",
        f"{MON} 17:00",
        S(R, f"{MON} 09:00"),
        RUN,
        Override(R),
        "none",
        "override",
        R,
        R,
        reason_has=("override running",),
    ),
    "running-starts-while-schedule-stopped": Case(
        "office",
        f"{MON} 19:55",
        f"{MON} 20:00",
        S(S_, f"{MON} 17:00"),
        STOP,
        UNTIL_21,
        "start",
        "override",
        R,
        R,
        reason_has=("until 2026-03-02T21:00:00Z",),
    ),
    "running-restarts-after-manual-stop": Case(
        "office",
        f"{MON} 19:55",
        f"{MON} 20:00",
        S(R, f"{MON} 19:00", override=R),
        STOP,
        Override(R),
        "start",
        "override",
        R,
        R,
    ),
    # An override stopped stops a resource the schedule wants running, and keeps it stopped.
    "stopped-while-schedule-running": Case(
        "office",
        f"{MON} 09:55",
        f"{MON} 10:00",
        S(R, f"{MON} 09:00"),
        RUN,
        STOP_UNTIL_12,
        "stop",
        "override",
        S_,
        S_,
    ),
    "stopped-through-start-transition": Case(
        "office",
        f"{MON} 08:55",
        f"{MON} 09:00",
        S(S_, f"{MON} 08:00", override=S_),
        STOP,
        Override(S_),
        "none",
        "override",
        S_,
        S_,
    ),
    "stopped-hibernates-like-the-schedule": Case(
        "office-hibernate",
        f"{MON} 09:55",
        f"{MON} 10:00",
        S(R, f"{MON} 09:00"),
        RUN,
        Override(S_),
        "stop",
        "override",
        S_,
        S_,
        hibernate=True,
    ),
    # Expiry: the schedule's state at that moment, without waiting for a transition.
    "expired-mid-pass-schedule-stopped": Case(
        "office",
        f"{MON} 20:55",
        f"{MON} 21:00",
        S(R, f"{MON} 20:55", override=R),
        RUN,
        UNTIL_21,
        "stop",
        "override-end",
        S_,
        None,
        reason_has=("expired", "schedule says stopped"),
    ),
    "expired-between-passes-schedule-stopped": Case(
        "office",
        f"{MON} 20:55",
        f"{MON} 21:05",
        S(R, f"{MON} 20:55", override=R),
        RUN,
        UNTIL_21,
        "stop",
        "override-end",
        S_,
        None,
    ),
    "expired-schedule-running-starts": Case(
        "office",
        f"{MON} 11:55",
        f"{MON} 12:00",
        S(S_, f"{MON} 11:55", override=S_),
        STOP,
        STOP_UNTIL_12,
        "start",
        "override-end",
        R,
        None,
    ),
    "expired-already-in-schedule-state": Case(
        "office",
        f"{MON} 11:55",
        f"{MON} 12:00",
        S(S_, f"{MON} 11:55", override=S_),
        RUN,
        STOP_UNTIL_12,
        "none",
        "override-end",
        R,
        None,
    ),
    # Tag removed (or now malformed: the worker passes None) -> the schedule's state at that moment.
    "removed-schedule-stopped": Case(
        "office",
        f"{MON} 22:55",
        f"{MON} 23:00",
        S(R, f"{MON} 22:55", override=R),
        RUN,
        None,
        "stop",
        "override-end",
        S_,
        None,
        reason_has=("removed",),
    ),
    "removed-schedule-running": Case(
        "office",
        f"{TUE} 10:55",
        f"{TUE} 11:00",
        S(S_, f"{TUE} 10:55", override=S_),
        STOP,
        None,
        "start",
        "override-end",
        R,
        None,
    ),
    "removed-no-opinion-falls-back-to-rules": Case(
        "events",
        f"{MON} 10:55",
        f"{MON} 11:00",
        S(S_, f"{MON} 10:55", override=S_),
        STOP,
        None,
        "none",
        "idle",
        S_,
        None,
    ),
    "removed-no-opinion-transition-since-decides": Case(
        "events",
        f"{MON} 19:55",
        f"{MON} 20:00",
        S(R, f"{MON} 19:55", override=R),
        RUN,
        None,
        "stop",
        "transition",
        S_,
        None,
    ),
    # With no override before, an expired tag changes nothing: the schedule's rules as usual.
    "expired-never-seen-follows-schedule": Case(
        "office",
        f"{MON} 21:55",
        f"{MON} 22:00",
        S(R, f"{MON} 09:00"),
        RUN,
        UNTIL_21,
        "none",
        "manual",
        R,
        None,
    ),
    # Override + enforced: the override wins; at its end enforced applies again.
    "enforced-loses-to-override": Case(
        "office-enforced",
        f"{MON} 19:55",
        f"{MON} 20:00",
        S(R, f"{MON} 17:00", override=R),
        RUN,
        Override(R),
        "none",
        "override",
        R,
        R,
    ),
    "enforced-after-override-end": Case(
        "office-enforced",
        f"{MON} 20:55",
        f"{MON} 21:00",
        S(R, f"{MON} 20:55", override=R),
        RUN,
        UNTIL_21,
        "stop",
        "override-end",
        S_,
        None,
    ),
    # Override + retain_running: the override decides, and the retained mark is dropped.
    "retain-running-loses-to-override-stopped": Case(
        "office-retain",
        f"{MON} 09:55",
        f"{MON} 10:00",
        S(R, f"{MON} 09:00", retained=True),
        RUN,
        Override(S_),
        "stop",
        "override",
        S_,
        S_,
    ),
    "retain-running-not-kept-after-override": Case(
        "office-retain",
        f"{MON} 20:55",
        f"{MON} 21:00",
        S(R, f"{MON} 20:55", override=R, retained=True),
        RUN,
        UNTIL_21,
        "stop",
        "override-end",
        S_,
        None,
    ),
    # First seen with an override: brought to the override's state (stop_new_instances does not matter).
    "first-seen-running-override-stopped": Case(
        "office",
        None,
        f"{MON} 10:00",
        None,
        RUN,
        Override(S_),
        "stop",
        "override",
        S_,
        S_,
    ),
    "first-seen-stopped-override-running": Case(
        "office-keep-new",
        None,
        f"{MON} 20:00",
        None,
        STOP,
        Override(R),
        "start",
        "override",
        R,
        R,
    ),
    "first-seen-running-override-running-outside": Case(
        "office",
        None,
        f"{MON} 20:00",
        None,
        RUN,
        Override(R),
        "none",
        "override",
        R,
        R,
    ),
    # Malformed (the worker reports it and passes None): the schedule decides; a stop transition stops it.
    "malformed-follows-schedule": Case(
        "office",
        f"{MON} 16:55",
        f"{MON} 17:00",
        S(R, f"{MON} 09:00"),
        RUN,
        None,
        "stop",
        "transition",
        S_,
        None,
    ),
    # A resource that cannot act now is retried; the override is remembered.
    "override-cannot-act-now": Case(
        "office",
        f"{MON} 19:55",
        f"{MON} 20:00",
        S(S_, f"{MON} 17:00"),
        OTHER,
        Override(R),
        "none",
        "override",
        R,
        R,
    ),
    # period@type: an override running inside a typed period runs as that type.
    "override-running-in-typed-period-resizes": Case(
        "office-typed",
        f"{MON} 09:55",
        f"{MON} 10:00",
        S(S_, f"{MON} 09:00", override=S_),
        STOP,
        Override(R),
        "resize",
        "override",
        R,
        R,
        itype="t3.micro",
        want_type="t3.large",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_override_decisions(name: str) -> None:
    c = CASES[name]
    v = view(c.schedule, c.last, c.now)
    d = decide(v, c.stored, c.observed, instance_type=c.itype, override=c.override)  # type: ignore[arg-type]
    assert (d.action, d.rule) == (c.action, c.rule), d.reason
    assert d.state_if_ok.desired is c.desired, d.reason
    assert d.state_if_ok.override is c.stored_override
    assert d.state_if_failed.override is c.stored_override
    assert d.hibernate is c.hibernate
    assert d.instance_type == c.want_type if c.action == "resize" else True
    if d.rule in ("override", "override-end"):
        assert d.state_if_ok.retained is False
        assert d.state_if_ok.decided_at == t(c.now)  # transitions up to now are consumed, never replayed
    if d.acts:
        assert d.state_if_failed.pending and not d.state_if_ok.pending
    for text in c.reason_has:
        assert text in d.reason, d.reason


def test_override_end_then_quiet() -> None:
    """After an override ends, the following pass with no transition leaves the resource alone."""
    first = decide(view("office", f"{MON} 20:55", f"{MON} 21:00"), S(R, f"{MON} 20:55", override=R), RUN,
                   override=UNTIL_21)  # fmt: skip
    assert first.action == "stop"
    second = decide(view("office", f"{MON} 21:00", f"{MON} 21:05"), first.state_if_ok, STOP, override=UNTIL_21)
    assert (second.action, second.rule) == ("none", "in-sync")


# --- property --------------------------------------------------------------------------------------------------

SCHEDULES = ["office", "office-enforced", "office-retain", "office-keep-new", "office-hibernate", "events"]
BASE = t("2026-03-02 00:00")
observed_states = st.sampled_from(list(Observed))
opt_states = st.one_of(st.none(), st.sampled_from([R, S_]))


@st.composite
def stored_states(draw: st.DrawFn, now: datetime) -> ResourceState | None:
    if draw(st.booleans()):
        return None
    decided = draw(st.one_of(st.none(), st.integers(0, 14 * 24 * 60).map(lambda m: BASE + timedelta(minutes=m))))
    return ResourceState(
        desired=draw(opt_states),
        decided_at=min(decided, now) if decided else None,
        pending=draw(st.booleans()),
        retained=draw(st.booleans()),
        override=draw(opt_states),
    )


@st.composite
def situations(draw: st.DrawFn) -> tuple[object, ResourceState | None, Observed, Override]:
    now = BASE + timedelta(minutes=draw(st.integers(1, 7 * 24 * 60)))
    gap = timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
    last = None if draw(st.booleans()) else now - gap
    v = Evaluator.from_config(CFG, draw(st.sampled_from(SCHEDULES))).pass_view(last, now)
    until = None if draw(st.booleans()) else now + timedelta(seconds=draw(st.integers(1, 10 * 86400)))
    return v, draw(stored_states(now)), draw(observed_states), Override(draw(st.sampled_from([R, S_])), until)


@given(situations())
def test_unexpired_override_decides_the_state(case: tuple[object, ResourceState | None, Observed, Override]) -> None:
    v, stored, observed, override = case
    d: Decision = decide(v, stored, observed, override=override)  # type: ignore[arg-type]
    assert d.rule == "override"
    assert d.state_if_ok.desired is override.state
    assert d.state_if_failed.desired is override.state
    assert d.state_if_ok.override is override.state
    if override.state is State.RUNNING:
        assert d.action in ("start", "resize", "none")
    else:
        assert d.action in ("stop", "none")
    settled = observed.settled
    if settled is not None and settled is not override.state and observed in (RUN, STOP):
        assert d.acts  # found in the other state: brought to the override's


# --- the report: hours lost to overrides, from ledger entries ------------------------------------------------------


def _entry(at: str, action: str, **extra: object) -> dict[str, object]:
    return {
        "at": t(at).isoformat(),
        "target": "123456789012#eu-west-1#ec2",
        "account": "123456789012",
        "region": "eu-west-1",
        "service": "ec2",
        "resource": "i-1",
        "schedule": "office",
        "action": action,
        "instance_type": "t3.large",
        **extra,
    }


RUNNING_21 = {"override": "running@2026-03-02T21:00:00Z"}
LEDGERS: dict[str, tuple[list[dict[str, object]], float, float]] = {
    # (entries, hours lost to overrides, hours lost to manual starts)
    "kept-running-through-the-stop": (
        [
            _entry(f"{MON} 09:00", "start"),
            _entry(f"{MON} 17:00", "override", **RUNNING_21),
            _entry(f"{MON} 21:00", "override-end"),
            _entry(f"{MON} 21:00", "stop", rule="override-end"),
        ],
        4.0,
        0.0,
    ),
    "started-by-an-override-until-removed": (
        [
            _entry(f"{MON} 09:00", "start"),
            _entry(f"{MON} 17:00", "stop"),
            _entry(f"{MON} 18:00", "override", override="running"),
            _entry(f"{MON} 18:00", "start", rule="override", override="running"),
            _entry(f"{TUE} 08:30", "override-end"),
            _entry(f"{TUE} 08:30", "stop", rule="override-end"),
            _entry(f"{TUE} 09:00", "start"),
            _entry(f"{TUE} 17:00", "stop"),
        ],
        14.5,
        0.0,
    ),
    "an-override-action-without-its-marker-still-counts": (
        [_entry(f"{MON} 18:00", "start", rule="override"), _entry(f"{MON} 20:00", "stop", rule="override-end")],
        2.0,
        0.0,
    ),
    "stopped-override-loses-nothing": (
        [
            _entry(f"{MON} 09:00", "start"),
            _entry(f"{MON} 12:00", "override", override="stopped@2026-03-02T13:00:00Z"),
            _entry(f"{MON} 12:00", "stop", rule="override"),
            _entry(f"{MON} 13:00", "override-end"),
            _entry(f"{MON} 13:00", "start", rule="override-end"),
            _entry(f"{MON} 17:00", "stop"),
        ],
        0.0,
        0.0,
    ),
    "manual-start-then-an-override-holds-it": (
        [
            _entry(f"{MON} 09:00", "start"),
            _entry(f"{MON} 17:00", "stop"),
            _entry(f"{MON} 18:00", "manual-start"),
            _entry(f"{MON} 20:00", "override", override="running"),
            _entry(f"{MON} 23:00", "override-end"),
            _entry(f"{MON} 23:00", "stop", rule="override-end"),
        ],
        3.0,
        2.0,
    ),
}


@pytest.mark.parametrize("name", list(LEDGERS))
def test_hours_lost_to_overrides(name: str) -> None:
    from scheduler.savings.usage import usages

    entries, lost, manual = LEDGERS[name]
    start, end = t("2026-03-01 00:00"), t("2026-04-01 00:00")
    (u,) = usages(start, end, t(f"{TUE} 23:59"), entries, {}, None, CFG)
    assert u.override_micros is not None and u.override_micros / 3_600_000_000 == pytest.approx(lost)
    assert u.manual_start_micros is not None and u.manual_start_micros / 3_600_000_000 == pytest.approx(manual)
