"""How ``isched tag`` names resources: the types every service's naming part (:class:`.base.Service`) works with."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Operation = Literal["tag", "untag"]
# (region, kind, id): one real resource, however it was named. A kind is what a service calls each sort of resource
# it schedules (RDS: "rds" for DB instances, "rds-cluster" for DB clusters); kinds are unique across services.
ResourceKey = tuple[str, str, str]


class InvalidResource(ValueError):
    """A RESOURCE argument that cannot name anything isched tags (a malformed or foreign ARN, an empty value)."""


@dataclass(frozen=True, slots=True)
class Reference:
    """One RESOURCE argument, parsed: where to look and, unless it is a bare name, what kind of resource it is."""

    value: str
    region: str
    id: str
    kind: str | None = None  # None: a bare name, looked up as every kind that has names
    arn: str | None = None  # the ARN as given
    account: str | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """A resource that exists, as its describe call returned it (what tagging works on)."""

    kind: str
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


class ClientSource(Protocol):
    """Clients for one command, all from one session."""

    def get(self, service: str, region: str) -> Any: ...

    def partition(self, region: str) -> str: ...


# Writes the tag on (or removes it from) one batch of resources; raises on failure.
TagCall = Callable[[list[Found]], object]


def arn_mismatch(ref: Reference, found: Found, name: str, *, fold_case: bool = False) -> str | None:
    """Guards against acting on a different resource than the ARN names (a recreated group, another account)."""
    if ref.arn is None:
        return None
    given, actual = (ref.arn.lower(), found.arn.lower()) if fold_case else (ref.arn, found.arn)
    if given != actual:
        return f"'{ref.value}' does not match the {name} found: {found.arn}"
    return None


def match_arn(pattern: re.Pattern[str], value: str, resource: str, expected: str) -> re.Match[str]:
    """The match of ``pattern`` on the resource part of an ARN; :class:`InvalidResource` saying that ``value`` (the
    argument as given) is not ``expected`` (e.g. "a Redshift cluster ARN (…:cluster:ID)") when it does not match."""
    found = pattern.match(resource)
    if found is None:
        raise InvalidResource(f"'{value}' is not {expected}")
    return found
