"""The monthly report function against a moto server: last month's report in S3 and its summary on SNS.

Real scheduling passes (``isched run --at``) on moto's EC2 write the ledger for March 2026; the report function
then runs as EventBridge invokes it on 1 April at 06:00 UTC, with its settings from the environment as the stack
sets them. The topic's summary is read back through an SQS queue subscribed to it. Cost Explorer answers through
tests/integration/ce_stub.py (moto has no forecast or coverage); prices come from a prices file in the bucket
(moto has no Price List API). The stack side (the MonthlyReport parameter and its resources) is in test_deploy.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from scheduler.handlers import report as handler
from scheduler.handlers.common import SettingsError
from scheduler.handlers.events import EventError
from scheduler.savings.formats import read_csv_blocks

from . import ce_stub
from .hub_helpers import unique

REGION = "ap-southeast-7"  # moto loads only a few AMIs here: its EC2 starts fast
SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
PASSES = (
    "2026-03-02T09:00:00Z",
    "2026-03-02T17:03:00Z",
    "2026-03-03T09:01:00Z",
    "2026-03-03T17:00:00Z",
    "2026-03-04T09:00:00Z",
    "2026-03-04T17:10:00Z",
)
APRIL_FIRST = datetime(2026, 4, 1, 6, 0, 12, tzinfo=UTC)


def scheduled_event(time: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "5b2a4c6e-0000-4000-8000-000000000001",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time,
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:123456789012:rule/isched-report"],
        "detail": {},
    }


@pytest.fixture
def hub(
    deploy: Callable[[str, str], str],
    namespace: str,
    run: Callable[..., Any],
    write: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[dict[str, Any]]:
    """Tables with March's ledger, a reports bucket and topic with a queue subscribed, the function's settings."""
    deploy(REGION, SCHEDULES)
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    tag_key = unique("Schedule-")  # this test's passes see only this test's instances

    def launch(itype: str, name: str) -> str:
        tags = [{"Key": tag_key, "Value": "office"}, {"Key": "Name", "Value": name}, {"Key": "Team", "Value": "web"}]
        spec = [{"ResourceType": "instance", "Tags": tags}]
        made = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=itype, TagSpecifications=spec)
        return str(made["Instances"][0]["InstanceId"])

    ids = {"priced": launch("m5.xlarge", "api-1"), "unpriced": launch("t3.micro", "build-box")}
    for at in PASSES:
        r = run("run", "--at", at, "--services", "ec2", "--tag-key", tag_key, "--json")
        assert r.code == 0, r.err

    s3 = boto3.client("s3", region_name=REGION)
    bucket = unique("isched-reports-")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    prices = f"service,region,type,hourly_usd\nec2,{REGION},m5.xlarge,0.192\n"
    s3.put_object(Bucket=bucket, Key="config/prices.csv", Body=prices.encode())
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name=unique("isched-reports-"))["TopicArn"]
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName=unique("summaries-"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    env = {
        "ISCHED_REPORT_BUCKET": bucket,
        "ISCHED_REPORT_TOPIC": topic,
        "ISCHED_REPORT_PREFIX": "reports/",
        "ISCHED_REPORT_PRICES_KEY": "config/prices.csv",
        "ISCHED_REPORT_PRICING_API": "false",  # moto has no Price List API
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("ISCHED_TAG_KEY", tag_key)
    yield {"bucket": bucket, "topic": topic, "queue": queue, "ids": ids, "s3": s3, "sqs": sqs, "tag_key": tag_key}


def summaries(hub: dict[str, Any]) -> list[dict[str, Any]]:
    """The SNS envelopes the queue received (each with the SQS-specific message: the summary as JSON)."""
    got = hub["sqs"].receive_message(QueueUrl=hub["queue"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def month_spend_answer(tag_key: str, amount: str) -> dict[str, Any]:
    """GetCostAndUsage for March: the office schedule's EC2 compute."""
    return {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": "2026-03-01", "End": "2026-04-01"},
                "Total": {},
                "Groups": [
                    {
                        "Keys": [f"{tag_key}$office", "Amazon Elastic Compute Cloud - Compute"],
                        "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}},
                    }
                ],
                "Estimated": False,
            }
        ],
        "DimensionValueAttributes": [],
    }


def test_the_first_of_april_delivers_march(hub, run, monkeypatch):
    ce = ce_stub.install(monkeypatch)
    ce.add("GetCostAndUsage", month_spend_answer(hub["tag_key"], "7.41"))
    out = handler.process(scheduled_event("2026-04-01T06:00:00Z"), now=APRIL_FIRST)

    keys = {f: f"reports/2026-03/report.{f}" for f in ("html", "csv", "json")}
    assert out["month"] == "2026-03" and out["keys"] == keys and out["published"] is True
    s3 = hub["s3"]
    listed = s3.list_objects_v2(Bucket=hub["bucket"], Prefix="reports/")["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(keys.values())
    bodies: dict[str, str] = {}
    for fmt, content_type in (
        ("html", "text/html; charset=utf-8"),
        ("csv", "text/csv; charset=utf-8"),
        ("json", "application/json"),
    ):
        got = s3.get_object(Bucket=hub["bucket"], Key=keys[fmt])
        assert got["ContentType"] == content_type and got["Metadata"] == {"isched-month": "2026-03"}
        bodies[fmt] = got["Body"].read().decode("utf-8")

    report = json.loads(bodies["json"])
    ids = hub["ids"]
    rows = {r["resource"]: r for r in report["resources"]}
    assert report["month"] == "2026-03" and set(rows) == set(ids.values())
    assert rows[ids["priced"]]["hourly_price"] == 0.192 and rows[ids["priced"]]["name"] == "api-1"
    assert rows[ids["unpriced"]]["hourly_price"] is None and report["totals"]["unpriced_resources"] == 1
    assert report["totals"]["actual_cost"] == 7.41

    # The same numbers as `isched report` (Cost Explorer left out of both: its figures are compared above).
    cli = run(
        "report", "--month", "2026-03", "--at", "2026-04-01T06:00:12Z", "--json", "--no-cost-explorer",
        "--no-pricing-api", "--prices", _prices_file(hub),
    )  # fmt: skip
    assert cli.code == 0, cli.err
    expected = cli.json()
    assert report["resources"] == expected["resources"]
    assert {k: v for k, v in report["totals"].items() if k != "actual_cost"} == {
        k: v for k, v in expected["totals"].items() if k != "actual_cost"
    }
    assert (
        report["daily"] == expected["daily"]
        and report["projection"]["by_schedule"] == expected["projection"]["by_schedule"]
    )

    table = run(
        "report", "--month", "2026-03", "--at", "2026-04-01T06:00:12Z", "--format", "csv", "--csv-summary",
        "--no-cost-explorer", "--no-pricing-api", "--prices", _prices_file(hub),
    )  # fmt: skip
    assert table.code == 0, table.err
    cli_resources, cli_summary = read_csv_blocks(table.out)
    assert len(cli_resources) == 2 and [r["value"] for r in cli_summary if r["section"] == "note"] == expected["notes"]

    assert bodies["html"].startswith("<!doctype html>") and "March 2026" in bodies["html"]
    assert "<script" not in bodies["html"] and "api-1" in bodies["html"]
    resources, summary = read_csv_blocks(bodies["csv"])
    assert {r["resource"] for r in resources} == set(ids.values())
    assert [r["value"] for r in summary if r["section"] == "note"] == report["notes"]

    (envelope,) = summaries(hub)
    assert envelope["Subject"] == f"isched savings 2026-03: ${report['totals']['estimated_savings']:,.2f}"
    message = json.loads(envelope["Message"])
    assert message == {
        "month": "2026-03",
        "currency": "USD",
        "counted_to": "2026-04-01T00:00:00Z",
        "stopped_hours": report["totals"]["stopped_hours"],
        "estimated_savings": report["totals"]["estimated_savings"],
        "savings_percent": report["totals"]["savings_percent"],
        "actual_cost": 7.41,
        "unpriced_resources": 1,
        "resources": 2,
        "bucket": hub["bucket"],
        "keys": keys,
    }
    text = handler.summary_text(message, report)  # what e-mail subscribers read
    assert "Estimated savings: $" in text and f"s3://{hub['bucket']}/reports/2026-03/report.html" in text
    assert "Unpriced resources (not in the savings): 1" in text and "$7.41" in text


def _prices_file(hub: dict[str, Any]) -> str:
    """The bucket's prices file, downloaded for the CLI's --prices."""
    import tempfile

    body = hub["s3"].get_object(Bucket=hub["bucket"], Key="config/prices.csv")["Body"].read()
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as fh:
        fh.write(body)
    return fh.name


def test_january_reports_december_of_the_year_before(hub, monkeypatch):
    monkeypatch.setenv("ISCHED_REPORT_COST_EXPLORER", "false")
    now = datetime(2027, 1, 1, 6, 0, 9, tzinfo=UTC)
    out = handler.process(scheduled_event("2027-01-01T06:00:00Z"), now=now)
    assert out["month"] == "2026-12" and out["keys"]["json"] == "reports/2026-12/report.json"
    body = hub["s3"].get_object(Bucket=hub["bucket"], Key="reports/2026-12/report.json")["Body"].read()
    report = json.loads(body)
    assert report["month"] == "2026-12" and report["from"] == "2026-12-01T00:00:00Z"
    assert report["at"] == "2027-01-01T00:00:00Z"  # the whole month, not past its end
    # Stopped on 4 March and never started again: every hour of December is stopped.
    priced = next(r for r in report["resources"] if r["resource"] == hub["ids"]["priced"])
    assert priced["stopped_hours"] == 31 * 24
    (envelope,) = summaries(hub)
    assert json.loads(envelope["Message"])["month"] == "2026-12"


@pytest.mark.parametrize(
    ("at", "month"),
    [
        ("2027-01-01T06:00:00+00:00", "2026-12"),
        ("2027-01-31T23:59:59+00:00", "2026-12"),
        ("2026-03-01T00:00:00+00:00", "2026-02"),
        ("2024-03-01T06:00:00+00:00", "2024-02"),  # leap year
        ("2027-01-01T00:30:00+01:00", "2026-11"),  # 2026-12-31T23:30Z: still December in UTC
    ],
)
def test_previous_month(at: str, month: str):
    assert handler.previous_month(datetime.fromisoformat(at)) == month


def test_a_manual_run_names_its_month(hub, monkeypatch):
    monkeypatch.setenv("ISCHED_REPORT_COST_EXPLORER", "false")
    monkeypatch.delenv("ISCHED_REPORT_TOPIC")
    out = handler.process({"month": "2026-03"}, now=APRIL_FIRST)
    assert out["month"] == "2026-03" and out["published"] is False
    assert summaries(hub) == []
    for bad, why in (("2026-13", "is not a month"), ("2026-05", "has not begun"), (202603, "is not a month")):
        with pytest.raises(EventError, match=why):
            handler.process({"month": bad}, now=APRIL_FIRST)
    with pytest.raises(EventError, match="ahead of the real clock"):
        handler.process(scheduled_event("2026-04-02T06:00:00Z"), now=APRIL_FIRST)


def test_a_bad_prices_file_is_a_note_not_a_failure(hub, monkeypatch):
    monkeypatch.setenv("ISCHED_REPORT_COST_EXPLORER", "false")
    hub["s3"].put_object(Bucket=hub["bucket"], Key="config/prices.csv", Body=b"service,region,type,hourly_usd\nec2,x\n")
    handler.process({"month": "2026-03"}, now=APRIL_FIRST)
    body = hub["s3"].get_object(Bucket=hub["bucket"], Key="reports/2026-03/report.json")["Body"].read()
    report = json.loads(body)
    assert any(
        n.startswith(f"The prices file s3://{hub['bucket']}/config/prices.csv was not used") for n in report["notes"]
    )
    assert report["totals"]["unpriced_resources"] == 2  # no Price List API in this test: nothing is priced
    hub["s3"].delete_object(Bucket=hub["bucket"], Key="config/prices.csv")
    handler.process({"month": "2026-03"}, now=APRIL_FIRST)  # no prices file at all: not an error either
    report = json.loads(hub["s3"].get_object(Bucket=hub["bucket"], Key="reports/2026-03/report.json")["Body"].read())
    assert not any("config/prices.csv" in n for n in report["notes"])


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "ISCHED_REPORT_BUCKET"),
        ({"ISCHED_REPORT_BUCKET": "Not_A_Bucket"}, "ISCHED_REPORT_BUCKET"),
        ({"ISCHED_REPORT_BUCKET": "b-1", "ISCHED_REPORT_TOPIC": "reports"}, "ISCHED_REPORT_TOPIC"),
        ({"ISCHED_REPORT_BUCKET": "b-1", "ISCHED_REPORT_METRIC": "blended"}, "ISCHED_REPORT_METRIC"),
        ({"ISCHED_REPORT_BUCKET": "b-1", "ISCHED_REPORT_COST_EXPLORER": "yes please"}, "ISCHED_REPORT_COST_EXPLORER"),
        ({"ISCHED_REPORT_BUCKET": "b-1", "ISCHED_TAG_KEY": "aws:reserved"}, "ISCHED_TAG_KEY"),
    ],
)
def test_settings_errors_name_the_variable(env: dict[str, str], variable: str):
    with pytest.raises(SettingsError) as caught:
        handler.ReportSettings.from_env(env)
    assert caught.value.variable == variable and str(caught.value).startswith(f"{variable}: ")


def test_settings_defaults():
    s = handler.ReportSettings.from_env({"ISCHED_REPORT_BUCKET": "my-reports", "ISCHED_REPORT_PREFIX": "/monthly"})
    assert s.prefix == "monthly/" and s.key("2026-03", "csv") == "monthly/2026-03/report.csv"
    assert (s.topic_arn, s.metric, s.cost_explorer, s.pricing_api, s.linked_accounts) == (
        None, "unblended", True, True, False,
    )  # fmt: skip
