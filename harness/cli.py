"""The command line: thin typer commands over the pipeline. Heavy modules load inside commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from harness.errors import EXIT_INCOMPLETE, HarnessError

app = typer.Typer(
    name="harness",
    help="Turn an issue into merged, tested code: agents propose, the harness decides when it is done.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RepoOption = Annotated[
    Path,
    typer.Option("--repo", help="The target git repository (default: the one containing the current directory)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout; progress goes to stderr.")]


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _fail(exc: HarnessError) -> typer.Exit:
    console = _err()
    # soft_wrap: paths and commands in errors are copied by users; never break them across lines.
    console.print(f"[bold red]error:[/] {escape(exc.message)}", soft_wrap=True)
    if exc.hint:
        console.print(f"  [bold]fix:[/] {escape(exc.hint)}", soft_wrap=True)
    return typer.Exit(exc.exit_code)


@app.command()
def init(repo: RepoOption = Path("."), as_json: JsonOption = False) -> None:
    """Create harness.toml and .harness/, detect the test command, add .gitignore entries."""
    from harness.setup import init_repo

    try:
        report = init_repo(repo)
    except HarnessError as exc:
        raise _fail(exc) from exc
    if as_json:
        print(json.dumps(report, indent=2))
        return
    console = _err()
    for line in report["actions"]:
        console.print(f"  {line}", markup=False, soft_wrap=True)
    console.print(f"test command: {' '.join(report['test_command'])}", markup=False, soft_wrap=True)
    console.print("next: write an issue in .harness/issues/001-<slug>.md, then `harness run 001`", markup=False)


@app.command()
def run(
    issue: Annotated[str, typer.Argument(help="Issue id, e.g. 001 (file .harness/issues/001-<slug>.md).")],
    repo: RepoOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Contract → red → test review → green → verdict for one issue, in its own worktree and branch."""
    from harness.pipeline import prepare

    try:
        prepared = prepare(repo, issue)
        result = _run_with_display(prepared)
    except HarnessError as exc:
        raise _fail(exc) from exc
    _finish(result, as_json)


def _run_with_display(prepared: Any) -> Any:
    from harness.display import RunDisplay
    from harness.pipeline import run_issue

    with RunDisplay(_err()) as display:
        return run_issue(prepared, on_event=display.on_event)


def _finish(result: Any, as_json: bool) -> None:
    from harness.display import summary

    _err().print(summary(result))
    if as_json:
        print(json.dumps(result_document(result), indent=2))
    raise typer.Exit(result.exit_code)


def result_document(result: Any) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "issue": result.issue.id,
        "outcome": result.outcome,
        "reason": result.reason,
        "exit_code": result.exit_code,
        "branch": result.branch,
        "worktree": str(result.worktree),
        "commits": [{"sha": sha, "subject": subject} for sha, subject in result.commits],
        "verdict": result.verdict.model_dump(mode="json") if result.verdict else None,
        "cost_usd": round(result.cost, 6),
        "cost_known": result.cost_known,
        "tokens": result.tokens,
        "peak_context": result.peak_context,
        "trace": str(result.trace_path),
    }


@app.command()
def demo(
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Build the demo project in this new directory and keep it.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the whole pipeline offline on the bundled example, with replayed model responses."""
    from harness.demo import run_demo

    try:
        result = run_demo(keep, console=_err(), run=_run_with_display)
    except HarnessError as exc:
        raise _fail(exc) from exc
    _finish(result, as_json)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        _err().print("interrupted", markup=False)
        sys.exit(EXIT_INCOMPLETE)
