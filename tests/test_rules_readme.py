"""rules/README.md: its walkthrough builds a working pack. Every file it shows is written, every command run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from tests.conftest import ROOT, run

README = (ROOT / "rules" / "README.md").read_text()
WALKTHROUGH = README.split("## Walkthrough", 1)[1]


def test_the_walkthrough_builds_a_pack_that_checks_tests_and_renders(tmp_path: Path) -> None:
    files = re.findall(r"<!-- file: (\S+) -->\n```yaml\n(.*?)```", WALKTHROUGH, re.S)
    assert len(files) == 7
    for name, content in files:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    commands = [line[2:] for block in re.findall(r"```console\n(.*?)```", WALKTHROUGH, re.S)
                for line in block.splitlines() if line.startswith("$ fedrender ")]
    assert len(commands) == 4
    outputs = []
    for command in commands:
        args = [str(tmp_path / a) if a.startswith("kv") else a for a in shlex.split(command)[1:]]
        result = run(args)
        assert result.exit_code == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    assert outputs[1].splitlines()[-1] == "3 passed, 0 failed"
    rendered = tmp_path / "kv-out" / "instances" / "demo" / "kv"
    statefulset = yaml.safe_load((rendered / "statefulset-kv.yaml").read_text())
    assert statefulset["spec"]["replicas"] == 3
    peers = statefulset["spec"]["template"]["spec"]["containers"][0]["args"][1].split(",")
    assert sorted(p.split(":")[0] for p in peers) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert "replicas: 1" in outputs[3]


def test_no_module_of_fedrender_names_a_middleware_other_than_fedstates() -> None:
    """A new middleware is a new rule pack: nothing under fedrender/ may name Redis (or the walkthrough's kind)."""
    for path in (ROOT / "fedrender").rglob("*.py"):
        text = path.read_text().lower()
        for word in ("redis", "sentinel", "keyvaluestore"):
            assert word not in text, f"{path.relative_to(ROOT)} names {word}"
