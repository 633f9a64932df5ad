"""What the oracle strength check (harness/oracle.py) adds to green: on the example project with the slugify issue's
two contract tests committed and implemented, one green test run of the suite (``run_tests`` on a clean export,
sandboxed) against one oracle check (control and perturbed copies, one pytest run), median of N each,
interleaved. Prints seconds.

    python benchmarks/oracle_overhead.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import script  # noqa: E402  (the slugify issue's tests and implementation)

from harness import gitops, oracle  # noqa: E402
from harness.demo import build_project  # noqa: E402
from harness.sandbox import sandbox_for  # noqa: E402
from harness.testrunner import run_tests  # noqa: E402


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    sandbox = sandbox_for("auto", unattended=False)
    command = [sys.executable, "-m", "pytest", "-p", "no:hypothesis", "-p", "no:benchmark"]
    with tempfile.TemporaryDirectory() as scratch:
        project = build_project(Path(scratch) / "textkit")
        worktree = gitops.create_worktree(project, project / ".harness" / "worktrees" / "001-bench", "harness/bench")
        (worktree.path / script.TEST_FILE).write_text(script.RED_TESTS)
        (worktree.path / "textkit" / "slug.py").write_text(script.IMPLEMENTATION)
        rev = gitops.snapshot(worktree.path)
        suite: list[float] = []
        checks: list[float] = []
        perturbations = 0
        for _ in range(runs):
            started = time.perf_counter()
            with gitops.exported(worktree.path, rev) as tree:
                report = run_tests(tree, command, sandbox=sandbox)
            suite.append(time.perf_counter() - started)
            assert report.ran and not report.failed(), report.output_tail
            started = time.perf_counter()
            with gitops.exported(worktree.path, rev) as tree:
                result = oracle.check(tree, script.TESTS, command=command, timeout=300, sandbox=sandbox)
            checks.append(time.perf_counter() - started)
            assert result.ok, result.explain()
            perturbations = result.perturbations
    print(f"sandbox: {'bubblewrap' if sandbox else 'none'}")
    print(f"green test run (whole suite): median {statistics.median(suite):.3f} s over {runs}")
    print(
        f"oracle check ({len(script.TESTS)} contract tests, {perturbations} perturbations): "
        f"median {statistics.median(checks):.3f} s over {runs}"
    )


if __name__ == "__main__":
    main()
