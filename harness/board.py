"""An ``afk`` batch as a person sees it: the live board (``harness status``), the morning report (``harness report``).

The batch lives in ``<harness_dir>/runs/<batch>/`` (see ``batch_models``): ``batch.json`` written by the
coordinator, ``issues/<id>.json`` by whichever worker has the issue, ``report.md`` rendered from both.
Everything here except the file functions is pure: state in, a rich renderable, a dict or Markdown out.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from harness.batch_models import BatchState, IssueProgress, IssueState
from harness.errors import UsageError
from harness.fsutil import atomic_write_text
from harness.validation import describe_validation_error

BATCH_FILE = "batch.json"
ISSUES_DIR = "issues"
REPORT_FILE = "report.md"

# The board's order: what is moving now, what comes next, then how things ended.
BOARD_ORDER: tuple[IssueState, ...] = (
    "running",
    "landing",
    "queued",
    "waiting",
    "done",
    "blocked",
    "incomplete",
    "hitl",
)

_SHOWN_BATCHES = 15  # known batches listed when a name does not match
_Model = TypeVar("_Model", bound=BaseModel)


# ---------------------------------------------------------------------------------------- files


def batch_dir(harness_dir: Path, batch: str) -> Path:
    return harness_dir / "runs" / batch


def save_batch(directory: Path, state: BatchState) -> None:
    atomic_write_text(directory / BATCH_FILE, state.model_dump_json(indent=2) + "\n")


def save_progress(directory: Path, progress: IssueProgress) -> None:
    if Path(progress.id).name != progress.id or progress.id.startswith("."):
        raise ValueError(f"issue id {progress.id!r} cannot name a file")
    atomic_write_text(directory / ISSUES_DIR / f"{progress.id}.json", progress.model_dump_json(indent=2) + "\n")


def load_batch(directory: Path) -> tuple[BatchState, list[IssueProgress]]:
    """The batch and its issues' progress, validated; issues in the batch's order, then any others by id.

    An issue the batch lists but no worker has written yet is left out: the board shows what is on disk.
    """
    path = directory / BATCH_FILE
    if not path.is_file():
        raise UsageError(
            f"{path}: no batch file there",
            hint="pass a batch that `harness afk` started, or start one with `harness afk`",
        )
    state = _read(path, BatchState)
    by_id: dict[str, IssueProgress] = {}
    issues_dir = directory / ISSUES_DIR
    files = sorted(issues_dir.glob("*.json")) if issues_dir.is_dir() else []
    for file in files:
        if file.name.startswith("."):
            continue
        progress = _read(file, IssueProgress)
        if progress.id != file.stem:
            raise UsageError(
                f"{file}: holds issue `{progress.id}`, but the file name says `{file.stem}`",
                hint=f"rename the file to {progress.id}.json, or correct its `id` field",
            )
        by_id[progress.id] = progress
    listed = [by_id.pop(issue) for issue in state.issues if issue in by_id]
    return state, listed + [by_id[issue] for issue in sorted(by_id)]


def _read(path: Path, model: type[_Model]) -> _Model:
    what = "the batch" if model is BatchState else "an issue's progress in the batch"
    fix = (
        f"{path.name} records {what} and is written by `harness afk`; correct it by hand, or remove it and run "
        "`harness afk --resume`, which writes it again"
    )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}", hint=fix) from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", hint=fix) from exc
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", hint=fix
        ) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{path}: {describe_validation_error(exc)}", hint=fix) from exc


def find_batch(harness_dir: Path, name: str | None) -> Path:
    """The directory of the batch ``name`` names: its id or a unique prefix of one; None → the newest batch."""
    runs_dir = harness_dir / "runs"
    found = _known_batches(runs_dir)
    if not found:
        raise UsageError(f"no afk batch yet under {runs_dir}", hint="run `harness afk`")
    if name is None:
        return found[0]
    exact = [d for d in found if d.name == name]
    matches = exact or [d for d in found if d.name.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UsageError(f"`{name}` matches {len(matches)} batches: {_listing(matches)}", hint="give more of the id")
    raise UsageError(
        f"no afk batch `{name}` under {runs_dir}; known batches, newest first: {_listing(found)}",
        hint="pass one of those ids (or a unique prefix of one), or omit it for the newest batch",
    )


def _known_batches(runs_dir: Path) -> list[Path]:
    """Batch directories, newest first by when they started.

    ``runs/`` also holds single runs (a trace, no batch.json); those are not batches. A batch file that
    cannot be read sorts by its modification time, so the newest batch is still the one chosen and its
    error reported, rather than an older batch shown in its place.
    """
    if not runs_dir.is_dir():
        return []
    dated: list[tuple[datetime, str, Path]] = []
    for directory in runs_dir.iterdir():
        path = directory / BATCH_FILE
        if not path.is_file():
            continue
        try:
            started = _when(BatchState.model_validate_json(path.read_bytes()).started)
        except (OSError, ValueError):
            started = None
        if started is None:
            started = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        dated.append((started, directory.name, directory))
    return [directory for _, _, directory in sorted(dated, reverse=True)]


def _listing(batches: list[Path]) -> str:
    names = [d.name for d in batches[:_SHOWN_BATCHES]]
    more = f" (and {len(batches) - _SHOWN_BATCHES} more)" if len(batches) > _SHOWN_BATCHES else ""
    return ", ".join(names) + more


def write_report(directory: Path) -> tuple[Path, str]:
    """Render the batch's morning report into ``report.md``; return its path and its Markdown."""
    state, issues = load_batch(directory)
    markdown = render_report(state, issues)
    path = directory / REPORT_FILE
    atomic_write_text(path, markdown)
    return path, markdown


# ---------------------------------------------------------------------------------------- shared facts


def batch_cost(state: BatchState, issues: Iterable[IssueProgress]) -> tuple[float, bool]:
    """The batch's cost so far and whether all of it is known.

    Workers write their issue's cost as they go and the coordinator the batch's total now and then, so the
    larger of the two is the fresher; one unpriced call anywhere makes the total unknown.
    """
    issues = list(issues)
    cost = max(state.cost, sum(p.cost for p in issues))
    return cost, state.cost_known and all(p.cost_known for p in issues)


def counts(issues: Iterable[IssueProgress]) -> dict[str, int]:
    """How many issues are in each state, every state present, in board order."""
    found: dict[str, int] = dict.fromkeys(BOARD_ORDER, 0)
    for p in issues:
        found[p.state] += 1
    return found


def _pending_blockers(issue: IssueProgress, by_id: dict[str, IssueProgress]) -> list[tuple[str, str]]:
    """(id, state) of the issues ``issue`` still waits for; an id outside the batch reads "not in this batch"."""
    pending = []
    for blocker in issue.blocked_by:
        other = by_id.get(blocker)
        if other is None:
            pending.append((blocker, "not in this batch"))
        elif other.state != "done":
            pending.append((blocker, other.state))
    return pending


def _holds_up(issue: IssueProgress, issues: Iterable[IssueProgress]) -> list[str]:
    return [p.id for p in issues if issue.id in p.blocked_by and p.state != "done"]


def _stopping(state: BatchState) -> str | None:
    if state.stopping == "until":
        return f"--until {state.until} reached, no new issue starts" if state.until else "--until reached"
    if state.stopping == "budget":
        limit = f" {_money(state.max_cost)}" if state.max_cost is not None else ""
        return f"--max-cost{limit} reached, no new issue starts"
    if state.stopping == "interrupted":
        return "interrupted"
    return None


def _when(iso: str | None) -> datetime | None:
    """An ISO 8601 time as an aware datetime (a naive one is local time); None if absent or unreadable."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return _aware(moment)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.astimezone()


def _seconds_between(start: str | None, end: datetime | None) -> float | None:
    begun = _when(start)
    if begun is None or end is None:
        return None
    return max((end - begun).total_seconds(), 0.0)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _money(amount: float) -> str:
    if 0 < amount < 0.01:
        return "<$0.01"
    return f"${amount:,.2f}"


def _cost_words(amount: float, known: bool) -> str:
    """A cost in words; an unknown one is never shown as a number alone, let alone as $0."""
    return _money(amount) if known else f"unknown (at least {_money(amount)})"


def _one_line(text: str) -> str:
    """Untrusted text on one line: line breaks and tabs become spaces, other control characters go."""
    kept = (" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc")
    return " ".join("".join(kept).split())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------- the board

_SECTION = {
    "running": ("Running", "bold cyan"),
    "landing": ("Landing: merging into the integration branch, re-testing", "bold blue"),
    "queued": ("Queued: ready, waiting for a free slot", "bold"),
    "waiting": ("Waiting on other issues", "bold dim"),
    "done": ("Done", "bold green"),
    "blocked": ("Blocked: needs a human", "bold yellow"),
    "incomplete": ("Incomplete: stopped before the end, resumable", "bold magenta"),
    "hitl": ("HITL: afk never starts these", "bold blue"),
}
_COST_WIDTH = 9
_TIME_WIDTH = 6
_REASON_CHARS = 300


def render_board(state: BatchState, issues: Sequence[IssueProgress], *, now: datetime | None = None) -> RenderableType:
    """The live board: the batch on a few header lines, then the issues grouped by state."""
    now = _aware(now) if now is not None else datetime.now(UTC)
    parts: list[RenderableType] = [_header(state, issues, now)]
    id_width = max((len(p.id) for p in issues), default=3)
    by_id = {p.id: p for p in issues}
    for name in BOARD_ORDER:
        group = [p for p in issues if p.state == name]
        if not group:
            continue
        label, style = _SECTION[name]
        parts += [Text(), Text(f"{label} ({len(group)})", style=style)]
        rows: Table | None = None
        for p in group:
            if rows is None:
                rows = _rows(id_width)
                parts.append(rows)
            rows.add_row(Text(p.id), Text(_one_line(p.title)), _info(p, by_id), _issue_cost(p), _issue_time(p, now))
            details = _details(p, issues)
            if details:
                # Under the row at full width: squeezed into the title column a reason is unreadable.
                parts.append(Padding(Group(*details), (0, 0, 0, id_width + 1)))
                rows = None
    if not issues:
        parts += [Text(), Text("no issue has reported progress yet", style="dim")]
    return Group(*parts)


def _rows(id_width: int) -> Table:
    """Issue rows whose fixed-width columns line up from one section to the next."""
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(no_wrap=True, min_width=id_width, style="bold")
    table.add_column(ratio=3, no_wrap=True, overflow="ellipsis")  # title
    table.add_column(ratio=2, no_wrap=True, overflow="ellipsis")  # phase, verdict, blockers
    table.add_column(no_wrap=True, justify="right", width=_COST_WIDTH)
    table.add_column(no_wrap=True, justify="right", width=_TIME_WIDTH)
    return table


def _header(state: BatchState, issues: Sequence[IssueProgress], now: datetime) -> Group:
    cost, known = batch_cost(state, issues)
    finished = _when(state.finished)
    elapsed = _seconds_between(state.started, finished or now)
    head = Text.assemble(
        ("batch ", "dim"),
        (state.batch, "bold"),
        ("  branch ", "dim"),
        state.integration_branch,
        ("  parallel ", "dim"),
        str(state.parallel),
        "\n",
        ("cost ", "dim"),
        (_money(cost), "bold") if known else (_cost_words(cost, known), "bold red"),
        (f" of {_money(state.max_cost)} max" if state.max_cost is not None else "", "dim"),
        ("  until ", "dim") if state.until else "",
        state.until or "",
        ("  finished after " if finished else "  elapsed ", "dim"),
        _duration(elapsed),
    )
    stopping = _stopping(state)
    if stopping:
        head.append_text(Text.assemble("\n", ("stopped: " if finished else "stopping: ", "dim"), (stopping, "yellow")))
    tally = [f"{n} {name}" for name, n in counts(issues).items() if n]
    return Group(head, _Tally(tally, style="dim"))


class _Tally:
    """Items joined with commas, wrapped between items only: "1 incomplete, 1" then "hitl" misleads."""

    def __init__(self, items: list[str], style: str) -> None:
        self.items = items
        self.style = style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        line = ""
        for item in self.items:
            joined = f"{line}, {item}" if line else item
            if line and cell_len(joined) > options.max_width:
                yield Text(line + ",", style=self.style)
                joined = item
            line = joined
        if line:
            yield Text(line, style=self.style)


def _info(p: IssueProgress, by_id: dict[str, IssueProgress]) -> Text:
    if p.state in ("running", "landing"):
        return Text(p.phase or p.state, style="cyan")
    if p.state == "waiting":
        pending = _pending_blockers(p, by_id)
        return Text("waits for " + ", ".join(i for i, _ in pending) if pending else "blockers done", style="dim")
    if p.state == "done":
        parts: list[str] = [p.verdict or "landed"]
        if p.criteria_total is not None:
            parts.append(f"{p.criteria_met if p.criteria_met is not None else '?'}/{p.criteria_total}")
        parts.append(f"{len(p.commits)} commit{'' if len(p.commits) == 1 else 's'}")
        return Text(" ".join(parts), style="green")
    if p.state in ("blocked", "incomplete") and p.phase:
        return Text(f"stopped in {p.phase}", style="dim")
    return Text("")


def _issue_cost(p: IssueProgress) -> Text:
    if not p.cost_known:
        return Text(f"≥{_money(p.cost)}?", style="bold red")
    return Text(_money(p.cost) if p.cost or p.started else "")


def _issue_time(p: IssueProgress, now: datetime) -> str:
    if p.state in ("running", "landing"):
        # The worker records ``elapsed`` when it writes; in between, the clock since it started keeps going.
        return _duration(max(p.elapsed, _seconds_between(p.started, now) or 0.0))
    return _duration(p.elapsed) if p.elapsed or p.started else ""


def _details(p: IssueProgress, issues: Sequence[IssueProgress]) -> list[Text]:
    """Lines under a blocked, incomplete or HITL issue: why, what to do, whom it holds up."""
    if p.state not in ("blocked", "incomplete", "hitl"):
        return []
    lines = []
    if p.reason:
        lines.append(Text.assemble(("why ", "dim"), (_clip(_one_line(p.reason), _REASON_CHARS), "yellow")))
    if p.action:
        lines.append(Text.assemble(("do  ", "dim"), _clip(_one_line(p.action), _REASON_CHARS)))
    held = _holds_up(p, issues)
    if held:
        lines.append(Text.assemble(("holds up ", "dim"), ", ".join(held)))
    return lines


# ---------------------------------------------------------------------------------------- --json


def board_document(state: BatchState, issues: Sequence[IssueProgress]) -> dict[str, Any]:
    """``harness status --json``: the batch, the count per state, the cost, every issue's progress."""
    cost, known = batch_cost(state, issues)
    return {
        "batch": state.model_dump(mode="json"),
        "counts": counts(issues),
        "cost": {"total": cost, "known": known, "max": state.max_cost},
        "issues": [p.model_dump(mode="json") for p in issues],
    }


# ---------------------------------------------------------------------------------------- the report

# Inline Markdown that could turn untrusted text into markup: escaped with a backslash, which CommonMark
# allows before any ASCII punctuation (GitHub and rich render the character itself).
_MD_SPECIAL = str.maketrans({ch: "\\" + ch for ch in "\\`*_[]<>|~$&#!"})


def _md(text: str) -> str:
    """Untrusted text as inert inline Markdown on one line (safe inside a table cell)."""
    return _one_line(text).translate(_MD_SPECIAL)


def _code(text: str) -> str:
    """A branch, sha or command as a code span, unless it would break out of one."""
    flat = _one_line(text)
    return f"`{flat}`" if flat and "`" not in flat else _md(flat)


def _block(text: str, indent: str) -> list[str]:
    """Multi-line untrusted text as a fenced block: its line breaks kept, nothing in it rendered."""
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    lines = kept.strip().splitlines()
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return [f"{indent}{fence}", *(f"{indent}{line}" for line in lines), f"{indent}{fence}"]


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return longest


_DEFAULT_ACTION = {
    "blocked": "read why in the trace, fix what stopped it (the issue, its contract or the code), "
    "then `harness afk --resume`",
    "incomplete": "`harness afk --resume` continues it where it stopped",
    "hitl": "afk never starts a HITL issue: a person does this one and sets its status to done; "
    "the issues it holds up can then run in the next batch",
}


def render_report(state: BatchState, issues: Sequence[IssueProgress]) -> str:
    """The morning report as Markdown: totals, a row per issue, then what needs a human and what landed."""
    started = _when(state.started)
    date = started.date().isoformat() if started else state.started[:10]
    lines = [f"# afk batch {_md(state.batch)} — {_md(date)}", ""]
    lines += _report_summary(state, issues)
    lines += ["", "## Issues", ""]
    lines += _report_table(issues)
    lines += ["", "## Blocked — what a human should do", ""]
    lines += _report_blocked(issues) or ["Nothing is blocked."]
    lines += ["", "## Waiting for a human (HITL)", ""]
    lines += _report_hitl(issues) or ["No HITL issue in this batch."]
    lines += ["", "## Not started", ""]
    lines += _report_not_started(state, issues) or ["Every issue was started."]
    lines += ["", "## Commits", ""]
    lines += _report_commits(issues) or ["No issue landed."]
    return "\n".join(lines) + "\n"


def _report_summary(state: BatchState, issues: Sequence[IssueProgress]) -> list[str]:
    tally = counts(issues)
    cost, known = batch_cost(state, issues)
    finished = _when(state.finished)
    wall = _duration(_seconds_between(state.started, finished or _when(state.updated)))
    headline = (
        f"**{tally['done']} done · {tally['blocked']} blocked · {tally['incomplete']} incomplete · "
        f"{tally['hitl']} waiting for a human (HITL)**"
    )
    extra = [f"{tally['waiting'] + tally['queued']} not started"]
    if tally["running"] + tally["landing"]:
        extra.append(f"{tally['running'] + tally['landing']} still in progress")
    extra += [f"cost {_md(_cost_words(cost, known))}", f"wall time {wall}"]
    lines = [headline + " · " + " · ".join(extra), ""]

    setup = [f"Integration branch {_code(state.integration_branch)} from {_code(state.base[:10])}"]
    setup.append(f"parallel {state.parallel}")
    if state.max_cost is not None:
        setup.append(f"max cost {_md(_money(state.max_cost))}")
    if state.until:
        setup.append(f"until {_md(state.until)}")
    lines.append(" · ".join(setup) + ".")
    stopping = _stopping(state)
    if stopping:
        lines += ["", f"Stopped early: {_md(stopping)}."]
    if not finished:
        lines += [
            "",
            f"The batch has not finished (last update {_md(state.updated)}): this report is a snapshot. "
            "`harness status` shows it live; `harness afk --resume` continues it if it is no longer running.",
        ]
    if tally["done"]:
        lines += ["", f"What landed: {_code(f'git log --oneline {state.base[:10]}..{state.integration_branch}')}"]
    return lines


def _report_table(issues: Sequence[IssueProgress]) -> list[str]:
    if not issues:
        return ["No issue has reported progress."]
    rows = ["| id | title | status | verdict | criteria | commits | cost | time |", "|---|---|---|---|---|---|---|---|"]
    for p in issues:
        criteria = f"{p.criteria_met if p.criteria_met is not None else '?'}/{p.criteria_total}"
        cells = [
            _md(p.id),
            _md(p.title),
            p.state,
            p.verdict or "—",
            criteria if p.criteria_total is not None else "—",
            str(len(p.commits)),
            _md(_cost_words(p.cost, p.cost_known)) if p.cost or p.started or not p.cost_known else "—",
            _duration(p.elapsed) if p.elapsed or p.started else "—",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _item(p: IssueProgress) -> str:
    return f"- **{_md(p.id)} · {_md(p.title)}**"


def _report_blocked(issues: Sequence[IssueProgress]) -> list[str]:
    lines: list[str] = []
    for p in issues:
        if p.state not in ("blocked", "incomplete"):
            continue
        where = f" in {_md(p.phase)}" if p.phase else ""
        lines.append(f"{_item(p)} — {p.state}{where}")
        reason = (p.reason or "").strip()
        if "\n" in reason:
            lines += ["  - why:", "", *_block(reason, "    "), ""]
        else:
            lines.append(f"  - why: {_md(reason) if reason else 'no reason recorded'}")
        lines.append(f"  - do: {_md(p.action) if p.action else _DEFAULT_ACTION[p.state]}")
        held = _holds_up(p, issues)
        if held:
            lines.append(f"  - holds up: {_md(', '.join(held))}")
        pointers = [f"branch {_code(p.branch)}"] if p.branch else []
        pointers += [f"trace {_code(f'harness trace {p.runs[-1]}')}"] if p.runs else []
        if pointers:
            lines.append("  - " + " · ".join(pointers))
    return lines


def _report_hitl(issues: Sequence[IssueProgress]) -> list[str]:
    lines: list[str] = []
    for p in issues:
        if p.state != "hitl":
            continue
        held = _holds_up(p, issues)
        lines.append(_item(p) + (f" — holds up {_md(', '.join(held))}" if held else ""))
        if p.reason:
            lines.append(f"  - why: {_md(p.reason)}")
        lines.append(f"  - do: {_md(p.action) if p.action else _DEFAULT_ACTION['hitl']}")
    return lines


def _report_not_started(state: BatchState, issues: Sequence[IssueProgress]) -> list[str]:
    by_id = {p.id: p for p in issues}
    stopping = _stopping(state)
    lines: list[str] = []
    for p in issues:
        if p.state not in ("waiting", "queued"):
            continue
        pending = _pending_blockers(p, by_id)
        if p.state == "waiting" and pending:
            why = "waiting on " + ", ".join(f"{_md(i)} ({_md(s)})" for i, s in pending)
        elif stopping:
            why = f"stopped before it started: {_md(stopping)}"
        elif not state.finished:
            why = "ready; the batch is still running"
        else:
            why = "never started, and the batch recorded no reason"
        lines.append(f"{_item(p)} — {why}")
    return lines


def _report_commits(issues: Sequence[IssueProgress]) -> list[str]:
    lines: list[str] = []
    for p in issues:
        if p.state != "done":
            continue
        lines.append(_item(p))
        lines += [f"  - {_code(c.sha[:10])} {_md(c.subject)}" for c in p.commits] or ["  - no commits recorded"]
    return lines
