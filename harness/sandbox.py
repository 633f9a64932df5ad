"""The OS sandbox (bubblewrap): the boundary around every process that runs agent-written code.

A read-only root, the worktree writable, a private ``/tmp``, no network, its own PID namespace, the
user's home hidden. The bash command policy (:mod:`harness.policy`) is defence in depth on top of
it, never the boundary. See docs/sandbox.md.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import shlex
import shutil
import subprocess
import sys
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


def _git_dirs(root: Path) -> tuple[Path | None, Path | None]:
    """``(common, private)``: the repository's shared ``.git`` and the worktree's own directory (HEAD, index).

    From the harness's record of the worktree (:func:`harness.gitops.pins`), never from the worktree's ``.git``
    file: the agent can rewrite that, and what it names is bound into the sandbox. None for a directory that is
    no worktree the harness knows (a test run's export, a scratch directory)."""
    from harness import gitops

    try:
        pins = gitops.pins(root)
    except UsageError:
        return None, None
    return pins.common_dir, pins.git_dir


def home_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """The user's home as the harness's environment and the password database name it (often one path)."""
    found: list[Path] = []
    candidates = [(env if env is not None else os.environ).get("HOME", "")]
    with contextlib.suppress(KeyError):
        candidates.append(pwd.getpwuid(os.getuid()).pw_dir)
    for candidate in candidates:
        if candidate and os.path.isabs(candidate):
            real = Path(os.path.realpath(candidate))
            if real != Path("/") and real not in found and real.is_dir():
                found.append(real)
    return found


def toolchain_paths(env: Mapping[str, str]) -> list[Path]:
    """What a command needs to see of a hidden home or ``/tmp`` to run the project's tools (read-only).

    The interpreters the harness and the test command run on (``sys.prefix``, the base installation a
    virtualenv was made from), the virtualenv, every ``PATH`` and ``PYTHONPATH`` entry, and, for
    version managers that put ``shims`` on ``PATH`` (pyenv, rbenv, asdf), the manager's root. Nothing
    else of the home: no ``.ssh``, ``.aws``, ``.netrc``, ``.gitconfig``, shell history or browser profile.
    """
    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, env.get("VIRTUAL_ENV", "")]
    for name in ("PATH", "PYTHONPATH"):
        for entry in env.get(name, "").split(os.pathsep):
            if not entry or not os.path.isabs(entry):
                continue
            paths.append(entry)
            if os.path.basename(entry.rstrip("/")) == "shims":
                paths.append(os.path.dirname(entry.rstrip("/")))
    seen: list[Path] = []
    for entry in paths:
        if entry and os.path.exists(entry):
            real = Path(os.path.realpath(entry))
            if real not in seen:
                seen.append(real)
    return seen


@dataclass(frozen=True)
class Bwrap:
    """Runs a command under bubblewrap: the boundary around everything that runs agent-written code.

    The file system is read-only, with the user's home and ``/tmp`` replaced by empty private ones; the
    root (the worktree, or a harness-made checkout) is writable unless the caller asks for read-only;
    the repository's git directory is read-only (nothing in the sandbox can move a ref, write an object
    or plant a hook), except a writable worktree's own ``HEAD`` and index; no network; its own PID namespace (the
    harness's processes and their ``/proc/PID/environ`` are invisible, and everything started inside
    dies with the command); no capabilities; exactly the environment given.
    """

    executable: str

    def wrap(
        self,
        argv: Sequence[str],
        *,
        root: Path,
        env: Mapping[str, str],
        writable: bool = True,
        visible: Sequence[Path] = (),
    ) -> list[str]:
        """``argv`` wrapped to run in the sandbox, in ``root``; ``visible`` are extra read-only paths."""
        root = Path(os.path.realpath(root))
        tmp = _tmp()
        homes = home_dirs()
        args = [self.executable, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", str(tmp)]
        hidden = [tmp]
        for home in homes:
            if _under(home, tmp):
                args += ["--dir", str(home)]  # under the private /tmp: hidden already, there but empty
            elif not _under(tmp, home):
                args += ["--tmpfs", str(home)]
                hidden.append(home)
        common, private = _git_dirs(root)
        # Hidden places (the private /tmp and home) keep what the command needs, bound back read-only.
        wanted: list[Path] = [*toolchain_paths(env), *visible]
        if common is not None:
            wanted.append(common)  # read-only: `git status`, `git diff`, `git show REV:path` work
        bound: set[Path] = set()
        for path in wanted:
            real = Path(os.path.realpath(path))
            if (
                real not in bound
                and real.exists()
                and any(_under(real, h) and real != h for h in hidden)
            ):
                bound.add(real)
                args += ["--ro-bind", str(real), str(real)]
        args += ["--bind" if writable else "--ro-bind", str(root), str(root)]
        if writable and private is not None and common is not None and private != common:
            # The worktree's own index and HEAD, so `git checkout HEAD -- path` works. The harness never reads
            # them back (gitops.Pins); a changed HEAD or pointer blocks the issue (gitops.tampering).
            args += ["--bind", str(private), str(private)]
        if (root / ".git").is_dir():
            args += ["--ro-bind", str(root / ".git"), str(root / ".git")]
        # A home for tools that expect one: empty, private, gone when the command ends.
        sandbox_home = str(homes[0]) if homes else str(tmp)
        args += [
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--die-with-parent",
            "--new-session",
            # Root in the sandbox would otherwise keep CAP_SYS_ADMIN and could remount / read-write.
            "--cap-drop",
            "ALL",
            "--clearenv",
        ]
        for name, value in env.items():
            if name not in ("TMPDIR", "HOME"):
                args += ["--setenv", name, value]
        args += ["--setenv", "TMPDIR", str(tmp), "--setenv", "HOME", sandbox_home]
        args += ["--chdir", str(root), "--", *argv]
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


_INSTALL = "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`)"
_NAMESPACES = (
    "unprivileged user namespaces may be disabled (check `sysctl kernel.unprivileged_userns_clone` and, on "
    "Ubuntu 24.04+, `kernel.apparmor_restrict_unprivileged_userns`), or a container may not allow them; "
    "see docs/sandbox.md"
)


def sandbox_problem() -> tuple[str, str] | None:
    """Why no sandbox can run on this machine, with how to fix it; None when bubblewrap works."""
    executable = find_bwrap()
    if executable is None:
        return "bubblewrap (`bwrap`) is not installed", _INSTALL
    problem = bwrap_problem(executable)
    if problem is not None:
        return f"bubblewrap cannot create a sandbox here: {problem}", _NAMESPACES
    return None


def sandbox_for(mode: str, *, unattended: bool) -> Bwrap | None:
    """The sandbox every process that runs agent-written code runs under, for configuration ``mode``.

    ``"auto"`` (the default) and ``"bwrap"``: bubblewrap. Where it cannot run, ``"bwrap"`` is a
    UsageError, and so is ``"auto"`` for an unattended run (a batch never runs agents unconfined
    without being told to); an attended ``"auto"`` run goes on without one, loudly
    (:func:`unsandboxed_warning`). ``"none"``: no sandbox, the user's explicit choice, also loud.
    """
    if mode not in SANDBOX_MODES:
        raise UsageError(
            f"unknown sandbox mode {mode!r}",
            hint=f"set `sandbox` to one of {', '.join(repr(m) for m in SANDBOX_MODES)} in harness.toml",
        )
    if mode == "none":
        return None
    problem = sandbox_problem()
    if problem is None:
        executable = find_bwrap()
        assert executable is not None
        return Bwrap(executable)
    why, fix = problem
    if mode == "auto" and not unattended:
        return None
    subject = 'sandbox = "bwrap"' if mode == "bwrap" else "an unattended run needs the sandbox, but"
    raise UsageError(
        f"{subject} {why}",
        hint=f'{fix}; or, to run agents without it (they then act with your permissions), set sandbox = "none" '
        "in harness.toml",
    )


def unsandboxed_warning(mode: str) -> str:
    """What a run without the sandbox tells the user, every time."""
    if mode == "none":
        why = 'sandbox = "none" in the configuration'
    else:
        problem = sandbox_problem()
        why = problem[0] if problem else "the sandbox is off"
    return (
        f"warning: no sandbox ({why}). Agents' commands and the tests they write run with your permissions: "
        "they can read your files and reach the network. Run `harness doctor` to see what this machine needs."
    )


def check_machine() -> tuple[bool, list[str]]:
    """Whether the sandbox confines a command on this machine, shown by doing it: a write in the worktree, a write
    outside it, a look at the home, the network. Lines for people; used by ``harness doctor``."""
    problem = sandbox_problem()
    if problem is not None:
        why, fix = problem
        return False, [f"sandbox: NOT AVAILABLE: {why}", f"  fix: {fix}", '  (or opt out with sandbox = "none")']
    executable = find_bwrap()
    assert executable is not None
    lines = [f"bwrap: {executable}"]
    with tempfile.TemporaryDirectory(prefix="harness-sandbox-check-") as scratch:
        root = Path(scratch) / "worktree"
        root.mkdir()
        homes = home_dirs()
        outside = Path(tempfile.mkdtemp(prefix="harness-sandbox-outside-", dir=homes[0] if homes else None))
        try:
            script = (
                "touch inside && echo 'worktree write: ok'; "
                f"touch {shlex.quote(str(outside / 'x'))} 2>/dev/null && echo 'write outside: NOT BLOCKED' "
                "|| echo 'write outside: blocked'; "
                f"ls {shlex.quote(str(outside))} >/dev/null 2>&1 && echo 'home: VISIBLE' || echo 'home: hidden'; "
                "python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), timeout=3)' 2>/dev/null "
                "&& echo 'network: NOT BLOCKED' || echo 'network: blocked'; "
                f"test -e /proc/{os.getpid()}/environ && echo 'harness process: VISIBLE' "
                "|| echo 'harness process: hidden'"
            )
            argv = Bwrap(executable).wrap(["/bin/sh", "-c", script], root=root, env={"PATH": os.environ["PATH"]})
            result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            lines += result.stdout.strip().splitlines()
            confined = (
                (root / "inside").exists()
                and not (outside / "x").exists()
                and "NOT BLOCKED" not in result.stdout
                and "VISIBLE" not in result.stdout
            )
        finally:
            shutil.rmtree(outside, ignore_errors=True)
    tools = ", ".join(str(p) for p in toolchain_paths(dict(os.environ)) if any(_under(p, h) for h in home_dirs()))
    lines.append(f"home: hidden except the toolchain: {tools or '(nothing under it is needed)'}")
    lines.append(
        'sandbox: works; sandbox = "auto" (the default) confines agents\' commands and every test run'
        if confined
        else "sandbox: FAILED to confine the command above"
    )
    return confined, lines


def _self_test() -> int:
    """``python -m harness.sandbox``: show whether bubblewrap confines a command on this machine."""
    ok, lines = check_machine()
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(_self_test())
