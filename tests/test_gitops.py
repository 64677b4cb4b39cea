"""gitops/: Argo CD objects against the written-down Argo CD schema, the rest against Kubernetes' schemas,
and the layout they expect against what `fedrender publish --path manifests` writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.conftest import CLUSTERS, ROOT, run

ARGOCD = yaml.safe_load((ROOT / "schemas" / "argocd" / "argocd.schema.yaml").read_text())
GITOPS = sorted((ROOT / "gitops").glob("*.yaml"))


def validate(obj: dict[str, Any]) -> None:
    if obj["apiVersion"].startswith("argoproj.io/"):
        schema = {"$defs": ARGOCD["$defs"], **ARGOCD["kinds"][obj["kind"]]}
        jsonschema.validate(obj, schema, cls=jsonschema.Draft202012Validator)
    else:
        kubernetes_validate.validate(obj, "1.33", strict=True)


@pytest.mark.parametrize("path", GITOPS, ids=lambda p: p.name)
def test_gitops_manifests_validate(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        validate(doc)


def test_the_argocd_schema_catches_a_misspelt_field() -> None:
    app = yaml.safe_load((ROOT / "gitops" / "application-platform.yaml").read_text())
    app["spec"]["syncPolicy"]["automated"]["prunne"] = True
    with pytest.raises(jsonschema.ValidationError, match="prunne"):
        validate(app)
    app = yaml.safe_load((ROOT / "gitops" / "application-platform.yaml").read_text())
    app["spec"]["syncPolicy"]["syncOptions"].append("Prune=confirms-later")
    validate(app)  # values are Argo CD's to judge; names are ours
    app["spec"]["syncPolicy"]["syncOptions"].append("Purne=confirm")
    with pytest.raises(jsonschema.ValidationError):
        validate(app)


def test_the_applications_point_at_what_publish_writes() -> None:
    appset = yaml.safe_load((ROOT / "gitops" / "applicationset.yaml").read_text())
    assert appset["spec"]["generators"][0]["git"]["directories"][0]["path"] == "manifests/instances/*/*"
    platform = yaml.safe_load((ROOT / "gitops" / "application-platform.yaml").read_text())
    assert platform["spec"]["source"]["path"] == "manifests/platform"
    assert int(platform["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) < int(
        appset["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])  # waves of the root Application


def test_the_project_allows_every_kind_fedrender_renders(rendered: Path) -> None:
    """Argo CD refuses to sync a kind its AppProject doesn't list: every rendered kind is allowed, the
    PodDisruptionBudget and the arbiter's objects included."""
    project = yaml.safe_load((ROOT / "gitops" / "appproject.yaml").read_text())["spec"]
    allowed = {(k["group"], k["kind"]) for k in project["clusterResourceWhitelist"] +
               project["namespaceResourceWhitelist"]}
    arbiter = rendered.parent / "arbiter"
    spec = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
            "metadata": {"name": "db", "namespace": "shop"}, "spec": {"replicaset": 2, "config": {"arbiter": True}}}
    (rendered.parent / "arbiter.yaml").write_text(yaml.safe_dump(spec))
    assert run(["render", "--specs", str(rendered.parent / "arbiter.yaml"), "--clusters", str(CLUSTERS),
                "--out", str(arbiter)]).exit_code == 0
    kinds = set()
    for out in (rendered, arbiter):
        for path in out.rglob("*.yaml"):
            obj = yaml.safe_load(path.read_text())
            kinds.add((obj["apiVersion"].rpartition("/")[0], obj["kind"]))
    assert ("policy", "PodDisruptionBudget") in kinds
    assert kinds <= allowed, sorted(kinds - allowed)
