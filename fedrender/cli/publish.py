"""``fedrender publish`` and ``diff``: render against the state on a branch of a git repository, then commit
the manifests there, or show what committing would change."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from fedrender.cli.console import done, emit, fail, read_stdin
from fedrender.cli.options import DEMO, PATH, allow_empty_option, examples, inputs_from_repo, output_option
from fedrender.models.diagnostics import Diagnostic, FedrenderError, InputError, Location
from fedrender.pipeline.empty import PUBLISHING, refuse_empty
from fedrender.pipeline.gitrepo import Git, branch_error
from fedrender.pipeline.publish import PublishPathError, commits, publish, publish_root, repo_subdir
from fedrender.pipeline.render import STATE_FILE, Inputs, parse_state, render
from fedrender.pipeline.summary import summarize


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


@click.command("publish", epilog=examples(
    f"fedrender publish {DEMO} --repo ../gitops-demo --branch main --path manifests",
    f"fedrender publish {DEMO} --overlay overlays/prod --repo ../gitops-demo --branch main "
    "--path manifests --push origin"))
@inputs_from_repo
@click.option("--repo", required=True, type=PATH, help="Git work tree to publish into.")
@click.option("--branch", required=True, callback=_branch, help="Branch to commit to (created when missing).")
@click.option("--path", "subdir", default=None, callback=_repo_path,
              help="Directory inside the repository for the manifests (default: its top).")
@click.option("--message", default="", help="Commit subject (the semantic summary follows).")
@click.option("--push", "remote", default=None, callback=_remote, help="Remote to push to, with retry and rebase.")
@allow_empty_option
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
        published = publish(Inputs(list(specs), clusters, rules, list(overlays), read_stdin(specs, clusters)), repo,
                       branch, subdir or "", message, remote, allow_empty)
    except PublishPathError as exc:
        raise click.BadParameter(str(exc), param_hint="'--path'") from None
    except InputError as exc:
        fail(exc.diagnostics)
    except FedrenderError as exc:
        fail([Diagnostic(str(exc))])
    if published.commit:
        done(f"{repo} has commit {published.commit[:12]} on {branch}" + (" (pushed)" if published.pushed else ""))
    if published.result is not None:
        for warning in published.result.warnings:
            click.echo(warning.render(), err=True)
    if not published.commit:
        click.echo("no changes; nothing committed", err=True)
        return
    click.echo(f"committed {published.commit[:12]}: {published.summary.title()} ({len(published.changed)} files)",
               err=True)
    if remote:
        again = f" after {published.attempts} attempts" if published.attempts > 1 else ""
        click.echo(f"pushed to {remote}/{branch}{again}", err=True)


@click.command("diff", epilog=examples(
    f"fedrender diff {DEMO} --repo ../gitops-demo --branch main --path manifests",
    f"fedrender diff {DEMO} --repo ../gitops-demo --branch main --path manifests --exit-code"))
@inputs_from_repo
@click.option("--repo", required=True, type=PATH, help="Git repository.")
@click.option("--branch", required=True, callback=_branch, help="Branch publish would commit to.")
@click.option("--path", "subdir", default=None, callback=_repo_path,
              help="Directory inside the repository for the manifests (default: its top).")
@click.option("--exit-code", is_flag=True, help="Exit 3 when publishing would change something.")
@output_option("text", "json", "yaml")
@allow_empty_option
def diff_command(specs: tuple[Path, ...], clusters: Path, rules: Path | None, overlays: tuple[Path, ...],
                 repo: Path, branch: str, subdir: str | None, exit_code: bool, output: str, allow_empty: bool) -> None:
    """What publishing would change on the branch: a summary, then a unified diff. Writes nothing; warnings
    go to stderr, as publish prints them.

    -o json|yaml prints {"changed", "title", "summary": [lines], "files": [{"path", "change", "diff"}]}."""
    subdir = subdir or ""
    git = Git(repo)
    try:
        current = git.files(f"refs/heads/{branch}", subdir) if git.is_repo() else None
        if current is None:
            raise InputError([Diagnostic("not a git repository", Location(str(repo)))])
        state_name = f"{branch}:{subdir.strip('/')}/{STATE_FILE}" if subdir.strip("/") else f"{branch}:{STATE_FILE}"
        previous = parse_state(current[STATE_FILE], state_name) if STATE_FILE in current else None
        result = render(Inputs(list(specs), clusters, rules, list(overlays), read_stdin(specs, clusters)), previous)
        refuse_empty(list(specs), result, allow_empty, PUBLISHING)
    except InputError as exc:
        fail(exc.diagnostics)
    except FedrenderError as exc:
        fail([Diagnostic(str(exc))])
    for warning in result.warnings:
        click.echo(warning.render(), err=True)
    owned = set(previous.files) if previous else set()
    changes = file_changes(current, result.files, owned)
    if not commits(changes):  # publish would commit nothing: the state file alone moving is no change
        changes = {}
    summary = summarize(previous, result)
    prefix = f"{subdir.strip('/')}/" if subdir.strip("/") else ""

    def unified(path: str, old: bytes, new: bytes) -> str:
        return "".join(difflib.unified_diff(old.decode().splitlines(True), new.decode().splitlines(True),
                                            f"a/{prefix}{path}", f"b/{prefix}{path}"))

    if output != "text":
        emit({"changed": bool(changes), "title": summary.title() if changes else "no changes",
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
    """Path -> (old bytes, new bytes) for every file that would change; removed owned files map to b"".

    ``current`` holds the files on the branch, ``new`` the rendered ones and ``owned`` the paths the previous
    state recorded as fedrender's, all relative to the manifests directory: a file on the branch that fedrender
    does not own and no longer renders is left out (publish leaves it alone)."""
    changes = {p: (current.get(p, b""), content) for p, content in new.items() if current.get(p) != content}
    changes.update({p: (current[p], b"") for p in owned - set(new) if p in current})
    return changes
