"""End to end: the examples render, validate against the real schemas, and render byte-identically twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.conftest import CLUSTERS, DEMO_ARGS, ROOT, run, tree

SCHEMAS = ROOT / "schemas"
CRD_FILES = [*sorted((SCHEMAS / "vendor" / "karmada").glob("*.yaml")),
             ROOT / "rules" / "mongodb" / "platform" / "crd.yaml", ROOT / "rules" / "redis" / "crd.yaml"]
K8S_VERSION = "1.33"


def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path in CRD_FILES:
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            out[(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])] = \
                version["schema"]["openAPIV3Schema"]
    return out


CRDS = _crd_schemas()


def validate_object(obj: dict[str, Any]) -> None:
    """Against the vendored CRD for custom kinds, against Kubernetes' own schema (strict) for built-in ones."""
    key = (obj["apiVersion"], obj["kind"])
    if key in CRDS:
        jsonschema.validate(obj, CRDS[key], cls=jsonschema.Draft7Validator)
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def _objects(out: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(str(p.relative_to(out)), yaml.safe_load(p.read_text())) for p in sorted(out.rglob("*.yaml"))]


def test_every_rendered_object_validates(rendered: Path) -> None:
    objects = _objects(rendered)
    kinds = {obj["kind"] for _, obj in objects}
    assert {"StatefulSet", "Service", "PropagationPolicy", "OverridePolicy", "MongoReplicaSet"} <= kinds
    for path, obj in objects:
        try:
            validate_object(obj)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:  # pragma: no cover
            pytest.fail(f"{path}: {exc}")


def test_validation_catches_a_broken_object() -> None:
    """The validators above are not vacuous: a wrong field in a Karmada and a Kubernetes object fails."""
    policy = {"apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy", "metadata": {"name": "x"},
              "spec": {"resourceSelectors": [{"apiVersion": "v1", "kind": "Service"}],
                       "placement": {"replicaScheduling": {"replicaSchedulingType": "Split"}}}}
    with pytest.raises(jsonschema.ValidationError):
        validate_object(policy)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"prots": []}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_object(service)


def test_layout_one_object_per_file(rendered: Path) -> None:
    files = tree(rendered)
    assert ".fedrender/state.json" in files
    for path, obj in _objects(rendered):
        parts = Path(path).parts
        assert parts[0] in ("instances", "platform", "references")
        assert Path(path).name == f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        if parts[0] in ("instances", "references"):
            assert obj["metadata"]["namespace"] == parts[1]
        assert len(parts) == {"instances": 4, "references": 3, "platform": 3}[parts[0]]


def test_render_twice_gives_identical_bytes(tmp_path: Path, rendered: Path) -> None:
    again = tmp_path / "again"
    assert run(["render", *DEMO_ARGS, "--out", str(again)]).exit_code == 0
    assert tree(again) == tree(rendered)


def test_rerender_in_place_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(["render", *DEMO_ARGS, "--out", str(out)]).exit_code == 0
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    result = run(["render", *DEMO_ARGS, "--out", str(out)])
    assert result.exit_code == 0
    assert "0 written" in result.stderr
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()} == before


def test_placement_and_policies_agree(rendered: Path) -> None:
    base = rendered / "instances" / "shop" / "catalog"
    sts = yaml.safe_load((base / "statefulset-catalog.yaml").read_text())
    policy = yaml.safe_load((base / "propagationpolicy-catalog.yaml").read_text())
    mrs = yaml.safe_load((base / "mongoreplicaset-catalog.yaml").read_text())
    weights = {w["targetCluster"]["clusterNames"][0]: w["weight"]
               for w in policy["spec"]["placement"]["replicaScheduling"]["weightPreference"]["staticWeightList"]}
    assert sum(weights.values()) == sts["spec"]["replicas"] == len(mrs["spec"]["members"]) == 5
    assert sorted(weights.values()) == [1, 2, 2]
    assert sorted(policy["spec"]["placement"]["clusterAffinity"]["clusterNames"]) == sorted(weights)
    tolerated = {t["key"] for t in policy["spec"]["placement"]["clusterTolerations"]}
    assert {"cluster.karmada.io/not-ready", "cluster.karmada.io/unreachable"} <= tolerated
    ports = {}
    for member in mrs["spec"]["members"]:
        ports.setdefault(member["ordinal"], set()).add(member["host"].split(":")[1])
        service = yaml.safe_load((base / f"service-catalog-{member['ordinal']}.yaml").read_text())
        assert member["host"].endswith(f":{service['spec']['ports'][0]['nodePort']}")
    assert all(len(p) == 1 for p in ports.values())


def test_the_arbiter_has_its_own_workload_in_one_cluster(rendered: Path) -> None:
    base = rendered / "instances" / "shop" / "ledger"
    mrs = yaml.safe_load((base / "mongoreplicaset-ledger.yaml").read_text())
    arbiter = next(m for m in mrs["spec"]["members"] if m["arbiterOnly"])
    assert (arbiter["votes"], arbiter["priority"]) == (1, 0)
    assert sum(m["votes"] for m in mrs["spec"]["members"]) == 5
    sts = yaml.safe_load((base / "statefulset-ledger-arbiter.yaml").read_text())
    assert sts["spec"]["replicas"] == 1
    assert "volumeClaimTemplates" not in sts["spec"]
    data = yaml.safe_load((base / "statefulset-ledger.yaml").read_text())
    assert data["spec"]["replicas"] == 4
    assert data["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "data"
    policy = yaml.safe_load((base / "propagationpolicy-ledger-arbiter.yaml").read_text())
    assert policy["spec"]["placement"]["clusterAffinity"]["clusterNames"] == [arbiter["cluster"]]
    service = yaml.safe_load((base / "service-ledger-arbiter.yaml").read_text())
    assert arbiter["host"].endswith(f":{service['spec']['ports'][0]['nodePort']}")


def test_the_arbiters_cluster_gets_the_secrets_it_mounts(tmp_path: Path) -> None:
    spec = tmp_path / "db.yaml"
    spec.write_text("apiVersion: middleware.fedstate.io/v1alpha1\nkind: MultiCloudMongoDB\nmetadata: {name: db, "
                    "namespace: t}\nspec: {replicaset: 2, config: {arbiter: true}, scheduler: {tolerations: "
                    "[{key: dedicated, operator: Exists}]}}\n")
    out = tmp_path / "out"
    assert run(["render", "--specs", str(spec), "--clusters", str(CLUSTERS), "--out", str(out)]).exit_code == 0
    arbiter = yaml.safe_load((out / "instances/t/db/propagationpolicy-db-arbiter.yaml").read_text())
    (cluster,) = arbiter["spec"]["placement"]["clusterAffinity"]["clusterNames"]
    keyfile = yaml.safe_load((out / "references/t/propagationpolicy-secret-db-keyfile.yaml").read_text())
    assert cluster in keyfile["spec"]["placement"]["clusterAffinity"]["clusterNames"]


def test_nodeports_are_unique_across_everything(rendered: Path) -> None:
    seen: dict[int, str] = {}
    for path, obj in _objects(rendered):
        if obj["kind"] == "Service" and obj["spec"].get("type") == "NodePort":
            for port in (p["nodePort"] for p in obj["spec"]["ports"]):
                assert port not in seen, f"{path} and {seen.get(port)} share {port}"
                seen[port] = path
    # sessions, catalog, sample, orders, ledger (2 ordinals + arbiter), cache (1 ordinal, redis + sentinel)
    assert len(seen) == 2 + 2 + 3 + 1 + 3 + 2


def test_nothing_runs_as_root(rendered: Path) -> None:
    for path, obj in _objects(rendered):
        if obj["kind"] != "StatefulSet":
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, path
        assert pod["securityContext"]["runAsUser"] != 0, path
        for container in pod["containers"] + pod.get("initContainers", []):
            assert "runAsUser" not in container.get("securityContext", {}), path
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, path


def test_platform_propagates_the_reconciler_where_members_are(rendered: Path) -> None:
    platform = rendered / "platform" / "mongodb"
    policy = yaml.safe_load((platform / "clusterpropagationpolicy-fedrender-mongodb-platform.yaml").read_text())
    assert policy["spec"]["placement"]["clusterAffinity"]["clusterNames"] == ["member-eu-1", "member-eu-2",
                                                                             "member-us-1"]
    selected = {(s["kind"], s["name"]) for s in policy["spec"]["resourceSelectors"]}
    assert ("CustomResourceDefinition", "mongoreplicasets.fedrender.io") in selected
    assert ("Deployment", "fedrender-reconciler") in selected
    assert ("ResourceInterpreterCustomization", "fedrender-mongoreplicaset") not in selected  # control plane only
    names = yaml.safe_load((platform / "overridepolicy-fedrender-reconciler-cluster-name.yaml").read_text())
    assert [r["targetCluster"]["clusterNames"] for r in names["spec"]["overrideRules"]] == [
        ["member-eu-1"], ["member-eu-2"], ["member-us-1"]]
    role = yaml.safe_load((platform / "clusterrole-fedrender-reconciler.yaml").read_text())
    verbs = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
    assert (("",), ("secrets",)) not in verbs  # per instance, by resourceNames (tests/test_reconciler_rendered.py)
    assert verbs[(("fedrender.io",), ("mongoreplicasets",))] == {"get", "list", "watch"}
    assert not any(v & {"delete", "deletecollection", "*"} for v in verbs.values())


def test_no_secret_material_is_rendered(rendered: Path) -> None:
    for path, obj in _objects(rendered):
        assert obj["kind"] != "Secret", path
    text = b"".join(tree(rendered).values())
    assert b"passwd" not in text


def test_state_file_records_placement(rendered: Path) -> None:
    state = json.loads((rendered / ".fedrender" / "state.json").read_text())
    assert state["schemaVersion"] == 2
    assert set(state["instances"]) == {"default/multicloudmongodb-sample", "identity/sessions", "shop/catalog",
                                       "shop/cache", "shop/ledger", "shop/orders"}
    ledger = state["instances"]["shop/ledger"]
    arbiters = [m for m in ledger["members"] if m["arbiterOnly"]]
    assert len(arbiters) == 1
    assert ledger["nodePorts"]["arbiter"] == arbiters[0]["nodePort"]
    assert sorted(state["files"]) == sorted(p for p in tree(rendered) if p != ".fedrender/state.json")
    assert CLUSTERS.resolve().as_posix() in state["inputs"] or "examples/clusters/clusters.yaml" in state["inputs"]


def test_state_is_the_same_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert run(["render", *DEMO_ARGS, "--out", str(first)]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    assert run(["render", *DEMO_ARGS, "--out", str(second)]).exit_code == 0
    assert tree(first) == tree(second)


def test_files_fedrender_did_not_write_are_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    mine = out / "instances" / "shop" / "orders" / "service-orders.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("# written by hand\n")
    result = run(["render", *DEMO_ARGS, "--out", str(out)])
    assert result.exit_code == 1
    assert "refusing to overwrite 1 file(s) fedrender did not write: instances/shop/orders/service-orders.yaml" \
        in result.stderr
    assert tree(out) == {"instances/shop/orders/service-orders.yaml": b"# written by hand\n"}
