"""Publish rendered manifests to a git branch: commit only when bytes change, push with retry.

The work tree must be clean. ``--path`` holds the output; files there that the previous render didn't
write are never touched. On a rejected push the local commit is rebased onto the remote branch; if the
rebase conflicts (someone published other manifests meanwhile), fedrender resets to the remote branch,
renders again from the state found there, and commits anew, so what lands is always a fresh render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fedrender.models.diagnostics import Diagnostic, InputError, Location
from fedrender.models.state import PATH as STATE_FILE
from fedrender.models.state import State
from fedrender.pipeline.gitrepo import Git, source_commit
from fedrender.pipeline.render import Inputs, RenderResult, read_state, render
from fedrender.pipeline.summary import Summary, summarize, trailers
from fedrender.pipeline.write import WriteConflict, WriteReport, write_tree

PUSH_ATTEMPTS = 5


@dataclass
class Published:
    commit: str = ""
    summary: Summary = field(default_factory=Summary)
    changed: list[str] = field(default_factory=list)
    pushed: bool = False
    attempts: int = 0
    result: RenderResult | None = None


def publish(inputs: Inputs, repo: Path, branch: str, subdir: str = "", message: str = "",
            remote: str | None = None) -> Published:
    git = Git(repo)
    if not git.is_repo():
        raise InputError([Diagnostic("not a git work tree", Location(str(repo)))])
    dirty = git.dirty()
    if dirty:
        raise InputError([Diagnostic(f"the work tree has uncommitted changes ({', '.join(dirty[:5])}); commit or "
                                     "stash them first", Location(str(repo)))])
    upstream = f"{remote}/{branch}" if remote else ""
    has_upstream = bool(remote) and git.fetch(remote or "", branch)
    git.checkout(branch, start=upstream if has_upstream and not git.has_ref(f"refs/heads/{branch}") else None)
    if has_upstream and not git.rebase(upstream):
        git.reset_hard(upstream)
    published = _commit(git, inputs, repo, subdir, message)
    if remote is None or not published.commit:
        return published
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        published.attempts = attempt
        if git.push(remote, branch):
            published.pushed = True
            return published
        git.fetch(remote, branch)
        if not git.rebase(upstream):  # conflicting concurrent publish: render again on top of it
            git.reset_hard(upstream)
            again = _commit(git, inputs, repo, subdir, message)
            if not again.commit:
                return again
            published = again
    raise InputError([Diagnostic(f"could not push to {remote}/{branch} after {PUSH_ATTEMPTS} attempts; someone "
                                 "keeps pushing first", Location(str(repo)))])


def _commit(git: Git, inputs: Inputs, repo: Path, subdir: str, message: str) -> Published:
    out = repo / subdir if subdir else repo
    previous = read_state(out)
    result = render(inputs, previous)
    try:
        report: WriteReport = write_tree(out, result.files)
    except WriteConflict as exc:
        raise InputError([Diagnostic(str(exc), Location(str(out)))]) from None
    changed = git.stage(subdir or ".")
    state_path = f"{subdir.strip('/')}/{STATE_FILE}" if subdir.strip("/") else STATE_FILE
    if changed == [state_path]:  # only input digests moved (a comment, another checkout): no manifest changed
        git.run("reset", "-q", "--", state_path)
        git.run("checkout", "-q", "--", state_path)
        changed = []
    published = Published(summary=summarize(previous, result), changed=changed, result=result)
    if not changed:
        return published
    state = State.model_validate_json(result.files[STATE_FILE])
    packs = [(name, p.version, p.digest) for name, p in sorted(state.rulePacks.items())]
    body = published.summary.lines()
    text = (message or published.summary.title()) + "\n\n"
    if message:
        text += published.summary.title() + "\n"
    text += "\n".join(body) + ("\n" if body else "")
    text += f"\n{len(report.written)} files written, {len(report.removed)} removed.\n\n"
    text += "\n".join(trailers(state.inputs, packs, source_commit([*inputs.specs, inputs.clusters]))) + "\n"
    published.commit = git.commit(text)
    return published
