"""What ``isched suggest`` reads from AWS: running resources without the schedule tag, and their hourly CloudWatch
statistics.

Candidates: EC2 instances in state ``running`` without the tag (members of Auto Scaling groups are left out: the
group is what a schedule acts on), and RDS DB instances in status ``available`` without the tag that RDS can stop
on their own (no cluster members, read replicas or their sources: see
:func:`scheduler.services.rds_stoppable.instance_unschedulable`).

Metrics: ``GetMetricData`` with Period 3600, up to :data:`MAX_QUERIES` queries a call (the API's maximum), every
page followed. EC2: CPUUtilization Maximum, NetworkIn and NetworkOut Sum. RDS: CPUUtilization Maximum and
DatabaseConnections Maximum. A call that fails marks only the resources of its batch as failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scheduler.aws.session import client
from scheduler.services import ec2, rds
from scheduler.services.common import aws_error, chunks, tag_map
from scheduler.services.rds_stoppable import instance_unschedulable

from .analysis import HourValues

MAX_QUERIES = 500  # GetMetricData MetricDataQueries: at most 500 per call
PERIOD = 3600
# (field of HourValues, metric name, statistic)
EC2_METRICS = (("cpu", "CPUUtilization", "Maximum"), ("in", "NetworkIn", "Sum"), ("out", "NetworkOut", "Sum"))
RDS_METRICS = (("cpu", "CPUUtilization", "Maximum"), ("connections", "DatabaseConnections", "Maximum"))
SERVICES = ("ec2", "rds")


@dataclass(frozen=True)
class Candidate:
    """A running resource without the schedule tag."""

    service: str
    region: str
    account: str
    id: str
    arn: str
    type: str | None
    name: str | None  # its Name tag, if any
    details: dict[str, Any] = field(default_factory=dict)  # what the service's pricing() reads

    @property
    def namespace(self) -> str:
        return "AWS/EC2" if self.service == "ec2" else "AWS/RDS"

    @property
    def dimension(self) -> dict[str, str]:
        key = "InstanceId" if self.service == "ec2" else "DBInstanceIdentifier"
        return {"Name": key, "Value": self.id}

    @property
    def metrics(self) -> tuple[tuple[str, str, str], ...]:
        return EC2_METRICS if self.service == "ec2" else RDS_METRICS


@dataclass(frozen=True)
class Problem:
    """A failure of one region and service (``resource`` None) or of one resource."""

    region: str
    service: str
    resource: str | None
    error: str

    def to_json(self) -> dict[str, str | None]:
        return {"region": self.region, "service": self.service, "resource": self.resource, "error": self.error}


def ec2_candidates(region: str, session: boto3.Session, tag_key: str) -> list[Candidate]:
    ec2_client = client("ec2", region=region, session=session)
    partition = _partition(session, region)
    found = []
    running = [{"Name": "instance-state-name", "Values": ["running"]}]
    for owner, inst in ec2.instances(ec2_client, running, ec2.MAX_PAGE_SIZE):
        tags = tag_map(inst.get("Tags"))
        if tag_key in tags or ec2.ASG_MEMBER_TAG in tags:
            continue
        iid = str(inst["InstanceId"])
        found.append(
            Candidate(
                "ec2",
                region,
                owner,
                iid,
                f"arn:{partition}:ec2:{region}:{owner}:instance/{iid}",
                inst.get("InstanceType"),
                tags.get("Name"),
                {"platform": inst.get("PlatformDetails"), "tenancy": inst.get("Placement", {}).get("Tenancy")},
            )
        )
    return found


def rds_candidates(region: str, session: boto3.Session, tag_key: str) -> list[Candidate]:
    rds_client = client("rds", region=region, session=session)
    found = []
    for db in rds.pages(rds_client, "describe_db_instances", "DBInstances"):
        tags = tag_map(db.get("TagList"))
        if tag_key in tags or str(db.get("DBInstanceStatus")) != "available" or instance_unschedulable(db):
            continue
        arn = str(db.get("DBInstanceArn") or "")
        found.append(
            Candidate(
                "rds",
                region,
                arn.split(":")[4] if arn.count(":") >= 5 else "",
                str(db["DBInstanceIdentifier"]),
                arn,
                db.get("DBInstanceClass"),
                tags.get("Name"),
                {
                    "engine": db.get("Engine"),
                    "multi_az": bool(db.get("MultiAZ")),
                    "license_model": db.get("LicenseModel"),
                },
            )
        )
    return found


def candidates(
    region: str, session: boto3.Session, tag_key: str, services: Sequence[str]
) -> tuple[list[Candidate], list[Problem]]:
    """The candidates of each service in ``region``; a service that cannot be listed is a problem, not a stop."""
    found: list[Candidate] = []
    problems: list[Problem] = []
    for service in services:
        lister = ec2_candidates if service == "ec2" else rds_candidates
        try:
            found += lister(region, session, tag_key)
        except Exception as exc:  # any failure (even an unparsable answer) is this region's and service's only
            problems.append(Problem(region, service, None, failure(exc)))
    return found, problems


def failure(exc: Exception) -> str:
    """One line for a failed call: AWS's error code and message, else the exception (bounded)."""
    if isinstance(exc, BotoCoreError | ClientError):
        return aws_error(exc)
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _partition(session: boto3.Session, region: str) -> str:
    try:
        return str(session.get_partition_for_region(region))
    except Exception:  # an unknown region (a local endpoint's invention) is still in the aws partition
        return "aws"


def hourly_values(
    cloudwatch: Any, found: Sequence[Candidate], start: datetime, end: datetime
) -> tuple[dict[str, list[HourValues]], dict[str, str]]:
    """Hourly statistics in [start, end) for every candidate (keyed by ARN), and the error of each one whose
    metrics could not be read."""
    per_resource = max(len(EC2_METRICS), len(RDS_METRICS))
    values: dict[str, list[HourValues]] = {}
    errors: dict[str, str] = {}
    for batch in chunks(list(found), MAX_QUERIES // per_resource):
        queries: list[dict[str, Any]] = []
        ids: dict[str, tuple[int, str]] = {}
        for i, cand in enumerate(batch):
            for j, (name, metric, stat) in enumerate(cand.metrics):
                qid = f"q{i}_{j}"
                ids[qid] = (i, name)
                queries.append(
                    {
                        "Id": qid,
                        "MetricStat": {
                            "Metric": {
                                "Namespace": cand.namespace,
                                "MetricName": metric,
                                "Dimensions": [cand.dimension],
                            },
                            "Period": PERIOD,
                            "Stat": stat,
                        },
                        "ReturnData": True,
                    }
                )
        points: list[dict[datetime, dict[str, float]]] = [{} for _ in batch]
        failed: dict[int, str] = {}
        try:
            pages = cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
            )
            for page in pages:
                for result in page.get("MetricDataResults", []):
                    index, name = ids[result["Id"]]
                    if result.get("StatusCode") in ("Forbidden", "InternalError"):
                        failed[index] = f"CloudWatch answered {result['StatusCode']} for {name}"
                    for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                        points[index].setdefault(ts.astimezone(UTC), {})[name] = float(value)
        except Exception as exc:  # this batch's resources only
            for cand in batch:
                errors[cand.arn] = failure(exc)
            continue
        for i, cand in enumerate(batch):
            if i in failed:
                errors[cand.arn] = failed[i]
            else:
                values[cand.arn] = list(_hours(points[i], start, end))
    return values, errors


def _hours(points: dict[datetime, dict[str, float]], start: datetime, end: datetime) -> Iterable[HourValues]:
    for at in sorted(points):
        if not start <= at < end:
            continue
        p = points[at]
        network = p["in"] + p.get("out", 0.0) if "in" in p else p.get("out")
        yield HourValues(at, cpu=p.get("cpu"), network=network, connections=p.get("connections"))
