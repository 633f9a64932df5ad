"""Honest commits of real projects the guard used to block (benchmarks/guard_history.py), each reduced to its
smallest shape, next to the cheat that looks like it and must still be found. Each case names the commit it
comes from. Plain data in, findings out: no git, no files."""

from __future__ import annotations

from textwrap import dedent

import pytest

from harness.guard.model import FileChange, GuardFinding
from harness.guard.rules import check


def src(text: str) -> str:
    return dedent(text).lstrip("\n")


def modified(path: str, old: str, new: str) -> FileChange:
    assert src(old) != src(new), "the edit did not apply: the test would prove nothing"
    return FileChange(path, "modified", src(old), src(new))


def rules_of(findings: list[GuardFinding]) -> list[str]:
    return [f.rule for f in findings]


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


# --------------------------------------------------------------------------- M6: raises/warns(T, match=...) (HG003)

RAISES = """
import pytest

from attr import fields


def test_instance():
    with pytest.raises(TypeError) as e:
        fields(object())
    assert "must be a class" in str(e.value)
"""
RAISES_MATCH = """
import pytest

from attr import fields


def test_instance():
    with pytest.raises(TypeError, match="must be a class"):
        fields(object())
"""


def test_a_message_assert_folded_into_match_is_no_weakening() -> None:
    """attrs 48b8611c's error path: `raises(T) as e` + an assert on the message became `raises(T, match=...)`."""
    assert check([modified("tests/test_make.py", RAISES, RAISES_MATCH)]) == []
    # and back: the message check moved out of match= into an assert
    assert check([modified("tests/test_make.py", RAISES_MATCH, RAISES)]) == []


@pytest.mark.parametrize("match", ["", ', match=""', ', match=".*"', ", match=pattern", ", match=None"])
def test_a_match_that_pins_nothing_down_is_no_check(match: str) -> None:
    head = edit(RAISES_MATCH, ', match="must be a class"', match)
    assert rules_of(check([modified("tests/test_make.py", RAISES, head)])) == ["HG003"]


def test_dropping_a_match_is_a_weakening() -> None:
    head = edit(RAISES_MATCH, ', match="must be a class"', "")
    finding = check([modified("tests/test_make.py", RAISES_MATCH, head)])
    assert rules_of(finding) == ["HG003"] and "from 2 to 1" in finding[0].message


WARNS = """
import click
import pytest


def test_flag_group_competition_duplicate_option_name(runner):
    @click.command()
    @click.option("--xyz")
    def cli(xyz):
        click.echo(repr(xyz))

    result = runner.invoke(cli, [])
    assert isinstance(result.exception, UserWarning)
    assert "used more than once" in str(result.exception)
"""
WARNS_HEAD = edit(
    WARNS,
    """    result = runner.invoke(cli, [])
    assert isinstance(result.exception, UserWarning)
    assert "used more than once" in str(result.exception)
""",
    """    with pytest.warns(UserWarning, match="used more than once"):
        runner.invoke(cli, [])
""",
)


def test_type_and_message_asserts_turned_into_warns_match_are_no_weakening() -> None:
    assert check([modified("tests/test_options.py", WARNS, WARNS_HEAD)]) == []


def test_an_exit_code_assert_dropped_on_the_way_is_still_a_weakening() -> None:
    """click 1557e265 also dropped `assert result.exit_code == 1`, which `pytest.warns` does not check: it held
    only because the project's `filterwarnings = error` turned the warning into an exception."""
    base = edit(WARNS, "    assert isinstance(", "    assert result.exit_code == 1\n    assert isinstance(")
    finding = check([modified("tests/test_options.py", base, WARNS_HEAD)])
    assert rules_of(finding) == ["HG003"] and "from 3 to 2" in finding[0].message


# --------------------------------------------------------------------------- M8: filterwarnings marks in a hook (HG006)

HOOK = """
import pytest


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if "spawn" in item.function.__code__.co_names:
            item.add_marker(pytest.mark.uses_pexpect)
    return (yield)
"""
UNCHANGED = "            item.add_marker(pytest.mark.uses_pexpect)\n"


def hook_with(*lines: str) -> str:
    return edit(HOOK, UNCHANGED, UNCHANGED + "".join(f"            {line}\n" for line in lines))


FORKPTY = 'item.add_marker(pytest.mark.filterwarnings("ignore:.*use of forkpty:DeprecationWarning"))'


def test_a_filterwarnings_mark_added_to_or_removed_from_a_hook_hides_no_test() -> None:
    """pytest e287673e adds, and c8f590ec removes, a filterwarnings mark inside the existing hook."""
    assert check([modified("testing/conftest.py", HOOK, hook_with(FORKPTY))]) == []
    assert check([modified("testing/conftest.py", hook_with(FORKPTY), HOOK)]) == []
    strict = 'item.add_marker(pytest.mark.filterwarnings("error::ResourceWarning"))'
    assert check([modified("testing/conftest.py", HOOK, hook_with(strict))]) == []


@pytest.mark.parametrize(
    ("base", "head"),
    [
        (HOOK, hook_with('item.add_marker(pytest.mark.skip(reason="flaky"))')),
        (HOOK, hook_with("item.add_marker(pytest.mark.xfail)")),
        (HOOK, hook_with(FORKPTY, "items.remove(item)")),
        (HOOK, hook_with('item.add_marker(pytest.mark.filterwarnings(items.clear() or "ignore"))')),
        (hook_with('item.add_marker(pytest.mark.filterwarnings("error"))'), HOOK),
    ],
    ids=["skip", "xfail", "with-a-deselection", "computed-filter", "error-filter-removed"],
)
def test_other_hook_edits_still_fire(base: str, head: str) -> None:
    assert "HG006" in rules_of(check([modified("testing/conftest.py", base, head)]))


# --------------------------------------------------------------------------- M9: a version pin extended (HG004)

PINNED = """
import sys

import pytest

from rich.pretty import render

skip_py311 = pytest.mark.skipif(sys.version_info.minor == 11 and sys.version_info.major == 3, reason="py3.11")
skip_py312 = pytest.mark.skipif(sys.version_info.minor == 12 and sys.version_info.major == 3, reason="py3.12")
skip_py313 = pytest.mark.skipif(sys.version_info.minor == 13 and sys.version_info.major == 3, reason="py3.13")
{variables}

def test_render_int():
    assert render(1) == "1"


@skip_py311
@skip_py312
@skip_py313
def test_render_int_methods_python310only():
    assert render(int) == "<class 'int'>"
"""


def pinned(variable: str = "") -> str:
    return PINNED.replace("{variables}", variable)


PY314 = 'skip_py314 = pytest.mark.skipif(sys.version_info.minor == 14 and sys.version_info.major == 3, reason="3.14")\n'


def test_a_version_pin_extended_to_the_next_python_is_no_finding() -> None:
    """rich 655b5210: tests pinned to old versions with @skip_py311..313 get @skip_py314."""
    head = edit(pinned(PY314), "@skip_py313\ndef", "@skip_py313\n@skip_py314\ndef")
    assert check([modified("tests/test_pretty.py", pinned(), head)]) == []


def test_an_existing_version_skip_extended_to_the_next_python_is_no_finding() -> None:
    base = edit(pinned(), "@skip_py313\ndef", '@pytest.mark.skipif(sys.version_info[:2] == (3, 13), reason="x")\ndef')
    head = edit(base, "sys.version_info[:2] == (3, 13)", "sys.version_info[:2] in ((3, 13), (3, 14))")
    assert check([modified("tests/test_pretty.py", base, head)]) == []
    # the same pin, now excluding every later version too
    head = edit(
        pinned(), "@skip_py313\ndef", '@skip_py313\n@pytest.mark.skipif(sys.version_info >= (3, 14), reason="x")\ndef'
    )
    assert check([modified("tests/test_pretty.py", pinned(), head)]) == []


@pytest.mark.parametrize(
    ("variable", "old", "new"),
    [
        (PY314, "def test_render_int():", "@skip_py314\ndef test_render_int():"),  # a test that was not pinned
        (
            PY314.replace("14", "15"),  # skips 3.15, while 3.14 still runs: not the next version
            "@skip_py313\ndef",
            "@skip_py313\n@skip_py315\ndef",
        ),
        (
            "",  # an older version: the pin is not extended, a running version is cut out
            "@skip_py311\n",
            '@skip_py311\n@pytest.mark.skipif(sys.version_info < (3, 10), reason="x")\n',
        ),
        (
            "",  # a micro version the check cannot tell apart
            "@skip_py311\n",
            '@skip_py311\n@pytest.mark.skipif(sys.version_info >= (3, 13, 4), reason="x")\n',
        ),
        ("", "@skip_py311\n", '@skip_py311\n@pytest.mark.skipif(sys.platform == "linux", reason="x")\n'),
        ("", "@skip_py311\n", '@skip_py311\n@pytest.mark.skipif(sys.version_info.minor >= 14 or FLAKY, reason="x")\n'),
    ],
    ids=["unpinned-test", "not-the-next-version", "older-version", "micro-version", "platform", "not-only-version"],
)
def test_other_version_skips_on_pinned_tests_still_fire(variable: str, old: str, new: str) -> None:
    head = edit(pinned(variable), old, new)
    assert rules_of(check([modified("tests/test_pretty.py", pinned(), head)])) == ["HG004"]


def test_a_version_skip_on_a_test_that_only_needs_a_newer_python_still_fires() -> None:
    """A test skipped below 3.8 runs on every newer version: skipping it on 3.8 (pytest 66d43e13's `< (3, 12)` on
    a test with no pin, or click d15f3c23's flaky-test skip) hides a test that ran."""
    base = src(
        """
        import sys

        import pytest


        @pytest.mark.skipif(sys.version_info < (3, 8), reason="needs 3.8")
        def test_walrus():
            assert (x := 1) == 1
        """
    )
    for condition in (
        "sys.version_info[:2] == (3, 8)",
        "sys.version_info[:2] == (3, 12)",
        "sys.version_info < (3, 12)",
    ):
        head = edit(base, "def test_walrus", f'@pytest.mark.skipif({condition}, reason="x")\ndef test_walrus')
        assert rules_of(check([modified("tests/test_walrus.py", base, head)])) == ["HG004"], condition


def test_a_mark_variable_made_to_skip_always_fires_on_the_tests_it_decorates() -> None:
    base = pinned()
    head = edit(base, "sys.version_info.minor == 13 and sys.version_info.major == 3", "True")
    finding = check([modified("tests/test_pretty.py", base, head)])
    assert rules_of(finding) == ["HG004"] and "test_render_int_methods_python310only" in finding[0].message


# --------------------------------------------------------------------------- M10: a file pytest never collected (HG001)

TYPING_EXAMPLE = """
import attr


@attr.s
class C:
    a = attr.ib(type=int)


def test(cls: type) -> None:
    if attr.has(cls):
        attr.resolve_types(cls)
"""


def test_deleting_or_moving_a_file_under_tests_that_pytest_never_collected_is_no_finding() -> None:
    """attrs b1dc8f67: tests/typing_example.py, mypy's input, moved to typing-examples/ (its `test` is no test)."""
    old = src(TYPING_EXAMPLE)
    moved = FileChange("typing-examples/mypy_examples.py", "renamed", old, old, "tests/typing_example.py")
    assert check([moved]) == []
    assert check([FileChange("tests/typing_example.py", "deleted", old, None)]) == []
    helper = src("def make_config(**values):\n    return dict(values)\n")
    assert check([FileChange("tests/helpers.py", "deleted", helper, None)]) == []


@pytest.mark.parametrize(
    ("path", "text", "config"),
    [
        ("tests/test_typing.py", TYPING_EXAMPLE, None),  # pytest collects it
        ("tests/typing_example.py", TYPING_EXAMPLE + "\n\ndef test_c():\n    assert C(1).a == 1\n", None),
        ("tests/typing_example.py", TYPING_EXAMPLE, '[tool.pytest.ini_options]\npython_files = ["*_example.py"]\n'),
        ("tests/check_cases.py", TYPING_EXAMPLE, '[tool.pytest.ini_options]\npython_files = "check_*.py"\n'),
    ],
    ids=["collected-name", "a-test-that-checks", "project-python-files", "project-python-files-string"],
)
def test_deleting_a_file_pytest_may_collect_still_fires(path: str, text: str, config: str | None) -> None:
    changes = [FileChange(path, "deleted", src(text), None)]
    if config is not None:
        changes.append(modified("pyproject.toml", config, config + "\n[project]\nname = 'x'\n"))
    assert rules_of(check(changes)) == ["HG001"]


# --------------------------------------------------------------------------- M2: folds the fold check missed (HG002)

DEPRECATIONS = """
import pytest

import click


@pytest.mark.parametrize("module", [click, click.utils], ids=["click", "click.utils"])
@pytest.mark.parametrize("name", ["get_binary_stream", "get_text_stream"])
def test_stream_helper_deprecated(module, name):
    with pytest.warns(DeprecationWarning, match=name):
        getattr(module, name)


@pytest.mark.parametrize("name", ["LazyFile", "safecall"])
def test_utilities_deprecated(name):
    with pytest.warns(DeprecationWarning, match=name):
        getattr(click.utils, name)
"""
ROWS = """
        (click, "get_binary_stream", click.utils._get_binary_stream),
        (click, "get_text_stream", click.utils._get_text_stream),
        (click.utils, "get_binary_stream", click.utils._get_binary_stream),
        (click.utils, "get_text_stream", click.utils._get_text_stream),
        (click.utils, "LazyFile", click.utils._LazyFile),
        (click.utils, "safecall", click.utils._safecall),
"""
FOLDED = """
import pytest

import click


@pytest.mark.parametrize(
    ("module", "name", "target"),
    [{rows}    ],
)
def test_attr_deprecated(module, name, target):
    with pytest.warns(DeprecationWarning, match=name):
        value = getattr(module, name)

    assert value == target
"""


def folded(rows: str = ROWS) -> str:
    return FOLDED.replace("{rows}", rows)


def test_stacked_parametrize_folded_into_one_with_every_case_and_more_checks_is_no_removal() -> None:
    """click 10b43c21: a 2 x 2 product and a second test folded into one test with a row per case; the call
    `getattr(module, name)` became `value = getattr(module, name)`, followed by a new check."""
    assert check([modified("tests/test_deprecations.py", DEPRECATIONS, folded())]) == []


@pytest.mark.parametrize(
    ("head", "gone"),
    [
        (folded(edit(ROWS, '        (click.utils, "get_text_stream", click.utils._get_text_stream),\n', "")), "stream"),
        (folded(edit(ROWS, '        (click.utils, "safecall", click.utils._safecall),\n', "")), "utilities"),
        (
            edit(
                folded(),
                "    with pytest.warns(DeprecationWarning, match=name):\n        value",
                "    if True:\n        value",
            ),
            "both",
        ),
    ],
    ids=["a-product-case-dropped", "a-case-dropped", "the-check-dropped"],
)
def test_a_fold_that_loses_a_case_or_a_check_is_still_a_removal(head: str, gone: str) -> None:
    findings = check([modified("tests/test_deprecations.py", DEPRECATIONS, head)])
    removed = sorted(f.message.split("`")[1] for f in findings if f.rule == "HG002")
    expected = {
        "stream": ["test_stream_helper_deprecated"],
        "utilities": ["test_utilities_deprecated"],
        "both": ["test_stream_helper_deprecated", "test_utilities_deprecated"],
    }
    assert removed == expected[gone]


def test_a_call_that_now_rebinds_a_name_the_old_test_read_is_still_a_removal() -> None:
    """`out = f()` is the same call as `f()` only when `out` is a new name: here it now replaces the value the
    old assert checked."""
    base = "from calc import add, log\n\n\ndef test_add():\n    out = add(1, 2)\n    log(out)\n    assert out == 3\n"
    head = base.replace("def test_add", "def test_add_logs").replace("    log(out)", "    out = log(out)")
    assert rules_of(check([modified("tests/test_calc.py", base, head)])) == ["HG002"]


# --------------------------------------------------------------------------- M4: a literal that gained elements (HG002)

VALIDATORS = """
from attr import validators as validator_module
from attr.validators import ge, gt, le, lt


class TestLtLeGeGt:
    def test_in_all(self):
        assert all(f.__name__ in validator_module.__all__ for f in [lt, le, ge, gt])
"""


def test_a_renamed_test_checking_all_of_a_longer_list_is_no_removal() -> None:
    """attrs 5aa76a44: the class was renamed and `all(... for f in [lt, le, ge, gt])` gained `ne`."""
    head = edit(VALIDATORS, "class TestLtLeGeGt:", "class TestLtLeGeGtNe:")
    head = edit(head, "for f in [lt, le, ge, gt]", "for f in [lt, le, ge, gt, ne]")
    assert check([modified("tests/test_validators.py", VALIDATORS, head)]) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("for f in [lt, le, ge, gt]", "for f in [lt, le, ge]"),  # fewer
        ("for f in [lt, le, ge, gt]", "for f in [lt, le, ne, gt]"),  # replaced
        ("assert all(", "assert any("),  # any() of more is weaker
        ("assert all(f.__name__ in validator_module.__all__ for f in [lt, le, ge, gt])", "assert lt in [lt, le, ge]"),
    ],
    ids=["fewer", "replaced", "any", "not-an-all"],
)
def test_other_literal_edits_in_a_renamed_test_are_still_a_removal(old: str, new: str) -> None:
    base = VALIDATORS
    if new.startswith("assert lt in"):  # membership in a longer list is a weaker check
        base = edit(VALIDATORS, old, "assert lt in [lt, le]")
        old = "assert lt in [lt, le]"
        new = "assert lt in [lt, le, ge]"
    head = edit(edit(base, "class TestLtLeGeGt:", "class TestLtLeGeGtNe:"), old, new)
    assert rules_of(check([modified("tests/test_validators.py", base, head)])) == ["HG002"]


# --------------------------------------------------------------------------- M7: checks in a test-local stub (HG011)

LOCKING = """
import more_itertools as mi


def test_serialize_generator_methods_locking():
    class LockCheckingGenerator:
        def __init__(self, lock):
            self.lock = lock

        def send(self, value):
            if not self.lock.locked():
                raise RuntimeError("Lock not held during send()")
            return value

    it = mi.serialize([])
    it._iterator = LockCheckingGenerator(it._lock)
    it.send(1)
"""


def test_a_new_test_whose_stub_raises_when_the_code_misbehaves_has_a_check() -> None:
    """more-itertools c7b870ad: the stub the code under test calls raises unless the lock is held."""
    assert check([FileChange("tests/test_more.py", "added", None, src(LOCKING))]) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "            if not self.lock.locked():\n"
            '                raise RuntimeError("Lock not held during send()")\n',
            "",
        ),
        ("if not self.lock.locked():", "if False:"),  # can never raise
        ("            if not self.lock.locked():\n                raise", "            raise"),  # always raises
    ],
    ids=["no-raise", "constant-condition", "unconditional"],
)
def test_a_stub_that_checks_nothing_is_still_no_check(old: str, new: str) -> None:
    text = edit(LOCKING, old, new)
    assert rules_of(check([FileChange("tests/test_more.py", "added", None, src(text))])) == ["HG011"]
