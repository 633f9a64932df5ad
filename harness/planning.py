"""Planning: grill → PRD → slices (SPEC §1 steps 1–3), each step a fresh planner agent.

Every step reads its input from a file the previous step wrote (transcript, PRD) and writes its own
atomically, so each can be re-run or resumed alone and ``harness plan`` is only their sequence.
The planner agents get read-only tools on the repository as git sees it (:func:`repository_files`);
nothing here edits code, makes a branch or a commit. Each step is traced in
``.harness/runs/<id>/trace.jsonl`` like a run. Planning needs no commit: a brand-new repository (an
unborn HEAD) can be planned before its first line of code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import gitops
from harness.artifacts import Issue, issue_files, load_issue
from harness.config import Config, load_config
from harness.errors import IncompleteError, UsageError
from harness.interview import SUM_UP, Asker, Interview, now, run_interview, transcript_for_model
from harness.model import make_client
from harness.plan_models import Prd, SliceSpec, SubmitIssues, SubmitPrd, Transcript
from harness.planfiles import (
    find_prd,
    find_transcript,
    load_prd,
    load_transcript,
    new_slug,
    render_prd,
    save_prd,
    save_transcript,
)
from harness.prompts import system_prompt
from harness.trace import Ledger, Trace
from harness.workspace import ToolRefusal, Workspace

if TYPE_CHECKING:  # the agent module loads the SDK (seconds): not before the inputs are checked
    from harness.agent import Agent

# The planners look at the person's own checkout: no `bash` there, not even a read-only one.
PLANNER_TOOLS = ("read", "glob", "grep")

ReviewSlices = Callable[[list[SliceSpec], int, dict[str, Issue]], list[SliceSpec] | None]


@dataclass
class Planner:
    """One planning command's session: the repository, its configuration, the model client and the trace."""

    root: Path
    config: Config
    harness_dir: Path
    on_event: Callable[[dict[str, Any]], None] | None = None
    runs: list[Path] = field(default_factory=list)
    cost: float = 0.0
    cost_known: bool = True
    _client: Any = field(default=None, init=False, repr=False)

    def connect(self) -> Any:
        """The model client, made once. No API key is an input error (exit 2): commands call this before they
        write anything, so a failed start leaves the repository as it was."""
        if self._client is None:
            self._client = make_client(max_retries=self.config.max_retries, timeout=self.config.request_timeout)
        return self._client

    def repository_files(self) -> set[str]:
        return repository_files(self.root, self.harness_dir)

    @property
    def grills(self) -> Path:
        return self.harness_dir / "grills"

    @property
    def prds(self) -> Path:
        return self.harness_dir / "prds"

    @property
    def issues(self) -> Path:
        return self.harness_dir / "issues"

    @contextmanager
    def session(self, step: str, slug: str) -> Iterator[tuple[Trace, Ledger, Any]]:
        """A traced session for one step; a budget or API failure ends it with exit 3, files kept."""
        client = self.connect()
        run_id = datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{step}-{slug}"
        run_dir = self.harness_dir / "runs" / run_id
        trace = Trace(run_dir / "trace.jsonl")
        if self.on_event:
            trace.subscribe(self.on_event)
        ledger = Ledger(max_cost=self.config.budget.max_cost_per_issue)
        trace.event("run_started", run_id=run_id, issue=slug, title=f"{step} {slug}", branch="-", step=step)
        self.runs.append(run_dir)
        outcome = "incomplete"
        try:
            yield trace, ledger, client
            outcome = "done"
        finally:
            self.cost += ledger.cost
            self.cost_known = self.cost_known and ledger.cost_known
            trace.event(
                "run_finished",
                outcome=outcome,
                reason=step,
                cost=ledger.cost,
                cost_known=ledger.cost_known,
                tokens=ledger.tokens(),
                cache_read_share=ledger.cache_read_share,
                peak_context={},
                commits=[],
            )
            trace.close()

    def agent(
        self,
        trace: Trace,
        ledger: Ledger,
        client: Any,
        *,
        phase: str,
        prompt: str,
        role_tool: list[str],
        tools: Sequence[str] = PLANNER_TOOLS,
        progress: Callable[[], str] | None = None,
    ) -> Agent:
        from harness.agent import Agent

        workspace = Workspace(
            self.root, writable=False, bash_timeout=self.config.bash_timeout, listing=self.repository_files
        )
        return Agent(
            role="planner",
            phase=phase,
            model=self.config.models.planner,
            system=system_prompt(prompt, self.harness_dir),
            client=client,
            trace=trace,
            ledger=ledger,
            limits=self.config.limits,
            role_tools=role_tool,
            workspace=workspace,
            workspace_tools=tuple(tools),
            progress=progress,
        )


def open_planner(repo: Path, on_event: Callable[[dict[str, Any]], None] | None = None) -> Planner:
    root = checkout_root(repo)
    config = load_config(root)
    return Planner(root=root, config=config, harness_dir=root / config.harness_dir, on_event=on_event)


checkout_root = gitops.checkout_root  # planning needs no commit: a brand-new project can be planned


def repository_files(root: Path, harness_dir: Path) -> set[str]:
    """What the planners may look at: the repository as git sees it — tracked files, and untracked files that
    are not ignored (`git ls-files -co --exclude-standard`) — without the harness's own directory, whether the
    project's .gitignore lists it or not. There live run traces, other branches' worktrees (code that is not
    merged, so does not exist yet for the person planning), batch state, and the planning files themselves,
    which a planner gets in its hand-off."""
    done = gitops.in_checkout(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    if done.returncode != 0:
        raise ToolRefusal(
            "the harness could not list the repository's files (`git ls-files` failed); go on with what you "
            "know, and say in your answer that you could not look"
        )
    try:
        own = harness_dir.resolve().relative_to(root).as_posix()
    except ValueError:  # a harness directory outside the checkout is not in its listing anyway
        own = None
    files = set()
    for name in done.stdout.decode("utf-8", "surrogateescape").split("\0"):
        # A trailing slash is an untracked repository inside this one (a worktree, a clone): git does not look in.
        if not name or name.endswith("/") or (own is not None and (name == own or name.startswith(own + "/"))):
            continue
        files.add(name)
    return files


# --------------------------------------------------------------------------- grill


@dataclass
class GrillStart:
    """What ``grill`` will do, decided before any model call: a new interview or a resumed one."""

    path: Path
    transcript: Transcript
    resumed: bool


def resume_grill(planner: Planner, name: str) -> GrillStart:
    """The interview to resume; a finished one is refused with the next step (exit 2)."""
    path = find_transcript(planner.grills, name)
    transcript = load_transcript(path)
    if transcript.status == "finished":
        raise UsageError(
            f"{path}: the interview {transcript.slug!r} is already finished (its summary was confirmed)",
            hint=f"next: write its PRD with `harness prd {transcript.slug}`, or start a new interview with "
            '`harness grill "IDEA"`',
        )
    return GrillStart(path, transcript, resumed=True)


def new_grill(planner: Planner, idea: str | None) -> GrillStart:
    """A new interview about ``idea``; its file is written only when the interview starts (:func:`grill`)."""
    if idea is None or not idea.strip():
        raise UsageError("no idea to interview about", hint='pass it: harness grill "add CSV export to reports"')
    slug = new_slug(planner.grills, idea)
    stamp = now()
    transcript = Transcript(slug=slug, idea=idea.strip(), started=stamp, updated=stamp)
    return GrillStart(planner.grills / f"{slug}.md", transcript, resumed=False)


def grill(planner: Planner, start: GrillStart, asker: Asker) -> Transcript:
    """Interview until the person confirms the summary. Every question and answer is saved as it happens.
    Call it once every input is checked (the answers file, the API key): a new interview's file is written here."""
    planner.connect()
    if not start.resumed:
        save_transcript(start.path, start.transcript)
    interview = Interview(start.transcript, start.path, save_transcript)
    if interview.transcript.pending is not None:
        # Resumed with a question left unanswered: the person answers it before any model call.
        interview.answer(asker.ask(interview.transcript, len(interview.transcript.exchanges), interview.revise))
    with planner.session("grill", interview.transcript.slug) as (trace, ledger, client):
        agent = planner.agent(
            trace,
            ledger,
            client,
            phase="grill",
            prompt="interviewer",
            role_tool=["ask_user", "finish_interview"],
            progress=lambda: "The interview so far (the harness's record):\n" + interview.progress(),
        )
        trace.subscribe(_lookups(asker))

        def respond(text: str) -> tuple[str, object]:
            agent.new_step()  # [limits] max_turns caps the turns per question, not the interview
            call = agent.respond(text)
            return call.name, call.input

        def begin(text: str) -> tuple[str, object]:
            call = agent.start(text)
            return call.name, call.input

        def sum_up() -> tuple[str, object]:
            # After /finish: a fresh context whose one tool is `finish_interview`, fed the harness's record.
            closer = planner.agent(
                trace, ledger, client, phase="grill", prompt="interviewer", role_tool=["finish_interview"], tools=()
            )
            call = closer.start(SUM_UP + "\n\n" + transcript_for_model(interview.transcript))
            return call.name, call.input

        try:
            return run_interview(interview, begin, respond, sum_up, asker, _grill_handoff(interview.transcript, start))
        except (IncompleteError, KeyboardInterrupt) as exc:
            raise _resumable(exc, f"harness grill --resume {interview.transcript.slug}") from exc


def _lookups(asker: Asker) -> Callable[[dict[str, Any]], None]:
    def show(event: dict[str, Any]) -> None:
        if event.get("kind") == "tool_call" and event.get("tool") in PLANNER_TOOLS:
            detail = " ".join(str(v) for v in event.get("input", {}).values())
            asker.looked_up(f"{event['tool']} {detail}".strip() + (" (refused)" if event.get("is_error") else ""))

    return show


def _grill_handoff(transcript: Transcript, start: GrillStart) -> str:
    if not transcript.answered:
        return (
            "Interview the person about this idea for their repository. Explore the repository first.\n\n"
            + transcript_for_model(transcript)
        )
    return (
        "You are continuing an interview that an earlier interviewer began"
        + (" (the session was interrupted)" if start.resumed else "")
        + ". Its questions and the person's answers so far are below: do not ask them again. Explore the "
        "repository as you need, then carry on walking the design tree from where it stopped.\n\n"
        + transcript_for_model(transcript)
    )


# --------------------------------------------------------------------------- PRD


def prd_path_for(planner: Planner, transcript: Transcript) -> Path:
    return planner.prds / f"{transcript.slug}.md"


def check_prd_target(planner: Planner, grill_name: str | None, *, force: bool) -> tuple[Path, Transcript, Path]:
    """The transcript to write a PRD from and where it goes; every input check happens here (exit 2)."""
    path = find_transcript(planner.grills, grill_name)
    transcript = load_transcript(path)
    if transcript.status != "finished":
        raise UsageError(
            f"{path}: the interview {transcript.slug!r} is not finished (the summary was never confirmed)",
            hint=f"finish it first: harness grill --resume {transcript.slug}",
        )
    target = prd_path_for(planner, transcript)
    if target.exists() and not force:
        raise UsageError(
            f"{target} already exists; writing the PRD again would replace it (and any edits made to it)",
            hint=f"slice it with `harness slice {transcript.slug}`, or pass --force to write it again",
        )
    return path, transcript, target


def write_prd(planner: Planner, transcript: Transcript, target: Path) -> Prd:
    with planner.session("prd", transcript.slug) as (trace, ledger, client):
        agent = planner.agent(trace, ledger, client, phase="prd", prompt="prd-writer", role_tool=["submit_prd"])
        try:
            call = agent.start(_prd_handoff(transcript))
        except (IncompleteError, KeyboardInterrupt) as exc:
            raise _resumable(exc, f"harness prd {transcript.slug}") from exc
        submitted = call.input
        assert isinstance(submitted, SubmitPrd)
        prd = Prd(**submitted.model_dump(), slug=transcript.slug, grill=transcript.slug, created=now())
        save_prd(target, prd)
        trace.event("prd_written", path=str(target), stories=len(prd.user_stories))
        return prd


def _prd_handoff(transcript: Transcript) -> str:
    decisions = "\n".join(f"- {d.question} → {d.answer}" for d in transcript.decisions)
    return (
        "Write the PRD for the change agreed in this interview.\n\n"
        f"<interview>\nSummary (confirmed by the person):\n{transcript.summary}\n\nDecisions:\n{decisions}\n"
        f"</interview>\n\nThe full transcript:\n{transcript_for_model(transcript)}"
    )


# --------------------------------------------------------------------------- slices


@dataclass
class SliceResult:
    prd: Prd
    slices: list[SliceSpec]
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    edited: list[tuple[Path, str]] = field(default_factory=list)  # kept as a person edited them: what would change
    attempts: int = 0


def load_slice_input(planner: Planner, name: str | None) -> tuple[Path, Prd, dict[str, Issue]]:
    """The PRD and the existing issues, validated before any model call (exit 2 on a bad file)."""
    path = find_prd(planner.prds, name)
    prd = load_prd(path)
    existing: dict[str, Issue] = {}
    for issue_path in issue_files(planner.issues):
        issue = load_issue(issue_path)
        existing[issue.id] = issue
    return path, prd, existing


def slice_prd(
    planner: Planner,
    prd: Prd,
    issues: dict[str, Issue],
    *,
    review: ReviewSlices | None = None,
    overwrite_edited: bool = False,
) -> SliceResult:
    """Ask the slicer until its slices pass the checks (bounded), let a person review them, write the issues.
    ``issues`` are every issue file, as :func:`load_slice_input` read them."""
    from harness.agent import AgentFailed
    from harness.slicing import blockable, check_slices, plan_issues, write_issues

    # What slices may name in blocked_by: every issue except this PRD's `todo` ones, which re-slicing replaces.
    existing = blockable(issues, prd.slug)
    attempts_allowed = planner.config.limits.slice_attempts
    stories = len(prd.user_stories)
    result = SliceResult(prd=prd, slices=[])
    with planner.session("slice", prd.slug) as (trace, ledger, client):
        agent = planner.agent(trace, ledger, client, phase="slice", prompt="slicer", role_tool=["submit_issues"])
        try:
            call = agent.start(_slice_handoff(prd, existing))
            while True:
                submitted = call.input
                assert isinstance(submitted, SubmitIssues)
                result.attempts += 1
                problems = check_slices(submitted.issues, story_count=stories, existing=existing)
                if not problems:
                    result.slices = list(submitted.issues)
                    trace.event("slices_accepted", attempt=result.attempts, slices=[s.key for s in submitted.issues])
                    break
                trace.event("slices_rejected", attempt=result.attempts, problems=problems)
                if result.attempts >= attempts_allowed:
                    raise AgentFailed(
                        f"the slicer's {result.attempts} submissions all had problems; the last: "
                        + "; ".join(problems),
                        hint="raise [limits] slice_attempts, make the PRD's stories smaller, or slice by hand in "
                        f"{planner.issues}/",
                    )
                call = agent.respond(
                    f"Rejected: nothing was written. Fix every problem and submit all slices again "
                    f"({attempts_allowed - result.attempts} submission(s) left):\n"
                    + "\n".join(f"- {p}" for p in problems)
                )
        except (IncompleteError, KeyboardInterrupt) as exc:
            raise _resumable(exc, f"harness slice {prd.slug}") from exc
        if review is not None:
            reviewed = review(result.slices, stories, existing)
            if reviewed is None:
                trace.event("slices_discarded")
                raise IncompleteError(
                    "the slices were not accepted; no issue was written",
                    hint=f"run `harness slice {prd.slug}` again to get new slices",
                )
            result.slices = reviewed
        plan = plan_issues(planner.issues, prd.slug, result.slices, overwrite_edited=overwrite_edited)
        written = write_issues(plan, stories=prd.user_stories, prd_title=prd.title)
        result.written, result.kept, result.removed = written.written, written.kept, written.removed
        result.edited = written.edited
        trace.event(
            "issues_written",
            written=[p.name for p in result.written],
            kept=[p.name for p in result.kept],
            removed=[p.name for p in result.removed],
            edited=[p.name for p, _ in result.edited],
        )
    return result


def _slice_handoff(prd: Prd, existing: dict[str, Issue]) -> str:
    lines = [
        "Split this PRD into vertical-slice issues.",
        "",
        f"<prd>\n{render_prd(prd)}\n</prd>",
    ]
    mine = [i for i in existing.values() if i.prd == prd.slug and i.status != "todo"]
    if mine:
        lines += [
            "",
            "These issues of this PRD already exist and are past `todo`: they stay as they are. Do not slice "
            "their work again; your slices may name them in `blocked_by` by id.",
            "<existing-issues>",
            *(f"- {i.id} [{i.status}] {i.title}" for i in mine),
            "</existing-issues>",
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def _resumable(exc: BaseException, command: str) -> IncompleteError:
    if isinstance(exc, KeyboardInterrupt):
        return IncompleteError("interrupted (Ctrl-C); everything answered so far is saved", hint=f"continue: {command}")
    assert isinstance(exc, IncompleteError)
    hint = exc.hint + f"; then continue: {command}" if exc.hint else f"continue: {command}"
    return IncompleteError(str(exc.message), hint=hint)
