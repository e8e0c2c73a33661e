"""Setting and removing the schedule tag on EC2 instances, Auto Scaling groups and RDS DB instances and clusters.

A resource is named the way users see it in the console: an EC2 instance id (``i-…``), an Auto Scaling group name,
an RDS DB instance or DB cluster identifier, or the ARN of any of these. Names are resolved with batched describe
calls before anything is written, so a typo or an ambiguous name is reported per resource and never tags the wrong
thing; one resource's failure never stops the others.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scheduler.aws import session as aws

Kind = Literal["ec2", "asg", "rds", "rds-cluster"]
Operation = Literal["tag", "untag"]

KIND_NAMES: dict[Kind, str] = {
    "ec2": "EC2 instance",
    "asg": "Auto Scaling group",
    "rds": "RDS DB instance",
    "rds-cluster": "RDS DB cluster",
}

# Request sizes. Module constants (read at call time) so tests can shrink them to exercise the batching.
#
# EC2 CreateTags/DeleteTags, ResourceId.N: "Constraints: Up to 1000 resource IDs. We recommend breaking up this
# request into smaller batches." (EC2 API reference, CreateTags and DeleteTags).
EC2_TAG_BATCH = 1000
# Auto Scaling CreateOrUpdateTags/DeleteTags document no maximum for Tags.member.N (API reference: "One or more
# tags"; the botocore model has no max either), and the quotas page lists no batch limit for them. Cloud Custodian
# hit failures tagging more than 25 groups in one request (cloud-custodian/cloud-custodian#4047), so 25 is the
# largest batch known to work. Each request carries one tag per group, so 25 groups per call.
ASG_TAG_BATCH = 25
# RDS AddTagsToResource/RemoveTagsFromResource take a single ResourceName (ARN) per call: no batching there.
#
# DescribeInstances MaxResults: 5-1000 (API reference). EC2 rejects more than 200 values in one filter
# (FilterLimitExceeded, "The maximum number of filter values specified on a single call is 200"); stay clear of it.
EC2_PAGE_SIZE = 1000
EC2_FILTER_VALUES = 100
# DescribeAutoScalingGroups: "By default, you can only specify up to 50 names"; MaxRecords: default 50, maximum 100.
ASG_NAMES_BATCH = 50
ASG_PAGE_SIZE = 100
# DescribeDBInstances/DescribeDBClusters MaxRecords: minimum 20, maximum 100. RDS documents no maximum number of
# filter values, so keep id filters modest.
RDS_PAGE_SIZE = 100
RDS_FILTER_VALUES = 50

_INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})\Z")
# RDS identifiers: 1-63 letters, digits or hyphens, starting with a letter; stored and matched case-insensitively.
_RDS_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}\Z")
_ARN = re.compile(
    r"^arn:(?P<partition>aws(?:-[a-z]+)*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.*)\Z"
)
_EC2_RESOURCE = re.compile(r"^instance/(?P<id>i-(?:[0-9a-f]{8}|[0-9a-f]{17}))\Z")
_ASG_RESOURCE = re.compile(r"^autoScalingGroup:[0-9a-fA-F-]+:autoScalingGroupName/(?P<id>.+)\Z")
_RDS_RESOURCE = re.compile(r"^(?P<type>db|cluster):(?P<id>[A-Za-z][A-Za-z0-9-]{0,62})\Z")

# Instances on their way out are not worth tagging; everything else can be started or stopped by a schedule.
_LIVE_EC2_STATES = ["pending", "running", "stopping", "stopped"]

T = TypeVar("T")
ResourceKey = tuple[str, Kind, str]  # (region, kind, id): one real resource, however it was named


class InvalidResource(ValueError):
    """A RESOURCE argument that cannot name anything isched tags (a malformed or foreign ARN, an empty value)."""


class TaggingError(Exception):
    """An AWS failure that stops a whole operation (listing resources for ``--where``)."""


@dataclass(frozen=True, slots=True)
class Target:
    """One RESOURCE argument, parsed: where to look and, unless it is a bare name, what kind of resource it is."""

    value: str
    region: str
    id: str
    kind: Kind | None = None  # None: a bare name, looked up as an Auto Scaling group and an RDS instance/cluster
    arn: str | None = None  # the ARN as given
    account: str | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource that exists, as its describe call returned it."""

    kind: Kind
    id: str
    region: str
    arn: str
    tags: Mapping[str, str] = field(default_factory=dict, compare=False)
    state: str | None = None  # EC2 instance state / RDS status
    cluster: str | None = None  # for an RDS DB instance: the DB cluster it belongs to
    members: tuple[str, ...] = field(default=(), compare=False)  # for an RDS DB cluster: its DB instances

    @property
    def key(self) -> ResourceKey:
        return (self.region, self.kind, self.id)


@dataclass(slots=True)
class Outcome:
    """What happened to one RESOURCE argument."""

    resource: str
    region: str
    kind: Kind | None = None
    id: str | None = None
    arn: str | None = None
    ok: bool = False
    error: str | None = None
    previous: str | None = None  # the tag's value before the change (None: the tag was absent or unknown)

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "kind": self.kind,
            "id": self.id,
            "arn": self.arn,
            "region": self.region,
            "ok": self.ok,
            "error": self.error,
            "previous": self.previous,
        }


class Clients:
    """One client per (service, region) for the length of one command, all from the same session."""

    def __init__(self, session: boto3.Session | None = None) -> None:
        self.session = session or boto3.Session()
        self._clients: dict[tuple[str, str], Any] = {}

    def get(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = aws.client(service, region=region, session=self.session)
        return self._clients[key]

    def default_region(self) -> str:
        return aws.default_region(self.session)

    def partition(self, region: str) -> str:
        try:
            return str(self.session.get_partition_for_region(region))
        except Exception:  # an unknown region (new, or a local endpoint's invention) is still in the aws partition
            return "aws"


def aws_error(exc: Exception) -> str:
    """A one-line reason for an AWS failure: the error code and AWS's own message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "Error"
        message = error.get("Message") or str(exc)
        return f"{code}: {message}"
    return str(exc) or type(exc).__name__


# --- parsing ---------------------------------------------------------------------------------------------------


def parse_target(value: str, region: str) -> Target:
    """Parses one RESOURCE argument; ``region`` applies to ids and names (an ARN carries its own)."""
    text = value.strip()
    if not text:
        raise InvalidResource("an empty value names no resource")
    if text.startswith("arn:"):
        return _parse_arn(value, text)
    if _INSTANCE_ID.match(text):
        return Target(value=value, region=region, id=text, kind="ec2")
    return Target(value=value, region=region, id=text)


def _parse_arn(value: str, text: str) -> Target:
    m = _ARN.match(text)
    if m is None:
        raise InvalidResource(f"'{value}' is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)")
    service, region, account, resource = m["service"], m["region"], m["account"], m["resource"]
    if service not in ("ec2", "autoscaling", "rds"):
        raise InvalidResource(
            f"'{value}' is an ARN of service '{service}'; isched tags EC2 instances, Auto Scaling groups "
            "and RDS DB instances and clusters"
        )
    if not aws.is_region(region):
        raise InvalidResource(f"'{value}' has no valid region ('{region}')")
    if not aws.is_account_id(account):
        raise InvalidResource(f"'{value}' has no valid account id ('{account}')")
    if service == "ec2":
        ec2 = _EC2_RESOURCE.match(resource)
        if ec2 is None:
            raise InvalidResource(f"'{value}' is not an EC2 instance ARN (…:instance/i-…)")
        return Target(value=value, region=region, id=ec2["id"], kind="ec2", arn=text, account=account)
    if service == "autoscaling":
        group = _ASG_RESOURCE.match(resource)
        if group is None:
            raise InvalidResource(
                f"'{value}' is not an Auto Scaling group ARN (…:autoScalingGroup:UUID:autoScalingGroupName/NAME)"
            )
        return Target(value=value, region=region, id=group["id"], kind="asg", arn=text, account=account)
    rds = _RDS_RESOURCE.match(resource)
    if rds is None:
        raise InvalidResource(f"'{value}' is not an RDS DB instance or cluster ARN (…:db:ID or …:cluster:ID)")
    kind: Kind = "rds" if rds["type"] == "db" else "rds-cluster"
    return Target(value=value, region=region, id=rds["id"].lower(), kind=kind, arn=text, account=account)


# --- lookups ---------------------------------------------------------------------------------------------------


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), max(1, size)):
        yield list(items[start : start + max(1, size)])


def _tag_map(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or () if "Key" in t}


def _ec2_instances(clients: Clients, region: str, filters: list[dict[str, Any]]) -> Iterator[Resource]:
    ec2 = clients.get("ec2", region)
    partition = clients.partition(region)
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=filters, PaginationConfig={"PageSize": EC2_PAGE_SIZE}
    )
    for page in pages:
        for reservation in page.get("Reservations", []):
            owner = reservation.get("OwnerId", "")
            for inst in reservation.get("Instances", []):
                iid = inst["InstanceId"]
                yield Resource(
                    kind="ec2",
                    id=iid,
                    region=region,
                    arn=f"arn:{partition}:ec2:{region}:{owner}:instance/{iid}",
                    tags=_tag_map(inst.get("Tags")),
                    state=inst.get("State", {}).get("Name"),
                )


def _asg_groups(clients: Clients, region: str, **params: Any) -> Iterator[Resource]:
    asg = clients.get("autoscaling", region)
    pages = asg.get_paginator("describe_auto_scaling_groups").paginate(
        **params, PaginationConfig={"PageSize": ASG_PAGE_SIZE}
    )
    for page in pages:
        for group in page.get("AutoScalingGroups", []):
            yield Resource(
                kind="asg",
                id=group["AutoScalingGroupName"],
                region=region,
                arn=group["AutoScalingGroupARN"],
                tags=_tag_map(group.get("Tags")),
                state=group.get("Status"),
            )


def _rds_instances(clients: Clients, region: str, **params: Any) -> Iterator[Resource]:
    rds = clients.get("rds", region)
    pages = rds.get_paginator("describe_db_instances").paginate(**params, PaginationConfig={"PageSize": RDS_PAGE_SIZE})
    for page in pages:
        for db in page.get("DBInstances", []):
            yield Resource(
                kind="rds",
                id=db["DBInstanceIdentifier"],
                region=region,
                arn=db["DBInstanceArn"],
                tags=_tag_map(db.get("TagList")),
                state=db.get("DBInstanceStatus"),
                cluster=db.get("DBClusterIdentifier"),
            )


def _rds_clusters(clients: Clients, region: str, **params: Any) -> Iterator[Resource]:
    rds = clients.get("rds", region)
    pages = rds.get_paginator("describe_db_clusters").paginate(**params, PaginationConfig={"PageSize": RDS_PAGE_SIZE})
    for page in pages:
        for cluster in page.get("DBClusters", []):
            yield Resource(
                kind="rds-cluster",
                id=cluster["DBClusterIdentifier"],
                region=region,
                arn=cluster["DBClusterArn"],
                tags=_tag_map(cluster.get("TagList")),
                state=cluster.get("Status"),
                # An identifier (moto answers an ARN there: its last part is the identifier).
                members=tuple(
                    str(m["DBInstanceIdentifier"]).rsplit(":db:", 1)[-1] for m in cluster.get("DBClusterMembers") or []
                ),
            )


def _norm(kind: Kind, ident: str) -> str:
    return ident.lower() if kind in ("rds", "rds-cluster") else ident


def _lookup(clients: Clients, region: str, kind: Kind, ids: Sequence[str]) -> dict[str, Resource]:
    """The resources of ``kind`` among ``ids`` that exist in ``region``, keyed by normalised id."""
    found: Iterable[Resource]
    if kind == "ec2":
        # A filter, unlike InstanceIds, does not fail the whole call when one id is unknown.
        found = (
            r
            for chunk in _chunks(ids, EC2_FILTER_VALUES)
            for r in _ec2_instances(clients, region, [{"Name": "instance-id", "Values": chunk}])
        )
    elif kind == "asg":
        found = (
            r
            for chunk in _chunks(ids, ASG_NAMES_BATCH)
            for r in _asg_groups(clients, region, AutoScalingGroupNames=chunk)
        )
    elif kind == "rds":
        found = (
            r
            for chunk in _chunks(ids, RDS_FILTER_VALUES)
            for r in _rds_instances(clients, region, Filters=[{"Name": "db-instance-id", "Values": chunk}])
        )
    else:
        found = (
            r
            for chunk in _chunks(ids, RDS_FILTER_VALUES)
            for r in _rds_clusters(clients, region, Filters=[{"Name": "db-cluster-id", "Values": chunk}])
        )
    wanted = set(ids)
    # Servers may return more than asked (a filter matching ARNs, a fake ignoring a filter): keep only what was named.
    return {_norm(kind, r.id): r for r in found if _norm(kind, r.id) in wanted}


def _candidate_kinds(target: Target) -> tuple[Kind, ...]:
    if target.kind is not None:
        return (target.kind,)
    # Names RDS would reject are not sent to it (it may answer InvalidParameterValue rather than "none").
    return ("asg", "rds", "rds-cluster") if _RDS_ID.match(target.id) else ("asg",)


def _article(kind: Kind) -> str:
    # Every kind name starts with a vowel sound ("an EC2…", "an Auto…", "an RDS…").
    return f"an {KIND_NAMES[kind]}"


def resolve(targets: Sequence[Target], clients: Clients | None = None) -> list[Resource | str]:
    """For each target, the resource it names or why it names none (not found, ambiguous, lookup failed).

    Lookups are batched per region and kind, whatever the number of targets.
    """
    clients = clients or Clients()
    wanted: dict[tuple[str, Kind], set[str]] = defaultdict(set)
    for target in targets:
        for kind in _candidate_kinds(target):
            wanted[(target.region, kind)].add(_norm(kind, target.id))
    found: dict[tuple[str, Kind], dict[str, Resource]] = {}
    failed: dict[tuple[str, Kind], str] = {}
    for (region, kind), ids in wanted.items():
        try:
            found[(region, kind)] = _lookup(clients, region, kind, sorted(ids))
        except (ClientError, BotoCoreError) as exc:
            failed[(region, kind)] = aws_error(exc)
    return [_pick(target, found, failed) for target in targets]


def _pick(
    target: Target, found: Mapping[tuple[str, Kind], Mapping[str, Resource]], failed: Mapping[tuple[str, Kind], str]
) -> Resource | str:
    matches: list[Resource] = []
    problems: list[str] = []
    for kind in _candidate_kinds(target):
        where = (target.region, kind)
        if where in failed:
            problems.append(f"could not look up {KIND_NAMES[kind]}s in {target.region}: {failed[where]}")
            continue
        hit = found.get(where, {}).get(_norm(kind, target.id))
        if hit is not None:
            matches.append(hit)
    if len(matches) > 1:
        kinds = " and ".join(_article(r.kind) for r in matches)
        return f"'{target.value}' is ambiguous in {target.region}: it names {kinds}; give the ARN of the one you mean"
    if problems:
        # With a lookup missing, "not found" or even a single match could be wrong (the name may be ambiguous).
        return "; ".join(problems)
    if not matches:
        if target.kind is not None:
            return f"{KIND_NAMES[target.kind]} '{target.id}' not found in {target.region}"
        return (
            f"'{target.value}' not found in {target.region}: no Auto Scaling group, RDS DB instance "
            "or RDS DB cluster has that name"
        )
    resource = matches[0]
    mismatch = _arn_mismatch(target, resource)
    if mismatch:
        return mismatch
    if resource.kind == "ec2" and resource.state in ("terminated", "shutting-down"):
        return f"EC2 instance '{resource.id}' is {resource.state}"
    return resource


def _arn_mismatch(target: Target, resource: Resource) -> str | None:
    """Guards against acting on a different resource than the ARN names (other account, recreated group)."""
    if target.arn is None:
        return None
    if target.kind == "ec2":
        account = resource.arn.split(":")[4]
        if account and target.account and account != target.account:
            return f"'{target.value}' is in account {target.account}, but the credentials reach account {account}"
        return None
    given = target.arn.lower() if target.kind in ("rds", "rds-cluster") else target.arn
    actual = resource.arn.lower() if target.kind in ("rds", "rds-cluster") else resource.arn
    if given != actual:
        return f"'{target.value}' does not match the {KIND_NAMES[resource.kind]} found: {resource.arn}"
    return None


# --- writing tags ----------------------------------------------------------------------------------------------


def _batched(items: Sequence[Resource], size: int, call: Callable[[list[Resource]], object]) -> dict[ResourceKey, str]:
    """Runs ``call`` per chunk; returns the error per resource that failed."""
    errors: dict[ResourceKey, str] = {}
    for chunk in _chunks(items, size):
        try:
            call(chunk)
        except (ClientError, BotoCoreError) as exc:
            if len(chunk) == 1:
                errors[chunk[0].key] = aws_error(exc)
            else:
                # One bad member fails the whole request: redo it one by one so the error lands on that member only.
                errors |= _batched(chunk, 1, call)
    return errors


def _writer(
    clients: Clients, region: str, kind: Kind, op: Operation, key: str, value: str
) -> tuple[int, Callable[[list[Resource]], object]]:
    """The batch size and the call that tags (or untags) one batch of resources of ``kind`` in ``region``."""
    if kind == "ec2":
        ec2 = clients.get("ec2", region)
        if op == "tag":
            return EC2_TAG_BATCH, lambda c: ec2.create_tags(
                Resources=[r.id for r in c], Tags=[{"Key": key, "Value": value}]
            )
        # A key without a value deletes the tag whatever its value.
        return EC2_TAG_BATCH, lambda c: ec2.delete_tags(Resources=[r.id for r in c], Tags=[{"Key": key}])
    if kind == "asg":
        asg = clients.get("autoscaling", region)
        if op == "tag":
            # Propagated to the instances the group launches, so that their cost is allocated to the schedule tag
            # (Cost Explorer sees instances, not groups). The EC2 worker never acts on group members itself.
            return ASG_TAG_BATCH, lambda c: asg.create_or_update_tags(
                Tags=[
                    {
                        "ResourceId": r.id,
                        "ResourceType": "auto-scaling-group",
                        "Key": key,
                        "Value": value,
                        "PropagateAtLaunch": True,
                    }
                    for r in c
                ]
            )
        return ASG_TAG_BATCH, lambda c: asg.delete_tags(
            Tags=[{"ResourceId": r.id, "ResourceType": "auto-scaling-group", "Key": key} for r in c]
        )
    rds = clients.get("rds", region)
    if op == "tag":
        return 1, lambda c: rds.add_tags_to_resource(ResourceName=c[0].arn, Tags=[{"Key": key, "Value": value}])
    return 1, lambda c: rds.remove_tags_from_resource(ResourceName=c[0].arn, TagKeys=[key])


def _write(
    resources: Sequence[Resource], op: Operation, key: str, value: str, clients: Clients
) -> dict[ResourceKey, str]:
    groups: dict[tuple[str, Kind], list[Resource]] = defaultdict(list)
    for resource in resources:
        groups[(resource.region, resource.kind)].append(resource)
    errors: dict[ResourceKey, str] = {}
    for (region, kind), group in groups.items():
        try:
            size, call = _writer(clients, region, kind, op, key, value)
        except BotoCoreError as exc:  # no client (e.g. no region or credentials config): every member fails alike
            errors |= {r.key: aws_error(exc) for r in group}
            continue
        errors |= _batched(group, size, call)
    return errors


def _follow_members(
    clusters: Sequence[Resource], op: Operation, key: str, value: str, clients: Clients
) -> dict[ResourceKey, str]:
    """Copies a cluster's schedule tag to (or removes it from) its member instances: RDS bills the instances, so
    Cost Explorer allocates their cost to the tag only if they carry it. The cluster's errors, if any member failed.
    """
    out: dict[ResourceKey, str] = {}
    for cluster in clusters:
        if not cluster.members:
            continue
        try:
            members = list(_lookup(clients, cluster.region, "rds", [_norm("rds", m) for m in cluster.members]).values())
        except (BotoCoreError, ClientError) as exc:
            out[cluster.key] = f"the cluster is done, but its member instances could not be read: {aws_error(exc)}"
            continue
        failed = _write(members, op, key, value, clients)
        if failed:
            names = ", ".join(sorted(k[2] for k in failed))
            out[cluster.key] = (
                f"the cluster is done, but not its member instance(s) {names} (their cost is allocated by this tag): "
                f"{next(iter(failed.values()))}"
            )
    return out


def _refusal(resource: Resource, op: Operation) -> str | None:
    """Why a resource must not get the schedule tag, if it must not."""
    if op == "tag" and resource.kind == "rds" and resource.cluster:
        # RDS refuses to stop or start one instance of a cluster: only the cluster is scheduled.
        return (
            f"RDS DB instance '{resource.id}' belongs to DB cluster '{resource.cluster}', which starts and stops "
            "as a whole: tag the cluster instead"
        )
    return None


def _apply(
    named: Sequence[tuple[str, str, Kind | None, str | None, str | None, Resource | str]],
    op: Operation,
    key: str,
    value: str,
    clients: Clients,
) -> list[Outcome]:
    """``named``: (input, region, kind, id, arn, resolution) per resource argument, in order."""
    todo: dict[ResourceKey, Resource] = {}
    for *_, resolution in named:
        if isinstance(resolution, Resource) and _refusal(resolution, op) is None:
            todo.setdefault(resolution.key, resolution)  # the same resource named twice is written once
    errors = _write(list(todo.values()), op, key, value, clients)
    errors |= _follow_members(
        [r for r in todo.values() if r.kind == "rds-cluster" and r.key not in errors], op, key, value, clients
    )
    outcomes: list[Outcome] = []
    for given, region, kind, ident, arn, resolution in named:
        if isinstance(resolution, str):
            outcomes.append(Outcome(resource=given, region=region, kind=kind, id=ident, arn=arn, error=resolution))
            continue
        error = _refusal(resolution, op) or errors.get(resolution.key)
        outcomes.append(
            Outcome(
                resource=given,
                region=resolution.region,
                kind=resolution.kind,
                id=resolution.id,
                arn=resolution.arn,
                ok=error is None,
                error=error,
                previous=resolution.tags.get(key),
            )
        )
    return outcomes


def _run(targets: Sequence[Target], op: Operation, key: str, value: str, clients: Clients | None) -> list[Outcome]:
    clients = clients or Clients()
    resolutions = resolve(targets, clients)
    named = [
        (t.value, t.region, t.kind, t.id if t.kind else None, t.arn, r)
        for t, r in zip(targets, resolutions, strict=True)
    ]
    return _apply(named, op, key, value, clients)


def tag_targets(targets: Sequence[Target], key: str, value: str, clients: Clients | None = None) -> list[Outcome]:
    """Sets tag ``key=value`` on every resource the targets name; one outcome per target, in order."""
    return _run(targets, "tag", key, value, clients)


def untag_targets(targets: Sequence[Target], key: str, clients: Clients | None = None) -> list[Outcome]:
    """Removes tag ``key`` (whatever its value) from every resource the targets name."""
    return _run(targets, "untag", key, "", clients)


def tag_found(resources: Sequence[Resource], key: str, value: str, clients: Clients | None = None) -> list[Outcome]:
    """Sets tag ``key=value`` on resources already looked up (by :func:`find_where`); outcomes name them by id."""
    named = [(r.id, r.region, r.kind, r.id, r.arn, r) for r in resources]
    return _apply(named, "tag", key, value, clients or Clients())


# --- finding by tag --------------------------------------------------------------------------------------------


def find_where(key: str, value: str, region: str | None = None, clients: Clients | None = None) -> list[Resource]:
    """Every EC2 instance (not terminated), Auto Scaling group, RDS DB instance and DB cluster in ``region`` with
    tag ``key=value``, sorted by kind and id.

    RDS DB instances that belong to a cluster are left out: the cluster is what a schedule starts and stops.
    Raises :class:`TaggingError` when a listing fails (a partial list would silently miss resources).
    """
    clients = clients or Clients()
    region = region or clients.default_region()
    found: list[Resource] = []

    def collect(what: str, resources: Iterable[Resource]) -> None:
        try:
            # Filters run server-side where the API has them; the check here also covers RDS, which has none.
            found.extend(r for r in resources if r.tags.get(key) == value)
        except (ClientError, BotoCoreError) as exc:
            raise TaggingError(f"could not list {what} in {region}: {aws_error(exc)}") from exc

    collect(
        "EC2 instances",
        _ec2_instances(
            clients,
            region,
            [{"Name": f"tag:{key}", "Values": [value]}, {"Name": "instance-state-name", "Values": _LIVE_EC2_STATES}],
        ),
    )
    # tag:KEY matches the pair on one tag; tag-key plus tag-value could match KEY on one tag and VALUE on another.
    collect("Auto Scaling groups", _asg_groups(clients, region, Filters=[{"Name": f"tag:{key}", "Values": [value]}]))
    # DescribeDBInstances/Clusters have no tag filter for every engine: list everything and filter on TagList.
    collect("RDS DB instances", (r for r in _rds_instances(clients, region) if not r.cluster))
    collect("RDS DB clusters", _rds_clusters(clients, region))
    order = {kind: i for i, kind in enumerate(KIND_NAMES)}
    return sorted(found, key=lambda r: (order[r.kind], r.id))
