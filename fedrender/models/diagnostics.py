"""Diagnostics a person can act on: ``file:line:col: severity: message`` plus the source line and a caret."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file; ``line`` and ``col`` are 1-based, 0 when unknown."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.col}" if self.col else f"{self.file}:{self.line}"


_SECRET_FIELD = re.compile(r"pass(w(or)?d)?|secret|token|credential|private_?key|keyfile", re.IGNORECASE)


def is_secret_field(path: Sequence[str | int]) -> bool:
    """Whether the field at ``path`` may hold a secret (its name mentions a password, secret, token, credential
    or private key, e.g. FedState's ``spec.auth.rootPasswd`` or ``imagePullSecret.passwd``): a message about it
    never repeats its value, whatever its type (``rootPasswd: 987654321`` is a password too)."""
    names = [part for part in path if isinstance(part, str)]
    return bool(names) and bool(_SECRET_FIELD.search(names[-1]))


def closest(locations: Mapping[tuple[str | int, ...], Location], path: Sequence[str | int]) -> Location | None:
    """The location of ``path`` in ``locations``, else of its closest parent (the empty path excluded); None
    when neither is known."""
    for end in range(len(path), 0, -1):
        found = locations.get(tuple(path[:end]))
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Diagnostic:
    """One problem, with where it is, what field it concerns, and (optionally) the offending source line."""

    message: str
    location: Location | None = None
    field_path: str = ""
    severity: Severity = "error"
    source_line: str | None = None
    caret_col: int = 0

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        field_part = f"{self.field_path}: " if self.field_path else ""
        text = f"{where}{self.severity}: {field_part}{self.message}"
        if self.source_line is not None and self.caret_col > 0:
            text += f"\n | {self.source_line}\n | {' ' * (self.caret_col - 1)}^"
        return text

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location or Location("")
        return (loc.file, loc.line, loc.col, self.message)


@dataclass
class Diagnostics:
    """Collects problems so that all of them are reported together."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return sorted((d for d in self.items if d.severity == "error"), key=Diagnostic.sort_key)

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise InputError(self.errors)


class FedrenderError(Exception):
    """Base of every error fedrender reports to a user."""


class InputError(FedrenderError):
    """The inputs are wrong or infeasible (exit code 1); carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.render() for d in diagnostics))

