"""Wall-clock figures a user feels: start-up of the commands that answer without a model, and a whole
offline `harness demo`.

    python benchmarks/startup.py [--runs N] [--demo-runs N]

Prints median and worst of N runs, and the exit code. The commands that must answer fast:

- `harness --help` and `harness --version`;
- `harness prd nosuch`: an unknown interview slug, refused (exit 2) before any model is needed;
- `harness review --from FILE`: renders a stored report, runs no model and no git.

Not a test: shared machines are noisy; read the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str], cwd: Path | None = None) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, env=env, cwd=cwd, check=False)
    return time.perf_counter() - start, proc.returncode


def report(name: str, runs: list[tuple[float, int]]) -> None:
    samples = [seconds for seconds, _ in runs]
    codes = ",".join(sorted({str(code) for _, code in runs}))
    print(
        f"{name:<30} median {statistics.median(samples):7.3f} s   worst {max(samples):7.3f} s   "
        f"exit {codes}   (n={len(samples)})"
    )


def fixtures(tmp: Path) -> tuple[Path, Path]:
    """A git repository after `harness init`, and a stored review report (what `--format json` writes)."""
    from harness.review.model import ReviewReport

    repo = tmp / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run(["git", *identity, "commit", "-q", "--allow-empty", "-m", "initial"], cwd=repo, check=True)
    subprocess.run([sys.executable, "-m", "harness", "init", "--repo", str(repo)], capture_output=True, check=True)
    stored = tmp / "review.json"
    stored.write_text(json.dumps(ReviewReport(base="a" * 40, head="b" * 40, spec_source="none").to_dict()))
    return repo, stored


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--demo-runs", type=int, default=3)
    args = parser.parse_args()
    harness = [sys.executable, "-m", "harness"]
    with tempfile.TemporaryDirectory() as tmp:
        repo, stored = fixtures(Path(tmp))
        commands = {
            "harness --help": ["--help"],
            "harness --version": ["--version"],
            "harness prd nosuch": ["prd", "nosuch", "--repo", str(repo)],
            "harness review --from FILE": ["review", "--from", str(stored), "--format", "text"],
        }
        for name, arguments in commands.items():
            report(name, [timed([*harness, *arguments], cwd=repo) for _ in range(args.runs)])
    demo = []
    for _ in range(args.demo_runs):  # 0: skip the demo
        with tempfile.TemporaryDirectory() as tmp:
            demo.append(timed([*harness, "demo", "--keep", str(Path(tmp) / "demo")]))
    if demo:
        report("harness demo", demo)


if __name__ == "__main__":
    main()
