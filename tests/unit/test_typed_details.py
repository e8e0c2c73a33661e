"""Each service reads its details back through a typed view: values as DynamoDB returns them (Decimal numbers)
give the same prices and estimates as freshly discovered ones, and a value of the wrong type reads as absent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from scheduler.services import registry
from scheduler.services.details import common

HOURS = Decimal(730)


@pytest.mark.parametrize(
    ("service", "itype", "fresh", "stored"),
    [
        ("asg", "m5.large", {"desired": 3, "instance_types": ["m5.large"]}, {"desired": Decimal(3)}),
        (
            "eks",
            None,
            {"desired": 2, "instance_types": ["t3.small"]},
            {"desired": Decimal(2), "instance_types": ["t3.small"]},
        ),
        ("redshift", "ra3.xlplus", {"nodes": 2, "multi_az": True}, {"nodes": Decimal(2), "multi_az": True}),
        (
            "ecs",
            None,
            {"desired": 2, "cpu": "256", "memory": "512", "launch_type": "FARGATE"},
            {"desired": Decimal(2), "cpu": Decimal(256), "memory": "512", "launch_type": "FARGATE"},
        ),
        (
            "rds",
            None,
            {
                "kind": "cluster",
                "engine": "aurora-postgresql",
                "members": [{"id": "a", "class": "db.r6g.large", "writer": True}],
            },
            {
                "kind": "cluster",
                "engine": "aurora-postgresql",
                "members": [{"id": "a", "class": "db.r6g.large", "writer": True}],
            },
        ),
    ],
)
def test_stored_details_price_as_fresh(service: str, itype: str | None, fresh: dict, stored: dict) -> None:
    svc = registry.get(service)
    a, b = svc.pricing("us-east-1", itype, fresh, None), svc.pricing("us-east-1", itype, stored, None)
    assert a == b
    assert a.problem is None and a.units > 0


@pytest.mark.parametrize(
    ("details", "expected_units", "problem"),
    [
        ({"desired": "3"}, 3, None),  # a digit string, as the tag gives sizes
        ({"desired": Decimal("2.5")}, 0, "desired"),  # not a whole number: unknown
        ({"desired": True}, 0, "desired"),  # a bool is no size
        ({}, 0, "desired"),
    ],
)
def test_asg_desired_read_back(details: dict, expected_units: int, problem: str | None) -> None:
    p = registry.get("asg").pricing("us-east-1", "m5.large", details, None)
    assert p.units == expected_units
    assert (p.problem is None) if problem is None else (problem in (p.problem or ""))


def test_ec2_still_billing_reads_decimals() -> None:
    """A stop's record read back from the ledger holds Decimals: 100 GB gp3 at $0.08/GB-month over a month plus
    one Elastic IP at $0.005/hour."""
    recorded = {"volumes": [{"id": "vol-1", "size_gb": Decimal(100), "type": "gp3"}], "elastic_ips": Decimal(1)}
    out = registry.get("ec2").billing_while_stopped({"billing_while_stopped": recorded}, HOURS)
    assert out["elastic_ips"] == 1
    assert out["estimated_cost"] == Decimal(100) * Decimal("0.08") + HOURS * Decimal("0.005")


def test_ec2_volume_without_size_is_not_estimated() -> None:
    recorded = {"volumes": [{"id": "vol-1", "size_gb": "big", "type": "gp3"}], "elastic_ips": 0}
    out = registry.get("ec2").billing_while_stopped({"billing_while_stopped": recorded}, HOURS)
    assert out["estimated_cost"] is None and "vol-1" in out["note"]


@pytest.mark.parametrize(
    ("service", "details", "cost"),
    [
        ("sagemaker", {"billing_while_stopped": {"volume_gb": Decimal(5)}}, True),
        ("sagemaker", {"billing_while_stopped": {"volume_gb": "five"}}, False),
        ("sagemaker", {"billing_while_stopped": ["5"]}, False),
        ("rds", {"kind": "instance", "allocated_storage": Decimal(20), "storage_type": "gp2"}, True),
        ("rds", {"kind": "instance", "allocated_storage": None, "storage_type": "gp2"}, False),
    ],
)
def test_billing_while_stopped_read_back(service: str, details: dict, cost: bool) -> None:
    out = registry.get(service).billing_while_stopped(details, HOURS)
    assert (out["estimated_cost"] is not None) is cost


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (None, {}),
        ({"state": "stopped", "tags": {"Name": "web"}}, {"state": "stopped", "tags": {"Name": "web"}}),
        ({"state": Decimal(1), "status": "available"}, {"status": "available"}),
        (
            {"state_reason": {"code": "Server.SpotInstanceTermination"}},
            {"state_reason": {"code": "Server.SpotInstanceTermination", "message": None}},
        ),
        ({"state_reason": 5, "launch_time": "2026-01-01T00:00:00Z"}, {"launch_time": "2026-01-01T00:00:00Z"}),
        (
            {"tags": ["Name", "web"], "maintenance_window": "sun:05:00-sun:06:00"},
            {"maintenance_window": "sun:05:00-sun:06:00"},
        ),
    ],
)
def test_common_details(details: dict | None, expected: dict) -> None:
    assert common(details) == expected
