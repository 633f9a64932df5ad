"""Parallelism of `harness afk`: a batch of independent issues against a fake model that answers every call
after a fixed delay, run with --parallel 1, 2 and 4: wall time, speed-up, and the harness's own overhead.

    python benchmarks/afk_parallel.py [--parallel 1 2 4] [--issues 8] [--delay 0.5]

Each run is a fresh copy of the example project with "feature N" issues (tests/afkmodel.py answers them)
and `harness afk --json` as a subprocess: DBOS on SQLite, real worktrees, real pytest, the real lander.
The lander's suite runs leave no trace event, so the project's test command is wrapped in a shell script
that logs when each pytest run starts and ends, where, and on which commit. Not a test: read the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Any

from harness.demo import build_project
from harness.fakeapi import FakeMessagesAPI
from harness.trace import read_trace

# Runs the test command ("$@") and appends: start, end (epoch seconds), working directory, HEAD's subject.
TIMED_TESTS = """{setup}
start=$(date +%s.%N)
"$@"
status=$?
printf '%s\\t%s\\t%s\\t%s\\n' "$start" "$(date +%s.%N)" "$(pwd)" "$(git log -1 --format=%s)" >> {log}
exit $status
"""

HEADER = "N  wall s  speed-up  CPU s  overhead/issue mean   max  lander wait  model/issue  tests/issue  lander busy"
DEFINITIONS = """All times in seconds; lander wait, model/issue and tests/issue are means over the issues.
CPU s: user + system time of the harness and everything it ran (pytest, git), all cores together.
model/issue: latency of the issue's model calls as the harness saw them (the fake's delay + HTTP + SDK).
tests/issue: the issue's own pytest runs (test_run events); lander busy: all the lander's suite runs.
overhead per issue: from its first phase_started (baseline; the setup phase before it is not traced) to
  the end of the lander's suite run on its merge, minus its model calls' latency, its own test runs and
  that lander suite run: the harness's Python, git, worktree resets, DBOS queue polling, CPU contention,
  and waiting for the single lander. "lander wait" is that last part alone: from the issue's last
  phase_completed to the start of its lander suite run (the land queue, the merge).
outside issues: wall time while no issue was between its first phase_started and its landing: start-up
  (interpreter, DBOS launch, batch files); between issues (finishing one, the next one's setup, queues,
  polling); end, from the last landing to exit (tidying worktrees, the report)."""


@dataclass
class IssueTimes:
    span: tuple[float, float]  # first phase_started .. end of the lander's suite run on its merge
    model: float
    calls: int
    tests: float
    suite: float
    lander_wait: float

    @property
    def overhead(self) -> float:
        return self.span[1] - self.span[0] - self.model - self.tests - self.suite


@dataclass
class BatchTimes:
    wall: float
    cpu: float
    issues: list[IssueTimes]
    startup: float  # to the first phase_started
    end: float  # from the last landing

    @property
    def outside(self) -> float:
        """Seconds of the wall time covered by no issue's span."""
        covered, reach = 0.0, float("-inf")
        for start, end in sorted(i.span for i in self.issues):
            covered += max(0.0, end - max(start, reach))
            reach = max(reach, end)
        return self.wall - covered


def load_afkmodel() -> Any:
    path = Path(__file__).resolve().parent.parent / "tests" / "afkmodel.py"
    spec = importlib.util.spec_from_file_location("afkmodel", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(tmp: Path, issues: int, afkmodel: Any, *, plugins: bool) -> tuple[Path, Path]:
    project = build_project(tmp / "textkit")
    log, wrapper = tmp / "test-runs.tsv", tmp / "timed-tests.sh"
    setup = "" if plugins else "export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1"
    wrapper.write_text(TIMED_TESTS.format(setup=setup, log=log))
    command = ["/bin/sh", str(wrapper), sys.executable, "-m", "pytest"]
    (project / "harness.toml").write_text(f"test_command = {json.dumps(command)}\n")
    afkmodel.add_feature_issues(project, {n: [] for n in range(1, issues + 1)})  # commits harness.toml too
    return project, log


def lander_runs(log: Path) -> dict[str, tuple[float, float]]:
    """Issue id -> (start, end) of the lander's suite run on its merge commit ("land: <id> <title>")."""
    runs = {}
    for line in log.read_text().splitlines():
        start, end, cwd, subject = line.split("\t", 3)
        if cwd.endswith("-lander") and subject.startswith("land: "):
            runs[subject.split()[1]] = (float(start), float(end))
    return runs


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def epoch(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["ts"]).timestamp()


class BatchFailed(Exception):
    pass


def measure(project: Path, log: Path, parallel: int, delay: float, afkmodel: Any) -> BatchTimes:
    with FakeMessagesAPI(responder=afkmodel.respond, delay=delay) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
        env.update(ANTHROPIC_BASE_URL=api.base_url, ANTHROPIC_API_KEY="bench-key")
        command = [sys.executable, "-m", "harness", "afk", "--repo", str(project), "--parallel", str(parallel)]
        began, start, cpu = time.time(), time.perf_counter(), cpu_of_children()
        done = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - start, cpu_of_children() - cpu
    progress = json.loads(done.stdout or "{}").get("issues") or []
    unfinished = {p["id"]: f"{p['state']}: {p['reason']}" for p in progress if p["state"] != "done"}
    expected = len(list((project / ".harness" / "issues").glob("*.md")))
    if done.returncode != 0 or api.problems or unfinished or len(progress) != expected:
        failed = f"exit {done.returncode}, {len(progress)}/{expected} issues: {unfinished or api.problems}"
        raise BatchFailed(f"{done.stderr[-4000:]}\n--parallel {parallel}: the batch failed ({failed})")
    landed, issues = lander_runs(log), []
    for issue in progress:
        events = [e for run in issue["runs"] for e in read_trace(Path(run) / "trace.jsonl")]
        suite_start, suite_end = landed[issue["id"]]
        issues.append(
            IssueTimes(
                span=(min(epoch(e) for e in events if e["kind"] == "phase_started"), suite_end),
                model=sum(e["latency"] for e in events if e["kind"] == "model_call"),
                calls=sum(e["kind"] == "model_call" for e in events),
                tests=sum(e["duration"] for e in events if e["kind"] == "test_run"),
                suite=suite_end - suite_start,
                lander_wait=suite_start - max(epoch(e) for e in events if e["kind"] == "phase_completed"),
            )
        )
    first, last = min(i.span[0] for i in issues), max(i.span[1] for i in issues)
    return BatchTimes(wall, cpu, issues, startup=first - began, end=began + wall - last)


def row(parallel: int, batch: BatchTimes, baseline: float) -> str:
    issues, overhead = batch.issues, [i.overhead for i in batch.issues]
    figures = [mean(overhead), max(overhead), mean(i.lander_wait for i in issues), mean(i.model for i in issues)]
    figures += [mean(i.tests for i in issues), sum(i.suite for i in issues), batch.outside]
    widths = (19, 5, 11, 11, 11, 11, 14)
    return (
        f"{parallel:<2} {batch.wall:6.1f}  {baseline / batch.wall:7.2f}x  {batch.cpu:5.0f}  "
        + "  ".join(f"{figure:{width}.1f}" for figure, width in zip(figures, widths, strict=True))
        + f"  {sum(i.calls for i in issues):5d}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--issues", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds the fake model takes per answer")
    parser.add_argument(
        "--no-plugins", action="store_true", help="pytest without the installed plugins (hypothesis, ...): lighter runs"
    )
    args = parser.parse_args()
    afkmodel = load_afkmodel()
    print(f"machine: {os.cpu_count()} cores, load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    plugins = "without" if args.no_plugins else "with"
    print(f"batch: {args.issues} independent issues, model delay {args.delay:g} s, pytest {plugins} its plugins\n")
    results = {}
    for parallel in args.parallel:
        with tempfile.TemporaryDirectory(prefix="afk-bench-") as tmp:
            project, log = prepare(Path(tmp), args.issues, afkmodel, plugins=not args.no_plugins)
            try:
                results[parallel] = measure(project, log, parallel, args.delay, afkmodel)
            except BatchFailed as failure:  # reported, and left out of the table
                print(failure, file=sys.stderr)
                continue
        print(f"--parallel {parallel}: {results[parallel].wall:.1f} s", file=sys.stderr)
    if not results:
        raise SystemExit("no batch succeeded")
    print(HEADER + "  outside issues  calls")
    baseline = next(iter(results.values())).wall  # speed-up over the first N that succeeded
    for parallel, batch in results.items():
        print(row(parallel, batch, baseline))
    for parallel, batch in results.items():
        between = max(0.0, batch.outside - batch.startup - batch.end)
        print(
            f"N={parallel}: outside issues = start-up {batch.startup:.1f} + between {between:.1f} + end {batch.end:.1f}"
        )
    print(DEFINITIONS)
    print(f"machine after: load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    if len(results) < len(args.parallel):
        raise SystemExit(f"failed batches: --parallel {', '.join(str(n) for n in args.parallel if n not in results)}")


if __name__ == "__main__":
    main()
