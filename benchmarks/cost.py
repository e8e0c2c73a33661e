"""Monthly running cost of an isched hub: Lambda, SQS, DynamoDB, CloudWatch, EventBridge Scheduler, Cost Explorer.

The per-pass numbers are measured, not guessed: the real orchestrator and worker handlers run passes against an
in-process moto (``moto.mock_aws``) through their Lambda entry points: the orchestrator looks its targets up
(``tag:GetResources``, ``autoscaling:DescribeTags``) and sends them to a moto SQS queue, and each message it sent
is handed to the worker as the SQS event the queue's event source mapping would deliver. botocore event hooks
count every API call per operation and the DynamoDB request units each consumes (from the request and response
sizes); the handlers' log and EMF output is counted byte for byte, as CloudWatch Logs would ingest it.

Lambda duration is modelled, not timed: the machine that runs this is shared, so wall time would be inflated by
load. Each handler's CPU time is measured (``time.process_time``, all threads) minus the CPU that moto itself spends
answering the calls (``time.thread_time`` around moto's request handler, per thread), and scaled to the function's
share of a vCPU (1,769 MB = 1 vCPU; 256 MB ≈ 0.145). To that is added the time the handler waits for AWS: its
calls × ``--latency-ms`` (the look-up's and the sender's calls divided by their thread pools), which moto cannot
tell. Cold starts add the CPU of importing the handlers, scaled the same way, for ``--cold-fraction`` of the
invocations (Lambda bills the INIT phase since 2025-08).

Fleets (one office schedule, 09:00-17:00 on weekdays, every resource; every 5 minutes, ec2+asg+rds configured):
6 resources per account × region (5 EC2 + 1 RDS) in 2 accounts × 2 regions; 500 per account × region (450 EC2 +
50 RDS) in 10 accounts × 2 regions; 100,000 EC2 instances in 1,000 targets (250 accounts × 4 regions × 100). A
worker pass is measured at each of those sizes; the orchestrator at one account and at 40 accounts (with and
without the look-up), from which its cost per account × region looked up and per message sent is taken.

Run: ``.venv/bin/python benchmarks/cost.py`` (a minute or two). Prices are us-east-1 list prices.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
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
# Amazon EventBridge Scheduler, https://aws.amazon.com/eventbridge/pricing/ (Scheduler tab): $1.00 per million
# scheduled invocations; 14 million a month free. Creating a schedule is not billed.
SCHEDULER_PER_INVOCATION = 1.00 / 1_000_000
SCHEDULER_FREE_INVOCATIONS = 14_000_000
# Amazon SQS, https://aws.amazon.com/sqs/pricing/ : standard queue $0.40 per million requests, the first million a
# month free; every 64 KB chunk of a payload is one request (a SendMessageBatch of 10 small messages is one).
SQS_PER_REQUEST = 0.40 / 1_000_000
SQS_FREE_REQUESTS = 1_000_000
SQS_CHUNK_BYTES = 64 * 1024
# An event source mapping polls a standard queue with long polling (20 s) from at least five pollers while it is
# idle (AWS Lambda Developer Guide, "Using Lambda with Amazon SQS", scaling and processing): 5 x 3 ReceiveMessage
# a minute; each delivered batch costs one ReceiveMessage and one DeleteMessageBatch.
ESM_IDLE_RECEIVES_PER_MINUTE = 5 * 3

HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
WEEKDAYS_PER_MONTH = 22
LAMBDA_PLATFORM_LOG_BYTES = 320  # START, END and REPORT lines of one invocation, as Lambda writes them
# Lambda allocates CPU in proportion to memory: 1,769 MB is one vCPU (Lambda Developer Guide, "Configuring
# memory"), so 256 MB is about 0.145 vCPU and CPU-bound code runs about 7 times slower than on one core.
LAMBDA_FULL_VCPU_MB = 1769
DASHBOARDS = 1  # Dashboard=true, the default
ESM_BATCH_SIZE = 5  # template.yaml: the worker queue's event source mapping, BatchSize

SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""


SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
REGION = "us-east-1"
SERVICES = ("ec2", "asg", "rds")
OTHER_ACCOUNTS = 39  # the orchestrator's scaling run: the hub and 39 accounts without tagged resources


# --- Measurement ---------------------------------------------------------------------------------------------


class CapacityMeter:
    """DynamoDB request units per call, from the item sizes in requests (writes) and responses (reads)."""

    def __init__(self) -> None:
        self.wru = 0
        self.rru = 0

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
        elif model.name == "BatchGetItem":  # every key read costs a unit, found or not
            self.rru += sum(len(t.get("Keys") or []) for t in body.get("RequestItems", {}).values())

    def _after(self, model: Any, parsed: Any, **_: Any) -> None:
        if model.service_model.service_name != "dynamodb":
            return
        # Strongly consistent reads: 1 RRU per 4 KB, at least 1; a query by its total size, a batch item by item.
        if model.name == "BatchGetItem":  # beyond the unit per key counted before the call
            for table in (parsed.get("Responses") or {}).values():
                self.rru += sum(max(1, math.ceil(len(json.dumps(i, default=str)) / 4096)) - 1 for i in table)
        elif model.name in ("Query", "Scan", "GetItem"):
            items = parsed.get("Items") or ([parsed["Item"]] if parsed.get("Item") else [])
            self.rru += max(1, math.ceil(sum(len(json.dumps(i, default=str)) for i in items) / 4096))

    def install(self) -> None:
        hook_all_clients({"before-call": self._before, "after-call": self._after}, "isched-cost")

    def reset(self) -> tuple[int, int]:
        out = (self.wru, self.rru)
        self.wru = self.rru = 0
        return out


class MotoCpu:
    """CPU that moto spends answering requests, per thread (``time.thread_time``), summed: not the handlers' own."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    def install(self) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.__call__
        meter = self

        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                spent = time.thread_time() - started
                with meter._lock:
                    meter.seconds += spent

        setattr(BotocoreStubber, "__call__", timed)  # noqa: B010 - measured for the length of the run

    def reset(self) -> float:
        with self._lock:
            out, self.seconds = self.seconds, 0.0
        return out


class Output(io.TextIOBase):
    """What a handler writes (its log lines, and the EMF lines it prints): bytes, lines, and the EMF metrics."""

    def __init__(self) -> None:
        self.bytes = 0
        self.lines = 0
        self._text: list[str] = []

    def write(self, s: str) -> int:
        self.bytes += len(s.encode("utf-8"))
        self.lines += s.count("\n")
        self._text.append(s)
        return len(s)

    def metrics(self) -> set[tuple[str, str, str]]:
        """(namespace, dimension values, metric name) of every EMF line written."""
        out: set[tuple[str, str, str]] = set()
        for line in "".join(self._text).splitlines():
            if '"_aws"' not in line:
                continue
            doc = json.loads(line)
            for directive in doc["_aws"]["CloudWatchMetrics"]:
                dims = ",".join(f"{d}={doc.get(d)}" for group in directive["Dimensions"] for d in group)
                out |= {(directive["Namespace"], dims, m["Name"]) for m in directive["Metrics"]}
        return out


@dataclass
class Invocation:
    """One measured invocation: API calls by operation, DynamoDB units, CPU seconds (not moto's), output."""

    calls: Counter[str]
    wru: int
    rru: int
    cpu: float
    log_bytes: int
    log_lines: int
    metrics: set[tuple[str, str, str]] = field(default_factory=set)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def count(self, *prefixes: str) -> int:
        return sum(n for op, n in self.calls.items() if op.startswith(prefixes))


class _Context:
    """A Lambda context as Powertools reads it (its values end up in every log line, so their length is real)."""

    def __init__(self, function: str) -> None:
        self.function_name = f"isched-cost-{function}"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:isched-cost-{function}"
        self.aws_request_id = "6f1c4a3e-0d7b-4a55-9b1e-2c8e5d7a9f10"


class Meters:
    def __init__(self) -> None:
        self.calls, self.capacity, self.moto = CallCounter(), CapacityMeter(), MotoCpu()
        self.calls.install()
        self.capacity.install()
        self.moto.install()

    def reset(self) -> None:
        self.calls.reset()
        self.capacity.reset()
        self.moto.reset()

    @contextlib.contextmanager
    def invocation(self, logger: Any, into: list[Invocation]) -> Iterator[None]:
        """Measures the block as one invocation of the handler whose logger is ``logger``; appends it to ``into``."""
        out = Output()
        handler = logger.registered_handler
        previous = handler.setStream(out)
        self.reset()
        started = time.process_time()
        try:
            with contextlib.redirect_stdout(out):  # EMF lines are printed
                yield
        finally:
            cpu = time.process_time() - started
            handler.setStream(previous)
        wru, rru = self.capacity.reset()
        own = max(0.0, cpu - self.moto.reset())
        into.append(Invocation(self.calls.reset(), wru, rru, own, out.bytes, out.lines, out.metrics()))


@dataclass
class WorkerPasses:
    """A worker pass of each populated service, quiet (nothing due) and busy (every resource stops)."""

    quiet: dict[str, Invocation]
    busy: dict[str, Invocation]
    message_bytes: int  # one SQS message (the worker's payload), on average


@dataclass
class OrchestratorRuns:
    one: Invocation  # a quiet pass over the hub account (3 targets, the look-up keeps the populated ones)
    looked_up: Invocation  # the same with OTHER_ACCOUNTS more accounts, none holding a tagged resource
    sent: Invocation  # the same accounts without the look-up: every target sent
    sent_one: Invocation  # the hub account alone without the look-up
    more_messages: int  # what ``sent`` sent more than ``sent_one``


def _setup(meters: Meters, namespace: str, ec2: int, rds: int) -> str:
    """Tables, schedules, a queue and the fleet in moto; the handlers' environment. Returns the queue URL."""
    import boto3

    from scheduler.engine import parse_text
    from scheduler.store.config import ConfigStore
    from scheduler.store.tables import Tables

    tables = Tables.for_namespace(namespace)
    tables.create_missing()
    ConfigStore(tables).apply(parse_text(SCHEDULES), prune=False, dry_run=False)
    client = boto3.client("ec2", region_name=REGION)
    image = client.describe_images()["Images"][0]["ImageId"]
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "office"}]}]
    if ec2:
        client.run_instances(ImageId=image, MinCount=ec2, MaxCount=ec2, InstanceType="t3.micro", TagSpecifications=tags)
    rds_client = boto3.client("rds", region_name=REGION)
    for n in range(rds):
        rds_client.create_db_instance(
            DBInstanceIdentifier=f"{namespace}-db{n}",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="u",
            MasterUserPassword="password1",
            Tags=[{"Key": "Schedule", "Value": "office"}],
        )
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName=f"isched-{namespace}-worker")["QueueUrl"]
    # The handlers read the environment the template gives them.
    os.environ.update(
        {
            "ISCHED_NAMESPACE": namespace,
            "ISCHED_ACCOUNTS": "123456789012",
            "ISCHED_REGIONS": REGION,
            "ISCHED_SERVICES": ",".join(SERVICES),
            "ISCHED_WORKER_QUEUE": queue,
            "ISCHED_TARGET_LOOKUP": "true",
        }
    )
    meters.reset()
    return str(queue)


def _pin_clock(at: datetime) -> None:
    """The handlers refuse a pass far from the real clock (a replay): their clock is the pass's minute plus one, as
    in Lambda. ``real_clock`` in scheduler/handlers/common.py is what every handler asks."""
    from scheduler.handlers import common

    setattr(common, "real_clock", lambda: at + timedelta(minutes=1))  # noqa: B010


def _orchestrate(meters: Meters, at: datetime, into: list[Invocation]) -> None:
    from scheduler.handlers import orchestrator

    _pin_clock(at)
    with meters.invocation(orchestrator.logger, into):
        orchestrator.handler({"id": f"pass-{at:%H%M}", "time": at.isoformat()}, _Context("orchestrator"))


def _drain(queue: str) -> list[dict[str, Any]]:
    """The messages the pass sent, as the event source mapping's records (one record per invocation below)."""
    import boto3

    sqs = boto3.client("sqs", region_name=REGION)
    records: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return records
        for m in got:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            records.append(
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:q",
                    "awsRegion": REGION,
                }
            )


def measure_workers(meters: Meters, ec2: int, rds: int) -> WorkerPasses:
    """A warm-up pass (first seen), a quiet pass and a busy one (every resource stops at 17:00) of one account and
    region holding ``ec2`` instances and ``rds`` databases; each message is one worker invocation."""
    from scheduler.handlers import worker

    queue = _setup(meters, f"w{ec2}x{rds}", ec2, rds)
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    kinds: dict[str, dict[str, Invocation]] = {}
    sizes: list[int] = []
    for kind, at in (
        ("warm-up", monday + timedelta(hours=12)),
        ("quiet", monday + timedelta(hours=12, minutes=5)),
        ("busy", monday + timedelta(hours=17)),
    ):
        _orchestrate(meters, at, [])
        meters.reset()
        kinds[kind] = {}
        _pin_clock(at)
        for record in _drain(queue):
            sizes.append(len(record["body"]))
            measured: list[Invocation] = []
            with meters.invocation(worker.logger, measured):
                worker.handler({"Records": [record]}, _Context("worker"))
            kinds[kind][json.loads(record["body"])["target"]["service"]] = measured[0]
    return WorkerPasses(kinds["quiet"], kinds["busy"], sum(sizes) // max(1, len(sizes)))


def measure_orchestrator(meters: Meters) -> OrchestratorRuns:
    """A quiet pass over the hub account (5 EC2 + 1 RDS), then over the hub and OTHER_ACCOUNTS empty accounts (moto
    answers each with its own, empty, resources after the AssumeRole), with the look-up and without it."""
    queue = _setup(meters, "orch", 5, 1)
    at = datetime(2026, 3, 2, 12, 5, tzinfo=UTC)
    runs: list[Invocation] = []
    _orchestrate(meters, at - timedelta(minutes=5), [])  # warm-up
    _orchestrate(meters, at, runs)
    others = [f"{200000000000 + n:012d}" for n in range(OTHER_ACCOUNTS)]
    os.environ["ISCHED_ACCOUNTS"] = ",".join(["123456789012", *others])
    _orchestrate(meters, at + timedelta(minutes=5), runs)
    os.environ["ISCHED_TARGET_LOOKUP"] = "false"
    _drain(queue)
    _orchestrate(meters, at + timedelta(minutes=10), runs)
    sent = len(_drain(queue))
    os.environ["ISCHED_ACCOUNTS"] = "123456789012"
    _orchestrate(meters, at + timedelta(minutes=15), runs)
    return OrchestratorRuns(runs[0], runs[1], runs[2], runs[3], sent - len(_drain(queue)))


# --- The model -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    name: str
    accounts: int
    regions: int
    ec2: int  # scheduled EC2 instances per account and region
    rds: int  # scheduled RDS databases per account and region
    interval_minutes: int = 5
    report_requests: int = 10  # Cost Explorer requests a month (isched report runs)

    @property
    def per_target(self) -> str:
        return f"{self.ec2 + self.rds:,} per account × region"


FLEETS = (
    Fleet("6 per account × region, 2 accounts × 2 regions", 2, 2, 5, 1),
    Fleet("500 per account × region, 10 accounts × 2 regions", 10, 2, 450, 50),
    Fleet("100,000 EC2 in 1,000 targets (250 accounts × 4 regions)", 250, 4, 100, 0),
)


@dataclass(frozen=True)
class Inputs:
    latency_ms: float
    cold_fraction: float
    memory_mb: int
    wake_ups_per_day: float


@dataclass
class Line:
    item: str
    quantity: str
    usd: float
    free_usd: float  # after the always-free tiers


def alarm_metrics(template: Path) -> tuple[int, int]:
    """(alarm metrics, those on isched's own EMF metrics) of template.yaml with its defaults: one per alarm on a
    metric, one per metric of an alarm on several (metric math); conditional alarms counted as deployed by default."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    resources = yaml.load(template.read_text(encoding="utf-8"), Loader=Loader)["Resources"]
    total = own = 0
    for res in resources.values():
        if res["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = res["Properties"]
        stats = [q["MetricStat"]["Metric"] for q in props.get("Metrics") or [] if "MetricStat" in q]
        if "MetricName" in props:
            stats.append(props)
        total += len(stats)
        own += sum(1 for s in stats if s.get("Namespace") == "isched")
    return total, own


def model(
    f: Fleet, w: WorkerPasses, o: OrchestratorRuns, init_cpu: float, alarms: tuple[int, int], i: Inputs
) -> list[Line]:
    share = min(1.0, i.memory_mb / LAMBDA_FULL_VCPU_MB)
    gb = i.memory_mb / 1024
    lat = i.latency_ms / 1000
    passes = (24 * 60 / f.interval_minutes + i.wake_ups_per_day) * DAYS_PER_MONTH
    # Every resource starts and stops once a weekday: those passes are busy, the others quiet.
    busy = 2 * WEEKDAYS_PER_MONTH
    quiet = passes - busy
    places = f.accounts * f.regions
    populated = [s for s, n in (("ec2", f.ec2), ("rds", f.rds)) if n]
    targets = places * len(SERVICES)
    messages = places * len(populated)

    # Orchestrator: the one-account pass, plus the look-up per further account × region and the send per message.
    lookup_cpu = max(0.0, o.looked_up.cpu - o.one.cpu) / OTHER_ACCOUNTS
    lookup_calls = (o.looked_up.total_calls - o.one.total_calls) / OTHER_ACCOUNTS
    send_cpu = max(0.0, o.sent.cpu - o.sent_one.cpu) / max(1, o.more_messages)
    orch_cpu = o.one.cpu + (places - 1) * lookup_cpu + (messages - len(populated)) * send_cpu
    sends = math.ceil(messages / 10) * max(1, math.ceil(10 * w.message_bytes / SQS_CHUNK_BYTES))
    # The look-up runs 32 accounts × regions at a time and the sender 8 batches at a time (their thread pools).
    lookup_wait = (o.one.count("resourcegroupstaggingapi", "autoscaling", "sts") + (places - 1) * lookup_calls) / 32
    serial = 1.0 * o.one.total_calls - o.one.count("resourcegroupstaggingapi", "autoscaling", "sts", "sqs")
    # The wake-up a pass creates now and then (scheduler:CreateSchedule), on average.
    serial += i.wake_ups_per_day / (24 * 60 / f.interval_minutes + i.wake_ups_per_day)
    orch_seconds = orch_cpu / share + (serial + lookup_wait + sends / 8) * lat + i.cold_fraction * init_cpu / share

    def worker(attr: str, kind: dict[str, Invocation]) -> float:
        return float(sum(getattr(kind[s], attr) for s in populated))

    def worker_seconds(kind: dict[str, Invocation]) -> float:
        return worker("cpu", kind) / share + worker("total_calls", kind) * lat

    invocations = math.ceil(messages / ESM_BATCH_SIZE)
    worker_gbs = places * (quiet * worker_seconds(w.quiet) + busy * worker_seconds(w.busy)) * gb
    worker_gbs += passes * invocations * i.cold_fraction * init_cpu / share * gb
    gb_seconds = passes * orch_seconds * gb + worker_gbs
    requests = passes * (1 + invocations)

    def per_month(attr: str) -> float:
        # The orchestrator's reads grow with the accounts × regions it looks up (the pass items it reads).
        one, many = float(getattr(o.one, attr)), float(getattr(o.looked_up, attr))
        orch = one + (places - 1) * (many - one) / OTHER_ACCOUNTS
        return places * (quiet * worker(attr, w.quiet) + busy * worker(attr, w.busy)) + passes * orch

    wru = per_month("wru")
    rru = per_month("rru")
    # About 1 KB per item (at most: each ledger write above is one unit): a state item per resource and a pass item
    # per target, plus the ledger at its steady state, LEDGER_RETENTION_DAYS of entries (a start and a stop per
    # weekday per resource; DynamoDB's TTL removes older ones).
    from scheduler.store.state import LEDGER_RETENTION_DAYS

    resources = places * (f.ec2 + f.rds)
    ledger_months = LEDGER_RETENTION_DAYS / DAYS_PER_MONTH
    storage_gb = (targets + resources * (1 + 2 * WEEKDAYS_PER_MONTH * ledger_months)) * 1024 / 1e9

    sqs = passes * (sends + 2 * invocations) + ESM_IDLE_RECEIVES_PER_MINUTE * 60 * HOURS_PER_MONTH

    def log_bytes(inv: Invocation) -> float:
        return inv.log_bytes + inv.log_lines * LOG_EVENT_OVERHEAD

    platform = LAMBDA_PLATFORM_LOG_BYTES + 3 * LOG_EVENT_OVERHEAD
    logs_month = passes * (log_bytes(o.one) + platform * (1 + invocations)) + places * (
        quiet * sum(log_bytes(w.quiet[s]) for s in populated) + busy * sum(log_bytes(w.busy[s]) for s in populated)
    )
    log_gb = logs_month / 1e9
    # EMF metrics: one series per namespace, dimension values and name, whatever the number of accounts. A series
    # costs for the hours it receives data: those of every pass all month; those of busy passes only (started,
    # stopped) in the hours with transitions, one start hour and one stop hour per weekday.
    every = o.one.metrics | {m for s in populated for m in w.quiet[s].metrics}
    busy_only = {m for s in populated for m in w.busy[s].metrics} - every
    metric_months = len(every) + len(busy_only) * WEEKDAYS_PER_MONTH / HOURS_PER_MONTH

    free_req = max(0.0, requests - LAMBDA_FREE_REQUESTS) * LAMBDA_PER_REQUEST
    free_dur = max(0.0, gb_seconds - LAMBDA_FREE_GB_SECONDS) * LAMBDA_ARM_GB_SECOND
    ddb_storage = storage_gb * (DDB_STORAGE_GB_MONTH + DDB_PITR_GB_MONTH)
    ddb_storage_free = (
        max(0.0, storage_gb - DDB_FREE_STORAGE_GB) * DDB_STORAGE_GB_MONTH + storage_gb * DDB_PITR_GB_MONTH
    )
    logs = log_gb * (LOGS_INGEST_GB + LOGS_STORAGE_GB_MONTH)
    logs_free = max(0.0, log_gb - CW_FREE_LOGS_GB) * LOGS_INGEST_GB + log_gb * LOGS_STORAGE_GB_MONTH
    alarm_total = alarms[0]
    per_busy_worker = worker_seconds(w.busy) / len(populated)
    return [
        Line("Lambda requests", f"{requests:,.0f} invocations", requests * LAMBDA_PER_REQUEST, free_req),
        Line(
            "Lambda duration (arm64)",
            f"{gb_seconds:,.0f} GB-s ({worker_seconds(w.quiet) / len(populated) * 1000:,.0f}/"
            f"{per_busy_worker * 1000:,.0f} ms a quiet/busy target, {orch_seconds:,.1f} s/orchestrator)",
            gb_seconds * LAMBDA_ARM_GB_SECOND,
            free_dur,
        ),
        Line(
            "SQS requests",
            f"{sqs:,.0f} requests",
            sqs * SQS_PER_REQUEST,
            max(0.0, sqs - SQS_FREE_REQUESTS) * SQS_PER_REQUEST,
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
            f"{alarm_total} alarm metrics",
            alarm_total * ALARM_METRIC_MONTH,
            max(0, alarm_total - CW_FREE_ALARM_METRICS) * ALARM_METRIC_MONTH,
        ),
        Line(
            "CloudWatch dashboard",
            f"{DASHBOARDS} dashboard",
            DASHBOARDS * DASHBOARD_MONTH,
            max(0, DASHBOARDS - CW_FREE_DASHBOARDS) * DASHBOARD_MONTH,
        ),
        Line(
            "EventBridge Scheduler",
            f"{passes:,.0f} passes ({i.wake_ups_per_day:g} wake-ups a day)",
            passes * SCHEDULER_PER_INVOCATION,
            max(0.0, passes - SCHEDULER_FREE_INVOCATIONS) * SCHEDULER_PER_INVOCATION,
        ),
        Line(
            "Cost Explorer API",
            f"{f.report_requests} requests",
            f.report_requests * CE_PER_REQUEST,
            f.report_requests * CE_PER_REQUEST,
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
    parser.add_argument(
        "--wake-ups-per-day",
        type=float,
        default=12.0,
        help="one-time wake-up passes a day besides the regular ones (benchmarks/latency.py: 11.6 at 5 minutes)",
    )
    args = parser.parse_args(argv)
    inputs = Inputs(args.latency_ms, args.cold_fraction, args.memory_mb, args.wake_ups_per_day)

    started = time.process_time()
    from scheduler.handlers import orchestrator, worker  # noqa: F401 - the cold start's own work

    init_cpu = time.process_time() - started
    alarms = alarm_metrics(Path(__file__).resolve().parent.parent / "template.yaml")
    with simulated_aws(REGION):
        meters = Meters()
        orch = measure_orchestrator(meters)
        sizes = sorted({(f.ec2, f.rds) for f in FLEETS})
        workers = {size: measure_workers(meters, *size) for size in sizes}

    print(
        f"measured (moto in-process; CPU time without moto's, at {args.memory_mb} MB = "
        f"{min(1.0, args.memory_mb / LAMBDA_FULL_VCPU_MB):.3f} vCPU):"
    )
    print(f"  handler import (cold-start INIT): {init_cpu * 1000:.0f} ms CPU")
    for label, inv in (
        ("orchestrator, 1 account", orch.one),
        (f"+{OTHER_ACCOUNTS} accounts, look-up", orch.looked_up),
        (f"+{OTHER_ACCOUNTS} accounts, no look-up", orch.sent),
        ("1 account, no look-up", orch.sent_one),
    ):
        print(
            f"  {label:<34} {inv.total_calls:>4} calls, {inv.wru:>3} WRU, {inv.rru:>3} RRU, {inv.log_bytes:>6} B logs, "
            f"{inv.cpu * 1000:>5.0f} ms CPU  [{_calls(inv.calls)}]"
        )
    for (ec2, rds), w in workers.items():
        for kind, passes in (("quiet", w.quiet), ("busy", w.busy)):
            for service, inv in passes.items():
                n = ec2 if service == "ec2" else rds
                print(
                    f"  worker {kind:<5} {service:<3} ({n:>3} resources): {inv.total_calls:>3} calls, "
                    f"{inv.wru:>4} WRU, {inv.rru:>2} RRU, {inv.log_bytes:>6} B logs in {inv.log_lines:>3} lines, "
                    f"{inv.cpu * 1000:>5.0f} ms CPU  [{_calls(inv.calls)}]"
                )
    print(
        f"assumptions: {args.latency_ms:g} ms per AWS call, {args.cold_fraction:.0%} cold starts, "
        f"{args.memory_mb} MB functions, {args.wake_ups_per_day:g} wake-ups a day, transitions twice a weekday, "
        f"{alarms[0]} alarm metrics and 1 dashboard (template.yaml defaults), us-east-1 list prices"
    )
    summary = []
    for fleet in FLEETS:
        lines = model(fleet, workers[(fleet.ec2, fleet.rds)], orch, init_cpu, alarms, inputs)
        print()
        print(
            f"{fleet.name}, every {fleet.interval_minutes} min "
            f"({fleet.accounts * fleet.regions * (fleet.ec2 + fleet.rds):,} resources)"
        )
        print(f"  {'item':<26} {'quantity':<70} {'list $':>9} {'free tier $':>12}")
        for line in lines:
            print(f"  {line.item:<26} {line.quantity:<70} {line.usd:>9.3f} {line.free_usd:>12.3f}")
        total = sum(line.usd for line in lines)
        free = sum(line.free_usd for line in lines)
        print(f"  {'total per month':<26} {'':<70} {total:>9.2f} {free:>12.2f}")
        # PublishMetrics=false: no EMF metrics and no alarm on them (Lambda's and the queue's alarms stay).
        metrics_usd = next(x.usd for x in lines if x.item.startswith("CloudWatch metrics"))
        no_metrics = total - metrics_usd - alarms[1] * ALARM_METRIC_MONTH
        print(f"  {'with PublishMetrics=false':<26} {'':<70} {no_metrics:>9.2f}")
        summary.append((fleet, total, free, no_metrics))
    print()
    print(
        "| fleet (every 5 minutes, ec2+asg+rds) | list price | with AWS's always-free tiers "
        "| `PublishMetrics=false` (list) |"
    )
    print("|---|---|---|---|")
    for fleet, total, free, no_metrics in summary:
        print(f"| {fleet.name} | US${total:,.2f} a month | US${free:,.2f} | US${no_metrics:,.2f} |")


def _calls(calls: Counter[str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(calls.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
