"""Instance Scheduler on AWS's configuration table as an isched configuration, with a note wherever meaning changes.

The table holds items keyed by ``type`` and ``name``: ``period`` items, ``schedule`` items and one ``config`` item
(the deployment's settings). Values are DynamoDB attribute values (``{"S": …}``). Versions of the solution wrote
day fields, period lists and SSM window names as string sets or as comma-separated strings, and booleans as BOOL or
as the strings "true"/"false" in any case; all of them are read, with the meaning the solution gives them.

What is translated: every period field (begintime, endtime, weekdays, monthdays, months, description) and every
schedule field isched has (periods with ``name@instancetype``, timezone, description, override_status or the
older ``overwrite``, enforced, retain_running, stop_new_instances, hibernate, and the maintenance-window fields
when this build's engine takes them). What is not (the config item's deployment settings, per-schedule metrics,
the stack a schedule was configured in, unknown attributes) is listed as a note; so is every place where isched's
evaluation differs from the solution's for an item (overnight periods, 23:59 stops, local times a DST change skips
or repeats, multi-digit steps, the solution's default of using maintenance windows).

Pure: no AWS calls (:mod:`scheduler.migrate.is_table` reads the table), and the day the DST notes look ahead from
(to the clock changes of the next year) is an argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from scheduler.engine import Config, ConfigError, FieldError, Issue, Period, parse_config, zone
from scheduler.engine.errors import quote
from scheduler.engine.periods import format_time
from scheduler.engine.schedule import SCHEDULE_FIELDS, Schedule

Attr = Mapping[str, Any]
Item = Mapping[str, Attr]

MAX_LIST = 100  # items of one set or comma list (isched's day fields hold at most 100 items)
MAX_TEXT = 4096  # characters of one text attribute (a description is at most 1,024; isched says so itself)
KINDS = ("period", "schedule", "config")
DAY_FIELDS = ("weekdays", "monthdays", "months")
FLAGS = ("enforced", "retain_running", "stop_new_instances", "hibernate")
# Whether this build's engine has the maintenance-window fields (SPEC §1); without them they are notes.
MAINTENANCE_FIELDS = "use_maintenance_window" in SCHEDULE_FIELDS and "ssm_maintenance_windows" in SCHEDULE_FIELDS

_MULTI_DIGIT_STEP = re.compile(r"/\s*[0-9]{2,}")
_LAST_MINUTE = 23 * 60 + 59

# The config item's settings: what each is in an isched deployment (none is imported).
SETTING_HINTS = {
    "tagname": "the hub stack's TagKey parameter (isched run --tag-key)",
    "default_timezone": "the hub stack's DefaultTimezone parameter (isched --default-timezone)",
    "regions": "the hub stack's Regions parameter (isched run --regions)",
    "remote_account_ids": "the hub stack's Accounts parameter, with infra/spoke.yaml deployed in each account",
    "organization_id": "the hub stack's OrganizationId parameter",
    "scheduler_role_name": "the hub stack's SpokeRoleName parameter",
    "scheduled_services": "the hub stack's Services parameter (isched run --services)",
    "create_rds_snapshot": "the hub stack's RdsSnapshotBeforeStop parameter (isched run --rds-snapshot)",
    "use_metrics": "the hub stack's PublishMetrics parameter",
    "trace": "the hub stack's EnableTracing parameter",
    "namespace": "the hub stack's Namespace parameter",
    "schedule_clusters": "isched always schedules Aurora, Neptune and DocumentDB clusters",
    "schedule_lambda_account": "isched schedules the hub account when it is in Accounts",
    "started_tags": "no equivalent: isched writes its own isched:* tags on the resources it acts on",
    "stopped_tags": "no equivalent: isched writes its own isched:* tags on the resources it acts on",
    "enable_SSM_maintenance_windows": "per schedule in isched (ssm_maintenance_windows)",
    "aws_partition": "isched takes the partition from the stack's region",
}


@dataclass(frozen=True)
class Note:
    """Something about one item the user should know: not imported, or imported with a different meaning."""

    kind: str  # period | schedule | config
    name: str
    field: str  # the attribute it is about ("" for the whole item)
    text: str

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "field": self.field, "note": self.text}


@dataclass(frozen=True)
class Translation:
    config: Config
    notes: tuple[Note, ...]
    settings: dict[str, str] = field(default_factory=dict)  # the config item's attributes, as text
    items: int = 0


class _Reader:
    """Collects issues (refusals) and notes while items are translated."""

    def __init__(self, default_timezone: str, today: date) -> None:
        self.default_timezone = default_timezone
        self.today = today
        self.issues: list[Issue] = []
        self.notes: list[Note] = []
        self.periods: dict[str, dict[str, Any]] = {}
        self.schedules: dict[str, dict[str, Any]] = {}
        self.settings: dict[str, str] = {}
        self.is_default_timezone: str | None = None
        self.raw_steps: dict[str, list[tuple[str, str]]] = {}  # period -> (field, item) with a multi-digit step
        self.explicit_mw: dict[str, bool | None] = {}  # schedule -> use_maintenance_window as stored

    def note(self, kind: str, name: str, attr: str, text: str) -> None:
        self.notes.append(Note(kind, name, attr, text))

    # -- items -------------------------------------------------------------------------------------------------

    def item(self, index: int, item: object) -> None:
        where = f"items[{index}]"
        if not isinstance(item, Mapping):
            self.issues.append(Issue(where, "is not a DynamoDB item"))
            return
        try:
            kind = _text(item.get("type", {"NULL": True}))
            name = _text(item.get("name", {"NULL": True}))
        except FieldError as exc:
            self.issues.append(Issue(where, f"its key is not a string type and name ({exc})"))
            return
        if kind is None or name is None:
            self.issues.append(Issue(where, "has no type or no name (the table's key)"))
            return
        if kind not in KINDS:
            self.issues.append(
                Issue(
                    f"{where} ({quote(name)})",
                    f"has the unknown type {quote(kind)} (an Instance Scheduler table holds period, schedule "
                    "and config items)",
                )
            )
            return
        body = {k: v for k, v in item.items() if k not in ("type", "name")}
        if kind == "period":
            self.periods[name] = self.period(name, body)
        elif kind == "schedule":
            self.schedules[name] = self.schedule(name, body)
        else:
            self.config_item(name, body)

    def period(self, name: str, attrs: Mapping[str, Attr]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, value in sorted(attrs.items()):
            path = f"periods.{name}.{attr}"
            try:
                if attr in ("begintime", "endtime", "description"):
                    text = _text(value)
                    if text is not None and text.strip():
                        out[attr] = text if attr == "description" else text.strip()
                elif attr in DAY_FIELDS:
                    items = _strings(value)
                    if items:
                        out[attr] = items
                        steps = [(attr, i) for i in items if _MULTI_DIGIT_STEP.search(i)]
                        self.raw_steps.setdefault(name, []).extend(steps)
                elif attr == "configured_in_stack":
                    self.note("period", name, attr, _stack_note(value))
                else:
                    self.note("period", name, attr, "not imported: not an Instance Scheduler period attribute")
            except FieldError as exc:
                self.issues.append(Issue(path, str(exc)))
        return out

    def schedule(self, name: str, attrs: Mapping[str, Attr]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "overwrite" in attrs and "override_status" in attrs:
            self.issues.append(
                Issue(f"schedules.{name}", "has both overwrite and override_status (Instance Scheduler refuses that)")
            )
        self.explicit_mw[name] = None
        for attr, value in sorted(attrs.items()):
            path = f"schedules.{name}.{attr}"
            try:
                self._schedule_attr(name, attr, value, out)
            except FieldError as exc:
                self.issues.append(Issue(path, str(exc)))
        return out

    def _schedule_attr(self, name: str, attr: str, value: Attr, out: dict[str, Any]) -> None:
        if attr == "periods":
            items = _strings(value)
            if items:
                out["periods"] = items
        elif attr == "timezone":
            text = _text(value)
            if text is not None and text.strip():  # empty or null: the default zone
                out["timezone"] = text.strip()
        elif attr == "description":
            text = _text(value)
            if text:
                out["description"] = text
        elif attr == "override_status":
            text = _text(value)
            if text is not None and text.strip():
                out["override_status"] = text.strip().lower()
        elif attr == "overwrite":  # the older form: true = running, false = stopped
            flag = _flag(value)
            if flag is not None:
                out["override_status"] = "running" if flag else "stopped"
        elif attr in FLAGS:
            flag = _flag(value)
            if flag is not None:
                out[attr] = flag
        elif attr == "use_maintenance_window":
            flag = _flag(value)
            self.explicit_mw[name] = flag
            if flag is not None and MAINTENANCE_FIELDS:
                out[attr] = flag
            elif flag:
                self.note(
                    "schedule",
                    name,
                    attr,
                    "not imported: true (RDS runs in its preferred maintenance window); this isched build has no "
                    "maintenance windows",
                )
        elif attr == "ssm_maintenance_window":
            windows = _strings(value)
            if windows and MAINTENANCE_FIELDS:
                out["ssm_maintenance_windows"] = windows
            elif windows:
                self.note(
                    "schedule",
                    name,
                    attr,
                    f"not imported: {', '.join(windows)} (EC2 runs in these SSM maintenance windows); this isched "
                    "build has no maintenance windows",
                )
        elif attr in ("metrics", "use_metrics"):
            self.note(
                "schedule",
                name,
                attr,
                "not imported: isched publishes metrics for every schedule or none (the "
                "hub stack's PublishMetrics parameter)",
            )
        elif attr == "configured_in_stack":
            self.note("schedule", name, attr, _stack_note(value))
        else:
            self.note("schedule", name, attr, "not imported: not an Instance Scheduler schedule attribute")

    def config_item(self, name: str, attrs: Mapping[str, Attr]) -> None:
        for attr, value in sorted(attrs.items()):
            try:
                shown = _as_text(value)
            except FieldError as exc:
                self.note("config", name, attr, f"not imported: {exc}")
                continue
            self.settings[attr] = shown
            if attr == "default_timezone" and shown.strip():
                self.is_default_timezone = shown.strip()
                if self.is_default_timezone != self.default_timezone:
                    self.note(
                        "config",
                        name,
                        attr,
                        f"Instance Scheduler's default zone is {quote(self.is_default_timezone)}, isched's here is "
                        f"'{self.default_timezone}': set {SETTING_HINTS[attr]} to {quote(self.is_default_timezone)} "
                        "so schedules without a zone keep their meaning",
                    )
                continue
            if attr == "tagname" and shown == "Schedule":
                continue  # isched's default too
            hint = SETTING_HINTS.get(attr, "no isched equivalent")
            self.note("config", name, attr, f"deployment setting, not imported ({quote(shown, 80)}): {hint}")

    # -- what changes meaning, from the validated configuration -----------------------------------------------

    def meaning_notes(self, config: Config) -> None:
        for name, period in sorted(config.periods.items()):
            self._period_notes(name, period)
        for name, schedule in sorted(config.schedules.items()):
            self._schedule_notes(config, name, schedule)

    def _period_notes(self, name: str, p: Period) -> None:
        b, e = p.begintime, p.endtime
        if b is not None and e is not None and b > e:
            self.note(
                "period",
                name,
                "endtime",
                f"begintime {format_time(b)} is after endtime {format_time(e)}: isched runs it overnight, to "
                f"{format_time(e)} the next day; Instance Scheduler runs such a period at no time",
            )
        if e == _LAST_MINUTE:
            self.note(
                "period",
                name,
                "endtime",
                "23:59: isched stops at 23:59 even when no pass runs in that minute (a later pass catches up; "
                "Instance Scheduler can miss it), and a window starting at 00:00 the next day continues the run "
                "without a stop at midnight",
            )
        for attr, item in self.raw_steps.get(name, []):
            self.note(
                "period",
                name,
                attr,
                f"{quote(item)}: isched steps by the whole number; Instance Scheduler reads only the step's last digit",
            )

    def _schedule_notes(self, config: Config, name: str, s: Schedule) -> None:
        if s.timezone is None and self.is_default_timezone is None:
            self.note(
                "schedule",
                name,
                "timezone",
                f"no time zone: isched runs it in the default zone ('{self.default_timezone}' here); Instance "
                "Scheduler used its stack's DefaultTimezone (the table does not say which)",
            )
        elif s.timezone is None and self.is_default_timezone != self.default_timezone:
            self.note(
                "schedule",
                name,
                "timezone",
                f"no time zone: Instance Scheduler ran it in {quote(self.is_default_timezone)}, isched runs it in "
                f"'{self.default_timezone}' (see the config item's default_timezone note)",
            )
        if s.enforced:
            for ref in s.periods:
                p = config.periods[ref.name]
                if not p.is_cron and (p.begintime is None) != (p.endtime is None):
                    only = "begintime" if p.endtime is None else "endtime"
                    self.note(
                        "schedule",
                        name,
                        "enforced",
                        f"period '{ref.name}' has only a {only}: isched acts at that time only; Instance Scheduler "
                        f"also enforces {'running' if only == 'begintime' else 'stopped'} for the rest of the day",
                    )
        if not MAINTENANCE_FIELDS and self.explicit_mw.get(name) is None:
            self.note(
                "schedule",
                name,
                "use_maintenance_window",
                "not set: Instance Scheduler's default is true (RDS runs in its preferred maintenance window); "
                "isched's is off",
            )
        elif MAINTENANCE_FIELDS and self.explicit_mw.get(name) is None:
            self.note(
                "schedule",
                name,
                "use_maintenance_window",
                "not set: Instance Scheduler's default is true (RDS runs in its preferred maintenance window); "
                "isched's is off and stays off (set it on the schedule to keep the old behaviour)",
            )
        tz_name = s.timezone or self.default_timezone
        for ref in s.periods:
            self._dst_notes(name, tz_name, ref.name, config.periods[ref.name])

    def _dst_notes(self, schedule: str, tz_name: str, pname: str, p: Period) -> None:
        # the clock changes of the next twelve months or so
        years = (self.today.year, self.today.year + 1)
        changes = [c for y in years for c in clock_changes(tz_name, y) if c.day >= self.today]
        for attr, minute in (("begintime", p.begintime), ("endtime", p.endtime)):
            if minute is None:
                continue
            overnight_end = attr == "endtime" and p.begintime is not None and p.begintime > minute
            noted: set[bool] = set()  # the first skip and the first repeat are enough to say it
            for change in changes:
                if change.skipped in noted or not change.first <= minute < change.last:
                    continue
                day = change.day - timedelta(days=1) if overnight_end else change.day
                if day.day not in p.days_of_month(day.year, day.month):
                    continue
                when = f"{format_time(minute)} of period '{pname}'"
                if change.skipped:
                    text = (
                        f"{attr} {when} does not exist on {change.day.isoformat()} in {tz_name} (the clock jumps "
                        f"from {format_time(change.first)} to {format_time(change.last)}): isched acts at "
                        f"{format_time(change.last)}"
                    )
                else:
                    text = (
                        f"{attr} {when} occurs twice on {change.day.isoformat()} in {tz_name}: isched acts once, "
                        "at the first; Instance Scheduler, which compares clock times, can act again in the "
                        "repeated hour"
                    )
                self.note("schedule", schedule, "timezone", text)
                noted.add(change.skipped)


@dataclass(frozen=True)
class ClockChange:
    """A DST change on local ``day``: the local minutes [first, last) are skipped or occur twice."""

    day: date
    first: int
    last: int
    skipped: bool


@lru_cache(maxsize=256)
def clock_changes(tz_name: str, year: int) -> tuple[ClockChange, ...]:
    """The clock changes of zone ``tz_name`` in ``year`` (found from its UTC offsets, so any zone's rules work)."""
    tz = zone(tz_name)
    out: list[ClockChange] = []
    day = datetime(year, 1, 1, 12, tzinfo=UTC)
    offset = day.astimezone(tz).utcoffset()
    while day.year == year:
        nxt = day + timedelta(days=1)
        nxt_offset = nxt.astimezone(tz).utcoffset()
        if nxt_offset != offset:
            t = day
            while (t + timedelta(minutes=15)).astimezone(tz).utcoffset() == offset:
                t += timedelta(minutes=15)
            change_at = t + timedelta(minutes=15)  # the first quarter hour with the new offset
            assert offset is not None and nxt_offset is not None
            before = (change_at + offset).replace(tzinfo=None)  # the wall clock just before the change
            after = (change_at + nxt_offset).replace(tzinfo=None)
            lo, hi = min(before, after), max(before, after)
            if lo.date() == hi.date() or hi.time() == datetime.min.time():
                last = (hi - datetime.combine(lo.date(), datetime.min.time())) // timedelta(minutes=1)
                out.append(ClockChange(lo.date(), lo.hour * 60 + lo.minute, last, skipped=after > before))
            offset = nxt_offset
        day = nxt
    return tuple(out)


def translate(items: Iterable[object], *, default_timezone: str = "UTC", today: date) -> Translation:
    """The table's items as a validated isched configuration and notes; :class:`ConfigError` naming every item
    that cannot be imported (then nothing should be)."""
    reader = _Reader(default_timezone, today)
    count = 0
    for index, item in enumerate(items):
        count += 1
        reader.item(index, item)
    doc = {"periods": reader.periods, "schedules": reader.schedules}
    config: Config | None = None
    try:
        config = parse_config(doc)
    except ConfigError as exc:
        reader.issues.extend(exc.issues)
    if reader.issues or config is None:
        raise ConfigError(reader.issues)
    config = config.with_default_timezone(default_timezone)
    reader.meaning_notes(config)
    return Translation(config, tuple(reader.notes), reader.settings, count)


def _av(value: object) -> tuple[str, object]:
    """A DynamoDB attribute value's type and content (``{"S": "x"}`` -> ``("S", "x")``)."""
    if isinstance(value, Mapping) and len(value) == 1:
        kind = next(iter(value))
        return str(kind), value[kind]
    return "unknown", None


def _text(value: object) -> str | None:
    """A string attribute (``S``); ``NULL`` is None."""
    kind, inner = _av(value)
    if kind == "NULL":
        return None
    if kind == "S" and isinstance(inner, str):
        if len(inner) > MAX_TEXT:
            raise FieldError(f"{quote(inner)} is too long ({len(inner):,} characters)")
        return inner
    raise FieldError(f"is a DynamoDB {kind} value, not a string")


def _strings(value: object) -> list[str] | None:
    """A string set (``SS``), a list of strings (``L``) or a comma-separated string (``S``), as sorted distinct
    items without surrounding spaces (spaces inside an item stay: ``oct-apr/ 3``); ``NULL`` is None."""
    kind, inner = _av(value)
    if kind == "NULL":
        return None
    parts: list[object]
    if kind == "S" and isinstance(inner, str):
        if len(inner) > MAX_TEXT:
            raise FieldError(f"{quote(inner)} is too long ({len(inner):,} characters)")
        parts = list(inner.split(","))
    elif kind == "SS" and isinstance(inner, list):
        parts = list(inner)
    elif kind == "L" and isinstance(inner, list):
        parts = [_av(v)[1] if _av(v)[0] == "S" else None for v in inner]
    else:
        raise FieldError(f"is a DynamoDB {kind} value, not a string set or a comma-separated string")
    if len(parts) > MAX_LIST:
        raise FieldError(f"has {len(parts):,} items (at most {MAX_LIST})")
    out: set[str] = set()
    for part in parts:
        if not isinstance(part, str):
            raise FieldError("has an item that is not a string")
        if len(part) > MAX_TEXT:
            raise FieldError(f"has an item {quote(part)} that is too long ({len(part):,} characters)")
        if part.strip():
            out.add(part.strip())
    return sorted(out)


def _flag(value: object) -> bool | None:
    """A boolean: ``BOOL``, or the string "true"/"false" in any case; ``NULL`` is None."""
    kind, inner = _av(value)
    if kind == "NULL":
        return None
    if kind == "BOOL" and isinstance(inner, bool):
        return inner
    if kind == "S" and isinstance(inner, str):
        text = inner.strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise FieldError(f"{quote(inner)} is not true or false")
    raise FieldError(f"is a DynamoDB {kind} value, not true or false")


def _as_text(value: object) -> str:
    """Any scalar or set attribute as short text (for settings that are shown, not imported)."""
    kind, inner = _av(value)
    if kind in ("S", "N") and isinstance(inner, str):
        return inner[:MAX_TEXT]
    if kind == "BOOL" and isinstance(inner, bool):
        return "true" if inner else "false"
    if kind == "NULL":
        return ""
    if kind in ("SS", "NS") and isinstance(inner, list):
        return ",".join(sorted(str(v) for v in inner[:MAX_LIST]))
    raise FieldError(f"is a DynamoDB {kind} value")


def _stack_note(value: object) -> str:
    try:
        stack = _text(value) or ""
    except FieldError:
        stack = ""
    return (
        f"was configured in CloudFormation stack {quote(stack, 80)}: not imported; the imported copy is isched's "
        "own (edit it with isched, not the stack)"
    )
