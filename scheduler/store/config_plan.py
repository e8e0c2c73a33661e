"""apply's planner: the diff of a file against one read of the store, as transactions (chunks) that each keep the
invariant of :mod:`scheduler.store.config`, every action stating the state it expects the item to be in.

Pure: no DynamoDB here. :class:`StoredItem` is an item as read (or as a write leaves it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal

TRANSACTION_LIMIT = 100  # DynamoDB TransactWriteItems accepts at most 100 actions

Key = tuple[str, str]  # (kind, name)
_Check = Literal["exists", "body"]


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
class Entry:
    """One item in one transaction: its state before (None = absent) and after, or a check of its state before."""

    before: StoredItem | None
    after: StoredItem | None
    write: bool
    check: _Check = "exists"


@dataclass
class Chunk:
    entries: dict[Key, Entry] = field(default_factory=dict)

    @property
    def writes(self) -> int:
        return sum(1 for e in self.entries.values() if e.write)


def new_token() -> str:
    """A write token (``rev``, ``refs_rev``): random, so it never repeats after a delete and re-create."""
    return uuid.uuid4().hex


def period_names(body: object) -> set[str]:
    """The period names a schedule body names (a list, or a comma list as the engine accepts it)."""
    if not isinstance(body, dict):
        return set()
    refs = body.get("periods") or []
    if isinstance(refs, str):
        refs = refs.split(",")
    if not isinstance(refs, list | tuple):
        return set()
    return {str(p).partition("@")[0].strip() for p in refs if str(p).strip()}


class Planner:
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
        self.state: dict[Key, StoredItem | None] = {("period", n): i for n, i in stored_p.items()}
        self.state.update({("schedule", n): i for n, i in stored_s.items()})
        self.users: dict[str, set[str]] = {}  # period -> schedules naming it, in the simulated state
        for name, item in stored_s.items():
            for p in period_names(item.body):
                self.users.setdefault(p, set()).add(name)
        self.chunks: list[Chunk] = [Chunk()]

    def build(self) -> tuple[ApplyPlan, list[Chunk]]:
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
            self.chunks.append(Chunk())

    def _entry(self, key: Key) -> Entry:
        chunk = self.chunks[-1]
        if key not in chunk.entries:
            if len(chunk.entries) >= TRANSACTION_LIMIT:  # a group larger than one transaction: split it
                chunk = Chunk()
                self.chunks.append(chunk)
            chunk.entries[key] = Entry(self.state.get(key), self.state.get(key), write=False)
        return chunk.entries[key]

    def _set(self, key: Key, after: StoredItem | None) -> None:
        entry = self._entry(key)
        entry.after, entry.write = after, True
        self.state[key] = after

    def _check(self, key: Key, mode: _Check) -> None:
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
            created = StoredItem("period", name, body, 1, users, new_token(), new_token() if users else None)
            self._set(("period", name), created)
            for user in sorted(users):  # schedules naming a missing period (damage): still so at commit
                self._check(("schedule", user), "body")
            return
        after = cur
        if body is not None and body != cur.body:
            after = replace(after, body=body, version=cur.version + 1, rev=new_token())
        if users != cur.used_by:
            after = replace(after, used_by=users, refs_rev=new_token())
        if after is not cur:
            self._set(("period", name), after)

    def _schedule_group(self, name: str, body: dict[str, Any] | None, pending: set[str]) -> None:
        cur = self.state.get(("schedule", name))
        old_refs = period_names(cur.body) if cur is not None else set()
        new_refs = period_names(body) if body is not None else set()
        touched = (old_refs ^ new_refs) | (new_refs & pending)
        self._room(1 + len(old_refs | new_refs))
        if body is None:
            self._set(("schedule", name), None)
        else:
            version = cur.version + 1 if cur is not None else 1
            self._set(("schedule", name), StoredItem("schedule", name, body, version, rev=new_token()))
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
