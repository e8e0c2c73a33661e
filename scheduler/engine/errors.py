"""Validation errors that name the offending field and value.

Validation never stops at the first problem: it collects every :class:`Issue` so a user fixes a file in one go.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass

QUOTE_LIMIT = 60  # characters of an offending value a message quotes at most
_PATH_LIMIT = 200
_MESSAGE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in user input: ``path`` is dotted (``periods.office.weekdays``)."""

    path: str
    message: str

    def __post_init__(self) -> None:
        # A last line of defence: whatever a caller put in, an issue prints as one bounded line of printable text
        # (no lone surrogates that cannot be encoded, no terminal control characters, no megabytes of value).
        object.__setattr__(self, "path", _bounded(printable(str(self.path)), _PATH_LIMIT))
        object.__setattr__(self, "message", _bounded(printable(str(self.message)), _MESSAGE_LIMIT))

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(ValueError):
    """Raised with every issue found; ``str()`` lists them one per line."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class FieldError(ValueError):
    """A single field's value is invalid; the caller adds the path."""


def unknown_field(key: object, known: tuple[str, ...], path: str) -> Issue:
    """An issue for a field name that is not one of ``known``, with the closest known name as a hint."""
    from difflib import get_close_matches

    close = get_close_matches(key[:64], known, n=1) if isinstance(key, str) else []
    hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"
    return Issue(path, f"unknown field{hint}")


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every character that is not printable (controls, lone surrogates, format characters,
    line and paragraph separators) written as a Python-style escape; spaces stay as they are."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else _escape(ch) for ch in text)


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = QUOTE_LIMIT
_REPR.maxother = QUOTE_LIMIT
for _attr in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque", "maxarray"):
    setattr(_REPR, _attr, 6)
_REPR.maxlong = QUOTE_LIMIT


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A user value as a message quotes it: ``'text'`` (a string) or its repr, at most ``limit`` characters of it.

    A longer value is cut to a prefix and says how long it was, so a 50 MB description or an expanded YAML alias
    never floods a terminal; control characters and lone surrogates are shown as escapes.
    """
    if isinstance(value, str):
        head = printable(value[:limit])
        if len(value) <= limit:
            return f"'{head}'"
        return f"'{head}…' ({len(value):,} characters)"
    try:
        text = _REPR.repr(value)
    except Exception:  # a value whose repr fails is still named, by its type
        text = f"<{type(value).__name__}>"
    return _bounded(printable(text), limit - 1)


def path_key(key: object) -> str:
    """A mapping key as it appears in an issue path (``periods.<key>``): printable and short."""
    text = key if isinstance(key, str) else quote(key)
    return _bounded(printable(text[: QUOTE_LIMIT + 1]), QUOTE_LIMIT)
