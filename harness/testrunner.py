"""Run a target repository's test suite and read its results from pytest itself.

The only place the harness learns what passed and what failed. Results come from a small
pytest plugin (``_pytest_report_plugin``) that sends JSON at session finish over an inherited
pipe, stamped with a nonce the harness gave it on another; an agent's summary of a run is never
trusted. The suite runs in the sandbox (the code under test is the agent's), where it can write
nothing but its own checkout. Whether red is red and green is green is decided elsewhere, from the
:class:`TestReport` returned here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from harness.envscrub import scrubbed_env
from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.sandbox import Bwrap

Outcome = Literal["passed", "failed", "error", "skipped", "xfailed", "xpassed"]

PLUGIN_MODULE = "_harness_report_plugin"
REPORT_FD_ENV = "HARNESS_PYTEST_REPORT_FD"
NONCE_FD_ENV = "HARNESS_PYTEST_NONCE_FD"
# --continue-on-collection-errors: a new test file importing a module that does not exist
# yet must not hide the results of every other test.
PYTEST_ARGS = (
    "-p",
    PLUGIN_MODULE,
    "-p",
    "no:cacheprovider",
    "-q",
    "-rN",
    "--color=no",
    "--continue-on-collection-errors",
)
MAX_MESSAGE = 2000
MAX_COLLECT_MESSAGE = 4000
TAIL_CHARS = 6000

_OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))
_FAILING = frozenset({"failed", "error"})
_HINT = (
    "set test_command in the harness configuration to a command that runs pytest, e.g. "
    '["python", "-m", "pytest"], or install it in the environment the harness runs in'
)


class TestRunError(UsageError):
    """The test command could not be started at all."""

    __test__ = False  # not a pytest test class, despite the name


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False

    nodeid: str
    outcome: Outcome  # "failed": the call phase failed; "error": setup or teardown failed
    phase: str  # "setup" | "call" | "teardown": where the decisive report came from
    exc_type: str | None
    message: str
    duration: float


@dataclass(frozen=True)
class CollectionError:
    nodeid: str
    exc_type: str | None
    message: str


@dataclass(frozen=True)
class TestReport:
    __test__ = False

    outcomes: dict[str, TestOutcome]
    collection_errors: tuple[CollectionError, ...]
    collected: int
    exit_code: int  # pytest's exit code, or minus the signal number when it was killed
    timed_out: bool
    duration: float
    output_tail: str
    # False when the plugin sent no report: pytest could not start, crashed, or was killed.
    ran: bool = True
    # Why the report cannot be believed (a forged or second report, a wrong nonce); the run did not count.
    tampered: str | None = None

    def passed(self) -> frozenset[str]:
        return frozenset(nodeid for nodeid, o in self.outcomes.items() if o.outcome == "passed")

    def failed(self) -> frozenset[str]:
        return frozenset(nodeid for nodeid, o in self.outcomes.items() if o.outcome in _FAILING)

    def outcome(self, nodeid: str) -> TestOutcome | None:
        return self.outcomes.get(nodeid)


def run_tests(
    workdir: Path,
    command: Sequence[str],
    *,
    node_ids: Sequence[str] = (),
    timeout: float = 900.0,
    env: Mapping[str, str] | None = None,
    sandbox: Bwrap | None = None,
) -> TestReport:
    """Run ``command`` (a pytest invocation) in ``workdir`` and return what pytest reported.

    ``workdir`` holds agent-written code: with ``sandbox`` the whole run is confined to it. Never raises
    for a failing, crashing, hanging or tampering suite; raises :class:`TestRunError` only when the
    command cannot be started.
    """
    if not command:
        raise TestRunError("the test command is empty", hint=_HINT)
    workdir = Path(workdir).resolve()
    scratch = Path(tempfile.mkdtemp(prefix="harness-pytest-"))
    nonce = secrets.token_hex(16)
    nonce_read, nonce_write = os.pipe()
    os.write(nonce_write, nonce.encode("ascii"))  # far below a pipe's buffer: never blocks
    os.close(nonce_write)
    report_read, report_write = os.pipe()
    child_fds = [report_write, nonce_read]  # the child's ends, closed here once it has them
    reader: _PipeReader | None = None
    try:
        plugin_dir = scratch / "plugin"
        plugin_dir.mkdir()
        (plugin_dir / f"{PLUGIN_MODULE}.py").write_text(_plugin_source(), encoding="utf-8")
        log_path = scratch / "output.log"
        child_env = _child_env(workdir, plugin_dir, env)
        child_env[REPORT_FD_ENV], child_env[NONCE_FD_ENV] = str(report_write), str(nonce_read)
        argv = [_resolve_executable(command[0], child_env, workdir), *command[1:], *PYTEST_ARGS, *node_ids]
        if sandbox is not None:
            argv = sandbox.wrap(argv, root=workdir, env=child_env, visible=[plugin_dir])
        reader = _PipeReader(report_read)
        started = time.monotonic()
        with open(log_path, "wb") as log:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=workdir,
                    env=child_env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=tuple(child_fds),
                )
            except OSError as exc:
                raise TestRunError(
                    f"cannot start the test command {_show(command)} in {workdir}: {exc}", hint=_HINT
                ) from exc
            finally:
                _close_all(child_fds)
            exit_code, timed_out = _wait(proc, timeout)
        duration = time.monotonic() - started
        data, tampered = _read_report(reader.result(), nonce)
        report = _build_report(data, exit_code, timed_out, duration, _read_tail(log_path), root=workdir)
        if tampered is not None:
            report = dataclasses.replace(report, ran=False, tampered=tampered)
        return report
    finally:
        _close_all(child_fds)
        if reader is not None:
            reader.close()
        else:
            os.close(report_read)
        shutil.rmtree(scratch, ignore_errors=True)


def _close_all(fds: list[int]) -> None:
    while fds:
        os.close(fds.pop())


class _PipeReader:
    """Drains the report pipe on a thread, so a large report never blocks the suite (bounded in size)."""

    LIMIT = 64 * 1024 * 1024

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.chunks: list[bytes] = []
        self.size = 0
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(self.fd, 1 << 16):
                if self.size < self.LIMIT:
                    self.chunks.append(chunk)
                self.size += len(chunk)

    def result(self, grace: float = 5.0) -> bytes | None:
        """What arrived; None when something still holds the pipe open after the suite ended (a process that
        escaped, without the sandbox), or when it was more than a report can be."""
        self.thread.join(grace)
        if self.thread.is_alive() or self.size > self.LIMIT:
            return None
        return b"".join(self.chunks)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _read_report(raw: bytes | None, nonce: str) -> tuple[dict[str, Any] | None, str | None]:
    """The plugin's report and, when it cannot be believed, why (SPEC §8: the suite is hostile input)."""
    if raw is None:
        return None, "the report channel was held open or flooded by the code under test"
    if not raw.strip():
        return None, None  # no report: pytest never finished (crashed, killed, or the interpreter was ended)
    try:
        text = raw.decode("utf-8")
        data, end = json.JSONDecoder().raw_decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "the test report was not one the harness's plugin writes (garbled or forged)"
    if text[end:].strip():
        return None, "more than one test report arrived: something besides the harness's plugin wrote one"
    if not isinstance(data, dict) or not hmac.compare_digest(str(data.get("nonce", "")), nonce):
        return None, "the test report does not carry the harness's nonce: it was forged"
    if not _is_report(data):
        return None, "the test report was not one the harness's plugin writes (garbled or forged)"
    return data, None


def _plugin_source() -> str:
    return resources.files("harness").joinpath("_pytest_report_plugin.py").read_text(encoding="utf-8")


def _show(command: Sequence[str]) -> str:
    return "`" + " ".join(command) + "`"


def _child_env(workdir: Path, plugin_dir: Path, env: Mapping[str, str] | None) -> dict[str, str]:
    child = scrubbed_env(env)
    paths = [str(plugin_dir), str(workdir)]
    if (workdir / "src").is_dir():
        paths.append(str(workdir / "src"))
    if child.get("PYTHONPATH"):
        paths.append(child["PYTHONPATH"])
    child["PYTHONPATH"] = os.pathsep.join(paths)
    # The harness commits the worktree: no __pycache__ in it.
    child["PYTHONDONTWRITEBYTECODE"] = "1"
    # The output tail is what is left to read after a crash or a kill: nothing may sit in a buffer.
    child["PYTHONUNBUFFERED"] = "1"
    return child


def _resolve_executable(name: str, env: Mapping[str, str], workdir: Path) -> str:
    if os.sep in name or (os.altsep and os.altsep in name):
        # A path: relative ones are meant relative to the repository; Popen reports a missing one.
        return str(workdir / name)
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found:
        return found
    if name in ("python", "python3"):
        return sys.executable
    raise TestRunError(f"cannot start the test command {_show([name])}: {name!r} is not on PATH", hint=_HINT)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, bool]:
    """Wait for ``proc``; kill its whole process group on timeout (and any leftovers after)."""
    try:
        exited = _wait_unreaped(proc, timeout)
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    # Also reaps processes the suite left running in the background. Safe only while the
    # leader is unreaped: until then its pid, the group id, cannot be reused.
    if proc.returncode is None:
        _kill_group(proc)
    return proc.wait(), not exited


def _wait_unreaped(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """True when ``proc`` exited within ``timeout``; where the OS allows, it is left unreaped."""
    if not hasattr(os, "waitid"):
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _read_tail(path: Path, chars: int = TAIL_CHARS) -> str:
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            # Up to 4 bytes a character in UTF-8; the suite's output may be huge, read only the end.
            handle.seek(max(0, size - 4 * chars))
            data = handle.read()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")[-chars:]


def _is_report(data: object) -> bool:
    """``data`` has the shape :func:`_build_report` reads."""
    if not isinstance(data, dict) or not _is_opt(data.get("collected"), int) or (data.get("collected") or 0) < 0:
        return False
    tests, errors = data.get("tests", []), data.get("collection_errors", [])
    if not isinstance(tests, list) or not isinstance(errors, list):
        return False
    entries = [*tests, *errors]
    if not all(isinstance(item, dict) and isinstance(item.get("nodeid"), str) for item in entries):
        return False
    text_fields = ("outcome", "phase", "exc_type", "message")
    return all(_is_opt(item.get(key), str) for item in entries for key in text_fields) and all(
        _is_duration(item.get("duration")) for item in tests
    )


def _is_opt(value: object, kind: Any) -> bool:
    return value is None or (isinstance(value, kind) and not isinstance(value, bool))


def _is_duration(value: object) -> bool:
    if value is None:
        return True
    if not _is_opt(value, int | float):
        return False
    try:
        return math.isfinite(cast(float, value))
    except OverflowError:  # an integer too large for a float
        return False


def _build_report(
    data: dict[str, Any] | None, exit_code: int, timed_out: bool, duration: float, tail: str, *, root: Path
) -> TestReport:
    # Paths inside the checkout are shown relative to it: the agent knows the tree as ``tests/x.py``,
    # not as a temp dir that changes from run to run (which also keeps failure fingerprints stable).
    prefix = f"{root}{os.sep}"
    tail = tail.replace(prefix, "")
    if data is None:
        return TestReport(
            outcomes={},
            collection_errors=(),
            collected=0,
            exit_code=exit_code,
            timed_out=timed_out,
            duration=duration,
            output_tail=tail,
            ran=False,
        )
    outcomes: dict[str, TestOutcome] = {}
    for item in data.get("tests", []):
        outcome = str(item.get("outcome"))
        test = TestOutcome(
            nodeid=str(item["nodeid"]),
            outcome=cast(Outcome, outcome if outcome in _OUTCOMES else "error"),
            phase=str(item.get("phase") or "call"),
            exc_type=_opt_str(item.get("exc_type")),
            message=str(item.get("message") or "").replace(prefix, "")[:MAX_MESSAGE],
            duration=float(item.get("duration") or 0.0),
        )
        outcomes[test.nodeid] = test
    errors = tuple(
        CollectionError(
            nodeid=str(item["nodeid"]),
            exc_type=_opt_str(item.get("exc_type")),
            message=str(item.get("message") or "").replace(prefix, "")[-MAX_COLLECT_MESSAGE:],
        )
        for item in data.get("collection_errors", [])
    )
    return TestReport(
        outcomes=outcomes,
        collection_errors=errors,
        collected=int(data.get("collected") or 0),
        exit_code=exit_code,
        timed_out=timed_out,
        duration=duration,
        output_tail=tail,
        ran=True,
    )


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
