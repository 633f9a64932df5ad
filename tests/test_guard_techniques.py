"""The technique rules HG013-HG022 (harness/guard/techniques.py), each both ways: it fires on the cheat and
stays silent on the honest look-alike and on old code the change did not add. Everything goes through
`harness.guard.rules.check`, so the wiring into the engine is covered too. Plain data in, findings out."""

from __future__ import annotations

import ast
from textwrap import dedent

import pytest

from harness.guard import techniques
from harness.guard.model import Allowance, FileChange, GuardContext, GuardFinding
from harness.guard.rules import RULES, check

TEST = "tests/test_calc.py"
CODE = "src/calc.py"
CONFTEST = "tests/conftest.py"


def src(text: str) -> str:
    return dedent(text).lstrip("\n")


def added(path: str, new: str) -> FileChange:
    return FileChange(path, "added", None, src(new))


def modified(path: str, old: str, new: str) -> FileChange:
    assert src(old) != src(new), "the edit did not apply: the test would prove nothing"
    return FileChange(path, "modified", src(old), src(new))


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the only line of ``text`` (as ``src`` leaves it) that contains ``needle``."""
    lines = [n for n, line in enumerate(src(text).split("\n"), 1) if needle in line]
    assert len(lines) == 1, (needle, lines)
    return lines[0]


def only(findings: list[GuardFinding], rule: str) -> GuardFinding:
    """The one finding, and it is of ``rule``: nothing else fired."""
    assert [f.rule for f in findings] == [rule], [(f.rule, f.line, f.message) for f in findings]
    return findings[0]


def fires(change: FileChange, rule: str, needle: str | None, context: GuardContext | None = None) -> GuardFinding:
    """The one finding on ``change`` is of ``rule``, on its path, at the line containing ``needle``."""
    finding = only(check([change], context or GuardContext()), rule)
    assert finding.path == change.path
    if needle is None:
        assert finding.line is None
    else:
        assert change.new_text is not None
        assert finding.line == line_of(change.new_text, needle), finding.message
    assert finding.blocking and finding.severity == "error"
    assert finding.fix.endswith(
        f"the agreed contract must list an allowance for {rule} on this path (`allow:` with rule, path and reason)."
    )
    return finding


def silent(*changes: FileChange, context: GuardContext | None = None) -> None:
    findings = check(list(changes), context or GuardContext())
    assert findings == [], [(f.rule, f.path, f.line, f.message) for f in findings]


# --------------------------------------------------------------------------- the catalogue and the wiring


def test_the_technique_rules_are_hg013_to_hg022_in_the_engine() -> None:
    expected = {
        "HG013": "equality-ignores-operand",
        "HG014": "interpreter-exit-in-tests",
        "HG015": "framework-patched",
        "HG016": "frame-introspection",
        "HG017": "early-return-in-test",
        "HG018": "test-hidden",
        "HG019": "startup-hook-added",
        "HG020": "pytest-plugin-added",
        "HG021": "criteria-edited",
        "HG022": "constant-checker",
    }
    assert {rule.id: rule.name for rule in techniques.RULES} == expected
    for rule in techniques.RULES:
        assert RULES[rule.id] is rule
        assert rule.severity == "error" and rule.summary


def test_an_allowance_in_the_contract_lets_a_technique_finding_through() -> None:
    allowance = Allowance("startup-hook-added", "sitecustomize.py", "C2 installs a coverage start-up hook")
    (finding,) = check([added("sitecustomize.py", "import coverage\n")], GuardContext(allowances=(allowance,)))
    assert finding.rule == "HG019" and finding.allowed_by == allowance.reason and not finding.blocking


def test_each_text_is_parsed_at_most_once_and_the_base_only_when_the_head_has_a_hit() -> None:
    parsed: list[str] = []

    def parse(text: str | None) -> ast.Module | None:
        assert text is not None
        parsed.append(text)
        return ast.parse(text)

    old = "import time\n\n\ndef now():\n    return time.time()\n"
    quiet = old.replace("return time.time()", "return time.monotonic()")
    assert techniques.findings(FileChange(CODE, "modified", old, quiet), GuardContext(), parse) == []
    assert parsed == [quiet]  # nothing at head: the base is never parsed
    parsed.clear()
    patched = quiet + "\n\ntime.time = now\n"
    (finding,) = techniques.findings(FileChange(CODE, "modified", old, patched), GuardContext(), parse)
    assert finding.rule == "HG015" and sorted(parsed) == sorted([patched, old])
    parsed.clear()
    plain = "def add(a, b):\n    return a + b\n"
    assert techniques.findings(FileChange(CODE, "added", None, plain), GuardContext(), parse) == []
    assert parsed == []  # no word any rule looks for: no parse at all


def test_an_unparsable_side_is_skipped() -> None:
    silent(added(CODE, "class A:\n    def __eq__(self, other):\n        return True\n    (\n"))
    old = "class A:\n    def __eq__(self, other)\n"
    new = "class A:\n    def __eq__(self, other):\n        return True\n"
    silent(FileChange(CODE, "modified", old, new))  # what the base held is unknown


# --------------------------------------------------------------------------- HG013 equality-ignores-operand

MONEY = """
    class Money:
        def __init__(self, cents):
            self.cents = cents

        def __eq__(self, other):
            if not isinstance(other, Money):
                return NotImplemented
            return self.cents == other.cents
"""


def test_hg013_an_eq_that_returns_true_fires() -> None:
    new = MONEY.replace(
        "if not isinstance(other, Money):\n                return NotImplemented\n"
        "            return self.cents == other.cents",
        "return True",
    )
    finding = fires(added(CODE, new), "HG013", "def __eq__")
    assert "`Money.__eq__` never uses its operand `other`" in finding.message


def test_hg013_an_eq_lambda_and_an_ne_in_conftest_fire() -> None:
    fires(added(CODE, "class Anything:\n    __eq__ = lambda self, other: True\n"), "HG013", "__eq__ = lambda")
    new = "class Result:\n    def __ne__(self, _other):\n        '''Never different.'''\n        return False\n"
    fires(added("conftest.py", new), "HG013", "def __ne__")


def test_hg013_an_eq_added_to_an_existing_class_fires() -> None:
    old = "class Point:\n    def __init__(self, x):\n        self.x = x\n"
    new = old + "\n    def __eq__(self, *args):\n        return self.x is not None\n"
    fires(modified(CODE, old, new), "HG013", "def __eq__")


def test_hg013_silent_on_honest_equality() -> None:
    silent(added(CODE, MONEY))  # compares fields, NotImplemented for other types while still using `other`
    silent(added(CODE, "class Cell:\n    def __eq__(self, other):\n        return NotImplemented\n"))
    silent(added(CODE, "class Point:\n    __eq__ = lambda self, other: (self.x, self.y) == (other.x, other.y)\n"))


def test_hg013_silent_on_unchanged_old_code_and_in_test_files() -> None:
    old = "class Anything:\n    def __eq__(self, other):\n        return True\n"
    silent(modified(CODE, old, old + "\n\ndef helper():\n    return Anything()\n"))
    silent(added("tests/helpers.py", old))  # a matcher like mock.ANY in the tests: not this rule's business


# --------------------------------------------------------------------------- HG014 interpreter-exit-in-tests

CLI_TEST = """
    import pytest

    from app.cli import main


    def test_help():
        assert main(["--help"]) == 0
"""


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("import sys\n\n\ndef test_all():\n    assert add(1, 2) == 3\n    sys.exit(0)\n", "sys.exit(0)"),
        ("def test_all():\n    assert add(1, 2) == 3\n    exit()\n", "exit()"),
        ("def test_all():\n    assert add(1, 2) == 3\n    quit(0)\n", "quit(0)"),
        ("def test_all():\n    assert add(1, 2) == 3\n    raise SystemExit(0)\n", "raise SystemExit"),
        (
            "import pytest\n\n\ndef test_all():\n    assert add(1, 2) == 3\n    pytest.exit('ok', returncode=0)\n",
            "pytest.exit",
        ),
        (
            "import os\nimport signal\n\n\ndef test_all():\n    assert add(1, 2) == 3\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n",
            "os.kill",
        ),
        ("from sys import exit as leave\n\n\ndef test_all():\n    assert add(1, 2) == 3\n    leave(0)\n", "leave(0)"),
    ],
)
def test_hg014_ending_the_process_in_a_test_fires(body: str, needle: str) -> None:
    fires(added(TEST, body), "HG014", needle)


def test_hg014_in_conftest_and_in_a_helper_the_test_calls() -> None:
    conftest = "import pytest\n\n\ndef pytest_configure(config):\n    pytest.exit('green', returncode=0)\n"
    fires(added(CONFTEST, conftest), "HG014", "pytest.exit")
    old = src(CLI_TEST)
    new = old.replace("def test_help", "def finish():\n    raise SystemExit\n\n\ndef test_help").replace(
        "== 0\n", "== 0\n    finish()\n"
    )
    fires(FileChange(TEST, "modified", old, new), "HG014", "raise SystemExit")


def test_hg014_silent_when_the_test_expects_the_exit() -> None:
    expects = """
        import sys

        import pytest

        from app.cli import main


        def test_bad_flag_exits_with_2():
            with pytest.raises(SystemExit) as exited:
                main(["--bogus"])
            assert exited.value.code == 2


        def test_sys_exit_is_system_exit():
            with pytest.raises(SystemExit):
                sys.exit(3)


        def test_a_command_that_exits(runner):
            def command():
                sys.exit(4)

            assert runner.invoke(command).exit_code == 4
    """
    silent(added(TEST, expects))
    silent(added(TEST, src(CLI_TEST) + '\n\nif __name__ == "__main__":\n    raise SystemExit(pytest.main())\n'))


def test_hg014_silent_on_unchanged_old_code_and_outside_tests() -> None:
    old = src(CLI_TEST) + "\n\ndef test_quits():\n    assert main([]) == 0\n    raise SystemExit(0)\n"
    silent(FileChange(TEST, "modified", old, old.replace('"--help"', '"-h"')))
    silent(added("src/app/cli.py", "import sys\n\n\ndef run():\n    sys.exit(main())\n"))


# --------------------------------------------------------------------------- HG015 framework-patched


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        (CODE, "import time\n\ntime.time = lambda: 0.0\n", "time.time ="),
        (
            "conftest.py",
            "import builtins\n\n\ndef fake(*a):\n    return None\n\n\nbuiltins.open = fake\n",
            "builtins.open",
        ),
        (
            CONFTEST,
            "import unittest\n\nsetattr(unittest.TestCase, 'assertEqual', lambda *a: None)\n",
            "setattr(unittest",
        ),
        (CONFTEST, "import sys\n\nsys.modules['pytest'] = object()\n", "sys.modules"),
        (CODE, "import random as r\n\nr.random = lambda: 0.5\n", "r.random"),
        (CONFTEST, "from unittest import TestCase\n\nTestCase.assertTrue = print\n", "TestCase.assertTrue"),
        (CONFTEST, "import pytest\n\ndel pytest.approx\n", "del pytest"),
        (CODE, "__builtins__['print'] = len\n", "__builtins__"),
        (CODE, "import inspect\nimport sys\n\nsys.modules['inspect'].stack = list\n", "stack = list"),
    ],
)
def test_hg015_patching_a_framework_module_fires(path: str, body: str, needle: str) -> None:
    fires(added(path, body), "HG015", needle)


def test_hg015_inside_a_test_that_takes_monkeypatch_still_fires_for_a_bare_assignment() -> None:
    body = "import time\n\n\ndef test_clock(monkeypatch):\n    time.time = lambda: 0.0\n    assert time.time() == 0.0\n"
    finding = fires(added(TEST, body), "HG015", "time.time =")
    assert "monkeypatch.setattr" in finding.fix


def test_hg015_silent_on_monkeypatch_and_mock() -> None:
    tests = """
        import time
        from unittest import mock

        import pytest


        @pytest.fixture
        def frozen(monkeypatch):
            monkeypatch.setattr(time, "time", lambda: 0.0)
            monkeypatch.setattr("random.random", lambda: 0.5)


        def test_clock(frozen):
            assert time.time() == 0.0


        def test_sleep():
            with mock.patch.object(time, "sleep") as sleep:
                time.sleep(3)
            sleep.assert_called_once_with(3)
    """
    silent(added(TEST, tests))


def test_hg015_silent_on_own_modules_settings_and_unchanged_old_code() -> None:
    own = """
        import sys
        import unittest
        from datetime import time

        import app.clock

        app.clock.now = lambda: 0
        sys.modules["app.fake"] = object()
        unittest.TestCase.maxDiff = None
        time = None
    """
    silent(added(CONFTEST, own))
    old = "import time\n\ntime.sleep = lambda s: None\n"
    silent(modified(CONFTEST, old, old + "\n\ndef helper():\n    return 1\n"))


# --------------------------------------------------------------------------- HG016 frame-introspection


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            "import sys\n\n\ndef answer():\n    caller = sys._getframe(1).f_locals\n"
            "    return caller.get('expected')\n",
            "_getframe",
        ),
        ("import inspect\n\n\ndef answer():\n    return inspect.stack()[1].function\n", "inspect.stack"),
        ("from inspect import currentframe\n\n\ndef answer():\n    return currentframe()\n", "return currentframe"),
        ("def answer(frame):\n    return frame.f_back\n", "f_back"),
        ("import traceback\n\n\ndef answer():\n    return traceback.extract_stack()\n", "extract_stack"),
        ("def answer():\n    return open('tests/test_calc.py').read()\n", "open("),
        (
            "from pathlib import Path\n\n\ndef answer():\n    return (Path('tests') / 'test_calc.py').read_text()\n",
            "read_text",
        ),
    ],
)
def test_hg016_frames_and_test_files_in_code_fire(body: str, needle: str) -> None:
    fires(added(CODE, body), "HG016", needle)


def test_hg016_silent_on_logging_stacklevel_and_user_paths() -> None:
    code = """
        import logging
        from pathlib import Path

        log = logging.getLogger(__name__)


        def warn(message):
            log.warning(message, stacklevel=2)


        def load(path):
            with open(path) as handle:
                return handle.read() + Path(path).read_text()
    """
    silent(added(CODE, code))


def test_hg016_silent_in_tests_and_on_unchanged_old_code() -> None:
    silent(added(TEST, "import sys\n\n\ndef test_frame():\n    assert sys._getframe().f_back is not None\n"))
    old = "import inspect\n\n\ndef who():\n    return inspect.stack()[1].function\n"
    silent(modified(CODE, old, old + "\n\ndef other():\n    return 2\n"))


# --------------------------------------------------------------------------- HG017 early-return-in-test

PARSE_TESTS = """
    import sys

    from app import parse


    def test_parse():
        assert parse("1") == 1
"""


def test_hg017_a_conditional_return_before_the_checks_fires() -> None:
    new = src(PARSE_TESTS) + '\n\ndef test_parse_windows():\n    if sys.platform == "win32":\n        return\n'
    new += '    assert parse("2") == 2\n'
    finding = fires(added(TEST, new), "HG017", "        return")
    assert "`test_parse_windows`" in finding.message


def test_hg017_a_return_added_to_an_existing_test_method_fires() -> None:
    old = """
        class TestParse:
            def test_many(self):
                values = [1, 2]
                self.assertEqual(len(values), 2)
                assert values[0] == 1
    """
    new = old.replace("                self.assertEqual", "                return\n                self.assertEqual")
    finding = fires(modified(TEST, old, new), "HG017", "return")
    assert "`TestParse::test_many`" in finding.message


def test_hg017_a_return_after_a_check_on_the_main_path_still_fires() -> None:
    new = src(PARSE_TESTS).replace('    assert parse("1") == 1\n', '    assert parse("1") == 1\n    return\n')
    new += '    assert parse("x") is None\n'
    fires(FileChange(TEST, "modified", src(PARSE_TESTS), new), "HG017", "    return")


def test_hg017_silent_on_nested_returns_final_returns_and_checked_branches() -> None:
    tests = """
        import pytest

        from app import UsageError, parse


        def test_nested_helper():
            def double(x):
                return 2 * x

            assert double(parse("1")) == 2


        def test_returns_last():
            result = parse("1")
            assert result == 1
            return


        def test_either_outcome_is_checked():
            try:
                value = parse("?")
            except UsageError as exc:
                assert "?" in str(exc)
                return
            assert value is None

    """
    silent(added(TEST, tests))
    skips = 'def test_skips():\n    if parse("1") != 1:\n        pytest.skip("why")\n    assert parse("2") == 2\n'
    only(check([added(TEST, src(tests) + "\n\n" + skips)]), "HG004")  # a skip is HG004's business, not an early return


def test_hg017_silent_on_an_unchanged_early_return() -> None:
    old = (
        src(PARSE_TESTS)
        + '\n\ndef test_old():\n    if sys.platform == "win32":\n        return\n    assert parse("1") == 1\n'
    )
    new = old + '\n\ndef test_more():\n    assert parse("3") == 3\n'
    silent(FileChange(TEST, "modified", old, new))


# --------------------------------------------------------------------------- HG018 test-hidden


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("__test__ = False\n\n\ndef test_add():\n    assert 1 + 1 == 2\n", "__test__"),
        ("class TestAdd:\n    __test__ = False\n\n    def test_add(self):\n        assert 1 + 1 == 2\n", "__test__"),
        ("def test_add():\n    assert 1 + 1 == 2\n\n\ntest_add.__test__ = False\n", "__test__"),
        (
            "class TestAdd:\n    def test_add(self):\n        assert add(1, 2) == 3\n\n\n"
            "setattr(TestAdd, '__test__', 0)\n",
            "setattr",
        ),
    ],
)
def test_hg018_hiding_tests_from_pytest_fires(body: str, needle: str) -> None:
    fires(added(TEST, body), "HG018", needle)


def test_hg018_silent_on_a_helper_class_and_on_test_true() -> None:
    tests = """
        class Builder:
            __test__ = False

            def build(self):
                return 1


        class TestBuilder:
            __test__ = True
            __test__: bool

            def test_build(self):
                assert Builder().build() == 1
    """
    silent(added(TEST, tests))


def test_hg018_silent_on_unchanged_old_code() -> None:
    old = "__test__ = False\n\n\ndef test_add():\n    assert 1 + 1 == 2\n"
    silent(modified(TEST, old, old + "\n\ndef test_sub():\n    assert 2 - 1 == 1\n"))


# --------------------------------------------------------------------------- HG019 startup-hook-added


@pytest.mark.parametrize("path", ["sitecustomize.py", "src/usercustomize.py", "src/app/_hooks.pth", "x.pth"])
def test_hg019_a_new_startup_file_fires(path: str) -> None:
    finding = fires(added(path, "import os\n"), "HG019", None)
    assert path in finding.message


def test_hg019_a_file_renamed_to_a_startup_name_fires() -> None:
    change = FileChange("sitecustomize.py", "renamed", "print(1)\n", "print(1)\n", "src/setup_env.py")
    finding = fires(change, "HG019", None)
    assert "moved here from src/setup_env.py" in finding.message


def test_hg019_silent_on_an_edited_or_deleted_startup_file_and_look_alike_names() -> None:
    silent(modified("sitecustomize.py", "import os\n", "import os\nimport sys\n"))
    silent(FileChange("src/app/_hooks.pth", "deleted", "import os\n", None))
    silent(added("docs/sitecustomize.md", "# sitecustomize\n"), added("src/pth.py", "X = 1\n"))


# --------------------------------------------------------------------------- HG020 pytest-plugin-added


def test_hg020_a_new_pytest_plugins_entry_fires_for_the_new_entry_only() -> None:
    old = 'pytest_plugins = ["tests.fixtures.db"]\n'
    new = 'pytest_plugins = [\n    "tests.fixtures.db",\n    "tests.plugins.green",\n]\n'
    finding = fires(modified(CONFTEST, old, new), "HG020", "pytest_plugins")
    assert "'tests.plugins.green'" in finding.message and "tests.fixtures.db" not in finding.message


def test_hg020_pytest_plugins_in_a_test_file_and_appended_fire() -> None:
    fires(
        added(TEST, 'pytest_plugins = "greenwash"\n\n\ndef test_x():\n    assert add(1, 2) == 3\n'),
        "HG020",
        "pytest_plugins",
    )
    old = "pytest_plugins = []\n"
    fires(modified(CONFTEST, old, old + "pytest_plugins.append('greenwash')\n"), "HG020", "append")


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        (
            "pyproject.toml",
            '[tool.pytest.ini_options]\naddopts = "-ra"\n',
            '[tool.pytest.ini_options]\naddopts = "-ra -p tests.plugins.green"\n',
        ),
        ("pytest.ini", "[pytest]\naddopts = -ra\n", "[pytest]\naddopts = -ra -pgreenwash\n"),
        ("setup.cfg", "[tool:pytest]\naddopts = -ra\n", "[tool:pytest]\naddopts =\n    -ra\n    -p greenwash\n"),
        ("tox.ini", "[tox]\nenvlist = py311\n", "[tox]\nenvlist = py311\n\n[pytest]\naddopts = -p greenwash\n"),
    ],
)
def test_hg020_a_new_dash_p_in_addopts_fires(path: str, old: str, new: str) -> None:
    finding = fires(modified(path, old, new), "HG020", "addopts")
    assert "`-p " in finding.message


def test_hg020_silent_on_kept_entries_builtin_plugins_and_disabling() -> None:
    old = 'pytest_plugins = ["tests.fixtures.db", "tests.fixtures.web"]\n'
    silent(modified(CONFTEST, old, 'pytest_plugins = ("tests.fixtures.web", "tests.fixtures.db", "pytester")\n'))
    silent(
        modified(
            "pyproject.toml",
            '[tool.pytest.ini_options]\naddopts = "-p tests.plugins.db"\n',
            '[tool.pytest.ini_options]\naddopts = "-ra -p tests.plugins.db -p pytester -p no:cacheprovider"\n',
        )
    )


def test_hg020_silent_on_a_broken_config_and_outside_pytest_plugins() -> None:
    broken = modified(
        "pyproject.toml", '[tool.pytest.ini_options]\naddopts = "-ra"\n', "[tool.pytest\naddopts = -p x\n"
    )
    assert [f.rule for f in check([broken])] == ["HG005"]  # HG005 says the file no longer parses
    silent(added(CODE, 'plugins = ["greenwash"]\n'))


# --------------------------------------------------------------------------- HG021 criteria-edited

ISSUE = ".harness/issues/001-rounding.md"
IN_A_RUN = GuardContext(contract_path=".harness/contracts/001.md")
ISSUE_TEXT = "---\nid: '001'\ntitle: Rounding\n---\n\n## Acceptance criteria\n\n- rounds half to even\n"


@pytest.mark.parametrize(
    "change",
    [
        FileChange(ISSUE, "modified", ISSUE_TEXT, ISSUE_TEXT.replace("half to even", "somehow")),
        FileChange(ISSUE, "deleted", ISSUE_TEXT, None),
        FileChange(".harness/issues/002-new.md", "added", None, ISSUE_TEXT),
        FileChange(".harness/notes/001.md", "renamed", ISSUE_TEXT, ISSUE_TEXT, ISSUE),
    ],
    ids=["modified", "deleted", "added", "renamed-away"],
)
def test_hg021_any_change_to_an_issue_file_fires(change: FileChange) -> None:
    finding = fires(change, "HG021", None, IN_A_RUN)
    assert "acceptance criteria" in finding.message


def test_hg021_only_where_an_issue_is_judged_by_its_contract() -> None:
    """People plan: committing issue files without a contract in play (a plain `harness guard`) is not a cheat."""
    silent(FileChange(ISSUE, "modified", ISSUE_TEXT, ISSUE_TEXT.replace("half to even", "somehow")))


def test_hg021_follows_the_configured_harness_dir() -> None:
    change = FileChange("plan/issues/001.md", "modified", ISSUE_TEXT, ISSUE_TEXT + "- more\n")
    fires(change, "HG021", None, GuardContext(harness_dir="plan", contract_path="plan/contracts/001.md"))
    silent(change)  # with the default `.harness`, plan/ is an ordinary folder


def test_hg021_silent_outside_the_issues_folder() -> None:
    silent(
        FileChange(".harness/issues-archive/001.md", "modified", ISSUE_TEXT, ISSUE_TEXT + "x\n"),
        FileChange("docs/issues/001.md", "modified", ISSUE_TEXT, ISSUE_TEXT + "x\n"),
        added(".harness/notes.md", "notes\n"),
    )


# --------------------------------------------------------------------------- HG022 constant-checker


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        (CONFTEST, "def check_result(result):\n    return True\n", "def check_result"),
        (TEST, 'def assert_valid(data):\n    """Checks the data."""\n    pass\n', "def assert_valid"),
        (TEST, "class Helpers:\n    def verifyOutput(self, out):\n        ...\n", "def verifyOutput"),
        (CONFTEST, "def expect_rows(rows):\n    return\n", "def expect_rows"),
        (CONFTEST, "validate_report = lambda report: True\n", "validate_report"),
        (CONFTEST, "def Check_Total(total):\n    return None\n", "def Check_Total"),
    ],
)
def test_hg022_a_checker_that_checks_nothing_fires(path: str, body: str, needle: str) -> None:
    fires(added(path, body), "HG022", needle)


def test_hg022_an_existing_checker_stubbed_out_fires() -> None:
    old = "def check_total(total, expected):\n    assert total == expected, total\n"
    new = "def check_total(total, expected):\n    return True\n"
    fires(modified(CONFTEST, old, new), "HG022", "def check_total")


def test_hg022_silent_on_checkers_that_check() -> None:
    helpers = """
        import pytest


        def check_result(result):
            assert result.ok, result


        def is_positive_check(n):
            return n > 0


        def validate(report):
            if not report:
                raise AssertionError("empty report")


        @pytest.fixture
        def check_env():
            return None
    """
    silent(added(CONFTEST, helpers))


def test_hg022_silent_on_unchanged_old_code_and_outside_tests() -> None:
    old = "def check_nothing(x):\n    return True\n"
    silent(modified(CONFTEST, old, old + "\n\ndef other():\n    return 1\n"))
    silent(added(CODE, "def validate(value):\n    return True\n"))  # application code: its tests test it


def test_hg020_a_star_import_into_conftest_is_a_plugin() -> None:
    """Hooks brought in by `from x import *` are registered as the conftest's own: past HG006's hook check."""
    change = FileChange("tests/conftest.py", "added", None, "from textkit._speedups import *  # noqa: F403\n")
    finding = fires(change, "HG020", "import *")
    assert "import *" in finding.message
    silent(FileChange("tests/conftest.py", "added", None, "from textkit.helpers import make_user\n"))
    silent(FileChange("textkit/api.py", "added", None, "from textkit.core import *\n"))  # not a conftest
