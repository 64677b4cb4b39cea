"""FedState's samples behave as their comments say; bad input exits 1, names file:line:field, writes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CLUSTERS, ROOT, SPECS, run, tree

SAMPLES = list(yaml.safe_load_all((ROOT / "schemas" / "vendor" / "fedstate" / "samples.yaml").read_text()))
README_SAMPLE, ARTICLE_SAMPLE = SAMPLES[0], SAMPLES[1]


def _write(path: Path, *docs: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def _render(tmp_path: Path, spec: Path, out: Path | None = None) -> Any:
    out = out or tmp_path / "out"
    return run(["render", "--specs", str(spec), "--clusters", str(CLUSTERS), "--out", str(out)])


@pytest.fixture
def existing_out(tmp_path: Path) -> Path:
    """An output directory with content that must survive a failed render untouched."""
    out = tmp_path / "out"
    (out / "keep").mkdir(parents=True)
    (out / "keep" / "notes.txt").write_text("not fedrender's")
    return out


def _assert_failed_cleanly(result: Any, out: Path, before: dict[str, bytes]) -> None:
    assert result.exit_code == 1, result.stderr
    assert "nothing was written" in result.stderr
    assert tree(out) == before
    assert not list(out.parent.glob(".out.fedrender-*"))


def test_readme_sample_renders_unchanged(tmp_path: Path) -> None:
    spec = ROOT / "examples" / "specs" / "fedstate-readme-sample.yaml"
    assert yaml.safe_load(spec.read_text()) == README_SAMPLE
    result = _render(tmp_path, spec)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "instances" / "default" / "multicloudmongodb-sample").is_dir()


def test_article_sample_without_auth_renders_with_pull_secret_name(tmp_path: Path) -> None:
    sample = {**ARTICLE_SAMPLE, "spec": {k: v for k, v in ARTICLE_SAMPLE["spec"].items() if k != "auth"}}
    result = _render(tmp_path, _write(tmp_path / "article.yaml", sample))
    assert result.exit_code == 0, result.stderr
    base = tmp_path / "out" / "instances" / "default" / "multicloudmongodb-sample"
    sts = yaml.safe_load((base / "statefulset-multicloudmongodb-sample.yaml").read_text())
    pod = sts["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "my-image-secret"}]
    assert pod["nodeSelector"] == {"deploy": "mongo"}
    assert "--config" in pod["containers"][0]["args"]
    assert [c["name"] for c in pod["containers"]] == ["mongod", "metrics-exporter"]
    refs = tree(tmp_path / "out" / "references" / "default")
    assert "propagationpolicy-secret-my-image-secret.yaml" in refs
    assert "propagationpolicy-configmap-my-custome-configmap.yaml" in refs


def test_long_names_are_refused_before_kubernetes_would(tmp_path: Path) -> None:
    spec = {**README_SAMPLE, "metadata": {"name": "a" * 53}}
    result = _render(tmp_path, _write(tmp_path / "long.yaml", spec))
    assert result.exit_code == 1
    assert "metadata.name: metadata.name must be a DNS label of at most 52 characters" in result.stderr


def test_plaintext_root_password_is_refused(tmp_path: Path, existing_out: Path) -> None:
    before = tree(existing_out)
    spec = _write(tmp_path / "article.yaml", ARTICLE_SAMPLE)
    result = _render(tmp_path, spec, existing_out)
    _assert_failed_cleanly(result, existing_out, before)
    line = spec.read_text().splitlines().index("  auth:") + 2
    assert f"{spec}:{line}:" in result.stderr
    assert "spec.auth.rootPasswd" in result.stderr
    assert "kubectl create secret generic multicloudmongodb-sample-root" in result.stderr
    assert "mypasswd" not in result.stderr


def test_plaintext_pull_credentials_are_refused(tmp_path: Path, existing_out: Path) -> None:
    spec = {**README_SAMPLE, "spec": {**README_SAMPLE["spec"], "imageSetting": {
        "image": "mongo:7.0", "imagePullSecret": {"user": "robot", "passwd": "hunter2"}}}}
    before = tree(existing_out)
    result = _render(tmp_path, _write(tmp_path / "creds.yaml", spec), existing_out)
    _assert_failed_cleanly(result, existing_out, before)
    assert "spec.imageSetting.imagePullSecret" in result.stderr
    assert "docker-registry" in result.stderr
    assert "hunter2" not in result.stderr


def test_unknown_field_names_file_line_and_field(tmp_path: Path, existing_out: Path) -> None:
    spec = tmp_path / "typo.yaml"
    spec.write_text(
        "apiVersion: middleware.fedstate.io/v1alpha1\nkind: MultiCloudMongoDB\nmetadata:\n  name: typo\n"
        "spec:\n  replicaset: 3\n  storage:\n    storageSise: 1Gi\n"
    )
    before = tree(existing_out)
    result = _render(tmp_path, spec, existing_out)
    _assert_failed_cleanly(result, existing_out, before)
    assert f"{spec}:8:5: error: spec.storage.storageSise: unknown field (in MultiCloudMongoDB, document 1)" \
        in result.stderr


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    bad = dict(README_SAMPLE, metadata={"name": "a"}, spec={**README_SAMPLE["spec"], "replicaset": 0})
    typo = dict(README_SAMPLE, metadata={"name": "b"}, spec={**README_SAMPLE["spec"], "resorce": {}})
    result = _render(tmp_path, _write(tmp_path / "two.yaml", bad, typo))
    assert result.exit_code == 1
    assert "spec.replicaset must be the number of members" in result.stderr
    assert "spec.resorce: unknown field" in result.stderr
    assert "2 errors" in result.stderr


def test_duplicate_yaml_keys_are_rejected(tmp_path: Path) -> None:
    spec = tmp_path / "dup.yaml"
    spec.write_text("apiVersion: middleware.fedstate.io/v1alpha1\nkind: MultiCloudMongoDB\nmetadata:\n"
                    "  name: a\nspec:\n  replicaset: 3\n  replicaset: 5\n")
    result = _render(tmp_path, spec)
    assert result.exit_code == 1
    assert f"{spec}:7:3: error: spec.replicaset: duplicate key 'replicaset'" in result.stderr


def test_loading_keeps_no_yaml_nodes_alive() -> None:
    """The loader's constructor remembers every node it built; that memory must go with the loader."""
    import gc

    from fedrender.models.source import load_text

    def live_nodes() -> int:
        gc.collect()
        return sum(isinstance(o, yaml.Node) for o in gc.get_objects())

    before = live_nodes()
    docs = load_text("a: 1\nb: [x, {c: true}]\n---\nd: 2026-11-22\n", "t.yaml")
    assert [d.data for d in docs] == [{"a": 1, "b": ["x", {"c": True}]}, {"d": "2026-11-22"}]
    assert live_nodes() == before


def test_infeasible_placement_explains_every_cluster(tmp_path: Path, existing_out: Path) -> None:
    spec = {**README_SAMPLE, "spec": {**README_SAMPLE["spec"], "replicaset": 50,
                                      "resource": {"requests": {"cpu": "4", "memory": "8Gi"}}}}
    before = tree(existing_out)
    result = _render(tmp_path, _write(tmp_path / "big.yaml", spec), existing_out)
    _assert_failed_cleanly(result, existing_out, before)
    for cluster in ("member-ap-1", "member-ap-2", "member-eu-1", "member-eu-2", "member-us-1"):
        assert re.search(rf"^\s+{cluster}: ", result.stderr, re.M), cluster
    assert "is not Ready" in result.stderr
    assert "fits " in result.stderr


def test_cluster_snapshot_errors_name_the_item(tmp_path: Path) -> None:
    snapshot = yaml.safe_load(CLUSTERS.read_text())
    snapshot["items"][2]["spec"]["syncMod"] = "Push"
    bad = tmp_path / "clusters.yaml"
    bad.write_text(yaml.safe_dump(snapshot))
    result = run(["explain", "--specs", str(ROOT / "examples" / "specs"), "--clusters", str(bad)])
    assert result.exit_code == 1
    assert re.search(rf"{re.escape(str(bad))}:\d+:\d+: error: spec.syncMod: unknown field", result.stderr)


def test_an_overlay_cluster_missing_from_the_snapshot_is_a_located_warning(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "vips.yaml").write_text("clusters:\n  member-ap-1:\n    vip: 10.0.0.1\n"
                                       "  member-ap2:\n    vip: 10.0.0.2\n")
    result = run(["explain", "--specs", str(SPECS), "--clusters", str(CLUSTERS), "--overlay", str(overlay)])
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "not in the snapshot" in line]
    assert warnings == [f"{overlay / 'vips.yaml'}:4:3: warning: clusters.member-ap2: the overlay sets cluster "
                        "'member-ap2', which is not in the snapshot (clusters: member-ap-1, member-ap-2, member-eu-1, "
                        "member-eu-2, member-us-1); is the name misspelt?"]


SECRET_VALUES = ["987654321", "3.14159265", "true", "98765432109876543210987654321", "-12345678901234"]


@pytest.mark.parametrize("value", SECRET_VALUES)
@pytest.mark.parametrize("field", [("auth", "rootPasswd"), ("imageSetting", "imagePullSecret", "passwd"),
                                   ("auth", "token")])
def test_a_password_of_any_type_is_never_shown(tmp_path: Path, value: str, field: tuple[str, ...]) -> None:
    """`rootPasswd: 987654321` is a password written without quotes: the message about its type (or its range)
    names the field and the fix, never the value (nor a recognisable part of it)."""
    text = yaml.safe_dump(README_SAMPLE)
    spec = yaml.safe_load(text)
    node = spec["spec"]
    for name in field[:-1]:
        node = node.setdefault(name, {})
    node[field[-1]] = "PLACEHOLDER"
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec).replace("PLACEHOLDER", value).replace(f"'{value}'", value))
    result = _render(tmp_path, path)
    assert result.exit_code == 1, result.stderr
    assert field[-1] in result.stderr
    for shown in {value, value.lstrip("-")[:6], value.lstrip("-")[-6:]} - {"true"}:
        assert shown not in result.stderr, (shown, result.stderr)
    if value == "true":
        assert "got a boolean true" not in result.stderr
