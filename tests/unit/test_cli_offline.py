"""The offline commands end to end: validate, schedule preview, schedule state (exit codes and JSON shapes)."""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLES

SAMPLE = str(EXAMPLES / "schedules.yaml")

OFFICE = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office-berlin: {timezone: Europe/Berlin, periods: [office]}
"""


def test_validate_ok_human_and_json(run):
    r = run("validate", "--file", SAMPLE)
    assert r.code == 0 and "is valid" in r.out
    r = run("validate", "--file", SAMPLE, "--json")
    body = r.json()
    assert r.code == 0 and body["valid"] is True and "office-berlin" in body["schedules"]


def test_validate_reports_every_error_with_field_and_value(run, write):
    path = write(
        "periods:\n  office:\n    weekdays: mon-fry\n    begintime: '25:00'\n"
        "schedules:\n  s:\n    periods: [offic]\n    timezone: Mars/Base\n"
    )
    r = run("validate", "--file", path)
    assert r.code == 2
    assert "periods.office.weekdays: 'mon-fry' is not a weekday" in r.err
    assert "periods.office.begintime: '25:00'" in r.err
    assert "schedules.s.timezone: 'Mars/Base'" in r.err
    assert "'offic' is not a defined period" in r.err
    r = run("validate", "--file", path, "--json")
    body = r.json()
    assert r.code == 2 and body["valid"] is False
    assert {e["path"] for e in body["errors"]} == {
        "periods.office.weekdays",
        "periods.office.begintime",
        "schedules.s.timezone",
        "schedules.s.periods",
    }


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("periods:\n  a: {weekdays: mon}\n  a: {weekdays: tue}\n", "duplicate key 'a'"),
        ("periods: [\n", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_validate_rejects_broken_files(run, write, text, needle):
    r = run("validate", "--file", write(text))
    assert r.code == 2 and needle in r.err


def test_validate_missing_file_names_it(run, tmp_path):
    r = run("validate", "--file", str(tmp_path / "nope.yaml"))
    assert r.code == 2 and "--file" in r.err and "nope.yaml" in r.err


def test_preview_json_shape_matches_spec(run, write):
    path = write(OFFICE)
    r = run(
        "schedule", "preview", "office-berlin", "--from", "2024-04-01", "--to", "2024-04-07", "--file", path, "--json"
    )
    assert r.code == 0
    body = r.json()
    assert body["schedule"] == "office-berlin" and body["timezone"] == "Europe/Berlin"
    assert body["from"] == "2024-04-01T00:00:00+02:00" and body["to"] == "2024-04-08T00:00:00+02:00"
    assert body["transitions"][0] == {"at": "2024-04-01T07:00:00Z", "action": "start"}
    assert body["running"][0] == {"start": "2024-04-01T07:00:00Z", "end": "2024-04-01T15:00:00Z"}
    assert len(body["transitions"]) == 10 and len(body["running"]) == 5
    assert body["running_hours"] == 40.0


def test_preview_clips_running_to_range(run, write):
    path = write("periods:\n  night: {begintime: '22:00', endtime: '06:00'}\nschedules:\n  n: {periods: [night]}\n")
    body = run("schedule", "preview", "n", "--from", "2026-01-01", "--to", "2026-01-01", "-f", path, "--json").json()
    assert body["running"] == [
        {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T06:00:00Z"},
        {"start": "2026-01-01T22:00:00Z", "end": "2026-01-02T00:00:00Z"},
    ]
    # The window from the evening before runs into the range, but its start is outside it: no transition.
    assert body["transitions"] == [
        {"at": "2026-01-01T06:00:00Z", "action": "stop"},
        {"at": "2026-01-01T22:00:00Z", "action": "start"},
    ]
    assert body["running_hours"] == 8.0


def test_preview_human_timeline(run):
    r = run("schedule", "preview", "office-berlin", "--from", "2026-03-27", "--to", "2026-03-30", "--file", SAMPLE)
    assert r.code == 0
    assert "Fri 2026-03-27" in r.out and "█" in r.out and "Transitions" in r.out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--from", "2026-13-01", "--to", "2026-12-01"], "--from: '2026-13-01' is not a date"),
        (["--from", "2026-02-01", "--to", "2026-01-01"], "--to: '2026-01-01' is before"),
        (["--from", "2026-02-01", "--to", "tomorrow"], "--to: 'tomorrow' is not a date"),
    ],
)
def test_preview_bad_dates(run, args, needle):
    r = run("schedule", "preview", "office-berlin", *args, "--file", SAMPLE)
    assert r.code == 2 and needle in r.err


def test_unknown_schedule_is_exit_2_with_hint(run):
    r = run("schedule", "state", "office-berln", "--at", "2026-11-27T09:00:00Z", "--file", SAMPLE)
    assert r.code == 2 and "'office-berln' is not a schedule (did you mean 'office-berlin'?)" in r.err


@pytest.mark.parametrize(
    ("at", "state"),
    [
        ("2026-11-27T09:30:00+01:00", "running"),  # Friday, Berlin office hours
        ("2026-11-27T08:59:00+01:00", "stopped"),
        ("2026-11-28T10:00:00Z", "stopped"),  # Saturday
        ("2026-12-24T10:00:00+01:00", "stopped"),  # listed holiday
    ],
)
def test_state_json(run, at, state):
    r = run("schedule", "state", "office-berlin", "--at", at, "--file", SAMPLE, "--json")
    assert r.code == 0
    body = r.json()
    assert body["schedule"] == "office-berlin" and body["state"] == state and body["at"].endswith("Z")


def test_state_any_for_event_only_schedule(run):
    r = run("schedule", "state", "early-birds", "--at", "2026-11-27T09:30:00Z", "--file", SAMPLE, "--json")
    assert r.json()["state"] == "any"


@pytest.mark.parametrize("at", ["2026-11-27T09:30:00", "yesterday", "2026-11-27"])
def test_state_requires_offset(run, at):
    r = run("schedule", "state", "office-berlin", "--at", at, "--file", SAMPLE)
    assert r.code == 2 and "--at" in r.err


def test_global_json_flag_and_error_json(run):
    r = run("--json", "schedule", "state", "nope", "--at", "2026-11-27T09:30:00Z", "--file", SAMPLE)
    assert r.code == 2 and r.json()["issues"][0]["path"] == "NAME"


def test_help_teaches(run):
    r = run("--help")
    assert r.code == 0 and "isched validate --file" in r.out
