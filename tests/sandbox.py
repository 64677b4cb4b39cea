"""Helpers for the hostile-write tests: small generated inputs and an exact picture of a directory tree.

``picture`` records every entry below a directory without following symlinks (a file's bytes and mode, a
directory's mode, a symlink's target, a FIFO), so two pictures are equal exactly when nothing under it
changed, byte for byte.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.conftest import CLUSTERS, SPECS


def picture(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry below ``root`` (symlinks not followed): path -> (kind, content or target, mode)."""
    out: dict[str, tuple[object, ...]] = {}
    for directory, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = Path(directory) / name
            info = os.lstat(path)
            key = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                out[key] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                out[key] = ("dir", stat.S_IMODE(info.st_mode))
            elif stat.S_ISREG(info.st_mode):
                out[key] = ("file", path.read_bytes(), stat.S_IMODE(info.st_mode))
            else:
                out[key] = ("special", stat.S_IFMT(info.st_mode))
    return out


def spec_docs() -> list[str]:
    """The instances of examples/specs/team-databases.yaml, one YAML document each (orders, catalog, sessions)."""
    return [d.strip() + "\n" for d in SPECS.joinpath("team-databases.yaml").read_text().split("\n---\n")]


def write_specs(where: Path, *indexes: int) -> Path:
    """A spec folder holding the chosen instances of :func:`spec_docs` (none: an empty folder)."""
    where.mkdir(parents=True, exist_ok=True)
    docs = spec_docs()
    for index in indexes:
        (where / f"spec-{index}.yaml").write_text(docs[index])
    return where


def render_args(specs: Path, out: Path, *extra: str) -> list[str]:
    return ["render", "--specs", str(specs), "--clusters", str(CLUSTERS), "--out", str(out), *extra]
