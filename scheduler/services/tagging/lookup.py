"""References to the resources they name: batched lookups per region and kind, then one answer per reference."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from .. import registry
from ..common import aws_error
from ..naming import Found, Reference
from .clients import Clients
from .words import either, kind_name, with_article


def normalise(kind: str, ident: str) -> str:
    """``ident`` as the service of ``kind`` compares ids (e.g. case-folded)."""
    return registry.of_kind(kind).normalise(kind, ident)


def lookup(clients: Clients, region: str, kind: str, ids: Sequence[str]) -> dict[str, Found]:
    """The resources of ``kind`` among ``ids`` that exist in ``region``, keyed by normalised id."""
    found = registry.of_kind(kind).lookup(clients, region, kind, list(ids))
    wanted = set(ids)
    # Servers may return more than asked (a filter matching ARNs, a fake ignoring a filter): keep only what was named.
    return {normalise(kind, r.id): r for r in found if normalise(kind, r.id) in wanted}


def candidate_kinds(target: Reference) -> tuple[str, ...]:
    """The kinds ``target`` may denote: its own, or for a bare name every kind that has names it could be."""
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
        for kind in candidate_kinds(target):
            wanted[(target.region, kind)].add(normalise(kind, target.id))
    found: dict[tuple[str, str], dict[str, Found]] = {}
    failed: dict[tuple[str, str], str] = {}
    for (region, kind), ids in wanted.items():
        try:
            found[(region, kind)] = lookup(clients, region, kind, sorted(ids))
        except (ClientError, BotoCoreError) as exc:
            failed[(region, kind)] = aws_error(exc)
    return [_pick(target, found, failed) for target in targets]


def _pick(
    target: Reference, found: Mapping[tuple[str, str], Mapping[str, Found]], failed: Mapping[tuple[str, str], str]
) -> Found | str:
    matches: list[Found] = []
    problems: list[str] = []
    for kind in candidate_kinds(target):
        where = (target.region, kind)
        if where in failed:
            problems.append(f"could not look up {kind_name(kind)}s in {target.region}: {failed[where]}")
            continue
        hit = found.get(where, {}).get(normalise(kind, target.id))
        if hit is not None:
            matches.append(hit)
    if len(matches) > 1:
        kinds = " and ".join(with_article(kind_name(r.kind)) for r in matches)
        return f"'{target.value}' is ambiguous in {target.region}: it names {kinds}; give the ARN of the one you mean"
    if problems:
        # With a lookup missing, "not found" or even a single match could be wrong (the name may be ambiguous).
        return "; ".join(problems)
    if not matches:
        if target.kind is not None:
            return f"{kind_name(target.kind)} '{target.id}' not found in {target.region}"
        named = [name for s in registry.all_services() for kind, name in s.kinds.items() if kind in s.named_kinds]
        return f"'{target.value}' not found in {target.region}: no {either(named, 'or')} has that name"
    resource = matches[0]
    return registry.of_kind(resource.kind).problem(target, resource) or resource
