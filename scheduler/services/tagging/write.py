"""Writing the tag on (or removing it from) resources, batched per region and kind at each service's maximum, with
one :class:`Outcome` per RESOURCE argument; a cluster's member instances follow it where its service says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import registry
from ..base import Resource
from ..common import aws_error, chunks
from ..naming import Found, InvalidResource, Operation, Reference, ResourceKey, TagCall
from .clients import Clients
from .lookup import lookup, normalise, resolve
from .parse import parse_arn


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
            members = list(lookup(clients, owner.region, kind, [normalise(kind, m) for m in ids]).values())
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
            ref = parse_arn(res.arn, res.arn)
        except InvalidResource as exc:
            errors[res.id] = str(exc)
            continue
        assert ref.kind is not None
        found.append(Found(kind=ref.kind, id=res.id, region=ref.region, arn=res.arn))
    by_key = {f.key: f.id for f in found}
    errors |= {by_key[k]: text for k, text in _write(found, "untag", key, "", clients).items()}
    return errors
