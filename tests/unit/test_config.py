"""Schedule files (SPEC.md section 1): parsing YAML/JSON text into a validated Config, and every error it reports."""

from __future__ import annotations

import json
from datetime import date
from textwrap import dedent, indent

import pytest

from scheduler.engine.document import dump_document, load_document, parse_text
from scheduler.engine.errors import ConfigError, Issue
from scheduler.engine.evaluate import Evaluator
from scheduler.engine.schedule import Config, PeriodRef, State, parse_config

PERIODS = dedent(
    """\
    periods:
      office:
        begintime: "09:00"
        endtime: "17:00"
        weekdays: mon-fri
      night:
        begintime: "22:00"
        endtime: "06:00"
    """
)

SPEC_EXAMPLE = dedent(
    """\
    periods:
      office:                      # window period: running from begintime to endtime on matching days
        begintime: "09:00"         # H:MM or HH:MM, 00:00-23:59
        endtime: "17:00"
        weekdays: mon-fri
        monthdays: "1-15"
        months: jan-jun
        description: Office hours
      morning-start:
        begintime: "07:00"
      batch:
        start: "0 */4 * * *"
        stop: "30 */4 * * *"
    schedules:
      office-berlin:
        timezone: Europe/Berlin
        periods: [office, "batch@t3.large"]
        description: Berlin office
        override_status: running
        enforced: false
        retain_running: false
        stop_new_instances: true
        hibernate: false
        holidays: ["2026-12-24", "2026-12-25"]
        holiday_calendar: DE-BY
    """
)


def period_doc(body: str, name: str = "p") -> str:
    """A file with one period ``name`` whose mapping is ``body`` (YAML lines)."""
    return f"periods:\n  {name}:\n{indent(dedent(body), '    ')}\n"


def schedule_doc(body: str, name: str = "s") -> str:
    """A file with the PERIODS above and one schedule ``name`` whose mapping is ``body``."""
    return f"{PERIODS}schedules:\n  {name}:\n{indent(dedent(body), '    ')}\n"


def issues_of(text: str) -> list[Issue]:
    with pytest.raises(ConfigError) as exc:
        parse_text(text)
    issues = exc.value.issues
    assert issues, "a ConfigError must carry at least one issue"
    assert str(exc.value) == "\n".join(str(i) for i in issues)
    return issues


def path_is(actual: str, expected: str) -> bool:
    """``schedules.s.periods`` also accepts an indexed ``schedules.s.periods[0]``."""
    return actual == expected or actual.startswith(expected + "[")


# ---------------------------------------------------------------------------------------------------------------
# valid files


def test_spec_example_parses() -> None:
    config = parse_text(SPEC_EXAMPLE)
    assert isinstance(config, Config)
    assert set(config.periods) == {"office", "morning-start", "batch"}
    office = config.periods["office"]
    assert (office.begintime, office.endtime) == (540, 1020)
    assert office.description == "Office hours"
    assert office.days_of_month(2026, 1) == frozenset({1, 2, 5, 6, 7, 8, 9, 12, 13, 14, 15})  # Jan 2026: Thu 1st
    assert office.days_of_month(2026, 7) == frozenset()
    morning = config.periods["morning-start"]
    assert (morning.begintime, morning.endtime) == (420, None)
    batch = config.periods["batch"]
    assert (batch.start, batch.stop) == ("0 */4 * * *", "30 */4 * * *")
    s = config.schedules["office-berlin"]
    assert s.timezone == "Europe/Berlin"
    assert s.periods == (PeriodRef("office"), PeriodRef("batch", "t3.large"))
    assert s.description == "Berlin office"
    assert s.override_status is State.RUNNING
    assert (s.enforced, s.retain_running, s.stop_new_instances, s.hibernate) == (False, False, True, False)
    assert set(s.holidays) == {date(2026, 12, 24), date(2026, 12, 25)}
    assert s.holiday_calendar == "DE-BY"


@pytest.mark.parametrize(
    ("body", "attr", "expected"),
    [
        # unquoted YAML times stay text (not YAML 1.1 base-60 numbers: 9:00 would be 540 *seconds*)
        ("begintime: 9:00", "begintime", 540),
        ("begintime: 09:00", "begintime", 540),
        ("begintime: 0:00", "begintime", 0),
        ("begintime: 23:59", "begintime", 1439),
        ("endtime: 17:30", "endtime", 1050),
        ("endtime: 24:00", "endtime", 1440),
        ('begintime: "9:00"', "begintime", 540),
        ("begintime: '07:15'", "begintime", 435),
        ("begintime: 22:00\nendtime: 06:00", "endtime", 360),  # overnight is allowed
        ("begintime: 9:00\nendtime: 24:00", "endtime", 1440),
        ("weekdays: mon-fri", "begintime", None),
        ("endtime: 17:00", "begintime", None),
        ('start: "0 9 * * 1-5"', "start", "0 9 * * 1-5"),
        ('stop: "0 17 * * *"', "stop", "0 17 * * *"),
        ('start: "0 */4 * * *"\nstop: "30 */4 * * *"', "stop", "30 */4 * * *"),
        ('start: "0  9  *  *  *"', "start", "0 9 * * *"),  # whitespace normalised
        ("begintime: 9:00\ndescription: Office hours", "description", "Office hours"),
    ],
)
def test_period_values(body: str, attr: str, expected: object) -> None:
    period = parse_text(period_doc(body)).periods["p"]
    assert getattr(period, attr) == expected


@pytest.mark.parametrize(
    ("body", "year", "month", "expected"),
    [
        ("weekdays: mon-fri", 2024, 6, {3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 17, 18, 19, 20, 21, 24, 25, 26, 27, 28}),
        ("weekdays: [sat, sun]", 2024, 6, {1, 2, 8, 9, 15, 16, 22, 23, 29, 30}),
        ("monthdays: 15", 2024, 6, {15}),
        ("monthdays: [1, L]", 2024, 2, {1, 29}),
        ("months: nov-feb", 2024, 3, set()),
        ("months: nov-feb\nmonthdays: 1W", 2024, 6, set()),
        ("months: jun\nmonthdays: 1W", 2024, 6, {3}),
        # weekdays, monthdays and months are ANDed: the Mondays among the 1st-15th of June 2024
        ("weekdays: mon\nmonthdays: 1-15", 2024, 6, {3, 10}),
        ("weekdays: fri#4\nmonths: jun", 2024, 6, {28}),
    ],
)
def test_period_days_are_anded(body: str, year: int, month: int, expected: set[int]) -> None:
    period = parse_text(period_doc(body)).periods["p"]
    assert period.days_of_month(year, month) == frozenset(expected)


@pytest.mark.parametrize(
    ("body", "attr", "expected"),
    [
        ("periods: [office]", "timezone", None),
        ("periods: [office]\ntimezone: Europe/Berlin", "timezone", "Europe/Berlin"),
        ("periods: [office]\ntimezone: America/New_York", "timezone", "America/New_York"),
        ("periods: [office]\ntimezone: UTC", "timezone", "UTC"),
        ("periods: [office]", "periods", (PeriodRef("office"),)),
        ('periods: ["office@t3.large"]', "periods", (PeriodRef("office", "t3.large"),)),
        ("periods: [office@m5.xlarge, night]", "periods", (PeriodRef("office", "m5.xlarge"), PeriodRef("night"))),
        ("periods:\n  - office\n  - night", "periods", (PeriodRef("office"), PeriodRef("night"))),
        ("periods: [office]\ndescription: Berlin office", "description", "Berlin office"),
        ("override_status: running", "override_status", State.RUNNING),
        ("override_status: stopped", "override_status", State.STOPPED),
        ("periods: [office]\noverride_status: stopped", "override_status", State.STOPPED),
        ("periods: [office]", "override_status", None),
        ("periods: [office]", "enforced", False),
        ("periods: [office]\nenforced: true", "enforced", True),
        ("periods: [office]\nenforced: yes", "enforced", True),
        ("periods: [office]\nenforced: 'false'", "enforced", False),
        ("periods: [office]", "retain_running", False),
        ("periods: [office]\nretain_running: true", "retain_running", True),
        ("periods: [office]", "stop_new_instances", True),
        ("periods: [office]\nstop_new_instances: false", "stop_new_instances", False),
        ("periods: [office]", "hibernate", False),
        ("periods: [office]\nhibernate: true", "hibernate", True),
        ("periods: [office]", "holidays", ()),
        (
            'periods: [office]\nholidays: ["2026-12-24", "2026-12-25"]',
            "holidays",
            (date(2026, 12, 24), date(2026, 12, 25)),
        ),
        ("periods: [office]\nholidays: [2026-12-24]", "holidays", (date(2026, 12, 24),)),  # YAML date
        ("periods: [office]\nholidays: [2024-02-29]", "holidays", (date(2024, 2, 29),)),
        ("periods: [office]\nholiday_calendar: DE-BY", "holiday_calendar", "DE-BY"),
        ("periods: [office]\nholiday_calendar: DE", "holiday_calendar", "DE"),
        ("periods: [office]\nholiday_calendar: US", "holiday_calendar", "US"),
        ("periods: [office]", "holiday_calendar", None),
    ],
)
def test_schedule_values(body: str, attr: str, expected: object) -> None:
    schedule = parse_text(schedule_doc(body)).schedules["s"]
    assert getattr(schedule, attr) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("begintime: 9:00", {"begintime": "9:00"}),
        ("begintime: 09:00", {"begintime": "09:00"}),
        ("endtime: 24:00", {"endtime": "24:00"}),
        ("t: 1:30:00", {"t": "1:30:00"}),
        ("n: 540", {"n": 540}),
        ("n: 1.5", {"n": 1.5}),
        ("b: true", {"b": True}),
        ("d: 2026-12-24", {"d": "2026-12-24"}),  # dates stay text; the schedule rules validate them
        ("x: [mon, 3]", {"x": ["mon", 3]}),
        ("", None),
    ],
)
def test_load_document_scalars(text: str, expected: object) -> None:
    assert load_document(text) == expected


def test_empty_file_is_an_empty_config() -> None:
    config = parse_text("")
    assert config.periods == {} and config.schedules == {}


# ---------------------------------------------------------------------------------------------------------------
# JSON is accepted too

JSON_DOC = {
    "periods": {
        "office": {"begintime": "09:00", "endtime": "17:00", "weekdays": ["mon", "tue", "wed", "thu", "fri"]},
        "batch": {"start": "0 */4 * * *", "stop": "30 */4 * * *"},
        "first": {"monthdays": 1},
    },
    "schedules": {
        "berlin": {
            "timezone": "Europe/Berlin",
            "periods": ["office", "batch@t3.large", "first"],
            "enforced": True,
            "holidays": ["2026-12-24"],
            "holiday_calendar": "DE-BY",
        },
        "off": {"override_status": "stopped"},
    },
}


@pytest.mark.parametrize(
    "text",
    [json.dumps(JSON_DOC), json.dumps(JSON_DOC, indent=2), json.dumps(JSON_DOC, indent=None, separators=(",", ":"))],
)
def test_json_input(text: str) -> None:
    config = parse_text(text)
    assert config.periods["office"].begintime == 540
    assert config.periods["office"].weekdays is not None
    assert config.periods["office"].weekdays.days_of_month(2024, 6) == frozenset(
        {3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 17, 18, 19, 20, 21, 24, 25, 26, 27, 28}
    )
    assert config.periods["first"].days_of_month(2024, 6) == frozenset({1})
    berlin = config.schedules["berlin"]
    assert berlin.periods == (PeriodRef("office"), PeriodRef("batch", "t3.large"), PeriodRef("first"))
    assert berlin.enforced is True
    assert berlin.holidays == (date(2026, 12, 24),)
    assert config.schedules["off"].override_status is State.STOPPED


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"periods": {"p": {"weekdays": "mon-fry"}}}, "periods.p.weekdays"),
        ({"periods": {"p": {"begintime": 540}}}, "periods.p.begintime"),
        ({"schedules": {"s": {"override_status": "paused"}}}, "schedules.s.override_status"),
        ({"schedules": {"s": {"override_status": "running", "enforced": "perhaps"}}}, "schedules.s.enforced"),
    ],
)
def test_json_errors(doc: dict[str, object], path: str) -> None:
    issues = issues_of(json.dumps(doc))
    assert [i.path for i in issues] == [path]


# ---------------------------------------------------------------------------------------------------------------
# one mistake -> one issue, at the right path, naming the offending value


@pytest.mark.parametrize(
    ("body", "path", "fragments"),
    [
        ("weekdays: mon-fry", "periods.p.weekdays", ["'mon-fry' is not a weekday"]),
        ("weekdays: [mon, fry]", "periods.p.weekdays", ["'fry'"]),
        ("weekdays: mon#6", "periods.p.weekdays", ["'mon#6'"]),
        ("weekdays: true", "periods.p.weekdays", ["True"]),
        ('weekdays: ""', "periods.p.weekdays", ["empty"]),
        ('monthdays: "32"', "periods.p.monthdays", ["'32'"]),
        ("monthdays: 20-10", "periods.p.monthdays", ["'20-10'"]),
        ("monthdays: 1-31/0", "periods.p.monthdays", ["'1-31/0'"]),
        ("months: sept", "periods.p.months", ["'sept' is not a month"]),
        ('begintime: "25:00"', "periods.p.begintime", ["'25:00'"]),
        ("begintime: 9:60", "periods.p.begintime", ["'9:60'"]),
        ("begintime: 540", "periods.p.begintime", ["540", "quote"]),
        ('begintime: "24:00"\nendtime: "17:00"', "periods.p.begintime", ["'24:00'"]),
        ('endtime: "24:01"', "periods.p.endtime", ["'24:01'"]),
        ("endtime: 9", "periods.p.endtime", ["9"]),
        ('begintime: "09:00"\nendtime: "09:00"', "periods.p.endtime", ["09:00"]),
        ('begintime: "9:00"\nendtime: "09:00"', "periods.p.endtime", ["09:00"]),
        ("begintime: 0:00\nendtime: 0:00", "periods.p.endtime", ["00:00"]),
        ('start: "0 9 * * *"\nbegintime: "09:00"', "periods.p", ["cron", "begintime"]),
        ('stop: "0 17 * * *"\nweekdays: mon-fri', "periods.p", ["cron", "weekdays"]),
        ('start: "0 9 * * *"\nstop: "0 17 * * *"\nmonths: jan', "periods.p", ["months"]),
        ('start: "0 0 9 * * *"', "periods.p.start", ["'0 0 9 * * *'", "5"]),
        ('start: "0 9 ? * MON-FRI *"', "periods.p.start", ["'0 9 ? * MON-FRI *'"]),
        ('stop: "0 9 * *"', "periods.p.stop", ["'0 9 * *'"]),
        ('start: "61 * * * *"', "periods.p.start", ["'61 * * * *'"]),
        ('start: "0 25 * * *"', "periods.p.start", ["'0 25 * * *'"]),
        ('stop: "a b c d e"', "periods.p.stop", ["'a b c d e'"]),
        ('start: ""', "periods.p.start", ["''"]),
        ("stop: 5", "periods.p.stop", ["5"]),
        ("{}", "periods.p", ["period"]),
        ("", "periods.p", ["period"]),
        ("description: only words", "periods.p", ["at least one"]),
        ("begintime: 9:00\nweekday: mon-fri", "periods.p.weekday", ["did you mean 'weekdays'"]),
        ("begintime: 9:00\nendtme: 17:00", "periods.p.endtme", ["did you mean 'endtime'"]),
        ("begintime: 9:00\nmonthday: 1", "periods.p.monthday", ["did you mean 'monthdays'"]),
        ("begintime: 9:00\ndescription: [a, b]", "periods.p.description", ["text"]),
    ],
)
def test_period_error(body: str, path: str, fragments: list[str]) -> None:
    issues = issues_of(period_doc(body))
    assert len(issues) == 1, issues
    issue = issues[0]
    assert issue.path == path
    for fragment in fragments:
        assert fragment in issue.message
    assert str(issue) == f"{path}: {issue.message}"


@pytest.mark.parametrize(
    ("body", "path", "fragments"),
    [
        ("periods: [office]\ntimezone: Mars/Olympus", "schedules.s.timezone", ["'Mars/Olympus'"]),
        ("periods: [office]\ntimezone: Europe/Berlni", "schedules.s.timezone", ["'Europe/Berlni'"]),
        ("periods: [office]\ntimezone: localtime", "schedules.s.timezone", ["'localtime'"]),
        ("periods: [office]\ntimezone: ../etc/passwd", "schedules.s.timezone", ["../etc/passwd"]),
        ("periods: [nope]", "schedules.s.periods", ["'nope'"]),
        ("periods: [office, nope]", "schedules.s.periods", ["'nope'"]),
        ("periods: [offce]", "schedules.s.periods", ["'offce'", "did you mean 'office'"]),
        ('periods: ["nope@t3.large"]', "schedules.s.periods", ["'nope'"]),
        ('periods: ["office@t3"]', "schedules.s.periods", ["'t3'"]),
        ('periods: ["office@"]', "schedules.s.periods", ["office@"]),
        ('periods: ["office@t3 large"]', "schedules.s.periods", ["t3 large"]),
        ("override_status: paused", "schedules.s.override_status", ["'paused'"]),
        ("override_status: true", "schedules.s.override_status", ["True"]),
        ("override_status: 1", "schedules.s.override_status", ["1"]),
        ("periods: [office]\nenforced: maybe", "schedules.s.enforced", ["'maybe'"]),
        ("periods: [office]\nretain_running: perhaps", "schedules.s.retain_running", ["'perhaps'"]),
        ("periods: [office]\nstop_new_instances: 2", "schedules.s.stop_new_instances", ["2"]),
        ("periods: [office]\nhibernate: [true]", "schedules.s.hibernate", ["[True]"]),
        ('periods: [office]\nholidays: ["2026-13-01"]', "schedules.s.holidays", ["'2026-13-01'"]),
        ('periods: [office]\nholidays: ["2026-02-30"]', "schedules.s.holidays", ["'2026-02-30'"]),
        ('periods: [office]\nholidays: ["2026-12-24", "24.12.2026"]', "schedules.s.holidays", ["'24.12.2026'"]),
        ('periods: [office]\nholidays: ["christmas"]', "schedules.s.holidays", ["'christmas'"]),
        # an unquoted impossible date is still a bad date, not a crash
        ("periods: [office]\nholidays: [2026-02-30]", "schedules.s.holidays", ["2026-02-30"]),
        ("periods: [office]\nholiday_calendar: XX", "schedules.s.holiday_calendar", ["'XX'"]),
        ("periods: [office]\nholiday_calendar: DE-ZZ", "schedules.s.holiday_calendar", ["'DE-ZZ'"]),
        ('periods: [office]\nholiday_calendar: ""', "schedules.s.holiday_calendar", ["''"]),
        ("periods: [office]\ndescription: [a]", "schedules.s.description", ["text"]),
        ("periods: [office]\ntimezon: UTC", "schedules.s.timezon", ["did you mean 'timezone'"]),
        ("periods: [office]\nenforce: true", "schedules.s.enforce", ["did you mean 'enforced'"]),
        ('periods: [office]\nholiday: ["2026-12-24"]', "schedules.s.holiday", ["did you mean 'holidays'"]),
        ("periods: [office]\nhibernation: true", "schedules.s.hibernation", ["did you mean 'hibernate'"]),
        ("override_status: running\noverride: stopped", "schedules.s.override", ["did you mean 'override_status'"]),
        ("{}", "schedules.s", ["period", "override_status"]),
        ("periods: []", "schedules.s", ["period", "override_status"]),
        ("description: nothing to do", "schedules.s", ["period", "override_status"]),
    ],
)
def test_schedule_error(body: str, path: str, fragments: list[str]) -> None:
    issues = issues_of(schedule_doc(body))
    assert len(issues) == 1, issues
    issue = issues[0]
    assert path_is(issue.path, path), issue
    for fragment in fragments:
        assert fragment in issue.message
    assert str(issue) == f"{issue.path}: {issue.message}"


@pytest.mark.parametrize(
    "holidays",
    ["[2026-12-24, 2026-12-25 10:00:00]", "[2026-12-25T10:00:00Z]"],
    ids=["date-and-timestamp", "timestamp"],
)
def test_holiday_timestamps_are_dates_or_errors(holidays: str) -> None:
    """Holidays are local dates: an unquoted YAML timestamp is either read as its date or reported, never a crash."""
    try:
        config = parse_text(schedule_doc(f"periods: [office]\nholidays: {holidays}"))
    except ConfigError as exc:
        assert all(i.path.startswith("schedules.s.holidays") for i in exc.issues), exc.issues
        return
    holidays = config.schedules["s"].holidays
    assert all(type(d) is date for d in holidays)
    assert parse_text(dump_document(config)).to_dict() == config.to_dict()


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        ("period:\n  p: {begintime: '09:00'}\n", "period", "section"),
        ("- a\n- b\n", "", "mapping"),
        ("periods: [a, b]\n", "periods", "mapping"),
        ("schedules: 5\n", "schedules", "mapping"),
        ("periods: {p: [\n", "line", "YAML"),
        ("periods:\n  p:\n    begintime: '09:00'\n   endtime: x\n", "line", "YAML"),
        ('{"periods": {"p": {"begintime": "09:00"}}', "line", "YAML"),
    ],
)
def test_document_errors(text: str, path: str, fragment: str) -> None:
    issues = issues_of(text)
    assert len(issues) == 1, issues
    assert issues[0].path.startswith(path)
    assert fragment in issues[0].message


# ---------------------------------------------------------------------------------------------------------------
# every error is reported, not just the first

THREE_MISTAKES = dedent(
    """\
    periods:
      office:
        begintime: "09:00"
        endtime: "17:00"
        weekdays: mon-fry
      night:
        begintime: "25:00"
    schedules:
      berlin:
        timezone: Europe/Berlni
        periods: [office]
    """
)


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        (THREE_MISTAKES, ["periods.office.weekdays", "periods.night.begintime", "schedules.berlin.timezone"]),
        (
            period_doc("weekdays: mon-fry\nmonthdays: 32\nmonths: sept", name="office"),
            ["periods.office.weekdays", "periods.office.monthdays", "periods.office.months"],
        ),
        (
            period_doc("begintime: 25:00\nendtime: 9\nweekdays: xyz\ncolour: red"),
            ["periods.p.begintime", "periods.p.endtime", "periods.p.weekdays", "periods.p.colour"],
        ),
        (
            period_doc('start: "0 0 9 * * *"\nbegintime: "09:00"'),
            ["periods.p.start", "periods.p"],
        ),
        (
            schedule_doc("timezone: Mars/Base\nperiods: [nope]"),
            ["schedules.s.timezone", "schedules.s.periods"],
        ),
        (
            schedule_doc("override_status: paused\nenforced: maybe\nholidays: ['2026-13-01']"),
            ["schedules.s.override_status", "schedules.s.enforced", "schedules.s.holidays"],
        ),
        (
            PERIODS + "schedules:\n  a: {periods: [missing1]}\n  b: {periods: [office, missing2]}\n",
            ["schedules.a.periods", "schedules.b.periods"],
        ),
        (
            PERIODS + "schedules:\n  a: {}\n  b: {periods: [office], timezone: Nowhere/City}\n",
            ["schedules.a", "schedules.b.timezone"],
        ),
        (
            dedent(
                """\
                periods:
                  p:
                    begintime: "09:00"
                    endtime: "09:00"
                  q: {}
                schedules:
                  s:
                    periods: [p, q, r]
                    holiday_calendar: XX
                """
            ),
            ["periods.p.endtime", "periods.q", "schedules.s.periods", "schedules.s.holiday_calendar"],
        ),
    ],
)
def test_every_error_is_reported(text: str, paths: list[str]) -> None:
    issues = issues_of(text)
    got = sorted(i.path.split("[")[0] for i in issues)
    assert got == sorted(paths), [str(i) for i in issues]


def test_three_mistakes_messages() -> None:
    issues = {i.path: i.message for i in issues_of(THREE_MISTAKES)}
    assert "'mon-fry' is not a weekday" in issues["periods.office.weekdays"]
    assert "'25:00'" in issues["periods.night.begintime"]
    assert "'Europe/Berlni'" in issues["schedules.berlin.timezone"]


def test_missing_period_named_in_message() -> None:
    issues = issues_of(schedule_doc("periods: [office, weekend]"))
    assert [str(i) for i in issues] == [f"schedules.s.periods: {issues[0].message}"]
    assert "'weekend'" in issues[0].message


# ---------------------------------------------------------------------------------------------------------------
# duplicate keys anywhere are an error naming the key and its line


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        (
            'periods:\n  office:\n    begintime: "09:00"\n  office:\n    begintime: "10:00"\n',
            "office",
            4,
        ),
        (
            PERIODS + "schedules:\n  s:\n    periods: [office]\n  s:\n    periods: [night]\n",
            "s",
            12,
        ),
        ('periods:\n  p:\n    begintime: "09:00"\n    begintime: "10:00"\n', "begintime", 4),
        ('periods:\n  p:\n    weekdays: mon\n    endtime: "17:00"\n    weekdays: tue\n', "weekdays", 5),
        (
            PERIODS + "schedules:\n  s:\n    periods: [office]\n    timezone: UTC\n    timezone: Europe/Berlin\n",
            "timezone",
            13,
        ),
        ('periods:\n  a: {begintime: "09:00"}\nperiods:\n  b: {begintime: "10:00"}\n', "periods", 3),
        ('periods: {p: {begintime: "09:00", begintime: "10:00"}}\n', "begintime", 1),
        ('{"periods": {"a": {"begintime": "09:00"},\n "a": {"begintime": "10:00"}}}', "a", 2),
    ],
)
def test_duplicate_keys(text: str, key: str, line: int) -> None:
    issues = issues_of(text)
    assert len(issues) == 1, issues
    text_of_issue = str(issues[0])
    assert f"'{key}'" in text_of_issue
    assert "duplicate" in text_of_issue
    assert f"line {line}" in text_of_issue


# ---------------------------------------------------------------------------------------------------------------
# Config.to_dict() and dump_document(): parse -> dump -> parse is stable

ROUND_TRIP_DOCS = [
    SPEC_EXAMPLE,
    PERIODS + "schedules:\n  s:\n    periods: [office, night@t3.large]\n",
    period_doc("begintime: 9:00\nendtime: 24:00\nweekdays: [mon, wed, fri-sun]\nmonthdays: [1, 20-L, 15W]"),
    period_doc("weekdays: fri#4, monL, L\nmonths: nov-feb, */5"),
    period_doc("monthdays: 15"),
    period_doc('start: "0  9 * * 1-5"'),
    "schedules:\n  closed:\n    override_status: stopped\n    timezone: Asia/Tokyo\n",
    schedule_doc(
        "periods: [office]\nenforced: yes\nretain_running: true\nstop_new_instances: false\nhibernate: true\n"
        "holidays: [2026-12-25, '2026-12-24']\nholiday_calendar: de-by\ndescription: 'Quoted: text'"
    ),
    json.dumps(JSON_DOC),
    "",
]


@pytest.mark.parametrize("text", ROUND_TRIP_DOCS)
def test_round_trip(text: str) -> None:
    first = parse_text(text)
    dumped = dump_document(first)
    second = parse_text(dumped)
    assert second.to_dict() == first.to_dict()
    assert parse_text(dump_document(second)).to_dict() == first.to_dict()


def test_to_dict_shape() -> None:
    d = parse_text(SPEC_EXAMPLE).to_dict()
    assert d["periods"]["office"] == {
        "begintime": "09:00",
        "endtime": "17:00",
        "weekdays": "mon-fri",
        "monthdays": "1-15",
        "months": "jan-jun",
        "description": "Office hours",
    }
    assert d["periods"]["batch"] == {"start": "0 */4 * * *", "stop": "30 */4 * * *"}
    s = d["schedules"]["office-berlin"]
    assert s["periods"] == ["office", "batch@t3.large"]
    assert s["override_status"] == "running"
    assert s["holidays"] == ["2026-12-24", "2026-12-25"]
    assert s["holiday_calendar"] == "DE-BY"
    dumped = dump_document(parse_text(period_doc("begintime: 9:00")))
    assert load_document(dumped)["periods"]["p"]["begintime"] == "09:00"  # written as 09:00


# ---------------------------------------------------------------------------------------------------------------
# Issue and ConfigError


@pytest.mark.parametrize(
    ("issue", "text"),
    [
        (
            Issue("periods.office.weekdays", "'mon-fry' is not a weekday"),
            "periods.office.weekdays: 'mon-fry' is not a weekday",
        ),
        (
            Issue("schedules.s", "a schedule needs at least one period"),
            "schedules.s: a schedule needs at least one period",
        ),
        (Issue("", "the file must be a mapping"), "the file must be a mapping"),
    ],
)
def test_issue_str(issue: Issue, text: str) -> None:
    assert str(issue) == text


def test_config_error_lists_every_issue() -> None:
    err = ConfigError([Issue("a", "one"), Issue("b.c", "two")])
    assert err.issues == [Issue("a", "one"), Issue("b.c", "two")]
    assert str(err) == "a: one\nb.c: two"
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    ("fields", "timezone", "override"),
    [
        ('timezone: ""', None, None),
        ("timezone: null", None, None),
        ('timezone: "  "', None, None),
        ("override_status: RUNNING", None, "running"),
        ("override_status: Stopped", None, "stopped"),
        ("override_status: ' running '", None, "running"),
    ],
)
def test_instance_scheduler_compatible_values_mean_what_they_mean_there(fields, timezone, override):
    """SPEC §1: an empty or null time zone is the default zone; override_status in any case, stored lowercase."""
    config = parse_text(
        f"periods: {{office: {{begintime: '09:00'}}}}\nschedules:\n  s:\n    periods: [office]\n    {fields}\n"
    )
    s = config.schedules["s"]
    assert s.timezone == timezone
    assert (s.override_status.value if s.override_status else None) == override
    assert config.to_dict()["schedules"]["s"].get("override_status") == override
    # No zone: the default zone, UTC or the deployment's, and never written back as a zone of the schedule's own.
    assert Evaluator.from_config(config, "s").timezone == "UTC"
    berlin = config.with_default_timezone("Europe/Berlin")
    assert Evaluator.from_config(berlin, "s").timezone == "Europe/Berlin"
    assert "timezone" not in berlin.to_dict()["schedules"]["s"]


@pytest.mark.parametrize(
    "name", ["a" * 65, "office:hours", "a/b", "a+b", "a=b", "office hours", " office", "office\n", "é"]
)
def test_names_outside_the_spec_alphabet_are_refused(name):
    """SPEC §1: names are 1-64 letters, digits, -, _ and ."""
    with pytest.raises(ConfigError) as exc:
        parse_config({"periods": {name: {"begintime": "09:00"}}, "schedules": {}})
    assert "not a valid period name" in str(exc.value)


@pytest.mark.parametrize("name", ["a" * 64, "office-hours_2.0", "_x", "9to5"])
def test_names_inside_the_spec_alphabet_are_accepted(name):
    assert name in parse_config({"periods": {name: {"begintime": "09:00"}}, "schedules": {}}).periods
