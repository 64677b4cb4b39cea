"""`publish --path` stays inside the repository, and a failed publish leaves the repository as it was
(issue 10, sections 1 and 2): branch, HEAD, index and work tree, checked after every refusal."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.pipeline.gitrepo import Git, GitError
from fedrender.pipeline.publish import PublishPathError, repo_subdir
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


# Issue 10 follow-up: hostile --path, --branch and --push values, ignored paths, silent hooks.

GIT_DIRS = [".git", ".git/", "./.git", "sub/../.git", ".git/hooks", "sub/.git", ".GIT", "a/.Git/b", ".git/..",
            "x/.gIT/../y"]


@pytest.mark.parametrize("path", GIT_DIRS)
@pytest.mark.parametrize("command", ["publish", "diff"])
def test_a_path_into_a_git_directory_is_a_usage_error(tmp_path: Path, specs: dict[str, Path], path: str,
                                                      command: str) -> None:
    """Checked before rendering (the specs are bad too); .git and its hooks stay as they were."""
    repo = repository(tmp_path / "repo")
    (repo / "sub").mkdir()
    before, inside = standing(repo), picture(repo / ".git")
    result = run([command, "--specs", str(specs["bad"]), "--clusters", str(CLUSTERS), "--repo", str(repo),
                  "--branch", "main", "--path", path])
    assert result.exit_code == 2, result.stderr
    assert "Invalid value for '--path'" in result.stderr
    assert ".git directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert standing(repo) == before
    assert picture(repo / ".git") == inside


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(st.sampled_from(["a", "b", ".", "..", "", ".gitx", "x.git"]), max_size=3),
       after=st.lists(st.sampled_from(["a", "b", ".", "", "hooks"]), max_size=3),
       case=st.lists(st.booleans(), min_size=4, max_size=4))
def test_any_git_component_in_any_case_is_refused(before: list[str], after: list[str], case: list[bool]) -> None:
    git_dir = "".join(c.upper() if up else c for c, up in zip(".git", case, strict=False))
    value = "/".join(["sub", *before, git_dir, *after])
    with pytest.raises(PublishPathError):
        repo_subdir(value)


HOSTILE_REFS = ["-x", "--upload-pack=touch owned", "@", "@{-1}", "refs/heads/main", "a..b", "x.lock", "a b",
                "HEAD", "a~1", "a:b", "/x", "x/", "a//b", "bad\\name", ""]


@pytest.mark.parametrize("name", HOSTILE_REFS)
@pytest.mark.parametrize("command", ["publish", "diff"])
def test_a_branch_git_would_not_take_as_a_plain_branch_is_a_usage_error(tmp_path: Path, specs: dict[str, Path],
                                                                       name: str, command: str) -> None:
    repo = repository(tmp_path / "repo")
    before = standing(repo)
    result = run([command, "--specs", str(specs["bad"]), "--clusters", str(CLUSTERS), "--repo", str(repo),
                  "--branch", name])
    assert result.exit_code == 2, result.stderr
    assert "Invalid value for '--branch'" in result.stderr
    assert standing(repo) == before


@pytest.mark.parametrize("option", ["--push", "--branch"])
def test_an_option_smuggled_into_git_never_runs(tmp_path: Path, specs: dict[str, Path], option: str) -> None:
    """The payload of the review: git fetch would run --upload-pack's command."""
    repo = repository(tmp_path / "repo")
    marker = tmp_path / "owned"
    payload = f"--upload-pack=sh -c 'touch {marker}'"
    before = standing(repo)
    extra = [option, payload] if option == "--push" else ["--push", str(repo)]
    result = run(["publish", "--specs", str(specs["one"]), "--clusters", str(CLUSTERS), "--repo", str(repo),
                  "--branch", payload if option == "--branch" else "main", *extra])
    assert result.exit_code == 2, result.stderr
    assert f"Invalid value for '{option}'" in result.stderr
    assert not marker.exists()
    assert standing(repo) == before


CALLS: dict[str, Callable[[Git, str], object]] = {
    "fetch remote": lambda g, v: g.fetch(v, "main"),
    "fetch branch": lambda g, v: g.fetch(".", v),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_git_never_reads_an_input_as_an_option(tmp_path: Path, call: str) -> None:
    """Below the CLI's checks: git is told where its options end before a value that came from input, so a
    value like --upload-pack=... is a (missing) remote or ref, never an option that runs a command."""
    repo = repository(tmp_path / "repo")
    marker = tmp_path / "owned"
    assert CALLS[call](Git(repo), f"--upload-pack=sh -c 'touch {marker}; exit 1'") is False
    assert not marker.exists()


def test_a_ref_that_looks_like_an_option_names_nothing(tmp_path: Path) -> None:
    """rev-parse --git-dir would succeed: behind --end-of-options it is a ref, and there is none."""
    repo = Git(repository(tmp_path / "repo"))
    assert not repo.has_ref("--git-dir")
    assert repo.rev("--git-dir") == ""
    with pytest.raises(GitError, match="names no commit"):
        repo.reset_hard("--soft")


def test_an_ignored_path_is_a_usage_error(tmp_path: Path, specs: dict[str, Path]) -> None:
    """git would not commit manifests there, and a failed publish could not clean them away."""
    repo = repository(tmp_path / "repo")
    (repo / ".gitignore").write_text("*.log\nrendered/\n")
    git(repo, "commit", "-q", "-am", "ignore rendered/")
    before = standing(repo)
    for path in ("rendered", "rendered/deep", "debug.log"):
        result = publish(repo, specs["two"], "--path", path)
        assert result.exit_code == 2, result.stderr
        assert "Invalid value for '--path'" in result.stderr
        assert ".gitignore" in result.stderr
        assert standing(repo) == before
        assert not (repo / "rendered").exists()


def test_a_failed_publish_removes_what_it_wrote_even_where_ignored(tmp_path: Path, specs: dict[str, Path]) -> None:
    """Ignored files that were there before stay; ignored files the failed publish wrote go."""
    repo = repository(tmp_path / "repo")
    assert publish(repo, specs["one"], "--path", "manifests").exit_code == 0
    (repo / ".gitignore").write_text("*.log\nmanifests/instances/shop/catalog/\n")  # where "two" adds one
    git(repo, "commit", "-q", "-am", "ignore the directory of the instance the next publish adds")
    (repo / "manifests" / "mine.log").write_text("ignored, and must stay\n")
    (repo / "manifests" / "cache").mkdir()
    (repo / "manifests" / "cache" / "x.log").write_text("ignored, and must stay\n")
    _hook(repo)
    before = standing(repo)
    result = publish(repo, specs["two"], "--path", "manifests")
    assert result.exit_code == 1, result.stderr
    assert "policy: no robots today" in result.stderr
    assert standing(repo) == before
    assert not (repo / "manifests" / "instances" / "shop" / "catalog").exists()
    assert (repo / "manifests" / "cache" / "x.log").read_text() == "ignored, and must stay\n"


def test_a_silent_hook_is_named_with_its_exit_code(tmp_path: Path, specs: dict[str, Path]) -> None:
    repo = repository(tmp_path / "repo")
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 7\n")
    hook.chmod(0o755)
    before = standing(repo)
    result = publish(repo, specs["one"], "--path", "manifests")
    assert result.exit_code == 1, result.stderr
    assert "git refused the commit" in result.stderr
    assert "hook" in result.stderr
    assert "exit code 1" in result.stderr  # git's own code: it does not pass the hook's on
    assert not result.stderr.rstrip().endswith(":")
    assert standing(repo) == before
