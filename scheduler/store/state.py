"""Per-resource state and the action ledger.

State lives under one partition per target (account#region#service), so a worker loads all of it with one query
and writes it back with batched writes (25 items per BatchWriteItem, PynamoDB's page size). A special item per
target records the last pass; it is written conditionally so that two overlapping passes for the same target and
pass time cannot both act.

The ledger records every start and stop that happened, with what pricing needs later (type or class, engine,
Multi-AZ, ASG capacity), partitioned by UTC month so a month's report is one query.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Required, TypedDict

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from scheduler.engine import MaintenanceHold, ResourceState, State, instant_text, parse_instant
from scheduler.services.base import ServiceDetails

from .tables import Tables

PASS_ITEM = "#pass"
# Per target: the SSM maintenance window executions seen and not yet over (SSM reports only the next execution).
SSM_WINDOWS_ITEM = "#ssm-windows"
LEDGER_RETENTION_DAYS = 800  # two full years of monthly reports, then DynamoDB's TTL removes the record


class LedgerEntry(TypedDict, total=False):
    """One ledger item: an action the scheduler took (``start``, ``stop``, ``resize``) or one it observed
    (``manual-start``, ``manual-stop``, ``gone``, ``returned``; ``override``: an ``isched:override`` tag came into
    force or changed, ``override-end``: it expired or was removed), with what pricing needs later."""

    at: Required[str]  # instant_text (older entries: ISO 8601 with +00:00; read with parse_instant)
    target: Required[str]
    account: Required[str]
    region: Required[str]
    service: Required[str]
    resource: Required[str]
    action: Required[str]
    schedule: str | None
    instance_type: str | None
    previous_instance_type: str | None
    details: ServiceDetails  # the resource's details when acted on (platform, engine, sizes, members, tags)
    capacity: Mapping[str, object]  # what a stop saved (Auto Scaling sizes)
    simulated: bool  # taken by a pass ahead of the real clock
    reason: str  # why, for actions of a maintenance window ("maintenance window: ...")
    maintenance: dict[str, Any]  # the maintenance window a start was for or a stop came after (see hold_data)
    repaired: bool  # recorded late, by a later pass that observed the action's effect
    rule: str  # why an action was taken, where the report needs it: "override" or "override-end"
    override: str  # the override in force (``running``, ``stopped@…Z``): on ``override`` entries and their actions


class Intent(TypedDict, total=False):
    """What a pass is about to do to a resource, stored with its record before it acts (the write-ahead intent)
    and cleared by the pass's final write; one still there is repaired by a later pass."""

    action: str  # start, stop, resize
    at: str  # the pass, as instant_text
    desired: str | None  # the engine state's fields, as the action would leave them
    decided_at: str | None
    instance_type: str | None
    maintenance: dict[str, Any] | None
    override: str | None
    entry: LedgerEntry  # the action's ledger entry, as drafted before acting


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
    # Held running for a maintenance window: {"window", "since", "until", "started"} (see MaintenanceHold).
    maintenance: dict[str, Any] | None = None
    override: str | None = None  # the state an isched:override tag held it in at the last pass
    first_seen_at: str | None = None
    last_seen_at: str | None = None
    observed: str | None = None
    last_action: str | None = None
    last_action_at: str | None = None
    last_error: str | None = None
    instance_type: str | None = None
    saved_capacity: dict[str, int] | None = None  # ASG min/max/desired before the stop
    gone_at: str | None = None  # when a resource the scheduler had stopped was no longer found
    # As its service's adapter built them (less ``saved_capacity``), plus ``tags``; read back through
    # :func:`stored_details`, and by the service's own typed reader.
    details: ServiceDetails = field(default_factory=dict)
    # Written before the scheduler acts, cleared with the pass's final write: an intent still here on a later
    # pass means that pass's writes failed after (perhaps) acting, and the later pass repairs the records.
    intent: Intent | None = None
    # Ledger entries whose write failed, kept here (the state write succeeded) until a later pass writes them.
    unrecorded: list[LedgerEntry] | None = None
    # The scheduled stop (ISO 8601 UTC) whose "Upcoming Stop" event was published: each stop is announced once.
    announced_stop: str | None = None

    @property
    def engine_state(self) -> ResourceState:
        return ResourceState(
            desired=State(self.desired) if self.desired else None,
            decided_at=parse_instant(self.decided_at) if self.decided_at else None,
            pending=self.pending,
            retained=self.retained,
            maintenance=_hold(self.maintenance),
            override=State(self.override) if self.override in (State.RUNNING, State.STOPPED) else None,
        )

    def with_engine_state(self, state: ResourceState) -> ResourceRecord:
        self.desired = state.desired.value if state.desired else None
        self.decided_at = instant_text(state.decided_at) if state.decided_at else None
        self.pending = state.pending
        self.retained = state.retained
        self.maintenance = hold_data(state.maintenance) if state.maintenance else None
        self.override = state.override.value if state.override else None
        return self

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("resource")
        return {k: v for k, v in data.items() if v not in (None, {}, [], False)}

    @classmethod
    def from_data(cls, resource: str, data: dict[str, Any]) -> ResourceRecord:
        known = {f for f in cls.__dataclass_fields__ if f not in ("resource", "details")}
        fields = {k: v for k, v in data.items() if k in known}
        return cls(resource=resource, details=stored_details(data.get("details")), **fields)


def stored_details(value: object) -> ServiceDetails:
    """A record's or ledger entry's ``details`` as read back from DynamoDB: a map with string keys, kept as it is;
    anything else (an item written by hand) reads as no details."""
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return dict(value)
    return {}


def hold_data(hold: MaintenanceHold) -> dict[str, Any]:
    """A maintenance hold as stored (and as the ledger's ``maintenance`` field): instants as instant_text."""
    return {
        "window": hold.window,
        "since": instant_text(hold.since),
        "until": instant_text(hold.until),
        "started": hold.started,
    }


def _hold(data: Mapping[str, Any] | None) -> MaintenanceHold | None:
    """A stored hold; one that cannot be read (written by hand, an older build) is dropped: the schedule decides."""
    if not isinstance(data, Mapping):
        return None
    try:
        since = parse_instant(str(data["since"]))
        until = parse_instant(str(data["until"]))
    except (KeyError, ValueError):
        return None
    return MaintenanceHold(str(data.get("window") or "maintenance window"), since, until, data.get("started") is True)


class PassAlreadyClaimed(Exception):
    """Another invocation already ran (or is running) this target's pass at this time or later."""


@dataclass(frozen=True)
class PassInfo:
    """The per-target pass item: what was completed, what was claimed, and the passes that were skipped."""

    completed_at: datetime | None = None
    claimed_at: datetime | None = None
    skipped_at: datetime | None = None  # the latest pass that found the target claimed and did nothing
    skip_reason: str | None = None
    skips: int = 0  # skipped passes since the last completed one
    ssm_windows: tuple[dict[str, Any], ...] = ()  # remembered SSM window executions (see save_ssm_windows)

    def skipping(self) -> bool:
        """Whether the latest pass of this target was skipped (no pass completed since)."""
        return self.skipped_at is not None and (self.completed_at is None or self.skipped_at > self.completed_at)


DEFAULT_TAG_KEY = "Schedule"


class StateStore:
    """The state of passes that use ``tag_key``. Each tag key has its own partition per target (its own records and
    pass item), so a pass with another tag key (a second deployment, an operator's typo) never claims, completes or
    sees the passes and records of this one."""

    def __init__(self, tables: Tables, tag_key: str = DEFAULT_TAG_KEY) -> None:
        self.tables = tables
        self.model = tables.state
        self.ledger_model = tables.ledger
        self.tag_key = tag_key

    def partition(self, target: Target) -> str:
        """``account#region#service``, plus ``#tag-key`` for a tag key other than the default (tag keys have no #)."""
        return target.key if self.tag_key == DEFAULT_TAG_KEY else f"{target.key}#{self.tag_key}"

    def load(self, target: Target) -> tuple[dict[str, ResourceRecord], datetime | None]:
        """All records of ``target`` and its last completed pass time: one (paginated) query."""
        records, info = self.load_all(target)
        return records, info.completed_at

    def load_all(self, target: Target) -> tuple[dict[str, ResourceRecord], PassInfo]:
        """All records of ``target`` and its pass item: one (paginated) query."""
        records: dict[str, ResourceRecord] = {}
        info = PassInfo()
        windows: tuple[dict[str, Any], ...] = ()
        for item in self.model.query(self.partition(target), consistent_read=True):
            if item.resource == PASS_ITEM:
                info = PassInfo(
                    completed_at=_stamp(item.pass_at),
                    claimed_at=_stamp(item.claimed_at),
                    skipped_at=_stamp(item.skipped_at),
                    skip_reason=item.skip_reason,
                    skips=int(item.skips or 0),
                )
            elif item.resource == SSM_WINDOWS_ITEM:
                executions = (item.data or {}).get("executions")
                if isinstance(executions, list):
                    windows = tuple(dict(e) for e in executions if isinstance(e, Mapping))
            else:
                records[item.resource] = ResourceRecord.from_data(item.resource, dict(item.data or {}))
        return records, replace(info, ssm_windows=windows)

    def save_ssm_windows(self, target: Target, executions: list[dict[str, Any]], now: datetime) -> None:
        """Remembers the SSM maintenance window executions not yet over (read back by :meth:`load_all`)."""
        item = self.model(self.partition(target), SSM_WINDOWS_ITEM, data={"executions": executions}, updated_at=now)
        item.save()

    def claim_pass(
        self, target: Target, now: datetime, *, real: datetime, horizon: datetime, lease_until: datetime
    ) -> datetime | None:
        """Claims the pass at ``now`` for ``target`` until ``lease_until`` (real clock), or raises
        :class:`PassAlreadyClaimed`.

        Refused when a pass at ``now`` or later was claimed (a duplicated or late invocation is a no-op instead of
        a second round of actions), and while another pass holds its lease (it is still running: two overlapping
        passes would both act on the same transition). The lease ends when that pass finishes
        (:meth:`complete_pass`, :meth:`release_lease`), or at ``lease_until`` if it died. The last *completed*
        pass only moves in :meth:`complete_pass`, so a pass that dies half-way is caught up by the next one.

        ``real`` is the real clock; ``horizon`` is the real clock plus the tolerated skew: a claim later than it
        cannot come from a real-time pass (a simulation, a forged event, a clock gone wrong), so it never blocks
        this one, lease or not. It is superseded, and returned so that the caller reports it.
        """
        stamp = instant_text(now)
        ahead = instant_text(horizon)
        token = uuid.uuid4().hex
        model = self.model
        ordered = model.claimed_at.does_not_exist() | (model.claimed_at < stamp) | (model.claimed_at > ahead)
        free = (
            model.lease_until.does_not_exist() | (model.lease_until < instant_text(real)) | (model.claimed_at > ahead)
        )
        try:
            # ALL_OLD tells whether a claim from beyond the horizon was superseded, without a second read.
            answer = (
                model(self.partition(target), PASS_ITEM)
                ._get_connection()
                .update_item(
                    self.partition(target),
                    range_key=PASS_ITEM,
                    actions=[
                        model.claimed_at.set(stamp),
                        model.lease_until.set(instant_text(lease_until)),
                        model.claim_token.set(token),
                        model.live.remove(),  # unknown until this pass completes
                    ],
                    condition=ordered & free,
                    return_values="ALL_OLD",
                )
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                if self._own_claim(target, stamp, token):
                    # The SDK retried a claim that had gone through (its answer was lost): the claim is this
                    # pass's. What it superseded, if anything, is no longer known.
                    return None
                raise PassAlreadyClaimed(self._claimed_why(target, stamp)) from None
            raise
        old = (answer.get("Attributes") or {}).get("claimed_at", {}).get("S")
        if old and old > stamp:
            return _stamp(old)
        return None

    def _own_claim(self, target: Target, stamp: str, token: str) -> bool:
        """Whether the stored claim is the one this pass made (with ``token``), read consistently."""
        try:
            item = self.model.get(self.partition(target), PASS_ITEM, consistent_read=True)
        except Exception:
            return False
        return item.claim_token == token and item.claimed_at == stamp

    def _claimed_why(self, target: Target, stamp: str) -> str:
        """Why a claim was refused, read back (a refusal is rare: one more read is cheap)."""
        try:
            item = self.model.get(self.partition(target), PASS_ITEM, consistent_read=True)
        except Exception:
            return f"{target}: a pass at or after {stamp} was already claimed, or another pass is still running"
        if item.claimed_at and item.claimed_at >= stamp:
            return f"{target}: a pass at or after {stamp} was already claimed (at {item.claimed_at})"
        return (
            f"{target}: the pass at {item.claimed_at} is still running (its lease ends at {item.lease_until}); "
            "this pass would act on the same transitions"
        )

    def complete_pass(self, target: Target, now: datetime, horizon: datetime, live: int | None = None) -> None:
        """Records ``now`` as the last completed pass (never backwards, except over a time beyond ``horizon``) and
        ends this pass's lease and the count of skipped passes. ``live``: how many resources the next pass must look
        at even if none is tagged any more (see :meth:`settled_targets`); None leaves it unknown."""
        stamp = instant_text(now)
        model = self.model
        ordered = model.pass_at.does_not_exist() | (model.pass_at < stamp) | (model.pass_at > instant_text(horizon))
        done: list[Action] = [
            model.live.set(live) if live is not None else model.live.remove(),
            model.pass_at.set(stamp),
            model.updated_at.set(now.astimezone(UTC)),
            model.skips.remove(),
            model.skipped_at.remove(),
            model.skip_reason.remove(),
        ]
        item = model(self.partition(target), PASS_ITEM)
        try:
            # One call in the usual case: the lease is still this pass's.
            item.update(actions=[*done, model.lease_until.remove()], condition=ordered & (model.claimed_at == stamp))
            return
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        try:
            item.update(actions=done, condition=ordered)
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise

    def release_lease(self, target: Target, now: datetime) -> None:
        """Ends the lease of the pass at ``now`` if it is still that pass's (a pass that did not complete)."""
        model = self.model
        try:
            model(self.partition(target), PASS_ITEM).update(
                actions=[model.lease_until.remove()], condition=model.claimed_at == instant_text(now)
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise

    def record_skip(self, target: Target, now: datetime, reason: str) -> None:
        """Notes a skipped pass on the pass item, so ``isched status`` and the metrics can show it."""
        model = self.model
        model(self.partition(target), PASS_ITEM).update(
            actions=[
                model.skipped_at.set(instant_text(now)),
                model.skip_reason.set(reason[:500]),
                model.skips.add(1),
            ]
        )

    def release_claim(self, target: Target, now: datetime) -> None:
        """Withdraws the claim on the pass at ``now`` (and its lease) if it is still this pass's, so a retry can
        run it."""
        model = self.model
        model(self.partition(target), PASS_ITEM).update(
            actions=[model.claimed_at.remove(), model.lease_until.remove(), model.claim_token.remove()],
            condition=model.claimed_at == instant_text(now),
        )

    def settled_targets(self, targets: Iterable[Target]) -> set[Target]:
        """The targets whose last pass completed and left nothing to look at (``live`` 0): no record of a resource
        still found, none with an intent or a ledger entry to write. A target without a pass item has no records
        either. One BatchGetItem per 100 targets (PynamoDB retries unprocessed keys); raises if DynamoDB fails.
        A pass that was claimed and did not complete, or a pass item of an older build, has no ``live``: unsettled.
        """
        by_key = {self.partition(t): t for t in targets}
        keys = [(k, PASS_ITEM) for k in by_key]
        found: dict[str, int | None] = {}
        for item in self.model.batch_get(keys, attributes_to_get=["target", "live"]):
            found[item.target] = None if item.live is None else int(item.live)
        return {t for k, t in by_key.items() if k not in found or found[k] == 0}

    def save(self, target: Target, records: Iterable[ResourceRecord], now: datetime) -> int:
        n = 0
        with self.model.batch_write() as batch:
            for rec in records:
                batch.save(self.model(self.partition(target), rec.resource, data=rec.to_data(), updated_at=now))
                n += 1
        return n

    def append_ledger(self, entries: Iterable[LedgerEntry]) -> int:
        """Writes ledger entries (each with at least ``at``, ``target``, ``resource``, ``action``).

        Keys are deterministic, so writing an entry again (a repair, a retried batch) never duplicates it.
        """
        n = 0
        with self.ledger_model.batch_write() as batch:
            for e in entries:
                month, key = ledger_key(e)
                expires = int(parse_instant(e["at"]).timestamp()) + LEDGER_RETENTION_DAYS * 86400
                batch.save(self.ledger_model(month, key, data=e, expires_at=expires))
                n += 1
        return n

    def ledger_has(self, entries: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
        """The (month, key) pairs (as :func:`ledger_key` makes them) of ``entries`` that are in the ledger, under
        that key or under the key an older build wrote (see :func:`legacy_ledger_key`); consistent reads."""
        wanted: dict[tuple[str, str], tuple[str, str]] = {}
        for e in entries:
            key = ledger_key(e)
            wanted[key] = key
            wanted.setdefault(legacy_ledger_key(e), key)
        if not wanted:
            return set()
        found = self.ledger_model.batch_get(list(wanted), consistent_read=True)
        return {wanted[(i.month, i.key)] for i in found if (i.month, i.key) in wanted}

    def ledger_month(self, month: str) -> list[dict[str, Any]]:
        """The month's ledger entries in time order. An entry stored twice, under its key and under an older
        build's key for the same instant, target, resource and action, is returned once."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for i in self.ledger_model.query(month, consistent_read=True):
            data = dict(i.data or {})
            try:
                canonical = ledger_key(data)
            except (KeyError, TypeError, ValueError):
                canonical = (month, f"?{i.key}")  # unreadable: kept as it is, for the readers to judge
            out.setdefault(canonical, data)
        return [out[k] for k in sorted(out, key=lambda k: k[1])]

    def all_targets(self) -> list[str]:
        """Target keys with stored state (a scan: for ``status`` and reports, not for passes)."""
        return sorted({i.target for i in self.model.scan(attributes_to_get=["target"])})


def ledger_key(entry: Mapping[str, Any]) -> tuple[str, str]:
    """The ledger item's (month, key): the action's UTC month, and its instant (:func:`instant_text`, so keys sort
    in time order), target, resource and action."""
    at = parse_instant(str(entry["at"]))
    return at.strftime("%Y-%m"), f"{instant_text(at)}#{entry['target']}#{entry['resource']}#{entry['action']}"


def legacy_ledger_key(entry: Mapping[str, Any]) -> tuple[str, str]:
    """The key older builds wrote the same entry under (``datetime.isoformat()``: ``+00:00``, microseconds only
    when not zero). Read only, to find entries written before :func:`ledger_key` changed; never written."""
    at = parse_instant(str(entry["at"]))
    return at.strftime("%Y-%m"), f"{at.isoformat()}#{entry['target']}#{entry['resource']}#{entry['action']}"


def _stamp(text: str | None) -> datetime | None:
    """A stored pass stamp; one that cannot be read (written by hand or by an older build) counts as far in the
    future: it then never blocks a real-time pass (see :meth:`StateStore.claim_pass`), which replaces it. Only
    :func:`instant_text`'s form is read: the conditions on the pass item compare stamps as strings."""
    if not text:
        return None
    try:
        at = parse_instant(text)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return at if instant_text(at) == text else datetime.max.replace(tzinfo=UTC)
