"""Per-resource state and the action ledger.

State lives under one partition per target (account#region#service), so a worker loads all of it with one query
and writes it back with batched writes (25 items per BatchWriteItem, PynamoDB's page size). A special item per
target records the last pass; it is written conditionally so that two overlapping passes for the same target and
pass time cannot both act.

The ledger records every start and stop that happened, with what pricing needs later (type or class, engine,
Multi-AZ, ASG capacity), partitioned by UTC month so a month's report is one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from scheduler.engine import ResourceState, State

from .tables import Tables

PASS_ITEM = "#pass"
LEDGER_RETENTION_DAYS = 800  # two full years of monthly reports, then DynamoDB's TTL removes the record


@dataclass(frozen=True)
class Target:
    account: str
    region: str
    service: str

    @property
    def key(self) -> str:
        return f"{self.account}#{self.region}#{self.service}"

    def __str__(self) -> str:
        return f"{self.account}/{self.region}/{self.service}"


@dataclass
class ResourceRecord:
    """Everything stored about one resource; ``engine_state`` is what the pure decision needs."""

    resource: str
    schedule: str | None = None
    desired: str | None = None
    decided_at: str | None = None
    pending: bool = False
    retained: bool = False
    first_seen_at: str | None = None
    last_seen_at: str | None = None
    observed: str | None = None
    last_action: str | None = None
    last_action_at: str | None = None
    last_error: str | None = None
    instance_type: str | None = None
    saved_capacity: dict[str, int] | None = None  # ASG min/max/desired before the stop
    gone_at: str | None = None  # when a resource the scheduler had stopped was no longer found
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def engine_state(self) -> ResourceState:
        return ResourceState(
            desired=State(self.desired) if self.desired else None,
            decided_at=datetime.fromisoformat(self.decided_at) if self.decided_at else None,
            pending=self.pending,
            retained=self.retained,
        )

    def with_engine_state(self, state: ResourceState) -> ResourceRecord:
        self.desired = state.desired.value if state.desired else None
        self.decided_at = state.decided_at.isoformat() if state.decided_at else None
        self.pending = state.pending
        self.retained = state.retained
        return self

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("resource")
        return {k: v for k, v in data.items() if v not in (None, {}, False)}

    @classmethod
    def from_data(cls, resource: str, data: dict[str, Any]) -> ResourceRecord:
        known = {f for f in cls.__dataclass_fields__ if f != "resource"}
        return cls(resource=resource, **{k: v for k, v in data.items() if k in known})


class PassAlreadyClaimed(Exception):
    """Another invocation already ran (or is running) this target's pass at this time or later."""


class StateStore:
    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.model = tables.state
        self.ledger_model = tables.ledger

    def load(self, target: Target) -> tuple[dict[str, ResourceRecord], datetime | None]:
        """All records of ``target`` and its last pass time: one (paginated) query."""
        records: dict[str, ResourceRecord] = {}
        last_pass: datetime | None = None
        for item in self.model.query(target.key, consistent_read=True):
            if item.resource == PASS_ITEM:
                last_pass = _parse_instant(item.pass_at) if item.pass_at else None
            else:
                records[item.resource] = ResourceRecord.from_data(item.resource, dict(item.data or {}))
        return records, last_pass

    def claim_pass(self, target: Target, now: datetime) -> None:
        """Claims the pass at ``now`` for ``target``; refused when a pass at ``now`` or later was claimed.

        Keyed on target and pass time, this makes a duplicated or overlapping invocation for the same pass a
        no-op instead of a second round of actions. The last *completed* pass only moves in
        :meth:`complete_pass`, so a pass that dies half-way is caught up by the next one.
        """
        stamp = _instant_text(now)
        item = self.model(target.key, PASS_ITEM)
        try:
            item.update(
                actions=[self.model.claimed_at.set(stamp)],
                condition=self.model.claimed_at.does_not_exist() | (self.model.claimed_at < stamp),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise PassAlreadyClaimed(f"{target}: a pass at or after {stamp} was already claimed") from None
            raise

    def complete_pass(self, target: Target, now: datetime) -> None:
        """Records ``now`` as the last completed pass (never moving it backwards)."""
        stamp = _instant_text(now)
        item = self.model(target.key, PASS_ITEM)
        try:
            item.update(
                actions=[self.model.pass_at.set(stamp), self.model.updated_at.set(now.astimezone(UTC))],
                condition=self.model.pass_at.does_not_exist() | (self.model.pass_at < stamp),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise

    def save(self, target: Target, records: Iterable[ResourceRecord], now: datetime) -> int:
        n = 0
        with self.model.batch_write() as batch:
            for rec in records:
                batch.save(self.model(target.key, rec.resource, data=rec.to_data(), updated_at=now))
                n += 1
        return n

    def append_ledger(self, entries: Iterable[dict[str, Any]]) -> int:
        """Writes ledger entries (each with at least ``at``, ``target``, ``resource``, ``action``)."""
        n = 0
        with self.ledger_model.batch_write() as batch:
            for e in entries:
                at = datetime.fromisoformat(e["at"]).astimezone(UTC)
                key = f"{at.isoformat()}#{e['target']}#{e['resource']}#{e['action']}"
                expires = int(at.timestamp()) + LEDGER_RETENTION_DAYS * 86400
                batch.save(self.ledger_model(at.strftime("%Y-%m"), key, data=e, expires_at=expires))
                n += 1
        return n

    def ledger_month(self, month: str) -> list[dict[str, Any]]:
        return [dict(i.data or {}) for i in self.ledger_model.query(month, consistent_read=True)]

    def all_targets(self) -> list[str]:
        """Target keys with stored state (a scan: for ``status`` and reports, not for passes)."""
        return sorted({i.target for i in self.model.scan(attributes_to_get=["target"])})


def _instant_text(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_instant(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
