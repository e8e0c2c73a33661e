"""``isched suggest`` against a moto server: real instances and DB instances, their CloudWatch metrics put with
``PutMetricData`` and read back with ``GetMetricData`` (Period 3600), the proposals, ``--apply`` and ``--tag``.

Each test has a region of its own, so other tests' running instances are not candidates there, and moto's
CloudWatch (which scans every stored datapoint of its region for each hour of each query) stays small.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from scheduler.aws import session
from scheduler.cli import output
from tests.conftest import Result

AMI = "ami-12c6146b"
AT = "2026-03-16T00:00:00Z"  # a Monday: the 14 days before it are two whole weeks
END = datetime(2026, 3, 16, tzinfo=UTC)
PRICE = Decimal("0.0116")


@functools.cache
def client(service: str, region: str) -> Any:
    return session.client(service, region)


def office(t: datetime) -> bool:
    return t.weekday() < 5 and 8 <= t.hour < 18


def put_metrics(
    region: str, namespace: str, dimension: dict[str, str], series: dict[str, Callable[[datetime], float]]
) -> None:
    hours = [END - timedelta(days=14) + timedelta(hours=i) for i in range(14 * 24)]
    for name, value in series.items():
        client("cloudwatch", region).put_metric_data(
            Namespace=namespace,
            MetricData=[
                {"MetricName": name, "Dimensions": [dimension], "Timestamp": t, "Value": value(t)} for t in hours
            ],
        )


def instance(region: str, busy: Callable[[datetime], bool] | None, tags: dict[str, str] | None = None) -> str:
    extra: dict[str, Any] = {}
    if tags:
        extra["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    made = client("ec2", region).run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro", **extra)
    iid = str(made["Instances"][0]["InstanceId"])
    if busy is not None:
        put_metrics(
            region,
            "AWS/EC2",
            {"Name": "InstanceId", "Value": iid},
            {
                "CPUUtilization": lambda t: 65.0 if busy(t) else 0.8,
                "NetworkIn": lambda t: 5e7 if busy(t) else 2e4,
                "NetworkOut": lambda t: 1e7 if busy(t) else 1e4,
            },
        )
    return iid


@pytest.fixture
def cli(namespace: str, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result]) -> Callable[..., Result]:
    monkeypatch.delenv("ISCHED_TAG_KEY", raising=False)
    monkeypatch.setenv("ISCHED_PRICE_CACHE", "off")
    return run


@pytest.fixture
def prices(tmp_path: Path) -> str:
    path = tmp_path / "prices.csv"
    path.write_text(f"service,region,type,hourly_usd\nec2,*,t3.micro,{PRICE}\nrds,*,db.t3.micro,0.017\n")
    return str(path)


def suggest(cli: Callable[..., Result], prices: str, region: str, *extra: str) -> Result:
    return cli("suggest", "--regions", region, "--at", AT, "--prices", prices, "--no-pricing-api", "--json", *extra)


def rows(result: Result) -> dict[str, dict[str, Any]]:
    return {r["resource"]: r for r in result.json()["resources"]}


def test_weekday_office_hours_busy_idle_and_tagged(
    cli: Callable[..., Result], prices: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("init").code == 0
    worker = instance("ca-central-1", office)
    busy = instance("ca-central-1", lambda t: True)
    idle = instance("ca-central-1", lambda t: False)
    fresh = instance("ca-central-1", None)  # no metrics at all
    tagged = instance("ca-central-1", office, {"Schedule": "already"})
    res = suggest(cli, prices, "ca-central-1")
    assert res.code == 0, res
    got = rows(res)
    assert tagged not in got  # already scheduled

    w = got[worker]
    assert (w["status"], w["schedule"]) == ("proposed", {"name": "suggest-mon-fri-0800-1800-utc", "existing": False})
    assert (w["running_hours_per_week"], w["stopped_hours_per_week"]) == (50.0, 118.0)
    expected = (Decimal(730) * Decimal(118) / Decimal(168) * PRICE).quantize(Decimal("0.01"))
    assert Decimal(str(w["estimated_monthly_savings"])) == expected
    assert w["hourly_price"] == float(PRICE)
    assert w["confidence"]["level"] == "high" and w["confidence"]["data_hours"] == 336
    assert w["type"] == "t3.micro" and w["region"] == "ca-central-1" and w["arn"].endswith(f":instance/{worker}")

    assert (got[busy]["status"], got[busy]["reason"], got[busy]["schedule"]) == ("busy", "busy at all hours", None)
    assert got[busy]["estimated_monthly_savings"] is None
    assert got[idle]["status"] == "idle" and "candidate for stopping" in got[idle]["reason"]
    assert got[fresh]["status"] == "insufficient_data" and "too little data" in got[fresh]["reason"]

    body = res.json()
    assert body["new"] == {
        "periods": {"suggest-mon-fri-0800-1800": {"begintime": "08:00", "endtime": "18:00", "weekdays": "mon-fri"}},
        "schedules": {
            "suggest-mon-fri-0800-1800-utc": {
                "timezone": "UTC",
                "periods": ["suggest-mon-fri-0800-1800"],
                "description": "Proposed by isched suggest: running mon-fri 08:00-18:00 (UTC)",
            }
        },
    }
    assert set(body) == {
        "at", "from", "to", "days", "timezone", "reference_week", "currency", "thresholds", "resources", "new",
        "totals", "errors", "notes", "applied", "tagged",
    }  # fmt: skip
    assert (body["from"], body["to"], body["days"]) == ("2026-03-02T00:00:00Z", AT, 14)
    assert body["totals"]["proposed"] == 1 and body["totals"]["estimated_monthly_savings"] == float(expected)
    # Nothing was written without --apply.
    assert cli("schedule", "list", "--json").json() == []

    # The human table says the same.
    # Wide enough that no cell wraps, whatever COLUMNS the test runs under (a wrapped cell splits its words).
    monkeypatch.setattr(output.console, "width", 200)
    text = cli("suggest", "--regions", "ca-central-1", "--at", AT, "--prices", prices, "--no-pricing-api")
    words = " ".join(text.out.split())
    assert text.code == 0 and "suggest-mon-fri-0800-1800-utc" in words and "busy at all hours" in words


def test_apply_writes_exactly_the_proposal_then_tag(cli: Callable[..., Result], prices: str) -> None:
    assert cli("init").code == 0
    worker = instance("eu-west-3", office)
    before = cli("export", "--json").json()
    res = suggest(cli, prices, "eu-west-3", "--apply", "--yes")
    assert res.code == 0, res
    body = res.json()
    new = body["new"]
    assert new["schedules"], body
    after = cli("export", "--json").json()
    assert after["periods"] == {**before["periods"], **new["periods"]}
    assert after["schedules"] == {**before["schedules"], **new["schedules"]}
    assert sorted(body["applied"]["created"]) == sorted(
        [f"period {n}" for n in new["periods"]] + [f"schedule {n}" for n in new["schedules"]]
    )
    # Now stored, the same schedule is proposed as an existing one, and --tag tags with it.
    res2 = suggest(cli, prices, "eu-west-3", "--tag", "--yes")
    assert res2.code == 0, res2
    proposed = [r for r in res2.json()["resources"] if r["schedule"]]
    assert proposed and all(r["schedule"]["existing"] for r in proposed)
    assert res2.json()["new"] == {"periods": {}, "schedules": {}}
    tagged = res2.json()["tagged"]
    assert {t["id"] for t in tagged if t["ok"]} == {r["resource"] for r in proposed} >= {worker}
    for r in proposed:
        tags = client("ec2", "eu-west-3").describe_tags(Filters=[{"Name": "resource-id", "Values": [r["resource"]]}])[
            "Tags"
        ]
        assert {"Key": "Schedule", "Value": r["schedule"]["name"]} in [
            {"Key": t["Key"], "Value": t["Value"]} for t in tags
        ]
    # Tagged, they are no longer candidates.
    again = rows(suggest(cli, prices, "eu-west-3"))
    assert not set(again) & {r["resource"] for r in proposed}


def test_a_stored_schedule_that_fits_is_proposed_and_rds_is_read(cli: Callable[..., Result], prices: str) -> None:
    assert cli("init").code == 0
    assert cli("period", "create", "office-long", "--begintime", "07:00", "--endtime", "19:00",
               "--weekdays", "mon-fri").code == 0  # fmt: skip
    assert cli("schedule", "create", "office-long", "--periods", "office-long").code == 0
    worker = instance("eu-north-1", office)
    db = f"orders-{worker[-8:]}"
    client("rds", "eu-north-1").create_db_instance(
        DBInstanceIdentifier=db, DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="password123",
    )  # fmt: skip
    put_metrics(
        "eu-north-1",
        "AWS/RDS",
        {"Name": "DBInstanceIdentifier", "Value": db},
        {"CPUUtilization": lambda t: 3.0, "DatabaseConnections": lambda t: 4.0 if office(t) else 0.0},
    )
    got = rows(suggest(cli, prices, "eu-north-1"))
    # 60 running hours against the new schedule's 50: it stops 108/118 of what the new one would (over 80%).
    assert got[worker]["schedule"] == {"name": "office-long", "existing": True}
    assert got[worker]["running_hours_per_week"] == 60.0
    assert got[db]["service"] == "rds" and got[db]["schedule"] == {"name": "office-long", "existing": True}
    expected = (Decimal(730) * Decimal(108) / Decimal(168) * Decimal("0.017")).quantize(Decimal("0.01"))
    assert Decimal(str(got[db]["estimated_monthly_savings"])) == expected


def test_tag_without_apply_for_a_new_schedule_is_refused(cli: Callable[..., Result], prices: str) -> None:
    assert cli("init").code == 0
    worker = instance("ap-northeast-2", office)
    res = suggest(cli, prices, "ap-northeast-2", "--tag", "--yes")
    assert res.code == 2 and "--apply" in res.json()["error"]
    tags = client("ec2", "ap-northeast-2").describe_tags(Filters=[{"Name": "resource-id", "Values": [worker]}])["Tags"]
    assert tags == []


@pytest.mark.parametrize(
    ("args", "field"),
    [(["--days", "0"], "--days"), (["--days", "1000"], "--days"), (["--regions", "not a region"], "--regions")],
)
def test_hostile_input_exits_2_and_writes_nothing(
    cli: Callable[..., Result], prices: str, args: list[str], field: str
) -> None:
    assert cli("init").code == 0
    res = cli("suggest", "--at", AT, "--apply", "--tag", "--yes", "--json", *args)
    assert res.code == 2 and field in res.json()["error"]
    assert cli("schedule", "list", "--json").json() == []


def test_a_region_that_fails_is_an_error_the_others_still_answer(
    cli: Callable[..., Result], prices: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "MAX_ATTEMPTS", 1)  # moto answers the unknown region with a 500: fail fast
    instance("sa-east-1", office)
    res = cli("suggest", "--regions", "sa-east-1,xx-nowhere-9", "--services", "ec2", "--at", AT,
              "--prices", prices, "--no-pricing-api", "--json")  # fmt: skip
    body = res.json()
    assert res.code == 1  # an error is an exit 1, with the whole answer printed
    assert [(e["region"], e["service"], e["resource"]) for e in body["errors"]] == [("xx-nowhere-9", "ec2", None)]
    assert any(r["status"] == "proposed" for r in body["resources"])
    assert "xx-nowhere-9" in res.err
