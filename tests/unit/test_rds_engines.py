"""RDS-family engines without AWS: which price list and filters each engine's instances are priced with, how an
Aurora, Neptune, DocumentDB or Multi-AZ DB cluster is priced and labelled, what a prices file row for each looks
like, and the per-engine rules (global clusters, billing under the tag, storage while stopped)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from scheduler.savings.price_api import choose_price, rds_filters, rds_service_code
from scheduler.savings.price_file import PricesFileError, parse_prices
from scheduler.savings.prices import PriceAnswer
from scheduler.savings.valuation import price_of
from scheduler.services.pricing import PriceQuery, cluster_family
from scheduler.services.rds import SERVICE
from scheduler.services.rds_stoppable import cluster_unschedulable

REGION = "us-east-1"


def m(field: str, value: str) -> dict[str, str]:
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


@pytest.mark.parametrize(
    ("engine", "family", "code"),
    [
        ("aurora-postgresql", "Aurora", "AmazonRDS"),
        ("aurora-mysql", "Aurora", "AmazonRDS"),
        ("aurora", "Aurora", "AmazonRDS"),
        ("neptune", "Neptune", "AmazonNeptune"),
        ("NEPTUNE", "Neptune", "AmazonNeptune"),
        ("docdb", "DocumentDB", "AmazonDocDB"),
        ("postgres", None, "AmazonRDS"),
        ("mysql", None, "AmazonRDS"),
        ("docdb-elastic", None, "AmazonRDS"),
        ("", None, "AmazonRDS"),
        (None, None, "AmazonRDS"),
    ],
)
def test_engine_family_and_price_list(engine: str | None, family: str | None, code: str) -> None:
    assert cluster_family(engine) == family
    assert rds_service_code(engine) == code


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        # Neptune's and DocumentDB's price lists have one product per class: no engine or deployment attribute.
        (
            "neptune",
            [m("instanceType", "db.r5.large"), m("regionCode", REGION), m("productFamily", "Database Instance")],
        ),
        ("docdb", [m("instanceType", "db.r5.large"), m("regionCode", REGION), m("productFamily", "Database Instance")]),
        (
            "aurora-postgresql",
            [
                m("instanceType", "db.r5.large"),
                m("regionCode", REGION),
                m("databaseEngine", "Aurora PostgreSQL"),
                m("productFamily", "Database Instance"),
            ],
        ),
        (
            "mysql",
            [
                m("instanceType", "db.r5.large"),
                m("regionCode", REGION),
                m("databaseEngine", "MySQL"),
                m("productFamily", "Database Instance"),
                m("deploymentOption", "Single-AZ"),
            ],
        ),
        ("cassandra", None),
    ],
)
def test_rds_filters_per_engine(engine: str, expected: list[dict[str, str]] | None) -> None:
    assert rds_filters(PriceQuery("rds", REGION, "db.r5.large", engine=engine)) == expected


def test_neptune_filters_fall_back_to_the_location_name() -> None:
    located = rds_filters(PriceQuery("rds", "eu-west-1", "db.r6g.large", engine="neptune"), by_location=True)
    assert located is not None and located[1] == m("location", "EU (Ireland)")


def cluster(engine: str, *classes: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "cluster",
        "engine": engine,
        "members": [{"id": f"m{i}", "class": c, "writer": i == 0} for i, c in enumerate(classes)],
        **extra,
    }


@pytest.mark.parametrize(
    ("details", "label", "units", "queries", "problem"),
    [
        pytest.param(
            cluster("neptune", "db.r5.large", "db.r5.large"),
            "db.r5.large",
            2,
            [("db.r5.large", 2, "neptune", "single-az", None)],
            None,
            id="neptune-two-members",
        ),
        pytest.param(
            cluster("docdb", "db.r6g.large", "db.r6g.xlarge", "db.r6g.large", storage_type="iopt1"),
            "2×db.r6g.large + db.r6g.xlarge",
            3,
            [("db.r6g.large", 2, "docdb", "single-az", "iopt1"), ("db.r6g.xlarge", 1, "docdb", "single-az", "iopt1")],
            None,
            id="docdb-mixed-io-optimized",
        ),
        pytest.param(
            cluster("docdb", "db.t4g.medium", storage_type="standard"),
            "db.t4g.medium",
            1,
            [("db.t4g.medium", 1, "docdb", "single-az", None)],
            None,
            id="docdb-standard-storage",
        ),
        pytest.param(
            cluster("neptune", "db.serverless"),
            "db.serverless",
            1,
            [],
            "Neptune serverless members are billed per NCU-hour, not per instance",
            id="neptune-serverless",
        ),
        pytest.param(
            cluster("docdb", "db.serverless", "db.r6g.large"),
            "db.r6g.large + db.serverless",
            2,
            [],
            "DocumentDB serverless members are billed per DCU-hour, not per instance",
            id="docdb-serverless-member",
        ),
        pytest.param(
            cluster("neptune"), None, 0, [], "the cluster has no member instances known to the ledger", id="no-members"
        ),
        pytest.param(
            cluster("neptune", None), None, 1, [], "a member's DB instance class is unknown", id="member-class-unknown"
        ),
        pytest.param(
            cluster("aurora-postgresql", "db.r6g.large", storage_type="aurora-iopt1"),
            "db.r6g.large",
            1,
            [("db.r6g.large", 1, "aurora-postgresql", "single-az", "aurora-iopt1")],
            None,
            id="aurora-unchanged",
        ),
        pytest.param(
            cluster("postgres", "db.m6gd.large", "db.m6gd.large", "db.m6gd.large"),
            "db.m6gd.large",
            3,
            [("db.m6gd.large", 1, "postgres", "multi-az-cluster", None)],
            None,
            id="multi-az-db-cluster-unchanged",
        ),
    ],
)
def test_cluster_pricing_per_engine(
    details: dict[str, Any], label: str | None, units: int, queries: list[tuple[Any, ...]], problem: str | None
) -> None:
    pricing = SERVICE.pricing(REGION, None, details, None)
    assert (pricing.type, pricing.units, pricing.problem) == (label, units, problem)
    got = [(c.query.type, c.count, c.query.engine, c.query.deployment, c.query.storage) for c in pricing.components]
    assert got == queries
    assert all(c.query.service == "rds" and c.query.region == REGION for c in pricing.components)


@pytest.mark.parametrize(
    ("engine", "under_own_tag"),
    [("neptune", False), ("docdb", False), ("aurora-mysql", False), ("postgres", True)],
)
def test_cluster_members_are_billed_not_the_cluster(engine: str, under_own_tag: bool) -> None:
    pricing = SERVICE.pricing(REGION, None, cluster(engine, "db.r5.large", "db.r5.large", "db.r5.large"), None)
    assert SERVICE.billed_under_own_tag(pricing) is under_own_tag


PRICES = """service,region,type,hourly_usd
rds,*,db.r5.large,0.25
rds,*,db.r5.large:neptune,0.348
rds,us-east-1,db.r5.large:docdb,0.277
rds,*,db.r5.large:multi-az,0.5
"""


@pytest.mark.parametrize(
    ("region", "engine", "deployment", "hourly", "note"),
    [
        (REGION, "neptune", "single-az", "0.348", None),  # its own row wins over the class's
        ("eu-west-1", "neptune", "single-az", "0.348", None),  # * rows apply anywhere
        (REGION, "docdb", "single-az", "0.277", None),
        ("eu-west-1", "docdb", "single-az", "0.25", None),  # no docdb row there: the plain class's rate
        (REGION, "aurora-postgresql", "single-az", "0.25", None),
        (REGION, "postgres", "multi-az", "0.5", None),
    ],
)
def test_prices_file_rows_per_engine(region: str, engine: str, deployment: str, hourly: str, note: str | None) -> None:
    table = parse_prices(PRICES)
    answer = table.lookup(PriceQuery("rds", region, "db.r5.large", engine=engine, deployment=deployment))
    assert answer == PriceAnswer(Decimal(hourly), "file", note)


def test_a_cluster_is_priced_as_its_members_from_the_file() -> None:
    table = parse_prices(PRICES)
    pricing = SERVICE.pricing(REGION, None, cluster("neptune", "db.r5.large", "db.r5.large"), None)
    hourly, source, notes = price_of(pricing, lambda q: table.lookup(q) or PriceAnswer(None))
    assert (hourly, source, notes) == (Decimal("0.696"), "file", [])  # 2 × 0.348


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("rds,*,db.r5.large:aurora,0.2", "is not a DB instance class"),
        ("rds,*,db.r5.large:neptune:docdb,0.2", "is not a DB instance class"),
        ("ec2,*,m5.large:neptune,0.2", "is not an EC2 instance type"),
        ("rds,*,:neptune,0.2", "is not a DB instance class"),
    ],
)
def test_prices_file_refuses_other_suffixes(row: str, needle: str) -> None:
    with pytest.raises(PricesFileError) as err:
        parse_prices(f"service,region,type,hourly_usd\n{row}\n")
    assert needle in str(err.value)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        (PriceQuery("rds", REGION, "db.r5.large", engine="neptune"), "db.r5.large (neptune) in us-east-1"),
        (
            PriceQuery("rds", REGION, "db.r6g.large", engine="docdb", storage="iopt1"),
            "db.r6g.large (docdb, I/O-Optimized) in us-east-1",
        ),
        (
            PriceQuery("rds", REGION, "db.r6g.large", engine="aurora-mysql", storage="aurora-iopt1"),
            "db.r6g.large (aurora-mysql, single-az, I/O-Optimized) in us-east-1",
        ),
        (
            PriceQuery("rds", REGION, "db.m5.large", engine="mysql", deployment="multi-az"),
            "db.m5.large (mysql, multi-az) in us-east-1",
        ),
    ],
)
def test_price_query_descriptions(query: PriceQuery, text: str) -> None:
    assert query.describe() == text


def _doc(usd: str, **attrs: str) -> dict[str, Any]:
    term = "SKU.JRTCKXETXF"
    return {
        "product": {"productFamily": "Database Instance", "attributes": attrs, "sku": "SKU"},
        "terms": {
            "OnDemand": {
                term: {"priceDimensions": {f"{term}.6YS6EN2CT7": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}
            }
        },
    }


@pytest.mark.parametrize("engine", ["neptune", "docdb"])
def test_choose_price_tells_standard_from_io_optimized(engine: str) -> None:
    base = {"instanceType": "db.r6g.large", "regionCode": REGION}
    docs = [
        _doc("0.3030000000", usagetype="InstanceUsage:db.r6g.large", **base),
        _doc("0.3636000000", usagetype="InstanceUsageIOOptimized:db.r6g.large", **base),
    ]
    standard = PriceQuery("rds", REGION, "db.r6g.large", engine=engine, storage=None)
    io_optimized = PriceQuery("rds", REGION, "db.r6g.large", engine=engine, storage="iopt1")
    assert choose_price(docs, standard) == (Decimal("0.303"), None)
    assert choose_price(docs, io_optimized) == (Decimal("0.3636"), None)
    # Only a Standard product known: an I/O-Optimized cluster has no price rather than the wrong one.
    assert choose_price(docs[:1], io_optimized) == (None, None)
    assert json.dumps(docs)  # plain JSON, as GetProducts sends it


@pytest.mark.parametrize(
    ("engine", "text"),
    [
        ("aurora-postgresql", "is part of the Aurora global database g1, which RDS cannot stop"),
        ("neptune", "is part of the Neptune global database g1, which RDS cannot stop"),
        ("docdb", "is part of the DocumentDB global cluster g1, which RDS cannot stop"),
    ],
)
def test_global_cluster_members_are_unschedulable(engine: str, text: str) -> None:
    reason = cluster_unschedulable({"DBClusterIdentifier": "c", "Engine": engine, "GlobalClusterIdentifier": "g1"})
    assert reason == f"DB cluster c {text}"
    assert cluster_unschedulable({"DBClusterIdentifier": "c", "Engine": engine, "EngineMode": "provisioned"}) is None


@pytest.mark.parametrize(
    ("engine", "note"),
    [
        ("neptune", "not estimated: Neptune bills the storage used, which no describe call returns"),
        ("docdb", "not estimated: DocumentDB bills the storage used, which no describe call returns"),
        ("postgres", "not estimated: no rate is known"),
    ],
)
def test_storage_billing_while_a_cluster_is_stopped(engine: str, note: str) -> None:
    got = SERVICE.billing_while_stopped(cluster(engine, "db.r5.large"), Decimal(10))
    assert got["note"] == note and got["estimated_cost"] is None


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:rds:us-east-1:123456789012:cluster:graph-dev",  # Neptune
        "arn:aws:rds:us-east-1:123456789012:cluster:Docs-Dev",  # DocumentDB (identifiers are case-insensitive)
    ],
)
def test_neptune_and_documentdb_cluster_arns_name_an_rds_cluster(arn: str) -> None:
    kind, ident = SERVICE.parse_arn(arn, arn.split(":", 5)[5])
    assert (kind, ident) == ("rds-cluster", arn.rsplit(":", 1)[1].lower())
