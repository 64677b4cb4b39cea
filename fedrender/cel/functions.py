"""CEL helpers rules need, in the spirit of Kubernetes' CEL libraries, declared with types and implemented once.

Besides these, every environment has CEL's strings (``split``, ``join``, ``indexOf``, ...), math
(``math.greatest``, ...) and bindings (``cel.bind``) extensions.

Quantities are strings in Kubernetes notation (``"500m"``, ``"1Gi"``); the functions parse them exactly
(:mod:`fedrender.models.quantity`) and return quantities as strings again, in binary notation when an input
used it and the result allows, so templates can use them directly:

=========================================  ==============================================================
``isQuantity(s)``                          bool: ``s`` parses as a quantity
``quantity(s)``                            string: ``s`` normalised (error when it doesn't parse)
``a.quantityAdd(b)``, ``a.quantitySub(b)``  string: sum, difference
``a.quantityTimes(n)``                     string: ``a`` multiplied by the int ``n``
``a.quantityCompareTo(b)``                 int: -1, 0 or 1
``a.quantityIsGreaterThan(b)``, ``…IsLessThan(b)``  bool
``a.quantityAsInteger()``                  int: the value; error when it is not a whole number
``a.quantityMilli()``                      int: the value in thousandths, rounded up (Kubernetes MilliValue)
``xs.quantitySum()``                       string: sum of a list of quantities
``xs.sum()``, ``xs.min()``, ``xs.max()``   int, on list(int) (min and max fail on an empty list)
``xs.isSorted()``                          bool, on any list of comparable values
``normalizedImage(s)``                     string: the image as container runtimes read it
                                           (``mongo:7.0`` -> ``docker.io/library/mongo:7.0``), so that a
                                           registry mirror (Karmada's imageOverrider) keeps ``library/``
``imageTag(s)``                            string: the tag of an image reference (``mongo:7.0.14@sha256:…``
                                           -> ``7.0.14``), "" when it has none (digest only, or no tag)
``versionMajorMinor(s)``                   string: ``major.minor`` a version string starts with
                                           (``7.0.14-jammy`` -> ``7.0``), "" when it starts with none
                                           (``latest``, ``8``: a floating tag names no release)
=========================================  ==============================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from cel_expr_python import cel

from fedrender.models import names
from fedrender.models.quantity import QuantityError, parse_quantity

T = cel.Type
_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))
_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


def _q(text: str) -> Fraction:
    try:
        return parse_quantity(text)
    except QuantityError as exc:
        raise ValueError(str(exc)) from None


def _binary(*texts: str) -> bool:
    return any(t.rstrip().endswith("i") for t in texts)


def format_quantity(value: Fraction, binary: bool = False) -> str:
    """The shortest exact spelling of ``value`` (binary suffixes when ``binary`` and they fit)."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value.denominator == 1:
        whole = value.numerator
        for suffix, size in _BINARY if binary else _DECIMAL:
            if whole and whole % size == 0:
                return f"{sign}{whole // size}{suffix}"
        return f"{sign}{whole}"
    for suffix, size in (("m", 1000), ("u", 10**6), ("n", 10**9)):
        if (value * size).denominator == 1:
            return f"{sign}{value * size}{suffix}"
    return f"{sign}{-(-value * 10**9 // 1)}n"  # Kubernetes rounds up to nanounits


def _compare(a: str, b: str) -> int:
    x, y = _q(a), _q(b)
    return (x > y) - (x < y)


def _as_integer(a: str) -> int:
    value = _q(a)
    if value.denominator != 1:
        raise ValueError(f"quantity {a!r} is not a whole number")
    return value.numerator


def _milli(a: str) -> int:
    scaled = _q(a) * 1000
    return -(-scaled.numerator // scaled.denominator)


def _minmax(pick: Callable[[Sequence[Any]], Any]) -> Callable[[Sequence[Any]], Any]:
    def impl(xs: Sequence[Any]) -> Any:
        if not xs:
            raise ValueError("min/max of an empty list")
        return pick(xs)

    return impl


def _decl(name: str, *overloads: tuple[str, cel.Type, list[cel.Type], bool, Callable[..., Any]]) -> cel.FunctionDecl:
    return cel.FunctionDecl(name, [cel.Overload(oid, ret, params, is_member=member, impl=impl)
                                   for oid, ret, params, member, impl in overloads])


def declarations() -> list[cel.FunctionDecl]:
    s, i, b = T.STRING, T.INT, T.BOOL
    li, ls = T.List(i), T.List(s)
    return [
        _decl("isQuantity", ("is_quantity_string", b, [s], False, _is_quantity)),
        _decl("quantity", ("quantity_string", s, [s], False, lambda a: format_quantity(_q(a), _binary(a)))),
        _decl("quantityAdd", ("quantity_add", s, [s, s], True,
                              lambda a, c: format_quantity(_q(a) + _q(c), _binary(a, c)))),
        _decl("quantitySub", ("quantity_sub", s, [s, s], True,
                              lambda a, c: format_quantity(_q(a) - _q(c), _binary(a, c)))),
        _decl("quantityTimes", ("quantity_times", s, [s, i], True,
                                lambda a, n: format_quantity(_q(a) * n, _binary(a)))),
        _decl("quantityCompareTo", ("quantity_compare", i, [s, s], True, _compare)),
        _decl("quantityIsGreaterThan", ("quantity_gt", b, [s, s], True, lambda a, c: _compare(a, c) > 0)),
        _decl("quantityIsLessThan", ("quantity_lt", b, [s, s], True, lambda a, c: _compare(a, c) < 0)),
        _decl("quantityAsInteger", ("quantity_as_integer", i, [s], True, _as_integer)),
        _decl("quantityMilli", ("quantity_milli", i, [s], True, _milli)),
        _decl("quantitySum", ("quantity_sum", s, [ls], True,
                              lambda xs: format_quantity(sum((_q(x) for x in xs), Fraction(0)), _binary(*xs)))),
        # CEL's runtime tells overloads apart by argument kind, not element type: one list overload each.
        _decl("sum", ("list_int_sum", i, [li], True, sum)),
        _decl("min", ("list_int_min", i, [li], True, _minmax(min))),
        _decl("max", ("list_int_max", i, [li], True, _minmax(max))),
        _decl("isSorted", ("list_is_sorted", b, [T.List(T.DYN)], True, lambda xs: list(xs) == sorted(xs))),
        _decl("normalizedImage", ("normalized_image_string", s, [s], False, names.normalized_image)),
        _decl("imageTag", ("image_tag_string", s, [s], False, image_tag)),
        _decl("versionMajorMinor", ("version_major_minor_string", s, [s], False, version_major_minor)),
    ]


def image_tag(image: str) -> str:
    """The tag of an image reference as distribution/reference splits it (``[registry[:port]/]path[:tag][@digest]``;
    a ``:`` followed by a ``/`` belongs to a registry port): "" when there is none or ``image`` is no reference."""
    if names.image_reference(image):
        return ""
    return names.split_image(image)[1]


_MAJOR_MINOR = re.compile(r"(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})(?![0-9])")


def version_major_minor(version: str) -> str:
    """``major.minor`` at the start of ``version`` (``7.0``, ``7.0.14``, ``7.0.14-jammy``, ``8.0-rc1``), "" when it
    starts with no such pair (``latest``, ``8``, ``jammy``): a release is named by both numbers (MongoDB manual,
    "MongoDB Versioning": the release series is ``X.Y``)."""
    found = _MAJOR_MINOR.match(version)
    return f"{int(found[1])}.{int(found[2])}" if found else ""


def _is_quantity(text: str) -> bool:
    try:
        parse_quantity(text)
    except QuantityError:
        return False
    return True
