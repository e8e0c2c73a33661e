"""Schedules and the configuration document (all periods and schedules), validated with every issue reported."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from difflib import get_close_matches
from enum import StrEnum
from functools import lru_cache
from typing import Any

from .errors import ConfigError, FieldError, Issue, path_key, quote, unknown_field
from .maintenance import MAX_SSM_WINDOWS, parse_ssm_window_names
from .periods import Period, parse_description, parse_period
from .tz import year_problem, zone


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
    "notify_before",
    "use_maintenance_window",
    "ssm_maintenance_windows",
)
FLAG_DEFAULTS = {
    "enforced": False,
    "retain_running": False,
    "stop_new_instances": True,
    "hibernate": False,
    "use_maintenance_window": False,
}

# All matched with fullmatch: "$" also matches before a final newline, which made "office\n" a second "office".
# SPEC §1: 1-64 letters, digits, -, _ and . (so no whitespace or control characters anywhere).
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)+")
_TYPE_MAX = 64
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Bounds that keep a stored schedule item far below DynamoDB's 400 KB item limit, and 100 of them (one apply
# transaction) below its 4 MB request limit: at most about 12 KB of description (1,024 characters, JSON-escaped),
# 10 KB of period references and 7 KB of holidays.
MAX_PERIOD_REFS = 50
MAX_HOLIDAYS = 500
# A period item also holds the names of the schedules that use it (``used_by``).
MAX_USED_BY_CHARS = 200_000
# notify_before: minutes between an "Upcoming Stop" notice and the stop (at most a day ahead).
MAX_NOTIFY_BEFORE = 1440


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
    # None: the deployment's default zone (``Config.default_timezone``, UTC unless the deployment says otherwise).
    timezone: str | None = None
    periods: tuple[PeriodRef, ...] = ()
    description: str | None = None
    override_status: State | None = None
    enforced: bool = False
    retain_running: bool = False
    stop_new_instances: bool = True
    hibernate: bool = False
    holidays: tuple[date, ...] = ()
    holiday_calendar: str | None = None
    # Minutes: an "Upcoming Stop" notice is published this long before each scheduled stop (None: no notices).
    notify_before: int | None = None
    use_maintenance_window: bool = False  # RDS family: run for the preferred maintenance window (SPEC §2 rule 7)
    ssm_maintenance_windows: tuple[str, ...] = ()  # EC2: run during these SSM maintenance windows (by name)

    @property
    def has_maintenance_windows(self) -> bool:
        return self.use_maintenance_window or bool(self.ssm_maintenance_windows)

    def to_dict(self) -> dict[str, Any]:
        """The schedule in the file's field names; defaults are left out so files stay short."""
        out: dict[str, Any] = {}
        if self.timezone is not None:
            out["timezone"] = self.timezone
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
        if self.notify_before is not None:
            out["notify_before"] = self.notify_before
        if self.ssm_maintenance_windows:
            out["ssm_maintenance_windows"] = list(self.ssm_maintenance_windows)
        return out


def parse_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise FieldError(f"{quote(value)} is not a valid {what} name (1-64 letters, digits, -, _ and .)")
    return value


def parse_period_ref(value: object) -> PeriodRef:
    if not isinstance(value, str):
        raise FieldError(f"{quote(value)} is not a period name")
    name, sep, itype = value.partition("@")
    name = name.strip()
    parse_name(name, "period")
    if sep:
        itype = itype.strip()
        if len(itype) > _TYPE_MAX or not _TYPE_RE.fullmatch(itype):
            raise FieldError(f"{quote(value)} has an invalid instance type {quote(itype)} (e.g. 't3.large')")
        return PeriodRef(name, itype)
    return PeriodRef(name)


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    raise FieldError(f"{quote(value)} is not true or false")


def parse_date(value: object) -> date:
    """A local date, ``YYYY-MM-DD``, in the years the tool accepts (1970-2999)."""
    if isinstance(value, datetime):
        raise FieldError(f"{quote(value.isoformat())} is not a date (YYYY-MM-DD, without a time)")
    day: date | None = None
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and len(value) <= 32 and _DATE_RE.fullmatch(value.strip()):
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(value.strip())
    if day is None:
        raise FieldError(f"{quote(value)} is not a date (YYYY-MM-DD)")
    problem = year_problem(day.year)
    if problem:
        raise FieldError(f"{quote(day.isoformat())} is not a date this tool schedules ({problem})")
    return day


@lru_cache(maxsize=1)
def _calendars() -> dict[str, tuple[str, ...]]:
    import holidays as hol

    return {k: tuple(v) for k, v in hol.list_supported_countries().items()}


def parse_holiday_calendar(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldError(f"{quote(value)} is not a holiday calendar (a country code such as 'DE' or 'DE-BY')")
    if len(value) > 32:
        raise FieldError(f"{quote(value)} is not a holiday calendar (a country code such as 'DE' or 'DE-BY')")
    country, _, subdiv = value.strip().partition("-")
    supported = _calendars()
    if country.upper() not in supported:
        raise FieldError(
            f"{quote(value)} is not a holiday calendar: unknown country {quote(country)} (e.g. 'US', 'DE-BY')"
        )
    if subdiv and subdiv.upper() not in {s.upper() for s in supported[country.upper()]}:
        known = ", ".join(supported[country.upper()][:12])
        raise FieldError(
            f"{quote(value)} is not a holiday calendar: '{country.upper()}' has no subdivision {quote(subdiv)} "
            f"(known: {known}…)"
        )
    return country.upper() + (f"-{subdiv.upper()}" if subdiv else "")


def parse_notify_before(value: object) -> int:
    """Minutes, 1-1440, as a whole number (digits in a string accepted: the CLI's flags are text)."""
    minutes: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    elif isinstance(value, str) and len(value) <= 8 and value.strip().isdigit() and value.strip().isascii():
        minutes = int(value.strip())
    if minutes is None or not 1 <= minutes <= MAX_NOTIFY_BEFORE:
        raise FieldError(f"{quote(value)} is not a number of minutes from 1 to {MAX_NOTIFY_BEFORE}")
    return minutes


def _parse_list(value: object, limit: int, what: str) -> list[object]:
    if isinstance(value, list | tuple):
        items = list(value)
    elif isinstance(value, str):
        if len(value) > 64 * limit:
            raise FieldError(f"{quote(value)} is too long (at most {limit:,} {what})")
        items = [v.strip() for v in value.split(",") if v.strip()]
    else:
        items = [value]
    if len(items) > limit:
        raise FieldError(f"{quote(value)} has {len(items):,} items (at most {limit:,} {what})")
    return items


def parse_schedule_fields(raw: dict[str, Any], path: str, issues: list[Issue]) -> dict[str, Any]:
    """Validates the fields present in ``raw`` (no cross-references); adds issues, returns parsed values."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        fpath = f"{path}.{path_key(key)}"
        if key not in SCHEDULE_FIELDS:
            issues.append(unknown_field(key, SCHEDULE_FIELDS, fpath))
            continue
        try:
            if key == "timezone":
                # Instance Scheduler compatibility: an empty or null zone is the default zone (UTC, or the
                # deployment's DefaultTimezone): left unset, so the evaluator applies whichever default is in force.
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                zone(value)
                values[key] = value
            elif key == "periods":
                refs: list[PeriodRef] = []
                for i, item in enumerate(_parse_list(value, MAX_PERIOD_REFS, "periods")):
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
                # Instance Scheduler compatibility: any case, stored lowercase.
                status = value.strip().lower() if isinstance(value, str) else value
                if status is None:
                    values[key] = None
                elif status not in ("running", "stopped"):
                    raise FieldError(f"{quote(value)} is not an override status (running or stopped)")
                else:
                    values[key] = State(status)
            elif key in FLAG_DEFAULTS:
                values[key] = parse_bool(value)
            elif key == "holidays":
                days: list[date] = []
                for i, item in enumerate(_parse_list(value, MAX_HOLIDAYS, "holidays") if value is not None else []):
                    try:
                        days.append(parse_date(item))
                    except FieldError as exc:
                        issues.append(Issue(f"{fpath}[{i}]", str(exc)))
                values[key] = tuple(sorted(set(days)))
            elif key == "holiday_calendar":
                values[key] = parse_holiday_calendar(value) if value is not None else None
            elif key == "notify_before":
                values[key] = parse_notify_before(value) if value is not None else None
            elif key == "ssm_maintenance_windows":
                items = _parse_list(value, MAX_SSM_WINDOWS, "SSM maintenance windows") if value is not None else []
                values[key] = parse_ssm_window_names(items)
            else:
                values[key] = parse_description(value)
        except FieldError as exc:
            issues.append(Issue(fpath, str(exc)))
    return values


@dataclass(frozen=True)
class Config:
    """A validated set of periods and schedules (one schedule file, or the stored configuration).

    ``default_timezone`` is the zone of every schedule that names none: the deployment's ``DefaultTimezone``
    (``ISCHED_DEFAULT_TIMEZONE``, ``--default-timezone``), UTC otherwise. It is a setting of whoever evaluates the
    configuration, not part of it: :meth:`to_dict` (export, the pass digest) leaves it out.
    """

    periods: dict[str, Period] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    default_timezone: str = "UTC"

    def with_default_timezone(self, name: str) -> Config:
        """This configuration with schedules without a zone evaluated in ``name``; :class:`FieldError` if ``name``
        is not an IANA zone."""
        zone(name)
        return replace(self, default_timezone=name)

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
    if not schedule.periods and schedule.override_status is None and not schedule.has_maintenance_windows:
        issues.append(Issue(path, "a schedule needs at least one period, an override_status or a maintenance window"))
    return issues


def parse_schedule(name: str, raw: object, path: str) -> tuple[Schedule | None, list[Issue]]:
    """Validates one schedule's own fields (not whether its periods exist: see :func:`check_schedule`)."""
    schedule, issues, _ = _parse_schedule(name, raw, path)
    return schedule, issues


def _parse_schedule(name: str, raw: object, path: str) -> tuple[Schedule | None, list[Issue], tuple[PeriodRef, ...]]:
    issues: list[Issue] = []
    if not isinstance(raw, dict):
        issues.append(Issue(path, f"{quote(raw)} is not a schedule (a mapping of schedule fields)"))
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
            issues.append(Issue(f"{kind}s.{path_key(name)}", str(exc)))
    return out


def parse_config(doc: object) -> Config:
    """Validates a whole document (already parsed from YAML/JSON); raises :class:`ConfigError` with every issue."""
    issues: list[Issue] = []
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError([Issue("", f"the file must be a mapping with 'periods' and 'schedules', not {quote(doc)}")])
    for key in doc:
        if key not in ("periods", "schedules"):
            issues.append(Issue(path_key(key), "unknown section (expected 'periods' and 'schedules')"))
    periods: dict[str, Period] = {}
    schedules: dict[str, Schedule] = {}
    raw_periods = doc.get("periods") or {}
    raw_schedules = doc.get("schedules") or {}
    for section, raw_section in (("periods", raw_periods), ("schedules", raw_schedules)):
        if not isinstance(raw_section, dict):
            issues.append(Issue(section, f"must be a mapping keyed by name, not {quote(raw_section)}"))
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
    issues.extend(_used_by_issues(schedules))
    if issues:
        raise ConfigError(issues)
    return Config(periods, schedules)


def _used_by_issues(schedules: dict[str, Schedule]) -> list[Issue]:
    """A period's stored item lists the schedules that use it; that list must fit in one DynamoDB item too."""
    chars: dict[str, int] = {}
    for name, schedule in schedules.items():
        for ref in schedule.periods:
            chars[ref.name] = chars.get(ref.name, 0) + len(name) + 4
    return [
        Issue(
            f"periods.{period}",
            f"is used by too many schedules (their names total {total:,} characters; at most "
            f"{MAX_USED_BY_CHARS:,} fit in one stored item): split it into several periods",
        )
        for period, total in sorted(chars.items())
        if total > MAX_USED_BY_CHARS
    ]
