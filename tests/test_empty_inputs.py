"""Empty path arguments are usage errors and zero inputs are not an instruction to delete everything
(issue 10, sections 1 and 5).

The path options are found by walking the click command tree, so an option added later is covered too.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml

from fedrender.cli import NonEmptyPath, main
from tests.conftest import CLUSTERS, SPECS, run
from tests.sandbox import picture, render_args, spec_docs, write_specs

# The parameters that are text, not paths; every other one (but choices and flags) must take the path type,
# or for --path the repository check, so a new option has to be put on one side or the other.
TEXT = {"cluster", "branch", "message", "remote", "context", "namespace", "kind"}


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                                                          click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def path_params() -> list[tuple[tuple[str, ...], str, list[str]]]:
    """(command, parameter name, argv giving it an empty value) for every path parameter of every command."""
    out = []
    for path, command in commands():
        for param in command.params:
            if isinstance(param.type, click.Path) or param.name == "subdir":
                argv = [param.opts[0], ""] if isinstance(param, click.Option) else [""]
                out.append((path, str(param.name), [*path, *argv]))
    return out


def test_every_path_parameter_refuses_empty_values() -> None:
    found = []
    for path, command in commands():
        for param in command.params:
            name = str(param.name)
            if isinstance(param.type, click.Choice) or getattr(param, "is_flag", False) or name in TEXT:
                continue
            found.append((path, name))
            assert isinstance(param.type, NonEmptyPath) or name == "subdir", (path, name, param.type)
    assert {(("render",), "out"), (("publish",), "repo"), (("publish",), "subdir"), (("diff",), "subdir"),
            (("snapshot",), "output_file"), (("rules", "check"), "directory"), (("render",), "overlays")} <= set(found)
    assert len(path_params()) == len(found)


@pytest.mark.parametrize(("command", "name", "argv"), path_params(), ids=lambda v: v if isinstance(v, str) else
                         " ".join(v) if isinstance(v, tuple) else None)
def test_an_empty_path_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...],
                                        name: str, argv: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("the current directory is not an output\n")
    before = picture(tmp_path)
    result = run(argv)
    assert result.exit_code == 2, (argv, result.stderr)
    assert "an empty path is not allowed" in result.stderr
    assert "Traceback" not in result.stderr
    assert picture(tmp_path) == before


def _prior(tmp_path: Path) -> tuple[Path, dict[str, tuple[object, ...]]]:
    out = tmp_path / "out"
    assert run(render_args(write_specs(tmp_path / "prior", 0), out)).exit_code == 0
    return out, picture(tmp_path)


ZERO = {
    "an empty folder": ({}, "read no file"),
    "a folder of other files": ({"README.md": "# specs\n", "orders.yaml.bak": "x\n", "notes.txt": "n\n"},
                                "read no file; skipped 3 files ("),
    "documents without a spec": ({"empty.yaml": "# nothing yet\n---\n---\n"}, "read 1 file ("),
    "hidden files only": ({".orders.yaml": spec_docs()[0]}, "read no file"),
}


@pytest.mark.parametrize("case", sorted(ZERO))
def test_zero_instances_are_refused_unless_allowed(tmp_path: Path, case: str) -> None:
    files, message = ZERO[case]
    specs = tmp_path / "specs"
    specs.mkdir()
    for name, text in files.items():
        (specs / name).write_text(text)
    out, before = _prior(tmp_path)
    result = run(render_args(specs, out))
    assert result.exit_code == 1, result.stderr
    assert f"{specs}: error: the specs define no instance: read " in result.stderr
    assert message in result.stderr
    assert "pass --allow-empty" in result.stderr
    assert picture(tmp_path) == before
    stdout = run(render_args(specs, Path("-")))
    assert stdout.exit_code == 1
    assert stdout.stdout == ""
    allowed = run(render_args(specs, out, "--allow-empty"))
    assert allowed.exit_code == 0, allowed.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [".fedrender", ".fedrender/state.json"]


def test_the_message_names_what_was_skipped(tmp_path: Path) -> None:
    specs = write_specs(tmp_path / "specs")
    for index in range(7):
        (specs / f"spec-{index}.yml.txt").write_text("x\n")
    result = run(render_args(specs, tmp_path / "out"))
    assert result.exit_code == 1
    assert f"skipped 7 files ({specs / 'spec-0.yml.txt'}, " in result.stderr
    assert " and 2 more) (fedrender reads .yaml, .yml, .json)" in result.stderr
    assert not (tmp_path / "out").exists()


def test_json_specs_are_read_like_yaml(tmp_path: Path) -> None:
    """kubectl -o json output renders the same manifests as the YAML it came from."""
    doc = yaml.safe_load(spec_docs()[0])
    as_yaml = write_specs(tmp_path / "yaml", 0)
    as_json = tmp_path / "json"
    as_json.mkdir()
    (as_json / "orders.json").write_text(json.dumps(doc, indent=4) + "\n")
    assert run(render_args(as_yaml, tmp_path / "a")).exit_code == 0
    result = run(render_args(as_json, tmp_path / "b"))
    assert result.exit_code == 0, result.stderr
    first, second = picture(tmp_path / "a"), picture(tmp_path / "b")
    state = ".fedrender/state.json"
    assert {k: v for k, v in first.items() if k != state} == {k: v for k, v in second.items() if k != state}


def test_a_bad_json_spec_is_located(tmp_path: Path) -> None:
    doc = yaml.safe_load(spec_docs()[0])
    doc["spec"]["replicaset"] = "three"
    specs = tmp_path / "specs"
    specs.mkdir()
    text = json.dumps(doc, indent=4)
    (specs / "orders.json").write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if '"replicaset"' in t)
    columns = [text.splitlines()[line - 1].index(token) + 1 for token in ('"replicaset"', '"three"')]
    result = run(["explain", "--specs", str(specs), "--clusters", str(CLUSTERS)])
    assert result.exit_code == 1
    assert any(f"{specs / 'orders.json'}:{line}:{col}: error: spec.replicaset:" in result.stderr for col in columns)


def test_every_command_that_renders_refuses_zero_instances_as_publish_does(tmp_path: Path) -> None:
    """Specs that define no instance: explain and preview have nothing to show, diff shows what publish would
    refuse (and, with --allow-empty, what publish --allow-empty would remove)."""
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "README.md").write_text("# specs\n")
    inputs = ["--specs", str(specs), "--clusters", str(CLUSTERS)]
    for argv in (["explain", *inputs], ["explain", *inputs, "-o", "json"],
                 ["preview", *inputs, "--cluster", "member-eu-1"]):
        result = run(argv)
        assert result.exit_code == 1, (argv, result.stderr)
        assert f"{specs}: error: the specs define no instance: read no file; skipped 1 file (" in result.stderr
        assert "there is nothing to show. Check --specs" in result.stderr
        assert "not in the snapshot" not in result.stderr
        assert result.stdout == ""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    target = ["--repo", str(repo), "--branch", "main"]
    assert run(["publish", "--specs", str(SPECS), "--clusters", str(CLUSTERS), *target]).exit_code == 0
    refused = run(["diff", *inputs, *target])
    assert refused.exit_code == 1
    assert "publishing that would remove every file of the last render" in refused.stderr
    assert run(["publish", *inputs, *target]).exit_code == 1
    allowed = run(["diff", *inputs, *target, "--allow-empty", "-o", "json"])
    assert allowed.exit_code == 0, allowed.stderr
    removed = json.loads(allowed.stdout)
    assert removed["changed"] is True
    assert {f["change"] for f in removed["files"]} == {"removed", "modified"}  # the state file stays, emptied
