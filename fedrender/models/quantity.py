"""Kubernetes ``resource.Quantity`` parsing with exact rational values.

Mirrors ``ParseQuantity`` in k8s.io/apimachinery/pkg/api/resource: non-zero
values round away from zero to a whole nano and binary-SI magnitudes are capped
at 2**63-1 (decimal ones are not). Unlike Go, digit-less numbers ("Ki", "+", ".",
which Go reads as 0), exponents outside int32 (which Go silently truncates) and
decimal magnitudes of 1e1001 or more are rejected.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Final

__all__ = ["Quantity", "QuantityError", "floor_div", "parse_quantity"]

# <sign>?<number><suffix>; <number> needs a digit, an exponent is an integer.
_PATTERN: Final = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))"
    r"(?:(?P<suffix>[KMGTPE]i|[numkMGTPE])|[eE](?P<exponent>[+-]?[0-9]+))?"
)
_DECIMAL_SI: Final = MappingProxyType(
    {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
)
_BINARY_SI: Final = MappingProxyType({"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60})
_NANOS: Final = 10**9
_MAX_BINARY: Final = 2**63 - 1
_INT32: Final = 2**31
_MAX_EXP10: Final = 1000
_EXPECTED: Final = (
    "expected <sign><number><suffix> such as '500m', '1.5Gi', '2' or '1e3', where <suffix> is "
    "empty, one of n u m k M G T P E Ki Mi Gi Ti Pi Ei, or e/E followed by an integer exponent"
)


class QuantityError(ValueError):
    """A value that is not a valid Kubernetes quantity."""


def parse_quantity(value: str | int | float) -> Fraction:
    """Return the value Kubernetes gives ``value``; ints are exact, floats go via ``str``."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(f"invalid quantity {value!r}: {_EXPECTED}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"invalid quantity {value!r}: {_EXPECTED}")
        value = str(value)
    return _parse_text(value)


def _parse_text(text: str) -> Fraction:
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise QuantityError(f"invalid quantity {text!r}: {_EXPECTED}")
    number, suffix, exponent = match.group("number", "suffix", "exponent")
    power2 = _BINARY_SI.get(suffix or "", 0)
    power10 = _DECIMAL_SI.get(suffix or "", 0)
    if exponent is not None:
        # Go parses an int64 then truncates it to int32; reject out-of-range exponents instead.
        digits = exponent.lstrip("+-").lstrip("0")[:11]  # 11 digits already exceed int32
        power10 = int(digits or "0") * (-1 if exponent[0] == "-" else 1)
        if abs(power10) >= _INT32:
            raise QuantityError(f"invalid quantity {text!r}: exponent must fit in (-2**31, 2**31)")
    amount = Decimal(f"{number}E{power10}")
    if amount.is_zero():
        return Fraction(0)
    sign = -1 if amount.is_signed() else 1
    if amount.adjusted() < -28:  # |amount| * 2**60 < 1e-9: rounds up to one nano
        return Fraction(sign, _NANOS)
    if amount.adjusted() > _MAX_EXP10:
        if power2:
            return Fraction(sign * _MAX_BINARY)
        raise QuantityError(f"invalid quantity {text!r}: magnitude must be below 1e{_MAX_EXP10 + 1}")
    nanos = math.ceil(abs(Fraction(amount)) * 2**power2 * _NANOS)
    if power2:
        nanos = min(nanos, _MAX_BINARY * _NANOS)
    return Fraction(sign * nanos, _NANOS)


@dataclass(frozen=True, order=True)
class Quantity:
    """A parsed quantity; compares and hashes by value, prints as its original text."""

    value: Fraction
    text: str = field(compare=False)

    @classmethod
    def parse(cls, value: str | int | float) -> Quantity:
        """Parse ``value``, keeping its string form (ints and floats via ``str``)."""
        return cls(parse_quantity(value), value if isinstance(value, str) else str(value))

    def __str__(self) -> str:
        return self.text

    def milli(self) -> int:
        """Return ``ceil(value * 1000)``, as ``MilliValue`` does for non-negative values."""
        return math.ceil(self.value * 1000)

    def ceil(self) -> int:
        """Return ``ceil(value)``, as ``Value`` does for non-negative values."""
        return math.ceil(self.value)


def floor_div(free: Fraction, request: Fraction) -> int:
    """Return how many whole ``request``s fit in ``free`` (0 when ``free <= 0``)."""
    if request <= 0:
        raise ValueError(f"request must be positive, got {request}")
    if free <= 0:
        return 0
    return free // request
