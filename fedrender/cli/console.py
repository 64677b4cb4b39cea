"""The standard streams of the ``fedrender`` commands: standard input read once, machine-readable output on
stdout, diagnostics, warnings and progress on stderr, and exit code 1 for wrong or infeasible inputs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml

from fedrender.models.diagnostics import Diagnostic, Location
from fedrender.models.inputfile import MAX_FILE_BYTES
from fedrender.pipeline.load import STDIN, STDIN_NAME
from fedrender.pipeline.signals import Interrupted, Stopped


def progress() -> Callable[[int, int], None] | None:
    """A progress line on an interactive terminal; nothing in CI or when stderr is redirected.

    Returns a callback ``show(done, total)`` (counts of instances scheduled; it prints only when ``total`` is 20
    or more) or None when no progress is to be shown."""
    if os.environ.get("CI") or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total >= 20:
            end = "\n" if done == total else ""
            click.echo(f"\rscheduling {done}/{total} instances", err=True, nl=False)
            click.echo(end, err=True, nl=False)

    return show


def read_stdin(specs: tuple[Path, ...], clusters: Path) -> bytes:
    """Standard input, read once, when ``--specs -`` or ``--clusters -`` asks for it (else b"").

    Raises :class:`click.UsageError` (exit 2) when both ask for it; exits 1 through :func:`fail` when it holds
    more than ``MAX_FILE_BYTES``."""
    uses = list(specs).count(STDIN) + (clusters == STDIN)
    if uses > 1:
        raise click.UsageError("standard input can be read only once: use - for one --specs or for --clusters")
    if not uses:
        return b""
    data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        fail([Diagnostic(f"standard input too large: over {MAX_FILE_BYTES} bytes", Location(STDIN_NAME))])
    return data


def emit(data: Any, output: str) -> None:
    """``data`` on stdout as indented JSON (``output`` "json") or as block YAML (else), keys in the order given."""
    if output == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)


def fail(diagnostics: list[Diagnostic], what: str = "nothing was written") -> NoReturn:
    """Print every diagnostic and a count of the errors on stderr, then exit 1.

    ``what`` ends the count line: after a semicolon when it starts with "nothing" ("fedrender: 2 errors;
    nothing was written"), else after a space ("fedrender: 1 error found in the rule packs")."""
    for diagnostic in diagnostics:
        click.echo(diagnostic.render(), err=True)
    count = sum(d.severity == "error" for d in diagnostics)
    click.echo(f"fedrender: {count} error{'s' if count != 1 else ''}; {what}" if what.startswith("nothing")
               else f"fedrender: {count} error{'s' if count != 1 else ''} {what}", err=True)
    sys.exit(1)


class _ClosedPipeSafe(io.TextIOBase):
    """A text stream that writes through to ``stream`` until its reader goes away (EPIPE), then discards.

    ``fedrender ... | head -1`` must not turn into an error, and must not hide one either: when the pipe closes,
    the file descriptor is pointed at /dev/null (so the interpreter's flush at exit succeeds too) and the
    command runs on to its own end and exit code (1 for wrong inputs, 3 for ``diff --exit-code``), its writes
    to ``--out`` included. A stream closed before the command started (``fedrender ... >&-``: ``stream`` is None)
    is discarded from the start. Any other failed write (``>/dev/full``: ENOSPC, EIO) of standard output
    (``fatal``) says so in one line on stderr and exits 1 (:func:`_write_failed`); of stderr, nobody can read it
    either, so it is discarded. ``encoding`` and ``errors`` are the stream's, so click writes to it unchanged."""

    def __init__(self, stream: Any, fd: int, fatal: bool) -> None:
        super().__init__()
        self._stream = stream
        self._fd = fd
        self._fatal = fatal
        self._gone = stream is None

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._stream, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._stream, "errors", None)

    def isatty(self) -> bool:
        if self._gone:
            return False
        try:
            return bool(self._stream.isatty())
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self._fd

    def writable(self) -> bool:
        return True

    @property
    def buffer(self) -> _ClosedPipeSafeBytes:
        """The byte stream under it (click writes bytes, e.g. shell completion scripts, there), just as safe."""
        return _ClosedPipeSafeBytes(self)

    def write_bytes(self, data: bytes) -> int:
        """Write ``data`` to the underlying byte stream, discarding from the first EPIPE on."""
        if not self._gone:
            try:
                self._stream.flush()
                self._stream.buffer.write(data)
                self._stream.buffer.flush()
            except OSError as exc:
                self._failed(exc)
        return len(data)

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not self._gone:
            try:
                self._stream.write(text)
            except OSError as exc:
                self._failed(exc)
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except OSError as exc:
                self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        """Discard from now on; unless the reader went away (EPIPE), a failed stdout ends the command."""
        self._gone = True
        _to_devnull(self._fd)
        if self._fatal and not isinstance(exc, BrokenPipeError):
            _write_failed(exc)


def _to_devnull(fd: int) -> None:
    """Point ``fd`` at /dev/null: the interpreter's flush at exit, and a child process, write there safely."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_RDWR)
        if devnull != fd:
            os.dup2(devnull, fd)
            os.close(devnull)


def _write_failed(exc: OSError) -> NoReturn:
    """Standard output can't be written (``>/dev/full``): say so in one line and exit 1."""
    reason = exc.strerror or str(exc)
    with contextlib.suppress(Exception):
        sys.stderr.write(f"fedrender: cannot write to standard output: {reason}\n")
        sys.stderr.flush()
    sys.exit(1)


class _ClosedPipeSafeBytes(io.RawIOBase):
    """The ``buffer`` of a :class:`_ClosedPipeSafe`: bytes written through it, with the same EPIPE handling."""

    def __init__(self, text: _ClosedPipeSafe) -> None:
        super().__init__()
        self._text = text

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if isinstance(data, str):
            raise TypeError("write() argument must be bytes-like, not str")
        return self._text.write_bytes(bytes(data))

    def flush(self) -> None:
        self._text.flush()


def _closed_fds_to_devnull() -> None:
    """Point standard input, output and error at /dev/null when they were closed at exec (``cmd >&-``).

    Otherwise the next file fedrender opens would get the number 1 or 2, and a child process (git) writing to
    its stdout or stderr would write into it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            _to_devnull(fd)


@contextlib.contextmanager
def closed_pipes_discarded() -> Iterator[None]:
    """Run the block with ``sys.stdout`` and ``sys.stderr`` wrapped in :class:`_ClosedPipeSafe`; restored after.

    A standard stream closed at exec (Python then sets it to None) is discarded, its descriptor pointed at
    /dev/null; a closed standard input reads as empty."""
    _closed_fds_to_devnull()
    saved = sys.stdin, sys.stdout, sys.stderr
    if sys.stdin is None:
        sys.stdin = open(0, closefd=False, encoding="utf-8")  # noqa: SIM115 - fd 0 stays open, restored below
    sys.stdout, sys.stderr = _ClosedPipeSafe(saved[1], 1, True), _ClosedPipeSafe(saved[2], 2, False)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        if sys.stdin is not saved[0]:
            with contextlib.suppress(Exception):
                sys.stdin.close()
        sys.stdin, sys.stdout, sys.stderr = saved


def interrupted(exc: Interrupted, outcome: str) -> NoReturn:
    """Say which signal ended the command and what it left (``outcome``), then exit 128 + its number."""
    click.echo(f"fedrender: {exc} {'after' if exc.completed else 'before'} the write completed; {outcome}", err=True)
    sys.exit(exc.exit_code)


_DONE = "fedrender.done"
"""The key in ``click.Context.meta`` (shared by a command and its group) of what a finished change left."""


def done(outcome: str) -> None:
    """Record that the command's change is complete: a signal from now on is reported with ``outcome``."""
    click.get_current_context().meta[_DONE] = outcome


def stopped(exc: Stopped, ctx: click.Context | None) -> NoReturn:
    """A signal outside a deferred change ended the command: say so as :func:`interrupted` does, exit 128 + n."""
    outcome = ctx.meta.get(_DONE) if ctx is not None else None
    interrupted(Interrupted(exc.signo, completed=outcome is not None), outcome or "nothing was written")
