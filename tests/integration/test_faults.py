"""Fault injection: every AWS and DynamoDB call of a scheduling pass fails in turn, then the records are checked.

A proxy in front of the moto server (tests/integration/fault_proxy.py) fails exactly one request of the pass
that stops three instances at 17:00. Then fault-free passes follow (17:10, and 09:05 the next day). Whatever
call failed:

* the instances end stopped (and started again the next morning): no target is locked out;
* the ledger holds exactly one stop and one start per instance, at the pass that really did it (checked
  against the instances' observed state right after the faulty pass): no action lost, none invented;
* the faulty pass's own output lists every stop it performed: no action hidden;
* the state records carry no leftover intent or unrecorded entry, and the pass item moves on;
* the savings report's stopped hours per instance equal the hours between the recorded stop and start,
  computed here from the clock times, not by the code under test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from scheduler.aws.accounts import AccountSessions
from scheduler.aws.session import reset_clients
from scheduler.engine import parse_text
from scheduler.runtime.orchestrator import LocalInvoker, PassRequest, PassResult, run_pass
from scheduler.savings.price_file import parse_prices
from scheduler.savings.report import monthly_report, not_asked
from scheduler.store.config import ConfigStore
from scheduler.store.state import StateStore, Target
from scheduler.store.tables import Tables

from .fault_proxy import FaultProxy

pytestmark = pytest.mark.integration

REGION = "ap-southeast-4"
SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
MON = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday, in the past: real-time passes
NOON, STOP_PASS, RECOVERY, MORNING = (
    MON + timedelta(hours=12),
    MON + timedelta(hours=17, minutes=5),
    MON + timedelta(hours=17, minutes=10),
    MON + timedelta(days=1, hours=9, minutes=5),
)


@pytest.fixture(scope="module")
def proxy(moto_server: str) -> Iterator[FaultProxy]:
    p = FaultProxy(moto_server)
    yield p
    p.close()


class World:
    """One scenario: its own tables, tag key and three instances; passes go through the proxy."""

    def __init__(self, moto: str, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> None:
        self.moto, self.proxy, self.monkeypatch = moto, proxy, monkeypatch
        self.calls: list[str] = []
        self.namespace = f"f{uuid.uuid4().hex[:10]}"
        self.tag_key = f"sched-{uuid.uuid4().hex[:8]}"
        self._direct()
        tables = Tables.for_namespace(self.namespace)
        tables.create_missing()
        ConfigStore(tables).apply(parse_text(SCHEDULES), prune=False, dry_run=False)
        self.ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto)
        image = self.ec2.describe_images()["Images"][0]["ImageId"]
        reservation = self.ec2.run_instances(
            ImageId=image,
            MinCount=3,
            MaxCount=3,
            InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": self.tag_key, "Value": "office"}]}],
        )
        self.ids = sorted(i["InstanceId"] for i in reservation["Instances"])
        self.direct_tables = tables
        self.account = AccountSessions().hub_account
        self.target = Target(self.account, REGION, "ec2")

    def _direct(self) -> None:
        self.monkeypatch.setenv("AWS_ENDPOINT_URL", self.moto)
        reset_clients()

    def _proxied(self) -> None:
        self.monkeypatch.setenv("AWS_ENDPOINT_URL", self.proxy.url)
        reset_clients()

    def run(
        self, at: datetime, fail: Callable[[int, str], bool] | None = None, *, later: timedelta | None = None
    ) -> PassResult:
        """One pass through the proxy (the config is read directly: the pass is what is under test)."""
        self._direct()
        config = ConfigStore(self.direct_tables).load()
        self._proxied()
        tables = Tables.for_namespace(self.namespace)
        invoker = LocalInvoker(config, StateStore(tables), AccountSessions(), max_workers=1)
        self.proxy.reset(fail)
        try:
            # ``later``: the real clock has moved on (past the lease of a pass that could not release it).
            now = datetime.now(UTC) + later if later else None
            return run_pass(invoker, [self.target], PassRequest(at=at, tag_key=self.tag_key, now=now))
        finally:
            self.calls = list(self.proxy.calls)
            self.proxy.reset()
            self._direct()

    def states(self) -> dict[str, str]:
        found = self.ec2.describe_instances(InstanceIds=self.ids)
        return {i["InstanceId"]: i["State"]["Name"] for r in found["Reservations"] for i in r["Instances"]}

    def ledger(self) -> list[dict[str, object]]:
        return StateStore(self.direct_tables).ledger_month("2026-11")


@pytest.fixture
def world(moto_server: str, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> Callable[[], World]:
    return lambda: World(moto_server, proxy, monkeypatch)


# The calls of a clean stop pass for three instances, in order (checked by the first test below); each of them is
# failed in turn by the parametrised test, which xdist spreads over its workers.
CLEAN_STOP_PASS = [
    "sts:GetCallerIdentity",
    "dynamodb:UpdateItem",  # the claim
    "dynamodb:Query",  # state
    "ec2:DescribeInstances",
    "dynamodb:BatchWriteItem",  # the write-ahead intents
    "ec2:StopInstances",
    "ec2:DescribeVolumes",  # what keeps billing while stopped (best effort: a failure loses only the estimate)
    "ec2:DescribeAddresses",
    "dynamodb:BatchWriteItem",  # the ledger
    "dynamodb:BatchWriteItem",  # the state
    "ec2:CreateTags",
    "dynamodb:UpdateItem",  # the pass's completion
]


def test_a_clean_stop_pass_makes_the_calls_the_fault_table_expects(world: Callable[[], World]) -> None:
    w = world()
    w.run(NOON)
    result = w.run(STOP_PASS)
    assert {a.resource for a in result.results[0].actions if a.action == "stop" and a.ok} == set(w.ids)
    assert w.calls == CLEAN_STOP_PASS


def _check_after_recovery(w: World, faulty: PassResult, stopped_by_faulty: set[str]) -> None:
    assert set(w.states().values()) == {"stopped"}, w.states()
    stops = [e for e in w.ledger() if e["action"] == "stop"]
    assert sorted(str(e["resource"]) for e in stops) == w.ids, stops  # exactly one stop each
    for e in stops:
        want = STOP_PASS if e["resource"] in stopped_by_faulty else RECOVERY
        assert datetime.fromisoformat(str(e["at"])) == want, e
    reported = {a.resource for r in faulty.results for a in r.actions if a.action == "stop" and a.ok}
    assert stopped_by_faulty <= reported, "the faulty pass hid a stop it performed"
    records, info = StateStore(w.direct_tables).load_all(w.target)
    assert info.completed_at == RECOVERY
    for rec in records.values():
        assert rec.intent is None and not rec.unrecorded, rec


def _check_next_morning(w: World) -> None:
    result = w.run(MORNING)
    assert not [e for r in result.results for e in r.errors], result.to_json()
    assert set(w.states().values()) == {"running"}
    ledger = w.ledger()
    starts = [e for e in ledger if e["action"] == "start"]
    assert sorted(str(e["resource"]) for e in starts) == w.ids
    # Stopped hours from first principles: from each recorded stop to the 09:05 start.
    stop_at = {str(e["resource"]): datetime.fromisoformat(str(e["at"])) for e in ledger if e["action"] == "stop"}
    prices = parse_prices(f"service,region,type,hourly_usd\nec2,{REGION},t3.micro,0.0104\n")
    report = monthly_report(
        StateStore(w.direct_tables),
        "2026-11",
        MON + timedelta(days=2),
        prices,
        config=None,
        pricing_api=False,
        actual=not_asked("unblended", w.tag_key, "test"),
    )
    rows = {r["resource"]: r for r in report["resources"]}
    for rid in w.ids:
        hours = (MORNING - stop_at[rid]).total_seconds() / 3600
        assert rows[rid]["stopped_hours"] == pytest.approx(hours, abs=0.01), rows[rid]


@pytest.mark.parametrize("n", range(1, len(CLEAN_STOP_PASS) + 1), ids=lambda n: f"{n}-{CLEAN_STOP_PASS[n - 1]}")
def test_each_call_of_a_stop_pass_failing_in_turn_loses_hides_and_locks_out_nothing(
    world: Callable[[], World], n: int
) -> None:
    w = world()
    w.run(NOON)
    faulty = w.run(STOP_PASS, lambda i, _op: i == n)
    assert w.calls[n - 1] == CLEAN_STOP_PASS[n - 1]  # the call meant to fail is the one that did
    stopped_by_faulty = {rid for rid, s in w.states().items() if s == "stopped"}
    # A failed call is reported by the faulty pass, unless the pass absorbed it (the EC2 adapter retries a refused
    # batch one instance at a time) and did all its work.
    assert faulty.results[0].errors or stopped_by_faulty == set(w.ids), f"call {n} failed silently: {w.calls}"
    w.run(RECOVERY)
    _check_after_recovery(w, faulty, stopped_by_faulty)
    _check_next_morning(w)


def test_dynamodb_down_after_the_stop_call_is_repaired_by_observation(world: Callable[[], World]) -> None:
    """Every DynamoDB call after StopInstances fails (ledger, state and completion): only the intent and the
    instances' observed state are left; the next pass writes the stops into the ledger, at the stop pass."""
    w = world()
    w.run(NOON)
    seen_stop = {"yes": False}

    def after_stop(_n: int, op: str) -> bool:
        if op == "ec2:StopInstances":
            seen_stop["yes"] = True
            return False
        return seen_stop["yes"] and op.startswith("dynamodb:")

    faulty = w.run(STOP_PASS, after_stop)
    assert set(w.states().values()) == {"stopped"}
    assert {a.resource for a in faulty.results[0].actions if a.ok} == set(w.ids)
    assert len(faulty.results[0].errors) >= 2  # the ledger and the state writes, both reported
    assert w.ledger() == []
    # The faulty pass could not release its lease either: until it runs out (it might still be running), the next
    # pass is skipped rather than acting on the same transition; then it repairs.
    early = w.run(RECOVERY)
    assert early.results[0].skipped and "still running" in early.results[0].skipped, early.to_json()
    w.run(RECOVERY, later=timedelta(minutes=16))
    _check_after_recovery(w, faulty, set(w.ids))
    assert all(e.get("repaired") for e in w.ledger())
    _check_next_morning(w)


def test_an_intent_whose_stop_failed_is_dropped_not_recorded(world: Callable[[], World]) -> None:
    """StopInstances and every DynamoDB write after it fail: the instances still run, so the next pass records
    no stop from the intent; it stops them itself, and the ledger says so at its own time."""
    w = world()
    w.run(NOON)
    phase = {"stop": False}

    def stop_and_after(_n: int, op: str) -> bool:
        if op == "ec2:StopInstances":
            phase["stop"] = True
            return True
        return phase["stop"] and op.startswith("dynamodb:")

    faulty = w.run(STOP_PASS, stop_and_after)
    assert set(w.states().values()) == {"running"}
    assert faulty.results[0].errors
    w.run(RECOVERY, later=timedelta(minutes=16))
    _check_after_recovery(w, faulty, set())
    assert not any(e.get("repaired") for e in w.ledger())
