"""A pytest plugin that sends the session's results as JSON to ``harness.testrunner``.

It runs inside the target repository's Python, which may not have ``harness`` installed:
the runner copies this file's text to a temp directory and loads it with
``-p _harness_report_plugin``. So: the standard library and pytest only.

The channel is two inherited file descriptors, named by ``HARNESS_PYTEST_REPORT_FD`` (the report
goes there, once, at session finish) and ``HARNESS_PYTEST_NONCE_FD`` (the harness wrote a random
nonce there and closed its end). Both variables are taken out of the environment, the nonce is read
and its descriptor closed, and the report descriptor is made non-inheritable, all as soon as this
module is imported (``-p`` plugins load before any conftest.py). There is no report file for the
code under test to overwrite, and inside the sandbox it can write nothing outside its checkout. A
report without the nonce, a second document, or bytes written to the descriptor by anything else make
the harness treat the run as tampered with, never as passed.
"""

from __future__ import annotations

import json
import os
import re
import sysconfig
from collections.abc import Generator
from typing import Any

import _pytest
import pluggy
import pytest

REPORT_FD_ENV = "HARNESS_PYTEST_REPORT_FD"
NONCE_FD_ENV = "HARNESS_PYTEST_NONCE_FD"
RECORDER_NAME = "harness-report-recorder"
REPORT_VERSION = 1
MAX_MESSAGE = 2000
MAX_COLLECT_MESSAGE = 4000

# Set on reports so the type name survives pytest-xdist, which ships reports between
# processes as JSON and keeps unknown JSON-safe attributes.
_EXC_ATTR = "harness_exc_type"

# "E   ModuleNotFoundError: No module named 'x'", "E   pkg.errors.Boom", "E   SyntaxError: ..."
_E_LINE = re.compile(r"^E\s+(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*)(?::\s|:?\s*$)")
# reprcrash messages: "AssertionError: assert 1 == 2", "mod.Error: boom", "Failed: DID NOT RAISE"
_HEAD = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*)(?::\s|:?$)")
# The last line of a long-style traceback entry: "tests/test_x.py:6: AssertionError"
_LOCATION_TYPE = re.compile(r"^\S.*:\d+: (?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*)$")
_FIXTURE_NOT_FOUND = re.compile(r"fixture '[^']+' not found")
_PHASES = ("setup", "call", "teardown")
_PYTEST_WRAPPERS = {"CollectError", "ConftestImportFailure"}
# "path/to/file.py:12: in func" and "<frozen importlib._bootstrap>:1204: in _gcd_import"
_FRAME = re.compile(r"^(\S.*?):\d+: in \S")


def _dir_prefix(path: str) -> str:
    return os.path.join(os.path.normcase(os.path.abspath(path)), "")


# Frames in these directories are the import machinery, not the user's code.
_TOOL_DIRS = (_dir_prefix(os.path.dirname(_pytest.__file__)), _dir_prefix(os.path.dirname(pluggy.__file__)))
_STDLIB_DIR = _dir_prefix(sysconfig.get_paths()["stdlib"])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _clip_tail(text: str, limit: int) -> str:
    # For tracebacks the end (the innermost frame and the error line) is what matters.
    if len(text) <= limit:
        return text
    head, _, _ = text.partition("\n")
    head = _clip(head, limit // 4)
    return head + "\n...\n" + text[-(limit - len(head) - 5) :]


def _looks_like_exception_name(name: str) -> bool:
    return name[:1].isupper() and (
        name.endswith(("Error", "Exception", "Exit", "Interrupt", "Warning", "Iteration"))
        or name in {"Failed", "Skipped", "XFailed"}
    )


def _exc_type_from_text(text: str) -> str | None:
    """The most specific exception name in a longrepr's text, or None."""
    names = [m.group(1) for line in text.splitlines() if (m := _E_LINE.match(line))]
    # The last "E" line is the outermost exception of a chain, the one that ended the test.
    for name in reversed(names):
        if _looks_like_exception_name(name):
            return name
    if text.startswith("ImportError while importing test module"):
        return "ImportError"
    return None


def _crash_message(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # skips: (path, lineno, "Skipped: reason")
        message = str(longrepr[2])
        return message.removeprefix("Skipped: ")
    reprcrash = getattr(longrepr, "reprcrash", None)
    if reprcrash is not None:
        return str(reprcrash.message)
    errorstring = getattr(longrepr, "errorstring", None)  # FixtureLookupErrorRepr
    if errorstring:
        return str(errorstring).strip()
    text = str(longrepr)
    e_lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    return "\n".join(e_lines) if e_lines else text.strip()


def _exc_type_of(report: pytest.TestReport) -> str | None:
    recorded = getattr(report, _EXC_ATTR, None)
    if isinstance(recorded, str):
        return recorded
    if report.passed:
        return None
    # Without the recorded name (reports from another process): read the repr.
    text = str(report.longrepr)
    for line in reversed(text.splitlines()):
        match = _LOCATION_TYPE.match(line)
        if match and _looks_like_exception_name(match.group(1)):
            return match.group(1)
    match = _HEAD.match(_crash_message(report))
    if match and _looks_like_exception_name(match.group(1)):
        return match.group(1)
    if _FIXTURE_NOT_FOUND.search(text):
        return "FixtureLookupError"
    return _exc_type_from_text(text)


def _root_cause_name(exc: BaseException) -> str:
    # pytest wraps import failures (CollectError, ConftestImportFailure) "from" the real exception.
    while type(exc).__name__ in _PYTEST_WRAPPERS and exc.__cause__ is not None:
        exc = exc.__cause__
    return type(exc).__name__


def _is_noise_frame(location: str) -> bool:
    if location.startswith("<frozen "):
        return True
    path = os.path.normcase(location)
    if path.startswith(_TOOL_DIRS):
        return True
    # Without a venv, third-party packages live under the stdlib directory.
    return path.startswith(_STDLIB_DIR) and "site-packages" not in path and "dist-packages" not in path


def _trim_traceback(text: str) -> str:
    """Drop the importlib and pytest frames of a short-style traceback; keep the rest."""
    kept: list[str] = []
    dropping = False
    for line in text.splitlines():
        if line.startswith("Hint: make sure your test modules"):
            continue
        location = _FRAME.match(line)
        if location:
            dropping = _is_noise_frame(location.group(1))
        elif not line.startswith((" ", "\t")):
            dropping = False  # "E   ..." lines and headers end a frame
        if not dropping:
            kept.append(line)
    trimmed = "\n".join(kept).strip()
    return trimmed or text.strip()


def _combine(nodeid: str, phases: dict[str, pytest.TestReport]) -> dict[str, Any]:
    """One outcome for a test from its setup/call/teardown reports."""
    setup, call, teardown = (phases.get(when) for when in _PHASES)
    duration = sum(rep.duration for rep in phases.values())

    decisive: pytest.TestReport
    if setup is not None and setup.failed:
        decisive, outcome = setup, "error"
    elif call is not None and call.failed:
        decisive, outcome = call, "failed"
    elif teardown is not None and teardown.failed:
        decisive, outcome = teardown, "error"
    elif setup is not None and setup.skipped:
        decisive = setup
        outcome = "xfailed" if hasattr(setup, "wasxfail") else "skipped"
    elif call is not None:
        decisive = call
        xfail = hasattr(call, "wasxfail")
        if call.skipped:
            outcome = "xfailed" if xfail else "skipped"
        else:
            outcome = "xpassed" if xfail else "passed"
    else:
        decisive = next(iter(phases.values()))
        outcome = "passed" if decisive.passed else "error"

    if outcome in ("passed", "xpassed"):
        exc_type, message = None, ""
    elif outcome == "skipped":
        exc_type, message = None, _crash_message(decisive)
    else:
        exc_type = _exc_type_of(decisive)
        message = _crash_message(decisive)
        if outcome == "xfailed" and not message:
            message = str(getattr(decisive, "wasxfail", ""))
    return {
        "nodeid": nodeid,
        "outcome": outcome,
        "phase": decisive.when,
        "exc_type": exc_type,
        "message": _clip(message, MAX_MESSAGE),
        "duration": round(duration, 6),
    }


class _Recorder:
    def __init__(self, fd: int, nonce: str) -> None:
        self.fd = fd
        self.nonce = nonce
        self.collected = 0
        self.tests: dict[str, dict[str, pytest.TestReport]] = {}
        self.collection_errors: list[dict[str, Any]] = []

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        result = yield
        report: pytest.TestReport = result.get_result()
        if call.excinfo is not None:
            setattr(report, _EXC_ATTR, call.excinfo.typename)

    def pytest_exception_interact(
        self, node: pytest.Item | pytest.Collector, call: pytest.CallInfo[Any], report: Any
    ) -> None:
        if isinstance(report, pytest.CollectReport) and call.excinfo is not None:
            setattr(report, _EXC_ATTR, _root_cause_name(call.excinfo.value))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected = len(session.items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not report.failed:
            return
        text = str(report.longrepr)
        recorded = getattr(report, _EXC_ATTR, None)
        exc_type = recorded if isinstance(recorded, str) else _exc_type_from_text(text)
        self.collection_errors.append(
            {
                "nodeid": report.nodeid,
                "exc_type": exc_type,
                "message": _clip_tail(_trim_traceback(text), MAX_COLLECT_MESSAGE),
            }
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.outcome == "rerun":  # pytest-rerunfailures: only the last attempt counts
            self.tests.pop(report.nodeid, None)
            return
        self.tests.setdefault(report.nodeid, {})[report.when or "call"] = report

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        data = {
            "version": REPORT_VERSION,
            "pytest_version": pytest.__version__,
            "rootdir": str(session.config.rootpath),
            "exit_status": int(exitstatus),
            "collected": self.collected,
            "tests": [_combine(nodeid, phases) for nodeid, phases in self.tests.items()],
            "collection_errors": self.collection_errors,
        }
        data["nonce"] = self.nonce
        payload = json.dumps(data).encode("utf-8")
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(self.fd, view) :]
        finally:
            os.close(self.fd)


def _channel() -> tuple[int, str] | None:
    """The report descriptor and the nonce, taken out of reach of the suite; None outside the harness."""
    report_fd, nonce_fd = os.environ.pop(REPORT_FD_ENV, None), os.environ.pop(NONCE_FD_ENV, None)
    if not report_fd or not nonce_fd:
        return None
    try:
        fd, source = int(report_fd), int(nonce_fd)
        nonce = b""
        while chunk := os.read(source, 256):
            nonce += chunk
        os.close(source)
        os.set_inheritable(fd, False)  # processes the suite starts never get it
    except (ValueError, OSError):
        return None
    return fd, nonce.decode("ascii", "replace")


# Taken at import, not in pytest_configure: the initial conftest.py files are imported in between.
# pytest-xdist starts its workers later, from this environment, so they never see the variables; they
# need no channel anyway, since they forward their reports to the controller, which sends the one report.
_CHANNEL = _channel()


def pytest_configure(config: pytest.Config) -> None:
    if _CHANNEL is None or hasattr(config, "workerinput"):
        return
    config.pluginmanager.register(_Recorder(*_CHANNEL), RECORDER_NAME)
