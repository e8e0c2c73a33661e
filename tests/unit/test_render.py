"""Every view of the report shows the whole model: the table (``print_tables``), CSV, HTML and PNG.

The reports here are built by the real accounting code from ledger entries written in :func:`sample_report` (an
office-hours fleet and a night batch, an RDS Multi-AZ instance, an unpriced type, Name and Team tags), then given
what ``monthly_report`` adds from Cost Explorer (a reconciliation with a baseline, a forecast, accounts). The
browser check of the HTML (tests/integration/test_report_browser.py) renders the same reports.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler.cli.output import SafeConsole
from scheduler.cli.report_cmds import print_tables
from scheduler.engine import parse_text
from scheduler.savings.breakdown import build_report
from scheduler.savings.charts import (
    _spaced,
    chart_days,
    daily_savings_svg,
    fit_text,
    hours_by_schedule_svg,
    months_svg,
    text_width,
)
from scheduler.savings.formats import CSV_FIELDS, SUMMARY_FIELDS, read_csv_blocks, render_csv
from scheduler.savings.months import months_between, parse_month
from scheduler.savings.page import render_html
from scheduler.savings.png import render_png
from scheduler.savings.price_file import parse_prices
from scheduler.savings.prices import PriceAnswer
from scheduler.savings.projection import project
from scheduler.savings.report import reconcile
from scheduler.savings.usage import usages
from scheduler.savings.valuation import price_of, value_usages
from tests.unit.test_escaping import SAFE_TAGS, Page

ACCOUNT = "111111111111"
REGION = "eu-west-1"
CONFIG = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  nights: {begintime: "22:00", endtime: "03:00"}
schedules:
  office: {periods: [office]}
  nights: {periods: [nights]}
"""
PRICES = parse_prices(
    "service,region,type,hourly_usd\nec2,*,t3.large,0.0832\nec2,*,m5.xlarge,0.192\nrds,*,db.m5.large:multi-az,0.384\n"
)
# (resource, service, type, schedule, tags)
FLEET = [
    ("i-0a1b2c3d4e5f60001", "ec2", "t3.large", "office", {"Name": "web-1", "Team": "web"}),
    ("i-0a1b2c3d4e5f60002", "ec2", "m5.xlarge", "nights", {"Name": "batch worker", "Team": "data"}),
    ("orders-db", "rds", "db.m5.large", "office", {"Name": "orders", "Team": "web"}),
    ("i-0a1b2c3d4e5f60003", "ec2", "z9.huge", "office", {}),  # no price anywhere
]


def lookup(q: Any) -> PriceAnswer:
    return PRICES.lookup(q) or PriceAnswer(None, None, f"no price for {q.type}")


def _entries(start: datetime, until: datetime, rename: dict[str, str]) -> list[dict[str, Any]]:
    """The ledger a scheduler would have written: office stops at 17:00 and starts at 09:00 on weekdays (the
    first entry of each resource is a stop, as for a resource first seen running), nights runs 22:00-03:00."""
    out: list[dict[str, Any]] = []
    day = start
    while day < until:
        for rid, service, typ, schedule, tags in FLEET:
            name = rename.get(schedule, schedule)
            base = {"Schedule": name, **tags}
            details: dict[str, Any] = {"platform": "Linux/UNIX", "tenancy": "default", "tags": base}
            if service == "rds":
                details = {"engine": "mysql", "multi_az": True, "tags": base}
            if schedule == "office":
                pairs = [(9, "start"), (17, "stop")] if day.weekday() < 5 else []
            else:
                pairs = [(3, "stop"), (22, "start")]
            for hour, action in pairs:
                at = day + timedelta(hours=hour)
                if at >= until or (day == start and action == "start"):
                    continue
                out.append(
                    {
                        "at": at.isoformat(),
                        "target": f"{ACCOUNT}#{REGION}#{service}",
                        "account": ACCOUNT,
                        "region": REGION,
                        "service": service,
                        "resource": rid,
                        "schedule": name,
                        "action": action,
                        "instance_type": typ,
                        "details": details,
                    }
                )
        day += timedelta(days=1)
    return out


def sample_report(
    first: str,
    last: str | None = None,
    *,
    at: datetime,
    group_by_tag: str | None = "Team",
    rename: dict[str, str] | None = None,
    actual: float | None = 123.45,
) -> dict[str, Any]:
    """A report over ``first``..``last`` counted up to ``at``, with what monthly_report adds around it."""
    last = last or first
    rename = rename or {}
    span = (parse_month(first)[0], parse_month(last)[1])
    config = parse_text(CONFIG)  # renamed schedules (any tag value) are not in it: their manual hours are unknown
    rows = value_usages(usages(span[0], span[1], at, _entries(span[0], at, rename), {}, config=config), lookup)
    months = months_between(first, last) if last != first else None
    spend: dict[str, Any] = {"metric": "UnblendedCost", "tag_key": "Schedule", "requests": 2, "available": False}
    if actual is not None:
        spend.update(available=True, total=actual, note=None)
    else:
        spend["note"] = "Cost Explorer has no cost tagged 'Schedule' (activate the tag)"
    current = [(r.usage, price_of(r.usage.current, lookup)[0]) for r in rows if r.usage.current is not None]
    report = build_report(
        f"{first}/{last}" if months else first,
        at,
        rows,
        actual=spend,
        projection=project(current, config, at, lookup=lookup),
        span=span,
        months=months,
        group_by_tag=group_by_tag,
    )
    report["projection"]["cost_explorer_forecast"] = {
        "from": at.date().isoformat(),
        "to": (at.date() + timedelta(days=365)).isoformat(),
        "metric": "UNBLENDED_COST",
        "total": 1500.0,
        "lower_bound": 1200.0,
        "upper_bound": 1800.0,
        "by_month": [],
        "note": None,
    }
    report["accounts"] = {
        "calling_account": ACCOUNT,
        "in_report": [ACCOUNT],
        "covered": [ACCOUNT],
        "not_covered": [],
        "scope": "the calling account only",
        "by_account": {},
        "note": None,
    }
    baseline = {
        "from": "2025-11-01",
        "to": "2025-12-01",
        "days": 30,
        "total": 300.0,
        "per_day": 10.0,
        "for_this_period": 10.0 * (at.date() - span[0].date()).days,
        "period_days": (at.date() - span[0].date()).days,
        "note": None,
    }
    report["reconciliation"] = reconcile(report, rows, baseline, span, at.date())
    if months:
        running = 0.0
        for m in report["months"]:
            running = round(running + (m["estimated_savings"] or 0.0), 2)
            m["cumulative_savings"] = running
        report["cumulative"] = {
            "since_month": first,
            "first_action_before_span": None,
            "estimated_savings_before_span": 0.0,
            "estimated_savings": running,
            "note": None,
        }
    return json.loads(json.dumps(report))  # as the CLI would print it: plain JSON


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def march() -> dict[str, Any]:
    return sample_report("2026-03", at=t("2026-03-20T12:00Z"))


@pytest.fixture(scope="module")
def quarter() -> dict[str, Any]:
    return sample_report("2026-01", "2026-03", at=t("2026-03-20T12:00Z"))


def outside_svg(page: str) -> str:
    return re.sub(r"<svg.*?</svg>", "", page, flags=re.S)


def table_text(report: dict[str, Any], width: int = 140) -> str:
    console = SafeConsole(file=io.StringIO(), width=width, color_system=None)
    print_tables(report, console)
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


# --- the table --------------------------------------------------------------------------------------------------


def test_table_shows_the_whole_model(quarter):
    out = table_text(quarter)
    t_ = quarter["totals"]
    for needle in (
        "stopped by hand (hours)",
        "hours lost to manual starts",
        "cost if always running",
        "$1,500.00 ($1,200.00 – $1,800.00)",  # Cost Explorer's forecast beside the projection
        "By month",
        "By tag Team",
        "(untagged)",
        "web-1",  # the Name tag
        "batch worker",
        "Reconciliation (2026-01-01 to 2026-03-20)",
        "variance (actual − expected)",
        "actual against the baseline",
        "note: Savings are valued at on-demand list prices",
        "unpriced:",
    ):
        assert needle in out, needle
    assert f"{t_['unpriced_resources']} resource(s)" in out
    cumulative = f"${quarter['cumulative']['estimated_savings']:,.2f}"
    assert re.search(rf"cumulative savings since 2026-01 +│ +{re.escape(cumulative)}", out)
    for m in quarter["months"]:
        assert m["month"] in out
    for line in quarter["reconciliation"]["explanation"]:
        assert line[:60] in out.replace("\n", " ")
    # The unpriced resource is "unknown", never $0.00.
    row = next(line for line in out.splitlines() if "i-0a1b2c3d4e5f60003" in line)
    assert "unknown" in row and "$0.00" not in row
    assert all(len(line) <= 140 for line in out.splitlines() if "│" in line or "┃" in line)  # tables fit


def test_table_resource_rows_fit_and_keep_ids_whole(march):
    out = table_text(march)
    for rid, *_ in [("i-0a1b2c3d4e5f60001",), ("orders-db",)]:
        assert re.search(rf"│ ?{rid} +│", out), rid


# --- CSV --------------------------------------------------------------------------------------------------------


def test_csv_keeps_one_row_per_resource_and_appends_the_new_columns(march):
    text = render_csv(march)
    assert "\n\n" not in text  # no summary block unless asked for
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(march["resources"])
    header = text.splitlines()[0].split(",")
    assert header[:14] == [
        "month", "account", "region", "service", "resource", "schedule", "type", "units", "stopped_hours",
        "running_hours", "hourly_price", "estimated_savings", "price_source", "note",
    ]  # fmt: skip
    assert tuple(header) == CSV_FIELDS
    by_id = {r["resource"]: r for r in rows}
    web = by_id["i-0a1b2c3d4e5f60001"]
    assert web["name"] == "web-1" and json.loads(web["tags"]) == {"Name": "web-1", "Schedule": "office", "Team": "web"}
    source = next(r for r in march["resources"] if r["resource"] == "i-0a1b2c3d4e5f60001")
    for field in ("manual_stopped_hours", "manual_start_hours", "managed_hours", "estimated_running_cost"):
        assert float(web[field]) == source[field]
    unpriced = by_id["i-0a1b2c3d4e5f60003"]
    assert unpriced["hourly_price"] == unpriced["estimated_savings"] == unpriced["estimated_running_cost"] == ""
    assert "EBS" in web["billing_while_stopped"] and web["billing_while_stopped_cost"] == ""


def test_csv_summary_block_has_notes_totals_reconciliation_months_and_tags(quarter):
    text = render_csv(quarter, summary=True)
    resources, summary = read_csv_blocks(text)
    assert [r["resource"] for r in resources] == [r["resource"] for r in quarter["resources"]]
    assert text.split("\n\n")[1].splitlines()[0] == ",".join(SUMMARY_FIELDS)
    # Plain csv: every summary row has the block's four columns.
    assert all(len(row) == 4 for row in csv.reader(io.StringIO(text.split("\n\n")[1])))

    def get(section: str, item: str, field: str) -> str:
        (row,) = [r for r in summary if (r["section"], r["item"], r["field"]) == (section, item, field)]
        return row["value"]

    t_ = quarter["totals"]
    assert float(get("totals", "", "estimated_savings")) == t_["estimated_savings"]
    assert float(get("totals", "", "manual_stopped_hours")) == t_["manual_stopped_hours"]
    assert get("totals", "", "unpriced_resources") == "1"
    notes = [r["value"] for r in summary if r["section"] == "note"]
    assert notes == quarter["notes"]
    rec = quarter["reconciliation"]
    assert float(get("reconciliation", "", "variance")) == rec["variance"]
    assert float(get("reconciliation", "baseline", "for_this_period")) == rec["baseline"]["for_this_period"]
    explanation = [r["value"] for r in summary if (r["section"], r["item"]) == ("reconciliation", "explanation")]
    assert explanation == rec["explanation"]
    assert float(get("cost_explorer_forecast", "", "total")) == 1500.0
    assert float(get("projection", "", "estimated_savings")) == quarter["projection"]["estimated_savings"]
    for m in quarter["months"]:
        assert float(get("month", m["month"], "estimated_savings")) == m["estimated_savings"]
        assert float(get("month", m["month"], "cumulative_savings")) == m["cumulative_savings"]
    assert float(get("tag", "Team=web", "estimated_savings")) == next(
        g["estimated_savings"] for g in quarter["by_tag"]["groups"] if g["value"] == "web"
    )
    assert get("tag", "Team (untagged)", "estimated_savings") == ""  # unknown, not 0
    assert get("totals", "", "actual_cost") == "123.45"


def test_csv_summary_cells_cannot_run_formulas(march):
    report = copy.deepcopy(march)
    report["notes"].append('=HYPERLINK("https://evil.example")')
    report["by_tag"]["groups"][0]["value"] = "+cmd"
    _, summary = read_csv_blocks(render_csv(report, summary=True))
    assert summary[[r["section"] for r in summary].index("note") + len(march["notes"])]["value"].startswith("'=")
    assert any(r["item"] == "Team=+cmd" for r in summary)  # not at the start of its cell: stays as typed


# --- HTML -------------------------------------------------------------------------------------------------------


def test_html_shows_notes_reconciliation_forecast_names_and_manual_hours(march):
    page = render_html(march)
    text = outside_svg(page)
    for note in march["notes"]:
        assert note.replace("'", "&#x27;").replace("\u201c", "") in page or note[:40] in page
    rec = march["reconciliation"]
    assert "Reconciliation: actual against expected" in text
    assert f"−${abs(rec['variance']):,.2f}" in text or f"+${abs(rec['variance']):,.2f}" in text
    assert f"${rec['baseline']['for_this_period']:,.2f}" in text
    for line in rec["explanation"]:
        assert line[:50].replace("'", "&#x27;") in text
    assert (
        "Cost Explorer forecast of the tagged spend" in text and "$1,500.00" in text and "$1,200.00 – $1,800.00" in text
    )
    assert "web-1" in text and "batch worker" in text
    assert "stopped by hand (hours)" in text and "hours lost to manual starts" in text
    assert "By tag Team" in text and "(untagged)" in text
    assert "Month by month" not in text  # one month: no trend section


def test_html_unknown_prices_are_unknown_never_zero():
    report = sample_report("2026-03", at=t("2026-03-04T00:00Z"), actual=None)
    for r in report["resources"]:
        r["hourly_price"] = r["estimated_savings"] = r["estimated_running_cost"] = None
    t_ = report["totals"]
    t_["estimated_savings"] = t_["estimated_running_cost"] = t_["cost_if_always_running"] = None
    t_["savings_percent"] = None
    for key in ("by_schedule", "by_account", "by_service"):
        for g in report[key]:
            g["estimated_savings"] = g["estimated_running_cost"] = None
    for d in report["daily"]:
        d["estimated_savings"] = None
    page = render_html(report)
    text = outside_svg(page)
    assert "$0.00" not in text and "unknown" in text
    assert "savings unknown: no stopped resource has a price" in daily_savings_svg(report)
    assert "$0" not in daily_savings_svg(report)


def test_html_trend_for_several_months(quarter):
    page = render_html(quarter)
    assert "Month by month" in page and page.count("<svg") == 3
    svg = months_svg(quarter)
    assert svg.count('class="bar"') == 3 and svg.count('class="cumline"') == 2
    for label in ("Jan 2026", "Feb", "Mar"):
        assert f">{label}</text>" in svg
    assert f"${quarter['cumulative']['estimated_savings']:,.2f}" in outside_svg(page)


def test_html_of_every_shape_uses_only_safe_markup(quarter):
    hostile = '"><script>alert(1)</script>'
    report = sample_report(
        "2026-01", "2026-03", at=t("2026-03-20T12:00Z"), rename={"office": hostile + "office", "nights": "夜間バッチ"}
    )
    page = render_html(report)
    parsed = Page()
    parsed.feed(page)
    parsed.close()
    assert set(parsed.tags) <= SAFE_TAGS and "<script" not in page.lower()
    assert not any(hostile in (value or "") for _, value in parsed.attrs)
    assert f"{hostile}office" in "".join(parsed.text)


# --- charts -----------------------------------------------------------------------------------------------------


def test_daily_chart_covers_the_counted_days_only():
    report = sample_report("2026-03", at=t("2026-03-03T12:00Z"))
    days, caption = chart_days(report)
    assert [d["date"] for d in days] == ["2026-03-01", "2026-03-02", "2026-03-03"] and caption is None
    svg = daily_savings_svg(report)
    labels = re.findall(r'class="tick" text-anchor="middle">(\d+)</text>', svg)
    assert labels == ["1", "2", "3"]
    # Counted to midnight: that day has not begun.
    report2 = sample_report("2026-03", at=t("2026-03-03T00:00Z"))
    assert [d["date"] for d in chart_days(report2)[0]] == ["2026-03-01", "2026-03-02"]


def test_daily_chart_starts_at_the_first_stop_and_says_so():
    report = sample_report("2026-03", at=t("2026-03-20T00:00Z"))
    for d in report["daily"][:9]:  # as if scheduling began on the 10th
        d.update(stopped_hours=0.0, unpriced_stopped_hours=0.0, estimated_savings=0.0, by_schedule={})
    days, caption = chart_days(report)
    assert days[0]["date"] == "2026-03-10" and days[-1]["date"] == "2026-03-19"
    assert caption == "1 Mar – 9 Mar: nothing was stopped"
    assert "1 Mar – 9 Mar: nothing was stopped." in render_html(report)


def test_day_labels_never_crowd():
    report = sample_report("2026-01", "2026-03", at=t("2026-03-31T12:00Z"))
    svg = daily_savings_svg(report)
    xs = [float(x) for x in re.findall(r'<text x="([\d.]+)" y="[\d.]+" class="tick" text-anchor="middle">', svg)]
    assert len(xs) == 3  # Jan 2026, Feb, Mar over 90 days
    month = sample_report("2026-03", at=t("2026-03-31T12:00Z"))
    svg = daily_savings_svg(month)
    xs = [float(x) for x in re.findall(r'<text x="([\d.]+)" y="[\d.]+" class="tick" text-anchor="middle">', svg)]
    assert len(xs) == 31 and min(b - a for a, b in itertools.pairwise(xs)) > text_width("30", 12)


def test_long_names_are_shortened_to_their_margin():
    long = "a-very-long-schedule-name-that-goes-on-and-on-" + "x" * 18
    report = sample_report("2026-03", at=t("2026-03-10T00:00Z"), rename={"office": long})
    svg = hours_by_schedule_svg(report)
    shown = re.findall(r'class="name" text-anchor="end">([^<]*)</text>', svg)
    assert any(s.endswith("…") and long.startswith(s[:-1]) for s in shown)
    assert all(text_width(s, 13) <= 240 for s in shown)
    assert fit_text("short", 100, 13) == "short"
    assert text_width(fit_text("漢字" * 40, 100, 13), 13) <= 100


def test_spaced_labels_do_not_touch():
    kept = _spaced([(float(x), "label") for x in range(0, 400, 20)], 12)
    widths = text_width("label", 12)
    assert all(b[0] - a[0] >= widths + 10 for a, b in itertools.pairwise(kept))


def test_png_for_a_partial_month_and_a_trend(tmp_path: Path):
    pytest.importorskip("matplotlib")
    for name, report in (
        ("day3", sample_report("2026-03", at=t("2026-03-03T12:00Z"))),
        ("quarter", sample_report("2026-01", "2026-03", at=t("2026-03-20T12:00Z"))),
    ):
        path = tmp_path / f"{name}.png"
        render_png(report, str(path))
        assert path.read_bytes()[:4] == b"\x89PNG"
