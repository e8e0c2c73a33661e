"""The monthly report function: on the 1st of each month, last month's savings report, delivered.

Triggered by the stack's schedule (EventBridge, ``cron(0 6 1 * ? *)`` by default), it builds the previous UTC
month's report with the code behind ``isched report`` (:func:`scheduler.savings.report.monthly_report`: the ledger
and state tables, prices from an optional prices file in the bucket and then the AWS Price List API, Cost
Explorer's actual cost, forecast, coverage and reconciliation), writes it to the stack's bucket as
``reports/YYYY-MM/report.html``, ``report.csv`` (the resources, then the summary block) and ``report.json``, and
publishes a short summary to the stack's topic: plain text for e-mail, the same figures as JSON for SQS, Lambda and
HTTP subscribers.

A manual invocation may name the month (``{"month": "2026-11"}``) to build or rebuild it; a month being reported
again overwrites its three objects (the bucket keeps the earlier versions). Settings come from the environment,
each error naming its variable. The handler raises when the report cannot be delivered (Lambda retries an
asynchronous invocation twice, and the stack alarms on the function's errors).
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NotRequired, TypedDict

import boto3
from botocore.exceptions import ClientError

from scheduler.aws.session import client, new_session
from scheduler.engine import Config, iso_z
from scheduler.savings.costexplorer import METRICS, CostExplorer
from scheduler.savings.formats import money, number, render_csv
from scheduler.savings.model import Actual, Report
from scheduler.savings.page import render_html
from scheduler.savings.price_file import PricesFileError, PriceTable, parse_prices
from scheduler.savings.report import CostQuestions, monthly_report, not_asked
from scheduler.store.config import ConfigStore, StoreError
from scheduler.store.state import StateStore
from scheduler.store.tables import Tables

from . import common
from .common import SettingsError, make_logger, make_tracer
from .events import EventError, ScheduledEvent, _tag_key

logger = make_logger("isched-report")
tracer = make_tracer("isched-report")

DEFAULT_PREFIX = "reports/"
MAX_PRICES_BYTES = 32 * 1024 * 1024
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])\Z")
CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value not in ("true", "false"):
        raise SettingsError(name, f"'{value:.40}' is not true or false")
    return value == "true"


@dataclass(frozen=True)
class ReportSettings:
    """The function's environment (the stack sets every variable)."""

    bucket: str
    topic_arn: str | None
    prefix: str
    prices_key: str | None
    namespace: str
    tag_key: str
    metric: str
    cost_explorer: bool
    pricing_api: bool
    linked_accounts: bool
    default_timezone: str = "UTC"  # the zone of schedules that name none (manual-start hours, the projection)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReportSettings:
        env = os.environ if env is None else env
        bucket = env.get("ISCHED_REPORT_BUCKET", "").strip()
        if not bucket:
            raise SettingsError("ISCHED_REPORT_BUCKET", "is not set (the S3 bucket the reports are written to)")
        if not _BUCKET.match(bucket):
            raise SettingsError("ISCHED_REPORT_BUCKET", f"'{bucket:.80}' is not an S3 bucket name")
        topic = env.get("ISCHED_REPORT_TOPIC", "").strip() or None
        if topic is not None and not re.match(r"^arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}\Z", topic):
            raise SettingsError("ISCHED_REPORT_TOPIC", f"'{topic:.80}' is not an SNS topic ARN")
        prefix = env.get("ISCHED_REPORT_PREFIX", DEFAULT_PREFIX).strip().lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        if len(prefix) > 512:
            raise SettingsError("ISCHED_REPORT_PREFIX", f"'{prefix:.40}…' is longer than 512 characters")
        metric = env.get("ISCHED_REPORT_METRIC", "").strip().lower() or "unblended"
        if metric not in METRICS:
            raise SettingsError("ISCHED_REPORT_METRIC", f"'{metric:.40}' is not one of {', '.join(METRICS)}")
        return cls(
            bucket=bucket,
            topic_arn=topic,
            prefix=prefix,
            prices_key=env.get("ISCHED_REPORT_PRICES_KEY", "").strip().lstrip("/") or None,
            namespace=env.get("ISCHED_NAMESPACE", "").strip() or "default",
            tag_key=_tag_key(env),
            metric=metric,
            cost_explorer=_flag(env, "ISCHED_REPORT_COST_EXPLORER", True),
            pricing_api=_flag(env, "ISCHED_REPORT_PRICING_API", True),
            linked_accounts=_flag(env, "ISCHED_REPORT_LINKED_ACCOUNTS", False),
            default_timezone=common.env_default_timezone(env),
        )

    def key(self, month: str, fmt: str) -> str:
        return f"{self.prefix}{month}/report.{fmt}"


def previous_month(at: datetime) -> str:
    """The UTC month before the one ``at`` falls in (``2027-01-01T06:00Z`` → ``2026-12``)."""
    first = at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def requested_month(event: object, now: datetime) -> str:
    """The month to report: the event's ``month`` (a manual run), else the month before the scheduled event's
    time (or before now, for an invocation without one)."""
    if isinstance(event, Mapping) and event.get("month") is not None:
        month = event["month"]
        if not isinstance(month, str) or not _MONTH.match(month):
            raise EventError("month", f"{month!r:.40} is not a month (YYYY-MM)")
        if month > now.strftime("%Y-%m"):
            raise EventError("month", f"'{month}' has not begun at {iso_z(now)}")
        return month
    return previous_month(ScheduledEvent.from_event(event, now=now).at)


@functools.cache
def _session() -> boto3.Session:
    """One session per container, so its clients are made once and reused by warm invocations."""
    return new_session()


def read_prices(s3: Any, settings: ReportSettings) -> tuple[PriceTable, str | None]:
    """The prices file in the bucket (``ISCHED_REPORT_PRICES_KEY``), if there is one; a note when it cannot be
    used (the report then relies on the AWS Price List API)."""
    if settings.prices_key is None:
        return PriceTable(), None
    where = f"s3://{settings.bucket}/{settings.prices_key}"
    try:
        got = s3.get_object(Bucket=settings.bucket, Key=settings.prices_key)
        data = got["Body"].read(MAX_PRICES_BYTES + 1)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code") or "")
        if code in ("NoSuchKey", "404"):
            return PriceTable(), None  # no prices file: the Price List API prices everything
        return PriceTable(), f"the prices file {where} could not be read ({code or exc}): prices are from AWS"
    if len(data) > MAX_PRICES_BYTES:
        return PriceTable(), f"the prices file {where} is larger than 32 MB: prices are from AWS"
    try:
        return parse_prices(data.decode("utf-8-sig"), where), None
    except (PricesFileError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return PriceTable(), f"the prices file {where} was not used: {first}"


def build_report(month: str, now: datetime, settings: ReportSettings, tables: Tables, prices: PriceTable) -> Report:
    """``isched report --month MONTH`` as the function runs it (with the stack's settings)."""
    config: Config | None
    try:
        config = ConfigStore(tables, settings.default_timezone).load()
    except StoreError as exc:
        logger.warning(
            f"the stored configuration cannot be read ({exc}): manual-start hours and the projection are left unknown"
        )
        config = None
    questions: CostQuestions | None = None
    actual: Actual | None = None
    if settings.cost_explorer:
        questions = CostQuestions(
            CostExplorer(), settings.metric, settings.tag_key, settings.linked_accounts, today=now.date()
        )
    else:
        actual = not_asked(
            settings.metric, settings.tag_key, "Cost Explorer was not asked (ISCHED_REPORT_COST_EXPLORER)"
        )
    return monthly_report(
        StateStore(tables),
        month,
        now,
        prices,
        config=config,
        pricing_api=settings.pricing_api,
        actual=actual,
        ce=questions,
    )


class Summary(TypedDict):
    """What the topic's subscribers get (JSON for SQS, Lambda and HTTPS; text for e-mail), and what the function
    returns (with ``published``)."""

    month: str
    currency: str
    counted_to: str
    stopped_hours: float
    estimated_savings: float | None
    savings_percent: float | None
    actual_cost: float | None
    unpriced_resources: int
    resources: int
    bucket: str
    keys: dict[str, str]
    published: NotRequired[bool]


def summary_of(report: Report, settings: ReportSettings, month: str) -> Summary:
    """The figures the topic's subscribers get."""
    t = report["totals"]
    return {
        "month": month,
        "currency": report["currency"],
        "counted_to": report["at"],
        "stopped_hours": t["stopped_hours"],
        "estimated_savings": t["estimated_savings"],
        "savings_percent": t["savings_percent"],
        "actual_cost": t["actual_cost"],
        "unpriced_resources": t["unpriced_resources"],
        "resources": t["resources"],
        "bucket": settings.bucket,
        "keys": {fmt: settings.key(month, fmt) for fmt in CONTENT_TYPES},
    }


def summary_text(summary: Summary, report: Report) -> str:
    actual = report["actual"]
    metric = f", {actual['metric']}" if actual is not None and actual["metric"] else ""
    lines = [
        f"isched savings report for {summary['month']} (UTC month, counted to {summary['counted_to']})",
        "",
        f"Estimated savings: {money(summary['estimated_savings'])} (on-demand list prices)",
        f"Stopped hours (by the scheduler): {number(summary['stopped_hours'])}",
        f"Actual cost of the tagged resources (Cost Explorer{metric}): {money(summary['actual_cost'], 'unavailable')}",
        f"Unpriced resources (not in the savings): {summary['unpriced_resources']}",
        "",
        "The report:",
        *(f"  s3://{summary['bucket']}/{key}" for key in summary["keys"].values()),
    ]
    notes = report["notes"]
    if notes:
        lines += ["", "What these numbers do not include:", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def deliver(report: Report, month: str, settings: ReportSettings, s3: Any, sns: Any | None) -> Summary:
    """Writes the three files, then publishes the summary (so a subscriber never hears of a missing file)."""
    bodies = {
        "html": render_html(report),
        "csv": render_csv(report, summary=True),
        "json": json.dumps(report, indent=2) + "\n",
    }
    for fmt, body in bodies.items():
        s3.put_object(
            Bucket=settings.bucket,
            Key=settings.key(month, fmt),
            Body=body.encode("utf-8"),
            ContentType=CONTENT_TYPES[fmt],
            Metadata={"isched-month": month},
        )
    summary = summary_of(report, settings, month)
    if settings.topic_arn is not None and sns is not None:
        text = summary_text(summary, report)
        data = json.dumps(summary)
        savings = money(summary["estimated_savings"])
        sns.publish(
            TopicArn=settings.topic_arn,
            Subject=f"isched savings {month}: {savings}"[:99],
            MessageStructure="json",
            Message=json.dumps(
                {"default": text, "email": text, "sqs": data, "lambda": data, "http": data, "https": data}
            ),
            MessageAttributes={"month": {"DataType": "String", "StringValue": month}},
        )
        summary["published"] = True
    else:
        summary["published"] = False
    return summary


def process(
    event: object,
    *,
    settings: ReportSettings | None = None,
    tables: Tables | None = None,
    s3: Any = None,
    sns: Any = None,
    now: datetime | None = None,
) -> Summary:
    """Builds and delivers one month's report; returns the summary (with ``published``)."""
    settings = settings or ReportSettings.from_env()
    real = (now or common.real_clock()).astimezone(UTC)
    month = requested_month(event, real)
    logger.append_keys(month=month)
    tables = tables or Tables.for_namespace(settings.namespace)
    s3 = s3 or client("s3", session=_session())
    if settings.topic_arn is not None and sns is None:
        sns = client("sns", session=_session())
    prices, prices_note = read_prices(s3, settings)
    report = build_report(month, real, settings, tables, prices)
    if prices_note:
        logger.warning(prices_note)
        report["notes"].append(prices_note[:1].upper() + prices_note[1:] + ".")
    summary = deliver(report, month, settings, s3, sns)
    logger.info(
        f"report for {month} delivered to s3://{settings.bucket}/{settings.prefix}{month}/",
        extra={k: v for k, v in summary.items() if k != "keys"},
    )
    return summary


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> Summary:
    """Lambda entry point."""
    return process(event)
