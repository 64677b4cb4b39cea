"""The CEL engine: typed compile errors, result conversion, and a guard against a cel-expr-python bug."""

from __future__ import annotations

import gc
import sys

import pytest

from fedrender.cel.engine import CompileError, Environment, EvalError, Expr
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
