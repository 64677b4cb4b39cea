"""The CEL helper library (fedrender.cel.functions): quantities and lists, through the engine."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedrender.cel.engine import Environment, EvalError, Expr
from fedrender.cel.functions import format_quantity
from fedrender.cel.types import TypeRegistry
from fedrender.models.quantity import parse_quantity

ENV = Environment(TypeRegistry(), {"xs": "list(int)", "s": "string"})


def cel(expression: str, **data: Any) -> Any:
    return ENV.compile(Expr(expression)).eval({"xs": [], "s": "", **data})


@pytest.mark.parametrize(("expression", "expected"), [
    ('isQuantity("500m")', True),
    ('isQuantity("1 Gi")', False),
    ('isQuantity("1KB")', False),
    ('quantity("0.5Gi")', "512Mi"),
    ('quantity("1000")', "1k"),
    ('quantity("0.25")', "250m"),
    ('"1Gi".quantityAdd("512Mi")', "1536Mi"),
    ('"500m".quantityAdd("1")', "1500m"),
    ('"1k".quantitySub("1500")', "-500"),
    ('"1Gi".quantityTimes(3)', "3Gi"),
    ('"2Gi".quantityCompareTo("2048Mi")', 0),
    ('"2Gi".quantityIsGreaterThan("2000Mi")', True),
    ('"100m".quantityIsLessThan("0.1")', False),
    ('"3".quantityAsInteger()', 3),
    ('"1.5".quantityMilli()', 1500),
    ('"1n".quantityMilli()', 1),  # rounds up, as Kubernetes' MilliValue does
    ('normalizedImage("mongo:7.0")', "docker.io/library/mongo:7.0"),
    ('normalizedImage("percona/x:1")', "docker.io/percona/x:1"),
    ('normalizedImage("harbor.example.com/x/mongo")', "harbor.example.com/x/mongo"),
    ('imageTag("mongo:7.0.14-jammy")', "7.0.14-jammy"),
    ('imageTag("localhost:5000/mongo")', ""),
    ('imageTag("harbor.example.com:443/library/mongo:8.0@sha256:' + "a" * 64 + '")', "8.0"),
    ('imageTag("mongo@sha256:' + "a" * 64 + '")', ""),
    ('imageTag("not an image")', ""),
    ('versionMajorMinor("7.0.14-jammy")', "7.0"),
    ('versionMajorMinor("8.0")', "8.0"),
    ('versionMajorMinor("10.12.1")', "10.12"),
    ('versionMajorMinor("8")', ""),
    ('versionMajorMinor("latest")', ""),
    ('versionMajorMinor("7.05")', ""),
    ('versionMajorMinor(imageTag("docker.io/library/mongo:6.0.19"))', "6.0"),
    ('["100m", "250m", "1"].quantitySum()', "1350m"),
    ('["1Gi", "512Mi"].quantitySum()', "1536Mi"),
    ("[].quantitySum()", "0"),
    ("[4, 1, 3].sum()", 8),
    ("[4, 1, 3].min()", 1),
    ("[4, 1, 3].max()", 4),
    ("[1, 2, 2].isSorted()", True),
    ('["b", "a"].isSorted()', False),
])
def test_helpers(expression: str, expected: Any) -> None:
    assert cel(expression) == expected


@pytest.mark.parametrize(("expression", "problem"), [
    ('quantity("ten")', "'ten'"),
    ('"1500m".quantityAsInteger()', "not a whole number"),
    ("xs.min()", "empty list"),
])
def test_helper_errors_name_the_rule(expression: str, problem: str) -> None:
    program = ENV.compile(Expr(expression, file="pack.yaml", line=3, col=5, rule="r"))
    with pytest.raises(EvalError, match=rf"pack.yaml:3:5: rule 'r' failed for x: .*{problem}"):
        program.eval({"xs": [], "s": ""}, "x")


def test_helpers_are_type_checked() -> None:
    from fedrender.cel.engine import CompileError

    with pytest.raises(CompileError, match="no matching overload for 'quantityAdd'"):
        ENV.compile(Expr('"1".quantityAdd(2)'))


@given(st.fractions(min_value=-(10**12), max_value=10**12, max_denominator=10**9), st.booleans())
def test_format_quantity_round_trips(value: Fraction, binary: bool) -> None:
    text = format_quantity(value, binary)
    parsed = parse_quantity(text)
    if (value * 10**9).denominator == 1:
        assert parsed == value
    else:  # rounded away from zero to a whole nanounit, as Kubernetes does
        assert abs(parsed) > abs(value)
        assert abs(parsed - value) < Fraction(1, 10**9)


@given(st.integers(0, 9999), st.integers(0, 9999), st.integers(0, 99),
       st.sampled_from(["", "-jammy", "-rc1", "-ubi8"]))
def test_version_major_minor_reads_any_release_tag(major: int, minor: int, patch: int, suffix: str) -> None:
    assert cel(f'versionMajorMinor(imageTag("mongo:{major}.{minor}.{patch}{suffix}"))') == f"{major}.{minor}"
