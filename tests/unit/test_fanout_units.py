"""Pure parts of the fan-out: SQS batching by count and bytes, ARN resource types, SQS event detection."""

from __future__ import annotations

import pytest

from scheduler.handlers.worker import is_queue_event
from scheduler.runtime.sqs_invoker import batches
from scheduler.runtime.targets import resource_type


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
