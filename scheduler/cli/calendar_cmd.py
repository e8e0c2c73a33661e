"""``isched calendar``: a self-contained web page with every schedule's running time on a month calendar."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import click

from scheduler.calendar import build_calendar, parse_month, render_calendar
from scheduler.engine.errors import quote

from .config_source import load_config
from .errors import InputError
from .options import json_option
from .output import emit_json, err_console, styled

MAX_NAMES = 1000


def _names(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise InputError(f"{quote(value)} names no schedule (e.g. office-berlin,office-new-york)", "--schedules")
    if len(names) > MAX_NAMES:
        raise InputError(f"{len(names)} names: at most {MAX_NAMES}", "--schedules")
    return names


def _target(out: str) -> Path:
    """``out`` as a file that can be written: refused (exit 2) when it is a directory or its folder is missing."""
    shown = quote(out, 200)
    if not out.strip() or "\x00" in out:
        raise InputError(f"{shown} is not a file name", "--out")
    path = Path(out)
    if path.is_dir():
        raise InputError(f"{shown} is a directory, not a file", "--out")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{shown} cannot be written: the folder {quote(str(parent), 200)} does not exist", "--out")
    if path.exists() and not path.is_file():
        raise InputError(f"{shown} is not a regular file", "--out")
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file in the same folder, so a failure leaves nothing behind
    (and an existing file as it was). An OS refusal is an exit-2 error naming ``--out``."""
    shown = quote(str(path), 200)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=".isched-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise InputError(f"{shown} cannot be written: {exc.strerror or exc}", "--out") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@click.command("calendar")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month to draw, e.g. 2026-03.")
@click.option("--out", "out", required=True, metavar="FILE.html", help="Where to write the page.")
@click.option("--file", "-f", "file", metavar="F", help="Schedule file; without it, the stored configuration.")
@click.option("--schedules", "schedules", metavar="A,B", help="Only these schedules (comma-separated names).")
@json_option
def calendar_cmd(month: str, out: str, file: str | None, schedules: str | None, as_json: bool) -> None:
    """Every schedule's running time on a month calendar, as one self-contained web page.

    Each date of the month shows one bar per schedule: that schedule's local day (00:00-24:00 in its own zone,
    23 or 25 hours on a DST change day), shaded while it runs, with a tick per start and stop. Holidays and DST
    days are marked. Hover, focus or click a tick for its local and UTC time. The page needs no network: open it
    in any browser, mail it, or attach it to a ticket. The numbers are the same as `isched schedule preview`.

    \b
    Examples:
      isched calendar --month 2026-03 --out march.html --file examples/schedules.yaml
      isched calendar --month 2026-12 --out december.html --schedules office-berlin,office-new-york
      isched calendar --month 2026-03 --out march.html --json     # what was written, hours per schedule
    """
    try:
        parse_month(month)
    except ValueError as exc:
        raise InputError(str(exc), "--month") from None
    names = _names(schedules)
    path = _target(out)
    config = load_config(file)
    if names is not None:
        unknown = [n for n in names if n not in config.schedules]
        if unknown:
            raise InputError(f"{quote(unknown[0])} is not a schedule", "--schedules")
    cal = build_calendar(config, month, names)
    data = render_calendar(cal).encode("utf-8")
    write_atomically(path, data)
    if as_json:
        emit_json(
            {
                "month": cal.month,
                "out": str(path),
                "bytes": len(data),
                "schedules": [
                    {
                        "schedule": sm.name,
                        "timezone": sm.timezone,
                        "running_hours": sm.running_hours,
                        "transitions": sm.transition_count,
                        "holidays": [d.isoformat() for d in sm.holidays],
                        "dst_days": [d.isoformat() for d in sm.clock_changes],
                    }
                    for sm in cal.schedules
                ],
            }
        )
        return
    err_console.print(styled("wrote {} ({} schedule(s), {:,} bytes)", str(path), len(cal.schedules), len(data)))
