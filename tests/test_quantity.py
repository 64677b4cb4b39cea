"""Tests for Kubernetes quantity parsing (k8s.io/apimachinery/pkg/api/resource semantics)."""

from __future__ import annotations

import dataclasses
import math
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedrender.models.quantity import Quantity, QuantityError, floor_div, parse_quantity

# No deadline: big-integer examples vary in speed on shared CI runners.
SETTINGS = settings(deadline=None, max_examples=300)

F = Fraction
NANO = F(1, 10**9)
CAP = 2**63 - 1
BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {
    "n": F(1, 10**9), "u": F(1, 10**6), "m": F(1, 10**3), "": F(1), "k": F(10**3),
    "M": F(10**6), "G": F(10**9), "T": F(10**12), "P": F(10**15), "E": F(10**18),
}  # fmt: skip
EXPECTED_FORM = "expected <sign><number><suffix>"


def nano_ceil(value: Fraction) -> Fraction:
    """Round away from zero to a whole nano, as ParseQuantity does."""
    return (1 if value >= 0 else -1) * F(math.ceil(abs(value) / NANO)) * NANO


def go_accepts(text: str) -> bool:
    """Port of apimachinery parseQuantityString + suffixHandler.interpret (accept/reject only)."""
    digits = "0123456789"
    if text == "":
        return False
    pos, end = (1 if text[0] in "+-" else 0), len(text)
    while pos < end and text[pos] == "0":
        pos += 1
    while pos < end and text[pos] in digits:
        pos += 1
    if pos < end and text[pos] == ".":
        pos += 1
        while pos < end and text[pos] in digits:
            pos += 1
    start = pos
    while pos < end and text[pos] in "eEinumkKMGTP":
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in digits:
        pos += 1
    if pos < end:
        return False  # ErrFormatWrong
    suffix = text[start:]
    if suffix in DECIMAL or suffix in BINARY:
        return True
    if len(suffix) > 1 and suffix[0] in "eE":  # strconv.ParseInt(suffix[1:], 10, 64)
        return re.fullmatch(r"[+-]?[0-9]+", suffix[1:]) is not None and (-(2**63) <= exponent_int(suffix[1:]) < 2**63)
    return False  # ErrSuffix


def exponent_int(text: str) -> int:
    """int() of a signed digit string, immune to Python's 4300-digit conversion limit."""
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 30:
        return -(2**100) if text[0] == "-" else 2**100
    return -int(digits or "0") if text[0] == "-" else int(digits or "0")


def expected_value(text: str) -> Fraction | None:
    """Fraction-based value of a Go-accepted quantity; None where this module reports a range error."""
    match = re.fullmatch(r"([+-]?[0-9]*\.?[0-9]*)(.*)", text)
    assert match is not None
    number, suffix = F(match.group(1)), match.group(2)
    if suffix in BINARY:
        return max(-CAP, min(CAP, nano_ceil(number * BINARY[suffix])))
    if suffix in DECIMAL:
        value = number * DECIMAL[suffix]
    else:
        exponent = exponent_int(suffix[1:])
        if abs(exponent) >= 2**31:
            return None  # Go truncates the exponent to int32
        if abs(exponent) > 5000 and number:  # far below one nano, or far above 1e1000
            return (1 if number > 0 else -1) * NANO if exponent < 0 else None
        value = number * F(10) ** exponent if number else F(0)
    return None if abs(value) >= 10**1001 else nano_ceil(value)


VALID = [
    # every suffix
    ("1n", NANO), ("1u", F(1, 10**6)), ("1m", F(1, 1000)), ("1", F(1)), ("1k", F(1000)),
    ("1M", F(10**6)), ("1G", F(10**9)), ("1T", F(10**12)), ("1P", F(10**15)),
    ("1E", F(10**18)), ("1Ki", F(1024)), ("1Mi", F(2**20)), ("1Gi", F(2**30)),
    ("1Ti", F(2**40)), ("1Pi", F(2**50)), ("1Ei", F(2**60)), ("3Ei", F(3 * 2**60)),
    ("12E", F(12 * 10**18)),  # decimal SI is not capped
    # exponents
    ("1e3", F(1000)), ("1E3", F(1000)), ("12E-2", F(12, 100)), ("1e+3", F(1000)),
    ("1E-3", F(1, 1000)), ("1e0", F(1)), ("1e-0", F(1)), ("1e03", F(1000)),
    ("0.5e-1", F(1, 20)), ("1.2e3", F(1200)), ("1.3E+6", F(1_300_000)),
    ("1.7E18", F(17 * 10**17)), ("1e30", F(10**30)), ("1e-9", NANO), ("5.e2", F(500)),
    (".5e1", F(5)), ("1e1000", F(10**1000)), ("1e000000000000000000003", F(1000)),
    ("1e" + "0" * 5000 + "1", F(10)), ("1e-2147483647", NANO), ("1e+" + "0" * 5000, F(1)),
    # signs
    ("+1", F(1)), ("-1", F(-1)), ("-1e3", F(-1000)), ("+1E-3", F(1, 1000)),
    ("-1.5Gi", F(-3 * 2**29)), ("+0.5Mi", F(2**19)), ("-0", F(0)), ("+0", F(0)),
    ("-0.0", F(0)), ("-500m", F(-1, 2)),
    # fraction forms
    (".5", F(1, 2)), ("5.", F(5)), ("0.5Gi", F(2**29)), ("1.", F(1)), ("1.G", F(10**9)),
    (".001", F(1, 1000)), (".0001k", F(1, 10)), ("100.035k", F(100_035)),
    ("100.035Ki", F(100_035 * 1024, 1000)), ("0.025Ti", F(25 * 2**40, 1000)),
    ("10.035M", F(10_035_000)), ("6.987654321G", F(6_987_654_321)), ("007", F(7)),
    ("00.50", F(1, 2)), ("0", F(0)), ("000", F(0)), ("0Ki", F(0)), ("0n", F(0)),
    ("0e5", F(0)), ("0.0e-2147483647", F(0)),
    # sub-nano values round away from zero (ParseQuantity uses inf.RoundUp)
    ("3.001n", 4 * NANO), ("-3.001n", -4 * NANO), ("1.1E-9", 2 * NANO),
    ("0.0000000001", NANO), ("0.0000000005", NANO), ("0.5e-9", NANO), ("0.9n", NANO),
    ("0.00000012345", 124 * NANO), ("0.00000012354", 124 * NANO),
    ("0.000000000001Ki", 2 * NANO), ("1e-40", NANO), ("-1e-2147483647", -NANO),
    ("0." + "0" * 5000 + "1", NANO), ("1." + "0" * 5000 + "1", 1 + NANO),
    ("0." + "0" * 26 + "1Ei", 2 * NANO), ("0." + "0" * 27 + "1Ei", NANO),  # 2**60 * 1e-27, 1e-28
    # binary SI is capped at 2**63-1 like ParseQuantity
    ("9Ei", F(CAP)), ("-9Ei", F(-CAP)), ("8Ei", F(CAP)), ("9223372036854775807Ki", F(CAP)),
    ("1" + "0" * 2000 + "Ki", F(CAP)), ("7.5Ei", F(15 * 2**59)),
]  # fmt: skip

INVALID = [
    "", " ", " 1", "1 ", "1\n", "\t1", "1.2.3", "1.1.M", "1+1.0M", "1KB", "1 Gi", "Ki", "Mi",
    "m", "k", "E", "+", "-", ".", "+.", "-.", "e3", ".e3", "1e", "1E+", "1e-", "-3.01e-",
    "1e1.5", "1e3Ki", "1Ki3", "1K", "1ki", "1mi", "1i", ".5i", "-3.01i", "0.1am", "aoeu",
    "1e3e3", "1Ee3", "1ke3", "++1", "+-1", "1-", "1+", "0x10", "1_000", "1,5", "1/2", "NaN",
    "inf", "-inf", "\uff11", "\u0661", "1\uff2b\u0069", "1e99999999999999999999",
    "1e2147483648", "1e-2147483648", "1e1001", "1" + "0" * 1001, "1e+2147483647",
    "1e" + "9" * 5000, "1e-" + "1" * 5000,
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_strings(text: str, expected: Fraction) -> None:
    assert go_accepts(text)
    assert parse_quantity(text) == expected
    assert Quantity.parse(text).value == expected


@pytest.mark.parametrize("text", INVALID)
def test_invalid_strings(text: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    assert repr(text) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("text", ["", "1.2.3", "1KB", "1 Gi", "Ki", "1e"])
def test_error_message_states_expected_form(text: str) -> None:
    with pytest.raises(QuantityError, match=re.escape(EXPECTED_FORM)) as info:
        parse_quantity(text)
    assert f"invalid quantity {text!r}" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e2147483648", "exponent"), ("1e-2147483648", "exponent"),
        ("1e99999999999999999999", "exponent"), ("1e1001", "magnitude"),
        ("1e+2147483647", "magnitude"), ("-1" + "0" * 1001, "magnitude"),
    ],
)  # fmt: skip
def test_range_errors(text: str, message: str) -> None:
    with pytest.raises(QuantityError, match=message):
        parse_quantity(text)


@pytest.mark.parametrize(
    "value",
    [True, False, float("nan"), float("inf"), float("-inf"), None, Decimal(1), F(1), b"1", [1]],
)
def test_rejects_non_quantity_values(value: object) -> None:
    with pytest.raises(QuantityError, match=re.escape(repr(value))):
        parse_quantity(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, F(0)), (5, F(5)), (-5, F(-5)), (10**30, F(10**30)), (2**64, F(2**64)),
        (0.5, F(1, 2)), (0.1, F(1, 10)), (-2.5, F(-5, 2)), (1e-07, F(1, 10**7)),
        (1e16, F(10**16)), (0.0, F(0)), (-0.0, F(0)), (1e-10, NANO), (5e-324, NANO),
        (1.5e300, F(15 * 10**299)),
    ],
)  # fmt: skip
def test_numbers(value: int | float, expected: Fraction) -> None:
    assert parse_quantity(value) == expected
    assert Quantity.parse(value) == Quantity(expected, str(value))
    assert Quantity.parse(value).text == str(value)


@pytest.mark.parametrize(
    ("text", "milli", "ceil"),
    [
        ("100m", 100, 1), ("1.5", 1500, 2), ("0.1m", 1, 1), ("1n", 1, 1), ("1u", 1, 1),
        ("999m", 999, 1), ("1", 1000, 1), ("1Ki", 1_024_000, 1024), ("0", 0, 0),
        ("0.5Mi", 524_288_000, 524_288), ("1e-3", 1, 1), ("1.0005", 1001, 2),
        ("1.0000000001", 1001, 2), ("-1.5", -1500, -1), ("-100m", -100, 0),
        ("-0.1m", 0, 0), ("2Gi", 2 * 2**30 * 1000, 2 * 2**30),
    ],
)  # fmt: skip
def test_milli_and_ceil_round_up(text: str, milli: int, ceil: int) -> None:
    quantity = Quantity.parse(text)
    assert quantity.milli() == milli
    assert quantity.ceil() == ceil


def test_quantity_keeps_text_and_compares_by_value() -> None:
    gib, mib = Quantity.parse("1Gi"), Quantity.parse("1024Mi")
    assert str(gib) == "1Gi"
    assert str(mib) == "1024Mi"
    assert gib == mib
    assert hash(gib) == hash(mib)
    assert gib != Quantity.parse("1G")
    assert Quantity.parse("500m") < Quantity.parse("1") <= Quantity.parse("1.0")
    assert Quantity.parse("1G") > Quantity.parse("1Mi") >= Quantity.parse("1M")
    ordered = sorted(Quantity.parse(t) for t in ["1Gi", "100m", "-1", "1e3", "2k"])
    assert [str(q) for q in ordered] == ["-1", "100m", "1e3", "2k", "1Gi"]
    assert len({gib, mib, Quantity.parse("1073741824")}) == 1
    assert Quantity(F(1), "1") == Quantity.parse("1")


def test_quantity_is_frozen() -> None:
    quantity = Quantity.parse("1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        quantity.text = "2"  # type: ignore[misc]


def test_quantity_parse_rejects() -> None:
    with pytest.raises(QuantityError, match="'1 Gi'"):
        Quantity.parse("1 Gi")


@pytest.mark.parametrize(
    ("free", "unit", "expected"),
    [
        (F(10), F(3), 3), (F(9), F(3), 3), (F(0), F(1), 0), (F(-5), F(1), 0),
        (F(3, 2), F(1, 2), 3), (F(1), F(3, 2), 0), (F(5, 2), F(1), 2),
        (parse_quantity("4Gi"), parse_quantity("512Mi"), 8),
        (parse_quantity("3500m"), parse_quantity("250m"), 14),
        (parse_quantity("1"), parse_quantity("1n"), 10**9),
    ],
)  # fmt: skip
def test_floor_div(free: Fraction, unit: Fraction, expected: int) -> None:
    result = floor_div(free, unit)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("unit", [F(0), F(-1), F(-1, 2)])
def test_floor_div_rejects_non_positive_request(unit: Fraction) -> None:
    with pytest.raises(ValueError, match="request must be positive"):
        floor_div(F(10), unit)


# --- properties ---

signs = st.sampled_from(["", "+", "-"])
digit_strings = st.text(alphabet="0123456789", max_size=25)


@st.composite
def number_texts(draw: st.DrawFn) -> str:
    """A Kubernetes <signedNumber>: digits, digits., .digits or digits.digits."""
    whole, frac = draw(digit_strings), draw(digit_strings)
    form = draw(st.sampled_from(["int", "trailing-dot", "frac"]))
    if form == "int" or not (whole or frac):
        return draw(signs) + (whole or "0")
    if form == "trailing-dot":
        return f"{draw(signs)}{whole or '0'}."
    return f"{draw(signs)}{whole}.{frac or '0'}"


@SETTINGS
@given(n=st.integers(-(10**20), 10**20), suffix=st.sampled_from(sorted(BINARY)))
def test_binary_suffix_integers(n: int, suffix: str) -> None:
    expected = max(-CAP, min(CAP, n * BINARY[suffix]))
    assert parse_quantity(f"{n}{suffix}") == expected
    if abs(n * BINARY[suffix]) <= CAP:
        assert parse_quantity(f"{n}{suffix}") == n * BINARY[suffix]


@SETTINGS
@given(n=st.integers(-(10**30), 10**30), suffix=st.sampled_from(sorted(DECIMAL)))
def test_decimal_suffix_integers(n: int, suffix: str) -> None:
    assert parse_quantity(f"{n}{suffix}") == n * DECIMAL[suffix]


@SETTINGS
@given(n=st.integers(-(10**40), 10**40))
def test_ints_are_exact(n: int) -> None:
    assert parse_quantity(n) == n == parse_quantity(str(n))
    assert Quantity.parse(n).ceil() == n


@SETTINGS
@given(n=st.integers(-(10**30), 10**30), exponent=st.integers(-9, 40))
def test_decimal_string_round_trip(n: int, exponent: int) -> None:
    exact = Decimal(f"{n}E{exponent}")
    assert parse_quantity(str(exact)) == Fraction(exact)  # e.g. '1.5E+7', '0.000123', '-0E-9'
    assert parse_quantity(f"{n}e{exponent}") == n * F(10) ** exponent


@SETTINGS
@given(numerator=st.integers(-(10**25), 10**25), places=st.integers(0, 9))
def test_fraction_decimal_text_round_trip(numerator: int, places: int) -> None:
    value = F(numerator, 10**places)
    whole, frac = divmod(abs(numerator), 10**places)
    text = ("-" if numerator < 0 else "") + str(whole)
    if places:
        text += f".{frac:0{places}d}"
    assert parse_quantity(text) == value


@SETTINGS
@given(
    number=number_texts(),
    suffix=st.one_of(
        st.sampled_from(sorted(DECIMAL) + sorted(BINARY)),
        st.builds(
            lambda e, s, exp: f"{e}{s}{exp}",
            st.sampled_from("eE"),
            signs,
            st.integers(0, 60),
        ),
    ),
)
def test_values_match_fraction_oracle(number: str, suffix: str) -> None:
    text = number + suffix
    assert go_accepts(text)
    assert parse_quantity(text) == expected_value(text)


@SETTINGS
@given(
    text=st.one_of(
        st.text(alphabet="0123456789.+-eEinumkKMGTPi x", max_size=10),
        st.builds(
            lambda a, b: a + b,
            number_texts(),
            st.text(alphabet="0123456789.+-eEinumkKMGTPiB", max_size=5),
        ),
    )
)
def test_grammar_matches_apimachinery_scanner(text: str) -> None:
    number_part = re.match(r"[+-]?[0-9.]*", text)
    has_digit = number_part is not None and any(c.isdigit() for c in number_part.group())
    # Deliberate divergences: digit-less numbers ("Ki", "+", "."), which Go reads as 0,
    # and exponents/magnitudes that Go silently truncates or that are too large to evaluate.
    if not (go_accepts(text) and has_digit):
        with pytest.raises(QuantityError):
            parse_quantity(text)
    elif (expected := expected_value(text)) is None:
        with pytest.raises(QuantityError, match=r"exponent|magnitude"):
            parse_quantity(text)
    else:
        assert parse_quantity(text) == expected


@SETTINGS
@given(x=st.floats(allow_nan=False, allow_infinity=False))
def test_floats_parse_like_their_str(x: float) -> None:
    assert parse_quantity(x) == parse_quantity(str(x)) == nano_ceil(F(str(x)))
    assert Quantity.parse(x).text == str(x)


@SETTINGS
@given(a=number_texts(), b=number_texts(), unit_a=st.sampled_from(["m", "", "Ki", "G"]))
def test_ordering_follows_value(a: str, b: str, unit_a: str) -> None:
    qa, qb = Quantity.parse(a + unit_a), Quantity.parse(b)
    assert (qa < qb) == (qa.value < qb.value)
    assert (qa == qb) == (qa.value == qb.value)
    assert qa.milli() == math.ceil(qa.value * 1000)
    assert qa.ceil() == math.ceil(qa.value)
    assert qa.milli() - 1 < qa.value * 1000 <= qa.milli()


@SETTINGS
@given(
    free=st.integers(-(10**12), 10**12),
    request=st.integers(1, 10**9),
    scale=st.sampled_from([1, 1000, 10**9, 2**20]),
)
def test_floor_div_agrees_with_integer_arithmetic(free: int, request: int, scale: int) -> None:
    result = floor_div(F(free, scale), F(request, scale))
    assert result == (free // request if free > 0 else 0)
    if free > 0:
        assert result * request <= free < (result + 1) * request
