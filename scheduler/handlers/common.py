"""What both handlers share: Powertools logger, metrics and tracer, environment settings, the retry policy."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from pynamodb.exceptions import PynamoDBException

from scheduler.aws.accounts import AssumeRoleError
from scheduler.aws.session import is_account_id, is_region
from scheduler.engine import FieldError, zone
from scheduler.runtime.worker import WorkerResult
from scheduler.services.registry import SERVICES, not_a_service

F = TypeVar("F", bound=Callable[..., Any])

METRICS_NAMESPACE = "isched"

# Error codes that mean "try again later" rather than "this will never work": throttling past botocore's own
# retries, and the service being briefly unavailable.
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
    }
)


def real_clock() -> datetime:
    """The real clock of the Lambda handlers (tests replace it to replay an event of their own day)."""
    return datetime.now(UTC)


class SettingsError(ValueError):
    """A function's environment is misconfigured; names the variable and its value."""

    def __init__(self, variable: str, message: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {message}")


def make_logger(service: str) -> Logger:
    # POWERTOOLS_SERVICE_NAME / POWERTOOLS_LOG_LEVEL from the template win over these defaults.
    return Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or service)


def make_metrics() -> Metrics:
    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or METRICS_NAMESPACE)


class TracerLike(Protocol):
    def capture_lambda_handler(self, fn: F) -> F: ...

    def capture_method(self, fn: F) -> F: ...

    def put_annotation(self, key: str, value: Any) -> None: ...


class _NoTracer:
    """Stands in for Powertools' Tracer when tracing is off, so the X-Ray SDK is not even imported."""

    def capture_lambda_handler(self, fn: F) -> F:
        return fn

    def capture_method(self, fn: F) -> F:
        return fn

    def put_annotation(self, key: str, value: Any) -> None:
        return None


def make_tracer(service: str) -> TracerLike:
    """Powertools' Tracer unless ``POWERTOOLS_TRACE_DISABLED`` is true (the template's EnableTracing switch)."""
    if env_flag("POWERTOOLS_TRACE_DISABLED"):
        return _NoTracer()
    try:
        from aws_lambda_powertools import Tracer

        return cast(TracerLike, Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or service))
    except ImportError:  # aws-xray-sdk not packaged: run untraced rather than fail every invocation
        return _NoTracer()


def env_flag(name: str, env: Mapping[str, str] | None = None) -> bool:
    value = (env if env is not None else os.environ).get(name, "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_list(env: Mapping[str, str], name: str) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in env.get(name, "").split(",") if v.strip()))


def env_accounts(env: Mapping[str, str], name: str = "ISCHED_ACCOUNTS") -> list[str]:
    accounts = env_list(env, name)
    for a in accounts:
        if not is_account_id(a):
            raise SettingsError(name, f"'{a}' is not an AWS account id (12 digits)")
    return accounts


def env_regions(env: Mapping[str, str], name: str = "ISCHED_REGIONS") -> list[str]:
    regions = env_list(env, name)
    for r in regions:
        if not is_region(r):
            raise SettingsError(name, f"'{r}' is not an AWS region name (e.g. eu-west-1)")
    return regions


def env_services(env: Mapping[str, str], name: str = "ISCHED_SERVICES") -> list[str]:
    services = env_list(env, name) or list(SERVICES)
    for s in services:
        if s not in SERVICES:
            raise SettingsError(name, not_a_service(s))
    return services


def env_default_timezone(env: Mapping[str, str], name: str = "ISCHED_DEFAULT_TIMEZONE") -> str:
    """The zone of schedules that name none (the stack's DefaultTimezone); UTC when unset."""
    value = env.get(name, "").strip() or "UTC"
    try:
        zone(value)
    except FieldError as exc:
        raise SettingsError(name, str(exc)) from None
    return value


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    if isinstance(exc, PynamoDBException):
        return exc.cause_response_code
    return None


def is_retryable(exc: BaseException) -> bool:
    """Whether Lambda's own retry of the whole invocation could succeed where this one failed.

    Throttling past botocore's retries and an unreachable or unavailable service are; access denied, a missing
    table or role, and bad input are not (a retry fails the same way; the next pass reports it again).
    """
    if isinstance(exc, ConnectionError | HTTPClientError):
        return True
    if isinstance(exc, PynamoDBException):
        cause = exc.__cause__ or getattr(exc, "cause", None)
        if isinstance(cause, BaseException) and cause is not exc and is_retryable(cause):
            return True
        code = exc.cause_response_code
        return code is None or code in RETRYABLE_CODES  # no code: DynamoDB was not reached at all
    if isinstance(exc, ClientError):
        return error_code(exc) in RETRYABLE_CODES
    if isinstance(exc, AssumeRoleError):
        # It keeps only the text of STS's answer: "An error occurred (Throttling) when calling ...".
        return any(f"({code})" in str(exc) for code in RETRYABLE_CODES)
    return False


def real_errors(result: WorkerResult) -> int:
    """Errors that need someone's attention: not warnings, not a duplicate invocation's skip notice."""
    return sum(1 for e in result.errors if e.is_failure)


def publish_skip_metric(metrics: Metrics, service: str) -> None:
    """One ``skipped`` data point: a pass found its target already claimed (alarmed on when it persists)."""
    if env_flag("POWERTOOLS_METRICS_DISABLED"):
        return
    metrics.add_dimension(name="service", value=service)
    metrics.add_metric(name="skipped", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()


def publish_worker_metrics(
    metrics: Metrics, service: str, result: WorkerResult | None, errors: int, *, dry_run: bool = False
) -> dict[str, int]:
    """The fixed metric set (managed, started, stopped, errors) as one EMF line, dimension ``service``.

    Zero counts are left out: CloudWatch bills a custom metric for every hour in which it receives a data point,
    and a started/stopped/errors count is zero in almost every pass. Dashboards and the errors alarm read a missing
    point as zero (``FILL(m, 0)``, TreatMissingData notBreaching). Returns what was published.
    """
    # A dry run's actions were only decided: they started and stopped nothing.
    ok = [a for a in result.actions if a.ok] if result is not None and not dry_run else []
    counts = {
        "managed": result.managed if result is not None else 0,
        "started": sum(1 for a in ok if a.action in ("start", "resize")),
        "stopped": sum(1 for a in ok if a.action == "stop"),
        "errors": errors,
    }
    published = {name: value for name, value in counts.items() if value}
    # Checked here, not left to Powertools: with metrics disabled its flush keeps what was added, invocation after
    # invocation of a warm environment.
    if not published or env_flag("POWERTOOLS_METRICS_DISABLED"):
        return {}
    metrics.add_dimension(name="service", value=service)
    for name, value in published.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()
    return published


def publish_orchestrator_metrics(
    metrics: Metrics, *, targets: int, invoked: int, refused: int, lookup_failures: int, duration_ms: float
) -> dict[str, float]:
    """One EMF line per pass, dimension ``function`` = ``orchestrator``: configured ``targets``, ``invoked`` (messages
    or invocations accepted), ``refused`` sends, targets invoked because their ``lookup_failures``, and the pass's
    ``duration`` in ms. Zero counts are left out (see :func:`publish_worker_metrics`). Returns what was published."""
    counts: dict[str, float] = {
        "targets": targets,
        "invoked": invoked,
        "refused": refused,
        "lookup_failures": lookup_failures,
    }
    published = {name: float(value) for name, value in counts.items() if value}
    published["duration"] = round(duration_ms, 1)
    if env_flag("POWERTOOLS_METRICS_DISABLED"):
        return {}
    metrics.add_dimension(name="function", value="orchestrator")
    for name, value in published.items():
        unit = MetricUnit.Milliseconds if name == "duration" else MetricUnit.Count
        metrics.add_metric(name=name, unit=unit, value=value)
    metrics.flush_metrics()
    return published
