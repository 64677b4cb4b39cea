"""Per-cluster specialisation: OverridePolicies checked against an independent reading of Karmada's semantics,
render-time checks of override rules, and overlays."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

from tests import karmada_image
from tests.conftest import CLUSTERS, OVERLAY, SPECS, edited_pack, run

INPUTS = ["--specs", str(SPECS), "--clusters", str(CLUSTERS), "--overlay", str(OVERLAY)]
CLUSTER_NAMES = sorted(c["metadata"]["name"] for c in yaml.safe_load(CLUSTERS.read_text())["items"])


# --- An independent reading of Karmada (v1.18), written for this test from Karmada's documentation and
# --- pkg/util/overridemanager; it shares no code with fedrender (images: tests/karmada_image.py).

def _image(image: str, overrider: dict[str, Any]) -> str:
    return karmada_image.override(image, overrider["component"], overrider["operator"], overrider.get("value", ""))


def _karmada_apply(obj: dict[str, Any], overriders: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    for overrider in overriders.get("imageOverrider", []):
        if "predicate" in overrider:
            pointer = overrider["predicate"]["path"].strip("/").split("/")
            holder = obj
            for part in pointer[:-1]:
                holder = holder[int(part)] if isinstance(holder, list) else holder[part]
            holder[pointer[-1]] = _image(holder[pointer[-1]], overrider)
        elif obj["kind"] in ("Pod", "ReplicaSet", "Deployment", "DaemonSet", "StatefulSet", "Job"):
            pod = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
            for container in pod["containers"]:  # not initContainers
                container["image"] = _image(container["image"], overrider)
    for field, where in (("labelsOverrider", "labels"), ("annotationsOverrider", "annotations")):
        for overrider in overriders.get(field, []):
            current = obj["metadata"].setdefault(where, {}) if overrider["operator"] == "add" else \
                obj["metadata"].get(where, {})
            for key, value in overrider["value"].items():
                if overrider["operator"] == "add" or (overrider["operator"] == "replace" and key in current):
                    current[key] = value
                elif overrider["operator"] == "remove":
                    current.pop(key, None)
    patch = [{"op": p["operator"], "path": p["path"], **({"value": p["value"]} if "value" in p else {})}
             for p in overriders.get("plaintext", [])]
    return jsonpatch.apply_patch(obj, patch) if patch else obj


def _karmada_preview(out: Path, cluster: str) -> list[dict[str, Any]]:
    docs = [yaml.safe_load(p.read_text()) for p in sorted(out.rglob("*.yaml"))]
    templates = {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs
                 if not d["apiVersion"].startswith("policy.karmada.io/")}
    received = []
    for pp in (d for d in docs if d["kind"] in ("PropagationPolicy", "ClusterPropagationPolicy")):
        placement = pp["spec"]["placement"]
        if cluster not in placement["clusterAffinity"]["clusterNames"]:
            continue
        for selector in pp["spec"]["resourceSelectors"]:
            key = (selector["kind"], selector.get("namespace", ""), selector["name"])
            if key not in templates:
                continue
            obj = copy.deepcopy(templates[key])
            if placement["replicaScheduling"]["replicaSchedulingType"] == "Divided":
                weights = {w["targetCluster"]["clusterNames"][0]: w["weight"]
                           for w in placement["replicaScheduling"]["weightPreference"]["staticWeightList"]}
                assert sum(weights.values()) == obj["spec"]["replicas"]  # so the division is exact
                obj["spec"]["replicas"] = weights[cluster]
            policies = sorted((d for d in docs if d["kind"] == "OverridePolicy" and any(
                (s["kind"], s.get("namespace", ""), s["name"]) == key for s in d["spec"]["resourceSelectors"])),
                key=lambda d: d["metadata"]["name"])
            for policy in policies:
                for rule in policy["spec"]["overrideRules"]:
                    if cluster in rule["targetCluster"]["clusterNames"]:
                        obj = _karmada_apply(obj, rule["overriders"])
            received.append(obj)
    return sorted(received, key=lambda o: (o["metadata"].get("namespace", ""), o["kind"], o["metadata"]["name"]))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("overrides") / "out"
    assert run(["render", *INPUTS, "--out", str(out)]).exit_code == 0
    return out


@pytest.mark.parametrize("cluster", CLUSTER_NAMES)
def test_preview_is_what_karmada_would_apply(rendered: Path, cluster: str) -> None:
    result = run(["preview", "--cluster", cluster, *INPUTS])
    assert result.exit_code == 0, result.stderr
    previewed = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert previewed == _karmada_preview(rendered, cluster)


def test_the_overrides_do_something(rendered: Path) -> None:
    objects = {o["metadata"]["name"] + "/" + o["kind"]: o for o in _karmada_preview(rendered, "member-eu-2")}
    sts = objects["catalog/StatefulSet"]
    pod = sts["spec"]["template"]["spec"]
    # The spec says mongo:7.0: Docker Hub's library/mongo, which the mirror serves under library/.
    assert pod["containers"][0]["image"] == "mirror.eu-central.example.com/dockerhub/library/mongo:7.0"
    assert pod["initContainers"][0]["image"] == "mirror.eu-central.example.com/dockerhub/library/mongo:7.0"
    assert pod["containers"][1]["image"] == "mirror.eu-central.example.com/dockerhub/percona/mongodb_exporter:0.44.0"
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "alicloud-disk-essd"
    assert pod["containers"][0]["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}  # tier "small"
    assert sts["metadata"]["labels"]["fedrender.io/vip"] == "10.11.1.10"
    assert sts["spec"]["replicas"] == 2
    assert "init" not in objects["catalog/MongoReplicaSet"]["spec"]
    eu1 = {o["metadata"]["name"] + "/" + o["kind"]: o for o in _karmada_preview(rendered, "member-eu-1")}
    assert eu1["catalog/MongoReplicaSet"]["spec"]["init"] is True


def test_preview_diff_shows_only_the_changes() -> None:
    result = run(["preview", "--cluster", "member-us-1", "--diff", *INPUTS])
    assert result.exit_code == 0
    assert "+      storageClassName: premium-rwo" in result.stdout
    assert "-  replicas: 5" in result.stdout
    assert "+  replicas: 1" in result.stdout


def test_preview_of_an_unknown_cluster_is_an_error() -> None:
    result = run(["preview", "--cluster", "member-mars-1", *INPUTS])
    assert result.exit_code == 1
    assert "cluster 'member-mars-1' is not in the snapshot" in result.stderr


MONGODB_INPUTS = ["--specs", str(SPECS / "team-databases.yaml"), "--clusters", str(CLUSTERS),
                  "--overlay", str(OVERLAY)]


def test_a_plaintext_path_that_does_not_resolve_fails_the_render(tmp_path: Path) -> None:
    old = "path: /spec/volumeClaimTemplates/0/spec/storageClassName"
    pack = edited_pack(tmp_path, old, "path: /spec/volumeClaimTemplate/0/spec/storageClassName")
    lines = (pack / "pack.yaml").read_text().splitlines()
    line = lines.index("          path: /spec/volumeClaimTemplate/0/spec/storageClassName")  # "- operator: add" above
    out = tmp_path / "out"
    result = run(["render", *MONGODB_INPUTS, "--rules", str(pack), "--out", str(out)])
    assert result.exit_code == 1
    assert f"{pack / 'pack.yaml'}:{line}:11: error: rule 'storage-class-by-provider': plaintext[0]:" in result.stderr
    assert "add /spec/volumeClaimTemplate/0/spec/storageClassName: /spec has no member 'volumeClaimTemplate'" \
        in result.stderr
    assert "Karmada would fail to apply it" in result.stderr
    assert "1 error;" in result.stderr
    assert not out.exists()


def test_an_image_overrider_on_a_kind_karmada_ignores_is_refused(tmp_path: Path) -> None:
    pack = edited_pack(tmp_path, "      kinds: [StatefulSet]\n      when: cluster.region in overlay.registryMirrors",
                 "      kinds: [StatefulSet, MongoReplicaSet]\n      when: cluster.region in overlay.registryMirrors")
    result = run(["explain", *MONGODB_INPUTS, "--rules", str(pack)])
    assert result.exit_code == 1
    assert "an imageOverrider without predicate changes nothing in MongoReplicaSet" in result.stderr


def test_a_rule_for_a_kind_no_template_renders_is_refused(tmp_path: Path) -> None:
    pack = edited_pack(tmp_path, "kinds: [MongoReplicaSet]\n      when: cluster.name == initCluster",
                 "kinds: [MongoDBReplicaSet]\n      when: cluster.name == initCluster")
    result = run(["explain", *MONGODB_INPUTS, "--rules", str(pack)])
    assert result.exit_code == 1
    assert "rule 'init-cluster': no template renders kind MongoDBReplicaSet" in result.stderr


def test_overlay_mistakes_name_the_file_and_line(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "a.yaml").write_text("registryMirrors:\n  eu-west-1: mirror.example.com\nstorageClass:\n  aws: gp3\n")
    result = run(["explain", "--specs", str(SPECS), "--clusters", str(CLUSTERS), "--overlay", str(overlay)])
    assert result.exit_code == 1
    assert f"{overlay / 'a.yaml'}:3:1: error: storageClass: unknown field (in overlay, document 1)" in result.stderr


def test_overlays_merge_in_the_documented_order(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "a.yaml").write_text("storageClasses: {aws: gp2, gcp: standard}\n")
    (first / "b.yaml").write_text("storageClasses: {aws: gp3}\n")
    (second / "a.yaml").write_text("storageClasses: {gcp: premium-rwo}\n")
    result = run(["preview", "--cluster", "member-us-1", "--specs", str(SPECS / "fedstate-readme-sample.yaml"),
                  "--specs", str(SPECS / "team-databases.yaml"), "--clusters", str(CLUSTERS),
                  "--overlay", str(first), "--overlay", str(second)])
    assert result.exit_code == 0, result.stderr
    assert "storageClassName: premium-rwo" in result.stdout
    eu = run(["preview", "--cluster", "member-eu-1", "--specs", str(SPECS), "--clusters", str(CLUSTERS),
              "--overlay", str(first), "--overlay", str(second)])
    assert "storageClassName: gp3" in eu.stdout
    assert "storageClassName: gp2" not in eu.stdout


def test_an_overlay_ignores_directories_named_like_files(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    (overlay / "old.yaml").mkdir(parents=True)
    (overlay / "ports.yaml").write_text("nodePorts: {min: 30000, max: 32767}\n")
    result = run(["explain", "--specs", str(SPECS), "--clusters", str(CLUSTERS), "--overlay", str(overlay)])
    assert result.exit_code == 0, result.stderr
