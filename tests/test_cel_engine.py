"""The CEL engine: typed compile errors, result conversion, and a guard against a cel-expr-python bug."""

from __future__ import annotations

import gc
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedrender.cel.engine import CompileError, Environment, EvalError, Expr, message_value
from fedrender.cel.types import TypeRegistry


@pytest.fixture(scope="module")
def env() -> Environment:
    return Environment(TypeRegistry(), {"b": "bool", "m": "map(string, dyn)", "xs": "list(int)"})


def test_results_are_plain_python(env: Environment) -> None:
    program = env.compile(Expr("{'a': [1, null, {'c': null}], 'b': b ? 'x' : 'y', 'd': 2.5}"))
    assert program.eval({"b": True, "m": {}, "xs": []}) == {"a": [1, None, {"c": None}], "b": "x", "d": 2.5}


def test_converting_nulls_leaves_none_alone(env: Environment) -> None:
    """cel-expr-python 0.1.3 loses a reference to None per null it converts; Python 3.11 then aborts.

    10,000 nulls through the engine must not move None's reference count by more than noise."""
    program = env.compile(Expr("[null, {'k': null}, b ? dyn(1) : null, m.x]"))
    data = {"b": False, "m": {"x": None}, "xs": []}
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(10_000):
        assert program.eval(data) == [None, {"k": None}, None, None]
    gc.collect()
    assert abs(sys.getrefcount(None) - before) < 200


def test_compile_errors_carry_the_position(env: Environment) -> None:
    with pytest.raises(CompileError) as info:
        env.compile(Expr("xs.size() + 'a'", file="f.yaml", rule="r"))
    (diagnostic,) = info.value.diagnostics
    assert "found no matching overload for '_+_' applied to '(int, string)'" in diagnostic.message
    assert diagnostic.caret_col == 11


def test_result_types_are_checked(env: Environment) -> None:
    with pytest.raises(CompileError, match="expression must evaluate to int, not bool"):
        env.compile(Expr("b"), expect="int")
    assert env.compile(Expr("m.x"), expect="int")  # dyn is accepted and checked when evaluated


def test_evaluation_errors_name_the_rule_and_subject(env: Environment) -> None:
    program = env.compile(Expr("xs[3] > 0", file="pack.yaml", line=7, col=9, rule="has-room"))
    with pytest.raises(EvalError, match=r"pack.yaml:7:9: rule 'has-room' failed for team/db: .*"):
        program.eval({"b": True, "m": {}, "xs": [1]}, "team/db")


def test_nesting_is_bounded(env: Environment) -> None:
    deep = "xs.all(a, xs.all(b, xs.all(c, xs.all(d, a + b + c + d > 0))))"
    too_deep = r"comprehensions \(all, exists, map, filter, \.\.\.\) nested deeper than 3"
    with pytest.raises(CompileError, match=too_deep) as info:
        env.compile(Expr(deep))
    assert info.value.diagnostics[0].caret_col == deep.index("xs.all(d") + len("xs.all(")
    env.compile(Expr("xs.all(a, xs.all(b, xs.exists(c, a + b + c > 0)))"))
    with pytest.raises(CompileError, match="nesting deeper than 32 brackets"):
        env.compile(Expr("(" * 33 + "1" + ")" * 33))
    env.compile(Expr("'((((((((((((((((((((((((((((((((((' != ''"))  # brackets in strings don't count


def test_a_slow_evaluation_fails_with_the_rule_and_subject(env: Environment, monkeypatch: pytest.MonkeyPatch) -> None:
    import fedrender.cel.engine as engine

    monkeypatch.setattr(engine, "EVAL_BUDGET_SECONDS", 0.0)
    program = env.compile(Expr("xs.map(x, x * 2).size() > 0", file="pack.yaml", line=4, col=7, rule="slow"))
    with pytest.raises(EvalError, match=r"pack.yaml:4:7: rule 'slow' failed for team/db: took \d+ ms, over the budget"):
        program.eval({"b": True, "m": {}, "xs": list(range(1000))}, "team/db")


TERM = {"type": "object", "properties": {
    "weight": {"type": "integer"}, "seconds": {"type": "integer"}, "ratio": {"type": "number"},
    "key": {"type": "string"}, "free": {}, "labels": {"type": "object", "additionalProperties": {"type": "integer"}},
    "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}}}}}}


@pytest.fixture(scope="module")
def typed() -> tuple[TypeRegistry, str]:
    registry = TypeRegistry()
    return registry, registry.add("Term", TERM)


@settings(deadline=None, max_examples=200)
@given(weight=st.integers(-(2**63), 2**63 - 1), seconds=st.integers(0, 2**40), n=st.integers(-5, 5),
       free=st.recursive(st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=3),
                         lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner,
                                                                                     max_size=2), max_leaves=5))
def test_messages_become_the_json_they_came_from(typed: tuple[TypeRegistry, str], weight: int, seconds: int, n: int,
                                                  free: object) -> None:
    """An input's 64-bit integers come back as numbers (proto3's JSON mapping would write "50", which the API
    server refuses for an affinity weight or tolerationSeconds), free-form values as written, through ``dyn``."""
    registry, name = typed
    data = {"weight": weight, "seconds": seconds, "ratio": 0.5, "key": "k", "free": free, "labels": {"a": n},
            "items": [{"n": n}]}
    env = Environment(registry, {"t": name})
    assert env.compile(Expr("dyn(t)")).eval({"t": registry.message(name, data)}) == data
    assert message_value(registry.message(name, data))["weight"] == weight
