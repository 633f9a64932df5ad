"""Wall-clock figures a user feels: `harness --help` start-up and a whole offline `harness demo`.

    python benchmarks/startup.py [--runs N]

Prints median and worst of N runs. Not a test: shared machines are noisy; read the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def report(name: str, samples: list[float]) -> None:
    print(f"{name:<18} median {statistics.median(samples):7.3f} s   worst {max(samples):7.3f} s   (n={len(samples)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--demo-runs", type=int, default=3)
    args = parser.parse_args()
    harness = [sys.executable, "-m", "harness"]
    report("harness --help", [timed([*harness, "--help"]) for _ in range(args.runs)])
    demo = []
    for _ in range(args.demo_runs):
        with tempfile.TemporaryDirectory() as tmp:
            demo.append(timed([*harness, "demo", "--keep", str(Path(tmp) / "demo")]))
    report("harness demo", demo)


if __name__ == "__main__":
    main()
