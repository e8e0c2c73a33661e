"""Errors the CLI turns into exit codes: 2 for bad input (nothing written), 1 for anything else."""

from __future__ import annotations

from scheduler.engine.errors import Issue, printable


class InputError(Exception):
    """Invalid input or usage: exit 2. Carries the issues (field path and message) it found."""

    exit_code = 2

    def __init__(self, issues: list[Issue] | str, field: str = "", *, source: str | None = None) -> None:
        self.issues = [Issue(field, issues)] if isinstance(issues, str) else list(issues)
        # the file the issues are in, when they come from one (printable: a file name can hold any byte)
        self.source = printable(source) if source is not None else None
        super().__init__("\n".join(str(i) for i in self.issues))


class CommandError(Exception):
    """A failure that is not the user's input (AWS refused, network, conflict...): exit 1."""

    exit_code = 1
