"""The switch of a transactional write: rename staged files into place, undo everything on any error.

Every directory is opened component by component with ``O_NOFOLLOW`` relative to its parent's descriptor,
so a symlink met (or swapped in while fedrender writes) is refused with ``ELOOP``, never followed. Each
step is recorded in a journal; on an error the journal is undone in reverse (new files removed, backups
renamed back, created directories removed), and what could not be undone is said, with the previous files
kept in a rescue directory beside the output root. Used by :mod:`fedrender.pipeline.write`, which checks the
tree before anything here runs.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from fedrender.models.diagnostics import FedrenderError
from fedrender.models.state import PATH as STATE_FILE

_NOFOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class Rename(Protocol):
    """``os.replace`` relative to two directory descriptors (the seam tests use to inject OS failures)."""

    def __call__(self, src: str, dst: str, *, src_dir_fd: int, dst_dir_fd: int) -> None: ...


class WriteFailed(FedrenderError):
    """The OS failed during the switch; every change was undone when ``undone`` (else the message names
    what could not be restored and where the previous files are)."""

    def __init__(self, message: str, undone: bool = True) -> None:
        super().__init__(message)
        self.undone = undone


@contextmanager
def open_dir(root: Path, parts: Sequence[str], create: bool = False,
             created: list[str] | None = None) -> Iterator[int]:
    """A descriptor of ``root/parts`` opened component by component with ``O_NOFOLLOW``."""
    fd = os.open(root, _NOFOLLOW_DIR)
    try:
        for depth, part in enumerate(parts, start=1):
            if create:
                try:
                    os.mkdir(part, 0o777, dir_fd=fd)
                    if created is not None:
                        created.append("/".join(parts[:depth]))
                except FileExistsError:
                    pass
            child = os.open(part, _NOFOLLOW_DIR, dir_fd=fd)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def read_nofollow(root: Path, relative: str) -> bytes:
    """The bytes of a regular file below ``root``, reached without following any symlink."""
    parts = relative.split("/")
    with open_dir(root, parts[:-1]) as parent:
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0),
                     dir_fd=parent)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise OSError(f"{relative} is not a regular file")
            data = handle.read()
    return data


@dataclass
class _Journal:
    """What the switch did, to undo in reverse: ("dir", path) | ("placed", path) | ("backup", path, name)."""

    steps: list[tuple[str, ...]] = field(default_factory=list)


def switch(root: Path, staging: Path, changed: Sequence[str], prune: Sequence[str], files: Mapping[str, bytes],
           rename: Rename, check: Callable[[], None] = lambda: None) -> None:
    """Stage the changed files, then rename them into place (state file last) and prune; undo on any error.

    ``check`` runs before every step but after the last (a deferred signal raises there: see
    :mod:`fedrender.pipeline.signals`), so once the state file is in place the switch is complete."""
    order = sorted(changed, key=lambda r: (r == STATE_FILE, r))
    journal = _Journal()
    fds: list[int] = []
    try:
        for name in ("new", "old"):
            (staging / name).mkdir()
            fds.append(os.open(staging / name, _NOFOLLOW_DIR))
        new_fd, old_fd = fds
        for index, relative in enumerate(order):
            check()
            (staging / "new" / str(index)).write_bytes(files[relative])
        for index, relative in enumerate(order):
            if relative != STATE_FILE:
                check()
                _place(root, relative, str(index), new_fd, old_fd, rename, journal)
        for number, pruned in enumerate(prune):
            check()
            _backup(root, pruned, f"pruned-{number}", old_fd, rename, journal)
        check()
        if order and order[-1] == STATE_FILE:
            _place(root, STATE_FILE, str(len(order) - 1), new_fd, old_fd, rename, journal)
    except BaseException as exc:
        failures = _undo(root, journal, fds[1]) if len(fds) == 2 else []
        if failures:
            kept = staging.with_name(staging.name + "-rescue")
            with suppress(OSError):
                staging.rename(kept)
            raise WriteFailed(f"writing {root} failed ({reason(exc)}) and could not be fully undone: "
                              f"{'; '.join(failures)}; the previous files are in {kept}/old", undone=False) from None
        if isinstance(exc, OSError):
            raise WriteFailed(f"writing failed ({reason(exc)}); every change was undone") from None
        raise
    finally:
        for fd in fds:
            os.close(fd)


def reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _place(root: Path, relative: str, staged: str, new_fd: int, old_fd: int, rename: Rename,
           journal: _Journal) -> None:
    """Move the staged file into place (the file it replaces into the backups first)."""
    parts = relative.split("/")
    created: list[str] = []
    try:
        with _named(relative), open_dir(root, parts[:-1], create=True, created=created) as parent:
            journal.steps.extend(("dir", d) for d in created)
            created.clear()
            if _exists(parts[-1], parent):
                _backup_at(parent, relative, parts[-1], f"replaced-{staged}", old_fd, rename, journal)
            rename(staged, parts[-1], src_dir_fd=new_fd, dst_dir_fd=parent)
            journal.steps.append(("placed", relative))
    finally:
        journal.steps.extend(("dir", d) for d in created)


def _backup(root: Path, relative: str, name: str, old_fd: int, rename: Rename, journal: _Journal) -> None:
    parts = relative.split("/")
    with _named(relative), open_dir(root, parts[:-1]) as parent:
        _backup_at(parent, relative, parts[-1], name, old_fd, rename, journal)


def _backup_at(parent: int, relative: str, leaf: str, name: str, old_fd: int, rename: Rename,
               journal: _Journal) -> None:
    if not stat.S_ISREG(os.stat(leaf, dir_fd=parent, follow_symlinks=False).st_mode):
        raise OSError(errno.EEXIST, "changed while fedrender was writing: no longer a regular file", relative)
    rename(leaf, name, src_dir_fd=parent, dst_dir_fd=old_fd)
    journal.steps.append(("backup", relative, name))


@contextmanager
def _named(relative: str) -> Iterator[None]:
    """OS errors of the descriptor-relative calls inside name the output path they concern."""
    try:
        yield
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), relative) from exc


def _exists(leaf: str, parent: int) -> bool:
    try:
        os.stat(leaf, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _undo(root: Path, journal: _Journal, old_fd: int) -> list[str]:
    """Undo the journal in reverse; what could not be undone (empty when the tree is as it was)."""
    failures = []
    for step in reversed(journal.steps):
        parts = step[1].split("/")
        try:
            if step[0] == "dir":
                with open_dir(root, parts[:-1]) as parent:
                    os.rmdir(parts[-1], dir_fd=parent)
            else:
                with open_dir(root, parts[:-1]) as parent:
                    if step[0] == "placed":
                        os.unlink(parts[-1], dir_fd=parent)
                    else:
                        os.replace(step[2], parts[-1], src_dir_fd=old_fd, dst_dir_fd=parent)
        except OSError as exc:
            if step[0] == "dir" and exc.errno == errno.ENOTEMPTY:
                continue  # someone else put something in it meanwhile: theirs, so the directory stays
            failures.append(f"{step[1]}: {exc.strerror or exc}")
    return failures


def remove_empty_parents(root: Path, removed: Sequence[str]) -> None:
    """After a successful switch: directories that pruning left empty go too (best effort, no symlinks)."""
    candidates = sorted({str(p) for r in removed for p in PurePosixPath(r).parents if str(p) != "."},
                        key=lambda d: -d.count("/"))
    for directory in candidates:
        parts = directory.split("/")
        with suppress(OSError), open_dir(root, parts[:-1]) as parent:
            os.rmdir(parts[-1], dir_fd=parent)
