"""Stored instants written by an older build (``datetime.isoformat()``, ``+00:00``) are read by passes and reports.

A week's first passes run, then every ledger item and state record is rewritten the way the build before
``instant_text`` wrote it (ledger keys ``<isoformat>#target#resource#action``, record and hold instants with
``+00:00``, no microseconds), and one record is left with an old write-ahead intent whose ledger entry exists under
the old key. Later passes (new format) must repair that record without a second ledger entry, add no duplicates,
and the month's report must count the same hours as a control fleet that never saw the old format.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from scheduler.engine import instant_text, parse_instant
from scheduler.store.state import StateStore, Target, ledger_key, legacy_ledger_key
from scheduler.store.tables import Tables

from . import ce_stub
from .report_helpers import by_resource, passes, report

pytestmark = pytest.mark.integration

SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
PRICE = Decimal("0.0104")
MON8, MON9, MON17 = "2026-11-02T08:00:00Z", "2026-11-02T09:00:00Z", "2026-11-02T17:00:00Z"
TUE9, TUE17, TUE18 = "2026-11-03T09:00:00Z", "2026-11-03T17:00:00Z", "2026-11-03T18:00:00Z"
PRICES: dict[str, str] = {}
OLD_FIELDS = ("first_seen_at", "last_seen_at", "last_action_at", "decided_at", "gone_at")


def old(text: str) -> str:
    """An instant as the build before instant_text stored it."""
    return parse_instant(text).isoformat()


def hours(a: str, b: str) -> Decimal:
    return Decimal(int((parse_instant(b) - parse_instant(a)).total_seconds())) / 3600


@pytest.fixture
def fleet(deploy: Callable[[str, str], str], write: Callable[..., str]) -> Callable[[str], list[str]]:
    """Tables, schedules, prices and two t3.micro instances tagged ``office`` in ``region``."""

    def make(region: str) -> list[str]:
        deploy(region, SCHEDULES)
        PRICES[region] = write(f"service,region,type,hourly_usd\nec2,{region},t3.micro,{PRICE}\n", f"{region}.csv")
        ec2 = boto3.client("ec2", region_name=region)
        image = ec2.describe_images()["Images"][0]["ImageId"]
        tags = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "office"}]}]
        got = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, InstanceType="t3.micro", TagSpecifications=tags)
        return sorted(i["InstanceId"] for i in got["Instances"])

    return make


def downgrade(tables: Tables, intent_for: str) -> None:
    """Rewrites the stored ledger and state as the older build wrote them; ``intent_for``'s record is put back to
    before the MON17 stop, with that stop's intent (its ledger entry exists: only the final state write failed)."""
    for item in list(tables.ledger.query("2026-11", consistent_read=True)):
        data = dict(item.data or {})
        item.delete()
        data["at"] = old(data["at"])
        if isinstance(data.get("maintenance"), dict):
            data["maintenance"] = {k: old(v) if k in ("since", "until") else v for k, v in data["maintenance"].items()}
        month, key = legacy_ledger_key(data)
        assert key.split("#")[0] == data["at"] and "Z" not in key.split("#")[0]
        tables.ledger(month, key, data=data, expires_at=item.expires_at).save()
    for item in list(tables.state.scan()):
        if item.resource.startswith("#"):
            continue
        data = dict(item.data or {})
        for f in OLD_FIELDS:
            if data.get(f):
                data[f] = old(data[f])
        if item.resource == intent_for:
            stop = next(
                dict(i.data)
                for i in tables.ledger.query("2026-11", consistent_read=True)
                if i.data["resource"] == intent_for and i.data["at"] == old(MON17)
            )
            data.update(desired="running", decided_at=old(MON9), last_action="start", last_action_at=old(MON9))
            data["observed"] = "running"
            data["intent"] = {
                "action": "stop",
                "at": old(MON17),
                "desired": "stopped",
                "decided_at": old(MON17),
                "instance_type": None,
                "maintenance": None,
                "override": None,
                "entry": stop,
            }
        tables.state(item.target, item.resource, data=data, updated_at=item.updated_at).save()


def ledger_actions(tables: Tables) -> list[tuple[datetime, str, str]]:
    entries = StateStore(tables).ledger_month("2026-11")
    return [(parse_instant(e["at"]), e["resource"], e["action"]) for e in entries]


def test_old_format_ledger_and_state_are_read_without_duplicates(
    run: Callable[..., Any], namespace: str, fleet: Callable[[str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ce_stub.install(monkeypatch)  # Cost Explorer calls moto lacks are refused at once
    control = fleet("sa-east-1")
    passes(run, MON8, MON9, MON17, TUE9, TUE17, services="ec2")
    expected = report(run, "--month", "2026-11", "--at", TUE18, "--prices", PRICES["sa-east-1"])

    ids = fleet("ap-southeast-2")
    a = ids[0]
    passes(run, MON8, MON9, MON17, services="ec2")
    tables = Tables.for_namespace(namespace)
    downgrade(tables, intent_for=a)
    stored = {i.key for i in tables.ledger.query("2026-11", consistent_read=True) if i.data["resource"] in ids}
    assert stored and all("+00:00#" in k for k in stored)

    # The repairing pass finds the MON17 stop under its old key: no second, "repaired" entry.
    entry_of_stop = next(
        i.data for i in tables.ledger.query("2026-11") if i.data["resource"] == a and i.data["at"] == old(MON17)
    )
    assert StateStore(tables).ledger_has([entry_of_stop]) == {ledger_key(entry_of_stop)}
    passes(run, TUE9, TUE17, services="ec2")

    got = [x for x in ledger_actions(tables) if x[1] in ids]
    assert got == sorted(got, key=lambda x: x[0])  # time order, old and new keys mixed
    assert Counter(got).most_common(1)[0][1] == 1  # no duplicates
    for rid in ids:
        mine = [(at, action) for at, r, action in got if r == rid]
        assert mine == [
            (parse_instant(MON8), "stop"),
            (parse_instant(MON9), "start"),
            (parse_instant(MON17), "stop"),
            (parse_instant(TUE9), "start"),
            (parse_instant(TUE17), "stop"),
        ]
    raw = [dict(i.data) for i in tables.ledger.query("2026-11", consistent_read=True) if i.data["resource"] in ids]
    assert not [e for e in raw if e.get("repaired")]
    assert {e["at"] for e in raw if parse_instant(e["at"]) >= parse_instant(TUE9)} == {
        instant_text(parse_instant(TUE9)),
        instant_text(parse_instant(TUE17)),
    }
    key = next(t for t in StateStore(tables).all_targets() if "#ap-southeast-2#" in t)
    records, _ = StateStore(tables).load(Target(*key.split("#")))
    assert all(r.intent is None and not r.unrecorded for r in records.values())
    assert records[a].last_action == "stop" and records[a].last_action_at == instant_text(parse_instant(TUE17))

    status = run("status", "--services", "ec2", "--json")
    assert status.code == 0, status.err

    body = report(run, "--month", "2026-11", "--at", TUE18, "--prices", PRICES["ap-southeast-2"])
    rows, want = by_resource(body), by_resource(expected)
    stopped = hours(MON8, MON9) + hours(MON17, TUE9) + hours(TUE17, TUE18)
    assert stopped == 18
    for mine, theirs in zip(ids, control, strict=True):
        assert Decimal(str(rows[mine]["stopped_hours"])) == stopped
        assert Decimal(str(rows[mine]["running_hours"])) == hours(MON9, MON17) + hours(TUE9, TUE17)
        assert Decimal(str(rows[mine]["estimated_savings"])) == (stopped * PRICE).quantize(Decimal("0.01"))
        same = ("stopped_hours", "running_hours", "estimated_savings", "actions")
        assert {k: rows[mine].get(k) for k in same} == {k: want[theirs].get(k) for k in same}
    assert body["totals"] == expected["totals"]


def test_pass_after_old_records_keeps_times_readable(
    run: Callable[..., Any], namespace: str, fleet: Callable[[str], list[str]]
) -> None:
    """status shows a stored instant in the display form whichever form it was stored in."""
    ids = fleet("ca-central-1")
    passes(run, MON8, MON9, services="ec2")
    tables = Tables.for_namespace(namespace)
    for item in list(tables.state.scan()):
        if not item.resource.startswith("#"):
            data = {k: old(v) if k in OLD_FIELDS and v else v for k, v in dict(item.data or {}).items()}
            tables.state(item.target, item.resource, data=data, updated_at=item.updated_at).save()
    r = run("status", "--services", "ec2", "--json")
    assert r.code == 0, r.err
    body = r.json()
    rows = [x for x in (body if isinstance(body, list) else body.get("resources", [])) if x.get("resource") in ids]
    assert rows and all(x["last_action_at"] == MON9 for x in rows)
