"""Monthly running cost of an isched hub: Lambda, DynamoDB, CloudWatch (logs, metrics, alarms), Cost Explorer.

The per-target numbers are measured, not guessed: the orchestrator handler and the worker handler run real passes
against an in-process moto (``moto.mock_aws``), botocore event hooks count every API call per operation and the
DynamoDB request units each call consumes (from the request and response sizes), and the handlers' log and EMF
output is counted byte for byte. What moto cannot tell is AWS's latency and Lambda's cold starts: those are inputs
(``--latency-ms``, ``--cold-fraction``; defaults stated below).

Run: ``.venv/bin/python benchmarks/cost.py`` (about 10 s). Prices are us-east-1 list prices.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from _aws import CallCounter, hook_all_clients, simulated_aws

# --- Prices: us-east-1 list prices, as published on each source page (read 2026-11; check them before relying) --
# AWS Lambda, https://aws.amazon.com/lambda/pricing/ : Arm duration $0.0000133334 per GB-second (first 7.5 billion
# GB-s a month), requests $0.20 per million. Always-free tier: 1M requests and 400,000 GB-s a month.
LAMBDA_ARM_GB_SECOND = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_FREE_REQUESTS = 1_000_000
LAMBDA_FREE_GB_SECONDS = 400_000
# Since 2025-08-01 Lambda bills the INIT phase of on-demand functions too (AWS Compute Blog, "AWS Lambda
# standardizes billing for INIT Phase", 2025-04-29), so cold starts are counted as duration below.
# Amazon DynamoDB on-demand, https://aws.amazon.com/dynamodb/pricing/on-demand/ (after the 50% cut of 2024-11-01):
# $0.625 per million write request units, $0.125 per million read request units; storage $0.25 per GB-month
# (first 25 GB free); continuous backups (PITR) $0.20 per GB-month.
DDB_PER_WRU = 0.625 / 1_000_000
DDB_PER_RRU = 0.125 / 1_000_000
DDB_STORAGE_GB_MONTH = 0.25
DDB_PITR_GB_MONTH = 0.20
DDB_FREE_STORAGE_GB = 25
# Amazon CloudWatch, https://aws.amazon.com/cloudwatch/pricing/ : logs ingestion $0.50 per GB, storage $0.03 per
# GB-month; custom metrics $0.30 per metric-month (prorated by the hour the metric receives data); standard alarms
# $0.10 per alarm metric-month; dashboards $3.00 per dashboard-month. Always-free: 10 custom metrics, 10 alarm
# metrics, 5 GB of logs, 3 dashboards.
LOGS_INGEST_GB = 0.50
LOGS_STORAGE_GB_MONTH = 0.03
METRIC_MONTH = 0.30
ALARM_METRIC_MONTH = 0.10
CW_FREE_METRICS = 10
CW_FREE_ALARM_METRICS = 10
CW_FREE_LOGS_GB = 5
DASHBOARD_MONTH = 3.00
CW_FREE_DASHBOARDS = 3
# CloudWatch Logs bills each event's size plus 26 bytes (same pricing page, "Logs" tab, data ingested).
LOG_EVENT_OVERHEAD = 26
# AWS Cost Explorer API, https://aws.amazon.com/aws-cost-management/aws-cost-explorer/pricing/ : $0.01 per request
# (GetCostAndUsage), used by `isched report` for the actual spend.
CE_PER_REQUEST = 0.01
# Amazon EventBridge, https://aws.amazon.com/eventbridge/pricing/ : the schedule rule's events; counted at the
# custom-event price ($1.00 per million) as an upper bound.
EVENTBRIDGE_PER_EVENT = 1.00 / 1_000_000

HOURS_PER_MONTH = 730
LAMBDA_PLATFORM_LOG_BYTES = 320  # START, END and REPORT lines of one invocation, as Lambda writes them
# template.yaml: Lambda Errors and Throttles alarms of the orchestrator and the worker (1 metric each) + the worker
# errors and skipped-passes alarms (3 metrics each); one dashboard (Dashboard=true, the default)
ALARM_METRICS = 10
DASHBOARDS = 1
METRIC_ALARM_METRICS = 6  # the two alarms on isched's own metrics, gone with PublishMetrics=false

SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""


# --- Measurement ---------------------------------------------------------------------------------------------


class CapacityMeter:
    """DynamoDB request units per call, from the item sizes in requests (writes) and responses (reads)."""

    def __init__(self) -> None:
        self.wru = 0
        self.rru = 0
        self._undo: Any = None

    def _before(self, model: Any, params: Any, **_: Any) -> None:
        if model.service_model.service_name != "dynamodb":
            return
        body = json.loads(params.get("body") or b"{}")
        if model.name == "BatchWriteItem":
            for requests in body.get("RequestItems", {}).values():
                for req in requests:
                    item = (req.get("PutRequest") or {}).get("Item") or (req.get("DeleteRequest") or {}).get("Key")
                    self.wru += max(1, math.ceil(len(json.dumps(item)) / 1024))
        elif model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.wru += max(1, math.ceil(len(json.dumps(body.get("Item") or {})) / 1024))

    def _after(self, model: Any, parsed: Any, **_: Any) -> None:
        if model.service_model.service_name != "dynamodb" or model.name not in ("Query", "Scan", "GetItem"):
            return
        items = parsed.get("Items") or ([parsed["Item"]] if parsed.get("Item") else [])
        size = sum(len(json.dumps(i, default=str)) for i in items)
        self.rru += max(1, math.ceil(size / 4096))  # strongly consistent: 1 RRU per 4 KB, at least 1

    def install(self) -> None:
        self._undo = hook_all_clients({"before-call": self._before, "after-call": self._after}, "isched-cost")

    def reset(self) -> tuple[int, int]:
        out = (self.wru, self.rru)
        self.wru = self.rru = 0
        return out


class ByteCounter(io.TextIOBase):
    def __init__(self) -> None:
        self.bytes = 0
        self.lines = 0

    def write(self, s: str) -> int:
        self.bytes += len(s.encode("utf-8"))
        self.lines += s.count("\n")
        return len(s)


@dataclass
class Invocation:
    """One measured invocation: API calls by operation, DynamoDB units, in-process time, log output."""

    calls: Counter[str]
    wru: int
    rru: int
    seconds: float
    log_bytes: int
    log_lines: int

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


@dataclass
class Measured:
    init_seconds: float
    orchestrator: Invocation
    resources: int = 0  # scheduled resources per account and region
    workers: dict[str, dict[str, Invocation]] = field(default_factory=dict)  # pass kind → service → invocation
    published: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # pass kind → service → metric names


class _Context:
    """A Lambda context as Powertools reads it (its values end up in every log line, so their length is real)."""

    function_name = "isched-default-worker"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:isched-default-worker"
    aws_request_id = "6f1c4a3e-0d7b-4a55-9b1e-2c8e5d7a9f10"


class _Recorder:
    """Stands in for the Lambda service: keeps each worker payload for replaying one by one."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        self.payloads.append(Payload)
        return {"StatusCode": 202, "ResponseMetadata": {"RequestId": "r"}}


@contextlib.contextmanager
def _captured(logger: Any) -> Iterator[ByteCounter]:
    counter = ByteCounter()
    handler = logger.registered_handler
    previous = handler.setStream(counter)
    try:
        with contextlib.redirect_stdout(counter):  # EMF lines are printed
            yield counter
    finally:
        handler.setStream(previous)


def measure(ec2_per_target: int, rds_per_target: int) -> Measured:
    t0 = time.perf_counter()
    from scheduler.handlers import orchestrator, worker

    init = time.perf_counter() - t0
    import boto3

    from scheduler.aws.accounts import AccountSessions
    from scheduler.engine import parse_text
    from scheduler.handlers import common
    from scheduler.runtime.lambda_invoker import LambdaInvoker, PayloadBuilder
    from scheduler.store.config import ConfigStore
    from scheduler.store.tables import Tables

    counter, meter = CallCounter(), CapacityMeter()
    counter.install()
    meter.install()
    region = "us-east-1"
    tables = Tables.for_namespace("cost")
    tables.create_missing()
    ConfigStore(tables).apply(parse_text(SCHEDULES), prune=False, dry_run=False)
    ec2 = boto3.client("ec2", region_name=region)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "office"}]}]
    ec2.run_instances(
        ImageId=image, MinCount=ec2_per_target, MaxCount=ec2_per_target, InstanceType="t3.micro", TagSpecifications=tags
    )
    rds = boto3.client("rds", region_name=region)
    for n in range(rds_per_target):
        rds.create_db_instance(
            DBInstanceIdentifier=f"db{n}",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="u",
            MasterUserPassword="password1",
            Tags=[{"Key": "Schedule", "Value": "office"}],
        )
    hub = AccountSessions().hub_account
    # The handlers read the environment the template gives them.
    os.environ.update(
        {
            "ISCHED_NAMESPACE": "cost",
            "ISCHED_ACCOUNTS": hub,
            "ISCHED_REGIONS": region,
            "ISCHED_SERVICES": "ec2,asg,rds",
            "ISCHED_WORKER_FUNCTION": "isched-worker",
        }
    )
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    published: dict[str, dict[str, set[str]]] = {}
    real_publish = common.publish_worker_metrics

    def publish(metrics: Any, service: str, *args: Any, **kwargs: Any) -> dict[str, int]:
        out = real_publish(metrics, service, *args, **kwargs)
        published.setdefault(current, {}).setdefault(service, set()).update(out)
        return out

    setattr(worker, "publish_worker_metrics", publish)  # noqa: B010 - to see which metrics each pass publishes
    out: Measured | None = None
    current = "warm-up"
    # Warm-up (first seen while running), then a quiet pass and a busy one (every resource stops at 17:00).
    for current, at in (
        ("warm-up", monday + timedelta(hours=12)),
        ("quiet", monday + timedelta(hours=12, minutes=5)),
        ("busy", monday + timedelta(hours=17)),
    ):
        event = {"id": current, "time": at.isoformat()}
        # The handlers refuse a pass far from the real clock (a replay): the clock is the pass's minute, as in Lambda.
        setattr(common, "real_clock", lambda at=at: at + timedelta(minutes=1))  # noqa: B010
        lam = _Recorder()
        counter.reset()
        meter.reset()
        with _captured(orchestrator.logger) as logs:
            started = time.perf_counter()
            invoker = LambdaInvoker(
                "isched-worker", PayloadBuilder(ConfigStore(tables).load(), tables.names.config), lambda_client=lam
            )
            # Through the Lambda entry point, so the logs carry what Powertools adds in Lambda (context keys).
            orchestrator.handler(event, _Context(), invoker=invoker)
            seconds = time.perf_counter() - started
        wru, rru = meter.reset()
        orch = Invocation(counter.reset(), wru, rru, seconds, logs.bytes, logs.lines)
        if out is None:
            out = Measured(init, orch)
        out.orchestrator = orch
        per_service: dict[str, Invocation] = {}
        for payload in lam.payloads:
            body = json.loads(payload)
            with _captured(worker.logger) as logs:
                started = time.perf_counter()
                worker.handler(body, _Context())
                seconds = time.perf_counter() - started
            wru, rru = meter.reset()
            per_service[body["target"]["service"]] = Invocation(
                counter.reset(), wru, rru, seconds, logs.bytes, logs.lines
            )
        out.workers[current] = per_service
    assert out is not None
    out.published = published
    out.resources = ec2_per_target + rds_per_target
    return out


# --- The model -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    accounts: int
    regions: int
    services: tuple[str, ...] = ("ec2", "asg", "rds")
    interval_minutes: int = 5
    report_requests: int = 10  # Cost Explorer requests a month (isched report runs)


@dataclass
class Line:
    item: str
    quantity: str
    usd: float
    free_usd: float  # after the always-free tiers


def model(s: Scenario, m: Measured, *, latency_ms: float, cold_fraction: float, memory_mb: int) -> list[Line]:
    passes = HOURS_PER_MONTH * 60 / s.interval_minutes
    targets = s.accounts * s.regions * len(s.services)
    # Two transitions (start, stop) per weekday per resource: the share of passes that act.
    busy_share = (2 * 22) / passes
    gb = memory_mb / 1024

    def per_pass(attr: str, service: str) -> float:
        quiet = getattr(m.workers["quiet"][service], attr)
        busy = getattr(m.workers["busy"][service], attr)
        return float(quiet * (1 - busy_share) + busy * busy_share)

    per_target_calls = sum(per_pass("total_calls", sv) for sv in s.services) / len(s.services)
    per_target_cpu = sum(per_pass("seconds", sv) for sv in s.services) / len(s.services)
    worker_seconds = per_target_calls * latency_ms / 1000 + per_target_cpu + cold_fraction * m.init_seconds
    # The orchestrator sends its invocations 16 at a time (LambdaInvoker.max_workers) and lists the organization's
    # accounts 20 to a page.
    orch_calls = m.orchestrator.total_calls - 1 + targets / 16 + math.ceil(s.accounts / 20)
    orch_seconds = orch_calls * latency_ms / 1000 + m.orchestrator.seconds + m.init_seconds
    requests = passes * (1 + targets)
    gb_seconds = passes * gb * (orch_seconds + targets * worker_seconds)
    lam_requests = requests * LAMBDA_PER_REQUEST
    lam_duration = gb_seconds * LAMBDA_ARM_GB_SECOND

    wru = passes * (m.orchestrator.wru + sum(per_pass("wru", sv) for sv in s.services) * s.accounts * s.regions)
    rru = passes * (m.orchestrator.rru + sum(per_pass("rru", sv) for sv in s.services) * s.accounts * s.regions)
    # About 1 KB per item: a state item per resource and a pass item per target, plus two years of ledger entries
    # (a start and a stop per weekday per resource; the ledger's TTL removes older ones).
    ledger_items = m.resources * 2 * 22 * 24
    storage_gb = (targets + (m.resources + ledger_items) * s.accounts * s.regions) * 1024 / 1e9

    log_bytes = passes * (
        m.orchestrator.log_bytes
        + LAMBDA_PLATFORM_LOG_BYTES
        + (m.orchestrator.log_lines + 3) * LOG_EVENT_OVERHEAD
        + s.accounts
        * s.regions
        * sum(
            per_pass("log_bytes", sv) + LAMBDA_PLATFORM_LOG_BYTES + (per_pass("log_lines", sv) + 3) * LOG_EVENT_OVERHEAD
            for sv in s.services
        )
    )
    log_gb = log_bytes / 1e9
    # Metrics have only the `service` dimension, so their number does not grow with accounts or regions. A metric
    # costs for the hours it receives data: `managed` every hour for a service that has resources; started and
    # stopped only in the hours with transitions (one start hour and one stop hour per weekday); errors never here.
    metric_months = 0.0
    for service, names in m.published.get("quiet", {}).items():
        if service in s.services:
            metric_months += len(names)
    for service, names in m.published.get("busy", {}).items():
        if service in s.services:
            metric_months += len(names - m.published.get("quiet", {}).get(service, set())) * (22 / HOURS_PER_MONTH)

    free_req = max(0.0, requests - LAMBDA_FREE_REQUESTS) * LAMBDA_PER_REQUEST
    free_dur = max(0.0, gb_seconds - LAMBDA_FREE_GB_SECONDS) * LAMBDA_ARM_GB_SECOND
    ddb_storage = storage_gb * (DDB_STORAGE_GB_MONTH + DDB_PITR_GB_MONTH)
    ddb_storage_free = (
        max(0.0, storage_gb - DDB_FREE_STORAGE_GB) * DDB_STORAGE_GB_MONTH + storage_gb * DDB_PITR_GB_MONTH
    )
    logs = log_gb * (LOGS_INGEST_GB + LOGS_STORAGE_GB_MONTH)
    logs_free = max(0.0, log_gb - CW_FREE_LOGS_GB) * LOGS_INGEST_GB + log_gb * LOGS_STORAGE_GB_MONTH
    return [
        Line("Lambda requests", f"{requests:,.0f} invocations", lam_requests, free_req),
        Line(
            "Lambda duration (arm64)",
            f"{gb_seconds:,.0f} GB-s ({worker_seconds * 1000:,.0f} ms/worker, {orch_seconds:,.1f} s/orchestrator)",
            lam_duration,
            free_dur,
        ),
        Line("DynamoDB writes", f"{wru:,.0f} WRU", wru * DDB_PER_WRU, wru * DDB_PER_WRU),
        Line("DynamoDB reads", f"{rru:,.0f} RRU", rru * DDB_PER_RRU, rru * DDB_PER_RRU),
        Line("DynamoDB storage + PITR", f"{storage_gb * 1000:,.2f} MB", ddb_storage, ddb_storage_free),
        Line("CloudWatch Logs", f"{log_gb:,.3f} GB ingested and kept", logs, logs_free),
        Line(
            "CloudWatch metrics (EMF)",
            f"{metric_months:,.2f} metric-months",
            metric_months * METRIC_MONTH,
            max(0.0, metric_months - CW_FREE_METRICS) * METRIC_MONTH,
        ),
        Line(
            "CloudWatch alarms",
            f"{ALARM_METRICS} alarm metrics",
            ALARM_METRICS * ALARM_METRIC_MONTH,
            max(0, ALARM_METRICS - CW_FREE_ALARM_METRICS) * ALARM_METRIC_MONTH,
        ),
        Line(
            "CloudWatch dashboard",
            f"{DASHBOARDS} dashboard",
            DASHBOARDS * DASHBOARD_MONTH,
            max(0, DASHBOARDS - CW_FREE_DASHBOARDS) * DASHBOARD_MONTH,
        ),
        Line("EventBridge schedule", f"{passes:,.0f} events", passes * EVENTBRIDGE_PER_EVENT, 0.0),
        Line(
            "Cost Explorer API",
            f"{s.report_requests} requests",
            s.report_requests * CE_PER_REQUEST,
            s.report_requests * CE_PER_REQUEST,
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=25.0, help="AWS API round trip inside a region")
    parser.add_argument(
        "--cold-fraction",
        type=float,
        default=0.5,
        help="share of invocations that start a new execution environment (a 5-minute interval is near the "
        "time Lambda keeps an idle one)",
    )
    parser.add_argument("--memory-mb", type=int, default=256, help="the template's default MemorySize")
    parser.add_argument("--ec2", type=int, default=5, help="scheduled EC2 instances per account and region")
    parser.add_argument("--rds", type=int, default=1, help="scheduled RDS instances per account and region")
    args = parser.parse_args(argv)

    with simulated_aws("us-east-1"):
        m = measure(args.ec2, args.rds)

    print(f"measured (moto in-process; {args.ec2} EC2 + {args.rds} RDS per account and region):")
    print(f"  handler import (cold-start INIT estimate): {m.init_seconds * 1000:.0f} ms")
    o = m.orchestrator
    print(f"  orchestrator: {o.total_calls} calls ({_calls(o.calls)}), {o.wru} WRU, {o.rru} RRU, {o.log_bytes} B logs")
    for kind in ("quiet", "busy"):
        for service, inv in m.workers[kind].items():
            print(
                f"  worker {kind:<5} {service:<3}: {inv.total_calls:>2} calls, {inv.wru:>2} WRU, {inv.rru} RRU, "
                f"{inv.log_bytes:>5} B logs in {inv.log_lines} lines, {inv.seconds * 1000:.0f} ms in-process  "
                f"[{_calls(inv.calls)}]"
            )
    print(
        f"assumptions: {args.latency_ms:g} ms per AWS call, {args.cold_fraction:.0%} cold starts, "
        f"{args.memory_mb} MB functions, transitions twice a weekday, us-east-1 list prices"
    )
    for scenario in (
        Scenario("small: 2 accounts x 2 regions x 3 services, every 5 min", 2, 2),
        Scenario("large: 200 accounts x 4 regions x 3 services, every 5 min", 200, 4),
    ):
        lines = model(
            scenario, m, latency_ms=args.latency_ms, cold_fraction=args.cold_fraction, memory_mb=args.memory_mb
        )
        print()
        print(scenario.name)
        print(f"  {'item':<26} {'quantity':<62} {'list $':>9} {'free tier $':>12}")
        for line in lines:
            print(f"  {line.item:<26} {line.quantity:<62} {line.usd:>9.3f} {line.free_usd:>12.3f}")
        total = sum(line.usd for line in lines)
        free = sum(line.free_usd for line in lines)
        print(f"  {'total per month':<26} {'':<62} {total:>9.2f} {free:>12.2f}")
        # PublishMetrics=false: no EMF metrics and no alarm on them (the four Lambda alarms and the dashboard stay).
        no_metrics = (
            total
            - next(x.usd for x in lines if x.item.startswith("CloudWatch metrics"))
            - METRIC_ALARM_METRICS * ALARM_METRIC_MONTH
        )
        print(f"  {'with PublishMetrics=false':<26} {'':<62} {no_metrics:>9.2f}")


def _calls(calls: Counter[str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(calls.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
