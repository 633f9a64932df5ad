"""The planning commands (`grill`, `prd`, `slice`, `plan`) between typer and :mod:`harness.planning`:
who answers, what is shown, what is printed. Every input check runs before the first model call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape

from harness.artifacts import Issue
from harness.errors import UsageError
from harness.interactive import can_ask
from harness.interview import Asker, ConsoleAsker, FileAsker
from harness.plan_models import Prd, Transcript
from harness.planfiles import load_answers, load_prd, render_prd
from harness.planning import (
    GrillStart,
    Planner,
    SliceResult,
    check_prd_target,
    grill,
    load_slice_input,
    open_planner,
    prd_path_for,
    slice_prd,
    start_grill,
    write_prd,
)


@dataclass
class Io:
    err: Console  # progress, questions, tables
    out: Console  # the result (a PRD, a list of issues) unless --json
    as_json: bool = False
    yes: bool = False  # never ask (a slicing is accepted as submitted)


def _asker(io: Io, answers: Path | None) -> tuple[Asker, FileAsker | None]:
    person = ConsoleAsker(io.err) if can_ask() and not io.yes else None
    if answers is not None:
        file_asker = FileAsker(load_answers(answers), answers, io.err, then=person)
        return file_asker, file_asker
    if person is None:
        raise UsageError(
            "the interview needs answers, and there is nobody to ask (no terminal, or --yes)",
            hint="run it in a terminal, or pass --answers FILE (a YAML or Markdown list of answers; `/all` accepts "
            "the remaining recommendations)",
        )
    return person, None


def _idea(io: Io, idea: str | None, resume: str | None) -> str | None:
    if idea is None and resume is None and can_ask() and not io.yes:
        idea = io.err.input("What is the idea? › ").strip() or None
    return idea


def run_grill_command(repo: Path, idea: str | None, answers: Path | None, resume: str | None, io: Io) -> int:
    planner = open_planner(repo)
    asker, file_asker = _asker(io, answers)
    start = start_grill(planner, _idea(io, idea, resume), resume)
    transcript = _grill(planner, start, asker, file_asker, io)
    if io.as_json:
        print(json.dumps(_grill_document(planner, start, transcript), indent=2))
    else:
        io.err.print(f"next: harness prd {transcript.slug}", markup=False)
    return 0


def _grill(planner: Planner, start: GrillStart, asker: Asker, file_asker: FileAsker | None, io: Io) -> Transcript:
    verb = "resuming" if start.resumed else "interview"
    io.err.print(f"[bold]{verb}[/] {escape(start.transcript.slug)}: {escape(start.transcript.idea)}", soft_wrap=True)
    io.err.print(
        f"[dim]saved after every answer in {escape(str(start.path))}; /help lists the commands[/]", soft_wrap=True
    )
    transcript = grill(planner, start, asker)
    if file_asker is not None and file_asker.unused:
        io.err.print(f"note: {file_asker.unused} answer(s) in the answers file were not needed", markup=False)
    io.err.print(f"interview finished: {len(transcript.answered)} question(s), saved in {start.path}", markup=False)
    return transcript


def _grill_document(planner: Planner, start: GrillStart, transcript: Transcript) -> dict[str, Any]:
    return {
        "slug": transcript.slug,
        "path": str(start.path),
        "status": transcript.status,
        "questions": len(transcript.exchanges),
        "decisions": [d.model_dump() for d in transcript.decisions],
        "cost_usd": round(planner.cost, 6),
        "cost_known": planner.cost_known,
        "traces": [str(run / "trace.jsonl") for run in planner.runs],
    }


def run_prd_command(repo: Path, grill_name: str | None, force: bool, io: Io) -> int:
    planner = open_planner(repo)
    _, transcript, target = check_prd_target(planner, grill_name, force=force)
    _show_prd(io, planner, target, _write_prd(io, planner, transcript, target))
    return 0


def _write_prd(io: Io, planner: Planner, transcript: Transcript, target: Path) -> Prd:
    from harness.display import RunDisplay

    with RunDisplay(io.err) as display:
        planner.on_event = display.on_event
        return write_prd(planner, transcript, target)


def _show_prd(io: Io, planner: Planner, target: Path, prd: Any) -> None:
    if io.as_json:
        document = {"path": str(target), "prd": prd.model_dump(mode="json"), "cost_usd": round(planner.cost, 6)}
        print(json.dumps(document, indent=2))
        return
    io.out.print(Markdown(render_prd(prd)))
    io.err.print(f"PRD written: {target}\nnext: harness slice {prd.slug}", markup=False)


def run_slice_command(repo: Path, prd_name: str | None, github: bool, io: Io) -> int:
    planner = open_planner(repo)
    _, prd, issues = load_slice_input(planner, prd_name)  # every issue file is validated before any model call
    _slice(io, planner, prd, issues, github)
    return 0


def _slice(io: Io, planner: Planner, prd: Prd, issues: dict[str, Issue], github: bool) -> None:
    from harness.display import RunDisplay

    with RunDisplay(io.err) as display:
        planner.on_event = display.on_event
        review = _reviewer(io, display) if can_ask() and not io.yes else None
        result = slice_prd(planner, prd, issues, review=review)
    _show_slices(io, planner, result, github)


def _reviewer(io: Io, display: Any) -> Any:
    from harness.slicing_ui import review_slices

    def review(slices: list[Any], stories: int, existing: dict[str, Any]) -> Any:
        with display.paused():
            return review_slices(
                slices, story_count=stories, existing=existing, console=io.err, ask=lambda p: io.err.input(p)
            )

    return review


def _show_slices(io: Io, planner: Planner, result: SliceResult, github: bool) -> None:
    from harness.artifacts import load_issue
    from harness.slicing import render_slices

    published: list[tuple[str, int]] = []
    if github:
        from harness.github_issues import publish

        published = publish(planner.root, result.written)
    issues = [load_issue(p) for p in result.written]
    if io.as_json:
        document = {
            "prd": result.prd.slug,
            "attempts": result.attempts,
            "issues": [
                {**i.model_dump(mode="json"), "path": str(p), "acceptance_criteria": i.acceptance_criteria}
                for i, p in zip(issues, result.written, strict=True)
            ],
            "kept": [str(p) for p in result.kept],
            "removed": [str(p) for p in result.removed],
            "github": dict(published),
            "cost_usd": round(planner.cost, 6),
        }
        print(json.dumps(document, indent=2))
        return
    io.out.print(render_slices(result.slices, ids={i.key: i.id for i in issues if i.key}))
    for label, paths in (("written", result.written), ("kept (past todo)", result.kept), ("removed", result.removed)):
        if paths:
            io.err.print(f"{label}: " + ", ".join(p.name for p in paths), markup=False, soft_wrap=True)
    for issue_id, number in published:
        io.err.print(f"GitHub: issue {issue_id} is #{number}", markup=False)
    first = next((p for p in result.written), None)
    if first is not None:
        io.err.print(f"next: harness run {first.name.partition('-')[0]}", markup=False)


def run_plan_command(
    repo: Path, idea: str | None, answers: Path | None, resume: str | None, github: bool, io: Io
) -> int:
    """grill → prd → slice; with --resume, each step that already has its file is skipped."""
    planner = open_planner(repo)
    transcript: Transcript | None = None
    if resume is not None:
        from harness.planfiles import find_transcript, load_transcript

        transcript = load_transcript(find_transcript(planner.grills, resume))
    if transcript is None or transcript.status != "finished":
        asker, file_asker = _asker(io, answers)  # before anything is written: exit 2 when nobody can answer
        start = start_grill(planner, None if resume else _idea(io, idea, None), resume)
        transcript = _grill(planner, start, asker, file_asker, io)
    assert transcript is not None
    target = prd_path_for(planner, transcript)
    if target.exists():
        io.err.print(f"PRD {target} exists: not written again", markup=False)
        prd = load_prd(target)
    else:
        _, transcript, target = check_prd_target(planner, transcript.slug, force=False)
        prd = _write_prd(io, planner, transcript, target)
        if not io.as_json:
            io.out.print(Markdown(render_prd(prd)))
    _, prd, issues = load_slice_input(planner, prd.slug)
    sliced = [i for i in issues.values() if i.prd == prd.slug]
    if sliced and resume is not None:
        io.err.print(
            f"PRD {prd.slug} is already sliced into {len(sliced)} issue(s): " + ", ".join(i.id for i in sliced),
            markup=False,
            soft_wrap=True,
        )
        io.err.print(f"to slice it again: harness slice {prd.slug}", markup=False)
        return 0
    _slice(io, planner, prd, issues, github)
    return 0
