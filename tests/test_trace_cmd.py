"""`harness trace [RUN]`: a readable, filterable view of what each agent of a run saw and did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import git
import pytest
import script as s
from test_run import run

from harness.fakeapi import FakeMessagesAPI


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the table view; narrower terminals get one line per step


def trace(harness: Any, *args: str) -> Any:
    return harness("trace", *args)


def as_events(result: Any) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    events = json.loads(result.stdout)
    assert isinstance(events, list)
    return events


def event(kind: str, ts: str, **fields: Any) -> dict[str, Any]:
    return {"ts": f"2026-01-02T03:{ts}+00:00", "kind": kind, **fields}


def model_call(
    agent: str, phase: str, turn: int, tools: list[str], cost: float | None, **tokens: int
) -> dict[str, Any]:
    counts = {"input_tokens": 100, "output_tokens": 10, "cache_write_tokens": 0, "cache_read_tokens": 0, **tokens}
    return event(
        "model_call",
        f"00:{turn:02d}.000",
        agent=agent,
        phase=phase,
        model="claude-x" if cost is None else "claude-haiku-4-5",
        turn=turn,
        cost=cost,
        run_cost=cost or 0.0,
        tool_calls=tools,
        stop_reason="tool_use",
        text="",
        **counts,
    )


SMALL_RUN = [
    event("run_started", "00:00.000", run_id="R", issue="007", title="Small", branch="harness/007-small"),
    event("phase", "00:00.500", phase="contract"),
    model_call("generator", "contract", 1, ["read"], 0.01, cache_write_tokens=2_000),
    event(
        "tool_call",
        "00:01.500",
        agent="generator",
        phase="contract",
        tool="read",
        input={"path": "a.py"},
        is_error=False,
        duration=0.01,
        result="1\tx = 1",
    ),
    model_call("generator", "contract", 2, ["propose_contract"], 0.02, cache_read_tokens=2_000),
    event("phase", "01:00.000", phase="red"),
    model_call("generator", "red", 1, ["bash"], None, cache_read_tokens=300),
    event(
        "tool_call",
        "01:01.000",
        agent="generator",
        phase="red",
        tool="bash",
        input={"command": "rm -rf /"},
        is_error=True,
        duration=0.0,
        result="refused: outside the worktree",
    ),
    event("commit", "01:02.000", sha="abcdef1234567890", subject="red: 007 Small"),
]


def repo_with_runs(tmp_path: Path, *runs: tuple[str, list[dict[str, Any]]]) -> Path:
    repo = tmp_path / "repo"
    git.Repo.init(repo)
    for index, (run_id, events) in enumerate(runs):
        path = repo / ".harness" / "runs" / run_id / "trace.jsonl"
        path.parent.mkdir(parents=True)
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        os.utime(path, (1_700_000_000 + index, 1_700_000_000 + index))  # later arguments are newer runs
    return repo


def test_the_latest_run_as_a_table_and_filtered_as_json(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    api.add(*s.happy_path())
    _, doc = run(harness, project)
    repo = str(project)

    view = trace(harness, "--repo", repo)  # no RUN: the latest

    assert view.exit_code == 0, view.output
    out = view.stdout
    assert f"run {doc['run_id']}: issue 001 'Slugify titles for URLs' — PASS" in out
    for step in (
        "started claude-sonnet-5-5; saw the handoff",
        f"write {s.TEST_FILE} ✓",
        f"⇒ tests_ready {s.TESTS[0]}",
        "RED verified: 2 test(s) fail for the right reason",
        "commit ",
        "verdict: pass (2/2 criteria met)",
        "totals per agent",
        "generator/red",
        "evaluator/verdict",
    ):
        assert step in out, step
    assert f"cache reads: {doc['cache_read_share']:.1%} of input-side tokens" in out
    assert f"${doc['cost_usd']:.4f}" in out  # the running total ends at the run's cost

    evaluator = as_events(trace(harness, "--repo", repo, "--agent", "evaluator", "--json"))
    assert evaluator and {e["agent"] for e in evaluator} == {"evaluator"}
    assert {"agent_started", "model_call", "role_call"} <= {e["kind"] for e in evaluator}

    red = as_events(trace(harness, "--repo", repo, "--phase", "red", "--json"))
    kinds = [e["kind"] for e in red]
    assert "red_verified" in kinds and "commit" in kinds and "green_verified" not in kinds
    assert {e.get("phase", "red") for e in red} == {"red"}

    writes = as_events(trace(harness, "--repo", repo, "--tool", "write", "--json"))
    assert [e["kind"] for e in writes] == ["model_call", "tool_call", "model_call", "tool_call"]
    assert [e["input"]["path"] for e in writes if e["kind"] == "tool_call"] == [s.TEST_FILE, "textkit/slug.py"]

    both = as_events(
        trace(harness, "--repo", repo, "--agent", "generator", "--phase", "green", "--tool", "write", "--json")
    )
    assert [e["kind"] for e in both] == ["model_call", "tool_call"] and both[1]["input"]["path"] == "textkit/slug.py"


def test_a_run_is_named_by_id_prefix_or_path(harness: Any, tmp_path: Path) -> None:
    older = [{**e, "run_id": "20260101-000000-007"} if e["kind"] == "run_started" else e for e in SMALL_RUN]
    repo = repo_with_runs(tmp_path, ("20260101-000000-007", older), ("20260102-000000-008", SMALL_RUN[:3]))

    latest = as_events(trace(harness, "--repo", str(repo), "--json"))
    assert len(latest) == 2  # the newer run; `phase` markers are not steps
    by_prefix = as_events(trace(harness, "20260101", "--repo", str(repo), "--json"))
    assert by_prefix[0]["run_id"] == "20260101-000000-007"
    by_id = as_events(trace(harness, "20260102-000000-008", "--repo", str(repo), "--json"))
    assert by_id == latest
    path = repo / ".harness" / "runs" / "20260101-000000-007" / "trace.jsonl"
    assert as_events(trace(harness, str(path), "--json")) == by_prefix


def test_a_bad_run_exits_2_listing_the_known_runs(harness: Any, tmp_path: Path) -> None:
    repo = repo_with_runs(tmp_path, ("20260101-000000-007", SMALL_RUN), ("20260102-000000-008", SMALL_RUN))

    unknown = trace(harness, "20251231", "--repo", str(repo))
    assert unknown.exit_code == 2
    assert "no run `20251231`" in unknown.output
    assert "known runs, newest first: 20260102-000000-008, 20260101-000000-007" in unknown.output

    ambiguous = trace(harness, "2026", "--repo", str(repo))
    assert ambiguous.exit_code == 2 and "`2026` matches 2 runs" in ambiguous.output

    missing = trace(harness, str(tmp_path / "nowhere" / "trace.jsonl"))
    assert missing.exit_code == 2 and "no trace file there" in missing.output

    empty = tmp_path / "empty"
    git.Repo.init(empty)
    none_yet = trace(harness, "--repo", str(empty))
    assert none_yet.exit_code == 2 and "no runs yet" in none_yet.output


def test_steps_show_tokens_cost_a_running_total_and_an_unknown_cost(harness: Any, tmp_path: Path) -> None:
    repo = repo_with_runs(tmp_path, ("R", SMALL_RUN))

    view = trace(harness, "--repo", str(repo))

    assert view.exit_code == 0, view.output
    lines = view.stdout.splitlines()
    second = next(line for line in lines if "propose_contract" in line)
    # 100 input + 2,000 cache read = 2,100 in; 10 out; $0.02 for the call; $0.03 so far.
    assert "2,100" in second and "2,000/0" in second and "$0.0200" in second and "$0.0300" in second
    unpriced = next(line for line in lines if "model → bash" in line)
    assert " ? " in unpriced and "≥$0.0300 + ?" in unpriced  # never a zero for an unpriced call
    assert "bash rm -rf / ✗ refused: outside the worktree" in view.stdout
    assert "+1m01s" in view.stdout  # time since the run started
    footer = view.stdout[view.stdout.index("totals per agent") :]
    assert "generator/contract" in footer and "generator/red" in footer
    # cache reads 2,300 of 100 + 2,000 + 100 + 2,000 + 100 + 300 = 4,600 input-side tokens
    assert "cache reads: 50.0% of input-side tokens" in view.stdout
    assert "cost UNKNOWN for model(s) with no price: claude-x" in view.stdout


def test_narrow_terminals_get_one_line_per_step(harness: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    repo = repo_with_runs(tmp_path, ("R", SMALL_RUN))

    view = trace(harness, "--repo", str(repo), "--agent", "generator", "--phase", "contract")

    assert view.exit_code == 0, view.output
    assert "generator/contract #2  model → propose_contract  [2,100 in (2,000/0 cache r/w) / 10 out" in view.stdout
    assert "generator/red" not in view.stdout.split("totals per agent")[0]


def test_a_filter_that_matches_nothing_says_what_the_run_has(harness: Any, tmp_path: Path) -> None:
    repo = repo_with_runs(tmp_path, ("R", SMALL_RUN))

    result = trace(harness, "--repo", str(repo), "--tool", "grep", "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert "no events match" in result.stderr
    assert "agents generator, harness; phases contract, red; tools bash, propose_contract, read" in result.stderr


def test_trace_starts_without_the_model_sdk(tmp_path: Path) -> None:
    repo = repo_with_runs(tmp_path, ("R", SMALL_RUN))
    code = (
        "import sys\n"
        "from harness.cli import main\n"
        f"sys.argv = ['harness', 'trace', '--repo', {str(repo)!r}, '--json']\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print('anthropic' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip().splitlines()[-1] == "False"
