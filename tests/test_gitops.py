"""gitops/: Argo CD objects against the written-down Argo CD schema, the rest against Kubernetes' schemas,
and the layout they expect against what `fedrender publish --path manifests` writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT

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
