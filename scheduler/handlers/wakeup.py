"""One-time wake-ups: after each pass, the orchestrator asks EventBridge Scheduler to invoke it again at the next
transition that falls before the next regular pass (see :mod:`scheduler.engine.wakeup` for which one).

Each wake-up is a one-time schedule ``at(...)`` named after its instant (``wake-YYYYMMDDTHHMMZ``) in the stack's
schedule group, deleted by EventBridge Scheduler once it has fired (``ActionAfterCompletion=DELETE``). A name per
instant makes the call idempotent (every pass that asks for the same instant gets ``ConflictException``: it is
already there) and never races that deletion: a wake-up pass asking for the next wake-up creates another
schedule instead of updating the one being deleted. A wake-up that is no longer a transition (the configuration
changed) runs a pass that finds nothing to do. The regular passes remain the safety net: a wake-up that could not
be scheduled is an error in the pass's summary, and the next regular pass acts on the transition anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scheduler.aws.session import client
from scheduler.engine import Config, iso_z
from scheduler.engine.wakeup import Upcoming, evaluators, wake_up_at, wake_up_instant
from scheduler.services.common import aws_error

from .common import error_code
from .events import WAKE_UP_SOURCE, WakeUpSettings

# EventBridge Scheduler's own retries of a failed invocation (throttling): a wake-up older than this is superseded
# by the next regular pass anyway.
WAKE_UP_RETRY = {"MaximumEventAgeInSeconds": 300, "MaximumRetryAttempts": 2}
# The payload: EventBridge Scheduler replaces the <aws.scheduler.…> keywords when it invokes the orchestrator.
WAKE_UP_INPUT = json.dumps(
    {"source": WAKE_UP_SOURCE, "time": "<aws.scheduler.scheduled-time>", "id": "<aws.scheduler.execution-id>"}
)

Status = Literal["created", "exists", "none", "too-late", "failed"]


@dataclass(frozen=True)
class WakeUp:
    """What a pass did about its wake-up."""

    status: Status
    at: datetime | None = None  # the wake-up instant
    upcoming: Upcoming | None = None  # the transition it is for
    name: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "at": iso_z(self.at) if self.at else None, "name": self.name}
        if self.upcoming is not None:
            out["schedule"] = self.upcoming.schedule
            out["action"] = self.upcoming.transition.action
        if self.error:
            out["error"] = self.error
        return out


def wake_up_name(at: datetime) -> str:
    return f"wake-{at.astimezone(UTC):%Y%m%dT%H%MZ}"


def schedule_wake_up(
    config: Config,
    pass_at: datetime,
    settings: WakeUpSettings,
    *,
    now: datetime,
    session: boto3.Session | None = None,
    scheduler: Any = None,
) -> WakeUp:
    """Creates the wake-up the pass at ``pass_at`` needs (if any) and says what it did; never raises for AWS.

    ``now`` is the real clock; ``scheduler`` an EventBridge Scheduler client (default: one from ``session``)."""
    upcoming = wake_up_at(evaluators(config), pass_at, settings.interval)
    if upcoming is None:
        return WakeUp("none")
    at = wake_up_instant(upcoming)
    name = wake_up_name(at)
    if at <= now:
        # The pass ran late (past the transition already): the next regular pass catches it up.
        return WakeUp("too-late", at, upcoming, name)
    scheduler = scheduler or client("scheduler", session=session)
    try:
        scheduler.create_schedule(
            Name=name,
            GroupName=settings.group,
            ScheduleExpression=f"at({at.astimezone(UTC):%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            State="ENABLED",
            Description=f"isched wake-up: {upcoming.schedule} {upcoming.transition.action} at {iso_z(at)}",
            Target={
                "Arn": settings.target_arn,
                "RoleArn": settings.role_arn,
                "Input": WAKE_UP_INPUT,
                "RetryPolicy": WAKE_UP_RETRY,
            },
        )
    except ClientError as exc:
        if error_code(exc) == "ConflictException":
            return WakeUp("exists", at, upcoming, name)
        return WakeUp("failed", at, upcoming, name, aws_error(exc))
    except BotoCoreError as exc:
        return WakeUp("failed", at, upcoming, name, aws_error(exc))
    return WakeUp("created", at, upcoming, name)
