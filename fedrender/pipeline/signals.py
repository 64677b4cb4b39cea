"""Termination signals deferred while fedrender changes files, so a change finishes or is undone, never cut.

While :func:`deferred_signals` is active, SIGTERM, SIGINT and SIGHUP are recorded instead of ending the
process. The code that changes files calls :meth:`Guard.check` between steps that can still be undone
(it raises :class:`Interrupted`, and the caller undoes what it did) and :meth:`Guard.after` once the change
is complete. The caller then exits with ``128 + signal number``, the code a shell reports for a process a
signal ended (POSIX ``sh``, "Exit Status for Commands"). Outside such a change, :func:`stopping_signals`
makes the same signals raise :class:`Stopped` where the command is (nothing written yet, or its change done),
so that the command says so and exits with the same code (Ctrl-C before the write: 130, not click's
"Aborted!" and 1). Handlers are installed with :func:`signal.signal`,
only in the main thread (Python runs handlers nowhere else), and the previous ones restored after; a signal
the process ignores (``nohup``) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from fedrender.models.diagnostics import FedrenderError

DEFERRED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""The signals that ask a process to end (kill, Ctrl-C, a closed terminal); SIGKILL can't be deferred."""


class Interrupted(FedrenderError):
    """A deferred signal arrived: ``completed`` says whether the change had finished (the new files are in
    place) or was undone (every byte as before). ``exit_code`` is 128 + the signal number."""

    def __init__(self, signo: int, completed: bool) -> None:
        self.signo = signo
        self.completed = completed
        self.name = signal.Signals(signo).name
        super().__init__(f"interrupted by {self.name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signo


class Stopped(BaseException):
    """A termination signal outside a deferred change (:func:`stopping_signals`). A BaseException, as
    KeyboardInterrupt is, so that no ``except Exception`` on the way takes it for an input error."""

    def __init__(self, signo: int) -> None:
        self.signo = signo
        super().__init__(signal.Signals(signo).name)


@dataclass
class Guard:
    """The signals received while deferred (signal numbers, in order of arrival)."""

    received: list[int] = field(default_factory=list)

    def check(self) -> None:
        """Raise :class:`Interrupted` (not completed) when a signal arrived: stop and undo."""
        if self.received:
            raise Interrupted(self.received[0], completed=False)

    def after(self) -> None:
        """Raise :class:`Interrupted` (completed) when a signal arrived while the change was finished."""
        if self.received:
            raise Interrupted(self.received[0], completed=True)


@contextmanager
def deferred_signals() -> Iterator[Guard]:
    """Record SIGTERM, SIGINT and SIGHUP in the yielded :class:`Guard` until the block ends, then restore
    the previous handlers. Outside the main thread nothing is installed (the guard then never fires)."""
    guard = Guard()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return

    def record(signo: int, frame: FrameType | None) -> None:
        guard.received.append(signo)

    previous = []
    try:
        for signo in DEFERRED:
            if signal.getsignal(signo) is not signal.SIG_IGN:
                previous.append((signo, signal.signal(signo, record)))
        yield guard
    finally:
        for signo, handler in reversed(previous):  # None: installed outside Python, so the default
            signal.signal(signo, signal.SIG_DFL if handler is None else handler)


@contextmanager
def stopping_signals() -> Iterator[None]:
    """Until the block ends, SIGTERM, SIGINT and SIGHUP raise :class:`Stopped` in the main thread (a signal the
    process ignores stays ignored); the previous handlers are restored after. :func:`deferred_signals` inside
    the block records them instead while files change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signo: int, frame: FrameType | None) -> None:
        raise Stopped(signo)

    previous = []
    try:
        for signo in DEFERRED:
            if signal.getsignal(signo) is not signal.SIG_IGN:
                previous.append((signo, signal.signal(signo, stop)))
        yield
    finally:
        for signo, handler in reversed(previous):
            signal.signal(signo, signal.SIG_DFL if handler is None else handler)
