"""Options shared by every command, and parsing of TIME and DATE arguments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import click

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
    """ISO 8601 with a UTC offset (``Z`` allowed), e.g. 2026-11-27T09:00:00+01:00."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"'{value}' is not an ISO 8601 time (e.g. 2026-11-27T09:00:00Z)", field) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InputError(f"'{value}' has no UTC offset (add Z or +01:00)", field)
    return parsed


def parse_day(value: str, field: str) -> date:
    try:
        if len(value.strip()) != 10:
            raise ValueError
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"'{value}' is not a date (YYYY-MM-DD)", field) from None
