"""The standard streams of the ``fedrender`` commands: standard input read once, machine-readable output on
stdout, diagnostics, warnings and progress on stderr, and exit code 1 for wrong or infeasible inputs."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml

from fedrender.models.diagnostics import Diagnostic, Location
from fedrender.models.inputfile import MAX_FILE_BYTES
from fedrender.pipeline.load import STDIN, STDIN_NAME
from fedrender.pipeline.signals import Interrupted


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


def interrupted(exc: Interrupted, outcome: str) -> NoReturn:
    """Say which signal ended the command and what it left (``outcome``), then exit 128 + its number."""
    click.echo(f"fedrender: {exc} {'after' if exc.completed else 'before'} the write completed; {outcome}", err=True)
    sys.exit(exc.exit_code)
