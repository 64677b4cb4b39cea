"""Turn a YAML document into a model, or into diagnostics naming file:line:col and the field path."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fedrender.models.diagnostics import Diagnostic, InputError, is_secret_field
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


# Strict types (see fedrender.models.base): what each type error expected.
_EXPECTED = {
    "int_type": "an integer", "bool_type": "true or false", "string_type": "a string", "float_type": "a number",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping", "list_type": "a list",
}
_YAML_TYPES = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"), (dict, "a mapping"),
               (list, "a list"), (type(None), "null"))


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value) if isinstance(value, (str, int, float)) else ""
    return text if len(text) <= 40 else text[:37] + "..."


def type_message(expected: list[str], value: Any, secret: bool = False) -> str:
    """``expected an integer, got the string '3'; write 3 without quotes`` (the fix when there is an obvious one).
    ``secret``: the field may hold a secret (:func:`is_secret_field`), so the value is never shown."""
    got = next(name for kind, name in _YAML_TYPES if isinstance(value, kind)) if isinstance(
        value, tuple(k for k, _ in _YAML_TYPES)) else type(value).__name__
    if secret:
        fix = "; quote it" if "a string" in expected and isinstance(value, (bool, int, float)) else ""
        return f"expected {' or '.join(expected)}, got {got} (value not shown: the field may hold a secret){fix}"
    shown = _shown(value)
    message = f"expected {' or '.join(expected)}, got {got}{' ' + shown if shown else ''}"
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if "an integer" in expected and text.lstrip("+-").isdigit():
            return f"{message}; write {int(text)} without quotes"
        if "true or false" in expected and text.lower() in ("true", "false", "yes", "no", "on", "off", "y", "n"):
            fix = "true" if text.lower() in ("true", "yes", "on", "y") else "false"
            return f"{message}; write {fix} without quotes"
    if "a string" in expected and isinstance(value, (bool, int, float)):
        return f"{message}; quote it: \"{shown}\""
    return message


def model_diagnostics(exc: ValidationError, doc: SourceDoc, what: str = "") -> list[Diagnostic]:
    seen: set[tuple[str, str]] = set()
    out: list[Diagnostic] = []
    errors = exc.errors(include_url=False)
    expected: dict[PathKey, list[str]] = {}  # a union reports each member: say what any of them takes, once
    for error in errors:
        if error["type"] in _EXPECTED:
            names = expected.setdefault(_data_path(doc.data, tuple(error["loc"])), [])
            if _EXPECTED[error["type"]] not in names:
                names.append(_EXPECTED[error["type"]])
    for error in errors:
        path = _data_path(doc.data, tuple(error["loc"]))
        message = _MESSAGES.get(error["type"], error["msg"])
        secret = is_secret_field(path)
        if error["type"] == "literal_error":
            message = f"{error['msg']}" + ("" if secret else f" (got {error['input']!r})")
        elif error["type"] in _EXPECTED:
            message = type_message(expected[path], error["input"], secret)
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
        if part == "[key]":  # pydantic's marker for an error in a mapping's key: the path ends at the key
            break
        if isinstance(node, dict) and isinstance(part, str) and (part in node or part == loc[-1]):
            out.append(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
    return tuple(out)
