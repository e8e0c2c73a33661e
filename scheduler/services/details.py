"""Typed reading of a resource's ``details`` as a ledger entry or state record gives them back.

Each service declares the keys it writes as a ``TypedDict`` and reads them back through a small ``_details``
reader built from these functions. What comes back from DynamoDB has lost its Python types (numbers are
``Decimal``, lists and maps are plain), and old items may lack a key or hold another type: a value of the wrong
type reads as absent, never as an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TypedDict

from .pricing import whole

__all__ = [
    "ActionOutcome",
    "CommonDetails",
    "StateReason",
    "common",
    "flag",
    "mapping",
    "maps",
    "number",
    "outcome",
    "text",
    "texts",
    "whole",
]


def text(details: Mapping[str, object], key: str) -> str | None:
    """A string value, or None."""
    value = details.get(key)
    return value if isinstance(value, str) else None


def flag(details: Mapping[str, object], key: str) -> bool | None:
    """A boolean value, or None."""
    value = details.get(key)
    return value if isinstance(value, bool) else None


def number(value: object) -> Decimal | None:
    """A number (int, float or the Decimal DynamoDB gives back; not a bool) as a Decimal, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def mapping(details: Mapping[str, object], key: str) -> Mapping[str, object] | None:
    """A map value (string keys), or None."""
    value = details.get(key)
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return value
    return None


def maps(value: object) -> list[Mapping[str, object]]:
    """The maps (string keys) in a list value; anything else in it is left out."""
    if not isinstance(value, list | tuple):
        return []
    return [v for v in value if isinstance(v, Mapping) and all(isinstance(k, str) for k in v)]


def texts(value: object) -> list[str]:
    """The strings in a list value; anything else in it is left out."""
    if not isinstance(value, list | tuple):
        return []
    return [v for v in value if isinstance(v, str)]


class StateReason(TypedDict):
    """Why the service says a resource is in its state (EC2's StateReason)."""

    code: str | None
    message: str | None


class CommonDetails(TypedDict, total=False):
    """The keys of a resource's details that the worker and the report read, whatever its service (each is
    written only by the services that know it)."""

    tags: dict[str, str]  # what the worker stores for the report's Name column and --group-by-tag
    state: str  # EC2's state name
    status: str  # RDS's, Redshift's, SageMaker's status
    maintenance_window: str  # RDS: ddd:hh:mm-ddd:hh:mm, UTC
    state_reason: StateReason  # EC2, when stopped
    launch_time: str  # EC2: an instant as text
    stopped_at: str  # EC2: when it stopped (StateTransitionReason), an instant as text


def common(details: Mapping[str, object] | None) -> CommonDetails:
    """The common keys of ``details`` (as a service built them, or a ledger entry or state record gives them
    back), typed; a key whose value has another type is left out."""
    found = details or {}
    out: CommonDetails = {}
    tags = mapping(found, "tags")
    if tags is not None:
        out["tags"] = {k: str(v) for k, v in tags.items()}
    for key in ("state", "status", "maintenance_window", "launch_time", "stopped_at"):
        value = text(found, key)
        if value is not None:
            out[key] = value
    reason = found.get("state_reason")
    if isinstance(reason, Mapping):
        out["state_reason"] = {"code": text(reason, "code"), "message": text(reason, "message")}
    elif isinstance(reason, str) and reason:
        out["state_reason"] = {"code": reason, "message": None}
    return out


class ActionOutcome(TypedDict, total=False):
    """The keys of an action's result details (:attr:`ActionResult.details`) that the worker keeps in the record
    and the ledger, whatever the service (each is written only by the services that know it)."""

    instance_type: str  # the type after a resize (or found unchanged)
    saved_capacity: Mapping[str, object]  # what a stop saved (Auto Scaling sizes), restored by the start
    billing_while_stopped: Mapping[str, object]  # what still bills after a stop (EC2 volumes, SageMaker storage)


def outcome(details: Mapping[str, object] | None) -> ActionOutcome:
    """The keys of an action's result details that the worker keeps, typed; an empty value, or one of another
    type, is left out."""
    found = details or {}
    out: ActionOutcome = {}
    if instance_type := text(found, "instance_type"):
        out["instance_type"] = instance_type
    if saved := mapping(found, "saved_capacity"):
        out["saved_capacity"] = saved
    if billing := mapping(found, "billing_while_stopped"):
        out["billing_while_stopped"] = billing
    return out
