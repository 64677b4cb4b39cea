"""``fedrender snapshot`` and ``status``: read the Karmada API server (through :mod:`fedrender.adapters.karmada`,
the one module that talks to it): the Cluster objects render reads, and the MongoReplicaSet topology."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fedrender.adapters import karmada
from fedrender.cli.console import done, emit, fail, interrupted
from fedrender.cli.options import PATH, F, examples, output_option
from fedrender.emitter import dump_all
from fedrender.models.diagnostics import Diagnostic, FedrenderError, InputError, Location
from fedrender.pipeline.outfile import refusal, write_file
from fedrender.pipeline.signals import Interrupted, deferred_signals


def _karmada_options(func: F) -> F:
    func = click.option("--kubeconfig", type=PATH, default=None, help="Kubeconfig file (default: the usual).")(func)
    return click.option("--context", default=None, help="Kubeconfig context of the Karmada API server.")(func)


@click.command("snapshot", epilog=examples(
    "fedrender snapshot --context karmada-apiserver --output-file clusters.yaml",
    "fedrender snapshot --context karmada-apiserver -o json | fedrender explain --specs examples/specs --clusters -"))
@_karmada_options
@click.option("--output-file", type=PATH, default=Path("-"), show_default=True,
              help="File to write (replaced atomically; never a file inside a render's output directory); - "
                   "for standard output.")
@output_option("yaml", "json")
def snapshot_command(context: str | None, kubeconfig: Path | None, output_file: Path, output: str) -> None:
    """Capture the Karmada Clusters and the MongoReplicaSets (with the status Karmada aggregated from the member
    clusters) as one List, in the format `render --clusters` reads.

    render reads from each MongoReplicaSet whether the replica set was initiated and, once every cluster has
    acted on the last render, its configuration; without them it assumes nothing happened since the last
    render. Where the CRD is not installed yet, the Clusters alone, with a warning."""
    refused = refusal(output_file) if str(output_file) != "-" else ""
    if refused:
        fail([Diagnostic(refused, Location(str(output_file)))], what="nothing was captured")
    try:
        captured = karmada.snapshot(karmada.connect(context, kubeconfig), _warn)
    except FedrenderError as exc:
        fail([Diagnostic(str(exc))], what="nothing was captured")
    text = json.dumps(captured, indent=2) + "\n" if output == "json" else dump_all([captured])
    if str(output_file) == "-":
        click.echo(text, nl=False)
        return
    try:
        with deferred_signals() as guard:
            write_file(output_file, text.encode("utf-8"), guard)
    except Interrupted as exc:
        interrupted(exc, f"{output_file} holds the new snapshot" if exc.completed
                    else f"nothing was written: {output_file} is as it was")
    except InputError as exc:
        fail(exc.diagnostics)
    done(f"{output_file} holds the new snapshot")
    click.echo(f"wrote {output_file}", err=True)


def _warn(message: str) -> None:
    click.echo(Diagnostic(message, severity="warning").render(), err=True)


@click.command("status", epilog=examples(
    "fedrender status --context karmada-apiserver",
    "fedrender status --context karmada-apiserver -n shop -o json"))
@_karmada_options
@click.option("-n", "--namespace", default=None, help="Only this namespace.")
@output_option("text", "json", "yaml")
def status_command(context: str | None, kubeconfig: Path | None, namespace: str | None, output: str) -> None:
    """The topology of every MongoReplicaSet, from the status Karmada aggregates from the member clusters."""
    try:
        sets = [karmada.topology(o) for o in karmada.replica_sets(karmada.connect(context, kubeconfig), namespace)]
    except FedrenderError as exc:
        fail([Diagnostic(str(exc))], what="nothing was read")
    if output != "text":
        emit({"replicaSets": sets}, output)
        return
    for rs in sets:
        click.echo(f"{rs['namespace']}/{rs['name']}: {rs['phase']}, primary {rs['primary'] or '-'}")
        for cluster in rs["result"]:
            click.echo(f"  {cluster['cluster']}: {cluster['phase']}, {cluster['healthyMembers']}/{cluster['members']} "
                       "healthy")
            for host, role in sorted(cluster["connectAddrWithRole"].items()):
                click.echo(f"    {host}  {role}")
        click.echo(f"  externalAddr: {rs['externalAddr']}")
