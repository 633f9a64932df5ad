"""The guard rules (SPEC §7), each both ways: it fires on the cheat and stays silent on the honest
look-alike. Plain data in, findings out: no git, no files."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from textwrap import dedent
from typing import Any

import pytest
import yaml

from harness.digest import contract_digest
from harness.guard import rules
from harness.guard.model import Allowance, FileChange, GuardContext, GuardFinding
from harness.guard.rules import RULES, Rule, check, is_test_file

TEST = "tests/test_calc.py"


def src(text: str) -> str:
    return dedent(text).lstrip("\n")


def modified(path: str, old: str, new: str) -> FileChange:
    assert src(old) != src(new), "the edit did not apply: the test would prove nothing"
    return FileChange(path, "modified", src(old), src(new))


def added(path: str, new: str) -> FileChange:
    return FileChange(path, "added", None, src(new))


def deleted(path: str, old: str) -> FileChange:
    return FileChange(path, "deleted", src(old), None)


def renamed(old_path: str, path: str, old: str, new: str | None = None) -> FileChange:
    return FileChange(path, "renamed", src(old), src(new if new is not None else old), old_path)


def of(findings: list[GuardFinding], rule: str) -> list[GuardFinding]:
    return [f for f in findings if f.rule == rule]


def only(findings: list[GuardFinding], rule: str) -> GuardFinding:
    """The one finding, and it is of ``rule``: nothing else fired."""
    assert [f.rule for f in findings] == [rule], [(f.rule, f.line, f.message) for f in findings]
    return findings[0]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


BASE_TESTS = src(
    """
    import pytest

    from calc import add, div


    def test_add():
        assert add(1, 2) == 3
        assert add(-1, 1) == 0


    def test_div_by_zero():
        with pytest.raises(ZeroDivisionError):
            div(1, 0)


    class TestDiv:
        def test_half(self):
            assert div(1, 2) == 0.5
"""
)


# --------------------------------------------------------------------------- the catalogue


def test_rules_are_numbered_without_gaps_in_order() -> None:
    assert list(RULES) == [f"HG{n:03d}" for n in range(1, len(RULES) + 1)]
    assert RULES["HG023"].name == "test-file-unreadable"
    names = [rule.name for rule in RULES.values()][:12]
    assert names == [
        "test-file-removed",
        "test-removed",
        "assertions-weakened",
        "skip-added",
        "test-selection-changed",
        "collection-hook-added",
        "test-detection-in-code",
        "contract-edited",
        "frozen-test-edited",
        "protected-path-changed",
        "test-without-assertion",
        "test-report-tampering",
    ]
    for rule_id, rule in RULES.items():
        assert isinstance(rule, Rule) and rule.id == rule_id
        assert rule.severity == "error" and rule.summary


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("test_x.py", True),
        ("pkg/test_x.py", True),
        ("pkg/x_test.py", True),
        ("tests/helpers.py", True),
        ("src/pkg/test/util.py", True),
        ("tests/conftest.py", False),
        ("conftest.py", False),
        ("src/pkg/testing.py", False),
        ("tests/data.json", False),
        ("src/contest.py", False),
    ],
)
def test_is_test_file(path: str, expected: bool) -> None:
    assert is_test_file(path) is expected


def test_no_changes_no_findings() -> None:
    assert check([]) == []


# --------------------------------------------------------------------------- HG001 test-file-removed


def test_hg001_deleting_a_test_file_fires_once_without_hg002_duplicates() -> None:
    finding = only(check([deleted(TEST, BASE_TESTS)]), "HG001")
    assert finding.path == TEST and finding.line is None
    assert "was deleted" in finding.message and finding.blocking
    assert "Restore the test file" in finding.fix


def test_hg001_renaming_a_test_file_out_of_discovery_fires() -> None:
    finding = only(check([renamed(TEST, "scripts/calc_checks.py", BASE_TESTS)]), "HG001")
    assert finding.path == "scripts/calc_checks.py"
    assert "no longer collects it" in finding.message


def test_hg001_renaming_to_a_non_collected_name_under_tests_fires() -> None:
    finding = only(check([renamed(TEST, "tests/calc_cases.py", BASE_TESTS)]), "HG001")
    assert TEST in finding.message


def test_hg001_silent_when_a_test_file_moves_to_another_test_path() -> None:
    assert check([renamed(TEST, "tests/unit/test_calc.py", BASE_TESTS)]) == []


def test_hg001_silent_when_a_non_test_file_is_deleted() -> None:
    assert check([deleted("src/calc.py", "def add(a, b):\n    return a + b\n")]) == []


def test_renamed_test_file_reports_only_the_test_functions_that_vanished() -> None:
    new = BASE_TESTS.replace("    def test_half(self):\n        assert div(1, 2) == 0.5\n", "    pass\n")
    finding = only(check([renamed(TEST, "tests/unit/test_calc.py", BASE_TESTS, new)]), "HG002")
    assert finding.path == "tests/unit/test_calc.py"
    assert "TestDiv::test_half" in finding.message


# --------------------------------------------------------------------------- HG002 test-removed


def test_hg002_deleted_test_function_reports_name_and_base_line() -> None:
    new = BASE_TESTS.replace("def test_div_by_zero():", "def helper_div_by_zero():")
    findings = check([modified(TEST, BASE_TESTS, new)])
    finding = only(findings, "HG002")
    assert finding.line == 11  # the base line of `def test_div_by_zero`
    assert "`test_div_by_zero`" in finding.message and "deleted or renamed" in finding.message


def test_hg002_method_removed_from_a_test_class() -> None:
    new = BASE_TESTS.replace(
        "    def test_half(self):\n        assert div(1, 2) == 0.5\n",
        "    def check_half(self):\n        assert div(1, 2) == 0.5\n",
    )
    finding = only(check([modified(TEST, BASE_TESTS, new)]), "HG002")
    assert "`TestDiv::test_half`" in finding.message and finding.line == 17


def test_hg002_unittest_method_removed() -> None:
    old = """
        import unittest


        class CalcCase(unittest.TestCase):
            def test_add(self):
                self.assertEqual(1 + 1, 2)

            def test_sub(self):
                self.assertEqual(2 - 1, 1)
    """
    new = """
        import unittest


        class CalcCase(unittest.TestCase):
            def test_add(self):
                self.assertEqual(1 + 1, 2)
    """
    finding = only(check([modified("tests/test_unit.py", old, new)]), "HG002")
    assert "`CalcCase::test_sub`" in finding.message and finding.line == 8


def test_hg002_silent_when_tests_move_around_and_new_ones_are_added() -> None:
    new = BASE_TESTS.replace(
        "class TestDiv:",
        "def test_add_commutes():\n    assert add(2, 1) == add(1, 2)\n\n\nclass TestDiv:",
    )
    new = "# reordered and extended\n" + new
    assert check([modified(TEST, BASE_TESTS, new)]) == []


def test_hg002_silent_for_non_test_functions_in_test_files() -> None:
    old = BASE_TESTS + "\n\ndef make_numbers():\n    return [1, 2]\n"
    assert check([modified(TEST, old, BASE_TESTS)]) == []


# --------------------------------------------------------------------------- HG003 assertions-weakened


def test_hg003_fewer_asserts() -> None:
    new = BASE_TESTS.replace("    assert add(-1, 1) == 0\n", "")
    finding = only(check([modified(TEST, BASE_TESTS, new)]), "HG003")
    assert finding.line == 6  # the test's line: nothing new to point at
    assert "`test_add`" in finding.message and "dropped from 2 to 1" in finding.message


@pytest.mark.parametrize(
    "trivial",
    [
        "assert True",
        "assert 1",
        'assert "x"',
        "assert add(1, 2) == 3 or True",
        "assert add == add",
        "assert (add(1, 2), 3)",
    ],
)
def test_hg003_trivially_true_assert(trivial: str) -> None:
    new = BASE_TESTS.replace("assert add(-1, 1) == 0", trivial)
    finding = only(check([modified(TEST, BASE_TESTS, new)]), "HG003")
    assert finding.line == 8
    assert "trivially true" in finding.message and trivial in finding.message


@pytest.mark.parametrize(
    "handler",
    [
        "except AssertionError:",
        "except Exception:",
        "except BaseException:",
        "except:",
        "except (ValueError, AssertionError):",
    ],
)
def test_hg003_asserts_swallowed_by_try_except(handler: str) -> None:
    new = BASE_TESTS.replace(
        "    assert add(1, 2) == 3\n    assert add(-1, 1) == 0\n",
        f"    try:\n        assert add(1, 2) == 3\n        assert add(-1, 1) == 0\n    {handler}\n        pass\n",
    )
    finding = only(check([modified(TEST, BASE_TESTS, new)]), "HG003")
    assert finding.line == 7 and "swallows AssertionError" in finding.message


def test_hg003_asserts_swallowed_by_suppress() -> None:
    new = BASE_TESTS.replace(
        "    assert add(1, 2) == 3\n    assert add(-1, 1) == 0\n",
        "    with contextlib.suppress(AssertionError):\n"
        "        assert add(1, 2) == 3\n"
        "        assert add(-1, 1) == 0\n",
    )
    finding = only(check([modified(TEST, BASE_TESTS, new)]), "HG003")
    assert "suppress()" in finding.message


def test_hg003_pytest_raises_broadened_to_exception() -> None:
    new = BASE_TESTS.replace("pytest.raises(ZeroDivisionError)", "pytest.raises(Exception)")
    finding = only(check([modified(TEST, BASE_TESTS, new)]), "HG003")
    assert finding.line == 12
    assert "`test_div_by_zero`" in finding.message and "any error passes" in finding.message


def test_hg003_a_broad_raises_with_a_message_match_is_no_widening() -> None:
    new = BASE_TESTS.replace("pytest.raises(ZeroDivisionError)", 'pytest.raises(Exception, match="division by zero")')
    assert check([modified(TEST, BASE_TESTS, new)]) == []


def test_hg003_unittest_and_mock_checks_count() -> None:
    old = """
        import unittest
        from unittest import mock


        class NotifyCase(unittest.TestCase):
            def test_sends(self):
                sender = mock.Mock()
                notify(sender)
                sender.send.assert_called_once_with("hi")
                self.assertTrue(sender.ready)
    """
    new = """
        import unittest
        from unittest import mock


        class NotifyCase(unittest.TestCase):
            def test_sends(self):
                sender = mock.Mock()
                notify(sender)
    """
    finding = only(check([modified("tests/test_notify.py", old, new)]), "HG003")
    assert "`NotifyCase::test_sends`" in finding.message and "dropped from 2 to 0" in finding.message


def test_hg003_helper_that_lost_its_asserts_weakens_the_tests_calling_it() -> None:
    old = """
        def _same_total(a, b):
            assert sum(a) == sum(b)


        def test_totals():
            _same_total([1, 2], [3])
    """
    new = old.replace("assert sum(a) == sum(b)", "return sum(a) == sum(b)")
    finding = only(check([modified("tests/test_totals.py", old, new)]), "HG003")
    assert "`test_totals`" in finding.message and "dropped from 1 to 0" in finding.message


def test_hg003_silent_when_assertions_are_added() -> None:
    new = BASE_TESTS.replace(
        "    assert add(-1, 1) == 0\n",
        "    assert add(-1, 1) == 0\n    assert add(0, 0) == 0\n    assert add(2, 2) == 4\n",
    )
    assert check([modified(TEST, BASE_TESTS, new)]) == []


def test_hg003_silent_when_expected_values_change_or_raises_narrows() -> None:
    new = BASE_TESTS.replace("assert add(1, 2) == 3", "assert add(1, 2) == 3.0").replace(
        "pytest.raises(ZeroDivisionError)", 'pytest.raises(ZeroDivisionError, match="division")'
    )
    assert check([modified(TEST, BASE_TESTS, new)]) == []


def test_hg003_silent_when_inline_asserts_move_into_an_asserting_helper() -> None:
    new = BASE_TESTS.replace(
        "    assert add(1, 2) == 3\n    assert add(-1, 1) == 0\n",
        "    assert_adds(1, 2, 3)\n    check_adds(-1, 1, 0)\n",
    )
    assert check([modified(TEST, BASE_TESTS, new)]) == []


def test_hg003_silent_for_try_except_that_fails_the_test() -> None:
    new = BASE_TESTS.replace(
        "    assert add(1, 2) == 3\n    assert add(-1, 1) == 0\n",
        "    try:\n        assert add(1, 2) == 3\n        assert add(-1, 1) == 0\n"
        '    except AssertionError:\n        pytest.fail("add is broken")\n',
    )
    assert check([modified(TEST, BASE_TESTS, new)]) == []


def test_hg003_silent_when_a_trivial_assert_is_removed() -> None:
    old = BASE_TESTS.replace("    assert add(-1, 1) == 0\n", "    assert add(-1, 1) == 0\n    assert True\n")
    assert check([modified(TEST, old, BASE_TESTS)]) == []


def test_hg003_silent_when_a_test_is_only_reformatted_and_shifted() -> None:
    new = "# a comment on top\n\n" + BASE_TESTS.replace("assert add(1, 2) == 3", "assert add(1, 2) == 3  # sum")
    assert check([modified(TEST, BASE_TESTS, new)]) == []


# --------------------------------------------------------------------------- HG004 skip-added

SKIPPABLE = src(
    """
    import pytest


    def test_one():
        assert 1 + 1 == 2


    class TestTwo:
        def test_two(self):
            assert 2 * 1 == 2
"""
)


@pytest.mark.parametrize(
    "marker",
    [
        "@pytest.mark.skip",
        '@pytest.mark.skip(reason="flaky")',
        '@pytest.mark.skipif(sys.platform == "linux", reason="later")',
        "@pytest.mark.xfail",
        "@pytest.mark.xfail(strict=False)",
        '@unittest.skip("later")',
        "@unittest.expectedFailure",
        "@skipIf(True, 'no')",
    ],
)
def test_hg004_new_skip_decorator(marker: str) -> None:
    new = SKIPPABLE.replace("def test_one():", f"{marker}\ndef test_one():")
    finding = only(check([modified("tests/test_skippy.py", SKIPPABLE, new)]), "HG004")
    assert finding.line == 4 and "`test_one`" in finding.message
    assert "Remove the marker" in finding.fix and "allowance for HG004" in finding.fix


@pytest.mark.parametrize(
    "call", ['pytest.skip("later")', 'pytest.xfail("known")', 'pytest.importorskip("numpy")', 'self.skipTest("x")']
)
def test_hg004_skip_call_inside_a_test(call: str) -> None:
    new = SKIPPABLE.replace("        assert 2 * 1 == 2", f"        {call}\n        assert 2 * 1 == 2")
    finding = only(check([modified("tests/test_skippy.py", SKIPPABLE, new)]), "HG004")
    assert finding.line == 10 and "`TestTwo::test_two`" in finding.message


@pytest.mark.parametrize(
    "line",
    [
        "pytestmark = pytest.mark.skip",
        'pytestmark = [pytest.mark.slow, pytest.mark.xfail(reason="wip")]',
        'np = pytest.importorskip("numpy")',
        'pytest.skip("not today", allow_module_level=True)',
    ],
)
def test_hg004_module_level_skips(line: str) -> None:
    new = SKIPPABLE.replace("import pytest\n", f"import pytest\n\n{line}\n")
    finding = only(check([modified("tests/test_skippy.py", SKIPPABLE, new)]), "HG004")
    assert finding.line == 3 and "at module level" in finding.message


def test_hg004_class_level_pytestmark() -> None:
    new = SKIPPABLE.replace("class TestTwo:\n", "class TestTwo:\n    pytestmark = [pytest.mark.skip]\n\n")
    finding = only(check([modified("tests/test_skippy.py", SKIPPABLE, new)]), "HG004")
    assert finding.line == 9 and "`TestTwo`" in finding.message


def test_hg004_skipif_condition_made_always_true() -> None:
    old = SKIPPABLE.replace(
        "def test_one():", '@pytest.mark.skipif(sys.platform == "win32", reason="posix")\ndef test_one():'
    )
    new = SKIPPABLE.replace("def test_one():", '@pytest.mark.skipif(True, reason="posix")\ndef test_one():')
    finding = only(check([modified("tests/test_skippy.py", old, new)]), "HG004")
    assert "condition always true" in finding.message


def test_hg004_xfail_in_a_parametrize_case() -> None:
    old = """
        import pytest


        @pytest.mark.parametrize("n", [1, 2])
        def test_positive(n):
            assert n > 0
    """
    new = old.replace("[1, 2]", "[1, pytest.param(2, marks=pytest.mark.xfail)]")
    finding = only(check([modified("tests/test_params.py", old, new)]), "HG004")
    assert finding.line == 4 and "pytest.mark.xfail" in finding.message


def test_hg004_skip_in_a_conftest_fixture() -> None:
    old = src(
        """
        import pytest


        @pytest.fixture
        def db():
            return {}
        """
    )
    new = old.replace("    return {}", '    pytest.skip("no database")\n    return {}')
    finding = only(check([modified("tests/conftest.py", old, new)]), "HG004")
    assert finding.path == "tests/conftest.py" and finding.line == 6 and "`db`" in finding.message


def test_hg004_new_test_file_with_importorskip_fires() -> None:
    new = 'import pytest\n\nnp = pytest.importorskip("numpy")\n\n\ndef test_np():\n    assert np.ones(1)[0] == 1\n'
    finding = only(check([added("tests/test_np.py", new)]), "HG004")
    assert finding.line == 3


def test_hg004_silent_when_existing_markers_stay_and_code_shifts() -> None:
    old = SKIPPABLE.replace(
        "def test_one():", '@pytest.mark.skipif(sys.platform == "win32", reason="posix")\ndef test_one():'
    )
    new = "import sys\n" + old.replace('reason="posix"', 'reason="posix paths only"')
    assert check([modified("tests/test_skippy.py", old, new)]) == []


def test_hg004_silent_for_non_skip_markers_and_parametrize() -> None:
    new = SKIPPABLE.replace(
        "def test_one():", '@pytest.mark.slow\n@pytest.mark.parametrize("n", [1, 2])\ndef test_one(n):'
    ).replace("assert 1 + 1 == 2", "assert n + n == 2 * n")
    assert check([modified("tests/test_skippy.py", SKIPPABLE, new)]) == []


def test_hg004_silent_when_a_skip_is_removed() -> None:
    old = SKIPPABLE.replace("def test_one():", "@pytest.mark.skip\ndef test_one():")
    assert check([modified("tests/test_skippy.py", old, SKIPPABLE)]) == []
    two = SKIPPABLE.replace(
        "import pytest\n", "import pytest\n\npytestmark = pytest.mark.xfail\npytestmark = pytest.mark.xfail\n"
    )
    one = SKIPPABLE.replace("import pytest\n", "import pytest\n\npytestmark = pytest.mark.xfail\n")
    assert check([modified("tests/test_skippy.py", two, one)]) == []


# --------------------------------------------------------------------------- HG005 test-selection-changed

PYPROJECT = src(
    """
    [project]
    name = "calc"
    version = "1.0"

    [tool.pytest.ini_options]
    testpaths = ["tests"]
    addopts = "-ra --strict-markers --cov=calc --cov-fail-under=90"
    markers = ["slow: slow tests"]

    [tool.coverage.report]
    fail_under = 90
"""
)


@pytest.mark.parametrize(
    ("new_addopts", "seen"),
    [
        ("\"-ra --strict-markers --cov=calc --cov-fail-under=90 -k 'not slow'\"", "-k not slow"),
        ('"-ra --strict-markers --cov=calc --cov-fail-under=90 -m fast"', "-m fast"),
        (
            '"-ra --strict-markers --cov=calc --cov-fail-under=90 --deselect tests/test_calc.py::test_add"',
            "--deselect tests/test_calc.py::test_add",
        ),
        ('"-ra --strict-markers --cov=calc --cov-fail-under=90 --ignore=tests/slow"', "--ignore tests/slow"),
        ('"-ra --strict-markers --cov=calc --cov-fail-under=90 --ignore-glob=*_slow.py"', "--ignore-glob *_slow.py"),
        ('"-ra --strict-markers --cov=calc --cov-fail-under=90 -p no:unittest"', "-p no:unittest"),
        ('"-ra --strict-markers --cov=calc --cov-fail-under=90 --lf"', "--lf"),
        ('"-ra --strict-markers --cov=calc --cov-fail-under=90 --co"', "--co"),
        ('["-ra", "--strict-markers", "--cov=calc", "--cov-fail-under=90", "--sw"]', "--sw"),
    ],
)
def test_hg005_addopts_narrowing(new_addopts: str, seen: str) -> None:
    new = PYPROJECT.replace('"-ra --strict-markers --cov=calc --cov-fail-under=90"', new_addopts)
    finding = only(check([modified("pyproject.toml", PYPROJECT, new)]), "HG005")
    assert finding.path == "pyproject.toml" and finding.line == 7
    assert f"addopts gained `{seen}`" in finding.message


def test_hg005_cov_fail_under_lowered_in_addopts() -> None:
    new = PYPROJECT.replace("--cov-fail-under=90", "--cov-fail-under=50")
    finding = only(check([modified("pyproject.toml", PYPROJECT, new)]), "HG005")
    assert finding.line == 7 and "lowered to 50" in finding.message


def test_hg005_coverage_fail_under_lowered_and_removed() -> None:
    lowered = PYPROJECT.replace("fail_under = 90", "fail_under = 10")
    finding = only(check([modified("pyproject.toml", PYPROJECT, lowered)]), "HG005")
    assert finding.line == 11 and "fail_under=90 was lowered to 10" in finding.message
    removed = PYPROJECT.replace("fail_under = 90\n", "")
    finding = only(check([modified("pyproject.toml", PYPROJECT, removed)]), "HG005")
    assert "was removed" in finding.message


def test_hg005_testpaths_narrowed_and_added() -> None:
    narrowed = PYPROJECT.replace('testpaths = ["tests"]', 'testpaths = ["tests/unit"]')
    finding = only(check([modified("pyproject.toml", PYPROJECT, narrowed)]), "HG005")
    assert finding.line == 6 and "testpaths lost tests" in finding.message
    without = PYPROJECT.replace('testpaths = ["tests"]\n', "")
    finding = only(check([modified("pyproject.toml", without, PYPROJECT)]), "HG005")
    assert "testpaths was added" in finding.message


def test_hg005_python_files_and_norecursedirs() -> None:
    new = PYPROJECT.replace('testpaths = ["tests"]', 'testpaths = ["tests"]\npython_files = ["test_fast_*.py"]')
    finding = only(check([modified("pyproject.toml", PYPROJECT, new)]), "HG005")
    assert finding.line == 7 and "python_files no longer includes test_*.py" in finding.message
    new = PYPROJECT.replace('testpaths = ["tests"]', 'testpaths = ["tests"]\nnorecursedirs = [".*", "tests/slow"]')
    finding = only(check([modified("pyproject.toml", PYPROJECT, new)]), "HG005")
    assert "norecursedirs gained tests/slow" in finding.message


def test_hg005_pytest9_native_table() -> None:
    old = '[tool.pytest]\ntestpaths = ["tests"]\n'
    new = '[tool.pytest]\ntestpaths = ["tests"]\naddopts = ["-k", "not slow"]\n'
    finding = only(check([modified("pyproject.toml", old, new)]), "HG005")
    assert finding.line == 3 and "-k not slow" in finding.message


@pytest.mark.parametrize(
    ("path", "section"),
    [("pytest.ini", "[pytest]"), ("tox.ini", "[pytest]"), ("setup.cfg", "[tool:pytest]")],
)
def test_hg005_ini_files(path: str, section: str) -> None:
    old = f"{section}\naddopts = -ra\ntestpaths =\n    tests\n    integration\n"
    new = f"{section}\naddopts = -ra --deselect tests/test_calc.py::test_add\ntestpaths =\n    tests\n"
    findings = check([modified(path, old, new)])
    assert [(f.rule, f.line) for f in findings] == [("HG005", 2), ("HG005", 3)]
    assert "--deselect" in findings[0].message and "testpaths lost integration" in findings[1].message


def test_hg005_coveragerc_and_setup_cfg_thresholds() -> None:
    finding = only(
        check([modified(".coveragerc", "[report]\nfail_under = 95\n", "[report]\nfail_under = 80\n")]), "HG005"
    )
    assert finding.line == 2
    old = "[coverage:report]\nshow_missing = true\nfail_under = 95\n"
    finding = only(check([modified("setup.cfg", old, old.replace("95", "0"))]), "HG005")
    assert finding.line == 3 and "lowered to 0" in finding.message


def test_hg005_config_that_no_longer_parses() -> None:
    broken = PYPROJECT.replace('testpaths = ["tests"]', 'testpaths = ["tests"')
    finding = only(check([modified("pyproject.toml", PYPROJECT, broken)]), "HG005")
    assert "no longer parses" in finding.message and finding.line == 7  # where TOML noticed


def test_hg005_deleted_pytest_ini_with_a_coverage_gate_fires() -> None:
    finding = only(check([deleted("pytest.ini", "[pytest]\naddopts = --cov=calc --cov-fail-under=90\n")]), "HG005")
    assert "was removed" in finding.message


def test_hg005_silent_for_markers_and_unrelated_keys() -> None:
    new = (
        PYPROJECT.replace('version = "1.0"', 'version = "1.1"')
        .replace('markers = ["slow: slow tests"]', 'markers = ["slow: slow tests", "db: needs a database"]')
        .replace("[tool.coverage.report]", 'filterwarnings = ["error"]\nxfail_strict = true\n\n[tool.coverage.report]')
    )
    assert check([modified("pyproject.toml", PYPROJECT, new)]) == []


def test_hg005_silent_for_stricter_or_wider_settings() -> None:
    new = (
        PYPROJECT.replace('testpaths = ["tests"]', 'testpaths = ["tests", "docs"]')
        .replace("--cov-fail-under=90", "--cov-fail-under=95 -x -p no:cacheprovider -W error")
        .replace("fail_under = 90", "fail_under = 95")
    )
    assert check([modified("pyproject.toml", PYPROJECT, new)]) == []
    assert check([modified("pyproject.toml", PYPROJECT, PYPROJECT.replace('testpaths = ["tests"]\n', ""))]) == []


def test_hg005_silent_when_the_config_did_not_parse_at_base() -> None:
    broken = PYPROJECT.replace('testpaths = ["tests"]', 'testpaths = ["tests"')
    assert check([modified("pyproject.toml", broken, PYPROJECT.replace("fail_under = 90", "fail_under = 10"))]) == []


def test_hg005_silent_for_an_ini_file_without_pytest_settings() -> None:
    assert check([modified("setup.cfg", "[metadata]\nname = calc\n", "[metadata]\nname = calc2\n")]) == []


# --------------------------------------------------------------------------- HG006 collection-hook-added

CONFTEST = src(
    """
    import pytest


    @pytest.fixture
    def numbers():
        return [1, 2, 3]
"""
)


@pytest.mark.parametrize(
    "hook",
    [
        "pytest_collection_modifyitems(config, items)",
        "pytest_ignore_collect(collection_path, config)",
        "pytest_runtest_makereport(item, call)",
        "pytest_runtest_setup(item)",
        "pytest_report_teststatus(report, config)",
        "pytest_pycollect_makeitem(collector, name, obj)",
    ],
)
def test_hg006_new_collection_hook(hook: str) -> None:
    new = CONFTEST + f"\n\ndef {hook}:\n    return None\n"
    finding = only(check([modified("conftest.py", CONFTEST, new)]), "HG006")
    assert finding.line == 9 and f"new hook `{hook.split('(')[0]}`" in finding.message


def test_hg006_existing_hook_changed() -> None:
    old = CONFTEST + "\n\ndef pytest_collection_modifyitems(config, items):\n    items.sort(key=lambda i: i.name)\n"
    new = old.replace(
        "    items.sort(key=lambda i: i.name)\n", '    items[:] = [i for i in items if "slow" not in i.name]\n'
    )
    finding = only(check([modified("tests/conftest.py", old, new)]), "HG006")
    assert finding.line == 9 and "was changed" in finding.message


def test_hg006_collect_ignore_entries() -> None:
    old = CONFTEST + '\ncollect_ignore = ["setup.py"]\n'
    new = CONFTEST + '\ncollect_ignore = ["setup.py", "tests/test_calc.py"]\ncollect_ignore_glob = ["*_slow.py"]\n'
    findings = check([modified("conftest.py", old, new)])
    assert [(f.rule, f.line) for f in findings] == [("HG006", 8), ("HG006", 9)]
    assert "'tests/test_calc.py'" in findings[0].message and "'*_slow.py'" in findings[1].message
    appended = old + 'collect_ignore.append("tests/test_div.py")\n'
    finding = only(check([modified("conftest.py", old, appended)]), "HG006")
    assert "'tests/test_div.py'" in finding.message and finding.line == 9


def test_hg006_pytest_configure_that_changes_options() -> None:
    new = CONFTEST + '\n\ndef pytest_configure(config):\n    config.option.markexpr = "not slow"\n'
    finding = only(check([modified("conftest.py", CONFTEST, new)]), "HG006")
    assert finding.line == 10 and "config.option.markexpr" in finding.message
    new = CONFTEST + '\n\ndef pytest_configure(config):\n    config.args.append("tests/unit")\n'
    assert only(check([modified("conftest.py", CONFTEST, new)]), "HG006").line == 10


def test_hg006_overwriting_the_exit_status() -> None:
    new = CONFTEST + "\n\ndef pytest_sessionfinish(session, exitstatus):\n    session.exitstatus = 0\n"
    finding = only(check([modified("conftest.py", CONFTEST, new)]), "HG006")
    assert "exitstatus" in finding.message


def test_hg006_new_conftest_with_a_hook() -> None:
    new = "def pytest_ignore_collect(collection_path, config):\n    return 'slow' in str(collection_path)\n"
    finding = only(check([added("tests/integration/conftest.py", new)]), "HG006")
    assert finding.path == "tests/integration/conftest.py" and finding.line == 1


def test_hg006_silent_for_a_new_fixture() -> None:
    new = CONFTEST + "\n\n@pytest.fixture\ndef empty():\n    return []\n"
    assert check([modified("conftest.py", CONFTEST, new)]) == []


def test_hg006_silent_for_marker_registration_and_parametrization() -> None:
    new = CONFTEST + (
        "\n\ndef pytest_configure(config):\n"
        '    config.addinivalue_line("markers", "db: needs a database")\n'
        "\n\ndef pytest_generate_tests(metafunc):\n"
        '    if "n" in metafunc.fixturenames:\n'
        '        metafunc.parametrize("n", [1, 2])\n'
    )
    assert check([modified("conftest.py", CONFTEST, new)]) == []


def test_hg006_silent_when_an_existing_hook_only_moves() -> None:
    hook = "def pytest_collection_modifyitems(config, items):\n    items.sort(key=lambda i: i.name)\n"
    old = CONFTEST + "\n\n" + hook
    new = "import pytest\n\n\n" + hook + "\n\n" + CONFTEST.replace("    import pytest\n", "")
    assert check([modified("conftest.py", old, src(new))]) == []


# --------------------------------------------------------------------------- HG007 test-detection-in-code

CODE = src(
    '''
    """Prices. Tested with pytest; see tests/test_prices.py."""
    import os
    import sys


    def price(amount):
        # under pytest we used to cheat here; not any more
        return round(amount * 1.2, 2)
'''
)


@pytest.mark.parametrize(
    "expr",
    [
        'os.environ.get("PYTEST_CURRENT_TEST")',
        'os.environ["PYTEST_CURRENT_TEST"]',
        '"PYTEST_CURRENT_TEST" in os.environ',
        'os.getenv("PYTEST_XDIST_WORKER")',
        '"pytest" in sys.modules',
        'sys.modules.get("pytest")',
        'sys.modules["_pytest"]',
        '"unittest" in sys.modules',
        '"pytest" in sys.argv[0]',
        'sys.argv[0].endswith("pytest")',
        "sys._called_from_test",
        'hasattr(sys, "_called_from_test")',
    ],
)
def test_hg007_code_that_detects_tests(expr: str) -> None:
    new = CODE.replace(
        "    return round(amount * 1.2, 2)", f"    if {expr}:\n        return 42\n    return round(amount * 1.2, 2)"
    )
    finding = only(check([modified("src/prices.py", CODE, new)]), "HG007")
    assert finding.severity == "error" and finding.line == 8
    assert expr in finding.message and "Remove the check" in finding.fix


def test_hg007_import_pytest_in_code_is_a_warning() -> None:
    new = CODE.replace("import sys\n", "import sys\n\nimport pytest\n")
    finding = only(check([modified("src/prices.py", CODE, new)]), "HG007")
    assert finding.severity == "warning" and not finding.blocking and finding.line == 5


def test_hg007_new_module_detecting_tests() -> None:
    finding = only(
        check([added("src/flags.py", 'import os\nTESTING = "PYTEST_CURRENT_TEST" in os.environ\n')]), "HG007"
    )
    assert finding.line == 2


def test_hg007_silent_for_docstrings_comments_and_existing_checks() -> None:
    old = CODE.replace(
        "    return round", '    if os.environ.get("PYTEST_CURRENT_TEST"):\n        pass\n    return round'
    )
    new = old.replace('"""Prices.', '"""Prices; never check PYTEST_CURRENT_TEST or "pytest" in sys.modules.')
    new = "# pytest-friendly\n" + new
    assert check([modified("src/prices.py", old, new)]) == []


def test_hg007_silent_in_tests_and_conftest() -> None:
    text = 'import os\n\nRUNNING = os.environ.get("PYTEST_CURRENT_TEST")\n'
    assert check([added("tests/helpers.py", text), added("conftest.py", text)]) == []


def test_hg007_silent_for_strings_used_elsewhere() -> None:
    new = CODE.replace(
        "import sys\n", 'import sys\n\nCOMMAND = ["python", "-m", "pytest"]\nENV = {"PYTEST_ADDOPTS": ""}\n'
    )
    assert check([modified("src/prices.py", CODE, new)]) == []


# --------------------------------------------------------------------------- HG008 contract-edited

CONTRACT_PATH = ".harness/contracts/001.md"
AGREED = {
    "issue": "001",
    "status": "agreed",
    "round": 1,
    "criteria": [
        {"id": "C1", "behaviour": "add(1, 2) returns 3", "test": "tests/test_calc.py::test_add"},
        {"id": "C2", "behaviour": "div(1, 0) raises", "test": "tests/test_calc.py::test_div_by_zero"},
    ],
    "out_of_scope": [],
    "allow": [],
    "frozen_tests": {},
}
DIGEST = contract_digest(AGREED)


def contract(**changes: object) -> str:
    meta = {**AGREED, "sha256": DIGEST, **changes}
    return "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n# Done-contract for issue 001\n"


CONTRACT_CONTEXT = GuardContext(contract_path=CONTRACT_PATH, contract_digest=DIGEST)


def test_hg008_criterion_behaviour_changed() -> None:
    criteria = [dict(AGREED["criteria"][0]), {**AGREED["criteria"][1], "behaviour": "div(1, 0) returns 0"}]  # type: ignore[index]
    change = FileChange(CONTRACT_PATH, "modified", contract(), contract(criteria=criteria))
    finding = only(check([change], CONTRACT_CONTEXT), "HG008")
    assert "criterion C2's behaviour changed" in finding.message
    assert finding.line is not None and "id: C2" in change.new_text.split("\n")[finding.line - 1]  # type: ignore[union-attr]


def test_hg008_criterion_removed_and_allowance_added_without_context_digest() -> None:
    criteria = [AGREED["criteria"][0]]  # type: ignore[index]
    allow = [{"rule": "HG004", "path": "tests/*", "reason": "flaky"}]
    change = FileChange(CONTRACT_PATH, "modified", contract(), contract(criteria=criteria, allow=allow))
    finding = only(check([change]), "HG008")  # the base's own agreed sha256 is the expected digest
    assert "criteria C2 were removed" in finding.message and "allowances changed" in finding.message


def test_hg008_sha_field_edited_deleted_and_unparsable() -> None:
    edited = FileChange(CONTRACT_PATH, "modified", contract(), contract(sha256="0" * 64))
    assert "sha256 field changed" in only(check([edited], CONTRACT_CONTEXT), "HG008").message
    gone = FileChange(CONTRACT_PATH, "deleted", contract(), None)
    assert "was deleted" in only(check([gone], CONTRACT_CONTEXT), "HG008").message
    broken = FileChange(CONTRACT_PATH, "modified", contract(), "---\nissue: [001\n---\n")
    assert "no longer parses" in only(check([broken], CONTRACT_CONTEXT), "HG008").message


def test_hg008_added_contract_checked_against_the_context_digest() -> None:
    criteria = [{**AGREED["criteria"][0], "test": "tests/test_calc.py::test_other"}]  # type: ignore[index]
    change = FileChange(CONTRACT_PATH, "added", None, contract(criteria=criteria))
    assert only(check([change], CONTRACT_CONTEXT), "HG008").rule == "HG008"


def test_hg008_cannot_be_allowed_by_the_contract_it_protects() -> None:
    context = replace(CONTRACT_CONTEXT, allowances=(Allowance("*", "*", "anything goes"),))
    change = FileChange(CONTRACT_PATH, "modified", contract(), contract(out_of_scope=["everything"]))
    finding = only(check([change], context), "HG008")
    assert finding.blocking and "out of scope changed" in finding.message


def test_hg008_silent_for_history_frozen_tests_and_body() -> None:
    new = contract(frozen_tests={"tests/test_calc.py": "ab" * 32}, history=[{"round": 1}]) + "\nMore prose.\n"
    assert check([FileChange(CONTRACT_PATH, "modified", contract(), new)], CONTRACT_CONTEXT) == []


def test_hg008_silent_before_the_contract_is_agreed() -> None:
    old = contract(status="negotiating", sha256=None)
    new = contract(status="negotiating", sha256=None, criteria=[AGREED["criteria"][0]])  # type: ignore[index]
    assert check([FileChange(CONTRACT_PATH, "modified", old, new)]) == []


# --------------------------------------------------------------------------- HG009 frozen-test-edited

FROZEN = src(BASE_TESTS)
FROZEN_CONTEXT = GuardContext(frozen_tests={TEST: sha(FROZEN)})


def test_hg009_frozen_test_changed_reports_first_changed_line() -> None:
    new = FROZEN.replace("assert div(1, 2) == 0.5", "assert div(1, 2) == 0.5  # tweak")
    finding = only(check([FileChange(TEST, "modified", FROZEN, new)], FROZEN_CONTEXT), "HG009")
    assert finding.line == 18 and "frozen test file tests/test_calc.py changed" in finding.message


def test_hg009_frozen_test_written_during_the_issue_has_no_line() -> None:
    new = FROZEN + "\n# edited after review\n"
    finding = only(check([FileChange(TEST, "added", None, new)], FROZEN_CONTEXT), "HG009")
    assert finding.line is None


def test_hg009_deleted_or_renamed() -> None:
    findings = check([FileChange(TEST, "deleted", FROZEN, None)], FROZEN_CONTEXT)
    assert [f.rule for f in findings] == ["HG001", "HG009"]
    moved = FileChange("tests/unit/test_calc.py", "renamed", FROZEN, FROZEN, TEST)
    assert "renamed to tests/unit/test_calc.py" in only(check([moved], FROZEN_CONTEXT), "HG009").message


def test_hg009_silent_when_the_frozen_content_is_unchanged() -> None:
    assert check([FileChange(TEST, "added", None, FROZEN)], FROZEN_CONTEXT) == []
    other = FileChange("tests/test_other.py", "added", None, "def test_x():\n    assert 1 + 1 == 2\n")
    assert check([other], FROZEN_CONTEXT) == []


# --------------------------------------------------------------------------- HG010 protected-path-changed

PROTECTED = GuardContext(protected_paths=("harness.toml", ".github/**", "**/Makefile"))


@pytest.mark.parametrize("path", [".github/workflows/ci.yml", "harness.toml", "Makefile", "sub/Makefile"])
def test_hg010_protected_paths(path: str) -> None:
    finding = only(check([FileChange(path, "modified", "a\n", "b\n")], PROTECTED), "HG010")
    assert finding.path == path and "protected by the repo's harness configuration" in finding.message
    assert "allowance" in finding.message


def test_hg010_renaming_a_protected_file_away() -> None:
    change = FileChange("old-ci.yml", "renamed", "x\n", "x\n", ".github/workflows/ci.yml")
    assert ".github/workflows/ci.yml" in only(check([change], PROTECTED), "HG010").message


def test_hg010_silent_for_other_paths() -> None:
    assert check([FileChange("src/github.py", "modified", "a = 1\n", "a = 2\n")], PROTECTED) == []


# --------------------------------------------------------------------------- HG011 test-without-assertion


def test_hg011_new_test_without_a_check() -> None:
    new = BASE_TESTS + "\n\ndef test_add_runs():\n    add(1, 2)\n"
    finding = only(check([modified(TEST, BASE_TESTS, new)]), "HG011")
    assert finding.line == 21 and "`test_add_runs`" in finding.message and "no assert" in finding.message


def test_hg011_new_test_with_only_a_trivial_assert() -> None:
    finding = only(check([added("tests/test_new.py", "def test_ok():\n    run()\n    assert True\n")]), "HG011")
    assert "only trivially true" in finding.message


def test_hg011_async_and_class_tests() -> None:
    new = "class TestApi:\n    async def test_get(self):\n        await get()\n"
    finding = only(check([added("tests/test_api.py", new)]), "HG011")
    assert "`TestApi::test_get`" in finding.message and finding.line == 2


def test_hg011_silent_for_a_fixture_named_like_a_test() -> None:
    new = "import pytest\n\n\n@pytest.fixture\ndef test_data():\n    return [1, 2]\n"
    assert check([added("tests/test_data.py", new)]) == []


def test_hg011_silent_for_real_checks() -> None:
    new = src(
        """
        import pytest
        import unittest

        from helpers import assert_valid


        def _check_total(items):
            assert sum(items) == 6


        def test_raises_only():
            with pytest.raises(ValueError):
                parse("x")


        def test_calls_local_helper():
            _check_total([1, 2, 3])


        def test_calls_imported_assert_helper():
            assert_valid(parse("1"))


        def test_calls_conftest_helper(numbers):
            same_numbers(numbers, [1, 2, 3])


        @pytest.mark.parametrize("n", [1, 2])
        def test_parametrized(n):
            assert parse(str(n)) == n


        async def test_async():
            assert await fetch() == 1


        class ParseCase(unittest.TestCase):
            def test_unittest(self):
                self.assertEqual(parse("1"), 1)

            def test_unittest_raises(self):
                with self.assertRaises(ValueError):
                    parse("x")

            def test_calls_a_helper_method(self):
                self._parses_to("2", 2)

            def _parses_to(self, text, value):
                self.assertEqual(parse(text), value)
        """
    )
    conftest = "def same_numbers(a, b):\n    assert list(a) == list(b)\n"
    assert check([added("tests/test_parse.py", new), added("tests/conftest.py", conftest)]) == []


# --------------------------------------------------------------------------- allowances, robustness, order


def test_an_allowance_marks_the_finding_allowed_but_keeps_its_severity() -> None:
    new = PYPROJECT.replace('testpaths = ["tests"]', 'testpaths = ["tests/unit"]')
    allowance = Allowance("HG005", "pyproject.toml", "the issue moves tests to tests/unit; testpaths must follow")
    finding = only(check([modified("pyproject.toml", PYPROJECT, new)], GuardContext(allowances=(allowance,))), "HG005")
    assert finding.severity == "error" and not finding.blocking
    assert finding.allowed_by == allowance.reason and finding.as_dict()["blocking"] is False


def test_an_allowance_by_name_covers_only_its_rule_and_path() -> None:
    allowance = Allowance("skip-added", "tests/test_skippy.py", "windows only")
    new = SKIPPABLE.replace("def test_one():", "@pytest.mark.skip\ndef test_one():")
    changes = [modified("tests/test_skippy.py", SKIPPABLE, new), modified("tests/test_other.py", SKIPPABLE, new)]
    findings = check(changes, GuardContext(allowances=(allowance,)))
    assert [(f.path, f.allowed_by) for f in findings] == [
        ("tests/test_other.py", None),
        ("tests/test_skippy.py", "windows only"),
    ]


def test_files_that_do_not_parse_do_not_crash() -> None:
    broken = "def test_x(:\n    assert True\n"
    changes = [
        FileChange(TEST, "modified", src(BASE_TESTS), broken),
        FileChange("tests/test_was_broken.py", "modified", broken, "def test_y():\n    pass\n"),
        FileChange("src/bad.py", "modified", "x = 1\n", 'import os\nif os.environ.get("PYTEST_X"\n'),
        FileChange("conftest.py", "added", None, "def pytest_ignore_collect(:\n"),
        FileChange("tests/test_nul.py", "added", None, "x = '\0'\n"),
        FileChange("tests/test_binary.py", "modified", None, None),
    ]
    assert check(changes) == []


def test_findings_are_sorted_by_path_line_and_rule() -> None:
    new = BASE_TESTS.replace("def test_add():", "@pytest.mark.skip\ndef test_add():").replace(
        "    assert add(-1, 1) == 0\n", ""
    )
    changes = [
        modified(TEST, BASE_TESTS, new),
        FileChange(".github/ci.yml", "modified", "a\n", "b\n"),
        deleted("tests/test_gone.py", "def test_gone():\n    assert 1\n"),
    ]
    findings = check(changes, GuardContext(protected_paths=(".github/**",)))
    assert [(f.path, f.line, f.rule) for f in findings] == [
        (".github/ci.yml", None, "HG010"),
        (TEST, 6, "HG004"),
        (TEST, 7, "HG003"),
        ("tests/test_gone.py", None, "HG001"),
    ]


def test_statement_level_diff_matches_a_full_comparison_when_the_change_is_in_the_middle() -> None:
    middle = "\n\ndef test_mid():\n    run()\n"
    old = src(BASE_TESTS)
    new = old.replace("\n\nclass TestDiv:", middle + "\n\nclass TestDiv:")
    new = new.replace("assert add(-1, 1) == 0", "assert True")
    findings = check([FileChange(TEST, "modified", old, new)])
    assert [(f.rule, f.line) for f in findings] == [("HG003", 8), ("HG011", 16)]


def test_a_change_that_opens_a_string_is_compared_whole() -> None:
    old = src(BASE_TESTS)
    new = old.replace("def test_div_by_zero():", 'NOTE = """\ndef test_div_by_zero():').replace(
        "class TestDiv:", '"""\n\n\nclass TestDiv:'
    )
    finding = only(check([FileChange(TEST, "modified", old, new)]), "HG002")
    assert "`test_div_by_zero`" in finding.message


SNIPPETS = [
    "import pytest\n",
    "@pytest.mark.skip\n",
    "def test_{n}():\n    assert f({n}) == {n}\n",
    "def test_{n}():\n    f({n})\n",
    "def helper_{n}():\n    assert g() == {n}\n",
    "def test_{n}():\n    helper_{n}()\n",
    "class TestK{n}:\n    def test_m(self):\n        assert 1 == {n}\n\n"
    "    def test_q(self):\n        pytest.skip('x')\n",
    "def test_{n}(x):\n    try:\n        assert x\n    except AssertionError:\n        pass\n",
    "def test_{n}():\n    with pytest.raises(Exception):\n        h()\n",
    "@pytest.mark.parametrize('a', [1, pytest.param(2, marks=pytest.mark.xfail)])\n",
    "pytestmark = pytest.mark.xfail\n",
    "if os.environ.get('PYTEST_CURRENT_TEST'):\n    pass\n",
    "def pytest_collection_modifyitems(items):\n    items.clear()\n",
    "x = 1; y = 2\n",
    "    assert g() == 2\n",
    'S = """\n',
    "foo(\n",
    ")\n",
    "\\\n",
    "# comment\n",
    "\n\n",
]


def _random_module(rng: random.Random) -> str:
    return "".join(rng.choice(SNIPPETS).format(n=rng.randint(0, 4)) for _ in range(rng.randint(1, 10)))


def _random_edit(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(lines))
        roll = rng.random()
        if roll < 0.4:
            lines[at:at] = _random_module(rng).split("\n")[:-1]
        elif roll < 0.7:
            del lines[at : at + rng.randint(1, 3)]
        elif lines:
            at = min(at, len(lines) - 1)
            lines[at] = lines[at].replace("assert", "x =") if roll < 0.85 else lines[at] + "  # edited"
    return "\n".join(lines)


def _comparable(findings: list[GuardFinding]) -> list[tuple[str, str, int | None, str]]:
    """Which of two identical markers (or test detections) is the new one is a matter of choice: compare
    those without their line."""
    loose = ("HG004", "HG007")
    return sorted(
        (f.rule, f.path, None if f.rule in loose else f.line, f.message.split(" at line")[0]) for f in findings
    )


def test_comparing_only_the_changed_statements_finds_what_comparing_whole_files_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    split = rules._split_unchanged
    used = 0

    def counting(*args: Any) -> Any:
        nonlocal used
        result = split(*args)
        used += result is not None
        return result

    rng = random.Random(20240611)
    for _ in range(400):
        old = _random_module(rng)
        new = _random_edit(rng, old)
        if old == new:
            continue
        path = rng.choice([TEST, "conftest.py", "src/calc.py"])
        change = FileChange(path, "modified", old, new)
        with monkeypatch.context() as patch:
            patch.setattr(rules, "_split_unchanged", counting)
            fast = _comparable(check([change]))
            patch.setattr(rules, "_split_unchanged", lambda *args: None)
            whole = _comparable(check([change]))
        assert fast == whole, (old, new)
    assert used > 20  # the shortcut was really taken


# --------------------------------------------------------------------------- scale


def _test_module(index: int, tests: int) -> str:
    lines = ["import pytest", f"from pkg import mod{index} as mod", ""]
    for n in range(tests):
        lines += [
            "",
            f"def test_case_{n}(tmp_path):",
            f"    value = mod.compute({n}, tmp_path)",
            f"    assert value == {n}",
            "",
        ]
    return "\n".join(lines) + "\n"


def _code_module(index: int, functions: int) -> str:
    lines = [f'"""Module {index}."""', "import os", ""]
    for n in range(functions):
        lines += ["", f"def func_{n}(x):", f"    if x > {n}:", f"        return x * {n}", "    return -x"]
    return "\n".join(lines) + "\n"


def test_five_hundred_changed_files() -> None:
    changes = []
    for i in range(250):
        old = _test_module(i, 20)
        if i % 5 == 0:  # a new test without a check at the end
            new = old + "\n\ndef test_added():\n    mod.compute(1, None)\n"
        elif i % 5 == 1:  # a test in the middle loses its assertion
            new = old.replace("    assert value == 10\n", "")
        elif i % 5 == 2:  # a skip on the first test
            new = old.replace("def test_case_0(", "@pytest.mark.skip\ndef test_case_0(")
        elif i % 5 == 3:  # an honest new test
            new = old + "\n\ndef test_added():\n    assert mod.compute(1, None) == 1\n"
        else:  # a new file
            changes.append(FileChange(f"tests/test_new_{i}.py", "added", None, old))
            continue
        changes.append(FileChange(f"tests/test_m{i}.py", "modified", old, new))
    for i in range(250):
        old = _code_module(i, 20)
        if i % 2:
            new = old.replace("    return -x\n", '    return -x if os.environ.get("PYTEST_CURRENT_TEST") else x\n', 1)
        else:
            new = old.replace("return -x", "return -(x + 1)")
        changes.append(FileChange(f"src/pkg/mod{i}.py", "modified", old, new))
    assert sum(len((c.new_text or "").splitlines()) for c in changes) > 50_000
    findings = check(changes)
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.rule] = counts.get(finding.rule, 0) + 1
    assert counts == {"HG003": 50, "HG004": 50, "HG007": 125, "HG011": 50}
    assert {f.line for f in of(findings, "HG003")} == {55}  # def test_case_10
    assert {f.line for f in of(findings, "HG007")} == {8}  # the first `return -x`


# --------------------------------------------------------------------------- honest refactors: moved tests

INTO_A_CLASS = """
import pytest

from calc import add, div


class TestAdd:
    def test_add(self):
        assert add(1, 2) == 3
        assert add(-1, 1) == 0


class TestDivision:
    def test_div_by_zero(self):
        with pytest.raises(ZeroDivisionError):
            div(1, 0)

    def test_half(self):
        assert div(1, 2) == 0.5
"""


def test_tests_moved_into_a_class_with_their_bodies_unchanged_are_no_removal() -> None:
    assert check([modified(TEST, BASE_TESTS, INTO_A_CLASS)]) == []


def test_tests_moved_to_another_file_or_renamed_with_an_extended_body_are_no_removal() -> None:
    remaining = BASE_TESTS.split("\n\ndef test_div_by_zero")[0] + "\n"
    moved = "import pytest\n\nfrom calc import div\n\n\ndef test_division_by_zero_raises():\n" + (
        "    with pytest.raises(ZeroDivisionError):\n        div(1, 0)\n    assert div(4, 2) == 2\n"
        "\n\nclass TestDiv:\n    def test_half(self):\n        assert div(1, 2) == 0.5\n"
    )
    assert check([modified(TEST, BASE_TESTS, remaining), added("tests/test_div.py", moved)]) == []
    # The whole file moved into two others: no HG001 either.
    split_add = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n    assert add(-1, 1) == 0\n"
    split = [deleted(TEST, BASE_TESTS), added("tests/test_div.py", moved), added("tests/test_add.py", split_add)]
    assert check(split) == []


def test_a_moved_test_that_lost_a_check_is_still_a_removal() -> None:
    weaker = "class TestAdd:\n    def test_add(self):\n        assert add(1, 2) == 3\n"
    head = BASE_TESTS.split("\n\ndef test_add")[0] + "\n\n" + weaker + "\n\n" + "def test_div_by_zero" + (
        BASE_TESTS.split("def test_div_by_zero", 1)[1]
    )
    finding = only(check([modified(TEST, BASE_TESTS, head)]), "HG002")
    assert "test_add" in finding.message
    # Moved to a file pytest does not collect: still gone.
    gone = only(check([deleted(TEST, BASE_TESTS), added("tests/cases.py", BASE_TESTS)]), "HG001")
    assert TEST in gone.message


# --------------------------------------------------------------------------- honest refactors: platform skips

NEW_WINDOWS_TEST = """

@pytest.mark.skipif({condition}, reason="POSIX paths only")
def test_posix_paths():
    assert add(1, 1) == 2
"""


@pytest.mark.parametrize(
    "condition",
    [
        'sys.platform == "win32"',
        "sys.version_info < (3, 12)",
        'os.name == "nt" or sys.platform.startswith("darwin")',
        'platform.system() == "Windows"',
        '"sys.platform == \'win32\'"',
        "sys.version_info[:2] >= (3, 13)",
        "WIN",  # click's own flag, imported from its compat module
        "IS_PYPY",
        'shutil.which("cat") is None',
        'os.environ.get("CI") is None',
    ],
)
def test_a_platform_skip_on_a_new_test_is_no_finding(condition: str) -> None:
    head = BASE_TESTS + NEW_WINDOWS_TEST.format(condition=condition)
    assert [f for f in check([modified(TEST, BASE_TESTS, head)]) if f.rule == "HG004"] == []


@pytest.mark.parametrize("condition", ["True", "add(1, 1) == 2", "CALC_BROKEN", "sys.platform != 'x' or 1"])
def test_other_skip_conditions_on_new_tests_still_fire(condition: str) -> None:
    head = BASE_TESTS + NEW_WINDOWS_TEST.format(condition=condition)
    assert [f.rule for f in check([modified(TEST, BASE_TESTS, head)]) if f.rule == "HG004"] == ["HG004"]


def test_a_platform_skip_added_to_an_existing_test_still_fires() -> None:
    marker = '@pytest.mark.skipif(sys.platform == "linux", reason="x")\n'
    head = BASE_TESTS.replace("def test_add():", marker + "def test_add():")
    only(check([modified(TEST, BASE_TESTS, head)]), "HG004")


# --------------------------------------------------------------------------- named mark variables

MARKED = """
import sys

import pytest

from calc import add

needs_posix = pytest.mark.skipif(sys.platform == "win32", reason="posix")
slow_host = pytest.mark.skipif(add(1, 1) == 2, reason="always")


def test_add():
    assert add(1, 2) == 3


@needs_posix
def test_paths():
    assert add(2, 2) == 4
"""


def test_defining_a_mark_variable_skips_nothing() -> None:
    base = MARKED.split("needs_posix = ")[0] + "\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    definition = "needs_net = pytest.mark.skipif(True, reason='x')\n"
    head = base.replace("from calc import add\n", "from calc import add\n\n" + definition)
    assert check([modified(TEST, base, head)]) == []


def test_a_mark_variable_applied_to_an_existing_test_is_a_new_skip() -> None:
    head = MARKED.replace("def test_add():", "@slow_host\ndef test_add():")
    finding = only(check([modified(TEST, MARKED, head)]), "HG004")
    assert "test_add" in finding.message


def test_a_mark_variable_swapped_on_a_test_is_a_new_skip() -> None:
    head = MARKED.replace("@needs_posix\ndef test_paths", "@slow_host\ndef test_paths")
    only(check([modified(TEST, MARKED, head)]), "HG004")


def test_a_platform_mark_variable_on_a_new_test_is_no_finding() -> None:
    head = MARKED + "\n\n@needs_posix\ndef test_more_paths():\n    assert add(3, 3) == 6\n"
    assert check([modified(TEST, MARKED, head)]) == []


# --------------------------------------------------------------------------- checks the rules recognise

@pytest.mark.parametrize(
    "body",
    [
        'result = pytester.runpytest()\n    result.stdout.fnmatch_lines(["*1 passed*"])',
        "result = pytester.runpytest()\n    result.assert_outcomes(passed=1)",
        'warnings.simplefilter("error")\n    add(1, 2)',
        "eq_(add(1, 2), 3)",
        "ok_(add(1, 2))",
    ],
    ids=["fnmatch_lines", "assert_outcomes", "warnings-as-errors", "nose-eq", "nose-ok"],
)
def test_checks_from_pytester_warnings_and_nose_count(body: str) -> None:
    new = f"import warnings\n\nfrom calc import add\n\n\ndef test_new(pytester):\n    {body}\n"
    assert check([added("tests/test_new.py", new)]) == []


def test_a_new_test_that_only_calls_still_has_no_check() -> None:
    new = "from calc import add\n\n\ndef test_new():\n    add(1, 2)\n"
    only(check([added("tests/test_new.py", new)]), "HG011")


# --------------------------------------------------------------------------- honest refactors: folded copies

COPIES = """
from calc import add


def test_add_small():
    assert add(1, 2) == 3


def test_add_negative():
    assert add(-1, -2) == -3


def test_add_zero():
    assert add(0, 0) == 0
"""
FOLDED = """
import pytest

from calc import add


@pytest.mark.parametrize(("a", "b", "total"), [(1, 2, 3), (-1, -2, -3), (0, 0, 0)])
def test_add(a, b, total):
    assert add(a, b) == total
"""


def test_copies_folded_into_a_parametrized_test_with_the_same_cases_are_no_removal() -> None:
    assert check([modified(TEST, COPIES, FOLDED)]) == []


def test_folding_that_drops_a_case_is_a_removal() -> None:
    fewer = FOLDED.replace(", (0, 0, 0)]", "]")
    finding = only(check([modified(TEST, COPIES, fewer)]), "HG002")
    assert "test_add_zero" in finding.message


def test_a_renamed_parametrized_test_runs_each_of_its_cases_or_it_is_a_removal() -> None:
    renamed_test = FOLDED.replace("def test_add(", "def test_sum(")
    assert check([modified(TEST, FOLDED, renamed_test)]) == []
    fewer = renamed_test.replace(", (0, 0, 0)]", "]")
    finding = only(check([modified(TEST, FOLDED, fewer)]), "HG002")
    assert "`test_add`" in finding.message
    # cases the guard cannot read at head (a variable): compared as written, as before
    unread = renamed_test.replace("[(1, 2, 3), (-1, -2, -3), (0, 0, 0)]", "CASES")
    assert check([modified(TEST, FOLDED, unread)]) == []


# --------------------------------------------------------------------------- honest refactors: a feature removed

CALC = "def add(a, b):\n    return a + b\n\n\ndef div(a, b):\n    return a / b\n"


def test_a_feature_removed_with_its_tests_is_no_removal() -> None:
    """`div` goes, and so do the tests that used only it; `test_add` stays."""
    head = BASE_TESTS.split("\n\ndef test_div_by_zero")[0].replace("from calc import add, div", "from calc import add")
    source = modified("calc.py", CALC, CALC.split("\n\n\ndef div")[0] + "\n")
    assert check([modified(TEST, BASE_TESTS, head + "\n"), source]) == []


def test_a_test_removed_while_what_it_tests_stays_is_still_a_removal() -> None:
    head = BASE_TESTS.split("\n\ndef test_div_by_zero")[0] + "\n"  # div still exists
    findings = check([modified(TEST, BASE_TESTS, head)])
    removed = sorted(f.message.split("`")[1] for f in findings if f.rule == "HG002")
    assert removed == ["TestDiv::test_half", "test_div_by_zero"]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("tests/test_speed.py", "from calc import add\n\n\ndef test_add_speed(benchmark):\n    benchmark(add, 1, 2)\n"),
        ("bench/test_bench.py", "from calc import add\n\n\ndef test_add_speed():\n    add(1, 2)\n"),
        (
            "tests/test_speed.py",
            "import pytest\n\nfrom calc import add\n\npytestmark = pytest.mark.benchmark()\n\n\n"
            "def test_add_speed():\n    add(1, 2)\n",
        ),
    ],
    ids=["fixture", "folder", "pytestmark"],
)
def test_hg011_a_benchmark_needs_no_assert(path: str, text: str) -> None:
    assert check([added(path, text)]) == []


def test_a_skip_on_a_new_test_for_a_missing_os_feature_is_no_finding() -> None:
    head = BASE_TESTS + NEW_WINDOWS_TEST.format(condition='not hasattr(os, "getuid")')
    assert [f for f in check([modified(TEST, BASE_TESTS, head)]) if f.rule == "HG004"] == []


def test_hg011_a_test_without_a_check_that_only_moved_is_not_new() -> None:
    """It was already there at base, unchanged: moving it adds no weak test (click 700798252a)."""
    smoke = "from calc import add\n\n\ndef test_add_runs():\n    add(1, 2)\n"
    base = BASE_TESTS + "\n\ndef test_add_runs():\n    add(1, 2)\n"
    assert check([modified(TEST, base, BASE_TESTS), added("tests/test_smoke.py", smoke)]) == []
    only(check([added("tests/test_smoke.py", smoke)]), "HG011")  # new for real: still a finding
