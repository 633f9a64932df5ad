"""Atomic file writes: a crash or a failed write never leaves a half-written user file.

The new content goes to a temp file next to the target (``.<name>.<pid>.<random>.tmp``), is flushed
to disk, and replaces the target with one ``rename``: a reader — or the next run, after a kill at
any moment — sees the old version or the new one, never a mix. A process killed mid-write cannot
remove its temp file; the next write of the same file removes such orphans (their writer's pid no
longer exists), so they do not pile up. A live writer's temp file is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path

_TEMP_SUFFIX = ".tmp"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same directory and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=_TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            # Keep the mode of the file we replace (an executable script stays executable).
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            # mkstemp makes 0600; a new file gets what a plain open() would give it: 0666 less the umask
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def remove_orphaned_temps(path: Path) -> list[Path]:
    """Remove the temp files of ``path`` whose writer process no longer exists; return what was removed.

    Only names this module creates for ``path`` match (``.<name>.<pid>.<random>.tmp``: the random part
    never contains a dot, so another file's temps cannot match). Where liveness cannot be checked
    (not POSIX) nothing is removed.
    """
    if os.name != "posix":
        return []
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[^.]+{re.escape(_TEMP_SUFFIX)}")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or _process_exists(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _process_exists(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: existence and permission check only (POSIX)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # it exists but belongs to someone else, or we cannot tell: leave its file alone
    return True


def _open_parent(root: Path, parts: list[str], *, make: bool) -> int:
    """A descriptor of the directory holding ``root/<parts>`` reached without following any link; with ``make``,
    missing directories are made and a link or file where a directory belongs is replaced (the link itself,
    never what it points to). OSError when it cannot be reached that way."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    fd = os.open(root, flags)
    try:
        for part in parts[:-1]:
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as exc:  # missing, a symlink (ELOOP) or a file (ENOTDIR)
                if not make:
                    raise
                if not isinstance(exc, FileNotFoundError):
                    os.unlink(part, dir_fd=fd)
                os.mkdir(part, 0o777, dir_fd=fd)
                child = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _plain_parts(relpath: str) -> list[str]:
    parts = [part for part in relpath.split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        raise ValueError(f"not a plain relative path: {relpath!r}")
    return parts


def write_inside(root: Path, relpath: str, text: str) -> None:
    """Atomically write ``text`` to ``root/relpath`` without following any link below ``root``.

    For the harness's own files inside a worktree (``.harness/contracts/<id>.md``): an agent may have
    replaced a directory on the way, or the file itself, with a symlink to somewhere outside. Each
    directory is opened with ``O_NOFOLLOW`` relative to the one before (:func:`_open_parent`); the file
    is replaced by a rename within its directory, which never follows a link either.
    """
    parts = _plain_parts(relpath)
    fd = _open_parent(root, parts, make=True)
    try:
        name = parts[-1]
        tmp = f".{name}.{os.getpid()}.{os.urandom(6).hex()}{_TEMP_SUFFIX}"
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=fd)
        try:
            with os.fdopen(out, "wb") as handle:
                handle.write(text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=fd)
            raise
    finally:
        os.close(fd)


def read_inside(root: Path, relpath: str) -> bytes | None:
    """The bytes of ``root/relpath`` if every component is a real directory and the file a regular one (no link
    followed); None otherwise."""
    try:
        parts = _plain_parts(relpath)
        fd = _open_parent(root, parts, make=False)
    except (OSError, ValueError):
        return None
    try:
        # O_NONBLOCK: a FIFO planted where the file belongs must not hang the harness.
        leaf = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        with os.fdopen(leaf, "rb") as handle:
            return handle.read() if stat.S_ISREG(os.fstat(leaf).st_mode) else None
    except OSError:
        return None
    finally:
        os.close(fd)
