"""Write one file the user named (``snapshot --output-file``) all or nothing, and never over rendered output.

The bytes go to a temporary file in the target's directory (the same file system), are flushed to disk
(``fsync``), then renamed over the target (``os.replace``, atomic on POSIX: rename(2)); on any error the
temporary file is removed and the target keeps every byte. Refused before anything is written: an existing
target that is not a regular file (a directory, FIFO, socket or device), a directory that does not exist,
and a target inside a fedrender output tree (an ancestor directory holds ``.fedrender/state.json``): render
owns those files. The target may be reached through a symlink (the user named it); the file it leads to is
replaced.
"""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import suppress
from pathlib import Path

from fedrender.models.diagnostics import Diagnostic, InputError, Location
from fedrender.models.state import PATH as STATE_FILE
from fedrender.pipeline.signals import Guard
from fedrender.pipeline.switch import reason


class OutputFileError(InputError):
    """The file can't be written (refused before, or the OS failed while writing); it is as it was. Exit 1."""


def refusal(path: Path) -> str:
    """Why ``path`` may not be written ('' when it may): see the module docstring."""
    target = Path(os.path.realpath(path))
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        return f"cannot examine the output file: {reason(exc)}"
    if mode is not None and stat.S_ISDIR(mode):
        return "is a directory; name a file"
    if mode is not None and not stat.S_ISREG(mode):
        return "is not a regular file (a FIFO, socket or device); name a regular file"
    if not target.parent.is_dir():
        return f"cannot be created: the directory {target.parent} does not exist"
    for directory in target.parents:
        if os.path.lexists(directory / STATE_FILE):
            return (f"is inside the fedrender output directory {directory} (it holds {STATE_FILE}); writing it "
                    "would overwrite rendered output: name a file outside it")
    return ""


def write_file(path: Path, data: bytes, guard: Guard | None = None) -> None:
    """Replace ``path`` with ``data`` atomically (see the module docstring).

    Raises :class:`OutputFileError` at ``path`` when refused or when the OS fails (the file untouched, no
    temporary file left); with a ``guard``, :class:`~fedrender.pipeline.signals.Interrupted` when a deferred
    signal arrived (not completed: before the rename, the file untouched; completed: after it)."""
    refused = refusal(path)
    if refused:
        raise OutputFileError([Diagnostic(refused, Location(str(path)))])
    target = Path(os.path.realpath(path))
    check = guard.check if guard is not None else lambda: None
    temporary = ""
    try:
        check()
        mode = _mode(target)
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".fedrender-tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        check()
        os.replace(temporary, target)
        temporary = ""
        _sync_directory(target.parent)
    except OSError as exc:
        raise OutputFileError([Diagnostic(f"cannot write the output file: {reason(exc)}; it is as it was",
                                          Location(str(path)))]) from None
    finally:
        if temporary:
            with suppress(OSError):
                os.unlink(temporary)
    if guard is not None:
        guard.after()


def _mode(target: Path) -> int:
    """The permission bits of the file replaced, or for a new file those ``open`` would give (0666 minus
    the umask)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _sync_directory(directory: Path) -> None:
    """Flush the rename to disk (best effort: some file systems can't fsync a directory)."""
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
