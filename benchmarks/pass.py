"""Pass benchmark: AWS API calls per pass and pass time versus fleet size, for one EC2 target.

For 10, 100 and 500 instances it runs a quiet pass (nothing changes), a busy pass (every instance stops) and the
quiet pass after it (nothing to do: it must write nothing), counts every API call with botocore event hooks, and
compares with the lower bound: describe pages + action batches (1000 ids) + the state query + batched write-ahead
intents, state and ledger writes (25 items each) + the pass record, plus one call per tag batch.

Run: ``.venv/bin/python benchmarks/pass.py``. AWS is simulated in-process by moto, so the times measure
isched plus moto's own cost, not AWS latency.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from _aws import CallCounter, simulated_aws

SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""


@dataclass
class Measured:
    calls: Counter[str]
    seconds: float
    actions: int

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@dataclass
class Row:
    n: int
    passes: dict[str, Measured] = field(default_factory=dict)


def bench(n: int, region: str, counter: CallCounter) -> Row:
    """One fleet of ``n`` instances alone in ``region`` (so earlier fleets are not in its target)."""
    import os

    import boto3

    from scheduler.aws.accounts import AccountSessions
    from scheduler.engine import parse_text
    from scheduler.runtime.orchestrator import LocalInvoker, PassRequest, run_pass
    from scheduler.store.config import ConfigStore
    from scheduler.store.state import StateStore, Target
    from scheduler.store.tables import Tables

    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = region
    tables = Tables.for_namespace(f"bench{n}")
    tables.create_missing()
    store = ConfigStore(tables)
    store.apply(parse_text(SCHEDULES), prune=False, dry_run=False)
    ec2 = boto3.client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    for start in range(0, n, 100):
        ec2.run_instances(
            ImageId=image,
            MinCount=min(100, n - start),
            MaxCount=min(100, n - start),
            InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "office"}]}],
        )
    sessions = AccountSessions()
    account = sessions.hub_account
    target = Target(account, region, "ec2")
    config = store.load()
    invoker = LocalInvoker(config, StateStore(tables), sessions)
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    # Warm-up pass during office hours records every instance (first-seen writes are not steady state).
    run_pass(invoker, [target], PassRequest(at=monday + timedelta(hours=12)))
    out = Row(n)
    for label, at in (
        ("quiet", monday + timedelta(hours=12, minutes=5)),
        ("busy", monday + timedelta(hours=17)),
        ("after", monday + timedelta(hours=17, minutes=5)),
    ):
        counter.reset()
        t0 = time.perf_counter()
        result = run_pass(invoker, [target], PassRequest(at=at))
        elapsed = time.perf_counter() - t0
        calls = counter.reset()
        acted = sum(len(r.actions) for r in result.results)
        out.passes[label] = Measured(calls, elapsed, acted)
    return out


def lower_bound(n: int, changing: bool) -> int:
    describe = max(1, math.ceil(n / 1000))
    state = 1 + 2  # one query, the pass claim and its completion
    if not changing:
        return describe + state
    # stops (1000 ids per call); the write-ahead intents, the final state and the ledger (25 items per
    # BatchWriteItem each)
    return describe + state + math.ceil(n / 1000) + math.ceil(n / 25) * 3


def main() -> None:
    counter = CallCounter()
    counter.install()
    rows = []
    with simulated_aws():
        for n, region in ((10, "us-east-1"), (100, "us-west-2"), (500, "eu-west-1")):
            rows.append(bench(n, region, counter))
    counter.uninstall()
    print("instances | pass  | API calls | lower bound | + tag calls | pass time | actions")
    for row in rows:
        for label, m in row.passes.items():
            bound = lower_bound(row.n, label == "busy")
            tag_calls = max(1, math.ceil(row.n / 1000)) if label == "busy" else 0
            print(
                f"{row.n:>9} | {label:<5} | {m.total:>9} | {bound:>11} | {tag_calls:>11} | "
                f"{m.seconds:>7.2f} s | {m.actions}"
            )
    print()
    for row in rows:
        for label, m in row.passes.items():
            print(f"{row.n} {label}: " + ", ".join(f"{k}={v}" for k, v in sorted(m.calls.items())))


if __name__ == "__main__":
    main()
