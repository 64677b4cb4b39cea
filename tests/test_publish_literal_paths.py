"""`publish --path` and `diff --path` reach git as the literal directory they spell (pathspec magic such as
``:(literal)``, ``:(exclude)`` or ``:/`` means nothing), or are refused as usage errors with the repository
left byte for byte as it was; and `diff --exit-code` says "changes" exactly when `publish` would commit."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.pipeline.gitrepo import Git, GitError
from fedrender.pipeline.publish import PublishPathError, repo_subdir
from fedrender.pipeline.render import STATE_FILE, Inputs, render
from tests.conftest import CLUSTERS, OVERLAY, run
from tests.sandbox import write_specs
from tests.test_hostile_publish import repository, standing

MAGIC = [":(literal)README.md", ":(top)x", ":(glob)x", ":(icase)X", ":/x", ":(exclude)x", ":!x", ":^x", ":x",
         ":(literal)manifests", "manifests/:(top)x"]
REFUSED = [*MAGIC, ".gitmodules", "a/.gitattributes", "x/.GITIGNORE/y", "x\u200by", "\ufeffm", "a/\u202ex",
           "a" * 256, "a:b", "m/" + "é" * 128, "a\nb", "a\tb", "a\\b", "a<b", "a|b", 'a"b', "a?b", "a*b", "m.", "m ",
           ".git.", ".git ", "GIT~1", "x\udcff"]


def literal_git(repo: Path, *args: str) -> str:
    """git as a user would run it on the published repository, every path taken literally."""
    return subprocess.run(["git", "--literal-pathspecs", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def publish(repo: Path, specs: Path, *extra: str) -> object:
    return run(["publish", "--specs", str(specs), "--clusters", str(CLUSTERS), "--repo", str(repo),
                "--branch", "main", *extra])


@pytest.mark.parametrize("path", REFUSED)
@pytest.mark.parametrize("command", ["publish", "diff"])
def test_a_path_git_would_misread_or_refuse_is_a_usage_error(tmp_path: Path, path: str, command: str) -> None:
    repo = repository(tmp_path / "repo")
    (repo / "x").mkdir()
    before = standing(repo)
    result = run([command, "--specs", str(write_specs(tmp_path / "specs", 0)), "--clusters", str(CLUSTERS),
                  "--repo", str(repo), "--branch", "main", "--path", path])
    assert result.exit_code == 2, result.stderr
    assert "Invalid value for '--path'" in result.stderr
    assert "Traceback" not in result.stderr
    assert standing(repo) == before


@pytest.mark.parametrize("path", ["manifests", "a b/c", "m\u00e4nifests", "prod.v1/x-y_z", "[x]", "!x",
                                  "#x", "-x", "x~1"])
def test_an_odd_but_plain_directory_gets_exactly_the_rendered_files(tmp_path: Path, path: str) -> None:
    specs = write_specs(tmp_path / "specs", 0)
    repo = repository(tmp_path / "repo")
    result = publish(repo, specs, "--path", path)
    assert result.exit_code == 0, result.stderr
    _published_exactly(repo, specs, path)
    again = run(["diff", "--specs", str(specs), "--clusters", str(CLUSTERS), "--repo", str(repo), "--branch", "main",
                 "--path", path, "--exit-code"])
    assert again.exit_code == 0, again.stdout + again.stderr
    assert again.stdout == "no changes\n"


def _published_exactly(repo: Path, specs: Path, path: str) -> None:
    """HEAD holds the start files plus the rendered ones under ``path`` (bytes equal but for the state file,
    which carries the source commit), and the work tree is clean."""
    files = render(Inputs([specs], CLUSTERS, None, [], None), None).files
    normal = repo_subdir(path)
    tracked = set(literal_git(repo, "ls-tree", "-r", "-z", "--name-only", "HEAD").split("\0")) - {""}
    assert tracked == {"README.md", ".gitignore"} | {f"{normal}/{name}" for name in files}
    for name, content in files.items():
        if name != STATE_FILE:
            assert (repo / normal / name).read_bytes() == content
    assert literal_git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all") == "!! build.log\n"


COMPONENTS = st.sampled_from(["m", "prod", "a b", "x.y", "é", "[x]", "*", "?", ".", "..", "", ":", ":/", ":!",
                              ":^", ":(top)", ":(glob)", ":(literal)", ":(icase)", ":(exclude)", ":(attr:x)",
                              ".git", ".gitignore", "\u200b", "\n", "\\", "m."])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.tuples(COMPONENTS, COMPONENTS), min_size=1, max_size=3))
def test_publish_takes_any_path_literally_or_refuses_it(tmp_path: Path, parts: list[tuple[str, str]]) -> None:
    """Either exit 2 with HEAD, refs, index, work tree and untracked files as they were, or a commit of
    exactly the rendered files under the literal directory and a clean work tree."""
    path = "/".join(a + b for a, b in parts)
    specs = write_specs(tmp_path / "specs", 0)
    with tempfile.TemporaryDirectory(dir=tmp_path) as where:
        repo = repository(Path(where) / "repo")
        (repo / "m").mkdir()
        (repo / "m" / "keep").write_text("tracked, outside any literal --path\n")
        subprocess.run(["git", "add", "m/keep"], cwd=repo, check=True)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "m"],
                       cwd=repo, check=True)
        before = standing(repo)
        result = publish(repo, specs, "--path", path)
        assert "Traceback" not in result.stderr
        if result.exit_code == 2:
            assert "Invalid value for '--path'" in result.stderr
            assert standing(repo) == before
            return
        assert result.exit_code == 0, (path, result.stderr)
        files = render(Inputs([specs], CLUSTERS, None, [], None), None).files
        normal = repo_subdir(path)
        prefix = f"{normal}/" if normal else ""
        tracked = set(literal_git(repo, "ls-tree", "-r", "-z", "--name-only", "HEAD").split("\0")) - {""}
        assert tracked == {"README.md", ".gitignore", "m/keep"} | {prefix + name for name in files}
        for name, content in files.items():
            if name != STATE_FILE:
                assert (repo / prefix / name).read_bytes() == content
        assert literal_git(repo, "status", "--porcelain", "--ignored", "--untracked-files=all") == "!! build.log\n"


def test_git_reads_no_pathspec_magic_even_when_called_directly(tmp_path: Path) -> None:
    """The adapter itself takes paths literally (GIT_LITERAL_PATHSPECS), below the --path refusals."""
    repo = repository(tmp_path / "repo")
    (repo / "m").mkdir()
    (repo / "m" / "a.yaml").write_text("a: 1\n")
    (repo / "*").mkdir()
    (repo / "*" / "b.yaml").write_text("b: 1\n")
    git = Git(repo)
    with pytest.raises(GitError, match="did not match"):  # git looks for a file named so, finds none
        git.stage(":(exclude)x")
    assert git.run("diff", "--cached", "--name-only").stdout == ""
    assert git.stage("*") == ["*/b.yaml"]
    git.commit("star")
    assert git.files("HEAD", ":(top)m") == {}
    assert git.files("HEAD", ":(literal)README.md") == {}
    assert git.files("HEAD", "*") == {"b.yaml": b"b: 1\n"}
    (repo / ".gitignore").write_text("/top-only/\n")
    assert git.ignores("top-only")
    assert not git.ignores(":/top-only")
    assert not git.ignores(":(top)top-only")
    assert git.stage("m") == ["m/a.yaml"]


def test_repo_subdir_still_takes_plain_paths() -> None:
    assert repo_subdir("./a//b/") == "a/b"
    assert repo_subdir(".") == ""
    with pytest.raises(PublishPathError, match="pathspec magic"):
        repo_subdir("a/:(glob)*")


# F2: diff agrees with publish.

EDITS = ["none", "comment", "modeline", "spec", "overlay", "comment+overlay"]


def _edit(specs: Path, overlay: Path, edit: str) -> None:
    spec = specs / "spec-0.yaml"
    text = spec.read_text()
    if edit in {"comment", "comment+overlay"}:
        spec.write_text(text + "# a comment, nothing else\n")
    if edit == "modeline":
        spec.write_text("# yaml-language-server: $schema=elsewhere.json\n" + text)
    if edit == "spec":
        spec.write_text(text.replace("replicaset: 3", "replicaset: 5"))
    if edit in {"overlay", "comment+overlay"}:
        labels = overlay / "labels.yaml"
        labels.write_text(labels.read_text().replace("platform-data", "platform-other"))


@pytest.mark.parametrize("edit", EDITS)
@pytest.mark.parametrize("path", ["", "manifests", "m\u00e4nifests"])
def test_diff_exit_code_says_changes_exactly_when_publish_commits(tmp_path: Path, edit: str, path: str) -> None:
    specs = write_specs(tmp_path / "specs", 0)
    overlay = Path(shutil.copytree(OVERLAY, tmp_path / "overlay"))
    repo = repository(tmp_path / "repo")
    where = ["--path", path] if path else []
    args = ["--specs", str(specs), "--clusters", str(CLUSTERS), "--overlay", str(overlay), "--repo", str(repo),
            "--branch", "main", *where]
    assert run(["publish", *args]).exit_code == 0
    _edit(specs, overlay, edit)
    head = Git(repo).head()
    diff = run(["diff", *args, "--exit-code"])
    as_json = run(["diff", *args, "--exit-code", "-o", "json"])
    published = run(["publish", *args])
    assert published.exit_code == 0, published.stderr
    committed = Git(repo).head() != head
    assert diff.exit_code == (3 if committed else 0), (diff.stdout, published.stderr)
    assert as_json.exit_code == diff.exit_code
    assert ("no changes; nothing committed" in published.stderr) == (not committed)
    assert committed == (edit not in {"none", "comment", "modeline"})
    if not committed:
        assert diff.stdout == "no changes\n"
    assert Git(repo).dirty() == []
