"""What the orchestrator vouches for in each pass: the configuration's digest and the targets it fans out to.

A worker invocation carries its pass's configuration inline (to save every worker a read of the config table)
and names its target. Anyone allowed to invoke the worker function could hand it a configuration of their own
and any account. So the orchestrator, which reads the configuration from the table itself, stores one item per
deployment in the config table before it fans out (kind ``setting``, name ``pass-scope``): the digest of the
configuration it read and the accounts, regions and services of the pass. A worker acts only when its target is
in that scope, and uses an inline configuration only when its digest matches (otherwise it reads the table):
whoever can change what the workers do must be able to write the config table, which is where schedules live
anyway.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import PutError

from scheduler.engine import Config, instant_text, iso_z, parse_instant

from .tables import Tables

SCOPE_KIND = "setting"
SCOPE_NAME = "pass-scope"


def config_digest(config: Config) -> str:
    """SHA-256 of the configuration's canonical JSON (the same whether it came from the table or a payload)."""
    text = json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class PassScope:
    digest: str
    accounts: frozenset[str]
    regions: frozenset[str]
    services: frozenset[str]
    at: str  # the latest pass that recorded it (UTC ISO 8601)
    tag_key: str = "Schedule"

    def refuses(self, account: str, region: str, service: str, tag_key: str, at: datetime) -> str | None:
        """Why a worker's pass is outside the scope (naming the field and value), or None."""
        if account not in self.accounts:
            return f"target.account: '{account}' is not an account of this deployment"
        if region not in self.regions:
            return f"target.region: '{region}' is not a region of this deployment"
        if service not in self.services:
            return f"target.service: '{service}' is not a service of this deployment"
        if tag_key != self.tag_key:
            return f"tag_key: '{tag_key[:80]}' is not this deployment's tag key"
        try:
            latest = parse_instant(self.at)
        except ValueError:
            return f"at: the recorded scope has no readable pass time ('{self.at[:40]}')"
        if at > latest:
            return f"at: '{iso_z(at)}' is later than the latest pass the orchestrator started ({iso_z(latest)})"
        return None


def publish_scope(
    tables: Tables,
    config: Config,
    accounts: Iterable[str],
    regions: Iterable[str],
    services: Iterable[str],
    at: datetime,
    tag_key: str = "Schedule",
) -> PassScope:
    """Records the scope of the pass at ``at`` (one conditional PutItem): never over the scope of a later pass (an
    orchestrator invocation delivered late must not narrow what the workers of a newer pass may do)."""
    scope = PassScope(
        config_digest(config), frozenset(accounts), frozenset(regions), frozenset(services), instant_text(at), tag_key
    )
    body = {
        "digest": scope.digest,
        "accounts": sorted(scope.accounts),
        "regions": sorted(scope.regions),
        "services": sorted(scope.services),
        "at": scope.at,
        "tag_key": tag_key,
    }
    model = tables.config
    when = at.astimezone(UTC)
    # updated_at is the pass time here: UTCDateTimeAttribute writes fixed-width UTC text, which compares as time.
    item = model(SCOPE_KIND, SCOPE_NAME, body=body, version=1, updated_at=when)
    try:
        item.save(condition=model.updated_at.does_not_exist() | (model.updated_at <= when))
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
    return scope


def read_scope(tables: Tables) -> PassScope | None:
    """The scope the orchestrator recorded last (a consistent GetItem), or None if it never ran."""
    try:
        item = tables.config.get(SCOPE_KIND, SCOPE_NAME, consistent_read=True)
    except tables.config.DoesNotExist:
        return None
    body = dict(item.body or {})

    def names(key: str) -> frozenset[str]:
        value = body.get(key)
        return frozenset(str(v) for v in value) if isinstance(value, list) else frozenset()

    return PassScope(
        str(body.get("digest") or ""),
        names("accounts"),
        names("regions"),
        names("services"),
        str(body.get("at") or ""),
        str(body.get("tag_key") or "Schedule"),
    )
