"""The configuration store and its commands against a moto server over HTTP (real DynamoDB API calls)."""

from __future__ import annotations

import threading

import pytest

from scheduler.engine import parse_text
from scheduler.store.config import ConfigStore, ConflictError, StoreError
from scheduler.store.tables import Tables
from tests.conftest import EXAMPLES

SAMPLE = str(EXAMPLES / "schedules.yaml")

SMALL = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  late: {begintime: "17:00", endtime: "20:00", weekdays: mon-thu}
schedules:
  berlin: {timezone: Europe/Berlin, periods: [office, "late@t3.small"]}
  nyc: {timezone: America/New_York, periods: [office], enforced: true}
"""


@pytest.fixture
def ready(run, namespace):
    """A namespace with its tables created."""
    r = run("init", "--json")
    assert r.code == 0, r.err
    return namespace


def _table_snapshot(namespace: str) -> list[tuple[str, str, object, int, object]]:
    store = ConfigStore(Tables.for_namespace(namespace))
    out = []
    for kind in ("period", "schedule"):
        for name, item in sorted(store.items(kind).items()):
            out.append((kind, name, item.body, item.version, sorted(item.used_by)))
    return out


def test_init_is_idempotent(run, namespace):
    first = run("init", "--json").json()
    assert set(first["tables"].values()) == {"created"}
    assert first["namespace"] == namespace
    second = run("init", "--json").json()
    assert set(second["tables"].values()) == {"exists"}


def test_commands_without_tables_say_run_init(run, namespace):
    r = run("schedule", "list")
    assert r.code == 1 and "isched init" in r.err


def test_bad_namespace_is_exit_2(run, aws):
    r = run("--namespace", "bad name!", "schedule", "list")
    assert r.code == 2 and "--namespace" in r.err and "'bad name!'" in r.err


def test_period_crud_and_partial_update(run, ready):
    r = run(
        "period", "create", "office", "--begintime", "9:00", "--endtime", "17:00", "--weekdays", "mon-fri", "--json"
    )
    assert r.code == 0, r.err
    assert r.json() == {"name": "office", "begintime": "09:00", "endtime": "17:00", "weekdays": "mon-fri"}
    assert run("period", "create", "office", "--weekdays", "sat").code == 2  # duplicate refused
    r = run("period", "update", "office", "--endtime", "18:00", "--description", "Longer", "--json")
    assert r.json() == {
        "name": "office",
        "begintime": "09:00",
        "endtime": "18:00",
        "weekdays": "mon-fri",
        "description": "Longer",
    }
    r = run("period", "update", "office", "--description", "", "--json")  # empty value removes a field
    assert "description" not in r.json() and r.json()["endtime"] == "18:00"
    assert run("period", "show", "office", "--json").json()["endtime"] == "18:00"
    assert [p["name"] for p in run("period", "list", "--json").json()] == ["office"]
    r = run("period", "delete", "office", "--json")
    assert r.code == 0 and run("period", "list", "--json").json() == []
    r = run("period", "show", "office")
    assert r.code == 2 and "'office' is not a stored period" in r.err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--weekdays", "mon-fry"], "--weekdays: 'mon-fry' is not a weekday"),
        (["--begintime", "25:00"], "--begintime: '25:00' is not a time"),
        (["--start", "0 9 * *"], "--start: '0 9 * *' is not a 5-field cron expression"),
        (["--begintime", "09:00", "--start", "0 9 * * *"], "cannot also have"),
    ],
)
def test_invalid_period_values_write_nothing(run, ready, args, needle):
    r = run("period", "create", "p", *args)
    assert r.code == 2 and needle in r.err
    assert run("period", "list", "--json").json() == []


def test_invalid_update_keeps_the_stored_item(run, ready):
    run("period", "create", "office", "--begintime", "09:00", "--endtime", "17:00")
    before = _table_snapshot(ready)
    r = run("period", "update", "office", "--weekdays", "mon-fry")
    assert r.code == 2 and "--weekdays" in r.err
    assert _table_snapshot(ready) == before


def test_schedule_crud_and_referential_integrity(run, ready):
    run("period", "create", "office", "--begintime", "09:00", "--endtime", "17:00", "--weekdays", "mon-fri")
    r = run("schedule", "create", "s", "--periods", "office,nope")
    assert r.code == 2 and "'nope' is not a defined period" in r.err
    r = run(
        "schedule", "create", "s", "--periods", "office@t3.large", "--timezone", "Europe/Berlin", "--enforced", "--json"
    )
    assert r.code == 0, r.err
    assert r.json() == {
        "name": "s",
        "timezone": "Europe/Berlin",
        "periods": ["office@t3.large"],
        "enforced": True,
    }
    r = run("period", "delete", "office")
    assert r.code == 2 and "used by schedule(s) s" in r.err
    r = run("schedule", "update", "s", "--timezone", "Mars/Base")
    assert r.code == 2 and "--timezone: 'Mars/Base'" in r.err
    r = run("schedule", "update", "s", "--no-enforced", "--holidays", "2026-12-24,2026-12-25", "--json")
    body = r.json()
    assert body["periods"] == ["office@t3.large"] and "enforced" not in body
    assert body["holidays"] == ["2026-12-24", "2026-12-25"] and body["timezone"] == "Europe/Berlin"
    r = run("schedule", "update", "s", "--override-status", "sometimes")
    assert r.code == 2 and "--override-status" in r.err
    assert [s["name"] for s in run("schedule", "list", "--json").json()] == ["s"]
    assert run("schedule", "delete", "s").code == 0
    assert run("period", "delete", "office").code == 0  # no longer in use


def test_switching_periods_moves_the_in_use_mark(run, ready):
    run("period", "create", "a", "--weekdays", "mon")
    run("period", "create", "b", "--weekdays", "tue")
    run("schedule", "create", "s", "--periods", "a")
    assert run("schedule", "update", "s", "--periods", "b").code == 0
    assert run("period", "delete", "a").code == 0
    assert run("period", "delete", "b").code == 2


def test_two_stale_writers_conflict_and_nothing_is_lost(ready):
    store_a = ConfigStore(Tables.for_namespace(ready))
    store_b = ConfigStore(Tables.for_namespace(ready))
    store_a.create_period("office", {"begintime": "09:00", "endtime": "17:00"})
    seen_a = store_a.get("period", "office")
    seen_b = store_b.get("period", "office")
    assert seen_a is not None and seen_b is not None
    store_a.update_period(seen_a, {"begintime": "08:00", "endtime": "17:00"})
    with pytest.raises(ConflictError, match="changed by someone else"):
        store_b.update_period(seen_b, {"begintime": "09:00", "endtime": "19:00"})
    final = store_a.get("period", "office")
    assert final is not None and final.body == {"begintime": "08:00", "endtime": "17:00"} and final.version == 2


def test_concurrent_schedule_updates_one_wins(ready):
    store = ConfigStore(Tables.for_namespace(ready))
    store.create_period("p", {"weekdays": "mon"})
    store.put_schedule("s", {"timezone": "UTC", "periods": ["p"]}, None)
    current = store.get("schedule", "s")
    assert current is not None
    results: list[str] = []

    def writer(zone: str) -> None:
        try:
            ConfigStore(Tables.for_namespace(ready)).put_schedule("s", {"timezone": zone, "periods": ["p"]}, current)
            results.append("ok")
        except ConflictError:
            results.append("conflict")

    threads = [threading.Thread(target=writer, args=(z,)) for z in ("Europe/Berlin", "Asia/Tokyo")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "ok"]
    final = store.get("schedule", "s")
    assert final is not None and final.version == 2


def test_apply_diff_reapply_and_prune(run, ready, write):
    path = write(SMALL)
    r = run("apply", "--file", path, "--json")
    assert r.code == 0, r.err
    body = r.json()
    assert {(i["kind"], i["name"]) for i in body["created"]} == {
        ("period", "office"),
        ("period", "late"),
        ("schedule", "berlin"),
        ("schedule", "nyc"),
    }
    again = run("apply", "--file", path, "--json").json()
    assert again["created"] == again["updated"] == again["deleted"] == [] and len(again["unchanged"]) == 4
    assert again["writes"] == 0
    changed = SMALL.replace('endtime: "20:00"', 'endtime: "21:00"').replace(
        "  nyc: {timezone: America/New_York, periods: [office], enforced: true}\n", ""
    )
    path2 = write(changed, "v2.yaml")
    dry = run("apply", "--file", path2, "--prune", "--dry-run", "--json").json()
    assert dry["updated"] == [{"kind": "period", "name": "late"}]
    assert dry["deleted"] == [{"kind": "schedule", "name": "nyc"}]
    assert run("schedule", "show", "nyc", "--json").code == 0  # dry run wrote nothing
    r = run("apply", "--file", path2, "--json")  # without --prune nothing is deleted
    assert r.json()["deleted"] == [] and run("schedule", "show", "nyc").code == 0
    r = run("apply", "--file", path2, "--prune", "--json")
    assert r.json()["deleted"] == [{"kind": "schedule", "name": "nyc"}]
    assert run("schedule", "show", "nyc").code == 2
    assert run("period", "show", "late", "--json").json()["endtime"] == "21:00"


def test_apply_invalid_file_writes_nothing(run, ready, write):
    run("apply", "--file", write(SMALL))
    before = _table_snapshot(ready)
    bad = SMALL.replace("weekdays: mon-thu", "weekdays: mon-thurs").replace('"09:00"', '"9:60"')
    r = run("apply", "--file", write(bad, "bad.yaml"), "--json")
    assert r.code == 2
    paths = {i["path"] for i in r.json()["issues"]}
    assert paths == {"periods.late.weekdays", "periods.office.begintime"}
    assert _table_snapshot(ready) == before


def test_apply_dynamodb_failure_leaves_table_as_before(ready):
    store = ConfigStore(Tables.for_namespace(ready))
    store.apply(parse_text(SMALL), prune=False, dry_run=False)
    before = _table_snapshot(ready)
    # A concurrent writer changes one item between apply's read and its transaction: the whole transaction is
    # cancelled by DynamoDB (a real failure, not a mock), and nothing of the file is written.
    other = ConfigStore(Tables.for_namespace(ready))

    def sneak(_chunk: int) -> None:
        item = other.get("period", "office")
        assert item is not None
        other.update_period(item, {**item.body, "description": "edited by someone else"})

    store.before_commit = sneak
    changed = parse_text(SMALL.replace('endtime: "20:00"', 'endtime: "21:00"').replace("nyc:", "nyc2:"))
    with pytest.raises(ConflictError, match="nothing was changed"):
        store.apply(changed, prune=True, dry_run=False)
    after = _table_snapshot(ready)
    office_after = next(row for row in after if row[1] == "office")
    assert office_after[2]["description"] == "edited by someone else"  # the other writer's change survives
    assert [row for row in after if row[1] != "office"] == [row for row in before if row[1] != "office"]


def test_large_apply_is_chunked_and_rolled_back_on_failure(ready):
    periods = "\n".join(f'  p{i}: {{begintime: "09:00", endtime: "17:00"}}' for i in range(130))
    schedules = "\n".join(f"  s{i}: {{periods: [p{i}]}}" for i in range(130))
    big = parse_text(f"periods:\n{periods}\nschedules:\n{schedules}\n")
    store = ConfigStore(Tables.for_namespace(ready))
    calls: list[int] = []

    def fail_second(chunk: int) -> None:
        calls.append(chunk)
        if chunk == 2:
            raise RuntimeError("simulated DynamoDB outage")

    store.before_commit = fail_second
    with pytest.raises(StoreError, match="rolled back"):
        store.apply(big, prune=False, dry_run=False)
    assert calls == [0, 1, 2]  # two chunks of 100 were written, then undone
    assert _table_snapshot(ready) == []
    store.before_commit = None
    plan = store.apply(big, prune=False, dry_run=False)
    assert len(plan.created) == 260 and plan.transactions == 3
    assert len(_table_snapshot(ready)) == 260


def test_export_apply_round_trip(run, ready, write):
    assert run("apply", "--file", SAMPLE).code == 0
    exported = run("export")
    assert exported.code == 0
    path = write(exported.out, "exported.yaml")
    assert run("validate", "--file", path).code == 0
    again = run("apply", "--file", path, "--prune", "--json").json()
    assert again["created"] == again["updated"] == again["deleted"] == []
    as_json = run("export", "--json").json()
    assert set(as_json) == {"periods", "schedules"} and "office-berlin" in as_json["schedules"]


def test_preview_and_state_read_the_store(run, ready):
    run("apply", "--file", SAMPLE)
    r = run("schedule", "state", "office-berlin", "--at", "2026-11-27T09:30:00+01:00", "--json")
    assert r.code == 0 and r.json()["state"] == "running"
    r = run("schedule", "preview", "office-berlin", "--from", "2026-11-23", "--to", "2026-11-27", "--json")
    assert r.code == 0 and r.json()["running_hours"] == 52.0


def test_tag_refuses_a_schedule_that_is_not_stored(run, ready):
    import boto3

    ec2 = boto3.client("ec2", region_name="us-east-1")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    r = run("tag", iid, "--schedule", "nope")
    assert r.code == 2 and "--schedule: 'nope' is not a stored schedule" in r.err
    run("apply", "--file", SAMPLE)
    r = run("tag", iid, "--schedule", "office-berlin", "--json")
    assert r.code == 0, r.err
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]
    assert {"Key": "Schedule", "Value": "office-berlin"} in [{"Key": t["Key"], "Value": t["Value"]} for t in tags]


# -- a stored configuration that is partly invalid (load_partial) ----------------------------------------------


def _put_raw(namespace: str, kind: str, name: str, body: object = None, raw_body: dict[str, str] | None = None) -> None:
    """Writes an item by hand, as someone with table access (or an older version) could."""
    import json

    import boto3

    item: dict[str, object] = {"kind": {"S": kind}, "name": {"S": name}, "version": {"N": "1"}}
    item["body"] = raw_body if raw_body is not None else {"S": json.dumps(body)}
    boto3.client("dynamodb").put_item(TableName=Tables.for_namespace(namespace).names.config, Item=item)


def test_load_partial_of_a_valid_configuration_is_load(ready, run):
    assert run("apply", "--file", SAMPLE).code == 0
    store = ConfigStore(Tables.for_namespace(ready))
    config, issues = store.load_partial()
    assert issues == [] and config == store.load()


def test_load_partial_keeps_what_is_valid_and_names_what_is_not(ready):
    store = ConfigStore(Tables.for_namespace(ready))
    store.apply(parse_text(SMALL), prune=False, dry_run=False)  # office, late; berlin (office, late), nyc (office)
    long = "mon-fry" + "x" * 5000
    _put_raw(ready, "period", "bad", {"begintime": "09:00", "weekdays": long})
    _put_raw(ready, "schedule", "uses-bad", {"periods": ["office", "bad"]})
    _put_raw(ready, "schedule", "orphan", {"periods": ["gone"]})  # what the old race left behind
    _put_raw(ready, "schedule", "mars", {"timezone": "Mars/Base", "periods": ["office"]})
    _put_raw(ready, "schedule", "forced", {"override_status": "running"})  # valid without periods
    _put_raw(ready, "period", "not-json", raw_body={"S": "{not json"})
    _put_raw(ready, "period", "a-list", ["09:00"])
    _put_raw(ready, "schedule", "number-body", raw_body={"N": "7"})
    _put_raw(ready, "schedule", "uses-unreadable", {"periods": ["not-json"]})
    _put_raw(ready, "schedule", "bad name\n", {"periods": ["office"]})

    config, issues = store.load_partial()

    assert sorted(config.periods) == ["late", "office"]
    assert sorted(config.schedules) == ["berlin", "forced", "nyc"]
    assert config.schedules["berlin"] == parse_text(SMALL).schedules["berlin"]
    by_path = {i.path: i.message for i in issues}
    assert sorted(by_path) == [
        "periods.a-list",
        "periods.bad",
        "periods.not-json",
        "schedules.bad name\\n",
        "schedules.mars",
        "schedules.number-body",
        "schedules.orphan",
        "schedules.uses-bad",
        "schedules.uses-unreadable",
    ]
    assert by_path["periods.bad"].startswith("weekdays: ") and "mon-fry" in by_path["periods.bad"]
    assert all(len(m) <= 400 for m in by_path.values())  # a bad value is quoted by a short prefix only
    assert "x" * 100 not in by_path["periods.bad"]
    assert "'gone' is not a defined period" in by_path["schedules.orphan"]
    assert "period 'bad' is invalid (see periods.bad)" in by_path["schedules.uses-bad"]
    assert "period 'not-json' is invalid" in by_path["schedules.uses-unreadable"]
    assert by_path["schedules.mars"].startswith("timezone: ") and "Mars/Base" in by_path["schedules.mars"]
    assert "cannot be read" in by_path["periods.not-json"] and "not JSON" in by_path["periods.not-json"]
    assert "cannot be read" in by_path["periods.a-list"] and "not a mapping" in by_path["periods.a-list"]
    assert "cannot be read" in by_path["schedules.number-body"]
    # Commands that need all of it valid still refuse it as a whole.
    with pytest.raises(StoreError):
        store.load()


def test_export_of_a_partly_invalid_configuration_fails_naming_the_problem(ready, run, write):
    assert run("apply", "--file", write(SMALL)).code == 0
    _put_raw(ready, "schedule", "orphan", {"periods": ["gone"]})
    r = run("export")
    assert r.code == 1 and "orphan" in r.err and "gone" in r.err
