"""Shared fixtures: paths to the repository's inputs and a CLI runner that keeps stdout and stderr apart."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fedrender.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CLUSTERS = EXAMPLES / "clusters" / "clusters.yaml"
SPECS = EXAMPLES / "specs"
OVERLAY = ROOT / "overlays" / "dev"
DEMO_ARGS = ["--specs", str(SPECS), "--clusters", str(CLUSTERS), "--overlay", str(OVERLAY)]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--with-e2e", action="store_true", default=False,
                     help="also run tests/e2e against the Karmada of FEDRENDER_E2E_CONTEXT (a real cluster)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--with-e2e"):
        return
    skip = pytest.mark.skip(reason="end-to-end: needs a real Karmada; run with --with-e2e")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


def run(args: Sequence[str]) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def cli() -> type:
    class _Cli:
        run = staticmethod(run)

    return _Cli


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo inputs rendered once per test module."""
    out = tmp_path_factory.mktemp("render") / "out"
    result = run(["render", *DEMO_ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    return out


def tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes, keyed by relative path."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def edited_pack(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the shipped MongoDB pack with ``old`` (which must occur) replaced by ``new`` in pack.yaml."""
    pack = tmp_path / "mongodb"
    shutil.copytree(ROOT / "rules" / "mongodb", pack)
    text = (pack / "pack.yaml").read_text()
    assert old in text
    (pack / "pack.yaml").write_text(text.replace(old, new))
    return pack


def dev_overlay_without_storage_classes(tmp: Path) -> Path:
    """overlays/dev without its storage classes, in ``tmp``: an overlay whose render changes an output rendered
    without overlays in ways a running instance accepts (a storage class for StatefulSets that already run is
    refused: fedrender.pipeline.workloads)."""
    out = tmp / "dev-overlay"
    shutil.copytree(ROOT / "overlays" / "dev", out, ignore=shutil.ignore_patterns("storage.yaml"), dirs_exist_ok=True)
    return out
