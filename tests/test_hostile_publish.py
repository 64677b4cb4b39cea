"""`publish --path` stays inside the repository, and a failed publish leaves the repository as it was
(issue 10, sections 1 and 2): branch, HEAD, index and work tree, checked after every refusal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import CLUSTERS, run
from tests.sandbox import picture, write_specs


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout.strip()


def repository(where: Path, commit: bool = True) -> Path:
    subprocess.run(["git", "init", "-q", "-b", "main", str(where)], check=True)
    if not commit:
        return where
    (where / "README.md").write_text("manifests rendered by fedrender\n")
    (where / ".gitignore").write_text("*.log\n")
    (where / "build.log").write_text("ignored, and must stay\n")
    git(where, "add", "README.md", ".gitignore")
    git(where, "commit", "-q", "-m", "start")
    return where


def standing(repo: Path) -> tuple[object, ...]:
    """Everything a failed publish must leave as it was."""
    head = subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    sha = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=repo, capture_output=True, text=True)
    return (head, sha.stdout, git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
            git(repo, "status", "--porcelain", "--ignored"), git(repo, "ls-files", "--stage"),
            {k: v for k, v in picture(repo).items() if not k.startswith(".git/") and k != ".git"})


def publish(repo: Path, specs: Path, *extra: str, branch: str = "main") -> object:
    return run(["publish", "--specs", str(specs), "--clusters", str(CLUSTERS), "--repo", str(repo),
                "--branch", branch, *extra])


@pytest.fixture
def specs(tmp_path: Path) -> dict[str, Path]:
    bad = write_specs(tmp_path / "bad", 0)
    (bad / "spec-0.yaml").write_text((bad / "spec-0.yaml").read_text().replace("replicaset: 3", "replicaset: -1"))
    return {"one": write_specs(tmp_path / "one", 0), "two": write_specs(tmp_path / "two", 0, 1), "bad": bad,
            "empty": write_specs(tmp_path / "empty")}


ESCAPES = ["/abs", "/", "..", "../x", "a/../..", "manifests/../../x", "./../x", ""]


@pytest.mark.parametrize("path", ESCAPES)
@pytest.mark.parametrize("command", ["publish", "diff"])
def test_a_path_outside_the_repository_is_a_usage_error(tmp_path: Path, specs: dict[str, Path], path: str,
                                                        command: str) -> None:
    """Checked before anything is rendered: the specs are wrong too, yet the answer is the usage error."""
    repo = repository(tmp_path / "repo")
    before = standing(repo)
    result = run([command, "--specs", str(specs["bad"]), "--clusters", str(CLUSTERS), "--repo", str(repo),
                  "--branch", "main", "--path", path])
    assert result.exit_code == 2, result.stderr
    assert "Invalid value for '--path'" in result.stderr
    assert "Traceback" not in result.stderr
    assert standing(repo) == before


@pytest.mark.parametrize("inside", [False, True])
def test_a_path_through_a_symlink_is_a_usage_error(tmp_path: Path, specs: dict[str, Path], inside: bool) -> None:
    repo = repository(tmp_path / "repo")
    elsewhere = (repo / "real") if inside else (tmp_path / "elsewhere")
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("kept\n")
    (repo / "deploy").mkdir()
    (repo / "deploy" / "manifests").symlink_to(elsewhere, target_is_directory=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a symlink")
    before, around = standing(repo), picture(tmp_path)
    result = publish(repo, specs["bad"], "--path", "deploy/manifests/x")
    assert result.exit_code == 2, result.stderr
    assert "deploy/manifests is a symlink" in result.stderr
    assert ("leading outside the repository" in result.stderr) is not inside
    assert standing(repo) == before
    assert picture(tmp_path) == around


def test_dot_and_clean_relative_paths_are_accepted(tmp_path: Path, specs: dict[str, Path]) -> None:
    repo = repository(tmp_path / "repo")
    assert publish(repo, specs["one"], "--path", "./deploy/../manifests/").exit_code == 0
    assert (repo / "manifests" / ".fedrender" / "state.json").is_file()
    other = repository(tmp_path / "other")
    assert publish(other, specs["one"], "--path", ".").exit_code == 0
    assert (other / ".fedrender" / "state.json").is_file()


def _hook(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'policy: no robots today' >&2\nexit 1\n")
    hook.chmod(0o755)


def _symlink_in_manifests(repo: Path) -> None:
    (repo / "manifests" / "instances" / "shop").rename(repo / "moved")
    (repo / "manifests" / "instances" / "shop").symlink_to(repo / "moved", target_is_directory=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a symlink where fedrender writes")


FAILURES = {
    # name: (spec set, branch, prepare, expected message)
    "bad specs on a new branch": ("bad", "release", None, "spec.replicaset"),
    "bad specs on the current branch": ("bad", "main", None, "spec.replicaset"),
    "zero instances": ("empty", "main", None, "the specs define no instance"),
    "a commit hook refuses": ("two", "main", _hook, "policy: no robots today"),
    "a commit hook refuses on a new branch": ("two", "release", _hook, "policy: no robots today"),
    "a symlink where the manifests go": ("two", "main", _symlink_in_manifests, "is a symlink"),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
@pytest.mark.parametrize("head", ["branch", "detached"])
def test_a_failed_publish_leaves_the_repository_as_it_was(tmp_path: Path, specs: dict[str, Path], case: str,
                                                          head: str) -> None:
    spec, branch, prepare, message = FAILURES[case]
    repo = repository(tmp_path / "repo")
    assert publish(repo, specs["one"], "--path", "manifests").exit_code == 0
    if prepare is not None:
        prepare(repo)
    if head == "detached":
        git(repo, "checkout", "-q", "--detach")
    before = standing(repo)
    result = publish(repo, specs[spec], "--path", "manifests", branch=branch)
    assert result.exit_code == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert standing(repo) == before


def test_a_failed_first_publish_into_a_fresh_repository_leaves_it_unborn(tmp_path: Path,
                                                                        specs: dict[str, Path]) -> None:
    repo = repository(tmp_path / "repo", commit=False)
    _hook(repo)
    before = standing(repo)
    result = publish(repo, specs["one"], "--path", "manifests")
    assert result.exit_code == 1, result.stderr
    assert "policy: no robots today" in result.stderr
    assert standing(repo) == before
    assert not (repo / "manifests").exists()


def test_allow_empty_publishes_the_removal(tmp_path: Path, specs: dict[str, Path]) -> None:
    repo = repository(tmp_path / "repo")
    assert publish(repo, specs["one"], "--path", "manifests").exit_code == 0
    result = publish(repo, specs["empty"], "--path", "manifests", "--allow-empty")
    assert result.exit_code == 0, result.stderr
    assert git(repo, "ls-files", "manifests").splitlines() == ["manifests/.fedrender/state.json"]


def test_untracked_files_count_as_changes_even_when_git_hides_them(tmp_path: Path, specs: dict[str, Path]) -> None:
    """A failed publish cleans what it wrote under --path; so a file git's status would hide
    (status.showUntrackedFiles=no) must make publish refuse to start, not be cleaned away."""
    repo = repository(tmp_path / "repo")
    git(repo, "config", "status.showUntrackedFiles", "no")
    (repo / "manifests").mkdir()
    (repo / "manifests" / "draft.yaml").write_text("mine, not yet committed\n")
    result = publish(repo, specs["bad"], "--path", "manifests")
    assert result.exit_code == 1
    assert "uncommitted changes (manifests/)" in result.stderr
    assert (repo / "manifests" / "draft.yaml").read_text() == "mine, not yet committed\n"
