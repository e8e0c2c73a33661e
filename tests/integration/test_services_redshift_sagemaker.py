"""Redshift clusters and SageMaker notebook instances against a moto server over HTTP: adapters, full scheduling
passes through `isched run`, `isched tag` by name and ARN, and the savings report priced from a prices file.

Each test uses its own region or tag key (moto is shared by the tests of a process). moto quirks met here, which
the Stubber tests in tests/unit/test_redshift_sagemaker.py cover with AWS's own answers instead:
- PauseCluster / ResumeCluster go straight to ``paused`` / ``available`` (AWS: ``pausing`` / ``resuming`` first),
  and moto pauses a paused cluster without complaint (AWS: InvalidClusterState).
- DescribeClusters ignores MaxRecords and TagValues (it filters by TagKeys only).
- A new notebook instance is ``InService`` at once and stops to ``Stopped`` at once (AWS: Pending, Stopping).
- AddTags appends a tag whose key already exists instead of replacing it (ListTags then lists both; the last wins).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import boto3
import pytest

from scheduler.aws.session import reset_clients
from scheduler.engine import Observed
from scheduler.services import sagemaker as sagemaker_module
from scheduler.services.redshift import RedshiftAdapter
from scheduler.services.sagemaker import SageMakerAdapter

from .fault_proxy import FaultProxy
from .report_helpers import by_resource, report

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # moto's default account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/notebooks"
SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
# Monday 2 November 2026 and the next day (UTC, the schedule's zone).
MON8, MON9, MON10, MON12, MON17, TUE9 = (
    "2026-11-02T08:00:00Z",
    "2026-11-02T09:00:00Z",
    "2026-11-02T10:00:00Z",
    "2026-11-02T12:00:00Z",
    "2026-11-02T17:00:00Z",
    "2026-11-03T09:00:00Z",
)


def uid(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def make_cluster(region: str, tags: dict[str, str] | None, *, nodes: int = 2, node_type: str = "ra3.xlplus") -> str:
    name = uid("rs")
    boto3.client("redshift", region_name=region).create_cluster(
        ClusterIdentifier=name,
        NodeType=node_type,
        ClusterType="multi-node" if nodes > 1 else "single-node",
        NumberOfNodes=nodes,
        MasterUsername="admin",
        MasterUserPassword="Password123",
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )
    return name


def make_notebook(region: str, tags: dict[str, str] | None, *, name: str | None = None, volume: int = 20) -> str:
    name = name or uid("nb")
    kwargs: dict[str, Any] = {
        "NotebookInstanceName": name,
        "InstanceType": "ml.t3.medium",
        "RoleArn": ROLE,
        "VolumeSizeInGB": volume,
    }
    if tags:
        kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    boto3.client("sagemaker", region_name=region).create_notebook_instance(**kwargs)
    return name


def cluster_status(region: str, name: str) -> str:
    found = boto3.client("redshift", region_name=region).describe_clusters(ClusterIdentifier=name)["Clusters"]
    return str(found[0]["ClusterStatus"])


def notebook_status(region: str, name: str) -> str:
    sm = boto3.client("sagemaker", region_name=region)
    return str(sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"])


def cluster_tags(region: str, name: str) -> dict[str, str]:
    found = boto3.client("redshift", region_name=region).describe_clusters(ClusterIdentifier=name)["Clusters"][0]
    return {t["Key"]: t["Value"] for t in found.get("Tags", [])}


def notebook_tags(region: str, name: str) -> dict[str, str]:
    sm = boto3.client("sagemaker", region_name=region)
    arn = sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceArn"]
    return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}


# --- adapters ----------------------------------------------------------------------------------------------------


def test_redshift_discovers_tagged_clusters_pauses_resumes_and_tags_them(aws):
    region = "eu-west-3"
    key = uid("sched-")
    tagged = make_cluster(region, {key: " office ", "Team": "bi"}, nodes=3)
    other = make_cluster(region, {key: "nights"}, nodes=1, node_type="dc2.large")
    untagged = make_cluster(region, {"Team": "bi"})
    adapter = RedshiftAdapter(region, boto3.Session())
    found = {r.id: r for r in adapter.discover(key)}
    assert set(found) == {tagged, other} and untagged not in found
    r = found[tagged]
    assert (r.schedule, r.observed, r.instance_type) == ("office", Observed.RUNNING, "ra3.xlplus")
    assert r.details == {"kind": "cluster", "status": "available", "nodes": 3, "multi_az": False}
    assert found[other].instance_type == "dc2.large" and found[other].details["nodes"] == 1

    results = adapter.stop([r])
    assert [(x.resource, x.ok) for x in results] == [(tagged, True)]
    assert cluster_status(region, tagged) == "paused" and cluster_status(region, other) == "available"
    paused = {x.id: x for x in adapter.discover(key)}[tagged]
    assert paused.observed is Observed.STOPPED
    # Already paused: not asked again (Redshift would refuse with InvalidClusterState).
    assert adapter.stop([paused])[0].details["already"] is True

    assert adapter.start([paused], saved={})[0].ok
    assert cluster_status(region, tagged) == "available"

    # Tags are written by ARN, its account from STS (moto's DescribeClusters has no namespace ARN).
    written = adapter.set_tags({tagged: {"isched:last-action": "stop at 2026-11-02T17:00:00Z"}, other: {}})
    assert all(x.ok for x in written)
    assert cluster_tags(region, tagged)["isched:last-action"] == "stop at 2026-11-02T17:00:00Z"


def test_redshift_one_missing_cluster_fails_alone(aws):
    region = "eu-west-3"
    key = uid("sched-")
    real = make_cluster(region, {key: "office"})
    adapter = RedshiftAdapter(region, boto3.Session())
    resources = {r.id: r for r in adapter.discover(key)}
    gone = resources[real].__class__(**{**resources[real].__dict__, "id": uid("gone")})
    results = {x.resource: x for x in adapter.stop([gone, resources[real]])}
    assert not results[gone.id].ok and "ClusterNotFound" in (results[gone.id].error or "")
    assert results[real].ok and cluster_status(region, real) == "paused"


def test_sagemaker_discovers_by_tag_over_pages_stops_starts_and_tags(aws, monkeypatch):
    region = "eu-north-1"
    key = uid("sched-")
    monkeypatch.setattr(sagemaker_module, "PAGE_SIZE", 2)  # five notebooks: three pages
    tagged = [make_notebook(region, {key: "office", "Team": "ml"}, volume=30) for _ in range(3)]
    untagged = [make_notebook(region, {"Team": "ml"}), make_notebook(region, None)]
    adapter = SageMakerAdapter(region, boto3.Session())
    found = {r.id: r for r in adapter.discover(key)}
    assert set(found) == set(tagged) and not set(untagged) & set(found)
    r = found[tagged[0]]
    assert (r.schedule, r.observed, r.instance_type) == ("office", Observed.RUNNING, "ml.t3.medium")
    assert r.arn == f"arn:aws:sagemaker:{region}:{ACCOUNT}:notebook-instance/{tagged[0]}"

    stopped = adapter.stop([r])
    assert stopped[0].ok and stopped[0].details["billing_while_stopped"] == {"volume_gb": 30}
    assert notebook_status(region, tagged[0]) == "Stopped"
    assert notebook_status(region, tagged[1]) == "InService"
    again = {x.id: x for x in adapter.discover(key)}[tagged[0]]
    assert again.observed is Observed.STOPPED
    assert adapter.start([again], saved={})[0].ok
    assert notebook_status(region, tagged[0]) == "InService"

    # A last error with characters SageMaker refuses in tag values is written with them replaced.
    written = adapter.set_tags({tagged[1]: {"isched:last-error": "AccessDenied: 'no' <b>"}})
    assert written[0].ok
    assert notebook_tags(region, tagged[1])["isched:last-error"] == "AccessDenied: _no_ _b_"


def test_sagemaker_one_missing_notebook_fails_alone(aws):
    region = "eu-north-1"
    key = uid("sched-")
    real = make_notebook(region, {key: "office"})
    adapter = SageMakerAdapter(region, boto3.Session())
    resource = {r.id: r for r in adapter.discover(key)}[real]
    gone = resource.__class__(**{**resource.__dict__, "id": uid("gone")})
    results = {x.resource: x for x in adapter.stop([gone, resource])}
    assert not results[gone.id].ok and results[gone.id].error
    assert results[real].ok and notebook_status(region, real) == "Stopped"


# --- full passes through the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def world(deploy: Callable[[str, str], str]) -> Callable[[str], str]:
    """Points the CLI at ``region`` with the schedules applied; returns a fresh tag key for the test."""

    def prepare(region: str) -> str:
        deploy(region, SCHEDULES)
        return uid("sched-")

    return prepare


def run_pass(run: Callable[..., Any], at: str, key: str) -> dict[str, Any]:
    r = run("run", "--at", at, "--services", "redshift,sagemaker", "--tag-key", key, "--json")
    body: dict[str, Any] = r.json()
    body["exit"] = r.code
    return body


def acted(body: dict[str, Any]) -> dict[str, str]:
    return {a["resource"]: a["action"] for a in body["actions"]}


def test_passes_pause_resume_and_stop_start_on_schedule_and_respect_a_manual_change(run, world):
    region = "ca-central-1"
    key = world(region)
    cluster = make_cluster(region, {key: "office"})
    notebook = make_notebook(region, {key: "office"})

    # Monday 08:00: first seen in stopped time (stop_new_instances): both stopped.
    body = run_pass(run, MON8, key)
    assert body["exit"] == 0, body
    assert acted(body) == {cluster: "stop", notebook: "stop"}
    assert {a["service"] for a in body["actions"]} == {"redshift", "sagemaker"}
    assert (cluster_status(region, cluster), notebook_status(region, notebook)) == ("paused", "Stopped")
    assert cluster_tags(region, cluster)["isched:last-action"].startswith("stop")

    body = run_pass(run, MON9, key)
    assert acted(body) == {cluster: "start", notebook: "start"}
    assert (cluster_status(region, cluster), notebook_status(region, notebook)) == ("available", "InService")

    body = run_pass(run, MON10, key)
    assert body["exit"] == 0 and acted(body) == {}
    # Someone pauses the cluster by hand at 11:00: the noon pass (no transition) leaves it paused.
    boto3.client("redshift", region_name=region).pause_cluster(ClusterIdentifier=cluster)
    body = run_pass(run, MON12, key)
    assert body["exit"] == 0, body["errors"]
    assert acted(body) == {}
    assert cluster_status(region, cluster) == "paused" and notebook_status(region, notebook) == "InService"

    body = run_pass(run, MON17, key)
    assert acted(body) == {notebook: "stop"}  # the cluster is paused already: nothing to do
    assert (cluster_status(region, cluster), notebook_status(region, notebook)) == ("paused", "Stopped")
    body = run_pass(run, TUE9, key)
    assert acted(body) == {cluster: "start", notebook: "start"}
    assert (cluster_status(region, cluster), notebook_status(region, notebook)) == ("available", "InService")


@pytest.fixture
def proxy(moto_server: str) -> Iterator[FaultProxy]:
    p = FaultProxy(moto_server)
    yield p
    p.close()


def test_a_failing_cluster_is_isolated_and_retried_on_the_next_pass(run, world, proxy, moto_server, monkeypatch):
    region = "ap-south-2"
    key = world(region)
    clusters = sorted(make_cluster(region, {key: "office"}) for _ in range(2))
    notebook = make_notebook(region, {key: "office"})
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    reset_clients()
    first: list[int] = []

    def fail_first_pause(n: int, op: str) -> bool:
        if op == "redshift:PauseCluster" and not first:
            first.append(n)
            return True
        return False

    proxy.reset(fail_first_pause)
    try:
        body = run_pass(run, MON8, key)
    finally:
        proxy.reset()
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
        reset_clients()
    assert body["exit"] == 1
    errors = [e for e in body["errors"] if not e["error"].startswith("warning")]
    assert len(errors) == 1 and errors[0]["service"] == "redshift" and "AccessDenied" in errors[0]["error"]
    failed = errors[0]["resource"]
    paused = next(c for c in clusters if c != failed)
    assert acted(body) == {failed: "stop", paused: "stop", notebook: "stop"}  # attempted; the error says which failed
    assert cluster_status(region, failed) == "available"
    assert cluster_status(region, paused) == "paused" and notebook_status(region, notebook) == "Stopped"

    body = run_pass(run, "2026-11-02T08:10:00Z", key)  # the next pass retries the failed stop
    assert body["exit"] == 0 and acted(body) == {failed: "stop"}
    assert cluster_status(region, failed) == "paused"


# --- isched tag ----------------------------------------------------------------------------------------------------


def test_tag_by_name_and_arn_and_an_ambiguous_name(run, world):
    region = "sa-east-1"
    world(region)
    cluster = make_cluster(region, None)
    notebook = make_notebook(region, None, name=uid("Nb"))  # mixed case: its ARN is lower case
    both = uid("both")
    boto3.client("redshift", region_name=region).create_cluster(
        ClusterIdentifier=both,
        NodeType="dc2.large",
        ClusterType="single-node",
        MasterUsername="admin",
        MasterUserPassword="Password123",
    )
    make_notebook(region, None, name=both)

    r = run("tag", cluster, notebook, "--schedule", "office", "--json")
    assert r.code == 0, r.out
    out = {o["resource"]: o for o in r.json()["results"]}
    assert (out[cluster]["kind"], out[cluster]["id"], out[cluster]["previous"]) == ("redshift", cluster, None)
    assert out[cluster]["arn"] == f"arn:aws:redshift:{region}:{ACCOUNT}:cluster:{cluster}"
    assert (out[notebook]["kind"], out[notebook]["id"]) == ("sagemaker", notebook)
    assert cluster_tags(region, cluster)["Schedule"] == "office"
    assert notebook_tags(region, notebook)["Schedule"] == "office"

    cluster_arn = f"arn:aws:redshift:{region}:{ACCOUNT}:cluster:{cluster}"
    notebook_arn = f"arn:aws:sagemaker:{region}:{ACCOUNT}:notebook-instance/{notebook.lower()}"
    r = run("untag", cluster_arn, notebook_arn, "--json")
    assert r.code == 0, r.out
    assert "Schedule" not in cluster_tags(region, cluster)
    assert "Schedule" not in notebook_tags(region, notebook)

    r = run("tag", both, "--schedule", "office", "--json")
    assert r.code == 1
    assert "ambiguous" in r.out and "a Redshift cluster and a SageMaker notebook instance" in r.out
    assert "Schedule" not in cluster_tags(region, both)

    wrong_account = f"arn:aws:redshift:{region}:999999999999:cluster:{cluster}"
    r = run("tag", wrong_account, "--schedule", "office", "--json")
    assert r.code == 1 and "does not match the Redshift cluster found" in r.out
    assert "Schedule" not in cluster_tags(region, cluster)


# --- the savings report --------------------------------------------------------------------------------------------


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def hours(a: str, b: str) -> Decimal:
    start = datetime.fromisoformat(a.replace("Z", "+00:00")).astimezone(UTC)
    end = datetime.fromisoformat(b.replace("Z", "+00:00")).astimezone(UTC)
    return Decimal(int((end - start).total_seconds())) / Decimal(3600)


def test_report_prices_clusters_per_node_and_notebooks_per_instance_from_a_prices_file(run, world, write):
    region = "ap-southeast-4"
    key = world(region)
    cluster = make_cluster(region, {key: "office"}, nodes=3)
    notebook = make_notebook(region, {key: "office"}, volume=40)
    node, ml = Decimal("1.086"), Decimal("0.05")
    prices = write(
        f"service,region,type,hourly_usd\nredshift,{region},ra3.xlplus,{node}\nsagemaker,*,ml.t3.medium,{ml}\n",
        "prices.csv",
    )
    for at in (MON8, MON9, MON17, TUE9):
        assert run_pass(run, at, key)["exit"] == 0

    body = report(run, "--month", "2026-11", "--prices", prices)
    rows = by_resource(body)
    stopped = hours(MON8, MON9) + hours(MON17, TUE9)  # 1 h + 16 h
    rs, nb = rows[cluster], rows[notebook]
    assert (rs["service"], rs["type"], nb["service"], nb["type"]) == (
        "redshift",
        "ra3.xlplus",
        "sagemaker",
        "ml.t3.medium",
    )
    assert Decimal(str(rs["stopped_hours"])) == stopped == Decimal(str(nb["stopped_hours"]))
    assert Decimal(str(rs["hourly_price"])) == node * 3
    assert Decimal(str(rs["estimated_savings"])) == money(stopped * node * 3)
    assert Decimal(str(nb["hourly_price"])) == ml
    assert Decimal(str(nb["estimated_savings"])) == money(stopped * ml)
    assert Decimal(str(body["totals"]["estimated_savings"])) == money(stopped * node * 3) + money(stopped * ml)
    # What goes on billing while stopped: the notebook's 40 GB volume at $0.14 per GB-month, over 17 stopped hours.
    storage = nb["billing_while_stopped"]
    assert storage["storage_gb"] == 40
    assert Decimal(str(storage["estimated_cost"])) == money(stopped * 40 * Decimal("0.14") / 730)
    assert rs["billing_while_stopped"]["estimated_cost"] is None
    assert "storage" in rs["billing_while_stopped"]["what"]


def test_a_prices_file_refuses_types_of_the_wrong_service(run, world, write):
    world("ap-southeast-4")
    bad = write(
        "service,region,type,hourly_usd\nredshift,*,t3.large,1\nsagemaker,*,ml.t3,1\nsagemaker,*,t3.medium,1\n",
        "bad.csv",
    )
    r = run("report", "--month", "2026-11", "--prices", bad, "--no-pricing-api", "--json")
    assert r.code == 2
    error = r.json()["error"]
    assert "line 2: type: 't3.large' is not a Redshift node type" in error
    assert "line 3: type: 'ml.t3' is not a SageMaker ML instance type" in error
    assert "line 4: type: 't3.medium' is not a SageMaker ML instance type" in error
