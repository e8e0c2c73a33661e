"""Pure parts of the fan-out: SQS batching by count and bytes, ARN resource types, SQS event detection."""

from __future__ import annotations

import pytest

from scheduler.handlers.worker import is_queue_event
from scheduler.runtime.sqs_invoker import batches
from scheduler.runtime.targets import resource_type
from scheduler.services.base import ServiceBase
from scheduler.services.registry import SERVICES, get


@pytest.mark.parametrize(
    ("sizes", "count", "limit", "expected"),
    [
        ([], 10, 100, []),
        ([1] * 23, 10, 1000, [10, 10, 3]),  # ten to a batch
        ([40, 40, 40, 40], 10, 100, [2, 2]),  # bytes first: 80 fits, 120 does not
        ([100, 1, 1], 10, 100, [1, 2]),  # a message of exactly the limit is a batch alone
        ([150, 10], 10, 100, [1, 1]),  # an oversized message still goes (SQS refuses it, reported as its error)
        ([30] * 10, 10, 300, [10]),
    ],
)
def test_batches_respect_count_and_bytes(sizes, count, limit, expected):
    groups = batches([b"x" * n for n in sizes], count=count, size=limit)
    assert [len(g) for g in groups] == expected
    assert [i for g in groups for i in g] == list(range(len(sizes)))  # every message once, in order


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc", "ec2:instance"),
        ("arn:aws:rds:eu-west-1:123456789012:db:mydb", "rds:db"),
        ("arn:aws-cn:rds:cn-north-1:123456789012:cluster:aurora-1", "rds:cluster"),
        ("arn:aws:ec2:eu-west-1:123456789012:volume/vol-1", "ec2:volume"),
        ("arn:aws:ecs:eu-west-1:123456789012:service/prod/web", "ecs:service"),
        ("arn:aws:eks:eu-west-1:123456789012:nodegroup/prod/ng-1/8ec1f0b2-1c2d-4e5f", "eks:nodegroup"),
        ("arn:aws:redshift:eu-west-1:123456789012:cluster:dwh", "redshift:cluster"),
        ("arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/lab", "sagemaker:notebook-instance"),
        ("not an arn", None),
        ("", None),
    ],
)
def test_resource_type_of_an_arn(arn, expected):
    assert resource_type(arn) == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}, True),
        ({"Records": [{"eventSource": "aws:sqs"}, {"eventSource": "aws:sns"}]}, False),
        ({"Records": []}, False),
        ({"version": 1, "target": {}}, False),  # a direct payload
        ({"Records": "x"}, False),
        (None, False),
    ],
)
def test_queue_events_are_told_from_direct_payloads(event, expected):
    assert is_queue_event(event) is expected


# A resource of each service as the Tagging API names it (GetResources answers ARNs).
RESOURCE_ARNS = {
    "ec2": "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc",
    "rds": "arn:aws:rds:eu-west-1:123456789012:db:mydb",
    "ecs": "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
    "eks": "arn:aws:eks:eu-west-1:123456789012:nodegroup/prod/ng-1/8ec1f0b2-1c2d-4e5f-a6b7-c8d9e0f1a2b3",
    "redshift": "arn:aws:redshift:eu-west-1:123456789012:cluster:dwh",
    "sagemaker": "arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/lab",
}


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_can_tell_the_look_up_whether_it_has_tagged_resources(name):
    """Listed by the Tagging API (its resources' ARNs are of its types), or a probe of its own: a service with
    neither would have its targets invoked on every pass."""
    service = get(name)
    if service.tagging_types:
        assert resource_type(RESOURCE_ARNS[name]) in service.tagging_types
    else:
        assert type(service).any_tagged is not ServiceBase.any_tagged, name
