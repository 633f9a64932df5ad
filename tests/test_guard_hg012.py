"""HG012 test-report-tampering, both ways: it fires on code that reaches for the harness's test report or ends
the test process, and stays silent on the honest look-alikes. Plain data in, findings out."""

from __future__ import annotations

from textwrap import dedent

import pytest

from harness import _pytest_report_plugin as plugin
from harness import testrunner
from harness.guard.model import Allowance, FileChange, GuardContext, GuardFinding
from harness.guard.rules import RULES, check

TEST = "tests/test_cli.py"

BASE_TESTS = """
import subprocess
import sys

import pytest

from app.cli import main


def test_bad_flag_exits_with_2():
    with pytest.raises(SystemExit) as exited:
        main(["--bogus"])
    assert exited.value.code == 2
"""


def src(text: str) -> str:
    return dedent(text).lstrip("\n")


def added(path: str, new: str) -> FileChange:
    return FileChange(path, "added", None, src(new))


def modified(path: str, old: str, new: str) -> FileChange:
    assert src(old) != src(new), "the edit did not apply: the test would prove nothing"
    return FileChange(path, "modified", src(old), src(new))


def only(findings: list[GuardFinding], rule: str) -> GuardFinding:
    """The one finding, and it is of ``rule``: nothing else fired."""
    assert [f.rule for f in findings] == [rule], [(f.rule, f.line, f.message) for f in findings]
    return findings[0]


def with_test(body: str) -> str:
    """BASE_TESTS plus one new test whose body is ``body`` (one line, indented by four)."""
    return src(BASE_TESTS) + f"\n\ndef test_new():\n    {body}\n    assert main([]) == 0\n"


def test_the_rule_is_in_the_catalogue() -> None:
    rule = RULES["HG012"]
    assert (rule.name, rule.severity) == ("test-report-tampering", "error")


# --------------------------------------------------------------------------- the report machinery


def test_reading_the_report_variable_in_a_new_test() -> None:
    new = with_test('path = os.environ.get("HARNESS_PYTEST_REPORT")')
    finding = only(check([modified(TEST, BASE_TESTS, new)]), "HG012")
    assert finding.name == "test-report-tampering" and finding.severity == "error" and finding.blocking
    assert finding.line == 16 and "`HARNESS_PYTEST_REPORT`" in finding.message
    assert "forge" in finding.message and "never read, write, import or look up" in finding.fix
    assert "allowance for HG012" in finding.fix


@pytest.mark.parametrize(
    ("code", "seen"),
    [
        ('plugin = sys.modules["_harness_report_plugin"]', "report plugin `_harness_report_plugin`"),
        ('plugin = sys.modules.get("_harness_report_plugin")', "report plugin `_harness_report_plugin`"),
        ('plugin = importlib.import_module("_harness_report_plugin")', "report plugin `_harness_report_plugin`"),
        ('name = f"_harness_report_plugin.{attr}"', "report plugin `_harness_report_plugin`"),
        ("import _harness_report_plugin", "imports the harness's report plugin"),
        ("from _harness_report_plugin import REPORT_ENV", "imports from the harness's report plugin"),
        ('rec = config.pluginmanager.get_plugin("harness-report-recorder")', "recorder `harness-report-recorder`"),
        ('env = open("/proc/self/environ", "rb").read()', "'/proc/self/environ'"),
    ],
)
def test_reaching_for_the_plugin_in_a_new_test(code: str, seen: str) -> None:
    finding = only(check([modified(TEST, BASE_TESTS, with_test(code))]), "HG012")
    assert seen in finding.message and finding.line == 16


@pytest.mark.parametrize(
    "name", [testrunner.REPORT_FD_ENV, testrunner.NONCE_FD_ENV, testrunner.PLUGIN_MODULE, plugin.RECORDER_NAME]
)
def test_every_name_the_runner_and_plugin_use_is_watched(name: str) -> None:
    # The names come from where they are defined: renaming one there must not blind the rule.
    finding = only(check([added("src/app/spy.py", f"TARGET = {name!r}\n")]), "HG012")
    assert f"`{name}`" in finding.message


def test_a_string_naming_the_plugin_in_non_test_code() -> None:
    new = "import sys\n\n\ndef report_plugin():\n    return sys.modules.get('_harness_report_plugin')\n"
    finding = only(check([added("src/app/helpers.py", new)]), "HG012")
    assert finding.line == 5 and "`_harness_report_plugin`" in finding.message


def test_reaching_for_the_report_from_conftest() -> None:
    new = "import os\n\nREPORT = os.environ.pop('HARNESS_PYTEST_REPORT', None)\n"
    assert only(check([added("tests/conftest.py", new)]), "HG012").line == 3


def test_docstrings_and_comments_naming_the_report_are_not_code() -> None:
    new = src(
        '''
        """The harness writes HARNESS_PYTEST_REPORT through _harness_report_plugin; we never touch it."""


        def test_add():
            """Not about HARNESS_PYTEST_REPORT."""
            # nor about os._exit or _harness_report_plugin
            assert 1 + 1 == 2
        '''
    )
    assert check([added("tests/test_doc.py", new)]) == []


def test_a_reference_already_at_base_is_not_blamed() -> None:
    old = 'REPORT_ENV = "HARNESS_PYTEST_REPORT"\n\n\ndef child_env(env):\n    return dict(env)\n'
    new = old.replace("return dict(env)", "return {**env, REPORT_ENV: '/tmp/r.json'}")
    assert check([modified("src/runner.py", old, new)]) == []
    moved = "\n\n# a comment pushes every line down\n" + old
    assert check([modified("src/runner.py", old, moved)]) == []


# --------------------------------------------------------------------------- ending the interpreter


@pytest.mark.parametrize(
    ("code", "seen"),
    [
        ("os._exit(0)", "uses `os._exit`"),
        ("posix._exit(1)", "uses `posix._exit`"),
        ('sys.modules["os"]._exit(0)', "uses `sys.modules['os']._exit`"),
        ('getattr(os, "_exit")(0)', "looks up `_exit` by name"),
        ("from os import _exit", "imports `os._exit`"),
    ],
)
def test_ending_the_interpreter_in_a_new_test(code: str, seen: str) -> None:
    finding = only(check([modified(TEST, BASE_TESTS, with_test(code))]), "HG012")
    assert seen in finding.message and finding.line == 16
    assert "pytest.raises(SystemExit)" in finding.fix and "subprocess" in finding.fix


def test_ending_the_interpreter_in_conftest() -> None:
    new = "import os\n\n\ndef pytest_sessionfinish(session):\n    os._exit(0)\n"
    finding = only(check([added("conftest.py", new)]), "HG012")
    assert finding.line == 5 and "`os._exit`" in finding.message


def test_os_exit_in_application_code_is_fine() -> None:
    new = "import os\n\n\ndef child():\n    run()\n    os._exit(0)\n"
    assert check([added("src/app/worker.py", new)]) == []


def test_honest_ways_to_test_exiting_code() -> None:
    new = src(
        """
        import subprocess
        import sys

        import pytest


        class TestShutdown:
            def _exit(self):
                return shutdown()

            def test_graceful(self):
                assert self._exit() == 0


        def test_sys_exit():
            with pytest.raises(SystemExit):
                sys.exit(3)


        def test_hard_exit_in_a_child():
            done = subprocess.run([sys.executable, "-c", "import sys; sys.exit(3)"])
            assert done.returncode == 3
        """
    )
    assert check([added("tests/test_shutdown.py", new)]) == []


def test_an_exit_already_at_base_is_not_blamed() -> None:
    old = src(BASE_TESTS) + "\n\ndef test_child():\n    if fork() == 0:\n        os._exit(0)\n    assert wait() == 0\n"
    new = old.replace("def test_child", "def test_other():\n    assert main([]) == 0\n\n\ndef test_child")
    assert check([modified(TEST, old, new)]) == []
    second = old + "\n\ndef test_again():\n    os._exit(1)\n    assert False\n"
    finding = only(check([modified(TEST, old, second)]), "HG012")
    assert finding.line == 22


def test_moving_an_exit_from_code_into_a_test_is_blamed() -> None:
    old = "import os\n\n\ndef child():\n    os._exit(0)\n"
    new = "import os\n\n\ndef test_child():\n    os._exit(0)\n    assert wait() == 0\n"
    moved = FileChange("tests/test_child.py", "renamed", old, new, "src/child.py")
    assert only(check([moved]), "HG012").line == 5


def test_an_allowance_lets_it_through() -> None:
    new = with_test("os._exit(0)")
    allowance = Allowance("test-report-tampering", "tests/*", "C4 tests the forked child, which must os._exit")
    finding = only(check([modified(TEST, BASE_TESTS, new)], GuardContext(allowances=(allowance,))), "HG012")
    assert finding.allowed_by == allowance.reason and not finding.blocking
    other_rule = Allowance("HG011", "tests/*", "unrelated")
    assert only(check([modified(TEST, BASE_TESTS, new)], GuardContext(allowances=(other_rule,))), "HG012").blocking


def test_names_spelled_in_other_characters() -> None:
    # Python folds identifiers with NFKC: `ｅ` is `e`, so these are the plugin and os._exit.
    code = "import _ｈarness_report_plugin\n"
    assert "report plugin" in only(check([added("src/app/spy.py", code)]), "HG012").message
    test = "import os\n\n\ndef test_a():\n    os._ｅxit(0)\n    assert main([]) == 0\n"
    assert only(check([added("tests/test_a.py", test)]), "HG012").line == 5


def test_one_finding_per_line_and_kind() -> None:
    new = with_test('spy(sys.modules["_harness_report_plugin"], "_harness_report_plugin.REPORT_ENV")')
    assert only(check([modified(TEST, BASE_TESTS, new)]), "HG012").line == 16
