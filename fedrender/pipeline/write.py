"""Write the rendered tree: stage everything first, then move it into place; prune only what fedrender owns.

Input errors happen before this runs, so they never touch ``--out``. Here, every new file is first written
to a staging directory on the same file system; only when all of them are written are they renamed into
place (renames don't fail for lack of space), files of the previous render that are no longer rendered are
removed, and the state file, which records what fedrender owns, is moved last. Files fedrender doesn't
own are never touched, and unchanged files keep their bytes and mtimes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fedrender.models.state import PATH as STATE_FILE


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def owned_files(out: Path) -> list[str]:
    """Files the last render wrote, from its state file (nothing when there is none)."""
    try:
        state = json.loads((out / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = state.get("files", []) if isinstance(state, dict) else []
    return [f for f in files if isinstance(f, str) and _safe(f)]


def _safe(relative: str) -> bool:
    path = Path(relative)
    return not path.is_absolute() and ".." not in path.parts


class WriteConflict(Exception):
    """Rendered files would replace files that fedrender did not write."""


def write_tree(out: Path, files: Mapping[str, bytes]) -> WriteReport:
    """Raises WriteConflict, before anything is written, when a rendered path holds a file fedrender doesn't own
    (a file with exactly the rendered bytes is adopted)."""
    report = WriteReport()
    previous = owned_files(out)
    owned = set(previous)
    foreign = sorted(r for r, content in files.items() if r != STATE_FILE and r not in owned
                     and (out / r).is_file() and (out / r).read_bytes() != content)
    if foreign:
        raise WriteConflict(f"refusing to overwrite {len(foreign)} file(s) fedrender did not write: "
                            f"{', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}; move them away")
    changed = {}
    for relative, content in files.items():
        target = out / relative
        if target.is_file() and target.read_bytes() == content:
            report.unchanged.append(relative)
        else:
            changed[relative] = content
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.fedrender-", dir=out.parent))
    try:
        for relative, content in changed.items():
            staged = staging / relative
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(content)
        for relative in sorted(changed, key=lambda r: r == STATE_FILE):
            if relative == STATE_FILE:
                _prune(out, previous, files, report)
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / relative, target)
            report.written.append(relative)
        if STATE_FILE not in changed:
            _prune(out, previous, files, report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _prune(out: Path, previous: list[str], files: Mapping[str, bytes], report: WriteReport) -> None:
    for relative in sorted(set(previous) - set(files)):
        target = out / relative
        if target.is_file():
            target.unlink()
            report.removed.append(relative)
            parent = target.parent
            while parent != out and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
