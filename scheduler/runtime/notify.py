"""Notifications: what a pass did, what went wrong and what is about to stop, as EventBridge events.

Every event has source ``isched`` and one of three detail-types (SPEC §3):

* ``Scheduler Action``: one ``actions`` object of ``isched run --json`` (a failed action too: its error follows);
* ``Scheduler Error``: one ``errors`` object (warnings included; a skipped duplicate pass is not an error);
* ``Upcoming Stop``: a running resource whose schedule has ``notify_before`` and whose next scheduled stop falls
  within that many minutes, announced once per stop, with what a person needs to keep it running.

Events go to one bus with PutEvents in batches at its maxima (10 entries, 256 KB per request). An entry that
fails (``FailedEntryCount``, or the whole call) is tried once more; if it fails again, the result gets a warning
for its resource: a notification never fails the actions of a pass. The bus is always called with the hub's
credentials (the session given to :class:`EventBridgeSink`), never with a spoke role's.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol, TypedDict

import boto3

from scheduler.aws.session import client
from scheduler.engine import OVERRIDE_TAG, iso_z
from scheduler.engine.errors import quote
from scheduler.services.common import aws_error
from scheduler.store.state import Target

if TYPE_CHECKING:
    from .worker import WorkerResult

SOURCE: Final = "isched"
ACTION: Final = "Scheduler Action"
ERROR: Final = "Scheduler Error"
UPCOMING_STOP: Final = "Upcoming Stop"

MAX_ENTRIES = 10  # PutEvents: entries per request
MAX_REQUEST_BYTES = 256 * 1024  # PutEvents: the request's entries, as AWS counts their size
ATTEMPTS = 2  # each entry: tried, then retried once

# How long the snooze offered with an Upcoming Stop keeps the resource running past the stop.
SNOOZE = timedelta(hours=1)

# An event bus: its name (letters, digits, . - _ and /; "default" is the account's default bus) or its ARN.
_BUS_NAME = re.compile(r"[A-Za-z0-9._/-]{1,256}")
_BUS_ARN = re.compile(r"arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._/-]{1,256}")


class UpcomingStopDetail(TypedDict):
    account: str
    region: str
    service: str
    resource: str
    schedule: str
    at: str  # the scheduled stop, ISO 8601 UTC
    override_until: str  # the snooze below keeps the resource running until then
    override_command: str  # the isched command that snoozes the stop
    override_tag: str  # the same as a tag, KEY=VALUE


@dataclass(frozen=True)
class Event:
    detail_type: str
    detail: Mapping[str, Any]
    resource: str | None = None  # whose event it is, to report a failure against

    def entry(self, bus: str) -> dict[str, Any]:
        return {
            "Source": SOURCE,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail, separators=(",", ":"), ensure_ascii=False),
            "EventBusName": bus,
        }


@dataclass(frozen=True)
class Failure:
    event: Event
    error: str


class EventSink(Protocol):
    def publish(self, events: Sequence[Event]) -> list[Failure]:
        """Publishes ``events``; returns those that could not be published (after its retry), with why."""
        ...


def check_bus(value: str) -> str:
    """``value`` if it is an event bus name or ARN; :class:`ValueError` naming it otherwise."""
    if not (_BUS_NAME.fullmatch(value) or _BUS_ARN.fullmatch(value)):
        raise ValueError(
            f"{quote(value)} is not an event bus name (1-256 letters, digits, '.', '-', '_', '/') or event bus ARN"
        )
    return value


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as PutEvents counts it: its source, detail-type and detail in UTF-8 (and 14 bytes for a
    time, if it has one)."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(key) or "").encode("utf-8"))
    return size + sum(len(str(r).encode("utf-8")) for r in entry.get("Resources") or ())


def batches(entries: Sequence[tuple[Event, dict[str, Any]]]) -> Iterator[list[tuple[Event, dict[str, Any]]]]:
    """``entries`` in order, in requests of at most :data:`MAX_ENTRIES` entries and :data:`MAX_REQUEST_BYTES`."""
    batch: list[tuple[Event, dict[str, Any]]] = []
    size = 0
    for item in entries:
        n = entry_size(item[1])
        if batch and (len(batch) == MAX_ENTRIES or size + n > MAX_REQUEST_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += n
    if batch:
        yield batch


class EventBridgeSink:
    """Publishes to one EventBridge bus (name or ARN) with ``session``'s credentials (the hub's)."""

    def __init__(self, bus: str, session: boto3.Session | None = None, region: str | None = None) -> None:
        self.bus = check_bus(bus)
        if region is None and self.bus.startswith("arn:"):
            region = self.bus.split(":")[3]  # a bus is called in its own region
        self.client = client("events", region, session)

    def check(self) -> None:
        """Raises (a botocore ``ClientError``) unless the bus exists and can be described."""
        self.client.describe_event_bus(Name=self.bus)

    def publish(self, events: Sequence[Event]) -> list[Failure]:
        entries = [(e, e.entry(self.bus)) for e in events]
        too_big = [
            Failure(e, f"larger than {MAX_REQUEST_BYTES:,} bytes")
            for e, x in entries
            if entry_size(x) > MAX_REQUEST_BYTES
        ]
        pending = [(e, x) for e, x in entries if entry_size(x) <= MAX_REQUEST_BYTES]
        failed: list[Failure] = []
        for _ in range(ATTEMPTS):
            if not pending:
                break
            retry: list[tuple[Event, dict[str, Any]]] = []
            failed = []
            for batch in batches(pending):
                for (event, entry), error in zip(batch, self._put(batch), strict=True):
                    if error is not None:
                        retry.append((event, entry))
                        failed.append(Failure(event, error))
            pending = retry
        return too_big + failed

    def _put(self, batch: list[tuple[Event, dict[str, Any]]]) -> list[str | None]:
        """One PutEvents call: each entry's error, or None where it was published."""
        try:
            response = self.client.put_events(Entries=[entry for _, entry in batch])
        except Exception as exc:  # the whole request failed (after botocore's retries): every entry did
            return [aws_error(exc)] * len(batch)
        results = response.get("Entries") or []
        out: list[str | None] = []
        for n in range(len(batch)):
            # PutEvents answers entry by entry, in request order: an EventId, or an ErrorCode and ErrorMessage.
            got = results[n] if n < len(results) else {}
            if got.get("EventId") and not got.get("ErrorCode"):
                out.append(None)
            else:
                out.append(f"{got.get('ErrorCode') or 'NoEventId'}: {got.get('ErrorMessage') or 'not published'}")
        return out


def outcome_events(result: WorkerResult) -> list[Event]:
    """A target's pass as events: each action, then each error (not the notice of a skipped duplicate pass)."""
    events = [Event(ACTION, a.to_json(), a.resource) for a in result.actions]
    events += [Event(ERROR, e.to_json(), e.resource) for e in result.errors if e.severity != "skipped"]
    return events


def publish_outcome(sink: EventSink | None, result: WorkerResult, *, dry_run: bool = False) -> None:
    """Publishes a target's actions and errors (not a dry run's); what could not be published becomes a warning
    of ``result`` (itself not published)."""
    if sink is None or dry_run:
        return
    events = outcome_events(result)
    if not events:
        return
    failures = _publish(sink, events)
    for f in failures:
        result.error(f.event.resource, f"could not publish its '{f.event.detail_type}' event: {f.error}", "warning")


def _publish(sink: EventSink, events: Sequence[Event]) -> list[Failure]:
    try:
        return sink.publish(events)
    except Exception as exc:  # a sink that raises loses its events, never the pass
        return [Failure(e, f"{type(exc).__name__}: {exc}") for e in events]


def upcoming_stop(target: Target, resource: str, schedule: str, at: datetime) -> Event:
    """The ``Upcoming Stop`` event of ``resource``'s stop at ``at``, with the snooze that keeps it running."""
    until = iso_z(at + SNOOZE)
    detail: UpcomingStopDetail = {
        "account": target.account,
        "region": target.region,
        "service": target.service,
        "resource": resource,
        "schedule": schedule,
        "at": iso_z(at),
        "override_until": until,
        "override_command": f"isched override {shlex.quote(resource)} --state running --until {until}",
        "override_tag": f"{OVERRIDE_TAG}=running@{until}",
    }
    return Event(UPCOMING_STOP, detail, resource)


def announce(sink: EventSink, events: Sequence[Event]) -> tuple[set[str], list[Failure]]:
    """Publishes Upcoming Stop events: the resources announced, and the failures."""
    failures = _publish(sink, events)
    failed = {id(f.event) for f in failures}
    return {e.resource for e in events if e.resource is not None and id(e) not in failed}, failures
