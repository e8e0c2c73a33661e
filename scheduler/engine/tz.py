"""Local wall-clock times to instants, with the DST rules of the contract.

* A local time that occurs twice (a fold) maps to its first occurrence, so a window gives one start and one stop.
* A local time that does not exist (a gap) maps to the instant the clock jumps, so a window wholly inside the gap
  is empty that day instead of being shifted an hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import FieldError

_ONE_SECOND = timedelta(seconds=1)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; raises :class:`FieldError` for an unknown one."""
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        raise FieldError(f"{name!r} is not an IANA time zone (e.g. 'Europe/Berlin')")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError, OSError):
        raise FieldError(f"'{name}' is not an IANA time zone (e.g. 'Europe/Berlin')") from None


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
