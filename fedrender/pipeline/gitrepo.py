"""The git CLI as an adapter: every git call fedrender makes goes through :class:`Git`."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fedrender.models.diagnostics import FedrenderError

_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


class GitError(FedrenderError):
    """A git command failed; the message carries the command and what git said."""


@dataclass(frozen=True)
class Saved:
    """Where a repository stood before publish: HEAD's branch ref ('' when detached), HEAD's commit ('' when
    the branch is unborn), and the target branch's commit ('' when it did not exist)."""

    head_ref: str
    head: str
    branch: str
    branch_commit: str


@dataclass(frozen=True)
class Git:
    repo: Path

    def run(self, *args: str, check: bool = True, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        if not self.repo.is_dir():
            raise GitError(f"{self.repo} is not a directory")
        env = {**os.environ, **_ENV}
        result = subprocess.run(["git", *self._identity(), *args], cwd=self.repo, env=env, text=True,
                                capture_output=True, input=input_text, check=False)
        if check and result.returncode != 0:
            raise GitError(f"git {' '.join(args)} failed in {self.repo}: {(result.stderr or result.stdout).strip()}")
        return result

    def is_repo(self) -> bool:
        return self.repo.is_dir() and self.run("rev-parse", "--git-dir", check=False).returncode == 0

    def _identity(self) -> list[str]:
        """A robot identity only when the repository and the user have none (CI machines)."""
        out = []
        for key, default in (("user.name", "fedrender"), ("user.email", "fedrender@invalid")):
            found = subprocess.run(["git", "config", key], cwd=self.repo, capture_output=True, text=True, check=False)
            if found.returncode != 0 or not found.stdout.strip():
                out += ["-c", f"{key}={default}"]
        return out

    def dirty(self) -> list[str]:
        """Changed and untracked paths (untracked ones even when ``status.showUntrackedFiles`` hides them:
        :meth:`restore` relies on there being none)."""
        return [line[3:] for line in self.run("status", "--porcelain", "--untracked-files=normal").stdout.splitlines()]

    def has_ref(self, ref: str) -> bool:
        return self.run("rev-parse", "--verify", "--quiet", ref, check=False).returncode == 0

    def head(self) -> str:
        result = self.run("rev-parse", "HEAD", check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    def rev(self, ref: str) -> str:
        """The commit ``ref`` names, '' when there is none."""
        result = self.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    def save(self, branch: str) -> Saved:
        head_ref = self.run("symbolic-ref", "-q", "HEAD", check=False).stdout.strip()
        return Saved(head_ref, self.rev("HEAD"), branch, self.rev(f"refs/heads/{branch}"))

    def restore(self, saved: Saved, path: str) -> None:
        """Put branch, HEAD, index and work tree back as :meth:`save` found them. The work tree was clean
        then, so files not in HEAD under ``path`` are what publish wrote: they are removed (ignored ones
        stay)."""
        self.run("rebase", "--abort", check=False)
        ref = f"refs/heads/{saved.branch}"
        if saved.head_ref:
            self.run("symbolic-ref", "HEAD", saved.head_ref)
        else:
            self.run("update-ref", "--no-deref", "HEAD", saved.head)
        if saved.branch_commit:
            self.run("update-ref", ref, saved.branch_commit)
        elif self.rev(ref):  # a new branch (or HEAD's unborn one that got its first commit) goes again
            self.run("update-ref", "-d", ref)
        if saved.head:
            self.run("reset", "-q", "--hard", saved.head)
        else:
            self.run("rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", path)
        self.run("clean", "-f", "-d", "-q", "--", path)

    def checkout(self, branch: str, start: str | None = None) -> None:
        if self.has_ref(f"refs/heads/{branch}"):
            self.run("checkout", "-q", branch)
        elif start is not None:
            self.run("checkout", "-q", "-b", branch, start)
        else:
            self.run("checkout", "-q", "-b", branch)

    def fetch(self, remote: str, branch: str) -> bool:
        """Fetch ``branch``; False when the remote has no such branch yet."""
        result = self.run("fetch", "-q", remote, branch, check=False)
        return result.returncode == 0

    def rebase(self, upstream: str) -> bool:
        """Rebase onto ``upstream``; on a conflict abort and return False."""
        if self.run("rebase", "-q", upstream, check=False).returncode == 0:
            return True
        self.run("rebase", "--abort", check=False)
        return False

    def reset_hard(self, ref: str) -> None:
        self.run("reset", "-q", "--hard", ref)

    def stage(self, path: str) -> list[str]:
        """Stage everything under ``path``; the staged paths."""
        self.run("add", "-A", "--", path)
        return self.run("diff", "--cached", "--name-only", "--", path).stdout.splitlines()

    def commit(self, message: str) -> str:
        self.run("commit", "-q", "-F", "-", input_text=message)
        return self.head()

    def push(self, remote: str, branch: str) -> bool:
        """Push; False when the remote rejected it as not a fast-forward (someone pushed first)."""
        result = self.run("push", "-q", remote, f"HEAD:refs/heads/{branch}", check=False)
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
        names = self.run("ls-tree", "-r", "--name-only", ref, "--", prefix or ".").stdout.splitlines()
        out = {}
        for name in names:
            blob = subprocess.run(["git", "show", f"{ref}:{name}"], cwd=self.repo, capture_output=True, check=True,
                                  env={**os.environ, **_ENV}).stdout
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
