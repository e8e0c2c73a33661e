"""The report's JSON against its typed model (scheduler/savings/model.py): every key a report has is declared, every
required key is there, and every value has the declared type; plus the reader of a cached coverage answer.

The reports are built by the real code (ledger entries → usages → prices → build_report / reconcile), and checked
after a JSON round trip, as ``isched report --json`` prints them."""

from __future__ import annotations

import json
import types
import typing
from datetime import datetime
from typing import Any, NotRequired, Union, get_args, get_origin, is_typeddict

import pytest

from scheduler.savings.coverage import read_coverage
from scheduler.savings.model import Coverage, Report
from tests.unit.test_render import sample_report
from tests.unit.test_savings import small_report


def problems(value: Any, kind: Any, where: str = "report") -> list[str]:
    """What in ``value`` does not match ``kind`` (a TypedDict, list[...], dict[...], a union or a plain type)."""
    origin = get_origin(kind)
    if origin is NotRequired:
        return problems(value, get_args(kind)[0], where)
    if origin in (Union, types.UnionType):
        options = [problems(value, k, where) for k in get_args(kind)]
        return [] if any(not p for p in options) else min(options, key=len)
    if kind is type(None):
        return [] if value is None else [f"{where}: {value!r} is not null"]
    if is_typeddict(kind):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not an object"]
        hints = typing.get_type_hints(kind)
        out = [f"{where}: missing '{k}'" for k in sorted(kind.__required_keys__) if k not in value]
        out += [f"{where}: undeclared '{k}'" for k in value if k not in hints]
        for k, v in value.items():
            if k in hints:
                out += problems(v, hints[k], f"{where}.{k}")
        return out
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} is not a list"]
        return [p for i, v in enumerate(value) for p in problems(v, get_args(kind)[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not an object"]
        key_kind, value_kind = get_args(kind)
        return [p for k, v in value.items() for p in problems(k, key_kind, where) + problems(v, value_kind, where)]
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not a number"]
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not an integer"]
    return [] if isinstance(value, kind) else [f"{where}: {value!r} is not {kind.__name__}"]


def as_printed(report: Any) -> Any:
    return json.loads(json.dumps(report))


def test_the_checker_finds_what_is_wrong():
    good = as_printed(small_report())
    assert problems(good, Report) == []
    cases = [
        ("currency", None, "report.currency: None is not str"),
        ("totals", [], "report.totals: list is not an object"),
        ("surprise", 1, "report: undeclared 'surprise'"),
    ]
    for key, value, expected in cases:
        bad = dict(good, **{key: value})
        assert expected in problems(bad, Report), key
    missing = {k: v for k, v in good.items() if k != "daily"}
    assert problems(missing, Report) == ["report: missing 'daily'"]
    bad_row = as_printed(small_report())
    bad_row["resources"][0]["stopped_hours"] = "13"
    assert problems(bad_row, Report) == ["report.resources[0].stopped_hours: '13' is not a number"]


@pytest.mark.parametrize(
    ("first", "last", "tag"),
    [("2026-03", None, None), ("2026-01", "2026-03", "Team"), ("2026-02", None, "Team")],
)
def test_built_reports_match_the_model(first, last, tag):
    report = sample_report(first, last, at=datetime.fromisoformat("2026-03-20T12:00:00+00:00"), group_by_tag=tag)
    printed = as_printed(report)
    # The fixture writes Cost Explorer's forecast by hand (without the tag it asked about): not the code's output.
    printed["projection"]["cost_explorer_forecast"] = None
    assert problems(printed, Report) == []
    assert ("months" in printed) == (last is not None)
    assert ("by_tag" in printed) == (tag is not None)


def test_the_model_declares_the_documented_top_level_keys():
    documented = {
        "month", "currency", "at", "from", "to", "resources", "totals", "by_schedule", "by_account", "by_service",
        "by_tag", "daily", "months", "cumulative", "unpriced", "actual", "projection", "notes", "accounts",
        "reconciliation", "commitment_coverage", "ce_requests", "pricing_api_requests", "ledger_months_read",
        "from_month", "to_month",
    }  # fmt: skip
    assert set(typing.get_type_hints(Report)) == documented


COVERAGE = {
    "available": True,
    "reservations": {"ec2|eu-west-1|m5.large": 40.0},
    "savings_plans": {"eu-west-1|m5": 12.5},
    "answered": {"ec2": True, "rds": True, "savings_plans": True},
    "notes": [],
}


@pytest.mark.parametrize(
    ("cached", "expected"),
    [
        (COVERAGE, {**COVERAGE}),
        (
            {**COVERAGE, "reservations": {"ec2|*|t3.micro": 5, "bad": "x"}},
            {**COVERAGE, "reservations": {"ec2|*|t3.micro": 5.0}},
        ),
        (
            {**COVERAGE, "notes": ["a note"], "answered": {"ec2": True}},
            {**COVERAGE, "notes": ["a note"], "answered": {"ec2": True, "rds": False, "savings_plans": False}},
        ),
        (None, None),
        ([COVERAGE], None),
        ("coverage", None),
        ({**COVERAGE, "answered": None}, None),
        ({**COVERAGE, "savings_plans": []}, None),
    ],
)
def test_a_cached_coverage_answer_is_read_back_typed(cached, expected):
    got = read_coverage(cached)
    assert got == expected
    if got is not None:
        assert problems(as_printed(got), Coverage, "coverage") == []
