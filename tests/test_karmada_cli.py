"""`fedrender snapshot` and `fedrender status` through a kubeconfig context, against a local API emulator."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import CLUSTERS, ROOT, SPECS, run
from tests.kubesim import KubeSim
from tests.observed import aggregated
from tests.sandbox import picture


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


# --- snapshot --output-file: atomic, refused on anything but a regular file outside a render (hostile targets) ---

PREVIOUS = b"".join(b"- previous snapshot line %04d\n" % i for i in range(300))  # 8.7 KB, as in the report


def _snapshot(kubeconfig: Path, target: Path | str) -> list[str]:
    return ["snapshot", "--context", "karmada-apiserver", "--kubeconfig", str(kubeconfig), "--output-file",
            str(target)]


def _sandbox(base: Path) -> dict[str, Path]:
    """A previous snapshot, a directory, a FIFO and a render's output tree, side by side under ``base``."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "clusters.yaml").write_bytes(PREVIOUS)
    (base / "folder").mkdir()
    os.mkfifo(base / "fifo")
    rendered = run(["render", "--specs", str(SPECS), "--clusters", str(CLUSTERS), "--out", str(base / "out")])
    assert rendered.exit_code == 0, rendered.stderr
    (base / "link-to-out").symlink_to(base / "out", target_is_directory=True)
    return {"folder": base / "folder", "fifo": base / "fifo", "device": Path("/dev/full"),
            "missing parent": base / "nowhere" / "clusters.yaml", "file as parent": base / "clusters.yaml" / "x",
            "state file": base / "out" / ".fedrender" / "state.json",
            "state file via symlink": base / "link-to-out" / ".fedrender" / "state.json",
            "rendered manifest": next((base / "out" / "instances").rglob("*.yaml")),
            "new file in the output tree": base / "out" / "instances" / "clusters.yaml",
            "output tree itself": base / "out"}


TARGETS = ["folder", "fifo", "device", "missing parent", "file as parent", "state file", "state file via symlink",
           "rendered manifest", "new file in the output tree", "output tree itself"]


@pytest.mark.parametrize("kind", TARGETS)
def test_snapshot_refuses_a_target_it_must_not_write(karmada: tuple[KubeSim, Path], tmp_path: Path,
                                                     kind: str) -> None:
    api, kubeconfig = karmada
    api.clusters = yaml.safe_load(CLUSTERS.read_text())["items"]
    targets = _sandbox(tmp_path / "box")
    before = picture(tmp_path / "box")
    result = run(_snapshot(kubeconfig, targets[kind]))
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{targets[kind]}: error: "), result.stderr
    if kind in ("state file", "state file via symlink", "rendered manifest", "new file in the output tree"):
        assert "would overwrite rendered output" in result.stderr
    assert picture(tmp_path / "box") == before


def test_snapshot_replaces_the_file_atomically_keeping_its_mode(karmada: tuple[KubeSim, Path],
                                                               tmp_path: Path) -> None:
    api, kubeconfig = karmada
    api.clusters = yaml.safe_load(CLUSTERS.read_text())["items"]
    target = tmp_path / "clusters.yaml"
    target.write_bytes(PREVIOUS)
    target.chmod(0o640)
    result = run(_snapshot(kubeconfig, target))
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(target.read_text())["kind"] == "List"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clusters.yaml", "kubeconfig"]  # no temporary file left


def test_an_os_failure_while_writing_leaves_the_previous_snapshot(karmada: tuple[KubeSim, Path],
                                                                 tmp_path: Path) -> None:
    """Under ``ulimit -f 2`` every write past 1-2 KB fails (EFBIG): a located error, the old file intact."""
    api, kubeconfig = karmada
    api.clusters = yaml.safe_load(CLUSTERS.read_text())["items"] * 3  # well over the limit
    target = tmp_path / "snap" / "clusters.yaml"
    target.parent.mkdir()
    target.write_bytes(PREVIOUS)
    before = picture(tmp_path / "snap")
    command = ["sh", "-c", 'ulimit -f 2 && exec "$0" "$@"', sys.executable, "-c",
               "import sys; from fedrender.cli import main; sys.exit(main())", *_snapshot(kubeconfig, target)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{target}: error: cannot write the output file: File too large"), done.stderr
    assert picture(tmp_path / "snap") == before


def test_snapshot_captures_clusters_and_mongoreplicasets(karmada: tuple[KubeSim, Path], tmp_path: Path) -> None:
    """One List, Clusters first, then the MongoReplicaSets with their aggregated status, as `kubectl get
    clusters.cluster.karmada.io,mongoreplicasets.fedrender.io -A -o yaml` prints them; render reads them."""
    api, kubeconfig = karmada
    api.clusters = yaml.safe_load(CLUSTERS.read_text())["items"]
    out = tmp_path / "out"
    spec = SPECS / "fedstate-readme-sample.yaml"
    assert run(["render", "--specs", str(spec), "--clusters", str(CLUSTERS), "--out", str(out)]).exit_code == 0
    [path] = out.glob("instances/*/*/mongoreplicaset-*.yaml")
    mrs = yaml.safe_load(path.read_text())
    mrs["metadata"]["managedFields"] = [{"manager": "karmada-controller-manager"}]
    mrs["status"] = aggregated(mrs, 1, 1, 2)
    api.put_object(mrs)
    captured_file = tmp_path / "snapshot.yaml"
    result = run(["snapshot", "--context", "karmada-apiserver", "--kubeconfig", str(kubeconfig),
                  "--output-file", str(captured_file)])
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr
    captured = yaml.safe_load(captured_file.read_text())
    assert [i["kind"] for i in captured["items"]] == ["Cluster"] * len(api.clusters) + ["MongoReplicaSet"]
    assert "managedFields" not in captured["items"][-1]["metadata"]
    assert captured["items"][-1]["status"]["configVersion"] == 2
    explained = run(["explain", "--specs", str(spec), "--clusters", str(captured_file), "--out", str(out),
                     "-o", "json"])
    assert explained.exit_code == 0, explained.stderr
    [found] = json.loads(explained.stdout)["instances"]
    assert found["observed"]["usable"] is True, found["observed"]
    assert found["initialized"] is True


@pytest.mark.parametrize("code", [404, 403])
def test_snapshot_without_the_crd_warns_and_captures_clusters(karmada: tuple[KubeSim, Path], code: int) -> None:
    api, kubeconfig = karmada
    api.clusters = yaml.safe_load(CLUSTERS.read_text())["items"]
    api.mrs_refusal = code
    result = run(["snapshot", "--context", "karmada-apiserver", "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 0, result.stderr
    assert [i["kind"] for i in yaml.safe_load(result.stdout)["items"]] == ["Cluster"] * len(api.clusters)
    assert f"warning: cannot list mongoreplicasets.fedrender.io: {code} " in result.stderr
    assert "render assumes nothing happened since the last render" in result.stderr


def test_snapshot_fails_on_other_refusals_of_mongoreplicasets(karmada: tuple[KubeSim, Path]) -> None:
    api, kubeconfig = karmada
    api.clusters = yaml.safe_load(CLUSTERS.read_text())["items"]
    api.mrs_refusal = 500
    result = run(["snapshot", "--context", "karmada-apiserver", "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 1
    assert "cannot list mongoreplicasets.fedrender.io: 500" in result.stderr
    assert result.stdout == ""
