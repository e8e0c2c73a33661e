"""The configuration store: periods and schedules in DynamoDB, every write conditional on what it relies on.

The invariant, true at every moment whatever the interleaving of writers: every period a schedule names exists, and
each period's ``used_by`` is exactly the set of schedules naming it (so a period in use can never be deleted).

What every item carries, so a writer can state "as I read it" in a condition:

* ``version``: the body's version, shown to users; ``rev``: a random token renewed with every write of the body (or
  of the item). A write that relies on what an item says is conditional on its ``rev``: a version number alone can
  repeat after a delete and re-create, a token cannot.
* periods also ``refs_rev``: a token renewed with every change of ``used_by``. A write that relies on a period's
  ``used_by`` (apply, which writes it whole) is conditional on it.

The rule of each edit path (one DynamoDB transaction each; a failed condition writes nothing and raises
:class:`ConflictError`, or the specific error a re-read explains):

* period create: the period is absent. Its ``used_by`` is the schedules already naming it (only after damage done by
  hand or by older versions), each conditional on its ``rev``.
* period update: the period's ``rev``. It does not touch ``used_by``, so it never conflicts with schedule writes.
* period delete: the period's ``rev`` and an empty ``used_by``.
* schedule create / update / delete: the schedule's absence or ``rev``; in the same transaction its name is added to
  (removed from) ``used_by`` of each period it starts (stops) naming, with ``refs_rev`` renewed, and every period it
  names must exist (those it stops naming: as they were read, present or absent). Adding and removing set members
  commute, so writes of different schedules naming the same period never conflict with each other.
* apply (``--prune``): the plan comes from a read of every item; the transaction is conditional on the full state
  (``rev`` and ``refs_rev``) of every item it writes or deletes, on the absence of every item it creates, on the
  ``rev`` of every item of the file it reports unchanged, on the existence of every period a schedule it writes
  names, and on the ``rev`` of every schedule that names a period it creates. More than :data:`TRANSACTION_LIMIT`
  actions are written in chunks ordered so that each chunk leaves the invariant true (a schedule travels with the
  ``used_by`` of its periods); a failed chunk rolls the earlier ones back in reverse order, each restore conditional
  on the state apply wrote.

Items are read and written raw (not through the PynamoDB model, which does not declare the tokens), so an item
written without them (by an older version, or by hand) is still guarded by its version, and one unreadable item is
reported by name instead of failing the whole read: :meth:`ConfigStore.load_partial` leaves it out of a pass.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import GetError, QueryError

from scheduler.engine import Config, ConfigError, FieldError, Issue, Period, Schedule, parse_config
from scheduler.engine.schedule import parse_name

from .tables import Tables

Kind = Literal["period", "schedule"]
TRANSACTION_LIMIT = 100  # DynamoDB TransactWriteItems accepts at most 100 actions

_Key = tuple[str, str]
_Check = Literal["exists", "body"]


class StoreError(Exception):
    """The store could not do what was asked (not the user's input)."""


class ConflictError(StoreError):
    """Someone else changed an item this write relied on since it was read; nothing was written."""


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
    rev: str | None = None  # None: written before tokens existed (or by hand)
    refs_rev: str | None = None

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


@dataclass
class _Entry:
    """One item in one transaction: its state before (None = absent) and after, or a check of its state before."""

    before: StoredItem | None
    after: StoredItem | None
    write: bool
    check: _Check = "exists"


@dataclass
class _Chunk:
    entries: dict[_Key, _Entry] = field(default_factory=dict)

    @property
    def writes(self) -> int:
        return sum(1 for e in self.entries.values() if e.write)


class _Cancelled(Exception):
    """A transaction DynamoDB cancelled: ``reasons[i]`` is the code for action ``i`` (None where it passed)."""

    def __init__(self, reasons: list[str | None]) -> None:
        self.reasons = reasons
        super().__init__(", ".join(str(r) for r in reasons))

    def failed(self, index: int) -> bool:
        """Action ``index``'s condition did not hold (not merely: another transaction was writing the item)."""
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


class _Unreadable(Exception):
    pass


@lru_cache(maxsize=8)
def _connection(region: str | None, host: str | None) -> Connection:
    """One DynamoDB connection (botocore client, thread-safe) per endpoint, shared by every store of the process."""
    return Connection(region=region, host=host)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")  # PynamoDB's UTCDateTimeAttribute format


def _token() -> str:
    return uuid.uuid4().hex


class _Expr:
    """Placeholders for one action's condition or update expression."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def n(self, attr: str) -> str:
        self.names[f"#{attr}"] = attr
        return f"#{attr}"

    def v(self, value: dict[str, Any]) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def params(self, condition: str) -> dict[str, Any]:
        out: dict[str, Any] = {"ConditionExpression": condition, "ExpressionAttributeNames": self.names}
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out

    # Conditions on an item "as it was read".
    def absent(self) -> str:
        return f"attribute_not_exists({self.n('kind')})"

    def exists(self) -> str:
        return f"attribute_exists({self.n('kind')})"

    def body_as(self, item: StoredItem) -> str:
        if item.rev is not None:
            return f"{self.n('rev')} = {self.v({'S': item.rev})}"
        if item.version == 0:  # written by hand without a version
            return f"(attribute_not_exists({self.n('rev')}) AND attribute_not_exists({self.n('version')}))"
        return f"(attribute_not_exists({self.n('rev')}) AND {self.n('version')} = {self.v({'N': str(item.version)})})"

    def refs_as(self, item: StoredItem) -> str:
        if item.refs_rev is not None:
            return f"{self.n('refs_rev')} = {self.v({'S': item.refs_rev})}"
        return f"attribute_not_exists({self.n('refs_rev')})"

    def state_as(self, item: StoredItem | None) -> str:
        """The whole item as read (or its absence)."""
        if item is None:
            return self.absent()
        if item.kind == "period":
            return f"{self.body_as(item)} AND {self.refs_as(item)}"
        return self.body_as(item)


class ConfigStore:
    def __init__(self, tables: Tables, default_timezone: str = "UTC") -> None:
        """``default_timezone``: the zone the loaded configurations give schedules that name none (it is never
        written into an item)."""
        self.tables = tables
        self.default_timezone = default_timezone
        self.model = tables.config
        meta = self.model.Meta
        self.table_name: str = meta.table_name
        self._connection = _connection(getattr(meta, "region", None), getattr(meta, "host", None))
        # Tests use this to act between a write's read and its commit (another writer's edit, or a failure): it is
        # called with the chunk number (0 for single-item writes) just before each transaction.
        self.before_commit: Callable[[int], None] | None = None

    # -- reads ---------------------------------------------------------------------------------------------

    def _key(self, kind: str, name: str) -> dict[str, Any]:
        return {"kind": {"S": kind}, "name": {"S": name}}

    def _read(self, kind: str) -> tuple[dict[str, StoredItem], dict[str, str]]:
        """Every stored item of ``kind``, and {name: why} for those that cannot be decoded."""
        client = self._connection.client
        items: dict[str, StoredItem] = {}
        problems: dict[str, str] = {}
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "KeyConditionExpression": "#k = :k",
                "ExpressionAttributeNames": {"#k": "kind"},
                "ExpressionAttributeValues": {":k": {"S": kind}},
                "ConsistentRead": True,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            try:
                page = client.query(**kwargs)
            except (BotoCoreError, ClientError) as exc:
                raise QueryError(f"Failed to query items: {exc}", exc) from None
            for raw in page.get("Items", []):
                name = str((raw.get("name") or {}).get("S", ""))
                try:
                    items[name] = _decode(kind, name, raw)
                except _Unreadable as exc:
                    problems[name] = str(exc)
            start = page.get("LastEvaluatedKey")
            if not start:
                return items, problems

    def get(self, kind: Kind, name: str) -> StoredItem | None:
        try:
            raw = self._connection.client.get_item(
                TableName=self.table_name, Key=self._key(kind, name), ConsistentRead=True
            ).get("Item")
        except (BotoCoreError, ClientError) as exc:
            raise GetError(f"Failed to get item: {exc}", exc) from None
        if not raw:
            return None
        try:
            return _decode(kind, name, raw)
        except _Unreadable as exc:
            raise StoreError(f"the stored {kind} {_label(name)} cannot be read: {exc}") from None

    def items(self, kind: Kind) -> dict[str, StoredItem]:
        items, problems = self._read(kind)
        if problems:
            listed = "; ".join(f"{_label(n)}: {why}" for n, why in sorted(problems.items())[:5])
            raise StoreError(f"stored {kind}(s) cannot be read ({listed}); fix or delete them")
        return items

    def load(self) -> Config:
        """The stored configuration as a validated :class:`Config` (all of it valid, or :class:`StoreError`)."""
        periods = self.items("period")
        schedules = self.items("schedule")
        try:
            config = parse_config(
                {
                    "periods": {n: i.body for n, i in periods.items()},
                    "schedules": {n: i.body for n, i in schedules.items()},
                }
            )
            return replace(config, default_timezone=self.default_timezone)
        except ConfigError as exc:  # only if someone wrote the table by hand
            raise StoreError(f"the stored configuration is invalid: {exc}") from None

    def load_partial(self) -> tuple[Config, list[Issue]]:
        """Whatever of the stored configuration is valid, and one issue for each item left out.

        Every valid period is kept, and every schedule that is valid and whose periods are all valid. An item left
        out is named by its path (``periods.NAME``, ``schedules.NAME``) and the message says why, quoting at most
        a short prefix of an offending value. For a scheduling pass, which must still schedule the resources of
        the valid schedules.
        """
        periods, bad_p = self._read("period")
        schedules, bad_s = self._read("schedule")
        issues: list[Issue] = []
        for section, bad in (("periods", bad_p), ("schedules", bad_s)):
            for name, why in sorted(bad.items()):
                issues.append(Issue(f"{section}.{_label(name)}", _clip(f"the stored item cannot be read: {why}")))
        for section, kind, stored in (("periods", "period", periods), ("schedules", "schedule", schedules)):
            for name in sorted(stored):
                try:
                    parse_name(name, kind)
                except FieldError as exc:  # (a schedule naming it is refused for naming an invalid name)
                    issues.append(Issue(f"{section}.{_label(name)}", _clip(str(exc))))
                    del stored[name]
        valid_p: dict[str, Period] = {}
        for name, item in sorted(periods.items()):
            config, found = _parse_piece({"periods": {name: item.body}})
            if config is not None and name in config.periods:
                valid_p[name] = config.periods[name]
            else:
                issues.append(_item_issue("periods", name, found))
        valid_s: dict[str, Schedule] = {}
        for name, item in sorted(schedules.items()):
            refs = _period_names(item.body)
            invalid = sorted(r for r in refs if r not in valid_p and (r in periods or r in bad_p))
            # Parsed as a whole document with the periods it names, so every rule of parse_config applies; a named
            # period that is invalid is reported where it is defined, and here only as invalid.
            doc = {"periods": {r: periods[r].body for r in refs if r in valid_p}, "schedules": {name: item.body}}
            doc["periods"].update({r: {"description": "invalid"} for r in invalid})  # defined, for the cross-check
            config, found = _parse_piece(doc)
            if config is not None and name in config.schedules and not invalid:
                valid_s[name] = config.schedules[name]
                continue
            found = [i for i in found if not i.path.startswith("periods.")]
            pre = [Issue(f"schedules.{name}.periods", f"period '{r}' is invalid (see periods.{r})") for r in invalid]
            issues.append(_item_issue("schedules", name, pre + found))
        return Config(valid_p, valid_s, self.default_timezone), issues

    # -- single-item writes --------------------------------------------------------------------------------

    def create_period(self, name: str, body: dict[str, Any]) -> StoredItem:
        # Schedules can name a period that does not exist only after damage (a hand edit, an older version); the
        # re-created period then says it is used by them, so it cannot be deleted under them again.
        users = {s.name: s for s in self._read("schedule")[0].values() if name in _period_names(s.body)}
        if len(users) >= TRANSACTION_LIMIT:
            raise StoreError(f"{len(users)} schedules name the missing period '{name}': restore it with `isched apply`")
        item = StoredItem("period", name, body, 1, set(users), _token(), _token() if users else None)
        e = _Expr()
        ops = [self._put(item, e, e.absent())]
        for schedule in sorted(users.values(), key=lambda s: s.name):
            e = _Expr()
            ops.append(self._condition_check(schedule, e, e.body_as(schedule)))
        try:
            self._commit(ops)
        except _Cancelled as exc:
            if exc.failed(0):
                raise ValueError(f"period '{name}' already exists (use `isched period update`)") from None
            raise ConflictError(_conflict_text("period", name)) from None
        return item

    def update_period(self, current: StoredItem, body: dict[str, Any]) -> StoredItem:
        # An update, not a put: used_by is maintained by schedule writes and is neither read nor written here.
        new = replace(current, body=body, version=current.version + 1, rev=_token())
        e = _Expr()
        update = (
            f"SET {e.n('body')} = {e.v(_json(body))}, {e.n('version')} = {e.v({'N': str(new.version)})}, "
            f"{e.n('rev')} = {e.v({'S': new.rev})}, {e.n('updated_at')} = {e.v({'S': _now()})}"
        )
        try:
            self._commit([self._update(current, e, update, e.body_as(current))])
        except _Cancelled:
            raise ConflictError(_conflict_text("period", current.name)) from None
        return new

    def delete_period(self, current: StoredItem) -> None:
        e = _Expr()
        condition = f"{e.body_as(current)} AND attribute_not_exists({e.n('used_by')})"
        try:
            self._commit([self._delete(current, e, condition)])
        except _Cancelled:
            now = self.get("period", current.name)
            if now is not None and now.used_by:
                raise InUse(current.name, now.used_by) from None
            raise ConflictError(_conflict_text("period", current.name)) from None

    def put_schedule(self, name: str, body: dict[str, Any], current: StoredItem | None) -> StoredItem:
        """Creates (``current`` None) or replaces a schedule, keeping the periods' ``used_by`` in step."""
        new_refs = _period_names(body)
        old_refs = _period_names(current.body) if current else set()
        item = StoredItem("schedule", name, body, (current.version + 1) if current else 1, rev=_token())
        e = _Expr()
        ops = [self._put(item, e, e.state_as(current))]
        ops += self._ref_ops(name, new_refs, old_refs)
        added_or_kept = sorted(new_refs)
        try:
            self._commit(ops)
        except _Cancelled as exc:
            if exc.failed(0):  # the schedule is not as read (or exists, for a create)
                if current is None:
                    raise ValueError(f"schedule '{name}' already exists (use `isched schedule update`)") from None
                raise ConflictError(_conflict_text("schedule", name)) from None
            gone = [p for i, p in enumerate(added_or_kept, start=1) if exc.failed(i)]
            if gone:
                raise ConflictError(
                    f"period(s) {', '.join(repr(p) for p in gone)} no longer exist (deleted by someone else since "
                    f"they were read); nothing was written. Run the command again."
                ) from None
            raise ConflictError(_conflict_text("schedule", name)) from None
        return item

    def delete_schedule(self, current: StoredItem) -> None:
        e = _Expr()
        ops = [self._delete(current, e, e.state_as(current))]
        ops += self._ref_ops(current.name, set(), _period_names(current.body))
        try:
            self._commit(ops)
        except _Cancelled:
            raise ConflictError(_conflict_text("schedule", current.name)) from None

    def _ref_ops(self, schedule: str, new_refs: set[str], old_refs: set[str]) -> list[dict[str, Any]]:
        """The ``used_by`` side of a schedule write, in the order: added, kept (sorted together), then removed."""
        ops: list[dict[str, Any]] = []
        for period in sorted(new_refs):
            key = StoredItem("period", period, {}, 0)
            e = _Expr()
            if period in old_refs:  # kept: it must still exist (its used_by already names the schedule)
                ops.append(self._condition_check(key, e, e.exists()))
            else:
                update = f"ADD {e.n('used_by')} {e.v({'SS': [schedule]})} SET {e.n('refs_rev')} = {e.v(_s(_token()))}"
                ops.append(self._update(key, e, update, e.exists()))
        for period in sorted(old_refs - new_refs):
            # Read first: a period that is already gone (damage from before) is relied on to stay gone, so the
            # schedule can still be changed or deleted; one that exists drops the schedule from its used_by.
            e = _Expr()
            seen = self.get("period", period)
            if seen is None:
                ops.append(self._condition_check(StoredItem("period", period, {}, 0), e, e.absent()))
            else:
                update = (
                    f"DELETE {e.n('used_by')} {e.v({'SS': [schedule]})} SET {e.n('refs_rev')} = {e.v(_s(_token()))}"
                )
                ops.append(self._update(seen, e, update, e.exists()))
        if len(ops) >= TRANSACTION_LIMIT:
            raise StoreError(
                f"schedule '{schedule}' changes {len(ops)} period references at once, more than one DynamoDB "
                f"transaction holds ({TRANSACTION_LIMIT - 1}); change them in steps"
            )
        return ops

    # -- schedules as code ---------------------------------------------------------------------------------

    def plan_apply(self, config: Config, *, prune: bool) -> tuple[ApplyPlan, list[_Chunk]]:
        """Diffs ``config`` against a read of the store; returns the plan and its transactions (chunks)."""
        stored_p = self.items("period")
        stored_s = self.items("schedule")
        desired = config.to_dict()
        want_p: dict[str, dict[str, Any]] = desired["periods"]
        want_s: dict[str, dict[str, Any]] = desired["schedules"]
        known = set(want_p) if prune else set(want_p) | set(stored_p)
        issues = [
            Issue(f"schedules.{s}.periods", f"'{p}' is not a defined period")
            for s, body in sorted(want_s.items())
            for p in sorted(_period_names(body))
            if p not in known
        ]
        if issues:
            raise ConfigError(issues)
        # A stored schedule naming a period that was not read is damage from before, or a concurrent edit between
        # the two queries: neither is refused here, as every write is conditional on the state of what it relies on.
        return _Planner(stored_p, stored_s, want_p, want_s, prune).build()

    def apply(self, config: Config, *, prune: bool, dry_run: bool) -> ApplyPlan:
        plan, chunks = self.plan_apply(config, prune=prune)
        if dry_run or not plan.writes:
            return plan
        done: list[_Chunk] = []
        for index, chunk in enumerate(chunks):
            try:
                if self.before_commit is not None:
                    self.before_commit(index)
                self._transact(self._chunk_ops(chunk))
            except Exception as exc:
                failed = self._rollback(done)
                if failed:
                    raise StoreError(
                        f"apply failed part-way and {failed} item(s) could not be rolled back because they were "
                        "edited meanwhile; run `isched export` to review and apply again"
                    ) from None
                if isinstance(exc, _Cancelled):
                    raise ConflictError(
                        "the stored configuration was changed by someone else while applying; nothing was changed: "
                        "run apply again"
                    ) from None
                raise StoreError(f"apply failed and was rolled back; nothing was changed: {exc}") from None
            done.append(chunk)
        return plan

    def _chunk_ops(self, chunk: _Chunk) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = []
        for entry in chunk.entries.values():
            e = _Expr()
            if entry.write and entry.after is not None:
                ops.append(self._put(entry.after, e, e.state_as(entry.before)))
                continue
            assert entry.before is not None  # a delete or a check is of an item that exists
            if entry.write:
                ops.append(self._delete(entry.before, e, e.state_as(entry.before)))
            else:
                condition = e.body_as(entry.before) if entry.check == "body" else e.exists()
                ops.append(self._condition_check(entry.before, e, condition))
        return ops

    def _rollback(self, done: list[_Chunk]) -> int:
        """Undoes committed chunks, last first; each restore is conditional on the state apply wrote, so an item
        someone edited in the meantime keeps their edit (and is counted as not rolled back)."""
        failed = 0
        for chunk in reversed(done):
            ops = []
            for entry in chunk.entries.values():
                if not entry.write:
                    continue
                e = _Expr()
                if entry.before is None:
                    assert entry.after is not None
                    ops.append(self._delete(entry.after, e, e.state_as(entry.after)))
                else:
                    ops.append(self._put(entry.before, e, e.state_as(entry.after)))
            try:
                self._transact(ops)
            except Exception:
                failed += len(ops)
        return failed

    # -- low-level actions ---------------------------------------------------------------------------------

    def _put(self, item: StoredItem, e: _Expr, condition: str) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            **self._key(item.kind, item.name),
            "body": _json(item.body),
            "updated_at": {"S": _now()},
        }
        if item.version:  # 0: an item written by hand without one, restored as it was
            attrs["version"] = {"N": str(item.version)}
        if item.used_by:
            attrs["used_by"] = {"SS": sorted(item.used_by)}
        if item.rev is not None:
            attrs["rev"] = {"S": item.rev}
        if item.refs_rev is not None:
            attrs["refs_rev"] = {"S": item.refs_rev}
        return {"Put": {"TableName": self.table_name, "Item": attrs, **e.params(condition)}}

    def _delete(self, item: StoredItem, e: _Expr, condition: str) -> dict[str, Any]:
        key = self._key(item.kind, item.name)
        return {"Delete": {"TableName": self.table_name, "Key": key, **e.params(condition)}}

    def _update(self, item: StoredItem, e: _Expr, update: str, condition: str) -> dict[str, Any]:
        key = self._key(item.kind, item.name)
        return {"Update": {"TableName": self.table_name, "Key": key, "UpdateExpression": update, **e.params(condition)}}

    def _condition_check(self, item: StoredItem, e: _Expr, condition: str) -> dict[str, Any]:
        key = self._key(item.kind, item.name)
        return {"ConditionCheck": {"TableName": self.table_name, "Key": key, **e.params(condition)}}

    def _commit(self, ops: list[dict[str, Any]]) -> None:
        """One single-item edit's transaction (the test hook runs first)."""
        if self.before_commit is not None:
            self.before_commit(0)
        self._transact(ops)

    def _transact(self, ops: list[dict[str, Any]]) -> None:
        if not ops:
            return
        try:
            self._connection.client.transact_write_items(TransactItems=ops)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code")
            if code == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons")
                if reasons is not None:
                    codes: list[str | None] = [r.get("Code") for r in reasons]
                else:  # older servers: "... reasons [None, ConditionalCheckFailed]"
                    found = re.search(r"\[(.*)\]", error.get("Message", ""))
                    codes = [c.strip() for c in found.group(1).split(",")] if found else []
                if any(c in ("ConditionalCheckFailed", "TransactionConflict") for c in codes):
                    raise _Cancelled([None if c in (None, "None") else c for c in codes]) from None
            if code == "TransactionConflictException":
                raise _Cancelled(["TransactionConflict"] * len(ops)) from None
            if code == "ResourceNotFoundException":
                raise StoreError(
                    "the isched tables do not exist here: run `isched init` (or check --namespace / "
                    "ISCHED_NAMESPACE and the region)"
                ) from None
            raise StoreError(f"DynamoDB refused the write ({code}): {error.get('Message', '')[:300]}") from None
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB could not be reached: {exc}") from None


class _Planner:
    """Builds apply's transactions from one read, simulating each item's state chunk by chunk.

    Each group of actions that must be atomic (a schedule with the ``used_by`` of the periods it starts or stops
    naming, and the creation or change of those periods that the file brings) goes into one chunk, so the table
    satisfies the invariant after every chunk. Every action is conditional on the state the simulation gives the
    item at that point: as read, or as an earlier chunk of this apply wrote it.
    """

    def __init__(
        self,
        stored_p: dict[str, StoredItem],
        stored_s: dict[str, StoredItem],
        want_p: dict[str, dict[str, Any]],
        want_s: dict[str, dict[str, Any]],
        prune: bool,
    ) -> None:
        self.stored_p, self.stored_s, self.want_p, self.want_s, self.prune = stored_p, stored_s, want_p, want_s, prune
        self.state: dict[_Key, StoredItem | None] = {("period", n): i for n, i in stored_p.items()}
        self.state.update({("schedule", n): i for n, i in stored_s.items()})
        self.users: dict[str, set[str]] = {}  # period -> schedules naming it, in the simulated state
        for name, item in stored_s.items():
            for p in _period_names(item.body):
                self.users.setdefault(p, set()).add(name)
        self.chunks: list[_Chunk] = [_Chunk()]

    def build(self) -> tuple[ApplyPlan, list[_Chunk]]:
        plan = ApplyPlan()
        for kind, want, stored in (("period", self.want_p, self.stored_p), ("schedule", self.want_s, self.stored_s)):
            for name in sorted(want):
                cur = stored.get(name)
                label = f"{kind} {name}"
                if cur is None:
                    plan.created.append(label)
                elif cur.body != want[name]:
                    plan.updated.append(label)
                else:
                    plan.unchanged.append(label)
            if self.prune:
                plan.deleted += [f"{kind} {n}" for n in sorted(set(stored) - set(want))]

        pending = {n for n, body in self.want_p.items() if self._body_of("period", n) != body}
        # 1. Schedules created, changed or (with --prune) deleted, each with the used_by of its periods and the
        #    creation or change of the periods it names that the file brings.
        changes: list[tuple[str, dict[str, Any] | None]] = [
            (n, b) for n, b in sorted(self.want_s.items()) if self._body_of("schedule", n) != b
        ]
        if self.prune:
            changes += [(n, None) for n in sorted(set(self.stored_s) - set(self.want_s))]
        for name, body in changes:
            self._schedule_group(name, body, pending)
        # 2. The file's other new or changed periods.
        for name in sorted(pending):
            self._room(1)
            self._write_period(name, self.want_p[name])
        # 3. --prune: periods no longer in the file (no schedule names them any more).
        if self.prune:
            for name in sorted(set(self.stored_p) - set(self.want_p)):
                self._room(1)
                self._set(("period", name), None)
        # 4. Repairs: a period whose used_by is not the schedules naming it (damage from before) is corrected.
        for (kind, name), item in sorted(self.state.items()):
            if kind == "period" and item is not None and item.used_by != self.users.get(name, set()):
                self._room(1)
                self._write_period(name, None)
        # 5. What the file has and apply leaves as it is must still be so when the writes commit.
        if any(c.writes for c in self.chunks):
            written = {k for c in self.chunks for k, e in c.entries.items() if e.write}
            for kind, want in (("period", self.want_p), ("schedule", self.want_s)):
                for name in sorted(want):
                    if (kind, name) not in written:
                        self._room(1)
                        self._check((kind, name), "body")
        self.chunks = [c for c in self.chunks if c.entries]
        plan.writes = sum(c.writes for c in self.chunks)
        plan.transactions = len(self.chunks) if plan.writes else 0
        return plan, self.chunks

    def _body_of(self, kind: str, name: str) -> dict[str, Any] | None:
        item = self.state.get((kind, name))
        return item.body if item is not None else None

    def _room(self, keys: int) -> None:
        """Starts a new chunk unless the current one has room for ``keys`` more items (a group stays together)."""
        chunk = self.chunks[-1]
        if chunk.entries and len(chunk.entries) + keys > TRANSACTION_LIMIT:
            self.chunks.append(_Chunk())

    def _entry(self, key: _Key) -> _Entry:
        chunk = self.chunks[-1]
        if key not in chunk.entries:
            if len(chunk.entries) >= TRANSACTION_LIMIT:  # a group larger than one transaction: split it
                chunk = _Chunk()
                self.chunks.append(chunk)
            chunk.entries[key] = _Entry(self.state.get(key), self.state.get(key), write=False)
        return chunk.entries[key]

    def _set(self, key: _Key, after: StoredItem | None) -> None:
        entry = self._entry(key)
        entry.after, entry.write = after, True
        self.state[key] = after

    def _check(self, key: _Key, mode: _Check) -> None:
        if self.state.get(key) is None:
            return
        entry = self._entry(key)
        if not entry.write and mode == "body":
            entry.check = "body"

    def _write_period(self, name: str, body: dict[str, Any] | None) -> None:
        """Writes period ``name`` with ``body`` (None: its current body) and the used_by the simulation gives it."""
        cur = self.state.get(("period", name))
        users = set(self.users.get(name, set()))
        if cur is None:
            assert body is not None
            self._set(
                ("period", name), StoredItem("period", name, body, 1, users, _token(), _token() if users else None)
            )
            for user in sorted(users):  # schedules naming a missing period (damage): still so at commit
                self._check(("schedule", user), "body")
            return
        after = cur
        if body is not None and body != cur.body:
            after = replace(after, body=body, version=cur.version + 1, rev=_token())
        if users != cur.used_by:
            after = replace(after, used_by=users, refs_rev=_token())
        if after is not cur:
            self._set(("period", name), after)

    def _schedule_group(self, name: str, body: dict[str, Any] | None, pending: set[str]) -> None:
        cur = self.state.get(("schedule", name))
        old_refs = _period_names(cur.body) if cur is not None else set()
        new_refs = _period_names(body) if body is not None else set()
        touched = (old_refs ^ new_refs) | (new_refs & pending)
        self._room(1 + len(old_refs | new_refs))
        if body is None:
            self._set(("schedule", name), None)
        else:
            version = cur.version + 1 if cur is not None else 1
            self._set(("schedule", name), StoredItem("schedule", name, body, version, rev=_token()))
        for p in old_refs - new_refs:
            self.users.get(p, set()).discard(name)
        for p in new_refs:
            self.users.setdefault(p, set()).add(name)
        for p in sorted(touched):
            if p in pending:
                self._write_period(p, self.want_p[p])
                pending.discard(p)
            elif self.state.get(("period", p)) is not None:  # else: already gone (damage from before), stays so
                self._write_period(p, None)
        for p in sorted(new_refs - touched):  # named before and after, unchanged: it must still be there
            self._check(("period", p), "body" if p in self.want_p else "exists")


def _decode(kind: str, name: str, raw: dict[str, Any]) -> StoredItem:
    body_attr = raw.get("body")
    if body_attr is None:
        body: Any = {}
    elif "S" in body_attr:
        try:
            body = json.loads(body_attr["S"])
        except ValueError:
            raise _Unreadable(f"its body is not JSON (starts {body_attr['S'][:40]!r})") from None
    else:
        raise _Unreadable(f"its body is not JSON text (a DynamoDB {next(iter(body_attr), '?')} value)")
    if not isinstance(body, dict):
        raise _Unreadable(f"its body is not a mapping of fields but {type(body).__name__}")
    try:
        version = int((raw.get("version") or {}).get("N", "0"))
        used_by = set((raw.get("used_by") or {}).get("SS", []))
    except (TypeError, ValueError, AttributeError):
        raise _Unreadable("its version or used_by has the wrong type") from None
    rev = (raw.get("rev") or {}).get("S")
    refs_rev = (raw.get("refs_rev") or {}).get("S")
    return StoredItem(kind, name, body, version, used_by, rev, refs_rev)


def _parse_piece(doc: dict[str, Any]) -> tuple[Config | None, list[Issue]]:
    try:
        return parse_config(doc), []
    except ConfigError as exc:
        return None, exc.issues
    except Exception as exc:  # a validator bug must not take the whole configuration down with one item
        return None, [Issue("", f"cannot be validated ({type(exc).__name__})")]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))


def _item_issue(section: str, name: str, found: list[Issue]) -> Issue:
    prefix = f"{section}.{name}"
    parts = []
    for issue in found:
        sub = issue.path[len(prefix) :].lstrip(".") if _under(issue.path, prefix) else issue.path
        parts.append(f"{sub}: {issue.message}" if sub else issue.message)
    return Issue(f"{section}.{_label(name)}", _clip("; ".join(parts) or "invalid"))


_LONG_QUOTE = re.compile(r"(['\"])([^'\"]{40})[^'\"]{8,}\1")


def _clip(message: str, limit: int = 400) -> str:
    """A message with every long quoted value cut to a prefix, and at most ``limit`` characters."""
    message = _LONG_QUOTE.sub(lambda m: f"{m.group(1)}{m.group(2)}…{m.group(1)}", message)
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _label(name: str) -> str:
    """An item name as a path shows it: printable, at most 64 characters."""
    text = name if name.isprintable() else name.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= 64 else text[:63] + "…"


def _json(body: dict[str, Any]) -> dict[str, str]:
    return {"S": json.dumps(body, sort_keys=True)}


def _s(text: str) -> dict[str, str]:
    return {"S": text}


def _period_names(body: object) -> set[str]:
    """The period names a schedule body names (a list, or a comma list as the engine accepts it)."""
    if not isinstance(body, dict):
        return set()
    refs = body.get("periods") or []
    if isinstance(refs, str):
        refs = refs.split(",")
    if not isinstance(refs, list | tuple):
        return set()
    return {str(p).partition("@")[0].strip() for p in refs if str(p).strip()}


def _conflict_text(kind: str, name: str) -> str:
    return (
        f"{kind} '{name}' was changed by someone else since it was read; nothing was written. "
        "Show it again and repeat your change."
    )
