"""Turn a YAML document into a model, or into diagnostics naming file:line:col and the field path."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fedrender.models.diagnostics import Diagnostic, InputError
from fedrender.models.source import PathKey, SourceDoc, format_path

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
}


def parse_model(model: type[M], doc: SourceDoc, what: str = "") -> M:
    """Validate ``doc.data`` as ``model``; raises InputError with one diagnostic per problem."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(model_diagnostics(exc, doc, what)) from None


def model_diagnostics(exc: ValidationError, doc: SourceDoc, what: str = "") -> list[Diagnostic]:
    seen: set[tuple[str, str]] = set()
    out: list[Diagnostic] = []
    for error in exc.errors(include_url=False):
        path = _data_path(doc.data, tuple(error["loc"]))
        message = _MESSAGES.get(error["type"], error["msg"])
        if error["type"] == "literal_error":
            message = f"{error['msg']} (got {error['input']!r})"
        if what:
            message = f"{message} (in {what}, document {doc.index + 1})"
        key = (format_path(path), message)
        if key in seen:
            continue
        seen.add(key)
        out.append(Diagnostic(message, doc.location(path), format_path(path)))
    return out


def _data_path(data: Any, loc: PathKey) -> PathKey:
    """The part of a pydantic error location that names real fields (union member tags are dropped)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and (part in node or part == loc[-1]):
            out.append(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
    return tuple(out)
