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

from fedrender.models.base import ObjectMeta


class SchemaError(ValueError):
    """The schema uses something this converter does not understand."""


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
    required = set(schema.get("required", []))
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


def crd_schema(crd: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of ``api_version`` in a CustomResourceDefinition of ``kind``."""
    spec = crd.get("spec") or {}
    group, _, version = api_version.rpartition("/")
    if (spec.get("names") or {}).get("kind") != kind or spec.get("group") != group:
        raise SchemaError(f"the CRD does not define {kind} in group {group}")
    for item in spec.get("versions") or []:
        if item.get("name") == version:
            return dict(item["schema"]["openAPIV3Schema"])
    raise SchemaError(f"the CRD has no version {version}")
