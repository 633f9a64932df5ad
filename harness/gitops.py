"""Git: the repo, the issue's worktree and branch, phase commits, diffs.

The user's checkout is never modified: all work happens in a worktree on ``harness/<id>-<slug>``.
GitPython is imported here only, lazily, so commands that do not touch git start fast.

The worktree is hostile input (SPEC §8): its ``.git`` pointer, its ``HEAD`` and whatever config an agent
could plant must never steer the harness's own git. So every git call on a worktree goes through
:class:`Pins`: the git directories the harness recorded when it made the worktree, passed explicitly
(``GIT_DIR``, ``GIT_COMMON_DIR``, ``GIT_WORK_TREE``), never discovered from the worktree, with hooks and
fsmonitor off (:data:`SAFE_OPTIONS`); :func:`tampering` checks that the pointers are still the ones git
wrote. What gets committed is a tree the harness built with an index of its own (:func:`snapshot`), and
that exact tree is what the tests run on (:func:`exported`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
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
# Config nobody may use to make the harness's git run code: hooks (a planted `.git/hooks/*` or `core.hooksPath`),
# an fsmonitor program, the untracked cache an fsmonitor feeds, `ext::` transports.
SAFE_OPTIONS = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "protocol.ext.allow=never",
)


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
    repo.git.set_persistent_git_options(c=[option for option in SAFE_OPTIONS if option != "-c"])
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


def checkout_root(repo: Path) -> Path:
    """The root of the git checkout ``repo`` is in. Unlike a run, which branches from HEAD, planning needs no
    commit: a repository with none yet (an unborn HEAD) is a brand-new project to plan."""
    done = in_checkout(repo, ["rev-parse", "--show-toplevel"])
    if done.returncode == 0 and done.stdout.strip():
        return Path(done.stdout.decode("utf-8", "surrogateescape").strip()).resolve()
    bare = in_checkout(repo, ["rev-parse", "--is-bare-repository"])
    if bare.returncode == 0 and bare.stdout.strip() == b"true":
        raise UsageError(f"{repo} is a bare git repository", hint="run harness in a checkout with a working tree")
    raise UsageError(
        f"{repo} is not inside a git repository",
        hint="run harness inside your project's git repo (`git init` makes one; no commit is needed to plan), "
        "or pass --repo PATH",
    )


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
    _register(repo, path, branch)
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
            _register(repo, path, None)
            made.append(path.resolve())
        yield made
    finally:
        for path in made:
            with contextlib.suppress(Exception):
                _worktree(repo, "remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)


def commit_all(worktree: Path, message: str) -> str:
    """Commit everything in the worktree (respecting .gitignore) on its branch; returns the new commit's sha."""
    return commit_candidate(worktree, snapshot(worktree), message)


def head(worktree: Path) -> str:
    """The commit checked out in the worktree (the lander's is detached at times; for an issue worktree the
    harness checks HEAD against its branch before it acts: :func:`tampering`)."""
    return run_git(worktree, "rev-parse", "--verify", "HEAD^{commit}")


def diff(worktree: Path, base: str, rev: str) -> str:
    """Unified diff between two commits."""
    return run_git(worktree, "diff", "--no-color", "--no-ext-diff", "--no-textconv", base, rev, "--")


def changed_lines(worktree: Path, base: str, rev: str) -> dict[str, set[int]]:
    """Path → the line numbers (in ``rev``) of lines added or changed since ``base``, for files that exist in
    ``rev``."""
    out = run_git(worktree, "diff", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", base, rev)
    lines: dict[str, set[int]] = {}
    current: set[int] | None = None
    for line in out.splitlines():
        if line.startswith("+++ "):
            name = line[4:]
            current = lines.setdefault(name[2:], set()) if name.startswith("b/") else None
        elif line.startswith("@@") and current is not None:
            added = line.split("+", 1)[1].split(" ", 1)[0]
            start, _, count = added.partition(",")
            current.update(range(int(start), int(start) + (int(count) if count else 1)))
    return {path: found for path, found in lines.items() if found}


def commit_subjects(worktree: Path, base: str) -> list[tuple[str, str]]:
    """(sha, subject) of the worktree's commits since ``base``, oldest first."""
    out = run_git(worktree, "log", "--reverse", "--format=%H %s", f"{base}..HEAD", "--")
    return [(line[:40], line[41:]) for line in out.splitlines() if line]


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
        _register(repo, path, branch)
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
    _register(repo, path, branch)
    return path


def reset_worktree(worktree: Path, sha: str) -> None:
    """Put ``worktree`` exactly at ``sha``: no merge in progress, no local change, no untracked or ignored file.

    A killed process's half-written files must not leak into the next attempt. The caller owns the
    worktree and its branch (nothing else runs git on them), so a lock file there was left by a killed git:
    the index's, HEAD's, ORIG_HEAD's, the branch ref's. The worktree's HEAD is rewritten from the harness's
    record first, so a reset can never move a branch an agent pointed it at."""
    p = pins(worktree)
    for name in ("index.lock", "HEAD.lock", "ORIG_HEAD.lock", "MERGE_HEAD.lock"):
        (p.git_dir / name).unlink(missing_ok=True)
    if p.branch is not None:
        clear_ref_lock(p.work_tree, p.branch, common=p.common_dir)
        run_git(p, "symbolic-ref", "HEAD", f"refs/heads/{p.branch}")
    abort_merge(worktree)
    run_git(p, "reset", "--hard", sha)
    run_git(p, "clean", "-ffdx")


def abort_merge(worktree: Path) -> None:
    """Abort the merge in progress in ``worktree``, if there is one."""
    p = pins(worktree)
    if (p.git_dir / "MERGE_HEAD").exists():
        with contextlib.suppress(GitFailed):  # the caller resets next when it must be clean
            run_git(p, "merge", "--abort")


def checkout(worktree: Path, rev: str, *, detach: bool = False) -> None:
    """Check out branch ``rev`` in ``worktree``, or with ``detach`` the commit it names on a detached HEAD."""
    run_git(worktree, "checkout", "--quiet", *(["--detach"] if detach else []), rev, "--")


def current_branch(worktree: Path) -> str | None:
    """The branch checked out in ``worktree``; None on a detached HEAD."""
    try:
        ref = run_git(worktree, "symbolic-ref", "--quiet", "HEAD")
    except GitFailed:
        return None
    return ref.removeprefix("refs/heads/")


def merge(worktree: Path, rev: str, message: str) -> list[str]:
    """Merge ``rev`` into ``worktree``'s HEAD as a merge commit (``message``, the harness identity, no
    hooks or signing). Returns the conflicted paths: empty when the merge was committed; otherwise the
    merge is left in progress, conflict markers in the working tree, for the caller to resolve or abort."""
    p = pins(worktree)
    try:
        run_git(p, *_identity(p), "merge", "--no-ff", "--no-edit", *_COMMIT_FLAGS, "-m", message, rev)
    except GitFailed as exc:
        conflicts = conflicted_paths(worktree)
        if conflicts:
            return conflicts
        abort_merge(worktree)
        raise UsageError(f"cannot merge {rev} in {worktree}: {exc.message}", hint=exc.hint) from exc
    return []


def conflicted_paths(worktree: Path) -> list[str]:
    """Paths left unmerged in ``worktree``'s index."""
    out = run_git(worktree, "diff", "--name-only", "--diff-filter=U", "-z")
    return sorted({p for p in out.split("\0") if p})


def clear_ref_lock(repo_path: Path, branch: str, *, common: Path | None = None) -> None:
    """Remove ``refs/heads/<branch>.lock``: only for a branch the caller owns, whose lock a killed git left."""
    if common is None:
        common = Path(open_repo(repo_path).common_dir)
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


# --------------------------------------------------------------------------- pinned git for worktrees


@dataclass(frozen=True)
class Pins:
    """A worktree's git directories as the harness recorded them: never read back from the worktree."""

    work_tree: Path
    git_dir: Path  # the worktree's own directory (HEAD, index): ``<common>/worktrees/<name>``
    common_dir: Path  # the repository's ``.git``, shared with the user's checkout
    branch: str | None  # None: a detached checkout (the lander's, a throwaway)

    @property
    def tip(self) -> str:
        """The ref the worktree is on by the harness's record: its branch, not the agent-writable HEAD file."""
        return f"refs/heads/{self.branch}" if self.branch else "HEAD"

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment with git pointed here, and no other GIT_* variable steering it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k == "GIT_CONFIG_NOSYSTEM"}
        env.update(GIT_DIR=str(self.git_dir), GIT_WORK_TREE=str(self.work_tree), GIT_TERMINAL_PROMPT="0")
        if self.git_dir != self.common_dir:
            env["GIT_COMMON_DIR"] = str(self.common_dir)
        env.update(extra)
        return env


class GitFailed(UsageError):
    """A pinned git command failed; the message is git's own."""


_PINS: dict[Path, Pins] = {}
_PINS_LOCK = threading.Lock()


def _register(repo: git.Repo, path: Path, branch: str | None) -> Pins:
    """Record the git directories of the worktree at ``path`` right after git made (or checked) it."""
    common = Path(os.path.realpath(repo.common_dir))
    path = Path(os.path.realpath(path))
    private = None
    for candidate in sorted((common / "worktrees").glob("*")):
        try:
            pointer = (candidate / "gitdir").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if Path(os.path.realpath(pointer)) == path / ".git":
            private = candidate
            break
    if private is None:
        raise UsageError(f"git does not list {path} as a worktree of {common.parent}", hint="run `git worktree prune`")
    pins = Pins(work_tree=path, git_dir=Path(os.path.realpath(private)), common_dir=common, branch=branch)
    with _PINS_LOCK:
        _PINS[path] = pins
    return pins


def pins(worktree: Path) -> Pins:
    """The recorded git directories of a worktree this process made or checked; a main checkout's own."""
    path = Path(os.path.realpath(worktree))
    with _PINS_LOCK:
        found = _PINS.get(path)
    if found is not None:
        return found
    dotgit = path / ".git"
    if dotgit.is_dir() and not dotgit.is_symlink():  # a main checkout: its .git is not a pointer to rewrite
        return Pins(work_tree=path, git_dir=dotgit, common_dir=dotgit, branch=None)
    # The harness's worktrees live inside the user's checkout (.harness/worktrees/): find the checkout above
    # the worktree, outside the agent's reach, and ask its repository, never the worktree's pointer file.
    for parent in path.parents:
        if (parent / ".git").is_dir() and not (parent / ".git").is_symlink():
            import git

            repo = git.Repo(parent)
            return _register(repo, path, _branch_from_listing(repo, path))
    raise UsageError(f"{path} is not a worktree of a repository the harness knows", hint="this is a harness bug")


def _branch_from_listing(repo: git.Repo, path: Path) -> str | None:
    listed = next((w for w in _listed_worktrees(repo) if w.path == path), None)
    return listed.branch if listed else None


def _git(
    target: Pins, args: Sequence[str], *, input: bytes | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *SAFE_OPTIONS, *args],
        cwd=target.work_tree,
        env=target.env(**(env or {})),
        input=input,
        capture_output=True,
        check=False,
    )


def in_checkout(
    root: Path, args: Sequence[str], *, input: bytes | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``git ARGS`` in a checkout the user owns (``harness guard``/``review`` on their repository, found by
    git's own discovery from ``root``: no agent wrote its ``.git``), with the same options as every other
    git call of the harness: no hooks, no fsmonitor."""
    return subprocess.run(
        ["git", "-C", str(root), *SAFE_OPTIONS, *args],
        input=input,
        capture_output=True,
        check=False,
        env=dict(env) if env is not None else None,
    )


def run_git(
    where: Pins | Path, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None
) -> str:
    """``git ARGS`` on a pinned worktree (or a main checkout), hooks and fsmonitor off; GitFailed on failure."""
    target = where if isinstance(where, Pins) else pins(where)
    done = _git(target, args, input=input, env=env)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip() or done.stdout.decode("utf-8", "replace").strip()
        raise GitFailed(
            f"`git {' '.join(args[:2])}` failed in {target.work_tree}: {' '.join(message.split())[:2000]}",
            hint=f"`git -C {target.work_tree} status` shows the worktree's state",
        )
    return done.stdout.decode("utf-8", "replace").strip()


def _digest_config(common: Path) -> str:
    """The repository's own config and hooks, as a digest: they are the user's, and nothing may change them."""
    digest = hashlib.sha256()
    for name in ("config", "config.worktree", "info/attributes", "commondir"):
        path = common / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"-") + b"\0")
    hooks = common / "hooks"
    for hook in sorted(hooks.iterdir()) if hooks.is_dir() else []:
        digest.update(hook.name.encode() + b"\0")
        if hook.is_file():
            digest.update(hook.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Seal:
    """What a worktree's pointers and the repository's config looked like when the harness last checked."""

    config: str

    @classmethod
    def of(cls, worktree: Path) -> Seal:
        return cls(config=_digest_config(pins(worktree).common_dir))


def tampering(worktree: Path, *, expected_head: str | None, seal: Seal | None = None) -> str | None:
    """Why the worktree's git state is not what the harness made it, or None.

    Checks the ``.git`` pointer file, the worktree's ``HEAD``, ``commondir`` and back-pointer, a planted
    per-worktree config, the branch tip against the commit the harness last made, and (with ``seal``) the
    repository's config and hooks."""
    p = pins(worktree)
    dotgit = p.work_tree / ".git"
    problems: list[str] = []
    try:
        pointer = dotgit.read_text(encoding="utf-8").strip() if not dotgit.is_symlink() and dotgit.is_file() else None
    except OSError:
        pointer = None
    if pointer is None or Path(os.path.realpath(pointer.removeprefix("gitdir:").strip())) != p.git_dir:
        problems.append(f"the worktree's .git pointer was changed (it must point to {p.git_dir})")
    want_head = f"ref: refs/heads/{p.branch}" if p.branch else None
    head_text = _read(p.git_dir / "HEAD")
    if want_head is not None and head_text != want_head:
        problems.append(f"the worktree's HEAD was changed to {head_text!r} (it must be {want_head!r})")
    if _read(p.git_dir / "commondir") not in ("../..", str(p.common_dir)):
        problems.append("the worktree's commondir was changed")
    back = _read(p.git_dir / "gitdir")
    if back is None or Path(os.path.realpath(back)) != dotgit:
        problems.append("the worktree's gitdir back-pointer was changed")
    if (p.git_dir / "config.worktree").exists():
        problems.append("a per-worktree git config (config.worktree) was planted")
    if seal is not None and _digest_config(p.common_dir) != seal.config:
        problems.append("the repository's git config, attributes or hooks were changed during the run")
    if expected_head is not None and p.branch is not None:
        try:
            tip = run_git(p, "rev-parse", "--verify", "--end-of-options", f"refs/heads/{p.branch}^{{commit}}")
        except GitFailed:
            tip = "(missing)"
        if tip != expected_head:
            problems.append(f"branch {p.branch} was moved to {tip[:12]} (the harness left it at {expected_head[:12]})")
    return "; ".join(problems) or None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() if not path.is_symlink() else None
    except OSError:
        return None


class LimitExceeded(Exception):
    """The change adds more than ``[limits]`` allows; the message tells the model what to do."""


@dataclass(frozen=True)
class AddLimits:
    max_bytes: int
    max_files: int


def _added(p: Pins, index_env: dict[str, str]) -> tuple[int, int, list[tuple[int, str]]]:
    """Files that are new or changed against the harness index, by size: (count of new files, bytes, largest)."""
    out = _git(p, ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"], env=index_env).stdout
    new_files, total, sizes = 0, 0, []
    for entry in out.split(b"\0"):
        if len(entry) < 4:
            continue
        status, rel = entry[:2], entry[3:].decode("utf-8", "surrogateescape")
        if b"D" in status:
            continue
        try:
            info = os.lstat(p.work_tree / rel)
        except OSError:
            continue
        if status == b"??":
            new_files += 1
        total += info.st_size
        sizes.append((info.st_size, rel))
    return new_files, total, sorted(sizes, reverse=True)[:5]


def snapshot(
    worktree: Path,
    *,
    extra: Mapping[str, str] | None = None,
    from_worktree: bool = True,
    limits: AddLimits | None = None,
) -> str:
    """A candidate commit (on no branch) of the worktree as it is, with ``extra`` files (the harness's own
    copies, e.g. the contract) written over it; ``from_worktree=False`` takes HEAD's tree instead of the
    worktree's files. Built with an index of the harness's own, so nothing the agent staged, and no hook,
    takes part. LimitExceeded before anything is written to the object store when the worktree adds more
    than ``limits``."""
    p = pins(worktree)
    with tempfile.TemporaryDirectory(prefix="harness-index-") as scratch:
        index_env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        run_git(p, "read-tree", p.tip, env=index_env)
        if from_worktree:
            if limits is not None:
                new_files, total, largest = _added(p, index_env)
                if new_files > limits.max_files or total > limits.max_bytes:
                    shown = ", ".join(f"{rel} ({size:,} bytes)" for size, rel in largest)
                    raise LimitExceeded(
                        f"the change adds {new_files:,} new file(s) and {total:,} bytes; the limit is "
                        f"{limits.max_files:,} files and {limits.max_bytes:,} bytes ([limits] max_added_files, "
                        f"max_added_bytes). Largest: {shown}. Delete generated files, data and build output "
                        "(or add them to .gitignore), then try again."
                    )
            run_git(p, "add", "-A", env=index_env)
        for rel, text in (extra or {}).items():
            blob = run_git(p, "hash-object", "-w", "--stdin", input=text.encode("utf-8"))
            # --replace: whatever an agent put where the harness's file belongs (a link, a file for a directory) goes
            run_git(p, "update-index", "--add", "--replace", "--cacheinfo", f"100644,{blob},{rel}", env=index_env)
        tree = run_git(p, "write-tree", env=index_env)
    return run_git(p, *_identity(p), "commit-tree", tree, "-p", p.tip, "-m", "harness: candidate")


def _identity(p: Pins) -> list[str]:
    """The harness's name and email for what the user's config does not set (one git call)."""
    found = _git(p, ["config", "--get-regexp", r"^user\.(name|email)$"]).stdout.decode("utf-8", "replace")
    keys = {line.split(" ", 1)[0] for line in found.splitlines()}
    defaults = (("user.name", "harness"), ("user.email", "harness@localhost"))
    return [arg for key, value in defaults if key not in keys for arg in ("-c", f"{key}={value}")]


def commit_candidate(worktree: Path, candidate: str, message: str) -> str:
    """Commit exactly the tree of ``candidate`` (the verified one) on the worktree's branch; the worktree's
    index follows, its files are left as they are. Returns the new commit."""
    p = pins(worktree)
    parent = run_git(p, "rev-parse", "--verify", f"{p.tip}^{{commit}}")
    tree = run_git(p, "rev-parse", "--verify", f"{candidate}^{{tree}}")
    # A merge the harness left in progress (the integration branch brought in for a fix) is concluded here.
    merging = [line.strip() for line in (_read(p.git_dir / "MERGE_HEAD") or "").splitlines() if line.strip()]
    parents = [arg for sha in [parent, *merging] for arg in ("-p", sha)]
    sha = run_git(p, *_identity(p), "commit-tree", tree, *parents, "-m", message)
    run_git(p, "update-ref", "-m", f"harness: {message.splitlines()[0][:60]}", p.tip, sha, parent)
    for name in ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "AUTO_MERGE"):
        (p.git_dir / name).unlink(missing_ok=True)
    run_git(p, "read-tree", sha)
    return sha


@contextlib.contextmanager
def exported(worktree: Path, rev: str) -> Iterator[Path]:
    """A plain directory holding exactly the tree of ``rev``, nothing untracked or ignored: what the tests
    run on. Removed afterwards. No git metadata in it, no checkout hook run."""
    p = pins(worktree)
    parent = Path(tempfile.mkdtemp(prefix="harness-verify-"))
    target = parent / "tree"
    target.mkdir()
    try:
        with tempfile.TemporaryDirectory(prefix="harness-index-") as scratch:
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index"), "GIT_WORK_TREE": str(target)}
            run_git(p, "read-tree", "--reset", "-u", rev, env=env)
        yield target.resolve()
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def read_file_at(worktree: Path, rev: str, relpath: str) -> bytes | None:
    """A file's bytes as committed in ``rev`` (the harness's record, not the worktree's copy)."""
    done = _git(pins(worktree), ["cat-file", "blob", f"{rev}:{relpath}"])
    return done.stdout if done.returncode == 0 else None
