"""harness.testrunner against the real pytest, on small throwaway projects."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness import _pytest_report_plugin as plugin
from harness.testrunner import TestReport, TestRunError, run_tests

PYTEST = [sys.executable, "-m", "pytest"]

CORE_TESTS = """
import os

import pytest

from pkg import mod


def test_adds():
    assert mod.add(1, 2) == 3


def test_assertion():
    assert mod.add(1, 2) == 4


def test_not_implemented():
    mod.todo()


def test_missing_function():
    mod.missing()


def test_missing_fixture(no_such_fixture):
    pass


def test_skipped():
    pytest.skip("not today")


@pytest.mark.xfail(reason="known bug")
def test_expected_failure():
    assert mod.add(2, 2) == 5


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown broke")


def test_teardown_error(broken_teardown):
    pass


@pytest.mark.parametrize("value", [1, "two"])
def test_param(value):
    assert value


class TestThing:
    def test_method(self):
        assert True


def test_environment():
    assert "ANTHROPIC_API_KEY" not in os.environ
    assert os.environ["PYTHONDONTWRITEBYTECODE"] == "1"
"""

MOD = """
def add(a, b):
    return a + b


def todo():
    raise NotImplementedError("todo is not written yet")
"""

CORE_IDS = {
    f"tests/test_core.py::{name}"
    for name in (
        "test_adds",
        "test_assertion",
        "test_not_implemented",
        "test_missing_function",
        "test_missing_fixture",
        "test_skipped",
        "test_expected_failure",
        "test_teardown_error",
        "test_param[1]",
        "test_param[two]",
        "TestThing::test_method",
        "test_environment",
    )
}


def write_project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TestReport]:
    root = write_project(
        tmp_path_factory.mktemp("mixed"),
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": MOD,
            "tests/test_core.py": CORE_TESTS,
            "tests/test_missing_import.py": "import not_a_real_module\n\ndef test_x():\n    pass\n",
            "tests/test_broken_syntax.py": "def test_x(:\n    pass\n",
        },
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANTHROPIC_API_KEY", "sk-ant-must-not-leak")
        return root, run_tests(root, PYTEST)


def test_all_passing_src_layout(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "src/pkg/__init__.py": "",
            "src/pkg/mod.py": MOD,
            "tests/test_ok.py": """
                from pkg import mod

                def test_one():
                    assert mod.add(1, 1) == 2

                def test_two():
                    assert mod.add(0, 0) == 0
            """,
        },
    )

    report = run_tests(tmp_path, PYTEST)

    assert report.ran and not report.timed_out
    assert report.exit_code == 0
    assert report.collected == 2
    assert report.passed() == {"tests/test_ok.py::test_one", "tests/test_ok.py::test_two"}
    assert report.failed() == frozenset()
    assert report.collection_errors == ()


def test_mixed_run_counts_what_pytest_collected(mixed: tuple[Path, TestReport]) -> None:
    _, report = mixed
    assert report.ran
    assert report.exit_code == 1
    assert set(report.outcomes) == CORE_IDS
    assert report.collected == len(CORE_IDS)  # files that failed to collect contribute no items
    assert "failed" in report.output_tail


def test_assertion_failure(mixed: tuple[Path, TestReport]) -> None:
    result = mixed[1].outcome("tests/test_core.py::test_assertion")
    assert result is not None
    assert (result.outcome, result.phase, result.exc_type) == ("failed", "call", "AssertionError")
    assert "assert 3 == 4" in result.message


def test_not_implemented_error(mixed: tuple[Path, TestReport]) -> None:
    result = mixed[1].outcomes["tests/test_core.py::test_not_implemented"]
    assert (result.outcome, result.phase, result.exc_type) == ("failed", "call", "NotImplementedError")
    assert "todo is not written yet" in result.message


def test_attribute_error_from_missing_function(mixed: tuple[Path, TestReport]) -> None:
    result = mixed[1].outcomes["tests/test_core.py::test_missing_function"]
    assert (result.outcome, result.exc_type) == ("failed", "AttributeError")
    assert "missing" in result.message


def test_missing_fixture_is_a_setup_error(mixed: tuple[Path, TestReport]) -> None:
    result = mixed[1].outcomes["tests/test_core.py::test_missing_fixture"]
    assert (result.outcome, result.phase, result.exc_type) == ("error", "setup", "FixtureLookupError")
    assert "fixture 'no_such_fixture' not found" in result.message


def test_teardown_error_after_passing_call(mixed: tuple[Path, TestReport]) -> None:
    result = mixed[1].outcomes["tests/test_core.py::test_teardown_error"]
    assert (result.outcome, result.phase, result.exc_type) == ("error", "teardown", "RuntimeError")


def test_skip_and_xfail(mixed: tuple[Path, TestReport]) -> None:
    report = mixed[1]
    skipped = report.outcomes["tests/test_core.py::test_skipped"]
    xfailed = report.outcomes["tests/test_core.py::test_expected_failure"]
    assert (skipped.outcome, skipped.message) == ("skipped", "not today")
    assert (xfailed.outcome, xfailed.exc_type) == ("xfailed", "AssertionError")


def test_failed_and_passed_sets(mixed: tuple[Path, TestReport]) -> None:
    report = mixed[1]
    assert report.failed() == {
        "tests/test_core.py::test_assertion",
        "tests/test_core.py::test_not_implemented",
        "tests/test_core.py::test_missing_function",
        "tests/test_core.py::test_missing_fixture",
        "tests/test_core.py::test_teardown_error",
    }
    assert report.passed() == {
        "tests/test_core.py::test_adds",
        "tests/test_core.py::test_param[1]",
        "tests/test_core.py::test_param[two]",
        "tests/test_core.py::TestThing::test_method",
        "tests/test_core.py::test_environment",
    }


def test_missing_module_is_a_collection_error(mixed: tuple[Path, TestReport]) -> None:
    errors = {error.nodeid: error for error in mixed[1].collection_errors}
    error = errors["tests/test_missing_import.py"]
    assert error.exc_type == "ModuleNotFoundError"
    assert "No module named 'not_a_real_module'" in error.message


def test_messages_name_files_relative_to_the_checkout(mixed: tuple[Path, TestReport]) -> None:
    # A temp checkout's path changes from run to run: shown to the agent it is noise, and in a failure's
    # fingerprint it would make the same failure look new each time (the run would never be "stuck").
    root, report = mixed
    error = {e.nodeid: e for e in report.collection_errors}["tests/test_missing_import.py"]
    assert "'tests/test_missing_import.py'" in error.message
    texts = [error.message, report.output_tail, *(o.message for o in report.outcomes.values())]
    assert not [t for t in texts if str(root.resolve()) in t]


def test_syntax_error_is_a_collection_error(mixed: tuple[Path, TestReport]) -> None:
    errors = {error.nodeid: error for error in mixed[1].collection_errors}
    error = errors["tests/test_broken_syntax.py"]
    assert error.exc_type == "SyntaxError"
    assert "def test_x(:" in error.message
    assert set(errors) == {"tests/test_missing_import.py", "tests/test_broken_syntax.py"}


def test_api_key_is_not_visible_to_the_suite(mixed: tuple[Path, TestReport]) -> None:
    result = mixed[1].outcomes["tests/test_core.py::test_environment"]
    assert result.outcome == "passed", result.message


def test_leaves_no_bytecode_or_cache_in_the_workdir(mixed: tuple[Path, TestReport]) -> None:
    root, _ = mixed
    junk = [p for p in root.rglob("*") if p.name in ("__pycache__", ".pytest_cache") or p.suffix == ".pyc"]
    assert junk == []


def test_node_ids_select_only_those_tests(mixed: tuple[Path, TestReport]) -> None:
    root, _ = mixed
    wanted = {"tests/test_core.py::test_param[two]", "tests/test_core.py::TestThing::test_method"}

    report = run_tests(root, PYTEST, node_ids=sorted(wanted))

    assert report.collected == 2
    assert set(report.outcomes) == wanted
    assert report.passed() == wanted
    assert report.exit_code == 0


def test_hanging_suite_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    write_project(
        tmp_path,
        {
            "tests/test_hang.py": f"""
                import subprocess, sys, time

                def test_hang():
                    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
                    with open({str(pid_file)!r}, "w") as handle:
                        handle.write(str(child.pid))
                    time.sleep(60)
            """,
        },
    )
    started = time.monotonic()

    report = run_tests(tmp_path, PYTEST, timeout=2)

    assert time.monotonic() - started < 10
    assert report.timed_out
    assert not report.ran
    assert report.outcomes == {}
    assert report.exit_code == -signal.SIGKILL
    child = int(pid_file.read_text())
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # A killed child of an exited parent may linger as a zombie until init reaps it.
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


def test_suite_that_exits_hard_returns_a_report_without_results(tmp_path: Path) -> None:
    write_project(tmp_path, {"tests/test_exit.py": "import os\n\ndef test_exit():\n    os._exit(3)\n"})

    report = run_tests(tmp_path, PYTEST)

    assert not report.ran
    assert not report.timed_out
    assert report.exit_code == 3
    assert report.outcomes == {}
    assert report.collection_errors == ()


def test_unknown_executable_raises(tmp_path: Path) -> None:
    with pytest.raises(TestRunError) as raised:
        run_tests(tmp_path, ["no-such-test-runner-xyz", "-m", "pytest"])
    assert "no-such-test-runner-xyz" in str(raised.value)
    assert "test_command" in str(raised.value)


def test_missing_executable_path_raises(tmp_path: Path) -> None:
    with pytest.raises(TestRunError):
        run_tests(tmp_path, [str(tmp_path / "venv" / "bin" / "python"), "-m", "pytest"])


@pytest.mark.parametrize(
    ("longrepr", "expected"),
    [
        (
            "ImportError while importing test module '/p/tests/test_x.py'.\n"
            "Hint: make sure your test modules/packages have valid Python names.\n"
            "Traceback:\ntests/test_x.py:1: in <module>\n    import nope\n"
            "E   ModuleNotFoundError: No module named 'nope'",
            "ModuleNotFoundError",
        ),
        (
            "ImportError while importing test module '/p/tests/test_x.py'.\nTraceback:\n"
            "tests/test_x.py:1: in <module>\n    from pkg.mod import nothere\n"
            "E   ImportError: cannot import name 'nothere' from 'pkg.mod' (/p/pkg/mod.py)",
            "ImportError",
        ),
        (
            'E     File "/p/tests/test_x.py", line 1\nE       def f(:\nE             ^\n'
            "E   SyntaxError: invalid syntax",
            "SyntaxError",
        ),
        (
            'E     File "/p/t.py", line 3\nE       y = 2\nE   IndentationError: unexpected indent',
            "IndentationError",
        ),
        ("tests/test_x.py:1: in <module>\n    x\nE   NameError: name 'x' is not defined", "NameError"),
        ("tests/t.py:1: in <module>\n    boom()\nE   pkg.errors.BoomError: bad", "BoomError"),
        ("ImportError while importing test module '/p/t.py'.\nTraceback:\n(no E line)", "ImportError"),
        ("something pytest printed", None),
    ],
)
def test_plugin_reads_exception_names_from_collection_longreprs(longrepr: str, expected: str | None) -> None:
    # The path the plugin takes when it did not see the exception itself (e.g. under xdist).
    assert plugin._exc_type_from_text(longrepr) == expected


@pytest.mark.parametrize(
    ("longrepr", "expected"),
    [
        (
            "    def test_a():\n>       assert 1 == 2\nE       assert 1 == 2\n\ntests/t.py:2: AssertionError",
            "AssertionError",
        ),
        ("E       fixture 'db' not found\n>       available fixtures: tmp_path", "FixtureLookupError"),
        ("E   pkg.errors.BoomError: bad", "BoomError"),
    ],
)
def test_plugin_reads_exception_names_from_test_longreprs(longrepr: str, expected: str) -> None:
    report = pytest.TestReport(
        nodeid="tests/t.py::test_a",
        location=("tests/t.py", 1, "test_a"),
        keywords={},
        outcome="failed",
        longrepr=longrepr,
        when="call",
    )
    assert plugin._exc_type_of(report) == expected


SPY_CONFTEST = """
import os

import pytest

SEEN_AT_IMPORT = os.environ.get("HARNESS_PYTEST_REPORT_FD")


@pytest.fixture
def seen_at_import():
    return SEEN_AT_IMPORT
"""

SPY_TESTS = """
import json
import os
import subprocess
import sys
from pathlib import Path


def test_conftest_did_not_see_it(seen_at_import):
    assert seen_at_import is None


def test_the_test_does_not_see_it():
    assert os.environ.get("HARNESS_PYTEST_REPORT_FD") is None


def test_a_child_process_does_not_see_it():
    code = "import os; print(os.environ.get('HARNESS_PYTEST_REPORT_FD'))"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "None"


def test_forges_a_green_report_if_it_can():
    path = os.environ.get("HARNESS_PYTEST_REPORT_FD")
    if path:  # what a cheating test would do with the variable
        test = {"outcome": "passed", "phase": "call", "exc_type": None, "message": "", "duration": 0.0}
        tests = [dict(test, nodeid=f"tests/test_spy.py::{name}") for name in ("test_really_fails",)]
        report = {"version": 1, "pytest_version": "0", "rootdir": ".", "exit_status": 0, "collected": 1,
                  "tests": tests, "collection_errors": []}
        Path(path).write_text(json.dumps(report))
        os._exit(0)


def test_really_fails():
    assert 1 + 1 == 3
"""


def test_the_suite_cannot_see_where_the_report_goes(tmp_path: Path) -> None:
    write_project(tmp_path, {"conftest.py": SPY_CONFTEST, "tests/test_spy.py": SPY_TESTS})

    report = run_tests(tmp_path, PYTEST)

    assert report.ran and report.collected == 5
    assert report.passed() == {
        "tests/test_spy.py::test_conftest_did_not_see_it",
        "tests/test_spy.py::test_the_test_does_not_see_it",
        "tests/test_spy.py::test_a_child_process_does_not_see_it",
        "tests/test_spy.py::test_forges_a_green_report_if_it_can",
    }
    assert report.failed() == {"tests/test_spy.py::test_really_fails"}


# A test that finds the report pipe among its open descriptors and writes a green report into it, then ends the
# interpreter before the plugin can write the real one. It cannot know the nonce, so the harness must not believe it.
FORGE_THROUGH_THE_PIPE = """
import json
import os

FORGED = {"version": 1, "pytest_version": "0", "rootdir": ".", "exit_status": 0, "collected": 1,
          "tests": [{"nodeid": "tests/test_forge.py::test_really_fails", "outcome": "passed", "phase": "call",
                     "exc_type": None, "message": "", "duration": 0.0}],
          "collection_errors": [], "nonce": "guessed"}


def test_really_fails():
    for name in os.listdir("/proc/self/fd"):
        try:
            os.write(int(name), json.dumps(FORGED).encode())
        except OSError:
            pass
    {ending}
    assert 1 + 1 == 3
"""


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="lists descriptors through /proc (Linux)")
@pytest.mark.parametrize(
    ("ending", "why"),
    [
        ("os._exit(0)", "nonce"),  # only the forged report arrives
        ("pass", "more than one test report"),  # the forged one, then the plugin's own
    ],
)
def test_a_report_forged_through_the_pipe_is_never_believed(tmp_path: Path, ending: str, why: str) -> None:
    write_project(tmp_path, {"tests/test_forge.py": FORGE_THROUGH_THE_PIPE.replace("{ending}", ending)})

    report = run_tests(tmp_path, PYTEST)

    assert not report.ran
    assert report.passed() == frozenset()
    assert report.tampered is not None and why in report.tampered


def test_a_report_without_the_nonce_is_tampered_and_a_missing_one_is_not() -> None:
    from harness.testrunner import _read_report

    good = {"collected": 0, "tests": [], "collection_errors": [], "nonce": "n1"}
    assert _read_report(json.dumps(good).encode(), "n1") == (good, None)
    assert _read_report(json.dumps({**good, "nonce": "n2"}).encode(), "n1")[1] is not None
    assert _read_report(json.dumps(good).encode() * 2, "n1")[1] is not None
    assert _read_report(b"", "n1") == (None, None)
    assert _read_report(None, "n1")[1] is not None
