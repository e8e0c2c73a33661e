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

Writes go through the PynamoDB model (:mod:`scheduler.store.config_writes`: ``TransactWrite`` with conditions on
the model's attributes); apply's plan is :mod:`scheduler.store.config_plan`. Reads fetch through the model's
connection but decode each item here, not through the model: the model fills in defaults for missing attributes
(``version`` 1, ``body`` {}), so an item written without a version (by an older version, or by hand) could not be
stated "as read" in a condition; and it raises on the first malformed item of a page, where one unreadable item must
be reported by name instead of failing the whole read (:meth:`ConfigStore.load_partial` leaves it out of a pass).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, Literal

from pynamodb.expressions.condition import And

from scheduler.engine import Config, ConfigError, FieldError, Issue, Period, Schedule, parse_config
from scheduler.engine.schedule import parse_name

from .config_plan import TRANSACTION_LIMIT, ApplyPlan, Chunk, Planner, StoredItem, new_token, period_names
from .config_writes import (
    Cancelled,
    StoreError,
    Transaction,
    absent,
    body_as,
    body_change,
    exists,
    state_as,
    used_by_add,
    used_by_remove,
)
from .tables import ConfigItem, Tables

__all__ = [
    "TRANSACTION_LIMIT",
    "ApplyPlan",
    "ConfigStore",
    "ConflictError",
    "InUse",
    "Kind",
    "NotFound",
    "StoreError",
    "StoredItem",
]

Kind = Literal["period", "schedule"]


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


class _Unreadable(Exception):
    pass


class ConfigStore:
    def __init__(self, tables: Tables, default_timezone: str = "UTC") -> None:
        """``default_timezone``: the zone the loaded configurations give schedules that name none (it is never
        written into an item)."""
        self.tables = tables
        self.default_timezone = default_timezone
        self.model = tables.config
        # Tests use this to act between a write's read and its commit (another writer's edit, or a failure): it is
        # called with the chunk number (0 for single-item writes) just before each transaction.
        self.before_commit: Callable[[int], None] | None = None

    # -- reads ---------------------------------------------------------------------------------------------

    def _read(self, kind: str) -> tuple[dict[str, StoredItem], dict[str, str]]:
        """Every stored item of ``kind``, and {name: why} for those that cannot be decoded."""
        table = self.model._get_connection()
        items: dict[str, StoredItem] = {}
        problems: dict[str, str] = {}
        start: dict[str, Any] | None = None
        while True:
            page = table.query(kind, consistent_read=True, exclusive_start_key=start)  # QueryError on failure
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
        raw = self.model._get_connection().get_item(kind, name, consistent_read=True).get("Item")  # or GetError
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
            refs = period_names(item.body)
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
        users = {s.name: s for s in self._read("schedule")[0].values() if name in period_names(s.body)}
        if len(users) >= TRANSACTION_LIMIT:
            raise StoreError(f"{len(users)} schedules name the missing period '{name}': restore it with `isched apply`")
        item = StoredItem("period", name, body, 1, set(users), new_token(), new_token() if users else None)
        tx = Transaction(self.model)
        tx.put(item, absent())
        for schedule in sorted(users.values(), key=lambda s: s.name):
            tx.check("schedule", schedule.name, body_as(schedule))
        try:
            self._commit(tx)
        except Cancelled as exc:
            if ("period", name) in exc.failed:
                raise ValueError(f"period '{name}' already exists (use `isched period update`)") from None
            raise ConflictError(_conflict_text("period", name)) from None
        return item

    def update_period(self, current: StoredItem, body: dict[str, Any]) -> StoredItem:
        # An update, not a put: used_by is maintained by schedule writes and is neither read nor written here.
        rev = new_token()
        new = replace(current, body=body, version=current.version + 1, rev=rev)
        tx = Transaction(self.model)
        tx.update("period", current.name, body_change(body, new.version, rev), body_as(current))
        try:
            self._commit(tx)
        except Cancelled:
            raise ConflictError(_conflict_text("period", current.name)) from None
        return new

    def delete_period(self, current: StoredItem) -> None:
        tx = Transaction(self.model)
        tx.delete(current, And(body_as(current), ConfigItem.used_by.does_not_exist()))
        try:
            self._commit(tx)
        except Cancelled:
            now = self.get("period", current.name)
            if now is not None and now.used_by:
                raise InUse(current.name, now.used_by) from None
            raise ConflictError(_conflict_text("period", current.name)) from None

    def put_schedule(self, name: str, body: dict[str, Any], current: StoredItem | None) -> StoredItem:
        """Creates (``current`` None) or replaces a schedule, keeping the periods' ``used_by`` in step."""
        new_refs = period_names(body)
        old_refs = period_names(current.body) if current else set()
        item = StoredItem("schedule", name, body, (current.version + 1) if current else 1, rev=new_token())
        tx = Transaction(self.model)
        tx.put(item, state_as(current))
        self._ref_actions(tx, name, new_refs, old_refs)
        try:
            self._commit(tx)
        except Cancelled as exc:
            if ("schedule", name) in exc.failed:  # the schedule is not as read (or exists, for a create)
                if current is None:
                    raise ValueError(f"schedule '{name}' already exists (use `isched schedule update`)") from None
                raise ConflictError(_conflict_text("schedule", name)) from None
            gone = [p for p in sorted(new_refs) if ("period", p) in exc.failed]
            if gone:
                raise ConflictError(
                    f"period(s) {', '.join(repr(p) for p in gone)} no longer exist (deleted by someone else since "
                    f"they were read); nothing was written. Run the command again."
                ) from None
            raise ConflictError(_conflict_text("schedule", name)) from None
        return item

    def delete_schedule(self, current: StoredItem) -> None:
        tx = Transaction(self.model)
        tx.delete(current, state_as(current))
        self._ref_actions(tx, current.name, set(), period_names(current.body))
        try:
            self._commit(tx)
        except Cancelled:
            raise ConflictError(_conflict_text("schedule", current.name)) from None

    def _ref_actions(self, tx: Transaction, schedule: str, new_refs: set[str], old_refs: set[str]) -> None:
        """Adds the ``used_by`` side of a schedule write to ``tx``: the periods it names must exist, those it starts
        (stops) naming gain (lose) it."""
        for period in sorted(new_refs):
            if period in old_refs:  # kept: it must still exist (its used_by already names the schedule)
                tx.check("period", period, exists())
            else:
                tx.update("period", period, used_by_add(schedule, new_token()), exists())
        for period in sorted(old_refs - new_refs):
            # Read first: a period that is already gone (damage from before) is relied on to stay gone, so the
            # schedule can still be changed or deleted; one that exists drops the schedule from its used_by.
            if self.get("period", period) is None:
                tx.check("period", period, absent())
            else:
                tx.update("period", period, used_by_remove(schedule, new_token()), exists())
        if len(tx) > TRANSACTION_LIMIT:
            raise StoreError(
                f"schedule '{schedule}' changes {len(tx) - 1} period references at once, more than one DynamoDB "
                f"transaction holds ({TRANSACTION_LIMIT - 1}); change them in steps"
            )

    def _commit(self, tx: Transaction) -> None:
        """One single-item edit's transaction (the test hook runs first)."""
        if self.before_commit is not None:
            self.before_commit(0)
        tx.commit()

    # -- schedules as code ---------------------------------------------------------------------------------

    def plan_apply(self, config: Config, *, prune: bool) -> tuple[ApplyPlan, list[Chunk]]:
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
            for p in sorted(period_names(body))
            if p not in known
        ]
        if issues:
            raise ConfigError(issues)
        # A stored schedule naming a period that was not read is damage from before, or a concurrent edit between
        # the two queries: neither is refused here, as every write is conditional on the state of what it relies on.
        return Planner(stored_p, stored_s, want_p, want_s, prune).build()

    def apply(self, config: Config, *, prune: bool, dry_run: bool) -> ApplyPlan:
        plan, chunks = self.plan_apply(config, prune=prune)
        if dry_run or not plan.writes:
            return plan
        done: list[Chunk] = []
        for index, chunk in enumerate(chunks):
            try:
                if self.before_commit is not None:
                    self.before_commit(index)
                self._chunk_transaction(chunk).commit()
            except Exception as exc:
                failed = self._rollback(done)
                if failed:
                    raise StoreError(
                        f"apply failed part-way and {failed} item(s) could not be rolled back because they were "
                        "edited meanwhile; run `isched export` to review and apply again"
                    ) from None
                if isinstance(exc, Cancelled):
                    raise ConflictError(
                        "the stored configuration was changed by someone else while applying; nothing was changed: "
                        "run apply again"
                    ) from None
                raise StoreError(f"apply failed and was rolled back; nothing was changed: {exc}") from None
            done.append(chunk)
        return plan

    def _chunk_transaction(self, chunk: Chunk) -> Transaction:
        tx = Transaction(self.model)
        for (kind, name), entry in chunk.entries.items():
            if entry.write and entry.after is not None:
                tx.put(entry.after, state_as(entry.before))
                continue
            assert entry.before is not None  # a delete or a check is of an item that exists
            if entry.write:
                tx.delete(entry.before, state_as(entry.before))
            else:
                tx.check(kind, name, body_as(entry.before) if entry.check == "body" else exists())
        return tx

    def _rollback(self, done: list[Chunk]) -> int:
        """Undoes committed chunks, last first; each restore is conditional on the state apply wrote, so an item
        someone edited in the meantime keeps their edit (and is counted as not rolled back)."""
        failed = 0
        for chunk in reversed(done):
            tx = Transaction(self.model)
            for entry in chunk.entries.values():
                if not entry.write:
                    continue
                if entry.before is None:
                    assert entry.after is not None
                    tx.delete(entry.after, state_as(entry.after))
                else:
                    tx.put(entry.before, state_as(entry.after))
            try:
                tx.commit()
            except Exception:
                failed += len(tx)
        return failed


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


def _conflict_text(kind: str, name: str) -> str:
    return (
        f"{kind} '{name}' was changed by someone else since it was read; nothing was written. "
        "Show it again and repeat your change."
    )
