"""Local wall-clock times to instants, with the DST rules of the contract.

* A local time that occurs twice (a fold) maps to its first occurrence, so a window gives one start and one stop.
* A local time that does not exist (a gap) maps to the instant the clock jumps, so a window wholly inside the gap
  is empty that day instead of being shifted an hour.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .errors import FieldError, quote

_ONE_SECOND = timedelta(seconds=1)

# Instants and dates the tool accepts (CLI times and dates, holidays). Evaluation looks a few hundred days either
# side of an instant, which stays far inside what ``datetime`` can represent (years 1-9999) in every zone.
MIN_YEAR = 1970
MAX_YEAR = 2999

# An IANA key: letters, digits, "_", "-", "+" in "/"-separated parts (no dots, so no relative paths); at most 64.
_ZONE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*")
_ZONE_KEY_MAX = 64
# Files in a zoneinfo directory that are not zones of their own: the host's zone (it differs per machine), the
# POSIX default rules and the "zone not configured" placeholder; posix/ and right/ are copies for other uses.
_NOT_ZONES = frozenset({"localtime", "posixrules", "factory"})
_NOT_ZONE_DIRS = ("posix/", "right/")


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: object) -> ZoneInfo:
    """The IANA zone ``name``; raises :class:`FieldError` for anything else.

    Only proper IANA keys are accepted: not a path (``zoneinfo`` would read any file relative to its search path),
    not ``localtime`` (whatever zone the host happens to have), ``posixrules`` or ``Factory``.
    """
    if (
        not isinstance(name, str)
        or len(name) > _ZONE_KEY_MAX
        or not _ZONE_KEY.fullmatch(name)
        or name.lower() in _NOT_ZONES
        or name.startswith(_NOT_ZONE_DIRS)
    ):
        raise FieldError(f"{quote(name)} is not an IANA time zone (e.g. 'Europe/Berlin')")
    return _zone(name)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    if name not in _known_zones():
        raise FieldError(f"{quote(name)} is not an IANA time zone (e.g. 'Europe/Berlin')")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise FieldError(f"{quote(name)} is not an IANA time zone (e.g. 'Europe/Berlin')") from None


def year_problem(year: int) -> str | None:
    """Why a date or instant in ``year`` is refused (outside :data:`MIN_YEAR`..:data:`MAX_YEAR`), or ``None``."""
    if MIN_YEAR <= year <= MAX_YEAR:
        return None
    return f"the year {year} is outside {MIN_YEAR}-{MAX_YEAR}"


def to_instant(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of naive local wall time ``local`` in ``tz`` (first occurrence; gap -> jump instant)."""
    utc = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == local:
        return utc
    return _gap_jump(local, tz)


@lru_cache(maxsize=4096)
def _gap_jump(local: datetime, tz: ZoneInfo) -> datetime:
    # fold=0 reads a nonexistent time with the offset from before the jump, which lands after the jump; the jump
    # itself is the first instant whose wall time is past `local`. Gaps are rare, so a bisection is cheap enough.
    hi = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    lo = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if lo > hi:
        lo, hi = hi, lo
    lo -= timedelta(hours=3)
    while hi - lo > _ONE_SECOND:
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(tz).replace(tzinfo=None) > local:
            hi = mid
        else:
            lo = mid
    return hi


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant local ``day`` begins (a zone that skips midnight begins the day at the jump)."""
    return to_instant(datetime.combine(day, time()), tz)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()
