"""`harness afk` killed with SIGKILL again and again, then resumed to the end.

The real CLI runs as a subprocess in a process group of its own (DBOS on SQLite, real worktrees, real pytest
runs, the real lander) against the fake Messages API in this process. Each run is killed at one kind of
moment, chosen with a seeded random generator: during a model call, during a test run, just after a phase
completed, during landing; the next run is ``harness afk --resume``. Afterwards the batch must look as if
nothing had happened: every issue done, one commit per phase, one landing per issue, a green integration
branch, and no phase started again once DBOS had recorded its completion.

``HARNESS_CRASH_SEED=<n>`` replays another choice of moments.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import afkmodel
import pytest
from conftest import MUTATION_OFF
from dbos import DBOSClient

from harness.afk import next_phase
from harness.artifacts import load_issue
from harness.batch_models import IssueProgress
from harness.board import load_batch
from harness.fakeapi import FakeMessagesAPI, Reply
from harness.testrunner import PLUGIN_MODULE, run_tests
from harness.trace import read_trace

ISSUES: dict[int, list[str]] = {2: [], 3: [], 4: ["002"], 5: ["003", "004"]}
KINDS = ("model call", "test run", "between phases", "landing")
KILLS_PER_KIND = 2
MAX_KILLS = 12
SEED = int(os.environ.get("HARNESS_CRASH_SEED", "20261122"))
LATENCY = 0.1  # seconds every model call takes
HOLD = 0.8  # the call chosen for a kill stays in flight this long; the kill comes within 0.3 s of its arrival
POLL = 0.02
RUN_TIMEOUT = 120.0  # a run that is still going this long after it started has hung
FINAL_TIMEOUT = 180.0
# The example's suite without the plugins of this environment that it does not use (hypothesis alone adds
# 1.5 s to every pytest start): an issue runs the suite four times, more after kills.
TEST_COMMAND = [sys.executable, "-m", "pytest", "-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:anyio"]


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def ts_ms(event: dict[str, Any]) -> int:
    return round(datetime.fromisoformat(event["ts"]).timestamp() * 1000)


# --------------------------------------------------------------------------- the model, with a clock


@dataclass
class Call:
    arrived: float
    issue: int
    role: str
    answered: float | None = None


class Model:
    """``afkmodel.respond`` behind the fake API, noting when each call arrived (the latency is slept here, after
    the arrival is noted, rather than with ``api.delay``, which sleeps before the responder is called); it can
    hold one chosen call in flight for a kill."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.held: Call | None = None
        self.holding = threading.Event()
        self._hold_at: int | None = None
        self._lock = threading.Lock()

    def hold(self, after: int) -> None:
        """Hold the ``after``-th call from now."""
        with self._lock:
            self._hold_at = len(self.calls) + after
            self.held = None
            self.holding.clear()

    def __call__(self, body: dict[str, Any]) -> Reply:
        issue, role = afkmodel.phase_of(body)
        with self._lock:
            call = Call(time.time(), issue, role)
            self.calls.append(call)
            held = len(self.calls) == self._hold_at
            if held:
                self.held = call
        if held:
            self.holding.set()
        time.sleep(HOLD if held else LATENCY)
        answer = afkmodel.respond(body)
        call.answered = time.time()
        return answer


# --------------------------------------------------------------------------- the batch, run and killed


@dataclass
class Kill:
    kind: str
    at: float
    detail: str
    hit: bool  # checked at the kill: the moment was of its kind (the call in flight, the suite running, ...)

    def __str__(self) -> str:
        return f"{self.kind:<15} {'hit ' if self.hit else 'miss'} {self.detail}"


@dataclass
class Batch:
    project: Path
    env: dict[str, str]
    logs: Path
    model: Model
    tmp: Path  # the harness's TMPDIR: its exports (and so its test runs) are under it, no other test's are
    runs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    orphans: int = 0  # pytest runs still going after their harness was killed

    @property
    def runs_dir(self) -> Path:
        return self.project / ".harness" / "runs"

    def start(self) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "harness", "afk", "--repo", str(self.project), "--parallel", "2"]
        if self.runs:
            args.append("--resume")
        self.logs.mkdir(parents=True, exist_ok=True)
        number = len(self.runs) + 1
        with open(self.logs / f"run-{number}.out", "wb") as out, open(self.logs / f"run-{number}.err", "wb") as err:
            proc = subprocess.Popen(
                args, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
            )
        self.runs.append(proc)
        return proc

    def log_tail(self, chars: int = 3000) -> str:
        number = len(self.runs)
        parts = [(self.logs / f"run-{number}.{kind}").read_text("utf-8", "replace")[-chars:] for kind in ("out", "err")]
        states = []
        for path in sorted(self.runs_dir.glob("*/issues/*.json")):
            progress = IssueProgress.model_validate_json(path.read_text("utf-8"))
            states.append(f"{progress.id} {progress.state}: {progress.reason}")
        return "\n".join(["issues:", *states, f"run {number} stdout:", parts[0], "stderr:", parts[1]])

    def kill(self, proc: subprocess.Popen[bytes], kind: str, detail: str, hit: Callable[[], bool]) -> Kill:
        landed = hit()
        kill = Kill(kind, time.time(), detail, landed)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self.kills.append(kill)
        self.sweep()
        return kill

    def sweep(self) -> list[int]:
        """Kill what the harness left running: the test runner starts pytest in a session of its own, so a
        pytest run outlives the process group it was started from."""
        left = self.processes()
        for pid in left:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.processes() and time.monotonic() < deadline:
            time.sleep(POLL)
        self.orphans += len([pid for pid, cmdline in left.items() if PLUGIN_MODULE in cmdline])
        return list(left)

    def processes(self) -> dict[int, str]:
        """Live processes working inside the project (pid → command line)."""
        found: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cwd = Path(os.readlink(entry / "cwd"))
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            # The harness's own test runs work in exports of the commit under test (gitops.exported) in its
            # TMPDIR, not in the project: theirs are found there, by the report plugin on their command line
            # (another test session's runs are in exports too, elsewhere).
            exported = cwd.is_relative_to(self.tmp) and cwd.name == "tree"
            if cmdline and (cwd.is_relative_to(self.project) or (exported and PLUGIN_MODULE in cmdline)):
                found[int(entry.name)] = cmdline
        return found

    def test_runs(self) -> dict[int, Path]:
        """Live pytest runs of the harness in the project (pid → worktree)."""
        runs = {}
        for pid, cmdline in self.processes().items():
            if PLUGIN_MODULE in cmdline:
                try:
                    runs[pid] = Path(os.readlink(f"/proc/{pid}/cwd"))
                except OSError:
                    continue
        return runs

    def phase_completions(self) -> list[tuple[str, str]]:
        done = []
        for path in sorted(self.runs_dir.glob("*/trace.jsonl")):
            done += [(path.parent.name, e["phase"]) for e in read_trace(path) if e["kind"] == "phase_completed"]
        return done

    def landings_since(self, since_ns: int) -> list[str]:
        landing = []
        for path in self.runs_dir.glob("*/issues/*.json"):
            try:
                mtime = path.stat().st_mtime_ns
                progress = IssueProgress.model_validate_json(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue  # replaced while read
            if progress.state == "landing" and mtime > since_ns:
                landing.append(progress.id)
        return landing

    # -- one run, killed at one kind of moment

    def wait_for(self, proc: subprocess.Popen[bytes], moment: Callable[[], Any]) -> Any:
        """What ``moment`` returns once it is truthy; None when the run ended first."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while proc.poll() is None:
            found = moment()
            if found:
                return found
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise AssertionError(f"a run did not reach its {len(self.kills) + 1}th kill in time\n{self.log_tail()}")
            time.sleep(POLL)
        return None

    def run_and_kill(self, kind: str, rng: random.Random) -> Kill | None:
        """Start (or resume) the batch and kill it at a moment of ``kind``; None when it finished first."""
        if kind == "model call":
            self.model.hold(after=rng.randint(1, 4))
        completed = len(self.phase_completions()) + 1 + rng.randint(0, 2)
        skip_runs = rng.randint(0, 2)
        since = time.time_ns()
        proc = self.start()
        if kind == "model call":
            if not self.wait_for(proc, self.model.holding.is_set):
                return None
            time.sleep(rng.uniform(0.0, 0.3))
            call = self.model.held
            assert call is not None
            return self.kill(proc, kind, f"issue {call.issue:03d} {call.role}", lambda: call.answered is None)
        if kind == "test run":
            seen: set[int] = set()

            def nth_run() -> tuple[int, Path] | None:
                for pid, cwd in self.test_runs().items():
                    seen.add(pid)
                    if len(seen) > skip_runs:
                        return pid, cwd
                return None

            found = self.wait_for(proc, nth_run)
            if not found:
                return None
            pid, cwd = found
            time.sleep(rng.uniform(0.0, 0.15))
            # The suite is still running at the kill when it is still there right before it.
            return self.kill(proc, kind, f"pytest in {cwd.name}", lambda: pid in self.test_runs())
        if kind == "between phases":
            done = self.wait_for(proc, lambda: self.phase_completions()[completed - 1 :])
            if not done:
                return None
            return self.kill(proc, kind, f"after {done[0][1]} of {done[0][0]}", lambda: True)
        assert kind == "landing"
        issues = self.wait_for(proc, lambda: self.landings_since(since))
        if not issues:
            return None
        time.sleep(rng.uniform(0.0, 1.0))
        return self.kill(proc, kind, f"landing {issues[0]}", lambda: issues[0] in self.landings_since(since))

    def finish(self) -> int:
        proc = self.start()
        try:
            return proc.wait(timeout=FINAL_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"the last --resume did not finish in {FINAL_TIMEOUT:g}s\n{self.log_tail()}") from None

    def stop(self) -> None:
        for proc in self.runs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.sweep()


@contextmanager
def running(project: Path, api: FakeMessagesAPI, logs: Path) -> Iterator[Batch]:
    model = Model()
    api.responder = model
    tmp = logs.parent / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": api.base_url,
        "ANTHROPIC_API_KEY": os.environ["ANTHROPIC_API_KEY"],
        "TMPDIR": str(tmp),
    }
    batch = Batch(project, env, logs, model, tmp)
    try:
        yield batch
    finally:
        batch.stop()


# --------------------------------------------------------------------------- what the product recorded


@dataclass
class Recorded:
    """A phase whose completion DBOS recorded: the step's start and end (epoch ms)."""

    issue: str
    phase: str
    started: int
    completed: int


def recorded_phases(database: Path, batch: str) -> list[Recorded]:
    """The phase steps DBOS recorded for the batch's issue workflows, each named by replaying the workflow's
    checkpoint through ``next_phase`` as the workflow itself does."""
    client = DBOSClient(system_database_url=f"sqlite:///{database}")
    recorded = []
    try:
        attempts = {}  # (issue, attempt) -> workflow; ids are <batch>/<issue>/<attempt>
        for workflow in client.list_workflows(workflow_id_prefix=f"{batch}/", name="issue_workflow"):
            _, issue, attempt = workflow.workflow_id.split("/")
            attempts[issue, int(attempt)] = workflow
        for (issue, _), workflow in sorted(attempts.items()):
            assert workflow.input is not None
            checkpoint = dict(workflow.input["args"][1])
            for step in client.list_workflow_steps(workflow.workflow_id):
                if step["function_name"] != "phase_step":
                    continue
                phase, output = next_phase(checkpoint), step["output"]
                assert phase is not None and isinstance(output, dict)
                assert step["started_at_epoch_ms"] is not None and step["completed_at_epoch_ms"] is not None
                recorded.append(Recorded(issue, phase, step["started_at_epoch_ms"], step["completed_at_epoch_ms"]))
                if "end" in output:
                    break
                checkpoint[phase] = output
    finally:
        client.destroy()
    return recorded


def rerun_table(batch: Batch, batch_id: str, recorded: list[Recorded]) -> tuple[str, list[str]]:
    """Expected and observed model calls per phase, and every way the record shows a phase run again after
    DBOS had recorded its completion (or run again without a kill to account for it)."""
    kills = sorted(ms(k.at) for k in batch.kills)
    lines = [f"{'issue':<6}{'phase':<10}{'expected':>9}{'observed':>9}{'runs':>6}{'in recorded run':>17}{'after':>7}"]
    problems = []
    by_phase = {(r.issue, r.phase): r for r in recorded}
    for number in ISSUES:
        issue = f"{number:03d}"
        trace = read_trace(batch.runs_dir / f"{batch_id}-{issue}" / "trace.jsonl")
        for phase, expected in afkmodel.CALLS_PER_PHASE.items():
            record = by_phase.get((issue, phase))
            if record is None:
                problems.append(f"{issue} {phase}: DBOS recorded no completion")
                continue
            if sum(1 for r in recorded if (r.issue, r.phase) == (issue, phase)) != 1:
                problems.append(f"{issue} {phase}: DBOS recorded it more than once")
            starts = sorted(ts_ms(e) for e in trace if e["kind"] == "phase_started" and e["phase"] == phase)
            calls = sorted(
                ms(c.arrived)
                for c in batch.model.calls
                if c.issue == number and afkmodel.PHASE_OF_ROLE[c.role] == phase
            )
            inside = [s for s in starts if record.started <= s <= record.completed]
            late_starts = [s for s in starts if s > record.completed]
            late_calls = [c for c in calls if c > record.completed]
            in_run = [c for c in calls if inside and inside[0] <= c <= record.completed]
            lines.append(
                f"{issue:<6}{phase:<10}{expected:>9}{len(calls):>9}{len(starts):>6}{len(in_run):>17}"
                f"{len(late_starts) + len(late_calls):>7}"
            )
            if late_starts or late_calls:
                problems.append(
                    f"{issue} {phase}: started {len(late_starts)} time(s) and called the model {len(late_calls)} "
                    "time(s) after DBOS had recorded its completion"
                )
            if len(inside) != 1 or len(in_run) != expected:
                problems.append(
                    f"{issue} {phase}: the recorded run started {len(inside)} time(s) and made {len(in_run)} "
                    f"model call(s), expected once and {expected}"
                )
            for earlier, later in itertools.pairwise(starts):
                if not any(earlier < k < later for k in kills):
                    problems.append(f"{issue} {phase}: ran again with no kill in between")
    return "\n".join(lines), problems


def git(project: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=project, check=True, capture_output=True, text=True).stdout


# --------------------------------------------------------------------------- the test


@pytest.mark.slow
def test_a_batch_killed_at_random_moments_resumes_to_the_same_end(
    project: Path, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    config = f"test_command = {json.dumps(TEST_COMMAND)}\n{MUTATION_OFF}"  # conftest.py says why
    (project / "harness.toml").write_text(config, encoding="utf-8")
    afkmodel.add_feature_issues(project, ISSUES)  # commits harness.toml too
    base = git(project, "rev-parse", "HEAD").strip()
    rng = random.Random(SEED)
    started = time.monotonic()

    with running(project, api, tmp_path / "logs") as batch:
        needed = Counter({kind: KILLS_PER_KIND for kind in KINDS})
        while +needed and len(batch.kills) < MAX_KILLS:
            kind = rng.choice([k for k in KINDS if needed[k]])
            kill = batch.run_and_kill(kind, rng)
            if kill is None:
                break
            if kill.hit:
                needed[kind] -= 1
        kill_log = "\n".join(str(k) for k in batch.kills) + f"\n(seed {SEED}; {batch.orphans} orphaned pytest runs)"
        assert not +needed, f"the batch ended before every kind of kill landed twice:\n{kill_log}\n{batch.log_tail()}"
        exit_code = batch.finish()
        assert exit_code == 0, f"the last --resume exited {exit_code}\n{kill_log}\n{batch.log_tail()}"
    elapsed = time.monotonic() - started

    # Every issue in exactly one terminal state, in the batch and in its issue file.
    batch_dirs = [p.parent for p in batch.runs_dir.glob("*/batch.json")]
    assert len(batch_dirs) == 1
    state, progress = load_batch(batch_dirs[0])
    assert state.finished is not None
    assert {p.id: p.state for p in progress} == {f"{n:03d}": "done" for n in ISSUES}, kill_log
    for number in ISSUES:
        issue_file = next((project / ".harness" / "issues").glob(f"{number:03d}-*.md"))
        assert load_issue(issue_file).status == "done"

    # No duplicate commits: one landing merge per issue on the integration branch, which moved once per
    # landing; each merge brings exactly the issue branch's contract, red and green commits.
    integration = state.integration_branch
    merges = git(project, "log", "--first-parent", "--format=%H %P|%s", f"{base}..{integration}").splitlines()
    landed = Counter(line.split("|", 1)[1].split()[1] for line in merges)
    assert landed == Counter({f"{n:03d}": 1 for n in ISSUES}), "\n".join(merges)
    tips = git(project, "reflog", "show", "--format=%H %gs", f"refs/heads/{integration}").splitlines()[::-1]
    moves = [new for old, new in itertools.pairwise(tips) if old.split()[0] != new.split()[0]]
    assert len(moves) == len(ISSUES), "\n".join(tips)
    for line in merges:
        _, first_parent, second_parent = line.split("|", 1)[0].split()
        issue = line.split("|", 1)[1].split()[1]
        number = int(issue)
        branch = f"harness/{state.batch}-{issue}-feature-{number}"
        assert git(project, "rev-parse", branch).strip() == second_parent
        subjects = git(project, "log", "--format=%s", f"{first_parent}..{second_parent}").splitlines()
        assert subjects == [
            f"green: {issue} Feature {number}",
            f"red: {issue} Feature {number}",
            f"contract: {issue} agreed",
        ], f"{branch}: {subjects}"

    # The integration branch's suite is green, with every feature.
    check = tmp_path / "integration"
    git(project, "worktree", "add", "--detach", str(check), integration)
    report = run_tests(check, TEST_COMMAND)
    assert report.ran and not report.failed(), report.output_tail
    assert {f"tests/test_feature_{n}.py::test_feature_{n}" for n in ISSUES} <= report.passed()

    # No phase started again, and no model call made for it, after DBOS had recorded its completion; a
    # phase killed before that may have run again, once per kill.
    recorded = recorded_phases(project / ".harness" / "state" / "dbos.sqlite", state.batch)
    table, problems = rerun_table(batch, state.batch, recorded)
    assert not problems, "\n".join([*problems, "", table, "", kill_log])
    assert api.problems == []

    kinds = Counter(k.kind for k in batch.kills if k.hit)
    print(f"\ncrash test: {len(batch.runs)} runs, kills {dict(kinds)}, {elapsed:.0f}s\n{table}\n{kill_log}")


@pytest.mark.slow
@pytest.mark.parametrize("lock", ["HEAD.lock", "refs/heads/{branch}.lock"])
def test_a_lock_left_by_a_killed_git_does_not_block_the_issue(
    project: Path, api: FakeMessagesAPI, tmp_path: Path, lock: str
) -> None:
    config = f"test_command = {json.dumps(TEST_COMMAND)}\n{MUTATION_OFF}"  # conftest.py says why
    (project / "harness.toml").write_text(config, encoding="utf-8")
    afkmodel.add_feature_issues(project, {2: []})
    with running(project, api, tmp_path / "logs") as batch:
        batch.model.hold(after=3)  # propose, review, then the red phase's first call
        proc = batch.start()
        assert batch.wait_for(proc, batch.model.holding.is_set), batch.log_tail()
        batch.kill(proc, "model call", "red", lambda: True)
        # What a kill of the red phase's `git commit` leaves when it lands between git taking a ref's lock and
        # renaming the lock into place (git's lockfile protocol; the lock holds the new value).
        (batch_dir,) = [p.parent for p in batch.runs_dir.glob("*/batch.json")]
        worktree = project / ".harness" / "worktrees" / f"{batch_dir.name}-002-feature-2"
        branch = f"harness/{batch_dir.name}-002-feature-2"
        path = worktree / git(worktree, "rev-parse", "--git-path", lock.format(branch=branch)).strip()
        path.write_text(git(project, "rev-parse", branch), encoding="utf-8")
        exit_code = batch.finish()
    _, progress = load_batch(batch_dir)
    assert exit_code == 0 and [p.state for p in progress] == ["done"], [p.reason for p in progress]
