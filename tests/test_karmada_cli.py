"""`fedrender snapshot` and `fedrender status` through a kubeconfig context, against a local API emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import CLUSTERS, SPECS, run
from tests.kubesim import KubeSim


@pytest.fixture
def karmada(tmp_path: Path) -> Iterator[tuple[KubeSim, Path]]:
    api = KubeSim()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "karmada", "cluster": {"server": api.host}},
                     {"name": "other", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "admin", "user": {"token": "test"}}],
        "contexts": [{"name": "karmada-apiserver", "context": {"cluster": "karmada", "user": "admin"}},
                     {"name": "other", "context": {"cluster": "other", "user": "admin"}}]}))
    yield api, kubeconfig
    api.stop()


def test_snapshot_captures_what_render_reads(karmada: tuple[KubeSim, Path], tmp_path: Path) -> None:
    api, kubeconfig = karmada
    api.clusters = [{**c, "metadata": {**c["metadata"], "managedFields": [{"manager": "karmada"}]}}
                    for c in yaml.safe_load(CLUSTERS.read_text())["items"]]
    out = tmp_path / "clusters.yaml"
    result = run(["snapshot", "--context", "karmada-apiserver", "--kubeconfig", str(kubeconfig),
                  "--output-file", str(out)])
    assert result.exit_code == 0, result.stderr
    captured = yaml.safe_load(out.read_text())
    as_json = run(["snapshot", "--context", "karmada-apiserver", "--kubeconfig", str(kubeconfig), "-o", "json"])
    assert as_json.exit_code == 0, as_json.stderr
    assert json.loads(as_json.stdout) == captured  # -o is the format, stdout the default file
    assert captured["kind"] == "List"
    assert [c["metadata"]["name"] for c in captured["items"]] == sorted(
        c["metadata"]["name"] for c in yaml.safe_load(CLUSTERS.read_text())["items"])
    assert all("managedFields" not in c["metadata"] for c in captured["items"])
    explained = run(["explain", "--specs", str(SPECS), "--clusters", str(out), "-o", "json"])
    original = run(["explain", "--specs", str(SPECS), "--clusters", str(CLUSTERS), "-o", "json"])
    assert explained.exit_code == 0
    assert json.loads(explained.stdout) == json.loads(original.stdout)


def test_status_prints_the_topology(karmada: tuple[KubeSim, Path]) -> None:
    api, kubeconfig = karmada
    members = [{"_id": 0, "host": "10.0.1.1:30001", "cluster": "eu", "ordinal": 0, "votes": 1, "priority": 2},
               {"_id": 1, "host": "10.0.2.1:30001", "cluster": "us", "ordinal": 0, "votes": 1, "priority": 1},
               {"_id": 2, "host": "10.0.1.1:30002", "cluster": "eu", "ordinal": 1, "votes": 1, "priority": 1}]
    api.put_object({"apiVersion": "fedrender.io/v1alpha1", "kind": "MongoReplicaSet",
                    "metadata": {"name": "db", "namespace": "shop"},
                    "spec": {"replicaSetName": "db", "statefulSetName": "db", "initCluster": "eu", "members": members},
                    "status": {"phase": "Ready", "primary": "10.0.1.1:30001",
                               "clusters": [{"cluster": "eu", "phase": "Ready", "healthyMembers": 2},
                                            {"cluster": "us", "phase": "Ready", "healthyMembers": 1}]}})
    args = ["status", "--context", "karmada-apiserver", "--kubeconfig", str(kubeconfig)]
    text = run(args)
    assert text.exit_code == 0, text.stderr
    assert text.stdout.splitlines() == [
        "shop/db: Ready, primary 10.0.1.1:30001",
        "  eu: Ready, 2/2 healthy",
        "    10.0.1.1:30001  PRIMARY",
        "    10.0.1.1:30002  SECONDARY",
        "  us: Ready, 1/1 healthy",
        "    10.0.2.1:30001  SECONDARY",
        "  externalAddr: 10.0.1.1:30001,10.0.2.1:30001,10.0.1.1:30002",
    ]
    as_json = json.loads(run([*args, "-o", "json"]).stdout)["replicaSets"][0]
    assert as_json["result"][0]["connectAddrWithRole"] == {"10.0.1.1:30001": "PRIMARY", "10.0.1.1:30002": "SECONDARY"}
    assert yaml.safe_load(run([*args, "-o", "yaml"]).stdout)["replicaSets"][0] == as_json


def test_an_unreachable_api_is_an_error(karmada: tuple[KubeSim, Path]) -> None:
    _, kubeconfig = karmada
    result = run(["status", "--kubeconfig", str(kubeconfig)])  # the current context points nowhere
    assert result.exit_code == 1
    assert "cannot list mongoreplicasets.fedrender.io" in result.stderr
