"""How fast `harness guard` is: a big diff (500 Python files, 50,000 changed lines) and a small one.

    python benchmarks/guard_bench.py [--runs N]

Times `collect_changes` (git → FileChange objects), `check` (the rules, one core) and the whole
`harness guard --json` command as a subprocess, interpreter start-up included; then the command on a
1–2 file diff, which is what a pre-commit hook pays on every commit. Targets: big diff < 2 s,
small diff < 0.5 s. Prints the median and worst of N runs. Not a test: shared machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

FILES = 500  # half tests, half code
FUNCTIONS = 60  # per file, two lines each
CHANGED = 50  # functions changed per file: one line removed and one added each -> 100 changed lines per file

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def module_text(i: int, changed: bool) -> str:
    body = [f'"""Module {i}."""\n']
    for j in range(FUNCTIONS):
        result = f"x + {j} + 0" if changed and j < CHANGED else f"x + {j}"
        body.append(f"def f_{j}(x):\n    return {result}\n")
    return "\n".join(body)


def tests_text(i: int, changed: bool) -> str:
    body = [f"from pkg.mod_{i} import *  # noqa: F403\n"]
    for j in range(FUNCTIONS):
        expected = f"{j} + 1" if changed and j < CHANGED else f"{j + 1}"
        body.append(f"def test_f_{j}():\n    assert f_{j}(1) == {expected}\n")
    return "\n".join(body)


def write_files(repo: Path, changed: bool) -> None:
    for i in range(FILES // 2):
        (repo / "pkg" / f"mod_{i}.py").write_text(module_text(i, changed))
        (repo / "tests" / f"test_mod_{i}.py").write_text(tests_text(i, changed))


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def build(root: Path) -> Path:
    repo = root / "big"
    (repo / "pkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_files(repo, changed=False)
    (repo / "pkg" / "__init__.py").write_text("")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    write_files(repo, changed=True)
    numstat = git(repo, "diff", "--numstat", "HEAD")
    files = numstat.splitlines()
    lines = sum(int(added) + int(removed) for added, removed, _ in (row.split("\t") for row in files))
    print(f"big diff: {len(files)} files, {lines} changed lines (+/-)")
    return repo


def median_of(runs: int, fn: Callable[[], T]) -> tuple[list[float], T]:
    """``runs`` timings of ``fn`` and its last result."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return samples, result


def command(repo: Path, *args: str) -> Callable[[], subprocess.CompletedProcess[bytes]]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}, **GIT_ENV}

    def run() -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            [sys.executable, "-m", "harness", "guard", "--repo", str(repo), *args], env=env, capture_output=True
        )
        finished = b" error(s), " in done.stdout or b'"errors"' in done.stdout  # a crash also exits 1
        if done.returncode not in (0, 1) or not finished:
            raise SystemExit(f"harness guard failed ({done.returncode}): {done.stderr.decode()}")
        return done

    return run


def report(name: str, samples: list[float], target: float | None = None) -> None:
    verdict = "" if target is None else ("  ok" if statistics.median(samples) < target else f"  OVER {target} s")
    figures = f"median {statistics.median(samples):7.3f} s   worst {max(samples):7.3f} s   (n={len(samples)})"
    print(f"{name:<34} {figures}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.update(GIT_ENV)  # collect_changes runs git in this process too

    from harness.guard import GuardContext, check
    from harness.guard.gitdiff import collect_changes

    with tempfile.TemporaryDirectory() as tmp:
        repo = build(Path(tmp))
        samples, changes = median_of(args.runs, lambda: collect_changes(repo, "HEAD"))
        report("collect_changes (working tree)", samples)
        git(repo, "commit", "-q", "-am", "change everything")
        samples, _ = median_of(args.runs, lambda: collect_changes(repo, "HEAD~1", "HEAD"))
        report("collect_changes (two commits)", samples)
        samples, findings = median_of(args.runs, lambda: check(changes, GuardContext()))
        report("check", samples)
        print(f"  {len(findings)} finding(s) on the big diff")
        samples, _ = median_of(args.runs, command(repo, "--base", "HEAD~1", "--head", "HEAD", "--json"))
        report("harness guard --json (big diff)", samples, target=2.0)

        (repo / "tests" / "test_mod_0.py").write_text(
            tests_text(0, changed=True) + "\ndef test_more():\n    assert 1\n"
        )
        (repo / "pkg" / "mod_0.py").write_text(module_text(0, changed=True) + "\ndef extra(x):\n    return x\n")
        samples, _ = median_of(args.runs, command(repo, "--base", "HEAD"))
        report("harness guard (2-file diff)", samples, target=0.5)
        samples, _ = median_of(args.runs, command(repo))
        report("harness guard (default base)", samples, target=0.5)
        python = median_of(args.runs, lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))[0]
        report("python -c pass (for reference)", python)


if __name__ == "__main__":
    main()
