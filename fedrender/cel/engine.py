"""Compile CEL once, evaluate many times, and report problems where the author wrote them.

An :class:`Expr` is a CEL expression together with where it sits in a YAML file. :class:`Environment`
compiles it against declared, typed variables; compile errors become :class:`Diagnostic` values with
``file:line:col``, the source line and a caret, all collected by the caller. Evaluation errors raise
:class:`EvalError` naming the rule.
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_math, ext_strings
from google.protobuf import json_format
from google.protobuf.message import Message

from fedrender.cel.functions import declarations
from fedrender.cel.growth import MAX_UNITS, WireError, growth
from fedrender.cel.types import TypeRegistry
from fedrender.models.diagnostics import Diagnostic, InputError, Location
from fedrender.models.inputfile import read_text

MAX_NESTING = 32
MAX_COMPREHENSION_NESTING = 3
EVAL_BUDGET_SECONDS = 0.05
_MACROS = re.compile(r"\.\s*(all|exists|exists_one|map|filter)\s*\($")
_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*?)(?:\n \|[^\n]*\n \|[^\n]*)?(?= \[[A-Z_]+\]$|\nERROR: |$)", re.S)
MAX_EXPRESSION_LENGTH = 10_000


@dataclass(frozen=True)
class Expr:
    """A CEL expression and where it was written: the YAML scalar's 1-based line, column and style."""

    text: str
    file: str = "<inline>"
    line: int = 0
    col: int = 0
    style: str | None = None
    rule: str = ""

    def location(self) -> Location:
        return Location(self.file, self.line, self.col)


class EvalError(Exception):
    """A rule failed while evaluating; the message names the rule and what it was evaluated for, ``location``
    is where the expression is written (None when unknown)."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class CompileError(Exception):
    """An expression did not compile; carries the diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.render() for d in diagnostics))


class Environment:
    """Typed variables (CEL type signatures or registered message types) over one descriptor pool."""

    def __init__(self, registry: TypeRegistry, variables: Mapping[str, str]) -> None:
        self.registry = registry
        self.variables = dict(variables)
        self._env = cel.NewEnv(
            registry.pool,
            variables={k: parse_type(v) for k, v in variables.items()},
            extensions=[ext_bindings.ExtBindings(), ext_strings.ExtStrings(), ext_math.ExtMath()],
            functions=declarations(),
        )

    def compile(self, expr: Expr, expect: str | None = None) -> Program:
        """Compile ``expr``; raises CompileError with positioned diagnostics. ``expect`` checks the result type."""
        if len(expr.text) > MAX_EXPRESSION_LENGTH:
            too_long = f"expression longer than {MAX_EXPRESSION_LENGTH} characters"
            raise CompileError([diagnostic_at(expr, 1, 1, too_long)])
        problem = nesting_problem(expr.text)
        if problem is not None:
            line, col, message = problem
            raise CompileError([diagnostic_at(expr, line, col, message)])
        try:
            compiled = self._env.compile(expr.text)
        except RuntimeError as exc:
            raise CompileError(_diagnostics(expr, str(exc))) from None
        too_big = _growth_problem(expr, compiled)
        if too_big is not None:
            raise CompileError([too_big])
        result = compiled.return_type()
        if expect is not None and not _assignable(expect, result):
            wrong = f"expression must evaluate to {expect}, not {result.name().lower()}"
            raise CompileError([diagnostic_at(expr, 1, 1, wrong)])
        return Program(expr, compiled)


@dataclass(frozen=True)
class Program:
    """A compiled expression."""

    expr: Expr
    compiled: cel.Expression

    def eval(self, data: Mapping[str, Any], subject: str = "") -> Any:
        """Evaluate with ``data`` bound to the declared variables; returns plain Python values.

        An evaluation can't be interrupted, but one that uses more than ``EVAL_BUDGET_SECONDS`` of CPU fails,
        naming the rule and what it was evaluated for (see rules/README.md, "Guards"). CPU time of this
        thread, so that other work on a busy machine doesn't count against the rule, and with the cyclic garbage
        collector held off meanwhile, so that a collection of the whole heap, set off by a function implemented
        in Python, is not counted against the rule either."""
        collecting = gc.isenabled()
        gc.disable()
        start = time.thread_time()
        try:
            value = self.compiled.eval(data=data)
        except RuntimeError as exc:  # pragma: no cover - cel-expr-python reports most failures as values
            raise EvalError(self._message(str(exc), subject), self.expr.location()) from None
        except MemoryError as exc:  # std::bad_alloc from the C++ core: a value too large to build
            raise EvalError(self._message(f"ran out of memory ({exc or 'std::bad_alloc'}): the expression builds a "
                                          "value too large for its inputs", subject), self.expr.location()) from None
        finally:
            elapsed = time.thread_time() - start
            if collecting:
                gc.enable()
        if elapsed > EVAL_BUDGET_SECONDS:
            raise EvalError(self._message(f"took {elapsed * 1000:.0f} ms, over the budget of "
                                          f"{EVAL_BUDGET_SECONDS * 1000:.0f} ms per evaluation", subject),
                            self.expr.location())
        if value.type() == cel.Type.ERROR:
            raise EvalError(self._message(str(value.value()), subject), self.expr.location())
        return to_python(value)

    def _message(self, problem: str, subject: str) -> str:
        rule = f"rule {self.expr.rule!r} " if self.expr.rule else ""
        where = f" for {subject}" if subject else ""
        return f"{rule}failed{where}: {problem}"


def to_python(value: Any) -> Any:
    """Plain Python from a CEL result, converted one element at a time.

    cel-expr-python 0.1.3 drops a reference to ``None`` each time it converts a CEL ``null`` to Python
    (``plain_value()``, or ``value()`` on a null): on Python 3.11, where ``None`` is not immortal, a few
    thousand nulls abort the interpreter (``none_dealloc``). So nulls are recognised by type and never
    handed to the library to convert; containers are walked here. Messages become dicts (see
    :func:`message_value`).
    """
    if isinstance(value, cel.Value):
        kind = value.type()
        if kind == cel.Type.NULL:
            return None
        inner = value.value()
        if isinstance(inner, list):
            return [to_python(v) for v in inner]
        if isinstance(inner, dict):
            return {to_python(k): to_python(v) for k, v in inner.items()}
        return to_python(inner)
    if isinstance(value, Message):
        return message_value(value)
    if isinstance(value, dict):
        return {to_python(k): to_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_python(v) for v in value]
    return value


def message_value(message: Message) -> Any:
    """A message as the JSON value it came from, fields by their proto (= JSON) names, only fields that are set.

    Unlike ``json_format.MessageToDict``, 64-bit integers stay numbers (proto3's JSON mapping writes them as
    strings, and ``weight: '50'`` or ``tolerationSeconds: '30'`` would be refused by the API server). A
    ``google.protobuf.Value`` (a free-form field) holds JSON numbers as doubles; a whole one is given back as
    an int, as it was written."""
    if message.DESCRIPTOR.file.package == "google.protobuf":
        return whole_numbers(json_format.MessageToDict(message, preserving_proto_field_name=True))
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        entry_type = field.message_type
        if entry_type is not None and entry_type.GetOptions().map_entry:
            inner = entry_type.fields_by_name["value"]
            out[field.name] = {k: _field_value(inner, v) for k, v in value.items()}
        elif _repeated(field):
            out[field.name] = [_field_value(field, v) for v in value]
        else:
            out[field.name] = _field_value(field, value)
    return out


def _repeated(field: Any) -> bool:
    """Whether a field is repeated (``is_repeated`` in protobuf 6, where upb dropped ``label``)."""
    if hasattr(field, "is_repeated"):
        return bool(field.is_repeated)
    return bool(field.label == field.LABEL_REPEATED)  # pragma: no cover - protobuf 5


def _field_value(field: Any, value: Any) -> Any:
    if field.message_type is not None:
        return message_value(value)
    if field.enum_type is not None:
        return field.enum_type.values_by_number[value].name
    return value


def whole_numbers(value: Any) -> Any:
    """``value`` with every whole float an int: JSON has one number type, and a value that went through a
    double (a ``google.protobuf.Value``, a ``dyn`` variable) must still decode into an integer field."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


_PRIMITIVES = {
    "int": cel.Type.INT, "uint": cel.Type.UINT, "double": cel.Type.DOUBLE, "bool": cel.Type.BOOL,
    "string": cel.Type.STRING, "bytes": cel.Type.BYTES, "dyn": cel.Type.DYN, "null": cel.Type.NULL,
    "timestamp": cel.Type.TIMESTAMP, "duration": cel.Type.DURATION,
}


def parse_type(signature: str) -> cel.Type:
    """``int``, ``list(string)``, ``map(string, list(dyn))`` or a message name, as a cel.Type."""
    text = signature.replace(" ", "")
    if text in _PRIMITIVES:
        return _PRIMITIVES[text]
    if text.startswith("list(") and text.endswith(")"):
        return cel.Type.List(parse_type(text[5:-1]))
    if text.startswith("map(") and text.endswith(")"):
        inner = text[4:-1]
        depth = 0
        for i, ch in enumerate(inner):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                return cel.Type.Map(parse_type(inner[:i]), parse_type(inner[i + 1 :]))
        raise ValueError(f"bad map type {signature!r}")
    return cel.Type(text)


def nesting_problem(text: str) -> tuple[int, int, str] | None:
    """(line, col, message) where ``text`` nests brackets or comprehension macros too deeply, else None.

    Comprehensions (all, exists, exists_one, map, filter) cost the product of the sizes of the lists they
    nest over, so their depth is bounded separately."""
    stack: list[bool] = []
    line, col, quote = 1, 0, ""
    for i, ch in enumerate(text):
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            continue
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            stack.append(ch == "(" and _MACROS.search(text[: i + 1]) is not None)
            if len(stack) > MAX_NESTING:
                return line, col, f"nesting deeper than {MAX_NESTING} brackets"
            if sum(stack) > MAX_COMPREHENSION_NESTING:
                return line, col, (f"comprehensions (all, exists, map, filter, ...) nested deeper than "
                                   f"{MAX_COMPREHENSION_NESTING}")
        elif ch in ")]}" and stack:
            stack.pop()
    return None


def _growth_problem(expr: Expr, compiled: cel.Expression) -> Diagnostic | None:
    """A diagnostic when ``expr`` can build values that grow faster than its inputs (see :mod:`growth`)."""
    try:
        found = growth(compiled.serialize())
    except WireError as exc:  # pragma: no cover - only if cel-expr-python changes its serialization
        return diagnostic_at(expr, 1, 1, f"cannot bound the memory this expression uses ({exc})")
    if found.units <= MAX_UNITS:
        return None
    offset = max(found.offset, 0)
    line = expr.text.count("\n", 0, offset) + 1
    col = offset - (expr.text.rfind("\n", 0, offset) + 1) + 1
    return diagnostic_at(expr, line, col, f"this expression can build a value of {found.units:,} times the size of "
                         f"its inputs (the limit is {MAX_UNITS:,}): a variable bound with cel.bind, or a replace(), "
                         "doubles what it is given at every level; build the value without repeating it")


def _assignable(expect: str, result: cel.Type) -> bool:
    return result.name() == "DYN" or bool(parse_type(expect).is_assignable_from(result))


def _diagnostics(expr: Expr, text: str) -> list[Diagnostic]:
    found = [diagnostic_at(expr, int(m.group(1)), int(m.group(2)), m.group(3).strip()) for m in _ERROR.finditer(text)]
    return found or [diagnostic_at(expr, 1, 1, text.strip())]


def diagnostic_at(expr: Expr, line: int, col: int, message: str) -> Diagnostic:
    """A diagnostic at ``line``:``col`` of the expression, mapped into the YAML file around it."""
    lines = expr.text.splitlines() or [""]
    expr_line = lines[min(line, len(lines)) - 1]
    file_line, file_col, text = _locate(expr, line, expr_line)
    prefix = f"rule {expr.rule!r}: " if expr.rule else ""
    return Diagnostic(
        f"{prefix}{message}",
        Location(expr.file, file_line, file_col + col - 1 if file_line else 0),
        source_line=text if text is not None else expr_line,
        caret_col=(file_col + col - 1) if text is not None else col,
    )


def _locate(expr: Expr, line: int, expr_line: str) -> tuple[int, int, str | None]:
    """File line, column of the expression line's first character there, and the file's text of that line."""
    if not expr.line:
        return 0, 1, None
    try:
        file_lines = read_text(Path(expr.file)).splitlines()
    except InputError:
        return expr.line, expr.col, None
    needle = expr_line.strip()
    start = expr.line - 1 + (line - 1 if expr.style in ("", None, "'", '"') else line)
    for number in range(max(start - 1, 0), min(start + 50, len(file_lines))):
        if needle and needle in file_lines[number]:
            offset = file_lines[number].index(needle) - (len(expr_line) - len(expr_line.lstrip()))
            return number + 1, offset + 1, file_lines[number]
    return expr.line, expr.col, None
