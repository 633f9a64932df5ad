"""Git, through GitPython: the repo, the issue's worktree and branch, phase commits, diffs.

The user's checkout is never modified: all work happens in a worktree on ``harness/<id>-<slug>``.
GitPython is imported here only, lazily, so commands that do not touch git start fast.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UsageError

if TYPE_CHECKING:
    import git

PHASE_PREFIXES = ("contract:", "red:", "green:")
# Harness commits are checkpoints of the agents' work: they must not block on a signing prompt or
# be rewritten by the user's hooks (which may need an environment the worktree does not have).
_COMMIT_FLAGS = ("--no-verify", "--no-gpg-sign")


def open_repo(path: Path) -> git.Repo:
    import git

    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise UsageError(
            f"{path} is not inside a git repository",
            hint="run harness inside your project's git repo (or `git init` and commit first), or pass --repo PATH",
        ) from exc
    if repo.bare or repo.working_tree_dir is None:
        raise UsageError(f"{path} is a bare git repository", hint="run harness in a checkout with a working tree")
    try:
        repo.head.commit  # noqa: B018 - raises when there are no commits
    except ValueError as exc:
        raise UsageError(
            f"{repo.working_tree_dir} has no commits yet",
            hint="commit your project first (`git add -A && git commit -m initial`); the issue branch starts from HEAD",
        ) from exc
    return repo


def repo_root(path: Path) -> Path:
    return Path(open_repo(path).working_tree_dir or path).resolve()


@dataclass(frozen=True)
class Worktree:
    path: Path
    branch: str
    base: str  # the commit the branch started from


def create_worktree(repo_path: Path, path: Path, branch: str) -> Worktree:
    """A new worktree at ``path`` on a new ``branch`` from HEAD; refuses to reuse anything existing."""
    repo = open_repo(repo_path)
    base = repo.head.commit.hexsha
    if branch in [h.name for h in repo.heads]:
        message, hint = _existing_branch_message(repo, branch, path)
        raise UsageError(message, hint=hint)
    if path.exists():
        raise UsageError(
            f"{path} already exists but branch {branch} does not",
            hint=f"remove the stale directory (`git worktree prune && rm -rf {path}`) and run again",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    repo.git.worktree("add", "-b", branch, str(path), base)
    return Worktree(path=path.resolve(), branch=branch, base=base)


def _existing_branch_message(repo: git.Repo, branch: str, path: Path) -> tuple[str, str]:
    extra = list(repo.iter_commits(f"HEAD..{branch}"))
    cleanup = (
        f"git worktree remove --force {path}; git branch -D {branch}" if path.exists() else f"git branch -D {branch}"
    )
    if extra and all(str(c.message).startswith(PHASE_PREFIXES) for c in extra):
        return (
            f"branch {branch} already exists with {len(extra)} commit(s) from an earlier harness run",
            f"review or merge it first; to start the issue over, run again with --restart (or `{cleanup}`)",
        )
    if extra:
        subject = str(extra[0].message).splitlines()[0]
        return (
            f"branch {branch} already exists with {len(extra)} commit(s) of unrelated work (latest: {subject!r}); "
            "the harness will not touch it",
            f"rename it (`git branch -m {branch} {branch.replace('/', '-')}-backup`) or delete it (`{cleanup}`)",
        )
    if path.exists():
        return (
            f"branch {branch} already exists from an earlier harness run that made no commits",
            f"run again with --restart to start over (or `{cleanup}`)",
        )
    return (
        f"branch {branch} already exists",
        f"delete it if you no longer need it (`{cleanup}`), or run again with --restart",
    )


def discard_harness_branch(repo_path: Path, path: Path, branch: str) -> bool:
    """Remove an earlier run's worktree and branch, only if the branch holds nothing but harness
    phase commits. Returns whether anything was removed; refuses (UsageError) to touch other work."""
    repo = open_repo(repo_path)
    if branch not in [h.name for h in repo.heads]:
        return False
    extra = list(repo.iter_commits(f"HEAD..{branch}"))
    if not all(str(c.message).startswith(PHASE_PREFIXES) for c in extra):
        message, hint = _existing_branch_message(repo, branch, path)
        raise UsageError(message + "; --restart only discards branches that hold harness commits alone", hint=hint)
    if path.exists():
        repo.git.worktree("remove", "--force", str(path))
    repo.git.worktree("prune")
    repo.git.branch("-D", branch)
    return True


@contextlib.contextmanager
def throwaway_checkouts(repo_path: Path, *revs: str) -> Iterator[list[Path]]:
    """Detached checkouts of ``revs`` in a temp dir, removed afterwards: for agents that read and may
    run commands but whose changes must never reach a branch."""
    repo = open_repo(repo_path)
    parent = Path(tempfile.mkdtemp(prefix="harness-checkout-"))
    made: list[Path] = []
    try:
        for index, rev in enumerate(revs):
            path = parent / str(index)
            repo.git.worktree("add", "--detach", str(path), rev)
            made.append(path.resolve())
        yield made
    finally:
        for path in made:
            with contextlib.suppress(Exception):
                repo.git.worktree("remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)


def _identity_flags(repo: git.Repo) -> list[str]:
    flags = []
    reader = repo.config_reader()
    if not reader.has_option("user", "name"):
        flags += ["-c", "user.name=harness"]
    if not reader.has_option("user", "email"):
        flags += ["-c", "user.email=harness@localhost"]
    return flags


def commit_all(worktree: Path, message: str) -> str:
    """Stage everything (respecting .gitignore) and commit; returns the new commit's sha."""
    import git

    repo = git.Repo(worktree)
    repo.git.add("-A")
    repo.git.execute(["git", *_identity_flags(repo), "commit", *_COMMIT_FLAGS, "--allow-empty", "-m", message])
    return repo.head.commit.hexsha


def head(worktree: Path) -> str:
    import git

    return git.Repo(worktree).head.commit.hexsha


def diff(worktree: Path, base: str, rev: str) -> str:
    """Unified diff between two commits."""
    import git

    return str(git.Repo(worktree).git.diff(base, rev, "--no-color", "--no-ext-diff"))


def commit_subjects(worktree: Path, base: str) -> list[tuple[str, str]]:
    import git

    repo = git.Repo(worktree)
    return [(c.hexsha, str(c.message).splitlines()[0]) for c in repo.iter_commits(f"{base}..HEAD")][::-1]
