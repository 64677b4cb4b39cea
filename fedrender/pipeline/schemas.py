"""JSON Schemas of fedrender's inputs, for editors (yaml-language-server's ``# yaml-language-server:
$schema=...`` line) and ``fedrender schema KIND``: each with an ``$id`` naming its file in ``schemas/``.

The schema of a pack's input kind is generated from the pydantic model the pack validates specs with
(``Pack.input_model``), so an editor flags exactly what ``render`` refuses (unknown fields included)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from fedrender.models.cluster import Cluster
from fedrender.models.observed import ObservedReplicaSet
from fedrender.models.overlay import Overlay
from fedrender.models.rulepack import RulePack
from fedrender.models.ruletests import PackTests
from fedrender.models.state import State
from fedrender.rules.pack import Pack

SCHEMA_BASE = "https://fedrender.io/schemas/"
"""Base of every ``$id`` (an identifier, as JSON Schema uses it; the files are in the repository's schemas/)."""


def file_name(kind: str) -> str:
    """``MultiCloudMongoDB`` -> ``multicloudmongodb.schema.json``."""
    return f"{kind.lower()}.schema.json"


def schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The JSON Schema (2020-12, as pydantic v2 writes it) of ``model`` with ``$id`` = SCHEMA_BASE + ``name``."""
    return {"$id": SCHEMA_BASE + name, **model.model_json_schema()}


def object_or_list_schema(model: type[BaseModel], name: str,
                          others: Sequence[type[BaseModel]] = ()) -> dict[str, Any]:
    """Like :func:`schema`, for a Kubernetes kind that fedrender also reads as a ``List`` of it (what ``kubectl
    get ... -o yaml`` prints): the object itself is ``$defs[<title>]`` and the top level is ``anyOf`` that object
    or ``{apiVersion: v1, kind: List, items: [...]}``. ``title`` stays the kind. ``others``: kinds the same file
    may also hold (one ``kubectl get kind1,kind2 -o yaml`` List), each in ``$defs`` under its title."""
    defs: dict[str, Any] = {}
    refs = []
    title = ""
    for each in (model, *others):
        body = each.model_json_schema()
        for key, value in body.pop("$defs", {}).items():
            if defs.setdefault(key, value) != value:
                raise ValueError(f"{name}: $defs has two different {key!r}")
        title = title or body["title"]
        if body["title"] in defs:
            raise ValueError(f"{name}: $defs already has {body['title']!r}")
        defs[body["title"]] = body
        refs.append({"$ref": f"#/$defs/{body['title']}"})
    item = refs[0] if len(refs) == 1 else {"anyOf": refs}
    kinds = " or ".join(r["$ref"].rsplit("/", 1)[1] for r in refs)
    kubectl_list = {
        "title": "List",
        "description": f"A list of {kinds} objects, as kubectl get -o yaml prints it.",
        "type": "object",
        "properties": {"apiVersion": {"const": "v1"}, "kind": {"const": "List"},
                       "metadata": {"type": "object"}, "items": {"type": "array", "items": item}},
        "required": ["kind", "items"],
    }
    return {"$id": SCHEMA_BASE + name, "title": title, "$defs": defs, "anyOf": [*refs, kubectl_list]}


def pack_schema(pack: Pack) -> dict[str, Any]:
    """The JSON Schema of ``pack``'s input kind: one object or a ``List`` of them."""
    return object_or_list_schema(pack.input_model, file_name(pack.kind))


def builtin_schemas() -> dict[str, dict[str, Any]]:
    """The schemas of fedrender's own inputs by name (``Cluster``, ``Overlay``, ``RulePack``, ``RuleTests``,
    ``State``; each in ``schemas/<name lowercased>.schema.json``): the Karmada snapshot (``Cluster``), one object or
    a ``List`` of Clusters and MongoReplicaSets."""
    models: dict[str, type[BaseModel]] = {"Overlay": Overlay, "RulePack": RulePack, "RuleTests": PackTests,
                                          "State": State}
    out = {name: schema(model, file_name(name)) for name, model in models.items()}
    # the snapshot --clusters reads: Clusters, and the observed MongoReplicaSets beside them
    out["Cluster"] = object_or_list_schema(Cluster, file_name("Cluster"), [ObservedReplicaSet])
    return dict(sorted(out.items()))
