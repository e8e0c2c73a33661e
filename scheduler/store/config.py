"""The configuration store: periods and schedules in DynamoDB, every write conditional on what was read.

Concurrency rules, so nothing a user stored is lost:

* Every item carries a ``version``; an update or delete is conditional on the version that was read, so of two
  concurrent edits the second fails with :class:`ConflictError` and writes nothing.
* A schedule's write and the ``used_by`` bookkeeping on the periods it names happen in one transaction, and a
  period delete is conditional on ``used_by`` being empty, so a period in use can never be deleted, even by a
  writer racing a schedule that is being created.
* ``apply`` writes a whole file in one transaction (up to :data:`TRANSACTION_LIMIT` items). Larger files are
  written in chunks and, if a chunk fails, the chunks already written are rolled back to their before-images
  (each restore conditional on the version it wrote), so the table ends as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from scheduler.engine import Config, ConfigError, parse_config
from scheduler.engine.errors import Issue

from .tables import ConfigItem, Tables

Kind = Literal["period", "schedule"]
TRANSACTION_LIMIT = 100  # DynamoDB TransactWriteItems accepts at most 100 actions


class StoreError(Exception):
    """The store could not do what was asked (not the user's input)."""


class ConflictError(StoreError):
    """Someone else changed the item since it was read; nothing was written."""


class NotFound(LookupError):
    pass


class InUse(ValueError):
    """A period that schedules use cannot be deleted."""

    def __init__(self, period: str, schedules: Iterable[str]) -> None:
        self.period = period
        self.schedules = sorted(schedules)
        super().__init__(f"period '{period}' is used by schedule(s) {', '.join(self.schedules)}; nothing deleted")


@dataclass
class StoredItem:
    kind: str
    name: str
    body: dict[str, Any]
    version: int
    used_by: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, **self.body}


@dataclass
class ApplyPlan:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    writes: int = 0
    transactions: int = 0

    def summary(self) -> dict[str, list[str]]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "deleted": self.deleted}


def _now() -> datetime:
    return datetime.now(UTC)


def _reasons(exc: TransactWriteError) -> list[str]:
    return [r.code if r is not None else "None" for r in (exc.cancellation_reasons or [])]


class ConfigStore:
    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.model = tables.config
        meta = self.model.Meta
        self._connection = Connection(region=getattr(meta, "region", None), host=getattr(meta, "host", None))
        # Tests use this to fail a transaction on purpose (simulating a DynamoDB failure half-way through apply).
        self.before_commit: Callable[[int], None] | None = None

    # -- reads ---------------------------------------------------------------------------------------------

    def _wrap(self, item: ConfigItem) -> StoredItem:
        return StoredItem(item.kind, item.name, dict(item.body or {}), int(item.version or 1), set(item.used_by or ()))

    def get(self, kind: Kind, name: str) -> StoredItem | None:
        try:
            return self._wrap(self.model.get(kind, name, consistent_read=True))
        except self.model.DoesNotExist:
            return None

    def items(self, kind: Kind) -> dict[str, StoredItem]:
        return {i.name: self._wrap(i) for i in self.model.query(kind, consistent_read=True)}

    def load(self) -> Config:
        """The stored configuration as a validated :class:`Config`."""
        periods = self.items("period")
        schedules = self.items("schedule")
        try:
            return parse_config(
                {
                    "periods": {n: i.body for n, i in periods.items()},
                    "schedules": {n: i.body for n, i in schedules.items()},
                }
            )
        except ConfigError as exc:  # only if someone wrote the table by hand
            raise StoreError(f"the stored configuration is invalid: {exc}") from None

    # -- item writes ---------------------------------------------------------------------------------------

    def _new(self, kind: str, name: str, body: dict[str, Any], version: int, used_by: set[str] | None) -> ConfigItem:
        return self.model(kind, name, body=body, version=version, used_by=used_by or None, updated_at=_now())

    def create_period(self, name: str, body: dict[str, Any]) -> StoredItem:
        item = self._new("period", name, body, 1, None)
        try:
            item.save(condition=self.model.kind.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise ValueError(f"period '{name}' already exists (use `isched period update`)") from None
            raise StoreError(f"could not create period '{name}': {exc.cause_response_message}") from None
        return self._wrap(item)

    def update_period(self, current: StoredItem, body: dict[str, Any]) -> StoredItem:
        item = self.model("period", current.name)
        try:
            # An update, not a put: used_by is maintained by schedule writes and must not be overwritten here.
            item.update(
                actions=[
                    self.model.body.set(body),
                    self.model.version.set(current.version + 1),
                    self.model.updated_at.set(_now()),
                ],
                condition=self.model.version == current.version,
            )
        except UpdateError as exc:
            raise self._conflict_or_error(exc.cause_response_code, "period", current.name, "update") from None
        return self._wrap(item)

    def delete_period(self, current: StoredItem) -> None:
        item = self.model("period", current.name)
        try:
            item.delete(condition=(self.model.version == current.version) & self.model.used_by.does_not_exist())
        except DeleteError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                now = self.get("period", current.name)
                if now is not None and now.used_by:
                    raise InUse(current.name, now.used_by) from None
            raise self._conflict_or_error(exc.cause_response_code, "period", current.name, "delete") from None

    def put_schedule(self, name: str, body: dict[str, Any], current: StoredItem | None) -> StoredItem:
        """Creates (``current`` None) or replaces a schedule, keeping the periods' ``used_by`` in step."""
        new_refs = _period_names(body)
        old_refs = _period_names(current.body) if current else set()
        version = (current.version + 1) if current else 1
        item = self._new("schedule", name, body, version, None)
        with_cond = self.model.version == current.version if current else self.model.kind.does_not_exist()
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(item, condition=with_cond)
                for period in sorted(new_refs - old_refs):
                    tx.update(
                        self.model("period", period),
                        actions=[self.model.used_by.add({name})],
                        condition=self.model.kind.exists(),
                    )
                for period in sorted(old_refs - new_refs):
                    tx.update(
                        self.model("period", period),
                        actions=[self.model.used_by.delete({name})],
                        condition=self.model.kind.exists(),
                    )
        except TransactWriteError as exc:
            reasons = _reasons(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                if current is None:
                    raise ValueError(f"schedule '{name}' already exists (use `isched schedule update`)") from None
                raise ConflictError(_conflict_text("schedule", name)) from None
            added = sorted(new_refs - old_refs)
            missing = [
                added[i - 1] for i, r in enumerate(reasons) if 1 <= i <= len(added) and r == "ConditionalCheckFailed"
            ]
            if missing:
                raise NotFound(
                    f"period(s) {', '.join(repr(m) for m in missing)} do not exist; nothing written"
                ) from None
            raise StoreError(f"could not write schedule '{name}': {exc.cause_response_message}") from None
        return self._wrap(item)

    def delete_schedule(self, current: StoredItem) -> None:
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.delete(self.model("schedule", current.name), condition=self.model.version == current.version)
                for period in sorted(_period_names(current.body)):
                    tx.update(
                        self.model("period", period),
                        actions=[self.model.used_by.delete({current.name})],
                        condition=self.model.kind.exists(),
                    )
        except TransactWriteError as exc:
            raise self._conflict_or_error(
                "ConditionalCheckFailedException"
                if "ConditionalCheckFailed" in _reasons(exc)
                else exc.cause_response_code,
                "schedule",
                current.name,
                "delete",
            ) from None

    def _conflict_or_error(self, code: str | None, kind: str, name: str, verb: str) -> Exception:
        if code == "ConditionalCheckFailedException":
            return ConflictError(_conflict_text(kind, name))
        return StoreError(f"could not {verb} {kind} '{name}' ({code})")

    # -- schedules as code ---------------------------------------------------------------------------------

    def plan_apply(
        self, config: Config, *, prune: bool
    ) -> tuple[ApplyPlan, list[dict[str, Any]], list[dict[str, Any]]]:
        """Diffs ``config`` against the store; returns the plan, the write actions and their undo actions."""
        stored_p = self.items("period")
        stored_s = self.items("schedule")
        desired = config.to_dict()
        want_p: dict[str, dict[str, Any]] = desired["periods"]
        want_s: dict[str, dict[str, Any]] = desired["schedules"]
        final_s = dict(want_s) if prune else {**{n: i.body for n, i in stored_s.items()}, **want_s}
        final_p = dict(want_p) if prune else {**{n: i.body for n, i in stored_p.items()}, **want_p}
        issues = [
            Issue(f"schedules.{s}.periods", f"'{p}' is not a defined period")
            for s, body in final_s.items()
            for p in sorted(_period_names(body))
            if p not in final_p
        ]
        if issues:
            raise ConfigError(issues)
        used: dict[str, set[str]] = {p: set() for p in final_p}
        for s, body in final_s.items():
            for p in _period_names(body):
                used[p].add(s)

        plan = ApplyPlan()
        writes: list[dict[str, Any]] = []
        undo: list[dict[str, Any]] = []
        for kind, want, stored in (("period", want_p, stored_p), ("schedule", want_s, stored_s)):
            for name in sorted(want):
                body = want[name]
                cur = stored.get(name)
                used_by = used.get(name, set()) if kind == "period" else set()
                label = f"{kind} {name}"
                if cur is None:
                    plan.created.append(label)
                    writes.append(self._put(kind, name, body, 1, used_by, None))
                    undo.append(self._delete_op(kind, name, 1))
                elif cur.body != body or cur.used_by != used_by:
                    (plan.updated if cur.body != body else plan.unchanged).append(label)
                    writes.append(self._put(kind, name, body, cur.version + 1, used_by, cur.version))
                    undo.append(self._put(kind, name, cur.body, cur.version, cur.used_by, cur.version + 1))
                else:
                    plan.unchanged.append(label)
            for name in sorted(set(stored) - set(want)):
                cur = stored[name]
                label = f"{kind} {name}"
                if prune:
                    plan.deleted.append(label)
                    writes.append(self._delete_op(kind, name, cur.version))
                    undo.append(self._put(kind, name, cur.body, cur.version, cur.used_by, None))
                elif kind == "period" and cur.used_by != used.get(name, set()):
                    writes.append(self._put(kind, name, cur.body, cur.version + 1, used.get(name, set()), cur.version))
                    undo.append(self._put(kind, name, cur.body, cur.version, cur.used_by, cur.version + 1))
        plan.writes = len(writes)
        plan.transactions = -(-len(writes) // TRANSACTION_LIMIT)
        return plan, writes, undo

    def apply(self, config: Config, *, prune: bool, dry_run: bool) -> ApplyPlan:
        plan, writes, undo = self.plan_apply(config, prune=prune)
        if dry_run or not writes:
            plan.transactions = 0 if not writes else plan.transactions
            return plan
        done = 0
        for start in range(0, len(writes), TRANSACTION_LIMIT):
            chunk = writes[start : start + TRANSACTION_LIMIT]
            try:
                if self.before_commit is not None:
                    self.before_commit(start // TRANSACTION_LIMIT)
                self._transact(chunk)
            except Exception as exc:
                self._rollback(undo[:done])
                if _cancelled_by_condition(exc):
                    raise ConflictError(
                        "the stored configuration changed while applying (someone else wrote it); "
                        "nothing was changed: run apply again"
                    ) from None
                raise StoreError(f"apply failed and was rolled back; nothing was changed: {exc}") from None
            done += len(chunk)
        return plan

    def _rollback(self, undo: list[dict[str, Any]]) -> None:
        # Each restore is conditional on the version apply wrote: an item someone edited in the meantime keeps
        # their edit, and that is reported rather than overwritten.
        failed = 0
        for start in range(0, len(undo), TRANSACTION_LIMIT):
            try:
                self._transact(undo[start : start + TRANSACTION_LIMIT])
            except Exception:
                failed += len(undo[start : start + TRANSACTION_LIMIT])
        if failed:
            raise StoreError(
                f"apply failed part-way and {failed} item(s) could not be rolled back because they were edited "
                "meanwhile; run `isched export` to review and apply again"
            )

    def _transact(self, ops: list[dict[str, Any]]) -> None:
        self._connection.client.transact_write_items(TransactItems=ops)

    # Low-level operations: apply's actions are built once and replayed (or undone) exactly.
    def _key(self, kind: str, name: str) -> dict[str, Any]:
        return {"kind": {"S": kind}, "name": {"S": name}}

    def _put(
        self, kind: str, name: str, body: dict[str, Any], version: int, used_by: set[str], expect: int | None
    ) -> dict[str, Any]:
        import json

        item: dict[str, Any] = {
            **self._key(kind, name),
            "body": {"S": json.dumps(body, sort_keys=True)},
            "version": {"N": str(version)},
            "updated_at": {"S": _now().strftime("%Y-%m-%dT%H:%M:%S.%f+0000")},
        }
        if used_by:
            item["used_by"] = {"SS": sorted(used_by)}
        put: dict[str, Any] = {"TableName": self.model.Meta.table_name, "Item": item}
        if expect is None:
            put["ConditionExpression"] = "attribute_not_exists(#k)"
            put["ExpressionAttributeNames"] = {"#k": "kind"}
        else:
            put["ConditionExpression"] = "#v = :v"
            put["ExpressionAttributeNames"] = {"#v": "version"}
            put["ExpressionAttributeValues"] = {":v": {"N": str(expect)}}
        return {"Put": put}

    def _delete_op(self, kind: str, name: str, expect: int) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self.model.Meta.table_name,
                "Key": self._key(kind, name),
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": {"N": str(expect)}},
            }
        }


def _cancelled_by_condition(exc: Exception) -> bool:
    """True when DynamoDB cancelled a transaction because a condition (a version we read) no longer held."""
    if isinstance(exc, TransactWriteError):
        return "ConditionalCheckFailed" in _reasons(exc)
    if isinstance(exc, ClientError):
        reasons = exc.response.get("CancellationReasons") or []
        if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
            return True
        return "ConditionalCheckFailed" in str(exc)
    return False


def _period_names(body: dict[str, Any]) -> set[str]:
    return {str(p).partition("@")[0] for p in body.get("periods", [])}


def _conflict_text(kind: str, name: str) -> str:
    return (
        f"{kind} '{name}' was changed by someone else since it was read; nothing was written. "
        "Show it again and repeat your change."
    )
