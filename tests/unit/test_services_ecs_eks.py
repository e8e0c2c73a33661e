"""ECS services and EKS node groups without a server: pricing (prices file and Price List API), naming for `isched
tag`, report rows, and, with recorded API responses (botocore Stubber), what moto cannot do: tag an EKS node group
(the mirror of its saved sizes, informational tags, `isched tag`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from scheduler.engine import Observed
from scheduler.savings.breakdown import build_report
from scheduler.savings.keys import pricing_for
from scheduler.savings.price_api import PricingApi
from scheduler.savings.price_file import PricesFileError, parse_prices
from scheduler.savings.prices import PriceAnswer
from scheduler.savings.usage import month_usages
from scheduler.savings.valuation import price_of, value_usages
from scheduler.services import tagging
from scheduler.services.base import Resource
from scheduler.services.eks import SAVED_CAPACITY_TAG, EksAdapter
from scheduler.services.naming import InvalidResource
from scheduler.services.pricing import PriceQuery
from scheduler.store.state import ResourceRecord

ACCOUNT = "111111111111"
REGION = "eu-west-1"
ECS_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/shop/web"
NG_ARN = f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/k8s/nodes/0ac6f1e2-7d5b-4b1e-9c1a-2f1f3b4c5d6e"

FILE = parse_prices(
    "service,region,type,hourly_usd\n"
    "ecs,eu-west-1,fargate-vcpu,0.04048\n"
    "ecs,eu-west-1,fargate-gb,0.004445\n"
    "ecs,*,fargate-arm-vcpu,0.03238\n"
    "ecs,*,fargate-arm-gb,0.00356\n"
    "ec2,eu-west-1,t3.large,0.0912\n"
    "eks,eu-west-1,m5.large,0.1\n"
    "ec2,eu-west-1,m5.large,0.107\n"
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISCHED_PRICE_CACHE", str(tmp_path / "cache" / "prices.json"))


def lookup(query: PriceQuery) -> PriceAnswer:
    return FILE.lookup(query) or PriceAnswer(None, None, f"no price for {query.type}")


FARGATE = {"launch_type": "FARGATE", "cpu": "256", "memory": "512", "desired": 2}


# --- pricing ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "itype", "details", "capacity", "label", "units", "hourly"),
    [
        # 2 tasks × (0.25 vCPU × 0.04048 + 0.5 GB × 0.004445) = 0.020240 + 0.004445 = 0.024685
        pytest.param("ecs", None, FARGATE, None, "Fargate 0.25 vCPU 0.5 GB", 2, "0.024685", id="fargate"),
        # A stopped service (desired 0) is priced at the count its stop saved: 4 × 0.0123425
        pytest.param("ecs", None, {**FARGATE, "desired": 0}, {"desired": 4}, "Fargate 0.25 vCPU 0.5 GB", 4,
                     "0.049370", id="fargate-saved-count"),
        # 1 task × (1 vCPU × 0.03238 + 2 GB × 0.00356) = 0.0395
        pytest.param("ecs", None, {"launch_type": "FARGATE", "cpu": "1 vCPU", "memory": "2048", "desired": 1,
                                   "cpu_architecture": "ARM64"}, None, "Fargate ARM 1 vCPU 2 GB", 1, "0.0395",
                     id="fargate-arm-any-region-rows"),
        pytest.param("ecs", None, {**FARGATE, "launch_type": None, "capacity_providers": ["FARGATE"]}, None,
                     "Fargate 0.25 vCPU 0.5 GB", 2, "0.024685", id="fargate-capacity-provider"),
        pytest.param("ecs", None, {**FARGATE, "capacity_providers": ["FARGATE", "FARGATE_SPOT"]}, None,
                     "Fargate Spot 0.25 vCPU 0.5 GB", 2, None, id="fargate-spot-unpriced"),
        pytest.param("ecs", None, {"launch_type": "EC2", "desired": 3}, None, "EC2 launch type", 3, None,
                     id="ec2-launch-type-unpriced"),
        pytest.param("ecs", None, {**FARGATE, "os_family": "WINDOWS_SERVER_2022_CORE"}, None,
                     "Fargate 0.25 vCPU 0.5 GB", 2, None, id="fargate-windows-unpriced"),
        pytest.param("ecs", None, {"launch_type": "FARGATE", "desired": 1}, None, "Fargate", 1, None,
                     id="fargate-size-unknown"),
        pytest.param("ecs", None, {"launch_type": "FARGATE", "cpu": "256", "memory": "512"}, None,
                     "Fargate 0.25 vCPU 0.5 GB", 0, None, id="count-unknown"),
        # EKS: eks rows first, then ec2 rows; 3 × 0.1
        pytest.param("eks", "m5.large", {"desired": 3, "instance_types": ["m5.large"]}, None, "m5.large", 3, "0.3",
                     id="eks-own-rows-first"),
        pytest.param("eks", None, {"desired": 0, "instance_types": ["t3.large"]}, {"min": 1, "max": 4, "desired": 2},
                     "t3.large", 2, "0.1824", id="eks-saved-size-ec2-rows"),
        pytest.param("eks", None, {"desired": 2, "instance_types": ["t3.large", "m5.large"]}, None,
                     "m5.large, t3.large", 2, None, id="eks-several-types-unpriced"),
        pytest.param("eks", "t3.large", {"desired": 2, "instance_types": ["t3.large"], "capacity_type": "SPOT"},
                     None, "t3.large", 2, None, id="eks-spot-unpriced"),
    ],
)  # fmt: skip
def test_pricing(service, itype, details, capacity, label, units, hourly):
    pricing = pricing_for(service, REGION, itype, details, capacity)
    assert (pricing.type, pricing.units) == (label, units)
    price, _, notes = price_of(pricing, lookup)
    assert price == (Decimal(hourly) if hourly else None), notes
    if hourly is None:
        assert notes  # says why: never a silent $0


def test_windows_node_groups_are_priced_as_windows_instances():
    p = pricing_for("eks", REGION, "m5.large", {"desired": 1, "ami_type": "WINDOWS_CORE_2022_x86_64"})
    assert p.components[0].query.platform == "Windows" and p.components[0].query.origin == "eks"


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("ecs,eu-west-1,fargate-cpu,0.04", "'fargate-cpu' is not a unit of the Fargate price list"),
        ("ecs,eu-west-1,t3.large,0.04", "fargate-vcpu, fargate-gb"),
        ("eks,eu-west-1,fargate-vcpu,0.04", "is not an EC2 instance type"),
        ("eks,eu-west-1,db.t3.micro,0.04", "is not an EC2 instance type"),
    ],
)
def test_prices_file_types_of_ecs_and_eks_rows(row, needle):
    with pytest.raises(PricesFileError) as err:
        parse_prices(f"service,region,type,hourly_usd\n{row}\n")
    assert needle in str(err.value) and "line 2: type" in str(err.value)


def fargate_doc(usage: str, usd: str, unit: str = "hours") -> str:
    sku = f"SKU{abs(hash(usage)) % 10**8}"
    return json.dumps(
        {
            "product": {
                "productFamily": "Compute",
                "sku": sku,
                "attributes": {"servicecode": "AmazonECS", "regionCode": REGION, "usagetype": usage},
            },
            "serviceCode": "AmazonECS",
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "priceDimensions": {
                            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {"unit": unit, "pricePerUnit": {"USD": usd}}
                        }
                    }
                }
            },
        }
    )


def test_pricing_api_reads_fargate_rates_by_usage_type():
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stub = Stubber(client)
    documents = [
        fargate_doc("EU-Fargate-vCPU-Hours:perCPU", "0.0404800000"),
        fargate_doc("EU-Fargate-GB-Hours", "0.0044450000", "GB-Hours"),
        fargate_doc("EU-Fargate-ARM-vCPU-Hours:perCPU", "0.0323800000"),
        fargate_doc("EU-SpotUsage:Fargate-vCPU-Hours:perCPU", "0.0121000000"),
        fargate_doc("EU-Fargate-Windows-vCPU-Hours:perCPU", "0.0915000000"),
        fargate_doc("EU-Fargate-EphemeralStorage-GB-Hours", "0.0001110000"),
    ]
    where = {"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION}
    expected = {"ServiceCode": "AmazonECS", "Filters": [where], "FormatVersion": "aws_v1", "MaxResults": 100}
    stub.add_response("get_products", {"PriceList": documents[:3], "NextToken": "p2"}, expected)
    stub.add_response("get_products", {"PriceList": documents[3:]}, {**expected, "NextToken": "p2"})
    stub.add_response("get_products", {"PriceList": documents}, expected)
    stub.add_response("get_products", {"PriceList": documents}, expected)
    located = {"Type": "TERM_MATCH", "Field": "location", "Value": "EU (Ireland)"}
    stub.add_response("get_products", {"PriceList": []}, {**expected, "Filters": [located]})
    api = PricingApi(client)
    with stub:
        vcpu = api.hourly(PriceQuery("ecs", REGION, "fargate-vcpu"))
        gb = api.hourly(PriceQuery("ecs", REGION, "fargate-gb"))
        arm_gb = api.hourly(PriceQuery("ecs", REGION, "fargate-arm-gb"))
    assert vcpu == (Decimal("0.04048"), None) and gb == (Decimal("0.004445"), None)
    # No ARM GB product in this answer: unknown, and the location fallback (older data) is asked too.
    assert arm_gb[0] is None and "no on-demand rate" in (arm_gb[1] or "")
    stub.assert_no_pending_responses()
    assert api.requests == 5  # vCPU: two pages; GB: one; ARM GB: one by region code, one by location


# --- naming ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "ident"),
    [
        (ECS_ARN, "ecs", "shop/web"),
        (NG_ARN, "eks", "k8s/nodes"),
        ("shop/web", None, "shop/web"),
    ],
)
def test_parse_target(value, kind, ident):
    ref = tagging.parse_target(value, REGION)
    assert (ref.kind, ref.id) == (kind, ident)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/web", "short format"),
        (f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/shop/0123", "is not an ECS service ARN"),
        (f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/k8s", "is not an EKS node group ARN"),
        (f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/k8s/nodes", "is not an EKS node group ARN"),
    ],
)
def test_parse_target_refuses_other_arns(value, needle):
    with pytest.raises(InvalidResource, match=needle):
        tagging.parse_target(value, REGION)


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("shop/web", {"ecs", "eks", "asg"}),  # looked up as each; two found = ambiguous, refused
        ("web", {"asg", "rds", "rds-cluster", "redshift", "sagemaker"}),
        ("a/b/c", {"asg"}),
        ("-bad/web", {"ecs", "asg"}),  # EKS names start with a letter or digit
        (f"shop/{'x' * 64}", {"ecs", "asg"}),  # EKS node group names: at most 63 characters
    ],
)
def test_which_kinds_a_bare_name_is_looked_up_as(name, kinds):
    from scheduler.services.tagging.lookup import candidate_kinds

    assert set(candidate_kinds(tagging.parse_target(name, REGION))) == kinds


# --- report rows ---------------------------------------------------------------------------------------------------


def entry(at: str, action: str, resource: str, service: str, **extra: Any) -> dict[str, Any]:
    return {
        "at": at,
        "target": f"{ACCOUNT}#{REGION}#{service}",
        "account": ACCOUNT,
        "region": REGION,
        "service": service,
        "resource": resource,
        "schedule": "office",
        "action": action,
        "instance_type": extra.pop("instance_type", None),
        **extra,
    }


def test_report_rows_for_ecs_and_eks_priced_and_unpriced():
    stop, start = "2026-03-02T17:00:00+00:00", "2026-03-03T09:00:00+00:00"  # 16 hours stopped
    web = {**FARGATE, "desired": 3}
    jobs = {"launch_type": "EC2", "desired": 2}
    nodes = {"min": 1, "max": 4, "desired": 2, "instance_types": ["t3.large"]}
    entries = [
        entry(stop, "stop", "shop/web", "ecs", details=web, capacity={"desired": 3}),
        entry(start, "start", "shop/web", "ecs", details={**web, "desired": 0}),
        entry(stop, "stop", "shop/jobs", "ecs", details=jobs, capacity={"desired": 2}),
        entry(start, "start", "shop/jobs", "ecs", details={**jobs, "desired": 0}),
        entry(stop, "stop", "k8s/nodes", "eks", instance_type="t3.large", details=nodes, capacity=nodes),
        entry(start, "start", "k8s/nodes", "eks", instance_type="t3.large", details={**nodes, "desired": 0}),
    ]
    until = datetime(2026, 3, 3, 10, tzinfo=UTC)
    records: dict[Any, ResourceRecord] = {}
    rows = value_usages(month_usages("2026-03", until, entries, records), lookup)
    report = build_report("2026-03", until, rows)
    got = {r["resource"]: r for r in report["resources"]}
    # 16 h × 3 tasks × (0.25 × 0.04048 + 0.5 × 0.004445) = 16 × 0.0370275 = 0.59244
    assert (got["shop/web"]["service"], got["shop/web"]["type"], got["shop/web"]["units"]) == (
        "ecs",
        "Fargate 0.25 vCPU 0.5 GB",
        3,
    )
    assert got["shop/web"]["hourly_price"] == 0.037028 and got["shop/web"]["estimated_savings"] == 0.59
    assert got["shop/web"]["stopped_hours"] == 16.0
    # EC2 launch type: stopped hours known, price not (never $0).
    assert got["shop/jobs"]["stopped_hours"] == 16.0 and got["shop/jobs"]["hourly_price"] is None
    assert got["shop/jobs"]["estimated_savings"] is None and "container instances" in got["shop/jobs"]["note"]
    # 16 h × 2 × 0.0912 (ec2 row: no eks row for t3.large) = 2.9184
    assert got["k8s/nodes"]["hourly_price"] == 0.1824 and got["k8s/nodes"]["estimated_savings"] == 2.92
    assert report["totals"]["estimated_savings"] == 3.51 and report["totals"]["unpriced_resources"] == 1


# --- EKS with recorded responses: what moto cannot do ------------------------------------------------------------


def nodegroup(sizes: tuple[int, int, int], tags: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    low, high, desired = sizes
    return {
        "nodegroup": {
            "nodegroupName": "nodes",
            "nodegroupArn": NG_ARN,
            "clusterName": "k8s",
            "status": "ACTIVE",
            "capacityType": "ON_DEMAND",
            "scalingConfig": {"minSize": low, "maxSize": high, "desiredSize": desired},
            "instanceTypes": ["t3.large"],
            "amiType": "AL2_x86_64",
            "tags": {"Schedule": "office", **(tags or {})},
            **extra,
        }
    }


DESCRIBE = {"clusterName": "k8s", "nodegroupName": "nodes"}
UPDATE = {"update": {"id": "u-1", "status": "InProgress", "type": "ConfigUpdate"}}


def stubbed_adapter() -> tuple[EksAdapter, Stubber]:
    session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name=REGION)
    adapter = EksAdapter(REGION, session=session)
    return adapter, Stubber(adapter.client)


def resource() -> Resource:
    return Resource("eks", "k8s/nodes", "office", Observed.RUNNING, arn=NG_ARN)


def test_eks_stop_mirrors_the_sizes_in_a_tag_before_scaling_to_zero():
    adapter, stub = stubbed_adapter()
    stub.add_response("describe_nodegroup", nodegroup((2, 5, 3)), DESCRIBE)
    stub.add_response(
        "tag_resource", {}, {"resourceArn": NG_ARN, "tags": {SAVED_CAPACITY_TAG: "min=2,max=5,desired=3"}}
    )
    stub.add_response(
        "update_nodegroup_config",
        UPDATE,
        {**DESCRIBE, "scalingConfig": {"minSize": 0, "maxSize": 5, "desiredSize": 0}},
    )
    with stub:
        [result] = adapter.stop([resource()])
    stub.assert_no_pending_responses()
    assert result.ok and result.warning is None
    assert result.details == {"saved_capacity": {"min": 2, "max": 5, "desired": 3}}


def test_eks_stop_goes_on_when_the_mirror_is_refused_and_says_so():
    adapter, stub = stubbed_adapter()
    stub.add_response("describe_nodegroup", nodegroup((1, 3, 1)), DESCRIBE)
    stub.add_client_error("tag_resource", "AccessDeniedException", "not authorized to perform: eks:TagResource")
    stub.add_response(
        "update_nodegroup_config",
        UPDATE,
        {**DESCRIBE, "scalingConfig": {"minSize": 0, "maxSize": 3, "desiredSize": 0}},
    )
    with stub:
        [result] = adapter.stop([resource()])
    assert result.ok and result.details["saved_capacity"] == {"min": 1, "max": 3, "desired": 1}
    assert "AccessDeniedException" in (result.warning or "") and "state table holds them" in (result.warning or "")


def test_eks_start_falls_back_on_the_tag_and_refuses_unusable_sizes():
    adapter, stub = stubbed_adapter()
    stub.add_response(
        "describe_nodegroup", nodegroup((0, 5, 0), {SAVED_CAPACITY_TAG: "min=2,max=5,desired=3"}), DESCRIBE
    )
    stub.add_response(
        "update_nodegroup_config",
        UPDATE,
        {**DESCRIBE, "scalingConfig": {"minSize": 2, "maxSize": 5, "desiredSize": 3}},
    )
    stub.add_response(
        "describe_nodegroup", nodegroup((0, 5, 0), {SAVED_CAPACITY_TAG: "min=4,max=2,desired=3"}), DESCRIBE
    )
    with stub:
        [restored] = adapter.start([resource()], saved={})
        [refused] = adapter.start([resource()], saved={"k8s/nodes": {"saved_capacity": {"min": 0, "max": 0}}})
    stub.assert_no_pending_responses()
    assert restored.ok and restored.details["capacity"] == {"min": 2, "max": 5, "desired": 3}
    assert (
        not refused.ok
        and "the stored sizes" in (refused.error or "")
        and "min <= desired <= max" in (refused.error or "")
    )


def test_eks_informational_tags_use_the_arn_found_at_discovery():
    adapter, stub = stubbed_adapter()
    stub.add_response("list_clusters", {"clusters": ["k8s"]}, {"maxResults": 100})
    stub.add_response("list_nodegroups", {"nodegroups": ["nodes"]}, {"clusterName": "k8s", "maxResults": 100})
    stub.add_response("describe_nodegroup", nodegroup((1, 2, 1)), DESCRIBE)
    stub.add_response("tag_resource", {}, {"resourceArn": NG_ARN, "tags": {"isched:last-action": "stop 2026"}})
    with stub:
        [found] = adapter.discover("Schedule")
        [tagged] = adapter.set_tags({"k8s/nodes": {"isched:last-action": "stop 2026"}})
    stub.assert_no_pending_responses()
    assert found.id == "k8s/nodes" and found.instance_type == "t3.large" and tagged.ok


class StubClients:
    """A ClientSource whose clients answer recorded responses."""

    def __init__(self) -> None:
        session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name=REGION)
        self.clients = {name: session.client(name) for name in ("eks", "ecs", "autoscaling")}
        self.stubs = {name: Stubber(c) for name, c in self.clients.items()}

    def get(self, service: str, region: str) -> Any:
        return self.clients[service]

    def partition(self, region: str) -> str:
        return "aws"


def test_isched_tag_an_eks_node_group_by_name_and_by_arn():
    clients = StubClients()
    # The name is looked up as every kind that may have it: no Auto Scaling group, no ECS service has it.
    clients.stubs["autoscaling"].add_response("describe_auto_scaling_groups", {"AutoScalingGroups": []})
    missing = [{"arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/nodes", "reason": "MISSING"}]
    clients.stubs["ecs"].add_response(
        "describe_services",
        {"services": [], "failures": missing},
        {"cluster": "k8s", "services": ["nodes"], "include": ["TAGS"]},
    )
    # Name and ARN name the same node group: one lookup, one tag write.
    clients.stubs["eks"].add_response("describe_nodegroup", nodegroup((1, 2, 1)), DESCRIBE)
    clients.stubs["eks"].add_response("tag_resource", {}, {"resourceArn": NG_ARN, "tags": {"Schedule": "nights"}})
    refs = [tagging.parse_target("k8s/nodes", REGION), tagging.parse_target(NG_ARN, REGION)]
    for stub in clients.stubs.values():
        stub.activate()
    outcomes = tagging.tag_targets(refs, "Schedule", "nights", clients)  # type: ignore[arg-type]
    for stub in clients.stubs.values():
        stub.assert_no_pending_responses()
    assert [(o.ok, o.kind, o.id, o.arn) for o in outcomes] == [(True, "eks", "k8s/nodes", NG_ARN)] * 2
    assert outcomes[0].previous == "office"
