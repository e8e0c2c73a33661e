"""Where commands get the configuration from: a schedule file (``--file``) or, later, the stored configuration."""

from __future__ import annotations

from pathlib import Path

from scheduler.engine import Config, ConfigError, parse_text

from .errors import InputError


def read_file(path: str) -> str:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"'{path}' does not exist", "--file") from None
    except IsADirectoryError:
        raise InputError(f"'{path}' is a directory, not a schedule file", "--file") from None
    except UnicodeDecodeError:
        raise InputError(f"'{path}' is not UTF-8 text", "--file") from None
    except OSError as exc:
        raise InputError(f"'{path}' cannot be read: {exc.strerror}", "--file") from None


def load_file(path: str) -> Config:
    """Reads and validates a schedule file; every problem becomes an exit-2 issue prefixed with the file name."""
    text = read_file(path)
    try:
        return parse_text(text)
    except ConfigError as exc:
        raise InputError(exc.issues, source=path) from None


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
