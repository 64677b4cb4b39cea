"""Every command in the README runs: `fedrender` lines through the CLI, `make` targets exist in the Makefile."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, run

README = (ROOT / "README.md").read_text()
COMMANDS = [line[2:].split("  #")[0].strip() for block in re.findall(r"```console\n(.*?)```", README, re.S)
            for line in block.splitlines() if line.startswith("$ ")]


def test_readme_opens_with_the_two_commands() -> None:
    assert COMMANDS[:2] == ["make demo", "make test"]


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith("fedrender ")])
def test_fedrender_commands_run(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = shlex.split(command)[1:]
    args = [str(tmp_path / a) if a.startswith("out/") else str(ROOT / a) if "/" in a and (ROOT / a).exists() else a
            for a in args]
    result = run(args)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith("make ")])
def test_make_targets_exist(command: str) -> None:
    target = command.split()[1]
    env = {**os.environ, "MAKEFLAGS": ""}
    subprocess.run(["make", "-n", "-C", str(ROOT), target], check=True, capture_output=True, env=env)


def test_the_specialising_example_prints_what_the_readme_says() -> None:
    section = README.split("## Specialising clusters", 1)[1].split("\n## ", 1)[0]
    command = next(c for c in COMMANDS if c.startswith("fedrender preview") and c in section)
    result = run([str(ROOT / a) if (ROOT / a).exists() else a for a in shlex.split(command)[1:]])
    assert result.exit_code == 0, result.stderr
    expected = re.search(r"```diff\n(.*?)```", section, re.S)
    assert expected is not None
    catalog = result.stdout.split("--- template: StatefulSet shop/catalog", 1)[1].split("--- template:", 1)[0]
    for line in expected.group(1).splitlines():
        assert line in catalog.splitlines(), line
