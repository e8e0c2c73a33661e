"""Savings accounting, prices and Cost Explorer without AWS: table tests over ledger entries, prices-file errors,
and the Price List / Cost Explorer clients through botocore's Stubber with real-shaped answers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from scheduler.engine import parse_text
from scheduler.savings.breakdown import build_report
from scheduler.savings.charts import nice_ticks
from scheduler.savings.costexplorer import CostExplorer, summarize
from scheduler.savings.formats import render_csv
from scheduler.savings.keys import ResourceKey, pricing_for
from scheduler.savings.months import parse_month, shift_month
from scheduler.savings.page import render_html
from scheduler.savings.price_api import PricingApi, choose_price, ec2_filters, rds_filters
from scheduler.savings.price_book import PriceBook
from scheduler.savings.price_cache import JsonCache
from scheduler.savings.price_file import PricesFileError, parse_prices
from scheduler.savings.prices import PriceAnswer
from scheduler.savings.priors import open_at_start
from scheduler.savings.projection import project
from scheduler.savings.usage import month_usages, stopped_intervals
from scheduler.savings.valuation import value_usages
from scheduler.services.pricing import PriceQuery
from scheduler.store.state import ResourceRecord

MARCH = parse_month("2026-03")
START, END = MARCH
ACCOUNT = "111111111111"
REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Price and Cost Explorer caches of this test's own, never the user's."""
    monkeypatch.setenv("ISCHED_PRICE_CACHE", str(tmp_path / "cache" / "prices.json"))


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def entry(at: str, action: str, resource: str = "i-1", service: str = "ec2", **extra: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "at": t(at).isoformat(),
        "target": f"{ACCOUNT}#{REGION}#{service}",
        "account": ACCOUNT,
        "region": REGION,
        "service": service,
        "resource": resource,
        "schedule": extra.pop("schedule", "office"),
        "action": action,
        "instance_type": extra.pop("instance_type", "t3.large"),
        "details": extra.pop("details", {"platform": "Linux/UNIX", "tenancy": "default"}),
    }
    e.update(extra)
    return e


def key(resource: str = "i-1", service: str = "ec2") -> ResourceKey:
    return ResourceKey(ACCOUNT, REGION, service, resource)


def spans(stops: list[Any]) -> list[tuple[str, str, str | None]]:
    return [(s.start.strftime("%d %H:%M"), s.end.strftime("%d %H:%M"), s.closed_by) for s in stops]


# --- intervals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "until", "opened", "expected"),
    [
        pytest.param(
            [entry("2026-03-02T17:00Z", "stop"), entry("2026-03-03T09:00Z", "start")],
            "2026-04-10T00:00Z",
            None,
            [("02 17:00", "03 09:00", "start")],
            id="inside-the-month",
        ),
        pytest.param(
            [entry("2026-03-31T17:00Z", "stop")],
            "2026-04-10T00:00Z",
            None,
            [("31 17:00", "01 00:00", None)],
            id="clipped-at-the-month-end",
        ),
        pytest.param(
            [entry("2026-03-02T09:00Z", "start")],
            "2026-04-10T00:00Z",
            {key(): entry("2026-02-27T17:00Z", "stop")},
            [("01 00:00", "02 09:00", "start")],
            id="opened-last-month-clipped-at-the-start",
        ),
        pytest.param(
            [entry("2026-03-04T17:10Z", "stop")],
            "2026-03-04T20:40Z",
            None,
            [("04 17:10", "04 20:40", None)],
            id="open-up-to-the-report-time",
        ),
        pytest.param(
            [entry("2026-03-02T17:00Z", "stop"), entry("2026-03-02T19:30Z", "manual-start")],
            "2026-04-10T00:00Z",
            None,
            [("02 17:00", "02 19:30", "manual-start")],
            id="manual-start-ends-it",
        ),
        pytest.param(
            [entry("2026-03-02T17:00Z", "stop"), entry("2026-03-05T08:00Z", "gone")],
            "2026-04-10T00:00Z",
            None,
            [("02 17:00", "05 08:00", "gone")],
            id="gone-ends-it",
        ),
        pytest.param(
            [entry("2026-03-02T17:00Z", "stop"), entry("2026-03-02T18:00Z", "resize")],
            "2026-04-10T00:00Z",
            None,
            [("02 17:00", "02 18:00", "resize")],
            id="resize-ends-it",
        ),
        pytest.param(
            [entry("2026-03-02T09:00Z", "start"), entry("2026-03-02T17:00Z", "start")],
            "2026-04-10T00:00Z",
            None,
            [],
            id="a-start-after-a-manual-stop-ends-nothing",
        ),
        pytest.param(
            [
                entry("2026-03-02T17:00Z", "stop"),
                entry("2026-03-02T17:05Z", "stop"),  # a repeated stop does not restart the interval
                entry("2026-03-03T09:00Z", "start"),
                entry("2026-03-03T17:00Z", "stop"),
                entry("2026-03-04T09:00Z", "start"),
            ],
            "2026-04-10T00:00Z",
            None,
            [("02 17:00", "03 09:00", "start"), ("03 17:00", "04 09:00", "start")],
            id="two-nights",
        ),
        pytest.param(
            [entry("2026-03-20T17:00Z", "stop")],
            "2026-03-10T00:00Z",
            None,
            [],
            id="a-stop-after-the-report-time-counts-nothing",
        ),
        pytest.param(
            # Closes sort before stops at one instant: the interval ends, the next one begins.
            [entry("2026-03-02T17:00Z", "stop"), entry("2026-03-02T17:00Z", "stop", resource="i-2")],
            "2026-03-02T18:00Z",
            None,
            [("02 17:00", "02 18:00", None), ("02 17:00", "02 18:00", None)],
            id="two-resources",
        ),
    ],
)
def test_stopped_intervals(entries, until, opened, expected):
    assert spans(stopped_intervals(entries, START, END, t(until), opened)) == expected


def test_open_interval_stops_at_month_end_when_the_report_is_later():
    (stop,) = stopped_intervals([entry("2026-03-30T00:00Z", "stop")], START, END, t("2026-06-01T00:00Z"))
    assert stop.micros == 48 * 3600 * 10**6 and stop.closed_at is None


# --- what was open when the month began -------------------------------------------------------------------------


def test_open_at_start_reads_the_previous_month():
    months = {"2026-02": [entry("2026-02-27T17:00Z", "stop")]}
    reads: list[str] = []

    def read(m: str) -> list[dict[str, Any]]:
        reads.append(m)
        return months.get(m, [])

    opened, n = open_at_start("2026-03", [entry("2026-03-02T09:00Z", "start")], {}, read, max_months=3)
    assert list(opened) == [key()] and n == 1 and reads == ["2026-02"]


def test_open_at_start_a_manual_start_last_month_means_not_open():
    months = {"2026-02": [entry("2026-02-27T17:00Z", "stop"), entry("2026-02-27T20:00Z", "manual-start")]}
    opened, _ = open_at_start("2026-03", [entry("2026-03-02T09:00Z", "start")], {}, lambda m: months.get(m, []))
    assert opened == {}


def test_open_at_start_walks_back_only_to_the_recorded_stop():
    rec = ResourceRecord("i-1", schedule="office", last_action="stop", last_action_at="2025-12-31T17:00:00+00:00")
    months = {"2025-12": [entry("2025-12-31T17:00Z", "stop")]}
    reads: list[str] = []

    def read(m: str) -> list[dict[str, Any]]:
        reads.append(m)
        return months.get(m, [])

    opened, n = open_at_start("2026-03", [], {key(): rec}, read)
    assert reads == ["2026-02", "2026-01", "2025-12"] and n == 3
    assert opened[key()]["at"].startswith("2025-12-31T17:00")


def test_open_at_start_falls_back_on_the_state_record_when_the_ledger_expired():
    rec = ResourceRecord(
        "web",
        schedule="office",
        last_action="stop",
        last_action_at="2024-01-05T17:00:00+00:00",
        instance_type="t3.micro",
        details={"min": 0, "max": 0, "desired": 0, "instance_types": ["t3.micro"]},
        saved_capacity={"min": 1, "max": 4, "desired": 3},
    )
    opened, n = open_at_start("2026-03", [], {key("web", "asg"): rec}, lambda m: [], max_months=4)
    assert n == 4
    stop = opened[key("web", "asg")]
    assert stop["capacity"]["desired"] == 3 and stop["from_state"] is True
    (interval,) = stopped_intervals([], START, END, t("2026-03-11T00:00Z"), opened)
    assert interval.micros == 10 * 24 * 3600 * 10**6 and interval.pricing.units == 3


def test_open_at_start_ignores_a_stop_gone_before_the_month():
    rec = ResourceRecord(
        "i-1", last_action="stop", last_action_at="2026-01-05T17:00:00+00:00", gone_at="2026-02-01T00:00:00+00:00"
    )
    opened, n = open_at_start("2026-03", [], {key(): rec}, lambda m: [])
    assert opened == {} and n == 0


# --- pricing of what was stopped --------------------------------------------------------------------------------


FILE = parse_prices(
    "service,region,type,hourly_usd\n"
    "ec2,eu-west-1,t3.large,0.0912\n"
    "ec2,*,t3.micro,0.0104\n"
    "asg,eu-west-1,m5.large,0.1\n"
    "ec2,eu-west-1,m5.large,0.107\n"
    "rds,eu-west-1,db.t3.micro,0.018\n"
    "rds,eu-west-1,db.m5.large:multi-az,0.384\n"
    "rds,eu-west-1,db.m5.large,0.19\n"
    "rds,eu-west-1,db.r6g.large,0.29\n"
    "rds,eu-west-1,db.r6g.xlarge,0.58\n"
)


def file_price(pricing: Any) -> Decimal | None:
    from scheduler.savings.valuation import price_of

    return price_of(pricing, lambda q: FILE.lookup(q) or PriceAnswer(None, None, f"no price for {q.type}"))[0]


@pytest.mark.parametrize(
    ("service", "itype", "details", "capacity", "label", "units", "hourly"),
    [
        pytest.param("ec2", "t3.large", {"platform": "Linux/UNIX"}, None, "t3.large", 1, "0.0912", id="ec2"),
        pytest.param("ec2", "t3.micro", {}, None, "t3.micro", 1, "0.0104", id="ec2-any-region-row"),
        pytest.param(
            "asg",
            "t3.micro",
            {"desired": 0, "instance_types": ["t3.micro"]},
            {"min": 1, "max": 4, "desired": 3},
            "t3.micro",
            3,
            "0.0312",
            id="asg-saved-desired-capacity",
        ),
        pytest.param("asg", "m5.large", {"desired": 2}, None, "m5.large", 2, "0.2", id="asg-rows-come-first"),
        pytest.param(
            "asg",
            None,
            {"desired": 2, "instance_types": ["m5.large", "t3.micro"]},
            None,
            "m5.large, t3.micro",
            2,
            None,
            id="asg-mixed-types-unpriced",
        ),
        pytest.param(
            "rds",
            "db.t3.micro",
            {"kind": "instance", "engine": "postgres", "multi_az": False},
            None,
            "db.t3.micro",
            1,
            "0.018",
            id="rds-single-az",
        ),
        pytest.param(
            "rds",
            "db.t3.micro",
            {"kind": "instance", "engine": "postgres", "multi_az": True},
            None,
            "db.t3.micro",
            1,
            "0.036",
            id="rds-multi-az-twice-the-rate",
        ),
        pytest.param(
            "rds",
            "db.m5.large",
            {"kind": "instance", "engine": "mysql", "multi_az": True},
            None,
            "db.m5.large",
            1,
            "0.384",
            id="rds-multi-az-exact-row",
        ),
        pytest.param(
            "rds",
            None,
            {
                "kind": "cluster",
                "engine": "aurora-postgresql",
                "members": [
                    {"id": "a", "class": "db.r6g.large", "writer": True},
                    {"id": "b", "class": "db.r6g.large", "writer": False},
                    {"id": "c", "class": "db.r6g.xlarge", "writer": False},
                ],
            },
            None,
            "2×db.r6g.large + db.r6g.xlarge",
            3,
            "1.16",
            id="aurora-members",
        ),
        pytest.param(
            "rds",
            None,
            {"kind": "cluster", "engine": "aurora-mysql", "members": [{"id": "a", "class": "db.serverless"}]},
            None,
            "db.serverless",
            1,
            None,
            id="aurora-serverless-v2-unpriced",
        ),
        pytest.param("ec2", "c7i.large", {}, None, "c7i.large", 1, None, id="unknown-price"),
        pytest.param("ec2", None, {}, None, None, 1, None, id="unknown-type"),
    ],
)
def test_pricing(service, itype, details, capacity, label, units, hourly):
    pricing = pricing_for(service, REGION, itype, details, capacity)
    assert (pricing.type, pricing.units) == (label, units)
    assert file_price(pricing) == (Decimal(hourly) if hourly else None)


def test_multi_az_rds_query_and_aurora_io_optimized():
    p = pricing_for("rds", REGION, "db.m5.large", {"kind": "instance", "engine": "postgres", "multi_az": True})
    assert p.components[0].query.deployment == "multi-az"
    a = pricing_for(
        "rds",
        REGION,
        None,
        {"kind": "cluster", "engine": "aurora-postgresql", "storage_type": "aurora-iopt1", "members": [{"class": "x"}]},
    )
    assert a.components[0].query.storage == "aurora-iopt1"


# --- a month valued ---------------------------------------------------------------------------------------------


def test_month_report_savings_running_hours_and_unpriced():
    entries = [
        entry("2026-03-02T17:00Z", "stop"),
        entry("2026-03-03T09:00Z", "start"),
        entry("2026-03-02T17:00Z", "stop", resource="i-2", instance_type="c7i.large"),
        entry(
            "2026-03-02T17:00Z",
            "stop",
            resource="web",
            service="asg",
            instance_type="t3.micro",
            details={"min": 1, "max": 4, "desired": 2, "instance_types": ["t3.micro"]},
            capacity={"min": 1, "max": 4, "desired": 2},
        ),
        entry("2026-03-03T09:00Z", "start", resource="web", service="asg", instance_type="t3.micro"),
    ]
    records = {
        key(): ResourceRecord("i-1", schedule="office", first_seen_at="2026-03-02T09:00:00+00:00"),
        # Seen this month, never stopped: in the report with no savings.
        key("i-3"): ResourceRecord(
            "i-3",
            schedule="always",
            instance_type="t3.large",
            first_seen_at="2026-01-01T00:00:00+00:00",
            last_seen_at="2026-03-03T10:00:00+00:00",
        ),
        # Last seen in February: not in March's report.
        key("i-old"): ResourceRecord("i-old", schedule="office", last_seen_at="2026-02-20T00:00:00+00:00"),
    }
    until = t("2026-03-03T10:00Z")
    usages = month_usages("2026-03", until, entries, records)
    rows = value_usages(usages, lambda q: FILE.lookup(q) or PriceAnswer(None, None, f"no price for {q.type}"))
    report = build_report("2026-03", until, rows)
    got = {r["resource"]: r for r in report["resources"]}
    assert set(got) == {"i-1", "i-2", "i-3", "web"}
    assert got["i-1"]["stopped_hours"] == 16.0 and got["i-1"]["running_hours"] == 9.0  # seen from 03-02 09:00
    assert got["i-1"]["estimated_savings"] == 1.46  # 16 × 0.0912 = 1.4592
    assert got["web"]["estimated_savings"] == 0.33 and got["web"]["units"] == 2  # 16 × 2 × 0.0104 = 0.3328
    assert got["i-2"]["stopped_hours"] == 17.0 and got["i-2"]["estimated_savings"] is None
    assert got["i-2"]["hourly_price"] is None and "c7i.large" in got["i-2"]["note"]
    assert got["i-3"]["stopped_hours"] == 0.0 and got["i-3"]["running_hours"] == 58.0
    totals = report["totals"]
    assert totals["estimated_savings"] == 1.79 and totals["unpriced_resources"] == 1 and totals["unpriced_hours"] == 17
    assert totals["actual_cost"] is None
    # savings / (savings + running cost) over priced resources: (1.46 + 0.33) / (1.79 + 9 h × 0.0912 + 58 h ×
    # 0.0912 + 42 h × 0.0208 (web: no state record, so counted from the month's start: 58 h less 16 h stopped)).
    full = 1.79 + round(9 * 0.0912, 2) + round(58 * 0.0912, 2) + round(42 * 0.0208, 2)
    assert totals["savings_percent"] == pytest.approx(100 * 1.79 / full, abs=0.01)
    # The fourth day had not begun when the report was made: unknown, not "nothing saved".
    assert [d["estimated_savings"] for d in report["daily"][:4]] == [0.0, 0.78, 1.01, None]
    assert {g["schedule"]: g["resources"] for g in report["by_schedule"]} == {"always": 1, "office": 3}


def test_projection_uses_the_schedule_over_a_year():
    config = parse_text(
        "periods:\n  office: {begintime: '09:00', endtime: '17:00', weekdays: mon-fri}\n  s: {begintime: '08:00'}\n"
        "schedules:\n  office: {periods: [office]}\n  events: {periods: [s]}\n"
    )
    usages = month_usages(
        "2026-03",
        t("2026-03-02T00:00Z"),
        [],
        {
            key("a"): ResourceRecord(
                "a", schedule="office", instance_type="t3.large", last_seen_at="2026-03-01T10:00Z"
            ),
            key("b"): ResourceRecord(
                "b", schedule="events", instance_type="t3.large", last_seen_at="2026-03-01T10:00Z"
            ),
        },
    )
    result = project([(u, Decimal("0.1")) for u in usages], config, t("2026-03-02T00:00Z"))
    # 365 days from a Monday: 52 weeks and one Monday = 261 office days × 8 h = 2088 running hours.
    assert result["hours"] == 8760 and result["resources"] == 1 and result["unscheduled_resources"] == 1
    assert result["by_schedule"][0]["running_hours"] == 2088.0
    assert result["estimated_savings"] == pytest.approx((8760 - 2088) * 0.1)


def test_month_helpers():
    assert shift_month("2026-01", -1) == "2025-12" and shift_month("2025-12", 2) == "2026-02"
    assert parse_month("2026-12")[1] == datetime(2027, 1, 1, tzinfo=UTC)
    for bad in ("2026-13", "2026/03", "26-03", "march"):
        with pytest.raises(ValueError, match="is not a month"):
            parse_month(bad)


# --- the prices file --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "line 1: the file is empty"),
        ("service,region,kind,hourly_usd\n", "line 1: header 'service,region,kind,hourly_usd'"),
        ("service,region,type,hourly_usd\nec2,eu-west-1,t3.large,abc\n", "line 2: hourly_usd: 'abc' is not a price"),
        ("service,region,type,hourly_usd\nec2,eu-west-1,t3.large,-1\n", "line 2: hourly_usd: '-1' is not a price"),
        ("service,region,type,hourly_usd\nec2,eu-west-1,t3.large,NaN\n", "line 2: hourly_usd: 'NaN'"),
        ("service,region,type,hourly_usd\nlambda,eu-west-1,x.y,1\n", "line 2: service: 'lambda' is not a service"),
        ("service,region,type,hourly_usd\nec2,mars-1,t3.large,1\n", "line 2: region: 'mars-1' is not a region"),
        ("service,region,type,hourly_usd\nec2,eu-west-1,large,1\n", "line 2: type: 'large' is not an EC2 instance"),
        ("service,region,type,hourly_usd\nrds,eu-west-1,m5.large,1\n", "line 2: type: 'm5.large' is not a DB"),
        ("service,region,type,hourly_usd\nec2,eu-west-1,t3.large\n", "line 2: 3 fields, expected 4"),
        ("service,region,type,hourly_usd\nec2,eu-west-1,,1\n", "line 2: type: missing"),
        (
            "service,region,type,hourly_usd\nec2,eu-west-1,t3.large,1\nec2,eu-west-1,t3.large,2\n",
            "line 3: type: 't3.large' in eu-west-1 for ec2 is already priced at line 2",
        ),
        ('[{"service": "ec2", "region": "eu-west-1", "type": "t3.large"}]', "[0].hourly_usd: missing"),
        ('[{"service": "ec2", "region": "eu-west-1", "type": "t3.large", "hourly_usd": true}]', "[0].hourly_usd"),
        ('[{"service": "ec2", "region": "x", "type": "t3.large", "hourly_usd": 1, "az": 1}]', "[0].az: unknown"),
        ('{"service": "ec2"}', "must be a list"),
        ("[1, 2", "line 1: not valid JSON"),
    ],
)
def test_prices_file_errors_name_the_line_field_and_value(text, needle):
    with pytest.raises(PricesFileError) as info:
        parse_prices(text)
    assert needle in str(info.value)


def test_prices_file_reports_every_error_at_once():
    text = "service,region,type,hourly_usd\nec2,eu-west-1,t3.large,x\nfoo,eu-west-1,t3.large,1\n"
    with pytest.raises(PricesFileError) as info:
        parse_prices(text)
    assert [i.path for i in info.value.issues] == ["line 2: hourly_usd", "line 3: service"]


def test_prices_file_json_and_csv_agree():
    csv_table = parse_prices("# from the AWS pricing page\nservice,region,type,hourly_usd\nec2,*,t3.large,$0.0832\n")
    json_table = parse_prices('[{"service": "EC2", "region": "*", "type": "t3.large", "hourly_usd": 0.0832}]')
    assert csv_table.rows == json_table.rows == {("ec2", "*", "t3.large"): Decimal("0.0832")}


def test_report_rejects_a_bad_prices_file_with_exit_2(run, write):
    path = write("service,region,type,hourly_usd\nec2,eu-west-1,t3.large,cheap\n", "prices.csv")
    r = run("report", "--month", "2026-03", "--prices", path, "--at", "2026-03-10T00:00:00Z")
    assert r.code == 2 and "line 2: hourly_usd: 'cheap' is not a price in USD per hour" in r.err
    assert "prices.csv" in r.err
    r = run("report", "--month", "2026-3", "--at", "2026-03-10T00:00:00Z")
    assert r.code == 2 and "--month: '2026-3' is not a month" in r.err
    r = run("report", "--month", "2027-01", "--at", "2026-03-10T00:00:00Z")
    assert r.code == 2 and "has not begun" in r.err


def test_chart_without_matplotlib_exits_2_with_an_install_hint(run, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name))
    r = run("report", "--month", "2026-03", "--at", "2026-03-10T00:00:00Z", "--chart", "x.png")
    assert r.code == 2 and "instance-scheduler[charts]" in r.err


# --- the Price List Query API (stubbed: moto has none) -----------------------------------------------------------


def price_doc(sku: str, usd: str, family: str = "Compute Instance", **attrs: str) -> str:
    """A GetProducts PriceList item as AWS sends it: a JSON string with product, OnDemand and Reserved terms."""
    term = f"{sku}.JRTCKXETXF"
    return json.dumps(
        {
            "product": {"productFamily": family, "attributes": attrs, "sku": sku},
            "serviceCode": attrs.get("servicecode", "AmazonEC2"),
            "terms": {
                "OnDemand": {
                    term: {
                        "priceDimensions": {
                            f"{term}.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "endRange": "Inf",
                                "description": f"${usd} per On Demand {attrs.get('instanceType')} Instance Hour",
                                "appliesTo": [],
                                "rateCode": f"{term}.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                },
                "Reserved": {
                    f"{sku}.4NA7Y494T4": {
                        "priceDimensions": {
                            f"{sku}.4NA7Y494T4.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "pricePerUnit": {"USD": "0.0520000000"},
                                "description": "reserved",
                                "appliesTo": [],
                            }
                        },
                        "termAttributes": {"LeaseContractLength": "1yr", "PurchaseOption": "No Upfront"},
                    }
                },
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


def ec2_attrs(itype: str = "t3.large", **over: str) -> dict[str, str]:
    attrs = {
        "servicecode": "AmazonEC2",
        "location": "EU (Ireland)",
        "locationType": "AWS Region",
        "regionCode": "eu-west-1",
        "instanceType": itype,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "licenseModel": "No License required",
        "marketoption": "OnDemand",
        "usagetype": f"EU-BoxUsage:{itype}",
        "operation": "RunInstances",
        "vcpu": "2",
        "memory": "8 GiB",
    }
    attrs.update(over)
    return attrs


def stubbed_pricing() -> tuple[Any, Stubber]:
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    return client, Stubber(client)


def params(code: str, filters: list[dict[str, str]], token: str | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"ServiceCode": code, "Filters": filters, "FormatVersion": "aws_v1", "MaxResults": 100}
    if token:
        p["NextToken"] = token
    return p


def m(field: str, value: str) -> dict[str, str]:
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


def test_pricing_api_ec2_filters_pagination_and_parsing():
    client, stub = stubbed_pricing()
    query = PriceQuery("ec2", "eu-west-1", "t3.large", platform="Linux/UNIX", tenancy="default")
    filters = ec2_filters(query)
    assert filters == [
        m("instanceType", "t3.large"),
        m("regionCode", "eu-west-1"),
        m("operatingSystem", "Linux"),
        m("tenancy", "Shared"),
        m("preInstalledSw", "NA"),
        m("capacitystatus", "Used"),
        m("licenseModel", "No License required"),
    ]
    # Page one: a capacity block of the same type (another market); page two: the on-demand instance.
    block = price_doc("BLOCK", "0.5000000000", **ec2_attrs(marketoption="CapacityBlock"))
    stub.add_response(
        "get_products",
        {"PriceList": [block], "NextToken": "p2", "FormatVersion": "aws_v1"},
        params("AmazonEC2", filters),
    )
    stub.add_response(
        "get_products",
        {"PriceList": [price_doc("SKU1", "0.0912000000", **ec2_attrs())], "FormatVersion": "aws_v1"},
        params("AmazonEC2", filters, "p2"),
    )
    api = PricingApi(client)
    with stub:
        price, note = api.hourly(query)
    stub.assert_no_pending_responses()
    assert price == Decimal("0.0912") and note is None and api.requests == 2


def test_pricing_api_windows_with_sql_server_and_dedicated_tenancy():
    query = PriceQuery("ec2", "us-east-1", "m5.large", platform="Windows with SQL Server Standard", tenancy="dedicated")
    assert ec2_filters(query) == [
        m("instanceType", "m5.large"),
        m("regionCode", "us-east-1"),
        m("operatingSystem", "Windows"),
        m("tenancy", "Dedicated"),
        m("preInstalledSw", "SQL Std"),
        m("capacitystatus", "Used"),
        m("licenseModel", "No License required"),
    ]
    assert ec2_filters(PriceQuery("ec2", "us-east-1", "m5.large", platform="Plan 9")) is None


def test_pricing_api_rds_multi_az_and_location_fallback():
    client, stub = stubbed_pricing()
    query = PriceQuery("rds", "eu-west-1", "db.m5.large", engine="postgres", deployment="multi-az")
    filters = rds_filters(query)
    assert filters == [
        m("instanceType", "db.m5.large"),
        m("regionCode", "eu-west-1"),
        m("databaseEngine", "PostgreSQL"),
        m("productFamily", "Database Instance"),
        m("deploymentOption", "Multi-AZ"),
    ]
    located = rds_filters(query, by_location=True)
    assert located is not None and located[1] == m("location", "EU (Ireland)")
    doc = price_doc(
        "RDS1",
        "0.3560000000",
        family="Database Instance",
        servicecode="AmazonRDS",
        instanceType="db.m5.large",
        databaseEngine="PostgreSQL",
        deploymentOption="Multi-AZ",
        location="EU (Ireland)",
        usagetype="EU-Multi-AZUsage:db.m5.large",
    )
    stub.add_response("get_products", {"PriceList": [], "FormatVersion": "aws_v1"}, params("AmazonRDS", filters))
    stub.add_response("get_products", {"PriceList": [doc], "FormatVersion": "aws_v1"}, params("AmazonRDS", located))
    with stub:
        price, _ = PricingApi(client).hourly(query)
    assert price == Decimal("0.356")


def test_pricing_api_oracle_license_and_aurora_storage_mode():
    oracle = rds_filters(
        PriceQuery("rds", "us-east-1", "db.m5.large", engine="oracle-se2", license_model="license-included")
    )
    assert oracle is not None
    assert m("databaseEdition", "Standard Two") in oracle and m("licenseModel", "License included") in oracle
    aurora_attrs = {
        "servicecode": "AmazonRDS",
        "instanceType": "db.r6g.large",
        "databaseEngine": "Aurora PostgreSQL",
        "deploymentOption": "Single-AZ",
    }
    docs = [
        json.loads(
            price_doc("STD", "0.2600000000", storage="EBS Only", usagetype="InstanceUsage:db.r6g.large", **aurora_attrs)
        ),
        json.loads(
            price_doc(
                "IOO",
                "0.3380000000",
                storage="Aurora IO Optimization Mode",
                usagetype="InstanceUsageIOOptimized:db.r6g.large",
                **aurora_attrs,
            )
        ),
    ]
    standard = PriceQuery("rds", "us-east-1", "db.r6g.large", engine="aurora-postgresql")
    io_opt = PriceQuery("rds", "us-east-1", "db.r6g.large", engine="aurora-postgresql", storage="aurora-iopt1")
    assert choose_price(docs, standard) == (Decimal("0.26"), None)
    assert choose_price(docs, io_opt) == (Decimal("0.338"), None)
    aurora_filters = rds_filters(standard)
    assert aurora_filters is not None and not any(f["Field"] == "deploymentOption" for f in aurora_filters)


def test_price_book_file_first_then_cache_then_api(tmp_path: Path):
    cache_path = tmp_path / "prices.json"
    client, stub = stubbed_pricing()
    query = PriceQuery("ec2", "eu-west-1", "t3.large")
    miss = PriceQuery("ec2", "eu-west-1", "z9.huge")
    stub.add_response(
        "get_products",
        {"PriceList": [price_doc("SKU1", "0.0912000000", **ec2_attrs())], "FormatVersion": "aws_v1"},
        params("AmazonEC2", ec2_filters(query) or []),
    )
    stub.add_response("get_products", {"PriceList": []}, params("AmazonEC2", ec2_filters(miss) or []))
    stub.add_response("get_products", {"PriceList": []}, params("AmazonEC2", ec2_filters(miss, by_location=True) or []))
    book = PriceBook(
        parse_prices("service,region,type,hourly_usd\nec2,eu-west-1,m5.large,0.107\n"),
        api=PricingApi(client),
        cache=JsonCache(cache_path, timedelta(days=7)),
    )
    with stub:
        assert book.price(PriceQuery("ec2", "eu-west-1", "m5.large")) == PriceAnswer(Decimal("0.107"), "file")
        assert book.price(query) == PriceAnswer(Decimal("0.0912"), "pricing-api")
        unknown = book.price(miss)
    assert unknown.hourly is None and "no on-demand rate for z9.huge" in (unknown.note or "")
    book.save()
    assert book.api_requests == 3
    # A new run answers from the cache: no request at all (the stubbed client would fail on one).
    client2, stub2 = stubbed_pricing()
    later = PriceBook(api=PricingApi(client2), cache=JsonCache(cache_path, timedelta(days=7)))
    with stub2:
        assert later.price(query) == PriceAnswer(Decimal("0.0912"), "cache", None)
        assert later.price(miss).hourly is None
    assert later.api_requests == 0
    # Past the expiry the cache is ignored.
    stale = JsonCache(cache_path, timedelta(days=7), clock=lambda: datetime.now(UTC) + timedelta(days=8))
    assert stale.get(query.cache_key()) is None


def test_price_book_turns_the_api_off_after_one_failure(tmp_path: Path):
    client, stub = stubbed_pricing()
    stub.add_client_error(
        "get_products", "AccessDeniedException", "User is not authorized to perform pricing:GetProducts"
    )
    book = PriceBook(api=PricingApi(client), cache=JsonCache(tmp_path / "p.json", timedelta(days=7)))
    with stub:
        first = book.price(PriceQuery("ec2", "eu-west-1", "t3.large"))
        second = book.price(PriceQuery("ec2", "eu-west-1", "m5.large"))  # no second request
    assert first.hourly is None and second.hourly is None
    assert "AccessDeniedException" in (first.note or "") and "AccessDeniedException" in (second.note or "")
    assert book.api_requests == 1


# --- Cost Explorer ------------------------------------------------------------------------------------------------


def ce_group(tag: str, service: str, amount: str, metric: str = "UnblendedCost") -> dict[str, Any]:
    return {"Keys": [tag, service], "Metrics": {metric: {"Amount": amount, "Unit": "USD"}}}


def test_cost_explorer_summary_per_schedule_and_not_activated():
    results = [
        {
            "TimePeriod": {"Start": "2026-03-01", "End": "2026-04-01"},
            "Total": {},
            "Groups": [
                ce_group("Schedule$office", "Amazon Elastic Compute Cloud - Compute", "10.5"),
                ce_group("Schedule$office", "EC2 - Other", "2"),
                ce_group("Schedule$db", "Amazon Relational Database Service", "7.25"),
                ce_group("Schedule$", "Amazon Elastic Compute Cloud - Compute", "100"),
            ],
            "Estimated": False,
        }
    ]
    spend = summarize(results, "2026-03", "UnblendedCost", "Schedule")
    assert spend.available and spend.total == Decimal("17.75") and spend.all_services == Decimal("19.75")
    assert spend.by_schedule == {"office": Decimal("10.5"), "db": Decimal("7.25")}
    assert spend.untagged == Decimal("100")
    dark = summarize(
        [{"Groups": [ce_group("Schedule$", "Amazon Elastic Compute Cloud - Compute", "100")]}],
        "2026-03",
        "UnblendedCost",
        "Schedule",
    )
    assert not dark.available and dark.total is None
    assert "Cost allocation tags" in (dark.note or "") and "TagKey=Schedule,Status=Active" in (dark.note or "")


def test_cost_explorer_paginates_counts_requests_and_caches(tmp_path: Path):
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stub = Stubber(client)
    base = {
        "TimePeriod": {"Start": "2026-03-01", "End": "2026-04-01"},
        "Granularity": "MONTHLY",
        "Metrics": ["AmortizedCost"],
        "GroupBy": [{"Type": "TAG", "Key": "Schedule"}, {"Type": "DIMENSION", "Key": "SERVICE"}],
    }
    period = {"TimePeriod": {"Start": "2026-03-01", "End": "2026-04-01"}, "Estimated": False}
    stub.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                {
                    **period,
                    "Groups": [
                        ce_group("Schedule$office", "Amazon Elastic Compute Cloud - Compute", "3", "AmortizedCost")
                    ],
                }
            ],
            "NextPageToken": "n2",
        },
        base,
    )
    stub.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                {
                    **period,
                    "Groups": [ce_group("Schedule$office", "Amazon Relational Database Service", "4", "AmortizedCost")],
                }
            ]
        },
        {**base, "NextPageToken": "n2"},
    )
    cache = JsonCache(tmp_path / "ce.json", timedelta(days=7))
    ce = CostExplorer(client, cache=cache, identity="me")
    with stub:
        spend = ce.month_spend("2026-03", date(2026, 3, 1), date(2026, 4, 1), "AmortizedCost", "Schedule")
        again = ce.month_spend("2026-03", date(2026, 3, 1), date(2026, 4, 1), "AmortizedCost", "Schedule")
    assert spend.total == Decimal("7") and spend.requests == 2 and not spend.cached
    assert again.total == Decimal("7") and again.requests == 0 and again.cached
    assert spend.to_json()["request_cost"] == 0.02


def test_cost_explorer_refusal_is_a_note_not_a_failure(tmp_path: Path):
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stub = Stubber(client)
    stub.add_client_error("get_cost_and_usage", "AccessDeniedException", "not allowed")
    ce = CostExplorer(client, cache=JsonCache(tmp_path / "ce.json", timedelta(days=7)), identity="me")
    with stub:
        spend = ce.month_spend("2026-03", date(2026, 3, 1), date(2026, 4, 1), "UnblendedCost", "Schedule")
    assert not spend.available and "ce:GetCostAndUsage" in (spend.note or "") and spend.requests == 1


# --- rendering and preview ---------------------------------------------------------------------------------------


def small_report() -> dict[str, Any]:
    entries = [entry("2026-03-02T17:00Z", "stop"), entry("2026-03-03T09:00Z", "start")]
    until = t("2026-03-03T10:00Z")
    rows = value_usages(month_usages("2026-03", until, entries, {}), lambda q: FILE.lookup(q) or PriceAnswer(None))
    return build_report("2026-03", until, rows)


def test_csv_and_html_render_the_same_numbers():
    report = small_report()
    text = render_csv(report)
    header, line = text.splitlines()
    assert header.startswith("month,account,region,service,resource,schedule,type")
    assert ",i-1,office,t3.large,1,16.0,42.0,0.0912,1.46,file," in line
    html = render_html(report)
    assert "$1.46" in html and html.count("<svg") == 2 and "<script" not in html and "<link" not in html
    assert "&lt;" not in html.split("<body>")[0]


def test_html_escapes_names():
    report = small_report()
    report["resources"][0]["resource"] = "<img src=x>"
    assert "<img src=x>" not in render_html(report) and "&lt;img src=x&gt;" in render_html(report)


def test_nice_ticks():
    assert nice_ticks(0) == [0.0, 1.0]
    assert nice_ticks(4.2) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert nice_ticks(0.37)[-1] >= 0.37 and len(nice_ticks(0.37)) <= 7


PREVIEW = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  start: {begintime: "08:00"}
schedules:
  office: {periods: [office]}
  events: {periods: [start]}
"""


def test_preview_savings_json_keeps_the_preview_keys(run, write):
    schedules = write(PREVIEW)
    prices = write("service,region,type,hourly_usd\nec2,eu-west-1,t3.large,0.0912\n", "prices.csv")
    args = ("schedule", "preview", "office", "--from", "2026-03-02", "--to", "2026-03-08", "--file", schedules)
    plain = run(*args, "--json").json()
    r = run(*args, "--savings", "--type", "t3.large", "--region", "eu-west-1", "--prices", prices, "--json")
    assert r.code == 0, r.err
    body = r.json()
    savings = body.pop("savings")
    assert body == plain
    assert savings["range_hours"] == 168 and savings["running_hours"] == 40 and savings["stopped_hours"] == 128
    assert savings["hourly_price"] == 0.0912 and savings["estimated_savings"] == 11.67  # 128 × 0.0912 = 11.6736
    assert savings["price_source"] == "file"
    human = run(*args, "--savings", "--type", "t3.large", "--region", "eu-west-1", "--prices", prices)
    assert human.code == 0 and "128 stopped of 168 hours" in human.out and "$11.67" in human.out


def test_preview_savings_rds_multi_az_and_events_only(run, write):
    schedules = write(PREVIEW)
    prices = write(
        "service,region,type,hourly_usd\nrds,eu-west-1,db.m5.large,0.19\nec2,*,t3.large,0.09\n", "prices.csv"
    )
    base = ("schedule", "preview", "office", "--from", "2026-03-02", "--to", "2026-03-08", "--file", schedules)
    r = run(
        *base,
        "--savings",
        "--service",
        "rds",
        "--type",
        "db.m5.large",
        "--multi-az",
        "--region",
        "eu-west-1",
        "--prices",
        prices,
        "--json",
    )
    assert r.code == 0, r.err
    assert r.json()["savings"]["hourly_price"] == 0.38 and r.json()["savings"]["estimated_savings"] == 48.64
    events = ("schedule", "preview", "events", "--from", "2026-03-02", "--to", "2026-03-08", "--file", schedules)
    r = run(*events, "--type", "t3.large", "--region", "eu-west-1", "--prices", prices, "--json")  # --type: --savings
    assert r.code == 0 and r.json()["savings"]["stopped_hours"] is None
    assert r.json()["savings"]["estimated_savings"] is None and r.json()["savings"]["hourly_price"] == 0.09
    assert "only start/stop events" in r.json()["savings"]["note"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--savings", "--region", "eu-west-1"), "--type: --savings needs the instance type"),
        (("--savings", "--type", "t3.large"), "--region: --savings needs the region"),
        (("--savings", "--type", "t3.large", "--region", "moon"), "--region: 'moon' is not a region"),
        (("--savings", "--type", "large", "--region", "eu-west-1"), "--type: 'large' is not an EC2 instance type"),
    ],
)
def test_preview_savings_bad_input(run, write, extra, needle):
    schedules = write(PREVIEW)
    r = run("schedule", "preview", "office", "--from", "2026-03-02", "--to", "2026-03-08", "--file", schedules, *extra)
    assert r.code == 2 and needle in r.err
