"""Schedules and the configuration document (all periods and schedules), validated with every issue reported."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from difflib import get_close_matches
from enum import StrEnum
from functools import lru_cache
from typing import Any

from .errors import ConfigError, FieldError, Issue, unknown_field
from .periods import Period, parse_period
from .tz import zone


class State(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    ANY = "any"


SCHEDULE_FIELDS = (
    "timezone",
    "periods",
    "description",
    "override_status",
    "enforced",
    "retain_running",
    "stop_new_instances",
    "hibernate",
    "holidays",
    "holiday_calendar",
)
FLAG_DEFAULTS = {"enforced": False, "retain_running": False, "stop_new_instances": True, "hibernate": False}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+=/-]{0,127}$")
_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)+$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True)
class PeriodRef:
    """A schedule's use of a period, optionally with the EC2 instance type to run as during it."""

    name: str
    instance_type: str | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.instance_type}" if self.instance_type else self.name


@dataclass(frozen=True)
class Schedule:
    name: str
    timezone: str = "UTC"
    periods: tuple[PeriodRef, ...] = ()
    description: str | None = None
    override_status: State | None = None
    enforced: bool = False
    retain_running: bool = False
    stop_new_instances: bool = True
    hibernate: bool = False
    holidays: tuple[date, ...] = ()
    holiday_calendar: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The schedule in the file's field names; defaults are left out so files stay short."""
        out: dict[str, Any] = {"timezone": self.timezone}
        if self.periods:
            out["periods"] = [str(p) for p in self.periods]
        if self.description:
            out["description"] = self.description
        if self.override_status is not None:
            out["override_status"] = self.override_status.value
        for flag, default in FLAG_DEFAULTS.items():
            if getattr(self, flag) != default:
                out[flag] = getattr(self, flag)
        if self.holidays:
            out["holidays"] = [d.isoformat() for d in self.holidays]
        if self.holiday_calendar:
            out["holiday_calendar"] = self.holiday_calendar
        return out


def parse_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise FieldError(
            f"{value!r} is not a valid {what} name (1-128 letters, digits and _ . : + = / -, "
            "starting with a letter or digit)"
        )
    return value


def parse_period_ref(value: object) -> PeriodRef:
    if not isinstance(value, str):
        raise FieldError(f"{value!r} is not a period name")
    name, sep, itype = value.partition("@")
    name = name.strip()
    parse_name(name, "period")
    if sep:
        itype = itype.strip()
        if not _TYPE_RE.match(itype):
            raise FieldError(f"'{value}' has an invalid instance type '{itype}' (e.g. 't3.large')")
        return PeriodRef(name, itype)
    return PeriodRef(name)


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    raise FieldError(f"{value!r} is not true or false")


def parse_date(value: object) -> date:
    if isinstance(value, datetime):
        raise FieldError(f"'{value.isoformat()}' is not a date (YYYY-MM-DD, without a time)")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_RE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise FieldError(f"{value!r} is not a date (YYYY-MM-DD)")


@lru_cache(maxsize=1)
def _calendars() -> dict[str, tuple[str, ...]]:
    import holidays as hol

    return {k: tuple(v) for k, v in hol.list_supported_countries().items()}


def parse_holiday_calendar(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldError(f"{value!r} is not a holiday calendar (a country code such as 'DE' or 'DE-BY')")
    country, _, subdiv = value.strip().partition("-")
    supported = _calendars()
    if country.upper() not in supported:
        raise FieldError(f"'{value}' is not a holiday calendar: unknown country '{country}' (e.g. 'US', 'DE-BY')")
    if subdiv and subdiv.upper() not in {s.upper() for s in supported[country.upper()]}:
        known = ", ".join(supported[country.upper()][:12])
        raise FieldError(
            f"'{value}' is not a holiday calendar: '{country.upper()}' has no subdivision '{subdiv}' (known: {known}…)"
        )
    return country.upper() + (f"-{subdiv.upper()}" if subdiv else "")


def _parse_list(value: object) -> list[object]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value]


def parse_schedule_fields(raw: dict[str, Any], path: str, issues: list[Issue]) -> dict[str, Any]:
    """Validates the fields present in ``raw`` (no cross-references); adds issues, returns parsed values."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        fpath = f"{path}.{key}"
        if key not in SCHEDULE_FIELDS:
            issues.append(unknown_field(key, SCHEDULE_FIELDS, fpath))
            continue
        try:
            if key == "timezone":
                zone(value)
                values[key] = value
            elif key == "periods":
                refs: list[PeriodRef] = []
                for i, item in enumerate(_parse_list(value)):
                    try:
                        refs.append(parse_period_ref(item))
                    except FieldError as exc:
                        issues.append(Issue(f"{fpath}[{i}]", str(exc)))
                seen: set[str] = set()
                for ref in refs:
                    if ref.name in seen:
                        issues.append(Issue(fpath, f"'{ref.name}' is listed twice"))
                    seen.add(ref.name)
                values[key] = tuple(refs)
            elif key == "override_status":
                if value is None:
                    values[key] = None
                elif value not in ("running", "stopped"):
                    raise FieldError(f"{value!r} is not an override status (running or stopped)")
                else:
                    values[key] = State(value)
            elif key in FLAG_DEFAULTS:
                values[key] = parse_bool(value)
            elif key == "holidays":
                days: list[date] = []
                for i, item in enumerate(_parse_list(value) if value is not None else []):
                    try:
                        days.append(parse_date(item))
                    except FieldError as exc:
                        issues.append(Issue(f"{fpath}[{i}]", str(exc)))
                values[key] = tuple(sorted(set(days)))
            elif key == "holiday_calendar":
                values[key] = parse_holiday_calendar(value) if value is not None else None
            elif value is not None and not isinstance(value, str):
                raise FieldError(f"{value!r} is not text")
            else:
                values[key] = value
        except FieldError as exc:
            issues.append(Issue(fpath, str(exc)))
    return values


@dataclass(frozen=True)
class Config:
    """A validated set of periods and schedules (one schedule file, or the stored configuration)."""

    periods: dict[str, Period] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "periods": {n: p.to_dict() for n, p in sorted(self.periods.items())},
            "schedules": {n: s.to_dict() for n, s in sorted(self.schedules.items())},
        }

    def periods_for(self, schedule: Schedule) -> dict[str, Period]:
        return {r.name: self.periods[r.name] for r in schedule.periods}


def check_schedule(schedule: Schedule, periods: Collection[str], path: str) -> list[Issue]:
    """Cross-checks against the names of the defined periods: every named period exists; something to schedule by."""
    issues: list[Issue] = []
    for ref in schedule.periods:
        if ref.name not in periods:
            close = get_close_matches(ref.name, sorted(periods), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            issues.append(Issue(f"{path}.periods", f"'{ref.name}' is not a defined period{hint}"))
    if not schedule.periods and schedule.override_status is None:
        issues.append(Issue(path, "a schedule needs at least one period or an override_status"))
    return issues


def parse_schedule(name: str, raw: object, path: str) -> tuple[Schedule | None, list[Issue]]:
    """Validates one schedule's own fields (not whether its periods exist: see :func:`check_schedule`)."""
    schedule, issues, _ = _parse_schedule(name, raw, path)
    return schedule, issues


def _parse_schedule(name: str, raw: object, path: str) -> tuple[Schedule | None, list[Issue], tuple[PeriodRef, ...]]:
    issues: list[Issue] = []
    if not isinstance(raw, dict):
        issues.append(Issue(path, f"{raw!r} is not a schedule (a mapping of schedule fields)"))
        return None, issues, ()
    values = parse_schedule_fields(raw, path, issues)
    refs: tuple[PeriodRef, ...] = values.get("periods", ())
    if issues:
        return None, issues, refs
    return Schedule(name=name, **values), [], refs


def _named(section: dict[Any, Any], kind: str, issues: list[Issue]) -> list[tuple[str, Any]]:
    """The items of a section whose names are valid; an issue for each that is not."""
    out = []
    for name, raw in section.items():
        try:
            out.append((parse_name(name, kind), raw))
        except FieldError as exc:
            issues.append(Issue(f"{kind}s.{name}", str(exc)))
    return out


def parse_config(doc: object) -> Config:
    """Validates a whole document (already parsed from YAML/JSON); raises :class:`ConfigError` with every issue."""
    issues: list[Issue] = []
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError([Issue("", f"the file must be a mapping with 'periods' and 'schedules', not {doc!r}")])
    for key in doc:
        if key not in ("periods", "schedules"):
            issues.append(Issue(str(key), "unknown section (expected 'periods' and 'schedules')"))
    periods: dict[str, Period] = {}
    schedules: dict[str, Schedule] = {}
    raw_periods = doc.get("periods") or {}
    raw_schedules = doc.get("schedules") or {}
    for section, raw_section in (("periods", raw_periods), ("schedules", raw_schedules)):
        if not isinstance(raw_section, dict):
            issues.append(Issue(section, f"must be a mapping keyed by name, not {raw_section!r}"))
    if isinstance(raw_periods, dict):
        for name, raw in _named(raw_periods, "period", issues):
            period, found = parse_period(name, raw, f"periods.{name}")
            issues.extend(found)
            if period is not None:
                periods[name] = period
    if isinstance(raw_schedules, dict):
        for name, raw in _named(raw_schedules, "schedule", issues):
            path = f"schedules.{name}"
            schedule, found, refs = _parse_schedule(name, raw, path)
            issues.extend(found)
            # Cross-check even a schedule with other errors, so one run reports everything; a period that failed
            # its own validation is reported where it is defined, not again here.
            defined = set(raw_periods) if isinstance(raw_periods, dict) else set()
            probe = schedule or Schedule(name=name, periods=refs, override_status=State.STOPPED)
            issues.extend(check_schedule(probe, defined, path))
            if schedule is not None:
                schedules[name] = schedule
    if issues:
        raise ConfigError(issues)
    return Config(periods, schedules)
