"""The ``fedrender`` command. Exit codes: 0 success, 1 wrong or infeasible inputs, 2 usage error."""

from __future__ import annotations

import difflib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import yaml

from fedrender import __version__
from fedrender.adapters import karmada
from fedrender.cel.engine import EvalError
from fedrender.emitter import dump_all
from fedrender.models.diagnostics import Diagnostic, FedrenderError, InputError, Location
from fedrender.models.inputfile import MAX_FILE_BYTES
from fedrender.pipeline.empty import refuse_empty
from fedrender.pipeline.gitrepo import Git, branch_error
from fedrender.pipeline.load import STDIN, STDIN_NAME, load_packs
from fedrender.pipeline.preview import preview
from fedrender.pipeline.publish import PublishPathError, publish, publish_root, repo_subdir
from fedrender.pipeline.render import STATE_FILE, Inputs, RenderResult, parse_state, read_state, render
from fedrender.pipeline.ruletests import load_tests, run_tests
from fedrender.pipeline.schedule import InstanceResult
from fedrender.pipeline.schemas import pack_schema
from fedrender.pipeline.summary import summarize
from fedrender.pipeline.write import WriteFailed, output_root, write_tree

F = TypeVar("F", bound=Callable[..., Any])

class NonEmptyPath(click.Path):
    """A path argument that may not be empty: ``--out ''`` (an unset variable in a CI script) must not quietly
    mean the current directory. Every path option and argument of every command uses it."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (str, bytes)) and not value:
            self.fail("an empty path is not allowed (it is not the current directory; write . for that)", param, ctx)
        return super().convert(value, param, ctx)


def _repo_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--path``: a directory inside the repository, relative to it: never empty, absolute or leaving it
    through ``..`` (after normalisation); normalised, with ``.`` (the repository's top) as ''."""
    if value is None:
        return None
    try:
        return repo_subdir(value)
    except PublishPathError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _branch(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--branch``: a plain branch name git accepts (never an option, ``@`` or ``refs/...``)."""
    why = branch_error(value) if value is not None else ""
    if why:
        raise click.BadParameter(why, ctx, param)
    return value


def _remote(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--push``: a remote name or URL; one starting with '-' would reach git as an option."""
    if value is not None and (not value or value.startswith("-")):
        raise click.BadParameter(f"{value!r} is not a remote: it is empty or starts with '-' (git would read it "
                                 "as an option)", ctx, param)
    return value


_path = NonEmptyPath(path_type=Path)


_SPECS_HELP = ("Spec file or directory, - for standard input (repeatable): objects of any rule pack's input "
               "kind (fedrender rules check lists them), e.g. FedState's MultiCloudMongoDB, as YAML or JSON, one "
               "object or a List.")


def _input_options(func: F, state: bool) -> F:
    options = [
        click.option("--specs", "specs", multiple=True, required=True, type=_path, help=_SPECS_HELP),
        click.option("--clusters", required=True, type=_path,
                     help="Karmada Cluster snapshot (kubectl get clusters.cluster.karmada.io -o yaml, or "
                          "fedrender snapshot); - for standard input."),
        click.option("--rules", type=_path, default=None, help="Rule pack directory (default: the shipped packs)."),
        click.option("--overlay", "overlays", multiple=True, type=_path, help="Overlay directory (repeatable)."),
    ]
    if state:
        options.append(click.option("--state", "state_file", type=_path, default=None,
                                    help="Previous state file to start from (default: .fedrender/state.json in "
                                         "--out when --out is given)."))
    for option in reversed(options):
        func = option(func)
    return func


def _inputs(func: F) -> F:
    """The inputs of a command that starts from a state file: --state, or the one in --out."""
    return _input_options(func, state=True)


def _inputs_from_repo(func: F) -> F:
    """The inputs of a command that reads the state from the repository (publish, diff): no --state."""
    return _input_options(func, state=False)


def _examples(*lines: str) -> str:
    """A --help epilog of real command lines (kept as written: click rewraps paragraphs without \\b)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


_DEMO = "--specs examples/specs --clusters examples/clusters/clusters.yaml"


def _progress() -> Callable[[int, int], None] | None:
    """A progress line on an interactive terminal; nothing in CI or when stderr is redirected."""
    if os.environ.get("CI") or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total >= 20:
            end = "\n" if done == total else ""
            click.echo(f"\rscheduling {done}/{total} instances", err=True, nl=False)
            click.echo(end, err=True, nl=False)

    return show


def _run(specs: tuple[Path, ...], clusters: Path, rules: Path | None, overlays: tuple[Path, ...],
         out: Path | None, state_file: Path | None) -> RenderResult:
    try:
        previous = read_state(out if out is not None and str(out) != "-" else None, state_file)
        result = render(Inputs(list(specs), clusters, rules, list(overlays), _stdin(specs, clusters)), previous,
                        _progress())
    except InputError as exc:
        _fail(exc.diagnostics)
    except EvalError as exc:
        _fail([Diagnostic(exc.message, exc.location)])
    except FedrenderError as exc:
        _fail([Diagnostic(str(exc))])
    for warning in result.warnings:
        click.echo(warning.render(), err=True)
    return result


def _stdin(specs: tuple[Path, ...], clusters: Path) -> bytes:
    """Standard input, read once, when ``--specs -`` or ``--clusters -`` asks for it (else b"")."""
    uses = list(specs).count(STDIN) + (clusters == STDIN)
    if uses > 1:
        raise click.UsageError("standard input can be read only once: use - for one --specs or for --clusters")
    if not uses:
        return b""
    data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        _fail([Diagnostic(f"standard input too large: over {MAX_FILE_BYTES} bytes", Location(STDIN_NAME))])
    return data


def _output(*formats: str) -> Callable[[F], F]:
    """``-o/--output``: the format of what goes to stdout (warnings and errors always go to stderr)."""
    return click.option("-o", "--output", type=click.Choice(list(formats)), default=formats[0], show_default=True,
                        help="Output format: " + ", ".join(formats) + " (json and yaml for pipelines).")


def _emit(data: Any, output: str) -> None:
    """``data`` on stdout as indented JSON or as block YAML, keys in the order given."""
    if output == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)


def _fail(diagnostics: list[Diagnostic], what: str = "nothing was written") -> NoReturn:
    for diagnostic in diagnostics:
        click.echo(diagnostic.render(), err=True)
    count = sum(d.severity == "error" for d in diagnostics)
    click.echo(f"fedrender: {count} error{'s' if count != 1 else ''}; {what}" if what.startswith("nothing")
               else f"fedrender: {count} error{'s' if count != 1 else ''} {what}", err=True)
    sys.exit(1)


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


@click.group(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fedrender")
def main() -> None:
    """Render MultiCloudMongoDB specs into deterministic Karmada manifests for GitOps."""


_allow_empty = click.option("--allow-empty", is_flag=True, help="Let specs that define no instance remove every "
                            "file of the last render (without it that is an error).")


@main.command("render", epilog=_examples(
    f"fedrender render {_DEMO} --overlay overlays/dev --out out/dev",
    "kubectl get multicloudmongodbs -A -o yaml | fedrender render --specs - --clusters clusters.yaml --out out",
    "fedrender render --specs shop.yaml --specs teams/ --clusters clusters.yaml --state prod.json --out -"))
@_inputs
@click.option("--out", required=True, type=_path, help="Output directory (written atomically); - prints the "
              "manifests to stdout instead.")
@_allow_empty
def render_command(specs: tuple[Path, ...], clusters: Path, rules: Path | None, overlays: tuple[Path, ...],
                   state_file: Path | None, out: Path, allow_empty: bool) -> None:
    """Render manifests into --out (placement stays as the state file in --out recorded it)."""
    if str(out) != "-":
        try:
            output_root(out)
        except InputError as exc:
            _fail(exc.diagnostics)
    result = _run(specs, clusters, rules, overlays, out, state_file)
    try:
        refuse_empty(list(specs), result, allow_empty)
    except InputError as exc:
        _fail(exc.diagnostics)
    if str(out) == "-":
        documents = [content.decode() for path, content in result.files.items() if path != STATE_FILE]
        click.echo("".join("---\n" + doc for doc in documents), nl=False)
        return
    for inst in result.instances:
        for move in inst.moves:
            click.echo(f"{inst.namespace}/{inst.name}: moved member {move.id} {move.source} -> {move.target}: "
                       f"{move.reason}", err=True)
    try:
        report = write_tree(out, result.files)
    except InputError as exc:
        _fail(exc.diagnostics)
    except WriteFailed as exc:
        _fail([Diagnostic(str(exc), Location(str(out)))],
              what="nothing was written" if exc.undone else "and the output could not be fully restored")
    click.echo(f"rendered {len(result.instances)} instance(s) into {out}: {len(report.written)} written, "
               f"{len(report.unchanged)} unchanged, {len(report.removed)} removed", err=True)


@main.command("explain", epilog=_examples(
    f"fedrender explain {_DEMO} --overlay overlays/dev",
    f"fedrender explain {_DEMO} --out out/dev -o json | jq '.instances[].placement'"))
@_inputs
@click.option("--out", type=_path, default=None, help="Output directory whose state render would start from.")
@_output("text", "json", "yaml")
def explain_command(specs: tuple[Path, ...], clusters: Path, rules: Path | None, overlays: tuple[Path, ...],
                    state_file: Path | None, out: Path | None, output: str) -> None:
    """Show where every member would go and why, and what moves; writes nothing."""
    result = _run(specs, clusters, rules, overlays, out, state_file)
    if output != "text":
        _emit({"instances": [r.explain() for r in result.instances]}, output)
        return
    for index, inst in enumerate(result.instances):
        if index:
            click.echo()
        click.echo(_explain_text(inst))


@main.command("preview", epilog=_examples(
    f"fedrender preview {_DEMO} --cluster member-eu-1",
    f"fedrender preview {_DEMO} --cluster member-us-1 --out out/dev --diff"))
@_inputs
@click.option("--cluster", required=True, help="Member cluster name.")
@click.option("--out", type=_path, default=None, help="Output directory whose state render would start from.")
@click.option("--diff", "show_diff", is_flag=True, help="Show a unified diff against the templates instead.")
@_output("text", "json", "yaml")
def preview_command(specs: tuple[Path, ...], clusters: Path, rules: Path | None, overlays: tuple[Path, ...],
                    state_file: Path | None, cluster: str, out: Path | None, show_diff: bool, output: str) -> None:
    """Show exactly what one member cluster receives (Karmada's division and overrides applied); writes nothing.

    -o json|yaml prints the objects as one List, as kubectl get -o does."""
    if show_diff and output != "text":
        raise click.UsageError("--diff prints a unified diff; leave out -o, or --diff for the objects")
    result = _run(specs, clusters, rules, overlays, out, state_file)
    known = sorted({name for inst in result.instances for name in inst.rows})
    if cluster not in known:
        _fail([Diagnostic(f"cluster {cluster!r} is not in the snapshot (clusters: {', '.join(known)})",
                          Location(str(clusters)))])
    view = preview(result.files, cluster)
    if output != "text":
        _emit({"apiVersion": "v1", "kind": "List", "items": [received for _, received in view.objects]}, output)
        return
    click.echo(view.diff() if show_diff else view.yaml(), nl=False)


@main.command("publish", epilog=_examples(
    f"fedrender publish {_DEMO} --repo ../fedrender-manifests --branch main --path manifests",
    f"fedrender publish {_DEMO} --overlay overlays/prod --repo ../fedrender-manifests --branch main "
    "--path manifests --push origin"))
@_inputs_from_repo
@click.option("--repo", required=True, type=_path, help="Git work tree to publish into.")
@click.option("--branch", required=True, callback=_branch, help="Branch to commit to (created when missing).")
@click.option("--path", "subdir", default=None, callback=_repo_path,
              help="Directory inside the repository for the manifests (default: its top).")
@click.option("--message", default="", help="Commit subject (the semantic summary follows).")
@click.option("--push", "remote", default=None, callback=_remote, help="Remote to push to, with retry and rebase.")
@_allow_empty
def publish_command(specs: tuple[Path, ...], clusters: Path, rules: Path | None, overlays: tuple[Path, ...],
                    repo: Path, branch: str, subdir: str | None, message: str,
                    remote: str | None, allow_empty: bool) -> None:
    """Render into a git work tree and commit when manifests changed (a no-op leaves HEAD alone).

    The state comes from the branch (--path/.fedrender/state.json). A failed publish leaves the repository as
    it was: branch, HEAD and work tree."""
    try:
        publish_root(repo, subdir or "")
    except PublishPathError as exc:
        raise click.BadParameter(str(exc), param_hint="'--path'") from None
    try:
        done = publish(Inputs(list(specs), clusters, rules, list(overlays), _stdin(specs, clusters)), repo, branch,
                       subdir or "", message, remote, allow_empty)
    except PublishPathError as exc:
        raise click.BadParameter(str(exc), param_hint="'--path'") from None
    except InputError as exc:
        _fail(exc.diagnostics)
    except FedrenderError as exc:
        _fail([Diagnostic(str(exc))])
    if done.result is not None:
        for warning in done.result.warnings:
            click.echo(warning.render(), err=True)
    if not done.commit:
        click.echo("no changes; nothing committed", err=True)
        return
    click.echo(f"committed {done.commit[:12]}: {done.summary.title()} ({len(done.changed)} files)", err=True)
    if remote:
        click.echo(f"pushed to {remote}/{branch}" + (f" after {done.attempts} attempts" if done.attempts > 1 else ""),
                   err=True)


@main.command("diff", epilog=_examples(
    f"fedrender diff {_DEMO} --repo ../fedrender-manifests --branch main --path manifests",
    f"fedrender diff {_DEMO} --repo ../fedrender-manifests --branch main --path manifests --exit-code"))
@_inputs_from_repo
@click.option("--repo", required=True, type=_path, help="Git repository.")
@click.option("--branch", required=True, callback=_branch, help="Branch publish would commit to.")
@click.option("--path", "subdir", default=None, callback=_repo_path,
              help="Directory inside the repository for the manifests (default: its top).")
@click.option("--exit-code", is_flag=True, help="Exit 3 when publishing would change something.")
@_output("text", "json", "yaml")
def diff_command(specs: tuple[Path, ...], clusters: Path, rules: Path | None, overlays: tuple[Path, ...],
                 repo: Path, branch: str, subdir: str | None, exit_code: bool, output: str) -> None:
    """What publishing would change on the branch: a summary, then a unified diff. Writes nothing.

    -o json|yaml prints {"changed", "title", "summary": [lines], "files": [{"path", "change", "diff"}]}."""
    subdir = subdir or ""
    git = Git(repo)
    try:
        current = git.files(f"refs/heads/{branch}", subdir) if git.is_repo() else None
        if current is None:
            raise InputError([Diagnostic("not a git repository", Location(str(repo)))])
        state_name = f"{branch}:{subdir.strip('/')}/{STATE_FILE}" if subdir.strip("/") else f"{branch}:{STATE_FILE}"
        previous = parse_state(current[STATE_FILE], state_name) if STATE_FILE in current else None
        result = render(Inputs(list(specs), clusters, rules, list(overlays), _stdin(specs, clusters)), previous)
    except InputError as exc:
        _fail(exc.diagnostics)
    except FedrenderError as exc:
        _fail([Diagnostic(str(exc))])
    owned = set(previous.files) if previous else set()
    changes = file_changes(current, result.files, owned)
    summary = summarize(previous, result)
    prefix = f"{subdir.strip('/')}/" if subdir.strip("/") else ""

    def unified(path: str, old: bytes, new: bytes) -> str:
        return "".join(difflib.unified_diff(old.decode().splitlines(True), new.decode().splitlines(True),
                                            f"a/{prefix}{path}", f"b/{prefix}{path}"))

    if output != "text":
        _emit({"changed": bool(changes), "title": summary.title() if changes else "no changes",
               "summary": summary.lines() if changes else [],
               "files": [{"path": prefix + path, "change": "added" if path not in current else
                          "removed" if path not in result.files else "modified", "diff": unified(path, old, new)}
                         for path, (old, new) in sorted(changes.items())]}, output)
        if changes and exit_code:
            sys.exit(3)
        return
    if not changes:
        click.echo("no changes")
        return
    click.echo(summary.title())
    for line in summary.lines():
        click.echo(line)
    click.echo(f"{len(changes)} files change\n")
    for path, (old, new) in sorted(changes.items()):
        click.echo(unified(path, old, new), nl=False)
    if exit_code:
        sys.exit(3)


def file_changes(current: dict[str, bytes], new: dict[str, bytes], owned: set[str]) -> dict[str, tuple[bytes, bytes]]:
    """Path -> (old bytes, new bytes) for every file that would change; removed owned files map to b""."""
    changes = {p: (current.get(p, b""), content) for p, content in new.items() if current.get(p) != content}
    changes.update({p: (current[p], b"") for p in owned - set(new) if p in current})
    return changes


def _karmada_options(func: F) -> F:
    func = click.option("--kubeconfig", type=_path, default=None, help="Kubeconfig file (default: the usual).")(func)
    return click.option("--context", default=None, help="Kubeconfig context of the Karmada API server.")(func)


@main.command("snapshot", epilog=_examples(
    "fedrender snapshot --context karmada-apiserver --output-file clusters.yaml",
    "fedrender snapshot --context karmada-apiserver -o json | fedrender explain --specs examples/specs --clusters -"))
@_karmada_options
@click.option("--output-file", type=_path, default=Path("-"), show_default=True,
              help="File to write; - for standard output.")
@_output("yaml", "json")
def snapshot_command(context: str | None, kubeconfig: Path | None, output_file: Path, output: str) -> None:
    """Capture the Karmada Cluster objects as one List, in the format `render --clusters` reads."""
    try:
        captured = karmada.snapshot(karmada.connect(context, kubeconfig))
    except FedrenderError as exc:
        _fail([Diagnostic(str(exc))], what="nothing was captured")
    text = json.dumps(captured, indent=2) + "\n" if output == "json" else dump_all([captured])
    if str(output_file) == "-":
        click.echo(text, nl=False)
    else:
        output_file.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output_file}", err=True)


@main.command("status", epilog=_examples(
    "fedrender status --context karmada-apiserver",
    "fedrender status --context karmada-apiserver -n shop -o json"))
@_karmada_options
@click.option("-n", "--namespace", default=None, help="Only this namespace.")
@_output("text", "json", "yaml")
def status_command(context: str | None, kubeconfig: Path | None, namespace: str | None, output: str) -> None:
    """The topology of every MongoReplicaSet, from the status Karmada aggregates from the member clusters."""
    try:
        sets = [karmada.topology(o) for o in karmada.replica_sets(karmada.connect(context, kubeconfig), namespace)]
    except FedrenderError as exc:
        _fail([Diagnostic(str(exc))], what="nothing was read")
    if output != "text":
        _emit({"replicaSets": sets}, output)
        return
    for rs in sets:
        click.echo(f"{rs['namespace']}/{rs['name']}: {rs['phase']}, primary {rs['primary'] or '-'}")
        for cluster in rs["result"]:
            click.echo(f"  {cluster['cluster']}: {cluster['phase']}, {cluster['healthyMembers']}/{cluster['members']} "
                       "healthy")
            for host, role in sorted(cluster["connectAddrWithRole"].items()):
                click.echo(f"    {host}  {role}")
        click.echo(f"  externalAddr: {rs['externalAddr']}")


@main.command("schema", epilog=_examples(
    "fedrender schema MultiCloudMongoDB > multicloudmongodb.schema.json",
    "fedrender schema multicloudmongodb --rules rules/"))
@click.argument("kind")
@click.option("--rules", type=_path, default=None, help="Rule pack directory (default: the shipped packs).")
def schema_command(kind: str, rules: Path | None) -> None:
    """Print the JSON Schema of a rule pack's input KIND (any case), for editors and validators."""
    try:
        packs = load_packs(rules)
    except InputError as exc:
        _fail(exc.diagnostics, what="found in the rule packs")
    found = [pack for pack in packs if pack.kind.lower() == kind.lower()]
    if not found:
        raise click.BadParameter(f"no rule pack takes {kind!r}; the packs take "
                                 f"{', '.join(sorted(p.kind for p in packs))}", param_hint="'KIND'")
    click.echo(json.dumps(pack_schema(found[0]), indent=2, sort_keys=True))


@main.group("rules", epilog=_examples("fedrender rules check rules/", "fedrender rules test rules/"))
def rules_group() -> None:
    """Check and test rule packs."""


@rules_group.command("check", epilog=_examples(
    "fedrender rules check",
    "fedrender rules check rules/"))
@click.argument("directory", required=False, type=_path)
@_output("text", "json", "yaml")
def rules_check(directory: Path | None, output: str) -> None:
    """Type-check every expression of the packs in DIRECTORY (default: the shipped packs)."""
    try:
        packs = load_packs(directory)
        for pack in packs:
            load_tests(pack.directory)
    except InputError as exc:
        _fail(exc.diagnostics, what="found in the rule packs")
    rows = [{"directory": str(pack.directory), "name": pack.name, "version": pack.version, "kind": pack.kind,
             "apiVersion": pack.api_version, "variables": len(pack.variables),
             "rules": len(pack.validations) + len(pack.filters) + len(pack.scores) + len(pack.checks)
             + len(pack.overrides) + len(pack.platform_checks), "templates": len(pack.templates)} for pack in packs]
    if output != "text":
        _emit({"packs": rows}, output)
        return
    for row in rows:
        click.echo(f"ok - {row['directory']} - {row['name']} {row['version']}: {row['kind']}, {row['variables']} "
                   f"variables, {row['rules']} rules, {row['templates']} templates")


@rules_group.command("test", epilog=_examples(
    "fedrender rules test",
    "fedrender rules test rules/"))
@click.argument("directory", required=False, type=_path)
@_output("text", "json", "yaml")
def rules_test(directory: Path | None, output: str) -> None:
    """Run the tests.yaml of the packs in DIRECTORY (default: the shipped packs)."""
    try:
        packs = load_packs(directory)
        outcomes = [o for pack in packs for o in run_tests(pack.directory)]
    except InputError as exc:
        _fail(exc.diagnostics, what="found in the rule packs")
    untested = [str(pack.directory) for pack in packs if load_tests(pack.directory) is None]
    failed = sum(bool(o.failures) for o in outcomes)
    if output != "text":
        _emit({"cases": [{"file": o.file, "case": o.case, "passed": not o.failures, "failures": o.failures}
                         for o in outcomes], "passed": len(outcomes) - failed, "failed": failed,
               "withoutTests": untested}, output)
    else:
        for directory_name in untested:
            click.echo(f"WARN - {directory_name} - no tests.yaml")
        for outcome in outcomes:
            for failure in outcome.failures:
                click.echo(f"FAIL - {outcome.file} - {outcome.case} - {failure}")
        click.echo(f"{len(outcomes) - failed} passed, {failed} failed")
    if failed or not outcomes:
        sys.exit(1)


_ESTIMATES = {"resourceModels": "models", "resourceSummary": "summary"}
"""The ESTIMATE column: which of Karmada's estimates gave FITS."""


def _explain_text(inst: InstanceResult) -> str:
    """A table per instance (cluster, eligible, fits, the estimate that gave them, score, members before -> after,
    reason), members, moves."""
    lines = [f"{inst.namespace}/{inst.name} ({inst.pack}): {sum(inst.placement.values())} members, "
             f"init cluster {inst.init_cluster}"]
    table = [("CLUSTER", "ELIGIBLE", "FITS", "ESTIMATE", "SCORE", "MEMBERS", "REASON")]
    for cluster, row in sorted(inst.rows.items()):
        members = str(row.after) if row.before == row.after else f"{row.before} -> {row.after}"
        table.append((cluster, row.eligible, str(row.fits), _ESTIMATES.get(row.estimate, "-"),
                      str(row.score) if row.eligible == "yes" else "-", members, row.reason))
    widths = [max(len(r[i]) for r in table) for i in range(6)]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:6], widths, strict=True)) + "  " + r[6]
              for r in table]
    lines.append("  members:")
    lines += [f"    _id {m.id}  {m.cluster}/{inst.name}-{'arbiter-0' if m.arbiterOnly else m.ordinal}  {m.host}  "
              f"votes={m.votes} priority={m.priority}{'  (arbiter)' if m.arbiterOnly else ''}" for m in inst.members]
    lines += [f"  move: member {m.id} {m.source} -> {m.target}: {m.reason}" for m in inst.moves]
    lines += [f"  warning: {w}" for w in inst.warnings]
    return "\n".join(line.rstrip() for line in lines)
