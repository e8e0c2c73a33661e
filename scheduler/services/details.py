"""Typed reading of a resource's ``details`` as a ledger entry or state record gives them back.

Each service declares the keys it writes as a ``TypedDict`` and reads them back through a small ``_details``
reader built from these functions. What comes back from DynamoDB has lost its Python types (numbers are
``Decimal``, lists and maps are plain), and old items may lack a key or hold another type: a value of the wrong
type reads as absent, never as an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from .pricing import whole

__all__ = ["flag", "mapping", "maps", "number", "text", "texts", "whole"]


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
