"""The harness's rules over the evaluator's verdict: the model proposes, the rules decide.

``uncertain`` counts as unmet; a criterion the evaluator skipped is unmet; any blocker fails; any
guard error fails; the harness may turn a pass into a fail, never a fail into a pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.artifacts import Contract, CriterionResult, Finding, Verdict
from harness.roles import VerdictSubmission

_RANK = {"met": 0, "uncertain": 1, "unmet": 2}


def decide_verdict(contract: Contract, submission: VerdictSubmission, *, guard_errors: Sequence[str] = ()) -> Verdict:
    """The verdict on a contract: every criterion must be judged, and met."""
    return decide(contract.issue, [c.id for c in contract.criteria], submission, guard_errors=guard_errors)


def decide(
    issue: str, criterion_ids: Sequence[str], submission: VerdictSubmission, *, guard_errors: Sequence[str] = ()
) -> Verdict:
    given: dict[str, CriterionResult] = {}
    overrides: list[str] = []
    for judged in submission.criteria:
        earlier = given.get(judged.id)
        if earlier is not None and earlier.status != judged.status:
            overrides.append(
                f"criterion {judged.id} was judged both {earlier.status} and {judged.status}; the worse counts"
            )
        if earlier is None or _RANK[judged.status] > _RANK[earlier.status]:
            given[judged.id] = judged
    results: list[CriterionResult] = []
    result: CriterionResult | None
    for criterion_id in criterion_ids:
        result = given.get(criterion_id)
        if result is None:
            result = CriterionResult(id=criterion_id, status="unmet", evidence="the evaluator gave no result for it")
            overrides.append(f"criterion {criterion_id} was not judged; counted as unmet")
        elif result.status == "uncertain":
            overrides.append(f"criterion {criterion_id} is uncertain; uncertain counts as unmet")
        results.append(result)
    unknown = sorted(set(given) - set(criterion_ids))
    if unknown:
        overrides.append(f"ignored results for criteria not in the contract: {', '.join(unknown)}")
    met = sum(1 for r in results if r.status == "met")
    blockers: list[Finding] = [f for f in submission.findings if f.severity == "blocker"]
    if blockers:
        overrides.append(f"{len(blockers)} blocker finding(s)")
    overrides.extend(f"guard: {error}" for error in guard_errors)
    # Two axes, judged and reported apart: a clean codebase never makes up for an unmet criterion.
    spec_ok = met == len(results) and not any(f.axis == "spec" for f in blockers)
    standards_ok = not any(f.axis == "standards" for f in blockers)
    passed = submission.verdict == "pass" and spec_ok and standards_ok and not guard_errors
    if submission.verdict == "pass" and not passed:
        overrides.insert(0, "the evaluator said pass, but the harness rules fail the work")
    return Verdict(
        issue=issue,
        verdict="pass" if passed else "fail",
        model_verdict=submission.verdict,
        criteria=results,
        findings=list(submission.findings),
        met=met,
        total=len(results),
        overrides=overrides,
        spec_verdict="pass" if spec_ok else "fail",
        standards_verdict="pass" if standards_ok else "fail",
    )
