"""``fedrender-reconciler`` behaves like a command: help and version without a cluster or an environment, every
setting a flag with its environment variable as default, usage errors (exit 2) that name both."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from reconciler.main import main

CLEAN = {"FEDRENDER_CLUSTER": None, "FEDRENDER_NAMESPACES": None, "FEDRENDER_RESYNC_SECONDS": None,
         "POD_NAME": None, "POD_NAMESPACE": None, "KUBECONFIG": None}


def test_help_and_version_need_no_cluster_and_no_environment() -> None:
    for flag in ("--help", "--version"):
        done = subprocess.run([sys.executable, "-c", "from reconciler.main import main; main()", flag],
                              capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    help_text = CliRunner().invoke(main, ["--help"], env=CLEAN).output
    assert "FEDRENDER_CLUSTER" in help_text
    assert "--resync-seconds" in help_text
    assert "fedrender-reconciler, version" in CliRunner().invoke(main, ["--version"], env=CLEAN).output


def test_every_setting_is_a_flag_with_an_environment_variable() -> None:
    options = [p for p in main.params if isinstance(p, click.Option) and p.name not in ("version", "help")]
    assert options
    assert all(p.envvar for p in options), [p.name for p in options if not p.envvar]
    assert {p.envvar for p in options} >= {"FEDRENDER_CLUSTER", "FEDRENDER_NAMESPACES", "FEDRENDER_RESYNC_SECONDS",
                                           "POD_NAME", "POD_NAMESPACE"}


def test_a_missing_cluster_is_a_usage_error_naming_flag_and_variable() -> None:
    result = CliRunner().invoke(main, [], env=CLEAN)
    assert result.exit_code == 2
    assert "--cluster" in result.output
    assert "FEDRENDER_CLUSTER" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("env", "flag"), [({"FEDRENDER_RESYNC_SECONDS": "soon"}, "--resync-seconds"),
                                           ({"FEDRENDER_RESYNC_SECONDS": "0"}, "--resync-seconds"),
                                           ({"FEDRENDER_SETTLE_SECONDS": "-1"}, "--settle-seconds")])
def test_a_bad_value_from_the_environment_is_a_usage_error(env: dict[str, str], flag: str) -> None:
    result = CliRunner().invoke(main, [], env={**CLEAN, "FEDRENDER_CLUSTER": "eu-1", **env})
    assert result.exit_code == 2
    assert flag in result.output


def test_no_cluster_to_talk_to_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["--cluster", "eu-1"], env={**CLEAN, "KUBERNETES_SERVICE_HOST": None})
    assert result.exit_code == 1
    assert "cannot reach the Kubernetes API" in result.output
