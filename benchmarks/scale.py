"""Scale benchmark: a pass over 100,000 resources in 1,000 targets, and the fan-out of 10,000 targets.

Three measurements, each of isched's own code where AWS cannot be run here:

1. **Fan-out** (orchestrator): the target look-up (one ``tag:GetResources`` and one Auto Scaling ``DescribeTags`` per
   account and region, one AssumeRole per account, the state table's pass items 100 to a BatchGetItem) and the SQS
   fan-out (``SendMessageBatch`` of 10), for 1,000 targets (60 accounts × 17 regions, EC2, 5% populated) and 10,200
   targets (600 accounts × 17 regions). AWS is faked in memory: real botocore clients (one per account and region,
   as the look-up makes them) answer from recorded-shape responses (botocore's Stubber), so the time is isched's
   and botocore's CPU (client creation, serialisation, parsing) without the network; the script adds the API
   latency (``--latency-ms``) over the look-up's and the sender's concurrency, and scales the CPU by the vCPU
   share of the orchestrator's memory size (Lambda gives 1 vCPU at 1,769 MB, proportionally less below).
2. **Workers** (project code): 1,000 targets of 100 EC2 instances each through the real worker (``run_worker``)
   with an in-memory adapter and state store: time per target and the process's peak memory, for a quiet pass and
   one where every instance stops.
3. **Calls per target** (moto, in-process): one target of 100 instances, the API calls of a quiet and a busy pass.

Run: ``.venv/bin/python benchmarks/scale.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from _aws import CallCounter, simulated_aws

SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
]  # the 17 regions every account has enabled by default
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
LAMBDA_FULL_VCPU_MB = 1769


# --- 1. Fan-out, AWS faked in memory ---------------------------------------------------------------------------


class FakeSqs:
    def __init__(self, calls: Counter[str]) -> None:
        self.calls = calls
        self.messages = 0
        self.bytes = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.calls["sqs:SendMessageBatch"] += 1
        self.messages += len(Entries)
        self.bytes += sum(len(e["MessageBody"]) for e in Entries)
        return {"Successful": [{"Id": e["Id"], "MessageId": "m" + e["Id"]} for e in Entries]}


class FakeSessions:
    """What the look-up needs of AccountSessions: credentials per account (one AssumeRole each, counted)."""

    def __init__(self, calls: Counter[str]) -> None:
        import boto3

        self.base = boto3.Session(aws_access_key_id="hub", aws_secret_access_key="y", region_name="us-east-1")
        self.hub_account = "000000000000"
        self.partition = "aws"
        self.calls = calls
        self._creds: dict[str, dict[str, str]] = {}

    def has_credentials(self, account: str) -> bool:
        return account in self._creds

    def credentials(self, account: str) -> dict[str, str]:
        if account not in self._creds:
            self.calls["sts:AssumeRole"] += 1
            self._creds[account] = {"AccessKeyId": account, "SecretAccessKey": "s", "SessionToken": "t"}
        return self._creds[account]


def fan_out(accounts: int, services: tuple[str, ...], populated_share: float) -> dict[str, Any]:
    from botocore.awsrequest import AWSResponse

    from scheduler.engine import parse_text
    from scheduler.runtime import targets as targets_mod
    from scheduler.runtime.lambda_invoker import PayloadBuilder
    from scheduler.runtime.orchestrator import PassRequest, targets_for
    from scheduler.runtime.sqs_invoker import SqsInvoker
    from scheduler.store.state import StateStore, Target

    calls: Counter[str] = Counter()
    real_client = getattr(targets_mod, "client")  # noqa: B009 - replaced for the measurement, restored after
    ids = [f"{n:012d}" for n in range(1, accounts + 1)]
    every = max(1, round(1 / populated_share))
    populated = {(a, r) for n, (a, r) in enumerate((a, r) for a in ids for r in REGIONS) if n % every == 0}

    arn = "arn:aws:ec2:us-east-1:111111111111:instance/i-0123456789abcdef0"

    def stubbed_client(service: str, region: str | None = None, session: Any = None, **kw: Any) -> Any:
        # A real botocore client, made as the look-up makes it (one per service and region), whose calls are
        # answered in place of the network by a before-call hook (botocore's own short-circuit, as its Stubber
        # uses): parameter validation and serialisation are measured, the HTTP exchange and parsing are not.
        made = real_client(service, region, session, **kw)
        ok = AWSResponse("https://aws", 200, {}, None)

        def answer(model: Any, **_: Any) -> tuple[Any, dict[str, Any]]:
            account = made._request_signer._credentials.get_frozen_credentials().access_key
            if model.name == "GetResources":
                calls["tag:GetResources"] += 1
                found = [{"ResourceARN": arn, "Tags": [{"Key": "Schedule", "Value": "office"}]}]
                return ok, {"ResourceTagMappingList": found if (account, region) in populated else []}
            calls["autoscaling:DescribeTags"] += 1
            return ok, {"Tags": []}

        made.meta.events.register("before-call", answer)
        return made

    class NoState(StateStore):
        def __init__(self) -> None:
            pass

        def settled_targets(self, targets: Iterable[Target]) -> set[Target]:
            items = list(targets)
            calls["dynamodb:BatchGetItem"] += (len(items) + 99) // 100
            return set(items)

    setattr(targets_mod, "client", stubbed_client)  # noqa: B010
    try:
        targets = targets_for(ids, REGIONS, services)
        t0 = time.perf_counter()
        c0 = time.process_time()
        selection = targets_mod.select_targets(targets, FakeSessions(calls), NoState(), "Schedule")  # type: ignore[arg-type]
        lookup_cpu = time.process_time() - c0
        lookup_wall = time.perf_counter() - t0
        sqs = FakeSqs(calls)
        invoker = SqsInvoker("https://sqs/q", PayloadBuilder(parse_text(SCHEDULES), "isched-config"), sqs_client=sqs)
        c0 = time.process_time()
        t0 = time.perf_counter()
        invoker.invoke(selection.targets, PassRequest(at=MONDAY))
        send_cpu = time.process_time() - c0
        send_wall = time.perf_counter() - t0
        # Everything at once (no look-up): the message side of a pass that invokes every target.
        sqs_all = FakeSqs(Counter())
        invoker = SqsInvoker(
            "https://sqs/q", PayloadBuilder(parse_text(SCHEDULES), "isched-config"), sqs_client=sqs_all
        )
        c0 = time.process_time()
        invoker.invoke(targets, PassRequest(at=MONDAY))
        send_all_cpu = time.process_time() - c0
    finally:
        setattr(targets_mod, "client", real_client)  # noqa: B010
    return {
        "targets": len(targets),
        "invoked": len(selection.targets),
        "calls": calls,
        "lookup_cpu": lookup_cpu,
        "lookup_wall": lookup_wall,
        "send_cpu": send_cpu,
        "send_wall": send_wall,
        "send_all_cpu": send_all_cpu,
        "messages_all": sqs_all.messages,
        "bytes": sqs.bytes,
    }


def modeled_seconds(cpu: float, calls: int, concurrency: int, latency_ms: float, memory_mb: int) -> float:
    """Wall time in Lambda: CPU scaled to the function's vCPU share, plus the calls' latency over the threads."""
    share = min(1.0, memory_mb / LAMBDA_FULL_VCPU_MB)
    return cpu / share + calls * latency_ms / 1000 / concurrency


# --- 2. Workers, in memory ---------------------------------------------------------------------------------------


def worker_in_memory(targets: int, per_target: int) -> dict[str, float]:
    from scheduler.engine import Observed, parse_text
    from scheduler.runtime.worker import run_worker
    from scheduler.services.base import ActionResult, Resource
    from scheduler.store.state import LedgerEntry, PassAlreadyClaimed, PassInfo, ResourceRecord, StateStore, Target

    class MemoryState(StateStore):
        def __init__(self) -> None:
            self.tag_key = "Schedule"
            self.records: dict[str, dict[str, dict[str, Any]]] = {}
            self.passes: dict[str, datetime] = {}
            self.ledger: list[LedgerEntry] = []

        def load_all(self, target: Target) -> tuple[dict[str, ResourceRecord], PassInfo]:
            stored = self.records.get(target.key, {})
            return (
                {rid: ResourceRecord.from_data(rid, dict(d)) for rid, d in stored.items()},
                PassInfo(completed_at=self.passes.get(target.key)),
            )

        def claim_pass(self, target: Target, now: datetime, **kw: Any) -> datetime | None:
            done = self.passes.get(target.key)
            if done is not None and done >= now:
                raise PassAlreadyClaimed(str(target))
            return None

        def save(self, target: Target, records: Iterable[ResourceRecord], now: datetime) -> int:
            part = self.records.setdefault(target.key, {})
            n = 0
            for rec in records:
                part[rec.resource] = rec.to_data()
                n += 1
            return n

        def append_ledger(self, entries: Iterable[LedgerEntry]) -> int:
            items = list(entries)
            self.ledger += items
            return len(items)

        def complete_pass(self, target: Target, now: datetime, horizon: datetime, live: int | None = None) -> None:
            self.passes[target.key] = now

        def release_lease(self, target: Target, now: datetime) -> None:
            return None

    class MemoryAdapter:
        name = "ec2"
        resizable = True

        def __init__(self, ids: list[str]) -> None:
            self.events_since: datetime | None = None
            self.warnings: list[str] = []
            self.observed = dict.fromkeys(ids, Observed.RUNNING)

        def discover(self, tag_key: str) -> list[Resource]:
            return [
                Resource("ec2", rid, "office", obs, instance_type="t3.micro", tags={"Schedule": "office"})
                for rid, obs in self.observed.items()
            ]

        def stop(self, resources: list[Resource], *, hibernate: bool = False) -> list[ActionResult]:
            for r in resources:
                self.observed[r.id] = Observed.STOPPED
            return [ActionResult(r.id, True) for r in resources]

        def start(self, resources: list[Resource], *, saved: dict[str, dict[str, Any]]) -> list[ActionResult]:
            for r in resources:
                self.observed[r.id] = Observed.RUNNING
            return [ActionResult(r.id, True) for r in resources]

        def resize(self, resource: Resource, instance_type: str) -> ActionResult:
            return ActionResult(resource.id, True)

        def set_tags(self, tags: dict[str, dict[str, str]]) -> list[ActionResult]:
            return [ActionResult(rid, True) for rid in tags]

    class Quiet:
        def info(self, msg: str, *a: Any, **k: Any) -> None: ...

        def debug(self, msg: str, *a: Any, **k: Any) -> None: ...

    config = parse_text(SCHEDULES)
    state = MemoryState()
    adapters = {n: MemoryAdapter([f"i-{n:08x}{k:09x}" for k in range(per_target)]) for n in range(targets)}
    out: dict[str, float] = {}
    for kind, at in (
        ("first", MONDAY + timedelta(hours=12)),
        ("quiet", MONDAY + timedelta(hours=12, minutes=5)),
        ("busy", MONDAY + timedelta(hours=17)),
    ):
        t0 = time.process_time()
        for n in range(targets):
            target = Target(f"{n // 17:012d}", REGIONS[n % 17], "ec2")
            run_worker(target, at, config, adapters[n], state, logger=Quiet(), now=at)
        out[kind] = (time.process_time() - t0) / targets
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out["stopped"] = sum(1 for a in adapters.values() for o in a.observed.values() if o is Observed.STOPPED)
    return out


# --- 3. Calls per target, moto -------------------------------------------------------------------------------------


def calls_per_target(instances: int) -> dict[str, Counter[str]]:
    import boto3

    from scheduler.aws.accounts import AccountSessions
    from scheduler.engine import parse_text
    from scheduler.runtime.worker import run_target
    from scheduler.store.config import ConfigStore
    from scheduler.store.state import StateStore, Target
    from scheduler.store.tables import Tables

    counter = CallCounter()
    counter.install()
    tables = Tables.for_namespace("scale")
    tables.create_missing()
    ConfigStore(tables).apply(parse_text(SCHEDULES), prune=False, dry_run=False)
    ec2 = boto3.client("ec2", region_name="us-east-1")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "office"}]}]
    ec2.run_instances(
        ImageId=image, MinCount=instances, MaxCount=instances, InstanceType="t3.micro", TagSpecifications=tags
    )
    config = ConfigStore(tables).load()
    sessions = AccountSessions()
    target = Target(sessions.hub_account, "us-east-1", "ec2")
    out: dict[str, Counter[str]] = {}
    for kind, at in (
        ("first", MONDAY + timedelta(hours=12)),
        ("quiet", MONDAY + timedelta(hours=12, minutes=5)),
        ("busy", MONDAY + timedelta(hours=17)),
    ):
        counter.reset()
        run_target(target, at, config, StateStore(tables), sessions, now=at)
        out[kind] = counter.reset()
    counter.uninstall()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=25.0, help="AWS API round trip")
    parser.add_argument("--memory-mb", type=int, default=256, help="the orchestrator's memory size")
    args = parser.parse_args(argv)
    from scheduler.runtime.targets import DEFAULT_CONCURRENCY

    print("1. Fan-out (AWS faked in memory; CPU measured, latency modelled)")
    print(
        f"   {'targets':>8} {'invoked':>8} {'look-up calls':>14} {'batches':>8} {'CPU look-up':>12} "
        f"{'CPU send':>9} {'Lambda s @256MB':>16} {'@1769MB':>8}"
    )
    for accounts, services, share in ((60, ("ec2",), 0.05), (600, ("ec2",), 0.05), (600, ("ec2",), 1.0)):
        r = fan_out(accounts, services, share)
        calls: Counter[str] = r["calls"]
        lookup_calls = sum(v for k, v in calls.items() if k != "sqs:SendMessageBatch")
        batches = calls["sqs:SendMessageBatch"]
        cpu = float(r["lookup_cpu"] + r["send_cpu"])

        def wall(mb: int, cpu: float = cpu, lookup_calls: int = lookup_calls, batches: int = batches) -> float:
            latency = float(args.latency_ms) / 1000
            return (
                modeled_seconds(cpu, 0, 1, 0, mb) + lookup_calls * latency / DEFAULT_CONCURRENCY + batches * latency / 8
            )

        print(
            f"   {r['targets']:>8,} {r['invoked']:>8,} {lookup_calls:>14,} {batches:>8,} {r['lookup_cpu']:>11.2f}s "
            f"{r['send_cpu']:>8.2f}s {wall(args.memory_mb):>15.1f}s {wall(LAMBDA_FULL_VCPU_MB):>7.1f}s"
        )
        print(
            f"            calls: {dict(sorted(calls.items()))}; every target at once: {r['messages_all']:,} "
            f"messages in {r['send_all_cpu']:.2f} s CPU"
        )
    print()
    print("2. Workers in memory: 1,000 targets x 100 EC2 instances (100,000 resources), project code only")
    w = worker_in_memory(1000, 100)
    print(
        f"   per target: first pass {w['first'] * 1000:.1f} ms, quiet {w['quiet'] * 1000:.1f} ms, all stop "
        f"{w['busy'] * 1000:.1f} ms CPU; whole pass {w['quiet'] * 1000:.0f} s / {w['busy'] * 1000:.0f} s of worker "
        f"CPU over 1,000 invocations; process peak {w['peak_mb']:.0f} MB holding all 1,000 targets' state "
        f"({int(w['stopped']):,} stopped)"
    )
    print()
    print("3. API calls per target of 100 EC2 instances (moto, in-process)")
    with simulated_aws("us-east-1"):
        counts = calls_per_target(100)
    for kind, c in counts.items():
        print(f"   {kind:<6} {sum(c.values()):>3} calls: {dict(sorted(c.items()))}")


if __name__ == "__main__":
    main(sys.argv[1:])
