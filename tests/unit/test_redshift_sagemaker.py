"""Redshift and SageMaker without a server: states, names and ARNs, pricing (the Price List API through a Stubber
with recorded-shape products, and prices files), and AWS's own answers where moto differs (a pause answers
``pausing``; a pause of a paused cluster is InvalidClusterState; a notebook stop answers nothing and the notebook
is ``Stopping``; ListTags refused for one notebook)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from scheduler.engine import Observed
from scheduler.savings.price_api import PricingApi
from scheduler.savings.price_book import PriceBook
from scheduler.savings.price_cache import PRICE_TTL, JsonCache
from scheduler.savings.price_file import PricesFileError, parse_prices
from scheduler.services import redshift, registry, sagemaker
from scheduler.services.base import Resource
from scheduler.services.naming import InvalidResource
from scheduler.services.pricing import PriceQuery

REGION = "eu-west-1"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("available", Observed.RUNNING),
        ("paused", Observed.STOPPED),
        ("pausing", Observed.STOPPING),
        ("resuming", Observed.STARTING),
        ("modifying", Observed.OTHER),
        ("resizing", Observed.OTHER),
        ("creating", Observed.OTHER),
        (None, Observed.OTHER),
    ],
)
def test_redshift_states(status, expected):
    assert redshift.observed(status) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("InService", Observed.RUNNING),
        ("Stopped", Observed.STOPPED),
        ("Stopping", Observed.STOPPING),
        ("Pending", Observed.STARTING),
        ("Failed", Observed.OTHER),
        ("Updating", Observed.OTHER),
        ("Deleting", Observed.OTHER),
        ("", Observed.OTHER),
    ],
)
def test_sagemaker_states(status, expected):
    assert sagemaker.observed(status) is expected


def test_both_services_are_registered_in_order():
    assert registry.SERVICES == ("ec2", "asg", "rds", "ecs", "eks", "redshift", "sagemaker")
    assert registry.of_kind("redshift").name == "redshift" and registry.of_kind("sagemaker").name == "sagemaker"


@pytest.mark.parametrize(
    ("service", "resource", "expected"),
    [
        ("redshift", "cluster:analytics-1", ("redshift", "analytics-1")),
        ("redshift", "cluster:Analytics", ("redshift", "analytics")),
        ("redshift", "snapshot:analytics/snap", None),
        ("redshift", "cluster:", None),
        ("redshift", "cluster:1abc", None),
        ("redshift", "cluster:a/b", None),
        ("sagemaker", "notebook-instance/team-nb-1", ("sagemaker", "team-nb-1")),
        ("sagemaker", "notebook-instance/Team-NB", ("sagemaker", "team-nb")),
        ("sagemaker", "notebook-instance/-bad", None),
        ("sagemaker", "endpoint/serving", None),
        ("sagemaker", "notebook-instance/a b", None),
        ("sagemaker", "notebook-instance/" + "a" * 64, None),
    ],
)
def test_arns(service, resource, expected):
    svc = registry.get(service)
    if expected is None:
        with pytest.raises(InvalidResource):
            svc.parse_arn(f"arn:aws:{service}:{REGION}:123456789012:{resource}", resource)
    else:
        assert svc.parse_arn("x", resource) == expected


@pytest.mark.parametrize(
    ("text", "redshift_kinds", "sagemaker_kinds"),
    [
        ("analytics", ("redshift",), ("sagemaker",)),
        ("Team-NB-1", ("redshift",), ("sagemaker",)),
        ("1notebook", (), ("sagemaker",)),  # a cluster identifier starts with a letter
        ("nb--x", ("redshift",), ("sagemaker",)),
        ("a_b", (), ()),
        ("a" * 64, (), ()),
        ("x\n", (), ()),
        ("'; drop", (), ()),
    ],
)
def test_names_each_service_would_accept(text, redshift_kinds, sagemaker_kinds):
    assert registry.get("redshift").kinds_for_name(text) == redshift_kinds
    assert registry.get("sagemaker").kinds_for_name(text) == sagemaker_kinds


# --- pricing -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("details", "units", "count", "label", "problem"),
    [
        ({"nodes": 2}, 2, 2, "ra3.xlplus", None),
        ({"nodes": Decimal(4)}, 4, 4, "ra3.xlplus", None),  # read back from DynamoDB
        ({"nodes": 2, "multi_az": True}, 2, 4, "ra3.xlplus (Multi-AZ)", None),
        ({}, 0, None, "ra3.xlplus", "the number of nodes is unknown"),
        ({"nodes": "x"}, 0, None, "ra3.xlplus", "the number of nodes is unknown"),
    ],
)
def test_redshift_prices_node_type_times_nodes(details, units, count, label, problem):
    pricing = registry.get("redshift").pricing(REGION, "ra3.xlplus", details, None)
    assert (pricing.units, pricing.type, pricing.problem) == (units, label, problem)
    if count is None:
        assert pricing.components == ()
    else:
        (component,) = pricing.components
        assert component.count == count and component.query == PriceQuery("redshift", REGION, "ra3.xlplus")


def test_sagemaker_prices_one_instance_and_estimates_its_volume():
    svc = registry.get("sagemaker")
    pricing = svc.pricing(REGION, "ml.t3.medium", {}, None)
    assert pricing.components[0].query == PriceQuery("sagemaker", REGION, "ml.t3.medium") and pricing.units == 1
    assert svc.pricing(REGION, None, {}, None).problem == "the instance type is unknown"
    billed = svc.billing_while_stopped({"billing_while_stopped": {"volume_gb": 50}}, Decimal(73))
    assert billed["estimated_cost"] == Decimal(73) * 50 * Decimal("0.14") / 730  # $0.70
    assert svc.billing_while_stopped({}, Decimal(10))["estimated_cost"] is None


def product(attrs: dict[str, str], usd: str, unit: str = "Hrs") -> str:
    """A GetProducts PriceList entry in the shape AWS returns it (a JSON string)."""
    return json.dumps(
        {
            "product": {"productFamily": "x", "attributes": attrs, "sku": "SKU"},
            "serviceCode": "x",
            "terms": {
                "OnDemand": {
                    "SKU.JRTCKXETXF": {
                        "priceDimensions": {"SKU.JRTCKXETXF.6YS6EN2CT7": {"unit": unit, "pricePerUnit": {"USD": usd}}},
                        "sku": "SKU",
                    }
                }
            },
        }
    )


def api_with(stubbed: list[tuple[dict[str, Any], list[str]]]) -> tuple[PricingApi, Stubber]:
    pricing = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s").client("pricing", region_name="us-east-1")
    stub = Stubber(pricing)
    for params, documents in stubbed:
        stub.add_response("get_products", {"PriceList": documents, "FormatVersion": "aws_v1"}, params)
    stub.activate()
    return PricingApi(pricing), stub


def expected_params(code: str, filters: list[dict[str, str]]) -> dict[str, Any]:
    return {"ServiceCode": code, "Filters": filters, "FormatVersion": "aws_v1", "MaxResults": 100}


def tm(field: str, value: str) -> dict[str, str]:
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


def test_redshift_price_list_query_and_choice():
    filters = [tm("instanceType", "ra3.xlplus"), tm("regionCode", REGION), tm("productFamily", "Compute Instance")]
    node = {"instanceType": "ra3.xlplus", "usagetype": "EU-Node:ra3.xlplus", "regionCode": REGION}
    other = {"instanceType": "ra3.xlplus", "usagetype": "EU-CS:ra3.xlplus", "regionCode": REGION}  # not a node-hour
    api, stub = api_with(
        [(expected_params("AmazonRedshift", filters), [product(other, "9.99"), product(node, "1.188")])]
    )
    assert api.hourly(PriceQuery("redshift", REGION, "ra3.xlplus")) == (Decimal("1.188"), None)
    stub.assert_no_pending_responses()


def test_sagemaker_price_list_query_and_choice_then_location_fallback():
    query = PriceQuery("sagemaker", REGION, "ml.t3.medium")
    notebook = {"instanceType": "ml.t3.medium-Notebook", "usagetype": "EU-Notebk:ml.t3.medium"}
    hosting = {"instanceType": "ml.t3.medium-Hosting", "usagetype": "EU-Host:ml.t3.medium"}
    by_code = [tm("instanceType", "ml.t3.medium-Notebook"), tm("regionCode", REGION)]
    by_location = [tm("instanceType", "ml.t3.medium-Notebook"), tm("location", "EU (Ireland)")]
    api, stub = api_with(
        [
            (expected_params("AmazonSageMaker", by_code), [product(hosting, "0.056")]),  # not a notebook's rate
            (expected_params("AmazonSageMaker", by_location), [product(notebook, "0.0545")]),
        ]
    )
    assert api.hourly(query) == (Decimal("0.0545"), None)
    stub.assert_no_pending_responses()


def test_no_price_in_the_price_list_is_unknown_not_zero(tmp_path):
    filters = [tm("instanceType", "ml.p9.huge-Notebook"), tm("regionCode", "us-east-1")]
    located = [tm("instanceType", "ml.p9.huge-Notebook"), tm("location", "US East (N. Virginia)")]
    api, _ = api_with(
        [
            (expected_params("AmazonSageMaker", filters), []),
            (expected_params("AmazonSageMaker", located), []),
        ]
    )
    book = PriceBook(api=api, cache=JsonCache(tmp_path / "p.json", PRICE_TTL))
    answer = book.price(PriceQuery("sagemaker", "us-east-1", "ml.p9.huge"))
    assert answer.hourly is None
    assert answer.note == "the Price List API has no on-demand rate for sagemaker ml.p9.huge in us-east-1"


def test_prices_file_rows_price_their_own_service_only():
    table = parse_prices(
        "service,region,type,hourly_usd\n"
        "redshift,eu-west-1,ra3.xlplus,1.188\n"
        "redshift,*,dc2.large,0.25\n"
        "sagemaker,eu-west-1,ml.t3.medium,0.0545\n"
        "ec2,eu-west-1,t3.medium,0.0456\n"
    )
    book = PriceBook(table, use_api=False)
    assert book.price(PriceQuery("redshift", REGION, "ra3.xlplus")).hourly == Decimal("1.188")
    assert book.price(PriceQuery("redshift", "us-east-1", "dc2.large")).hourly == Decimal("0.25")
    assert book.price(PriceQuery("sagemaker", REGION, "ml.t3.medium")).hourly == Decimal("0.0545")
    # An EC2 row never prices a notebook of the "same" size, nor the reverse.
    assert book.price(PriceQuery("sagemaker", REGION, "ml.t3.medium")).source == "file"
    missing = book.price(PriceQuery("sagemaker", "us-east-1", "ml.t3.medium"))
    assert (
        missing.hourly is None and missing.note == "no price for sagemaker ml.t3.medium in us-east-1 in the prices file"
    )
    assert book.price(PriceQuery("ec2", REGION, "ml.t3.medium")).hourly is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("redshift,*,db.t3.micro,1", "'db.t3.micro' is not a Redshift node type (e.g. ra3.xlplus)"),
        ("redshift,*,ra3,1", "'ra3' is not a Redshift node type"),
        ("redshift,*,RA3.XLPLUS,1", "'RA3.XLPLUS' is not a Redshift node type"),
        ("sagemaker,*,t3.medium,1", "'t3.medium' is not a SageMaker ML instance type (e.g. ml.t3.medium)"),
        ("sagemaker,*,ml.t3.medium-Notebook,1", "'ml.t3.medium-Notebook' is not a SageMaker ML instance type"),
        ("sagemaker,*,ml.t3.medium:multi-az,1", "is not a SageMaker ML instance type"),
        ("sagemaker,*,=HYPERLINK(1),1", "'=HYPERLINK(1)' is not a SageMaker ML instance type"),
    ],
)
def test_prices_file_types_are_checked_per_service(row, message):
    with pytest.raises(PricesFileError) as info:
        parse_prices(f"service,region,type,hourly_usd\n{row}\n")
    assert message in str(info.value) and "line 2: type" in str(info.value)


# --- AWS's answers where moto differs ------------------------------------------------------------------------------


def session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name=REGION)


def resource(service: str, ident: str, observed: Observed) -> Resource:
    return Resource(service=service, id=ident, schedule="office", observed=observed)


def cluster_shape(ident: str, status: str) -> dict[str, Any]:
    return {"ClusterIdentifier": ident, "NodeType": "ra3.xlplus", "ClusterStatus": status, "NumberOfNodes": 2}


def test_redshift_pause_answers_pausing_and_a_refused_pause_fails_alone():
    adapter = redshift.RedshiftAdapter(REGION, session())
    with Stubber(adapter.client) as stub:
        stub.add_client_error(
            "pause_cluster",
            service_error_code="InvalidClusterState",
            service_message="The specified cluster is not in the available state.",
            http_status_code=400,
            expected_params={"ClusterIdentifier": "busy"},
        )
        stub.add_response(
            "pause_cluster", {"Cluster": cluster_shape("ok", "pausing")}, expected_params={"ClusterIdentifier": "ok"}
        )
        results = adapter.stop(
            [resource("redshift", "busy", Observed.OTHER), resource("redshift", "ok", Observed.RUNNING)]
        )
    assert [(r.resource, r.ok) for r in results] == [("busy", False), ("ok", True)]
    assert results[0].error == "InvalidClusterState: The specified cluster is not in the available state."
    assert results[1].details == {"status": "pausing"}


def test_redshift_discovery_pages_and_the_account_of_the_namespace_arn():
    adapter = redshift.RedshiftAdapter(REGION, session())
    namespace = f"arn:aws:redshift:{REGION}:210987654321:namespace:0f0e-1"
    first = {**cluster_shape("a", "resuming"), "Tags": [{"Key": "Schedule", "Value": "office"}]}
    first["ClusterNamespaceArn"] = namespace
    second = {**cluster_shape("b", "paused"), "Tags": [{"Key": "Schedule", "Value": "nights"}], "MultiAZ": "Enabled"}
    with Stubber(adapter.client) as stub:
        stub.add_response(
            "describe_clusters", {"Clusters": [first], "Marker": "m1"}, {"TagKeys": ["Schedule"], "MaxRecords": 100}
        )
        stub.add_response(
            "describe_clusters", {"Clusters": [second]}, {"TagKeys": ["Schedule"], "MaxRecords": 100, "Marker": "m1"}
        )
        found = adapter.discover("Schedule")
        stub.add_response(
            "create_tags",
            {},
            {
                "ResourceName": f"arn:aws:redshift:{REGION}:210987654321:cluster:b",
                "Tags": [{"Key": "isched:last-action", "Value": "x" * 256}],
            },
        )
        assert adapter.set_tags({"b": {"isched:last-action": "x" * 300}})[0].ok  # cut to 256, no STS call
    assert [(r.id, r.observed, r.details["multi_az"]) for r in found] == [
        ("a", Observed.STARTING, False),
        ("b", Observed.STOPPED, True),
    ]


def test_sagemaker_a_notebook_whose_tags_cannot_be_read_is_left_out_with_a_warning():
    adapter = sagemaker.SageMakerAdapter(REGION, session())
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:notebook-instance/"
    summaries = [
        {"NotebookInstanceName": n, "NotebookInstanceArn": arn + n.lower(), "NotebookInstanceStatus": s}
        for n, s in (("Locked", "InService"), ("Team-NB", "Pending"))
    ]
    for s in summaries:
        s["InstanceType"] = "ml.t3.medium"
    with Stubber(adapter.client) as stub:
        stub.add_response("list_notebook_instances", {"NotebookInstances": summaries}, {"MaxResults": 100})
        stub.add_client_error(
            "list_tags",
            service_error_code="AccessDeniedException",
            service_message="not authorized",
            expected_params={"ResourceArn": arn + "locked", "MaxResults": 100},
        )
        stub.add_response(
            "list_tags",
            {"Tags": [{"Key": "Schedule", "Value": "office"}]},
            {"ResourceArn": arn + "team-nb", "MaxResults": 100},
        )
        found = adapter.discover("Schedule")
    assert [(r.id, r.observed, r.arn) for r in found] == [("Team-NB", Observed.STARTING, arn + "team-nb")]
    assert adapter.warnings == [
        f"cannot read the tags of SageMaker notebook instance Locked in {REGION}: AccessDeniedException: not authorized"
    ]


def test_sagemaker_stop_is_asked_once_per_notebook_and_a_refusal_fails_alone():
    adapter = sagemaker.SageMakerAdapter(REGION, session())
    with Stubber(adapter.client) as stub:
        stub.add_client_error(
            "stop_notebook_instance",
            service_error_code="ValidationException",
            service_message="Status (Pending) not in ([InService]). Unable to transition to (Stopping)",
            expected_params={"NotebookInstanceName": "starting"},
        )
        stub.add_response("stop_notebook_instance", {}, {"NotebookInstanceName": "up"})
        stub.add_response("describe_notebook_instance", {"VolumeSizeInGB": 25}, {"NotebookInstanceName": "up"})
        results = adapter.stop(
            [
                resource("sagemaker", "starting", Observed.OTHER),
                resource("sagemaker", "up", Observed.RUNNING),
                resource("sagemaker", "down", Observed.STOPPED),  # already stopped: not asked
            ]
        )
    assert [(r.resource, r.ok) for r in results] == [("starting", False), ("up", True), ("down", True)]
    assert "ValidationException: Status (Pending)" in (results[0].error or "")
    assert results[1].details == {"status": "Stopping", "billing_while_stopped": {"volume_gb": 25}}
    assert results[2].details["already"] is True
