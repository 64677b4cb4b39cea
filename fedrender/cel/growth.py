"""How large a value a CEL expression can build, relative to its inputs: a static bound that keeps an evaluation
from allocating without limit (an evaluation can't be interrupted; cel-cpp aborts the process when an
allocation fails, so a time budget alone would come too late).

The checked expression (``cel.expr.CheckedExpr``, from ``Expression.serialize()``) is walked with a bound per
sub-expression, in *units*: a literal counts its bytes, a reference to an input variable (or a field of one, or
an element a comprehension iterates over) one unit, the size of the largest input value. Concatenation and
list/map construction add, ``replace`` multiplies, a ``cel.bind`` variable (and a comprehension accumulator)
counts what it was bound to at every use, functions returning numbers or booleans count one. Without
``cel.bind``, accumulators or ``replace`` the bound can't exceed the length of the expression's text; an
expression whose bound exceeds :data:`MAX_UNITS` (string doubling through nested ``cel.bind``, ``replace``
chains) builds values that grow exponentially and is refused when it compiles. Comprehensions repeat their step
for every element; that growth is polynomial, bounded by the inputs (see :data:`engine.MAX_COMPREHENSION_NESTING`).

This is the idea of Kubernetes' CEL cost estimator (``k8s.io/apiserver/pkg/cel``, ``EstimateCost`` with size
estimates), reduced to the one question that protects the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MAX_UNITS = 20_000
"""Largest bound accepted, in units (twice the longest expression's text)."""

_SCALAR_RESULTS = frozenset({
    "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "_&&_", "_||_", "!_", "@in", "_-_", "_*_", "_/_", "_%_", "-_",
    "@not_strictly_false", "size", "matches", "contains", "startsWith", "endsWith", "int", "uint", "double",
    "bool", "indexOf", "lastIndexOf", "isQuantity", "quantityCompareTo", "quantityIsGreaterThan",
    "quantityIsLessThan", "quantityAsInteger", "quantityMilli", "sum", "min", "max", "isSorted", "type",
    "math.greatest", "math.least", "math.abs", "math.ceil", "math.floor", "math.round", "math.sign",
})


class WireError(ValueError):
    """The serialized expression is not what this reader expects."""


def _fields(data: bytes) -> dict[int, list[bytes | int]]:
    """Protobuf wire format: field number -> values (ints for varint/fixed fields, bytes for length-delimited)."""
    out: dict[int, list[bytes | int]] = {}
    i, end = 0, len(data)
    while i < end:
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        value: bytes | int
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, i = int.from_bytes(data[i : i + width], "little"), i + width
        else:
            raise WireError(f"unsupported wire type {wire}")
        out.setdefault(number, []).append(value)
    if i != end:
        raise WireError("truncated message")
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(data):
            raise WireError("truncated varint")
        byte = data[i]
        result |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return result, i
        shift += 7


def _one(fields: Mapping[int, list[bytes | int]], number: int) -> bytes:
    value = fields.get(number, [b""])[-1]
    return value if isinstance(value, bytes) else b""


def _text(fields: Mapping[int, list[bytes | int]], number: int) -> str:
    return _one(fields, number).decode("utf-8", "replace")


@dataclass(frozen=True)
class Growth:
    """The bound of a whole expression, and the offset (in its text) of the sub-expression that exceeded
    MAX_UNITS first (-1 when none did)."""

    units: int
    offset: int = -1


def growth(serialized: bytes) -> Growth:
    """The bound of a serialized checked expression (``google.protobuf.Any`` holding ``cel.expr.CheckedExpr``)."""
    checked = _fields(_one(_fields(serialized), 2))
    source = _fields(_one(checked, 5))
    positions: dict[int, int] = {}
    for entry in source.get(4, []):
        if isinstance(entry, bytes):
            kv = _fields(entry)
            key, value = kv.get(1, [0])[-1], kv.get(2, [0])[-1]
            if isinstance(key, int) and isinstance(value, int):
                positions[key] = value
    walker = _Walker(positions)
    units = walker.expr(_one(checked, 4), {})
    return Growth(units, walker.offset)


class _Walker:
    def __init__(self, positions: dict[int, int]) -> None:
        self.positions = positions
        self.offset = -1

    def expr(self, data: bytes, env: Mapping[str, int]) -> int:
        f = _fields(data)
        units = self._units(f, env)
        if units > MAX_UNITS and self.offset < 0:
            ident = f.get(2, [0])[-1]
            self.offset = self.positions.get(ident, 0) if isinstance(ident, int) else 0
        return units

    def _units(self, f: Mapping[int, list[bytes | int]], env: Mapping[str, int]) -> int:
        if 3 in f:  # constant
            const = _fields(_one(f, 3))
            text = const.get(6) or const.get(7)
            return max(1, len(text[-1])) if text and isinstance(text[-1], bytes) else 1
        if 4 in f:  # identifier
            return env.get(_text(_fields(_one(f, 4)), 1), 1)
        if 5 in f:  # select
            select = _fields(_one(f, 5))
            return 1 if select.get(3) else self.expr(_one(select, 1), env)
        if 6 in f:  # call
            call = _fields(_one(f, 6))
            name = _text(call, 2)
            args = [a for a in call.get(3, []) if isinstance(a, bytes)]
            target = [self.expr(_one(call, 1), env)] if 1 in call else []
            sizes = target + [self.expr(a, env) for a in args]
            if name in _SCALAR_RESULTS:
                return 1
            if name == "replace" and len(sizes) >= 3:
                return sizes[0] * max(1, sizes[2])
            if name == "_?_:_" and len(sizes) == 3:
                return max(sizes[1], sizes[2])
            return sum(sizes)
        if 7 in f:  # list
            return sum(self.expr(e, env) for e in _fields(_one(f, 7)).get(1, []) if isinstance(e, bytes))
        if 8 in f:  # message or map construction
            entries = [_fields(e) for e in _fields(_one(f, 8)).get(2, []) if isinstance(e, bytes)]
            return sum(self.expr(_one(e, 4), env) + (self.expr(_one(e, 3), env) if 3 in e else 0) for e in entries)
        if 9 in f:  # comprehension (macros and cel.bind)
            c = _fields(_one(f, 9))
            each = self.expr(_one(c, 2), env)
            init = self.expr(_one(c, 4), env)
            loop = {**env, _text(c, 1): each, _text(c, 3): init}
            if 8 in c:
                loop[_text(c, 8)] = each
            step = self.expr(_one(c, 6), loop) if 6 in c else init
            return self.expr(_one(c, 7), {**env, _text(c, 3): max(init, step)})
        return 1
