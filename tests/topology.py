"""Shared helpers of the placement tests: the MongoDB pack's no-majority cap in Python, and small snapshots and
specs written to files for the command line."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from fedrender.scheduler.placement import CLUSTER

CAPPED = (CLUSTER, "region", "zone", "provider")
"""The levels rules/mongodb/pack.yaml caps (groupCaps)."""


def no_majority(members: int, groups: int) -> int:
    """rules/mongodb/pack.yaml groupCaps maxMembers, in Python (CEL ints: ``/`` truncates)."""
    if groups < 3 or members < 3:
        return members
    return (members - 1) // 2 if groups * ((members - 1) // 2) >= members else members // 2


def pack_caps(total: int) -> Callable[[Mapping[str, int]], dict[str, int]]:
    """The pack's caps for ``total`` members as ``place`` asks for them: from the groups per level left."""
    def caps(usable: Mapping[str, int]) -> dict[str, int]:
        return {level: no_majority(total, usable.get(level, 0)) for level in CAPPED}
    return caps


def cluster_doc(name: str, region: str, zone: str = "", provider: str = "aws", cpu: int = 8) -> dict[str, Any]:
    """A Ready Karmada Cluster with a VIP and ``cpu`` CPUs free."""
    spec: dict[str, Any] = {"syncMode": "Push", "provider": provider, "region": region}
    if zone:
        spec["zone"] = zone
    return {"apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name, "labels": {"vip": f"10.{len(name)}.{sum(map(ord, name)) % 250}.1"}},
            "spec": spec,
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "ClusterReady", "message": "",
                                       "lastTransitionTime": "2026-11-01T00:00:00Z"}],
                       "resourceSummary": {"allocatable": {"cpu": str(cpu), "memory": "64Gi", "pods": "110"}}}}


def write_inputs(tmp: Path, clusters: list[dict[str, Any]], members: int = 3,
                 spreads: list[dict[str, Any]] | None = None, arbiter: bool = False) -> list[str]:
    """specs.yaml (team/db, ``members`` members of 1 CPU; ``arbiter``: FedState's ``config.arbiter``, an arbiter
    whenever the data members are even) and clusters.yaml in ``tmp``: the --specs and --clusters arguments."""
    spec: dict[str, Any] = {"replicaset": members, "imageSetting": {"image": "mongo:8.0"},
                            "resource": {"requests": {"cpu": "1", "memory": "1Gi"}}}
    if arbiter:
        spec["config"] = {"arbiter": True}
    if spreads:
        spec["spreadConstraints"] = {"spreadConstraints": spreads}
    (tmp / "specs.yaml").write_text(yaml.safe_dump({
        "apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
        "metadata": {"name": "db", "namespace": "team"}, "spec": spec}, sort_keys=False))
    (tmp / "clusters.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": clusters}))
    return ["--specs", str(tmp / "specs.yaml"), "--clusters", str(tmp / "clusters.yaml")]
