"""``isched calendar`` without ``--file``: the stored configuration, read from DynamoDB on a moto server."""

from __future__ import annotations

from tests.conftest import EXAMPLES

SAMPLE = str(EXAMPLES / "schedules.yaml")


def test_calendar_of_the_stored_schedules(run, namespace, tmp_path):
    assert run("init", "--json").code == 0
    assert run("apply", "--file", SAMPLE, "--json").code == 0
    out = tmp_path / "march.html"
    r = run("calendar", "--month", "2026-03", "--out", str(out), "--json")
    assert r.code == 0, r.err
    stored = {s["schedule"]: s for s in r.json()["schedules"]}
    offline = run("calendar", "--month", "2026-03", "--out", str(tmp_path / "f.html"), "--file", SAMPLE, "--json")
    assert stored == {s["schedule"]: s for s in offline.json()["schedules"]}  # the store gives the file's answers
    page = out.read_text(encoding="utf-8")
    assert all(f'data-schedule="{name}"' in page for name in stored)
    r = run("calendar", "--month", "2026-03", "--out", str(tmp_path / "x.html"), "--schedules", "nope", "--json")
    assert r.code == 2 and "'nope' is not a schedule" in r.json()["error"]
    assert not (tmp_path / "x.html").exists()


def test_calendar_without_tables_fails_cleanly(run, namespace, tmp_path):
    out = tmp_path / "march.html"
    r = run("calendar", "--month", "2026-03", "--out", str(out), "--json")
    assert r.code == 1 and "isched init" in r.json()["error"] and not out.exists()
