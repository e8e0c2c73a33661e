"""Hostile input is refused cleanly: exit 2, the field and a short prefix of the value named, nothing expanded.

Every case runs the real CLI in-process (no AWS: ``validate``, ``schedule preview/state --file`` and
``preview --savings --prices`` are offline) twice: as text, where the message must name the field and quote at
most a short prefix of the value, and with ``--json``, where stdout must be an object with ``"error"``.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scheduler.engine import ConfigError, parse_text
from scheduler.engine.document import MAX_DEPTH, MAX_FILE_BYTES, load_document
from scheduler.engine.errors import Issue, quote
from tests.conftest import EXAMPLES, Result

SAMPLE = str(EXAMPLES / "schedules.yaml")
MAX_LINE = 400  # no error line is longer than this, whatever the input

# The "billion laughs": nine levels of nine aliases expand to 9**9 (387 million) strings from 427 bytes.
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "periods:\n"
    "  office:\n"
    '    begintime: "09:00"\n'
    "    description: *i\n"
    "schedules:\n"
    "  s: {periods: [office]}\n"
)
DEEP = 5000


def period(fields: str, name: str = "office") -> str:
    """A file with one period ``name`` (an explicit, quoted key: YAML limits plain keys to 1024 characters)."""
    return f"periods:\n  ? {json.dumps(name)}\n  :\n{fields}schedules:\n  s: {{periods: [{json.dumps(name)}]}}\n"


def schedule(fields: str) -> str:
    return (
        'periods:\n  office: {begintime: "09:00", endtime: "17:00"}\nschedules:\n  s:\n    periods: [office]\n' + fields
    )


@dataclass
class Case:
    """One hostile input: the file to write (if any), the command, and what the refusal must name."""

    id: str
    args: list[str]
    needles: list[str]  # each must appear in the error text (the field, a prefix of the value)
    file: str | bytes | None = None
    absent: list[str] = field(default_factory=list)  # must not appear (the value beyond a short prefix)


LONG = "x" * 100_000
CASES = [
    # -- the file itself --------------------------------------------------------------------------------------
    Case("alias-bomb", ["validate"], ["line 5", "alias"], ALIAS_BOMB, ["lol"]),
    Case(
        "deep-flow-list",
        ["validate"],
        ["line 4", f"{MAX_DEPTH} levels"],
        period("    weekdays: " + "[" * DEEP + "]" * DEEP + "\n"),
    ),
    Case(
        "deep-mappings", ["validate"], ["line 1", f"{MAX_DEPTH} levels"], "periods: " + "{a: " * DEEP + "1" + "}" * DEEP
    ),
    Case(
        "deep-block-lists",
        ["validate"],
        [f"{MAX_DEPTH} levels"],
        "periods:\n" + "".join("  " * i + "-\n" for i in range(1, 200)),
    ),
    Case("recursive-alias", ["validate"], ["line 3", "alias"], "periods:\n  office: &o\n    x: *o\n"),
    Case(
        "deep-through-aliases",
        ["validate"],
        [f"{MAX_DEPTH} levels", "alias"],
        "a: &a " + "[" * 40 + "]" * 40 + "\nb: &b [[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
    ),
    Case(
        "nul-byte",
        ["validate"],
        ["line 5, column 19", "U+0000"],
        period('    begintime: "09:00"\n    description: a\x00b\n'),
    ),
    Case(
        "escape-character",
        ["validate"],
        ["line 5", "U+001B"],
        period('    begintime: "09:00"\n    description: a\x1b[31mred\n'),
    ),
    Case(
        "list-as-key",
        ["validate"],
        ["line 2", "list cannot be a key"],
        "periods:\n  ? [a, b]\n  : {begintime: '09:00'}\n",
    ),
    Case(
        "mapping-as-key",
        ["validate"],
        ["line 2", "mapping cannot be a key"],
        "periods:\n  ? {a: b}\n  : {begintime: '09:00'}\n",
    ),
    Case(
        "merged-list-key",
        ["validate"],
        ["line 2", "cannot be a key"],
        "periods:\n  office: {<<: &m {? [a] : 1}, begintime: '09:00'}\n",
    ),
    Case("set-with-list-key", ["validate"], ["line 1", "unhashable"], "periods: !!set {? [a] : null}\n"),
    Case("python-tag", ["validate"], ["line 1", "constructor"], "periods: !!python/object/apply:os.system [ls]\n"),
    Case("too-large", ["validate"], ["larger than 4 MiB"], "# " + "x" * MAX_FILE_BYTES + "\n"),
    Case(
        "huge-integer",
        ["validate"],
        ["line 4, column 16", "5,000 characters"],
        period("    monthdays: " + "9" * 5000 + "\n"),
    ),
    Case("not-utf8", ["validate"], ["--file", "not UTF-8"], b'periods:\n  office: {description: "\xff\xfe"}\n'),
    Case(
        "duplicate-long-key",
        ["validate"],
        ["line 4", "duplicate key", "x" * 20],
        "periods:\n  ? " + LONG + "\n  : {begintime: '09:00'}\n  ? " + LONG + "\n  : {begintime: '10:00'}\n",
        ["x" * 100],
    ),
    Case(
        "long-unknown-field",
        ["validate"],
        ["periods.office.", "unknown field"],
        period(f'    begintime: "09:00"\n    ? {LONG}\n    : 1\n'),
        ["x" * 100],
    ),
    Case("long-unknown-section", ["validate"], ["unknown section"], f"? {LONG}\n: 1\n", ["x" * 100]),
    Case("document-is-long-text", ["validate"], ["must be a mapping", "x" * 20], f"{LONG}\n", ["x" * 100]),
    # -- text fields --------------------------------------------------------------------------------------------
    Case(
        "description-too-long",
        ["validate"],
        ["periods.office.description", "too long", "1,024", "'" + "d" * 20],
        period('    begintime: "09:00"\n    description: "' + "d" * 2_000_000 + '"\n'),
        ["d" * 100],
    ),
    Case(
        "schedule-description-too-long",
        ["validate"],
        ["schedules.s.description", "too long"],
        schedule("    description: " + "d" * 1025 + "\n"),
        ["d" * 100],
    ),
    Case(
        "nul-escape-in-description",
        ["validate"],
        ["periods.office.description", "\\x00"],
        period('    begintime: "09:00"\n    description: "a\\0b"\n'),
    ),
    Case(
        "lone-surrogate-json",
        ["validate"],
        ["periods.office.description", "\\ud800"],
        '{"periods": {"office": {"begintime": "09:00", "description": "bad \\ud800 text"}}}',
    ),
    Case(
        "lone-surrogate-schedule-description",
        ["validate"],
        ["schedules.s.description", "\\udc00"],
        schedule('    description: "\\udc00"\n'),
    ),
    Case(
        "description-is-a-long-list",
        ["validate"],
        ["periods.office.description", "not text"],
        period('    begintime: "09:00"\n    description: [' + ", ".join(["word"] * 50_000) + "]\n"),
    ),
    # -- names --------------------------------------------------------------------------------------------------
    Case(
        "period-name-trailing-newline",
        ["validate"],
        ["periods.office\\n", "'office\\n'", "not a valid period name"],
        period('    begintime: "09:00"\n', "office\n"),
    ),
    Case(
        "schedule-name-trailing-newline",
        ["validate"],
        ["schedules.s\\n", "not a valid schedule name"],
        schedule("").replace("  s:\n", '  "s\\n":\n'),
    ),
    Case(
        "period-name-nul",
        ["validate"],
        ["periods.a\\x00b", "not a valid period name"],
        period('    begintime: "09:00"\n', "a\x00b"),
    ),
    Case(
        "name-long",
        ["validate"],
        ["not a valid period name", "n" * 20],
        period('    begintime: "09:00"\n', "n" * 5000),
        ["n" * 100],
    ),
    Case(
        "period-ref-long-type",
        ["validate"],
        ["schedules.s.periods[0]", "instance type"],
        schedule("").replace("periods: [office]", "periods: ['office@t3." + "a" * 5000 + "']"),
        ["a" * 100],
    ),
    # -- fields -------------------------------------------------------------------------------------------------
    Case(
        "weekdays-too-long",
        ["validate"],
        ["periods.office.weekdays", "too long", "mon,"],
        period("    weekdays: " + ",".join(["mon"] * 2000) + "\n"),
        ["mon," * 30],
    ),
    Case(
        "weekdays-too-many-items",
        ["validate"],
        ["periods.office.weekdays", "items"],
        period("    weekdays: [" + ",".join(["mon"] * 2000) + "]\n"),
    ),
    Case(
        "weekdays-trailing-newline-item",
        ["validate"],
        ["periods.office.weekdays", "mon\\n"],
        period('    weekdays: ["mon\\n-fri"]\n'),
    ),
    Case(
        "time-trailing-garbage",
        ["validate"],
        ["periods.office.begintime", "09:00\\nx"],
        period('    begintime: "09:00\\nx"\n'),
    ),
    Case(
        "cron-too-long",
        ["validate"],
        ["periods.office.start", "too long"],
        period('    start: "0 9 * * ' + "1," * 5000 + '1"\n'),
        ["1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"],
    ),
    Case(
        "override-status-long",
        ["validate"],
        ["schedules.s.override_status", "r" * 20],
        schedule("    override_status: " + "r" * 10_000 + "\n"),
        ["r" * 100],
    ),
    # -- time zones ---------------------------------------------------------------------------------------------
    *(
        Case(
            f"timezone-{tz.strip('/').replace('/', '-') or 'empty'}",
            ["validate"],
            ["schedules.s.timezone", "not an IANA time zone"],
            schedule(f"    timezone: {json.dumps(tz)}\n"),
        )
        for tz in (
            "localtime",
            "posixrules",
            "Factory",
            "/etc/localtime",
            "/usr/share/zoneinfo/Europe/Berlin",
            "../zoneinfo/Europe/Berlin",
            "./UTC",
            "posix/Europe/Berlin",
            "right/UTC",
            "Europe/Berlin\n",
            "Europe//Berlin",
            "Europe/Berlin/",
            "Mars/Olympus",
        )
    ),
    Case(
        "timezone-long",
        ["validate"],
        ["schedules.s.timezone", "Z" * 20],
        schedule("    timezone: " + "Z" * 10_000 + "\n"),
        ["Z" * 100],
    ),
    Case(
        "timezone-list",
        ["validate"],
        ["schedules.s.timezone", "not an IANA time zone"],
        schedule("    timezone: [UTC]\n"),
    ),
    Case(
        "timezone-mapping",
        ["validate"],
        ["schedules.s.timezone", "not an IANA time zone"],
        schedule("    timezone: {a: b}\n"),
    ),
    # -- holidays -----------------------------------------------------------------------------------------------
    Case(
        "holiday-year-1",
        ["validate"],
        ["schedules.s.holidays[0]", "'0001-01-01'", "1970-2999"],
        schedule('    holidays: ["0001-01-01"]\n'),
    ),
    Case(
        "holiday-year-9999",
        ["validate"],
        ["schedules.s.holidays[0]", "'9999-12-31'", "1970-2999"],
        schedule('    holidays: ["9999-12-31"]\n'),
    ),
    Case(
        "holiday-year-1969",
        ["validate"],
        ["schedules.s.holidays[0]", "1969"],
        schedule('    holidays: ["1969-12-31"]\n'),
    ),
    Case(
        "holidays-too-many",
        ["validate"],
        ["schedules.s.holidays", "items"],
        schedule("    holidays: [" + ", ".join(["2026-12-24"] * 501) + "]\n"),
    ),
    Case(
        "holiday-calendar-long",
        ["validate"],
        ["schedules.s.holiday_calendar", "holiday calendar"],
        schedule("    holiday_calendar: " + "D" * 10_000 + "\n"),
        ["D" * 100],
    ),
    # -- CLI instants and dates ---------------------------------------------------------------------------------
    Case(
        "at-year-1",
        ["schedule", "state", "office-berlin", "--file", SAMPLE, "--at", "0001-01-01T00:00:00+01:00"],
        ["--at", "0001-01-01", "1970-2999"],
    ),
    Case(
        "at-year-9999",
        ["schedule", "state", "office-berlin", "--file", SAMPLE, "--at", "9999-12-31T23:59:59-01:00"],
        ["--at", "9999", "1970-2999"],
    ),
    Case(
        "at-year-9999-utc",
        ["schedule", "state", "office-berlin", "--file", SAMPLE, "--at", "9999-12-31T23:59:59Z"],
        ["--at", "1970-2999"],
    ),
    Case(
        "at-before-1970",
        ["schedule", "state", "office-berlin", "--file", SAMPLE, "--at", "1969-12-31T23:00:00-02:00"],
        ["--at", "1969"],
    ),
    Case(
        "at-long",
        ["schedule", "state", "office-berlin", "--file", SAMPLE, "--at", "2026-01-01T00:00Z" + "9" * 10_000],
        ["--at", "2026-01-01T00:00Z"],
        absent=["9" * 100],
    ),
    Case(
        "at-nul",
        ["schedule", "state", "office-berlin", "--file", SAMPLE, "--at", "2026-01-01T00:00\x00Z"],
        ["--at", "\\x00"],
    ),
    Case(
        "from-year-1",
        ["schedule", "preview", "office-berlin", "--file", SAMPLE, "--from", "0001-01-01", "--to", "0001-01-07"],
        ["--from", "0001-01-01", "1970-2999"],
    ),
    Case(
        "to-year-9999",
        ["schedule", "preview", "office-berlin", "--file", SAMPLE, "--from", "9999-12-25", "--to", "9999-12-31"],
        ["--from", "9999-12-25"],
    ),
    Case(
        "to-year-3000",
        ["schedule", "preview", "office-berlin", "--file", SAMPLE, "--from", "2999-12-30", "--to", "3000-01-02"],
        ["--to", "3000-01-02"],
    ),
    Case(
        "schedule-name-long",
        ["schedule", "state", "x" * 100_000, "--file", SAMPLE, "--at", "2026-01-01T00:00Z"],
        ["NAME", "is not a schedule"],
        absent=["x" * 100],
    ),
    Case("file-path-nul", ["validate", "--file", "schedules\x00.yaml"], ["--file", "\\x00"]),
]


def _args(case: Case, path: str | None) -> list[str]:
    return [*case.args, "--file", path] if path is not None else list(case.args)


def _check_refusal(case: Case, r: Result) -> None:
    assert r.code == 2, (r.code, r.err[:2000])
    assert "Traceback" not in r.err
    for needle in case.needles:
        assert needle in r.err, (needle, r.err[:2000])
    for needle in case.absent:
        assert needle not in r.err and needle not in r.out
    for line in r.err.splitlines():
        assert len(line) <= MAX_LINE, line[:200]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_with_field_and_short_value(
    case: Case, run: Callable[..., Result], tmp_path: Path
) -> None:
    path: str | None = None
    if case.file is not None:
        target = tmp_path / "hostile.yaml"
        target.write_bytes(case.file if isinstance(case.file, bytes) else case.file.encode("utf-8", "surrogatepass"))
        path = str(target)
    r = run(*_args(case, path))
    _check_refusal(case, r)
    as_json = run("--json", *_args(case, path))
    assert as_json.code == 2
    body = json.loads(as_json.out)
    assert isinstance(body, dict) and isinstance(body["error"], str) and body["error"]
    assert len(as_json.out) < 20_000
    for needle in case.absent:
        assert needle not in as_json.out


# -- prices files ---------------------------------------------------------------------------------------------

PRICE_HEADER = "service,region,type,hourly_usd\n"
PRICE_CASES = [
    ("1e30", PRICE_HEADER + "ec2,eu-west-1,t3.large,1e30\n", ["line 2: hourly_usd", "'1e30'", "10,000"]),
    ("above-max", PRICE_HEADER + "ec2,eu-west-1,t3.large,10000.01\n", ["line 2: hourly_usd", "'10000.01'"]),
    ("nan", PRICE_HEADER + "ec2,eu-west-1,t3.large,NaN\n", ["line 2: hourly_usd", "'NaN'"]),
    ("inf", PRICE_HEADER + "ec2,eu-west-1,t3.large,inf\n", ["line 2: hourly_usd", "'inf'"]),
    ("negative", PRICE_HEADER + "ec2,eu-west-1,t3.large,-0.5\n", ["line 2: hourly_usd", "'-0.5'"]),
    ("long-number", PRICE_HEADER + "ec2,eu-west-1,t3.large," + "9" * 5000 + "\n", ["line 2: hourly_usd", "9" * 20]),
    (
        "json-1e30",
        '[{"service": "ec2", "region": "eu-west-1", "type": "t3.large", "hourly_usd": 1e30}]',
        ["[0].hourly_usd"],
    ),
    (
        "json-1e400",
        '[{"service": "ec2", "region": "eu-west-1", "type": "t3.large", "hourly_usd": 1e400}]',
        ["[0].hourly_usd", "inf"],
    ),
    (
        "json-NaN",
        '[{"service": "ec2", "region": "eu-west-1", "type": "t3.large", "hourly_usd": NaN}]',
        ["[0].hourly_usd", "nan"],
    ),
    (
        "json-huge-int",
        '[{"service": "ec2", "region": "eu-west-1", "type": "t3.large", "hourly_usd": ' + "9" * 5000 + "}]",
        ["not valid JSON"],
    ),
    ("json-deep", "[" * 100_000 + "]" * 100_000, ["not valid JSON"]),
    (
        "json-list-price",
        '[{"service": "ec2", "region": "eu-west-1", "type": "t3.large", "hourly_usd": [1]}]',
        ["[0].hourly_usd", "[1]"],
    ),
    ("csv-field-too-long", PRICE_HEADER + 'ec2,eu-west-1,"' + "t" * 200_000 + '",1\n', ["line 2", "CSV"]),
    ("long-type", PRICE_HEADER + "ec2,eu-west-1,t3." + "x" * 5000 + ",1\n", ["line 2: type", "t3.xxxx"]),
    (
        "type-newline",
        '[{"service": "ec2", "region": "eu-west-1", "type": "t3.large\\nx", "hourly_usd": 1}]',
        ["[0].type", "t3.large\\nx"],
    ),
    ("long-service", PRICE_HEADER + "e" * 5000 + ",eu-west-1,t3.large,1\n", ["line 2: service", "e" * 20]),
]


@pytest.mark.parametrize(("text", "needles"), [(t, n) for _, t, n in PRICE_CASES], ids=[i for i, _, _ in PRICE_CASES])
def test_hostile_prices_file_is_refused(
    text: str,
    needles: list[str],
    run: Callable[..., Result],
    write: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ISCHED_PRICE_CACHE", "off")
    prices = write(text, "prices.csv")
    args = ["schedule", "preview", "office-berlin", "--file", SAMPLE, "--from", "2026-11-02", "--to", "2026-11-08"]
    args += ["--savings", "--type", "t3.large", "--region", "eu-west-1", "--prices", prices]
    r = run(*args)
    assert r.code == 2, (r.code, r.err[:2000])
    for needle in needles:
        assert needle in r.err, (needle, r.err[:2000])
    for line in r.err.splitlines():
        assert len(line) <= MAX_LINE, line[:200]
    body = run("--json", *args)
    assert body.code == 2 and "error" in json.loads(body.out)


def test_a_price_at_the_maximum_is_accepted(
    run: Callable[..., Result], write: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ISCHED_PRICE_CACHE", "off")
    prices = write(PRICE_HEADER + "ec2,eu-west-1,t3.large,10000\n", "prices.csv")
    r = run(
        "schedule", "preview", "office-berlin", "--file", SAMPLE, "--from", "2026-11-02", "--to", "2026-11-08",
        "--type", "t3.large", "--region", "eu-west-1", "--prices", prices, "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    savings = r.json()["savings"]
    assert savings["hourly_price"] == 10_000 and savings["estimated_savings"] == savings["stopped_hours"] * 10_000


# -- the alias bomb: refused fast, in little memory -----------------------------------------------------------


def test_alias_bomb_is_refused_in_well_under_a_second_and_bounded_memory(
    run: Callable[..., Result], write: Callable[..., str]
) -> None:
    assert len(ALIAS_BOMB.encode()) < 500
    path = write(ALIAS_BOMB)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        r = run("validate", "--file", path)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.code == 2 and "alias" in r.err
    assert elapsed < 1.0, elapsed
    assert peak < 50 * 1024 * 1024, peak
    assert len(r.err) < 1000


def test_deep_nesting_is_refused_without_recursion(run: Callable[..., Result], write: Callable[..., str]) -> None:
    path = write("[" * 100_000 + "]" * 100_000)
    started = time.perf_counter()
    r = run("validate", "--file", path)
    assert r.code == 2 and f"{MAX_DEPTH} levels" in r.err
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("depth", [MAX_DEPTH - 2, MAX_DEPTH - 1])
def test_nesting_up_to_the_bound_is_still_read(depth: int) -> None:
    assert load_document("[" * depth + "1" + "]" * depth) is not None


def test_aliases_within_the_budget_are_read() -> None:
    """Ordinary reuse (a merge key, a shared list) is far inside the expansion budget."""
    text = (
        'defaults: &d {begintime: "09:00", endtime: "17:00"}\n'
        "days: &w [mon, tue, wed, thu, fri]\n"
        "periods:\n" + "".join(f"  p{i}: {{<<: *d, weekdays: *w}}\n" for i in range(200))
    )
    doc = load_document(text)
    assert doc["periods"]["p199"] == {"begintime": "09:00", "endtime": "17:00", "weekdays": list(doc["days"])}


# -- names, ids and dates: "$" no longer matches before a final newline -------------------------------------


def test_trailing_newline_names_are_not_a_second_item() -> None:
    with pytest.raises(ConfigError) as info:
        parse_text('periods:\n  office: {begintime: "09:00"}\n  "office\\n": {begintime: "10:00"}\n')
    assert [i.path for i in info.value.issues] == ["periods.office\\n"]


@pytest.mark.parametrize(
    "module_attr",
    [
        ("scheduler.aws.session", "is_account_id", "123456789012\n"),
        ("scheduler.aws.session", "is_region", "eu-west-1\n"),
    ],
)
def test_ids_with_a_trailing_newline_are_refused(module_attr: tuple[str, str, str]) -> None:
    import importlib

    module, attr, value = module_attr
    check = getattr(importlib.import_module(module), attr)
    assert check(value.strip()) and not check(value)


def test_no_validation_regex_in_the_package_ends_with_a_bare_dollar() -> None:
    """Names, ids, dates and instants are matched with fullmatch or ``\\Z``: ``$`` also matches before a "\\n"."""
    import re

    root = Path(__file__).resolve().parents[2] / "scheduler"
    offenders = []
    for source in root.rglob("*.py"):
        if source.name == "document.py":  # YAML's implicit type resolvers (plain scalars never end in "\n")
            continue
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
            literal = re.search(r"""re\.compile\(\s*r?(["'])(.*?)\1""", line) or re.search(
                r"""^\s*r(["'])(\^.*?)\1""", line
            )
            if literal and literal.group(2).endswith("$"):
                offenders.append(f"{source.relative_to(root.parent)}:{number}: {line.strip()}")
    assert offenders == []


# -- the JSON emoji round trip (the part that needs no store) ------------------------------------------------


def test_json_surrogate_pair_escapes_read_as_one_character() -> None:
    emoji = "Team 😀 ☕ 𝄞"
    text = json.dumps(
        {"periods": {"office": {"begintime": "09:00", "description": emoji}}, "schedules": {}}
    )  # ensure_ascii: the emoji become "\ud83d\ude00"
    assert "\\ud83d\\ude00" in text
    config = parse_text(text)
    assert config.periods["office"].description == emoji
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()


# -- evaluation at the ends of the accepted range never overflows ---------------------------------------------

EDGE_FILE = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
  overnight: {begintime: "22:00", endtime: "06:00"}
  start-only: {begintime: "07:00"}
  leap-cron: {start: "0 9 29 2 *", stop: "0 17 29 2 *"}
  stop-cron: {stop: "30 23 * * *"}
schedules:
  east: {timezone: Pacific/Kiritimati, periods: [office, overnight, start-only, leap-cron, stop-cron],
         holidays: ["2999-12-31", "1970-01-01"], holiday_calendar: DE-BY}
  west: {timezone: Etc/GMT+12, periods: [office, overnight, start-only, leap-cron, stop-cron], holiday_calendar: US,
         holidays: ["2999-12-31", "1970-01-01"]}
"""


@pytest.mark.parametrize("name", ["east", "west"])
@pytest.mark.parametrize(
    "args",
    [
        ["schedule", "state", "--at", "1970-01-01T00:00:00Z"],
        ["schedule", "state", "--at", "2999-12-31T23:59:59Z"],
        ["schedule", "preview", "--from", "1970-01-01", "--to", "1970-01-07"],
        ["schedule", "preview", "--from", "2999-12-25", "--to", "2999-12-31"],
    ],
    ids=["state-1970", "state-2999", "preview-1970", "preview-2999"],
)
def test_evaluation_at_the_range_ends_does_not_overflow(
    name: str, args: list[str], run: Callable[..., Result], write: Callable[..., str]
) -> None:
    path = write(EDGE_FILE)
    command = [*args[:2], name, *args[2:], "--file", path]
    assert run(*command).code == 0, run(*command).err
    r = run(*command, "--json")
    assert r.code == 0, r.err
    assert "error" not in r.json()


# -- every failure under --json prints {"error": ...} ---------------------------------------------------------


def test_exit_1_failures_print_json_error(run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    from scheduler.cli import schedules

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("evaluator exploded \ud800 " + "y" * 10_000)

    monkeypatch.setattr(schedules.Evaluator, "from_config", broken)
    args = ["schedule", "state", "office-berlin", "--file", SAMPLE, "--at", "2026-01-01T00:00Z"]
    r = run("--json", *args)
    assert r.code == 1
    body = json.loads(r.out)
    assert body["error"].startswith("RuntimeError: evaluator exploded \\ud800")
    assert len(body["error"]) <= 2001
    human = run(*args)
    assert human.code == 1 and human.out == "" and "evaluator exploded" in human.err


def test_usage_errors_print_json_error(run: Callable[..., Result]) -> None:
    r = run("--json", "schedule", "state", "office-berlin")
    assert r.code == 2 and "--at" in json.loads(r.out)["error"]


def test_validate_json_failure_has_error_too(run: Callable[..., Result], write: Callable[..., str]) -> None:
    r = run("validate", "--json", "--file", write(ALIAS_BOMB))
    body = json.loads(r.out)
    assert r.code == 2 and body["valid"] is False and "alias" in body["error"]


# -- the message helpers --------------------------------------------------------------------------------------


def test_quote_is_short_and_printable() -> None:
    assert quote("office") == "'office'"
    long = quote("z" * 1_000_000)
    assert long.startswith("'" + "z" * 60 + "…'") and "1,000,000 characters" in long and len(long) < 100
    assert quote("a\x00\ud800\n") == "'a\\x00\\ud800\\n'"
    nested: list[object] = []
    nested.append(nested)
    assert len(quote(nested)) <= 60 and len(quote([[1] * 1000] * 1000)) == 60
    assert quote(10**4000).startswith("1000")


def test_issues_are_bounded_and_printable() -> None:
    issue = Issue("periods." + "p" * 10_000, "'" + "\ud800" * 10_000 + "'")
    assert len(issue.path) <= 201 and len(issue.message) <= 1001
    str(issue).encode("utf-8")  # no lone surrogate left to fail an encoder


def test_a_file_name_that_is_not_utf8_is_printed_escaped(run: Callable[..., Result], tmp_path: Path) -> None:
    """A non-UTF-8 byte in a file name reaches Python as a lone surrogate; messages escape it instead of crashing."""
    path = tmp_path / "bad\udcff.yaml"
    path.write_text("periods: [", encoding="utf-8")
    r = run("validate", "--file", str(path))
    assert r.code == 2 and "bad\\udcff.yaml" in r.err
    body = json.loads(run("--json", "validate", "--file", str(path)).out)
    assert body["error"] and body["valid"] is False


def test_an_item_at_every_limit_fits_in_dynamodb() -> None:
    """The largest schedule and period the validation accepts stay far below DynamoDB's 400 KB item limit, and
    100 schedules (one apply transaction) below its 4 MB request limit, stored as ConfigStore stores them."""
    from datetime import date, timedelta

    from scheduler.engine.fields import MAX_FIELD_CHARS
    from scheduler.engine.periods import MAX_CRON_CHARS, MAX_DESCRIPTION
    from scheduler.engine.schedule import MAX_HOLIDAYS, MAX_PERIOD_REFS, MAX_USED_BY_CHARS

    description = "😀" * MAX_DESCRIPTION  # the longest JSON escape per character: "\ud83d\ude00"
    names = [f"{i:03d}" + "p" * 61 for i in range(MAX_PERIOD_REFS)]
    itype = "a" * 30 + "." + "b" * 33
    days = [(date(2026, 1, 1) + timedelta(days=i)).isoformat() for i in range(MAX_HOLIDAYS)]

    def longest(item: str) -> str:  # as many copies of item as fit in a field
        return ",".join([item] * (MAX_FIELD_CHARS // (len(item) + 1)))

    cron = "0 9 * * " + ",".join(["1"] * ((MAX_CRON_CHARS - 8) // 2))
    doc = {
        "periods": {
            **{n: {"begintime": "09:00", "description": description} for n in names},
            "window": {
                "begintime": "09:00",
                "endtime": "17:00",
                "weekdays": longest("monday-sunday"),
                "monthdays": longest("10-20/3"),
                "months": longest("january-december"),
                "description": description,
            },
            "cron": {"start": cron, "stop": cron, "description": description},
        },
        "schedules": {
            "s" * 64: {
                "timezone": "America/Argentina/ComodRivadavia",
                "periods": [f"{n}@{itype}" for n in names],
                "description": description,
                "holidays": days,
                "holiday_calendar": "DE-BY",
                "override_status": "running",
                "enforced": True,
            }
        },
    }
    config = parse_text(json.dumps(doc))
    stored = config.to_dict()
    schedule_bytes = len(json.dumps(stored["schedules"]["s" * 64], sort_keys=True))
    period_bytes = max(len(json.dumps(body, sort_keys=True)) for body in stored["periods"].values())
    assert 100 * (schedule_bytes + 200) < 4_000_000, schedule_bytes  # about 30 KB
    assert period_bytes + MAX_USED_BY_CHARS + 1000 < 400_000, period_bytes
    assert 100 * (period_bytes + 200) < 4_000_000
