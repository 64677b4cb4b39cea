"""Every command in the README runs: `fedrender` lines through the CLI, `make` targets exist in the Makefile."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run
from tests.kubesim import KubeSim
from tests.observed import aggregated

README = (ROOT / "README.md").read_text()
COMMANDS = [line[2:].split("  #")[0].strip() for block in re.findall(r"```console\n(.*?)```", README, re.S)
            for line in block.splitlines() if line.startswith("$ ")]


def test_readme_opens_with_the_two_commands() -> None:
    assert COMMANDS[:2] == ["make demo", "make test"]


GITOPS = README.split("## GitOps with Argo CD", 1)[1].split("\n## ", 1)[0]
OBSERVED = README.split("### The snapshot with MongoReplicaSets", 1)[1].split("\n### ", 1)[0]
"""Its commands need a Karmada API server: test_the_observed_snapshot_walkthrough_runs gives them one."""


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith("fedrender ") and c not in GITOPS
                                     and c not in OBSERVED])
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


def test_the_gitops_walkthrough_runs_on_a_temporary_repository(tmp_path: Path) -> None:
    commands = [line[2:] for block in re.findall(r"```console\n(.*?)```", GITOPS, re.S)
                for line in block.splitlines() if line.startswith("$ ")]
    assert commands[0].startswith("git init -q -b main ../gitops-demo")  # a repository outside the clone
    outputs = []
    for command in commands:
        command = command.split("  #")[0]
        args = [str(tmp_path / a.removeprefix("../")) if a.startswith("../gitops-demo") else
                str(ROOT / a) if "/" in a else a for a in shlex.split(command)]
        if args[0] == "git":
            subprocess.run(args, check=True, cwd=tmp_path)
            continue
        result = run(args[1:])
        assert result.exit_code == 0, f"{command}\n{result.stderr}"
        outputs.append(result)
    repo = tmp_path / "gitops-demo"
    log = subprocess.run(["git", "log", "--format=%s"], cwd=repo, capture_output=True, text=True, check=True)
    assert log.stdout.splitlines() == ["fedrender: 6 added"]
    assert "no changes; nothing committed" in outputs[1].stderr
    # prod gives member-ap-2 a VIP through its overlay, dev doesn't: publishing dev would move those members
    assert outputs[2].stdout.splitlines()[0].endswith(" moved")
    assert "member-ap-2 -> " in outputs[2].stdout
    assert "member-ap-2 has no VIP" in outputs[2].stdout
    assert "mirror.eu-central.example.com/dockerhub" in outputs[2].stdout
    assert (repo / "manifests" / "platform" / "mongodb" / "deployment-fedrender-reconciler.yaml").exists()
    appset = yaml.safe_load((ROOT / "gitops" / "applicationset.yaml").read_text())
    pattern = appset["spec"]["generators"][0]["git"]["directories"][0]["path"]
    instance_dirs = sorted(str(p.relative_to(repo)) for p in repo.glob(pattern))
    assert "manifests/instances/shop/catalog" in instance_dirs


def test_the_observed_snapshot_walkthrough_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands of "The snapshot with MongoReplicaSets", in order, against a local Karmada API emulator that
    holds the example Clusters and, after the render, its MongoReplicaSets with an aggregated status."""
    commands = [line[2:] for block in re.findall(r"```console\n(.*?)```", OBSERVED, re.S)
                for line in block.splitlines() if line.startswith("$ ")]
    assert [c.split()[1] for c in commands] == ["render", "snapshot", "explain"]
    api = KubeSim()
    try:
        api.clusters = yaml.safe_load((ROOT / "examples" / "clusters" / "clusters.yaml").read_text())["items"]
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "karmada-apiserver",
            "clusters": [{"name": "karmada", "cluster": {"server": api.host}}],
            "users": [{"name": "admin", "user": {"token": "test"}}],
            "contexts": [{"name": "karmada-apiserver", "context": {"cluster": "karmada", "user": "admin"}}]}))
        monkeypatch.chdir(tmp_path)
        outputs = []
        for command in commands:
            args = [str(ROOT / a) if "/" in a and (ROOT / a).exists() else a for a in shlex.split(command)[1:]]
            # the usual kubeconfig (the client reads $KUBECONFIG once, when imported), here the emulator's
            result = run([*args, "--kubeconfig", str(kubeconfig)] if args[0] == "snapshot" else args)
            assert result.exit_code == 0, f"{command}\n{result.stderr}"
            outputs.append(result)
            if args[0] == "render":
                for path in sorted((tmp_path / "out" / "demo").glob("instances/*/*/mongoreplicaset-*.yaml")):
                    mrs = yaml.safe_load(path.read_text())
                    mrs["status"] = aggregated(mrs, 1, 1, 2)
                    api.put_object(mrs)
        blocks = outputs[2].stdout.split("\n\n")
        mongodb = [b for b in blocks if " (mongodb): " in b.splitlines()[0]]
        assert mongodb
        assert all("observed: generation 1, current; initialized, config version 2" in b for b in mongodb), blocks
        assert not any("observed:" in b for b in blocks if b not in mongodb)  # Redis: nothing to observe
    finally:
        api.stop()
