"""Which plain YAML scalars are numbers, as Kubernetes reads YAML: sigs.k8s.io/yaml converts YAML to JSON
through go-yaml v2 (``resolve.go``), and that is what ``kubectl apply`` and the API server see.

PyYAML follows YAML 1.1 further than go-yaml v2 does, and the two disagree on some plain scalars:

============  =====================  ===================
scalar        PyYAML (YAML 1.1)      go-yaml v2 (kubectl)
============  =====================  ===================
``10:00``     600 (base 60)          the string "10:00"
``1:30.5``    5430.5 (base 60)       the string "1:30.5"
``0o17``      the string "0o17"      15
``1e3``       the string "1e3"       1000.0
``09``        the string "09"        9.0 (not octal, so a float)
============  =====================  ===================

Both strip ``_`` (``6_00`` is 600) and read ``0x258`` (600), ``0b1010`` and ``0600`` (octal, 384) alike.
go-yaml v2 resolves a plain scalar that starts with a sign or a digit, or a ``.`` followed by digits, by:
the digits without ``_`` as a Go integer literal (``strconv.ParseInt(s, 0, 64)``, then ``ParseUint``), else as
a float (``^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$``), else a string. ``.inf`` and ``.nan`` are
left to the loader, which refuses them (JSON has neither).

fedrender's loader follows go-yaml v2 where PyYAML reads a number that go-yaml reads as a string (base 60) or
go-yaml an integer that PyYAML reads as a string (``0o17``). A float to go-yaml that PyYAML reads as a string
(``1e3``, ``09``) stays a string: an integer field then refuses it at its line and a quantity reads it by
Kubernetes' quantity grammar, which takes both.
"""

from __future__ import annotations

import re
from typing import Final

_FLOAT: Final = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_PREFIXED: Final = {"0x": 16, "0o": 8, "0b": 2}
_DIGITS: Final = {16: re.compile(r"[0-9A-Fa-f]+"), 10: re.compile(r"[0-9]+"), 8: re.compile(r"[0-7]+"),
                  2: re.compile(r"[01]+")}
_INT64_MAX: Final = 2**63 - 1
_UINT64_MAX: Final = 2**64 - 1
SPECIAL_FLOATS: Final = frozenset({".inf", "+.inf", "-.inf", ".nan"})
"""Lowercased: the infinities and NaN, which the loader refuses whichever reader it follows."""


def starts_like_a_number(text: str) -> bool:
    """Whether go-yaml v2 tries ``text`` as a number: it starts with a sign or a digit (its resolve table's
    'S' and 'D'), or is a ``.`` and digits (``.5``)."""
    if text.lower() in SPECIAL_FLOATS:
        return False
    return bool(text) and (text[0] in "+-0123456789" or (text[0] == "." and _FLOAT.fullmatch(text) is not None))


def go_int(text: str) -> int | None:
    """``text`` without ``_`` as a Go integer literal (``strconv.ParseInt(s, 0, 64)``, else ``ParseUint``, which
    takes no sign): decimal, ``0x``/``0o``/``0b`` prefixed, or a leading ``0`` for octal; None when it is none or
    out of range."""
    plain = text.replace("_", "")
    sign = -1 if plain.startswith("-") else 1
    body = plain[1:] if plain[:1] in "+-" else plain
    base = _PREFIXED.get(body[:2].lower(), 0)
    digits = body[2:] if base else body[1:] if len(body) > 1 and body.startswith("0") else body
    base = base or (8 if len(body) > 1 and body.startswith("0") else 10)
    if not _DIGITS[base].fullmatch(digits):
        return None
    value = sign * int(digits, base)
    if -_INT64_MAX - 1 <= value <= _INT64_MAX or (plain[:1] not in "+-" and 0 <= value <= _UINT64_MAX):
        return value
    return None


def go_number(text: str) -> int | float | None:
    """What go-yaml v2 makes of a plain scalar ``text`` that :func:`starts_like_a_number`: an int, a float, or
    None when it is a string."""
    as_int = go_int(text)
    if as_int is not None:
        return as_int
    plain = text.replace("_", "")
    return float(plain) if _FLOAT.fullmatch(plain) else None

