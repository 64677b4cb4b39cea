"""The parameters the ``fedrender`` commands share: non-empty paths, the render inputs, ``-o/--output``,
``--allow-empty`` and the examples that end every ``--help``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class NonEmptyPath(click.Path):
    """A path argument that may not be empty: ``--out ''`` (an unset variable in a CI script) must not quietly
    mean the current directory. Every path option and argument of every command uses it."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (str, bytes)) and not value:
            self.fail("an empty path is not allowed (it is not the current directory; write . for that)", param, ctx)
        return super().convert(value, param, ctx)


PATH = NonEmptyPath(path_type=Path)
"""The parameter type of every path option and argument: a non-empty path, converted to :class:`Path`."""


_SPECS_HELP = ("Spec file or directory, - for standard input (repeatable): objects of any rule pack's input "
               "kind (fedrender rules check lists them), e.g. FedState's MultiCloudMongoDB, as YAML or JSON, one "
               "object or a List.")


def _input_options(func: F, state: bool) -> F:
    options = [
        click.option("--specs", "specs", multiple=True, required=True, type=PATH, help=_SPECS_HELP),
        click.option("--clusters", required=True, type=PATH,
                     help="Karmada snapshot: the Clusters, and the MongoReplicaSets whose status tells render what "
                          "happened since the last render (kubectl get clusters.cluster.karmada.io,"
                          "mongoreplicasets.fedrender.io -A -o yaml, or fedrender snapshot); - for standard input."),
        click.option("--rules", type=PATH, default=None, help="Rule pack directory (default: the shipped packs)."),
        click.option("--overlay", "overlays", multiple=True, type=PATH, help="Overlay directory (repeatable)."),
    ]
    if state:
        options.append(click.option("--state", "state_file", type=PATH, default=None,
                                    help="Previous state file to start from (default: .fedrender/state.json in "
                                         "the --out directory, when there is one)."))
    for option in reversed(options):
        func = option(func)
    return func


def inputs(func: F) -> F:
    """The inputs of a command that starts from a state file: --state, or the one in --out.

    Adds the parameters ``specs: tuple[Path, ...]``, ``clusters: Path``, ``rules: Path | None``,
    ``overlays: tuple[Path, ...]`` and ``state_file: Path | None`` to the decorated command."""
    return _input_options(func, state=True)


def inputs_from_repo(func: F) -> F:
    """The inputs of a command that reads the state from the repository (publish, diff): no --state.

    Adds the parameters ``specs``, ``clusters``, ``rules`` and ``overlays`` of :func:`inputs`."""
    return _input_options(func, state=False)


def examples(*lines: str) -> str:
    """A --help epilog of real command lines (kept as written: click rewraps paragraphs without \\b)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


DEMO = "--specs examples/specs --clusters examples/clusters/clusters.yaml"
"""The inputs of ``make demo``, for the examples of --help."""


def output_option(*formats: str) -> Callable[[F], F]:
    """``-o/--output``: the format of what goes to stdout (warnings and errors always go to stderr).

    ``formats`` are the choices, the first the default; the command gets the choice as ``output: str``."""
    return click.option("-o", "--output", type=click.Choice(list(formats)), default=formats[0], show_default=True,
                        help="Output format: " + ", ".join(formats)
                        + (" (json and yaml for pipelines)." if "text" in formats else "."))


allow_empty_option = click.option("--allow-empty", is_flag=True, help="Let specs that define no instance remove "
                                  "every file of the last render (without it that is an error).")
"""``--allow-empty`` (``allow_empty: bool``) of render, publish and diff."""
