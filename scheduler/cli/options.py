"""Options shared by every command, and parsing of TIME and DATE arguments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import click

from scheduler.engine.errors import quote
from scheduler.engine.tz import year_problem

from .errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


def json_option(fn: F) -> F:
    """``--json`` on a command; the group's ``isched --json`` works too."""

    def set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        obj = ctx.ensure_object(dict)
        obj["json"] = bool(value) or bool(obj.get("json"))
        return bool(obj["json"])

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=True,
        callback=set_json,
        is_eager=True,
        help="Print machine-readable JSON on stdout.",
    )(fn)


def parse_instant(value: str, field: str) -> datetime:
    """ISO 8601 with a UTC offset (``Z`` allowed), e.g. 2026-11-27T09:00:00+01:00, in the years 1970-2999 (UTC)."""
    text = value.strip()
    try:
        # fromisoformat is lenient (it reads "2026-01-01T00:00\x00Z"): only short, printable ASCII gets that far.
        if len(text) > 64 or not (text.isascii() and text.isprintable()):
            raise ValueError
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{quote(value)} is not an ISO 8601 time (e.g. 2026-11-27T09:00:00Z)", field) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InputError(f"{quote(value)} has no UTC offset (add Z or +01:00)", field)
    try:
        year = parsed.astimezone(UTC).year
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        year = parsed.year
    problem = year_problem(parsed.year) or year_problem(year)
    if problem:
        raise InputError(f"{quote(value)} is not a time this tool schedules ({problem})", field)
    return parsed


def parse_day(value: str, field: str) -> date:
    """``YYYY-MM-DD``, in the years 1970-2999."""
    text = value.strip()
    try:
        if len(text) != 10 or not text.isascii():
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{quote(value)} is not a date (YYYY-MM-DD)", field) from None
    problem = year_problem(day.year)
    if problem:
        raise InputError(f"{quote(value)} is not a date this tool schedules ({problem})", field)
    return day
