"""The worker: one scheduling pass for one target (account, region, service).

Load stored state (one query), discover tagged resources, evaluate each schedule once, decide each resource with
the pure engine, act in batches, then write state, ledger and informational tags in batches. Nothing that goes
wrong with one resource (an unknown schedule, a refused stop, throttling after retries) stops the others: it is
reported with the resource id and, for actions, retried on the next pass.

This module is the pass itself; its steps live beside it: :mod:`.results` (what a pass reports),
:mod:`.records` (the stored records, their write-ahead intents and their repair), :mod:`.ledger_entries`,
:mod:`.overrides`, :mod:`.windows` (maintenance windows) and :mod:`.execute` (the adapter's batches).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from scheduler.aws.accounts import AccountSessions
from scheduler.aws.session import counting_calls
from scheduler.engine import (
    Config,
    Evaluator,
    MaintenanceWindow,
    Observed,
    PassView,
    State,
    decide,
    instant_text,
    iso_z,
    parse_instant,
)
from scheduler.engine.errors import Issue
from scheduler.services.base import ServiceAdapter
from scheduler.services.details import common
from scheduler.services.registry import make_adapter
from scheduler.store.state import LedgerEntry, PassAlreadyClaimed, ResourceRecord, StateStore, Target

from .execute import LAST_ACTION_TAG, LAST_ERROR_TAG, MAX_TAG_VALUE, execute, info_tags
from .items import Item
from .ledger_entries import STORED_TAGS_MAX, action_entry, observed_changes, override_changes
from .notify import Event, EventSink, announce, upcoming_stop
from .overrides import override_of, remove_expired_overrides
from .records import forget_future_decisions, live, record, repair, unchanged, with_intent
from .results import ActionRecord, ErrorRecord, Severity, WorkerResult, describe, pass_summary, summary_text
from .windows import maintenance_windows, ssm_windows

__all__ = [
    "CLOCK_SKEW",
    "LAST_ACTION_TAG",
    "LAST_ERROR_TAG",
    "MAX_EVENT_AGE",
    "MAX_TAG_VALUE",
    "PASS_LEASE",
    "STORED_TAGS_MAX",
    "ActionRecord",
    "DecisionLogger",
    "ErrorRecord",
    "Severity",
    "WorkerResult",
    "invalid_schedules",
    "pass_summary",
    "run_target",
    "run_worker",
]

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
    log.info(summary_text(result, seconds, calls), extra={"summary": pass_summary(result, seconds, calls, dry_run)})
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
                log.info(f"{target}: could not note the skipped pass: {describe(note_exc)}")
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
    forget_future_decisions(records, at)
    if last_pass is not None:
        adapter.events_since = last_pass  # RDS: look for its own 7-day restarts since the previous pass
    resources = adapter.discover(tag_key)
    result.managed = len(resources)
    for warning in adapter.warnings:
        result.error(None, warning, "warning")
    if not dry_run:
        repair(target, state, records, {r.id: r for r in resources}, result, log)
        forget_future_decisions(records, at)  # an intent repaired from a simulation is dated in the future too

    ssm = ssm_windows(target, config, resources, adapter, state, info, at, result, write=not (dry_run or simulated))
    items = _decide_all(
        [Item(res, records.get(res.id)) for res in resources],
        config,
        adapter,
        ssm,
        last_pass,
        at,
        result,
        log,
        tag_key=tag_key,
        invalid=invalid_schedules or {},
        dry_run=dry_run,
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
        state.save(target, [with_intent(target, i, now_text) for i in acting], at)
        execute(adapter, acting, records)
    for i in acting:
        ok = i.result is not None and i.result.ok
        _report_action(result, target, i, ok=ok)
        if ok and i.result is not None and i.result.warning:
            result.error(i.resource.id, i.result.warning, "warning")

    # Seen before the records are updated: what happened to the resources without the scheduler (for savings).
    # Not in a simulation: it would date today's observations in the simulated future.
    ledger = [] if simulated else observed_changes(target, items, records, now_text)
    if not simulated:
        ledger += override_changes(target, items, now_text)
    current = [record(i, now_text) for i in items]
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
        if rec.resource in acted or not unchanged(before.get(rec.resource), rec, volatile[rec.resource])
    ]
    for entry in ledger:
        if entry["action"] == "gone":
            records[entry["resource"]].gone_at = now_text
    seen = {i.resource.id for i in items}
    # Records of resources no longer found: written when this pass changed them (gone, repaired).
    new_records += [rec for rid, rec in records.items() if rid not in seen and not unchanged(before.get(rid), rec)]
    ledger += [action_entry(target, i, now_text, simulated) for i in acting if i.acted]
    writes_ok = _write_back(target, state, ledger, new_records, records, at, result)
    tags = info_tags(acting, now_text)
    if tags:
        try:
            for tag_result in adapter.set_tags(tags):
                if not tag_result.ok:
                    result.error(tag_result.resource, f"could not set informational tags: {tag_result.error}")
        except Exception as exc:
            result.error(None, f"could not set informational tags: {describe(exc)}")
    if not simulated:
        # Not in a simulation: the tag's end is relative to the real clock, which a simulation is ahead of.
        remove_expired_overrides(adapter, items, at, result)
    if simulated:
        return result
    try:
        if writes_ok:
            state.complete_pass(target, at, horizon, live=live(items, records, seen))
        else:
            state.release_lease(target, at)  # not completed: the next pass looks at these transitions again
    except Exception as exc:
        # The next pass looks at this pass's transitions again (after the lease, if it could not be released); the
        # stored decisions and intents keep it from acting twice.
        result.error(None, f"could not record the end of the pass ({describe(exc)}): the next pass re-checks it")
        with contextlib.suppress(Exception):
            state.release_lease(target, at)
    return result


def _write_back(
    target: Target,
    state: StateStore,
    ledger: list[LedgerEntry],
    new_records: list[ResourceRecord],
    records: Mapping[str, ResourceRecord],
    at: datetime,
    result: WorkerResult,
) -> bool:
    """Writes the pass's ledger entries, then the records; ledger entries that could not be written are kept in
    their resources' records, for the next pass to write. Whether the records were written."""
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
                f"({describe(exc)}): kept in the state table, written by the next pass",
            )
    try:
        state.save(target, new_records, at)
    except Exception as exc:
        result.error(
            None,
            f"could not write the state of {len(new_records)} resource(s) ({describe(exc)}): the actions above "
            "were taken; the next pass repairs the records",
        )
        return False
    return True


def _decide_all(
    items: list[Item],
    config: Config,
    adapter: ServiceAdapter,
    ssm: Mapping[str, list[MaintenanceWindow]],
    last_pass: datetime | None,
    at: datetime,
    result: WorkerResult,
    log: DecisionLogger,
    *,
    tag_key: str,
    invalid: Mapping[str, str],
    dry_run: bool,
) -> list[Item]:
    """Decides each item's resource with the engine (a resource that cannot be scheduled is reported instead, and
    left undecided); each decision is logged, at INFO only when it acts."""
    target = result.target
    views: dict[str, PassView] = {}
    for item in items:
        res = item.resource
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
        item.override = override_of(res, result)
        item.decision = decide(
            view,
            item.record.engine_state if item.record is not None else None,
            res.observed,
            # period@type is an instance type: services that cannot resize are never resized by the schedule.
            instance_type=res.instance_type if adapter.resizable else None,
            restarted_by_service=res.restarted_by_service,
            maintenance=maintenance_windows(res, config.schedules[res.schedule], ssm, at, result),
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
    return items


def _announce_stops(
    target: Target, items: list[Item], current: list[ResourceRecord], events: EventSink, result: WorkerResult
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


def _stop_to_announce(i: Item) -> datetime | None:
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


def _report_action(result: WorkerResult, target: Target, i: Item, *, ok: bool) -> None:
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


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _verify_last_start(item: Item, last_pass: datetime | None, result: WorkerResult) -> None:
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
