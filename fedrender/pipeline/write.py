"""Write the rendered tree all or nothing; prune only what fedrender owns; never leave the output root.

Input errors happen before this runs, so they never touch ``--out``. Here the write itself is a transaction:

1. **Check** (nothing changes yet): every rendered path and every path the previous state file says
   fedrender owns is a clean relative path (no ``..``, no absolute path, no empty or ``.`` component);
   walking it from the output root without following symlinks finds only real directories on the way and a
   regular file or nothing at its end. A symlink anywhere on such a path, a directory where a file goes, a
   file where a directory goes, a FIFO or device, a file fedrender did not write, or a directory fedrender
   may not change (permissions, a sticky directory owned by someone else) is refused, every problem listed
   together.
2. **Stage**: every changed file is written into a staging directory beside the output root (the same file
   system, so the switch is made of renames).
3. **Switch** (:mod:`fedrender.pipeline.switch`): each replaced or pruned file is first renamed into the
   staging directory as a backup, then the new file renamed into place; the state file, which records what
   fedrender owns, goes last. Every directory is opened with ``O_NOFOLLOW`` relative to its parent's
   descriptor, so a symlink swapped in meanwhile is refused, not followed.
4. On **any** error during the switch, every step is undone in reverse (new files removed, backups renamed
   back, created directories removed): the tree is byte-identical to before. Only then are emptied
   directories of pruned files removed (best effort) and the staging directory deleted.

The output root itself (``--out``, or the publish path) is the user's choice and may be reached through a
symlink; nothing below it is followed. Unchanged files keep their bytes and mtimes.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from fedrender.models.diagnostics import Diagnostic, InputError, Location
from fedrender.models.state import PATH as STATE_FILE
from fedrender.models.state import duplicate_key, state_location
from fedrender.pipeline.signals import Guard
from fedrender.pipeline.switch import Rename as Rename
from fedrender.pipeline.switch import WriteFailed as WriteFailed
from fedrender.pipeline.switch import read_nofollow, reason, remove_empty_parents, switch


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class WriteRefused(InputError):
    """The output tree can't take the rendered files as they are (checked before anything changed):
    a symlink, a wrong file type, a path leaving the root, a file fedrender did not write. Exit code 1."""


class WriteConflict(WriteRefused):
    """Rendered files would replace files that fedrender did not write."""


def clean_relative(relative: str) -> bool:
    """True for a non-empty relative POSIX path without ``..``, ``.``, empty components or NUL bytes."""
    if not relative or "\0" in relative or relative.startswith("/") or "\\" in relative:
        return False
    parts = relative.split("/")
    return all(part not in ("", ".", "..") for part in parts)


OUTPUT_DIRS = ("instances", "platform", "references")
"""The top-level directories of the output layout (README "Rendering"); fedrender writes nothing else but the
state file, so a state ``files`` entry outside them names a file fedrender never wrote."""


def rendered_path(relative: str) -> bool:
    """True for a path of fedrender's output layout: ``<one of OUTPUT_DIRS>/.../<file>.yaml``, no hidden
    component (so never ``.git/...``), clean (see :func:`clean_relative`)."""
    if not clean_relative(relative):
        return False
    parts = relative.split("/")
    return (len(parts) >= 2 and parts[0] in OUTPUT_DIRS and relative.endswith(".yaml")
            and not any(part.startswith(".") for part in parts))


def owned_files(out: Path, shown: Path | None = None) -> list[str]:
    """Files the last render wrote, from the state file in ``out`` (nothing when there is none).

    The state file is read without following symlinks; its ``files`` entries are hostile input: one that
    is not a clean relative path raises :class:`WriteRefused` at its ``file:line:col`` (in ``shown``, the
    output directory as the user wrote it, when given)."""
    state_path = (shown or out) / STATE_FILE
    try:
        text = read_nofollow(out, STATE_FILE).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    repeated = duplicate_key(str(state_path), text)
    if repeated is not None:  # a second "files" would hide the first from pruning
        raise WriteRefused([Diagnostic(f"{repeated.message} (fedrender only prunes files it wrote, below the "
                                       "output directory); restore the state file from Git", repeated.location,
                                       repeated.field_path)])
    try:
        state = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's JSON decoder goes
        return []
    files = state.get("files", []) if isinstance(state, dict) else []
    if not isinstance(files, list):
        raise WriteRefused([_state_entry(text, state_path, None, "is not a list of paths")])
    bad = [i for i, f in enumerate(files) if not isinstance(f, str) or not clean_relative(f) or f == STATE_FILE]
    foreign = [i for i, f in enumerate(files) if i not in bad and not rendered_path(f)]
    if bad or foreign:
        raise WriteRefused([_state_entry(text, state_path, i, f"{files[i]!r} is not a path inside the output "
                                         "directory; restore the state file from Git") for i in bad]
                           + [_state_entry(text, state_path, i, f"{files[i]!r} is not a file fedrender renders "
                                           f"(it writes only {', '.join(d + '/**/*.yaml' for d in OUTPUT_DIRS)} "
                                           "and its state file); restore the state file from Git")
                              for i in foreign])
    return list(dict.fromkeys(files))


def _state_entry(text: str, path: Path, index: int | None, problem: str) -> Diagnostic:
    field_path = "files" if index is None else f"files[{index}]"
    location, _ = state_location(str(path), text, ("files",) if index is None else ("files", index))
    return Diagnostic(f"{problem} (fedrender only prunes files it wrote, below the output directory)", location,
                      field_path)


def write_tree(out: Path, files: Mapping[str, bytes], rename: Rename = os.replace,
               guard: Guard | None = None) -> WriteReport:
    """Write ``files`` (relative POSIX path -> bytes) below ``out`` and prune files of the last render.

    Raises :class:`WriteRefused` (nothing changed) when a check fails, :class:`WriteFailed` when the OS
    fails during the switch (rolled back; the message says whether completely). A file whose bytes already
    equal the rendered ones is adopted even when fedrender did not write it. With a ``guard`` (signals
    deferred by :func:`fedrender.pipeline.signals.deferred_signals`), a signal received before the state file
    is in place raises :class:`~fedrender.pipeline.signals.Interrupted` after undoing everything (not
    completed), one received later raises it after the write completed; either way the staging directory
    is gone."""
    root = output_root(out)
    bad = sorted(r for r in files if not clean_relative(r))
    if bad:
        raise WriteRefused([Diagnostic(f"rendered path {r!r} would leave the output directory", Location(str(out)))
                            for r in bad])
    previous = owned_files(root, out) if root.is_dir() else []
    try:
        plan = _check(root, out, files, previous)
    except OSError as exc:  # an lstat or access the OS refused (a name too long, a folder we may not search)
        raise WriteRefused([Diagnostic(f"cannot examine the output directory: {reason(exc)}",
                                       Location(str(out)))]) from None
    report = WriteReport(unchanged=plan.unchanged)
    check = guard.check if guard is not None else lambda: None
    check()
    created: list[Path] = []
    try:
        _makedirs(root, created)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.fedrender-", dir=root.parent))
    except OSError as exc:
        _rmdirs(created)
        raise WriteFailed(f"cannot prepare the output directory: {reason(exc)}") from None
    try:
        switch(root, staging, plan.changed, plan.prune, files, rename, check)
        report.written.extend(sorted(plan.changed, key=lambda r: (r == STATE_FILE, r)))
        report.removed.extend(plan.prune)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _rmdirs(created)  # after the staging directory: it may sit in one of them
        raise
    shutil.rmtree(staging, ignore_errors=True)
    remove_empty_parents(root, report.removed)
    if guard is not None:
        guard.after()
    return report


@dataclass
class _Plan:
    changed: list[str]
    unchanged: list[str]
    prune: list[str]


def output_root(out: Path) -> Path:
    """``out`` made absolute with its symlinks resolved (the user named it, so it may be reached through a
    symlink); WriteRefused unless it is a directory or absent (or when it is the file system's root)."""
    try:
        root = out.resolve()
    except (OSError, RuntimeError) as exc:
        raise WriteRefused([Diagnostic(f"cannot resolve the output directory: {exc}", Location(str(out)))]) from None
    if root == root.parent:
        raise WriteRefused([Diagnostic("refusing to use the file system root as the output directory",
                                       Location(str(out)))])
    if os.path.lexists(root) and not root.is_dir():
        raise WriteRefused([Diagnostic("the output directory is not a directory", Location(str(out)))])
    if out.is_symlink() and not root.is_dir():  # a dangling link: creating its target would write elsewhere
        raise WriteRefused([Diagnostic(f"the output directory is a symlink to {root}, which does not exist; create "
                                       "that directory first, or name a real directory", Location(str(out)))])
    return root


def _check(root: Path, shown: Path, files: Mapping[str, bytes], previous: Sequence[str]) -> _Plan:
    """Every problem with the tree as it is, or the plan: which files change, stay, and are pruned."""
    problems: dict[str, tuple[str, list[str]]] = {}

    def problem(where: str, what: str, relative: str, action: str = "writing") -> None:
        problems.setdefault(where, (what, []))[1].append("" if relative == where else f"{action} {relative}")

    owned = set(previous)
    directories = {str(p) for r in files for p in PurePosixPath(r).parents}
    plan = _Plan([], [], [])
    for relative in sorted(files):
        if relative in directories:
            problem(relative, "is rendered both as a file and as a directory", relative)
            continue
        kind, where = _walk(root, relative)
        if kind == "absent":
            plan.changed.append(relative)
        elif kind != "file":
            problem(where, _KINDS[kind], relative)
        else:
            try:
                content = read_nofollow(root, relative)
            except OSError as exc:
                problem(relative, f"cannot be read: {reason(exc)}", relative)
                continue
            if content == files[relative]:
                plan.unchanged.append(relative)
            elif relative in owned or relative == STATE_FILE:
                plan.changed.append(relative)
            else:
                problem(relative, _FOREIGN, relative)
    for relative in sorted(owned - set(files)):
        kind, where = _walk(root, relative, prune=True)
        if kind == "file":
            plan.prune.append(relative)
        elif kind == "symlink":  # a directory, FIFO or device where fedrender's file was is not its own: left alone
            problem(where, _KINDS[kind], relative, "pruning")
    for relative in plan.changed + plan.prune:
        denied = _permission_problem(root, relative)
        if denied:
            problem(relative, denied, relative)
    if not os.access(_existing_ancestor(root.parent), os.W_OK | os.X_OK):
        problem(".", f"cannot be staged: no write permission on {_existing_ancestor(root.parent)}", ".")
    foreign = sorted(where for where, (what, _) in problems.items() if what == _FOREIGN)
    diagnostics = [Diagnostic(_explain(what, relatives), Location(str(shown / where)))
                   for where, (what, relatives) in sorted(problems.items()) if what != _FOREIGN]
    if foreign:
        diagnostics.append(Diagnostic(f"refusing to overwrite {len(foreign)} file(s) fedrender did not write: "
                                      f"{', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}; move them away",
                                      Location(str(shown))))
    if diagnostics:
        raise (WriteRefused if len(diagnostics) > bool(foreign) else WriteConflict)(diagnostics)
    return plan


_FOREIGN = "foreign"
_KINDS = {
    "symlink": "is a symlink: fedrender never follows or replaces a symlink below the output directory; "
               "replace it with a real directory or file, or remove it",
    "special": "is not a regular file or directory (a FIFO, socket or device); remove it",
    "directory": "is a directory where a file goes; move it away",
    "notdir": "is a file where a directory goes; move it away",
}


def _explain(what: str, actions: list[str]) -> str:
    actions = [a for a in actions if a]
    if not actions:
        return what
    more = f" and {len(actions) - 1} more" if len(actions) > 1 else ""
    return f"{what} ({actions[0]}{more})"


def _walk(root: Path, relative: str, prune: bool = False) -> tuple[str, str]:
    """What the path holds, walking from ``root`` without following symlinks: ("absent" | "file" |
    "directory" | "symlink" | "special" | "notdir", the first component that decided it). When pruning, a
    file where a directory was means the pruned file is already gone ("absent")."""
    parts = relative.split("/")
    for depth in range(1, len(parts) + 1):
        here = "/".join(parts[:depth])
        try:
            mode = os.lstat(root / here).st_mode
        except FileNotFoundError:
            return "absent", here
        if stat.S_ISLNK(mode):
            return "symlink", here
        if depth == len(parts):
            if stat.S_ISREG(mode):
                return "file", here
            return ("directory" if stat.S_ISDIR(mode) else "special"), here
        if not stat.S_ISDIR(mode):
            return ("absent" if prune else "notdir" if stat.S_ISREG(mode) else "special"), here
    raise AssertionError("unreachable")  # pragma: no cover


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _permission_problem(root: Path, relative: str) -> str:
    """Why this process can't create, replace or remove ``relative`` ('' when it can): the directory that
    holds it (or the nearest one that exists) must be writable; in a sticky directory (like /tmp) a file
    another user owns can only be replaced by the directory's owner."""
    parent = (root / relative).parent
    existing = _existing_ancestor(parent)
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot be written: no write permission on {existing}"
    target = root / relative
    uid = os.geteuid()
    if existing == parent and os.path.lexists(target) and uid != 0:
        info = os.lstat(parent)
        if info.st_mode & stat.S_ISVTX and uid not in (info.st_uid, os.lstat(target).st_uid):
            return f"cannot be replaced: {parent} is sticky and neither it nor the file belongs to this user"
    return ""


def _makedirs(root: Path, created: list[Path]) -> None:
    """Create ``root`` and its missing parents, remembering which (to remove them again on failure)."""
    missing = []
    here = root
    while not os.path.lexists(here):
        missing.append(here)
        here = here.parent
    for directory in reversed(missing):
        directory.mkdir()
        created.append(directory)


def _rmdirs(created: list[Path]) -> None:
    for directory in reversed(created):
        with suppress(OSError):
            directory.rmdir()


