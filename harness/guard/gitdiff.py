"""A git range as :class:`FileChange` objects, fast enough for a pre-commit hook.

Plain ``git`` subprocesses (GitPython costs start-up time ``harness guard`` cannot afford): one
``git diff --raw`` for what changed and the blob ids, ``git ls-files --others`` for untracked files
when the head is the working tree, and every blob in ONE ``git cat-file --batch`` process.
Working-tree texts are read from disk.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import subprocess
import threading
import tokenize
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from harness import gitops
from harness.errors import UsageError
from harness.guard.model import ChangeStatus, FileChange

MAX_TEXT_BYTES = 1_000_000  # larger files get no text: no rule needs to read a megabyte of one file
BINARY_SNIFF = 8192  # a NUL byte in the first 8 KiB means binary, as git decides
DEFAULT_BRANCHES = ("main", "master")

_STATUS: dict[str, ChangeStatus] = {
    "A": "added",
    "C": "added",  # a copy is a new file (copies are only reported with -C, which is not used)
    "D": "deleted",
    "M": "modified",
    "R": "renamed",
    "T": "modified",  # type change, e.g. a file became a symlink
    "U": "modified",  # unmerged
}
_NO_TEXT_MODES = ("160000", "000000")  # a submodule commit, or nothing on that side
_LINK_MODE = "120000"
_TOO_LARGE = f"larger than {MAX_TEXT_BYTES // 1_000_000} MB"
_NOT_A_REPO = "not a git repository"  # in git's error message


def find_root(path: Path) -> Path:
    """The top-level directory of the git work tree containing ``path``."""
    if not path.exists():
        raise UsageError(f"{path}: no such directory", hint="pass --repo PATH with an existing git repository")
    out = git_output(path, "rev-parse", "--show-toplevel").strip()
    return Path(os.fsdecode(out))


def resolve(repo_root: Path, rev: str) -> str:
    """The full commit id ``rev`` names. ``HEAD`` in a repository with no commits yet is the empty tree,
    so a pre-commit hook on the first commit sees every file as added."""
    if not rev or rev.startswith("-"):
        raise UsageError(f"`{rev}` is not a git revision", hint="pass a branch, tag or commit id, e.g. --base main")
    done = _run(repo_root, ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
    if done.returncode == 0:
        return done.stdout.decode().strip()
    if _NOT_A_REPO in done.stderr.decode(errors="replace").lower():
        raise _not_a_repo(repo_root)
    if rev == "HEAD" and _unborn(repo_root):
        return empty_tree(repo_root)
    if len(rev) >= 40 and rev == empty_tree(repo_root):
        return rev
    raise UsageError(
        f"`{rev}` is not a commit in {repo_root}",
        hint="pass an existing branch, tag or commit id (`git log --oneline --all` lists them); "
        "for a remote branch, `git fetch` it first",
    )


def empty_tree(repo_root: Path) -> str:
    """The id of the empty tree in this repository's hash format."""
    return git_output(repo_root, "hash-object", "-t", "tree", "--stdin", stdin=b"").decode().strip()


def current_branch(repo_root: Path) -> str | None:
    """The checked-out branch's short name; None on a detached HEAD."""
    done = _run(repo_root, ["symbolic-ref", "--quiet", "HEAD"])
    ref = done.stdout.decode(errors="surrogateescape").strip()
    return ref.removeprefix("refs/heads/") if done.returncode == 0 and ref else None


def is_branch(repo_root: Path, name: str) -> bool:
    """Whether ``name`` is a local branch (``--head feature``), not a commit or another kind of revision."""
    return _run(repo_root, ["show-ref", "--verify", "--quiet", f"refs/heads/{name}"]).returncode == 0


def default_branch(repo_root: Path) -> tuple[str, str] | None:
    """(ref, short name) of the default branch: origin/HEAD's target, else main, else master."""
    out = git_output(
        repo_root,
        "for-each-ref",
        "--format=%(refname)%00%(symref)",
        "refs/remotes/origin/HEAD",
        *(f"refs/heads/{name}" for name in DEFAULT_BRANCHES),
        *(f"refs/remotes/origin/{name}" for name in DEFAULT_BRANCHES),
    ).decode(errors="surrogateescape")
    refs = dict(line.split("\0", 1) for line in out.splitlines() if "\0" in line)
    target = refs.get("refs/remotes/origin/HEAD")
    if target and (target in refs or _run(repo_root, ["rev-parse", "--verify", "--quiet", target]).returncode == 0):
        return target, target.removeprefix("refs/remotes/origin/")
    for name in DEFAULT_BRANCHES:
        for ref in (f"refs/heads/{name}", f"refs/remotes/origin/{name}"):
            if ref in refs:
                return ref, name
    return None


def default_base(repo_root: Path, head: str = "HEAD") -> str | None:
    """What ``head`` is compared with by default: its merge base with the default branch, as a pull request's
    "Files changed" shows it. ``"HEAD"`` when ``head`` is HEAD and HEAD is the default branch (or has no
    commits yet): the working tree against its last commit. None when there is no default branch to fork
    from (the caller decides: the working tree compares with HEAD, a review asks for ``--base``).

    ``head`` is a revision (``--head feature``), not necessarily what is checked out: the base follows it,
    so reviewing a branch from ``main`` does not report main's newer commits as the branch deleting them.
    """
    if head == "HEAD" and _unborn(repo_root):
        return "HEAD"
    default = default_branch(repo_root)
    if default is None:
        return None
    ref, name = default
    if head == "HEAD" and current_branch(repo_root) == name:
        return "HEAD"
    done = _run(repo_root, ["merge-base", head, ref])
    if done.returncode != 0:
        raise UsageError(
            f"{'HEAD' if head == 'HEAD' else f'`{head}`'} and the default branch `{name}` have no common history "
            f"in {repo_root}",
            hint="pass the commit to compare against with --base REF",
        )
    return done.stdout.decode().strip()


def collect_changes(repo_root: Path, base: str, head: str | None = None) -> list[FileChange]:
    """Every file that differs between ``base`` and ``head`` (a commit), or the working tree when ``head``
    is None (tracked changes, staged or not, and untracked files that are not ignored).

    Renames are detected (``-M``). Texts are UTF-8, or decoded with a PEP 263 coding cookie; binary,
    undecodable, larger than 1 MB, submodule and absent sides are None, and for the head side
    ``unreadable`` says why (a symbolic link's text is its target, and it says so too).
    """
    base_id = resolve(repo_root, base)
    head_id = resolve(repo_root, head) if head is not None else None
    args = ["diff", "--raw", "-z", "-M", "--no-abbrev", "--no-ext-diff", "--no-textconv", base_id]
    if head_id is not None:
        args.append(head_id)
    entries = _parse_raw(git_output(repo_root, *args))
    if head_id is None:
        entries = _add_untracked(repo_root, entries)

    wanted: set[str] = set()
    for entry in entries:
        if entry.status != "added" and entry.old_mode not in _NO_TEXT_MODES:
            wanted.add(entry.old_id)
        if head_id is not None and entry.status != "deleted" and entry.new_mode not in _NO_TEXT_MODES:
            wanted.add(entry.new_id)
    reasons: dict[str, str] = {}
    blobs = read_blobs(repo_root, wanted, reasons)

    changes = []
    for entry in entries:
        old_text = blobs.get(entry.old_id) if entry.status != "added" and entry.old_mode not in _NO_TEXT_MODES else None
        unreadable: str | None = None
        if entry.status == "deleted" or entry.new_mode in _NO_TEXT_MODES:
            new_text = None
        elif head_id is not None:
            new_text = blobs.get(entry.new_id)
            unreadable = reasons.get(entry.new_id)
        else:
            new_text, unreadable = _read_worktree(repo_root, entry.path)
        if entry.new_mode == _LINK_MODE and entry.status != "deleted":
            unreadable = "a symbolic link"
        changes.append(FileChange(entry.path, entry.status, old_text, new_text, entry.old_path, unreadable))
    return sorted(changes, key=lambda change: change.path)


def read_blobs(
    repo_root: Path, ids: Iterable[str], reasons: dict[str, str] | None = None
) -> dict[str, str | None]:
    """Blob id -> text for every id, through one ``git cat-file --batch`` process; ``reasons`` gets why a
    blob has no text."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    try:
        proc = subprocess.Popen(
            ["git", "-C", str(repo_root), *gitops.SAFE_OPTIONS, "cat-file", "--batch", "--buffer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise _no_git() from exc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    request = "".join(f"{object_id}\n" for object_id in ids).encode()
    # The writer runs alongside the reader: git answers while it reads, and a full pipe must not deadlock.
    writer = threading.Thread(target=_feed, args=(proc.stdin, request), daemon=True)
    writer.start()
    texts: dict[str, str | None] = {}
    try:
        for object_id in ids:
            text, why = _read_one(proc.stdout)
            texts[object_id] = text
            if why is not None and reasons is not None:
                reasons[object_id] = why
    except BaseException:
        proc.kill()  # so that neither git nor the writer waits on a reader that has gone
        raise
    finally:
        writer.join()
        proc.stdout.close()
        stderr = proc.stderr.read()
        proc.stderr.close()
        returncode = proc.wait()
    if returncode != 0:
        raise UsageError(f"git cat-file failed in {repo_root}: {stderr.decode(errors='replace').strip()}")
    return texts


def decode(data: bytes) -> str | None:
    """UTF-8 text (or text in the encoding a PEP 263 coding cookie names), or None for binary (a NUL in the
    first 8 KiB) or undecodable content."""
    return _decode(data)[0]


def _decode(data: bytes) -> tuple[str | None, str | None]:
    """(text, None), or (None, why not)."""
    if b"\0" in data[:BINARY_SNIFF]:
        return None, "binary"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    # A Python file re-encoded with a coding cookie (`# -*- coding: latin-1 -*-`) is still Python source.
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        if encoding not in ("utf-8", "utf-8-sig"):
            return data.decode(encoding), None
    except (SyntaxError, LookupError, UnicodeDecodeError):
        pass
    return None, "not decodable text"


# --------------------------------------------------------------------------- internals


class _Entry:
    __slots__ = ("new_id", "new_mode", "old_id", "old_mode", "old_path", "path", "status")

    def __init__(self, path: str, status: ChangeStatus, old_mode: str, new_mode: str, old_id: str, new_id: str) -> None:
        self.path = path
        self.status: ChangeStatus = status
        self.old_mode, self.new_mode, self.old_id, self.new_id = old_mode, new_mode, old_id, new_id
        self.old_path: str | None = None


def _parse_raw(out: bytes) -> list[_Entry]:
    """``git diff --raw -z`` output: ``:<old mode> <new mode> <old id> <new id> <status>\\0<path>\\0``,
    with a second path for renames and copies."""
    tokens = out.split(b"\0")
    entries = []
    i = 0
    while i < len(tokens) and tokens[i]:
        old_mode, new_mode, old_id, new_id, code = tokens[i].decode().lstrip(":").split(" ")
        status = _STATUS.get(code[0], "modified")
        if code[0] in "RC":
            old_path, path = os.fsdecode(tokens[i + 1]), os.fsdecode(tokens[i + 2])
            i += 3
        else:
            old_path, path = None, os.fsdecode(tokens[i + 1])
            i += 2
        entry = _Entry(path, status, old_mode, new_mode, old_id, new_id)
        if status == "renamed":
            entry.old_path = old_path
        entries.append(entry)
    return entries


def _add_untracked(repo_root: Path, entries: list[_Entry]) -> list[_Entry]:
    out = git_output(repo_root, "ls-files", "--others", "--exclude-standard", "-z")
    untracked = [os.fsdecode(p) for p in out.split(b"\0") if p and not p.endswith(b"/")]  # "dir/": a nested repo
    if not untracked:
        return entries
    deleted = {e.path: e for e in entries if e.status == "deleted"}
    for path in untracked:
        if path in deleted:  # removed from the index (`git rm --cached`) but still on disk: it changed, or not
            entry = deleted.pop(path)
            entry.status, entry.new_mode = "modified", "100644"
        else:
            entries.append(_Entry(path, "added", "000000", "100644", "", ""))
    return entries


def _read_worktree(repo_root: Path, path: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, why not); a symbolic link's text is its target (as git stores it)."""
    full = os.path.join(repo_root, path)
    try:
        info = os.lstat(full)
        if stat.S_ISLNK(info.st_mode):
            return os.readlink(full), "a symbolic link"
        if not stat.S_ISREG(info.st_mode):  # a submodule, a directory where a file was
            return None, "not a regular file"
        if info.st_size > MAX_TEXT_BYTES:
            return None, _TOO_LARGE
        with open(full, "rb") as handle:
            data = handle.read()
    except OSError:  # vanished or unreadable
        return None, "unreadable"
    return _decode(data)


def _feed(stdin: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError):  # git died; the reader reports it
        try:
            stdin.write(data)
        finally:
            stdin.close()


def _read_one(stdout: IO[bytes]) -> tuple[str | None, str | None]:
    header = stdout.readline()
    if not header:
        raise UsageError("git cat-file stopped answering", hint="check the repository with `git fsck`")
    parts = header.split()
    if len(parts) != 3:  # "<id> missing" / "<id> ambiguous"
        return None, "missing"
    object_type, size = parts[1], int(parts[2])
    if object_type != b"blob" or size > MAX_TEXT_BYTES:
        _skip(stdout, size + 1)
        return None, _TOO_LARGE if object_type == b"blob" else "not a file"
    data = stdout.read(size)
    stdout.read(1)  # the newline after the content
    return _decode(data)


def _skip(stdout: IO[bytes], count: int) -> None:
    while count > 0:
        chunk = stdout.read(min(count, 1 << 20))
        if not chunk:
            return
        count -= len(chunk)


def _unborn(repo_root: Path) -> bool:
    """True when HEAD names a branch that has no commits yet."""
    return (
        _run(repo_root, ["rev-parse", "--verify", "--quiet", "HEAD"]).returncode != 0
        and _run(repo_root, ["symbolic-ref", "--quiet", "HEAD"]).returncode == 0
    )


def _run(repo_root: Path, args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return gitops.in_checkout(repo_root, args, input=stdin)
    except FileNotFoundError as exc:
        raise _no_git() from exc


def git_output(repo_root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    done = _run(repo_root, list(args), stdin)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        if _NOT_A_REPO in message.lower():
            raise _not_a_repo(repo_root)
        raise UsageError(
            f"`git {' '.join(args[:2])}` failed in {repo_root}: {message.splitlines()[-1] if message else 'no output'}",
            hint="check the repository and the revisions you passed",
        )
    return done.stdout


def _not_a_repo(repo_root: Path) -> UsageError:
    return UsageError(
        f"{repo_root} is not inside a git repository",
        hint="run the command inside a git work tree, or pass --repo PATH",
    )


def _no_git() -> UsageError:
    return UsageError("git is not installed or not on PATH", hint="install git and make sure `git --version` works")
