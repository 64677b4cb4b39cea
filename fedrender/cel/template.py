"""Manifest templates with CEL in ``${...}``, as kro writes them.

A string that is exactly ``${expr}`` becomes the expression's value (any type); ``${...}`` inside a
longer string is interpolated; ``$${`` stands for a literal ``${`` (shell scripts in ConfigMaps). A value
that evaluates to null drops its field or list item. A mapping key ``$when: ${expr}`` keeps the mapping
(a list item or field value) only when the expression is true. Every expression is compiled when the
template is loaded, so mistakes surface at load time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fedrender.cel.engine import CompileError, Environment, Expr, Program, diagnostic_at, whole_numbers
from fedrender.models.diagnostics import Diagnostic, Location
from fedrender.models.source import PathKey, SourceDoc

_DROP = object()
WHEN = "$when"


@dataclass(frozen=True)
class _Interp:
    parts: tuple[str | Program, ...]


@dataclass(frozen=True)
class _Whole:
    program: Program


class Template:
    """One compiled template document."""

    def __init__(self, doc: SourceDoc, env: Environment, rule: str, diagnostics: list[Diagnostic]) -> None:
        self.file = doc.file
        self.location = doc.location()
        self._doc = doc
        self._env = env
        self._rule = rule
        self._diagnostics = diagnostics
        self._tree = self._compile(doc.data, ())

    @property
    def kind(self) -> str:
        """The template's literal ``kind`` (a pack's templates must write it)."""
        return str(self._doc.data.get("kind", "")) if isinstance(self._doc.data, dict) else ""

    def field_location(self, path: PathKey = ()) -> Location:
        """Where ``path`` of the rendered object is written in the template (its closest written parent)."""
        return self._doc.location(path)

    def render(self, data: Mapping[str, Any], subject: str = "") -> Any:
        """The rendered document; whole floats become ints (see :func:`whole_numbers`)."""
        out = self._render(self._tree, data, subject)
        return None if out is _DROP else whole_numbers(out)

    def _compile(self, node: Any, path: PathKey) -> Any:
        if isinstance(node, dict):
            return {k: self._compile(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self._compile(v, (*path, i)) for i, v in enumerate(node)]
        if isinstance(node, str) and "${" in node:
            return self._compile_string(node, path)
        return node

    @staticmethod
    def _literal(text: str) -> str:
        return text.replace("$${", "${")

    def _compile_string(self, text: str, path: PathKey) -> Any:
        pos = self._doc.value_position(path)
        pieces: list[str | Program] = []
        last = 0
        try:
            spans = list(placeholders(text))
        except UnterminatedPlaceholder as exc:
            line = text.count("\n", 0, exc.offset) + 1
            col = exc.offset - (text.rfind("\n", 0, exc.offset) + 1) + 1
            expr = Expr(text, self.file, pos.line if pos else 0, pos.col if pos else 0, pos.style if pos else None,
                        rule=self._rule)
            self._diagnostics.append(diagnostic_at(expr, line, col, "unterminated ${: no matching } (write $${ for "
                                                   "a literal ${)"))
            return None
        for start, end in spans:
            pieces.append(self._literal(text[last:start]))
            program = self._program(text[start + 2 : end - 1], pos.line if pos else 0, (pos.col if pos else 0), pos)
            if program is None:
                return None
            pieces.append(program)
            last = end
        pieces.append(self._literal(text[last:]))
        if not spans:
            return self._literal(text)
        if len(spans) == 1 and text.strip() == text[spans[0][0] : spans[0][1]]:
            program = next(p for p in pieces if isinstance(p, Program))
            return _Whole(program)
        return _Interp(tuple(p for p in pieces if p != ""))

    def _program(self, source: str, line: int, col: int, pos: Any) -> Program | None:
        expr = Expr(source, self.file, line, col, pos.style if pos else None, rule=self._rule)
        try:
            return self._env.compile(expr)
        except CompileError as exc:
            self._diagnostics.extend(exc.diagnostics)
            return None

    def _render(self, node: Any, data: Mapping[str, Any], subject: str) -> Any:
        if isinstance(node, _Whole):
            value = node.program.eval(data, subject)
            return _DROP if value is None else value
        if isinstance(node, _Interp):
            return "".join(p if isinstance(p, str) else _text(p.eval(data, subject)) for p in node.parts)
        if isinstance(node, dict):
            if WHEN in node and self._render(node[WHEN], data, subject) is not True:
                return _DROP
            out = {}
            for key, value in node.items():
                if key == WHEN:
                    continue
                rendered = self._render(value, data, subject)
                if rendered is not _DROP:
                    out[key] = rendered
            return out
        if isinstance(node, list):
            items = (self._render(v, data, subject) for v in node)
            return [v for v in items if v is not _DROP]
        return node


class UnterminatedPlaceholder(ValueError):
    """A ``${`` without its closing ``}``; ``offset`` is where the ``${`` starts."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"unterminated ${{ at offset {offset}")
        self.offset = offset


def placeholders(text: str) -> Iterator[tuple[int, int]]:
    """Start and end offsets of each ``${...}``, matching braces and skipping CEL string literals; raises
    UnterminatedPlaceholder at a ``${`` that is never closed."""
    i = text.find("${")
    while i != -1 and i > 0 and text[i - 1] == "$":
        i = text.find("${", i + 2)
    while i != -1:
        depth, j, quote = 0, i + 1, ""
        while j < len(text):
            ch = text[j]
            if quote:
                if ch == "\\":
                    j += 1
                elif ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= len(text):
            raise UnterminatedPlaceholder(i)
        yield i, j + 1
        i = text.find("${", j + 1)
        while i != -1 and i > 0 and text[i - 1] == "$":
            i = text.find("${", i + 2)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
