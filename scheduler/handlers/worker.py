"""The worker function: one scheduling pass for one target (account, region, service).

Retry policy. Lambda retries a failed asynchronous invocation twice, so this handler raises only where a retry
can succeed: throttling of the whole target past botocore's retries, or DynamoDB / the service being unreachable.
It does not raise for per-resource errors (reported, and retried by the next pass), for errors a retry would
repeat (access denied, a missing spoke role or table, a malformed payload), nor for a duplicate invocation whose
pass was already claimed (logged and returned). Before raising, it releases its claim on the pass, so the retry
is not mistaken for a duplicate.

From the worker queue (an SQS event source mapping with ``ReportBatchItemFailures``) each message is one payload,
processed with Powertools' ``BatchProcessor``: a message whose pass raised a retryable error is reported as a batch
item failure, so SQS delivers it again after its visibility timeout and moves it to the dead-letter queue after the
queue's ``maxReceiveCount``; the others of the batch are done. A refused message (not JSON, malformed, a target,
tag key or time outside the orchestrator's pass scope, a forged configuration reference) is dropped, not failed:
it is logged as an error and counted in the ``errors`` metric (dimension ``service`` = ``payload``, alarmed), because
every redelivery would be refused the same way and the dead-letter queue is kept for passes worth replaying.
The same trust checks apply to a message as to a direct invocation: it is the same payload and the same code.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pynamodb.exceptions import UpdateError

from scheduler.aws.accounts import AccountSessions, AssumeRoleError, warm_sessions
from scheduler.engine import Config, iso_z
from scheduler.runtime.deployment import Deployment
from scheduler.runtime.lambda_invoker import PayloadError, WorkerPayload
from scheduler.runtime.notify import EventBridgeSink, publish_outcome
from scheduler.runtime.worker import CLOCK_SKEW, MAX_EVENT_AGE, WorkerResult, invalid_schedules
from scheduler.store.config import StoreError
from scheduler.store.pass_scope import PassScope, config_digest, read_scope
from scheduler.store.state import StateStore, Target
from scheduler.store.tables import Tables

from . import common
from .common import (
    is_retryable,
    make_logger,
    make_metrics,
    make_tracer,
    publish_skip_metric,
    publish_worker_metrics,
    real_errors,
)
from .events import WorkerSettings

logger = make_logger("isched-worker")
metrics = make_metrics()
tracer = make_tracer("isched-worker")

REJECTED_SERVICE = "payload"  # the metrics dimension of payloads too malformed to name their service


class RetryableError(Exception):
    """Raised to make Lambda retry the invocation; wraps the cause."""


def _load_config(payload: WorkerPayload, deployment: Deployment, scope: PassScope) -> tuple[Config, dict[str, str]]:
    """The pass's configuration: inline when the orchestrator vouched for it (same digest), else the table's;
    either way evaluated with this deployment's default zone (a setting, not part of the digest)."""
    tables = deployment.tables
    if payload.config is not None:
        if config_digest(payload.config) == scope.digest:
            return replace(payload.config, default_timezone=deployment.default_timezone), {}
        logger.warning(
            "the payload's configuration is not the one the orchestrator recorded for its pass: using the "
            "config table's",
            extra={"scope_at": scope.at},
        )
    elif payload.config_table != tables.names.config:
        raise PayloadError(
            "config_ref.table",
            f"'{payload.config_table}' is not this deployment's config table ('{tables.names.config}')",
        )
    config, issues = deployment.config.load_partial()
    return config, invalid_schedules(issues)


def _check_scope(payload: WorkerPayload, tables: Tables, now: datetime) -> PassScope:
    """Refuses a payload the orchestrator cannot have sent: a pass time ahead of the real clock, or a target
    outside the scope it recorded."""
    if payload.at > now + CLOCK_SKEW:
        raise PayloadError("at", f"'{iso_z(payload.at)}' is ahead of the real clock ({iso_z(now)})")
    if payload.at < now - MAX_EVENT_AGE:
        raise PayloadError("at", f"'{iso_z(payload.at)}' is more than {MAX_EVENT_AGE} before the real clock")
    scope = read_scope(tables)
    if scope is None:
        raise PayloadError("target", "no pass scope is recorded in the config table: the orchestrator has not run")
    t = payload.target
    refusal = scope.refuses(t.account, t.region, t.service, payload.tag_key, payload.at)
    if refusal is not None:
        field, _, message = refusal.partition(": ")
        raise PayloadError(field, message)
    return scope


def _release_claim(state: StateStore, target: Target, at: datetime) -> None:
    """Withdraws this invocation's claim on the pass (only if it is still ours), so Lambda's retry can run it."""
    try:
        state.release_claim(target, at)
    except UpdateError as exc:
        # Not ours (never claimed, or a later pass claimed since), or DynamoDB is down: the next pass catches up.
        logger.warning(f"{target}: could not release the claim on the pass at {iso_z(at)}: {exc}")


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


def _reject(exc: PayloadError) -> dict[str, Any]:
    # Not raised: a retry would be refused the same way (no retry storm).
    logger.error(f"rejected payload: {exc}", extra={"field": exc.field})
    publish_worker_metrics(metrics, REJECTED_SERVICE, None, 1)
    return {"status": "rejected", "error": str(exc)}


def process(
    event: object,
    *,
    sessions: AccountSessions | None = None,
    tables: Tables | None = None,
    adapter_options: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Validates the payload and runs the pass; see the module docstring for what raises.

    ``now`` is the real clock (tests set it); nothing in the payload can move it.
    """
    try:
        payload = WorkerPayload.from_json(event)
    except PayloadError as exc:
        return _reject(exc)

    target = payload.target
    logger.append_keys(target=str(target), pass_at=iso_z(payload.at), pass_id=payload.pass_id)
    tracer.put_annotation("target", str(target))
    settings = WorkerSettings.from_env()
    # The tables live in the hub's region (the function's own), whatever the target's region.
    deployment = Deployment.build(
        tables,
        namespace=settings.namespace,
        sessions=sessions,
        role_name=settings.role_name,
        external_id=settings.external_id,
        adapter_options={"snapshot_before_stop": settings.rds_snapshot, **(adapter_options or {})},
        tag_key=payload.tag_key,
        default_timezone=settings.default_timezone,
    )
    tables = deployment.tables
    # Events go to the hub's bus with the worker's own (hub) credentials, never the spoke role's.
    sink = EventBridgeSink(settings.event_bus, deployment.sessions.base) if settings.event_bus else None
    real = (now or common.real_clock()).astimezone(UTC)
    try:
        scope = _check_scope(payload, tables, real)
    except PayloadError as exc:
        return _reject(exc)
    except Exception as exc:  # the config table could not be read
        if is_retryable(exc):
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
        logger.exception(f"{target}: the pass scope could not be read")
        return {"status": "failed", "target": str(target), "error": f"{type(exc).__name__}: {exc}"}
    state = deployment.state
    result: WorkerResult
    try:
        config, invalid = _load_config(payload, deployment, scope)
        result = deployment.run_target(
            target,
            payload.at,
            config,
            tag_key=payload.tag_key,
            dry_run=payload.dry_run,
            logger=logger,
            now=real,
            invalid_schedules=invalid,
            events=sink,
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
        # A duplicate delivery (Lambda may deliver an async event more than once) or an overlapping later pass:
        # the pass is someone else's, nothing to retry. Counted (metric "skipped", recorded on the target's pass
        # item for `isched status`), because a target whose passes keep being skipped needs someone's attention.
        logger.warning(f"{target}: pass already claimed: skipped", extra={"skipped": result.skipped})
        publish_skip_metric(metrics, target.service)
        return body
    publish_outcome(sink, result, dry_run=payload.dry_run)
    body["errors"] = [e.to_json() for e in result.errors]  # with any event that could not be published
    for err in result.errors:
        logger.error(f"{err.resource or target}: {err.error}", extra=err.to_json())
    publish_worker_metrics(metrics, target.service, result, real_errors(result), dry_run=payload.dry_run)
    # The pass's summary line was logged by the worker itself (one per target and pass).
    return body


def is_queue_event(event: object) -> bool:
    """Whether ``event`` is a batch of SQS messages (the event source mapping's), not a direct payload."""
    if not isinstance(event, dict):
        return False
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def process_queue_batch(
    event: dict[str, Any],
    context: Any = None,
    *,
    sessions: AccountSessions | None = None,
    tables: Tables | None = None,
    adapter_options: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Runs each message's pass; answers ``{"batchItemFailures": [{"itemIdentifier": message id}, ...]}`` for the
    messages to deliver again (see the module docstring)."""

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        try:
            payload = json.loads(record.body)
        except ValueError:
            return _reject(PayloadError("", f"message {record.message_id[:80]!r} is not JSON"))
        return process(payload, sessions=sessions, tables=tables, adapter_options=adapter_options, now=now)

    # A processor per batch: it keeps the batch's successes and failures.
    processor = BatchProcessor(event_type=EventType.SQS)
    answer = process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    return dict(answer)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any, sessions: AccountSessions | None = None) -> dict[str, Any]:
    """Lambda entry point: a batch from the worker queue, or one payload invoked directly. ``sessions`` is for tests
    (e.g. an STS that refuses one account's role).

    A warm container reuses its sessions, clients and assumed-role credentials (see
    :func:`scheduler.aws.accounts.warm_sessions`), for every message of a batch too; the hub account is the one in
    the function's own ARN.
    """
    if sessions is None:
        settings = WorkerSettings.from_env()
        arn = getattr(context, "invoked_function_arn", None)
        sessions = warm_sessions(settings.role_name, settings.external_id, arn if isinstance(arn, str) else None)
    if is_queue_event(event):
        return process_queue_batch(event, context, sessions=sessions)
    return process(event, sessions=sessions)
