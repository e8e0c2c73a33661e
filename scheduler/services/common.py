"""Helpers every service module uses: AWS error text, tag lists, batching, and acting on (or tagging) resources
one at a time with each one's failure isolated."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from scheduler.engine import State

from .base import ActionResult, Resource

log = logging.getLogger(__name__)

T = TypeVar("T")


def aws_error(exc: Exception) -> str:
    """A one-line reason for an AWS failure: the error code and AWS's own message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "Error"
        message = error.get("Message") or str(exc)
        return f"{code}: {message}"
    return str(exc) or type(exc).__name__


def tag_map(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """An AWS tag list (``[{"Key": …, "Value": …}]``) as a dict."""
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or () if "Key" in t}


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size`` (at least 1)."""
    size = max(1, size)
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def within(name: str, value: int, low: int, high: int) -> int:
    """``value`` of a size setting ``name`` (a page, a batch), checked to be between ``low`` and ``high``."""
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {value}")
    return value


@dataclass(frozen=True)
class ClusterListing:
    """How a service lists what its clusters hold (ECS services, EKS node groups): ListClusters answers the clusters
    under ``clusters``; ``operation``, given a cluster as its parameter ``cluster``, its members under ``members``;
    a cluster deleted since it was listed fails with the error code ``missing``."""

    clusters: str
    operation: str
    cluster: str
    members: str
    missing: str

    def __call__(self, client: Any, page_size: int) -> Iterator[tuple[str, list[str]]]:
        """Each cluster with its members, all pages of ``page_size`` (a cluster deleted meanwhile is passed over)."""
        for page in client.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": page_size}):
            for name in page.get(self.clusters, []):
                listing = client.get_paginator(self.operation).paginate(
                    **{self.cluster: name}, PaginationConfig={"PageSize": page_size}
                )
                try:
                    found = [member for listed in listing for member in listed.get(self.members, [])]
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") == self.missing:
                        continue
                    raise
                yield name, found


def unique(ids: Iterable[str]) -> list[str]:
    """``ids`` without repeats, in first-seen order (a resource named twice is acted on once)."""
    return list(dict.fromkeys(ids))


def not_estimated(what: str, why: str | None = None) -> dict[str, Any]:
    """What bills on while a resource is stopped when no cost is estimated for it (``why``: the reason, if any)."""
    return {"what": what, "estimated_cost": None, "note": f"not estimated: {why}" if why else "not estimated"}


def guarded(resource: Resource, action: Callable[[Resource], ActionResult], service: str) -> ActionResult:
    """``action`` on one resource, whatever becomes of it reported for that resource only: an unschedulable resource
    is refused, an AWS error becomes its result's error, and any other failure is logged too (``service``: its name
    for the log)."""
    if resource.unschedulable:
        return ActionResult(resource.id, ok=False, error=resource.unschedulable)
    try:
        return action(resource)
    except (ClientError, BotoCoreError) as exc:
        return ActionResult(resource.id, ok=False, error=aws_error(exc))
    except Exception as exc:  # one resource's surprise must not cost the others their action
        log.exception("%s action on %s failed", service, resource.id)
        return ActionResult(resource.id, ok=False, error=aws_error(exc))


def one_by_one(
    resources: Iterable[Resource], goal: State, call: Callable[[str], Mapping[str, Any]], service: str
) -> list[ActionResult]:
    """Brings each resource to ``goal`` with ``call(id)`` (for an API with no batch call), which returns its result's
    details; each one :func:`guarded`. A resource already at (or on its way to) ``goal`` is not asked again (most
    services refuse to stop what is stopped): its result says ``already``."""

    def act(resource: Resource) -> ActionResult:
        if resource.observed.settled is goal:
            return ActionResult(
                resource.id, ok=True, details={"status": resource.details.get("status"), "already": True}
            )
        return ActionResult(resource.id, ok=True, details=dict(call(resource.id)))

    return [guarded(r, act, service) for r in resources]


def tag_each(
    tags: Mapping[str, Mapping[str, str]],
    write: Callable[[str, Mapping[str, str]], object],
    failed: Mapping[str, ActionResult] | None = None,
) -> list[ActionResult]:
    """Informational tags for an API that tags one resource per call: ``write(id, tags)`` for each id with tags,
    one failure never stopping the others. ``failed``: ids known not to be reachable, with their results."""
    out: list[ActionResult] = []
    for ident, values in tags.items():
        if not values:
            out.append(ActionResult(ident, ok=True))
        elif failed and ident in failed:
            out.append(failed[ident])
        else:
            try:
                write(ident, values)
            except (ClientError, BotoCoreError, LookupError) as exc:
                out.append(ActionResult(ident, ok=False, error=aws_error(exc)))
                continue
            out.append(ActionResult(ident, ok=True))
    return out


def with_missing(
    ids: Iterable[str], found: Mapping[str, object], failed: dict[str, ActionResult], missing: Callable[[str], str]
) -> dict[str, ActionResult]:
    """``failed`` with a failure for each of ``ids`` neither found nor already failed (``missing(id)``: the error)."""
    for ident in ids:
        if ident not in found and ident not in failed:
            failed[ident] = ActionResult(ident, ok=False, error=missing(ident))
    return failed
