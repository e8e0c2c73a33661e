"""Table names and PynamoDB models, bound at run time to a namespace's tables.

Names derive from the namespace (``isched-<namespace>-config`` ...) unless ``ISCHED_CONFIG_TABLE``,
``ISCHED_STATE_TABLE`` or ``ISCHED_LEDGER_TABLE`` name them (the Lambda functions get those from the stack).

Keys are chosen for the access patterns:

* config: ``kind`` (period | schedule | setting) + ``name``: listing one kind is one query.
* state: ``target`` (account#region#service) + ``resource``: a worker reads all state of its target with one
  query and writes it back in batches.
* ledger: ``month`` (YYYY-MM, UTC) + ``key`` (ISO instant#target#resource#action): a month is one query.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from scheduler.aws.session import default_region, endpoint_url, instrument, new_botocore_session

_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}\Z")


class NamespaceError(ValueError):
    pass


@dataclass(frozen=True)
class TableNames:
    config: str
    state: str
    ledger: str

    @classmethod
    def for_namespace(cls, namespace: str) -> TableNames:
        if not _NAMESPACE_RE.match(namespace or ""):
            raise NamespaceError(
                f"'{namespace}' is not a namespace (1-40 letters, digits, _ . -, starting with a letter or digit)"
            )
        return cls(
            config=os.environ.get("ISCHED_CONFIG_TABLE") or f"isched-{namespace}-config",
            state=os.environ.get("ISCHED_STATE_TABLE") or f"isched-{namespace}-state",
            ledger=os.environ.get("ISCHED_LEDGER_TABLE") or f"isched-{namespace}-ledger",
        )


class ConfigItem(Model):
    """A period, schedule or setting. ``body`` holds the file's fields; ``version`` guards every write."""

    class Meta:
        table_name = "isched-config"

    kind = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(range_key=True)
    body = JSONAttribute(default=dict)
    version = NumberAttribute(default=1)
    # Periods only: the schedules that use them, maintained in the same transaction as the schedule's write,
    # so a period in use cannot be deleted even by a concurrent writer.
    used_by = UnicodeSetAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    # Write tokens (see scheduler.store.config): renewed with every write of the body, and of used_by.
    rev = UnicodeAttribute(null=True)
    refs_rev = UnicodeAttribute(null=True)


class StateItem(Model):
    class Meta:
        table_name = "isched-state"

    target = UnicodeAttribute(hash_key=True)
    resource = UnicodeAttribute(range_key=True)
    data = JSONAttribute(default=dict)
    updated_at = UTCDateTimeAttribute(null=True)
    # Only on the per-target pass item, as fixed-width UTC text so conditions can compare them: the last
    # completed pass (its transitions are done) and the latest pass claimed (started).
    pass_at = UnicodeAttribute(null=True)
    claimed_at = UnicodeAttribute(null=True)
    # The real-clock instant until which the latest claim excludes other passes (it is running); removed when the
    # pass finishes.
    lease_until = UnicodeAttribute(null=True)
    # Who holds the latest claim: a random token per pass, so a claim whose first request succeeded but whose
    # answer was lost (a timeout, a dropped connection) is recognised as this pass's own when the SDK retries it.
    claim_token = UnicodeAttribute(null=True)
    # A pass that found the target already claimed: when, why, and how many since the last completed pass.
    skipped_at = UnicodeAttribute(null=True)
    skip_reason = UnicodeAttribute(null=True)
    skips = NumberAttribute(null=True)
    # How many of the target's resources the last completed pass left for the next one to look at (found, or with
    # an action or ledger entry to settle): 0 lets the orchestrator skip a target with nothing tagged; removed when
    # a pass is claimed (unknown until it completes).
    live = NumberAttribute(null=True)


class LedgerItem(Model):
    class Meta:
        table_name = "isched-ledger"

    month = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    data = JSONAttribute(default=dict)
    expires_at = NumberAttribute(null=True)  # epoch seconds, for DynamoDB TTL


def _bind(base: type[Model], table: str, region: str, host: str | None) -> Any:
    meta = type(
        "Meta",
        (),
        {
            "table_name": table,
            "region": region,
            "host": host,
            "billing_mode": "PAY_PER_REQUEST",
            "max_retry_attempts": 5,
        },
    )
    return type(base.__name__, (base,), {"Meta": meta, "__module__": __name__})


@lru_cache(maxsize=64)
def _models(names: TableNames, region: str, host: str | None) -> tuple[Any, Any, Any]:
    models = (
        _bind(ConfigItem, names.config, region, host),
        _bind(StateItem, names.state, region, host),
        _bind(LedgerItem, names.ledger, region, host),
    )
    for model in models:
        connection = model._get_connection().connection
        # PynamoDB gives each model a botocore session of its own, whose loader parses DynamoDB's model and the
        # endpoint data again (about 10 MB a model): this one shares the process's loader. Its client is made here,
        # once (no network until the first call), shared by every thread, and counted like isched's own.
        connection._local.session = new_botocore_session()
        instrument(connection.client)
    return models


@dataclass(frozen=True)
class Tables:
    """The three models of one deployment, bound to its table names, region and endpoint."""

    names: TableNames
    config: type[ConfigItem]
    state: type[StateItem]
    ledger: type[LedgerItem]

    @classmethod
    def for_namespace(cls, namespace: str, region: str | None = None) -> Tables:
        return cls.for_names(TableNames.for_namespace(namespace), region)

    @classmethod
    def for_names(cls, names: TableNames, region: str | None = None) -> Tables:
        """The models bound to explicit table names (a deployed stack's outputs, a worker's payload)."""
        config, state, ledger = _models(names, region or default_region(), endpoint_url("dynamodb"))
        return cls(names, config, state, ledger)

    def create_missing(self) -> dict[str, str]:
        """Creates each table that does not exist yet; returns {table: "created" | "exists"}."""
        out: dict[str, str] = {}
        for model in (self.config, self.state, self.ledger):
            name = model.Meta.table_name
            if model.exists():
                out[name] = "exists"
            else:
                model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
                out[name] = "created"
        return out
