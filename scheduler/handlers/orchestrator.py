"""The orchestrator function: triggered by the pass schedule (or a wake-up), it fans one pass out to a worker per
target, then schedules the next wake-up.

It reads its settings and the schedules once, lists the targets (accounts × regions × services; accounts from
``ISCHED_ACCOUNTS`` and/or the ACTIVE accounts of ``ISCHED_ORGANIZATION_ID``), keeps those with something to do
(``ISCHED_TARGET_LOOKUP``, see :mod:`scheduler.runtime.targets`) and sends one message per target to the worker
queue (``ISCHED_WORKER_QUEUE``, ten to a batch), or one asynchronous worker invocation per target without a queue.
It raises (so Lambda retries and the alarm fires) only when the pass cannot start at all. Its metrics (one EMF line
a pass): ``targets`` configured, ``invoked`` (messages or invocations sent), ``refused`` sends, ``lookup_failures``
and ``duration`` (ms).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3

from scheduler.aws.accounts import AccountSessions, warm_sessions
from scheduler.aws.session import client
from scheduler.engine import iso_z
from scheduler.runtime.deployment import Deployment
from scheduler.runtime.lambda_invoker import LambdaInvoker, PayloadBuilder, SubmittedResult
from scheduler.runtime.orchestrator import Invoker, PassRequest, PassResult, run_pass, targets_for
from scheduler.runtime.sqs_invoker import SqsInvoker
from scheduler.runtime.targets import Selection, lookup_sessions, select_targets
from scheduler.store.pass_scope import publish_scope
from scheduler.store.tables import Tables

from . import common
from .common import SettingsError, make_logger, make_metrics, make_tracer, publish_orchestrator_metrics
from .events import OrchestratorSettings, ScheduledEvent
from .wakeup import schedule_wake_up

logger = make_logger("isched-orchestrator")
tracer = make_tracer("isched-orchestrator")
metrics = make_metrics()


def organization_accounts(organization_id: str, session: boto3.Session | None = None) -> list[str]:
    """The ACTIVE accounts of the organization (ListAccounts, every page), checked to be the caller's organization.

    ListAccounts answers only in the management account or a delegated administrator; the hub runs there or
    lists accounts explicitly in ``ISCHED_ACCOUNTS``.
    """
    org = client("organizations", session=session)
    actual = org.describe_organization()["Organization"]["Id"]
    if actual != organization_id:
        raise SettingsError(
            "ISCHED_ORGANIZATION_ID", f"'{organization_id}' is not the organization of this account ({actual})"
        )
    accounts: list[str] = []
    for page in org.get_paginator("list_accounts").paginate():
        for account in page.get("Accounts", []):
            # "Status" is being replaced by "State" in the Organizations API; either says ACTIVE.
            if (account.get("State") or account.get("Status")) == "ACTIVE":
                accounts.append(str(account["Id"]))
    return accounts


@tracer.capture_method
def resolve_accounts(settings: OrchestratorSettings, sessions: AccountSessions) -> list[str]:
    accounts = list(settings.accounts)
    if settings.organization_id:
        accounts += organization_accounts(settings.organization_id, sessions.base)
    if not accounts:
        accounts = [sessions.hub_account]
    return list(dict.fromkeys(accounts))


def orchestrate(
    event: object,
    *,
    settings: OrchestratorSettings | None = None,
    invoker: Invoker | None = None,
    sessions: AccountSessions | None = None,
    tables: Tables | None = None,
    now: datetime | None = None,
    lookup_sessions_: AccountSessions | None = None,
) -> dict[str, Any]:
    """One pass: ``invoker`` defaults to :class:`SqsInvoker` on ``ISCHED_WORKER_QUEUE``, else
    :class:`LambdaInvoker` on ``ISCHED_WORKER_FUNCTION``; ``now`` is the real clock (tests set it);
    ``lookup_sessions_`` (tests) assume the lookup role. With wake-ups configured, it then schedules the wake-up at
    the next transition before the next regular pass (:mod:`scheduler.handlers.wakeup`)."""
    started = time.perf_counter()
    settings = settings or OrchestratorSettings.from_env()
    real_now = (now or common.real_clock()).astimezone(UTC)
    scheduled = ScheduledEvent.from_event(event, now=real_now)
    deployment = Deployment.build(
        tables,
        namespace=os.environ.get("ISCHED_NAMESPACE") or "default",
        sessions=sessions,
        role_name=settings.role_name,
        external_id=settings.external_id,
        tag_key=settings.tag_key,
        default_timezone=settings.default_timezone,
    )
    sessions, tables = deployment.sessions, deployment.tables
    # Read once per pass, here. A partly invalid stored configuration does not stop the pass: the valid
    # schedules are scheduled, and each item left out is reported as an error naming it.
    config, issues = deployment.config.load_partial()
    for issue in issues:
        logger.error(f"stored configuration: {issue}", extra={"path": issue.path})
    accounts = resolve_accounts(settings, sessions)
    targets = targets_for(accounts, settings.regions, settings.services)
    # What this pass vouches for: its workers act only on these targets and on this configuration.
    publish_scope(tables, config, accounts, settings.regions, settings.services, scheduled.at, settings.tag_key)
    request = PassRequest(at=scheduled.at, tag_key=settings.tag_key)
    logger.append_keys(pass_at=iso_z(scheduled.at), pass_id=scheduled.id)
    if settings.target_lookup:
        selection = select_targets(
            targets,
            lookup_sessions_ or lookup_sessions(sessions, settings.lookup_role_name),
            deployment.state,
            settings.tag_key,
            max_workers=settings.lookup_concurrency,
        )
        if selection.problems:
            # One line for all of them: a fleet of spokes without the lookup role must not flood the logs.
            logger.warning(
                f"target look-up failed for {len(selection.problems)} account/region(s): their targets are invoked",
                extra={"problems": selection.problems[:10]},
            )
    else:
        selection = Selection.everything(targets)
    if invoker is None:
        payloads = PayloadBuilder(config, tables.names.config, limit=settings.max_payload_bytes)
        if settings.worker_queue:
            invoker = SqsInvoker(settings.worker_queue, payloads, pass_id=scheduled.id, logger=logger)
        elif settings.worker_function:
            invoker = LambdaInvoker(settings.worker_function, payloads, pass_id=scheduled.id, logger=logger)
        else:
            raise SettingsError(
                "ISCHED_WORKER_QUEUE",
                "is not set, nor ISCHED_WORKER_FUNCTION (the worker queue's URL, or the worker function's name or ARN)",
            )
    logger.info(
        f"{'wake-up' if scheduled.is_wake_up else 'pass'} at {iso_z(scheduled.at)}: "
        f"{len(selection.targets)} of {len(targets)} targets",
        extra={
            "accounts": len(accounts),
            "regions": list(settings.regions),
            "services": list(settings.services),
            "schedules": len(config.schedules),
            "lookup": selection.to_json(),
        },
    )
    result = run_pass(invoker, selection.targets, request)
    summary = _summary(result, accounts, settings, targets)
    summary["lookup"] = selection.to_json()
    summary["errors"] = [
        {"account": None, "region": None, "service": None, "resource": None, "error": f"stored configuration: {i}"}
        for i in issues
    ] + summary["errors"]
    for err in result.to_json()["errors"]:
        logger.error(f"{err['account']}/{err['region']}/{err['service']}: {err['error']}", extra=err)
    if settings.wake_up is not None:
        wake = schedule_wake_up(config, scheduled.at, settings.wake_up, now=real_now, session=sessions.base)
        summary["wake_up"] = wake.to_json()
        if wake.status == "failed":
            # Not fatal: the next regular pass acts on the transition, only later.
            logger.error(f"the wake-up at {iso_z(wake.at) if wake.at else '?'} could not be scheduled: {wake.error}")
            summary["errors"].append(
                {
                    "account": None,
                    "region": None,
                    "service": None,
                    "resource": None,
                    "error": f"wake-up not scheduled: {wake.error}",
                }
            )
        elif wake.status != "none":
            logger.info(f"wake-up {wake.status}", extra={"wake_up": summary["wake_up"]})
    duration_ms = (time.perf_counter() - started) * 1000
    summary["duration_ms"] = round(duration_ms)
    publish_orchestrator_metrics(
        metrics,
        targets=len(targets),
        invoked=summary["submitted"],
        refused=sum(1 for r in result.results if isinstance(r, SubmittedResult) and not r.submitted),
        lookup_failures=selection.unknown,
        duration_ms=duration_ms,
    )
    logger.info("pass submitted", extra={k: v for k, v in summary.items() if k not in ("actions", "errors")})
    return summary


def _summary(
    result: PassResult, accounts: Sequence[str], settings: OrchestratorSettings, targets: Sequence[object]
) -> dict[str, Any]:
    body = result.to_json()
    submitted = [r for r in result.results if isinstance(r, SubmittedResult)]
    payload: str | None = None
    if submitted:
        payload = "inline" if submitted[0].inline_config else "reference"
    return {
        "at": body["at"],
        "accounts": len(accounts),
        "regions": list(settings.regions),
        "services": list(settings.services),
        "targets": len(targets),
        "submitted": sum(1 for r in submitted if r.submitted),
        "completed": len(result.results) - len(submitted),
        "payload": payload,
        "actions": body["actions"],
        "errors": body["errors"],
    }


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(
    event: dict[str, Any], context: Any, invoker: Invoker | None = None, sessions: AccountSessions | None = None
) -> dict[str, Any]:
    """Lambda entry point. ``invoker``/``sessions`` are for tests (moto runs no Lambda code). A warm container
    reuses its sessions; the hub account is the one in the function's own ARN (no GetCallerIdentity)."""
    settings = OrchestratorSettings.from_env()
    if sessions is None:
        arn = getattr(context, "invoked_function_arn", None)
        sessions = warm_sessions(settings.role_name, settings.external_id, arn if isinstance(arn, str) else None)
    return orchestrate(event, settings=settings, invoker=invoker, sessions=sessions)
