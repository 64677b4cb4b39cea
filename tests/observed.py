"""Snapshots with observed MongoReplicaSets, as `kubectl get clusters.cluster.karmada.io,mongoreplicasets.fedrender.io
-A -o yaml` prints them against the Karmada API server: the rendered MongoReplicaSet, a generation, a status."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml


def rendered_mrs(out: Path, namespace: str, name: str) -> dict[str, Any]:
    """The MongoReplicaSet a render wrote into ``out``."""
    found = yaml.safe_load((out / "instances" / namespace / name / f"mongoreplicaset-{name}.yaml").read_text())
    assert isinstance(found, dict)
    return found


def observed(mrs: dict[str, Any], generation: int = 3, status: dict[str, Any] | None = None) -> dict[str, Any]:
    """``mrs`` as the control plane holds it: API-server metadata added, with ``status`` (None: no status yet)."""
    out = copy.deepcopy(mrs)
    out["metadata"].update(generation=generation, uid="0d6c6e8e-0000-4000-8000-000000000001", resourceVersion="812",
                           creationTimestamp="2026-11-01T00:00:00Z")
    if status is not None:
        out["status"] = status
    return out


def aggregated(mrs: dict[str, Any], generation: int, observed_generation: int | None, config_version: int = 1,
               **extra: Any) -> dict[str, Any]:
    """The status the aggregation Lua writes for ``mrs``'s roster: every member healthy, the first one primary."""
    members = mrs["spec"]["members"]
    status: dict[str, Any] = {
        "phase": "Ready", "primary": members[0]["host"], "configVersion": config_version,
        "initialized": config_version > 0,
        "members": [{"_id": m["_id"], "host": m["host"], "stateStr": "PRIMARY" if i == 0 else "SECONDARY",
                     "health": 1, "votes": m["votes"]} for i, m in enumerate(members)] if config_version else [],
        "clusters": [{"cluster": c, "phase": "Ready", "primary": "", "observedGeneration": generation,
                      "resourceTemplateGeneration": generation, "healthyMembers": 1}
                     for c in sorted({m["cluster"] for m in members})],
        **extra}
    if observed_generation is not None:
        status["observedGeneration"] = observed_generation
    return status


def snapshot(clusters: Path | list[dict[str, Any]], target: Path, *objects: dict[str, Any]) -> Path:
    """The Clusters (of a snapshot file, or given) followed by ``objects``, as one List in ``target``."""
    if isinstance(clusters, Path):
        loaded = yaml.safe_load(clusters.read_text())
        clusters = loaded["items"] if loaded.get("kind") == "List" else [loaded]
    target.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
                                      "items": [*clusters, *objects]}, sort_keys=False))
    return target
