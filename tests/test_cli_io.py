"""kubectl-style input and output of the CLI, each behaviour through the command itself."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from fedrender.cli import main
from tests.conftest import CLUSTERS, ROOT, SPECS, dev_overlay_without_storage_classes, run

FEDRENDER = Path(sys.executable).parent / "fedrender"


def _with_closed_pipes(argv: list[str], cwd: Path, streams: tuple[str, ...]) -> subprocess.CompletedProcess[bytes]:
    """Run the installed command with the named streams ("stdout", "stderr") on a pipe whose reader is gone
    (closed before the first write, so it can't race); the others are captured."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    pipes: dict[str, Any] = {name: write_end if name in streams else subprocess.PIPE for name in ("stdout", "stderr")}
    try:
        return subprocess.run([str(FEDRENDER), *argv], cwd=cwd, check=False, **pipes)
    finally:
        os.close(write_end)


def test_a_closed_pipe_ends_the_command_quietly_with_0() -> None:
    """`fedrender ... | head -1`."""
    result = _with_closed_pipes(["render", "--specs", str(SPECS), "--clusters", str(CLUSTERS), "--out", "-"], ROOT,
                                ("stdout",))
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stderr.decode().splitlines() if ": warning: " not in line]
    assert errors == []


@pytest.mark.parametrize("streams", [("stdout",), ("stderr",), ("stdout", "stderr")])
def test_a_closed_pipe_neither_hides_a_failure_nor_stops_the_work(tmp_path: Path, streams: tuple[str, ...]) -> None:
    """`fedrender ... 2>&1 | head -1` under `set -o pipefail`: the exit code and the writes are the command's own,
    whichever stream the reader closed."""
    inputs = ["--specs", str(SPECS), "--clusters", str(CLUSTERS)]
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\napiVersion: v1\n")
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    assert run(["publish", *inputs, "--repo", str(repo), "--branch", "main"]).exit_code == 0
    expected = [
        (["render", *inputs, "--out", str(tmp_path / "fresh")], 0),
        (["render", "--specs", str(bad), "--clusters", str(CLUSTERS), "--out", str(tmp_path / "never")], 1),
        (["diff", *inputs, "--overlay", str(dev_overlay_without_storage_classes(tmp_path)), "--repo", str(repo),
          "--branch", "main", "--exit-code"], 3),
        (["explain", *inputs, "-o", "bogus"], 2),
        (["--help"], 0),
        (["--version"], 0),
    ]
    for argv, code in expected:
        result = _with_closed_pipes(argv, tmp_path, streams)
        assert result.returncode == code, (argv, streams, result.stderr)
        for captured in (result.stdout, result.stderr):
            assert b"Traceback" not in (captured or b"")
    assert (tmp_path / "fresh" / ".fedrender" / "state.json").is_file()
    assert not (tmp_path / "never").exists()


def _list_of(path: Path) -> dict[str, Any]:
    """The specs of ``path`` as one List, as `kubectl get multicloudmongodbs -A -o yaml` prints them."""
    items = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_spec_list_in_yaml_or_json_is_read_like_its_documents(tmp_path: Path, suffix: str) -> None:
    source = SPECS / "team-databases.yaml"
    listed = tmp_path / f"specs{suffix}"
    data = _list_of(source)
    listed.write_text(json.dumps(data) if suffix == ".json" else yaml.safe_dump(data))
    as_list = run(["explain", "--specs", str(listed), "--clusters", str(CLUSTERS), "-o", "json"])
    as_docs = run(["explain", "--specs", str(source), "--clusters", str(CLUSTERS), "-o", "json"])
    assert as_list.exit_code == 0, as_list.stderr
    assert json.loads(as_list.stdout) == json.loads(as_docs.stdout)
    assert len(json.loads(as_list.stdout)["instances"]) == len(data["items"])


def test_a_directory_as_clusters_says_so_and_what_to_pass() -> None:
    result = run(["explain", "--specs", str(SPECS), "--clusters", str(CLUSTERS.parent)])
    assert result.exit_code == 1
    assert "is a directory" in result.stderr
    assert "--clusters takes one snapshot file" in result.stderr


def test_a_spec_file_as_clusters_gets_a_hint() -> None:
    spec = SPECS / "team-databases.yaml"
    result = run(["explain", "--specs", str(SPECS), "--clusters", str(spec)])
    assert result.exit_code == 1
    assert re.search(rf"{re.escape(str(spec))}:\d+:\d+: error: kind: expected a Karmada Cluster .* found "
                     r"MultiCloudMongoDB: .*specs go to --specs", result.stderr), result.stderr


def test_a_clusters_file_as_specs_gets_a_hint() -> None:
    result = run(["explain", "--specs", str(CLUSTERS), "--clusters", str(CLUSTERS)])
    assert result.exit_code == 1
    assert re.search(rf"{re.escape(str(CLUSTERS))}:\d+:\d+: error: kind: this is a Karmada Cluster, not a spec: "
                     "pass the cluster snapshot as --clusters", result.stderr), result.stderr
    assert "no rule pack renders" not in result.stderr


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        out.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            out += _commands(command, (*prefix, name))
    return out


@pytest.mark.parametrize(("words", "command"), _commands(main), ids=lambda v: " ".join(v) if isinstance(v, tuple)
                         else "")
def test_every_help_shows_real_examples(words: tuple[str, ...], command: click.Command) -> None:
    """Two or three examples, each running this very command with options it has."""
    result = run([*words, "--help"])
    assert result.exit_code == 0
    examples = result.stdout.split("Examples:\n", 1)[1].splitlines()
    examples = [line.strip() for line in examples if line.strip()]
    assert 2 <= len(examples) <= 3, examples
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for example in examples:  # a pipeline may feed or read it: its part that runs this command
        runs = [argv for part in example.split(" | ") if (argv := shlex.split(part))[:1 + len(words)] == [
            "fedrender", *words]]
        assert runs, example
        if isinstance(command, click.Group):
            continue
        used = {arg for arg in runs[0] if arg.startswith("-") and arg != "-"}
        assert used <= options, (example, used - options)


def test_help_texts_say_what_the_options_take() -> None:
    render_help = run(["render", "--help"]).stdout
    assert "any rule pack's input kind" in " ".join(render_help.split())  # not only MultiCloudMongoDB
    for words in (["publish"], ["diff"]):  # the state comes from the repository: no --state "in --out"
        text = run([*words, "--help"]).stdout
        assert "--state" not in text
        assert not re.search(r"--out\b(?!put)", text)


def test_the_documented_shell_completion_works() -> None:
    readme = (ROOT / "README.md").read_text()
    assert 'eval "$(_FEDRENDER_COMPLETE=bash_source fedrender)"' in readme
    result = subprocess.run([str(FEDRENDER)], env={**os.environ, "_FEDRENDER_COMPLETE": "bash_source"},
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "complete -o nosort -F _fedrender_completion fedrender" in result.stdout


def _piped(args: list[str], data: bytes) -> Any:
    return CliRunner().invoke(main, args, input=data, catch_exceptions=False)


def test_specs_and_clusters_can_come_from_standard_input() -> None:
    source = SPECS / "team-databases.yaml"
    from_file = run(["explain", "--specs", str(source), "--clusters", str(CLUSTERS), "-o", "json"])
    specs_piped = _piped(["explain", "--specs", "-", "--clusters", str(CLUSTERS), "-o", "json"], source.read_bytes())
    clusters_piped = _piped(["explain", "--specs", str(source), "--clusters", "-", "-o", "json"],
                            CLUSTERS.read_bytes())
    assert specs_piped.exit_code == 0, specs_piped.stderr
    assert clusters_piped.exit_code == 0, clusters_piped.stderr
    assert json.loads(specs_piped.stdout) == json.loads(clusters_piped.stdout) == json.loads(from_file.stdout)
    listed = yaml.safe_dump(_list_of(source)).encode()  # kubectl get ... -o yaml | fedrender ... --specs -
    assert json.loads(_piped(["explain", "--specs", "-", "--clusters", str(CLUSTERS), "-o", "json"],
                             listed).stdout) == json.loads(from_file.stdout)


def test_standard_input_is_read_once_and_located_as_stdin(tmp_path: Path) -> None:
    both = _piped(["explain", "--specs", "-", "--clusters", "-"], b"")
    assert both.exit_code == 2
    assert "standard input can be read only once" in both.stderr
    bad = _piped(["render", "--specs", "-", "--clusters", str(CLUSTERS), "--out", str(tmp_path / "out")], b"a: [\n")
    assert bad.exit_code == 1
    assert re.search(r"^<stdin>:\d+:\d+: error: invalid YAML", bad.stderr, re.M), bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "out").exists()


def test_explain_and_preview_print_json_and_yaml() -> None:
    args = ["--specs", str(SPECS), "--clusters", str(CLUSTERS)]
    as_json = json.loads(run(["explain", *args, "-o", "json"]).stdout)
    assert yaml.safe_load(run(["explain", *args, "-o", "yaml"]).stdout) == as_json
    text = run(["preview", *args, "--cluster", "member-eu-1"])
    listed = json.loads(run(["preview", *args, "--cluster", "member-eu-1", "-o", "json"]).stdout)
    assert listed["kind"] == "List"
    assert listed["items"] == [d for d in yaml.safe_load_all(text.stdout) if d]
    assert yaml.safe_load(run(["preview", *args, "--cluster", "member-eu-1", "-o", "yaml"]).stdout) == listed
    both = run(["preview", *args, "--cluster", "member-eu-1", "--diff", "-o", "json"])
    assert both.exit_code == 2


def test_rules_check_and_test_print_json_and_yaml() -> None:
    checked = json.loads(run(["rules", "check", "-o", "json"]).stdout)
    assert {p["name"] for p in checked["packs"]} == {"mongodb", "redis"}
    assert all(p["rules"] > 0 and p["templates"] > 0 for p in checked["packs"])
    tested = run(["rules", "test", "-o", "yaml"])
    assert tested.exit_code == 0
    data = yaml.safe_load(tested.stdout)
    assert data["failed"] == 0
    assert data["passed"] == len(data["cases"]) > 0
    assert all(case["passed"] for case in data["cases"])


def test_diff_prints_json_with_the_summary_and_the_changed_files(tmp_path: Path) -> None:
    repo = tmp_path / "manifests-repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    base = ["--specs", str(SPECS), "--clusters", str(CLUSTERS)]
    prod = ["--overlay", str(ROOT / "overlays" / "prod")]
    target = ["--repo", str(repo), "--branch", "main", "--path", "manifests"]
    assert run(["publish", *base, *prod, *target]).exit_code == 0
    same = json.loads(run(["diff", *base, *prod, *target, "-o", "json"]).stdout)
    assert same == {"changed": False, "title": "no changes", "summary": [], "files": []}
    result = run(["diff", *base, "--overlay", str(ROOT / "overlays" / "dev"), *target, "-o", "json", "--exit-code"])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["changed"] is True
    assert data["title"].endswith(" moved")
    assert any("member-ap-2" in line for line in data["summary"])
    assert data["files"]
    for entry in data["files"]:
        assert entry["path"].startswith("manifests/")
        assert entry["change"] in ("added", "modified", "removed")
        assert entry["diff"].startswith(f"--- a/{entry['path']}")


def test_diff_prints_the_warnings_publish_prints_on_stderr(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    argv = ["--specs", str(SPECS), "--clusters", str(CLUSTERS), "--repo", str(repo), "--branch", "main"]
    published = run(["publish", *argv])
    diffed = run(["diff", *argv, "-o", "json"])
    assert published.exit_code == 0
    assert diffed.exit_code == 0
    warnings = sorted(line for line in published.stderr.splitlines() if ": warning: " in line)
    assert warnings
    assert sorted(line for line in diffed.stderr.splitlines() if ": warning: " in line) == warnings
    json.loads(diffed.stdout)  # stdout stays machine-readable


@pytest.mark.parametrize("kind", ["Cluster", "overlay", "RulePack", "ruletests", "State"])
def test_fedrender_schema_prints_the_schema_of_each_of_fedrenders_own_inputs(kind: str) -> None:
    result = run(["schema", kind])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == json.loads((ROOT / "schemas" / f"{kind.lower()}.schema.json").read_text())


@pytest.mark.parametrize("words", [["rules", "check"], ["rules", "test"], ["schema", "MultiCloudMongoDB", "--rules"],
                                   ["explain", "--specs", str(SPECS), "--clusters", str(CLUSTERS), "--rules"],
                                   ["explain", "--specs", str(SPECS), "--clusters", str(CLUSTERS), "--overlay"]])
@pytest.mark.parametrize(("make", "why"), [(None, "no such file or directory"),
                                           ("file", "not a directory: it is a file")])
def test_a_missing_or_wrong_directory_is_named_as_such(tmp_path: Path, words: list[str], make: str | None,
                                                       why: str) -> None:
    target = tmp_path / "packs"
    if make == "file":
        target.write_text("not a directory\n")
    result = run([*words, str(target)])
    assert result.exit_code == 1
    assert f"{target}: error: {why}; " in result.stderr
    assert "no rule pack (pack.yaml) found" not in result.stderr


@pytest.mark.parametrize("kind", ["Cluster", "Overlay", "RulePack", "RuleTests", "State", "MultiCloudMongoDB"])
@pytest.mark.parametrize("bad", ["missing", "empty-dir", "a-file"])
def test_fedrender_schema_refuses_a_bad_rules_path_for_every_kind(tmp_path: Path, kind: str, bad: str) -> None:
    """`schema Cluster --rules /nonexistent` was exit 0, the path ignored; a pack's kind was refused."""
    path = tmp_path / bad
    if bad == "empty-dir":
        path.mkdir()
    elif bad == "a-file":
        path.write_text("kind: Cluster\n")
    result = run(["schema", kind, "--rules", str(path)])
    assert result.exit_code == 1, result.stdout
    assert result.stderr.startswith(f"{path}: error: ")
    assert result.stdout == ""
