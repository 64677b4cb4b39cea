"""The ``fedrender`` command. Exit codes: 0 success, 1 wrong or infeasible inputs, 2 usage error.

The group is here; each command lives in the module of its responsibility (:mod:`.render`, :mod:`.publish`,
:mod:`.karmada`, :mod:`.rules`) on the shared parameters of :mod:`.options` and the streams of :mod:`.console`.
Those modules know nothing of the group: it takes their commands as a list, so no import goes back up to here."""

from __future__ import annotations

from typing import Any

import click

from fedrender import __version__
from fedrender.cli.console import closed_pipes_discarded, stopped
from fedrender.cli.karmada import snapshot_command, status_command
from fedrender.cli.options import NonEmptyPath, examples
from fedrender.cli.publish import diff_command, publish_command
from fedrender.cli.render import explain_command, preview_command, render_command
from fedrender.cli.rules import rules_group, schema_command
from fedrender.pipeline.signals import Stopped, stopping_signals

__all__ = ["NonEmptyPath", "main"]


class _Command(click.Group):
    """The ``fedrender`` group: a reader that went away (``fedrender ... | head -1``) is not an error, and does
    not hide one either.

    Click turns EPIPE into exit 1 and stops the command where it was. Here what is left to print on a closed
    stdout or stderr is discarded (:func:`~fedrender.cli.console.closed_pipes_discarded`) and the command runs
    to its end: its exit code (0, 1 for wrong inputs, 2 for usage, 3 for ``diff --exit-code``) and its writes
    are what they would have been with the reader still there; ``--help`` and ``--version`` exit 0.

    SIGINT (Ctrl-C), SIGTERM and SIGHUP end every command the same way, before or during its write: one line
    "fedrender: interrupted by SIGINT before the write completed; nothing was written" (or what the finished
    change left) and exit 128 + the signal number (130 for Ctrl-C), never click's "Aborted!" and 1."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        with closed_pipes_discarded(), stopping_signals():
            try:
                return super().main(*args, **kwargs)
            except Stopped as exc:  # while the arguments were parsed, before any command ran
                stopped(exc, None)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Stopped as exc:
            stopped(exc, ctx)


@click.group(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]}, epilog=examples(
    "fedrender render --specs examples/specs --clusters examples/clusters/clusters.yaml --out out/demo",
    "fedrender explain --specs examples/specs --clusters examples/clusters/clusters.yaml -o json",
    "fedrender rules check"), commands=[
    render_command, explain_command, preview_command, publish_command, diff_command, snapshot_command, status_command,
    schema_command, rules_group])
@click.version_option(__version__, prog_name="fedrender")
def main() -> None:
    """Render middleware specs (FedState's MultiCloudMongoDB, or any rule pack's kind) and Karmada Cluster
    snapshots into deterministic Karmada manifests for GitOps."""

