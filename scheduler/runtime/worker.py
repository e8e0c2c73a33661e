"""The worker: one scheduling pass for one target (account, region, service).

Load stored state (one query), discover tagged resources, evaluate each schedule once, decide each resource with
the pure engine, act in batches, then write state, ledger and informational tags in batches. Nothing that goes
wrong with one resource (an unknown schedule, a refused stop, throttling after retries) stops the others: it is
reported with the resource id and, for actions, retried on the next pass.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal, Protocol, cast

from scheduler.aws.accounts import AccountSessions
from scheduler.aws.session import counting_calls
from scheduler.engine import (
    OVERRIDE_TAG,
    Config,
    Decision,
    Evaluator,
    MaintenanceWindow,
    Observed,
    Override,
    PassView,
    Schedule,
    State,
    decide,
    instant_text,
    iso_z,
    parse_instant,
    parse_override,
    rds_windows,
)
from scheduler.engine.errors import FieldError, Issue
from scheduler.services import tagging
from scheduler.services.base import ActionResult, MaintenanceWindowSource, Resource, ServiceAdapter
from scheduler.services.details import common
from scheduler.services.registry import make_adapter
from scheduler.services.ssm_windows import Execution, merge_executions
from scheduler.store.state import (
    LedgerEntry,
    PassAlreadyClaimed,
    PassInfo,
    ResourceRecord,
    StateStore,
    Target,
    hold_data,
    ledger_key,
)

from .notify import Event, EventSink, announce, upcoming_stop

LAST_ACTION_TAG = "isched:last-action"
LAST_ERROR_TAG = "isched:last-error"
MAX_TAG_VALUE = 256
# How far a pass may be ahead of the real clock and still be a real-time pass (clock skew, a pass started a
# little early). Beyond it a pass is a simulation.
CLOCK_SKEW = timedelta(minutes=5)
# The longest Lambda keeps an asynchronous invocation (its maximum event age): a pass event or worker payload older
# than this is a replay, refused by the Lambda handlers. (The CLI may run passes at any past instant.)
MAX_EVENT_AGE = timedelta(hours=6)
# How long a claimed pass excludes other passes of its target while it runs (Lambda's longest timeout): a pass that
# dies without finishing blocks its target this long at most.
PASS_LEASE = timedelta(minutes=15)


class DecisionLogger(Protocol):
    def info(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


@dataclass
class ActionRecord:
    account: str
    region: str
    service: str
    resource: str
    schedule: str
    action: str
    reason: str
    ok: bool = True
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("ok", "error")}


# "error": needs attention, and makes `isched run` exit 1; "warning": worth knowing, the pass did its work;
# "skipped": the target's pass was already claimed (a duplicate delivery or an overlapping pass).
Severity = Literal["error", "warning", "skipped"]
# How each severity reads at the start of the error text (the text users and scripts have always seen).
_PREFIX: dict[Severity, str] = {"error": "", "warning": "warning: ", "skipped": "skipped: "}


@dataclass
class ErrorRecord:
    account: str
    region: str
    service: str
    resource: str | None
    error: str
    severity: Severity = "error"

    @property
    def is_failure(self) -> bool:
        return self.severity == "error"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WorkerResult:
    target: Target
    at: datetime
    actions: list[ActionRecord] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    managed: int = 0
    pending: int = 0  # resources whose action failed or had to wait: the next pass retries them
    skipped: str | None = None  # why the whole target was skipped (pass already claimed)
    simulated: bool = False  # the pass time is ahead of the real clock
    decisions: dict[str, dict[str, int]] = field(default_factory=dict)  # rule -> action -> resources

    def decided(self, rule: str, action: str) -> None:
        by_action = self.decisions.setdefault(rule, {})
        by_action[action] = by_action.get(action, 0) + 1

    def error(self, resource: str | None, text: str, severity: Severity = "error") -> None:
        t = self.target
        self.errors.append(ErrorRecord(t.account, t.region, t.service, resource, _PREFIX[severity] + text, severity))


def pass_summary(result: WorkerResult, seconds: float, calls: Mapping[str, int], dry_run: bool) -> dict[str, Any]:
    """What one pass of one target did, as its summary log line carries it (a structured ``summary`` key)."""
    actions: dict[str, int] = {}
    for a in result.actions:
        key = a.action if a.ok else f"{a.action} failed"
        actions[key] = actions.get(key, 0) + 1
    return {
        "target": str(result.target),
        "at": iso_z(result.at),
        "managed": result.managed,
        "decisions": {rule: dict(sorted(by.items())) for rule, by in sorted(result.decisions.items())},
        "actions": dict(sorted(actions.items())),
        "errors": sum(1 for e in result.errors if e.is_failure),
        "warnings": sum(1 for e in result.errors if e.severity == "warning"),
        "pending": result.pending,
        "skipped": result.skipped is not None,
        "simulated": result.simulated,
        "dry_run": dry_run,
        "duration_ms": round(seconds * 1000, 1),
        "aws_calls": sum(calls.values()),
        "aws_calls_by_operation": dict(sorted(calls.items())),
    }


def _summary_text(result: WorkerResult, seconds: float, calls: Mapping[str, int]) -> str:
    acted = sum(1 for a in result.actions if a.ok)
    failed = len(result.actions) - acted
    errors = sum(1 for e in result.errors if e.is_failure)
    what = "skipped (already claimed)" if result.skipped else f"{result.managed} managed, {acted} acted"
    return (
        f"{result.target}: pass at {iso_z(result.at)}: {what}, {failed} failed, {errors} error(s) "
        f"in {seconds:.2f} s, {sum(calls.values())} AWS call(s)"
    )


@dataclass
class _Item:
    resource: Resource
    record: ResourceRecord | None
    decision: Decision | None = None
    view: PassView | None = None
    result: ActionResult | None = None
    override: Override | None = None  # its isched:override tag, parsed (None: none, or malformed)


def run_target(
    target: Target,
    at: datetime,
    config: Config,
    state: StateStore,
    sessions: AccountSessions,
    *,
    adapter_options: Mapping[str, Any] | None = None,
    tag_key: str = "Schedule",
    dry_run: bool = False,
    logger: DecisionLogger | None = None,
    now: datetime | None = None,
    invalid_schedules: Mapping[str, str] | None = None,
    events: EventSink | None = None,
) -> WorkerResult:
    """One pass for one target, from the account's session to the result: what both invokers (the CLI's local
    thread pool and the Lambda worker) run. Failures to reach the account or the service raise; each invoker has
    its own policy for them (report, or retry)."""
    session = sessions.session(target.account)
    adapter = make_adapter(target.service, target.region, session, **(adapter_options or {}))
    return run_worker(
        target,
        at,
        config,
        adapter,
        state,
        tag_key=tag_key,
        dry_run=dry_run,
        logger=logger,
        now=now,
        invalid_schedules=invalid_schedules,
        events=events,
    )


def run_worker(
    target: Target,
    at: datetime,
    config: Config,
    adapter: ServiceAdapter,
    state: StateStore,
    *,
    tag_key: str = "Schedule",
    dry_run: bool = False,
    logger: DecisionLogger | None = None,
    now: datetime | None = None,
    invalid_schedules: Mapping[str, str] | None = None,
    events: EventSink | None = None,
) -> WorkerResult:
    """One pass for one target, as if at instant ``at``. ``dry_run`` decides and reports, writes nothing.

    ``now`` is the real clock (default: the system's). A pass beyond it (more than :data:`CLOCK_SKEW` ahead) is a
    simulation: it acts, but claims no pass time, so it can never stop, delay or skip the real-time passes that
    follow; and what a simulation stored (a claim, a completed pass, a decision dated in the future) never
    blocks a real-time pass. ``invalid_schedules`` names the stored schedules that could not be loaded and why:
    their resources are reported, the others are scheduled as usual.

    Writes are ordered so that no action is ever lost: the intended actions are stored before acting, the ledger
    and state after; whatever write fails, the pass still reports every action it took, and a later pass
    repairs the records (see :func:`_repair`).

    ``events``: where "Upcoming Stop" notices go (see :mod:`scheduler.runtime.notify`); the invoker publishes
    the pass's actions and errors.

    Logs one summary line per pass at INFO (decisions by rule and action, actions, errors, duration and AWS calls);
    a line per resource only for those acted on (INFO) or failing (in the result's errors), every decision at DEBUG.
    """
    log = logger or logging.getLogger("isched.worker")
    started = time.perf_counter()
    with counting_calls() as calls:
        result = _pass(target, at, config, adapter, state, log, tag_key, dry_run, now, invalid_schedules, events)
    seconds = time.perf_counter() - started
    log.info(_summary_text(result, seconds, calls), extra={"summary": pass_summary(result, seconds, calls, dry_run)})
    return result


def _pass(
    target: Target,
    at: datetime,
    config: Config,
    adapter: ServiceAdapter,
    state: StateStore,
    log: DecisionLogger,
    tag_key: str,
    dry_run: bool,
    now: datetime | None,
    invalid_schedules: Mapping[str, str] | None,
    events: EventSink | None = None,
) -> WorkerResult:
    """:func:`run_worker` without its summary line."""
    real = (now or datetime.now(UTC)).astimezone(UTC)
    horizon = real + CLOCK_SKEW
    simulated = at > horizon
    result = WorkerResult(target, at, simulated=simulated)
    if simulated and not dry_run:
        result.error(
            None,
            f"the pass time {iso_z(at)} is ahead of the real clock ({iso_z(real)}): a simulation, which "
            "claims no pass time and never blocks real-time passes",
            "warning",
        )
    if not dry_run and not simulated:
        try:
            superseded = state.claim_pass(target, at, real=real, horizon=horizon, lease_until=real + PASS_LEASE)
        except PassAlreadyClaimed as exc:
            result.skipped = str(exc)
            result.error(None, str(exc), "skipped")
            try:
                state.record_skip(target, at, str(exc))
            except Exception as note_exc:  # only the status display loses it; the skip itself is reported
                log.info(f"{target}: could not note the skipped pass: {_describe(note_exc)}")
            return result
        if superseded is not None:
            result.error(
                None,
                f"superseded a claim on the pass at {iso_z(superseded)}, which is ahead of the real clock "
                f"({iso_z(real)}): a simulation or a forged event cannot hold real-time passes back",
            )
    try:
        return _claimed_pass(
            target, at, config, adapter, state, result, log, tag_key, dry_run, invalid_schedules, real, events
        )
    except BaseException:
        if not dry_run and not simulated:
            # Whatever ended the pass (an AWS or DynamoDB call that failed before acting, a crash), its lease must
            # not keep the next pass waiting: it did not complete, so the next pass looks at its transitions again.
            with contextlib.suppress(Exception):
                state.release_lease(target, at)
        raise


def _claimed_pass(
    target: Target,
    at: datetime,
    config: Config,
    adapter: ServiceAdapter,
    state: StateStore,
    result: WorkerResult,
    log: DecisionLogger,
    tag_key: str,
    dry_run: bool,
    invalid_schedules: Mapping[str, str] | None,
    real: datetime,
    events: EventSink | None = None,
) -> WorkerResult:
    """The pass once claimed (or a dry run, or a simulation): everything after the claim."""
    horizon = real + CLOCK_SKEW
    simulated = result.simulated
    records, info = state.load_all(target)
    # As stored: a record that this pass changes in any way (a repair included) is written back.
    # Shallow copies: the pass replaces a record's fields, never edits the values in place, so these keep the
    # records as stored without copying their contents.
    before = {rid: copy.copy(rec) for rid, rec in records.items()}
    last_pass = info.completed_at
    if last_pass is not None and last_pass > horizon and not simulated:
        result.error(
            None,
            f"the last completed pass is stored as {iso_z(last_pass)}, ahead of the real clock ({iso_z(real)}): "
            "ignored; this pass sees no transitions and the next one sees those since this pass",
        )
        last_pass = None
    if last_pass is not None and last_pass >= at:
        last_pass = None  # only a dry run can look back in time: it sees no transitions then
    _forget_future_decisions(records, at)
    if last_pass is not None:
        adapter.events_since = last_pass  # RDS: look for its own 7-day restarts since the previous pass
    resources = adapter.discover(tag_key)
    result.managed = len(resources)
    for warning in adapter.warnings:
        result.error(None, warning, "warning")
    if not dry_run:
        _repair(target, state, records, {r.id: r for r in resources}, result, log)
        _forget_future_decisions(records, at)  # an intent repaired from a simulation is dated in the future too

    views: dict[str, PassView] = {}
    items: list[_Item] = []
    invalid = invalid_schedules or {}
    ssm = _ssm_windows(target, config, resources, adapter, state, info, at, result, write=not (dry_run or simulated))
    for res in resources:
        item = _Item(res, records.get(res.id))
        items.append(item)
        if res.unschedulable:
            result.error(res.id, res.unschedulable)
            continue
        if res.schedule not in config.schedules:
            why = _invalid_reason(res.schedule, invalid)
            if why is not None:
                result.error(
                    res.id,
                    f"schedule '{_short(res.schedule)}' is invalid in the stored configuration: {why}",
                )
            else:
                result.error(
                    res.id, f"unknown schedule '{_short(res.schedule)}' in tag {tag_key} (not in the configuration)"
                )
            continue
        view = views.get(res.schedule)
        if view is None:
            # Each schedule is evaluated once per pass; every resource of it shares the answer.
            view = views[res.schedule] = Evaluator.from_config(config, res.schedule).pass_view(last_pass, at)
        item.view = view
        _verify_last_start(item, last_pass, result)
        item.override = _override_of(res, result)
        item.decision = decide(
            view,
            item.record.engine_state if item.record is not None else None,
            res.observed,
            # period@type is an instance type: services that cannot resize are never resized by the schedule.
            instance_type=res.instance_type if adapter.resizable else None,
            restarted_by_service=res.restarted_by_service,
            maintenance=_maintenance_windows(res, config.schedules[res.schedule], ssm, at, result),
            override=item.override,
        )
        d = item.decision
        result.decided(d.rule, d.action)
        # One line per resource only when it is acted on; every decision at DEBUG.
        (log.info if d.acts else log.debug)(
            f"{res.id}: {d.action} ({d.reason})",
            extra={
                "target": str(target),
                "resource": res.id,
                "schedule": res.schedule,
                "observed": res.observed.value,
                "state": view.state.value,
                "action": d.action,
                "rule": d.rule,
                "reason": d.reason,
                "dry_run": dry_run,
            },
        )

    acting = [i for i in items if i.decision is not None and i.decision.acts]
    now_text = instant_text(at)
    if dry_run:
        for i in acting:
            _report_action(result, target, i, ok=True)
        return result

    if acting:
        # Write-ahead: what is about to be done is stored first. If this write fails nothing is done (the
        # exception ends the pass); if a write after acting fails, a later pass finds the intent and repairs.
        state.save(target, [_with_intent(target, i, now_text) for i in acting], at)
        _execute(adapter, acting, records)
    for i in acting:
        ok = i.result is not None and i.result.ok
        _report_action(result, target, i, ok=ok)
        if ok and i.result is not None and i.result.warning:
            result.error(i.resource.id, i.result.warning, "warning")

    # Seen before the records are updated: what happened to the resources without the scheduler (for savings).
    # Not in a simulation: it would date today's observations in the simulated future.
    ledger = [] if simulated else _observed_changes(target, items, records, now_text)
    if not simulated:
        ledger += _override_changes(target, items, now_text)
    current = [_record(i, at, now_text) for i in items]
    if events is not None and not simulated:  # a simulation's notice would announce (and use up) a future stop
        _announce_stops(target, items, current, events, result)
    result.pending = sum(1 for rec in current if rec.pending)
    # Only records whose content changed are written (a quiet pass costs no DynamoDB writes at all); every record
    # that acted is written, to clear its intent.
    acted = {i.resource.id for i in acting}
    volatile = {i.resource.id: i.resource.volatile for i in items}
    new_records = [
        rec
        for rec in current
        if rec.resource in acted or not _unchanged(before.get(rec.resource), rec, volatile[rec.resource])
    ]
    for entry in ledger:
        if entry["action"] == "gone":
            records[entry["resource"]].gone_at = now_text
    seen = {i.resource.id for i in items}
    # Records of resources no longer found: written when this pass changed them (gone, repaired).
    new_records += [rec for rid, rec in records.items() if rid not in seen and not _unchanged(before.get(rid), rec)]
    ledger += [_ledger_entry(target, i, now_text, simulated) for i in acting if i.result is not None and i.result.ok]
    writes_ok = True
    if ledger:
        try:
            state.append_ledger(ledger)
        except Exception as exc:
            # Kept with the resources' state instead, and written to the ledger by the next pass.
            by_id = {rec.resource: rec for rec in new_records}
            for entry in ledger:
                rid = entry["resource"]
                rec = by_id.get(rid)
                if rec is None:
                    rec = by_id[rid] = records.get(rid) or ResourceRecord(resource=rid)
                    new_records.append(rec)
                rec.unrecorded = [*(rec.unrecorded or []), entry]
            result.error(
                None,
                f"could not write {len(ledger)} ledger entr{'y' if len(ledger) == 1 else 'ies'} "
                f"({_describe(exc)}): kept in the state table, written by the next pass",
            )
    try:
        state.save(target, new_records, at)
    except Exception as exc:
        writes_ok = False
        result.error(
            None,
            f"could not write the state of {len(new_records)} resource(s) ({_describe(exc)}): the actions above "
            "were taken; the next pass repairs the records",
        )
    tags = _info_tags(acting, now_text)
    if tags:
        try:
            for tag_result in adapter.set_tags(tags):
                if not tag_result.ok:
                    result.error(tag_result.resource, f"could not set informational tags: {tag_result.error}")
        except Exception as exc:
            result.error(None, f"could not set informational tags: {_describe(exc)}")
    if not simulated:
        # Not in a simulation: the tag's end is relative to the real clock, which a simulation is ahead of.
        _remove_expired_overrides(adapter, items, at, result)
    if simulated:
        return result
    try:
        if writes_ok:
            state.complete_pass(target, at, horizon, live=_live(items, records, seen))
        else:
            state.release_lease(target, at)  # not completed: the next pass looks at these transitions again
    except Exception as exc:
        # The next pass looks at this pass's transitions again (after the lease, if it could not be released); the
        # stored decisions and intents keep it from acting twice.
        result.error(None, f"could not record the end of the pass ({_describe(exc)}): the next pass re-checks it")
        with contextlib.suppress(Exception):
            state.release_lease(target, at)
    return result


def _announce_stops(
    target: Target, items: list[_Item], current: list[ResourceRecord], events: EventSink, result: WorkerResult
) -> None:
    """Publishes an "Upcoming Stop" for each running resource whose schedule stops it within its notify_before,
    once per stop (the stop announced is kept in its record, written with the pass); one that could not be
    published is a warning, and announced again by the next pass."""
    due: list[tuple[ResourceRecord, Event, str]] = []
    for i, rec in zip(items, current, strict=True):
        stop = _stop_to_announce(i)
        stamp = instant_text(stop) if stop is not None else None
        if stop is not None and rec.announced_stop != stamp:
            due.append((rec, upcoming_stop(target, i.resource.id, i.resource.schedule, stop), str(stamp)))
    if not due:
        return
    announced, failures = announce(events, [e for _, e, _ in due])
    for rec, event, stamp in due:
        if event.resource in announced:
            rec.announced_stop = stamp
    for f in failures:
        result.error(
            f.event.resource,
            f"could not publish its 'Upcoming Stop' event: {f.error} (tried again next pass)",
            "warning",
        )


def _stop_to_announce(i: _Item) -> datetime | None:
    """The scheduled stop an "Upcoming Stop" would announce for this resource: its schedule's next stop within
    notify_before (see :meth:`PassView.upcoming_stop`), if the resource is running and this pass does not stop it.
    A resource under an ``isched:override`` still in force at the stop is not stopped by it: nothing to announce."""
    stop = i.view.upcoming_stop if i.view is not None else None
    if stop is None or i.resource.observed.settled is not State.RUNNING:
        return None
    if i.decision is not None and i.decision.acts and i.decision.action == "stop":
        return None  # stopped by this very pass
    if i.override is not None and i.override.active(stop):
        return None
    return stop


def _ssm_windows(
    target: Target,
    config: Config,
    resources: list[Resource],
    adapter: ServiceAdapter,
    state: StateStore,
    info: PassInfo,
    at: datetime,
    result: WorkerResult,
    *,
    write: bool,
) -> dict[str, list[MaintenanceWindow]]:
    """The SSM maintenance window executions the schedules of ``resources`` name, by window name.

    SSM reports only a window's next execution, so one seen before it opened is remembered in the state table
    until it is over. If SSM cannot be read, the remembered executions still apply (and a warning says why).
    """
    names = sorted(
        {
            n
            for r in resources
            if r.schedule in config.schedules
            for n in config.schedules[r.schedule].ssm_maintenance_windows
        }
    )
    remembered = [e for e in (Execution.from_data(d) for d in info.ssm_windows) if e is not None]
    if not names or not isinstance(adapter, MaintenanceWindowSource):
        return {}
    read: list[Execution] = []
    before = len(adapter.warnings)
    try:
        read = adapter.maintenance_windows(names, at)
    except Exception as exc:
        result.error(
            None,
            f"could not read SSM maintenance windows ({_describe(exc)}): using the {len(remembered)} execution(s) "
            "remembered from earlier passes",
            "warning",
        )
    for warning in adapter.warnings[before:]:
        result.error(None, warning, "warning")
    kept = merge_executions(remembered, read, at)
    if write and [e.to_data() for e in kept] != list(info.ssm_windows):
        try:
            state.save_ssm_windows(target, [e.to_data() for e in kept], at)
        except Exception as exc:
            result.error(None, f"could not remember SSM maintenance window executions: {_describe(exc)}", "warning")
    out: dict[str, list[MaintenanceWindow]] = {}
    for e in kept:
        out.setdefault(e.name, []).append(e.window())
    return out


def _maintenance_windows(
    res: Resource, schedule: Schedule, ssm: Mapping[str, list[MaintenanceWindow]], at: datetime, result: WorkerResult
) -> list[MaintenanceWindow]:
    """The resource's maintenance windows around ``at``, as its schedule asks (SPEC §2 rule 7; off by default)."""
    out: list[MaintenanceWindow] = []
    preferred = common(res.details).get("maintenance_window")
    if schedule.use_maintenance_window and preferred:
        try:
            out.extend(rds_windows(preferred, at))
        except ValueError as exc:
            result.error(res.id, f"its preferred maintenance window is not used: {exc}", "warning")
    for name in schedule.ssm_maintenance_windows:
        out.extend(ssm.get(name, ()))
    return out


def _live(items: list[_Item], records: Mapping[str, ResourceRecord], seen: set[str]) -> int:
    """How many resources the next pass must look at even if the tag is gone from all of them: those found now,
    and records not found with something left to settle (not yet recorded as gone, an intent, an unwritten ledger
    entry). Zero lets the orchestrator skip the target while nothing is tagged there."""
    unsettled = sum(
        1 for rid, rec in records.items() if rid not in seen and (not rec.gone_at or rec.intent or rec.unrecorded)
    )
    return len(items) + unsettled


def invalid_schedules(issues: Iterable[Issue]) -> dict[str, str]:
    """The stored configuration's issues about schedules, keyed by their path below ``schedules.``."""
    out: dict[str, str] = {}
    for issue in issues:
        if issue.path.startswith("schedules."):
            out.setdefault(issue.path[len("schedules.") :], issue.message)
    return out


def _invalid_reason(schedule: str, invalid: Mapping[str, str]) -> str | None:
    if schedule in invalid:
        return invalid[schedule]
    for path, message in invalid.items():
        if path.startswith(schedule + "."):
            return f"{path[len(schedule) + 1 :]}: {message}"
    return None


def _override_of(res: Resource, result: WorkerResult) -> Override | None:
    """The resource's ``isched:override`` tag, parsed; a malformed one is an error for this resource only, which
    then follows its schedule."""
    text = res.tags.get(OVERRIDE_TAG)
    if text is None:
        return None
    try:
        return parse_override(text)
    except FieldError as exc:
        result.error(res.id, f"tag {OVERRIDE_TAG}: {exc}; it follows its schedule until the tag is fixed or removed")
        return None


def _override_changes(target: Target, items: list[_Item], now_text: str) -> list[LedgerEntry]:
    """Ledger entries where an override came into force (``override``, with its value) or ended (``override-end``):
    the report counts the hours an override kept a resource running while its schedule said stopped."""
    out: list[LedgerEntry] = []
    for i in items:
        d = i.decision
        if d is None:
            continue
        before = i.record.override if i.record is not None else None
        after = d.state_if_ok.override
        if (after.value if after else None) == before:
            continue
        res = i.resource
        entry: LedgerEntry = {
            "at": now_text,
            "target": target.key,
            "account": target.account,
            "region": target.region,
            "service": target.service,
            "resource": res.id,
            "schedule": res.schedule,
            "action": "override" if after is not None else "override-end",
            "instance_type": res.instance_type,
        }
        if after is not None and i.override is not None:
            entry["override"] = i.override.value
        out.append(entry)
    return out


def _remove_expired_overrides(adapter: ServiceAdapter, items: list[_Item], at: datetime, result: WorkerResult) -> None:
    """Removes ``isched:override`` tags that have expired, from resources this pass brought back to (or found in)
    their schedule's state. A failure is an error for that resource; the next pass tries again."""
    done = []
    for i in items:
        d = i.decision
        if i.override is None or i.override.active(at) or d is None or d.state_if_ok.pending:
            continue
        if d.acts and not (i.result is not None and i.result.ok):
            continue  # not brought back yet: the tag stays until it is
        done.append(i.resource)
    if not done:
        return
    try:
        failed = tagging.untag_discovered(done, OVERRIDE_TAG, tagging.Clients(getattr(adapter, "session", None)))
    except Exception as exc:
        failed = {res.id: _describe(exc) for res in done}
    for rid, why in failed.items():
        result.error(rid, f"could not remove the expired tag {OVERRIDE_TAG}: {why} (tried again next pass)")


def _report_action(result: WorkerResult, target: Target, i: _Item, *, ok: bool) -> None:
    dec = i.decision
    assert dec is not None
    err = None if ok else (i.result.error if i.result else "no result")
    result.actions.append(
        ActionRecord(
            target.account,
            target.region,
            target.service,
            i.resource.id,
            i.resource.schedule,
            dec.action,
            dec.reason,
            ok,
            err,
        )
    )
    if not ok:
        result.error(i.resource.id, f"{dec.action} failed: {err} (retried next pass)")


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _forget_future_decisions(records: dict[str, ResourceRecord], at: datetime) -> None:
    """A decision dated after this pass can only come from a simulation (a pass ahead of the real clock): it
    must not make this pass think a transition was already handled."""
    stamp = at.astimezone(UTC)
    for rec in records.values():
        if rec.decided_at and parse_instant(rec.decided_at) > stamp:
            rec.decided_at = None


def _with_intent(target: Target, i: _Item, now_text: str) -> ResourceRecord:
    """The resource's record as it stands, plus what is about to be done to it (the write-ahead intent)."""
    d = i.decision
    assert d is not None
    rec = copy.copy(i.record) if i.record is not None else ResourceRecord(resource=i.resource.id)
    ok = d.state_if_ok
    rec.intent = {
        "action": d.action,
        "at": now_text,
        "desired": ok.desired.value if ok.desired else None,
        "decided_at": instant_text(ok.decided_at) if ok.decided_at else None,
        "instance_type": d.instance_type,
        "maintenance": hold_data(ok.maintenance) if ok.maintenance else None,
        "override": ok.override.value if ok.override else None,
        "entry": _ledger_draft(target, i, now_text),
    }
    return rec


def _repair(
    target: Target,
    state: StateStore,
    records: dict[str, ResourceRecord],
    found: dict[str, Resource],
    result: WorkerResult,
    log: DecisionLogger,
) -> None:
    """Repairs what an earlier pass could not write.

    * ``unrecorded``: ledger entries whose write failed while the state write succeeded: written now.
    * ``intent``: the earlier pass stored what it was about to do, then its final state write failed. The action
      was taken if its ledger entry exists, or if the resource is now where the action would have put it; then
      the ledger entry (if missing) and the record are completed. Otherwise the action did not happen and the
      intent is dropped: the schedule decides again in this pass.
    """
    pending = [e for rec in records.values() for e in rec.unrecorded or []]
    if pending:
        try:
            state.append_ledger(pending)
        except Exception as exc:
            result.error(
                None,
                f"could not write {len(pending)} ledger entries kept from an earlier pass: "
                f"{_describe(exc)} (tried again next pass)",
            )
        else:
            for rec in records.values():
                rec.unrecorded = None
            log.info(f"{target}: wrote {len(pending)} ledger entries kept from an earlier pass")
    intents = {rid: rec for rid, rec in records.items() if rec.intent}
    if not intents:
        return
    in_ledger = state.ledger_has(rec.intent["entry"] for rec in intents.values() if rec.intent)
    missing: list[LedgerEntry] = []
    for rid, rec in intents.items():
        intent = rec.intent or {}
        entry = cast(LedgerEntry, dict(intent.get("entry") or {}))
        rec.intent = None
        recorded = ledger_key(entry) in in_ledger
        if not recorded and not _reached(str(intent.get("action")), found.get(rid), intent.get("instance_type")):
            log.info(f"{rid}: the {intent.get('action')} planned at {intent.get('at')} did not happen")
            continue
        if not recorded:
            entry["repaired"] = True  # recorded late, by observation
            missing.append(entry)
        rec.last_action = str(intent.get("action"))
        rec.last_action_at = str(intent.get("at"))
        rec.desired = intent.get("desired")
        rec.decided_at = intent.get("decided_at")
        rec.maintenance = intent.get("maintenance")
        if "override" in intent:
            rec.override = intent.get("override")
        rec.pending = False
        rec.last_error = None
        rec.observed = "stopped" if rec.last_action == "stop" else "running"
        if entry.get("capacity"):
            rec.saved_capacity = dict(entry["capacity"])
        if entry.get("instance_type"):
            rec.instance_type = str(entry["instance_type"])
        log.info(f"{rid}: repaired the record of the {rec.last_action} at {rec.last_action_at}")
    if missing:
        try:
            state.append_ledger(missing)
        except Exception as exc:
            for entry in missing:
                rec = records[entry["resource"]]
                rec.unrecorded = [*(rec.unrecorded or []), entry]
            result.error(
                None,
                f"could not write {len(missing)} repaired ledger entries: {_describe(exc)} "
                "(kept in the state table, written next pass)",
            )


def _reached(action: str, res: Resource | None, instance_type: object) -> bool:
    """Whether ``res`` is now where ``action`` would have put it."""
    if res is None:
        return False
    settled = res.observed.settled
    if action == "stop":
        return settled is State.STOPPED
    if action == "start":
        return settled is State.RUNNING
    if action == "resize":
        return settled is State.RUNNING and (instance_type is None or res.instance_type == instance_type)
    return False


def _verify_last_start(item: _Item, last_pass: datetime | None, result: WorkerResult) -> None:
    """An instance started by the previous pass but found stopped again failed to start (e.g. a missing KMS grant)."""
    rec = item.record
    if rec is None or last_pass is None or rec.last_action not in ("start", "resize") or rec.last_action_at is None:
        return
    if parse_instant(rec.last_action_at) != last_pass or item.resource.observed is not Observed.STOPPED:
        return
    reason = common(item.resource.details).get("state_reason")
    code = (reason["code"] or "") if reason is not None else ""
    if code == "Client.UserInitiatedShutdown":
        return  # someone stopped it by hand after the start: respected, not a failure
    message = (reason["message"] or "") if reason is not None else ""
    why = message or code or "no reason given by the service"
    result.error(item.resource.id, f"started at {rec.last_action_at} but found stopped again: {why}")


def _execute(adapter: ServiceAdapter, acting: list[_Item], records: dict[str, ResourceRecord]) -> None:
    stops = [i for i in acting if i.decision and i.decision.action == "stop"]
    starts = [i for i in acting if i.decision and i.decision.action == "start"]
    resizes = [i for i in acting if i.decision and i.decision.action == "resize"]
    outcomes: dict[str, ActionResult] = {}
    for hibernate in (False, True):
        group = [i.resource for i in stops if bool(i.decision and i.decision.hibernate) == hibernate]
        if group:
            outcomes.update(_safely(group, partial(_stop, adapter, hibernate=hibernate)))
    if starts:
        saved = {
            i.resource.id: {"saved_capacity": records[i.resource.id].saved_capacity}
            for i in starts
            if i.resource.id in records and records[i.resource.id].saved_capacity
        }
        outcomes.update(_safely([i.resource for i in starts], partial(_start, adapter, saved=saved)))
    for i in resizes:
        want = i.decision.instance_type if i.decision else None
        if want is None:
            continue
        outcomes.update(_safely([i.resource], partial(_resize, adapter, instance_type=want)))
    for i in acting:
        i.result = outcomes.get(i.resource.id) or ActionResult(i.resource.id, False, "the adapter returned no result")


def _stop(adapter: ServiceAdapter, group: list[Resource], *, hibernate: bool) -> list[ActionResult]:
    return adapter.stop(group, hibernate=hibernate)


def _start(adapter: ServiceAdapter, group: list[Resource], *, saved: dict[str, dict[str, Any]]) -> list[ActionResult]:
    return adapter.start(group, saved=saved)


def _resize(adapter: ServiceAdapter, group: list[Resource], *, instance_type: str) -> list[ActionResult]:
    return [adapter.resize(res, instance_type) for res in group]


def _safely(group: list[Resource], call: Callable[[list[Resource]], list[ActionResult]]) -> dict[str, ActionResult]:
    """Runs one adapter batch; an unexpected exception fails that batch's resources, not the pass."""
    try:
        return {r.resource: r for r in call(group)}
    except Exception as exc:
        return {res.id: ActionResult(res.id, False, f"{type(exc).__name__}: {exc}") for res in group}


# Compared field by field to decide whether a record must be written; ``last_seen_at`` alone never is a reason,
# ``observed`` only when its settled state changes (stopping then stopped is one stop), ``details`` without the
# resource's volatile keys.
_COMPARED = tuple(f for f in ResourceRecord.__dataclass_fields__ if f not in ("last_seen_at", "observed", "details"))


def _unchanged(old: ResourceRecord | None, new: ResourceRecord, volatile: frozenset[str] = frozenset()) -> bool:
    """Whether writing ``new`` over ``old`` (as stored) would change nothing that matters, without copying either."""
    if old is None:
        return False
    for name in _COMPARED:
        if _stored(getattr(old, name)) != _stored(getattr(new, name)):
            return False
    if old.observed != new.observed and (_settled(old.observed) or old.observed) != (
        _settled(new.observed) or new.observed
    ):
        return False
    a, b = old.details or {}, new.details or {}
    return all(a.get(k) == b.get(k) for k in a.keys() | b.keys() if k not in volatile)


def _stored(value: object) -> object:
    """A field's value as stored (:meth:`ResourceRecord.to_data` leaves empty and false values out)."""
    return None if value in (None, {}, [], False) else value


def _record(i: _Item, at: datetime, now_text: str) -> ResourceRecord:
    res = i.resource
    rec = i.record or ResourceRecord(resource=res.id, first_seen_at=now_text)
    rec.schedule = res.schedule
    rec.last_seen_at = now_text
    rec.gone_at = None
    rec.observed = res.observed.value
    rec.instance_type = res.instance_type
    rec.details = {k: v for k, v in res.details.items() if k not in ("saved_capacity",)}
    rec.details["tags"] = _stored_tags(res.tags)  # for the report's Name column and --group-by-tag
    d = i.decision
    if d is None:
        return rec
    if not d.acts:
        rec.with_engine_state(d.state_if_ok)
        return rec
    ok = i.result is not None and i.result.ok
    rec.with_engine_state(d.state_if_ok if ok else d.state_if_failed)
    if ok:
        rec.last_action = d.action
        rec.last_action_at = now_text
        rec.last_error = None
        rec.observed = "stopped" if d.action == "stop" else "running"  # what it is now, after the action
        assert i.result is not None
        saved = i.result.details.get("saved_capacity")
        if saved:
            rec.saved_capacity = dict(saved)
        if i.result.details.get("instance_type"):
            rec.instance_type = str(i.result.details["instance_type"])
    else:
        rec.last_error = (i.result.error if i.result else None) or "failed"
    return rec


def _observed_changes(
    target: Target, items: list[_Item], records: dict[str, ResourceRecord], now_text: str
) -> list[LedgerEntry]:
    """Ledger entries for what happened to managed resources without the scheduler, for the savings report.

    ``manual-start``: found running after it was last seen stopped (at its launch time where the service reports
    one, else when seen); ``manual-stop``: found stopped after it was last seen running; ``gone``: a managed
    resource no longer found (deleted, or no longer carrying the tag), at the first pass that misses it;
    ``returned``: found again after that.
    """
    out: list[LedgerEntry] = []
    seen = set()

    def entry(action: str, at: str, rid: str, schedule: str | None, instance_type: str | None) -> None:
        out.append(
            {
                "target": target.key,
                "account": target.account,
                "region": target.region,
                "service": target.service,
                "at": at,
                "resource": rid,
                "schedule": schedule,
                "action": action,
                "instance_type": instance_type,
            }
        )

    for i in items:
        res = i.resource
        seen.add(res.id)
        rec = i.record
        if rec is None:
            continue
        if rec.gone_at:
            entry("returned", now_text, res.id, res.schedule, res.instance_type)
        was, now = _settled(rec.observed), res.observed.settled
        if was is State.STOPPED and now is State.RUNNING:
            if i.decision is not None and i.decision.action in ("start", "resize") and i.decision.acts:
                continue
            when = now_text
            launched = common(res.details).get("launch_time")
            since = rec.last_seen_at or rec.last_action_at
            if launched is not None and since and _between(since, launched, now_text):
                when = instant_text(parse_instant(launched))
            entry("manual-start", when, res.id, res.schedule, res.instance_type)
        elif was is State.RUNNING and now is State.STOPPED:
            when = now_text
            stopped = common(res.details).get("stopped_at")  # EC2 says when (StateTransitionReason)
            since = rec.last_seen_at or rec.last_action_at
            if stopped is not None and since and _between(since, stopped, now_text):
                when = instant_text(parse_instant(stopped))
            entry("manual-stop", when, res.id, res.schedule, res.instance_type)
    for rid, rec in records.items():
        if rid in seen or rec.gone_at:
            continue
        entry("gone", now_text, rid, rec.schedule, rec.instance_type)
    return out


def _settled(observed: str | None) -> State | None:
    try:
        return Observed(observed).settled if observed else None
    except ValueError:
        return None


def _between(since: str, text: str, until: str) -> bool:
    """Whether the instant ``text`` is after ``since`` and not after ``until`` (stored instants, of any format
    written so far: compared as instants, never as strings); False when one cannot be read."""
    try:
        return parse_instant(since) < parse_instant(text) <= parse_instant(until)
    except ValueError:
        return False


def _ledger_draft(target: Target, i: _Item, now_text: str) -> LedgerEntry:
    """The ledger entry an action will have, before its result is known (the intent's copy)."""
    d = i.decision
    assert d is not None
    res = i.resource
    entry: LedgerEntry = {
        "at": now_text,
        "target": target.key,
        "account": target.account,
        "region": target.region,
        "service": target.service,
        "resource": res.id,
        "schedule": res.schedule,
        "action": d.action,
        "instance_type": d.instance_type or res.instance_type,
        "details": {**{k: v for k, v in res.details.items() if k != "saved_capacity"}, "tags": _stored_tags(res.tags)},
    }
    if d.action == "resize":
        entry["previous_instance_type"] = res.instance_type
    if d.maintenance is not None:
        entry["reason"] = d.reason
        entry["maintenance"] = hold_data(d.maintenance)
    if d.rule in ("override", "override-end"):
        entry["rule"] = d.rule
        if d.rule == "override" and i.override is not None:
            entry["override"] = i.override.value
    return entry


STORED_TAGS_MAX = 2048  # characters of JSON: tags beyond it (Name first) are not stored


def _stored_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The resource's own tags as stored with its record and ledger entries (for reports): Name first, then the
    others by key, leaving out AWS's (``aws:``) and isched's (``isched:``), up to :data:`STORED_TAGS_MAX`."""
    out: dict[str, str] = {}
    size = 2
    for k in sorted(tags, key=lambda k: (k != "Name", k)):
        if k.startswith(("aws:", "isched:")):
            continue
        size += len(k) + len(str(tags[k])) + 8
        if size > STORED_TAGS_MAX:
            break
        out[k] = str(tags[k])
    return out


def _ledger_entry(target: Target, i: _Item, now_text: str, simulated: bool = False) -> LedgerEntry:
    assert i.result is not None
    entry = _ledger_draft(target, i, now_text)
    entry["instance_type"] = i.result.details.get("instance_type") or i.resource.instance_type
    if i.result.details.get("saved_capacity"):
        entry["capacity"] = i.result.details["saved_capacity"]
    if i.result.details.get("billing_while_stopped"):
        # What the adapter found still billing after the stop (EC2: volumes, Elastic IPs), for the report.
        entry["details"] = {**entry["details"], "billing_while_stopped": i.result.details["billing_while_stopped"]}
    if simulated:
        entry["simulated"] = True  # taken by a pass ahead of the real clock, dated as that pass
    return entry


def _info_tags(acting: list[_Item], now_text: str) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    stamp = iso_z(parse_instant(now_text))
    for i in acting:
        if i.decision is None or i.result is None:
            continue
        if i.result.ok:
            tags[i.resource.id] = {LAST_ACTION_TAG: f"{i.decision.action} {stamp}"}
        else:
            text = f"{i.decision.action} failed {stamp}: {i.result.error or ''}"
            tags[i.resource.id] = {LAST_ERROR_TAG: _tag_safe(text)[:MAX_TAG_VALUE]}
    return tags


def _tag_safe(text: str) -> str:
    # RDS and Auto Scaling accept only letters, digits, spaces and _ . : / = + - @ in tag values.
    return "".join(c if c.isalnum() or c in " _.:/=+-@" else " " for c in text)
