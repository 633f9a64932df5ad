"""The harness's rules over the evaluator's verdict (SPEC §5): the model proposes, the rules decide."""

from __future__ import annotations

from typing import Any

import pytest

from harness.artifacts import Contract, Criterion
from harness.evaluation import decide_verdict
from harness.roles import VerdictSubmission

CONTRACT = Contract(
    issue="001",
    status="agreed",
    round=1,
    criteria=[
        Criterion(id="C1", behaviour="slugify lowercases", test="tests/test_slug.py::test_lower"),
        Criterion(id="C2", behaviour="slugify joins words with -", test="tests/test_slug.py::test_join"),
        Criterion(id="C3", behaviour="slugify drops punctuation", test="tests/test_slug.py::test_punct"),
    ],
)


def met(cid: str, status: str = "met") -> dict[str, str]:
    return {"id": cid, "status": status, "evidence": f"tests/test_slug.py passes for {cid}"}


def finding(severity: str) -> dict[str, Any]:
    return {
        "severity": severity,
        "path": "textkit/slug.py",
        "line": 12,
        "message": "crashes on empty input",
        "required_fix": "return '' for ''",
    }


def submission(verdict: str = "pass", criteria=None, findings=()) -> VerdictSubmission:
    return VerdictSubmission.model_validate(
        {
            "verdict": verdict,
            "criteria": [met("C1"), met("C2"), met("C3")] if criteria is None else criteria,
            "findings": list(findings),
        }
    )


def test_all_criteria_met_and_the_evaluator_says_pass_is_a_pass():
    verdict = decide_verdict(CONTRACT, submission())
    assert verdict.verdict == "pass"
    assert verdict.model_verdict == "pass"
    assert (verdict.met, verdict.total) == (3, 3)
    assert verdict.overrides == []
    assert verdict.issue == "001"
    assert [c.id for c in verdict.criteria] == ["C1", "C2", "C3"]


@pytest.mark.parametrize("status", ["unmet", "uncertain"])
def test_a_pass_with_an_unmet_or_uncertain_criterion_is_a_fail(status):
    verdict = decide_verdict(CONTRACT, submission(criteria=[met("C1"), met("C2", status), met("C3")]))
    assert verdict.verdict == "fail"
    assert verdict.model_verdict == "pass"
    assert (verdict.met, verdict.total) == (2, 3)
    assert verdict.overrides[0] == "the evaluator said pass, but the harness rules fail the work"
    if status == "uncertain":
        assert "criterion C2 is uncertain; uncertain counts as unmet" in verdict.overrides


def test_a_criterion_the_evaluator_did_not_judge_counts_as_unmet():
    verdict = decide_verdict(CONTRACT, submission(criteria=[met("C1"), met("C3")]))
    assert verdict.verdict == "fail"
    assert (verdict.met, verdict.total) == (2, 3)
    assert "criterion C2 was not judged; counted as unmet" in verdict.overrides
    c2 = next(c for c in verdict.criteria if c.id == "C2")
    assert c2.status == "unmet"
    assert "no result" in c2.evidence
    # Results come back in contract order, whatever order the evaluator used.
    assert [c.id for c in verdict.criteria] == ["C1", "C2", "C3"]


def test_a_blocker_finding_fails_the_work_even_with_every_criterion_met():
    verdict = decide_verdict(CONTRACT, submission(findings=[finding("blocker")]))
    assert verdict.verdict == "fail"
    assert (verdict.met, verdict.total) == (3, 3)
    assert "1 blocker finding(s)" in verdict.overrides
    assert verdict.findings[0].severity == "blocker"


@pytest.mark.parametrize("severity", ["major", "minor"])
def test_a_major_or_minor_finding_alone_does_not_fail_the_work(severity):
    verdict = decide_verdict(CONTRACT, submission(findings=[finding(severity)]))
    assert verdict.verdict == "pass"
    assert [f.severity for f in verdict.findings] == [severity]


def test_guard_errors_fail_the_work_whatever_the_model_says():
    errors = ["tests/test_slug.py: new skip marker", "harness.toml: protected path changed"]
    verdict = decide_verdict(CONTRACT, submission(), guard_errors=errors)
    assert verdict.verdict == "fail"
    assert verdict.model_verdict == "pass"
    assert "guard: tests/test_slug.py: new skip marker" in verdict.overrides
    assert "guard: harness.toml: protected path changed" in verdict.overrides


def test_a_fail_from_the_evaluator_is_never_upgraded_to_a_pass():
    verdict = decide_verdict(CONTRACT, submission(verdict="fail"))
    assert verdict.verdict == "fail"
    assert verdict.model_verdict == "fail"
    assert (verdict.met, verdict.total) == (3, 3)
    assert verdict.overrides == []


def test_results_for_criteria_not_in_the_contract_are_ignored_with_a_note():
    criteria = [met("C1"), met("C2"), met("C3"), met("C9", "unmet"), met("C0")]
    verdict = decide_verdict(CONTRACT, submission(criteria=criteria))
    assert verdict.verdict == "pass"
    assert (verdict.met, verdict.total) == (3, 3)
    assert [c.id for c in verdict.criteria] == ["C1", "C2", "C3"]
    assert verdict.overrides == ["ignored results for criteria not in the contract: C0, C9"]


def test_an_unknown_result_does_not_stand_in_for_a_missing_one():
    verdict = decide_verdict(CONTRACT, submission(criteria=[met("C1"), met("C2"), met("c3")]))
    assert verdict.verdict == "fail"
    assert verdict.met == 2


def test_counts_of_a_mixed_verdict():
    criteria = [met("C1", "unmet"), met("C2", "uncertain"), met("C3")]
    verdict = decide_verdict(CONTRACT, submission(verdict="fail", criteria=criteria))
    assert (verdict.met, verdict.total) == (1, 3)
    assert [c.status for c in verdict.criteria] == ["unmet", "uncertain", "met"]


def test_contradicting_results_for_one_criterion_count_as_unmet():
    criteria = [met("C1"), met("C2", "unmet"), met("C3"), met("C2")]
    verdict = decide_verdict(CONTRACT, submission(criteria=criteria))
    assert verdict.verdict == "fail"
