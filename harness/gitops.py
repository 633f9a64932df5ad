"""Git, through GitPython: the repo, the issue's worktree and branch, phase commits, diffs.

The user's checkout is never modified: all work happens in a worktree on ``harness/<id>-<slug>``.
GitPython is imported here only, lazily, so commands that do not touch git start fast.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import IncompleteError, UsageError

if TYPE_CHECKING:
    import git

PHASE_PREFIXES = ("contract:", "red:", "green:")
# Harness commits are checkpoints of the agents' work: they must not block on a signing prompt or
# be rewritten by the user's hooks (which may need an environment the worktree does not have).
_COMMIT_FLAGS = ("--no-verify", "--no-gpg-sign")


_WORKTREE_LOCK = threading.RLock()


def _worktree(repo: git.Repo, *args: str) -> str:
    """``git worktree ARGS``, one at a time: git's worktree bookkeeping (``.git/worktrees/``) is not safe
    against concurrent add/remove/prune — parallel issues, evaluators and the lander all make and remove
    worktrees. A thread lock within this process, a file lock between processes sharing the clone."""
    lock_path = Path(repo.common_dir) / "harness-worktree.lock"
    with _WORKTREE_LOCK, open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            return str(repo.git.worktree(*args))
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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


def create_worktree(repo_path: Path, path: Path, branch: str, *, start: str | None = None) -> Worktree:
    """A new worktree at ``path`` on a new ``branch`` from ``start`` (default HEAD); refuses to reuse anything
    existing."""
    repo = open_repo(repo_path)
    base = repo.head.commit.hexsha if start is None else _commit(repo, start)
    if branch in [h.name for h in repo.heads]:
        message, hint = _existing_branch_message(repo, branch, path)
        raise UsageError(message, hint=hint)
    if path.exists():
        raise UsageError(
            f"{path} already exists but branch {branch} does not",
            hint=f"remove the stale directory (`git worktree prune && rm -rf {path}`) and run again",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    _worktree(repo, "add", "-b", branch, str(path), base)
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
    remove_worktree(repo_path, path)
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
            _worktree(repo, "add", "--detach", str(path), rev)
            made.append(path.resolve())
        yield made
    finally:
        for path in made:
            with contextlib.suppress(Exception):
                _worktree(repo, "remove", "--force", str(path))
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
    """(sha, subject) of the worktree's commits since ``base``, oldest first."""
    return range_subjects(worktree, base, "HEAD")


# The batch (`harness afk`) reuses branches and worktrees across runs that may have been killed at any
# moment: the functions below converge on the wanted state from whatever a killed run left behind.


def resolve(repo_path: Path, rev: str) -> str:
    """The sha of the commit ``rev`` names; UsageError when it names none."""
    return _commit(open_repo(repo_path), rev)


def _commit(repo: git.Repo, rev: str) -> str:
    import git

    try:
        return str(repo.git.rev_parse("--verify", "--end-of-options", f"{rev}^{{commit}}"))
    except git.GitCommandError as exc:
        raise UsageError(
            f"{rev!r} names no commit in {repo.working_tree_dir}",
            hint="check the branch or commit name (`git branch --list`, `git log --oneline`)",
        ) from exc


def _git_message(exc: Exception) -> str:
    """What git itself said, without GitPython's framing."""
    text = str(getattr(exc, "stderr", "") or exc).strip()
    text = text.removeprefix("stderr:").strip().strip("'").strip()
    return " ".join(text.split()) or str(exc)


@dataclass(frozen=True)
class _Listed:
    path: Path
    branch: str | None  # None when the worktree's HEAD is detached


def _listed_worktrees(repo: git.Repo) -> list[_Listed]:
    """``git worktree list``; the first entry is the main worktree, the user's checkout."""
    listed = []
    for block in repo.git.worktree("list", "--porcelain").split("\n\n"):
        fields = dict(line.partition(" ")[::2] for line in block.splitlines())
        if "worktree" in fields:
            ref = fields.get("branch")
            listed.append(_Listed(Path(fields["worktree"]).resolve(), ref.removeprefix("refs/heads/") if ref else None))
    return listed


def ensure_branch(repo_path: Path, name: str, start: str) -> str:
    """Branch ``name`` at ``start`` unless it exists already (then it stays where it is); returns its tip.

    Refuses the branch checked out in the user's checkout: the batch never lands work on it."""
    import git

    repo = open_repo(repo_path)
    main = _listed_worktrees(repo)[0]
    if main.branch == name:
        raise UsageError(
            f"{name} is the branch checked out in {main.path}; the batch lands work on a branch of its own, "
            "never on your current branch",
            hint=f"choose another integration branch (the default is harness/afk-<date>), or switch {main.path} "
            "to another branch first",
        )
    if name not in [h.name for h in repo.heads]:
        sha = _commit(repo, start)
        try:
            repo.git.branch("--no-track", name, sha)
        except git.GitCommandError as exc:
            raise UsageError(
                f"cannot create branch {name} at {start}: {_git_message(exc)}",
                hint="choose another branch name (`git check-ref-format --branch NAME` says whether git accepts it)",
            ) from exc
    return _commit(repo, f"refs/heads/{name}")


def is_ancestor(repo_path: Path, rev: str, of: str) -> bool:
    """Whether ``rev`` is ``of`` or one of its ancestors: is its work already part of ``of``?"""
    repo = open_repo(repo_path)
    return repo.is_ancestor(repo.commit(_commit(repo, rev)), repo.commit(_commit(repo, of)))


def ensure_worktree(repo_path: Path, path: Path, branch: str) -> Path:
    """A worktree at ``path`` checked out on the existing ``branch``: the one already there, or a new one.

    ``path`` is harness-owned (under ``.harness/worktrees/``): a directory there that is not a worktree of
    this repository on ``branch`` (a killed run's leftovers, a detached or broken checkout) is removed and
    made again. Local changes in a reused worktree are left alone; :func:`reset_worktree` discards them."""
    import git

    repo = open_repo(repo_path)
    _commit(repo, f"refs/heads/{branch}")
    _worktree(repo, "prune")  # entries whose directory is gone, or no longer points back here
    path = path.resolve()
    listed = _listed_worktrees(repo)
    main = listed[0].path
    if path == main or path in main.parents:
        raise UsageError(
            f"{path} is your checkout (or contains it); the harness will not use it as one of its worktrees",
            hint="the harness keeps its worktrees under .harness/worktrees/ in the repository",
        )
    found = next((w for w in listed if w.path == path), None)
    if found is not None and found.branch == branch:
        return path
    if found is not None:
        with contextlib.suppress(git.GitCommandError):
            _worktree(repo, "remove", "--force", "--force", str(path))
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    _worktree(repo, "prune")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _worktree(repo, "add", str(path), branch)
    except git.GitCommandError as exc:
        raise UsageError(
            f"cannot check out {branch} in {path}: {_git_message(exc)}",
            hint=f"a branch can be checked out in one worktree only; `git worktree list` shows where {branch} is",
        ) from exc
    return path


def reset_worktree(worktree: Path, sha: str) -> None:
    """Put ``worktree`` exactly at ``sha``: no merge in progress, no local change, no untracked or ignored file.

    A killed process's half-written files must not leak into the next attempt. The caller owns the
    worktree and its branch (nothing else runs git on them), so a lock file there was left by a killed git:
    the index's, HEAD's, ORIG_HEAD's, the branch ref's."""
    import git

    repo = git.Repo(worktree)
    for name in ("index.lock", "HEAD.lock", "ORIG_HEAD.lock", "MERGE_HEAD.lock"):
        (Path(repo.git_dir) / name).unlink(missing_ok=True)
    if not repo.head.is_detached:
        clear_ref_lock(worktree, repo.active_branch.name)
    abort_merge(worktree)
    repo.git.reset("--hard", sha)
    repo.git.clean("-ffdx")


def abort_merge(worktree: Path) -> None:
    """Abort the merge in progress in ``worktree``, if there is one."""
    import git

    repo = git.Repo(worktree)
    if (Path(repo.git_dir) / "MERGE_HEAD").exists():
        with contextlib.suppress(git.GitCommandError):  # the caller resets next when it must be clean
            repo.git.merge("--abort")


def checkout(worktree: Path, rev: str, *, detach: bool = False) -> None:
    """Check out branch ``rev`` in ``worktree``, or with ``detach`` the commit it names on a detached HEAD."""
    import git

    git.Repo(worktree).git.checkout(*(["--detach"] if detach else []), rev, "--")


def current_branch(worktree: Path) -> str | None:
    """The branch checked out in ``worktree``; None on a detached HEAD."""
    import git

    repo = git.Repo(worktree)
    return None if repo.head.is_detached else repo.active_branch.name


def merge(worktree: Path, rev: str, message: str) -> list[str]:
    """Merge ``rev`` into ``worktree``'s HEAD as a merge commit (``message``, the harness identity, no
    hooks or signing). Returns the conflicted paths: empty when the merge was committed; otherwise the
    merge is left in progress, conflict markers in the working tree, for the caller to resolve or abort."""
    import git

    repo = git.Repo(worktree)
    try:
        repo.git.execute(
            ["git", *_identity_flags(repo), "merge", "--no-ff", "--no-edit", *_COMMIT_FLAGS, "-m", message, rev]
        )
    except git.GitCommandError as exc:
        conflicts = conflicted_paths(worktree)
        if conflicts:
            return conflicts
        abort_merge(worktree)
        raise UsageError(
            f"cannot merge {rev} in {worktree}: {_git_message(exc)}",
            hint=f"`git -C {worktree} status` shows the worktree's state",
        ) from exc
    return []


def conflicted_paths(worktree: Path) -> list[str]:
    """Paths left unmerged in ``worktree``'s index."""
    import git

    out = git.Repo(worktree).git.diff("--name-only", "--diff-filter=U", "-z")
    return sorted({p for p in str(out).split("\0") if p})


def clear_ref_lock(repo_path: Path, branch: str) -> None:
    """Remove ``refs/heads/<branch>.lock``: only for a branch the caller owns, whose lock a killed git left."""
    import git

    common = Path(git.Repo(repo_path).common_dir)
    (common / "refs" / "heads" / f"{branch}.lock").unlink(missing_ok=True)


def move_branch(repo_path: Path, name: str, sha: str, *, expected: str) -> None:
    """Point branch ``name`` at ``sha``, only if it still points at ``expected`` (one atomic ref update)."""
    import git

    repo = open_repo(repo_path)
    clear_ref_lock(repo_path, name)  # one lander at a time: a lock is a killed lander's
    try:
        repo.git.update_ref("-m", f"harness: {name} to {sha[:12]}", f"refs/heads/{name}", sha, expected)
    except git.GitCommandError as exc:
        raise IncompleteError(
            f"branch {name} moved while the harness was updating it (expected it at {expected[:12]}): "
            f"{_git_message(exc)}",
            hint="run again: the harness starts from the branch's new tip",
        ) from exc


def remove_worktree(repo_path: Path, path: Path) -> None:
    """Remove a harness-owned worktree (its branch stays); nothing to do when it is not there."""
    import git

    repo = open_repo(repo_path)
    if path.exists():
        with contextlib.suppress(git.GitCommandError):
            _worktree(repo, "remove", "--force", str(path))
        shutil.rmtree(path, ignore_errors=True)
    _worktree(repo, "prune")


# Several machines (`harness afk --remote NAME`): each works in its own clone; branches travel through the remote.


def fetch_branch(repo_path: Path, remote: str, branch: str) -> str:
    """Fetch ``branch`` from ``remote`` into ``refs/remotes/<remote>/<branch>``; returns its sha."""
    import git

    repo = open_repo(repo_path)
    try:
        repo.git.fetch("--quiet", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
    except git.GitCommandError as exc:
        raise IncompleteError(
            f"cannot fetch {branch} from {remote}: {_git_message(exc)}",
            hint=f"check that `git fetch {remote}` works in {repo_path} (network, credentials)",
        ) from exc
    return _commit(repo, f"refs/remotes/{remote}/{branch}")


def push_branch(repo_path: Path, remote: str, branch: str, *, force: bool = False) -> None:
    """Push local ``branch`` to ``remote`` (forced only for harness-owned issue branches)."""
    import git

    repo = open_repo(repo_path)
    refspec = ("+" if force else "") + f"refs/heads/{branch}:refs/heads/{branch}"
    try:
        repo.git.push("--quiet", "--no-verify", remote, refspec)
    except git.GitCommandError as exc:
        raise IncompleteError(
            f"cannot push {branch} to {remote}: {_git_message(exc)}",
            hint=f"check that `git push {remote} {branch}` works in {repo_path}; the batch resumes where it stopped",
        ) from exc


def set_branch(repo_path: Path, name: str, sha: str) -> None:
    """Point local branch ``name`` at ``sha`` (created if missing); the caller knows nothing is lost."""
    repo = open_repo(repo_path)
    repo.git.update_ref(f"refs/heads/{name}", sha)


def range_subjects(repo_path: Path, base: str, rev: str) -> list[tuple[str, str]]:
    """(sha, subject) of the commits in ``base..rev``, oldest first."""
    repo = open_repo(repo_path)
    return [(c.hexsha, str(c.message).splitlines()[0]) for c in repo.iter_commits(f"{base}..{rev}")][::-1]


def check_remote(repo_path: Path, remote: str) -> None:
    repo = open_repo(repo_path)
    names = [r.name for r in repo.remotes]
    if remote not in names:
        raise UsageError(
            f"--remote {remote}: no such git remote in {repo_path} (remotes: {', '.join(names) or 'none'})",
            hint=f"add it (`git remote add {remote} URL`) or name one of the existing remotes",
        )


def has_commit(repo_path: Path, sha: str) -> bool:
    import git

    repo = open_repo(repo_path)
    try:
        repo.git.cat_file("-e", f"{sha}^{{commit}}")
    except git.GitCommandError:
        return False
    return True
