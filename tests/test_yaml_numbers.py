"""Plain YAML scalars are numbers where Kubernetes reads numbers (sigs.k8s.io/yaml: go-yaml v2), in every input
(the loader is shared): ``10:00`` is the string "10:00" there, not PyYAML's base-60 600, so an integer setting
refuses it as kubectl would; ``0x258`` and ``6_00`` are 600 in both."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedrender.models.diagnostics import InputError
from fedrender.models.source import load_text
from tests.refusal import mongodb, sandbox
from tests.sandbox import picture

PURE = settings(deadline=None, max_examples=300)

# go-yaml v2 resolve.go, read for these cases: strip '_', strconv.ParseInt(s, 0, 64), ParseUint, the float
# pattern ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$, else a string.
# Deliberately not followed: what go-yaml reads as a float but PyYAML as a string (1e3, 09) stays a string, so
# that an integer field refuses it and a quantity reads it as Kubernetes' quantity grammar does.
GO_YAML_V2: list[tuple[str, Any]] = [
    ("600", 600), ("0x258", 600), ("0X258", 600), ("6_00", 600), ("0o1130", 600), ("0b1001011000", 600),
    ("01130", 600), ("+600", 600), ("-600", -600), ("-0x258", -600), ("0", 0), ("-0", 0),
    ("10:00", "10:00"), ("1:30.5", "1:30.5"), ("190:20:30", "190:20:30"), ("-10:00", "-10:00"),
    ("5.", 5.0), (".5", 0.5), ("1_0.5", 10.5), ("1.0", 1.0), ("-2.0", -2.0), ("0.0", 0.0), ("1.0e+3", 1000.0),
    ("1e3", "1e3"), ("09", "09"), ("0x", "0x"), ("0xg", "0xg"), ("1.2.3", "1.2.3"), ("08:00", "08:00"), ("+", "+"),
    ("1-2", "1-2"), ("2001-12-14", "2001-12-14"), ("600s", "600s"), ("0o8", "0o8"), ("0b2", "0b2"),
]


def _value(scalar: str) -> Any:
    return load_text(f"v: {scalar}\n", "x.yaml")[0].data["v"]


@pytest.mark.parametrize(("scalar", "expected"), GO_YAML_V2)
def test_a_plain_scalar_is_what_kubectl_reads(scalar: str, expected: Any) -> None:
    value = _value(scalar)
    assert (type(value), value) == (type(expected), expected)


@PURE
@given(n=st.integers(0, 2**63 - 1), sign=st.sampled_from(["", "+", "-"]),
       form=st.sampled_from(["{:d}", "0x{:x}", "0X{:X}", "0o{:o}", "0{:o}", "0b{:b}"]), underscore=st.integers(0, 5))
def test_every_go_integer_literal_is_its_integer(n: int, sign: str, form: str, underscore: int) -> None:
    text = form.format(n)
    if form == "0{:o}" and n == 0:
        text = "0"
    cut = min(underscore, len(text))
    text = text[:cut] + "_" + text[cut:] if underscore and len(text) > 2 else text
    expected = -n if sign == "-" else n
    assert _value(sign + text) == expected


@PURE
@given(parts=st.lists(st.integers(0, 59), min_size=1, max_size=3), head=st.integers(1, 10**6),
       fraction=st.sampled_from(["", ".", ".5"]), sign=st.sampled_from(["", "+", "-"]))
def test_a_base_60_number_is_a_string(parts: list[int], head: int, fraction: str, sign: str) -> None:
    """YAML 1.1's sexagesimal ints and floats (PyYAML reads them as numbers); go-yaml v2 never did."""
    text = sign + str(head) + "".join(f":{p:02d}" for p in parts) + fraction
    assert _value(text) == text


@pytest.mark.parametrize("tagged", ["!!int 10:00", "!!int 1.5", "!!float 1:30"])
def test_a_tag_kubectl_would_not_read_is_refused_at_its_line(tagged: str) -> None:
    with pytest.raises(InputError) as refused:
        load_text(f"a: 1\nv: {tagged}\n", "x.yaml")
    diagnostic = refused.value.diagnostics[0]
    assert diagnostic.location is not None
    assert (diagnostic.location.line, diagnostic.field_path) == (2, "v")


@pytest.mark.parametrize(("scalar", "refused"), [("10:00", True), ("0x258", False), ("6_00", False),
                                                 ("0o1130", False), ("6e2", True), ("600.0", True)])
def test_an_integer_setting_takes_what_kubectl_reads_as_one(scalar: str, refused: bool) -> None:
    with sandbox() as box:
        overlay = box.write("overlay/settings.yaml",
                            text=f"values:\n  mongodb:\n    terminationGracePeriodSeconds: {scalar}\n")
        spec = box.write("spec.yaml", mongodb())
        before = picture(box.root)
        result = box.render(spec, "--overlay", str(overlay.parent))
        if refused:
            box.assert_refused(result, before, overlay, "values.mongodb.terminationGracePeriodSeconds: expected an "
                               "integer")
        else:
            assert result.exit_code == 0, result.stderr
            statefulset = box.out / "instances" / "team-a" / "orders" / "statefulset-orders.yaml"
            assert "terminationGracePeriodSeconds: 600" in statefulset.read_text()
