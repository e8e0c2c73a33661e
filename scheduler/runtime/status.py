"""What ``isched status`` shows: each managed resource with its schedule, actual and stored state, last action
and the next transition of its schedule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from scheduler.aws.accounts import AccountSessions
from scheduler.engine import OVERRIDE_TAG, Config, Evaluator, iso_z, parse_override
from scheduler.engine.errors import FieldError
from scheduler.services.registry import make_adapter
from scheduler.store.state import StateStore, Target


def target_status(
    target: Target, at: datetime, config: Config, sessions: AccountSessions, state: StateStore, tag_key: str
) -> tuple[list[dict[str, Any]], str | None]:
    """Rows for one target, or an error text when the target cannot be read."""
    try:
        adapter = make_adapter(target.service, target.region, sessions.session(target.account))
        resources = adapter.discover(tag_key)
        records, info = state.load_all(target)
    except Exception as exc:
        return [], f"{type(exc).__name__}: {exc}"
    problem = None
    if info.skipping():
        assert info.skipped_at is not None
        problem = (
            f"passes are being skipped: {info.skips or 1} since the last completed pass"
            f" ({iso_z(info.completed_at) if info.completed_at else 'none'}), the latest at {iso_z(info.skipped_at)}:"
            f" {info.skip_reason or 'already claimed'}"
        )
    evaluators: dict[str, Evaluator] = {}
    rows = []
    for res in resources:
        rec = records.get(res.id)
        row: dict[str, Any] = {
            "account": target.account,
            "region": target.region,
            "service": target.service,
            "resource": res.id,
            "schedule": res.schedule,
            "state": res.observed.value,
            "type": res.instance_type,
            "desired": rec.desired if rec else None,
            "last_action": rec.last_action if rec else None,
            "last_action_at": rec.last_action_at if rec else None,
            "last_error": rec.last_error if rec else None,
            "schedule_state": None,
            "next_action": None,
            "next_at": None,
            "problem": res.unschedulable,
            **_override_fields(res.tags.get(OVERRIDE_TAG), at),
        }
        if res.schedule in config.schedules:
            ev = evaluators.get(res.schedule)
            if ev is None:
                ev = evaluators[res.schedule] = Evaluator.from_config(config, res.schedule)
            row["schedule_state"] = ev.state_at(at).value
            nxt = ev.next_transition(at)
            if nxt is not None:
                row["next_action"] = nxt.action
                row["next_at"] = iso_z(nxt.at)
        elif not res.unschedulable:
            row["problem"] = f"unknown schedule '{res.schedule}'"
        if row["override_error"] and not row["problem"]:
            row["problem"] = row["override_error"]
        rows.append(row)
    return rows, problem


def _override_fields(text: str | None, at: datetime) -> dict[str, Any]:
    """A row's override columns: the tag's value as written, the state it keeps and until when, whether it has
    expired (the next pass removes it), or why it is malformed (the resource follows its schedule)."""
    out: dict[str, Any] = {
        "override": text,
        "override_state": None,
        "override_until": None,
        "override_expired": None,
        "override_error": None,
    }
    if text is None:
        return out
    try:
        o = parse_override(text)
    except FieldError as exc:
        out["override_error"] = f"tag {OVERRIDE_TAG}: {exc}"
        return out
    out["override_state"] = o.state.value
    out["override_until"] = iso_z(o.until) if o.until else None
    out["override_expired"] = not o.active(at)
    return out


def fleet_status(
    targets: Sequence[Target], at: datetime, config: Config, sessions: AccountSessions, state: StateStore, tag_key: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from concurrent.futures import ThreadPoolExecutor

    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(targets)))) as pool:
        for target, (got, err) in zip(
            targets, pool.map(lambda t: target_status(t, at, config, sessions, state, tag_key), targets), strict=True
        ):
            rows.extend(got)
            if err:
                errors.append(
                    {"account": target.account, "region": target.region, "service": target.service, "error": err}
                )
    return rows, errors
