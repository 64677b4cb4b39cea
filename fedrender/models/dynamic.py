"""Pydantic models built at run time from a CRD's openAPIV3Schema, for input kinds a rule pack defines.

Supported: object (properties, required, additionalProperties, x-kubernetes-preserve-unknown-fields),
array (items, minItems, maxItems), string (enum, pattern, minLength, maxLength), integer and number
(minimum, maximum), boolean, x-kubernetes-int-or-string, default. Unknown fields are rejected unless the
schema preserves them, exactly like the hand-written models.
"""

from __future__ import annotations

import keyword
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, create_model
from pydantic_core import SchemaError as PydanticSchemaError

from fedrender.models.base import ObjectMeta


class SchemaError(ValueError):
    """The schema uses something this converter does not understand; ``path`` is where, inside the CRD."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


_TYPES = {"object", "array", "string", "integer", "number", "boolean"}
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")


def check_schema(schema: Any, path: tuple[str | int, ...] = ()) -> None:
    """Raise SchemaError (with the path of the bad part) unless ``schema`` is a well-formed structural schema of
    the subset this module converts: every schema a mapping, ``properties`` a mapping of schemas, ``items`` one
    schema (Kubernetes' structural schemas allow no tuple of them), ``additionalProperties`` a schema or a bool,
    ``required`` and ``enum`` lists, ``pattern`` a regular expression, bounds numbers.

    Follows the structural-schema rules of Kubernetes (apiextensions-apiserver, ``structural`` package)."""
    if not isinstance(schema, dict):
        raise SchemaError(f"a schema must be a mapping, not {_what(schema)}", path)
    kind = schema.get("type")
    if kind is not None and (not isinstance(kind, str) or kind not in _TYPES):
        raise SchemaError(f"unsupported schema type {kind!r} (one of {', '.join(sorted(_TYPES))})", (*path, "type"))
    properties = schema.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            raise SchemaError(f"properties must be a mapping of schemas, not {_what(properties)}",
                              (*path, "properties"))
        for name, sub in properties.items():
            check_schema(sub, (*path, "properties", name))
    if "items" in schema:
        check_schema(schema["items"], (*path, "items"))
    extra = schema.get("additionalProperties")
    if extra is not None and not isinstance(extra, bool):
        check_schema(extra, (*path, "additionalProperties"))
    for key in ("required", "enum"):
        value = schema.get(key)
        if value is not None and not isinstance(value, list):
            raise SchemaError(f"{key} must be a list, not {_what(value)}", (*path, key))
    enum = schema.get("enum")
    if enum is not None and (not enum or not all(v is None or isinstance(v, (str, int, float)) for v in enum)):
        raise SchemaError("enum must list at least one value, each a string, number, boolean or null",
                          (*path, "enum"))
    if not all(isinstance(r, str) for r in schema.get("required") or []):
        raise SchemaError("required must list property names", (*path, "required"))
    pattern = schema.get("pattern")
    if pattern is not None:
        _check_pattern(pattern, (*path, "pattern"))
    for key in _COUNTS:
        value = schema.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise SchemaError(f"{key} must be a non-negative integer, not {value!r}", (*path, key))
    for key in ("minimum", "maximum"):
        value = schema.get(key)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise SchemaError(f"{key} must be a number, not {value!r}", (*path, key))


def _check_pattern(pattern: Any, path: tuple[str | int, ...]) -> None:
    if not isinstance(pattern, str):
        raise SchemaError(f"pattern must be a string, not {_what(pattern)}", path)
    try:
        re.compile(pattern)
        create_model("PatternCheck", value=(Annotated[str, Field(pattern=pattern)], ...))
    except (re.error, PydanticSchemaError) as exc:
        problem = str(exc).strip().splitlines()[-1]
        raise SchemaError(f"pattern {pattern!r} is not a valid regular expression: {problem}", path) from None


def _what(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


def _name(hint: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", hint) or "Model"


def _annotation(schema: dict[str, Any], hint: str) -> Any:
    if schema.get("x-kubernetes-int-or-string"):
        return StrictInt | str
    kind = schema.get("type")
    if kind == "object":
        if schema.get("properties"):
            return _object(schema, hint)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return dict[str, _annotation(extra, hint + "Value")]  # type: ignore[misc]
        return dict[str, Any]
    if kind == "array":
        item = _annotation(schema.get("items") or {}, hint + "Item")
        return Annotated[list[item], Field(min_length=schema.get("minItems"),  # type: ignore[valid-type]
                                           max_length=schema.get("maxItems"))]
    if kind == "string":
        if "enum" in schema:
            return Literal[tuple(schema["enum"])]
        return Annotated[str, Field(pattern=schema.get("pattern"), min_length=schema.get("minLength"),
                                    max_length=schema.get("maxLength"))]
    if kind == "integer":
        return Annotated[StrictInt, Field(ge=schema.get("minimum"), le=schema.get("maximum"))]
    if kind == "number":
        return Annotated[StrictFloat | StrictInt, Field(ge=schema.get("minimum"), le=schema.get("maximum"))]
    if kind == "boolean":
        return StrictBool
    if kind is None:
        return Any
    raise SchemaError(f"{hint}: unsupported schema type {kind!r}")


def _object(schema: dict[str, Any], hint: str) -> type[BaseModel]:
    required = set(schema.get("required") or [])
    fields: dict[str, Any] = {}
    for index, (prop, sub) in enumerate(sorted(schema["properties"].items())):
        annotation = _annotation(sub, f"{hint}_{prop}")
        safe = prop if prop.isidentifier() and not keyword.iskeyword(prop) and not prop.startswith("_") \
            else f"field_{index}"
        if prop in required:
            fields[safe] = (annotation, Field(alias=prop, description=sub.get("description")))
        else:
            default = sub.get("default")
            fields[safe] = (annotation | None, Field(default=default, alias=prop, description=sub.get("description")))
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    config = ConfigDict(extra="allow" if preserve else "forbid", frozen=True, populate_by_name=True, strict=True)
    model: type[BaseModel] = create_model(_name(hint), __config__=config, **fields)
    return model


def input_model(api_version: str, kind: str, schema: dict[str, Any]) -> type[BaseModel]:
    """A model of a whole object of ``kind``: apiVersion, kind, metadata, spec (from ``schema``), status."""
    spec_schema = (schema.get("properties") or {}).get("spec")
    if not isinstance(spec_schema, dict):
        raise SchemaError(f"the schema of {kind} has no spec")
    config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)
    fields: dict[str, Any] = {
        "apiVersion": (Literal[api_version], ...), "kind": (Literal[kind], ...), "metadata": (ObjectMeta, ...),
        "spec": (_annotation(spec_schema, f"{kind}Spec"), ...), "status": (dict[str, Any] | None, None),
    }
    model: type[BaseModel] = create_model(_name(kind), __config__=config, **fields)
    return model


def crd_schema(crd: Any, api_version: str, kind: str) -> tuple[dict[str, Any], tuple[str | int, ...]]:
    """The openAPIV3Schema of ``api_version`` in a CustomResourceDefinition of ``kind``, checked with
    :func:`check_schema`, and its path in the CRD document."""
    spec = crd.get("spec") if isinstance(crd, dict) else None
    spec = spec if isinstance(spec, dict) else {}
    group, _, version = api_version.rpartition("/")
    names = spec.get("names")
    if not isinstance(names, dict) or names.get("kind") != kind or spec.get("group") != group:
        raise SchemaError(f"the CRD does not define {kind} in group {group}", ("spec",))
    versions = spec.get("versions")
    for index, item in enumerate(versions if isinstance(versions, list) else []):
        if isinstance(item, dict) and item.get("name") == version:
            path: tuple[str | int, ...] = ("spec", "versions", index, "schema", "openAPIV3Schema")
            schema = (item.get("schema") or {}).get("openAPIV3Schema") if isinstance(item.get("schema"), dict) \
                else None
            if schema is None:
                raise SchemaError(f"version {version} has no schema.openAPIV3Schema", path[:3])
            check_schema(schema, path)
            return dict(schema), path
    raise SchemaError(f"the CRD has no version {version}", ("spec", "versions"))
