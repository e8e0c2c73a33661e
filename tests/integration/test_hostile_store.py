"""Bad input against a real store (moto over HTTP): refused with exit 2, the field and value named, nothing written.

Also the two store round trips the issue found broken: ``export --json`` re-applied is a no-op even when text holds
an emoji, and ``apply --prune`` of an empty (or mostly empty) file needs ``--yes``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from scheduler.store.config import ConfigStore
from scheduler.store.tables import Tables
from tests.conftest import Result

pytestmark = pytest.mark.integration

Run = Callable[..., Result]
Write = Callable[..., str]

EMOJI = "Büro 😀 ☕ 𝄞 — “quotes” \u00a0nbsp"
BASE = f"""
periods:
  office: {{begintime: "09:00", endtime: "17:00", weekdays: mon-fri, description: {json.dumps(EMOJI)}}}
  late: {{begintime: "17:00", endtime: "20:00", weekdays: mon-thu}}
  weekend: {{weekdays: sat-sun}}
schedules:
  berlin: {{timezone: Europe/Berlin, periods: [office, "late@t3.small"], description: {json.dumps(EMOJI)}}}
  nyc: {{timezone: America/New_York, periods: [office], enforced: true, holidays: ["2026-12-24"]}}
  rest: {{periods: [weekend]}}
"""


@pytest.fixture
def ready(run: Run, namespace: str, write: Write) -> str:
    """A namespace with its tables created and BASE applied (6 items)."""
    assert run("init").code == 0
    r = run("apply", "--file", write(BASE, "base.yaml"), "--json")
    assert r.code == 0, r.err
    assert len(r.json()["created"]) == 6
    return namespace


def snapshot(namespace: str) -> list[tuple[str, str, Any, int, list[str]]]:
    store = ConfigStore(Tables.for_namespace(namespace))
    out = []
    for kind in ("period", "schedule"):
        for name, item in sorted(store.items(kind).items()):  # type: ignore[arg-type]
            out.append((kind, name, item.body, item.version, sorted(item.used_by)))
    return out


# -- export then apply is a no-op, emoji and all --------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--json", None], ids=["json", "yaml"])
def test_export_then_apply_changes_nothing_with_emoji(run: Run, ready: str, write: Write, flag: str | None) -> None:
    before = snapshot(ready)
    assert any(row[2].get("description") == EMOJI for row in before)
    exported = run("export", *([flag] if flag else []))
    assert exported.code == 0, exported.err
    if flag == "--json":
        assert "\\ud83d\\ude00" in exported.out  # json.dumps escapes the emoji as a surrogate pair
    path = write(exported.out, "exported.json" if flag else "exported.yaml")
    r = run("apply", "--file", path, "--prune", "--json")
    assert r.code == 0, r.err
    body = r.json()
    assert body["created"] == body["updated"] == body["deleted"] == [], body
    assert len(body["unchanged"]) == 6 and body["writes"] == 0
    assert snapshot(ready) == before


# -- apply --prune that would delete most of the store ----------------------------------------------------------

EMPTY_FILES = {"empty": "", "comment-only": "# nothing here\n", "empty-sections": "periods: {}\nschedules: {}\n"}


@pytest.mark.parametrize("text", list(EMPTY_FILES.values()), ids=list(EMPTY_FILES))
def test_prune_of_an_empty_file_is_refused_without_yes(run: Run, ready: str, write: Write, text: str) -> None:
    before = snapshot(ready)
    path = write(text, "empty.yaml")
    r = run("apply", "--file", path, "--prune")
    assert r.code == 2
    assert "--prune" in r.err and "delete 6 of the 6" in r.err and "--yes" in r.err
    assert snapshot(ready) == before
    as_json = run("apply", "--file", path, "--prune", "--json")
    assert as_json.code == 2 and "delete 6 of the 6" in as_json.json()["error"]
    assert snapshot(ready) == before
    dry = run("apply", "--file", path, "--prune", "--dry-run", "--json")  # the plan is still shown
    assert dry.code == 0 and len(dry.json()["deleted"]) == 6 and "needs_yes" in dry.json()
    human_dry = run("apply", "--file", path, "--prune", "--dry-run")
    assert human_dry.code == 0 and "needs --yes" in human_dry.out
    assert snapshot(ready) == before
    confirmed = run("apply", "--file", path, "--prune", "--yes", "--json")
    assert confirmed.code == 0 and len(confirmed.json()["deleted"]) == 6
    assert snapshot(ready) == []


def test_prune_of_more_than_half_needs_yes_but_half_does_not(run: Run, ready: str, write: Write) -> None:
    # Keeping 2 of 6 deletes 4: more than half, refused.
    keep_two = "periods:\n  weekend: {weekdays: sat-sun}\nschedules:\n  rest: {periods: [weekend]}\n"
    before = snapshot(ready)
    r = run("apply", "--file", write(keep_two, "two.yaml"), "--prune")
    assert r.code == 2 and "delete 4 of the 6" in r.err
    assert snapshot(ready) == before
    # Keeping 3 of 6 deletes exactly half: allowed without --yes.
    keep_three = keep_two.replace("periods:\n", 'periods:\n  office: {begintime: "09:00", endtime: "17:00"}\n', 1)
    r = run("apply", "--file", write(keep_three, "three.yaml"), "--prune", "--json")
    assert r.code == 0, r.err
    assert len(r.json()["deleted"]) == 3


# -- hostile files and flags write nothing -----------------------------------------------------------------------

BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"{b}: &{b} [{','.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True))
    + 'periods:\n  office: {begintime: "09:00", description: *i}\n'
)

HOSTILE_FILES = {
    "alias-bomb": (BOMB, ["alias"]),
    "deep": ("periods: " + "[" * 5000 + "]" * 5000, ["64 levels"]),
    "nul": ('periods:\n  office: {begintime: "09:00", description: "a\\0b"}\n', ["periods.office.description"]),
    "surrogate": (
        '{"periods": {"office": {"begintime": "09:00", "description": "\\ud800"}}}',
        ["periods.office.description", "\\ud800"],
    ),
    "list-key": ("periods:\n  ? [a]\n  : {begintime: '09:00'}\n", ["list cannot be a key"]),
    "name-newline": ('periods:\n  "office\\n": {begintime: "10:00"}\n', ["periods.office\\n"]),
    "description-50k": (
        'periods:\n  office: {begintime: "09:00", description: "' + "d" * 50_000 + '"}\n',
        ["periods.office.description", "too long"],
    ),
    "localtime": (
        BASE.replace("timezone: Europe/Berlin", "timezone: localtime"),
        ["schedules.berlin.timezone", "'localtime'"],
    ),
    "holiday-year-1": (BASE.replace('"2026-12-24"', '"0001-01-01"'), ["schedules.nyc.holidays[0]", "0001-01-01"]),
}


@pytest.mark.parametrize("case", list(HOSTILE_FILES), ids=list(HOSTILE_FILES))
@pytest.mark.parametrize("prune", [False, True], ids=["apply", "apply-prune"])
def test_hostile_file_apply_writes_nothing(run: Run, ready: str, write: Write, case: str, prune: bool) -> None:
    text, needles = HOSTILE_FILES[case]
    before = snapshot(ready)
    path = write(text, "hostile.yaml")
    extra = ["--prune", "--yes"] if prune else []
    r = run("apply", "--file", path, *extra)
    assert r.code == 2, (r.code, r.err[:1000])
    for needle in needles:
        assert needle in r.err
    assert all(len(line) < 400 for line in r.err.splitlines())
    as_json = run("apply", "--file", path, *extra, "--json")
    assert as_json.code == 2 and as_json.json()["error"]
    assert snapshot(ready) == before


HUGE = "h" * 50_000_000  # a 50 MB description: DynamoDB would refuse the item (400 KB) with an exit-1 error

FLAG_CASES = {
    "period-create-description-50mb": (
        ["period", "create", "p2", "--begintime", "09:00", "--description", HUGE],
        "--description",
    ),
    "period-update-description-50mb": (["period", "update", "office", "--description", HUGE], "--description"),
    "schedule-update-description-50mb": (["schedule", "update", "berlin", "--description", HUGE], "--description"),
    "period-create-name-newline": (["period", "create", "office\n", "--begintime", "09:00"], "NAME"),
    "schedule-create-name-newline": (["schedule", "create", "berlin\n", "--periods", "office"], "NAME"),
    "period-show-name-huge": (["period", "show", "n" * 100_000], "NAME"),
    "period-delete-surrogate": (["period", "delete", "office\udcff"], "NAME"),
    "schedule-update-localtime": (["schedule", "update", "berlin", "--timezone", "localtime"], "--timezone"),
    "schedule-update-posixrules": (["schedule", "update", "berlin", "--timezone", "posixrules"], "--timezone"),
    "schedule-update-path-zone": (["schedule", "update", "berlin", "--timezone", "/etc/localtime"], "--timezone"),
    "schedule-update-holiday-year-1": (["schedule", "update", "nyc", "--holidays", "0001-01-01"], "--holidays"),
    "schedule-update-holiday-year-9999": (["schedule", "update", "nyc", "--holidays", "9999-12-31"], "--holidays"),
    "period-update-weekdays-newline": (["period", "update", "office", "--weekdays", "mon\n-fri"], "--weekdays"),
    "period-update-description-nul": (["period", "update", "office", "--description", "a\x00b"], "--description"),
    "period-update-description-surrogate": (["period", "update", "office", "--description", "\ud800"], "--description"),
    "period-create-cron-huge": (["period", "create", "p3", "--start", "0 9 * * " + "1," * 100_000 + "1"], "--start"),
    "schedule-create-periods-nul": (["schedule", "create", "x", "--periods", "office@t3.large\x00"], "--periods"),
}


@pytest.mark.parametrize("case", list(FLAG_CASES), ids=list(FLAG_CASES))
def test_hostile_flags_write_nothing(run: Run, ready: str, case: str) -> None:
    args, field = FLAG_CASES[case]
    before = snapshot(ready)
    r = run(*args)
    assert r.code == 2, (r.code, r.err[:1000])
    assert field in r.err
    assert len(r.err) < 2000 and all(len(line) < 400 for line in r.err.splitlines())
    as_json = run(*args, "--json")
    assert as_json.code == 2 and as_json.json()["error"]
    assert snapshot(ready) == before


# -- exit-1 failures print {"error": ...} under --json too ----------------------------------------------------


def test_missing_tables_are_exit_1_with_json_error(run: Run, namespace: str) -> None:
    r = run("export", "--json")
    assert r.code == 1
    assert "isched init" in r.json()["error"]
    r = run("--json", "period", "list")
    assert r.code == 1 and "isched init" in r.json()["error"]
    human = run("period", "list")
    assert human.code == 1 and human.out == "" and "isched init" in human.err
