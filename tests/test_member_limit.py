"""Members that must not share a node fit once per Ready node (issue 13, section 1, found by a new-user walkthrough).

With the MongoDB pack's setting ``podAntiAffinity: required``, the StatefulSet's pods may not share a node
(``requiredDuringSchedulingIgnoredDuringExecution`` on ``kubernetes.io/hostname``), so a cluster holds at most
one member per Ready node (the Karmada Cluster's ``status.nodeSummary.readyNum``); another would wait
``Pending`` for ever, a voter short. The pack says so with ``scheduling.memberLimit``, which caps what fits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run

SPEC = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
        "metadata": {"name": "db", "namespace": "team"}, "spec": {"replicaset": 5}}


def cluster(index: int, nodes: int | None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterReady", "message": "",
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}],
        "resourceSummary": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"}}}
    if nodes is not None:
        status["nodeSummary"] = {"readyNum": nodes, "totalNum": nodes}
    return {"apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": f"c{index}", "labels": {"vip": f"10.0.{index}.1"}},
            "spec": {"syncMode": "Push", "region": f"r{index}"}, "status": status}


def inputs(tmp_path: Path, nodes: list[int | None], affinity: str, members: int = 5) -> list[str]:
    (tmp_path / "overlay").mkdir(exist_ok=True)
    (tmp_path / "overlay" / "values.yaml").write_text(
        yaml.safe_dump({"values": {"mongodb": {"podAntiAffinity": affinity}}}))
    (tmp_path / "clusters.yaml").write_text(yaml.safe_dump_all([cluster(i, n) for i, n in enumerate(nodes)]))
    spec = json.loads(json.dumps(SPEC))
    spec["spec"]["replicaset"] = members
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    return ["--specs", str(tmp_path / "spec.yaml"), "--clusters", str(tmp_path / "clusters.yaml"),
            "--overlay", str(tmp_path / "overlay")]


def explain(args: list[str]) -> dict[str, Any]:
    result = run(["explain", *args, "-o", "json"])
    assert result.exit_code == 0, result.stderr
    instance: dict[str, Any] = json.loads(result.stdout)["instances"][0]
    return instance


def test_required_anti_affinity_fits_one_member_per_ready_node(tmp_path: Path) -> None:
    instance = explain(inputs(tmp_path, [2, 2, 1], "required"))
    assert instance["placement"] == {"c0": 2, "c1": 2, "c2": 1}
    assert instance["capacity"]["c2"]["fits"] == 1
    assert instance["capacity"]["c2"]["detail"].endswith(
        "; at most 1 (memberLimit of pack mongodb: podAntiAffinity is required and 1 node is Ready)")
    text = run(["explain", *inputs(tmp_path, [2, 2, 1], "required")])
    row = next(line.split() for line in text.stdout.splitlines() if line.strip().startswith("c2 "))
    assert row[:3] == ["c2", "yes", "1"]


def test_one_node_clusters_refuse_more_members_than_nodes(tmp_path: Path) -> None:
    # The walkthrough's case: three one-node clusters and 5 members rendered 2-2-1 with two members Pending.
    out = tmp_path / "out"
    result = run(["render", *inputs(tmp_path, [1, 1, 1], "required"), "--out", str(out)])
    assert result.exit_code == 1
    assert "5 members don't fit" in result.stderr
    assert "podAntiAffinity is required and 1 node is Ready" in result.stderr
    assert not out.exists()


def test_preferred_anti_affinity_and_unknown_nodes_set_no_limit(tmp_path: Path) -> None:
    preferred = explain(inputs(tmp_path, [1, 1, 1], "preferred"))["capacity"]["c0"]
    assert preferred["fits"] == 128
    assert "memberLimit" not in preferred["detail"]
    unknown = explain(inputs(tmp_path, [None, None, None], "required"))["capacity"]["c0"]
    assert unknown["fits"] == 128
    assert unknown["detail"].endswith(
        "; not limited by memberLimit of pack mongodb: podAntiAffinity is required, but the snapshot doesn't say "
        "how many nodes are Ready (status.nodeSummary.readyNum), so members that would share a node are not "
        "counted out")


@settings(deadline=None, max_examples=15, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(nodes=st.lists(st.integers(0, 4), min_size=3, max_size=5), members=st.integers(1, 7))
def test_no_cluster_gets_more_members_than_ready_nodes(tmp_path: Path, nodes: list[int], members: int) -> None:
    """Whatever the nodes and the member count: each cluster holds at most one member (the arbiter counted) per
    Ready node, or the render is refused because they don't fit."""
    args = inputs(tmp_path, list(nodes), "required", members)
    result = run(["explain", *args, "-o", "json"])
    if result.exit_code == 1:
        assert "don't fit" in result.stderr or "no cluster is eligible" in result.stderr \
            or "no eligible cluster has room for the arbiter" in result.stderr, result.stderr
        return
    assert result.exit_code == 0, result.stderr
    instance = json.loads(result.stdout)["instances"][0]
    held = dict(instance["placement"])
    for member in instance["members"]:
        if member["id"] == instance["arbiter"]:
            held[member["cluster"]] = held.get(member["cluster"], 0) + 1
    for name, count in held.items():
        assert count <= nodes[int(name[1:])], (name, held, nodes)
