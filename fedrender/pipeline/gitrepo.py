"""The git CLI as an adapter: every git call fedrender makes goes through :class:`Git`."""

from __future__ import annotations

import os
import posixpath
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedrender.models.diagnostics import FedrenderError

_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_LITERAL_PATHSPECS": "1"}
"""Set for every git process fedrender starts. ``GIT_LITERAL_PATHSPECS`` (git(1), ``--literal-pathspecs``) makes
git take every path argument as the path it spells: git reads magic such as ``:(glob)``, ``:(exclude)``,
``:/`` or ``*`` in a pathspec even after ``--``, and a path derived from input must never mean more files."""


class GitError(FedrenderError):
    """A git command failed; the message carries the command and what git said."""


@dataclass(frozen=True)
class Saved:
    """Where a repository stood before publish: HEAD's branch ref ('' when detached), HEAD's commit ('' when
    the branch is unborn), the target branch's commit ('' when it did not exist), and the ignored files that
    were already under the published path (repository-relative POSIX paths; :meth:`Git.restore` keeps them)."""

    head_ref: str
    head: str
    branch: str
    branch_commit: str
    ignored: frozenset[str] = frozenset()


def _said(result: subprocess.CompletedProcess[Any]) -> str:
    """What a failed git command said, or its exit code when it printed nothing (a silent hook)."""
    out = result.stderr or result.stdout or ""
    said = (out.decode(errors="replace") if isinstance(out, bytes) else out).strip()
    code = f"exit code {result.returncode}"
    return f"{said} ({code})" if said else f"{code}, and git printed nothing"


def _git(args: list[str], cwd: Path | None = None, input_text: str | None = None, text: bool = True,
         literal: bool = True) -> subprocess.CompletedProcess[Any]:
    """Run ``git args`` in ``cwd`` with :data:`_ENV`, capturing its output; never raises for its exit code.
    Every git process fedrender starts goes through here. ``literal=False`` leaves out GIT_LITERAL_PATHSPECS,
    for the one command that refuses it (git check-ignore: see :meth:`Git.ignores`)."""
    env = {**os.environ, **_ENV}
    if not literal:
        del env["GIT_LITERAL_PATHSPECS"]
    return subprocess.run(["git", *args], cwd=cwd, env=env, text=text, capture_output=True, input=input_text,
                          check=False)


def _not_an_option(value: str) -> None:
    """For the few git commands that cannot be told where options end: refuse a value git would parse as one."""
    if value.startswith("-"):
        raise GitError(f"{value!r} starts with '-'; git would read it as an option")


def branch_error(name: str) -> str:
    """Why ``name`` is not a branch fedrender may publish to, '' when it is one: it must pass
    ``git check-ref-format --branch`` (git-check-ref-format(1)) and be a plain name, so never an option
    (``-x``), ``@`` or ``@{...}`` (git would resolve those to another branch) or a full ``refs/...`` name."""
    if not name:
        return "an empty branch name is not allowed"
    if name.startswith("-"):
        return f"{name!r} starts with '-'; git would read it as an option"
    if name == "@" or "@{" in name:
        return f"{name!r} is git shorthand for another ref, not a branch name"
    if name.startswith("refs/"):
        return f"{name!r} is a full ref; give the branch's short name"
    checked = _git(["check-ref-format", "--branch", name])
    if checked.returncode != 0 or checked.stdout.strip() != name:
        return f"{name!r} is not a valid git branch name (git check-ref-format --branch)"
    return ""


@dataclass(frozen=True)
class Git:
    repo: Path

    def run(self, *args: str, check: bool = True, input_text: str | None = None,
            literal: bool = True) -> subprocess.CompletedProcess[str]:
        if not self.repo.is_dir():
            raise GitError(f"{self.repo} is not a directory")
        result = _git([*self._identity(), *args], cwd=self.repo, input_text=input_text, literal=literal)
        if check and result.returncode != 0:
            raise GitError(f"git {' '.join(args)} failed in {self.repo}: {_said(result)}")
        return result

    def is_repo(self) -> bool:
        return self.repo.is_dir() and self.run("rev-parse", "--git-dir", check=False).returncode == 0

    def _identity(self) -> list[str]:
        """A robot identity only when the repository and the user have none (CI machines)."""
        out = []
        for key, default in (("user.name", "fedrender"), ("user.email", "fedrender@invalid")):
            found = _git(["config", key], cwd=self.repo)
            if found.returncode != 0 or not found.stdout.strip():
                out += ["-c", f"{key}={default}"]
        return out

    def dirty(self) -> list[str]:
        """Changed and untracked paths (untracked ones even when ``status.showUntrackedFiles`` hides them:
        :meth:`restore` relies on there being none)."""
        return [line[3:] for line in self.run("status", "--porcelain", "--untracked-files=normal").stdout.splitlines()]

    def has_ref(self, ref: str) -> bool:
        return self.run("rev-parse", "--verify", "--quiet", "--end-of-options", ref, check=False).returncode == 0

    def head(self) -> str:
        result = self.run("rev-parse", "HEAD", check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    def rev(self, ref: str) -> str:
        """The commit ``ref`` names, '' when there is none."""
        result = self.run("rev-parse", "-q", "--verify", "--end-of-options", f"{ref}^{{commit}}", check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    def ignores(self, path: str) -> bool:
        """Whether .gitignore (or info/exclude, core.excludesFile) ignores directory ``path``
        (git-check-ignore(1); the trailing slash lets a ``dir/`` pattern match a directory not made yet).
        check-ignore refuses GIT_LITERAL_PATHSPECS (it fails with 128) yet reads ``:(top)`` and ``:/`` magic at
        a pathspec's start, so ``path`` goes in behind ``./``, where git reads no magic."""
        return self.run("check-ignore", "-q", "--", "./" + path.strip("/") + "/", check=False,
                        literal=False).returncode == 0

    def _untracked(self, path: str, ignored_only: bool) -> set[str]:
        """Untracked files under ``path`` (with ignored ones; only those when ``ignored_only``)."""
        only = ["-i", "--exclude-standard"] if ignored_only else []
        out = self.run("ls-files", "-z", "-o", *only, "--", path).stdout.split("\0")
        return {name for name in out if name and not name.endswith("/")}

    def save(self, branch: str, path: str = ".") -> Saved:
        head_ref = self.run("symbolic-ref", "-q", "HEAD", check=False).stdout.strip()
        return Saved(head_ref, self.rev("HEAD"), branch, self.rev(f"refs/heads/{branch}"),
                     frozenset(self._untracked(path, ignored_only=True)))

    def restore(self, saved: Saved, path: str) -> None:
        """Put branch, HEAD, index and work tree back as :meth:`save` found them. The work tree was clean
        then, so untracked files under ``path`` are what publish wrote, ignored or not: they are removed,
        except the ignored files :meth:`save` found, and so are the directories left empty by that."""
        self.run("rebase", "--abort", check=False)
        ref = f"refs/heads/{saved.branch}"
        if saved.head_ref:
            self.run("symbolic-ref", "HEAD", saved.head_ref)
        else:
            self.run("update-ref", "--no-deref", "--", "HEAD", saved.head)
        if saved.branch_commit:
            self.run("update-ref", "--", ref, saved.branch_commit)
        elif self.rev(ref):  # a new branch (or HEAD's unborn one that got its first commit) goes again
            self.run("update-ref", "-d", "--", ref)
        if saved.head:
            self.run("reset", "-q", "--hard", saved.head, "--")  # a commit id from rev-parse: no option
        else:
            self.run("rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", path)
        emptied = set()
        for name in sorted(self._untracked(path, ignored_only=False) - saved.ignored):
            (self.repo / name).unlink(missing_ok=True)
            emptied.add(posixpath.dirname(name))
        for directory in sorted(emptied, key=lambda d: -d.count("/")):
            while directory and (self.repo / directory).is_dir() and not any((self.repo / directory).iterdir()):
                (self.repo / directory).rmdir()
                directory = posixpath.dirname(directory)
        self.run("clean", "-f", "-d", "-q", "--", path)

    def checkout(self, branch: str, start: str | None = None) -> None:
        """Check out ``branch``, creating it at ``start`` when missing. git checkout takes no
        ``--end-of-options`` before a revision (git 2.39), so ``branch`` must not look like an option, and
        ``start`` goes in as the commit id it names."""
        _not_an_option(branch)
        if self.has_ref(f"refs/heads/{branch}"):
            self.run("checkout", "-q", branch, "--")
        elif start is not None:
            self.run("checkout", "-q", f"-b{branch}", self._commit_of(start), "--")
        else:
            self.run("checkout", "-q", f"-b{branch}")

    def _commit_of(self, ref: str) -> str:
        """The commit id ``ref`` names (never an option); GitError when it names none."""
        commit = self.rev(ref)
        if not commit:
            raise GitError(f"{ref!r} names no commit in {self.repo}")
        return commit

    def fetch(self, remote: str, branch: str) -> bool:
        """Fetch ``branch``; False when the remote has no such branch yet."""
        result = self.run("fetch", "-q", "--", remote, branch, check=False)
        return result.returncode == 0

    def rebase(self, upstream: str) -> bool:
        """Rebase onto ``upstream``; on a conflict abort and return False."""
        if self.run("rebase", "-q", "--end-of-options", upstream, check=False).returncode == 0:
            return True
        self.run("rebase", "--abort", check=False)
        return False

    def reset_hard(self, ref: str) -> None:
        self.run("reset", "-q", "--hard", self._commit_of(ref), "--")

    def stage(self, path: str) -> list[str]:
        """Stage everything under ``path``; the staged paths."""
        self.run("add", "-A", "--", path)
        return [name for name in self.run("diff", "--cached", "--name-only", "-z", "--", path).stdout.split("\0")
                if name]

    def commit(self, message: str) -> str:
        result = self.run("commit", "-q", "-F", "-", input_text=message, check=False)
        if result.returncode != 0:
            raise GitError(f"git refused the commit in {self.repo} (a pre-commit or commit-msg hook may have "
                           f"refused it): {_said(result)}")
        return self.head()

    def push(self, remote: str, branch: str) -> bool:
        """Push; False when the remote rejected it as not a fast-forward (someone pushed first)."""
        result = self.run("push", "-q", "--", remote, f"HEAD:refs/heads/{branch}", check=False)
        if result.returncode == 0:
            return True
        text = result.stderr.lower()
        if "non-fast-forward" in text or "fetch first" in text or "rejected" in text:
            return False
        raise GitError(f"git push {remote} {branch} failed: {result.stderr.strip()}")

    def files(self, ref: str, path: str) -> dict[str, bytes]:
        """Every file under ``path`` at ``ref``, by path relative to ``path``."""
        if not self.has_ref(ref):
            return {}
        prefix = path.strip("/")
        names = [name for name in self.run("ls-tree", "-r", "-z", "--name-only", "--end-of-options", ref, "--",
                                           prefix or ".").stdout.split("\0") if name]
        out = {}
        for name in names:
            shown = _git(["show", "--end-of-options", f"{ref}:{name}"], cwd=self.repo, text=False)
            if shown.returncode != 0:
                raise GitError(f"git show {ref}:{name} failed in {self.repo}: {_said(shown)}")
            blob = shown.stdout
            out[name[len(prefix) + 1:] if prefix else name] = blob
        return out


def source_commit(paths: list[Path]) -> str:
    """The commit of the repository holding the first input, with ``-dirty`` when it has changes; '' if none."""
    for path in paths:
        directory = path if path.is_dir() else path.parent
        git = Git(directory.resolve())
        if git.is_repo():
            head = git.head()
            return f"{head}-dirty" if head and git.dirty() else head
    return ""
