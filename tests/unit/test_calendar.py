"""The month calendar: its model against hours rebuilt from wall-clock arithmetic, the page's escaping and
self-containment, and ``isched calendar`` (exit codes, nothing written on bad input, the JSON it prints)."""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scheduler.calendar import build_calendar, parse_month, render_calendar
from scheduler.calendar.render import CSP
from scheduler.engine import parse_text
from tests.conftest import EXAMPLES

BERLIN = ZoneInfo("Europe/Berlin")
FILE = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  nights: {begintime: "22:00", endtime: "06:00"}
schedules:
  office-berlin:
    timezone: Europe/Berlin
    periods: [office]
    holidays: ["2026-03-19"]
    description: Berlin office
  nights-berlin: {timezone: Europe/Berlin, periods: [nights]}
  always-on: {timezone: Europe/Berlin, override_status: running}
  always-off: {override_status: stopped}
"""
HOSTILE = "<script>window.pwned=1</script><img src=x onerror=\"alert(1)\"> & 'quoted' \u202eevil"


def utc(day: date, hh: int, mm: int = 0, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz).astimezone(UTC)


def days_of(month: str) -> list[date]:
    first = date.fromisoformat(month + "-01")
    out = [first]
    while (nxt := out[-1] + timedelta(days=1)).month == first.month:
        out.append(nxt)
    return out


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2026-03", date(2026, 3, 1), date(2026, 3, 31)),
        (" 2024-02 ", date(2024, 2, 1), date(2024, 2, 29)),
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
        ("1970-01", date(1970, 1, 1), date(1970, 1, 31)),
    ],
)
def test_parse_month(text, first, last):
    assert parse_month(text) == (first, last)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("2026-13", "is not a month"),
        ("2026-00", "is not a month"),
        ("2026-3", "is not a month"),
        ("26-03", "is not a month"),
        ("2026-03-01", "is not a month"),
        ("２０２６-03", "is not a month"),
        ("", "is not a month"),
        ("1969-12", "outside 1970-2999"),
        ("3000-01", "outside 1970-2999"),
    ],
)
def test_parse_month_refuses(text, needle):
    with pytest.raises(ValueError, match=needle):
        parse_month(text)


@pytest.fixture(scope="module")
def march():
    return build_calendar(parse_text(FILE), "2026-03")


def test_office_hours_rebuilt_from_wall_clock(march):
    office = next(s for s in march.schedules if s.name == "office-berlin")
    assert [d.day for d in office.days] == days_of("2026-03")
    for d in office.days:
        expected = []
        if d.day.weekday() < 5 and d.day != date(2026, 3, 19):
            expected = [(utc(d.day, 9), utc(d.day, 17))]
        assert list(d.running) == expected, d.day
        assert d.running_hours == (8.0 if expected else 0.0)
        assert d.holiday is (d.day == date(2026, 3, 19))
        assert d.clock_change is (d.day == date(2026, 3, 29))
        assert [t.action for t in d.transitions] == (["start", "stop"] if expected else [])
    # Before the change 09:00 is 08:00 UTC, after it 07:00 UTC; the change day itself is 23 hours long.
    by_day = {d.day: d for d in office.days}
    assert by_day[date(2026, 3, 27)].running[0][0] == datetime(2026, 3, 27, 8, tzinfo=UTC)
    assert by_day[date(2026, 3, 30)].running[0][0] == datetime(2026, 3, 30, 7, tzinfo=UTC)
    change = by_day[date(2026, 3, 29)]
    assert (change.hours_long, change.offset_before, change.offset_after) == (23.0, "+01:00", "+02:00")
    weekdays = sum(1 for d in days_of("2026-03") if d.weekday() < 5) - 1  # the 19th is a holiday
    assert office.running_hours == 8 * weekdays == 168
    assert office.holidays == [date(2026, 3, 19)] and office.clock_changes == [date(2026, 3, 29)]


@pytest.mark.parametrize(
    ("month", "change", "hours"),
    [
        # 22:00-06:00 every night: on the spring change 00:00-06:00 is 5 hours (02:00-03:00 does not exist), plus
        # 22:00-24:00; on the autumn change it is 7 hours (02:00-03:00 happens twice), plus 2.
        ("2026-03", date(2026, 3, 29), 5 + 2),
        ("2026-10", date(2026, 10, 25), 7 + 2),
    ],
)
def test_overnight_hours_on_clock_change_days(month, change, hours):
    cal = build_calendar(parse_text(FILE), month, ["nights-berlin"])
    (nights,) = cal.schedules
    for d in nights.days:
        want = hours if d.day == change else 8  # the 1st too: the night before it runs into it
        assert d.running_hours == want, d.day
        assert d.running[0][0] == d.start  # runs from local midnight...
        assert d.running[-1][1] == d.end  # ...to the next one
    day_hours = {d.day: d.hours_long for d in nights.days}
    assert day_hours[change] == (23.0 if month == "2026-03" else 25.0)
    assert sum(day_hours.values()) == 24 * len(day_hours) + (-1 if month == "2026-03" else 1)
    assert nights.running_hours == sum(d.running_hours for d in nights.days)


def test_override_schedules_and_filter(march):
    by_name = {s.name: s for s in march.schedules}
    assert list(by_name) == sorted(by_name)  # all schedules, by name
    assert by_name["always-on"].running_hours == 31 * 24 - 1  # Berlin's March is an hour short
    assert by_name["always-on"].override == "running" and by_name["always-on"].transition_count == 0
    assert by_name["always-off"].running_hours == 0 and by_name["always-off"].timezone == "UTC"
    only = build_calendar(parse_text(FILE), "2026-03", ["nights-berlin", "office-berlin", "nights-berlin"])
    assert [s.name for s in only.schedules] == ["nights-berlin", "office-berlin"]
    with pytest.raises(KeyError):
        build_calendar(parse_text(FILE), "2026-03", ["nope"])


def test_holiday_calendar_marks_public_holidays():
    config = parse_text(
        "periods:\n  office: {begintime: '09:00', endtime: '17:00', weekdays: mon-fri}\n"
        "schedules:\n  by: {timezone: Europe/Berlin, periods: [office], holiday_calendar: DE-BY}\n"
    )
    (by,) = build_calendar(config, "2026-04").schedules
    # Good Friday and Easter Monday 2026 are public holidays in Bavaria.
    assert by.holidays == [date(2026, 4, 3), date(2026, 4, 6)]
    assert all(d.running == () for d in by.days if d.holiday)


def test_page_rows_carry_the_engine_numbers(march):
    page = render_calendar(march)
    rows = re.findall(r'<li class="run[^"]*" style="--c:#[0-9A-Fa-f]{6}" ([^>]*)>', page)
    assert len(rows) == 4 * 31
    attrs = [dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', r)) for r in rows]
    office = {a["data-day"]: a for a in attrs if a["data-schedule"] == "office-berlin"}
    assert office["2026-03-02"]["data-running"] == "2026-03-02T08:00:00Z/2026-03-02T16:00:00Z"
    assert office["2026-03-30"]["data-running"] == "2026-03-30T07:00:00Z/2026-03-30T15:00:00Z"
    assert office["2026-03-02"]["data-hours"] == "8" and office["2026-03-07"]["data-hours"] == "0"
    assert office["2026-03-19"]["data-holiday"] == "true" and office["2026-03-29"]["data-dst"] == "true"
    assert office["2026-03-29"]["data-day-hours"] == "23"
    assert sum(a["data-holiday"] == "true" for a in attrs) == 1


def test_page_is_self_contained_and_its_script_is_the_only_one_allowed(march):
    page = render_calendar(march)
    lowered = page.lower()
    for needle in ("http:", "https:", "//", "src=", "href=", "url(", "@import", "@font-face"):
        assert needle not in lowered.replace("</", "<"), needle
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in CSP and "default-src 'none'" in CSP
    assert html.escape(CSP, quote=True) in page or CSP in page


def test_hostile_names_and_descriptions_are_text():
    from dataclasses import replace

    cal = build_calendar(parse_text(FILE), "2026-03", ["office-berlin"])
    hostile = replace(cal, schedules=tuple(replace(s, name=HOSTILE, description=HOSTILE) for s in cal.schedules))
    page = render_calendar(hostile)
    assert "<script>window.pwned" not in page and "<img" not in page
    assert 'onerror="' not in page and "\u202e" not in page
    assert html.escape("<script>window.pwned=1</script>") in page
    assert "\\u202eevil" in page  # a bidirectional override is written out, not applied
    assert page.count("<script>") == 1


# --- the command ---------------------------------------------------------------------------------------------


@pytest.fixture
def sample(tmp_path: Path) -> str:
    path = tmp_path / "schedules.yaml"
    path.write_text(FILE, encoding="utf-8")
    return str(path)


def test_command_writes_the_page_and_reports_hours(run, sample, tmp_path):
    out = tmp_path / "march.html"
    r = run("calendar", "--month", "2026-03", "--out", str(out), "--file", sample, "--json")
    assert r.code == 0, r.err
    body = r.json()
    assert body["month"] == "2026-03" and body["out"] == str(out) and body["bytes"] == out.stat().st_size
    hours = {s["schedule"]: s["running_hours"] for s in body["schedules"]}
    assert hours == {"always-off": 0.0, "always-on": 743.0, "nights-berlin": 30 * 8 + 7, "office-berlin": 168}
    office = next(s for s in body["schedules"] if s["schedule"] == "office-berlin")
    assert office == {
        "schedule": "office-berlin",
        "timezone": "Europe/Berlin",
        "running_hours": 168.0,
        "transitions": 42,
        "holidays": ["2026-03-19"],
        "dst_days": ["2026-03-29"],
    }
    page = out.read_text(encoding="utf-8")
    assert all(f'data-schedule="{name}"' in page for name in hours)
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert {p.name for p in tmp_path.iterdir()} == {"march.html", "schedules.yaml"}  # no temporary file left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_command_human_output_and_filter(run, sample, tmp_path):
    out = tmp_path / "one.html"
    r = run("calendar", "--month", "2026-03", "--out", str(out), "--file", sample, "--schedules", "office-berlin")
    assert r.code == 0 and "wrote" in r.err and "1 schedule(s)" in r.err
    page = out.read_text(encoding="utf-8")
    assert 'data-schedule="office-berlin"' in page and 'data-schedule="nights-berlin"' not in page


def test_command_on_the_sample_file(run, tmp_path):
    out = tmp_path / "sample.html"
    r = run("calendar", "--month", "2026-12", "--out", str(out), "--file", str(EXAMPLES / "schedules.yaml"), "--json")
    assert r.code == 0, r.err
    berlin = next(s for s in r.json()["schedules"] if s["schedule"] == "office-berlin")
    assert {"2026-12-24", "2026-12-25", "2026-12-26", "2026-12-31"} <= set(berlin["holidays"])


@pytest.mark.parametrize(
    ("args", "field", "needle"),
    [
        (["--month", "2026-13"], "--month", "'2026-13' is not a month"),
        (["--month", "March"], "--month", "'March' is not a month"),
        (["--month", "0999-01"], "--month", "'0999-01' is not a month this tool schedules"),
        (["--schedules", "office-berlin,nope"], "--schedules", "'nope' is not a schedule"),
        (["--schedules", " , "], "--schedules", "' , ' names no schedule"),
    ],
)
def test_command_refuses_bad_input_and_writes_nothing(run, sample, tmp_path, args, field, needle):
    out = tmp_path / "cal.html"
    base = {"--month": "2026-03", "--out": str(out), "--file": sample}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = [x for kv in base.items() for x in kv]
    r = run("calendar", *argv)
    assert r.code == 2 and f"{field}: {needle}" in r.err
    r = run("calendar", *argv, "--json")
    assert r.code == 2 and needle in r.json()["error"]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["schedules.yaml"]


def test_command_refuses_an_out_it_cannot_write(run, sample, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    cases = [
        (str(folder), "is a directory"),
        (str(tmp_path / "missing" / "cal.html"), "does not exist"),
        ("", "is not a file name"),
    ]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append((str(locked / "cal.html"), "cannot be written"))
    for target, needle in cases:
        r = run("calendar", "--month", "2026-03", "--out", target, "--file", sample, "--json")
        assert r.code == 2, (target, r.err)
        assert needle in r.json()["error"] and "--out" in r.err
    assert list(folder.iterdir()) == []
    left = {p.name for p in tmp_path.iterdir()} - {"locked"}
    assert left == {"folder", "schedules.yaml"}


def test_command_refuses_a_broken_file_and_writes_nothing(run, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schedules:\n  s: {timezone: Mars/Base}\n", encoding="utf-8")
    out = tmp_path / "cal.html"
    r = run("calendar", "--month", "2026-03", "--out", str(out), "--file", str(bad))
    assert r.code == 2 and "Mars/Base" in r.err and not out.exists()


def test_failed_write_leaves_an_existing_page_and_no_temporary_file(monkeypatch, sample, tmp_path, run):
    out = tmp_path / "cal.html"
    out.write_text("old", encoding="utf-8")

    def refuse(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    r = run("calendar", "--month", "2026-03", "--out", str(out), "--file", sample)
    assert r.code == 2 and "No space left on device" in r.err
    assert out.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.html", "schedules.yaml"]


def test_help_has_examples(run):
    r = run("calendar", "--help")
    assert r.code == 0 and "isched calendar --month 2026-03 --out march.html" in r.out
