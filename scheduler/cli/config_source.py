"""Where commands get the configuration from: a schedule file (``--file``) or, later, the stored configuration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from scheduler.engine import Config, ConfigError, parse_text
from scheduler.engine.document import MAX_FILE_BYTES
from scheduler.engine.errors import quote

from .errors import InputError


def read_file(path: str, field: str = "--file", limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of ``path``; refused (exit 2, naming ``field``) when missing, unreadable, not UTF-8 or larger
    than ``limit`` bytes (only ``limit`` + 1 bytes are ever read)."""
    shown = quote(path, 200)  # a file name is shown whole (the OS bounds it), its control characters escaped
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"{shown} does not exist", field) from None
    except IsADirectoryError:
        raise InputError(f"{shown} is a directory, not a schedule file", field) from None
    except ValueError:  # a NUL byte in the path
        raise InputError(f"{shown} is not a file name", field) from None
    except OSError as exc:
        raise InputError(f"{shown} cannot be read: {exc.strerror}", field) from None
    if len(data) > limit:
        raise InputError(f"{shown} is larger than {limit // (1024 * 1024)} MiB: not a schedule file", field)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{shown} is not UTF-8 text (byte {exc.start + 1:,})", field) from None


def load_file(path: str) -> Config:
    """Reads and validates a schedule file; every problem becomes an exit-2 issue prefixed with the file name."""
    import click

    from .context import default_timezone

    text = read_file(path)
    try:
        config = parse_text(text)
    except ConfigError as exc:
        raise InputError(exc.issues, source=path) from None
    return replace(config, default_timezone=default_timezone(click.get_current_context(silent=True)))


def load_config(file: str | None) -> Config:
    """The configuration from ``file``, or the stored configuration of the current namespace without one."""
    if file is not None:
        return load_file(file)
    import click

    from scheduler.store.config import StoreError

    from .context import config_store
    from .errors import CommandError

    try:
        return config_store(click.get_current_context()).load()
    except StoreError as exc:
        raise CommandError(str(exc)) from None
