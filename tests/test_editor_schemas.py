"""Editor support as a user meets it: every input file shipped in the repository (examples, overlays, the rule
packs' pack.yaml and tests.yaml) starts with a ``# yaml-language-server: $schema=`` line whose path resolves to a
schema in schemas/, and every document of the file validates against that schema, as the editor would check it.

A file that render accepts but its schema refuses would put red squiggles under a valid file; the reverse is
covered by tests/test_schemas.py (the schemas are the models')."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, run

MODELINE = re.compile(r"# yaml-language-server: \$schema=(?P<path>\S+)\n")
FILES = sorted([*ROOT.glob("examples/*/*.yaml"), *ROOT.glob("overlays/*/*.yaml"),
                *ROOT.glob("rules/*/pack.yaml"), *ROOT.glob("rules/*/tests.yaml"),
                *ROOT.glob("rules/*/testdata/*.yaml")])


def test_the_inputs_are_found() -> None:
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_first_line_names_a_schema_every_document_satisfies(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    line = MODELINE.match(text)
    assert line, f"{path.relative_to(ROOT)}: first line is not a yaml-language-server $schema line"
    schema_path = (path.parent / line["path"]).resolve()
    assert schema_path.parent == ROOT / "schemas", schema_path
    schema = json.loads(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    assert docs
    for doc in docs:
        errors = sorted(validator.iter_errors(json.loads(json.dumps(doc, default=str))), key=str)
        assert not errors, f"{path.relative_to(ROOT)}: {errors[0].message} at {list(errors[0].absolute_path)}"


def test_a_list_and_a_single_cluster_both_validate_and_a_wrong_kind_does_not() -> None:
    schema = json.loads((ROOT / "schemas" / "cluster.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    cluster = {"apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "m1"},
               "spec": {"syncMode": "Push"}}
    assert not list(validator.iter_errors(cluster))
    assert not list(validator.iter_errors({"apiVersion": "v1", "kind": "List", "items": [cluster]}))
    assert list(validator.iter_errors({"apiVersion": "v1", "kind": "List", "items": [{**cluster, "spec": 3}]}))


def test_the_snapshot_schema_takes_mongoreplicasets_beside_the_clusters() -> None:
    """`fedrender schema Cluster` describes what --clusters reads: Clusters and the observed MongoReplicaSets, in one
    List as `kubectl get clusters.cluster.karmada.io,mongoreplicasets.fedrender.io -A -o yaml` prints them."""
    result = run(["schema", "cluster"])
    assert result.exit_code == 0
    validator = jsonschema.Draft202012Validator(json.loads(result.stdout))
    cluster = {"apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "m1"},
               "spec": {"syncMode": "Push"}}
    mrs = {"apiVersion": "fedrender.io/v1alpha1", "kind": "MongoReplicaSet",
           "metadata": {"name": "db", "namespace": "team", "generation": 2},
           "spec": {"replicaSetName": "db", "statefulSetName": "db", "initCluster": "m1", "keyFileSecret": "db-keyfile",
                    "users": {"root": {"secretName": "db-root"}},
                    "members": [{"_id": 0, "host": "10.0.0.1:31000", "cluster": "m1", "ordinal": 0, "votes": 1,
                                 "priority": 1}]},
           "status": {"observedGeneration": 2, "initialized": True, "aNewerField": {"x": 1}}}
    assert not list(validator.iter_errors({"apiVersion": "v1", "kind": "List", "items": [cluster, mrs]}))
    assert not list(validator.iter_errors(mrs))
    wrong = {**mrs, "spec": {**mrs["spec"], "unknown": 1}}  # the spec is fedrender's: strict
    assert list(validator.iter_errors({"apiVersion": "v1", "kind": "List", "items": [cluster, wrong]}))
