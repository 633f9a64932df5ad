"""What containment adds to one harness test run: the example project's suite through ``run_tests``, with and
without bubblewrap, median of N runs each (interleaved); and the candidate commit plus the clean export the
tests run on (``gitops.snapshot`` + ``gitops.exported``). Prints seconds.

    python benchmarks/sandbox_overhead.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness import gitops
from harness.demo import build_project
from harness.sandbox import sandbox_for
from harness.testrunner import run_tests


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    sandbox = sandbox_for("bwrap", unattended=True)
    command = [sys.executable, "-m", "pytest", "-p", "no:hypothesis", "-p", "no:benchmark"]
    with tempfile.TemporaryDirectory() as scratch:
        project = build_project(Path(scratch) / "textkit")
        times: dict[str, list[float]] = {"none": [], "bwrap": []}
        for _ in range(runs):
            for name, box in (("none", None), ("bwrap", sandbox)):
                started = time.perf_counter()
                report = run_tests(project, command, sandbox=box)
                times[name].append(time.perf_counter() - started)
                assert report.ran and not report.failed(), report.output_tail
        worktree = gitops.create_worktree(project, project / ".harness" / "worktrees" / "001-bench", "harness/bench")
        exports: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            with gitops.exported(worktree.path, gitops.snapshot(worktree.path)):
                exports.append(time.perf_counter() - started)
    plain, boxed = statistics.median(times["none"]), statistics.median(times["bwrap"])
    print(f"test run, no sandbox: median {plain:.3f} s over {runs}")
    print(f"test run, bubblewrap: median {boxed:.3f} s over {runs}")
    print(f"sandbox adds: {boxed - plain:+.3f} s per run ({(boxed / plain - 1) * 100:+.1f} %)")
    print(f"candidate commit + clean export: median {statistics.median(exports):.3f} s over {runs}")


if __name__ == "__main__":
    main()
