"""apply's transactions, without DynamoDB: every chunk's conditions, and the invariant after every chunk.

The planner simulates each item's state; here the chunks are replayed against a table held in a dict, checking that
each action's expected state is the state the table really has (what DynamoDB's condition would check), and that
after every chunk every schedule's periods exist and each period's used_by is exactly the schedules naming it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pynamodb.expressions.condition import Condition

from scheduler.store.config import _clip, _label
from scheduler.store.config_plan import TRANSACTION_LIMIT, Planner, StoredItem, period_names
from scheduler.store.config_writes import state_as

Key = tuple[str, str]


def _body(i: int) -> dict[str, Any]:
    return {"begintime": f"{i % 24:02d}:00"}


def _stored(periods: dict[str, int], schedules: dict[str, list[str]]) -> dict[Key, StoredItem]:
    """A consistent stored table: periods with bodies, schedules naming them, used_by in step."""
    table: dict[Key, StoredItem] = {}
    for name, variant in periods.items():
        users = {s for s, refs in schedules.items() if name in refs}
        table[("period", name)] = StoredItem("period", name, _body(variant), 1, users, f"r-{name}", None)
    for name, refs in schedules.items():
        table[("schedule", name)] = StoredItem("schedule", name, {"periods": refs}, 1, rev=f"r-{name}")
    return table


def _violations(table: dict[Key, StoredItem]) -> list[str]:
    periods = {n: i for (k, n), i in table.items() if k == "period"}
    schedules = {n: i for (k, n), i in table.items() if k == "schedule"}
    out = [f"{s} names missing {p}" for s, i in schedules.items() for p in period_names(i.body) if p not in periods]
    for p, item in periods.items():
        naming = {s for s, i in schedules.items() if p in period_names(i.body)}
        if item.used_by != naming:
            out.append(f"{p}: used_by {sorted(item.used_by)} != {sorted(naming)}")
    return out


def _replay(table: dict[Key, StoredItem], chunks: list[Any], check_each: bool) -> None:
    for chunk in chunks:
        assert 0 < len(chunk.entries) <= TRANSACTION_LIMIT
        for key, entry in chunk.entries.items():
            # The condition of every action holds on an untouched table: the simulation is exact.
            assert table.get(key) == entry.before, key
            if entry.write and entry.before is not None and entry.after is not None and key[0] == "period":
                if entry.after.used_by != entry.before.used_by:
                    assert entry.after.refs_rev != entry.before.refs_rev  # others relying on used_by notice
                if entry.after.body != entry.before.body:
                    assert entry.after.rev != entry.before.rev and entry.after.version == entry.before.version + 1
        for key, entry in chunk.entries.items():
            if entry.write:
                if entry.after is None:
                    del table[key]
                else:
                    table[key] = entry.after
        if check_each:
            assert _violations(table) == []


def _plan(table: dict[Key, StoredItem], want_p: dict[str, int], want_s: dict[str, list[str]], prune: bool) -> Any:
    stored_p = {n: i for (k, n), i in table.items() if k == "period"}
    stored_s = {n: i for (k, n), i in table.items() if k == "schedule"}
    wp = {n: _body(v) for n, v in want_p.items()}
    ws = {n: {"periods": refs} for n, refs in want_s.items()}
    return Planner(stored_p, stored_s, wp, ws, prune).build()


@st.composite
def configs(draw: Any, size: int = 8, least: int = 0) -> tuple[dict[str, int], dict[str, list[str]]]:
    names_p = st.sampled_from([f"p{i}" for i in range(size * 3 // 2)])
    periods = draw(st.dictionaries(names_p, st.integers(0, 2), min_size=least, max_size=size))
    if not periods:
        return periods, {}
    refs = st.lists(st.sampled_from(sorted(periods)), min_size=1, max_size=3, unique=True)
    names_s = st.sampled_from([f"s{i}" for i in range(size * 3 // 2)])
    schedules = draw(st.dictionaries(names_s, refs, min_size=least, max_size=size))
    return periods, schedules


@settings(max_examples=300, deadline=None)
@given(configs(), configs(), st.booleans())
def test_every_chunk_is_conditional_on_exact_state_and_keeps_the_invariant(stored, wanted, prune):
    _check_plan(stored, wanted, prune)


@settings(max_examples=15, deadline=None)
@given(configs(size=80, least=60), configs(size=80, least=60), st.booleans())
def test_the_same_holds_across_chunks(stored, wanted, prune):
    _check_plan(stored, wanted, prune)


Shape = tuple[dict[str, int], dict[str, list[str]]]


def _check_plan(stored: Shape, wanted: Shape, prune: bool) -> int:
    """Checks apply's chunks for a stored table and a file; returns the number of chunks."""
    table = _stored(*stored)
    want_p, want_s = wanted
    if not prune:  # a file is valid on its own; without --prune stored periods count as defined too
        want_s = {s: [p for p in refs if p in want_p or p in stored[0]] or [] for s, refs in want_s.items()}
        want_s = {s: refs for s, refs in want_s.items() if refs}
    plan, chunks = _plan(table, want_p, want_s, prune)
    _replay(table, chunks, check_each=True)
    periods = {n: i.body for (k, n), i in table.items() if k == "period"}
    schedules = {n: i.body for (k, n), i in table.items() if k == "schedule"}
    expect_p = {n: _body(v) for n, v in want_p.items()}
    expect_s = {n: {"periods": r} for n, r in want_s.items()}
    if prune:
        assert periods == expect_p and schedules == expect_s
    else:
        assert {n: periods[n] for n in expect_p} == expect_p and {n: schedules[n] for n in expect_s} == expect_s
        assert set(periods) >= {n for (k, n) in _stored(*stored) if k == "period"}
    assert plan.writes == sum(c.writes for c in chunks)
    # Applying the same again changes nothing.
    again, _ = _plan(table, want_p, want_s, prune)
    assert again.writes == 0 and again.created == again.updated == again.deleted == []
    return len(chunks)


def test_large_applies_are_chunked_with_each_schedule_beside_its_periods():
    want_p = {f"p{i}": i for i in range(150)}
    want_s = {f"s{i}": [f"p{i}", "p0"] for i in range(150)}  # p0 is used by every schedule
    table: dict[Key, StoredItem] = {}
    plan, chunks = _plan(table, want_p, want_s, prune=False)
    assert plan.transactions == len(chunks) >= 3
    _replay(table, chunks, check_each=True)
    assert len(table[("period", "p0")].used_by) == 150
    # And pruning nearly all of it is chunked the same way: schedules before the periods they name.
    plan, chunks = _plan(table, {"p0": 0}, {"s0": ["p0"]}, prune=True)
    assert len(plan.deleted) == 298 and len(chunks) >= 3
    _replay(table, chunks, check_each=True)
    assert set(table) == {("period", "p0"), ("schedule", "s0")}


def test_unchanged_items_of_the_file_are_checked_and_kept_periods_must_exist():
    table = _stored({"p": 0, "q": 0, "r": 0}, {"s": ["p"], "t": ["r"]})
    _, chunks = _plan(table, {"p": 0, "q": 0}, {"s": ["p"], "u": ["q"]}, prune=False)
    (chunk,) = chunks
    kinds = {key: ("write" if e.write else e.check) for key, e in chunk.entries.items()}
    assert kinds == {
        ("schedule", "u"): "write",
        ("period", "q"): "write",  # its used_by gains u
        ("period", "p"): "body",  # in the file, unchanged: still as read at commit
        ("schedule", "s"): "body",
    }


def test_damage_from_before_is_repaired():
    table = _stored({"p": 0, "q": 0}, {"s": ["p"]})
    table[("period", "q")] = StoredItem("period", "q", _body(0), 1, {"ghost"}, "r-q", None)  # used by nothing
    table[("schedule", "t")] = StoredItem("schedule", "t", {"periods": ["gone"]}, 1, rev="r-t")  # names nothing
    plan, chunks = _plan(table, {"gone": 1}, {}, prune=False)
    assert plan.created == ["period gone"]
    created = chunks[0].entries[("period", "gone")].after
    assert created is not None and created.used_by == {"t"}
    assert chunks[0].entries[("schedule", "t")].check == "body"  # still naming it at commit
    _replay(table, chunks, check_each=False)
    assert _violations(table) == []


def _expression(condition: Condition) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A condition as DynamoDB receives it: the expression with attribute names put back, and its values."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    text = condition.serialize(names, values)
    for name, placeholder in names.items():
        text = text.replace(placeholder, name)
    return text, names, values


def test_conditions_state_what_was_read():
    tokens = StoredItem("period", "p", {}, 3, {"s"}, "abc", "def")
    text, _, values = _expression(state_as(tokens))
    assert text == "(rev = :0 AND refs_rev = :1)"
    assert values == {":0": {"S": "abc"}, ":1": {"S": "def"}}
    legacy = StoredItem("period", "p", {}, 3)  # written before tokens existed
    text, _, values = _expression(state_as(legacy))
    assert text == "((attribute_not_exists (rev) AND version = :0) AND attribute_not_exists (refs_rev))"
    assert values == {":0": {"N": "3"}}
    assert _expression(state_as(None))[0] == "attribute_not_exists (kind)"
    assert _expression(state_as(StoredItem("schedule", "s", {}, 0)))[0] == (
        "(attribute_not_exists (rev) AND attribute_not_exists (version))"
    )


def test_period_names_read_every_form_a_stored_schedule_can_have():
    assert period_names({"periods": ["office@t3.large", " late "]}) == {"office", "late"}
    assert period_names({"periods": "office, late@t3.small"}) == {"office", "late"}
    assert period_names({"periods": None}) == set() and period_names({"periods": 7}) == set()
    assert period_names(["not", "a", "schedule"]) == set()


def test_messages_quote_short_prefixes():
    long = "x" * 5000
    assert _clip(f"weekdays: '{long}' is not a weekday") == f"weekdays: '{'x' * 40}…' is not a weekday"
    assert len(_clip("y" * 5000)) == 400
    assert _label("office") == "office"
    assert _label("bad\nname") == "bad\\nname"
    assert _label("z" * 300) == "z" * 63 + "…"
