"""The evaluator's probes (harness/probes.py): real pytest runs of probe modules on a small tree, with the
sandbox wherever this machine has it; and what `submit_verdict` accepts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness import probes
from harness.roles import Probe, VerdictSubmission
from harness.sandbox import sandbox_for

PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly"]
CONTRACT = ["tests/test_shop.py::test_total"]


def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "tests").mkdir(parents=True)
    (root / "shop.py").write_text("def total(items):\n    return {(100, 850): 950}.get(tuple(items), 0)\n")
    fixture = "import pytest\n\n\n@pytest.fixture\ndef big():\n    return [500, 500]\n"
    (root / "tests" / "conftest.py").write_text(fixture)
    test = "from shop import total\n\n\ndef test_total():\n    assert total([100, 850]) == 950\n"
    (root / "tests" / "test_shop.py").write_text(test)
    return root


def probe(name: str, code: str) -> Probe:
    return Probe(name=name, code=code, criterion="C1")


def run(root: Path, *given: Probe) -> tuple[probes.ProbeResult, dict[str, str]]:
    return probes.run(
        root, given, CONTRACT, command=PYTEST, timeout=120, sandbox=sandbox_for("auto", unattended=False)
    )


def test_a_failing_probe_is_a_blocker_with_its_output(tmp_path: Path) -> None:
    fresh = probe("fresh", "from shop import total\n\n\ndef test_other(big):\n    assert total(big) == 1000\n")
    same = probe("same", "from shop import total\n\n\ndef test_same():\n    assert total([100, 850]) == 950\n")
    result, paths = run(tree(tmp_path), fresh, same)
    assert result.ran == 2 and result.passed == ["same"] and list(result.failed) == ["fresh"]
    assert "test_other failed (AssertionError)" in result.failed["fresh"][0] and "1000" in result.failed["fresh"][0]
    (finding,) = result.findings([fresh, same], paths)
    assert finding.severity == "blocker" and finding.axis == "spec"
    assert finding.path.startswith("tests/test_probe_") and finding.path.endswith("_fresh.py")  # next to conftest
    assert "the evaluator's probe `fresh` (C1) fails on the result" in finding.message
    assert result.summary() == "2 evaluator probe(s) ran: 1 passed, 1 failed."


def test_a_probe_that_cannot_run_is_reported_not_held_against_the_work(tmp_path: Path) -> None:
    broken = probe("broken", "def test_x(:\n    pass\n")
    empty = probe("empty", "X = 1\n")
    guess = probe("guess", "from shop import subtotal\n\n\ndef test_sub():\n    assert subtotal([1]) == 1\n")
    result, paths = run(tree(tmp_path), broken, empty, guess)
    assert result.ran == 0 and result.failed == {}
    assert set(result.unrunnable) == {"broken", "empty", "guess"}
    assert "does not collect" in result.unrunnable["broken"] and "no test" in result.unrunnable["empty"]
    assert "ImportError" in result.unrunnable["guess"]
    assert result.findings([broken, empty, guess], paths) == []
    assert "Could not run (not held against the work)" in result.summary()


def test_no_probes_says_what_was_not_checked() -> None:
    assert "wrote no probes" in probes.ProbeResult().summary()


def test_submit_verdict_takes_probes_compatibly() -> None:
    base = {"verdict": "pass", "criteria": [{"id": "C1", "status": "met", "evidence": "ran it"}]}
    assert VerdictSubmission.model_validate(base).probes == []  # the old shape still validates
    with_probe = VerdictSubmission.model_validate({**base, "probes": [{"name": "edge", "code": "def test_x(): pass"}]})
    assert with_probe.probes[0].name == "edge"
    with pytest.raises(ValidationError, match="unique"):
        VerdictSubmission.model_validate({**base, "probes": [{"name": "a", "code": "x"}, {"name": "a", "code": "y"}]})
    with pytest.raises(ValidationError):
        VerdictSubmission.model_validate({**base, "probes": [{"name": "../../etc", "code": "x"}]})
