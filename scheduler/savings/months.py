"""UTC months, days and hours: the calendar the savings are counted in (AWS bills by UTC month)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from scheduler.engine import parse_instant

# The ledger keeps entries for 800 days (LEDGER_RETENTION_DAYS): looking further back finds nothing.
LEDGER_MONTHS_BACK = 27
MICRO = timedelta(microseconds=1)
_HOUR_MICROS = Decimal(3_600_000_000)
DAY = timedelta(days=1)


def parse_month(text: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` as the UTC instants [first day 00:00, first day of the next month 00:00)."""
    value = text.strip()
    try:
        if len(value) != 7 or value[4] != "-":
            raise ValueError
        first = datetime(int(value[:4]), int(value[5:]), 1, tzinfo=UTC)
    except ValueError:
        raise ValueError(f"'{text}' is not a month (YYYY-MM, e.g. 2026-11)") from None
    return first, _next_month(first)


def _next_month(first: datetime) -> datetime:
    return first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)


def month_of(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m")


def shift_month(month: str, n: int) -> str:
    first, _ = parse_month(month)
    index = first.year * 12 + first.month - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    """The months from ``first`` to ``last``, both included (empty when ``last`` is before ``first``)."""
    out: list[str] = []
    m = first
    while m <= last:
        out.append(m)
        m = shift_month(m, 1)
    return out


def entry_instant(value: Any) -> datetime:
    return parse_instant(str(value))


def micros_between(start: datetime, end: datetime) -> int:
    return max(0, (end - start) // MICRO)


def hours(micros: int) -> Decimal:
    return Decimal(micros) / _HOUR_MICROS


def day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def split_days(start: datetime, end: datetime) -> list[tuple[date, int]]:
    """[start, end) cut at UTC midnights: (day, microseconds) for each day it touches."""
    out: list[tuple[date, int]] = []
    cur = start
    while cur < end:
        day = cur.date()
        nxt = min(end, day_start(day) + DAY)
        out.append((day, micros_between(cur, nxt)))
        cur = nxt
    return out
