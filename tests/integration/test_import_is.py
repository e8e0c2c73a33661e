"""`isched import-instance-scheduler` against an Instance Scheduler configuration table on the moto server.

The table is built the way the solution stores its configuration (keyed by type and name; day fields and period
lists as string sets or comma strings, booleans as BOOL or strings), imported, and the imported schedules are
checked with `isched schedule state` at instants whose answers are worked out by hand below: 1 March 2026 is a
Sunday (so 2 March is the month's first Monday), 1 January 2026 a Thursday; Berlin is UTC+1 and New York UTC-5
until their March clock changes (29 and 8 March 2026).
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from scheduler.migrate.instance_scheduler import MAINTENANCE_FIELDS
from scheduler.migrate.is_table import TableError, read_items
from scheduler.store.config import ConfigStore
from scheduler.store.tables import Tables


def S(v: str) -> dict[str, str]:
    return {"S": v}


def SS(*v: str) -> dict[str, list[str]]:
    return {"SS": list(v)}


def B(v: bool) -> dict[str, bool]:
    return {"BOOL": v}


def period(name: str, **attrs: Any) -> dict[str, Any]:
    return {"type": S("period"), "name": S(name), **attrs}


def schedule(name: str, **attrs: Any) -> dict[str, Any]:
    return {"type": S("schedule"), "name": S(name), **attrs}


# Every item shape the solution stores.
ITEMS: list[dict[str, Any]] = [
    {
        "type": S("config"),
        "name": S("scheduler"),
        "default_timezone": S("UTC"),
        "tagname": S("Schedule"),
        "regions": SS("eu-west-1", "us-east-1"),
        "scheduled_services": SS("ec2", "rds"),
        "create_rds_snapshot": B(False),
        "use_metrics": S("False"),
    },
    period("office", begintime=S("9:00"), endtime=S("17:00"), weekdays=SS("mon-fri"), description=S("Office")),
    period(
        "office-csv", begintime=S("08:00"), endtime=S("12:00"), weekdays=S("mon, wed,fri"), months=S(" oct-apr/ 3 ")
    ),
    period("overnight", begintime=S("22:00"), endtime=S("06:00"), weekdays=SS("mon-thu")),
    period("late", begintime=S("17:00"), endtime=S("23:59"), weekdays=SS("fri")),
    period("first-monday", weekdays=SS("mon#1")),
    period("tenth-days", monthdays=S("1-31/10")),
    period("morning", begintime=S("07:00"), configured_in_stack=S("arn:aws:cloudformation:::stack/x")),
    period("dst", begintime=S("02:30"), endtime=S("04:00"), weekdays=SS("sun")),
    schedule(
        "berlin",
        timezone=S("Europe/Berlin"),
        periods=SS("office", "late@t3.large"),
        description=S("Berlin office"),
        enforced=S("TRUE"),
        retain_running=B(False),
        stop_new_instances=S("false"),
        hibernate=B(True),
        use_maintenance_window=B(False),
    ),
    schedule(
        "nyc",
        timezone=S("America/New_York"),
        periods=S("office, overnight"),
        use_maintenance_window=B(True),
        ssm_maintenance_window=S("patch-window"),
    ),
    schedule("utc-default", timezone=S(""), periods=SS("office-csv"), use_maintenance_window=S("false")),
    schedule("null-zone", timezone={"NULL": True}, periods=SS("first-monday", "tenth-days"), metrics=B(True)),
    schedule("forced-on", override_status=S("RUNNING")),
    schedule("legacy-off", overwrite=S("false")),
    schedule("mornings", periods=SS("morning"), enforced=B(True), configured_in_stack=S("my-stack")),
    schedule("dst-sched", timezone=S("Europe/Berlin"), periods=SS("dst")),
]

# (schedule, instant, state): each worked out by hand from the items above.
STATES = [
    ("berlin", "2026-03-02T08:30:00Z", "running"),  # Mon 09:30 CET
    ("berlin", "2026-03-02T07:30:00Z", "stopped"),  # Mon 08:30
    ("berlin", "2026-03-06T21:00:00Z", "running"),  # Fri 22:00: late, to 23:59
    ("berlin", "2026-03-06T22:59:30Z", "stopped"),  # Fri 23:59:30
    ("berlin", "2026-03-07T09:00:00Z", "stopped"),  # Sat
    ("nyc", "2026-03-03T04:00:00Z", "running"),  # Mon 23:00 EST: overnight (Mon 22:00 to Tue 06:00)
    ("nyc", "2026-03-03T12:00:00Z", "stopped"),  # Tue 07:00: between overnight and office
    ("nyc", "2026-03-03T14:30:00Z", "running"),  # Tue 09:30: office
    ("nyc", "2026-03-07T04:00:00Z", "stopped"),  # Fri 23:00: overnight is Mon-Thu only
    ("utc-default", "2026-01-05T09:00:00Z", "running"),  # Mon in January (oct-apr/3 = oct, jan, apr)
    ("utc-default", "2026-02-02T09:00:00Z", "stopped"),  # Mon in February
    ("utc-default", "2026-01-06T09:00:00Z", "stopped"),  # Tue
    ("utc-default", "2026-04-03T11:59:00Z", "running"),  # Fri in April
    ("null-zone", "2026-03-02T12:00:00Z", "running"),  # the first Monday of March
    ("null-zone", "2026-03-09T12:00:00Z", "stopped"),  # the second Monday, day 9
    ("null-zone", "2026-03-11T12:00:00Z", "running"),  # day 11 (1-31/10 = 1, 11, 21, 31)
    ("null-zone", "2026-03-31T23:59:00Z", "running"),  # day 31
    ("forced-on", "2026-03-07T03:00:00Z", "running"),
    ("legacy-off", "2026-03-02T10:00:00Z", "stopped"),
    ("mornings", "2026-03-02T06:00:00Z", "any"),  # a start event only: no opinion in between
    ("dst-sched", "2026-03-01T01:45:00Z", "running"),  # Sun 02:45 CET
]


def _make_table(items: list[dict[str, Any]]) -> str:
    name = f"is-config-{uuid.uuid4().hex[:8]}"
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "type", "KeyType": "HASH"}, {"AttributeName": "name", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "type", "AttributeType": "S"},
            {"AttributeName": "name", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for item in items:
        ddb.put_item(TableName=name, Item=item)
    return name


@pytest.fixture
def ready(run, namespace):
    r = run("init", "--json")
    assert r.code == 0, r.err
    return namespace


def _stored(namespace: str) -> dict[str, dict[str, Any]]:
    store = ConfigStore(Tables.for_namespace(namespace))
    return {f"{k} {n}": i.body for k in ("period", "schedule") for n, i in store.items(k).items()}  # type: ignore[arg-type]


def test_import_gives_an_equivalent_configuration(run, ready):
    table = _make_table(ITEMS)
    r = run("import-instance-scheduler", "--table", table, "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["items"] == len(ITEMS) and out["dry_run"] is False
    assert len(out["created"]) == 16 and out["updated"] == [] and out["writes"] > 0
    for name, at, state in STATES:
        got = run("schedule", "state", name, "--at", at, "--json")
        assert got.code == 0, got.err
        assert got.json()["state"] == state, (name, at)
    berlin = run("schedule", "show", "berlin", "--json").json()
    assert berlin == {
        "name": "berlin",
        "timezone": "Europe/Berlin",
        "periods": ["late@t3.large", "office"],
        "description": "Berlin office",
        "enforced": True,
        "stop_new_instances": False,
        "hibernate": True,
    }
    assert run("schedule", "show", "forced-on", "--json").json() == {"name": "forced-on", "override_status": "running"}
    assert "timezone" not in run("schedule", "show", "null-zone", "--json").json()
    nyc = run("schedule", "show", "nyc", "--json").json()
    notes: dict[tuple[str, str, str], str] = {}
    for n in out["notes"]:  # several notes on one field are joined
        key = (n["kind"], n["name"], n["field"])
        notes[key] = f"{notes[key]} | {n['note']}" if key in notes else n["note"]
    if MAINTENANCE_FIELDS:
        assert nyc["use_maintenance_window"] is True and nyc["ssm_maintenance_windows"] == ["patch-window"]
    else:
        assert "use_maintenance_window" not in nyc
        assert notes[("schedule", "nyc", "use_maintenance_window")].startswith("not imported")
        assert notes[("schedule", "nyc", "ssm_maintenance_window")].startswith("not imported: patch-window")
    # what changes meaning, per item
    assert "overnight" in notes[("period", "overnight", "endtime")]
    assert "23:59" in notes[("period", "late", "endtime")]
    assert "last digit" in notes[("period", "tenth-days", "monthdays")]
    assert "does not exist on" in notes[("schedule", "dst-sched", "timezone")]
    assert "occurs twice on" in notes[("schedule", "dst-sched", "timezone")]
    assert "default is true" in notes[("schedule", "null-zone", "use_maintenance_window")]
    assert ("schedule", "berlin", "use_maintenance_window") not in notes  # set explicitly
    assert "only a begintime" in notes[("schedule", "mornings", "enforced")]
    assert "my-stack" in notes[("schedule", "mornings", "configured_in_stack")]
    assert "PublishMetrics" in notes[("schedule", "null-zone", "metrics")]
    assert "Regions" in notes[("config", "scheduler", "regions")]
    assert out["settings"]["scheduled_services"] == "ec2,rds"


def test_dry_run_writes_nothing_and_reimport_is_idempotent(run, ready):
    table = _make_table(ITEMS)
    dry = run("import-instance-scheduler", "--table", table, "--dry-run", "--json")
    assert dry.code == 0, dry.err
    assert dry.json()["dry_run"] is True and len(dry.json()["created"]) == 16
    assert _stored(ready) == {}
    assert run("import-instance-scheduler", "--table", table, "--json").code == 0
    before = _stored(ready)
    again = run("import-instance-scheduler", "--table", table, "--json").json()
    assert again["created"] == [] and again["updated"] == [] and again["writes"] == 0
    assert len(again["unchanged"]) == 16
    assert _stored(ready) == before
    # the human output says the same
    text = run("import-instance-scheduler", "--table", table)
    assert text.code == 0 and "already up to date" in text.out and "Notes" in text.out


def test_an_invalid_item_refuses_the_whole_import(run, ready):
    table = _make_table([*ITEMS, period("broken", weekdays=S("mon-fry"))])
    r = run("import-instance-scheduler", "--table", table, "--json")
    assert r.code == 2
    assert "periods.broken.weekdays" in r.json()["error"] and "'fry'" in r.json()["error"]
    assert "periods.broken.weekdays" in r.err
    assert _stored(ready) == {}


def test_a_stored_edit_is_updated_and_other_items_are_kept(run, ready, write):
    mine = write(
        "periods:\n  mine: {weekdays: sat}\n  office: {weekdays: sun}\nschedules:\n  keep: {periods: [mine]}\n"
    )
    assert run("apply", "--file", mine).code == 0
    r = run("import-instance-scheduler", "--table", _make_table(ITEMS), "--json").json()
    assert r["updated"] == [{"kind": "period", "name": "office"}]
    stored = _stored(ready)
    assert stored["period mine"] == {"weekdays": "sat"} and stored["schedule keep"] == {"periods": ["mine"]}
    assert stored["period office"]["begintime"] == "09:00"


@pytest.mark.parametrize(
    ("items", "words"),
    [
        ([period("p", weekdays=SS(*(str(i) for i in range(5_000))))], "5,000 items"),
        ([period("office hours", weekdays=S("mon"))], "'office hours' is not a valid period name"),
        ([period("\x1b[31mred", weekdays=S("mon"))], "\\x1b[31mred"),
        ([{"type": S("instance"), "name": S("i-0abc")}], "unknown type 'instance'"),
        ([period("p", description=S("x" * 300_000))], "too long"),
        ([schedule("s", override_status=S("running"), enforced={"N": "1"})], "schedules.s.enforced"),
    ],
)
def test_hostile_items_are_refused_cleanly(run, ready, items, words):
    r = run("import-instance-scheduler", "--table", _make_table(items), "--json")
    assert r.code == 2, r.err
    assert words in r.json()["error"]
    assert "\x1b" not in r.out and "\x1b" not in r.err and len(r.out) < 5_000
    assert _stored(ready) == {}


def test_tables_that_are_not_instance_scheduler_tables(run, ready):
    r = run("import-instance-scheduler", "--table", "x", "--json")
    assert r.code == 2 and "not a DynamoDB table name" in r.json()["error"]
    r = run("import-instance-scheduler", "--table", "no-such-table", "--json")
    assert r.code == 2 and "does not exist" in r.json()["error"] and "--table" in r.err
    own = Tables.for_namespace(ready).config.Meta.table_name  # isched's own config table: keyed by kind and name
    r = run("import-instance-scheduler", "--table", own, "--json")
    assert r.code == 2 and "not an Instance Scheduler configuration table" in r.json()["error"]


def test_the_scan_is_paginated_and_bounded(run, ready):
    # 60 items of about 20 KB each: more than one 1 MB scan page
    pad = "p" * 20_000
    items = [period(f"p{i:02d}", weekdays=S("mon"), padding=S(pad)) for i in range(60)]
    table = _make_table(items)
    first = boto3.client("dynamodb").scan(TableName=table)
    assert "LastEvaluatedKey" in first and len(first["Items"]) < 60
    assert len(read_items(table)) == 60
    r = run("import-instance-scheduler", "--table", table, "--json")
    assert r.code == 0, r.err
    assert len(r.json()["created"]) == 60
    assert all(n["field"] == "padding" for n in r.json()["notes"])
    with pytest.raises(TableError, match="more than 10 items"):
        read_items(table, max_items=10)
