"""What an EC2 instance's ``details`` hold, and the typed view of them read back from the ledger or a state record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from .details import StateReason, flag, mapping, maps, text, whole

# Instances that can be started or stopped; terminated and shutting-down ones are gone for scheduling purposes.
LIVE_STATES = ("pending", "running", "stopping", "stopped")


class Volume(TypedDict):
    id: str | None
    size_gb: int | None
    type: str | None


class StillBilling(TypedDict):
    """What keeps billing while an instance is stopped, as its stop records it."""

    volumes: list[Volume]
    elastic_ips: int


class Ec2Details(TypedDict, total=False):
    """What an instance's ``details`` hold (discovery writes all but ``billing_while_stopped``, its stop's)."""

    state: str
    platform: str | None
    tenancy: str | None
    launch_time: str | None
    hibernation_configured: bool
    lifecycle: str  # spot or scheduled
    state_reason: StateReason
    stopped_at: str
    billing_while_stopped: StillBilling
    tags: dict[str, str]  # added by the worker to what it stores


def still_billing(recorded: Mapping[str, object]) -> StillBilling:
    volumes: list[Volume] = [
        {"id": text(v, "id"), "size_gb": whole(v.get("size_gb")), "type": text(v, "type")}
        for v in maps(recorded.get("volumes"))
    ]
    ips = whole(recorded.get("elastic_ips"))
    return {"volumes": volumes, "elastic_ips": ips or 0}


def typed_details(details: Mapping[str, object]) -> Ec2Details:
    """The keys pricing and the stopped-billing estimate read, as typed (a ledger entry's or state record's
    details, numbers as DynamoDB's Decimals; a value of another type reads as absent)."""
    out: Ec2Details = {"platform": text(details, "platform"), "tenancy": text(details, "tenancy")}
    if (state := text(details, "state")) is not None:
        out["state"] = state
    if (lifecycle := text(details, "lifecycle")) is not None:
        out["lifecycle"] = lifecycle
    if (configured := flag(details, "hibernation_configured")) is not None:
        out["hibernation_configured"] = configured
    if (recorded := mapping(details, "billing_while_stopped")) is not None:
        out["billing_while_stopped"] = still_billing(recorded)
    return out
