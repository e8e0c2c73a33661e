"""How the configuration store writes: one PynamoDB ``TransactWrite`` per edit, every action conditional on the
state of an item as it was read (see :mod:`scheduler.store.config` for the rule of each edit path).

A cancelled transaction names the items whose condition failed: DynamoDB reports one reason per action in request
order, and PynamoDB sends a transaction's actions grouped by type (:data:`_REQUEST_ORDER`), not in the order they
were added, so :class:`Transaction` remembers the item of each action to map the reasons back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import And, Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from .config_plan import Key, StoredItem
from .tables import ConfigItem

_Op = Literal["check", "delete", "put", "update"]
# The order of PynamoDB's Connection.transact_write_items (pinned by tests/integration/test_config_transactions.py).
_REQUEST_ORDER: tuple[_Op, ...] = ("check", "delete", "put", "update")


class StoreError(Exception):
    """The store could not do what was asked (not the user's input)."""


class Cancelled(Exception):
    """DynamoDB cancelled a transaction (nothing was written): ``failed`` holds the items whose condition did not
    hold; it is empty when the transaction only collided with another one writing the same items."""

    def __init__(self, failed: set[Key]) -> None:
        self.failed = failed
        super().__init__(", ".join(f"{kind} {name}" for kind, name in sorted(failed)) or "transaction conflict")


# -- conditions on an item "as it was read" ---------------------------------------------------------------------


def absent() -> Condition:
    return ConfigItem.kind.does_not_exist()


def exists() -> Condition:
    return ConfigItem.kind.exists()


def body_as(item: StoredItem) -> Condition:
    """The body is as read: its ``rev``, or for an item written without tokens (by hand, by an older version),
    its version (or the absence of one)."""
    if item.rev is not None:
        return ConfigItem.rev == item.rev
    if item.version == 0:  # written by hand without a version
        return And(ConfigItem.rev.does_not_exist(), ConfigItem.version.does_not_exist())
    return And(ConfigItem.rev.does_not_exist(), ConfigItem.version == item.version)


def refs_as(item: StoredItem) -> Condition:
    """A period's ``used_by`` is as read."""
    if item.refs_rev is not None:
        return ConfigItem.refs_rev == item.refs_rev
    return ConfigItem.refs_rev.does_not_exist()


def state_as(item: StoredItem | None) -> Condition:
    """The whole item as read (or its absence)."""
    if item is None:
        return absent()
    if item.kind == "period":
        return And(body_as(item), refs_as(item))
    return body_as(item)


# -- one transaction ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Action:
    op: _Op
    key: Key
    add: Callable[[TransactWrite], None]


class Transaction:
    """The actions of one TransactWriteItems on the configuration table, at most one per item."""

    def __init__(self, model: type[ConfigItem]) -> None:
        self.model = model
        self._actions: list[_Action] = []

    def __len__(self) -> int:
        return len(self._actions)

    def put(self, item: StoredItem, condition: Condition) -> None:
        """Writes ``item`` whole (creating or replacing it)."""
        if not item.version:
            # Written by hand without a version and restored (or repaired) as it was: the model cannot save an item
            # without one, so an update sets every attribute the item has and removes the others.
            self.update(item.kind, item.name, _every_attribute(item), condition)
            return
        instance = self.model(
            item.kind,
            item.name,
            body=item.body,
            version=item.version,
            used_by=set(item.used_by) or None,
            rev=item.rev,
            refs_rev=item.refs_rev,
            updated_at=datetime.now(UTC),
        )
        self._add("put", item, lambda tw: tw.save(instance, condition=condition))

    def update(self, kind: str, name: str, actions: list[Action], condition: Condition) -> None:
        instance = self.model(kind, name)
        self._add("update", (kind, name), lambda tw: tw.update(instance, actions=actions, condition=condition))

    def delete(self, item: StoredItem, condition: Condition) -> None:
        instance = self.model(item.kind, item.name)
        self._add("delete", item, lambda tw: tw.delete(instance, condition=condition))

    def check(self, kind: str, name: str, condition: Condition) -> None:
        model = self.model
        self._add("check", (kind, name), lambda tw: tw.condition_check(model, kind, name, condition=condition))

    def _add(self, op: _Op, item: StoredItem | Key, add: Callable[[TransactWrite], None]) -> None:
        key = (item.kind, item.name) if isinstance(item, StoredItem) else item
        self._actions.append(_Action(op, key, add))

    def commit(self) -> None:
        """Writes every action or none: :class:`Cancelled` when a condition failed (or another transaction wrote
        the same items), :class:`StoreError` for any other refusal."""
        if not self._actions:
            return
        connection = self.model._get_connection().connection
        try:
            with TransactWrite(connection=connection) as tw:
                for action in self._actions:
                    action.add(tw)
        except TransactWriteError as exc:
            raise self._error(exc) from None

    def _error(self, exc: TransactWriteError) -> Exception:
        code = exc.cause_response_code
        message = exc.cause_response_message or ""
        if code == "TransactionCanceledException":
            codes = [r.code if r is not None else None for r in exc.cancellation_reasons]
            if not codes:  # older servers: only the message, "... reasons [None, ConditionalCheckFailed]"
                found = re.search(r"\[(.*)\]", message)
                codes = [c.strip() for c in found.group(1).split(",")] if found else []
            if any(c in ("ConditionalCheckFailed", "TransactionConflict") for c in codes):
                keys = [a.key for op in _REQUEST_ORDER for a in self._actions if a.op == op]
                return Cancelled({key for key, c in zip(keys, codes, strict=False) if c == "ConditionalCheckFailed"})
        if code == "TransactionConflictException":
            return Cancelled(set())
        if code == "ResourceNotFoundException":
            return StoreError(
                "the isched tables do not exist here: run `isched init` (or check --namespace / ISCHED_NAMESPACE "
                "and the region)"
            )
        if isinstance(exc.cause, BotoCoreError):
            return StoreError(f"DynamoDB could not be reached: {exc.cause}")
        return StoreError(f"DynamoDB refused the write ({code}): {message[:300]}")


def _every_attribute(item: StoredItem) -> list[Action]:
    """Update actions that leave an item without a version exactly as ``item`` says."""
    actions: list[Action] = [ConfigItem.body.set(item.body), ConfigItem.updated_at.set(datetime.now(UTC))]
    actions.append(ConfigItem.version.remove())
    actions.append(ConfigItem.used_by.set(set(item.used_by)) if item.used_by else ConfigItem.used_by.remove())
    for attribute, value in ((ConfigItem.rev, item.rev), (ConfigItem.refs_rev, item.refs_rev)):
        actions.append(attribute.set(value) if value is not None else attribute.remove())
    return actions


def used_by_add(schedule: str, refs_rev: str) -> list[Action]:
    """A schedule starts naming a period: added to its ``used_by`` (adds commute), with ``refs_rev`` renewed."""
    return [ConfigItem.used_by.add({schedule}), ConfigItem.refs_rev.set(refs_rev)]


def used_by_remove(schedule: str, refs_rev: str) -> list[Action]:
    return [ConfigItem.used_by.delete({schedule}), ConfigItem.refs_rev.set(refs_rev)]


def body_change(body: dict[str, Any], version: int, rev: str) -> list[Action]:
    """A period's body changes (its ``used_by`` is left as it is)."""
    return [
        ConfigItem.body.set(body),
        ConfigItem.version.set(version),
        ConfigItem.rev.set(rev),
        ConfigItem.updated_at.set(datetime.now(UTC)),
    ]
