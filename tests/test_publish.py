"""`fedrender publish` and `fedrender diff` against real git repositories: a bare remote and clones."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CLUSTERS, OVERLAY, ROOT, run

SPECS = ROOT / "examples" / "specs" / "team-databases.yaml"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    seed = tmp_path / "seed"
    subprocess.run(["git", "clone", "-q", str(bare), str(seed)], check=True, capture_output=True)
    (seed / "README.md").write_text("manifests rendered by fedrender\n")
    git(seed, "add", "README.md")
    git(seed, "-c", "user.name=seed", "-c", "user.email=seed@example.com", "commit", "-q", "-m", "start")
    git(seed, "push", "-q", "origin", "HEAD:main")
    return bare


def clone(remote: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote), str(where)], check=True, capture_output=True)
    return where


def specs(tmp_path: Path, **replicas: int) -> Path:
    """team-databases.yaml with some instances' replicaset changed, or removed (0)."""
    docs = [d for d in yaml.safe_load_all(SPECS.read_text()) if d]
    kept = []
    for doc in docs:
        wanted = replicas.get(doc["metadata"]["name"], doc["spec"]["replicaset"])
        if wanted:
            doc["spec"]["replicaset"] = wanted
            kept.append(doc)
    path = tmp_path / "specs" / "team.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump_all(kept, sort_keys=False))
    return path


def publish(work: Path, spec: Path, *extra: str) -> Any:
    return run(["publish", "--specs", str(spec), "--clusters", str(CLUSTERS), "--overlay", str(OVERLAY),
                "--repo", str(work), "--branch", "main", "--path", "manifests", *extra])


def test_first_publish_commits_and_pushes(remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "work")
    result = publish(work, specs(tmp_path), "--push", "origin")
    assert result.exit_code == 0, result.stderr
    assert "pushed to origin/main" in result.stderr
    message = git(work, "log", "-1", "--format=%B")
    assert message.startswith("fedrender: 4 added")
    assert "- add shop/catalog (5 members on member-eu-1, member-eu-2, member-us-1)" in message
    assert "Fedrender-Rule-Packs: mongodb@0.1.0 (" in message
    assert "Fedrender-Version: " in message
    assert "Fedrender-Inputs: sha256:" in message
    assert git(remote, "rev-parse", "main") == git(work, "rev-parse", "HEAD")
    assert (work / "manifests" / "instances" / "shop" / "catalog" / "statefulset-catalog.yaml").exists()
    assert (work / "manifests" / "platform" / "mongodb").is_dir()


def test_unchanged_republish_leaves_head_alone(remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "work")
    spec = specs(tmp_path)
    assert publish(work, spec).exit_code == 0
    head = git(work, "rev-parse", "HEAD")
    result = publish(work, spec)
    assert result.exit_code == 0
    assert "no changes; nothing committed" in result.stderr
    assert git(work, "rev-parse", "HEAD") == head


def test_a_scale_change_commits_exactly_the_changed_files(remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "work")
    assert publish(work, specs(tmp_path)).exit_code == 0
    result = publish(work, specs(tmp_path, orders=5))
    assert result.exit_code == 0, result.stderr
    changed = set(git(work, "show", "--name-only", "--format=", "HEAD").splitlines())
    base = "manifests/instances/shop/orders/"
    assert changed == {
        "manifests/.fedrender/state.json",
        base + "statefulset-orders.yaml", base + "propagationpolicy-orders.yaml",
        base + "mongoreplicaset-orders.yaml", base + "service-orders-1.yaml",
        base + "propagationpolicy-orders-member-1.yaml",
        base + "role-fedrender-reconciler-orders.yaml",  # the new ordinal's pods (restarts) and data claims (growth)
    }
    assert git(work, "log", "-1", "--format=%s") == "fedrender: 1 scaled"
    assert "- scale shop/orders 3 -> 5" in git(work, "log", "-1", "--format=%B")


def test_deleting_a_spec_prunes_its_files_and_nothing_else(remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "work")
    assert publish(work, specs(tmp_path)).exit_code == 0
    (work / "manifests" / "NOTES.md").write_text("ours, not fedrender's\n")
    git(work, "add", "manifests/NOTES.md")
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "notes")
    result = publish(work, specs(tmp_path, orders=0))
    assert result.exit_code == 0, result.stderr
    changed = git(work, "show", "--name-status", "--format=", "HEAD").splitlines()
    deleted = {line.split("\t")[1] for line in changed if line.startswith("D")}
    assert deleted
    assert all(p.startswith(("manifests/instances/shop/orders/",
                             "manifests/references/shop/propagationpolicy-secret-orders-")) for p in deleted)
    modified = {line.split("\t")[1] for line in changed if not line.startswith("D")}
    assert modified <= {"manifests/.fedrender/state.json",
                        "manifests/references/shop/propagationpolicy-secret-registry-credentials.yaml"}
    assert (work / "manifests" / "NOTES.md").read_text() == "ours, not fedrender's\n"
    assert (work / "README.md").exists()
    assert git(work, "log", "-1", "--format=%s") == "fedrender: 1 removed"


def test_a_concurrent_push_is_rebased(remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "work")
    spec = specs(tmp_path)
    assert publish(work, spec, "--push", "origin").exit_code == 0
    other = clone(remote, tmp_path / "other")  # someone else commits meanwhile
    (other / "docs.md").write_text("runbook\n")
    git(other, "add", "docs.md")
    git(other, "-c", "user.name=o", "-c", "user.email=o@example.com", "commit", "-q", "-m", "runbook")
    git(other, "push", "-q", "origin", "HEAD:main")
    result = publish(work, specs(tmp_path, orders=5), "--push", "origin")
    assert result.exit_code == 0, result.stderr
    log = git(remote, "log", "--format=%s", "main").splitlines()
    assert log[:3] == ["fedrender: 1 scaled", "runbook", "fedrender: 4 added"]
    assert git(remote, "rev-parse", "main") == git(work, "rev-parse", "HEAD")


def test_a_push_rejected_by_a_conflicting_publish_renders_again(remote: Path, tmp_path: Path) -> None:
    first = clone(remote, tmp_path / "first")
    second = clone(remote, tmp_path / "second")
    assert publish(first, specs(tmp_path), "--push", "origin").exit_code == 0
    # second never pulled: its render conflicts with first's, so publish re-renders on top of the remote
    result = publish(second, specs(tmp_path, orders=5), "--push", "origin")
    assert result.exit_code == 0, result.stderr
    assert git(remote, "log", "--format=%s", "main").splitlines()[:2] == ["fedrender: 1 scaled", "fedrender: 4 added"]


def test_publish_refuses_a_dirty_work_tree(remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "work")
    (work / "README.md").write_text("edited\n")
    result = publish(work, specs(tmp_path))
    assert result.exit_code == 1
    assert "uncommitted changes (README.md)" in result.stderr


def test_diff_shows_what_publish_would_change(remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "work")
    assert publish(work, specs(tmp_path)).exit_code == 0
    args = ["diff", "--specs", str(specs(tmp_path, orders=5)), "--clusters", str(CLUSTERS), "--overlay",
            str(OVERLAY), "--repo", str(work), "--branch", "main", "--path", "manifests"]
    result = run([*args, "--exit-code"])
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[:2] == ["fedrender: 1 scaled", "- scale shop/orders 3 -> 5"]
    assert "+++ b/manifests/instances/shop/orders/service-orders-1.yaml" in result.stdout
    assert "-  replicas: 3" in result.stdout
    assert git(work, "status", "--porcelain") == ""
    same = run(["diff", "--specs", str(specs(tmp_path)), *args[3:]])
    assert same.exit_code == 0
    assert same.stdout.strip() == "no changes"


def test_a_change_to_inputs_alone_commits_nothing(remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "work")
    spec = specs(tmp_path)
    assert publish(work, spec).exit_code == 0
    head = git(work, "rev-parse", "HEAD")
    spec.write_text("# a comment changes the input digest, not one manifest\n" + spec.read_text())
    result = publish(work, spec)
    assert result.exit_code == 0, result.stderr
    assert "no changes; nothing committed" in result.stderr
    assert git(work, "rev-parse", "HEAD") == head
    assert git(work, "status", "--porcelain") == ""


def test_bad_repositories_and_branch_states_are_errors(remote: Path, tmp_path: Path) -> None:
    missing = publish(tmp_path / "nowhere", specs(tmp_path))
    assert missing.exit_code == 1
    assert "not a git work tree" in missing.stderr
    work = clone(remote, tmp_path / "work")
    assert publish(work, specs(tmp_path)).exit_code == 0
    (work / "manifests" / ".fedrender" / "state.json").write_text("{}")
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-am", "break the state")
    result = run(["diff", "--specs", str(specs(tmp_path)), "--clusters", str(CLUSTERS), "--repo", str(work),
                  "--branch", "main", "--path", "manifests"])
    assert result.exit_code == 1
    assert "main:manifests/.fedrender/state.json:1:1: error: schemaVersion: cannot use the state file" in result.stderr
