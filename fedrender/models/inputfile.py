"""Reading an input file without ever blocking, and decoding it with the place of any bad byte.

Every file fedrender reads as input (specs, snapshots, overlays, rule packs, the state file) goes through
:func:`read_input`: it must be a regular file (a FIFO, a socket or a device would block the read or never
end) of at most :data:`MAX_FILE_BYTES`, and its text must be UTF-8, as Kubernetes reads YAML and JSON.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fedrender.models.diagnostics import Diagnostic, InputError, Location

MAX_FILE_BYTES = 64 * 2**20
"""Largest input file, in bytes (the Kubernetes API server takes 3 MiB per request; a snapshot of thousands of
clusters is a few MiB)."""

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes, in words (``"a FIFO (named pipe)"``)."""
    return next((name for check, name in _KINDS if check(mode)), "not a regular file")


def read_input(path: Path, display: str | None = None) -> bytes:
    """The bytes of ``path``; InputError (naming ``display`` or the path) when it is not a regular file, is
    larger than MAX_FILE_BYTES or can't be read.

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor, so a FIFO put in
    its place between a check and the open never blocks."""
    name = display or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError([Diagnostic("no such file", Location(name))]) from None
    except OSError as exc:
        raise InputError([Diagnostic(f"cannot read file: {exc.strerror or exc}", Location(name))]) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError([Diagnostic(f"not a regular file: it is {file_kind(info.st_mode)}", Location(name))])
        if info.st_size > MAX_FILE_BYTES:
            raise InputError([Diagnostic(f"file too large: {info.st_size} bytes, the limit is {MAX_FILE_BYTES}",
                                         Location(name))])
        chunks = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise InputError([Diagnostic(f"file too large: over {MAX_FILE_BYTES} bytes", Location(name))])
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise InputError([Diagnostic(f"cannot read file: {exc.strerror or exc}", Location(name))]) from None
    finally:
        os.close(fd)


def decode_utf8(data: bytes, display: str) -> str:
    """``data`` as text; InputError at the line and column of the first byte that is not UTF-8.

    A leading byte-order mark is dropped (kubectl accepts one)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start
        line_start = data.rfind(b"\n", 0, start) + 1
        line = data.count(b"\n", 0, start) + 1
        col = len(data[line_start:start].decode("utf-8", "replace")) + 1
        raise InputError([Diagnostic(f"not UTF-8: byte 0x{data[start]:02x} at offset {start} ({exc.reason})",
                                     Location(display, line, col))]) from None


def read_text(path: Path, display: str | None = None) -> str:
    """:func:`read_input` then :func:`decode_utf8`."""
    return decode_utf8(read_input(path, display), display or str(path))
