"""A sandbox for refused renders: an output directory with content and files beside it; a refusal must leave
the :func:`tests.sandbox.picture` of the whole sandbox as it was."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from click.testing import Result

from tests.conftest import CLUSTERS, run
from tests.sandbox import picture

MONGODB = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
           "metadata": {"name": "orders", "namespace": "team-a"}, "spec": {"replicaset": 3}}


@dataclass
class Sandbox:
    """``root/a/b/out`` holds an earlier render's neighbour files; ``root/outside.txt`` and ``root/a/beside.txt``
    stand for everything around it. Inputs are written to ``root/in``."""

    root: Path

    @property
    def out(self) -> Path:
        return self.root / "a" / "b" / "out"

    def write(self, name: str, *docs: Any, text: str | None = None) -> Path:
        path = self.root / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text if text is not None else yaml.safe_dump_all(list(docs), sort_keys=False),
                        encoding="utf-8")
        return path

    def render(self, specs: Path, *extra: str, clusters: Path = CLUSTERS) -> Result:
        return run(["render", "--specs", str(specs), "--clusters", str(clusters), "--out", str(self.out), *extra])

    def assert_refused(self, result: Result, before: dict[str, tuple[object, ...]], file: Path | str,
                       field: str = "", line: bool = True) -> None:
        """Exit 1, an error at ``file:line:col`` naming ``field``, no traceback, and not a byte changed."""
        assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        where = re.escape(str(file)) + (r":\d+:\d+" if line else "")
        what = rf"{where}: error: {re.escape(field)}" if field else rf"{where}: error: "
        assert re.search(what, result.stderr), result.stderr
        assert picture(self.root) == before


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox (hypothesis tests can't use function-scoped fixtures such as ``tmp_path``)."""
    with tempfile.TemporaryDirectory(prefix="fedrender-refusal-") as tmp:
        box = Sandbox(Path(tmp))
        (box.out / "keep").mkdir(parents=True)
        (box.out / "keep" / "notes.txt").write_text("not fedrender's")
        (box.root / "outside.txt").write_text("outside")
        (box.root / "a" / "beside.txt").write_text("beside")
        yield box


def mongodb(metadata: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    """A valid MultiCloudMongoDB with ``metadata`` and ``spec`` fields replaced."""
    return {**MONGODB, "metadata": {**MONGODB["metadata"], **(metadata or {})}, "spec": {**MONGODB["spec"], **spec}}


def clusters_with(changes: Sequence[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The example snapshot's Cluster objects (as one List), item ``i`` with its metadata updated."""
    items = [dict(c) for c in yaml.safe_load(CLUSTERS.read_text())["items"]]
    for index, metadata in changes:
        items[index] = {**items[index], "metadata": {**items[index]["metadata"], **metadata}}
    return items
