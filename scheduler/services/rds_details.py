"""What an RDS DB instance's or DB cluster's ``details`` hold, the typed view of them read back from the ledger or a
state record, and the instants RDS answers with, as text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

from scheduler.engine import instant_text
from scheduler.services.details import flag, maps, text
from scheduler.services.pricing import whole

# One instance of a DB cluster ("class" is a keyword, hence the functional form); class None: not described.
ClusterMember = TypedDict("ClusterMember", {"id": str, "class": str | None, "writer": bool})


class RdsDetails(TypedDict, total=False):
    """What a DB instance's or DB cluster's ``details`` hold (``members`` and the engine mode: clusters only;
    ``cluster`` and ``license_model``: instances, the latter None on clusters)."""

    kind: Literal["instance", "cluster"]
    status: str | None
    engine: str | None
    engine_version: str | None
    multi_az: bool
    storage_type: str | None
    allocated_storage: int | None
    license_model: str | None
    cluster: str  # the DB cluster an instance belongs to
    engine_mode: str | None
    members: list[ClusterMember]
    cluster_instance_class: str  # Multi-AZ DB clusters (non-Aurora): one class for all members
    automatic_restart_time: str  # when RDS will start a stopped database on its own
    maintenance_window: str  # ddd:hh:mm-ddd:hh:mm, UTC
    auto_started_at: str  # when RDS last started it on its own (from its events)
    tags: dict[str, str]  # added by the worker to what it stores


def typed_details(details: Mapping[str, object]) -> RdsDetails:
    """The keys pricing and the stopped-billing estimate read, as typed (a ledger entry's or state record's
    details, numbers as DynamoDB's Decimals; a value of another type reads as absent)."""
    out: RdsDetails = {
        "kind": "cluster" if details.get("kind") == "cluster" else "instance",
        "engine": text(details, "engine"),
        "engine_mode": text(details, "engine_mode"),
        "multi_az": bool(flag(details, "multi_az")),
        "storage_type": text(details, "storage_type"),
        "allocated_storage": whole(details.get("allocated_storage")),
        "license_model": text(details, "license_model"),
        "members": [
            {"id": text(m, "id") or "", "class": text(m, "class"), "writer": bool(flag(m, "writer"))}
            for m in maps(details.get("members"))
        ],
    }
    if (cls := text(details, "cluster_instance_class")) is not None:
        out["cluster_instance_class"] = cls
    return out


def aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def iso(value: Any) -> str:
    at = aware(value)
    return instant_text(at) if at else str(value)
