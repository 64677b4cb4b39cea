"""``fedrender render``, ``explain`` and ``preview``: render the inputs against the state of the last render,
then write the tree, explain the placement, or show what one member cluster receives."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from fedrender.cel.engine import EvalError
from fedrender.cli.console import done, emit, fail, interrupted, progress, read_stdin
from fedrender.cli.options import DEMO, PATH, allow_empty_option, examples, inputs, output_option
from fedrender.models.diagnostics import Diagnostic, FedrenderError, InputError, Location
from fedrender.pipeline.empty import SHOWING, refuse_empty
from fedrender.pipeline.preview import preview
from fedrender.pipeline.render import STATE_FILE, Inputs, RenderResult, read_state, render
from fedrender.pipeline.schedule import InstanceResult
from fedrender.pipeline.signals import Interrupted, deferred_signals
from fedrender.pipeline.write import WriteFailed, output_root, write_tree


def _run(specs: tuple[Path, ...], clusters: Path, rules: Path | None, overlays: tuple[Path, ...],
         out: Path | None, state_file: Path | None, shows_only: bool = False) -> RenderResult:
    """Render the inputs from the state in ``out`` (or ``state_file``); print the warnings on stderr.
    ``shows_only`` (explain, preview): specs that define no instance are an error, as nothing would be shown."""
    try:
        previous = read_state(out if out is not None and str(out) != "-" else None, state_file)
        result = render(Inputs(list(specs), clusters, rules, list(overlays), read_stdin(specs, clusters)), previous,
                        progress())
        if shows_only:
            refuse_empty(list(specs), result, False, SHOWING)
    except InputError as exc:
        fail(exc.diagnostics)
    except EvalError as exc:
        fail([Diagnostic(exc.message, exc.location)])
    except FedrenderError as exc:
        fail([Diagnostic(str(exc))])
    for warning in result.warnings:
        click.echo(warning.render(), err=True)
    return result


@click.command("render", epilog=examples(
    f"fedrender render {DEMO} --overlay overlays/dev --out out/dev",
    "kubectl get multicloudmongodbs -A -o yaml | fedrender render --specs - --clusters clusters.yaml --out out",
    "fedrender render --specs shop.yaml --specs teams/ --clusters clusters.yaml --state prod.json --out -"))
@inputs
@click.option("--out", required=True, type=PATH, help="Output directory (written atomically); - prints the "
              "manifests to stdout instead.")
@allow_empty_option
def render_command(specs: tuple[Path, ...], clusters: Path, rules: Path | None, overlays: tuple[Path, ...],
                   state_file: Path | None, out: Path, allow_empty: bool) -> None:
    """Render manifests into --out (placement stays as the state file in --out recorded it)."""
    if str(out) != "-":
        try:
            output_root(out)
        except InputError as exc:
            fail(exc.diagnostics)
    result = _run(specs, clusters, rules, overlays, out, state_file)
    try:
        refuse_empty(list(specs), result, allow_empty)
    except InputError as exc:
        fail(exc.diagnostics)
    if str(out) == "-":
        documents = [content.decode() for path, content in result.files.items() if path != STATE_FILE]
        click.echo("".join("---\n" + doc for doc in documents), nl=False)
        return
    for inst in result.instances:
        for move in inst.moves:
            click.echo(f"{inst.namespace}/{inst.name}: moved member {move.id} {move.source} -> {move.target}: "
                       f"{move.reason}", err=True)
        for change in inst.vote_changes:
            click.echo(f"{inst.namespace}/{inst.name}: votes: member {change.id} {change.before} -> {change.after}: "
                       f"{change.reason}", err=True)
        for held in inst.waiting:  # a step held back until the observed state allows it: never silent
            click.echo(f"{inst.namespace}/{inst.name}: waiting: {held}", err=True)
        for step in inst.allowed:  # a step the observed state allowed (pods of members that left go)
            click.echo(f"{inst.namespace}/{inst.name}: allowed: {step}", err=True)
    try:
        with deferred_signals() as guard:
            report = write_tree(out, result.files, guard=guard)
    except Interrupted as exc:
        interrupted(exc, f"{out} holds the new render" if exc.completed
                    else f"nothing was written: {out} holds the previous render, as it was")
    except InputError as exc:
        fail(exc.diagnostics)
    except WriteFailed as exc:
        fail([Diagnostic(str(exc), Location(str(out)))],
             what="nothing was written" if exc.undone else "and the output could not be fully restored")
    done(f"{out} holds the new render")
    click.echo(f"rendered {len(result.instances)} instance(s) into {out}: {len(report.written)} written, "
               f"{len(report.unchanged)} unchanged, {len(report.removed)} removed", err=True)


@click.command("explain", epilog=examples(
    f"fedrender explain {DEMO} --overlay overlays/dev",
    f"fedrender explain {DEMO} --out out/dev -o json | jq '.instances[].placement'"))
@inputs
@click.option("--out", type=PATH, default=None, help="Output directory whose state render would start from.")
@output_option("text", "json", "yaml")
def explain_command(specs: tuple[Path, ...], clusters: Path, rules: Path | None, overlays: tuple[Path, ...],
                    state_file: Path | None, out: Path | None, output: str) -> None:
    """Show where every member would go and why, and what moves; writes nothing."""
    result = _run(specs, clusters, rules, overlays, out, state_file, shows_only=True)
    if output != "text":
        emit({"instances": [r.explain() for r in result.instances]}, output)
        return
    for index, inst in enumerate(result.instances):
        if index:
            click.echo()
        click.echo(_explain_text(inst))


@click.command("preview", epilog=examples(
    f"fedrender preview {DEMO} --cluster member-eu-1",
    f"fedrender preview {DEMO} --cluster member-us-1 --out out/dev --diff"))
@inputs
@click.option("--cluster", required=True, help="Member cluster name.")
@click.option("--out", type=PATH, default=None, help="Output directory whose state render would start from.")
@click.option("--diff", "show_diff", is_flag=True, help="Show a unified diff against the templates instead.")
@output_option("text", "json", "yaml")
def preview_command(specs: tuple[Path, ...], clusters: Path, rules: Path | None, overlays: tuple[Path, ...],
                    state_file: Path | None, cluster: str, out: Path | None, show_diff: bool, output: str) -> None:
    """Show exactly what one member cluster receives (Karmada's division and overrides applied); writes nothing.

    -o json|yaml prints the objects as one List, as kubectl get -o does."""
    if show_diff and output != "text":
        raise click.UsageError("--diff prints a unified diff; leave out -o, or --diff for the objects")
    result = _run(specs, clusters, rules, overlays, out, state_file, shows_only=True)
    known = sorted({name for inst in result.instances for name in inst.rows})
    if cluster not in known:
        fail([Diagnostic(f"cluster {cluster!r} is not in the snapshot (clusters: {', '.join(known)})",
                         Location(str(clusters)))])
    view = preview(result.files, cluster)
    if output != "text":
        emit({"apiVersion": "v1", "kind": "List", "items": [received for _, received in view.objects]}, output)
        return
    click.echo(view.diff() if show_diff else view.yaml(), nl=False)


_ESTIMATES = {"resourceModels": "models", "resourceSummary": "summary"}
"""The ESTIMATE column: which of Karmada's estimates gave FITS."""


def _explain_text(inst: InstanceResult) -> str:
    """A table per instance (cluster, eligible, fits, the estimate that gave them, score, members before -> after,
    reason), members, moves, vote changes, settings, the observed state, the release and featureCompatibilityVersion
    rendered, what the observed state allowed and what waits for it, warnings."""
    leaving = Counter(m.cluster for m in inst.members if m.id in inst.leaving and not m.arbiterOnly)
    staying = sum(inst.placement.values()) - sum(leaving.values())
    lines = [f"{inst.namespace}/{inst.name} ({inst.pack}): {staying} members"
             + (f" (and {sum(leaving.values())} leaving)" if leaving else "") + f", init cluster {inst.init_cluster}"]
    table = [("CLUSTER", "ELIGIBLE", "FITS", "ESTIMATE", "SCORE", "MEMBERS", "REASON")]
    for cluster, row in sorted(inst.rows.items()):
        after = row.after - leaving[cluster]
        members = (str(after) if row.before == after else f"{row.before} -> {after}") + (
            f" ({leaving[cluster]} leaving)" if leaving[cluster] else "")
        table.append((cluster, row.eligible, str(row.fits), _ESTIMATES.get(row.estimate, "-"),
                      str(row.score) if row.eligible == "yes" else "-", members, row.reason))
    widths = [max(len(r[i]) for r in table) for i in range(6)]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:6], widths, strict=True)) + "  " + r[6]
              for r in table]
    lines.append("  members:")
    lines += [f"    _id {m.id}  {m.cluster}/{inst.name}-{'arbiter-0' if m.arbiterOnly else m.ordinal}  {m.host}  "
              f"votes={m.votes} priority={m.priority}{'  (arbiter)' if m.arbiterOnly else ''}"
              f"{'  (leaving)' if m.id in inst.leaving else ''}" for m in inst.members]
    lines += [f"  move: member {m.id} {m.source} -> {m.target}: {m.reason}" for m in inst.moves]
    lines += [f"  votes: member {c.id} {c.before} -> {c.after}: {c.reason}" for c in inst.vote_changes]
    if inst.settings:
        lines.append("  settings: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(inst.settings.items())))
    if inst.observed_text:
        lines.append(f"  observed: {inst.observed_text}" + ("; the roster says initialized" if inst.initialized
                                                             else ""))
    if inst.version or inst.feature_compatibility_version:
        lines.append(f"  version: {inst.version or 'unknown'}, featureCompatibilityVersion "
                     f"{inst.feature_compatibility_version or 'not asked for'}")
    lines += [f"  allowed: {a}" for a in inst.allowed]
    lines += [f"  waiting: {w}" for w in inst.waiting]
    lines += [f"  storage: {s}" for s in inst.storage]
    lines += [f"  rollout: {inst.rollout}"] if inst.rollout else []
    lines += [f"  warning: {w}" for w in inst.warnings]
    return "\n".join(line.rstrip() for line in lines)
