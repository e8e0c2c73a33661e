"""No input can lock a target out of real-time scheduling (SPEC §2, "Passes move forward in real time").

Against the moto server, through the CLI: a simulated pass months ahead, a claim and a completed pass stored
from the future (as an older build or a forged event left them), out-of-range instants, a duplicated pass seen by
`isched status`; and through the Lambda handlers: an orchestrator event from the future, a worker payload from
the future or for a target outside the orchestrator's scope, a payload carrying a configuration of its own, and a
fuzz of malformed payloads.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.aws.accounts import AccountSessions
from scheduler.engine import parse_text
from scheduler.handlers import worker
from scheduler.handlers.events import EventError, ScheduledEvent
from scheduler.runtime.lambda_invoker import PayloadBuilder, PayloadError, WorkerPayload
from scheduler.runtime.orchestrator import PassRequest
from scheduler.store.config import ConfigStore
from scheduler.store.pass_scope import publish_scope
from scheduler.store.state import PASS_ITEM, StateStore, Target
from scheduler.store.tables import Tables

pytestmark = pytest.mark.integration

REGION = "ap-east-2"
HUB = "123456789012"
SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
MON = "2026-11-30"  # a Monday before the real clock of these tests
TUE = "2026-12-01"


@pytest.fixture
def world(run: Callable[..., Any], namespace: str, write: Callable[..., str]) -> dict[str, Any]:
    assert run("init").code == 0
    assert run("apply", "--file", write(SCHEDULES)).code == 0
    tag_key = f"lock-{uuid.uuid4().hex[:8]}"
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    iid = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": tag_key, "Value": "office"}]}],
    )["Instances"][0]["InstanceId"]
    return {"tag_key": tag_key, "iid": iid, "ec2": ec2, "tables": Tables.for_namespace(namespace)}


def _pass(run: Callable[..., Any], world: dict[str, Any], at: str, *extra: str) -> Any:
    return run(
        "run", "--at", at, "--regions", REGION, "--services", "ec2", "--tag-key", world["tag_key"], "--json", *extra
    )


def _state(world: dict[str, Any]) -> str:
    found = world["ec2"].describe_instances(InstanceIds=[world["iid"]])
    return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])


def test_a_simulated_pass_months_ahead_never_blocks_the_real_time_passes(run, world):
    assert _pass(run, world, f"{MON}T12:00:00Z").code == 0
    ahead = (datetime.now(UTC) + timedelta(days=120)).replace(hour=20, minute=0, second=0, microsecond=0)
    sim = _pass(run, world, ahead.isoformat())
    body = sim.json()
    # It is a simulation, says so (a warning, so exit 0), and claims nothing.
    assert sim.code == 0, sim.out
    assert any("ahead of the real clock" in e["error"] for e in body["errors"]), body
    _, info = StateStore(world["tables"], tag_key=world["tag_key"]).load_all(Target(HUB, REGION, "ec2"))
    assert info.claimed_at == datetime(2026, 11, 30, 12, tzinfo=UTC)
    # The real-time passes that follow run, and act on their own transitions.
    stop = _pass(run, world, f"{MON}T17:05:00Z")
    assert stop.code == 0 and not stop.json()["errors"], stop.out
    assert _state(world) == "stopped"
    start = _pass(run, world, f"{TUE}T09:05:00Z")
    assert start.code == 0, start.out
    assert [a["action"] for a in start.json()["actions"]] == ["start"]
    assert _state(world) == "running"


def test_a_claim_and_a_completed_pass_stored_from_the_future_are_superseded_and_reported(run, world):
    assert _pass(run, world, f"{MON}T12:00:00Z").code == 0
    model = world["tables"].state
    target = Target(HUB, REGION, "ec2")
    # What an older build left after `isched run --at 2099-…`, or a forged orchestrator event did.
    model(StateStore(world["tables"], tag_key=world["tag_key"]).partition(target), PASS_ITEM).update(
        actions=[model.claimed_at.set("2099-01-01T00:00:00.000000Z"), model.pass_at.set("2099-01-01T00:00:00.000000Z")]
    )
    first = _pass(run, world, f"{MON}T17:05:00Z")
    errors = " | ".join(e["error"] for e in first.json()["errors"])
    assert first.code == 1, first.out  # reported as an error, not swallowed
    assert "superseded a claim on the pass at 2099-01-01T00:00:00Z" in errors
    assert "stored as 2099-01-01T00:00:00Z" in errors
    _, info = StateStore(world["tables"], tag_key=world["tag_key"]).load_all(target)
    assert info.claimed_at == info.completed_at == datetime(2026, 11, 30, 17, 5, tzinfo=UTC)
    # From then on, passes are normal: the morning start happens.
    start = _pass(run, world, f"{TUE}T09:05:00Z")
    assert start.code == 0 and not start.json()["errors"], start.out
    assert _state(world) == "running"


@pytest.mark.parametrize("at", ["9999-12-31T23:59:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"])
def test_out_of_range_instants_are_invalid_input_and_write_nothing(run, world, at):
    result = _pass(run, world, at)
    assert result.code == 2, (result.code, result.out, result.err)
    assert "--at" in result.err and at[:10] in result.err
    records, info = StateStore(world["tables"], tag_key=world["tag_key"]).load_all(Target(HUB, REGION, "ec2"))
    assert records == {} and info.claimed_at is None


def test_status_shows_a_target_whose_passes_are_being_skipped(run, world):
    assert _pass(run, world, f"{MON}T12:00:00Z").code == 0
    # A duplicate of a completed pass is skipped, and that is no problem: the pass did run.
    again = _pass(run, world, f"{MON}T12:00:00Z")
    assert again.json()["errors"][0]["error"].startswith("skipped:")
    assert _status(run, world, "12:01").code == 0
    # A pass at 12:10 claimed the target and never completed (it died, or still runs): the 12:05 pass is skipped,
    # and status says so until a pass completes.
    model = world["tables"].state
    model(
        StateStore(world["tables"], tag_key=world["tag_key"]).partition(Target(HUB, REGION, "ec2")), PASS_ITEM
    ).update(actions=[model.claimed_at.set("2026-11-30T12:10:00.000000Z")])
    assert _pass(run, world, f"{MON}T12:05:00Z").json()["errors"][0]["error"].startswith("skipped:")
    status = _status(run, world, "12:06")
    assert status.code == 1
    assert any("passes are being skipped" in e["error"] for e in status.json()["errors"]), status.out
    assert _pass(run, world, f"{MON}T12:15:00Z").code == 0
    status = _status(run, world, "12:16")
    assert status.code == 0 and status.json()["errors"] == [], status.out


def _status(run: Callable[..., Any], world: dict[str, Any], hhmm: str) -> Any:
    return run(
        "status",
        "--at",
        f"{MON}T{hhmm}:00Z",
        "--regions",
        REGION,
        "--services",
        "ec2",
        "--tag-key",
        world["tag_key"],
        "--json",
    )


# -- the Lambda side -----------------------------------------------------------------------------------------


def test_an_orchestrator_event_from_the_future_is_refused():
    with pytest.raises(EventError, match=r"event.time: '2099-01-01T00:00:00Z' is ahead of the real clock"):
        ScheduledEvent.from_event({"time": "2099-01-01T00:00:00Z"})
    with pytest.raises(EventError, match="out of range"):
        ScheduledEvent.from_event({"time": "0001-01-01T00:00:00+01:00"})
    now = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
    assert ScheduledEvent.from_event({"time": "2026-12-06T15:04:00Z"}, now=now).at.minute == 4  # within the skew


@pytest.fixture
def hub(world: dict[str, Any]) -> dict[str, Any]:
    tables = world["tables"]
    config = ConfigStore(tables).load()
    publish_scope(tables, config, [HUB], [REGION], ["ec2"], datetime(2026, 11, 30, 17, 5, tzinfo=UTC), world["tag_key"])
    return {**world, "config": config}


def _payload(hub: dict[str, Any], at: datetime, **change: Any) -> dict[str, Any]:
    tables = hub["tables"]
    body = PayloadBuilder(hub["config"], tables.names.config).encode(
        Target(HUB, REGION, "ec2"), PassRequest(at=at, tag_key=hub["tag_key"])
    )
    return json.loads(body) | change


def _no_sessions() -> AccountSessions:
    class Refuse(AccountSessions):
        def session(self, account: str) -> boto3.Session:
            raise AssertionError(f"a rejected payload must not reach AWS (account {account})")

    return Refuse()


def test_worker_refuses_a_pass_from_the_future_and_a_target_outside_the_scope(hub):
    at = datetime(2026, 11, 30, 17, 5, tzinfo=UTC)
    future = _payload(hub, datetime(2099, 1, 1, tzinfo=UTC))
    out = worker.process(future, sessions=_no_sessions(), tables=hub["tables"], now=at)
    assert out["status"] == "rejected" and "payload.at" in out["error"] and "ahead of the real clock" in out["error"]
    out = worker.process(_payload(hub, at, tag_key="Other"), sessions=_no_sessions(), tables=hub["tables"], now=at)
    assert out["status"] == "rejected" and "payload.tag_key: 'Other' is not this deployment's tag key" in out["error"]
    newer = at + timedelta(minutes=4)  # within the clock's skew, but later than any pass the orchestrator started
    out = worker.process(_payload(hub, newer), sessions=_no_sessions(), tables=hub["tables"], now=at)
    assert out["status"] == "rejected" and "later than the latest pass the orchestrator started" in out["error"]
    old = at - timedelta(hours=7)
    out = worker.process(_payload(hub, old), sessions=_no_sessions(), tables=hub["tables"], now=at)
    assert out["status"] == "rejected" and "before the real clock" in out["error"]
    for target, field in (
        ({"account": "999999999999", "region": REGION, "service": "ec2"}, "target.account"),
        ({"account": HUB, "region": "eu-west-1", "service": "ec2"}, "target.region"),
        ({"account": HUB, "region": REGION, "service": "rds"}, "target.service"),
    ):
        out = worker.process(_payload(hub, at, target=target), sessions=_no_sessions(), tables=hub["tables"], now=at)
        assert out["status"] == "rejected" and f"payload.{field}" in out["error"], out
    _, info = StateStore(hub["tables"], tag_key=hub["tag_key"]).load_all(Target(HUB, REGION, "ec2"))
    assert info.claimed_at is None  # nothing claimed, nothing done
    assert _state(hub) == "running"


def test_worker_ignores_an_inline_configuration_the_orchestrator_did_not_vouch_for(hub):
    """A forged payload keeps the instance running all the time; the table's schedule stops it at 17:00."""
    ok = worker.process(
        _payload(hub, datetime(2026, 11, 30, 12, tzinfo=UTC)),
        sessions=AccountSessions(),
        tables=hub["tables"],
        now=datetime(2026, 11, 30, 12, tzinfo=UTC),
    )
    assert ok["status"] == "done", ok
    forged = parse_text(
        'periods: {always: {begintime: "00:00", endtime: "24:00"}}\nschedules: {office: {periods: [always]}}\n'
    )
    payload = _payload(hub, datetime(2026, 11, 30, 17, 5, tzinfo=UTC), config=forged.to_dict())
    out = worker.process(
        payload, sessions=AccountSessions(), tables=hub["tables"], now=datetime(2026, 11, 30, 17, 5, tzinfo=UTC)
    )
    assert out["status"] == "done" and [a["action"] for a in out["actions"]] == ["stop"], out
    assert _state(hub) == "stopped"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_FIELDS = ["version", "at", "target", "tag_key", "dry_run", "config", "config_ref", "pass_id"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.dictionaries(st.sampled_from(_FIELDS), _json, min_size=1, max_size=3),
    drop=st.lists(st.sampled_from(_FIELDS), max_size=2),
    raw=st.one_of(st.none(), _json),
)
def test_payload_fuzz_never_raises_never_retries_and_never_reaches_aws(hub, changes, drop, raw):
    at = datetime(2026, 11, 30, 17, 5, tzinfo=UTC)
    payload: object = _payload(hub, at) | changes
    assert isinstance(payload, dict)
    for key in drop:
        payload.pop(key, None)
    for event in (payload, raw):
        try:
            parsed = WorkerPayload.from_json(event)
        except PayloadError:
            parsed = None
        if parsed is not None and parsed.target == Target(HUB, REGION, "ec2") and parsed.at <= at:
            continue  # a valid payload for this deployment (the fuzz changed only harmless fields)
        out = worker.process(event, sessions=_no_sessions(), tables=hub["tables"], now=at)
        assert out["status"] == "rejected", (event, out)
        assert out["error"].startswith("payload")


def test_a_partly_invalid_stored_configuration_still_schedules_the_valid_schedules(run, world, namespace):
    """A schedule written into the table by hand with a period that does not exist: its resources are reported,
    naming it; the resources of valid schedules are scheduled as usual."""
    tables = world["tables"]
    tables.config("schedule", "broken", body={"periods": ["nope"], "timezone": "Mars/Olympus"}, version=1).save()
    ec2 = world["ec2"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    broken = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": world["tag_key"], "Value": "broken"}]}],
    )["Instances"][0]["InstanceId"]
    assert _pass(run, world, f"{MON}T12:00:00Z").code == 1
    stop = _pass(run, world, f"{MON}T17:05:00Z")
    assert stop.code == 1
    body = stop.json()
    assert [(a["resource"], a["action"]) for a in body["actions"]] == [(world["iid"], "stop")]
    errors = [e["error"] for e in body["errors"]]
    assert any(e.startswith("stored configuration: schedules.broken") for e in errors), errors
    assert any(
        e.startswith("schedule 'broken' is invalid in the stored configuration")
        for e in (x["error"] for x in body["errors"] if x["resource"] == broken)
    ), body["errors"]
    assert _state(world) == "stopped"
    # export, which needs the whole configuration, says what is wrong instead of writing a partial file.
    exported = run("export")
    assert exported.code == 1 and "broken" in exported.err


def test_a_pass_with_another_tag_key_neither_claims_nor_sees_this_tag_keys_passes(run, world):
    """An operator's typo (`--tag-key Other`) between two passes: the 17:00 stop still happens at 17:05, and no
    resource is said to be gone and back."""
    assert _pass(run, world, f"{MON}T12:00:00Z").code == 0
    other = run(
        "run", "--at", f"{MON}T17:02:00Z", "--regions", REGION, "--services", "ec2", "--tag-key", "Other", "--json"
    )
    assert other.code == 0, other.out
    stop = _pass(run, world, f"{MON}T17:05:00Z")
    assert [a["action"] for a in stop.json()["actions"]] == ["stop"], stop.out
    assert _state(world) == "stopped"
    ledger = StateStore(world["tables"]).ledger_month("2026-11")
    assert [e["action"] for e in ledger if e["resource"] == world["iid"]] == ["stop"], ledger


def test_unreadable_pass_stamps_do_not_lock_a_target_out(run, world):
    """Stamps an older build or a hand edit left unreadable (a year without four digits) are superseded."""
    assert _pass(run, world, f"{MON}T12:00:00Z").code == 0
    partition = StateStore(world["tables"], tag_key=world["tag_key"]).partition(Target(HUB, REGION, "ec2"))
    model = world["tables"].state
    model(partition, PASS_ITEM).update(
        actions=[model.skipped_at.set("1-01-01T00:00:00.000000Z"), model.pass_at.set("1-01-01T00:00:00.000000Z")]
    )
    stop = _pass(run, world, f"{MON}T17:05:00Z")
    # Reported (an unreadable last pass cannot tell which transitions are new) and replaced, not fatal.
    assert stop.code == 1 and any("ahead of the real clock" in e["error"] for e in stop.json()["errors"]), stop.out
    _, info = StateStore(world["tables"], tag_key=world["tag_key"]).load_all(Target(HUB, REGION, "ec2"))
    assert info.completed_at == datetime(2026, 11, 30, 17, 5, tzinfo=UTC) and info.skipped_at is None
    assert _status(run, world, "17:06").code == 0
    world["ec2"].stop_instances(InstanceIds=[world["iid"]])
    again = _pass(run, world, f"{TUE}T09:05:00Z")
    assert again.code == 0 and [a["action"] for a in again.json()["actions"]] == ["start"], again.out
    assert _state(world) == "running"


def test_a_simulated_pass_records_no_observations_in_the_simulated_future(run, world):
    """An instance untagged before a simulated pass: the simulation writes no `gone` dated months ahead; the next
    real-time pass records it, at its own time."""
    assert _pass(run, world, f"{MON}T12:00:00Z").code == 0
    world["ec2"].delete_tags(Resources=[world["iid"]], Tags=[{"Key": world["tag_key"]}])
    ahead = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
    assert _pass(run, world, ahead.isoformat()).code == 0
    assert StateStore(world["tables"]).ledger_month(ahead.strftime("%Y-%m")) == []
    assert _pass(run, world, f"{MON}T12:30:00Z").code == 0
    gone = [e for e in StateStore(world["tables"]).ledger_month("2026-11") if e["action"] == "gone"]
    assert [(e["resource"], e["at"]) for e in gone] == [(world["iid"], "2026-11-30T12:30:00.000000Z")]


def test_overlapping_real_passes_never_act_twice(world, namespace):
    """Two real `isched run` processes 30 seconds of pass time apart, started together, over 20 instances: one
    holds the target's lease while it runs; every instance is stopped once, and the ledger says so once."""
    import os
    import subprocess
    import sys

    ec2 = world["ec2"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    more = ec2.run_instances(
        ImageId=image,
        MinCount=19,
        MaxCount=19,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": world["tag_key"], "Value": "office"}]}],
    )["Instances"]
    ids = {world["iid"], *(i["InstanceId"] for i in more)}
    env = {**os.environ, "ISCHED_NAMESPACE": namespace, "AWS_DEFAULT_REGION": REGION}
    base = [sys.executable, "-m", "scheduler.cli.main", "run", "--regions", REGION, "--services", "ec2"]
    base += ["--tag-key", world["tag_key"], "--json", "--at"]
    first = subprocess.run(
        [*base, f"{MON}T12:00:00Z"], check=False, env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    procs = [
        subprocess.Popen([*base, at], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for at in (f"{MON}T17:05:00Z", f"{MON}T17:05:30Z")
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode in (0, 1) for p in procs), outs
    stops = [e for e in StateStore(world["tables"]).ledger_month("2026-11") if e["action"] == "stop"]
    assert sorted(e["resource"] for e in stops) == sorted(ids), stops
    assert not [e for e in StateStore(world["tables"]).ledger_month("2026-11") if e["action"] == "manual-stop"]


def test_a_claim_the_sdk_resends_after_it_went_through_is_still_this_passs(world):
    """A claim whose first request succeeded but whose answer was lost (a read timeout, a dropped connection) is
    sent again by the SDK; the resent request finds the pass claimed. It is this pass's own claim: the pass runs.
    The resend is botocore's own: a ``needs-retry`` hook asks it to retry the first answered UpdateItem."""
    store = StateStore(world["tables"], tag_key=world["tag_key"])
    target = Target(HUB, REGION, "ec2")
    client = world["tables"].state._get_connection().connection.client
    sent: list[int] = []

    def resend_once(attempts: int, response: Any = None, **_: Any) -> int | None:
        sent.append(attempts)
        return 0 if attempts == 1 and response is not None else None

    client.meta.events.register("needs-retry.dynamodb.UpdateItem", resend_once, unique_id="test-resend")
    now = datetime(2026, 11, 30, 17, 5, tzinfo=UTC)
    real = datetime.now(UTC)
    try:
        store.claim_pass(target, now, real=real, horizon=real + timedelta(minutes=5), lease_until=real)
    finally:
        client.meta.events.unregister("needs-retry.dynamodb.UpdateItem", unique_id="test-resend")
    assert sent[:2] == [1, 2]  # the claim was sent twice
    _, info = store.load_all(target)
    assert info.claimed_at == now
    # Another pass at the same instant (a duplicated delivery) is still refused: the token is per pass.
    from scheduler.store.state import PassAlreadyClaimed

    with pytest.raises(PassAlreadyClaimed):
        store.claim_pass(target, now, real=real, horizon=real + timedelta(minutes=5), lease_until=real)
