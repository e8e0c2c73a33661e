"""The worker: one scheduling pass for one target (account, region, service).

Load stored state (one query), discover tagged resources, evaluate each schedule once, decide each resource with
the pure engine, act in batches, then write state, ledger and informational tags in batches. Nothing that goes
wrong with one resource (an unknown schedule, a refused stop, throttling after retries) stops the others: it is
reported with the resource id and, for actions, retried on the next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from scheduler.engine import Config, Decision, Evaluator, Observed, PassView, State, decide, iso_z
from scheduler.services.base import ActionResult, Resource, ServiceAdapter
from scheduler.store.state import PassAlreadyClaimed, ResourceRecord, StateStore, Target

LAST_ACTION_TAG = "isched:last-action"
LAST_ERROR_TAG = "isched:last-error"
MAX_TAG_VALUE = 256


class DecisionLogger(Protocol):
    def info(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


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
        return {
            "account": self.account,
            "region": self.region,
            "service": self.service,
            "resource": self.resource,
            "schedule": self.schedule,
            "action": self.action,
            "reason": self.reason,
        }


@dataclass
class ErrorRecord:
    account: str
    region: str
    service: str
    resource: str | None
    error: str

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "service": self.service,
            "resource": self.resource,
            "error": self.error,
        }


@dataclass
class WorkerResult:
    target: Target
    at: datetime
    actions: list[ActionRecord] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    managed: int = 0
    pending: int = 0  # resources whose action failed or had to wait: the next pass retries them
    skipped: str | None = None  # why the whole target was skipped (pass already claimed)

    def error(self, resource: str | None, text: str) -> None:
        t = self.target
        self.errors.append(ErrorRecord(t.account, t.region, t.service, resource, text))


@dataclass
class _Item:
    resource: Resource
    record: ResourceRecord | None
    decision: Decision | None = None
    view: PassView | None = None
    result: ActionResult | None = None


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
) -> WorkerResult:
    """One pass for one target, as if at instant ``at``. ``dry_run`` decides and reports, writes nothing."""
    log = logger or logging.getLogger("isched.worker")
    result = WorkerResult(target, at)
    if not dry_run:
        try:
            state.claim_pass(target, at)
        except PassAlreadyClaimed as exc:
            result.skipped = str(exc)
            result.error(None, f"skipped: {exc}")
            return result
    records, last_pass = state.load(target)
    if last_pass is not None and last_pass >= at:
        last_pass = None  # only a dry run can look back in time: it sees no transitions then
    if last_pass is not None and hasattr(adapter, "events_since"):
        adapter.events_since = last_pass  # RDS: look for its own 7-day restarts since the previous pass
    resources = adapter.discover(tag_key)
    result.managed = len(resources)
    for warning in getattr(adapter, "warnings", None) or []:
        result.error(None, f"warning: {warning}")

    views: dict[str, PassView] = {}
    items: list[_Item] = []
    for res in resources:
        item = _Item(res, records.get(res.id))
        items.append(item)
        if res.unschedulable:
            result.error(res.id, res.unschedulable)
            continue
        if res.schedule not in config.schedules:
            result.error(res.id, f"unknown schedule '{res.schedule}' in tag {tag_key} (not in the configuration)")
            continue
        view = views.get(res.schedule)
        if view is None:
            # Each schedule is evaluated once per pass; every resource of it shares the answer.
            view = views[res.schedule] = Evaluator.from_config(config, res.schedule).pass_view(last_pass, at)
        item.view = view
        _verify_last_start(item, last_pass, result)
        item.decision = decide(
            view,
            item.record.engine_state if item.record is not None else None,
            res.observed,
            # period@type is an EC2 instance type: other services are never resized by the schedule.
            instance_type=res.instance_type if target.service == "ec2" else None,
            restarted_by_service=res.restarted_by_service,
        )
        d = item.decision
        log.info(
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
    if not dry_run:
        _execute(adapter, acting, records)
    now_text = at.astimezone(UTC).isoformat()
    for i in acting:
        dec = i.decision
        assert dec is not None
        ok = dry_run or (i.result is not None and i.result.ok)
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
    if dry_run:
        return result

    # Seen before the records are updated: what ended a scheduler stop without the scheduler (for savings).
    ledger = _ended_stops(target, items, records, now_text)
    before = {rid: _comparable(rec) for rid, rec in records.items()}
    # Only records whose content changed are written: a quiet pass costs no DynamoDB writes at all.
    current = [_record(i, at, now_text) for i in items]
    result.pending = sum(1 for rec in current if rec.pending)
    new_records = [rec for rec in current if before.get(rec.resource) != _comparable(rec)]
    for rec in ledger:
        if rec["action"] == "gone":
            gone = records[rec["resource"]]
            gone.gone_at = now_text
            new_records.append(gone)
    state.save(target, new_records, at)
    ledger += [_ledger_entry(target, i, now_text) for i in acting if i.result is not None and i.result.ok]
    if ledger:
        state.append_ledger(ledger)
    tags = _info_tags(acting, now_text)
    if tags:
        for tag_result in adapter.set_tags(tags):
            if not tag_result.ok:
                result.error(tag_result.resource, f"could not set informational tags: {tag_result.error}")
    state.complete_pass(target, at)
    return result


def _verify_last_start(item: _Item, last_pass: datetime | None, result: WorkerResult) -> None:
    """An instance started by the previous pass but found stopped again failed to start (e.g. a missing KMS grant)."""
    rec = item.record
    if rec is None or last_pass is None or rec.last_action not in ("start", "resize") or rec.last_action_at is None:
        return
    if datetime.fromisoformat(rec.last_action_at) != last_pass or item.resource.observed is not Observed.STOPPED:
        return
    reason = item.resource.details.get("state_reason") or {}
    code = str(reason.get("code", "")) if isinstance(reason, dict) else str(reason)
    if code == "Client.UserInitiatedShutdown":
        return  # someone stopped it by hand after the start: respected, not a failure
    message = reason.get("message", "") if isinstance(reason, dict) else ""
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


def _comparable(rec: ResourceRecord) -> dict[str, Any]:
    data = rec.to_data()
    data.pop("last_seen_at", None)
    return data


def _record(i: _Item, at: datetime, now_text: str) -> ResourceRecord:
    res = i.resource
    rec = i.record or ResourceRecord(resource=res.id, first_seen_at=now_text)
    rec.schedule = res.schedule
    rec.last_seen_at = now_text
    rec.gone_at = None
    rec.observed = res.observed.value
    rec.instance_type = res.instance_type
    rec.details = {k: v for k, v in res.details.items() if k not in ("saved_capacity",)}
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


def _ended_stops(
    target: Target, items: list[_Item], records: dict[str, ResourceRecord], now_text: str
) -> list[dict[str, Any]]:
    """Ledger entries for scheduler stops that ended without the scheduler.

    ``manual-start``: a resource the scheduler stopped was started by someone (at its launch time where the
    service reports one, else when seen). ``gone``: it no longer carries the tag or no longer exists.
    """
    out: list[dict[str, Any]] = []
    seen = set()
    base = {"target": target.key, "account": target.account, "region": target.region, "service": target.service}
    for i in items:
        seen.add(i.resource.id)
        rec = i.record
        if rec is None or rec.last_action != "stop" or rec.observed not in ("stopped", "stopping"):
            continue
        if i.resource.observed.settled is not State.RUNNING:
            continue
        if i.decision is not None and i.decision.action in ("start", "resize") and i.decision.acts:
            continue
        when = now_text
        launched = i.resource.details.get("launch_time")
        if isinstance(launched, str) and rec.last_action_at and rec.last_action_at < launched <= now_text:
            when = datetime.fromisoformat(launched).astimezone(UTC).isoformat()
        out.append(
            {
                **base,
                "at": when,
                "resource": i.resource.id,
                "schedule": i.resource.schedule,
                "action": "manual-start",
                "instance_type": i.resource.instance_type,
            }
        )
    for rid, rec in records.items():
        if rid in seen or rec.gone_at or rec.last_action != "stop":
            continue
        out.append(
            {
                **base,
                "at": now_text,
                "resource": rid,
                "schedule": rec.schedule,
                "action": "gone",
                "instance_type": rec.instance_type,
            }
        )
    return out


def _ledger_entry(target: Target, i: _Item, now_text: str) -> dict[str, Any]:
    d = i.decision
    assert d is not None and i.result is not None
    res = i.resource
    entry: dict[str, Any] = {
        "at": now_text,
        "target": target.key,
        "account": target.account,
        "region": target.region,
        "service": target.service,
        "resource": res.id,
        "schedule": res.schedule,
        "action": d.action,
        "instance_type": i.result.details.get("instance_type") or res.instance_type,
        "details": {k: v for k, v in res.details.items() if k != "saved_capacity"},
    }
    if i.result.details.get("saved_capacity"):
        entry["capacity"] = i.result.details["saved_capacity"]
    return entry


def _info_tags(acting: list[_Item], now_text: str) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    stamp = iso_z(datetime.fromisoformat(now_text))
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
