"""Instants as text: one form for what is stored or passed between layers, one for what people read.

``instant_text`` is what the code stores (DynamoDB items, ledger entries and keys, state records, payloads, caches):
UTC, fixed width, microseconds and ``Z``, so that two stored instants compare as strings in the order of time (as
DynamoDB conditions and sort keys compare them). ``parse_instant`` reads it back, and every form stored before it
(``+00:00`` or any other offset, ``Z``, with or without fractions of a second). ``iso_z`` is the display form of
the public JSON shapes (seconds, ``Z``): shown, never parsed for ordering.
"""

from __future__ import annotations

from datetime import UTC, datetime

# The longest text parse_instant reads ("2026-01-01T00:00:00.000000+00:00" is 32 characters), with some slack.
_MAX_INSTANT_TEXT = 40


def instant_text(t: datetime) -> str:
    """Fixed-width UTC text with microseconds and ``Z`` (``2026-03-02T09:00:00.000000Z``), for years 0001-9999.

    A naive ``t`` is refused: a stored instant without its offset is ambiguous."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{t!r} has no UTC offset")
    u = t.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"


def parse_instant(text: str) -> datetime:
    """The UTC instant of stored text: :func:`instant_text`'s form and the older ones (``+00:00``, any offset,
    ``Z``, with or without fractions of a second). Raises ``ValueError`` for anything else, a naive time included."""
    if not isinstance(text, str) or len(text) > _MAX_INSTANT_TEXT or not text.isascii() or not text.isprintable():
        raise ValueError(f"{str(text)[:_MAX_INSTANT_TEXT]!r} is not an instant")
    if len(text) < 11 or text[10] not in "T ":
        raise ValueError(f"{text!r} is not an instant (a date and a time with an offset)")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{text!r} has no UTC offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range in UTC") from None


def iso_z(instant: datetime) -> str:
    """UTC ISO 8601 with a ``Z`` (seconds precision): the display form of the public JSON shapes."""
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


__all__ = ["instant_text", "iso_z", "parse_instant"]
