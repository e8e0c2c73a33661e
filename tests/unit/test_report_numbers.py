"""The report's numbers rebuilt from first principles: ledger entries written here, hours from their clock times
(datetime arithmetic in the test, zoneinfo for local schedules across both DST changes), dollars from price × hours
rounded half-up per resource, then every total, day, month, stop and type checked against those figures.

Scenarios: a resource deleted (or untagged) while running, one stopped by hand, hours lost to a manual start, one
resized while stopped, an Auto Scaling group, an Aurora cluster, a Multi-AZ instance, an unpriced type, a month
boundary, both DST changes, the 12-month projection of a ``period@type`` schedule, tags; and Cost Explorer's forecast,
coverage, linked accounts and caching through botocore's Stubber.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.stub import Stubber

from scheduler.engine import parse_text
from scheduler.savings.breakdown import build_report
from scheduler.savings.costexplorer import CostExplorer, activation_hint
from scheduler.savings.coverage import commitment_coverage
from scheduler.savings.events import MANUAL_STOPPED, STOPPED
from scheduler.savings.formats import render_csv
from scheduler.savings.keys import ResourceKey
from scheduler.savings.months import parse_month
from scheduler.savings.page import render_html
from scheduler.savings.price_cache import JsonCache
from scheduler.savings.price_file import parse_prices
from scheduler.savings.prices import PriceAnswer
from scheduler.savings.priors import Prior, prior_states
from scheduler.savings.projection import project
from scheduler.savings.report import reconcile
from scheduler.savings.usage import month_usages, usages
from scheduler.savings.valuation import allocate, value_usages
from scheduler.store.state import ResourceRecord

ACCOUNT = "111111111111"
REGION = "eu-west-1"
BERLIN = ZoneInfo("Europe/Berlin")

PRICES = {
    ("ec2", "t3.large"): Decimal("0.0832"),
    ("ec2", "t3.micro"): Decimal("0.0104"),
    ("ec2", "m5.xlarge"): Decimal("0.192"),
    ("ec2", "r5.large"): Decimal("0.1337777"),  # awkward on purpose: fractions of a cent everywhere
    ("rds", "db.m5.large:multi-az"): Decimal("0.384"),
    ("rds", "db.r6g.large"): Decimal("0.29"),
    ("rds", "db.r6g.xlarge"): Decimal("0.58"),
}
FILE = parse_prices(
    "service,region,type,hourly_usd\n"
    + "".join(f"{svc},*,{typ},{price}\n" for (svc, typ), price in PRICES.items())
    + "asg,*,t3.micro,0.0104\n"
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISCHED_PRICE_CACHE", str(tmp_path / "cache" / "prices.json"))


def lookup(q: Any) -> PriceAnswer:
    return FILE.lookup(q) or PriceAnswer(None, None, f"no price for {q.type}")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def berlin(text: str) -> datetime:
    """A Berlin wall-clock time as a UTC instant (zoneinfo, independent of the engine)."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).astimezone(UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def h(a: datetime | str, b: datetime | str) -> Decimal:
    """Hours from ``a`` to ``b``, from the clock times."""
    a = t(a) if isinstance(a, str) else a
    b = t(b) if isinstance(b, str) else b
    return Decimal(int((b - a).total_seconds())) / Decimal(3600)


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def d(value: float | None) -> Decimal:
    assert value is not None
    return Decimal(str(value))


def entry(at: datetime | str, action: str, resource: str = "i-1", service: str = "ec2", **extra: Any) -> dict[str, Any]:
    when = t(at) if isinstance(at, str) else at
    e: dict[str, Any] = {
        "at": iso(when),
        "target": f"{ACCOUNT}#{REGION}#{service}",
        "account": ACCOUNT,
        "region": REGION,
        "service": service,
        "resource": resource,
        "schedule": extra.pop("schedule", "office"),
        "action": action,
        "instance_type": extra.pop("instance_type", "t3.large"),
    }
    if action in ("stop", "start", "resize"):  # observations carry no details, as the worker writes them
        e["details"] = extra.pop("details", {"platform": "Linux/UNIX", "tenancy": "default"})
    e.update(extra)
    return e


def key(resource: str = "i-1", service: str = "ec2") -> ResourceKey:
    return ResourceKey(ACCOUNT, REGION, service, resource)


def record(resource: str = "i-1", **kw: Any) -> ResourceRecord:
    return ResourceRecord(resource, **{"schedule": "office", **kw})


OFFICE_UTC = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
OFFICE_BERLIN = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office], timezone: Europe/Berlin}
"""


def report_for(
    month: str,
    until: str | datetime,
    entries: list[dict[str, Any]],
    records: dict[ResourceKey, ResourceRecord] | None = None,
    *,
    config_text: str | None = OFFICE_UTC,
    priors: dict[ResourceKey, Prior] | None = None,
    group_by_tag: str | None = None,
) -> tuple[dict[str, Any], list[Any]]:
    at = t(until) if isinstance(until, str) else until
    config = parse_text(config_text) if config_text else None
    found = month_usages(month, at, entries, records or {}, priors=priors, config=config)
    rows = value_usages(found, lookup)
    return build_report(month, at, rows, group_by_tag=group_by_tag), rows


def rows_by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["resource"]: r for r in report["resources"]}


def check_ties(report: dict[str, Any]) -> None:
    """Every printed breakdown adds up to the printed figure it breaks down (in cents)."""
    priced = [r for r in report["resources"] if r["estimated_savings"] is not None]
    total = report["totals"]["estimated_savings"]
    if total is not None:
        assert sum(d(r["estimated_savings"]) for r in priced) == d(total)
        assert sum(d(x["estimated_savings"]) for x in report["daily"] if x["estimated_savings"] is not None) == d(total)
        for group in ("by_schedule", "by_account", "by_service"):
            assert sum(d(g["estimated_savings"]) for g in report[group] if g["estimated_savings"] is not None) == d(
                total
            ), group
        for g in report["by_schedule"]:
            per_day = sum(d(x["by_schedule"].get(g["schedule"], 0.0)) for x in report["daily"])
            assert per_day == d(g["estimated_savings"] or 0.0), g["schedule"]
    for r in priced:
        if r["stops"]:
            assert sum(d(s["estimated_savings"]) for s in r["stops"]) == d(r["estimated_savings"]), r["resource"]
            assert sum(d(p["estimated_savings"]) for p in r["prices"]) == d(r["estimated_savings"]), r["resource"]
            # The price shown × the stopped hours shown is the savings shown, to the cent.
            assert abs(d(r["hourly_price"]) * d(r["stopped_hours"]) - d(r["estimated_savings"])) <= Decimal("0.005")
    for r in report["resources"]:
        assert d(r["managed_hours"]) == d(r["running_hours"]) + d(r["stopped_hours"]) + d(r["manual_stopped_hours"])


# --- gone: deleted or untagged -----------------------------------------------------------------------------------


def test_a_resource_deleted_while_running_stops_counting_at_the_pass_that_misses_it():
    first, stop, start, gone, until = (
        "2026-03-02T09:00Z",
        "2026-03-02T17:00Z",
        "2026-03-03T09:00Z",
        "2026-03-04T10:15Z",  # the first pass that no longer finds it (deleted at 10:03)
        "2026-03-20T00:00Z",
    )
    entries = [entry(stop, "stop"), entry(start, "start"), entry(gone, "gone")]
    records = {key(): record(first_seen_at=iso(t(first)), last_seen_at=iso(t(start)), gone_at=iso(t(gone)))}
    report, _ = report_for("2026-03", until, entries, records)
    row = rows_by_id(report)["i-1"]
    running = h(first, stop) + h(start, gone)  # 8 + 25.25, not the month's rest
    assert d(row["running_hours"]) == running == Decimal("33.25")
    assert d(row["stopped_hours"]) == h(stop, start) == 16
    assert d(row["estimated_running_cost"]) == money(running * PRICES["ec2", "t3.large"])
    assert d(row["estimated_savings"]) == money(h(stop, start) * PRICES["ec2", "t3.large"])
    assert row["gone_at"] == "2026-03-04T10:15:00Z"
    # The savings share is over the managed time only: 16 h of 49.25.
    full = money(running * PRICES["ec2", "t3.large"]) + money(16 * PRICES["ec2", "t3.large"])
    assert d(report["totals"]["savings_percent"]) == (money(16 * PRICES["ec2", "t3.large"]) * 100 / full).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    # Gone means not managed: the projection leaves it out.
    assert report["projection"] is None
    found = month_usages("2026-03", t(until), entries, records)
    assert found[0].current is None and found[0].gone


def test_untagged_while_stopped_then_tagged_again():
    """Gone ends a stop (nothing is counted while it is not managed); found again still stopped, it counts again."""
    stop, gone, back, start, until = (
        "2026-03-02T17:00Z",
        "2026-03-03T02:00Z",
        "2026-03-05T11:00Z",
        "2026-03-06T09:00Z",
        "2026-03-07T00:00Z",
    )
    entries = [entry(stop, "stop"), entry(gone, "gone"), entry(back, "returned"), entry(start, "start")]
    records = {key(): record(first_seen_at=iso(t("2026-03-02T09:00Z")), last_seen_at=iso(t(start)))}
    report, _ = report_for("2026-03", until, entries, records)
    row = rows_by_id(report)["i-1"]
    assert d(row["stopped_hours"]) == h(stop, gone) + h(back, start) == 9 + 22
    assert [(s["ended_by"], s["hours"]) for s in row["stops"]] == [("gone", 9.0), ("start", 22.0)]
    assert d(row["running_hours"]) == h("2026-03-02T09:00Z", stop) + h(start, until) == 8 + 15
    assert d(row["managed_hours"]) == h("2026-03-02T09:00Z", until) - h(gone, back)
    check_ties(report)


# --- by hand -------------------------------------------------------------------------------------------------------


def test_stopped_by_hand_is_neither_running_nor_the_schedulers_saving():
    first, by_hand, start, until = "2026-03-02T09:00Z", "2026-03-02T12:30Z", "2026-03-03T09:00Z", "2026-03-03T12:00Z"
    entries = [entry(by_hand, "manual-stop"), entry(start, "start")]
    records = {key(): record(first_seen_at=iso(t(first)), last_seen_at=iso(t(start)), observed="running")}
    report, _ = report_for("2026-03", until, entries, records)
    row = rows_by_id(report)["i-1"]
    assert d(row["manual_stopped_hours"]) == h(by_hand, start) == Decimal("20.5")
    assert d(row["running_hours"]) == h(first, by_hand) + h(start, until) == Decimal("6.5")
    assert row["stopped_hours"] == 0.0 and row["estimated_savings"] == 0.0 and row["stops"] == []
    assert report["totals"]["manual_stopped_hours"] == 20.5


def test_stopped_by_hand_all_month_shows_no_running_hours():
    """Stopped by hand in February and never touched since: March has no ledger entry for it at all."""
    february = [entry("2026-02-10T14:00Z", "manual-stop", resource="idle")]
    rec = record(
        "idle",
        first_seen_at=iso(t("2026-01-05T09:00Z")),
        last_seen_at=iso(t("2026-04-01T00:00Z")),
        observed="stopped",
        last_action="start",
        last_action_at=iso(t("2026-01-26T09:00Z")),
    )
    reads: list[str] = []

    def read(m: str) -> list[dict[str, Any]]:
        reads.append(m)
        return february if m == "2026-02" else []

    priors, n = prior_states("2026-03", [], {key("idle"): rec}, read)
    assert priors[key("idle")].state == MANUAL_STOPPED and reads == ["2026-02"] and n == 1
    report, _ = report_for("2026-03", "2026-04-01T00:00Z", [], {key("idle"): rec}, priors=priors)
    row = rows_by_id(report)["idle"]
    assert d(row["manual_stopped_hours"]) == h("2026-03-01T00:00Z", "2026-04-01T00:00Z") == 744
    assert row["running_hours"] == 0.0 and row["stopped_hours"] == 0.0


def test_first_seen_stopped_and_never_touched_is_stopped_not_running():
    rec = record(
        "cold", first_seen_at=iso(t("2026-03-05T12:00Z")), last_seen_at=iso(t("2026-03-09T00:00Z")), observed="stopped"
    )
    report, _ = report_for("2026-03", "2026-03-09T00:00Z", [], {key("cold"): rec})
    row = rows_by_id(report)["cold"]
    assert d(row["manual_stopped_hours"]) == h("2026-03-05T12:00Z", "2026-03-09T00:00Z") == 84
    assert row["running_hours"] == 0.0


def test_hours_lost_to_a_manual_start_during_the_schedules_stopped_time():
    """office 09-17 UTC: stopped at 17:00, started by hand at 20:00, seen running at 09:00 (no action then),
    stopped at the next 17:00. The scheduler saved 17:00-20:00; 20:00-09:00 was lost to the manual start."""
    stop1, manual, stop2, until = "2026-03-02T17:00Z", "2026-03-02T20:00Z", "2026-03-03T17:00Z", "2026-03-04T08:00Z"
    entries = [entry(stop1, "stop"), entry(manual, "manual-start"), entry(stop2, "stop")]
    records = {key(): record(first_seen_at=iso(t("2026-03-02T09:00Z")), last_seen_at=iso(t(until)))}
    report, _ = report_for("2026-03", until, entries, records)
    row = rows_by_id(report)["i-1"]
    assert d(row["manual_start_hours"]) == h(manual, "2026-03-03T09:00Z") == 13
    assert d(row["running_hours"]) == h("2026-03-02T09:00Z", stop1) + h(manual, stop2) == 8 + 21
    assert d(row["stopped_hours"]) == h(stop1, manual) + h(stop2, until) == 3 + 15
    assert report["totals"]["manual_start_hours"] == 13.0
    # Without the schedule, the lost hours cannot be told: unknown, and said so.
    report, _ = report_for("2026-03", until, entries, records, config_text=None)
    assert rows_by_id(report)["i-1"]["manual_start_hours"] is None and report["totals"]["manual_start_hours"] is None
    assert any("manual starts are not known for i-1" in n for n in report["notes"])


# --- types, sizes, services --------------------------------------------------------------------------------------


def test_resized_while_stopped_shows_both_types_and_ties_out():
    """Stopped as t3.large; the next period (office@t3.micro) starts it resized; stopped and started as t3.micro."""
    first = "2026-03-02T09:00Z"
    stop1, resize, stop2, start, until = (
        "2026-03-02T17:00Z",
        "2026-03-03T09:00Z",
        "2026-03-03T17:00Z",
        "2026-03-04T09:00Z",
        "2026-03-04T11:30Z",
    )
    stopped_details = {"platform": "Linux/UNIX", "tenancy": "default", "state": "stopped"}
    entries = [
        entry(stop1, "stop", instance_type="t3.large"),
        entry(resize, "resize", instance_type="t3.micro", details=stopped_details),
        entry(stop2, "stop", instance_type="t3.micro"),
        entry(start, "start", instance_type="t3.micro", details=stopped_details),
    ]
    records = {key(): record(first_seen_at=iso(t(first)), last_seen_at=iso(t(start)), instance_type="t3.micro")}
    report, _ = report_for("2026-03", until, entries, records)
    row = rows_by_id(report)["i-1"]
    large, micro = PRICES["ec2", "t3.large"], PRICES["ec2", "t3.micro"]
    saved_exact = h(stop1, resize) * large + h(stop2, start) * micro
    assert row["type"] == "t3.large, t3.micro"
    assert d(row["estimated_savings"]) == money(saved_exact) == Decimal("1.50")  # 1.3312 + 0.1664
    assert [(p["type"], d(p["hourly_price"]), d(p["stopped_hours"])) for p in row["prices"]] == [
        ("t3.large", large, 16),
        ("t3.micro", micro, 16),
    ]
    # The blend: what the row shows times its stopped hours is its savings.
    assert d(row["hourly_price"]) == (saved_exact / 32).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    assert [s["type"] for s in row["stops"]] == ["t3.large", "t3.micro"]
    # Running: 8 h as t3.large, then 8 h + 2.5 h as t3.micro.
    running = h(first, stop1) * large + (h(resize, stop2) + h(start, until)) * micro
    assert d(row["estimated_running_cost"]) == money(running)
    check_ties(report)


def test_asg_aurora_multi_az_and_an_unpriced_type():
    stop, start, until = "2026-03-02T17:00Z", "2026-03-03T09:00Z", "2026-03-03T12:00Z"
    asg = {"min": 0, "max": 0, "desired": 0, "instance_types": ["t3.micro"]}
    aurora = {
        "kind": "cluster",
        "engine": "aurora-postgresql",
        "allocated_storage": 1,
        "members": [
            {"id": "a", "class": "db.r6g.large", "writer": True},
            {"id": "b", "class": "db.r6g.large", "writer": False},
            {"id": "c", "class": "db.r6g.xlarge", "writer": False},
        ],
    }
    multi = {
        "kind": "instance",
        "engine": "postgres",
        "multi_az": True,
        "allocated_storage": 100,
        "storage_type": "gp3",
    }
    entries = []
    for rid, svc, itype, details, capacity in (
        ("web", "asg", "t3.micro", asg, {"min": 1, "max": 6, "desired": 3}),
        ("aurora1", "rds", None, aurora, None),
        ("pg1", "rds", "db.m5.large", multi, None),
        ("i-new", "ec2", "c7i.large", {"platform": "Linux/UNIX"}, None),
    ):
        extra: dict[str, Any] = {"capacity": capacity} if capacity else {}
        entries.append(entry(stop, "stop", rid, svc, instance_type=itype, details=details, **extra))
        entries.append(entry(start, "start", rid, svc, instance_type=itype, details=details, **extra))
    records = {
        key(rid, svc): record(rid, first_seen_at=iso(t("2026-03-02T09:00Z")), last_seen_at=iso(t(start)))
        for rid, svc in (("web", "asg"), ("aurora1", "rds"), ("pg1", "rds"), ("i-new", "ec2"))
    }
    report, _ = report_for("2026-03", until, entries, records)
    rows = rows_by_id(report)
    hours_stopped, hours_running = h(stop, start), h("2026-03-02T09:00Z", stop) + h(start, until)
    expected = {
        "web": 3 * PRICES["ec2", "t3.micro"],  # the saved desired capacity × the instance price
        "aurora1": 2 * PRICES["rds", "db.r6g.large"] + PRICES["rds", "db.r6g.xlarge"],
        "pg1": PRICES["rds", "db.m5.large:multi-az"],
    }
    for rid, hourly in expected.items():
        assert d(rows[rid]["hourly_price"]) == hourly, rid
        assert d(rows[rid]["estimated_savings"]) == money(hours_stopped * hourly), rid
        assert d(rows[rid]["estimated_running_cost"]) == money(hours_running * hourly), rid
    assert rows["web"]["units"] == 3 and rows["aurora1"]["type"] == "2×db.r6g.large + db.r6g.xlarge"
    # The unpriced type: unknown, never $0, everywhere.
    new = rows["i-new"]
    assert new["hourly_price"] is None and new["estimated_savings"] is None and new["estimated_running_cost"] is None
    totals = report["totals"]
    assert d(totals["estimated_savings"]) == sum(money(hours_stopped * p) for p in expected.values())
    assert totals["unpriced_resources"] == 1 and d(totals["unpriced_stopped_hours"]) == hours_stopped
    assert d(totals["stopped_hours"]) == 3 * hours_stopped  # priced resources only
    assert {g["service"]: g["unpriced_resources"] for g in report["by_service"]} == {"asg": 0, "ec2": 1, "rds": 0}
    assert next(g for g in report["by_service"] if g["service"] == "ec2")["estimated_savings"] is None
    # Storage goes on billing while stopped: 100 GB gp3, two copies (Multi-AZ), at $0.115 per GB-month / 730 h.
    storage = rows["pg1"]["billing_while_stopped"]
    assert d(storage["estimated_cost"]) == money(100 * Decimal("0.115") * 2 * hours_stopped / 730)
    assert rows["aurora1"]["billing_while_stopped"]["estimated_cost"] is None
    assert "Aurora bills the storage used" in rows["aurora1"]["billing_while_stopped"]["note"]
    assert sorted(totals["billing_while_stopped"]["not_estimated"]) == ["aurora1", "i-new", "web"]
    assert any("keep billing while a resource is stopped" in n and "pg1" not in n for n in report["notes"])
    assert any("on-demand list prices" in n for n in report["notes"])
    check_ties(report)


def test_unknown_is_never_shown_as_zero():
    stop, until = "2026-03-02T17:00Z", "2026-03-03T09:00Z"
    entries = [entry(stop, "stop", "x1", instance_type="z9.huge"), entry(stop, "stop", "x2", instance_type="z9.huge")]
    report, _ = report_for("2026-03", until, entries, group_by_tag="Team")
    t_ = report["totals"]
    assert t_["estimated_savings"] is None and t_["estimated_running_cost"] is None and t_["savings_percent"] is None
    assert t_["unpriced_resources"] == 2 and d(t_["unpriced_stopped_hours"]) == 2 * h(stop, until)
    assert all(g["estimated_savings"] is None for k in ("by_schedule", "by_account", "by_service") for g in report[k])
    assert all(x["estimated_savings"] is None for x in report["daily"])
    assert report["daily"][1]["unpriced_stopped_hours"] == 14.0 and report["daily"][2]["unpriced_stopped_hours"] == 18.0
    assert report["by_tag"]["groups"][0]["estimated_savings"] is None
    config = parse_text(OFFICE_UTC)
    found = month_usages("2026-03", t(until), entries, {})
    proj = project([(u, None) for u in found], config, t(until))
    assert proj["estimated_savings"] is None and proj["unpriced_resources"] == 2
    assert proj["by_schedule"][0]["estimated_savings"] is None
    # The renderers print "unknown", never $0.00.
    html = re.sub(r"<svg.*?</svg>", "", render_html(report), flags=re.S)  # chart axes start at $0.00
    assert "$0.00" not in html and "unknown" in html
    cells = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert [(c["hourly_price"], c["estimated_savings"]) for c in cells] == [("", ""), ("", "")]


# --- months and DST ------------------------------------------------------------------------------------------------


def test_a_stop_across_the_month_boundary_counts_in_each_month():
    stop, start = "2026-03-31T17:00Z", "2026-04-01T09:00Z"
    march_entries = [entry(stop, "stop")]
    april_entries = [entry(start, "start")]
    rec = record(first_seen_at=iso(t("2026-03-31T09:00Z")), last_seen_at=iso(t("2026-04-01T12:00Z")))
    records = {key(): rec}
    march, _ = report_for("2026-03", "2026-04-15T00:00Z", march_entries, records)
    assert d(rows_by_id(march)["i-1"]["stopped_hours"]) == h(stop, "2026-04-01T00:00Z") == 7
    priors, _ = prior_states("2026-04", april_entries, records, lambda m: march_entries if m == "2026-03" else [])
    assert priors[key()].state == STOPPED
    april, _ = report_for("2026-04", "2026-04-01T12:00Z", april_entries, records, priors=priors)
    row = rows_by_id(april)["i-1"]
    assert d(row["stopped_hours"]) == h("2026-04-01T00:00Z", start) == 9
    assert d(row["running_hours"]) == h(start, "2026-04-01T12:00Z") == 3
    assert row["stops"][0]["stopped_at"] == "2026-03-31T17:00:00Z"
    # Both months as one span: the months break down the totals exactly.
    span = (parse_month("2026-03")[0], parse_month("2026-04")[1])
    found = usages(*span, t("2026-04-01T12:00Z"), march_entries + april_entries, records, config=parse_text(OFFICE_UTC))
    rows = value_usages(found, lookup)
    both = build_report("2026-03/2026-04", t("2026-04-01T12:00Z"), rows, span=span, months=["2026-03", "2026-04"])
    assert [(m["month"], m["stopped_hours"]) for m in both["months"]] == [("2026-03", 7.0), ("2026-04", 9.0)]
    large = PRICES["ec2", "t3.large"]
    assert d(both["totals"]["estimated_savings"]) == money(16 * large)
    assert sum(d(m["estimated_savings"]) for m in both["months"]) == money(16 * large)
    assert len(both["daily"]) == 61


def test_both_dst_changes_berlin_office_hours():
    """Europe/Berlin 09:00-17:00: the spring weekend has 63 stopped hours (clocks jump forward on Sunday), the autumn
    weekend 65. The ledger holds UTC instants; the hours come out of them as they are."""
    spring_stop, spring_start = berlin("2026-03-27T17:00"), berlin("2026-03-30T09:00")
    autumn_stop, autumn_start = berlin("2026-10-23T17:00"), berlin("2026-10-26T09:00")
    assert h(spring_stop, spring_start) == 63 and h(autumn_stop, autumn_start) == 65  # the test's own arithmetic
    entries_m = [entry(spring_stop, "stop"), entry(spring_start, "start")]
    rec = record(first_seen_at=iso(berlin("2026-03-27T09:00")), last_seen_at=iso(autumn_start))
    march, _ = report_for("2026-03", "2026-04-01T00:00Z", entries_m, {key(): rec}, config_text=OFFICE_BERLIN)
    row = rows_by_id(march)["i-1"]
    assert d(row["stopped_hours"]) == 63
    assert d(row["running_hours"]) == h(berlin("2026-03-27T09:00"), spring_stop) + h(spring_start, "2026-04-01T00:00Z")
    entries_o = [entry(autumn_stop, "stop"), entry(autumn_start, "start")]
    october, _ = report_for("2026-10", "2026-10-26T12:00Z", entries_o, {key(): rec}, config_text=OFFICE_BERLIN)
    row = rows_by_id(october)["i-1"]
    assert d(row["stopped_hours"]) == 65
    # Days are UTC days: the autumn stop covers Oct 23 from 15:00Z, then 24 h, 24 h, and Oct 26 to 08:00Z.
    days = {x["date"]: x["stopped_hours"] for x in october["daily"]}
    assert (days["2026-10-23"], days["2026-10-24"], days["2026-10-25"], days["2026-10-26"]) == (9.0, 24.0, 24.0, 8.0)
    check_ties(october)


def test_hours_lost_to_a_manual_start_across_the_spring_change():
    """Stopped Friday 17:00 Berlin, started by hand Saturday 11:00 Berlin, running through the night the clocks
    jump: lost until Monday 09:00 Berlin (one hour less than the wall clock says)."""
    stop, manual, stop2 = berlin("2026-03-27T17:00"), berlin("2026-03-28T11:00"), berlin("2026-03-30T17:00")
    entries = [entry(stop, "stop"), entry(manual, "manual-start"), entry(stop2, "stop")]
    rec = record(first_seen_at=iso(berlin("2026-03-27T09:00")), last_seen_at=iso(stop2))
    report, _ = report_for("2026-03", "2026-03-31T00:00Z", entries, {key(): rec}, config_text=OFFICE_BERLIN)
    row = rows_by_id(report)["i-1"]
    lost = h(manual, berlin("2026-03-30T09:00"))
    assert lost == 45  # Sat 11:00 CET to Mon 09:00 CEST: 46 wall-clock hours, 45 real ones
    assert d(row["manual_start_hours"]) == lost
    assert d(row["stopped_hours"]) == h(stop, manual) + h(stop2, "2026-03-31T00:00Z")


# --- ties ----------------------------------------------------------------------------------------------------------


def test_every_breakdown_adds_up_to_the_cent():
    """Awkward prices and minutes over several days and schedules: totals = Σ rows; days, stops, types, groups and
    months add up exactly; each row = round(Σ price × hours) computed here."""
    entries = []
    expected: dict[str, Decimal] = {}
    price = PRICES["ec2", "r5.large"]
    records = {}
    for n in range(7):
        rid = f"i-{n}"
        exact = Decimal(0)
        for day in range(2, 9):
            stop = t(f"2026-03-{day:02d}T17:00Z") + timedelta(minutes=7 * n + day)
            start = t(f"2026-03-{day + 1:02d}T09:00Z") + timedelta(minutes=3 * n)
            entries += [
                entry(stop, "stop", rid, instance_type="r5.large", schedule=f"s{n % 3}"),
                entry(start, "start", rid, instance_type="r5.large", schedule=f"s{n % 3}"),
            ]
            exact += h(stop, start) * price
        expected[rid] = money(exact)
        records[key(rid)] = record(rid, schedule=f"s{n % 3}", first_seen_at=iso(t("2026-03-02T09:00Z")))
    report, _ = report_for("2026-03", "2026-03-12T00:00Z", entries, records)
    rows = rows_by_id(report)
    for rid, value in expected.items():
        assert d(rows[rid]["estimated_savings"]) == value, rid
    assert d(report["totals"]["estimated_savings"]) == sum(expected.values())
    # Rounding the sum of the exact amounts instead would differ: the rows, as printed, are what adds up.
    check_ties(report)
    assert report["daily"][2]["by_schedule"]


def test_allocate_by_largest_remainder():
    assert allocate(Decimal("1.46"), [Decimal("0.6384"), Decimal("0.8208")]) == [Decimal("0.64"), Decimal("0.82")]
    shares = allocate(Decimal("0.03"), [Decimal("0.0099")] * 3)
    assert shares == [Decimal("0.01")] * 3 and sum(shares) == Decimal("0.03")
    assert allocate(Decimal("0.00"), [Decimal("0.004"), Decimal("0.001")]) == [Decimal("0.00"), Decimal("0.00")]


# --- the projection ------------------------------------------------------------------------------------------------

TYPED = """
periods:
  day: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  sat: {begintime: "10:00", endtime: "12:00", weekdays: sat}
schedules:
  typed: {periods: ["day@t3.large", "sat@t3.micro"]}
"""


def typed_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
    """The typed schedule's windows, written out day by day (UTC)."""
    out = []
    day = start.date() - timedelta(days=1)
    while datetime(day.year, day.month, day.day, tzinfo=UTC) < end:
        base = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if day.weekday() < 5:
            out.append((base + timedelta(hours=9), base + timedelta(hours=17), "t3.large"))
        elif day.weekday() == 5:
            out.append((base + timedelta(hours=10), base + timedelta(hours=12), "t3.micro"))
        day += timedelta(days=1)
    return [(max(s, start), min(e, end), ty) for s, e, ty in out if e > start and s < end]


def walk(start: datetime, end: datetime, current: str) -> tuple[Decimal, Decimal]:
    """(savings, running cost): each window at its type, each stop at the type the window before left."""
    saved = cost = Decimal(0)
    cursor, persisted = start, current
    for s, e, ty in typed_windows(start, end):
        saved += h(cursor, s) * PRICES["ec2", persisted]
        cost += h(s, e) * PRICES["ec2", ty]
        cursor, persisted = e, ty
    saved += h(cursor, end) * PRICES["ec2", persisted]
    return saved, cost


def test_projection_prices_typed_periods_the_way_the_month_does():
    at = t("2026-03-02T00:00Z")  # a Monday
    config = parse_text(TYPED)
    rec = record(
        "i-typed", schedule="typed", instance_type="t3.micro", last_seen_at=iso(at), details={"platform": "Linux/UNIX"}
    )
    found = month_usages("2026-03", at + timedelta(hours=1), [], {key("i-typed"): rec})
    proj = project([(u, PRICES["ec2", "t3.micro"]) for u in found], config, at, lookup=lookup)
    saved, cost = walk(at, at + timedelta(days=365), "t3.micro")
    assert d(proj["estimated_savings"]) == money(saved)
    assert d(proj["estimated_running_cost"]) == money(cost)
    # Not what pricing every stopped hour at today's type (t3.micro) would say.
    naive = money(
        (Decimal(8760) - h(at, at) - sum(h(s, e) for s, e, _ in typed_windows(at, at + timedelta(days=365))))
        * PRICES["ec2", "t3.micro"]
    )
    assert d(proj["estimated_savings"]) > naive
    # The month's method agrees: the worker records each stop with the type the instance has then, so March's
    # ledger written from the same windows is valued exactly as the walk values March.
    march_end = t("2026-04-01T00:00Z")
    entries = []
    for s, e, ty in typed_windows(at, march_end):
        entries.append(
            entry(s, "resize" if s.weekday() in (0, 5) else "start", "i-typed", schedule="typed", instance_type=ty)
        )
        entries.append(entry(e, "stop", "i-typed", schedule="typed", instance_type=ty))
    rec2 = record("i-typed", schedule="typed", first_seen_at=iso(at), instance_type="t3.micro")
    report, _ = report_for("2026-03", march_end, entries, {key("i-typed"): rec2}, config_text=TYPED)
    month_saved, _ = walk(at, march_end, "t3.micro")
    first_window = typed_windows(at, march_end)[0][0]
    # Before the first window the instance was never stopped by the scheduler in the ledger: leave that gap out.
    month_saved -= h(at, first_window) * PRICES["ec2", "t3.micro"]
    assert d(rows_by_id(report)["i-typed"]["estimated_savings"]) == money(month_saved)


def test_projection_rounds_per_resource_and_adds_up():
    at = t("2026-03-02T00:00Z")
    config = parse_text(OFFICE_UTC)
    records = {key(f"i-{n}"): record(f"i-{n}", instance_type="r5.large", last_seen_at=iso(at)) for n in range(3)}
    found = month_usages("2026-03", at + timedelta(hours=1), [], records)
    proj = project([(u, PRICES["ec2", "r5.large"]) for u in found], config, at, lookup=lookup)
    running = Decimal(261 * 8)  # 365 days from a Monday: 261 weekdays of 8 hours
    each = money((Decimal(8760) - running) * PRICES["ec2", "r5.large"])
    assert d(proj["estimated_savings"]) == 3 * each
    assert d(proj["by_schedule"][0]["estimated_savings"]) == 3 * each
    assert d(proj["estimated_running_cost"]) == 3 * money(running * PRICES["ec2", "r5.large"])


# --- tags ----------------------------------------------------------------------------------------------------------


def test_group_by_tag_with_an_untagged_group_and_names():
    stop, start = "2026-03-02T17:00Z", "2026-03-03T09:00Z"
    tagged = {"platform": "Linux/UNIX", "tags": {"Name": "api-1", "Team": "payments"}}
    other = {"platform": "Linux/UNIX", "tags": {"Name": "batch", "Team": "data"}}
    untagged = {"platform": "Linux/UNIX", "tags": {"Name": "lonely"}}
    entries = []
    for rid, details in (("a", tagged), ("b", other), ("c", untagged), ("old", {"platform": "Linux/UNIX"})):
        entries += [entry(stop, "stop", rid, details=details), entry(start, "start", rid, details=details)]
    report, _ = report_for("2026-03", "2026-03-03T10:00Z", entries, group_by_tag="Team")
    rows = rows_by_id(report)
    assert (rows["a"]["name"], rows["c"]["name"], rows["old"]["name"]) == ("api-1", "lonely", None)
    groups = {g["value"]: g for g in report["by_tag"]["groups"]}
    assert list(groups) == ["data", "payments", None]  # untagged last
    assert groups[None]["resources"] == 2 and report["by_tag"]["resources_without_stored_tags"] == 1
    each = money(16 * PRICES["ec2", "t3.large"])
    assert d(groups["payments"]["estimated_savings"]) == each and d(groups[None]["estimated_savings"]) == 2 * each
    assert sum(d(g["estimated_savings"]) for g in groups.values()) == d(report["totals"]["estimated_savings"])


# --- reconciliation ------------------------------------------------------------------------------------------------


def test_reconciliation_variance_and_what_the_tag_cannot_see():
    stop, start, until = "2026-03-02T17:00Z", "2026-03-03T09:00Z", "2026-03-03T12:00Z"
    asg = {"min": 2, "max": 2, "desired": 2, "instance_types": ["t3.micro"]}
    entries = [
        entry(stop, "stop"),
        entry(start, "start"),
        entry(
            stop,
            "stop",
            "web",
            "asg",
            instance_type="t3.micro",
            details=asg,
            capacity={"min": 2, "max": 2, "desired": 2},
        ),
        entry(
            start,
            "start",
            "web",
            "asg",
            instance_type="t3.micro",
            details=asg,
            capacity={"min": 2, "max": 2, "desired": 2},
        ),
    ]
    records = {
        key(): record(first_seen_at=iso(t("2026-03-02T09:00Z"))),
        key("web", "asg"): record("web", first_seen_at=iso(t("2026-03-02T09:00Z"))),
    }
    report, rows = report_for("2026-03", until, entries, records)
    report["totals"]["actual_cost"] = 1.50
    report["actual"] = {"available": True, "total": 1.50, "estimated": True}
    baseline = {"per_day": 2.0, "days": 30, "for_this_period": 6.0, "period_days": 3, "note": None}
    span = parse_month("2026-03")
    rec = reconcile(report, rows, baseline, span, date(2026, 3, 4))
    running = 11 * PRICES["ec2", "t3.large"]  # 8 h + 3 h
    web_running = 11 * 2 * PRICES["ec2", "t3.micro"]
    expected = money(running) + money(web_running)
    assert d(rec["expected_cost"]) == expected
    assert d(rec["variance"]) == Decimal("1.50") - expected
    assert d(rec["expected_cost_not_under_tag"]) == money(web_running)
    assert d(rec["savings_vs_baseline"]) == Decimal("4.50")
    text = " ".join(rec["explanation"])
    assert (
        "Auto Scaling group instances or Aurora cluster members (or ECS tasks, EKS node group instances) (web)" in text
    )
    assert "marks these figures as estimated" in text and "whole UTC days to 2026-03-04" in text
    assert d(rec["cost_if_always_running"]) == d(report["totals"]["cost_if_always_running"])


# --- Cost Explorer ---------------------------------------------------------------------------------------------------


def ce_client() -> tuple[Any, Stubber]:
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    return client, Stubber(client)


def spend_page(
    groups: Iterable[tuple[str, str, str]], start: str = "2026-03-01", end: str = "2026-04-01"
) -> dict[str, Any]:
    return {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": start, "End": end},
                "Total": {},
                "Groups": [
                    {"Keys": [k, s], "Metrics": {"UnblendedCost": {"Amount": a, "Unit": "USD"}}} for k, s, a in groups
                ],
                "Estimated": False,
            }
        ]
    }


def test_empty_answers_are_not_cached_data_is(tmp_path: Path):
    client, stub = ce_client()
    params = {
        "TimePeriod": {"Start": "2026-03-01", "End": "2026-04-01"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "TAG", "Key": "Schedule"}, {"Type": "DIMENSION", "Key": "SERVICE"}],
    }
    stub.add_response("get_cost_and_usage", spend_page([]), params)  # nothing yet
    stub.add_response(
        "get_cost_and_usage", spend_page([("Schedule$", "Amazon Relational Database Service", "5")]), params
    )
    stub.add_response(
        "get_cost_and_usage", spend_page([("Schedule$office", "Amazon Relational Database Service", "5")]), params
    )
    ce = CostExplorer(client, cache=JsonCache(tmp_path / "ce.json", timedelta(days=7)), identity="me")
    args = ("2026-03", date(2026, 3, 1), date(2026, 4, 1), "UnblendedCost", "Schedule")
    with stub:
        empty = ce.month_spend(*args)
        dark = ce.month_spend(*args)  # cost, but none under the tag (not activated yet): not cached either
        lit = ce.month_spend(*args)
        cached = ce.month_spend(*args)
    stub.assert_no_pending_responses()
    assert not empty.available and not dark.available and lit.available and cached.cached
    assert cached.total == Decimal("5") and ce.requests == 3
    assert "backfill" in (dark.note or "") and "12 months" in (dark.note or "")


def test_activation_hint_says_how_to_activate_and_backfill():
    hint = activation_hint("Schedule")
    assert "TagKey=Schedule,Status=Active" in hint and "start-cost-allocation-tag-backfill" in hint
    assert "up to 12 months" in hint


def test_forecast_of_the_tagged_compute_spend(tmp_path: Path):
    client, stub = ce_client()
    expected_params = {
        "TimePeriod": {"Start": "2026-12-06", "End": "2027-12-01"},
        "Metric": "UNBLENDED_COST",
        "Granularity": "MONTHLY",
        "Filter": {
            "And": [
                {"Tags": {"Key": "Schedule", "Values": ["db", "office"], "MatchOptions": ["EQUALS"]}},
                {
                    "Dimensions": {
                        "Key": "SERVICE",
                        "Values": [
                            "Amazon DocumentDB (with MongoDB compatibility)",
                            "Amazon Elastic Compute Cloud - Compute",
                            "Amazon Elastic Container Service",
                            "Amazon Neptune",
                            "Amazon Redshift",
                            "Amazon Relational Database Service",
                            "Amazon SageMaker",
                        ],
                    }
                },
            ]
        },
        "PredictionIntervalLevel": 80,
    }
    months = [("2026-12-06", "2027-01-01", "30.5", "20", "40"), ("2027-01-01", "2027-02-01", "31.25", "21", "41.5")]
    stub.add_response(
        "get_cost_forecast",
        {
            "Total": {"Amount": "61.75", "Unit": "USD"},
            "ForecastResultsByTime": [
                {
                    "TimePeriod": {"Start": s, "End": e},
                    "MeanValue": mean,
                    "PredictionIntervalLowerBound": lo,
                    "PredictionIntervalUpperBound": hi,
                }
                for s, e, mean, lo, hi in months
            ],
        },
        expected_params,
    )
    stub.add_client_error("get_cost_forecast", "DataUnavailableException", "Insufficient amount of historical data")
    ce = CostExplorer(client, cache=JsonCache(tmp_path / "ce.json", timedelta(days=7)), identity="me")
    with stub:
        got = ce.forecast(date(2026, 12, 6), date(2027, 12, 1), "UnblendedCost", "Schedule", ["office", "db"])
        again = ce.forecast(date(2026, 12, 6), date(2027, 12, 1), "UnblendedCost", "Schedule", ["office", "db"])
        none = ce.forecast(date(2026, 12, 6), date(2027, 12, 1), "UnblendedCost", "Schedule", ["weekend"])
    assert got["total"] == 61.75 and got["lower_bound"] == 41.0 and got["upper_bound"] == 81.5
    assert [m["amount"] for m in got["by_month"]] == [30.5, 31.25]
    assert again["total"] == 61.75 and again["cached"] and ce.requests == 2  # the second came from the cache
    assert none["total"] is None and "no data" in none["note"]


def test_coverage_of_the_stopped_types(tmp_path: Path):
    client, stub = ce_client()

    def ri(service: str, groups: list[tuple[str, str, str]]) -> None:
        stub.add_response(
            "get_reservation_coverage",
            {
                "CoveragesByTime": [
                    {
                        "TimePeriod": {"Start": "2026-03-01", "End": "2026-03-10"},
                        "Groups": [
                            {
                                "Attributes": {"instanceType": it, "region": rg},
                                "Coverage": {"CoverageHours": {"CoverageHoursPercentage": pct}},
                            }
                            for it, rg, pct in groups
                        ],
                    }
                ]
            },
            {
                "TimePeriod": {"Start": "2026-03-01", "End": "2026-03-10"},
                "GroupBy": [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}, {"Type": "DIMENSION", "Key": "REGION"}],
                "Granularity": "MONTHLY",
                "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [service]}},
            },
        )

    ri("Amazon Elastic Compute Cloud - Compute", [("t3.large", "eu-west-1", "62.5"), ("m5.large", "eu-west-1", "0")])
    ri("Amazon Relational Database Service", [("db.r6g.large", "eu-west-1", "100")])
    stub.add_client_error("get_savings_plans_coverage", "AccessDeniedException", "no")
    ce = CostExplorer(client, cache=JsonCache(tmp_path / "ce.json", timedelta(days=7)), identity="me")
    with stub:
        cov = commitment_coverage(ce, date(2026, 3, 1), date(2026, 3, 10))
    assert cov["available"] and cov["reservations"] == {
        "ec2|eu-west-1|t3.large": 62.5,
        "ec2|eu-west-1|m5.large": 0.0,
        "rds|eu-west-1|db.r6g.large": 100.0,
    }
    assert cov["savings_plans"] == {} and "lack ce:GetSavingsPlansCoverage" in cov["notes"][0]


def test_coverage_reads_every_page_of_both_answers(tmp_path: Path):
    """GetReservationCoverage pages with NextPageToken, GetSavingsPlansCoverage with NextToken: every page is read,
    and each next request carries the token the page before gave."""
    client, stub = ce_client()
    period = {"Start": "2026-03-01", "End": "2026-03-10"}

    def ri_page(service: str, itype: str, pct: str, token: str | None, follows: str | None) -> None:
        answer: dict = {
            "CoveragesByTime": [
                {
                    "TimePeriod": period,
                    "Groups": [
                        {
                            "Attributes": {"instanceType": itype, "region": "eu-west-1"},
                            "Coverage": {"CoverageHours": {"CoverageHoursPercentage": pct}},
                        }
                    ],
                }
            ]
        }
        if follows:
            answer["NextPageToken"] = follows
        params: dict = {
            "TimePeriod": period,
            "GroupBy": [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE"}, {"Type": "DIMENSION", "Key": "REGION"}],
            "Granularity": "MONTHLY",
            "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [service]}},
        }
        if token:
            params["NextPageToken"] = token
        stub.add_response("get_reservation_coverage", answer, params)

    def sp_page(family: str, pct: str, token: str | None, follows: str | None) -> None:
        answer: dict = {
            "SavingsPlansCoverages": [
                {
                    "Attributes": {"INSTANCE_FAMILY": family, "REGION": "eu-west-1"},
                    "Coverage": {"CoveragePercentage": pct},
                }
            ]
        }
        if follows:
            answer["NextToken"] = follows
        params: dict = {
            "TimePeriod": period,
            "GroupBy": [{"Type": "DIMENSION", "Key": "INSTANCE_FAMILY"}, {"Type": "DIMENSION", "Key": "REGION"}],
            "Granularity": "MONTHLY",
        }
        if token:
            params["NextToken"] = token
        stub.add_response("get_savings_plans_coverage", answer, params)

    ri_page("Amazon Elastic Compute Cloud - Compute", "t3.large", "25", None, "ec2-2")
    ri_page("Amazon Elastic Compute Cloud - Compute", "m5.large", "50", "ec2-2", None)
    ri_page("Amazon Relational Database Service", "db.r6g.large", "100", None, None)
    sp_page("m5", "40", None, "sp-2")
    sp_page("c5", "60", "sp-2", "sp-3")
    sp_page("r5", "80", "sp-3", None)
    ce = CostExplorer(client, cache=JsonCache(tmp_path / "ce.json", timedelta(days=7)), identity="me")
    with stub:
        cov = commitment_coverage(ce, date(2026, 3, 1), date(2026, 3, 10))
    stub.assert_no_pending_responses()
    assert cov["reservations"] == {
        "ec2|eu-west-1|t3.large": 25.0,
        "ec2|eu-west-1|m5.large": 50.0,
        "rds|eu-west-1|db.r6g.large": 100.0,
    }
    assert sorted(cov["savings_plans"].values()) == [40.0, 60.0, 80.0]
    assert ce.requests == 6


def test_linked_account_breakdown(tmp_path: Path):
    client, stub = ce_client()
    stub.add_response(
        "get_cost_and_usage",
        spend_page(
            [
                ("Schedule$office", "222222222222", "3.5"),
                ("Schedule$db", "222222222222", "1"),
                ("Schedule$", "333333333333", "9"),
            ]
        ),
        {
            "TimePeriod": {"Start": "2026-03-01", "End": "2026-03-10"},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "Filter": {
                "Dimensions": {
                    "Key": "SERVICE",
                    "Values": [
                        "Amazon DocumentDB (with MongoDB compatibility)",
                        "Amazon Elastic Compute Cloud - Compute",
                        "Amazon Elastic Container Service",
                        "Amazon Neptune",
                        "Amazon Redshift",
                        "Amazon Relational Database Service",
                        "Amazon SageMaker",
                    ],
                }
            },
            "GroupBy": [{"Type": "TAG", "Key": "Schedule"}, {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}],
        },
    )
    ce = CostExplorer(client, cache=JsonCache(tmp_path / "ce.json", timedelta(days=7)), identity="me")
    with stub:
        linked = ce.linked_spend(date(2026, 3, 1), date(2026, 3, 10), "UnblendedCost", "Schedule")
    assert linked["available"] and linked["by_account"] == {"222222222222": 4.5}


def test_states_replayed_in_order_at_one_instant():
    """At one pass: found again, then seen started by hand, then the scheduler's stop. A manual start on its
    return means it was last seen stopped (not by the scheduler) before it went."""
    at = "2026-03-02T17:00Z"
    entries = [
        entry(at, "stop"),
        entry(at, "manual-start"),
        entry(at, "returned"),
        entry("2026-03-02T10:00Z", "gone"),
        entry("2026-03-03T09:00Z", "start"),
    ]
    records = {key(): record(first_seen_at=iso(t("2026-03-02T09:00Z")))}
    report, _ = report_for("2026-03", "2026-03-03T10:00Z", entries, records)
    row = rows_by_id(report)["i-1"]
    assert d(row["stopped_hours"]) == h(at, "2026-03-03T09:00Z") == 16
    assert d(row["manual_stopped_hours"]) == h("2026-03-02T09:00Z", "2026-03-02T10:00Z") == 1
    assert d(row["running_hours"]) == h("2026-03-03T09:00Z", "2026-03-03T10:00Z") == 1
    assert [s["ended_by"] for s in row["stops"]] == ["start"]
    assert d(row["managed_hours"]) == h("2026-03-02T09:00Z", "2026-03-03T10:00Z") - h("2026-03-02T10:00Z", at)


# --- the command line ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--month", "2026-03", "--from", "2026-01", "--to", "2026-02"), "--month: give either --month or --from/--to"),
        (("--from", "2026-01"), "--to: --from and --to go together"),
        (("--to", "2026-01"), "--from: --from and --to go together"),
        (("--from", "2026-03", "--to", "2026-01"), "--to: '2026-01' is before --from '2026-03'"),
        (("--from", "2026-13", "--to", "2027-01"), "--from: '2026-13' is not a month"),
        (("--from", "2020-01", "--to", "2026-01"), "--to: at most 28 months"),
        ((), "--month: missing: the month to report"),
        (("--month", "2026-03", "--group-by-tag", " "), "--group-by-tag: ' ' is not a tag key"),
        (("--from", "2027-01", "--to", "2027-02"), "--from: '2027-01' has not begun"),
    ],
)
def test_report_months_and_tag_options_are_checked_before_anything_runs(run, args, needle):
    r = run("report", *args, "--at", "2026-03-10T00:00:00Z", "--no-cost-explorer")
    assert r.code == 2 and needle in r.err, r.err


def test_ebs_volumes_and_elastic_ips_billing_while_stopped_are_estimated_from_what_each_stop_recorded():
    """An instance with a 30 GB gp3 and a 500 GB st1 volume and one Elastic IP, stopped twice: storage at its
    GB-month rate / 730 h and the address at $0.005 per hour, over the stopped hours only."""
    billing = {
        "volumes": [{"id": "vol-1", "size_gb": 30, "type": "gp3"}, {"id": "vol-2", "size_gb": 500, "type": "st1"}],
        "elastic_ips": 1,
    }
    details = {"platform": "Linux/UNIX", "tenancy": "default", "billing_while_stopped": billing}
    stops = [("2026-03-02T17:00Z", "2026-03-03T09:00Z"), ("2026-03-03T17:00Z", "2026-03-04T09:00Z")]
    entries = []
    for stop, start in stops:
        entries.append(entry(stop, "stop", "i-ebs", details=details))
        entries.append(entry(start, "start", "i-ebs", details={"platform": "Linux/UNIX", "tenancy": "default"}))
    # One without the record (an older version's stop): not estimated, and said so.
    entries.append(entry("2026-03-02T17:00Z", "stop", "i-old"))
    entries.append(entry("2026-03-03T09:00Z", "start", "i-old"))
    report, _ = report_for("2026-03", "2026-03-05T00:00Z", entries)
    rows = rows_by_id(report)
    stopped = sum((h(a, b) for a, b in stops), Decimal(0))
    per_month = 30 * Decimal("0.08") + 500 * Decimal("0.045")
    expected = money(stopped * per_month / 730 + stopped * Decimal("0.005"))
    got = rows["i-ebs"]["billing_while_stopped"]
    assert d(got["estimated_cost"]) == expected and got["elastic_ips"] == 1
    assert rows["i-old"]["billing_while_stopped"]["estimated_cost"] is None
    assert "did not record" in rows["i-old"]["billing_while_stopped"]["note"]
    totals = report["totals"]["billing_while_stopped"]
    assert d(totals["estimated_cost"]) == expected and totals["not_estimated"] == ["i-old"]
