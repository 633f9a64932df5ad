"""``harness run``: one issue from contract to verdict, with the harness deciding every gate.

    contract  generator proposes, evaluator reviews, bounded rounds   -> commit "contract: …"
    red       generator writes tests; the harness verifies red         -> commit "red: …"
    review    evaluator accepts the red tests (or they are revised)    -> tests frozen
    green     generator implements; the harness verifies green         -> commit "green: …"
    verdict   evaluator, fresh context, grades; harness rules decide   -> verdict.json

Agents never decide that they are done: every gate is computed here from the harness's own test
runs, git state and the contract.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness import gitops, mutation, oracle, probes, tdd_gate
from harness.artifacts import (
    Contract,
    ContractProposal,
    ContractReview,
    Finding,
    Issue,
    Verdict,
    find_issue,
    load_issue,
    parse_contract,
    render_contract,
    render_verdict,
    set_issue_fields,
)
from harness.config import Config, load_config
from harness.errors import EXIT_FAIL, EXIT_INCOMPLETE, EXIT_OK, IncompleteError, UsageError
from harness.evaluation import decide_verdict
from harness.fsutil import atomic_write_text, read_inside, write_inside
from harness.guard import Allowance as GuardAllowance
from harness.guard import GuardContext, GuardFinding
from harness.guard.rules import is_test_file
from harness.model import make_client
from harness.plan_models import GlossaryEntry
from harness.planfiles import load_prd
from harness.prompts import system_prompt
from harness.roles import TestReview, TestsReady, VerdictSubmission
from harness.sandbox import Bwrap, sandbox_for
from harness.testrunner import TestReport, run_tests
from harness.trace import Ledger, Trace
from harness.workspace import READ_ONLY_TOOLS, WORKSPACE_TOOLS, Workspace

if TYPE_CHECKING:  # the SDK loads only when an agent is made: `harness run 999` answers without it
    from harness.agent import Agent, RoleCall

Outcome = Literal["pass", "fail", "blocked", "incomplete"]
EXIT_CODES: dict[Outcome, int] = {
    "pass": EXIT_OK,
    "fail": EXIT_FAIL,
    "blocked": EXIT_FAIL,
    "incomplete": EXIT_INCOMPLETE,
}


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    issue: Issue
    outcome: Outcome
    reason: str
    branch: str
    worktree: Path
    commits: list[tuple[str, str]] = field(default_factory=list)
    verdict: Verdict | None = None
    cost: float = 0.0
    cost_known: bool = True
    tokens: dict[str, int] = field(default_factory=dict)
    cache_read_share: float | None = None
    peak_context: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    @property
    def trace_path(self) -> Path:
        return self.run_dir / "trace.jsonl"


class Stop(Exception):
    """A gate ended the run: the work is blocked (bounded attempts, stuck, escalated) or failed."""

    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome: Outcome = outcome
        self.reason = reason


@dataclass(frozen=True)
class Rejection:
    """Why the worktree cannot be taken as a candidate at all (before any test runs); shown to the generator."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Settlement:
    """A person's decision on an escalated contract: accept the last proposal, rule on the open
    objections (the negotiation continues with the ruling), or stop (the issue becomes HITL)."""

    action: Literal["accept", "rule", "stop"]
    text: str = ""


Settle = Callable[[Contract], Settlement]


@dataclass(frozen=True)
class Prepared:
    """A validated issue, ready to run: nothing has been changed yet."""

    root: Path
    config: Config
    harness_dir: Path
    issue: Issue
    issue_path: Path
    # Every process that runs agent-written code runs under this (None: no sandbox, which was reported).
    sandbox: Bwrap | None


def prepare(repo: Path, issue_id: str) -> Prepared:
    """Every check that can fail on bad input, before anything is written (exit 2, nothing changed)."""
    root = gitops.repo_root(repo)
    config = load_config(root)
    sandbox = sandbox_for(config.sandbox, unattended=False)  # sandbox = "bwrap" that cannot run here fails now
    harness_dir = root / config.harness_dir
    issue_path = find_issue(harness_dir / "issues", issue_id)
    issue = load_issue(issue_path)
    return Prepared(
        root=root, config=config, harness_dir=harness_dir, issue=issue, issue_path=issue_path, sandbox=sandbox
    )


def run_issue(
    prepared: Prepared,
    *,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    settle: Settle | None = None,
    restart: bool = False,
) -> RunResult:
    """Run one issue. ``settle`` asks a person about an escalated contract (interactive runs only);
    ``restart`` first discards an earlier run's branch, if it holds harness commits alone."""
    config, issue = prepared.config, prepared.issue
    client = make_client(max_retries=config.max_retries, timeout=config.request_timeout)
    worktree_path = prepared.harness_dir / "worktrees" / f"{issue.id}-{issue.slug}"
    if restart:
        gitops.discard_harness_branch(prepared.root, worktree_path, issue.branch)
    worktree = gitops.create_worktree(prepared.root, worktree_path, issue.branch)
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{issue.id}"
    run_dir = prepared.harness_dir / "runs" / run_id
    trace = Trace(run_dir / "trace.jsonl")
    if on_event:
        trace.subscribe(on_event)
    ledger = Ledger(max_cost=config.budget.max_cost_per_issue)
    run = _Run(prepared, client, worktree, run_dir, trace, ledger, settle)
    result = RunResult(
        run_id=run_id,
        run_dir=run_dir,
        issue=issue,
        outcome="incomplete",
        reason="",
        branch=worktree.branch,
        worktree=worktree.path,
    )
    trace.event(
        "run_started",
        run_id=run_id,
        issue=issue.id,
        title=issue.title,
        branch=worktree.branch,
        worktree=str(worktree.path),
        base=worktree.base,
    )
    try:
        result.verdict = run.execute()
        result.outcome = result.verdict.verdict
        result.reason = f"{result.verdict.met}/{result.verdict.total} criteria met"
    except Stop as stop:
        result.outcome, result.reason = stop.outcome, stop.reason
    except IncompleteError as exc:
        result.outcome, result.reason = "incomplete", str(exc)
    except KeyboardInterrupt:
        result.outcome, result.reason = "incomplete", "interrupted (Ctrl-C); the branch and worktree are kept"
    finally:
        result.commits = gitops.commit_subjects(worktree.path, worktree.base)
        result.cost, result.cost_known, result.tokens = ledger.cost, ledger.cost_known, ledger.tokens()
        result.cache_read_share = ledger.cache_read_share
        result.peak_context = run.peak_context
        trace.event(
            "run_finished",
            outcome=result.outcome,
            reason=result.reason,
            cost=result.cost,
            cost_known=result.cost_known,
            tokens=result.tokens,
            cache_read_share=result.cache_read_share,
            peak_context=result.peak_context,
            commits=[s for _, s in result.commits],
        )
        run.save_state(result.outcome, result.reason)
        trace.close()
    return result


class _Run:
    """The state of one issue run, and its phases in order."""

    def __init__(
        self,
        prepared: Prepared,
        client: Any,
        worktree: gitops.Worktree,
        run_dir: Path,
        trace: Trace,
        ledger: Ledger,
        settle: Settle | None = None,
    ) -> None:
        self.settle = settle
        self.p, self.config, self.issue = prepared, prepared.config, prepared.issue
        self.limits = prepared.config.limits
        self.client, self.worktree, self.run_dir, self.trace, self.ledger = (
            client,
            worktree,
            run_dir,
            trace,
            ledger,
        )
        self.contract_rel = f"{self.config.harness_dir.strip('/')}/contracts/{self.issue.id}.md"
        self.contract_path = worktree.path / self.contract_rel
        self.frozen: dict[str, str] = {}
        self.phase = "setup"
        self.baseline = tdd_gate.Baseline(passed=frozenset(), collected=0, failing=frozenset())
        self.agents: list[Agent] = []
        self._last_tests: TestsReady | None = None
        self.contract: Contract | None = None
        self.generator_note: str | None = None
        # What the harness itself left: the branch tip it committed, the repository config it found. The
        # worktree is hostile input (SPEC §8): before every phase and commit these are checked, not trusted.
        self.expected_head = gitops.head(worktree.path)
        self.seal = gitops.Seal.of(worktree.path)
        self.add_limits = gitops.AddLimits(self.limits.max_added_bytes, self.limits.max_added_files)
        self._glossary: list[GlossaryEntry] | None = None

    # ------------------------------------------------------------------ phases

    def execute(self) -> Verdict:
        self.run_baseline()
        contract = self.negotiate_contract()
        red_report = self.red_and_review(contract)
        min_collected = max(self.baseline.collected, red_report.collected)
        self.green(contract, min_collected=min_collected)
        verdict = self.evaluate(contract)
        for fix in range(1, self.limits.fix_rounds + 1):
            if verdict.verdict == "pass":
                break
            # The evaluator's findings go to a fresh generator as a list, not a transcript; the
            # evaluator looks again only after the harness has re-verified green.
            self.green(contract, min_collected=min_collected, fix=(fix, verdict))
            verdict = self.evaluate(contract)
        return verdict

    def run_baseline(self) -> tdd_gate.Baseline:
        baseline_report = self.tests("baseline", self.worktree.base)
        if not baseline_report.ran:
            raise IncompleteError(
                f"the test suite could not run in the worktree ({self._why_not_ran(baseline_report)})",
                hint="check `test_command` in harness.toml runs in a fresh checkout of your repo",
            )
        self.baseline = tdd_gate.Baseline.from_report(baseline_report)
        self.trace.event(
            "baseline",
            passed=len(self.baseline.passed),
            failing=len(self.baseline.failing),
            collected=self.baseline.collected,
        )
        return self.baseline

    def restore(self, baseline: tdd_gate.Baseline, frozen: dict[str, str] | None = None) -> Contract | None:
        """Continue a run from a checkpoint (``harness afk``): the baseline measured earlier, the agreed
        contract as committed in the worktree, and the test files frozen at test review."""
        self.baseline = baseline
        # The committed copy is the harness's record; the worktree's file is the agents' to read.
        committed = gitops.read_file_at(self.worktree.path, self.expected_head, self.contract_rel)
        if committed is None:
            return None
        contract = parse_contract(committed.decode("utf-8"), self.contract_path)
        if frozen is not None:
            self.frozen = dict(frozen)
            contract = contract.model_copy(update={"frozen_tests": dict(frozen)})
        self.contract = contract
        self.save_contract(contract)  # the agents' copy is the harness's, whatever the checkpoint commit held
        return contract

    def negotiate_contract(self) -> Contract:
        self.enter("contract")
        generator = self.agent(
            "generator", "generator-contract", ["propose_contract"], tools=READ_ONLY_TOOLS, writable=False
        )
        evaluator = self.agent(
            "evaluator",
            "evaluator-contract",
            ["review_contract"],
            tools=("read", "glob", "grep"),
            writable=False,
        )
        contract = Contract(issue=self.issue.id)
        rounds_allowed = self.limits.contract_rounds
        call = generator.start(self.issue_handoff() + "\n\nPropose the done-contract with `propose_contract`.")
        review_call: RoleCall | None = None
        ruling: str | None = None
        while True:
            proposal: ContractProposal = call.input
            contract = contract.propose(proposal)
            self.save_contract(contract)
            self.trace.event("contract_proposed", round=contract.round, criteria=[c.id for c in proposal.criteria])
            review_text = self.issue_handoff() + "\n\n" + _fenced("proposal", proposal.model_dump_json(indent=2))
            if ruling:
                review_text += (
                    "\n\nA person settled the open objections of the previous round with this ruling; it "
                    "overrides your earlier objections where they conflict:\n" + _fenced("ruling", ruling)
                )
            if review_call is None:
                review_call = evaluator.start(review_text + "\n\nReview it with `review_contract`.")
            else:
                review_call = evaluator.respond("The generator revised the contract.\n\n" + review_text)
            review: ContractReview = review_call.input
            contract = contract.review(review, max_rounds=rounds_allowed)
            self.save_contract(contract)
            self.trace.event(
                "contract_reviewed",
                round=contract.round,
                decision=review.decision,
                status=contract.status,
                objections=[o.model_dump() for o in review.objections],
            )
            if contract.status == "escalated":
                settlement = self.settle(contract) if self.settle else Settlement("stop")
                self.trace.event(
                    "contract_escalated", round=contract.round, action=settlement.action, text=settlement.text
                )
                if settlement.action == "accept":
                    contract = contract.settled_by_user(settlement.text or None)
                    self.save_contract(contract)
                elif settlement.action == "rule":
                    ruling = settlement.text
                    contract = contract.reopened(ruling)
                    self.save_contract(contract)
                    rounds_allowed = contract.round + 1
                    call = generator.respond(
                        "The evaluator and you did not agree, so a person settled the open objections:\n"
                        + _fenced("ruling", ruling)
                        + "\n\nRevise the contract to follow the ruling and call `propose_contract` again with the "
                        "complete contract.\nOpen objections were:\n" + _objections(contract.open_objections)
                    )
                    continue
                else:
                    self.escalate(contract)
            if contract.status == "agreed":
                self.contract = contract
                self.commit_contract(
                    contract,
                    f"contract: {self.issue.id} agreed",
                    [
                        f"{len(contract.criteria)} criteria after {contract.round} round(s); sha256 {contract.sha256}",
                        *[f"- {c.id}: {c.test}" for c in contract.criteria],
                        *[f"- allows {a.rule} on {a.path}: {a.reason}" for a in contract.allow],
                    ],
                )
                return contract
            ruling = None
            call = generator.respond(
                "The evaluator asked for revisions. Address every objection and call `propose_contract` "
                "again with the complete revised contract:\n" + _objections(review.objections)
            )

    def escalate(self, contract: Contract) -> None:
        """No agreement and no one to settle it: the issue needs a human (HITL)."""
        self.commit_contract(
            contract, f"contract: {self.issue.id} escalated", ["no agreement; a person must settle the objections"]
        )
        set_issue_fields(self.p.issue_path, kind="HITL", status="blocked")
        self.trace.event("issue_marked_hitl", issue=self.issue.id, path=str(self.p.issue_path))
        objections = "; ".join(f"[{o.criterion}] {o.problem}" for o in contract.open_objections)
        raise Stop(
            "blocked",
            f"no contract agreed after {contract.round} rounds; the issue is now HITL (kind: HITL, status: blocked "
            f"in {self.p.issue_path.name}). Open objections: {objections}. See {self.contract_path}. Settle them "
            f"with `harness run {self.issue.id} --restart` in a terminal, or sharpen the issue and run it again.",
        )

    def red_and_review(self, contract: Contract) -> TestReport:
        self.enter("red")
        protected = self.protection(contract)
        generator = self.agent(
            "generator", "generator-red", ["tests_ready"], tools=tuple(WORKSPACE_TOOLS), protected=protected
        )
        call = generator.start(
            self.contract_handoff(contract) + "\n\nWrite the failing tests, then call `tests_ready`."
        )
        reviewer: Agent | None = None
        attempts: list[str] = []
        for review_round in range(1, self.limits.evaluator_rounds + 1):
            report, candidate = self.verify_red_until_ok(generator, call, contract, attempts)
            tests = self._last_tests
            assert tests is not None
            sha = self.commit(
                candidate,
                f"red: {self.issue.id} {self.issue.title}",
                [
                    f"{len(tests.tests)} test(s) fail for the right reason; "
                    f"{len(self.baseline.passed)} baseline test(s) still pass",
                    *[f"- {t}" for t in tests.tests],
                ],
            )
            self.enter("test-review")
            throwaway_text = self.tests_handoff(contract, tests, sha)
            with self.throwaway(sha) as ws:
                if reviewer is None:
                    reviewer = self.agent(
                        "evaluator", "evaluator-tests", ["review_tests"], tools=READ_ONLY_TOOLS, workspace=ws
                    )
                    review_call = reviewer.start(throwaway_text + "\n\nReview the tests with `review_tests`.")
                else:
                    reviewer.use_workspace(ws)
                    review_call = reviewer.respond("The generator revised the tests.\n\n" + throwaway_text)
            review: TestReview = review_call.input
            self.trace.event(
                "tests_reviewed",
                round=review_round,
                decision=review.decision,
                objections=[o.model_dump() for o in review.objections],
            )
            if review.decision == "accept":
                self.frozen = {
                    f: self.file_hash(sha, f) or "" for f in sorted({tdd_gate.file_of(t) for t in tests.tests})
                }
                self.contract = contract = contract.model_copy(update={"frozen_tests": dict(self.frozen)})
                self.save_contract(contract)
                self.trace.event("tests_frozen", files=sorted(self.frozen))
                return report
            self.enter("red")
            call = generator.respond(
                f"The harness verified red (commit {sha[:10]}), but the evaluator asked for revisions. Address "
                "every objection, then call `tests_ready` again:\n" + _objections(review.objections)
            )
        raise Stop("blocked", f"the evaluator did not accept the tests after {self.limits.evaluator_rounds} rounds")

    def verify_red_until_ok(
        self, generator: Agent, call: RoleCall, contract: Contract, attempts: list[str]
    ) -> tuple[TestReport, str]:
        last = ask = ""
        for attempt in range(1, self.limits.red_attempts + 1):
            if attempt > 1:  # no call after the last attempt: its answer would never be read
                call = generator.respond(last + ask)
            tests: TestsReady = call.input
            candidate = self.candidate()
            if isinstance(candidate, Rejection):
                last, ask = f"REJECTED: {candidate}", "\n\nThen call `tests_ready` again."
                continue
            report = self.tests("red", candidate)
            sources = {f: self.read_text(candidate, f) for f in {tdd_gate.file_of(t) for t in tests.tests}}
            result = tdd_gate.verify_red(
                report,
                tests.tests,
                contract_tests=contract.tests,
                baseline=self.baseline,
                sources=sources,
                guard=self.guard(contract, head=candidate),
            )
            self.trace.event(
                "red_verified",
                ok=result.ok,
                tests=[s.__dict__ for s in result.tests],
                problems=list(result.problems),
                fingerprint=result.fingerprint,
            )
            if result.ok:
                self._last_tests = tests
                return report, candidate
            attempts.append(result.fingerprint)
            if tdd_gate.is_stuck(attempts, self.limits.stuck_after):
                raise Stop(
                    "blocked",
                    f"stuck: the same red failure {self.limits.stuck_after} times in a row:\n" + result.explain(),
                )
            last = result.explain()
            ask = "\n\nFix this, then call `tests_ready` again."
        raise Stop("blocked", f"no valid red tests after {self.limits.red_attempts} attempts:\n" + last)

    def green(
        self,
        contract: Contract,
        *,
        min_collected: int,
        fix: tuple[int, Verdict] | None = None,
        rework: tuple[str, str] | None = None,
    ) -> None:
        """Implement until green; ``fix`` is a failed verdict to address, ``rework`` a (phase, findings) pair
        from elsewhere (the lander's conflict or red suite)."""
        self.enter(rework[0] if rework else "green" if fix is None else f"fix-{fix[0]}")
        generator = self.agent(
            "generator",
            "generator-green",
            ["implementation_ready"],
            tools=tuple(WORKSPACE_TOOLS),
            protected=self.protection(contract, frozen=True),
        )
        if rework is not None:
            handoff = self.green_handoff(contract) + "\n\n" + rework[1]
        else:
            handoff = self.green_handoff(contract) if fix is None else self.fix_handoff(contract, *fix)
        call = generator.start(handoff + "\n\nImplement it, then call `implementation_ready`.")
        fingerprints: list[str] = []
        last = ask = ""
        for attempt in range(1, self.limits.green_attempts + 1):
            if attempt > 1:  # no call after the last attempt: its answer would never be read
                call = generator.respond(last + ask)
            self.generator_note = call.input.note
            candidate = self.candidate()
            if isinstance(candidate, Rejection):
                last, ask = f"REJECTED: {candidate}", "\n\nThen call `implementation_ready` again."
                continue
            report = self.tests("green", candidate)
            result = tdd_gate.verify_green(
                report,
                contract_tests=contract.tests,
                baseline=self.baseline,
                min_collected=min_collected,
                guard=self.guard(contract, head=candidate),
            )
            self.trace.event(
                "green_verified",
                ok=result.ok,
                tests=[s.__dict__ for s in result.tests],
                problems=list(result.problems),
                collected=report.collected,
                fingerprint=result.fingerprint,
            )
            failure, fingerprint = result.explain(), result.fingerprint
            if result.ok:
                strength = self.check_oracle(contract, candidate)
                if strength.ok:
                    suffix = f" ({rework[0]})" if rework else f" (fix {fix[0]})" if fix else ""
                    self.commit(
                        candidate,
                        f"green: {self.issue.id} {self.issue.title}" + suffix,
                        [
                            f"{len(contract.tests)} contract test(s) pass; "
                            f"{len(self.baseline.passed)} baseline test(s) still pass; {report.collected} collected",
                            *[f"- {t}" for t in contract.tests],
                        ],
                    )
                    return
                failure, fingerprint = strength.explain(), strength.fingerprint
            fingerprints.append(fingerprint)
            if tdd_gate.is_stuck(fingerprints, self.limits.stuck_after):
                raise Stop(
                    "blocked",
                    f"stuck: the same green failure {self.limits.stuck_after} times in a row:\n" + failure,
                )
            last = failure
            ask = "\n\nFix this, then call `implementation_ready` again."
        raise Stop("blocked", f"not green after {self.limits.green_attempts} attempts:\n" + last)

    def evaluate(self, contract: Contract) -> Verdict:
        self.enter("verdict")
        sha = self.expected_head
        findings = self.guard(contract, head=sha)
        mutants = self.check_mutants(contract, sha)
        strength = self.oracle_summary()
        handoff = self.verdict_handoff(contract, sha, findings, strength) + "\n\n" + mutants.summary()
        with self.throwaway(sha) as ws:
            evaluator = self.agent(
                "evaluator", "evaluator-verdict", ["submit_verdict"], tools=READ_ONLY_TOOLS, workspace=ws
            )
            call = evaluator.start(handoff + "\n\nGrade the work and call `submit_verdict`.")
        submission: VerdictSubmission = call.input
        probed, harness_findings = self.run_probes(contract, submission, sha)
        harness_findings += _mutation_findings(mutants, self.config.gate.min_mutation_score)
        if harness_findings:
            submission = submission.model_copy(update={"findings": [*submission.findings, *harness_findings]})
        blocking = [f for f in findings if f.blocking]
        verdict = decide_verdict(contract, submission, guard_errors=tdd_gate.guard_problems(blocking))
        verdict.evidence = [e for e in (strength, probed.summary(), mutants.summary()) if e]
        atomic_write_text(self.run_dir / "verdict.json", verdict.model_dump_json(indent=2) + "\n")
        atomic_write_text(self.run_dir / "verdict.md", render_verdict(verdict))
        self.trace.event(
            "verdict",
            verdict=verdict.verdict,
            model_verdict=verdict.model_verdict,
            met=verdict.met,
            total=verdict.total,
            overrides=verdict.overrides,
        )
        return verdict

    # ------------------------------------------------------------------ services

    def enter(self, phase: str) -> None:
        self.check_integrity()
        self.phase = phase
        self.trace.event("phase", phase=phase)
        self.save_state("running", phase)

    def agent(
        self,
        role: str,
        prompt: str,
        role_tools: list[str],
        *,
        tools: tuple[str, ...] = (),
        writable: bool = True,
        protected: Callable[[str], str | None] | None = None,
        workspace: Workspace | None = None,
    ) -> Agent:
        if workspace is None and tools:
            workspace = Workspace(
                self.worktree.path,
                writable=writable,
                bash_timeout=self.config.bash_timeout,
                protected=protected,
                sandbox=self.p.sandbox,
            )
        model = getattr(self.config.models, role)
        from harness.agent import Agent

        agent = Agent(
            role=role,
            phase=self.phase,
            model=model,
            system=system_prompt(prompt, self.p.harness_dir),
            client=self.client,
            trace=self.trace,
            ledger=self.ledger,
            limits=self.limits,
            role_tools=role_tools,
            workspace=workspace,
            workspace_tools=[t for t in tools if writable or t in READ_ONLY_TOOLS],
        )
        self.agents.append(agent)
        return agent

    @property
    def peak_context(self) -> dict[str, int]:
        """The largest context each agent reached, per role and phase (SPEC §9)."""
        peaks: dict[str, int] = {}
        for agent in self.agents:
            key = f"{agent.role}/{agent.phase}"
            peaks[key] = max(peaks.get(key, 0), agent.peak_context)
        return peaks

    def tests(self, label: str, rev: str) -> TestReport:
        """The suite on exactly the tree of ``rev``, in the sandbox: nothing untracked, ignored or cached from
        the agent's working directory takes part (SPEC §8)."""
        with gitops.exported(self.worktree.path, rev) as checkout:
            report = run_tests(
                checkout, self.config.test_command, timeout=self.config.test_timeout, sandbox=self.p.sandbox
            )
        self.trace.event(
            "test_run",
            label=label,
            ran=report.ran,
            collected=report.collected,
            passed=len(report.passed()),
            failed=len(report.failed()),
            exit_code=report.exit_code,
            collection_errors=[e.nodeid for e in report.collection_errors],
            duration=round(report.duration, 3),
            tampered=report.tampered,
        )
        return report

    def check_oracle(self, contract: Contract, rev: str) -> oracle.OracleResult:
        """The oracle strength check on exactly the tree of ``rev``, in the sandbox (SPEC §6). Its summary is
        kept in the run directory for the verdict evaluator (a later process, in `harness afk`)."""
        if not self.config.gate.oracle_check:
            return oracle.OracleResult()
        with gitops.exported(self.worktree.path, rev) as tree:
            strength = oracle.check(
                tree,
                contract.tests,
                command=self.config.test_command,
                timeout=self.config.test_timeout,
                sandbox=self.p.sandbox,
            )
        self.trace.event(
            "oracle_checked",
            ok=strength.ok,
            checked=strength.checked,
            survived=[{"test": p.test, "line": p.line, "change": p.change} for p in strength.survived],
            unreached=strength.unreached,
            divergent=strength.divergent,
            weak=strength.weak,
            perturbations=strength.perturbations,
            duration=round(strength.duration, 3),
        )
        if strength.ok:
            atomic_write_text(self.run_dir / "oracle.txt", strength.summary() + "\n")
        return strength

    def check_mutants(self, contract: Contract, sha: str) -> mutation.MutationResult:
        """Mutants of the source lines the issue changed, against the contract tests, on exactly the tree of
        ``sha``, in the sandbox (SPEC §6). Test files and conftest.py are not mutated."""
        if not self.config.gate.mutation_check:
            return mutation.MutationResult(skipped="[gate] mutation_check is off")
        changed = {
            path: lines
            for path, lines in gitops.changed_lines(self.worktree.path, self.worktree.base, sha).items()
            if path.endswith(".py") and not is_test_file(path) and Path(path).name != "conftest.py"
        }
        with gitops.exported(self.worktree.path, sha) as tree:
            files = {p: (tree / p).read_text("utf-8", errors="replace") for p in changed if (tree / p).is_file()}
            candidates = mutation.mutants(files, changed, limit=self.config.gate.max_mutants)
            result = mutation.run(
                tree,
                candidates,
                contract.tests,
                command=self.config.test_command,
                timeout=self.config.test_timeout,
                sandbox=self.p.sandbox,
            )
        self.trace.event(
            "mutation_checked",
            mutants=result.total,
            killed=len(result.killed),
            survived=[m.describe() for m in result.survived],
            skipped=result.skipped,
            duration=round(result.duration, 3),
        )
        return result

    def run_probes(
        self, contract: Contract, submission: VerdictSubmission, sha: str
    ) -> tuple[probes.ProbeResult, list[Finding]]:
        """The verdict evaluator's probes, on exactly the tree of ``sha``, in the sandbox (SPEC §6)."""
        if not submission.probes:
            self.trace.event("probes_run", probes=0)
            return probes.ProbeResult(), []
        with gitops.exported(self.worktree.path, sha) as tree:
            result, paths = probes.run(
                tree,
                submission.probes,
                contract.tests,
                command=self.config.test_command,
                timeout=self.config.test_timeout,
                sandbox=self.p.sandbox,
            )
        self.trace.event(
            "probes_run",
            probes=len(submission.probes),
            ran=result.ran,
            passed=result.passed,
            failed=result.failed,
            unrunnable=result.unrunnable,
        )
        return result, result.findings(submission.probes, paths)

    def guard_context(self, contract: Contract) -> GuardContext:
        return GuardContext(
            protected_paths=tuple(self.config.protected_paths),
            frozen_tests=dict(self.frozen),
            contract_path=self.contract_path.relative_to(self.worktree.path).as_posix(),
            contract_digest=contract.sha256,
            allowances=tuple(GuardAllowance(a.rule, a.path, a.reason) for a in contract.allow),
            harness_dir=self.config.harness_dir,
        )

    def guard(self, contract: Contract, *, head: str) -> list[GuardFinding]:
        """The guards over everything this issue changed: base → ``head`` (a commit the harness made)."""
        from harness.guard.gitdiff import collect_changes
        from harness.guard.rules import check

        changes = collect_changes(self.p.root, self.worktree.base, head)
        findings = check(changes, self.guard_context(contract))
        self.trace.event("guard", phase=self.phase, files=len(changes), findings=[f.as_dict() for f in findings])
        return findings

    def check_integrity(self) -> None:
        """Block the issue when the worktree's git pointers, its branch or the repository config were tampered."""
        problem = gitops.tampering(self.worktree.path, expected_head=self.expected_head, seal=self.seal)
        if problem is not None:
            self.trace.event("tampering", phase=self.phase, problem=problem)
            raise Stop(
                "blocked",
                f"tampering detected in {self.worktree.path}: {problem}. The harness stopped before acting on it; "
                "nothing was committed past the last phase. Inspect the worktree, then remove it and the branch "
                f"(`git worktree remove --force {self.worktree.path}; git branch -D {self.worktree.branch}`).",
            )

    def candidate(self) -> str | Rejection:
        """A commit of the worktree as it is now (on no branch yet) with the harness's own contract in it, or why it
        cannot be taken: too big, or the contract file changed (the harness's copy is canonical; an agent that
        edits it is told so). What is verified is exactly what gets committed."""
        self.check_integrity()
        if self.contract is not None:
            found = read_inside(self.worktree.path, self.contract_rel)
            # Its copy now, or as committed before the tests were frozen (what `git checkout HEAD -- …` restores).
            accepted = {
                render_contract(self.contract),
                render_contract(self.contract.model_copy(update={"frozen_tests": {}})),
            }
            if found is None or found.decode("utf-8", "replace") not in accepted:
                self.trace.event("contract_drift", phase=self.phase)
                return Rejection(
                    f"guard HG008 contract-edited at {self.contract_rel}: the agreed contract is frozen and belongs "
                    "to the harness; whatever is changed there is never committed. Restore the contract file "
                    f"(`git checkout HEAD -- {self.contract_rel}`, after removing anything put in its place)."
                )
        try:
            return gitops.snapshot(self.worktree.path, extra=self.own_files(), limits=self.add_limits)
        except gitops.LimitExceeded as exc:
            self.trace.event("limit_exceeded", phase=self.phase, detail=str(exc))
            return Rejection(str(exc))

    def own_files(self) -> dict[str, str]:
        """The harness's own files as they must be committed (its copy is canonical, never the agents')."""
        return {self.contract_rel: render_contract(self.contract)} if self.contract is not None else {}

    def commit(self, candidate: str, subject: str, body: list[str]) -> str:
        """Commit exactly the verified ``candidate``'s tree on the issue branch."""
        self.check_integrity()
        message = subject + "\n\n" + "\n".join(body) + f"\n\nHarness-Issue: {self.issue.id}\n"
        sha = gitops.commit_candidate(self.worktree.path, candidate, message)
        self.expected_head = sha
        self.trace.event("commit", sha=sha, subject=subject)
        return sha

    def commit_contract(self, contract: Contract, subject: str, body: list[str]) -> str:
        """The contract phase's commit: the last commit's tree plus the harness's contract, nothing an agent
        left in the worktree; then the worktree is reset to it (read-only phases leave nothing behind)."""
        self.check_integrity()
        extra = {self.contract_rel: render_contract(contract)}
        candidate = gitops.snapshot(self.worktree.path, extra=extra, from_worktree=False)
        sha = self.commit(candidate, subject, body)
        gitops.reset_worktree(self.worktree.path, sha)
        return sha

    def save_contract(self, contract: Contract) -> None:
        """The agents' copy of the contract in the worktree, written without following any link they made."""
        write_inside(self.worktree.path, self.contract_rel, render_contract(contract))

    def protection(self, contract: Contract, *, frozen: bool = False) -> Callable[[str], str | None]:
        harness_dir = self.config.harness_dir.rstrip("/") + "/"
        patterns = list(self.config.protected_paths)
        context = self.guard_context(contract)

        def allowed(rule: str, name: str, path: str) -> bool:
            return any(a.covers(rule, name, path) for a in context.allowances)

        def reason(path: str) -> str | None:
            if path.startswith(harness_dir):
                return (
                    f"`{path}` belongs to the harness (contracts, issues, runs); it is not yours to change. "
                    "If the contract is wrong, say so in your note."
                )
            if frozen and path in self.frozen and not allowed("HG009", "frozen-test-edited", path):
                return (
                    f"`{path}` is a frozen test file: the evaluator accepted it as the contract's proof. "
                    "Change the implementation so it passes instead."
                )
            for pattern in patterns:
                if fnmatch.fnmatch(path, pattern) and not allowed("HG010", "protected-path-changed", path):
                    return (
                        f"`{path}` is protected by this repo's harness configuration ({pattern}); leave it unchanged."
                    )
            return None

        return reason

    @contextlib.contextmanager
    def throwaway(self, rev: str) -> Iterator[Workspace]:
        """A detached checkout of ``rev`` for a read-only agent that may still run commands."""
        with gitops.throwaway_checkouts(self.p.root, rev) as (path,):
            yield Workspace(path, writable=False, bash_timeout=self.config.bash_timeout, sandbox=self.p.sandbox)

    def read_text(self, rev: str, relpath: str) -> str:
        data = gitops.read_file_at(self.worktree.path, rev, relpath)
        return "" if data is None else data.decode("utf-8", errors="replace")

    def file_hash(self, rev: str, relpath: str) -> str | None:
        data = gitops.read_file_at(self.worktree.path, rev, relpath)
        return None if data is None else tdd_gate.file_digest(data)

    def save_state(self, status: str, detail: str) -> None:
        state = {
            "issue": self.issue.id,
            "branch": self.worktree.branch,
            "worktree": str(self.worktree.path),
            "base": self.worktree.base,
            "phase": self.phase,
            "status": status,
            "detail": detail,
            "contract_sha256": self.contract.sha256 if self.contract else None,
            "frozen": self.frozen,
            "cost": self.ledger.cost,
            "peak_context": self.peak_context,
        }
        atomic_write_text(self.run_dir / "state.json", json.dumps(state, indent=2) + "\n")

    @staticmethod
    def _why_not_ran(report: TestReport) -> str:
        return "timed out" if report.timed_out else f"exit code {report.exit_code}: {report.output_tail[-500:]}"

    # ------------------------------------------------------------------ handoffs

    @property
    def glossary(self) -> list[GlossaryEntry]:
        """The glossary of the issue's parent PRD (``prd:``), read once per process; the trace records what
        was used, or why none was: a PRD that cannot be read never stops the run."""
        if self._glossary is None:
            self._glossary, event = _prd_glossary(self.p.harness_dir, self.issue.prd)
            if event is not None:
                self.trace.event("prd_glossary", **event)
        return self._glossary

    def issue_handoff(self) -> str:
        criteria = "\n".join(f"- {c}" for c in self.issue.acceptance_criteria)
        return (
            f"Issue {self.issue.id}: {self.issue.title}\n\n"
            + _glossary_block(self.issue.prd, self.glossary)
            + _fenced("issue", self.issue.body.strip())
            + f"\n\nAcceptance criteria, as the harness parsed them:\n{criteria}\n\n"
            f"The repository is your workspace root. Its tests run with: {' '.join(self.config.test_command)}"
        )

    def contract_handoff(self, contract: Contract) -> str:
        criteria = "\n".join(f"- {c.id}: {c.behaviour}\n  test: {c.test}" for c in contract.criteria)
        scope = "\n".join(f"- {s}" for s in contract.out_of_scope) or "- (nothing listed)"
        return (
            self.issue_handoff()
            + f"\n\nThe agreed, frozen done-contract ({self.contract_path.relative_to(self.worktree.path)}):\n"
            f"{criteria}\n\nOut of scope:\n{scope}"
        )

    def tests_handoff(self, contract: Contract, tests: TestsReady, sha: str) -> str:
        files = sorted({tdd_gate.file_of(t) for t in tests.tests})
        listing = "\n\n".join(_fenced(f"file path={f}", self.read_text(sha, f)) for f in files)
        note = f"\n\nThe generator's note: {tests.note}" if tests.note else ""
        return (
            self.contract_handoff(contract)
            + f"\n\nThe harness verified that these tests fail for the right reason (commit {sha[:10]}):\n"
            + "\n".join(f"- {t}" for t in tests.tests)
            + note
            + "\n\n"
            + listing
            + "\n\nYour workspace is a throwaway copy of that commit; you may run the tests there."
        )

    def green_handoff(self, contract: Contract) -> str:
        frozen = "\n".join(f"- {f}" for f in sorted(self.frozen))
        return (
            self.contract_handoff(contract) + f"\n\nThe failing tests are committed and frozen:\n{frozen}\n\n"
            f"{len(self.baseline.passed)} test(s) passed before this issue began and must still pass."
        )

    def fix_handoff(self, contract: Contract, round_: int, verdict: Verdict) -> str:
        """A failed verdict as a work list for a fresh generator context."""
        unmet = [c for c in verdict.criteria if c.status != "met"]
        behaviour = {c.id: c.behaviour for c in contract.criteria}
        lines = [
            f"- {c.id} ({c.status}): {behaviour.get(c.id, '')}\n  evaluator's evidence: {c.evidence}" for c in unmet
        ]
        lines += [
            f"- [{f.severity}, {f.axis}] {f.path}{f':{f.line}' if f.line else ''}: {f.message}\n  required fix: "
            f"{f.required_fix}"
            for f in verdict.findings
        ]
        return (
            self.green_handoff(contract)
            + f"\n\nThe work is committed and green, but a skeptical evaluator failed it (fix round {round_}). "
            "Fix every item below without weakening or touching the frozen tests; blockers and unmet criteria "
            "decide the next verdict:\n" + "\n".join(lines)
        )

    def oracle_summary(self) -> str:
        """The oracle check's summary, kept at green in the run directory (harness-owned, outside the
        worktree): the verdict may run in a later process (`harness afk`)."""
        path = self.run_dir / "oracle.txt"
        return path.read_text(encoding="utf-8").strip() if path.is_file() else ""

    def verdict_handoff(self, contract: Contract, sha: str, findings: list[GuardFinding], strength: str) -> str:
        diff = gitops.diff(self.worktree.path, self.worktree.base, sha)
        if len(diff) > 60_000:
            diff = diff[:60_000] + "\n[... diff truncated; read the files in the workspace ...]"
        return (
            self.contract_handoff(contract)
            + "\n\nThe harness's own verification: every contract test passes, every test that passed before "
            "still passes, the frozen tests are unchanged."
            + (f" Oracle check: {strength}" if strength else "")
            + "\n\n"
            + _guard_summary(findings)
            + (_fenced("generator-note", self.generator_note) + "\n\n" if self.generator_note else "")
            + _fenced("diff", diff)
            + "\n\nYour workspace is a throwaway copy of the result."
        )


def _mutation_findings(result: mutation.MutationResult, minimum: float | None) -> list[Finding]:
    """A blocker when ``[gate] min_mutation_score`` is set and the score is below it."""
    if minimum is None or result.score is None or result.score >= minimum:
        return []
    first = result.survived[0]
    return [
        Finding(
            severity="blocker",
            axis="spec",
            path=first.path,
            line=first.line,
            message=f"the contract tests kill {result.score:.0%} of the mutants of the changed lines, below "
            f"[gate] min_mutation_score {minimum:.0%}; surviving: "
            + "; ".join(m.describe() for m in result.survived[:10]),
            required_fix="add tests (in new test files: the frozen ones stay as they are) that fail on these "
            "changes, or remove code no criterion needs",
        )
    ]


def _guard_summary(findings: list[GuardFinding]) -> str:
    if not findings:
        return "The deterministic guards found nothing in the diff.\n\n"
    heading = "The deterministic guards report (errors fail the verdict whatever you decide):"
    return heading + "\n" + "\n".join(f"- {f.summary()}" for f in findings) + "\n\n"


_PRD_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _prd_glossary(harness_dir: Path, slug: str | None) -> tuple[list[GlossaryEntry], dict[str, Any] | None]:
    """The glossary of PRD ``slug`` (``<harness_dir>/prds/<slug>.md``, read like the issue file) and the
    trace event that says so; no ``prd:``: nothing, and no event."""
    if not slug:
        return [], None
    path = harness_dir / "prds" / f"{slug}.md"
    if not _PRD_SLUG.fullmatch(slug) or ".." in slug:
        return [], {"prd": slug, "path": str(path), "terms": [], "error": f"`prd: {slug}` is not a PRD slug"}
    if not path.is_file():
        return [], {"prd": slug, "path": str(path), "terms": [], "error": f"no PRD file {path}"}
    try:
        prd = load_prd(path)
    except UsageError as exc:  # a PRD that cannot be read is reported, never fatal
        return [], {"prd": slug, "path": str(path), "terms": [], "error": str(exc).splitlines()[0][:300]}
    terms = [{"term": g.term, "definition": g.definition} for g in prd.glossary]
    return list(prd.glossary), {"prd": slug, "path": str(path), "terms": terms, "error": None}


def _glossary_block(slug: str | None, glossary: list[GlossaryEntry]) -> str:
    """The PRD's ubiquitous language, for every agent working one of its issues."""
    if not glossary:
        return ""
    entries = "\n".join(f"- {g.term}: {' '.join(g.definition.split())}" for g in glossary)
    return (
        f"The parent PRD ({slug}) defines a glossary: use these terms as defined, in the contract, the tests, "
        "the code and your messages; do not coin synonyms for them.\n" + _fenced("glossary", entries) + "\n\n"
    )


def _fenced(tag: str, text: str) -> str:
    """Untrusted text handed to a model as data: delimited, never mixed with instructions."""
    name = tag.split()[0]
    return f"<{tag}>\n{text}\n</{name}>"


def _objections(objections: list[Any]) -> str:
    return "\n".join(f"- [{o.criterion}] {o.problem} → required: {o.required_change}" for o in objections)


IssueRun = _Run
"""One issue's phases, for a caller that runs them one at a time (``harness afk``'s durable steps)."""
