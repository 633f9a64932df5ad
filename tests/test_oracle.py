"""The oracle strength check (harness/oracle.py): the plan of perturbed copies, pure; and real pytest runs of
them on small trees, honest and cheating, with the sandbox wherever this machine has it."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

from harness import oracle
from harness.sandbox import sandbox_for

PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly"]

TESTS = textwrap.dedent(
    '''
    """Tests of the total."""
    from __future__ import annotations

    import pytest

    from shop import total, parse


    def test_total():
        assert total([100, 850]) == 950
        assert 3 == total([1, 2])


    def test_parse_rejects_junk():
        with pytest.raises(ValueError):
            parse("junk")


    def test_parse_names():
        assert parse("a,b") == ["a", "b"]
        assert "a" in parse("a")


    class TestGroup:
        def test_empty(self):
            assert total([]) == 0


    @pytest.mark.parametrize(("items", "expected"), [([1], 1), ([2, 3], 5)])
    def test_cases(items, expected):
        assert total(items) == expected


    def _check(value):
        assert value == 950


    def test_through_a_helper():
        _check(total([100, 850]))
    '''
)

HONEST = textwrap.dedent(
    """
    def total(items):
        return sum(items)


    def parse(text):
        if not text.replace(",", "").isalpha() or text == "junk":
            raise ValueError(text)
        return text.split(",")
    """
)

ALWAYS_EQUAL = textwrap.dedent(
    """
    class _Anything(list):
        def __eq__(self, other):
            return True

        def __ne__(self, other):
            return False

        def __contains__(self, item):
            return True


    def total(items):
        return _Anything()


    def parse(text):
        if text == "junk":
            raise ValueError(text)
        return _Anything()
    """
)

# A committed plugin that turns every failing call phase into a pass (the second cheat).
FLIP_CONFTEST = textwrap.dedent(
    """
    import pytest


    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" and report.failed:
            report.outcome = "passed"
            report.longrepr = None
    """
)

ALL = [
    "tests/test_shop.py::test_total",
    "tests/test_shop.py::test_parse_rejects_junk",
    "tests/test_shop.py::test_parse_names",
    "tests/test_shop.py::TestGroup::test_empty",
    "tests/test_shop.py::test_cases",
    "tests/test_shop.py::test_through_a_helper",
]


def tree(tmp_path: Path, shop: str, tests: str = TESTS, conftest: str | None = None) -> Path:
    root = tmp_path / "tree"
    (root / "tests").mkdir(parents=True)
    (root / "shop.py").write_text(shop)
    (root / "tests" / "test_shop.py").write_text(tests)
    if conftest is not None:
        (root / "conftest.py").write_text(conftest)
    return root


def check(root: Path, tests: list[str] = ALL) -> oracle.OracleResult:
    return oracle.check(root, tests, command=PYTEST, timeout=120, sandbox=sandbox_for("auto", unattended=False))


# --------------------------------------------------------------------------- the plan


def test_the_plan_changes_one_check_per_copy_and_says_how() -> None:
    planned = oracle.plan({"tests/test_shop.py": TESTS}, ALL, root="/t", token="abc")
    changes = {(p.test.split("::")[-1], p.change) for p in planned.perturbations}
    assert ("test_total", "`== 950` becomes `== 951`") in changes
    assert ("test_total", "`3 ==` becomes `4 ==`") in changes
    assert ("test_parse_rejects_junk", "the expected exception `ValueError` becomes one that nothing raises") in changes
    assert ("test_parse_names", "`== ['a', 'b']` becomes `== ['a', 'b', <a value equal to nothing else>]`") in changes
    assert ("test_parse_names", "`assert 'a' in parse('a')` becomes `assert not ('a' in parse('a'))`") in changes
    assert any(t == "test_cases" and "`== expected`" in c for t, c in changes)
    assert planned.weak == ["tests/test_shop.py::test_through_a_helper"]
    # One control copy per test, one copy per change; each parses, and names the run's token.
    assert len(planned.controls) == len(ALL) and len(planned.perturbations) == 7
    for path, text in planned.files.items():
        assert "abc" in path and path.startswith("tests/test_shop_abc_")
        ast.parse(text)
    copy = planned.files[planned.perturbations[0].nodeid.split("::")[0]]
    assert copy.index("from __future__ import annotations") < copy.index("_shift_abc")  # still first
    assert "_reached_abc('m0')" in copy and "/t/.harness-oracle-abc" in copy


def test_a_test_that_is_not_there_is_named_not_planned() -> None:
    planned = oracle.plan({"tests/test_shop.py": TESTS}, ["tests/test_shop.py::test_gone", "tests/x.py::t"], root="/t")
    assert set(planned.unreadable) == {"tests/test_shop.py::test_gone", "tests/x.py::t"}
    assert planned.node_ids == []


def test_the_shift_moves_every_kind_of_value() -> None:
    shift, value = oracle._SHIFT, oracle._VALUE
    assert shift(950) == 951 and shift(True) is False and shift(0.1) != pytest.approx(0.1)
    assert shift("a-b") == "a-b~" and shift(b"x") == b"x~"
    for original in ([1], (1,), {1}, {"a": 1}):
        assert shift(original) != original
    assert isinstance(shift(None), value) and shift(None) != None  # noqa: E711
    assert isinstance(shift(pytest.approx(1.0)), value)


# --------------------------------------------------------------------------- real runs


def test_honest_code_fails_every_perturbed_check(tmp_path: Path) -> None:
    result = check(tree(tmp_path, HONEST))
    assert result.ok, result.explain()
    assert sorted(result.checked) == sorted(t for t in ALL if not t.endswith("helper"))
    assert result.weak == ["tests/test_shop.py::test_through_a_helper"]
    assert result.perturbations == 7
    assert "6 contract test(s) failed as they should" not in result.summary()  # 5 checked, 1 weak
    assert "5 contract test(s) failed as they should" in result.summary() and "Weak" in result.summary()


def test_an_always_equal_object_is_caught_with_the_evidence(tmp_path: Path) -> None:
    result = check(tree(tmp_path, ALWAYS_EQUAL))
    assert not result.ok
    survived = {(p.test.split("::")[-1], p.change) for p in result.survived}
    assert ("test_total", "`== 950` becomes `== 951`") in survived
    assert ("test_cases" in {t for t, _ in survived}) and ("test_empty" in {t for t, _ in survived})
    text = result.explain()
    assert "tests/test_shop.py::test_total still passes when `== 950` becomes `== 951` (line " in text
    # The exception check still bites: the cheat raises the real ValueError.
    assert "tests/test_shop.py::test_parse_rejects_junk" in result.checked


def test_a_plugin_that_flips_failures_to_passes_is_caught(tmp_path: Path) -> None:
    result = check(tree(tmp_path, HONEST, conftest=FLIP_CONFTEST))
    assert not result.ok
    assert {p.test for p in result.survived} >= set(ALL) - {"tests/test_shop.py::test_through_a_helper"}


def test_a_test_that_returns_before_its_checks_is_caught(tmp_path: Path) -> None:
    early = "def test_total():\n    import shop\n    if getattr(shop, 'READY', False):\n        return\n"
    tests = TESTS.replace("def test_total():\n", early)
    result = check(tree(tmp_path, HONEST + "\nREADY = True\n", tests), ["tests/test_shop.py::test_total"])
    assert not result.ok and result.unreached == ["tests/test_shop.py::test_total"]
    assert "passes without reaching any of its checks" in result.explain()


def test_a_check_on_a_branch_not_taken_is_not_a_survivor(tmp_path: Path) -> None:
    """Honest branching: the perturbed check that is not reached proves nothing either way."""
    tests = TESTS.replace(
        "    assert 3 == total([1, 2])\n", "    if total([]) != 0:\n        assert 3 == total([1, 2])\n"
    )
    result = check(tree(tmp_path, HONEST, tests), ["tests/test_shop.py::test_total"])
    assert result.ok, result.explain()
    assert result.checked == ["tests/test_shop.py::test_total"]


def test_copies_the_code_treats_differently_are_caught(tmp_path: Path) -> None:
    """A conftest that skips any test module it does not know: the unchanged copy no longer passes."""
    hide = textwrap.dedent(
        """
        import pytest


        def pytest_collection_modifyitems(items):
            for item in items:
                if item.path.name != "test_shop.py":
                    item.add_marker(pytest.mark.skip(reason="not ours"))
        """
    )
    result = check(tree(tmp_path, ALWAYS_EQUAL, conftest=hide), ["tests/test_shop.py::test_total"])
    assert not result.ok
    assert any("unchanged copy did not pass" in d for d in result.divergent), result.divergent


def test_unittest_checks_are_perturbed(tmp_path: Path) -> None:
    tests = textwrap.dedent(
        """
        import unittest

        from shop import parse, total


        class TestShop(unittest.TestCase):
            def test_total(self):
                self.assertEqual(total([100, 850]), 950)
                self.assertIsNotNone(total([1]))
                with self.assertRaises(ValueError):
                    parse("junk")
        """
    )
    ids = ["tests/test_shop.py::TestShop::test_total"]
    honest = check(tree(tmp_path / "h", HONEST, tests), ids)
    assert honest.ok and honest.perturbations == 3, honest.explain()
    cheat = check(tree(tmp_path / "c", ALWAYS_EQUAL, tests), ids)
    assert [p.change for p in cheat.survived] == ["the expected `950` of `assertEqual` becomes 951"]
