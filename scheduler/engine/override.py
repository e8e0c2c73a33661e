"""The ``isched:override`` tag (SPEC §2 rule 6): a person keeps one resource running or stopped, indefinitely or
until an instant, whatever its schedule says.

Values: ``running`` or ``stopped`` (indefinitely), ``running@TIME`` or ``stopped@TIME`` (until TIME, ISO 8601 with
``Z`` or an offset; kept as UTC). Case and surrounding spaces are forgiven; anything else is malformed, and the
resource then follows its schedule. Pure: the instant to compare with is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import FieldError, quote
from .evaluate import iso_z
from .schedule import State
from .tz import year_problem

OVERRIDE_TAG = "isched:override"
# Longer than any well-formed value (stopped@ + a 35-character instant with microseconds and an offset).
_MAX_CHARS = 64


@dataclass(frozen=True, slots=True)
class Override:
    """A parsed override: the state to keep, and the instant it ends (None: until the tag is removed)."""

    state: State
    until: datetime | None = None

    def active(self, at: datetime) -> bool:
        """Whether the override is in force at ``at`` (it ends at ``until``, exclusive)."""
        return self.until is None or at < self.until

    @property
    def value(self) -> str:
        """The tag value that says this override (``running`` or ``running@2026-12-06T22:00:00Z``)."""
        return self.state.value if self.until is None else f"{self.state.value}@{iso_z(self.until)}"

    def describe(self) -> str:
        """For reasons: ``running until 2026-12-06T22:00:00Z`` or ``stopped (no end)``."""
        return f"{self.state.value} until {iso_z(self.until)}" if self.until is not None else f"{self.state.value}"


def parse_override(text: str) -> Override:
    """The override a tag value says, or :class:`FieldError` naming the value."""
    bad = (
        f"{quote(text)} is not an override (running or stopped, optionally @TIME in ISO 8601 UTC, "
        "e.g. running@2026-12-06T22:00:00Z)"
    )
    if len(text) > _MAX_CHARS or not (text.isascii() and text.isprintable()):
        raise FieldError(bad)
    head, sep, tail = text.strip().partition("@")
    try:
        state = State(head.strip().lower())
    except ValueError:
        raise FieldError(bad) from None
    if state is State.ANY:
        raise FieldError(bad)
    if not sep:
        return Override(state)
    stamp = tail.strip()
    try:
        until = datetime.fromisoformat(stamp)
    except ValueError:
        raise FieldError(bad) from None
    if until.tzinfo is None or until.utcoffset() is None:
        raise FieldError(f"{quote(text)}: the time has no UTC offset (end it with Z)")
    try:
        until = until.astimezone(UTC)
    except OverflowError:
        raise FieldError(bad) from None
    problem = year_problem(until.year)
    if problem:
        raise FieldError(f"{quote(text)}: {problem}")
    return Override(state, until)
