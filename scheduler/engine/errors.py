"""Validation errors that name the offending field and value.

Validation never stops at the first problem: it collects every :class:`Issue` so a user fixes a file in one go.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in user input: ``path`` is dotted (``periods.office.weekdays``)."""

    path: str
    message: str

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

    close = get_close_matches(str(key), known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"
    return Issue(path, f"unknown field{hint}")
