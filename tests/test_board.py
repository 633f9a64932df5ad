"""The afk batch on disk, the live board (`harness status`) and the morning report (`harness report`)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import pytest
from rich.console import Console
from rich.markdown import Markdown

from harness.batch_models import BatchState, CommitInfo, IssueProgress, IssueState
from harness.board import (
    BOARD_ORDER,
    batch_dir,
    board_document,
    find_batch,
    load_batch,
    render_board,
    render_report,
    save_batch,
    save_progress,
    write_report,
)
from harness.errors import UsageError

NOW = datetime(2026, 11, 22, 3, 30, tzinfo=UTC)
LONG_TITLE = "Parse the | separated export format\nand keep the rows in order even when a field holds " + "x" * 90
BLOCKED_REASON = "green failed after 3 fix rounds:\n  tests/test_export.py::test_order FAILED | expected [1, 2]"


def batch_state(**changes: Any) -> BatchState:
    fields: dict[str, Any] = {
        "batch": "afk-20261122-0100",
        "integration_branch": "harness/afk-20261122-0100",
        "base": "0123456789abcdef0123456789abcdef01234567",
        "started": "2026-11-22T01:00:00+00:00",
        "updated": "2026-11-22T03:00:00+00:00",
        "parallel": 2,
        "max_cost": 20.0,
        "until": "06:00",
        "issues": ["001", "002", "003", "004", "005", "006", "007", "008", "009"],
        "cost": 3.0,  # the coordinator wrote it before the workers' latest costs
    }
    return BatchState(**{**fields, **changes})


def every_state() -> list[IssueProgress]:
    """One issue or more in each state, with the awkward values a real night produces."""
    return [
        IssueProgress(
            id="001",
            title="Tokenise words",
            state="done",
            started="2026-11-22T01:00:05+00:00",
            finished="2026-11-22T01:20:00+00:00",
            elapsed=1195,
            cost=1.25,
            verdict="pass",
            criteria_met=4,
            criteria_total=4,
            commits=[
                CommitInfo(sha="aaaaaaaaaa1111111111", subject="test: red for tokenise"),
                CommitInfo(sha="bbbbbbbbbb2222222222", subject="feat: tokenise | split on *spaces*"),
            ],
        ),
        IssueProgress(
            id="002",
            title=LONG_TITLE,
            state="blocked",
            phase="fix-3",
            blocked_by=["001"],
            started="2026-11-22T01:20:10+00:00",
            elapsed=2400,
            cost=0.75,
            cost_known=False,
            verdict="fail",
            criteria_met=2,
            criteria_total=5,
            reason=BLOCKED_REASON,
            action="split the issue: ordering and parsing are two behaviours",
            branch="harness/002-export",
            runs=["20261122-012010-002"],
        ),
        IssueProgress(
            id="003",
            title="Count words",
            state="running",
            phase="green",
            started="2026-11-22T03:00:00+00:00",
            elapsed=60,
            cost=0.4,
        ),
        IssueProgress(
            id="004",
            title="Report the longest word",
            state="landing",
            phase="landing",
            started="2026-11-22T02:00:00+00:00",
            elapsed=3000,
            cost=0.9,
        ),
        IssueProgress(id="005", title="Sort by frequency", state="queued"),
        IssueProgress(id="006", title="Export as CSV", state="waiting", blocked_by=["002", "008"]),
        IssueProgress(
            id="007",
            title="Stem words",
            state="incomplete",
            phase="red",
            started="2026-11-22T02:30:00+00:00",
            elapsed=300,
            cost=0.2,
            reason="the model API was unavailable (529 overloaded) for 10 minutes",
        ),
        IssueProgress(id="008", title="Choose the licence", kind="HITL", state="hitl"),
        IssueProgress(id="009", title="Localise messages", state="waiting", blocked_by=["001"]),
    ]


def write_batch(harness_dir: Path, state: BatchState, issues: list[IssueProgress]) -> Path:
    directory = batch_dir(harness_dir, state.batch)
    save_batch(directory, state)
    for progress in issues:
        save_progress(directory, progress)
    return directory


def board_text(state: BatchState, issues: list[IssueProgress], width: int = 80) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(render_board(state, issues, now=NOW))
    return console.export_text()


def section(markdown: str, heading: str) -> str:
    start = markdown.index(f"## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


# ---------------------------------------------------------------------------------------- files


def test_saved_batch_loads_back_with_issues_in_the_batch_order(tmp_path: Path) -> None:
    issues = every_state()
    stray = IssueProgress(id="000", title="Written by a worker, not listed in batch.json")
    directory = write_batch(tmp_path, batch_state(), [*reversed(issues), stray])
    assert directory == tmp_path / "runs" / "afk-20261122-0100"
    assert (directory / "issues" / "002.json").is_file()

    state, loaded = load_batch(directory)

    assert state == batch_state()
    assert [p.id for p in loaded] == ["001", "002", "003", "004", "005", "006", "007", "008", "009", "000"]
    assert loaded[1] == issues[1]


def test_an_issue_listed_but_not_yet_written_is_left_out(tmp_path: Path) -> None:
    directory = write_batch(tmp_path, batch_state(issues=["001", "002"]), every_state()[:1])
    assert [p.id for p in load_batch(directory)[1]] == ["001"]


def test_an_issue_id_that_cannot_name_a_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot name a file"):
        save_progress(tmp_path, IssueProgress(id="../escape", title="t"))


def test_a_missing_batch_file_names_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        load_batch(tmp_path / "runs" / "afk-x")
    assert str(tmp_path / "runs" / "afk-x" / "batch.json") in caught.value.message
    assert caught.value.hint and "harness afk" in caught.value.hint


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("batch.json", "{not json", "not valid JSON"),
        ("batch.json", '{"batch": "afk-x"}', "field `integration_branch` is required"),
        ("issues/003.json", '{"id": "003", "title": "t", "state": "sleeping"}', "field `state`"),
        ("issues/003.json", '{"id": "004", "title": "t"}', "holds issue `004`"),
        ("issues/003.json", b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_a_corrupt_file_names_the_file_and_what_is_wrong(
    tmp_path: Path, name: str, content: str | bytes, problem: str
) -> None:
    directory = write_batch(tmp_path, batch_state(), every_state()[:1])
    target = directory / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)

    with pytest.raises(UsageError) as caught:
        load_batch(directory)

    assert caught.value.message.startswith(f"{target}: ")
    assert problem in caught.value.message
    assert caught.value.hint
    assert target.read_bytes() == (content if isinstance(content, bytes) else content.encode())


def test_find_batch_by_id_prefix_or_newest(tmp_path: Path) -> None:
    # 22:00 UTC on the 20th: earlier, though its name and its local time both sort after the newer one's
    old = write_batch(tmp_path, batch_state(batch="afk-20261120", started="2026-11-21T03:00:00+05:00"), [])
    new = write_batch(tmp_path, batch_state(batch="afk-0-newest", started="2026-11-21T01:00:00+00:00"), [])
    (tmp_path / "runs" / "20261121-010000-001").mkdir()  # a single run, not a batch
    (tmp_path / "runs" / "20261121-010000-001" / "trace.jsonl").write_text("")

    assert find_batch(tmp_path, None) == new
    assert find_batch(tmp_path, "afk-2026") == old
    assert find_batch(tmp_path, "afk-0-newest") == new


def test_find_batch_exact_id_wins_over_a_longer_one_it_prefixes(tmp_path: Path) -> None:
    short = write_batch(tmp_path, batch_state(batch="afk-1"), [])
    write_batch(tmp_path, batch_state(batch="afk-12"), [])
    assert find_batch(tmp_path, "afk-1") == short


def test_find_batch_refuses_ambiguous_unknown_and_none(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no afk batch yet") as caught:
        find_batch(tmp_path, None)
    assert caught.value.hint == "run `harness afk`"

    write_batch(tmp_path, batch_state(batch="afk-1"), [])
    write_batch(tmp_path, batch_state(batch="afk-2"), [])
    with pytest.raises(UsageError, match="matches 2 batches"):
        find_batch(tmp_path, "afk-")
    with pytest.raises(UsageError, match=r"no afk batch `nightly`.*afk-1") as unknown:
        find_batch(tmp_path, "nightly")
    assert unknown.value.exit_code == 2


def test_the_newest_batch_is_chosen_even_when_its_file_is_corrupt(tmp_path: Path) -> None:
    write_batch(tmp_path, batch_state(batch="afk-old", started="2020-01-01T00:00:00+00:00"), [])
    broken = tmp_path / "runs" / "afk-broken"
    broken.mkdir()
    (broken / "batch.json").write_text("{")

    assert find_batch(tmp_path, None) == broken
    with pytest.raises(UsageError, match=r"afk-broken/batch\.json: not valid JSON"):
        load_batch(broken)


# ---------------------------------------------------------------------------------------- the board


def test_every_issue_state_has_a_place_on_the_board() -> None:
    assert sorted(BOARD_ORDER) == sorted(get_args(IssueState))


def test_board_fits_80_columns_and_groups_issues_by_state() -> None:
    text = board_text(batch_state(), every_state())
    lines = text.splitlines()

    assert max(len(line) for line in lines) <= 80
    headings = [line.split(" (")[0].split(":")[0] for line in lines if re.match(r"^[A-Z]\w+.* \(\d+\)$", line)]
    assert headings == [
        "Running",
        "Landing",
        "Queued",
        "Waiting on other issues",
        "Done",
        "Blocked",
        "Incomplete",
        "HITL",
    ]


def test_board_header_shows_the_batch_and_its_limits() -> None:
    text = board_text(batch_state(stopping="until"), every_state())
    header = " ".join(text.split("\n\n")[0].split())

    assert "batch afk-20261122-0100" in header
    assert "branch harness/afk-20261122-0100" in header
    assert "parallel 2" in header
    # issue 002's cost is unknown, so the batch's is too; 3.50 is what the issue files add up to
    assert "cost unknown (at least $3.50) of $20.00 max" in header
    assert "until 06:00" in header
    assert "elapsed 2h30m" in header
    assert "stopping: --until 06:00 reached, no new issue starts" in header
    assert "1 running, 1 landing, 1 queued, 2 waiting, 1 done, 1 blocked, 1 incomplete, 1 hitl" in header


def test_board_rows_carry_what_each_state_needs() -> None:
    lines = board_text(batch_state(), every_state()).splitlines()

    def row(issue: str) -> str:
        return " ".join(next(line for line in lines if line.startswith(issue + " ")).split())

    assert row("003") == "003 Count words green $0.40 30m00s"  # running: live time since it started
    assert row("004") == "004 Report the longest word landing $0.90 1h30m"
    assert row("001") == "001 Tokenise words pass 4/4 2 commits $1.25 19m55s"
    assert row("006").endswith("waits for 002, 008")
    assert row("009").endswith("blockers done")
    assert row("005") == "005 Sort by frequency"
    blocked = row("002")
    assert re.match(r"002 Parse the \| separated export \w+… stopped", blocked)  # one line, cut to fit
    assert blocked.endswith("stopped in fix-3 ≥$0.75? 40m00s")


def test_board_says_why_an_issue_is_blocked_and_what_to_do() -> None:
    text = " ".join(board_text(batch_state(), every_state()).split())

    assert "why green failed after 3 fix rounds: tests/test_export.py::test_order FAILED | expected [1, 2]" in text
    assert "do split the issue: ordering and parsing are two behaviours holds up 006" in text
    assert "why the model API was unavailable (529 overloaded) for 10 minutes" in text
    assert "Choose the licence holds up 006" in text


def test_board_of_a_finished_batch_shows_its_total_time_and_known_cost() -> None:
    done = every_state()[0]
    state = batch_state(finished="2026-11-22T01:21:00+00:00", stopping=None, cost=1.25, issues=["001"])
    text = " ".join(board_text(state, [done]).split())

    assert "cost $1.25 of $20.00 max" in text
    assert "finished after 21m00s" in text
    assert "stopping" not in text


def test_board_of_a_batch_with_no_progress_yet() -> None:
    text = board_text(batch_state(cost=0.0), [])
    assert "cost $0.00 of $20.00 max" in text
    assert "no issue has reported progress yet" in text


def test_board_document_round_trips_through_json() -> None:
    issues = every_state()
    document = board_document(batch_state(), issues)
    again = json.loads(json.dumps(document))

    assert again == document
    assert BatchState.model_validate(again["batch"]) == batch_state()
    assert [IssueProgress.model_validate(p) for p in again["issues"]] == issues
    assert again["counts"] == {
        "running": 1,
        "landing": 1,
        "queued": 1,
        "waiting": 2,
        "done": 1,
        "blocked": 1,
        "incomplete": 1,
        "hitl": 1,
    }
    assert again["cost"] == {"total": pytest.approx(3.5), "known": False, "max": 20.0}


# ---------------------------------------------------------------------------------------- the report


def report(**changes: Any) -> str:
    state = batch_state(**{"finished": "2026-11-22T06:00:00+00:00", "stopping": "until", **changes})
    return render_report(state, every_state())


def table_rows(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in section(markdown, "Issues").splitlines():
        if line.startswith("| ") and not line.startswith("| id "):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[cells[0]] = cells
    return rows


def test_report_title_and_totals() -> None:
    markdown = report()
    first, _, rest = markdown.partition("\n\n")

    assert first == "# afk batch afk-20261122-0100 — 2026-11-22"
    totals = rest.splitlines()[0]
    assert totals.startswith("**1 done · 1 blocked · 1 incomplete · 1 waiting for a human (HITL)**")
    assert "3 not started" in totals
    assert "cost unknown (at least \\$3.50)" in totals
    assert "wall time 5h00m" in totals
    assert "still in progress" in totals  # 003 and 004 never reached a final state
    assert "Stopped early: --until 06:00 reached, no new issue starts." in markdown
    assert "`git log --oneline 0123456789..harness/afk-20261122-0100`" in markdown


def test_report_total_cost_is_a_number_only_when_every_cost_is_known() -> None:
    issues = [p.model_copy(update={"cost_known": True}) for p in every_state()]
    state = batch_state(finished="2026-11-22T06:00:00+00:00", cost=4.0)
    totals = render_report(state, issues).split("\n\n")[1]
    assert "cost \\$4.00 ·" in totals
    assert "unknown" not in totals

    unknown_batch = render_report(state.model_copy(update={"cost_known": False, "cost": 0.0}), issues)
    assert "cost unknown (at least \\$3.50)" in unknown_batch


def test_report_has_a_row_per_issue_with_escaped_cells() -> None:
    markdown = report()
    rows = table_rows(markdown)

    assert list(rows) == ["001", "002", "003", "004", "005", "006", "007", "008", "009"]
    assert rows["001"] == ["001", "Tokenise words", "done", "pass", "4/4", "2", "\\$1.25", "19m55s"]
    title, *rest = rows["002"][1:]
    assert title.startswith("Parse the \\| separated export format and keep the rows")
    assert rest == ["blocked", "fail", "2/5", "0", "unknown (at least \\$0.75)", "40m00s"]
    assert rows["005"] == ["005", "Sort by frequency", "queued", "—", "—", "0", "—", "—"]
    table = [line for line in section(markdown, "Issues").splitlines() if line.startswith("|")]
    assert len(table) == 2 + 9  # a newline in a title would have split its row


def test_report_says_what_a_human_should_do_about_blocked_and_incomplete_issues() -> None:
    blocked = section(report(), "Blocked — what a human should do")

    assert "- **002 · Parse the \\| separated" in blocked
    assert "— blocked in fix-3" in blocked
    assert "    ```\n    green failed after 3 fix rounds:\n      tests/test_export.py::test_order FAILED" in blocked
    assert "  - do: split the issue: ordering and parsing are two behaviours" in blocked
    assert "  - holds up: 006" in blocked
    assert "  - branch `harness/002-export` · trace `harness trace 20261122-012010-002`" in blocked
    assert "- **007 · Stem words** — incomplete in red" in blocked
    assert "  - why: the model API was unavailable (529 overloaded) for 10 minutes" in blocked
    assert "  - do: `harness afk --resume` continues it where it stopped" in blocked
    assert "001" not in blocked


def test_report_lists_hitl_issues_and_what_they_hold_up() -> None:
    hitl = section(report(), "Waiting for a human (HITL)")
    assert "- **008 · Choose the licence** — holds up 006" in hitl
    assert "afk never starts a HITL issue" in hitl


def test_report_says_why_each_issue_was_not_started() -> None:
    not_started = section(report(), "Not started")

    assert "- **006 · Export as CSV** — waiting on 002 (blocked), 008 (hitl)" in not_started
    assert "- **005 · Sort by frequency** — stopped before it started: --until 06:00 reached" in not_started
    # 009's blocker landed: the clock, not a dependency, kept it from starting
    assert "- **009 · Localise messages** — stopped before it started: --until 06:00 reached" in not_started

    budget = section(report(stopping="budget"), "Not started")
    assert "005 · Sort by frequency** — stopped before it started: --max-cost \\$20.00 reached" in budget


def test_report_lists_the_commits_of_each_landed_issue() -> None:
    commits = section(report(), "Commits")
    assert commits.splitlines()[2:5] == [
        "- **001 · Tokenise words**",
        "  - `aaaaaaaaaa` test: red for tokenise",
        "  - `bbbbbbbbbb` feat: tokenise \\| split on \\*spaces\\*",
    ]
    assert "002" not in commits


def test_report_of_a_quiet_night_says_so_in_every_section() -> None:
    markdown = render_report(batch_state(finished="2026-11-22T01:00:01+00:00", issues=[]), [])
    assert "Nothing is blocked." in markdown
    assert "No HITL issue in this batch." in markdown
    assert "Every issue was started." in markdown
    assert "No issue landed." in markdown


def test_a_reason_cannot_close_its_fence_or_smuggle_markup() -> None:
    sneaky = every_state()[1].model_copy(update={"reason": "line one\n```\n# not a heading\n<script>x</script>"})
    blocked = section(render_report(batch_state(), [sneaky]), "Blocked — what a human should do")
    assert "    ````\n    line one\n    ```\n    # not a heading\n    <script>x</script>\n    ````" in blocked


def test_report_reads_in_a_terminal() -> None:
    console = Console(record=True, width=100, color_system=None)
    console.print(Markdown(report()))
    text = console.export_text()

    assert "Blocked — what a human should do" in text
    assert "Parse the | separated export format" in text
    assert "feat: tokenise | split on *spaces*" in text
    assert "$0.75" in text
    assert "\\" not in text  # every escape rendered away


def test_write_report_writes_report_md_next_to_the_batch(tmp_path: Path) -> None:
    directory = write_batch(tmp_path, batch_state(), every_state())

    path, markdown = write_report(directory)

    assert path == directory / "report.md"
    assert path.read_text() == markdown == render_report(*load_batch(directory))
    assert "The batch has not finished" in markdown
