"""The local cache of prices (``ISCHED_PRICE_CACHE``, else ``<user cache dir>/isched/prices.json``: answers from the
Price List API, kept for 7 days) and the JSON file cache it shares with Cost Explorer's answers."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scheduler.engine.instants import instant_text, parse_instant

log = logging.getLogger(__name__)

PRICE_CACHE_ENV = "ISCHED_PRICE_CACHE"
PRICE_TTL = timedelta(days=7)


def cache_dir() -> Path:
    """Where isched caches prices and Cost Explorer answers: beside ``ISCHED_PRICE_CACHE`` when it is set, else the
    user's cache directory (``XDG_CACHE_HOME``, ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows)."""
    override = os.environ.get(PRICE_CACHE_ENV)
    if override and override.lower() != "off":
        return Path(override).expanduser().parent
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "isched"


def price_cache_path() -> Path | None:
    """The price cache file; ``None`` when caching is off (``ISCHED_PRICE_CACHE=off``)."""
    override = os.environ.get(PRICE_CACHE_ENV)
    if override is not None and override.strip().lower() == "off":
        return None
    if override:
        return Path(override).expanduser()
    return cache_dir() / "prices.json"


class JsonCache:
    """A small JSON file of ``key -> {"at": ISO time, "value": ...}`` entries, each valid for ``ttl``.

    A cache is a convenience: a file that cannot be read or written is treated as empty, never as an error.
    """

    def __init__(self, path: Path | None, ttl: timedelta, clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        self.ttl = ttl
        self.clock = clock or (lambda: datetime.now(UTC))
        self._data: dict[str, Any] | None = None
        self._dirty = False

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {}
            if self.path is not None:
                with contextlib.suppress(OSError, ValueError):
                    loaded = json.loads(self.path.read_text(encoding="utf-8"))
                    if isinstance(loaded, dict) and isinstance(loaded.get("entries"), dict):
                        self._data = loaded["entries"]
        return self._data

    def get(self, key: str, ttl: timedelta | None = None) -> Any | None:
        entry = self._load().get(key)
        if not isinstance(entry, dict) or "at" not in entry:
            return None
        try:
            at = parse_instant(str(entry["at"]))
        except ValueError:
            return None
        if self.clock() - at > (ttl or self.ttl):
            return None
        return entry.get("value")

    def put(self, key: str, value: Any) -> None:
        self._load()[key] = {"at": instant_text(self.clock()), "value": value}
        self._dirty = True

    def save(self) -> None:
        if not self._dirty or self.path is None or self._data is None:
            return
        now = self.clock()
        keep = {}
        for k, v in self._data.items():
            with contextlib.suppress(KeyError, TypeError, ValueError):
                if now - parse_instant(str(v["at"])) <= max(self.ttl, PRICE_TTL):
                    keep[k] = v
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Written to a temporary file and renamed, so a concurrent reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".isched-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": 1, "entries": keep}, fh)
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError as exc:
            log.warning("could not write the cache %s: %s", self.path, exc)
