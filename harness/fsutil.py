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
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
