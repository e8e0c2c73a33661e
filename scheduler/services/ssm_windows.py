"""SSM maintenance windows by name: their executions, for EC2 schedules with ``ssm_maintenance_windows``.

DescribeMaintenanceWindows (filtered by name, paginated) says each window's ``NextExecutionTime`` and ``Duration``
(hours); an execution runs from its start for ``Duration`` hours (``Cutoff`` only stops new tasks from starting
before the end, so the instances must run to the end). SSM reports only the *next* execution, so the worker
remembers an execution it has seen while it is open (see ``StateStore.save_ssm_windows``). Where SSM gives no
``NextExecutionTime`` (a window with no upcoming execution, or an emulator that leaves it out), a ``cron(...)`` or
``at(...)`` schedule is read instead, in its ``ScheduleTimezone`` and with its ``ScheduleOffset``; a ``rate(...)``
schedule has no fixed instants, so such a window is reported as a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from scheduler.engine import MaintenanceWindow, instant_text, parse_instant
from scheduler.engine.tz import to_instant, zone

# The module, not the name: common imports base, which imports this module (a cycle that a from-import breaks).
from . import common

# DescribeMaintenanceWindows: MaxResults 10-100; filter values are few names each (chosen well below any limit).
PAGE_SIZE = 100
NAMES_PER_CALL = 20
_CRON = re.compile(r"cron\((.+)\)")
_AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_DOW_NUMBER = re.compile(r"(?<![#/0-9])([1-7])(?![0-9])")


@dataclass(frozen=True, slots=True)
class Execution:
    """One execution of a named SSM maintenance window: [start, end)."""

    name: str
    start: datetime
    end: datetime

    def to_data(self) -> dict[str, str]:
        return {"name": self.name, "start": instant_text(self.start), "end": instant_text(self.end)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Execution | None:
        """A remembered execution; None for one that cannot be read (it is then forgotten)."""
        try:
            start = parse_instant(str(data["start"]))
            end = parse_instant(str(data["end"]))
        except (KeyError, ValueError):
            return None
        name = data.get("name")
        return cls(name, start, end) if isinstance(name, str) and end > start else None

    def window(self) -> MaintenanceWindow:
        return MaintenanceWindow(self.start, self.end, f"SSM window {self.name}")


def read_executions(ssm: Any, names: Sequence[str], at: datetime) -> tuple[list[Execution], list[str]]:
    """The executions of the windows called ``names`` that are open at ``at`` or still to come, and warnings
    (a name SSM does not know, a disabled window, a schedule without fixed instants)."""
    executions: list[Execution] = []
    warnings: list[str] = []
    seen: set[str] = set()
    paginator = ssm.get_paginator("describe_maintenance_windows")
    for batch in common.chunks(list(names), NAMES_PER_CALL):
        pages = paginator.paginate(Filters=[{"Key": "Name", "Values": batch}], PaginationConfig={"PageSize": PAGE_SIZE})
        for page in pages:
            for identity in page.get("WindowIdentities") or []:
                name = str(identity.get("Name") or "")
                if name not in batch:
                    continue
                seen.add(name)
                found, problem = _executions(identity, at)
                executions.extend(found)
                if problem:
                    warnings.append(f"SSM maintenance window '{name}' ({identity.get('WindowId')}): {problem}")
    for name in names:
        if name not in seen:
            warnings.append(f"SSM maintenance window '{name}' not found in this account and region")
    return executions, warnings


def _executions(identity: Mapping[str, Any], at: datetime) -> tuple[list[Execution], str | None]:
    if identity.get("Enabled") is False:
        return [], "disabled: it has no executions"
    name = str(identity["Name"])
    try:
        length = timedelta(hours=int(identity.get("Duration") or 0))
    except (TypeError, ValueError):
        return [], f"unreadable Duration {identity.get('Duration')!r}"
    if length <= timedelta():
        return [], "no Duration"
    tz = _zone(identity.get("ScheduleTimezone"))
    next_text = identity.get("NextExecutionTime")
    if next_text:
        start = _instant(str(next_text), tz)
        if start is None:
            return [], f"unreadable NextExecutionTime {next_text!r}"
        return [Execution(name, start, start + length)], None
    schedule = str(identity.get("Schedule") or "").strip()
    offset = timedelta(days=int(identity.get("ScheduleOffset") or 0))
    at_match = _AT.fullmatch(schedule)
    if at_match:
        start = to_instant(datetime.fromisoformat(at_match.group(1)), tz)
        return ([Execution(name, start, start + length)] if start + length > at else []), None
    expr = aws_cron(schedule)
    if expr is None:
        return [], f"no NextExecutionTime, and its schedule {schedule[:60]!r} gives no fixed instants"
    return _cron_executions(name, expr, tz, offset, length, at), None


def aws_cron(schedule: str) -> str | None:
    """An SSM ``cron(...)`` expression (6 fields, ``?``, weekdays 1-7 with 1 = Sunday) as a 5-field croniter
    expression (0 = Sunday), or None when it is not one or names specific years."""
    match = _CRON.fullmatch(schedule.strip())
    if match is None:
        return None
    fields = match.group(1).split()
    if len(fields) == 5:
        fields.append("*")
    if len(fields) != 6 or fields[5] not in ("*", "?"):
        return None
    minute, hour, dom, month, dow, _ = fields
    dom = "*" if dom == "?" else dom
    dow = "*" if dow == "?" else _DOW_NUMBER.sub(lambda m: str(int(m.group(1)) - 1), dow)
    expr = " ".join((minute, hour, dom, month, dow))
    try:
        return expr if croniter.is_valid(expr) else None
    except Exception:  # croniter's own checks can fail on odd input instead of answering False
        return None


def _cron_executions(
    name: str, expr: str, tz: ZoneInfo, offset: timedelta, length: timedelta, at: datetime
) -> list[Execution]:
    """The execution open at ``at`` (if any) and the next one."""
    # A second past ``at``: a fire exactly at ``at`` is the open one (croniter's neighbours are strictly before/after).
    local = at.astimezone(tz).replace(tzinfo=None) - offset + timedelta(seconds=1)
    out: list[Execution] = []
    try:
        previous = croniter(expr, local).get_prev(datetime)
        following = croniter(expr, local).get_next(datetime)
    except Exception:  # an expression that never fires
        return out
    for fire in (previous, following):
        start = to_instant(fire + offset, tz)
        if start + length > at:
            out.append(Execution(name, start, start + length))
    return out


def _zone(value: object) -> ZoneInfo:
    try:
        return zone(value) if isinstance(value, str) and value.strip() else ZoneInfo("UTC")
    except Exception:  # an unknown zone: SSM itself would not accept it; read as UTC
        return ZoneInfo("UTC")


def _instant(text: str, tz: ZoneInfo) -> datetime | None:
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return t.astimezone(UTC) if t.tzinfo is not None else to_instant(t, tz)


def merge_executions(remembered: Iterable[Execution], read: Iterable[Execution], at: datetime) -> list[Execution]:
    """What the worker keeps: every execution not yet over at ``at``, each once, in order."""
    return sorted({e for e in (*remembered, *read) if e.end > at}, key=lambda e: (e.start, e.name, e.end))


__all__ = ["Execution", "aws_cron", "merge_executions", "read_executions"]
