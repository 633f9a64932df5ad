"""The OS sandbox (bubblewrap): the boundary around every process that runs agent-written code.

A read-only root, the worktree writable, a private ``/tmp``, no network, its own PID namespace, the
user's home hidden. The bash command policy (:mod:`harness.policy`) is defence in depth on top of
it, never the boundary. See docs/sandbox.md.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from harness.errors import UsageError

__all__ = ["SANDBOX_MODES", "Bwrap", "SandboxMode", "bwrap_problem", "find_bwrap", "sandbox_for"]

SandboxMode = Literal["auto", "bwrap", "none"]
SANDBOX_MODES: tuple[str, ...] = get_args(SandboxMode)


# --------------------------------------------------------------------------------------------
# The OS sandbox: bubblewrap
# --------------------------------------------------------------------------------------------


def _tmp() -> Path:
    return Path(os.path.realpath("/tmp"))


def _under(path: Path, parent: Path) -> bool:
    return path == parent or path.is_relative_to(parent)


def _git_dirs(root: Path) -> tuple[Path | None, Path | None, Path | None]:
    """``(checkout, common, private)`` git directories for ``root``, read from files (no git run).

    For a linked worktree, ``private`` is its own ``.git/worktrees/<name>`` (index, HEAD) and ``common``
    the shared ``.git``; ``checkout`` is the main working tree that holds ``common``.
    """
    for directory in (root, *root.parents):
        dotgit = directory / ".git"
        if dotgit.is_dir():
            return directory, dotgit, dotgit
        if dotgit.is_file():
            try:
                line = dotgit.read_text(encoding="utf-8").strip()
            except OSError:
                return None, None, None
            if not line.startswith("gitdir:"):
                return None, None, None
            private = Path(os.path.realpath(directory / line.split(":", 1)[1].strip()))
            common = private
            commondir = private / "commondir"
            if commondir.is_file():
                common = Path(os.path.realpath(private / commondir.read_text(encoding="utf-8").strip()))
            checkout = common.parent if common.name == ".git" else None
            return checkout, common, private
    return None, None, None


@dataclass(frozen=True)
class Bwrap:
    """Runs a command under bubblewrap: read-only root, writable worktree, private /tmp, no network."""

    executable: str

    def wrap(self, argv: Sequence[str], *, root: Path, env: Mapping[str, str]) -> list[str]:
        root = Path(os.path.realpath(root))
        tmp = _tmp()
        args = [self.executable, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", str(tmp)]
        checkout, common, private = _git_dirs(root)
        # The private /tmp hides whatever lives under it; keep what the command needs visible (read-only).
        visible: list[Path] = [p for p in (checkout, common) if p is not None]
        for name in ("VIRTUAL_ENV", "PATH", "PYTHONPATH"):
            visible += [Path(p) for p in env.get(name, "").split(os.pathsep) if p]
        bound: set[Path] = set()
        for path in visible:
            real = Path(os.path.realpath(path))
            if _under(real, tmp) and real != tmp and real not in bound and real.exists():
                bound.add(real)
                args += ["--ro-bind", str(real), str(real)]
        args += ["--bind", str(root), str(root)]
        if private is not None and common is not None and private != common:
            # The worktree's own index and HEAD, so `git checkout HEAD -- path` works; refs and objects stay read-only.
            args += ["--bind", str(private), str(private)]
        if (root / ".git").is_dir():
            args += ["--ro-bind", str(root / ".git"), str(root / ".git")]
        args += [
            "--unshare-net",
            "--unshare-pid",
            "--die-with-parent",
            "--new-session",
            # Root in the sandbox would otherwise keep CAP_SYS_ADMIN and could remount / read-write.
            "--cap-drop",
            "ALL",
            "--clearenv",
        ]
        for name, value in env.items():
            if name != "TMPDIR":
                args += ["--setenv", name, value]
        args += ["--setenv", "TMPDIR", str(tmp), "--chdir", str(root), "--", *argv]
        return args


def find_bwrap() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def bwrap_problem(executable: str) -> str | None:
    """Why ``executable`` cannot sandbox a command on this machine, or None when it can (cached)."""
    with tempfile.TemporaryDirectory(prefix="harness-bwrap-probe-") as scratch:
        root = Path(scratch)
        argv = Bwrap(executable).wrap(
            ["/bin/sh", "-c", "echo ok > probe && ! touch /harness-bwrap-probe 2>/dev/null"],
            root=root,
            env={"PATH": os.defpath},
        )
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if proc.returncode != 0 or not (root / "probe").is_file():
            detail = proc.stderr.decode("utf-8", "replace").strip() or f"exit code {proc.returncode}"
            return detail.splitlines()[-1]
    return None


def sandbox_for(mode: str, unattended: bool) -> Bwrap | None:
    """The sandbox agents' ``bash`` runs under for configuration ``mode``.

    ``"none"``: no sandbox. ``"bwrap"``: bubblewrap, or a UsageError saying why it cannot run here.
    ``"auto"``: bubblewrap when the run is unattended and bubblewrap works, else none (interactive
    ``harness run`` keeps the user's normal environment).
    """
    if mode not in SANDBOX_MODES:
        raise UsageError(
            f"unknown sandbox mode {mode!r}",
            hint=f"set `sandbox` to one of {', '.join(repr(m) for m in SANDBOX_MODES)} in harness.toml",
        )
    if mode == "none" or (mode == "auto" and not unattended):
        return None
    executable = find_bwrap()
    if executable is None:
        if mode == "auto":
            return None
        raise UsageError(
            'sandbox = "bwrap" but bubblewrap (`bwrap`) is not installed',
            hint="install it (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`), "
            'or set sandbox = "none" in harness.toml',
        )
    problem = bwrap_problem(executable)
    if problem is not None:
        if mode == "auto":
            return None
        raise UsageError(
            f'sandbox = "bwrap" but bubblewrap cannot create a sandbox here: {problem}',
            hint="unprivileged user namespaces may be disabled (check `sysctl kernel.unprivileged_userns_clone` "
            "and, on Ubuntu 24.04+, `kernel.apparmor_restrict_unprivileged_userns`), or the container may not "
            'allow them; see docs/sandbox.md, or set sandbox = "none" in harness.toml',
        )
    return Bwrap(executable)


def _self_test() -> int:
    """``python -m harness.sandbox``: show whether bubblewrap confines a command on this machine."""
    executable = find_bwrap()
    if executable is None:
        print("bwrap: not installed (Debian/Ubuntu: apt-get install bubblewrap)")
        return 1
    problem = bwrap_problem(executable)
    if problem is not None:
        print(f"bwrap: {executable} is installed but cannot create a sandbox: {problem}")
        return 1
    with tempfile.TemporaryDirectory(prefix="harness-sandbox-check-") as scratch:
        base = Path(scratch)
        root = base / "worktree"
        root.mkdir()
        outside = Path(tempfile.mkdtemp(prefix="harness-sandbox-outside-", dir=Path.home()))
        try:
            script = (
                f"touch inside && echo 'worktree write: ok'; "
                f"touch {shlex.quote(str(outside / 'x'))} 2>/dev/null && echo 'write outside: NOT BLOCKED' "
                f"|| echo 'write outside: blocked'; "
                "python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), timeout=3)' 2>/dev/null "
                "&& echo 'network: NOT BLOCKED' || echo 'network: blocked'"
            )
            argv = Bwrap(executable).wrap(["/bin/sh", "-c", script], root=root, env={"PATH": os.environ["PATH"]})
            result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            print(result.stdout.strip())
            confined = (
                (root / "inside").exists() and not (outside / "x").exists() and "NOT BLOCKED" not in result.stdout
            )
        finally:
            shutil.rmtree(outside, ignore_errors=True)
    print(f'bwrap: {executable} works; sandbox = "bwrap" will confine agents\' bash' if confined else "bwrap: FAILED")
    return 0 if confined else 1


if __name__ == "__main__":
    raise SystemExit(_self_test())
