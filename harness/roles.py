"""Role tools: how an agent ends its turn (SPEC §5). Names and fields are a public interface.

The harness validates every role tool call with these models; a call that fails validation goes
back to the model as a tool error that names the field and what to send instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from harness.artifacts import (
    NODE_ID,
    ContractProposal,
    ContractReview,
    CriterionResult,
    Finding,
    Objection,
    Strict,
)
from harness.plan_models import AskUser, FinishInterview, SubmitIssues, SubmitPrd


class TestsReady(Strict):
    tests: list[str] = Field(min_length=1, description="pytest node ids of the new failing tests (path::name)")
    note: str | None = None

    @model_validator(mode="after")
    def _node_ids(self) -> TestsReady:
        bad = [t for t in self.tests if not NODE_ID.match(t)]
        if bad:
            raise ValueError(f"not pytest node ids: {', '.join(bad)}; write them as tests/test_x.py::test_name")
        return self


class TestReview(Strict):
    decision: Literal["accept", "revise"]
    objections: list[Objection] = Field(default_factory=list)

    @model_validator(mode="after")
    def _revise_needs_objections(self) -> TestReview:
        if self.decision == "revise" and not self.objections:
            raise ValueError("decision 'revise' needs at least one objection saying what must change")
        return self


class ImplementationReady(Strict):
    note: str | None = None


class Probe(Strict):
    name: str = Field(
        pattern=r"^[a-z0-9_]{1,40}$", description="snake_case, unique in this verdict (names the probe's file)"
    )
    code: str = Field(
        min_length=1,
        max_length=20_000,
        description="a complete pytest module of your own: imports and one or more test functions with fresh "
        "inputs and edge cases from the contract (not a copy of the generator's tests)",
    )
    criterion: str | None = Field(default=None, description="the contract criterion it probes")


class VerdictSubmission(Strict):
    verdict: Literal["pass", "fail"]
    criteria: list[CriterionResult] = Field(min_length=1)
    findings: list[Finding] = Field(default_factory=list)
    probes: list[Probe] = Field(
        default_factory=list,
        max_length=10,
        description="evaluator: probe tests the harness runs against the result; a failing probe is a blocker",
    )

    @model_validator(mode="after")
    def _unique_probe_names(self) -> VerdictSubmission:
        names = [p.name for p in self.probes]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"probe names must be unique; repeated: {', '.join(repeated)}")
        return self


@dataclass(frozen=True)
class RoleTool:
    name: str
    description: str
    input_model: type[BaseModel]


ROLE_TOOLS: dict[str, RoleTool] = {
    tool.name: tool
    for tool in (
        RoleTool(
            "ask_user",
            "Ask the user one question about one decision, with the answer you recommend and one line on why. "
            "For a decision with a few clear alternatives (never an open question), add them as `options` "
            "(2-5 short answers, the recommended one among them): the user picks one by number. "
            "Ends your turn; the result is the user's answer (their own words, or your recommendation accepted). "
            "Never ask what the repository can tell you: look it up with `read`, `glob` and `grep` first.",
            AskUser,
        ),
        RoleTool(
            "finish_interview",
            "Propose to end the interview: a short summary of the shared understanding and every decision "
            "settled (question and answer). The user confirms it, or says what is wrong and the interview goes on.",
            FinishInterview,
        ),
        RoleTool(
            "submit_prd",
            "Submit the product requirements document and end your turn. The harness validates it and answers "
            "with any problem to fix.",
            SubmitPrd,
        ),
        RoleTool(
            "submit_issues",
            "Submit the vertical slices and end your turn. The harness checks the dependency graph and the "
            "slicing and answers with every problem to fix, or accepts them.",
            SubmitIssues,
        ),
        RoleTool(
            "propose_contract",
            "Propose the done-contract and end your turn. Each criterion is one behaviour a user could "
            "observe, with the pytest node id (path::name) of the test that will prove it. The result of this "
            "tool is the evaluator's review.",
            ContractProposal,
        ),
        RoleTool(
            "review_contract",
            "Accept the proposed contract, or ask for revisions with one objection per problem "
            "(criterion id, the problem, the exact change required). Ends your turn.",
            ContractReview,
        ),
        RoleTool(
            "tests_ready",
            "Declare the new failing tests written and end your turn. The harness then runs the suite itself "
            "and verifies that every listed test fails for the right reason (red). The result is the harness's "
            "finding, or the evaluator's review of the tests.",
            TestsReady,
        ),
        RoleTool(
            "review_tests",
            "Accept the red tests as a faithful, non-tautological expression of the contract, or ask for "
            "revisions (one objection per problem). Ends your turn.",
            TestReview,
        ),
        RoleTool(
            "implementation_ready",
            "Declare the implementation done and end your turn. The harness then runs the whole suite itself "
            "and verifies green: contract tests pass, nothing regressed, frozen tests unchanged.",
            ImplementationReady,
        ),
        RoleTool(
            "submit_verdict",
            "Submit your verdict and end your turn: one entry per contract criterion (met, unmet or uncertain, "
            "with the evidence you checked), findings with severity, path, line and the required fix, and "
            "(evaluator) probes: pytest modules of your own that the harness runs against the result.",
            VerdictSubmission,
        ),
    )
}

ROLE_INPUTS: dict[str, type[BaseModel]] = {name: tool.input_model for name, tool in ROLE_TOOLS.items()}
