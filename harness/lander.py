"""The lander: an issue is done only once its branch is merged into the batch's integration branch and the
full suite passes there.

One lander per batch merges finished issue branches, one at a time, in its own worktree (checked out on
the integration branch between landings). The integration branch is never the user's current branch.

Kill-safety protocol. The process may be SIGKILLed at any instant; the integration branch ref is the only
state that matters, and it moves in exactly one step, after the suite has passed on the commit it moves to:

1. Recover: make sure the lander worktree exists on the integration branch (a killed landing leaves it
   detached, so it is made again), then reset it hard to the branch tip and clean it (untracked and
   ignored files too). Whatever a killed landing left there is gone.
2. If the issue branch is already in the tip, it has landed: a kill after the ref moved and before the
   caller recorded it ends here on the retry, with no second merge.
3. Detach HEAD at the tip and merge the issue branch there. The merge commit is reachable from the
   detached HEAD only; the branch does not move. A conflict is aborted.
4. Run the full suite on the merge commit: on a clean export of exactly its tree, in the sandbox (the
   merged code is agent-written; SPEC §8), so nothing left in the lander worktree takes part.
5. Green: ``git update-ref`` the integration branch from the old tip (the expected old value) to the
   tested merge commit, one atomic compare-and-swap. Red: the merge commit is simply dropped.
6. Re-attach the worktree to the branch (at its tip, so no file changes).

A kill before step 5 leaves the branch where it was and an untested merge commit nobody refers to; the
retry merges afresh, so the branch gets exactly one merge commit per issue. A kill after step 5 is step 2
on the retry. An exception (the test command cannot start, git fails) likewise leaves the branch alone
and the worktree for the next landing to recover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness import gitops
from harness.errors import UsageError
from harness.sandbox import Bwrap
from harness.testrunner import TestReport, run_tests

LandOutcome = Literal["landed", "conflict", "red"]

_MESSAGE_CHARS = 600  # of each failure's message, in the detail a generator reads
_TAIL_CHARS = 1500


@dataclass
class LandResult:
    outcome: LandOutcome
    sha: str  # the integration branch's tip afterwards
    conflicts: list[str] = field(default_factory=list)  # paths
    failures: list[str] = field(default_factory=list)  # node ids, or what kept the suite from passing
    detail: str = ""  # what happened and what to do next, for a generator or a human


def land(
    repo_path: Path,
    lander_path: Path,
    integration_branch: str,
    issue_branch: str,
    *,
    test_command: Sequence[str],
    test_timeout: float,
    message: str,
    sandbox: Bwrap | None,
) -> LandResult:
    """Merge ``issue_branch`` into ``integration_branch`` and keep the merge only if the full suite passes
    on it. Safe to call again after a kill at any point (see the module docstring). ``sandbox`` is None only
    when the configuration opted out of it."""
    gitops.ensure_worktree(repo_path, lander_path, integration_branch)
    tip = gitops.resolve(repo_path, f"refs/heads/{integration_branch}")
    gitops.reset_worktree(lander_path, tip)
    if gitops.is_ancestor(repo_path, issue_branch, tip):
        return LandResult("landed", tip, detail=f"{issue_branch} is already part of {integration_branch} ({tip[:12]}).")

    gitops.checkout(lander_path, tip, detach=True)
    conflicts = gitops.merge(lander_path, issue_branch, message)
    if conflicts:
        _settle(lander_path, integration_branch, tip)
        return LandResult(
            "conflict", tip, conflicts=conflicts, detail=_conflict_detail(issue_branch, integration_branch, conflicts)
        )

    merged = gitops.head(lander_path)
    with gitops.exported(lander_path, merged) as checkout:
        report = run_tests(checkout, test_command, timeout=test_timeout, sandbox=sandbox)
    failures = suite_failures(report, test_timeout)
    if failures:
        _settle(lander_path, integration_branch, tip)
        detail = _red_detail(issue_branch, integration_branch, report, failures)
        return LandResult("red", tip, failures=failures, detail=detail)

    gitops.move_branch(repo_path, integration_branch, merged, expected=tip)
    _settle(lander_path, integration_branch, merged)
    return LandResult(
        "landed",
        merged,
        detail=f"merged {issue_branch} into {integration_branch} as {merged[:12]}; "
        f"the full suite passed there ({len(report.passed())} passed).",
    )


def _settle(lander_path: Path, integration_branch: str, sha: str) -> None:
    """Leave the lander worktree clean, on the integration branch, which points at ``sha``."""
    gitops.reset_worktree(lander_path, sha)
    gitops.checkout(lander_path, integration_branch)


def merge_for_fix(worktree: Path, integration_branch: str) -> list[str]:
    """Bring the integration branch into an issue's worktree, so its generator can fix a conflict or a red
    suite against what has landed since the issue started.

    A clean merge is committed. Otherwise the conflicted paths are returned and the merge is left in
    progress, conflict markers in the working tree, for the generator to resolve (committing its work then
    concludes the merge). A merge left in progress by an earlier call is started over. The worktree must
    hold no other uncommitted changes."""
    branch = gitops.current_branch(worktree)
    if branch is None:
        raise UsageError(
            f"{worktree} is on a detached HEAD, not on an issue branch",
            hint=f"check out the issue's branch there (`git -C {worktree} switch harness/<id>-<slug>`)",
        )
    target = gitops.run_git(worktree, "rev-parse", "--verify", "--end-of-options", f"refs/heads/{integration_branch}")
    gitops.abort_merge(worktree)
    return gitops.merge(worktree, target, f"merge: integration branch {integration_branch} into {branch}")


def suite_failures(report: TestReport, timeout: float) -> list[str]:
    """What keeps ``report`` from being a clean pass of the full suite; empty when it is one."""
    if report.timed_out:
        return [f"the suite did not finish within {timeout:g}s"]
    if not report.ran:
        return [f"the suite could not run: pytest exited with code {report.exit_code} and reported no results"]
    failures = [f"collection error in {error.nodeid}" for error in report.collection_errors]
    failures += sorted(report.failed())
    if not failures and report.exit_code != 0:
        failures.append(
            "no tests were collected" if report.exit_code == 5 else f"pytest exited with code {report.exit_code}"
        )
    return failures


def _conflict_detail(issue_branch: str, integration_branch: str, conflicts: list[str]) -> str:
    return (
        f"Merging {issue_branch} into {integration_branch} conflicts in {', '.join(conflicts)}: work that landed "
        f"since the issue started changed the same lines. {integration_branch} is unchanged. To land it, merge "
        f"{integration_branch} into {issue_branch}, resolve each conflict keeping the intent of both sides, make "
        "the full suite pass, and land again."
    )


def _red_detail(issue_branch: str, integration_branch: str, report: TestReport, failures: list[str]) -> str:
    lines = [
        f"{issue_branch} merges cleanly into {integration_branch}, but the full suite does not pass on the merge, "
        f"so {integration_branch} is unchanged. The failure may come from combining this issue's work with work "
        f"that landed since it started. To land it, merge {integration_branch} into {issue_branch}, make the "
        "full suite pass there, and land again.",
    ]
    for error in report.collection_errors:
        lines.append(f"- collection error in {error.nodeid}: {_clip(error.message, _MESSAGE_CHARS, tail=True)}")
    for nodeid in sorted(report.failed()):
        outcome = report.outcomes[nodeid]
        lines.append(f"- {nodeid} ({outcome.outcome} in {outcome.phase}): {_clip(outcome.message, _MESSAGE_CHARS)}")
    if len(lines) == 1:
        lines.append(f"- {failures[0]}")
        if report.output_tail.strip():
            lines.append("the end of pytest's output:\n" + _clip(report.output_tail, _TAIL_CHARS, tail=True))
    return "\n".join(lines)


def _clip(text: str, limit: int, *, tail: bool = False) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return "..." + text[-limit:] if tail else text[:limit] + "..."
