"""RDS starts a database that has been stopped for seven days on its own. The AWS solution reads that as a manual
start and leaves it running for the rest of the stopped period; here discovery reads the RDS events that announce
such a start and flags the resource ``restarted_by_service`` so the engine restores the schedule's stop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from scheduler.engine import Observed
from scheduler.services.base import Resource
from scheduler.services.common import aws_error
from scheduler.services.rds_details import aware, iso

log = logging.getLogger(__name__)

# Reads every item under a key of every page of an RDS operation: (operation, key, **parameters).
Pages = Callable[..., Iterable[dict[str, Any]]]

# Without StartTime or Duration DescribeEvents covers only the past hour; a day covers any sane pass interval and
# a missed pass or two. RDS keeps events for 14 days.
DEFAULT_EVENT_WINDOW = timedelta(hours=24)
MAX_EVENT_WINDOW = timedelta(days=14)

# RDS-EVENT-0154 (db-instance) "DB instance is being started due to it exceeding the maximum allowed time being
# stopped." and RDS-EVENT-0153 (db-cluster) "DB cluster is being started due to it exceeding the maximum allowed
# time being stopped." (RDS and Aurora user guides, event message tables). DescribeEvents returns no event id,
# only the message, so the message is what is matched; the common tail is matched so a changed first word or a
# missing final period does not hide the event.
AUTO_START_MESSAGE = "exceeding the maximum allowed time being stopped"
# RDS-EVENT-0087 "DB instance stopped." and RDS-EVENT-0150 "DB cluster stopped.": a stop after the automatic start
# means that start was already undone (by a previous pass), so a later start is someone's, not the service's.
STOPPED_MESSAGES = ("db instance stopped", "db cluster stopped")
# All four events are in the "notification" category; asking for it alone keeps the event pages short.
EVENT_CATEGORIES = ["notification"]


def mark_restarted(
    resources: list[Resource], read: Pages, region: str, now: datetime, events_since: datetime | None
) -> list[str]:
    """Flags resources RDS started on its own (7-day limit) and that are still up since then, from the events
    ``read`` pages through since ``events_since`` (None: the last :data:`DEFAULT_EVENT_WINDOW`); returns warnings
    (events that could not be read)."""
    warnings: list[str] = []
    since = max(aware(events_since) or now - DEFAULT_EVENT_WINDOW, now - MAX_EVENT_WINDOW)
    window: dict[str, Any] = {"StartTime": since, "EndTime": now}
    for source_type, kind in (("db-instance", "instance"), ("db-cluster", "cluster")):
        wanted = {r.id.lower(): r for r in resources if r.details.get("kind") == kind}
        if not wanted:
            continue
        auto_started: dict[str, datetime] = {}
        stopped: dict[str, datetime] = {}
        try:
            events = read(
                "describe_events", "Events", SourceType=source_type, EventCategories=EVENT_CATEGORIES, **window
            )
            for event in events:
                ident = str(event.get("SourceIdentifier") or "").lower()
                if ident not in wanted:
                    continue
                message = str(event.get("Message") or "").lower()
                at = aware(event.get("Date")) or now
                if AUTO_START_MESSAGE in message:
                    auto_started[ident] = max(at, auto_started.get(ident, at))
                elif message.startswith(STOPPED_MESSAGES):
                    stopped[ident] = max(at, stopped.get(ident, at))
        except (ClientError, BotoCoreError) as exc:
            # Without events a service restart looks like a manual start: a lesser harm than failing the pass.
            warning = f"cannot read RDS {source_type} events in {region}: {aws_error(exc)}"
            log.warning(warning)
            warnings.append(warning)
            continue
        for ident, at in auto_started.items():
            r = wanted[ident]
            r.details = {**r.details, "auto_started_at": iso(at)}
            if ident in stopped and stopped[ident] >= at:
                continue  # already stopped again after the automatic start (the event is older news)
            if r.observed not in (Observed.STOPPED, Observed.STOPPING):
                r.restarted_by_service = True
    return warnings
