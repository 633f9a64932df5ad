"""The command line: thin typer commands over the pipeline. Heavy modules load inside commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from harness import __version__
from harness.errors import EXIT_INCOMPLETE, HarnessError, UsageError


class _FlagsTakeNoValue:
    """Help that shows no value for a flag. typer 0.29 prints every option's type in the help table, flags
    included (``--post <bool>``, even ``--help <bool>``), as if they took a value; a flag's empty metavar
    leaves that column blank. Options that take a value name it with their own ``metavar``."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class _Command(_FlagsTakeNoValue, TyperCommand):
    pass


class _Group(_FlagsTakeNoValue, TyperGroup):
    pass


class _Typer(typer.Typer):
    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


app = _Typer(
    name="harness",
    help="Turn an issue into merged, tested code: agents propose, the harness decides when it is done.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
)


def _show_version(value: bool) -> None:
    if value:
        print(f"harness {__version__}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Options of `harness` itself; each command has its own (typer shows the app's `help`, not this)."""


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


AnswersOption = Annotated[
    Path | None,
    typer.Option(
        "--answers",
        help="Answer from this file (YAML or Markdown list; empty or /rec = recommended, /all = the rest) "
        "instead of the terminal.",
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", help="Never ask; with nobody to answer, fail with exit 2.")]


def _plan_io(as_json: bool, yes: bool = False) -> Any:
    from harness.plan_commands import Io

    return Io(err=_err(), out=Console(highlight=False), as_json=as_json, yes=yes)


@app.command()
def grill(
    idea: Annotated[str | None, typer.Argument(help="The idea, in a sentence or a paragraph.")] = None,
    answers: AnswersOption = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue the interview with this slug (.harness/grills/).")
    ] = None,
    yes: YesOption = False,
    repo: RepoOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Interview: one question at a time with a recommended answer, until you confirm the summary."""
    from harness.plan_commands import run_grill_command

    _command(lambda: run_grill_command(repo, idea, answers, resume, _plan_io(as_json, yes)))


@app.command()
def prd(
    grill_name: Annotated[
        str | None,
        typer.Argument(help="The interview: slug or path (default: the newest).", metavar="GRILL", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Write the PRD again even if it exists.")] = False,
    repo: RepoOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Write the PRD (.harness/prds/<slug>.md) from a finished interview."""
    from harness.plan_commands import run_prd_command

    _command(lambda: run_prd_command(repo, grill_name, force, _plan_io(as_json)))


@app.command("slice")
def slice_command(
    prd_name: Annotated[
        str | None,
        typer.Argument(help="The PRD: slug or path (default: the newest).", metavar="PRD", show_default=False),
    ] = None,
    github: Annotated[
        bool, typer.Option("--github", help="Also create the issues on GitHub (gh, or GITHUB_TOKEN).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Accept the slices without the interactive review.")] = False,
    overwrite_edited: Annotated[
        bool,
        typer.Option(
            "--overwrite-edited",
            help="Rewrite todo issues a person edited since they were sliced (default: keep them, say what differs).",
        ),
    ] = False,
    repo: RepoOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Split a PRD into vertical-slice issues (.harness/issues/), checked and reviewed before writing."""
    from harness.plan_commands import run_slice_command

    _command(
        lambda: run_slice_command(
            repo, prd_name, github, _plan_io(as_json, yes), overwrite_edited=overwrite_edited
        )
    )


@app.command()
def plan(
    idea: Annotated[str | None, typer.Argument(help="The idea, in a sentence or a paragraph.")] = None,
    answers: AnswersOption = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue the plan of this slug where it stopped.")
    ] = None,
    github: Annotated[bool, typer.Option("--github", help="Also create the issues on GitHub.")] = False,
    yes: YesOption = False,
    repo: RepoOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """grill → prd → slice in one go; --resume continues at the first step not done."""
    from harness.plan_commands import run_plan_command

    _command(lambda: run_plan_command(repo, idea, answers, resume, github, _plan_io(as_json, yes)))


def _command(command: Any) -> None:
    try:
        code = command()
    except HarnessError as exc:
        raise _fail(exc) from exc
    except KeyboardInterrupt:
        _err().print("interrupted (Ctrl-C); what was answered so far is saved", markup=False)
        raise typer.Exit(EXIT_INCOMPLETE) from None
    raise typer.Exit(code)


@app.command()
def run(
    issue: Annotated[str, typer.Argument(help="Issue id, e.g. 001 (file .harness/issues/001-<slug>.md).")],
    repo: RepoOption = Path("."),
    restart: Annotated[
        bool,
        typer.Option(
            "--restart", help="Discard an earlier run of this issue (its branch must hold harness commits only)."
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Never ask: an unsettled contract makes the issue HITL instead.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Contract → red → test review → green → verdict for one issue, in its own worktree and branch."""
    from harness.pipeline import prepare

    try:
        prepared = prepare(repo, issue)
        result = _run_with_display(prepared, restart=restart, interactive=not yes)
    except HarnessError as exc:
        raise _fail(exc) from exc
    _finish(result, as_json)


def _run_with_display(prepared: Any, *, restart: bool = False, interactive: bool = False) -> Any:
    from harness.display import RunDisplay
    from harness.interactive import can_ask, settle_contract
    from harness.pipeline import run_issue
    from harness.sandbox import unsandboxed_warning

    if prepared.sandbox is None:
        _err().print(unsandboxed_warning(prepared.config.sandbox), style="yellow", markup=False, soft_wrap=True)
    with RunDisplay(_err()) as display:

        def settle(contract: Any) -> Any:
            with display.paused():
                return settle_contract(contract, display.console)

        asking = interactive and can_ask()
        return run_issue(prepared, on_event=display.on_event, settle=settle if asking else None, restart=restart)


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
        "cache_read_share": None if result.cache_read_share is None else round(result.cache_read_share, 4),
        "peak_context": result.peak_context,
        "trace": str(result.trace_path),
    }


@app.command()
def afk(
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            help="Issues worked on at once, each in its own worktree (default 1; --resume keeps the batch's).",
        ),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", min=0, help="USD for the whole batch; checked before every model call."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="HH:MM (next occurrence) or an ISO date-time: start no new issue after it."),
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the unfinished batch (default: newest).")] = False,
    batch: Annotated[str | None, typer.Option("--batch", help="Batch id (default: afk-<date>).")] = None,
    integration: Annotated[
        str | None, typer.Option("--branch", help="Integration branch (default: harness/<batch>).")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="HARNESS_DATABASE_URL",
            help="DBOS system database (default: SQLite in .harness/state/); postgresql://… to share a queue.",
        ),
    ] = None,
    worker: Annotated[
        bool, typer.Option("--worker", help="Only run issues from the shared queue (with --database-url).")
    ] = False,
    worker_id: Annotated[
        str | None, typer.Option("--worker-id", help="Stable id of this worker (default: host + clone path).")
    ] = None,
    remote: Annotated[
        str | None,
        typer.Option("--remote", help="Git remote the branches travel through, for workers on other machines."),
    ] = None,
    repo: RepoOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """The unattended batch: every ready AFK issue, in dependency order, durable, parallel, within budget."""
    from harness.afk import AfkOptions
    from harness.afk_commands import run_afk_command

    options = AfkOptions(
        parallel=parallel,
        max_cost=max_cost,
        until=until,
        resume=resume,
        batch=batch,
        database_url=database_url,
        worker_id=worker_id,
        integration=integration,
        remote=remote,
    )
    _command(
        lambda: run_afk_command(repo, options, worker=worker, as_json=as_json, err=_err(), out=Console(highlight=False))
    )


@app.command()
def status(
    batch: Annotated[
        str | None, typer.Argument(help="Batch id or unique prefix (default: the newest).", show_default=False)
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Keep the board live until the batch finishes.")] = False,
    repo: RepoOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """The board of an afk batch: issues by state, each running issue's phase, cost so far, elapsed time."""
    from harness.afk_commands import run_status_command

    _command(lambda: run_status_command(repo, batch, as_json=as_json, watch=watch, err=_err()))


@app.command()
def report(
    batch: Annotated[
        str | None, typer.Argument(help="Batch id or unique prefix (default: the newest).", show_default=False)
    ] = None,
    repo: RepoOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """The morning report of an afk batch (.harness/runs/<batch>/report.md): done, blocked and why, cost."""
    from harness.afk_commands import run_report_command

    _command(lambda: run_report_command(repo, batch, as_json=as_json, err=_err()))


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


@app.command()
def doctor() -> None:
    """What this machine gives the harness: whether the sandbox confines agents here, and how to fix it if not."""
    from harness.sandbox import check_machine

    ok, lines = check_machine()
    console = _err()
    for line in lines:
        console.print(line, markup=False, soft_wrap=True)
    key = "set" if os.environ.get("ANTHROPIC_API_KEY") else "NOT SET (harness demo needs none)"
    console.print(f"ANTHROPIC_API_KEY: {key}", markup=False)
    raise typer.Exit(0 if ok else 1)


@app.command("trace")
def trace_view(
    run: Annotated[
        str | None,
        typer.Argument(
            help="A run id (a directory under .harness/runs/), a unique prefix of one, or the path of a "
            "trace.jsonl. Default: the latest run.",
            metavar="RUN",
            show_default=False,
        ),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option("--agent", help="Only this agent: generator, evaluator, reviewer, or harness (its own checks)."),
    ] = None,
    phase: Annotated[
        str | None,
        typer.Option("--phase", help="Only this phase: contract, red, test-review, green, fix-N, verdict, review."),
    ] = None,
    tool: Annotated[
        str | None,
        typer.Option(
            "--tool", help="Only calls of this tool (e.g. bash, write, tests_ready) and the turns making them."
        ),
    ] = None,
    repo: RepoOption = Path("."),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the matching trace events as one JSON array on stdout.")
    ] = False,
) -> None:
    """What each agent of a run saw and did, step by step, with tokens and cost; filter by agent, phase, tool."""
    from harness.traceview import TraceFilter, show

    try:
        show(
            repo,
            run,
            TraceFilter(agent=agent, phase=phase, tool=tool),
            as_json=as_json,
            out=Console(highlight=False),
            err=_err(),
        )
    except HarnessError as exc:
        raise _fail(exc) from exc


@app.command()
def review(
    base: Annotated[
        str | None,
        typer.Option("--base", help="Review from this commit (default: merge base with the default branch)."),
    ] = None,
    head: Annotated[str, typer.Option("--head", help="Review up to this commit.")] = "HEAD",
    spec: Annotated[
        Path | None,
        typer.Option("--spec", help="The PR description, when no harness contract is linked (treated as data)."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="text | markdown | json | sarif | github", case_sensitive=False)
    ] = "text",
    output: Annotated[Path | None, typer.Option("--output", help="Write the output here instead of stdout.")] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on", help="Exit 1 at findings of this severity or worse: blocker | major | minor | never."
        ),
    ] = "blocker",
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", min=0, help="USD cap for the model review; checked before every call.")
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", metavar="GLOB", help="Only review paths matching this glob (repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", metavar="GLOB", help="Do not review paths matching this glob (repeatable)."),
    ] = None,
    max_diff_lines: Annotated[
        int, typer.Option("--max-diff-lines", help="Above this, the reviewer gets a summary, not the whole diff.")
    ] = 3000,
    post: Annotated[
        bool,
        typer.Option(
            "--post",
            help="Post a GitHub review, idempotently: resolves its own fixed findings, dismisses its stale "
            "blocking reviews, never raises again what a person dismissed or answered.",
        ),
    ] = False,
    incremental: Annotated[
        bool,
        typer.Option(
            "--incremental",
            help="Read the pull request's last harness review (GITHUB_TOKEN, read access): the model reviews only "
            "the commits since its head, earlier findings on untouched lines are kept, dismissed ones dropped.",
        ),
    ] = False,
    pr: Annotated[int | None, typer.Option("--pr", help="Pull request (default: the Actions event).")] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from", help="Render or post a stored JSON report; runs no model and no git.")
    ] = None,
    repo: RepoOption = Path("."),
) -> None:
    """Review a change for CI: guards plus a skeptical reviewer, as text, markdown, json, sarif or github."""
    from harness.errors import UsageError
    from harness.review.formats import render, render_markdown, to_github_review

    try:
        fmt = fmt.lower()
        if fmt not in ("text", "markdown", "json", "sarif", "github"):
            raise UsageError(f"--format {fmt}: unknown format", hint="use text, markdown, json, sarif or github")
        if fail_on not in ("blocker", "major", "minor", "never"):
            raise UsageError(f"--fail-on {fail_on}: unknown level", hint="use blocker, major, minor or never")
        if incremental and from_file is not None:
            raise UsageError("--incremental with --from: a stored report is rendered as it is", hint="drop one")
        prior = None
        if incremental or post:
            from harness.review.github import read_prior, target_from_env

            target = target_from_env(pr)
            try:
                prior = read_prior(target)
            except HarnessError as exc:
                if post:
                    raise  # posting needs what is there, or it would duplicate and never converge
                _err().print(
                    f"[yellow]--incremental: cannot read the pull request's earlier review ({exc.message}); "
                    "reviewing the whole change[/]",
                    soft_wrap=True,
                )
        if from_file is not None:
            report = _load_report(from_file, fail_on)
        else:
            report = _run_review(
                repo,
                base,
                head,
                spec,
                fail_on,
                max_cost,
                include or [],
                exclude or [],
                max_diff_lines,
                prior if incremental else None,
            )
        if prior is not None:
            report = _without_dismissed(report, prior.dismissed)
        text = render(report, fmt)
        if output is not None:
            from harness.fsutil import atomic_write_text

            atomic_write_text(output, text if text.endswith("\n") else text + "\n")
        else:
            print(text)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            with open(summary_path, "a", encoding="utf-8") as handle:
                handle.write(render_markdown(report) + "\n")
        if post:
            from harness.review.github import post_review

            current = [f.fingerprint for f in report.findings]
            result = post_review(to_github_review(report, commit_id=report.head), target, current=current, prior=prior)
            _err().print(
                f"posted: {result.posted} new inline comment(s), {result.skipped} already there; summary comment "
                f"{result.summary_action}; {result.resolved} fixed thread(s) resolved, "
                f"{result.dismissed_reviews} stale review(s) dismissed",
                markup=False,
            )
    except HarnessError as exc:
        raise _fail(exc) from exc
    if report.could_not_run:
        _err().print(f"[bold magenta]review could not run:[/] {report.could_not_run}", soft_wrap=True)
    raise typer.Exit(report.exit_code)


def _run_review(
    repo: Path,
    base: str | None,
    head: str,
    spec: Path | None,
    fail_on: str,
    max_cost: float | None,
    include: list[str],
    exclude: list[str],
    max_diff_lines: int,
    prior: Any = None,
) -> Any:
    from harness.display import RunDisplay
    from harness.review.runner import ReviewOptions, run_review

    options = ReviewOptions(
        base=base,
        head=head,
        spec=spec,
        include=tuple(include),
        exclude=tuple(exclude),
        max_cost=max_cost,
        max_diff_lines=max_diff_lines,
        fail_on=fail_on,  # type: ignore[arg-type]
        since=prior.head if prior is not None else None,
        previous=prior.findings if prior is not None else (),
        dismissed=prior.dismissed if prior is not None else frozenset(),
    )
    with RunDisplay(_err()) as display:
        return run_review(repo, options, on_event=display.on_event)


def _without_dismissed(report: Any, dismissed: frozenset[str]) -> Any:
    """The report without the model findings a person dismissed or answered on the pull request (guard findings
    stay: a rule is waived by a contract allowance, not by resolving its comment)."""
    from harness.review.runner import exit_code

    kept = [f for f in report.findings if f.source == "guard" or f.fingerprint not in dismissed]
    if len(kept) == len(report.findings):
        return report
    report.findings = kept
    report.exit_code = exit_code(report)
    return report


def _load_report(path: Path, fail_on: str) -> Any:
    from harness.errors import UsageError
    from harness.review.model import ReviewReport
    from harness.review.runner import exit_code

    hint = "pass the file written by `harness review --format json --output FILE`"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--from {path}: cannot read it ({exc.strerror or exc})", hint=hint) from None
    except UnicodeDecodeError:
        raise UsageError(f"--from {path}: not text (a review report is UTF-8 JSON)", hint=hint) from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--from {path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})", hint=hint
        ) from None
    missing = [k for k in ("version", "base", "head", "spec_source") if not isinstance(data, dict) or k not in data]
    if missing:
        raise UsageError(f"--from {path}: JSON, but not a harness review report (no {', '.join(missing)})", hint=hint)
    try:
        report = ReviewReport.from_dict(data)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        what = str(exc) if isinstance(exc, ValueError) else "a field has the wrong shape"
        raise UsageError(f"--from {path}: not a report this harness can read ({what})", hint=hint) from None
    report.fail_on = fail_on  # type: ignore[assignment]
    report.exit_code = exit_code(report)
    return report


@app.command()
def guard(
    base: Annotated[
        str | None,
        typer.Option("--base", help="Compare from this commit (default: the merge base with the default branch)."),
    ] = None,
    head: Annotated[
        str | None,
        typer.Option("--head", help="Compare to this commit (default: the working tree, untracked files included)."),
    ] = None,
    contract: Annotated[
        Path | None,
        typer.Option(
            "--contract",
            help="The issue's contract: frozen tests, agreed digest, allowed changes "
            "(default on a harness/<id>-… branch: <harness_dir>/contracts/<id>.md).",
        ),
    ] = None,
    repo: RepoOption = Path("."),
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="text | json | sarif (code scanning) | github (workflow commands: annotations, no token needed).",
        ),
    ] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
) -> None:
    """Deterministic checks only, no model: does the change game the tests? Exit 1 on a violation."""
    try:
        code = _run_guard(base, head, contract, repo, fmt, as_json=as_json)
    except HarnessError as exc:
        raise _fail(exc) from exc
    raise typer.Exit(code)


def _guard_fast_path(argv: list[str]) -> None:
    """Run `harness guard ARGS` without typer when the arguments are plain options, and exit.

    A pre-commit hook pays start-up on every commit, and typer's argument parsing imports pydantic
    (a quarter of a second). Anything this does not understand (--help, a typo, a missing value) is
    left to typer, which parses and reports exactly as for any other command.
    """
    options = {"--base": "base", "--head": "head", "--contract": "contract", "--repo": "repo", "--format": "format"}
    values: dict[str, str] = {}
    as_json = False
    rest = iter(argv)
    for arg in rest:
        name, has_value, value = arg.partition("=")
        if arg == "--json":
            as_json = True
            continue
        if name not in options:
            return
        if not has_value:
            value = next(rest, "")
        if not value or value.startswith("-"):
            return
        values[options[name]] = value
    contract = values.get("contract")
    try:
        code = _run_guard(
            values.get("base"),
            values.get("head"),
            Path(contract) if contract else None,
            Path(values.get("repo", ".")),
            values.get("format", "text"),
            as_json=as_json,
        )
    except HarnessError as exc:
        code = _fail(exc).exit_code
    sys.exit(code)


def _run_guard(
    base: str | None, head: str | None, contract: Path | None, repo: Path, fmt: str, *, as_json: bool = False
) -> int:
    """Check base..head, print the findings in ``fmt`` (see harness.guard.report), return the exit code."""
    # Start-up matters here (a pre-commit hook): no pydantic, anthropic, GitPython, harness.config.
    from harness.guard import GuardContext, check
    from harness.guard.gitdiff import collect_changes, find_root, resolve
    from harness.guard.report import GuardReport, check_format, render
    from harness.settings import guard_settings

    fmt = check_format(fmt, as_json=as_json)  # before any git: a typo is exit 2 with nothing on stdout
    root = find_root(repo)
    head_sha = resolve(root, head) if head is not None else None
    base_sha = resolve(root, base if base is not None else _guard_default_base(root, head_sha))
    # The rules a change is judged by come from its base: a change cannot switch off a guard for itself
    # (`protected_paths = []` in the harness.toml or pyproject.toml it edits).
    harness_dir, protected_paths = guard_settings(root, base_sha)
    contract_file = _guard_contract_file(root, harness_dir, contract, head)
    terms = _guard_contract_terms(root, contract_file) if contract_file else {}
    changes = collect_changes(root, base_sha, head_sha)
    findings = check(changes, GuardContext(protected_paths=protected_paths, harness_dir=harness_dir, **terms))

    contract_shown = str(terms.get("contract_path") or contract_file) if contract_file is not None else None
    report = GuardReport(base_sha, head_sha, len(changes), findings, contract=contract_shown)
    sys.stdout.write(render(report, fmt))
    if fmt in ("sarif", "github"):  # stdout is for a machine; the job's log still says what was found
        _err().print(report.counts(), markup=False, soft_wrap=True)
    return report.exit_code


def _guard_default_base(root: Path, head: str | None) -> str:
    """The merge base of ``--head`` (or of HEAD, for the working tree) with the default branch."""
    from harness.guard.gitdiff import default_base

    found = default_base(root, head or "HEAD")
    if found is not None:
        return found
    if head is None:
        return "HEAD"  # no default branch: the working tree against its last commit
    raise UsageError(
        f"no default branch (origin/HEAD, main or master) in {root} to compare --head {head[:12]} with",
        hint="pass the commit the change started from with --base REF",
    )


def _guard_contract_file(root: Path, harness_dir: str, option: Path | None, head: str | None) -> Path | None:
    """``--contract FILE`` (relative to the current directory, else to the repo root), or the contract of the
    issue whose branch is ``--head`` (when it names a branch) or is checked out: a run branch
    (``harness/<id>-<slug>``) or an afk branch (``harness/<batch>-<id>-<slug>``), when the contract exists."""
    from harness import layout
    from harness.guard.gitdiff import current_branch, is_branch

    if option is not None:
        candidates = [option] if option.is_absolute() else [option, root / option]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise UsageError(
            f"{option}: contract file not found",
            hint=f"pass an existing contract file, e.g. --contract {harness_dir}/contracts/001.md",
        )
    branch = head if head is not None and is_branch(root, head) else current_branch(root)
    issue = layout.linked_issue(branch, layout.known_issues(root / harness_dir))
    if issue is not None:
        path = root / layout.contract_file(harness_dir, issue)
        if path.is_file():
            return path
    return None


def _guard_contract_terms(root: Path, path: Path) -> dict[str, Any]:
    """The GuardContext fields a contract file sets, read from its front matter with YAML alone."""
    from harness import frontmatter
    from harness.guard import Allowance

    hint = "fix the contract's front matter, or pass another file with --contract"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the contract: {exc}", hint=hint) from exc
    meta = frontmatter.parse(text, source=str(path)).meta
    if not meta:
        raise UsageError(f"{path}: no front matter; this is not a harness contract", hint=hint)

    frozen = meta.get("frozen_tests") or {}
    if not isinstance(frozen, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in frozen.items()):
        raise UsageError(f"{path}: field `frozen_tests` must map test file paths to sha256 digests", hint=hint)
    allow = meta.get("allow") or []
    if not isinstance(allow, list):
        raise UsageError(f"{path}: field `allow` must be a list of {{rule, path, reason}}", hint=hint)
    allowances = []
    for index, item in enumerate(allow):
        fields = [item.get(key) if isinstance(item, dict) else None for key in ("rule", "path", "reason")]
        strings = [value for value in fields if isinstance(value, str) and value]
        if len(strings) != len(fields):
            raise UsageError(f"{path}: field `allow.{index}` needs non-empty `rule`, `path` and `reason`", hint=hint)
        allowances.append(Allowance(*strings))
    digest = meta.get("sha256")
    try:
        relative: str | None = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:  # a contract outside the repository: it cannot be edited by the change
        relative = None
    return {
        "contract_path": relative,
        "contract_digest": digest if meta.get("status") == "agreed" and isinstance(digest, str) and digest else None,
        "frozen_tests": frozen,
        "allowances": tuple(allowances),
    }


def main() -> None:
    try:
        if sys.argv[1:2] == ["guard"]:
            _guard_fast_path(sys.argv[2:])  # exits when it could parse the arguments itself
        app()
    except KeyboardInterrupt:
        _err().print("interrupted", markup=False)
        sys.exit(EXIT_INCOMPLETE)
