"""Capacity counts the resources each cluster's members actually ask for (issue 13, sections 2 and 5).

An overlay's ``resourceTiers`` give a cluster's members other resources (the MongoDB pack's
``resources-by-tier`` override), so what fits in that cluster follows the tier, not the spec: Karmada's
estimator reads the pod template the cluster receives, after the OverridePolicy (Karmada v1.18.2,
pkg/estimator/client/general.go, ``maxAvailableReplicas`` over ``ReplicaRequirements`` taken from the
overridden template). Any pack whose overrides change what a member asks for must say so in ``memberRequests``
(which may read ``cluster``); render refuses a pack whose clusters receive pods that ask for something else.
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.models.quantity import parse_quantity
from tests.conftest import ROOT, run

SPEC = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
        "metadata": {"name": "db", "namespace": "team"}, "spec": {"replicaset": 3}}


def cluster(name: str, region: str, cpu: str, tier: str | None = None) -> dict[str, Any]:
    labels = {"vip": f"10.0.{len(name)}.{ord(name[-1])}"}
    if tier is not None:
        labels["fedrender.io/tier"] = tier
    return {"apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name, "labels": labels},
            "spec": {"syncMode": "Push", "region": region},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "ClusterReady", "message": "",
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                       "resourceSummary": {"allocatable": {"cpu": cpu, "memory": "1Ti", "pods": "500"}}}}


def write_inputs(tmp_path: Path, clusters: list[dict[str, Any]], tiers: dict[str, Any],
                 spec: dict[str, Any] = SPEC) -> list[str]:
    (tmp_path / "overlay").mkdir(exist_ok=True)
    (tmp_path / "overlay" / "tiers.yaml").write_text(yaml.safe_dump({"resourceTiers": {"tiers": tiers}}))
    (tmp_path / "clusters.yaml").write_text(yaml.safe_dump_all(clusters))
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    return ["--specs", str(tmp_path / "spec.yaml"), "--clusters", str(tmp_path / "clusters.yaml"),
            "--overlay", str(tmp_path / "overlay")]


def test_a_tier_larger_than_its_cluster_leaves_no_room_there(tmp_path: Path) -> None:
    # The example: a tier of 64 CPUs and 512Gi on a 16-CPU cluster. The spec asks for 500m, so counting
    # the spec, 32 members fit there; the members that cluster would receive ask for 64 CPUs: none fits.
    clusters = [cluster("big", "r1", "16", "huge"), cluster("b", "r2", "16"), cluster("c", "r3", "16"),
                cluster("d", "r4", "16")]
    tiers = {"huge": {"requests": {"cpu": "64", "memory": "512Gi"}, "limits": {"cpu": "64", "memory": "512Gi"}}}
    args = write_inputs(tmp_path, clusters, tiers)
    result = run(["explain", *args, "-o", "json"])
    assert result.exit_code == 0, result.stderr
    instance = json.loads(result.stdout)["instances"][0]
    assert instance["capacity"]["big"] == {"fits": 0, "estimate": "resourceSummary",
                                           "detail": "fits 0 (cpu: 16 free, 64 per member)"}
    assert instance["capacity"]["b"]["fits"] == 32
    assert "big" not in instance["placement"]
    assert instance["excluded"]["big"].startswith("has no room for a member: fits 0 (cpu: 16 free, 64 per member)")
    text = run(["explain", *args])
    assert text.exit_code == 0, text.stderr
    row = next(line for line in text.stdout.splitlines() if line.strip().startswith("big "))
    assert row.split()[:3] == ["big", "no", "0"]


def pack_with_requests(tmp_path: Path, member_requests: str) -> tuple[Path, Path]:
    """A copy of the shipped rules whose MongoDB pack has ``member_requests`` as its memberRequests; (rules, pack)."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    pack = rules / "mongodb" / "pack.yaml"
    text = pack.read_text()
    start, end = text.index("    memberRequests: >-"), text.index("    # The keyfile init container.")
    pack.write_text(text[:start] + "    memberRequests: >-\n" + member_requests + text[end:])
    return rules, pack


def test_a_pack_whose_overrides_change_requests_it_does_not_count_is_refused(tmp_path: Path) -> None:
    # The MongoDB pack before this fix: memberRequests counted the spec's resources in every cluster while the
    # resources-by-tier override gave tiered clusters others. Render names the clusters and the rule.
    rules, pack = pack_with_requests(tmp_path, '''\
      [has(spec.resource) ? dyn(spec.resource) : {"requests": {"cpu": "500m", "memory": "512Mi"}}]
      + (spec.export.enable ? [has(spec.export.resource) ? dyn(spec.export.resource)
         : {"requests": {"cpu": "50m", "memory": "100Mi"}}] : [])
''')
    clusters = [cluster("a", "r1", "16", "large"), cluster("b", "r2", "16", "large"), cluster("c", "r3", "16")]
    tiers = {"large": {"requests": {"cpu": "4", "memory": "8Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}}
    out = tmp_path / "out"
    result = run(["render", *write_inputs(tmp_path, clusters, tiers), "--rules", str(rules), "--out", str(out)])
    assert result.exit_code == 1, result.stdout
    line = next(n for n, t in enumerate(pack.read_text().splitlines(), 1) if t.startswith("    memberRequests:"))
    assert f"{pack}:{line}:" in result.stderr
    assert ("team/db: StatefulSet db asks for cpu 4, memory 8Gi per pod in a, b (after override rules "
            "resources-by-tier), as Karmada counts it") in result.stderr
    assert "give cpu 500m, memory 512Mi there" in result.stderr
    assert not out.exists()


def test_member_requests_that_read_cluster_are_type_checked_without_what_fits(tmp_path: Path) -> None:
    # cluster.fits follows from what a member asks for: memberRequests can't read it (a load-time type error).
    rules, pack = pack_with_requests(tmp_path, '''\
      [{"requests": {"cpu": cluster.fits > 1 ? "1" : "500m"}}]
''')
    result = run(["rules", "check", str(rules)])
    assert result.exit_code == 1
    line = next(n for n, t in enumerate(pack.read_text().splitlines(), 1) if t.startswith("    memberRequests:"))
    assert f"{pack}:{line + 1}:" in result.stdout + result.stderr
    assert "fits" in result.stdout + result.stderr


def test_a_spec_that_sets_its_resources_keeps_them_in_every_tier(tmp_path: Path) -> None:
    # As with the storage class, a tier is a default: what a spec asks for is never changed behind its back.
    clusters = [cluster("a", "r1", "16", "large"), cluster("b", "r2", "16", "small"), cluster("c", "r3", "16")]
    tiers = {name: {"requests": {"cpu": cpu, "memory": "8Gi"}, "limits": {"cpu": cpu, "memory": "8Gi"}}
             for name, cpu in (("large", "4"), ("small", "250m"))}
    spec = json.loads(json.dumps(SPEC))
    spec["spec"]["resource"] = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}
    args = write_inputs(tmp_path, clusters, tiers, spec)
    for name in ("a", "b", "c"):
        result = run(["preview", *args, "--cluster", name, "-o", "json"])
        assert result.exit_code == 0, result.stderr
        sts = next(o for o in json.loads(result.stdout)["items"] if o["kind"] == "StatefulSet")
        assert sts["spec"]["template"]["spec"]["containers"][0]["resources"] == spec["spec"]["resource"]
    explained = run(["explain", *args, "-o", "json"])
    capacity = json.loads(explained.stdout)["instances"][0]["capacity"]
    assert {name: row["fits"] for name, row in capacity.items()} == {"a": 16, "b": 16, "c": 16}


CPU = st.integers(1, 80).map(lambda n: f"{n * 100}m")


@settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(free=st.lists(st.integers(1, 24), min_size=3, max_size=5),
       labels=st.lists(st.sampled_from([None, "small", "large", "unknown"]), min_size=5, max_size=5),
       small=CPU, large=CPU, spec_cpu=st.none() | CPU)
def test_every_cluster_is_counted_with_what_its_members_ask_for(
        tmp_path: Path, free: list[int], labels: list[str | None], small: str, large: str,
        spec_cpu: str | None) -> None:
    """Whatever the tiers, labels and spec: each cluster's fits is its free CPU over the CPU its members ask for
    there (the spec's, else the tier's when its label names one, else the pack's default), and the render
    succeeds, so every StatefulSet a cluster receives asks for what was counted."""
    clusters = [cluster(f"m{i}", f"r{i}", str(cpu), labels[i]) for i, cpu in enumerate(free)]
    tiers = {name: {"requests": {"cpu": cpu, "memory": "1Gi"}, "limits": {"cpu": cpu, "memory": "1Gi"}}
             for name, cpu in (("small", small), ("large", large))}
    spec = json.loads(json.dumps(SPEC))
    if spec_cpu is not None:
        spec["spec"]["resource"] = {"requests": {"cpu": spec_cpu, "memory": "1Gi"}}
    args = write_inputs(tmp_path, clusters, tiers, spec)
    result = run(["explain", *args, "-o", "json"])
    assert result.exit_code in (0, 1), result.stderr
    if result.exit_code == 1:  # too little room for 3 members in 3 regions: a placement refusal, nothing else
        assert "members don't fit" in result.stderr, result.stderr
        return
    capacity = json.loads(result.stdout)["instances"][0]["capacity"]
    for i, cpu in enumerate(free):
        tier = {"small": small, "large": large}.get(labels[i] or "")
        asks = parse_quantity(spec_cpu or tier or "500m")
        assert capacity[f"m{i}"]["fits"] == int(Fraction(cpu) // asks), (labels[i], capacity[f"m{i}"])
    out = tmp_path / "out"
    shutil.rmtree(out, ignore_errors=True)
    rendered = run(["render", *args, "--out", str(out)])
    assert rendered.exit_code == 0, rendered.stderr


SHAPES = [("{'requests': 5}", "not an int"), ("{'requests': ['cpu']}", "not a list"),
          ("{'limits': 'x'}", "not a string"), ("{'requests': {1: '1'}}", "not an int -> a string"),
          ("{'requests': {'cpu': true}}", "not a string -> a bool"),
          ("{'requests': {'cpu': duration('1s')}}", "not a string -> a duration"),
          ("{'requests': {'cpu': b'1'}}", "not a string -> bytes"), ("{'requests': {'cpu': 1.5}}", "-> a double")]


@pytest.mark.parametrize(("shape", "said"), SHAPES)
def test_member_requests_of_the_wrong_shape_are_refused_at_the_rule(tmp_path: Path, shape: str, said: str) -> None:
    """Whatever a hostile pack's memberRequests gives, a located error at the rule, never a traceback nor a
    message that blames the spec (found by an attack: an int key was traced to the spec's cpu: '1')."""
    rules, pack = pack_with_requests(tmp_path, f"      [dyn({shape})]\n")
    clusters = [cluster("a", "r1", "16"), cluster("b", "r2", "16"), cluster("c", "r3", "16")]
    out = tmp_path / "out"
    result = run(["render", *write_inputs(tmp_path, clusters, {}), "--rules", str(rules), "--out", str(out)])
    assert result.exit_code == 1, result.stdout
    line = next(n for n, t in enumerate(pack.read_text().splitlines(), 1) if t.startswith("    memberRequests:"))
    assert f"{pack}:{line}:" in result.stderr
    assert "memberRequests must give" in result.stderr
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
