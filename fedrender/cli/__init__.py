"""The ``fedrender`` command. Exit codes: 0 success, 1 wrong or infeasible inputs, 2 usage error.

The group is here; each command lives in the module of its responsibility (:mod:`.render`, :mod:`.publish`,
:mod:`.karmada`, :mod:`.rules`) on the shared parameters of :mod:`.options` and the streams of :mod:`.console`.
Those modules know nothing of the group: it takes their commands as a list, so no import goes back up to here."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from fedrender import __version__
from fedrender.cli.karmada import snapshot_command, status_command
from fedrender.cli.options import NonEmptyPath
from fedrender.cli.publish import diff_command, publish_command
from fedrender.cli.render import explain_command, preview_command, render_command
from fedrender.cli.rules import rules_group, schema_command

__all__ = ["NonEmptyPath", "main"]


class _Command(click.Group):
    """The ``fedrender`` group: a reader that went away (``fedrender ... | head -1``) is not an error.

    Click turns EPIPE into exit 1; a closed pipe ends the command quietly with 0 instead, as ``cat`` does
    with SIGPIPE ignored: what is left to print goes to /dev/null (also the flush at exit)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            ctx.exit(0)


@click.group(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]}, commands=[
    render_command, explain_command, preview_command, publish_command, diff_command, snapshot_command, status_command,
    schema_command, rules_group])
@click.version_option(__version__, prog_name="fedrender")
def main() -> None:
    """Render MultiCloudMongoDB specs into deterministic Karmada manifests for GitOps."""

