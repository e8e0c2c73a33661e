"""`isched report` end to end: scheduling passes on a moto server over several days, then the month's savings.

Passes run late on purpose (17:03, 09:01, 17:10) so that stopped hours are checked to the minute, and prices come
from a prices file so that savings are checked to the cent. Cost Explorer answers are injected into moto (its
``/moto-api/static/ce/cost-and-usage-results`` queue); moto has no Price List API, so these tests run with
``--no-pricing-api`` (the API itself is tested with a stubbed client in tests/unit/test_savings.py).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import urllib.request
from collections.abc import Callable, Iterator

import boto3
import pytest

from tests.integration import ce_stub

from .report_helpers import by_resource, passes, report

SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  weekend: {begintime: "10:00", endtime: "12:00", weekdays: sat-sun}
schedules:
  office: {periods: [office]}
  office-db: {periods: [office]}
  weekend: {periods: [weekend]}
"""

_REGIONS = itertools.cycle(["eu-south-1", "ap-northeast-2", "ca-west-1", "eu-central-2", "ap-southeast-3"])
MINUTE = 1 / 60


@pytest.fixture
def region(point_at: Callable[[str], str]) -> str:
    return point_at(next(_REGIONS))


@pytest.fixture
def setup(deploy: Callable[[str, str], str], region: str) -> Iterator[str]:
    yield deploy(region, SCHEDULES)


def prices_file(write: Callable[..., str], region: str) -> str:
    return write(
        "service,region,type,hourly_usd\n"
        f"ec2,{region},t3.large,0.0832\n"
        f"ec2,{region},m5.xlarge,0.192\n"
        f"ec2,{region},t3.micro,0.0104\n"
        f"rds,{region},db.t3.micro:multi-az,0.034\n"
        "rds,*,db.r6g.large,0.26\n",
        "prices.csv",
    )


def inject_cost_explorer(endpoint: str, groups: list[tuple[str, str, str]], start: str, end: str) -> None:
    """Queues one GetCostAndUsage answer in moto: groups of (tag key$value, service, amount)."""
    result = {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": start, "End": end},
                "Total": {},
                "Groups": [
                    {"Keys": [tag, service], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
                    for tag, service, amount in groups
                ],
                "Estimated": True,
            }
        ],
        "DimensionValueAttributes": [],
    }
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps({"results": [result]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201


def make_fleet(region: str) -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=region)
    asg = boto3.client("autoscaling", region_name=region)
    rds = boto3.client("rds", region_name=region)
    image = ec2.describe_images()["Images"][0]["ImageId"]

    def instance(itype: str, schedule: str) -> str:
        spec = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": schedule}]}]
        return str(
            ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=itype, TagSpecifications=spec)[
                "Instances"
            ][0]["InstanceId"]
        )

    ids = {"large": instance("t3.large", "office"), "xlarge": instance("m5.xlarge", "office")}
    lt = ec2.create_launch_template(
        LaunchTemplateName=f"web-{region}", LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": lt},
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        AvailabilityZones=[zone],
        Tags=[{"Key": "Schedule", "Value": "office", "PropagateAtLaunch": False}],
    )
    tags = [{"Key": "Schedule", "Value": "office-db"}]
    rds.create_db_instance(
        DBInstanceIdentifier="pg1",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="password123",
        MultiAZ=True,
        Tags=tags,
    )
    rds.create_db_cluster(
        DBClusterIdentifier="aurora1",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="password123",
        Tags=tags,
    )
    for member in ("aurora1-a", "aurora1-b"):
        rds.create_db_instance(
            DBInstanceIdentifier=member,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
            DBClusterIdentifier="aurora1",
        )
    return ids


# Mon 2026-03-02 09:00 first seen (running). Stopped 17:03 -> Tue 09:01 (15:58), Tue 17:00 -> Wed 09:00 (16:00),
# Wed 17:10 -> still stopped at the report time Wed 20:40 (3:30): 35:28 stopped. Seen from Mon 09:00 to Wed 20:40
# (59:40), so 24:12 running.
WEEK = (
    "2026-03-02T09:00:00Z",
    "2026-03-02T17:03:00Z",
    "2026-03-03T09:01:00Z",
    "2026-03-03T17:00:00Z",
    "2026-03-04T09:00:00Z",
    "2026-03-04T17:10:00Z",
)
AT = "2026-03-04T20:40:00Z"
STOPPED = 35 + 28 * MINUTE
RUNNING = 24 + 12 * MINUTE


def test_ec2_asg_rds_aurora_savings_to_the_minute_and_cent(run, setup, write, aws, monkeypatch):
    region = setup
    ce = ce_stub.install(monkeypatch)  # forecast and coverage: refused (moto has neither)
    ids = make_fleet(region)
    passes(run, *WEEK)
    rds = boto3.client("rds", region_name=region)
    assert rds.describe_db_instances(DBInstanceIdentifier="pg1")["DBInstances"][0]["DBInstanceStatus"] == "stopped"

    inject_cost_explorer(
        aws,
        [
            ("Schedule$office", "Amazon Elastic Compute Cloud - Compute", "4.25"),
            ("Schedule$office", "EC2 - Other", "0.80"),
            ("Schedule$office-db", "Amazon Relational Database Service", "12.5"),
            ("Schedule$", "Amazon Elastic Compute Cloud - Compute", "99"),
        ],
        "2026-03-01",
        "2026-03-05",
    )
    body = report(run, "--month", "2026-03", "--at", AT, "--prices", prices_file(write, region))
    rows = by_resource(body)
    assert set(rows) == {ids["large"], ids["xlarge"], "web", "pg1", "aurora1"}
    for row in rows.values():
        assert row["stopped_hours"] == pytest.approx(STOPPED, abs=1e-4), row
        assert row["running_hours"] == pytest.approx(RUNNING, abs=1e-4), row
        assert [s["ended_by"] for s in row["stops"]] == ["start", "start", None]
    expected = {
        ids["large"]: (0.0832, 2.95),  # 35.4667 h × 0.0832 = 2.9508
        ids["xlarge"]: (0.192, 6.81),  # 6.8096
        "web": (0.0208, 0.74),  # saved desired capacity 2 × t3.micro: 0.7377
        "pg1": (0.034, 1.21),  # the Multi-AZ rate: 1.2059
        "aurora1": (0.52, 18.44),  # two db.r6g.large members: 18.4427
    }
    for rid, (hourly, saved) in expected.items():
        assert rows[rid]["hourly_price"] == pytest.approx(hourly), rid
        assert rows[rid]["estimated_savings"] == saved, rid
    assert rows["web"]["type"] == "t3.micro" and rows["web"]["units"] == 2
    assert rows["aurora1"]["type"] == "db.r6g.large" and rows["aurora1"]["units"] == 2
    assert rows["pg1"]["schedule"] == "office-db" and rows["pg1"]["type"] == "db.t3.micro"

    totals = body["totals"]
    assert body["month"] == "2026-03" and body["currency"] == "USD"
    assert totals["estimated_savings"] == pytest.approx(2.95 + 6.81 + 0.74 + 1.21 + 18.44)
    assert totals["stopped_hours"] == pytest.approx(5 * STOPPED, abs=1e-3)
    assert totals["savings_percent"] == pytest.approx(100 * STOPPED / (STOPPED + RUNNING), abs=0.05)
    assert totals["unpriced_resources"] == 0
    # Cost Explorer: tagged compute spend only; EC2 - Other and untagged cost are reported apart.
    assert totals["actual_cost"] == pytest.approx(16.75)
    assert body["actual"]["all_services"] == pytest.approx(17.55)
    assert ce.count("GetCostAndUsage") == 2  # the month's spend, and the baseline before scheduling began
    assert body["ce_requests"] == len(ce.calls)
    sched = {g["schedule"]: g for g in body["by_schedule"]}
    assert sched["office"]["actual_cost"] == pytest.approx(4.25) and sched["office"]["resources"] == 3
    assert sched["office-db"]["estimated_savings"] == pytest.approx(1.21 + 18.44)
    assert {g["service"]: g["resources"] for g in body["by_service"]} == {"asg": 1, "ec2": 2, "rds": 2}
    assert [g["account"] for g in body["by_account"]] == [rows["pg1"]["account"]]
    days = {d["date"]: d["estimated_savings"] for d in body["daily"]}
    assert len(days) == 31 and days["2026-03-01"] == 0 and days["2026-03-03"] > 0
    projection = body["projection"]
    assert projection["resources"] == 5 and projection["estimated_savings"] > 0
    # 40 running hours a week: a year of it leaves 8760 - 2088 (52 weeks + 1 weekday) hours or so stopped.
    assert 6500 < projection["by_schedule"][0]["stopped_hours"] < 6800

    # The same report again: the month's spend comes from the cache, no new request (US$0.01 each); the empty
    # baseline answer was not cached, so it is asked again.
    again = report(run, "--month", "2026-03", "--at", AT, "--prices", prices_file(write, region))
    assert again["totals"]["actual_cost"] == pytest.approx(16.75) and again["actual"]["cached"]
    assert ce.count("GetCostAndUsage") == 3


def test_month_boundary_manual_start_unknown_price_and_untagged_cost(run, setup, write, aws, monkeypatch):
    region = setup
    ce = ce_stub.install(monkeypatch)
    ec2 = boto3.client("ec2", region_name=region)
    image = ec2.describe_images()["Images"][0]["ImageId"]

    def instance(itype: str) -> str:
        spec = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "office"}]}]
        got = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=itype, TagSpecifications=spec)
        return str(got["Instances"][0]["InstanceId"])

    a, unknown = instance("t3.large"), instance("c7i.large")
    # Tue 2026-03-31 17:00 stop -> Wed 04-01 09:00 start: 7 h in March, 9 h in April.
    passes(run, "2026-03-31T16:55:00Z", "2026-03-31T17:00:00Z", "2026-04-01T09:00:00Z", services="ec2")
    passes(run, "2026-04-01T17:00:00Z", services="ec2")
    ec2.start_instances(InstanceIds=[a])  # someone starts it after the stop: the stop ends when the pass sees it
    passes(run, "2026-04-01T19:30:00Z", services="ec2")
    prices = prices_file(write, region)

    march = report(run, "--month", "2026-03", "--at", "2026-04-02T00:00:00Z", "--prices", prices, "--no-cost-explorer")
    rows = by_resource(march)
    assert rows[a]["stopped_hours"] == 7.0 and rows[a]["estimated_savings"] == 0.58  # 7 × 0.0832 = 0.5824
    assert rows[a]["stops"][0]["end"] == "2026-04-01T00:00:00Z" and rows[a]["stops"][0]["ended_by"] is None
    assert rows[a]["running_hours"] == pytest.approx(5 * MINUTE, abs=1e-4)  # first seen at 16:55
    assert rows[unknown]["hourly_price"] is None and rows[unknown]["estimated_savings"] is None
    assert "c7i.large" in rows[unknown]["note"]
    t = march["totals"]
    assert t["estimated_savings"] == 0.58 and t["unpriced_resources"] == 1 and t["unpriced_hours"] == 7.0
    assert march["unpriced"][0]["resource"] == unknown
    assert t["actual_cost"] is None and "not asked" in march["actual"]["note"] and march["ce_requests"] == 0

    inject_cost_explorer(
        aws,
        [("Schedule$", "Amazon Elastic Compute Cloud - Compute", "3.10")],
        "2026-04-01",
        "2026-04-02",
    )
    april = report(run, "--month", "2026-04", "--at", "2026-04-01T21:00:00Z", "--prices", prices)
    rows = by_resource(april)
    # 00:00 -> 09:00 (the March stop, found in March's ledger) + 17:00 -> 19:30 (ended by the manual start).
    assert [(s["start"], s["end"], s["ended_by"]) for s in rows[a]["stops"]] == [
        ("2026-04-01T00:00:00Z", "2026-04-01T09:00:00Z", "start"),
        ("2026-04-01T17:00:00Z", "2026-04-01T19:30:00Z", "manual-start"),
    ]
    assert rows[a]["stopped_hours"] == 11.5 and rows[a]["estimated_savings"] == 0.96  # 11.5 × 0.0832 = 0.9568
    assert rows[a]["running_hours"] == 9.5
    assert april["ledger_months_read"] >= 2
    # Costs came back, but none under a tag value: the tag is not activated for cost allocation.
    assert april["totals"]["actual_cost"] is None
    assert (
        "Cost allocation tags" in april["actual"]["note"]
        and "update-cost-allocation-tags-status" in (april["actual"]["note"])
    )
    spend = ce.params("GetCostAndUsage")[0]
    assert spend["TimePeriod"] == {"Start": "2026-04-01", "End": "2026-04-02"}
    assert april["ce_requests"] == len(ce.calls)


def test_every_format_and_the_chart(run, setup, write, tmp_path):
    region = setup
    ec2 = boto3.client("ec2", region_name=region)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    spec = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "office"}]}]
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.large", TagSpecifications=spec)[
        "Instances"
    ][0]["InstanceId"]
    passes(run, "2026-03-02T09:00:00Z", "2026-03-02T17:00:00Z", "2026-03-03T09:00:00Z", services="ec2")
    common = ("--month", "2026-03", "--at", "2026-03-03T12:00:00Z", "--prices", prices_file(write, region))
    common += ("--no-cost-explorer", "--no-pricing-api")

    body = report(run, *common)
    assert by_resource(body)[iid]["estimated_savings"] == 1.33  # 16 h × 0.0832 = 1.3312

    table = run("report", *common)
    assert table.code == 0, table.err
    for needle in ("estimated savings", "$1.33", "By schedule", "By account", "By service", iid):
        assert needle in table.out

    got = run("report", *common, "--format", "csv")
    assert got.code == 0, got.err
    rows = list(csv.DictReader(io.StringIO(got.out)))
    assert [(r["resource"], r["stopped_hours"], r["estimated_savings"]) for r in rows] == [(iid, "16.0", "1.33")]
    assert rows[0]["month"] == "2026-03" and rows[0]["hourly_price"] == "0.0832"

    page = tmp_path / "report.html"
    chart = tmp_path / "report.png"
    got = run("report", *common, "--format", "html", "--out", str(page), "--chart", str(chart))
    assert got.code == 0, got.err
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "<svg" in html and iid in html and "$1.33" in html
    for external in ("<script", "<link", "src=", "@import", "url("):
        assert external not in html
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_stop_from_an_earlier_month_covers_a_whole_month(run, setup, write):
    """Stopped on Sat 01-31 12:00 and no pass until March: February has no ledger entry for it at all."""
    region = setup
    ec2 = boto3.client("ec2", region_name=region)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    spec = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "weekend"}]}]
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m5.xlarge", TagSpecifications=spec)[
        "Instances"
    ][0]["InstanceId"]
    passes(run, "2026-01-31T11:00:00Z", "2026-01-31T12:00:00Z", "2026-03-06T12:00:00Z", services="ec2")
    prices = prices_file(write, region)
    feb = report(run, "--month", "2026-02", "--at", "2026-03-06T12:00:00Z", "--prices", prices, "--no-cost-explorer")
    row = by_resource(feb)[iid]
    assert row["stopped_hours"] == 672.0 and row["running_hours"] == 0.0
    assert row["estimated_savings"] == 129.02  # 672 × 0.192 = 129.024
    assert row["stops"][0]["stopped_at"] == "2026-01-31T12:00:00Z" and row["stops"][0]["ended_at"] is None
    march = report(run, "--month", "2026-03", "--at", "2026-03-06T12:00:00Z", "--prices", prices, "--no-cost-explorer")
    assert by_resource(march)[iid]["stopped_hours"] == 132.0  # up to the report time, not the month's end
