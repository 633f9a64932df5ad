"""The planning commands (`grill`, `prd`, `slice`, `plan`) between typer and :mod:`harness.planning`:
who answers, what is shown, what is printed. Every input check — the slug, the answers file, who can
answer, the API key — runs before the first file is written and the first model call, so a command that
exits 2 leaves the repository as it was."""

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
from harness.interview import Asker, ConsoleAsker, FileAsker, read_answers
from harness.plan_models import Prd, Transcript
from harness.planfiles import load_answers, load_prd, render_prd
from harness.planning import (
    GrillStart,
    Planner,
    SliceResult,
    check_prd_target,
    grill,
    load_slice_input,
    new_grill,
    open_planner,
    prd_path_for,
    resume_grill,
    slice_prd,
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
        file_asker = FileAsker(read_answers(load_answers(answers), answers), answers, io.err, then=person)
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


def _start(
    planner: Planner, io: Io, idea: str | None, resume: str | None, answers: Path | None
) -> tuple[GrillStart, Asker, FileAsker | None]:
    """Everything a grill needs, checked in the order a person fixes it; nothing is written yet."""
    resumed = resume_grill(planner, resume) if resume is not None else None
    asker, file_asker = _asker(io, answers)
    planner.connect()
    start = resumed or new_grill(planner, _idea(io, idea, resume))
    return start, asker, file_asker


def run_grill_command(repo: Path, idea: str | None, answers: Path | None, resume: str | None, io: Io) -> int:
    planner = open_planner(repo)
    start, asker, file_asker = _start(planner, io, idea, resume, answers)
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
    planner.connect()
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


def run_slice_command(
    repo: Path, prd_name: str | None, github: bool, io: Io, *, overwrite_edited: bool = False
) -> int:
    planner = open_planner(repo)
    _, prd, issues = load_slice_input(planner, prd_name)  # every issue file is validated before any model call
    if github:
        from harness.github_issues import check_transport

        check_transport(planner.root)  # before the model is paid and before any issue file is rewritten
    planner.connect()
    _slice(io, planner, prd, issues, github, overwrite_edited=overwrite_edited)
    return 0


def _slice(
    io: Io, planner: Planner, prd: Prd, issues: dict[str, Issue], github: bool, *, overwrite_edited: bool = False
) -> None:
    from harness.display import RunDisplay

    with RunDisplay(io.err) as display:
        planner.on_event = display.on_event
        review = _reviewer(io, display) if can_ask() and not io.yes else None
        result = slice_prd(planner, prd, issues, review=review, overwrite_edited=overwrite_edited)
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
            "edited": [{"path": str(p), "would_change": what} for p, what in result.edited],
            "github": dict(published),
            "cost_usd": round(planner.cost, 6),
        }
        print(json.dumps(document, indent=2))
        return
    io.out.print(render_slices(result.slices, ids={i.key: i.id for i in issues if i.key}))
    held = {p for p, _ in result.edited}
    started = [p for p in result.kept if p not in held]
    for label, paths in (("written", result.written), ("kept (past todo)", started), ("removed", result.removed)):
        if paths:
            io.err.print(f"{label}: " + ", ".join(p.name for p in paths), markup=False, soft_wrap=True)
    for path, what in result.edited:
        io.err.print(f"kept as you edited it: {path.name} — the new slicing would change: {what}", markup=False,
                     soft_wrap=True)  # fmt: skip
    if result.edited:
        io.err.print(
            f"to replace them with the new slices: harness slice {result.prd.slug} --overwrite-edited",
            markup=False,
            soft_wrap=True,
        )
    for issue_id, number in published:
        io.err.print(f"GitHub: issue {issue_id} is #{number}", markup=False)
    first = next((p for p in result.written), None)
    if first is not None:
        io.err.print(f"next: harness run {first.name.partition('-')[0]}", markup=False)


def _edit_pause(io: Io, target: Path, slug: str) -> bool:
    """In a terminal, the person may edit the PRD before it is sliced: Enter slices it, q stops here."""
    if io.yes or io.as_json or not can_ask():
        return True
    answer = io.err.input(
        f"PRD written to {escape(str(target))}: edit it now if you like, then press Enter to slice it "
        "(q stops here; slice later with `harness slice " + escape(slug) + "`) "
    )
    if answer.strip().lower() in ("q", "quit"):
        io.err.print(f"stopped before slicing; next: harness slice {slug}", markup=False)
        return False
    return True


def run_plan_command(
    repo: Path, idea: str | None, answers: Path | None, resume: str | None, github: bool, io: Io
) -> int:
    """grill → prd → slice; with --resume, each step that already has its file is skipped. In a terminal it
    stops after the PRD so the person can edit it; the slicer reads the file as they left it."""
    planner = open_planner(repo)
    if github:
        from harness.github_issues import check_transport

        check_transport(planner.root)  # before the interview is paid and before any issue file is written
    transcript: Transcript | None = None
    if resume is not None:
        from harness.planfiles import find_transcript, load_transcript

        transcript = load_transcript(find_transcript(planner.grills, resume))
    if transcript is None or transcript.status != "finished":
        start, asker, file_asker = _start(planner, io, None if resume else idea, resume, answers)
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
        if not _edit_pause(io, target, prd.slug):
            return 0
    _, prd, issues = load_slice_input(planner, prd.slug)  # read again: the person may have edited it
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
