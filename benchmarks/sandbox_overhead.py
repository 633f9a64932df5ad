"""What the sandbox adds to one harness test run: the example project's suite through ``run_tests``, with and
without bubblewrap, median of N runs each (interleaved). Prints seconds.

    python benchmarks/sandbox_overhead.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

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
    plain, boxed = statistics.median(times["none"]), statistics.median(times["bwrap"])
    print(f"test run, no sandbox: median {plain:.3f} s over {runs}")
    print(f"test run, bubblewrap: median {boxed:.3f} s over {runs}")
    print(f"sandbox adds: {boxed - plain:+.3f} s per run ({(boxed / plain - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
