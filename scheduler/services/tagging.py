"""Setting and removing the schedule tag on resources of every registered service (``isched tag`` / ``untag``).

A resource is named the way users see it in the console: an id (EC2's ``i-…``), a name (an Auto Scaling group, an
RDS DB instance or cluster identifier), or an ARN. What a name or ARN may denote, how resources are looked up and
how the tag is written, batched, is each service's own (:class:`scheduler.services.base.Service`); this module
only resolves the arguments through the registry, batches per region and kind, and reports per argument. Names are
resolved before anything is written, so a typo or an ambiguous name is reported per resource and never tags the
wrong thing; one resource's failure never stops the others.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scheduler.aws import session as aws

from . import registry
from .base import Resource
from .common import aws_error, chunks
from .naming import Found, InvalidResource, Operation, Reference, ResourceKey, TagCall

__all__ = [
    "Clients",
    "Found",
    "InvalidResource",
    "Outcome",
    "Reference",
    "TaggingError",
    "find_where",
    "kind_name",
    "parse_target",
    "resolve",
    "tag_found",
    "tag_targets",
    "untag_discovered",
    "untag_targets",
]

_ARN = re.compile(
    r"^arn:(?P<partition>aws(?:-[a-z]+)*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.*)\Z"
)


class TaggingError(Exception):
    """An AWS failure that stops a whole operation (listing resources for ``--where``)."""


@dataclass(slots=True)
class Outcome:
    """What happened to one RESOURCE argument."""

    resource: str
    region: str
    kind: str | None = None
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
        self.session = session or aws.new_session()
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


def kind_name(kind: str) -> str:
    """A kind's name for people ("EC2 instance")."""
    return registry.kind_names()[kind]


def _a(name: str) -> str:
    """``name`` with its indefinite article: "an EC2 instance", "an RDS…", "an Auto…", "a Redshift cluster"."""
    first = name.split(" ", 1)[0]
    # An initialism is read letter by letter: "an RDS", "an EKS"; a word by its first sound.
    vowel = first[0] in "AEFHILMNORSX" if len(first) > 1 and first[:2].isupper() else first[0].lower() in "aeiou"
    return f"{'an' if vowel else 'a'} {name}"


def _either(names: Sequence[str], last: str) -> str:
    return f"{', '.join(names[:-1])} {last} {names[-1]}" if len(names) > 1 else "".join(names)


# --- parsing ---------------------------------------------------------------------------------------------------


def parse_target(value: str, region: str) -> Reference:
    """Parses one RESOURCE argument; ``region`` applies to ids and names (an ARN carries its own)."""
    text = value.strip()
    if not text:
        raise InvalidResource("an empty value names no resource")
    if text.startswith("arn:"):
        return _parse_arn(value, text)
    for service in registry.all_services():
        kind = service.kind_of_id(text)
        if kind is not None:
            return Reference(value=value, region=region, id=text, kind=kind)
    return Reference(value=value, region=region, id=text)


def _parse_arn(value: str, text: str) -> Reference:
    m = _ARN.match(text)
    if m is None:
        raise InvalidResource(f"'{value}' is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)")
    arn_service, region, account, resource = m["service"], m["region"], m["account"], m["resource"]
    services = registry.all_services()
    service = next((s for s in services if s.arn_service == arn_service), None)
    if service is None:
        raise InvalidResource(
            f"'{value}' is an ARN of service '{arn_service}'; isched tags "
            f"{_either([s.plural for s in services], 'and')}"
        )
    if not aws.is_region(region):
        raise InvalidResource(f"'{value}' has no valid region ('{region}')")
    if not aws.is_account_id(account):
        raise InvalidResource(f"'{value}' has no valid account id ('{account}')")
    kind, ident = service.parse_arn(value, resource)
    return Reference(value=value, region=region, id=ident, kind=kind, arn=text, account=account)


# --- lookups ---------------------------------------------------------------------------------------------------


def _norm(kind: str, ident: str) -> str:
    return registry.of_kind(kind).normalise(kind, ident)


def _lookup(clients: Clients, region: str, kind: str, ids: Sequence[str]) -> dict[str, Found]:
    """The resources of ``kind`` among ``ids`` that exist in ``region``, keyed by normalised id."""
    found = registry.of_kind(kind).lookup(clients, region, kind, list(ids))
    wanted = set(ids)
    # Servers may return more than asked (a filter matching ARNs, a fake ignoring a filter): keep only what was named.
    return {_norm(kind, r.id): r for r in found if _norm(kind, r.id) in wanted}


def _candidate_kinds(target: Reference) -> tuple[str, ...]:
    if target.kind is not None:
        return (target.kind,)
    return tuple(kind for service in registry.all_services() for kind in service.kinds_for_name(target.id))


def resolve(targets: Sequence[Reference], clients: Clients | None = None) -> list[Found | str]:
    """For each target, the resource it names or why it names none (not found, ambiguous, lookup failed).

    Lookups are batched per region and kind, whatever the number of targets.
    """
    clients = clients or Clients()
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for target in targets:
        for kind in _candidate_kinds(target):
            wanted[(target.region, kind)].add(_norm(kind, target.id))
    found: dict[tuple[str, str], dict[str, Found]] = {}
    failed: dict[tuple[str, str], str] = {}
    for (region, kind), ids in wanted.items():
        try:
            found[(region, kind)] = _lookup(clients, region, kind, sorted(ids))
        except (ClientError, BotoCoreError) as exc:
            failed[(region, kind)] = aws_error(exc)
    return [_pick(target, found, failed) for target in targets]


def _pick(
    target: Reference, found: Mapping[tuple[str, str], Mapping[str, Found]], failed: Mapping[tuple[str, str], str]
) -> Found | str:
    matches: list[Found] = []
    problems: list[str] = []
    for kind in _candidate_kinds(target):
        where = (target.region, kind)
        if where in failed:
            problems.append(f"could not look up {kind_name(kind)}s in {target.region}: {failed[where]}")
            continue
        hit = found.get(where, {}).get(_norm(kind, target.id))
        if hit is not None:
            matches.append(hit)
    if len(matches) > 1:
        kinds = " and ".join(_a(kind_name(r.kind)) for r in matches)
        return f"'{target.value}' is ambiguous in {target.region}: it names {kinds}; give the ARN of the one you mean"
    if problems:
        # With a lookup missing, "not found" or even a single match could be wrong (the name may be ambiguous).
        return "; ".join(problems)
    if not matches:
        if target.kind is not None:
            return f"{kind_name(target.kind)} '{target.id}' not found in {target.region}"
        named = [name for s in registry.all_services() for kind, name in s.kinds.items() if kind in s.named_kinds]
        return f"'{target.value}' not found in {target.region}: no {_either(named, 'or')} has that name"
    resource = matches[0]
    return registry.of_kind(resource.kind).problem(target, resource) or resource


# --- writing tags ----------------------------------------------------------------------------------------------


def _batched(items: Sequence[Found], size: int, call: TagCall) -> dict[ResourceKey, str]:
    """Runs ``call`` per chunk; returns the error per resource that failed."""
    errors: dict[ResourceKey, str] = {}
    for chunk in chunks(items, size):
        try:
            call(chunk)
        except (ClientError, BotoCoreError) as exc:
            if len(chunk) == 1:
                errors[chunk[0].key] = aws_error(exc)
            else:
                # One bad member fails the whole request: redo it one by one so the error lands on that member only.
                errors |= _batched(chunk, 1, call)
    return errors


def _write(resources: Sequence[Found], op: Operation, key: str, value: str, clients: Clients) -> dict[ResourceKey, str]:
    groups: dict[tuple[str, str], list[Found]] = defaultdict(list)
    for resource in resources:
        groups[(resource.region, resource.kind)].append(resource)
    errors: dict[ResourceKey, str] = {}
    for (region, kind), group in groups.items():
        try:
            size, call = registry.of_kind(kind).tag_writer(clients, region, kind, op, key, value)
        except BotoCoreError as exc:  # no client (e.g. no region or credentials config): every member fails alike
            errors |= {r.key: aws_error(exc) for r in group}
            continue
        errors |= _batched(group, size, call)
    return errors


def _follow_members(
    owners: Sequence[Found], op: Operation, key: str, value: str, clients: Clients
) -> dict[ResourceKey, str]:
    """Copies a cluster's schedule tag to (or removes it from) its member instances: RDS bills the instances, so
    Cost Explorer allocates their cost to the tag only if they carry it. The cluster's errors, if any member failed.
    """
    out: dict[ResourceKey, str] = {}
    for owner in owners:
        follow = registry.of_kind(owner.kind).members(owner)
        if not follow:
            continue
        kind, ids = follow
        try:
            members = list(_lookup(clients, owner.region, kind, [_norm(kind, m) for m in ids]).values())
        except (BotoCoreError, ClientError) as exc:
            out[owner.key] = f"the cluster is done, but its member instances could not be read: {aws_error(exc)}"
            continue
        failed = _write(members, op, key, value, clients)
        if failed:
            names = ", ".join(sorted(k[2] for k in failed))
            out[owner.key] = (
                f"the cluster is done, but not its member instance(s) {names} (their cost is allocated by this tag): "
                f"{next(iter(failed.values()))}"
            )
    return out


def _refusal(resource: Found, op: Operation) -> str | None:
    return registry.of_kind(resource.kind).refusal(resource, op)


def _apply(
    named: Sequence[tuple[str, str, str | None, str | None, str | None, Found | str]],
    op: Operation,
    key: str,
    value: str,
    clients: Clients,
    follow_members: bool = True,
) -> list[Outcome]:
    """``named``: (input, region, kind, id, arn, resolution) per resource argument, in order. ``follow_members``:
    a cluster's member instances get (or lose) the tag with it."""
    todo: dict[ResourceKey, Found] = {}
    for *_, resolution in named:
        if isinstance(resolution, Found) and _refusal(resolution, op) is None:
            todo.setdefault(resolution.key, resolution)  # the same resource named twice is written once
    errors = _write(list(todo.values()), op, key, value, clients)
    if follow_members:
        errors |= _follow_members([r for r in todo.values() if r.key not in errors], op, key, value, clients)
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


def _run(
    targets: Sequence[Reference],
    op: Operation,
    key: str,
    value: str,
    clients: Clients | None,
    follow_members: bool = True,
) -> list[Outcome]:
    clients = clients or Clients()
    resolutions = resolve(targets, clients)
    named = [
        (t.value, t.region, t.kind, t.id if t.kind else None, t.arn, r)
        for t, r in zip(targets, resolutions, strict=True)
    ]
    return _apply(named, op, key, value, clients, follow_members)


def tag_targets(
    targets: Sequence[Reference], key: str, value: str, clients: Clients | None = None, *, follow_members: bool = True
) -> list[Outcome]:
    """Sets tag ``key=value`` on every resource the targets name; one outcome per target, in order.
    ``follow_members=False``: not on a cluster's member instances (a tag only the scheduler reads)."""
    return _run(targets, "tag", key, value, clients, follow_members)


def untag_targets(
    targets: Sequence[Reference], key: str, clients: Clients | None = None, *, follow_members: bool = True
) -> list[Outcome]:
    """Removes tag ``key`` (whatever its value) from every resource the targets name."""
    return _run(targets, "untag", key, "", clients, follow_members)


def tag_found(resources: Sequence[Found], key: str, value: str, clients: Clients | None = None) -> list[Outcome]:
    """Sets tag ``key=value`` on resources already looked up (by :func:`find_where`); outcomes name them by id."""
    named = [(r.id, r.region, r.kind, r.id, r.arn, r) for r in resources]
    return _apply(named, "tag", key, value, clients or Clients())


def untag_discovered(resources: Sequence[Resource], key: str, clients: Clients) -> dict[str, str]:
    """Removes tag ``key`` from resources a scheduling pass discovered (an expired ``isched:override``), batched by
    each service's tag writer; returns the error per resource id that failed (one failure never stops the others).
    Only the resource itself: nothing is followed to members."""
    found: list[Found] = []
    errors: dict[str, str] = {}
    for res in resources:
        try:
            if not res.arn:
                raise InvalidResource(f"{res.service} resource '{res.id}' has no ARN")
            ref = _parse_arn(res.arn, res.arn)
        except InvalidResource as exc:
            errors[res.id] = str(exc)
            continue
        assert ref.kind is not None
        found.append(Found(kind=ref.kind, id=res.id, region=ref.region, arn=res.arn))
    by_key = {f.key: f.id for f in found}
    errors |= {by_key[k]: text for k, text in _write(found, "untag", key, "", clients).items()}
    return errors


# --- finding by tag --------------------------------------------------------------------------------------------


def find_where(key: str, value: str, region: str | None = None, clients: Clients | None = None) -> list[Found]:
    """Every resource of every service in ``region`` with tag ``key=value`` (EC2 instances not terminated, RDS DB
    instances not in a cluster), sorted by kind and id.

    Raises :class:`TaggingError` when a listing fails (a partial list would silently miss resources).
    """
    clients = clients or Clients()
    region = region or clients.default_region()
    found: list[Found] = []
    for service in registry.all_services():
        for what, resources in service.find_tagged(clients, region, key, value):
            try:
                # Filters run server-side where the API has them; the check here also covers RDS, which has none.
                found.extend(r for r in resources if r.tags.get(key) == value)
            except (ClientError, BotoCoreError) as exc:
                raise TaggingError(f"could not list {what} in {region}: {aws_error(exc)}") from exc
    order = {kind: i for i, kind in enumerate(registry.kind_names())}
    return sorted(found, key=lambda r: (order[r.kind], r.id))
