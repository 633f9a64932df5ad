"""Mutation evidence (harness/mutation.py): the mutants made from changed lines, pure; and real runs of them
against contract tests on a small tree, with the sandbox wherever this machine has it."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

from harness import mutation
from harness.sandbox import sandbox_for

PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly"]

SHOP = textwrap.dedent(
    '''
    """Prices."""


    def total(items, discount=0):
        """The sum, less the discount."""
        subtotal = sum(items)
        if subtotal > 100 and discount:
            subtotal -= discount
        return subtotal


    def label(amount):
        return "free" if amount == 0 else f"{amount} EUR"
    '''
).lstrip()
STRONG = textwrap.dedent(
    """
    from shop import label, total


    def test_total():
        assert total([50, 60], 10) == 100
        assert total([50, 50], 10) == 100
        assert total([50, 60]) == 110
        assert total([101], 1) == 100


    def test_label():
        assert label(0) == "free" and label(3) == "3 EUR"
    """
)
WEAK = textwrap.dedent(
    """
    from shop import label, total


    def test_total():
        assert total([50, 60], 10) > 0


    def test_label():
        assert label(3)
    """
)
TESTS = ["tests/test_shop.py::test_total", "tests/test_shop.py::test_label"]


def test_mutants_come_from_the_changed_lines_only_and_say_what_changed() -> None:
    lines = {5, 6, 7, 8, 9}  # the docstring, subtotal = ...; if ...; subtotal -= ...; return
    made = mutation.mutants({"shop.py": SHOP}, {"shop.py": lines}, limit=50)
    assert made and {m.line for m in made} <= lines
    changes = {m.change for m in made}
    assert "`>` becomes `>=` in `subtotal > 100`" in changes
    assert "`and` becomes `or` in `subtotal > 100 and discount`" in changes
    assert "`100` becomes `101`" in changes
    assert "the statement `subtotal -= discount` is removed" in changes
    assert "`return subtotal` becomes `return None`" in changes
    for m in made:
        ast.parse(m.source)  # every mutant is valid Python
        assert m.source != SHOP
    assert not any("Prices" in m.change or "discount." in m.change for m in made)  # docstrings are not mutated


def test_the_limit_spreads_mutants_over_lines() -> None:
    made = mutation.mutants({"shop.py": SHOP}, {"shop.py": {6, 13}}, limit=2)
    assert sorted(m.line for m in made) == [6, 13]
    assert mutation.mutants({"shop.py": "def f(:\n"}, {"shop.py": {1}}) == []


def tree(tmp_path: Path, tests: str) -> Path:
    root = tmp_path / "tree"
    (root / "tests").mkdir(parents=True)
    (root / "shop.py").write_text(SHOP)
    (root / "tests" / "test_shop.py").write_text(tests)
    return root


def run(root: Path) -> mutation.MutationResult:
    made = mutation.mutants({"shop.py": SHOP}, {"shop.py": set(range(1, 14))}, limit=12)
    return mutation.run(
        root, made, TESTS, command=PYTEST, timeout=120, sandbox=sandbox_for("auto", unattended=False)
    )


def test_strong_tests_kill_the_mutants_weak_ones_let_them_survive(tmp_path: Path) -> None:
    strong = run(tree(tmp_path / "s", STRONG))
    weak = run(tree(tmp_path / "w", WEAK))
    assert strong.total == weak.total == 12
    assert strong.score is not None and weak.score is not None
    assert strong.score > weak.score
    assert len(weak.survived) >= 5
    assert "Survivors" in weak.summary() and "shop.py:" in weak.summary()
    # The tree is left as it was.
    assert (tmp_path / "w" / "tree" / "shop.py").read_text() == SHOP


def test_nothing_runs_when_the_unmutated_tests_fail(tmp_path: Path) -> None:
    root = tree(tmp_path, STRONG.replace("== 110", "== 111"))
    result = run(root)
    assert result.total == 0 and "do not pass on the unmutated result" in result.skipped
