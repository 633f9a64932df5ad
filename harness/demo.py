"""``harness demo``: the real pipeline on the bundled example, offline.

The example project is copied to a new git repo; the fake Messages API (the same server the
project's tests use) serves replayed responses to the real anthropic SDK over HTTP; the tests
really run, red then green.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.errors import UsageError
from harness.resources import bundled

EXAMPLE = "textkit"


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_project(target: Path) -> Path:
    """Copy the example into ``target`` as a fresh git repo whose tests run with this Python."""
    import git

    source = bundled("examples") / EXAMPLE
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    (target / "harness.toml").write_text(
        "# written by `harness demo`: the example's tests run with the Python harness runs on\n"
        f'test_command = [{sys.executable!r}, "-m", "pytest"]\n'.replace("'", '"'),
        encoding="utf-8",
    )
    repo = git.Repo.init(target)
    repo.git.add("-A")
    repo.git.execute(
        [
            "git",
            "-c",
            "user.name=harness demo",
            "-c",
            "user.email=demo@localhost",
            "commit",
            "--no-verify",
            "--no-gpg-sign",
            "-m",
            "textkit: initial",
        ]
    )
    return target


def run_demo(keep: Path | None, *, console: Console, run: Callable[[Any], Any]) -> Any:
    from harness.fakeapi import FakeMessagesAPI, load_script
    from harness.pipeline import prepare

    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise UsageError(f"{keep} already exists and is not empty", hint="pass a new directory to --keep")
    target = keep if keep is not None else Path(tempfile.mkdtemp(prefix="harness-demo-")) / EXAMPLE
    build_project(target)
    script = load_script(bundled("examples") / f"{EXAMPLE}.replay.yaml")
    console.print(f"demo project: {target}  (a fresh git repo; model responses are replayed offline)", markup=False)
    with (
        FakeMessagesAPI(script) as api,
        _environment(ANTHROPIC_BASE_URL=api.base_url, ANTHROPIC_API_KEY="offline-demo-key"),
    ):
        result = run(prepare(target, "001"))
        if result.outcome == "pass":
            review_branch(result.worktree, target, console)
    for problem in api.problems:
        console.print(f"[yellow]replay problem:[/] {problem}")
    console.print(f"inspect it: cd {result.worktree} && git log --oneline --stat", markup=False, soft_wrap=True)
    return result


def review_branch(worktree: Path, target: Path, console: Console) -> None:
    """Review the finished branch as CI would, and keep its outputs next to the demo project."""
    from harness.review.formats import render
    from harness.review.runner import ReviewOptions, run_review

    report = run_review(worktree, ReviewOptions())
    outputs = {"review.sarif": "sarif", "review-github.json": "github", "review.md": "markdown"}
    for name, fmt in outputs.items():
        (target / name).write_text(render(report, fmt) + "\n", encoding="utf-8")
    console.print(
        f"review of the branch: {report.verdict} ({report.met}/{len(report.criteria)} criteria met, "
        f"{len(report.findings)} finding(s)); outputs: " + ", ".join(str(target / n) for n in outputs),
        markup=False,
        soft_wrap=True,
    )
