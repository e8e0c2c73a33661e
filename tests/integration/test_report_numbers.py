"""`isched report --json` numbers rebuilt from first principles, end to end: a fleet on a moto server, scheduling
passes with `isched run --at`, changes made by hand between passes, then reports with a prices file and Cost
Explorer answered through ``ce_stub`` (moto has no forecast or coverage). Every expected figure is computed here
from the passes' clock times and the prices file: hours from datetime arithmetic, dollars from price × hours
rounded half-up per resource.

The fleet: an instance deleted while running, one stopped by hand, one resized while stopped (``office@t3.micro``),
one of an unpriced type, an Auto Scaling group, an Aurora cluster and a Multi-AZ DB instance, over a month boundary;
and an instance on a Europe/Berlin schedule over both DST changes, reported over eight months.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from tests.integration import ce_stub

from .report_helpers import by_resource as rows
from .report_helpers import passes, report

pytestmark = pytest.mark.integration

SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
  office-micro: {periods: ["office@t3.micro"]}
  berlin: {periods: [office], timezone: Europe/Berlin}
"""
P = {
    "t3.large": Decimal("0.0832"),
    "t3.micro": Decimal("0.0104"),
    "db.t3.micro:multi-az": Decimal("0.034"),
    "db.r6g.large": Decimal("0.26"),
}


def prices(write: Callable[..., str], region: str) -> str:
    return write(
        "service,region,type,hourly_usd\n"
        f"ec2,{region},t3.large,{P['t3.large']}\n"
        f"ec2,{region},t3.micro,{P['t3.micro']}\n"
        f"rds,{region},db.t3.micro:multi-az,{P['db.t3.micro:multi-az']}\n"
        f"rds,{region},db.r6g.large,{P['db.r6g.large']}\n",
        "prices.csv",
    )


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def h(a: str | datetime, b: str | datetime) -> Decimal:
    a = t(a) if isinstance(a, str) else a
    b = t(b) if isinstance(b, str) else b
    return Decimal(int((b - a).total_seconds())) / Decimal(3600)


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def d(value: float | None) -> Decimal:
    assert value is not None
    return Decimal(str(value))


def z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def setup(deploy: Callable[[str, str], str]) -> Callable[[str], str]:
    """Points the test at ``region`` (its own: moto is shared by the tests of a process) and makes the tables there."""
    return lambda region: deploy(region, SCHEDULES)


def ties(body: dict[str, Any]) -> None:
    priced = [r for r in body["resources"] if r["estimated_savings"] is not None]
    total = d(body["totals"]["estimated_savings"])
    assert sum(d(r["estimated_savings"]) for r in priced) == total
    counted = [x for x in body["daily"] if x["date"] < body["at"][:10] or x["estimated_savings"] is not None]
    assert sum(d(x["estimated_savings"]) for x in counted) == total
    # Days that had not begun when the report was made are unknown (null), not "nothing saved".
    assert all(x["estimated_savings"] is None and x["stopped_hours"] is None for x in body["daily"][len(counted) :])
    for r in priced:
        if r["stops"]:
            assert sum(d(s["estimated_savings"]) for s in r["stops"]) == d(r["estimated_savings"])
            assert abs(d(r["hourly_price"]) * d(r["stopped_hours"]) - d(r["estimated_savings"])) <= Decimal("0.005")
    for key in ("by_schedule", "by_account", "by_service"):
        assert sum(d(g["estimated_savings"]) for g in body[key] if g["estimated_savings"] is not None) == total
    if "months" in body:
        assert sum(d(m["estimated_savings"]) for m in body["months"]) == total


# --- the fleet ---------------------------------------------------------------------------------------------------

SUN, MON9, MON_NOON, MON17 = (
    "2026-03-29T12:00:00Z",
    "2026-03-30T09:00:00Z",
    "2026-03-30T12:05:00Z",
    "2026-03-30T17:00:00Z",
)
TUE9, TUE17, WED9, WED17 = (
    "2026-03-31T09:00:00Z",
    "2026-03-31T17:00:00Z",
    "2026-04-01T09:00:00Z",
    "2026-04-01T17:00:00Z",
)
AT = "2026-04-01T18:00:00Z"
APRIL = "2026-04-01T00:00:00Z"


def make_fleet(region: str) -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=region)
    asg = boto3.client("autoscaling", region_name=region)
    rds = boto3.client("rds", region_name=region)
    image = ec2.describe_images()["Images"][0]["ImageId"]

    def instance(itype: str, schedule: str, **tags: str) -> str:
        all_tags = [{"Key": "Schedule", "Value": schedule}, *({"Key": k, "Value": v} for k, v in tags.items())]
        spec = [{"ResourceType": "instance", "Tags": all_tags}]
        got = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=itype, TagSpecifications=spec)
        return str(got["Instances"][0]["InstanceId"])

    ids = {
        "gone": instance("t3.large", "office", Name="api-1", Team="payments"),
        "hand": instance("t3.large", "office", Name="batch", Team="data"),
        "resized": instance("t3.large", "office-micro", Name="shrinks"),
        "unpriced": instance("c7i.large", "office"),
    }
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
        Tags=[
            {"Key": "Schedule", "Value": "office", "PropagateAtLaunch": False},
            {"Key": "Team", "Value": "payments", "PropagateAtLaunch": False},
        ],
    )
    rds.create_db_instance(
        DBInstanceIdentifier="pg1",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        StorageType="gp2",
        MasterUsername="admin",
        MasterUserPassword="password123",
        MultiAZ=True,
        Tags=[{"Key": "Schedule", "Value": "office"}],
    )
    rds.create_db_cluster(
        DBClusterIdentifier="aurora1",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="password123",
        Tags=[{"Key": "Schedule", "Value": "office"}],
    )
    for member in ("aurora1-a", "aurora1-b"):
        rds.create_db_instance(
            DBInstanceIdentifier=member,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
            DBClusterIdentifier="aurora1",
        )
    return ids


def run_the_week(run: Callable[..., Any], region: str, ids: dict[str, str]) -> None:
    ec2 = boto3.client("ec2", region_name=region)
    # Sunday: first seen in the schedule's stopped time, so stopped (stop_new_instances). Monday: started.
    passes(run, SUN, MON9)
    ec2.stop_instances(InstanceIds=[ids["hand"]])  # someone stops it by hand at noon
    passes(run, MON_NOON, MON17, TUE9)
    ec2.terminate_instances(InstanceIds=[ids["gone"]])  # deleted while running
    passes(run, TUE17, WED9, WED17)
    assert (
        ec2.describe_instances(InstanceIds=[ids["resized"]])["Reservations"][0]["Instances"][0]["InstanceType"]
        == "t3.micro"
    )


def test_a_fleet_month_from_first_principles(run, setup, write, monkeypatch):
    region = setup("ap-northeast-3")
    ids = make_fleet(region)
    run_the_week(run, region, ids)
    ce = ce_stub.install(monkeypatch)
    tagged = "Amazon Elastic Compute Cloud - Compute"
    ce.add(
        "GetCostAndUsage",
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-03-01", "End": "2026-04-01"},
                    "Total": {},
                    "Groups": [
                        {"Keys": ["Schedule$office", tagged], "Metrics": {"UnblendedCost": {"Amount": "7.5"}}},
                        {
                            "Keys": ["Schedule$office", "Amazon Relational Database Service"],
                            "Metrics": {"UnblendedCost": {"Amount": "4.25"}},
                        },
                        {"Keys": ["Schedule$office", "EC2 - Other"], "Metrics": {"UnblendedCost": {"Amount": "1"}}},
                    ],
                    "Estimated": False,
                }
            ]
        },
    )
    # --linked-accounts: the tagged compute spend per linked account (asked from the management account).
    ce.add(
        "GetCostAndUsage",
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-03-01", "End": "2026-04-01"},
                    "Groups": [
                        {
                            "Keys": ["Schedule$office", "123456789012"],
                            "Metrics": {"UnblendedCost": {"Amount": "11.75"}},
                        },
                        {"Keys": ["Schedule$office", "999999999999"], "Metrics": {"UnblendedCost": {"Amount": "3"}}},
                    ],
                }
            ]
        },
    )
    ce.add(
        "GetReservationCoverage",
        {
            "CoveragesByTime": [
                {
                    "TimePeriod": {"Start": "2026-03-01", "End": "2026-04-01"},
                    "Groups": [
                        {
                            "Attributes": {"instanceType": "t3.large", "region": region},
                            "Coverage": {"CoverageHours": {"CoverageHoursPercentage": "50"}},
                        }
                    ],
                }
            ]
        },
    )
    ce.add("GetReservationCoverage", {"CoveragesByTime": []})
    ce.add("GetSavingsPlansCoverage", "AccessDeniedException")
    ce.add(
        "GetCostForecast",
        {
            "Total": {"Amount": "140.40", "Unit": "USD"},
            "ForecastResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-12-01", "End": "2027-01-01"},
                    "MeanValue": "140.40",
                    "PredictionIntervalLowerBound": "100",
                    "PredictionIntervalUpperBound": "180",
                }
            ],
        },
    )
    # The baseline: the 30 days before scheduling began (2026-02-27 to 2026-03-29), $45 under the tag.
    ce.add(
        "GetCostAndUsage",
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-02-27", "End": "2026-03-29"},
                    "Groups": [{"Keys": ["Schedule$office", tagged], "Metrics": {"UnblendedCost": {"Amount": "45"}}}],
                }
            ]
        },
    )
    body = report(run, "--month", "2026-03", "--at", AT, "--prices", prices(write, region), "--linked-accounts")
    got = rows(body)
    assert set(got) == {*ids.values(), "web", "pg1", "aurora1"}

    # The office nights in March: Sun 12:00 (first seen, stopped) to Mon 09:00, Mon 17:00 to Tue 09:00, Tue 17:00
    # to the month's end.
    nights = h(SUN, MON9) + h(MON17, TUE9) + h(TUE17, APRIL)
    days = h(MON9, MON17) + h(TUE9, TUE17)
    assert (nights, days) == (44, 16)

    # Deleted while running (Tue ~12:00): counted up to the 17:00 pass that no longer found it, not to April.
    gone = got[ids["gone"]]
    assert d(gone["running_hours"]) == h(MON9, MON17) + h(TUE9, TUE17) == 16
    assert d(gone["stopped_hours"]) == h(SUN, MON9) + h(MON17, TUE9) == 37
    assert gone["gone_at"] == TUE17
    assert d(gone["estimated_savings"]) == money(37 * P["t3.large"])
    assert d(gone["estimated_running_cost"]) == money(16 * P["t3.large"])
    assert gone["name"] == "api-1"

    # Stopped by hand Monday noon, seen at 12:05: not running, not the scheduler's saving, until Tuesday's start.
    hand = got[ids["hand"]]
    assert abs(d(hand["manual_stopped_hours"]) - h(MON_NOON, TUE9)) < Decimal("0.0001")
    assert abs(d(hand["running_hours"]) - (h(MON9, MON_NOON) + h(TUE9, TUE17))) < Decimal("0.0001")
    assert d(hand["stopped_hours"]) == h(SUN, MON9) + h(TUE17, APRIL) == 28
    assert d(hand["estimated_savings"]) == money(28 * P["t3.large"])

    # Resized while stopped: Sunday's stop saved t3.large hours, Monday's start made it t3.micro.
    resized = got[ids["resized"]]
    assert resized["type"] == "t3.large, t3.micro"
    assert d(resized["stopped_hours"]) == nights
    exact = h(SUN, MON9) * P["t3.large"] + (h(MON17, TUE9) + h(TUE17, APRIL)) * P["t3.micro"]
    assert d(resized["estimated_savings"]) == money(exact)
    assert [(p["type"], d(p["stopped_hours"])) for p in resized["prices"]] == [("t3.large", 21), ("t3.micro", 23)]
    assert [s["ended_by"] for s in resized["stops"]] == ["resize", "start", None]
    assert d(resized["estimated_running_cost"]) == money(16 * P["t3.micro"])

    # The ASG (saved desired capacity 2), the Multi-AZ instance and the Aurora cluster (two members).
    for rid, hourly in (
        ("web", 2 * P["t3.micro"]),
        ("pg1", P["db.t3.micro:multi-az"]),
        ("aurora1", 2 * P["db.r6g.large"]),
    ):
        row = got[rid]
        assert (d(row["stopped_hours"]), d(row["running_hours"])) == (nights, days), rid
        assert d(row["hourly_price"]) == hourly, rid
        assert d(row["estimated_savings"]) == money(nights * hourly), rid
        assert d(row["estimated_running_cost"]) == money(days * hourly), rid
    assert got["web"]["units"] == 2 and got["aurora1"]["units"] == 2
    storage = got["pg1"]["billing_while_stopped"]
    assert d(storage["estimated_cost"]) == money(20 * Decimal("0.115") * 2 * nights / 730)

    # The unpriced type: unknown, and counted apart.
    unpriced = got[ids["unpriced"]]
    assert unpriced["hourly_price"] is None and unpriced["estimated_savings"] is None
    totals = body["totals"]
    priced = [r for r in got.values() if r["resource"] != ids["unpriced"]]
    assert d(totals["estimated_savings"]) == sum(d(r["estimated_savings"]) for r in priced)
    assert totals["unpriced_resources"] == 1 and d(totals["unpriced_stopped_hours"]) == nights
    assert d(totals["stopped_hours"]) == sum(d(r["stopped_hours"]) for r in priced)
    ties(body)

    # Cost Explorer: the actual (tagged compute), coverage flags, the forecast, accounts, the reconciliation.
    assert totals["actual_cost"] == 11.75 and body["actual"]["all_services"] == 12.75
    flagged = {r["resource"] for r in body["resources"] if (r["commitment_coverage"] or {}).get("covered")}
    assert flagged == {ids["gone"], ids["hand"], ids["resized"]}  # the t3.large stops
    assert any("Reserved Instances or Savings Plans covered" in n for n in body["notes"])
    # Savings Plans coverage was refused: unknown (null), not 0%.
    assert gone["commitment_coverage"] == {
        "reserved_instances_percent": 50.0,
        "savings_plans_percent": None,
        "covered": True,
    }
    assert got["web"]["commitment_coverage"]["covered"] is None
    assert got["pg1"]["commitment_coverage"] == {
        "reserved_instances_percent": 0.0,
        "savings_plans_percent": None,
        "covered": False,
    }
    assert "lack ce:GetSavingsPlansCoverage" in " ".join(body["commitment_coverage"]["notes"])
    forecast = body["projection"]["cost_explorer_forecast"]
    assert forecast["total"] == 140.4 and (forecast["lower_bound"], forecast["upper_bound"]) == (100.0, 180.0)
    sent = ce.params("GetCostForecast")[0]
    assert sent["Filter"]["And"][0]["Tags"] == {
        "Key": "Schedule",
        "Values": ["office", "office-micro"],
        "MatchOptions": ["EQUALS"],
    }
    assert body["projection"]["estimated_running_cost"] is not None
    accounts = body["accounts"]
    assert accounts["calling_account"] == accounts["in_report"][0] == "123456789012"
    assert accounts["covered"] == ["123456789012", "999999999999"] and accounts["not_covered"] == []
    assert "LINKED_ACCOUNT" in accounts["scope"]
    assert [(g["account"], g["actual_cost"]) for g in body["by_account"]] == [("123456789012", 11.75)]
    linked = ce.params("GetCostAndUsage")[1]
    assert linked["GroupBy"][1] == {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}
    rec = body["reconciliation"]
    expected = d(totals["estimated_running_cost"])
    assert d(rec["variance"]) == Decimal("11.75") - expected
    not_tagged = d(got["web"]["estimated_running_cost"]) + d(got["aurora1"]["estimated_running_cost"])
    assert d(rec["expected_cost_not_under_tag"]) == not_tagged
    assert d(rec["variance_under_tag"]) == Decimal("11.75") - (expected - not_tagged)
    baseline = rec["baseline"]
    assert (baseline["from"], baseline["to"], baseline["per_day"]) == ("2026-02-27", "2026-03-29", 1.5)
    assert baseline["for_this_period"] == 46.5 and rec["savings_vs_baseline"] == 34.75  # 31 days × $1.50 − 11.75
    assert body["ce_requests"] == len(ce.calls) and ce.count("GetCostAndUsage") == 3
    for needle in ("on-demand list prices", "keep billing while a resource is stopped", "could not be priced"):
        assert any(needle in n for n in body["notes"]), needle


def test_the_fleet_over_two_months_by_team(run, setup, write, monkeypatch):
    region = setup("ap-east-1")
    ids = make_fleet(region)
    run_the_week(run, region, ids)
    body = report(
        run,
        "--from",
        "2026-03",
        "--to",
        "2026-04",
        "--at",
        AT,
        "--prices",
        prices(write, region),
        "--group-by-tag",
        "Team",
        "--no-cost-explorer",
    )
    got = rows(body)
    # April: the stop from Tue 17:00 goes on to Wed 09:00 (9 h in April), then 08:00 running, then 1 h stopped.
    assert (body["month"], body["from_month"], body["to_month"]) == ("2026-03/2026-04", "2026-03", "2026-04")
    web = got["web"]
    nights = h(SUN, MON9) + h(MON17, TUE9) + h(TUE17, WED9) + h(WED17, AT)
    assert d(web["stopped_hours"]) == nights == 21 + 16 + 16 + 1
    assert d(web["running_hours"]) == 3 * 8
    assert d(web["estimated_savings"]) == money(nights * 2 * P["t3.micro"])
    months = {m["month"]: m for m in body["months"]}
    priced = [r for r in got.values() if r["estimated_savings"] is not None]
    march_stopped = {ids["gone"]: 37, ids["hand"]: 28}
    april_stopped = {ids["gone"]: 0, ids["hand"]: 10}
    march = sum(Decimal(march_stopped.get(r["resource"], 44)) for r in priced)
    april = sum(Decimal(april_stopped.get(r["resource"], 10)) for r in priced)
    assert d(months["2026-03"]["stopped_hours"]) == march and d(months["2026-04"]["stopped_hours"]) == april
    assert months["2026-03"]["actual_cost"] is None and months["2026-04"]["actual_cost"] is None
    total = d(body["totals"]["estimated_savings"])
    assert d(months["2026-03"]["cumulative_savings"]) == d(months["2026-03"]["estimated_savings"])
    assert d(months["2026-04"]["cumulative_savings"]) == total == d(body["cumulative"]["estimated_savings"])
    assert body["cumulative"]["since_month"] == "2026-03"
    ties(body)
    # By team: the tags the worker stored; untagged resources are their own group.
    groups = {g["value"]: g for g in body["by_tag"]["groups"]}
    assert set(groups) == {"payments", "data", None}
    assert groups["payments"]["resources"] == 2  # api-1 (gone) and the web group
    assert d(groups["payments"]["estimated_savings"]) == d(got[ids["gone"]]["estimated_savings"]) + d(
        web["estimated_savings"]
    )
    assert groups[None]["unpriced_resources"] == 1 and groups[None]["estimated_savings"] is not None
    assert got[ids["hand"]]["name"] == "batch" and got["pg1"]["name"] is None
    assert body["by_tag"]["resources_without_stored_tags"] == 0


# --- both DST changes ------------------------------------------------------------------------------------------------


def test_berlin_office_hours_over_both_dst_changes(run, setup, write, monkeypatch):
    """09:00-17:00 Europe/Berlin: the spring weekend is 63 hours stopped, the autumn one 65 (wall clock: 64)."""
    region = setup("ap-southeast-5")
    ec2 = boto3.client("ec2", region_name=region)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    spec = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "berlin"}]}]
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.large", TagSpecifications=spec)[
        "Instances"
    ][0]["InstanceId"]
    zone = ZoneInfo("Europe/Berlin")

    def berlin(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)

    seen = berlin("2026-03-27T09:00")
    spring = (berlin("2026-03-27T17:00"), berlin("2026-03-30T09:00"))
    autumn = (berlin("2026-10-23T17:00"), berlin("2026-10-26T09:00"))
    at = berlin("2026-10-26T13:00")
    assert [z(x) for x in (*spring, *autumn)] == [
        "2026-03-27T16:00:00Z",
        "2026-03-30T07:00:00Z",
        "2026-10-23T15:00:00Z",
        "2026-10-26T08:00:00Z",
    ]
    passes(run, z(seen), *(z(x) for x in (*spring, *autumn)), services="ec2")
    ce = ce_stub.install(monkeypatch)
    months = [f"2026-{m:02d}" for m in range(3, 11)]
    compute = "Amazon Elastic Compute Cloud - Compute"
    ce.add(
        "GetCostAndUsage",
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": f"{m}-01", "End": "x"},
                    "Groups": [
                        {"Keys": ["Schedule$berlin", compute], "Metrics": {"UnblendedCost": {"Amount": f"{i + 1}.5"}}}
                    ],
                }
                for i, m in enumerate(months)
            ]
        },
    )
    body = report(run, "--from", "2026-03", "--to", "2026-10", "--at", z(at), "--prices", prices(write, region))
    row = rows(body)[iid]
    assert h(*spring) == 63 and h(*autumn) == 65
    assert d(row["stopped_hours"]) == 128
    assert d(row["running_hours"]) == h(seen, spring[0]) + h(spring[1], autumn[0]) + h(autumn[1], at)
    assert d(row["estimated_savings"]) == money(128 * P["t3.large"])
    by_month = {m["month"]: m for m in body["months"]}
    assert [by_month[m]["stopped_hours"] for m in months] == [63.0, 0, 0, 0, 0, 0, 0, 65.0]
    assert d(by_month["2026-03"]["estimated_savings"]) + d(by_month["2026-10"]["estimated_savings"]) == d(
        row["estimated_savings"]
    )
    assert [by_month[m]["actual_cost"] for m in months] == [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5]
    assert body["totals"]["actual_cost"] == 40.0
    (query,) = [p for p in ce.params("GetCostAndUsage") if p["TimePeriod"]["Start"] == "2026-03-01"]
    assert query["TimePeriod"] == {"Start": "2026-03-01", "End": "2026-10-27"}  # one query, month by month
    days = {x["date"]: x["stopped_hours"] for x in body["daily"]}
    assert (days["2026-03-27"], days["2026-03-28"], days["2026-03-29"], days["2026-03-30"]) == (8.0, 24.0, 24.0, 7.0)
    assert (days["2026-10-23"], days["2026-10-24"], days["2026-10-25"], days["2026-10-26"]) == (9.0, 24.0, 24.0, 8.0)
    ties(body)
