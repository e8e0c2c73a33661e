"""The worker function: one scheduling pass for one target (account, region, service).

Retry policy. Lambda retries a failed asynchronous invocation twice, so this handler raises only where a retry
can succeed: throttling of the whole target past botocore's retries, or DynamoDB / the service being unreachable.
It does not raise for per-resource errors (reported, and retried by the next pass), for errors a retry would
repeat (access denied, a missing spoke role or table, a malformed payload), nor for a duplicate invocation whose
pass was already claimed (logged and returned). Before raising, it releases its claim on the pass, so the retry
is not mistaken for a duplicate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from scheduler.aws.accounts import AccountSessions, AssumeRoleError
from scheduler.engine import Config, iso_z
from scheduler.runtime.adapters import make_adapter
from scheduler.runtime.lambda_invoker import PayloadError, WorkerPayload
from scheduler.runtime.worker import WorkerResult, run_worker
from scheduler.store.config import ConfigStore, StoreError
from scheduler.store.state import PASS_ITEM, StateStore, Target
from scheduler.store.tables import Tables

from .common import is_retryable, make_logger, make_metrics, make_tracer, publish_worker_metrics, real_errors
from .events import WorkerSettings

logger = make_logger("isched-worker")
metrics = make_metrics()
tracer = make_tracer("isched-worker")

REJECTED_SERVICE = "payload"  # the metrics dimension of payloads too malformed to name their service


class RetryableError(Exception):
    """Raised to make Lambda retry the invocation; wraps the cause."""


def _load_config(payload: WorkerPayload, tables: Tables) -> Config:
    if payload.config is not None:
        return payload.config
    if payload.config_table != tables.names.config:
        raise PayloadError(
            "config_ref.table",
            f"'{payload.config_table}' is not this deployment's config table ('{tables.names.config}')",
        )
    return ConfigStore(tables).load()


def _release_claim(state: StateStore, target: Target, at: datetime) -> None:
    """Withdraws this invocation's claim on the pass (only if it is still ours), so Lambda's retry can run it.

    The stamp format is the state store's fixed-width UTC text, which its conditions compare.
    """
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    model = state.model
    try:
        model(target.key, PASS_ITEM).update(actions=[model.claimed_at.remove()], condition=model.claimed_at == stamp)
    except UpdateError as exc:
        # Not ours (never claimed, or a later pass claimed since), or DynamoDB is down: the next pass catches up.
        logger.warning(f"{target}: could not release the claim on the pass at {stamp}: {exc}")


def _failed(target: Target, at: datetime, text: str) -> WorkerResult:
    res = WorkerResult(target, at)
    res.error(None, text)
    return res


def _result_json(result: WorkerResult, payload: WorkerPayload) -> dict[str, Any]:
    return {
        "status": "skipped" if result.skipped else "done",
        "target": str(result.target),
        "at": iso_z(result.at),
        "dry_run": payload.dry_run,
        "managed": result.managed,
        "actions": [{**a.to_json(), "ok": a.ok, **({"error": a.error} if a.error else {})} for a in result.actions],
        "errors": [e.to_json() for e in result.errors],
        "skipped": result.skipped,
    }


def process(
    event: object,
    *,
    sessions: AccountSessions | None = None,
    tables: Tables | None = None,
    adapter_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validates the payload and runs the pass; see the module docstring for what raises."""
    try:
        payload = WorkerPayload.from_json(event)
    except PayloadError as exc:
        logger.error(f"rejected payload: {exc}", extra={"field": exc.field})
        publish_worker_metrics(metrics, REJECTED_SERVICE, None, 1)
        return {"status": "rejected", "error": str(exc)}

    target = payload.target
    logger.append_keys(target=str(target), pass_at=iso_z(payload.at), pass_id=payload.pass_id)
    tracer.put_annotation("target", str(target))
    settings = WorkerSettings.from_env()
    # The tables live in the hub's region (the function's own), whatever the target's region.
    tables = tables or Tables.for_namespace(settings.namespace)
    state = StateStore(tables)
    sessions = sessions or AccountSessions(role_name=settings.role_name, external_id=settings.external_id)
    result: WorkerResult
    try:
        config = _load_config(payload, tables)
        session = sessions.session(target.account)
        options = {"snapshot_before_stop": settings.rds_snapshot, **(adapter_options or {})}
        adapter = make_adapter(target.service, target.region, session, **options)
        result = run_worker(
            target,
            payload.at,
            config,
            adapter,
            state,
            tag_key=payload.tag_key,
            dry_run=payload.dry_run,
            logger=logger,
        )
    except PayloadError as exc:
        logger.error(f"rejected payload: {exc}", extra={"field": exc.field})
        result = _failed(target, payload.at, str(exc))
    except (AssumeRoleError, StoreError) as exc:
        if is_retryable(exc):
            publish_worker_metrics(metrics, target.service, None, 1)
            raise RetryableError(str(exc)) from exc
        logger.error(str(exc))
        result = _failed(target, payload.at, str(exc))
    except Exception as exc:
        if is_retryable(exc):
            logger.exception(f"{target}: retryable failure, releasing the pass for Lambda's retry")
            if not payload.dry_run:
                _release_claim(state, target, payload.at)
            publish_worker_metrics(metrics, target.service, None, 1)
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
        logger.exception(f"{target}: the pass failed")
        result = _failed(target, payload.at, f"{type(exc).__name__}: {exc}")

    body = _result_json(result, payload)
    if result.skipped:
        # A duplicate delivery (Lambda may deliver an async event more than once) or a duplicated orchestrator
        # run: the pass is someone else's. Not an error, no metrics, nothing to retry.
        logger.info(f"{target}: duplicate invocation, pass already claimed", extra={"skipped": result.skipped})
        return body
    for err in result.errors:
        logger.error(f"{err.resource or target}: {err.error}", extra=err.to_json())
    publish_worker_metrics(metrics, target.service, result, real_errors(result), dry_run=payload.dry_run)
    logger.info(
        f"{target}: {result.managed} managed, {len(result.actions)} actions, {len(result.errors)} errors",
        extra={k: v for k, v in body.items() if k not in ("actions", "errors")},
    )
    return body


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any, sessions: AccountSessions | None = None) -> dict[str, Any]:
    """Lambda entry point. ``sessions`` is for tests (e.g. an STS that refuses one account's role)."""
    return process(event, sessions=sessions)
