"""JSON Schemas of fedrender's inputs, for editors (yaml-language-server's ``# yaml-language-server:
$schema=...`` line) and ``fedrender schema KIND``: each with an ``$id`` naming its file in ``schemas/``.

The schema of a pack's input kind is generated from the pydantic model the pack validates specs with
(``Pack.input_model``), so an editor flags exactly what ``render`` refuses (unknown fields included)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from fedrender.rules.pack import Pack

SCHEMA_BASE = "https://fedrender.io/schemas/"
"""Base of every ``$id`` (an identifier, as JSON Schema uses it; the files are in the repository's schemas/)."""


def file_name(kind: str) -> str:
    """``MultiCloudMongoDB`` -> ``multicloudmongodb.schema.json``."""
    return f"{kind.lower()}.schema.json"


def schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The JSON Schema (2020-12, as pydantic v2 writes it) of ``model`` with ``$id`` = SCHEMA_BASE + ``name``."""
    return {"$id": SCHEMA_BASE + name, **model.model_json_schema()}


def pack_schema(pack: Pack) -> dict[str, Any]:
    """The JSON Schema of ``pack``'s input kind."""
    return schema(pack.input_model, file_name(pack.kind))
