"""HG024-HG026 (harness/guard/suite.py), each both ways: parametrize cases dropped, test data records
removed, a test command narrowed — and the honest look-alikes (a case moved, a record fixed, a new fast
target next to the full one) that must stay silent. Through `harness.guard.rules.check`, like the engine."""

from __future__ import annotations

import json
from textwrap import dedent

import pytest

from harness.guard import suite
from harness.guard.model import FileChange, GuardFinding
from harness.guard.rules import RULES, check


def src(text: str) -> str:
    return dedent(text).lstrip("\n")


def modified(path: str, old: str, new: str) -> FileChange:
    assert src(old) != src(new), "the edit did not apply: the test would prove nothing"
    return FileChange(path, "modified", src(old), src(new))


def only(changes: list[FileChange], rule: str) -> GuardFinding:
    findings = check(changes)
    assert [f.rule for f in findings] == [rule], [(f.rule, f.line, f.message) for f in findings]
    assert findings[0].blocking
    return findings[0]


def silent(*changes: FileChange) -> None:
    findings = check(list(changes))
    assert findings == [], [(f.rule, f.path, f.line, f.message) for f in findings]


def test_the_rules_are_in_the_engine() -> None:
    assert {r.id: r.name for r in suite.RULES} == {
        "HG024": "parametrize-case-removed",
        "HG025": "test-data-removed",
        "HG026": "test-command-narrowed",
    }
    assert all(RULES[r.id] is r for r in suite.RULES)


# --------------------------------------------------------------------------- HG024

CASES = """
import pytest

from calc import total


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], 0),
        ([1, 2], 3),
        ([950], 950),
    ],
)
def test_total(items, expected):
    assert total(items) == expected
"""


def test_a_dropped_case_is_a_finding_at_the_test() -> None:
    dropped = CASES.replace("        ([950], 950),\n", "")
    finding = only([modified("tests/test_calc.py", CASES, dropped)], "HG024")
    assert finding.line == src(dropped).split("\n").index("def test_total(items, expected):") + 1
    assert "runs 2" in finding.message and "([950], 950)" in finding.message


def test_a_dropped_case_in_a_class_and_by_keyword_is_a_finding() -> None:
    old = """
    import pytest

    class TestTotal:
        @pytest.mark.parametrize("n", argvalues=[1, 2, 3])
        def test_positive(self, n):
            assert n > 0
    """
    finding = only([modified("tests/test_calc.py", old, old.replace("[1, 2, 3]", "[1, 2]"))], "HG024")
    assert "TestTotal::test_positive" in finding.message and "gone: 3" in finding.message


def test_cases_reformatted_reordered_added_or_rewritten_are_silent() -> None:
    reordered = CASES.replace("        ([], 0),\n        ([1, 2], 3),\n", "        ([1,2], 3), ([], 0),\n")
    silent(modified("tests/test_calc.py", CASES, reordered))
    silent(modified("tests/test_calc.py", CASES, CASES.replace("([950], 950),", "([950], 950), ([5], 5),")))
    silent(modified("tests/test_calc.py", CASES, CASES.replace("([950], 950)", "([951], 951)")))


def test_a_case_moved_to_another_test_is_silent() -> None:
    dropped = CASES.replace("        ([950], 950),\n", "")
    other = src(
        """
        import pytest

        from calc import total


        @pytest.mark.parametrize(("items", "expected"), [([950], 950)])
        def test_large_total(items, expected):
            assert total(items) == expected
        """
    )
    silent(modified("tests/test_calc.py", CASES, dropped), FileChange("tests/test_big.py", "added", None, other))


def test_cases_from_a_name_cannot_be_counted_and_are_silent() -> None:
    old = "import pytest\nCASES = [1, 2, 3]\n@pytest.mark.parametrize('n', CASES)\ndef test_n(n):\n    assert n\n"
    silent(modified("tests/test_calc.py", old, old.replace("[1, 2, 3]", "[1]")))


# --------------------------------------------------------------------------- HG025

RECORDS = [{"text": "Hello World", "slug": "hello-world"}, {"text": "  --Hi--  ", "slug": "hi"}]


def test_a_json_record_removed_is_a_finding() -> None:
    old, new = json.dumps(RECORDS, indent=2), json.dumps(RECORDS[:1], indent=2)
    finding = only([FileChange("tests/data/slugs.json", "modified", old, new)], "HG025")
    assert "held 2 records and now holds 1" in finding.message and "--Hi--" in finding.message


def test_records_under_one_key_csv_rows_yaml_items_and_json_lines_count() -> None:
    wrapped = {"cases": RECORDS}
    old, new = json.dumps(wrapped), json.dumps({"cases": RECORDS[1:]})
    only([FileChange("tests/fixtures/cases.json", "modified", old, new)], "HG025")
    csv_old = "text,slug\nHello World,hello-world\nHi,hi\n"
    only([FileChange("tests/data/slugs.csv", "modified", csv_old, "text,slug\nHi,hi\n")], "HG025")
    yaml_old = "cases:\n  - text: a\n    slug: a\n  - text: b\n    slug: b\n"
    only([FileChange("test/data/cases.yaml", "modified", yaml_old, "cases:\n  - text: a\n    slug: a\n")], "HG025")
    only([FileChange("tests/data/c.jsonl", "modified", '{"a": 1}\n{"a": 2}\n', '{"a": 1}\n')], "HG025")


def test_a_deleted_data_file_is_a_finding() -> None:
    finding = only([FileChange("tests/data/slugs.json", "deleted", json.dumps(RECORDS), None)], "HG025")
    assert "was deleted" in finding.message and "2 records" in finding.message


def test_records_fixed_added_moved_or_outside_tests_are_silent() -> None:
    old = json.dumps(RECORDS)
    fixed = json.dumps([RECORDS[0], {"text": "  --Hi--  ", "slug": "hi!"}])
    silent(FileChange("tests/data/slugs.json", "modified", old, fixed))
    silent(FileChange("tests/data/slugs.json", "modified", old, json.dumps([*RECORDS, {"text": "x", "slug": "x"}])))
    silent(FileChange("tests/data/slugs.json", "renamed", old, old, old_path="tests/slugs.json"))
    silent(FileChange("data/slugs.json", "modified", old, json.dumps(RECORDS[:1])))
    silent(FileChange("tests/data/slugs.json", "modified", old, "not json any more"))


# --------------------------------------------------------------------------- HG026

MAKEFILE = "lint:\n\truff check .\n\ntest:\n\tpython -m pytest tests\n"


@pytest.mark.parametrize(
    ("path", "old", "new", "why"),
    [
        ("Makefile", MAKEFILE, MAKEFILE.replace("pytest tests", "pytest tests -k 'not slow'"), "adds `-k not slow`"),
        ("Makefile", MAKEFILE, MAKEFILE.replace("pytest tests", "pytest tests/unit"), "runs only tests/unit"),
        ("Makefile", MAKEFILE, MAKEFILE.replace("\tpython", "\t-python"), "ignores the tests' exit status"),
        ("Makefile", MAKEFILE, MAKEFILE.replace("pytest tests", "pytest tests || true"), "ignores the tests'"),
        (
            "tox.ini",
            "[testenv]\ncommands = pytest {posargs}\n",
            "[testenv]\ncommands = pytest -m 'not network' {posargs}\n",
            "adds `-m not network`",
        ),
        (
            "noxfile.py",
            "import nox\n\n@nox.session\ndef tests(session):\n    session.run('pytest', 'tests')\n",
            "import nox\n\n@nox.session\ndef tests(session):\n    session.run('pytest', 'tests', '--deselect', "
            "'tests/test_a.py::test_x')\n",
            "adds `--deselect tests/test_a.py::test_x`",
        ),
        (
            "package.json",
            '{\n  "scripts": {\n    "test": "pytest tests"\n  }\n}\n',
            '{\n  "scripts": {\n    "test": "pytest tests --ignore tests/test_api.py"\n  }\n}\n',
            "adds `--ignore tests/test_api.py`",
        ),
        (
            "pyproject.toml",
            '[tool.hatch.envs.default.scripts]\ntest = "pytest"\n',
            '[tool.hatch.envs.default.scripts]\ntest = "pytest tests/test_fast.py"\n',
            "runs only tests/test_fast.py instead of the whole suite",
        ),
        (
            ".github/workflows/ci.yml",
            "jobs:\n  test:\n    steps:\n      - run: python -m pytest -q\n",
            "jobs:\n  test:\n    steps:\n      - run: python -m pytest -q --lf\n",
            "adds `--lf`",
        ),
    ],
)
def test_a_narrowed_test_command_is_a_finding(path: str, old: str, new: str, why: str) -> None:
    finding = next(f for f in check([FileChange(path, "modified", old, new)]) if f.rule == "HG026")
    assert why in finding.message, finding.message
    assert finding.line == next(n for n, line in enumerate(new.splitlines(), 1) if "pytest" in line)


def test_a_file_that_no_longer_runs_pytest_is_a_finding() -> None:
    finding = only([modified("Makefile", MAKEFILE, MAKEFILE.replace("python -m pytest tests", "echo ok"))], "HG026")
    assert "no longer runs pytest" in finding.message and finding.line is None


@pytest.mark.parametrize(
    "new",
    [
        MAKEFILE.replace("pytest tests", "pytest tests -v --cov=calc -n auto --tb=short"),  # output and speed
        MAKEFILE.replace("pytest tests", "pytest tests docs"),  # wider
        MAKEFILE.replace("pytest tests", "pytest"),  # the whole suite
        MAKEFILE + "\ntest-fast:\n\tpython -m pytest tests -m 'not slow'\n",  # a new target beside the full one
        MAKEFILE.replace("test:", "check:"),  # the target renamed, its command unchanged
        MAKEFILE.replace("ruff check .", "ruff check --fix ."),  # another target
    ],
)
def test_honest_changes_to_test_commands_are_silent(new: str) -> None:
    silent(modified("Makefile", MAKEFILE, new))


def test_dropping_a_selection_is_silent() -> None:
    old = "[testenv]\ncommands = pytest -m 'not slow' tests\n"
    silent(modified("tox.ini", old, "[testenv]\ncommands = pytest tests\n"))
