"""Output helpers: JSON on stdout with ``--json``, rich tables and text otherwise; errors on stderr."""

from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape

from scheduler.engine.errors import Issue


def _width() -> int | None:
    # Piped output would otherwise wrap tables at 80 columns; a terminal keeps its own width.
    return None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 140


console = Console(highlight=False, width=_width())
err_console = Console(stderr=True, highlight=False, width=_width())


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {value!r}")


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=_default) + "\n")
    sys.stdout.flush()


def report_issues(issues: list[Issue], *, as_json: bool, source: str | None = None, title: str = "error") -> None:
    """Prints every issue to stderr (and as JSON on stdout with ``--json``)."""
    prefix = f"{source}: " if source else ""
    for issue in issues:
        err_console.print(f"[bold red]{title}:[/] {prefix}{escape(str(issue))}", soft_wrap=True)
    if as_json:
        payload: dict[str, Any] = {
            "error": "; ".join(str(i) for i in issues),
            "issues": [issue_json(i) for i in issues],
        }
        if source:
            payload["file"] = source
        emit_json(payload)


def issue_json(issue: Issue) -> dict[str, str]:
    return {"path": issue.path, "message": issue.message}
