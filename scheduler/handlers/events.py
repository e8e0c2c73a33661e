"""Typed models of what the handlers receive: the EventBridge scheduled event and each function's settings.

Plain dataclasses with explicit validation (no pydantic: it is not a dependency of the Lambda package), each
error naming the field or variable and the offending value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from scheduler.aws.accounts import DEFAULT_ROLE_NAME
from scheduler.aws.session import default_region
from scheduler.engine import iso_z
from scheduler.engine.wakeup import ALLOWED_INTERVALS, check_interval
from scheduler.runtime.lambda_invoker import ASYNC_PAYLOAD_LIMIT
from scheduler.runtime.notify import check_bus
from scheduler.runtime.targets import DEFAULT_CONCURRENCY
from scheduler.runtime.worker import CLOCK_SKEW, MAX_EVENT_AGE

from . import common
from .common import SettingsError, env_accounts, env_regions, env_services


class EventError(ValueError):
    """The triggering event is not a scheduled event; names the field."""

    def __init__(self, field_path: str, message: str) -> None:
        self.field = field_path
        super().__init__(f"event.{field_path}: {message}")


# The ``source`` of the events EventBridge Scheduler delivers (template.yaml's PassSchedule, and the orchestrator's
# wake-ups): ``{"source": …, "time": "<aws.scheduler.scheduled-time>", "id": "<aws.scheduler.execution-id>"}``.
PASS_SOURCE = "isched.pass"
WAKE_UP_SOURCE = "isched.wake-up"


@dataclass(frozen=True)
class ScheduledEvent:
    """What triggers a pass: the regular pass schedule's event, a wake-up's (both EventBridge Scheduler, same
    shape), an EventBridge ``Scheduled Event``, or a manual test invocation, which may omit everything.

    The pass time is the event's ``time`` floored to the minute, so an invocation delivered late (or delivered
    twice) still runs the pass it was scheduled for, and the workers' per-pass claim recognises a duplicate. A
    wake-up is a pass like any other, at its transition's instant, with the same checks on its time.
    """

    at: datetime
    id: str | None = None
    source: str | None = None

    @classmethod
    def from_event(cls, raw: object, now: datetime | None = None) -> ScheduledEvent:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise EventError("", f"{raw!r:.80} is not a JSON object")
        time = raw.get("time")
        if time is None:
            at = now or common.real_clock()
        else:
            if not isinstance(time, str):
                raise EventError("time", f"{time!r:.80} is not an ISO 8601 instant")
            try:
                at = datetime.fromisoformat(time)
            except ValueError:
                raise EventError("time", f"{time!r:.80} is not an ISO 8601 instant") from None
            if at.tzinfo is None:
                raise EventError("time", f"{time!r:.80} has no UTC offset")
            try:
                at = at.astimezone(UTC)
            except OverflowError:
                raise EventError("time", f"{time!r:.80} is out of range") from None
            real = (now or common.real_clock()).astimezone(UTC)
            if at > real + CLOCK_SKEW:
                # A scheduled event is never from the future: a forged or mistaken one must not claim passes.
                raise EventError(
                    "time", f"{time!r:.80} is ahead of the real clock ({iso_z(real)}): passes move in real time"
                )
            if at < real - MAX_EVENT_AGE:
                # Lambda keeps an asynchronous event at most 6 hours: an older one is a replay, not a pass.
                raise EventError(
                    "time", f"{time!r:.80} is more than {MAX_EVENT_AGE} before the real clock ({iso_z(real)})"
                )
        event_id = raw.get("id")
        source = raw.get("source")
        return cls(
            at=at.astimezone(UTC).replace(second=0, microsecond=0),
            id=event_id if isinstance(event_id, str) else None,
            source=source if isinstance(source, str) else None,
        )

    @property
    def is_wake_up(self) -> bool:
        return self.source == WAKE_UP_SOURCE


_ROLE_ARN = re.compile(r"^arn:[a-z-]+:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}\Z")
_FUNCTION_ARN = re.compile(
    r"^arn:[a-z-]+:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?\Z"
)
_GROUP = re.compile(r"^[0-9A-Za-z_.-]{1,64}\Z")


@dataclass(frozen=True)
class WakeUpSettings:
    """Where the orchestrator schedules its one-time wake-ups (EventBridge Scheduler), and the regular interval."""

    interval: int  # minutes between the clock-aligned regular passes (ScheduleInterval)
    group: str  # the schedule group of the stack's pass schedules
    role_arn: str  # the role EventBridge Scheduler invokes the orchestrator with
    target_arn: str  # the orchestrator function

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WakeUpSettings | None:
        """None when the deployment schedules no wake-ups (none of the variables set)."""
        names = ("ISCHED_WAKEUP_GROUP", "ISCHED_WAKEUP_ROLE_ARN", "ISCHED_WAKEUP_TARGET_ARN")
        values = {n: env.get(n, "").strip() for n in names}
        if not any(values.values()):
            return None
        for name, value in values.items():
            if not value:
                raise SettingsError(name, "is not set (wake-ups need all of " + ", ".join(names) + ")")
        checks = (
            ("ISCHED_WAKEUP_GROUP", _GROUP, "a schedule group name"),
            ("ISCHED_WAKEUP_ROLE_ARN", _ROLE_ARN, "an IAM role ARN"),
            ("ISCHED_WAKEUP_TARGET_ARN", _FUNCTION_ARN, "a Lambda function ARN"),
        )
        for name, pattern, what in checks:
            if not pattern.match(values[name]):
                raise SettingsError(name, f"'{values[name]:.120}' is not {what}")
        text = env.get("ISCHED_PASS_INTERVAL", "").strip() or "5"
        try:
            interval = check_interval(int(text))
        except ValueError:
            allowed = ", ".join(str(i) for i in ALLOWED_INTERVALS)
            raise SettingsError(
                "ISCHED_PASS_INTERVAL", f"'{text:.20}' is not a pass interval in minutes (one of {allowed})"
            ) from None
        return cls(
            interval,
            values["ISCHED_WAKEUP_GROUP"],
            values["ISCHED_WAKEUP_ROLE_ARN"],
            values["ISCHED_WAKEUP_TARGET_ARN"],
        )


@dataclass(frozen=True)
class OrchestratorSettings:
    accounts: tuple[str, ...]
    organization_id: str | None
    regions: tuple[str, ...]
    services: tuple[str, ...]
    tag_key: str
    role_name: str
    external_id: str | None
    worker_function: str | None
    max_payload_bytes: int
    default_timezone: str = "UTC"
    wake_up: WakeUpSettings | None = None
    # The worker queue's URL: when set, the pass is fanned out as SQS messages (the event source mapping invokes
    # the worker), else as asynchronous invocations of worker_function.
    worker_queue: str | None = None
    # Invoke only the targets with tagged resources or state to settle (scheduler/runtime/targets.py).
    target_lookup: bool = True
    # The read-only role the look-up assumes in the other accounts (infra/spoke.yaml: the spoke role's name + -lookup).
    lookup_role_name: str = DEFAULT_ROLE_NAME + "-lookup"
    lookup_concurrency: int = DEFAULT_CONCURRENCY

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OrchestratorSettings:
        env = os.environ if env is None else env
        org = env.get("ISCHED_ORGANIZATION_ID", "").strip() or None
        if org is not None and not org.startswith("o-"):
            raise SettingsError("ISCHED_ORGANIZATION_ID", f"'{org}' is not an organization id (o-…)")
        regions = env_regions(env) or [env.get("AWS_REGION") or default_region()]
        limit_text = env.get("ISCHED_MAX_PAYLOAD_BYTES", "").strip()
        try:
            limit = int(limit_text) if limit_text else ASYNC_PAYLOAD_LIMIT
        except ValueError:
            raise SettingsError("ISCHED_MAX_PAYLOAD_BYTES", f"'{limit_text}' is not a number of bytes") from None
        role_name = env.get("ISCHED_ROLE_NAME", "").strip() or DEFAULT_ROLE_NAME
        lookup = env.get("ISCHED_TARGET_LOOKUP", "").strip().lower() or "true"
        if lookup not in ("true", "false"):
            raise SettingsError("ISCHED_TARGET_LOOKUP", f"'{lookup:.40}' is not true or false")
        concurrency_text = env.get("ISCHED_LOOKUP_CONCURRENCY", "").strip()
        try:
            concurrency = int(concurrency_text) if concurrency_text else DEFAULT_CONCURRENCY
        except ValueError:
            concurrency = 0
        if not 1 <= concurrency <= 256:
            raise SettingsError("ISCHED_LOOKUP_CONCURRENCY", f"'{concurrency_text:.40}' is not a number from 1 to 256")
        return cls(
            accounts=tuple(env_accounts(env)),
            organization_id=org,
            regions=tuple(regions),
            services=tuple(env_services(env)),
            tag_key=_tag_key(env),
            role_name=role_name,
            external_id=env.get("ISCHED_EXTERNAL_ID", "").strip() or None,
            worker_function=env.get("ISCHED_WORKER_FUNCTION", "").strip() or None,
            max_payload_bytes=limit,
            default_timezone=common.env_default_timezone(env),
            wake_up=WakeUpSettings.from_env(env),
            worker_queue=env.get("ISCHED_WORKER_QUEUE", "").strip() or None,
            target_lookup=lookup == "true",
            lookup_role_name=f"{role_name}-lookup",
            lookup_concurrency=concurrency,
        )


@dataclass(frozen=True)
class WorkerSettings:
    role_name: str
    external_id: str | None
    namespace: str
    rds_snapshot: bool = False
    default_timezone: str = "UTC"
    event_bus: str | None = None  # the hub's bus (ARN) for the passes' events; None: no events

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if env is None else env
        snapshot = env.get("ISCHED_RDS_SNAPSHOT", "").strip().lower() or "false"
        if snapshot not in ("true", "false"):
            raise SettingsError("ISCHED_RDS_SNAPSHOT", f"'{snapshot:.40}' is not true or false")
        bus = env.get("ISCHED_EVENT_BUS", "").strip() or None
        if bus is not None:
            try:
                check_bus(bus)
            except ValueError as exc:
                raise SettingsError("ISCHED_EVENT_BUS", str(exc)) from exc
        return cls(
            role_name=env.get("ISCHED_ROLE_NAME", "").strip() or DEFAULT_ROLE_NAME,
            external_id=env.get("ISCHED_EXTERNAL_ID", "").strip() or None,
            namespace=env.get("ISCHED_NAMESPACE", "").strip() or "default",
            rds_snapshot=snapshot == "true",
            default_timezone=common.env_default_timezone(env),
            event_bus=bus,
        )


def _tag_key(env: Mapping[str, str]) -> str:
    key = env.get("ISCHED_TAG_KEY", "").strip() or "Schedule"
    if len(key) > 128 or key.lower().startswith("aws:"):
        raise SettingsError("ISCHED_TAG_KEY", f"'{key:.80}' is not a usable tag key (1-128 characters, not aws:)")
    return key
