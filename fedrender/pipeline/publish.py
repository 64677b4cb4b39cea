"""Publish rendered manifests to a git branch: commit only when bytes change, push with retry.

``--path`` is a directory inside the repository: never absolute, never leaving it through ``..``, never
through a symlink, never into a ``.git`` directory, never one .gitignore ignores (checked before anything is
rendered). The work tree must be clean; a publish that fails
(bad inputs, a refused write, a rejected commit, a push that never got through) leaves the repository as it
was: the original branch checked out at its commit, no new branch, a clean work tree. Files under
``--path`` that the previous render didn't write are never touched. On a rejected push the local commit is
rebased onto the remote branch; if the rebase conflicts (someone published other manifests meanwhile),
fedrender resets to the remote branch, renders again from the state found there, and commits anew, so what
lands is always a fresh render.
"""

from __future__ import annotations

import posixpath
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fedrender.models.diagnostics import Diagnostic, FedrenderError, InputError, Location
from fedrender.models.state import PATH as STATE_FILE
from fedrender.models.state import State
from fedrender.pipeline.empty import refuse_empty
from fedrender.pipeline.gitrepo import Git, GitError, source_commit
from fedrender.pipeline.render import Inputs, RenderResult, read_state, render
from fedrender.pipeline.summary import Summary, summarize, trailers
from fedrender.pipeline.write import WriteReport, write_tree

PUSH_ATTEMPTS = 5


@dataclass
class Published:
    commit: str = ""
    summary: Summary = field(default_factory=Summary)
    changed: list[str] = field(default_factory=list)
    pushed: bool = False
    attempts: int = 0
    result: RenderResult | None = None


class PublishPathError(FedrenderError):
    """``--path`` does not name a directory inside the repository (a usage error, exit code 2)."""


NAME_MAX = 255
"""The longest file name, in bytes, Linux and macOS file systems take (``NAME_MAX``, limits.h)."""

GIT_FILES = frozenset({".gitmodules", ".gitattributes", ".gitignore"})
"""Files git reads as its own configuration: never a directory for manifests."""

WINDOWS_REFUSED = frozenset('\\<>:"|?*')
"""Characters git refuses in a path on Windows (compat/mingw.c, ``is_valid_win32_path``; ``\\`` is a separator
there): a manifests repository is checked out there too."""


def _component_error(part: str, value: str) -> str:
    """Why ``part``, one component of ``--path`` ``value``, is not a directory name fedrender publishes to;
    '' when it is one."""
    if part.startswith(":"):
        return (f"{value!r}: {part!r} starts with ':', which git reads as pathspec magic (gitglossary(7)); "
                "a directory named so is almost surely a mistake")
    if any(unicodedata.category(c) == "Cs" for c in part):
        return f"{value!r} is not valid UTF-8"
    if part.lower() in {".git", "git~1"} or part.rstrip(" .").lower() == ".git":
        return (f"{value} goes into a .git directory, where git keeps its own data; give a directory of the "
                "work tree")
    if part.lower() in GIT_FILES:
        return f"{value!r}: {part} is a file git reads as its own configuration, not a directory for manifests"
    if any(unicodedata.category(c) == "Cc" for c in part):
        return f"{value!r} contains a control character"
    if any(unicodedata.category(c) == "Cf" for c in part):
        return (f"{value!r} contains an invisible (zero-width or format) character; git on macOS ignores some "
                "of them, so the name would not say what it is")
    refused = sorted(set(part) & WINDOWS_REFUSED)
    if refused:
        return f"{value!r} contains {''.join(refused)!r}, which git refuses in a path on Windows"
    if part not in {".", ".."} and part.endswith((" ", ".")):
        return f"{value!r}: {part!r} ends with a space or a dot, which Windows drops (git refuses it there)"
    if len(part.encode()) > NAME_MAX:
        return f"{value!r}: a component is {len(part.encode())} bytes long; file systems take at most {NAME_MAX}"
    return ""


def repo_subdir(value: str) -> str:
    """``value`` as a normalised relative POSIX path ('' for the repository's top, written ``.``).

    Raises PublishPathError when it is empty, absolute, leaves the repository through ``..``, or has a
    component (before or after normalisation) that is ``.git`` in any letter case or an alias git knows for
    it (``git~1``, ``.git`` with trailing dots or spaces): that is git's own directory (case-insensitive file
    systems fold the case); a component ``.gitmodules``, ``.gitattributes`` or ``.gitignore``; one starting with
    ``:`` (git's pathspec magic); one holding a control, format (zero-width) or surrogate (not UTF-8)
    character or a character git refuses on Windows (:data:`WINDOWS_REFUSED`), or ending with a space or a
    dot; or one longer than :data:`NAME_MAX` bytes."""
    if not value:
        raise PublishPathError("an empty path is not allowed (write . for the repository's top)")
    if "\0" in value:
        raise PublishPathError(f"{value!r} contains a NUL byte")
    if value.startswith("/"):
        raise PublishPathError(f"{value} is an absolute path; give a directory relative to --repo")
    for part in value.split("/"):
        why = _component_error(part, value)
        if why:
            raise PublishPathError(why)
    normal = posixpath.normpath(value)
    if normal == ".." or normal.startswith("../"):
        raise PublishPathError(f"{value} leaves the repository (it is {normal} relative to --repo)")
    for part in normal.split("/"):
        why = _component_error(part, value)
        if why:
            raise PublishPathError(why)
    return "" if normal == "." else normal


def commits(changed: Iterable[str]) -> bool:
    """Whether publish commits when the render changes the bytes of the files ``changed`` (paths relative to
    the manifests directory). Any file but the state file counts; the state file alone does not: only input
    digests moved (a comment edited, another checkout), no manifest changed. ``diff`` decides with this too."""
    return any(path != STATE_FILE for path in changed)


def publish_root(repo: Path, subdir: str) -> Path:
    """The directory the manifests go to, ``repo/subdir``, after checking ``subdir`` (see :func:`repo_subdir`;
    '' is the top) and that none of its components is a symlink: one could lead outside the repository, and
    git would record the link, not the manifests. Raises PublishPathError."""
    normal = repo_subdir(subdir) if subdir else ""
    here = repo
    for part in normal.split("/") if normal else []:
        here = here / part
        if here.is_symlink():
            target = here.resolve()
            inside = target == repo.resolve() or repo.resolve() in target.parents
            where = f"to {target}" if inside else f"leading outside the repository, to {target}"
            raise PublishPathError(f"{here.relative_to(repo)} is a symlink {where}; --path must name a real "
                                   "directory inside the repository")
    return here


def publish(inputs: Inputs, repo: Path, branch: str, subdir: str = "", message: str = "",
            remote: str | None = None, allow_empty: bool = False) -> Published:
    """Render into ``repo/subdir`` on ``branch``, commit if anything changed, push to ``remote`` if given.

    Raises PublishPathError before anything else for a bad ``subdir`` (one .gitignore ignores too: git would
    not commit the manifests); InputError or GitError otherwise,
    after restoring the repository (branch, HEAD, index and work tree) as it was."""
    subdir = str(publish_root(repo, subdir).relative_to(repo)) if subdir else ""
    subdir = "" if subdir == "." else subdir
    git = Git(repo)
    if not git.is_repo():
        raise InputError([Diagnostic("not a git work tree", Location(str(repo)))])
    if subdir and git.ignores(subdir):
        raise PublishPathError(f"{subdir} is ignored by .gitignore (git check-ignore); git would not commit "
                               "manifests written there")
    dirty = git.dirty()
    if dirty:
        raise InputError([Diagnostic(f"the work tree has uncommitted changes ({', '.join(dirty[:5])}); commit or "
                                     "stash them first", Location(str(repo)))])
    saved = git.save(branch, subdir or ".")
    try:
        return _publish(git, inputs, repo, branch, subdir, message, remote, allow_empty)
    except BaseException as exc:
        try:
            git.restore(saved, subdir or ".")
        except GitError as failed:
            raise GitError(f"{exc}; restoring the repository as it was failed too: {failed}") from None
        raise


def _publish(git: Git, inputs: Inputs, repo: Path, branch: str, subdir: str, message: str, remote: str | None,
             allow_empty: bool) -> Published:
    upstream = f"{remote}/{branch}" if remote else ""
    has_upstream = bool(remote) and git.fetch(remote or "", branch)
    git.checkout(branch, start=upstream if has_upstream and not git.has_ref(f"refs/heads/{branch}") else None)
    if has_upstream and not git.rebase(upstream):
        git.reset_hard(upstream)
    published = _commit(git, inputs, repo, subdir, message, allow_empty)
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
            again = _commit(git, inputs, repo, subdir, message, allow_empty)
            if not again.commit:
                return again
            published = again
    raise InputError([Diagnostic(f"could not push to {remote}/{branch} after {PUSH_ATTEMPTS} attempts; someone "
                                 "keeps pushing first", Location(str(repo)))])


def _commit(git: Git, inputs: Inputs, repo: Path, subdir: str, message: str, allow_empty: bool) -> Published:
    out = publish_root(repo, subdir)
    previous = read_state(out)
    result = render(inputs, previous)
    refuse_empty(inputs.specs, result, allow_empty)
    report: WriteReport = write_tree(out, result.files)
    changed = git.stage(subdir or ".")
    state_path = f"{subdir}/{STATE_FILE}" if subdir else STATE_FILE
    if changed and not commits(path.removeprefix(f"{subdir}/") if subdir else path for path in changed):
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
