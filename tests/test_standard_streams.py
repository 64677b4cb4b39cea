"""Every command with its standard output or error closed at exec (``cmd >&-``, ``cmd 2>&-``) or on a full device
(``cmd >/dev/full``), run as the installed ``fedrender`` in a subprocess.

A stream nobody can read is discarded: the command runs to its own exit code and writes its files. A failed
write to standard output is the one line ``fedrender: cannot write to standard output: <reason>`` and exit 1,
never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import CLUSTERS, SPECS, dev_overlay_without_storage_classes, run
from tests.kubesim import KubeSim

FEDRENDER = Path(sys.executable).parent / "fedrender"
INPUTS = ["--specs", str(SPECS), "--clusters", str(CLUSTERS)]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, KubeSim]]:
    """A directory with a published git repository and a kubeconfig for a local Karmada API emulator."""
    tmp = tmp_path_factory.mktemp("streams")
    repo = tmp / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    assert run(["publish", *INPUTS, "--repo", str(repo), "--branch", "main"]).exit_code == 0
    api = KubeSim()
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "karmada",
        "clusters": [{"name": "karmada", "cluster": {"server": api.host}}],
        "users": [{"name": "admin", "user": {"token": "test"}}],
        "contexts": [{"name": "karmada", "context": {"cluster": "karmada", "user": "admin"}}]}))
    yield tmp, repo, api
    api.stop()


def _stdout_commands(repo: Path, kubeconfig: Path) -> dict[str, list[str]]:
    """Every command that prints on standard output, each in the form that does."""
    dev = ["--overlay", str(dev_overlay_without_storage_classes(repo.parent))]
    return {
        "help": ["--help"],
        "version": ["--version"],
        "render --out -": ["render", *INPUTS, "--out", "-"],
        "explain": ["explain", *INPUTS],
        "explain -o json": ["explain", *INPUTS, "-o", "json"],
        "preview": ["preview", *INPUTS, "--cluster", "member-eu-1"],
        "diff": ["diff", *INPUTS, *dev, "--repo", str(repo), "--branch", "main"],
        "schema": ["schema", "Cluster"],
        "schema of a pack": ["schema", "MultiCloudMongoDB"],
        "rules check": ["rules", "check"],
        "rules test": ["rules", "test"],
        "snapshot": ["snapshot", "--kubeconfig", str(kubeconfig)],
        "status": ["status", "--kubeconfig", str(kubeconfig), "-o", "json"],
    }


COMMANDS = ["help", "version", "render --out -", "explain", "explain -o json", "preview", "diff", "schema",
            "schema of a pack", "rules check", "rules test", "snapshot", "status"]


def _run(argv: list[str], cwd: Path, shell_redirect: str) -> subprocess.CompletedProcess[bytes]:
    """The installed command with ``shell_redirect`` applied by a shell (``>&-``, ``2>&-``, ``>/dev/full``);
    whatever of stdout and stderr is left is captured."""
    return subprocess.run(["bash", "-c", f'exec "$@" {shell_redirect}', "fedrender", str(FEDRENDER), *argv],
                          cwd=cwd, capture_output=True, check=False)


@pytest.mark.parametrize("name", COMMANDS)
def test_a_full_standard_output_is_one_line_and_exit_1(workspace: tuple[Path, Path, KubeSim], name: str) -> None:
    tmp, repo, _ = workspace
    result = _run(_stdout_commands(repo, tmp / "kubeconfig")[name], tmp, ">/dev/full")
    errors = [line for line in result.stderr.decode().splitlines() if ": warning: " not in line]
    assert result.returncode == 1, result.stderr
    assert errors == ["fedrender: cannot write to standard output: No space left on device"], result.stderr


@pytest.mark.parametrize("name", COMMANDS)
def test_a_closed_stream_is_discarded_and_the_command_ends_as_its_own(workspace: tuple[Path, Path, KubeSim],
                                                                      name: str) -> None:
    tmp, repo, _ = workspace
    argv = _stdout_commands(repo, tmp / "kubeconfig")[name]
    expected = subprocess.run([str(FEDRENDER), *argv], cwd=tmp, capture_output=True, check=False)
    assert expected.stdout
    without_stdout = _run(argv, tmp, ">&-")
    assert (without_stdout.returncode, without_stdout.stdout, without_stdout.stderr) == \
        (expected.returncode, b"", expected.stderr)
    without_stderr = _run(argv, tmp, "2>&-")
    assert (without_stderr.returncode, without_stderr.stdout, without_stderr.stderr) == \
        (expected.returncode, expected.stdout, b"")


@pytest.mark.parametrize("redirect", [">&-", "2>&-", ">&- 2>&-", "<&- >&- 2>&-"])
def test_render_with_closed_streams_writes_its_output(tmp_path: Path, redirect: str) -> None:
    """`render --out` with stderr closed used to exit 1 writing nothing (progress asked the closed stream)."""
    result = _run(["render", *INPUTS, "--out", str(tmp_path / "out")], tmp_path, redirect)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / ".fedrender" / "state.json").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\napiVersion: v1\n")
    failed = _run(["render", "--specs", str(bad), "--clusters", str(CLUSTERS), "--out", str(tmp_path / "no")],
                  tmp_path, redirect)
    assert failed.returncode == 1
    assert not (tmp_path / "no").exists()


def test_a_closed_standard_output_is_not_reused_for_a_file(tmp_path: Path) -> None:
    """With fd 1 closed, the next file opened would get number 1; git run by publish writes to its stdout."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    result = _run(["publish", *INPUTS, "--repo", str(repo), "--branch", "main"], tmp_path, ">&- 2>&-")
    assert result.returncode == 0
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, check=True)
    assert status.stdout == b""
    for path in (repo).rglob("*.yaml"):
        assert list(yaml.safe_load_all(path.read_text()))
    assert os.path.isfile(repo / ".fedrender" / "state.json")
