"""`harness afk`: an unattended batch of issues, durable across crashes (DBOS), parallel, bounded.

Shape of a batch
----------------
The *coordinator* (``harness afk``) owns the batch: it computes the frontier (AFK issues in `todo`
whose ``blocked_by`` are all done), enqueues each ready issue as a DBOS workflow on the
``harness-issues`` queue, watches the workflows finish, grows the frontier as issues land, and
stops enqueueing at ``--until``, at the batch budget or on Ctrl-C. Workers run the workflows: the
coordinator is itself a worker (``--parallel N`` at once); ``harness afk --worker`` on another machine
with the same ``--database-url`` is another.

One issue is one workflow; its phases are DBOS steps whose outputs are checkpointed: the
*checkpoint* is a JSON dict that grows phase by phase (baseline, contract, red, green, verdict,
landed) and names the commit each phase ended on. A step starts by resetting the issue's
worktree to the previous phase's commit, so a half-written edit from a killed process never leaks
into the retry. A workflow never raises for a resumable failure (API down, Ctrl-C, batch budget):
it returns ``incomplete`` with its checkpoint, and the next attempt (workflow id
``<batch>/<issue>/<n>``) starts from that checkpoint; completed phases never run again.

Landing is a child workflow on the ``harness-land`` queue (global concurrency 1): the single
lander merges the issue branch into the integration branch, re-runs the whole suite, and only
then is the issue done. A conflict or a red suite sends the issue back to its generator once,
with the conflict as the finding; a second failure blocks it.

The DBOS application version is pinned to :data:`STATE_VERSION`, not to a hash of this code, so a
batch survives a harness upgrade between a crash and ``--resume``; a change that makes old
checkpoints unreadable must bump it (docs/afk.md says what then happens).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSConfig, SetWorkflowID

from harness import gitops, layout, tdd_gate
from harness.artifacts import Issue, Verdict, find_issue, issue_files, load_issue, set_issue_fields
from harness.batch_models import TERMINAL, BatchState, CommitInfo, IssueProgress
from harness.config import Config, load_config
from harness.errors import HarnessError, IncompleteError, UsageError
from harness.model import make_client
from harness.pipeline import IssueRun, Prepared, Stop
from harness.sandbox import Bwrap, sandbox_for
from harness.trace import BudgetExceeded, CallRecord, Ledger, Trace

STATE_VERSION = "harness-state-1"
ISSUES_QUEUE = "harness-issues"
LAND_QUEUE = "harness-land"
_POLL = 0.25  # seconds between the coordinator's looks at its workflows


class Interrupted(IncompleteError):
    """A person asked the batch to stop now (a second Ctrl-C); the issue stops at its next model call."""


class BatchBudgetExceeded(IncompleteError):
    """The batch's --max-cost is spent; running issues stop at their next model call, resumable."""


# --------------------------------------------------------------------------- process-wide runtime


@dataclass
class Runtime:
    """What the durable steps of this process need and cannot receive as (serialised) arguments."""

    root: Path
    config: Config
    harness_dir: Path
    worker: str
    sandbox: Bwrap | None  # None only when the configuration says sandbox = "none"
    max_cost: float | None = None
    stop_now: threading.Event = field(default_factory=threading.Event)
    budget_refused: threading.Event = field(default_factory=threading.Event)  # the budget turned a call away
    _spent: float = 0.0  # this process's spend in this batch, plus what earlier sessions recorded
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def charge(self, call: CallRecord) -> None:
        with self._lock:
            self._spent += call.cost or 0.0

    def spent(self) -> float:
        with self._lock:
            return self._spent

    def set_spent(self, amount: float) -> None:
        with self._lock:
            self._spent = amount

    def guard(self, next_call: float) -> None:
        """Before every model call of every issue: a stop request, then the batch budget."""
        if self.stop_now.is_set():
            raise Interrupted("stopped by Ctrl-C at a safe point (before a model call); resume with --resume")
        if self.max_cost is not None and self.spent() + next_call > self.max_cost:
            self.budget_refused.set()
            spent = self.spent()
            what = "is spent" if spent >= self.max_cost else f"cannot pay for the next call (about ${next_call:.4f})"
            raise BatchBudgetExceeded(
                f"the batch budget of ${self.max_cost:.2f} {what}; ${spent:.4f} spent",
                hint="resume with a higher --max-cost",
            )


_RUNTIME: Runtime | None = None


def runtime() -> Runtime:
    if _RUNTIME is None:
        raise RuntimeError("harness afk: no runtime in this process (a workflow ran outside `harness afk`)")
    return _RUNTIME


# --------------------------------------------------------------------------- names and files


def batch_id_for(day: datetime) -> str:
    return "afk-" + day.strftime("%Y%m%d")


def issue_branch(batch: str, issue: Issue) -> str:
    return layout.afk_branch(batch, issue.id, issue.slug)


def issue_worktree(harness_dir: Path, batch: str, issue: Issue) -> Path:
    return harness_dir / "worktrees" / layout.afk_worktree_name(batch, issue.id, issue.slug)


def lander_worktree(harness_dir: Path, batch: str) -> Path:
    return harness_dir / "worktrees" / f"{batch}-lander"


def workflow_id(batch: str, issue_id: str, attempt: int) -> str:
    return f"{batch}/{issue_id}/{attempt}"


def default_worker_id(root: Path) -> str:
    """Stable for one clone on one machine: a restarted worker recovers the workflows it had running."""
    return f"{socket.gethostname()}-{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"


def progress_path(batch_path: Path, issue_id: str) -> Path:
    return batch_path / "issues" / f"{issue_id}.json"


_progress_lock = threading.Lock()


def update_progress(batch_path: Path, issue_id: str, **fields: Any) -> IssueProgress:
    """Read, change and atomically rewrite one issue's progress file."""
    from harness.board import save_progress

    with _progress_lock:
        path = progress_path(batch_path, issue_id)
        current = IssueProgress.model_validate_json(path.read_text("utf-8")) if path.is_file() else None
        if current is None:
            current = IssueProgress(id=issue_id, title=fields.pop("title", issue_id))
        updated = current.model_copy(update=fields)
        save_progress(batch_path, updated)
        return updated


def read_progress(batch_path: Path, issue_id: str) -> IssueProgress | None:
    path = progress_path(batch_path, issue_id)
    return IssueProgress.model_validate_json(path.read_text("utf-8")) if path.is_file() else None


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------- the durable issue workflow

# Phases in order; after `verdict`, up to [limits] fix_rounds pairs `fix-N` / `verdict-N`, then `land`.
_FIRST_PHASES = ("setup", "baseline", "contract", "red", "green", "verdict")


def next_phase(cp: dict[str, Any]) -> str | None:
    """The phase to run next from checkpoint ``cp``; None when the workflow has reached its end."""
    for phase in _FIRST_PHASES:
        if phase not in cp:
            return phase
    fix_rounds = int(cp["setup"]["fix_rounds"])
    verdict, fixes = cp["verdict"], 0
    while verdict["verdict"] == "fail" and fixes < fix_rounds:
        fixes += 1
        if f"fix-{fixes}" not in cp:
            return f"fix-{fixes}"
        if f"verdict-{fixes}" not in cp:
            return f"verdict-{fixes}"
        verdict = cp[f"verdict-{fixes}"]
    if verdict["verdict"] == "fail":
        return None
    if "land" not in cp:
        return "land"
    if cp["land"]["outcome"] == "landed":
        return None
    for phase in ("land-fix", "land-verdict", "land-2"):
        if phase not in cp:
            return phase
    return None


def last_verdict(cp: dict[str, Any]) -> dict[str, Any] | None:
    keys = [k for k in cp if k == "verdict" or k.startswith("verdict-") or k == "land-verdict"]
    return cp[keys[-1]] if keys else None


def outcome_of(cp: dict[str, Any]) -> tuple[str, str]:
    """(terminal state, reason) of a workflow that reached its end."""
    verdict = last_verdict(cp)
    if verdict is not None and verdict["verdict"] == "fail":
        return "blocked", f"the evaluator failed the work ({verdict['met']}/{verdict['total']} criteria met)"
    landing = cp.get("land-2") or cp.get("land")
    if landing and landing["outcome"] == "landed":
        return "done", f"landed on {landing['tip'][:10]}"
    assert landing is not None
    return "blocked", f"could not land ({landing['outcome']}): {landing['detail']}"


@DBOS.workflow()
def issue_workflow(spec: dict[str, Any], checkpoint: dict[str, Any]) -> dict[str, Any]:
    """One issue, phase by phase, from ``checkpoint``; returns {outcome, reason, checkpoint}."""
    cp = dict(checkpoint)
    while True:
        phase = next_phase(cp)
        if phase is None:
            outcome, reason = outcome_of(cp)
            return {"outcome": outcome, "reason": reason, "checkpoint": cp}
        if phase in ("land", "land-2"):
            # One lander at a time across every worker: a child workflow on a queue of global concurrency 1.
            queue = DBOS.retrieve_queue(LAND_QUEUE)
            assert queue is not None
            out = queue.enqueue(land_workflow, spec, cp).get_result()
            if out["outcome"] == "error":
                return {"outcome": "incomplete", "reason": out["detail"], "checkpoint": cp}
        else:
            out = phase_step(spec, phase, cp)
        if "end" in out:
            return {"outcome": out["end"], "reason": out["reason"], "checkpoint": cp}
        cp[phase] = out


@DBOS.workflow()
def land_workflow(spec: dict[str, Any], cp: dict[str, Any]) -> dict[str, Any]:
    return land_step(spec, cp)


@DBOS.step()
def land_step(spec: dict[str, Any], cp: dict[str, Any]) -> dict[str, Any]:
    """Land the issue; a failure of git, the remote or the test command ends the attempt, nothing moved."""
    rt = runtime()
    issue_id = spec["issue"]
    update_progress(rt.harness_dir / "runs" / spec["batch"], issue_id, state="landing", phase="landing")
    trace = Trace(rt.harness_dir / "runs" / f"{spec['batch']}-{issue_id}" / "trace.jsonl")
    trace.event("phase_started", phase="land", batch=spec["batch"], issue=issue_id, worker=rt.worker)
    started = time.monotonic()
    try:
        result = _land(rt, spec, cp)
    except Exception as exc:
        trace.event("land_failed", error=f"{type(exc).__name__}: {exc}")
        return {"outcome": "error", "detail": f"landing failed: {type(exc).__name__}: {exc}"}
    else:
        trace.event(
            "landed" if result.outcome == "landed" else "land_refused",
            outcome=result.outcome,
            tip=result.sha,
            conflicts=list(result.conflicts),
            failures=list(result.failures),
            duration=round(time.monotonic() - started, 3),
        )
        trace.event("phase_completed", phase="land", cost=0.0)
    finally:
        trace.close()
    return {
        "outcome": result.outcome,
        "tip": result.sha,  # the integration branch's, not a checkpoint of the issue's worktree
        "conflicts": list(result.conflicts),
        "failures": list(result.failures),
        "detail": result.detail,
    }


def _land(rt: Runtime, spec: dict[str, Any], cp: dict[str, Any]) -> Any:
    from harness.lander import land

    branch = cp["setup"]["branch"]
    remote = spec.get("remote")
    sync_integration(rt, spec)
    if remote:  # the issue ran on whichever machine dequeued it; its branch came here through the remote
        gitops.fetch_branch(rt.root, remote, branch)
        branch = f"refs/remotes/{remote}/{branch}"
    result = land(
        rt.root,
        lander_worktree(rt.harness_dir, spec["batch"]),
        spec["integration"],
        branch,
        test_command=rt.config.test_command,
        test_timeout=rt.config.test_timeout,
        message=f"land: {spec['issue']} {spec['title']}\n\nHarness-Issue: {spec['issue']}\n"
        f"Harness-Batch: {spec['batch']}\n",
        sandbox=rt.sandbox,
    )
    if remote and result.outcome == "landed":
        gitops.push_branch(rt.root, remote, spec["integration"])
    return result


@DBOS.step()
def phase_step(spec: dict[str, Any], phase: str, cp: dict[str, Any]) -> dict[str, Any]:
    """Run one phase of one issue in this process; a resumable failure ends the attempt, not the workflow."""
    rt = runtime()
    batch_path = rt.harness_dir / "runs" / spec["batch"]
    issue_id = spec["issue"]
    update_progress(batch_path, issue_id, state="running", phase=phase, worker=rt.worker)
    started = time.monotonic()
    try:
        if phase == "setup":
            return _setup(rt, spec)
        with _issue_run(rt, spec, cp, phase) as run:
            out = _run_phase(run, spec, phase, cp)
    except Stop as stop:
        return {"end": "blocked", "reason": stop.reason}
    except (Interrupted, BatchBudgetExceeded) as exc:
        return {"end": "incomplete", "reason": exc.message}
    except BudgetExceeded as exc:
        return {"end": "blocked", "reason": f"budget: {exc.message}"}
    except HarnessError as exc:  # API down, a configuration changed under the batch, …: fix it and --resume
        return {"end": "incomplete", "reason": str(exc)}
    except Exception as exc:  # a git or file-system failure, or a harness bug: the attempt ends, resumable
        return {"end": "incomplete", "reason": f"{phase} failed: {type(exc).__name__}: {exc}"}
    finally:
        progress = read_progress(batch_path, issue_id)
        if progress is not None:
            update_progress(batch_path, issue_id, elapsed=progress.elapsed + time.monotonic() - started)
    return out


def _setup(rt: Runtime, spec: dict[str, Any]) -> dict[str, Any]:
    """The issue's branch and worktree, from the integration branch's tip; a retry reuses them."""
    issue = load_issue(find_issue(rt.harness_dir / "issues", spec["issue"]))
    branch = issue_branch(spec["batch"], issue)
    start = sync_integration(rt, spec)
    path = _local_worktree(rt, spec, issue, branch, start)
    if spec.get("remote"):
        gitops.push_branch(rt.root, spec["remote"], branch, force=True)
    return {
        "branch": branch,
        "worktree": str(path),
        "base": start,
        "sha": start,
        "fix_rounds": rt.config.limits.fix_rounds,
        "cost": 0.0,
    }


def _local_worktree(rt: Runtime, spec: dict[str, Any], issue: Issue, branch: str, sha: str) -> Path:
    """This machine's worktree of the issue, on its branch, reset to ``sha``: whatever a killed attempt left
    is gone. With a remote, the checkpoint may have been made on another machine: its commits are fetched."""
    path = issue_worktree(rt.harness_dir, spec["batch"], issue)
    if spec.get("remote") and not gitops.has_commit(rt.root, sha):
        gitops.fetch_branch(rt.root, spec["remote"], branch)
    gitops.clear_ref_lock(rt.root, branch)  # the issue's branch is this step's alone: a lock is a killed git's
    gitops.ensure_branch(rt.root, branch, sha)
    gitops.ensure_worktree(rt.root, path, branch)
    gitops.reset_worktree(path, sha)
    return path


def sync_integration(rt: Runtime, spec: dict[str, Any]) -> str:
    """The integration branch's tip. With a remote, fetched first, and the local branch brought up to it
    (a local tip ahead of the remote is a landing this machine has not pushed yet: it is kept)."""
    integration, remote = spec["integration"], spec.get("remote")
    if not remote:
        return gitops.resolve(rt.root, f"refs/heads/{integration}")
    remote_tip = gitops.fetch_branch(rt.root, remote, integration)
    try:
        local: str | None = gitops.resolve(rt.root, f"refs/heads/{integration}")
    except UsageError:
        local = None
    if local is None or gitops.is_ancestor(rt.root, local, remote_tip):
        gitops.set_branch(rt.root, integration, remote_tip)
        return remote_tip
    if gitops.is_ancestor(rt.root, remote_tip, local):
        return local
    raise IncompleteError(
        f"{integration} here ({local[:10]}) and on {remote} ({remote_tip[:10]}) have diverged",
        hint=f"only the batch's lander may move {integration}; reset the local branch to {remote}/{integration}",
    )


def _checkpoint_sha(cp: dict[str, Any]) -> str:
    """The commit the last completed phase ended on."""
    return str([v for v in cp.values() if isinstance(v, dict) and v.get("sha")][-1]["sha"])


@contextmanager
def _issue_run(rt: Runtime, spec: dict[str, Any], cp: dict[str, Any], phase: str) -> Iterator[IssueRun]:
    setup = cp["setup"]
    issue_path = find_issue(rt.harness_dir / "issues", spec["issue"])
    issue = load_issue(issue_path)
    # A killed attempt's edits never leak into this one.
    path = _local_worktree(rt, spec, issue, setup["branch"], _checkpoint_sha(cp))
    worktree = gitops.Worktree(path=path, branch=setup["branch"], base=setup["base"])
    prepared = Prepared(
        root=rt.root,
        config=rt.config,
        harness_dir=rt.harness_dir,
        issue=issue,
        issue_path=issue_path,
        sandbox=rt.sandbox,
    )
    batch_path = rt.harness_dir / "runs" / spec["batch"]
    run_dir = rt.harness_dir / "runs" / f"{spec['batch']}-{spec['issue']}"
    progress = read_progress(batch_path, spec["issue"])
    spent = progress.cost if progress else 0.0
    ledger = Ledger(max_cost=rt.config.budget.max_cost_per_issue, spent_before=spent, guard=rt.guard)

    def charged(call: CallRecord) -> None:
        rt.charge(call)
        update_progress(
            batch_path, spec["issue"], cost=spent + ledger.cost, cost_known=ledger.cost_known and call.cost is not None
        )

    ledger.on_record = charged
    trace = Trace(run_dir / "trace.jsonl")
    trace.event("phase_started", phase=phase, batch=spec["batch"], issue=spec["issue"], worker=rt.worker)
    client = make_client(max_retries=rt.config.max_retries, timeout=rt.config.request_timeout)
    run = IssueRun(prepared, client, worktree, run_dir, trace, ledger, None)
    try:
        yield run
        if spec.get("remote"):  # the next phase may run on another machine
            gitops.push_branch(rt.root, spec["remote"], worktree.branch, force=True)
        trace.event("phase_completed", phase=phase, cost=ledger.cost)
    finally:
        trace.close()
        if str(run_dir) not in (progress.runs if progress else []):
            update_progress(batch_path, spec["issue"], runs=[*(progress.runs if progress else []), str(run_dir)])


def _baseline(cp: dict[str, Any]) -> tdd_gate.Baseline:
    data = cp["baseline"]
    return tdd_gate.Baseline(
        passed=frozenset(data["passed"]),
        collected=int(data["collected"]),
        failing=frozenset(data["failing"]),
        broken_files=frozenset(data["broken_files"]),
    )


def _run_phase(run: IssueRun, spec: dict[str, Any], phase: str, cp: dict[str, Any]) -> dict[str, Any]:
    done = {"cost": 0.0}
    if phase == "baseline":
        baseline = run.run_baseline()
        return {
            "passed": sorted(baseline.passed),
            "failing": sorted(baseline.failing),
            "broken_files": sorted(baseline.broken_files),
            "collected": baseline.collected,
            "sha": _checkpoint_sha(cp),
            "cost": 0.0,
        }
    frozen = cp["red"]["frozen"] if "red" in cp else None
    contract = run.restore(_baseline(cp), frozen)
    if phase == "contract":
        run.negotiate_contract()
        return {**done, "sha": run.expected_head, "cost": run.ledger.cost}
    assert contract is not None, f"no agreed contract in the worktree before phase {phase}"
    if phase == "red":
        report = run.red_and_review(contract)
        return {
            "sha": run.expected_head,
            "frozen": dict(run.frozen),
            "min_collected": max(run.baseline.collected, report.collected),
            "cost": run.ledger.cost,
        }
    min_collected = int(cp["red"]["min_collected"])
    if phase == "green" or phase.startswith("fix-") or phase == "land-fix":
        if phase.startswith("fix-"):
            number = int(phase.removeprefix("fix-"))
            previous = cp["verdict"] if number == 1 else cp[f"verdict-{number - 1}"]
            run.green(contract, min_collected=min_collected, fix=(number, Verdict.model_validate(previous["full"])))
        elif phase == "land-fix":
            run.green(contract, min_collected=min_collected, rework=("land-fix", _land_findings(run, spec, cp)))
        else:
            run.green(contract, min_collected=min_collected)
        return {"sha": run.expected_head, "cost": run.ledger.cost, "note": run.generator_note}
    # verdict, verdict-N, land-verdict
    run.generator_note = _last_note(cp)
    verdict = run.evaluate(contract)
    return {
        "verdict": verdict.verdict,
        "met": verdict.met,
        "total": verdict.total,
        "full": verdict.model_dump(mode="json"),
        "sha": run.expected_head,
        "cost": run.ledger.cost,
    }


def _last_note(cp: dict[str, Any]) -> str | None:
    notes = [v.get("note") for k, v in cp.items() if k in ("green", "land-fix") or k.startswith("fix-")]
    return notes[-1] if notes else None


def _land_findings(run: IssueRun, spec: dict[str, Any], cp: dict[str, Any]) -> str:
    """Merge the integration branch into the issue branch and word what the lander found, for the generator."""
    from harness.lander import merge_for_fix

    landing = cp["land"]
    sync_integration(runtime(), spec)
    conflicts = merge_for_fix(run.worktree.path, spec["integration"])
    if not conflicts:  # the harness's own merge commit, made just now: the tip it expects from here on
        run.expected_head = gitops.head(run.worktree.path)
    lines = [
        "Your work passed its evaluation, but it could not land on the integration branch, where other issues "
        f"of this batch have landed meanwhile ({landing['outcome']}):",
        landing["detail"],
        "",
        "The harness has merged the integration branch into your branch.",
    ]
    if conflicts:
        lines.append(
            "These files have merge conflicts (markers in the working tree): "
            + ", ".join(conflicts)
            + ". Resolve them keeping both sides' behaviour."
        )
    if landing["failures"]:
        lines.append("After the merge these failed: " + ", ".join(landing["failures"]))
    lines.append("Make the whole suite pass — your contract tests and everything that landed before you.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the coordinator


@dataclass
class AfkOptions:
    parallel: int | None = None  # default 1; on --resume, the batch's own
    max_cost: float | None = None
    until: str | None = None  # HH:MM
    resume: bool = False
    batch: str | None = None
    database_url: str | None = None
    worker_id: str | None = None
    integration: str | None = None
    remote: str | None = None  # several machines: branches travel through this git remote


def parse_until(text: str, now: datetime) -> datetime:
    """``HH:MM`` as the next such moment (later today, else tomorrow: an overnight batch), or an ISO 8601
    date and time for scripts."""
    try:
        moment = clock.fromisoformat(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text)
        except ValueError as exc:
            raise UsageError(
                f"--until {text}: not a time of day", hint="write it as HH:MM, e.g. --until 07:00"
            ) from exc
        return when if when.tzinfo else when.astimezone()
    candidate = now.replace(hour=moment.hour, minute=moment.minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


def dbos_config(harness_dir: Path, database_url: str | None, worker: str) -> DBOSConfig:
    if database_url is None:
        state = harness_dir / "state"
        state.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{state / 'dbos.sqlite'}"
    return {
        "name": "harness",
        "system_database_url": database_url,
        "application_version": STATE_VERSION,
        "executor_id": worker,
        "log_level": "WARNING",
    }


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """DBOS's console log handler, writing to whatever ``sys.stderr`` is now (DBOS's own keeps the stream
    of the moment it was imported, which a test runner or a redirect may have closed since)."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "__dbos_console_log_handler__"
        self.setFormatter(logging.Formatter("dbos: %(levelname)s %(message)s"))

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


@contextmanager
def launched(rt: Runtime, database_url: str | None, parallel: int) -> Iterator[None]:
    """DBOS launched for this process (recovering its own unfinished workflows), with the two queues."""
    global _RUNTIME
    _RUNTIME = rt
    dbos_log = logging.getLogger("dbos")
    dbos_log.handlers = [_StderrHandler()]
    dbos_log.propagate = False
    DBOS(config=dbos_config(rt.harness_dir, database_url, rt.worker))
    try:
        DBOS.launch()
        DBOS.register_queue(
            ISSUES_QUEUE, worker_concurrency=parallel, polling_interval_sec=0.2, on_conflict="always_update"
        )
        DBOS.register_queue(LAND_QUEUE, global_concurrency=1, polling_interval_sec=0.2, on_conflict="always_update")
        yield
    finally:
        DBOS.destroy(destroy_registry=False)
        _RUNTIME = None


@dataclass
class Coordinator:
    rt: Runtime
    state: BatchState
    batch_path: Path
    issues: dict[str, Issue]
    deadline: datetime | None = None
    stop_new: bool = False
    on_change: Callable[[], None] | None = None
    running: dict[str, Any] = field(default_factory=dict)  # issue id -> workflow handle
    tried: set[str] = field(default_factory=set)  # started (or adopted) in this session

    # -- what is ready

    def progress(self) -> dict[str, IssueProgress]:
        found = {i: read_progress(self.batch_path, i) for i in self.state.issues}
        return {i: p for i, p in found.items() if p is not None}

    def done_ids(self, progress: dict[str, IssueProgress]) -> set[str]:
        outside = {i for i, issue in self.issues.items() if issue.status == "done" and i not in progress}
        return outside | {i for i, p in progress.items() if p.state == "done"}

    def frontier(self) -> list[str]:
        progress = self.progress()
        done = self.done_ids(progress)
        ready = []
        for issue_id in self.state.issues:
            p = progress.get(issue_id)
            if p is None or p.state in TERMINAL or issue_id in self.running or issue_id in self.tried:
                continue
            if all(b in done for b in self.issues[issue_id].blocked_by):
                ready.append(issue_id)
            elif p.state != "waiting":
                update_progress(self.batch_path, issue_id, state="waiting")
        return ready

    # -- attempts (one DBOS workflow each)

    def attempts(self, issue_id: str) -> list[Any]:
        prefix = f"{self.state.batch}/{issue_id}/"
        found = DBOS.list_workflows(workflow_id_prefix=prefix, load_input=False)
        mine = [w for w in found if w.workflow_id[len(prefix) :].isdigit()]
        return sorted(mine, key=lambda w: int(w.workflow_id[len(prefix) :]))

    def adopt(self) -> None:
        """After a crash or on --resume: take over the workflows of earlier sessions."""
        for issue_id in self.state.issues:
            p = read_progress(self.batch_path, issue_id)
            if p is None or p.state in TERMINAL:
                continue
            previous = self.attempts(issue_id)
            if not previous:
                continue
            last = previous[-1]
            if last.app_version != STATE_VERSION and last.status in ("PENDING", "ENQUEUED"):
                # Left by a harness with another state format: nobody will run it; a new attempt starts over.
                DBOS.cancel_workflow(last.workflow_id)
                continue
            if last.status in ("PENDING", "ENQUEUED"):
                self.running[issue_id] = DBOS.retrieve_workflow(last.workflow_id)
                self.tried.add(issue_id)
            elif last.status == "SUCCESS" and last.output and last.output.get("outcome") in TERMINAL:
                self.finalize(issue_id, DBOS.retrieve_workflow(last.workflow_id))

    def start(self, issue_id: str) -> None:
        previous = self.attempts(issue_id)
        checkpoint: dict[str, Any] = {}
        last = previous[-1] if previous else None
        if last is not None and last.status == "SUCCESS" and last.output and last.app_version == STATE_VERSION:
            checkpoint = dict(last.output.get("checkpoint") or {})
        attempt = len(previous) + 1
        issue = self.issues[issue_id]
        spec = {
            "batch": self.state.batch,
            "issue": issue_id,
            "integration": self.state.integration_branch,
            "remote": self.state.remote,
            "title": issue.title,
        }
        queue = DBOS.retrieve_queue(ISSUES_QUEUE)
        assert queue is not None
        with SetWorkflowID(workflow_id(self.state.batch, issue_id, attempt)):
            self.running[issue_id] = queue.enqueue(issue_workflow, spec, checkpoint)
        self.tried.add(issue_id)
        p = read_progress(self.batch_path, issue_id)
        update_progress(
            self.batch_path,
            issue_id,
            state="queued",
            started=(p.started if p and p.started else now_iso()),
            reason=None,
            action=None,
        )
        _set_status(self.rt, issue_id, "in-progress")

    def finalize(self, issue_id: str, handle: Any) -> None:
        status = handle.get_status()
        issue = self.issues[issue_id]
        if status.status == "SUCCESS":
            result = handle.get_result()
            outcome, reason, cp = result["outcome"], result["reason"], result.get("checkpoint") or {}
        else:
            outcome, reason, cp = "blocked", f"the workflow ended with {status.status}: {status.error}", {}
        verdict = last_verdict(cp)
        setup = cp.get("setup") or {}
        commits: list[CommitInfo] = []
        subjects: list[tuple[str, str]] = []
        if setup.get("worktree") and Path(setup["worktree"]).is_dir():
            subjects = gitops.commit_subjects(Path(setup["worktree"]), setup["base"])
        elif setup.get("branch") and self.state.remote:  # it ran on another machine
            with contextlib.suppress(IncompleteError, UsageError):
                tip = gitops.fetch_branch(self.rt.root, self.state.remote, setup["branch"])
                subjects = gitops.range_subjects(self.rt.root, setup["base"], tip)
        commits = [CommitInfo(sha=sha, subject=subject) for sha, subject in subjects]
        p = read_progress(self.batch_path, issue_id)
        phase_cost = sum(float(v.get("cost") or 0.0) for v in cp.values() if isinstance(v, dict))
        update_progress(
            self.batch_path,
            issue_id,
            state=outcome,
            phase=None,
            finished=now_iso() if outcome in TERMINAL else None,
            reason=reason,
            action=_action(outcome, reason, setup.get("branch"), issue),
            verdict=verdict["verdict"] if verdict else None,
            criteria_met=verdict["met"] if verdict else None,
            criteria_total=verdict["total"] if verdict else None,
            commits=commits,
            branch=setup.get("branch"),
            cost=max(p.cost if p else 0.0, phase_cost),
        )
        if outcome in ("done", "blocked"):
            _set_status(self.rt, issue_id, outcome)

    # -- the loop

    def stopping(self) -> str | None:
        if self.rt.stop_now.is_set() or self.stop_new:
            return "interrupted"
        if self.deadline is not None and datetime.now().astimezone() >= self.deadline:
            return "until"
        if self.rt.max_cost is not None and (self.rt.spent() >= self.rt.max_cost or self.rt.budget_refused.is_set()):
            return "budget"
        return None

    def run(self) -> None:
        self.adopt()
        while True:
            for issue_id, handle in list(self.running.items()):
                if handle.get_status().status not in ("PENDING", "ENQUEUED"):
                    del self.running[issue_id]
                    self.finalize(issue_id, handle)
            reason = self.stopping()
            if reason is not None and self.state.stopping is None:
                self.state = self.state.model_copy(update={"stopping": reason})
                self.save()
            if reason is None:
                for issue_id in self.frontier():
                    if len(self.running) >= self.state.parallel:
                        break
                    self.start(issue_id)
            if self.on_change is not None:
                self.on_change()
            if not self.running:
                break
            time.sleep(_POLL)
        if self.state.remote:  # show the user what landed, in their own clone
            with contextlib.suppress(IncompleteError, UsageError):
                sync_integration(self.rt, {"integration": self.state.integration_branch, "remote": self.state.remote})
        self.save()
        if self.state.finished:
            self.tidy()

    def tidy(self) -> None:
        """A finished batch leaves its branches, not its worktrees: the lander's would keep the integration
        branch checked out (git refuses to check it out elsewhere), the landed issues' are done with."""
        harness_dir, batch = self.rt.harness_dir, self.state.batch
        gitops.remove_worktree(self.rt.root, lander_worktree(harness_dir, batch))
        for issue_id, p in self.progress().items():
            if p.state == "done":
                gitops.remove_worktree(self.rt.root, issue_worktree(harness_dir, batch, self.issues[issue_id]))

    def save(self) -> None:
        from harness.board import save_batch

        progress = self.progress()
        cost = sum(p.cost for p in progress.values())
        finished = all(p.state in TERMINAL for p in progress.values())
        self.state = self.state.model_copy(
            update={
                "updated": now_iso(),
                "cost": cost,
                "cost_known": all(p.cost_known for p in progress.values()),
                "finished": now_iso() if finished else None,
            }
        )
        save_batch(self.batch_path, self.state)


def _action(outcome: str, reason: str, branch: str | None, issue: Issue) -> str | None:
    where = f" on branch {branch}" if branch else ""
    if outcome == "blocked":
        if reason.startswith("budget"):
            return (
                f"raise [budget] max_cost_per_issue, set `status: todo` in issue {issue.id}'s file and run "
                "`harness afk` again (its work so far is kept" + where + ")"
            )
        if reason.startswith("could not land"):
            return f"merge{where} into the integration branch by hand, or set `status: todo` to let a new batch retry"
        return (
            f"read why in its trace (`harness trace`), then finish it by hand{where}, or sharpen the issue, set "
            "`status: todo` and run a new batch"
        )
    if outcome == "incomplete":
        return "run `harness afk --resume` to continue from the last completed phase"
    return None


def _set_status(rt: Runtime, issue_id: str, status: str) -> None:
    """Mirror the batch's view in the issue file of the user's checkout (the only file afk edits there)."""
    path = find_issue(rt.harness_dir / "issues", issue_id)
    set_issue_fields(path, status=status)


# --------------------------------------------------------------------------- entry points


def open_batch(repo: Path, options: AfkOptions) -> tuple[Runtime, BatchState, Path, dict[str, Issue]]:
    """Every input check before anything durable happens (exit 2 on bad input)."""
    from harness.board import batch_dir, find_batch, load_batch, save_batch

    root = gitops.repo_root(repo)
    config = load_config(root)
    harness_dir = root / config.harness_dir
    if options.parallel is not None and options.parallel < 1:
        raise UsageError(f"--parallel {options.parallel}: must be at least 1", hint="e.g. --parallel 4")
    if options.until is not None:
        until = parse_until(options.until, datetime.now().astimezone())
        if until <= datetime.now().astimezone():
            raise UsageError(
                f"--until {options.until} is already past: the batch could start nothing",
                hint="give a later time (HH:MM is the next such moment; an ISO date-time must be in the future)",
            )
    if options.max_cost is not None and options.max_cost <= 0:
        raise UsageError(f"--max-cost {options.max_cost}: must be more than 0", hint="e.g. --max-cost 40")
    issues = _load_issues(harness_dir)
    make_client(max_retries=config.max_retries, timeout=config.request_timeout)  # no key: exit 2 now
    # Unattended: no working sandbox is an input error (exit 2) unless the configuration opted out.
    sandbox = sandbox_for(config.sandbox, unattended=True)
    rt = Runtime(
        root=root,
        config=config,
        harness_dir=harness_dir,
        worker=options.worker_id or default_worker_id(root),
        sandbox=sandbox,
        max_cost=options.max_cost,
    )
    now = datetime.now().astimezone()
    if options.resume:
        path = find_batch(harness_dir, options.batch)
        state, progress = load_batch(path)
        if state.finished:
            raise UsageError(
                f"batch {state.batch} is finished: every issue in it is done, blocked or waiting for a human",
                hint="read it with `harness report`; start a new batch with `harness afk`",
            )
        updates: dict[str, Any] = {"stopping": None, "updated": now_iso()}
        if options.parallel is not None:
            updates["parallel"] = options.parallel
        if options.max_cost is not None:
            updates["max_cost"] = options.max_cost
        if options.until is not None:
            updates["until"] = options.until
        state = state.model_copy(update=updates)
        rt.max_cost = state.max_cost
        rt.set_spent(sum(p.cost for p in progress))
        save_batch(path, state)
        return rt, state, path, issues
    batch = options.batch or batch_id_for(now)
    existing = batch_dir(harness_dir, batch)
    if (existing / "batch.json").is_file():
        old, _ = load_batch(existing)
        if not old.finished:
            raise UsageError(
                f"batch {batch} is not finished",
                hint=f"continue it with `harness afk --resume` (or name a new batch with --batch {batch}-2)",
            )
        suffix = 2
        while (batch_dir(harness_dir, f"{batch}-{suffix}") / "batch.json").is_file():
            suffix += 1
        batch = f"{batch}-{suffix}"
    todo = [i for i in issues.values() if i.status == "todo"]
    if not [i for i in todo if i.kind == "AFK"]:
        raise UsageError(
            f"no AFK issue in `todo` in {harness_dir / 'issues'}: nothing for a batch to do",
            hint="write issues (`harness plan`), or set `status: todo` on the ones to run",
        )
    integration = options.integration or layout.integration_branch(batch)
    base = gitops.head(root)
    if options.remote is not None:
        gitops.check_remote(root, options.remote)
    gitops.ensure_branch(root, integration, base)
    if options.remote is not None:
        gitops.push_branch(root, options.remote, integration)
    path = batch_dir(harness_dir, batch)
    state = BatchState(
        batch=batch,
        integration_branch=integration,
        base=base,
        started=now_iso(),
        updated=now_iso(),
        parallel=options.parallel or 1,
        max_cost=options.max_cost,
        until=options.until,
        remote=options.remote,
        issues=[i.id for i in todo],
    )
    save_batch(path, state)
    for issue in todo:
        update_progress(
            path,
            issue.id,
            title=issue.title,
            kind=issue.kind,
            state="hitl" if issue.kind == "HITL" else "waiting",
            blocked_by=list(issue.blocked_by),
            action="a person must do this one (kind: HITL); afk never starts it" if issue.kind == "HITL" else None,
        )
    return rt, state, path, issues


def _load_issues(harness_dir: Path) -> dict[str, Issue]:
    directory = harness_dir / "issues"
    issues: dict[str, Issue] = {}
    for path in issue_files(directory):
        issue = load_issue(path)
        if issue.id in issues:
            raise UsageError(f"{path}: issue id {issue.id} is used by another file too", hint="give each a unique id")
        issues[issue.id] = issue
    for issue in issues.values():
        unknown = [b for b in issue.blocked_by if b not in issues]
        if unknown:
            raise UsageError(
                f"issue {issue.id}: blocked_by names unknown issue(s) {', '.join(unknown)}",
                hint=f"fix `blocked_by` in {directory}/{issue.id}-*.md (known ids: {', '.join(sorted(issues))})",
            )
    # Issues waiting for each other would wait for ever: an input error, named, before anything starts.
    open_ones = [i for i in issues.values() if i.status != "done"]
    waiting = {i.id: [b for b in i.blocked_by if issues[b].status != "done"] for i in open_ones}
    from harness.slicing import cycles

    for cycle in cycles(waiting):
        raise UsageError(
            f"issues blocked by each other, so none of them can ever start: {' → '.join([*cycle, cycle[0]])}",
            hint=f"remove one `blocked_by` entry of the cycle in {directory}/",
        )
    return issues


def run_batch(
    rt: Runtime,
    state: BatchState,
    batch_path: Path,
    issues: dict[str, Issue],
    *,
    database_url: str | None = None,
    on_change: Callable[[Coordinator], None] | None = None,
) -> Coordinator:
    deadline = parse_until(state.until, datetime.now().astimezone()) if state.until else None
    coordinator = Coordinator(rt, state, batch_path, issues, deadline=deadline)
    if on_change is not None:
        coordinator.on_change = lambda: on_change(coordinator)
    with launched(rt, database_url, state.parallel), _interrupts(coordinator):
        coordinator.run()
    return coordinator


@contextmanager
def _interrupts(coordinator: Coordinator) -> Iterator[None]:
    """First Ctrl-C: start nothing new. Second: running agents stop before their next model call."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if not coordinator.stop_new:
            coordinator.stop_new = True
        else:
            coordinator.rt.stop_now.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_worker(
    repo: Path,
    options: AfkOptions,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """``harness afk --worker``: run issues from the shared queue until Ctrl-C (``on_ready`` is told the
    worker's id once it is connected to the database and polling the queue)."""
    root = gitops.repo_root(repo)
    config = load_config(root)
    make_client(max_retries=config.max_retries, timeout=config.request_timeout)  # no key: exit 2 now
    rt = Runtime(
        root=root,
        config=config,
        harness_dir=root / config.harness_dir,
        worker=options.worker_id or default_worker_id(root),
        sandbox=sandbox_for(config.sandbox, unattended=True),
        max_cost=options.max_cost,
    )
    stop = stop or threading.Event()
    with launched(rt, options.database_url, options.parallel or 1):
        previous = signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
        if on_ready is not None:
            on_ready(rt.worker)
        try:
            while not stop.wait(_POLL):
                pass
        finally:
            signal.signal(signal.SIGINT, previous)
            rt.stop_now.set()


def batch_exit_code(progress: list[IssueProgress]) -> int:
    if any(p.state not in TERMINAL for p in progress):
        return 3
    return 1 if any(p.state == "blocked" for p in progress) else 0
