"""DocumentDB clusters through the RDS adapter, with botocore's Stubber: moto refuses engine ``docdb``, so the RDS
API's answers are given in the shapes DescribeDBClusters / DescribeDBInstances / StopDBCluster return for a
DocumentDB (instance-based) cluster, and the Price List API's in GetProducts' shape for the AmazonDocDB list.

The Stubber checks every request's parameters too: what the adapter asks for is part of what is tested.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from scheduler.engine import Observed
from scheduler.savings.price_api import PricingApi
from scheduler.savings.price_book import PriceBook
from scheduler.savings.price_cache import JsonCache
from scheduler.savings.valuation import price_of
from scheduler.services.base import Resource
from scheduler.services.rds import SERVICE, RdsAdapter

REGION = "eu-west-1"
ACCOUNT = "123456789012"
TAG = "Schedule"
NOW = datetime(2026, 11, 24, 17, 0, 30, tzinfo=UTC)
CREATED = datetime(2026, 3, 2, 8, 15, 41, tzinfo=UTC)


def rds_client() -> Any:
    return boto3.client("rds", region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s")


def adapter(stubbed: Any, **options: Any) -> RdsAdapter:
    a = RdsAdapter(REGION, session=boto3.Session(region_name=REGION), clock=lambda: NOW, **options)
    a.client = stubbed
    return a


def docdb_cluster(name: str, status: str = "available", tags: dict[str, str] | None = None, **extra: Any) -> dict:
    """A DocumentDB cluster as the RDS API describes it."""
    return {
        "AvailabilityZones": [f"{REGION}a", f"{REGION}b", f"{REGION}c"],
        "BackupRetentionPeriod": 1,
        "DBClusterIdentifier": name,
        "DBClusterParameterGroup": "default.docdb5.0",
        "DBSubnetGroup": "default",
        "Status": status,
        "EarliestRestorableTime": CREATED,
        "Endpoint": f"{name}.cluster-c1xqzkbsx4ab.{REGION}.docdb.amazonaws.com",
        "ReaderEndpoint": f"{name}.cluster-ro-c1xqzkbsx4ab.{REGION}.docdb.amazonaws.com",
        "MultiAZ": True,
        "Engine": "docdb",
        "EngineVersion": "5.0.0",
        "LatestRestorableTime": NOW - timedelta(minutes=5),
        "Port": 27017,
        "MasterUsername": "docdbadmin",
        "PreferredBackupWindow": "00:00-00:30",
        "PreferredMaintenanceWindow": "sun:03:00-sun:03:30",
        "ReadReplicaIdentifiers": [],
        "DBClusterMembers": [
            {
                "DBInstanceIdentifier": f"{name}-1",
                "IsClusterWriter": True,
                "DBClusterParameterGroupStatus": "in-sync",
                "PromotionTier": 1,
            },
            {
                "DBInstanceIdentifier": f"{name}-2",
                "IsClusterWriter": False,
                "DBClusterParameterGroupStatus": "in-sync",
                "PromotionTier": 1,
            },
        ],
        "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-0a1b2c3d", "Status": "active"}],
        "HostedZoneId": "Z2VFMSZA74J7XZ",
        "StorageEncrypted": True,
        "KmsKeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1f9d2a6e-0000-4b7a-9d1e-7c1d2e3f4a5b",
        "DbClusterResourceId": "cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "DBClusterArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{name}",
        "AssociatedRoles": [],
        "ClusterCreateTime": CREATED,
        "EnabledCloudwatchLogsExports": [],
        "DeletionProtection": False,
        "TagList": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        **extra,
    }


def docdb_instance(name: str, cluster: str, klass: str, tags: dict[str, str] | None = None) -> dict:
    """A DocumentDB instance as the RDS API describes it."""
    return {
        "DBInstanceIdentifier": name,
        "DBInstanceClass": klass,
        "Engine": "docdb",
        "DBInstanceStatus": "available",
        "Endpoint": {"Address": f"{name}.c1xqzkbsx4ab.{REGION}.docdb.amazonaws.com", "Port": 27017},
        "InstanceCreateTime": CREATED,
        "PreferredBackupWindow": "00:00-00:30",
        "BackupRetentionPeriod": 1,
        "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-0a1b2c3d", "Status": "active"}],
        "AvailabilityZone": f"{REGION}a",
        "PreferredMaintenanceWindow": "tue:04:00-tue:04:30",
        "EngineVersion": "5.0.0",
        "AutoMinorVersionUpgrade": True,
        "PubliclyAccessible": False,
        "DBClusterIdentifier": cluster,
        "StorageEncrypted": True,
        "DbiResourceId": "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "CACertificateIdentifier": "rds-ca-rsa2048-g1",
        "PromotionTier": 1,
        "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{name}",
        "TagList": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }


def expect_discovery(stub: Stubber, instances: list[dict], clusters: list[dict]) -> None:
    stub.add_response("describe_db_instances", {"DBInstances": instances}, {"MaxRecords": 100})
    stub.add_response("describe_db_clusters", {"DBClusters": clusters}, {"MaxRecords": 100})
    # Only clusters were found, so only cluster events are read: the last day's notifications.
    stub.add_response(
        "describe_events",
        {"Events": []},
        {
            "SourceType": "db-cluster",
            "EventCategories": ["notification"],
            "StartTime": NOW - timedelta(hours=24),
            "EndTime": NOW,
            "MaxRecords": 100,
        },
    )


def test_discovery_schedules_the_cluster_and_never_its_instances() -> None:
    client = rds_client()
    stub = Stubber(client)
    office = {TAG: "office", "team": "search"}
    expect_discovery(
        stub,
        [
            # `isched tag` copied the cluster's tag onto its instances (cost allocation): still not scheduled alone.
            docdb_instance("docs-1", "docs", "db.r6g.large", office),
            docdb_instance("docs-2", "docs", "db.r6g.large", office),
            docdb_instance("global-1", "global", "db.r6g.xlarge"),
            docdb_instance("untagged-1", "untagged", "db.t4g.medium"),
        ],
        [
            docdb_cluster("docs", tags=office, StorageType="iopt1"),
            docdb_cluster("global", tags={TAG: "office"}, GlobalClusterIdentifier="docs-global"),
            docdb_cluster("untagged"),
        ],
    )
    with stub:
        found = {r.id: r for r in adapter(client).discover(TAG)}
    stub.assert_no_pending_responses()

    assert set(found) == {"docs", "global"}
    docs = found["docs"]
    assert (docs.service, docs.schedule, docs.observed, docs.unschedulable) == ("rds", "office", Observed.RUNNING, None)
    assert docs.arn == f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:docs"
    assert (docs.details["kind"], docs.details["engine"], docs.details["storage_type"]) == ("cluster", "docdb", "iopt1")
    assert docs.details["members"] == [
        {"id": "docs-1", "class": "db.r6g.large", "writer": True},
        {"id": "docs-2", "class": "db.r6g.large", "writer": False},
    ]
    assert found["global"].unschedulable == (
        "DB cluster global is part of the DocumentDB global cluster docs-global, which RDS cannot stop"
    )

    pricing = SERVICE.pricing(REGION, docs.instance_type, docs.details, None)
    assert (pricing.type, pricing.units, pricing.problem) == ("db.r6g.large", 2, None)
    [part] = pricing.components
    assert (part.count, part.query.engine, part.query.storage) == (2, "docdb", "iopt1")


def _cluster_resource(name: str) -> Resource:
    return Resource(
        service="rds",
        id=name,
        schedule="office",
        observed=Observed.RUNNING,
        arn=f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{name}",
        details={"kind": "cluster", "engine": "docdb"},
    )


def test_stop_with_snapshot_then_start_read_back() -> None:
    client = rds_client()
    stub = Stubber(client)
    ident = "isched-docs-202611241700"
    stub.add_response("describe_db_clusters", {"DBClusters": [docdb_cluster("docs")]}, {"DBClusterIdentifier": "docs"})
    stub.add_response(
        "describe_db_cluster_snapshots",
        {"DBClusterSnapshots": []},
        {"DBClusterIdentifier": "docs", "SnapshotType": "manual", "MaxRecords": 100},
    )
    stub.add_response(
        "create_db_cluster_snapshot",
        {
            "DBClusterSnapshot": {
                "DBClusterSnapshotIdentifier": ident,
                "DBClusterIdentifier": "docs",
                "Engine": "docdb",
                "Status": "creating",
                "SnapshotType": "manual",
                "DBClusterSnapshotArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:{ident}",
            }
        },
        {
            "DBClusterSnapshotIdentifier": ident,
            "DBClusterIdentifier": "docs",
            "Tags": [{"Key": "isched:reason", "Value": "snapshot before scheduled stop"}],
        },
    )
    # StopDBCluster answers with the cluster as it was; the state is read back.
    stub.add_response("stop_db_cluster", {"DBCluster": docdb_cluster("docs")}, {"DBClusterIdentifier": "docs"})
    stub.add_response(
        "describe_db_clusters", {"DBClusters": [docdb_cluster("docs", "stopping")]}, {"DBClusterIdentifier": "docs"}
    )
    stub.add_response(
        "start_db_cluster", {"DBCluster": docdb_cluster("docs", "stopped")}, {"DBClusterIdentifier": "docs"}
    )
    stub.add_response(
        "describe_db_clusters", {"DBClusters": [docdb_cluster("docs", "starting")]}, {"DBClusterIdentifier": "docs"}
    )
    a = adapter(client, snapshot_before_stop=True)
    with stub:
        [stopped] = a.stop([_cluster_resource("docs")])
        [started] = a.start([_cluster_resource("docs")], saved={})
    stub.assert_no_pending_responses()
    assert (stopped.ok, stopped.error, stopped.details) == (True, None, {"snapshot": ident, "status": "stopping"})
    assert (started.ok, started.details) == (True, {"status": "starting"})


def test_a_refused_stop_stays_with_its_cluster() -> None:
    client = rds_client()
    stub = Stubber(client)
    message = "DbCluster busy is in backing-up state but expected it to be one of available."
    stub.add_client_error(
        "stop_db_cluster", "InvalidDBClusterStateFault", message, 400, expected_params={"DBClusterIdentifier": "busy"}
    )
    stub.add_response("stop_db_cluster", {"DBCluster": docdb_cluster("docs")}, {"DBClusterIdentifier": "docs"})
    stub.add_response(
        "describe_db_clusters", {"DBClusters": [docdb_cluster("docs", "stopping")]}, {"DBClusterIdentifier": "docs"}
    )
    with stub:
        results = adapter(client).stop([_cluster_resource("busy"), _cluster_resource("docs")])
    stub.assert_no_pending_responses()
    assert [(r.resource, r.ok, r.error) for r in results] == [
        ("busy", False, f"InvalidDBClusterStateFault: {message}"),
        ("docs", True, None),
    ]


def docdb_price(usd: str, usagetype: str, itype: str = "db.r6g.large") -> str:
    """An AmazonDocDB GetProducts PriceList item (a JSON string), OnDemand hourly."""
    sku, offer = "Q6VX2ZE7Y2BHPKFN", "JRTCKXETXF"
    term = f"{sku}.{offer}"
    return json.dumps(
        {
            "product": {
                "productFamily": "Database Instance",
                "attributes": {
                    "servicecode": "AmazonDocDB",
                    "location": "EU (Ireland)",
                    "locationType": "AWS Region",
                    "regionCode": REGION,
                    "instanceType": itype,
                    "instanceFamily": "Memory optimized",
                    "vcpu": "2",
                    "memory": "16 GiB",
                    "usagetype": usagetype,
                    "operation": "CreateDBInstance:0021",
                    "servicename": "Amazon DocumentDB (with MongoDB compatibility)",
                },
                "sku": sku,
            },
            "serviceCode": "AmazonDocDB",
            "terms": {
                "OnDemand": {
                    term: {
                        "priceDimensions": {
                            f"{term}.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "endRange": "Inf",
                                "description": f"${usd} per {itype} instance hour (or partial hour)",
                                "appliesTo": [],
                                "rateCode": f"{term}.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": offer,
                        "termAttributes": {},
                    }
                }
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


@pytest.mark.parametrize(("storage", "hourly"), [("standard", "0.2830000000"), ("iopt1", "0.3113000000")])
def test_pricing_a_documentdb_cluster_from_the_amazondocdb_price_list(storage: str, hourly: str) -> None:
    pricing_client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stub = Stubber(pricing_client)
    filters = [
        {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "db.r6g.large"},
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION},
        {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "Database Instance"},
    ]
    stub.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [
                docdb_price("0.2830000000", "EU-InstanceUsage:db.r6g.large"),
                docdb_price("0.3113000000", "EU-InstanceUsageIOOptimized:db.r6g.large"),
            ],
        },
        {"ServiceCode": "AmazonDocDB", "Filters": filters, "FormatVersion": "aws_v1", "MaxResults": 100},
    )
    book = PriceBook(api=PricingApi(pricing_client), cache=JsonCache(None, timedelta(days=7)))
    details = {
        "kind": "cluster",
        "engine": "docdb",
        "storage_type": storage,
        "members": [{"id": "docs-1", "class": "db.r6g.large"}, {"id": "docs-2", "class": "db.r6g.large"}],
    }
    with stub:
        total, source, notes = price_of(SERVICE.pricing(REGION, None, details, None), book.price)
    stub.assert_no_pending_responses()  # one request: both members share the class
    assert (total, source, notes) == (2 * Decimal(hourly), "pricing-api", [])
    assert book.api_requests == 1
