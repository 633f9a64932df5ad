"""A scripted generator tries the cheats users of peer tools complain about, one per test. Each is
caught, the generator is told why, and the run ends correctly (recovered, or blocked) with nothing
committed that breaks the rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import git
import pytest
import script as s
from test_run import BRANCH, run, tool_results

from harness.fakeapi import FakeMessagesAPI
from harness.pipeline import Settlement, prepare, run_issue

GREEN = "implementation_ready"


def green_commit(project: Path) -> git.Commit | None:
    return next((c for c in git.Repo(project).iter_commits(BRANCH) if c.summary.startswith("green:")), None)


def blob(commit: git.Commit, path: str) -> str:
    return (commit.tree / path).data_stream.read().decode()


def rejections(api: FakeMessagesAPI) -> list[str]:
    return [r for r in tool_results(api) if r.startswith("REJECTED")]


def test_adding_a_skip_marker_is_caught_and_undone(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    skip = '@pytest.mark.skip(reason="flaky")\ndef test_initials():'
    api.add(
        *s.contract_agreed(),
        *s.red_accepted(),
        *s.green_done()[:1],
        s.act(
            GREEN,
            "edit",
            path="tests/test_words.py",
            old_string="def test_initials():",
            new_string="import pytest\n\n\n" + skip,
        ),
        s.implementation_ready(),
        s.act(
            GREEN,
            "edit",
            path="tests/test_words.py",
            old_string="import pytest\n\n\n" + skip,
            new_string="def test_initials():",
        ),
        s.implementation_ready(),
        s.submit_verdict(),
    )
    result, _doc = run(harness, project)
    assert result.exit_code == 0, result.output
    (rejection,) = rejections(api)
    assert "HG004 skip-added at tests/test_words.py" in rejection and "Remove the marker" in rejection
    assert "skip" not in blob(green_commit(project), "tests/test_words.py")


def test_deselecting_a_test_in_config_is_caught(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    deselect = (
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\naddopts = "--deselect tests/test_words.py::test_initials"\n'
    )
    original = '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    api.add(
        *s.contract_agreed(),
        *s.red_accepted(),
        *s.green_done()[:1],
        s.act(GREEN, "edit", path="pyproject.toml", old_string=original, new_string=deselect),
        s.implementation_ready(),
        s.act(GREEN, "edit", path="pyproject.toml", old_string=deselect, new_string=original),
        s.implementation_ready(),
        s.submit_verdict(),
    )
    result, _ = run(harness, project)
    assert result.exit_code == 0, result.output
    (rejection,) = rejections(api)
    assert "HG005 test-selection-changed at pyproject.toml" in rejection
    assert "--deselect" not in blob(green_commit(project), "pyproject.toml")


def test_a_config_change_the_contract_allows_goes_through(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    allow = [{"rule": "HG005", "path": "pyproject.toml", "reason": "the issue adds doctest collection"}]
    original = '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    changed = '[tool.pytest.ini_options]\ntestpaths = ["tests", "textkit"]\n'
    api.add(
        s.reply(s.tool_use("propose_contract", criteria=s.CRITERIA, allow=allow), expect_tool="propose_contract"),
        s.review_contract("accept"),
        *s.red_accepted(),
        *s.green_done()[:1],
        s.act(GREEN, "edit", path="pyproject.toml", old_string=original, new_string=changed),
        s.implementation_ready(),
        s.submit_verdict(),
    )
    result, doc = run(harness, project)
    assert result.exit_code == 0, result.output
    assert rejections(api) == []
    assert '"textkit"' in blob(green_commit(project), "pyproject.toml")
    contract = (Path(doc["worktree"]) / ".harness" / "contracts" / "001.md").read_text()
    assert "rule: HG005" in contract


def test_editing_the_agreed_contract_is_caught_and_never_committed(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    weaken = "sed -i \"s/returns 'hi'/returns anything/\" .harness/contracts/001.md"
    api.add(
        *s.contract_agreed(),
        *s.red_accepted(),
        # the file tools refuse the harness's files outright ...
        s.act(GREEN, "write", path=".harness/contracts/001.md", content="criteria: []\n"),
        # ... so it tries the shell
        s.act(GREEN, "bash", command=weaken),
        *s.green_done(),
        s.act(GREEN, "bash", command="git checkout HEAD -- .harness/contracts/001.md"),
        s.implementation_ready(),
        s.submit_verdict(),
    )
    result, _ = run(harness, project)
    assert result.exit_code == 0, result.output
    assert any("belongs to the harness" in r for r in tool_results(api))
    (rejection,) = rejections(api)
    assert "HG008 contract-edited" in rejection and "Restore the contract file" in rejection
    contract = blob(green_commit(project), ".harness/contracts/001.md")
    assert "returns anything" not in contract and "frozen_tests" in contract


def test_deleting_a_failing_test_ends_blocked_with_nothing_green_committed(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    without = s.RED_TESTS.split("\n\n\ndef test_strips_edge_hyphens")[0] + "\n"
    api.add(
        *s.contract_agreed(),
        *s.red_accepted(),
        s.act(GREEN, "bash", command=f"cat > {s.TEST_FILE} <<'EOF'\n{without}EOF"),
        s.act(GREEN, "write", path="textkit/slug.py", content="def slugify(text):\n    return text.lower()\n"),
        *[s.implementation_ready() for _ in range(3)],
    )
    result, doc = run(harness, project)
    assert result.exit_code == 1, result.output
    assert doc["outcome"] == "blocked" and "stuck" in doc["reason"]
    first = rejections(api)[0]
    assert "HG009 frozen-test-edited at tests/test_slugify.py" in first
    assert "test_strips_edge_hyphens: was not collected" in first
    assert green_commit(project) is None


def test_no_agreement_without_a_person_makes_the_issue_hitl(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    objection = [{"criterion": "C2", "problem": "too vague", "required_change": "name the characters"}]
    api.add(*[step for _ in range(3) for step in (s.propose(), s.review_contract("revise", objection))])
    result, doc = run(harness, project)
    assert result.exit_code == 1, result.output
    assert doc["outcome"] == "blocked" and "HITL" in doc["reason"] and "too vague" in doc["reason"]
    issue = (project / ".harness" / "issues" / "001-slugify.md").read_text()
    assert "kind: HITL" in issue and "status: blocked" in issue
    assert "title: Slugify titles for URLs" in issue  # everything else kept
    contract = (Path(doc["worktree"]) / ".harness" / "contracts" / "001.md").read_text()
    assert "status: escalated" in contract


@pytest.mark.parametrize("action", ["accept", "rule"])
def test_a_person_settles_an_escalated_contract(project: Path, api: FakeMessagesAPI, action: str) -> None:
    objection = [{"criterion": "C2", "problem": "too vague", "required_change": "name the characters"}]
    steps = [step for _ in range(3) for step in (s.propose(), s.review_contract("revise", objection))]
    if action == "rule":
        steps += [s.propose(notes="followed the ruling"), s.review_contract("accept")]
    api.add(*steps, *s.red_accepted(), *s.green_done(), s.submit_verdict())
    asked: list[int] = []

    def settle(contract: Any) -> Settlement:
        asked.append(contract.round)
        return Settlement(action, "C2 is precise enough: edge hyphens and spaces")

    result = run_issue(prepare(project, "001"), settle=settle)
    assert result.outcome == "pass", result.reason
    assert asked == [3]
    contract = (result.worktree / ".harness" / "contracts" / "001.md").read_text()
    assert "C2 is precise enough" in contract
    if action == "rule":
        ruled = [r for r in api.requests if "C2 is precise enough" in json.dumps(r.body["messages"][-1])]
        assert {t["name"] for r in ruled for t in r.body["tools"]} >= {"propose_contract", "review_contract"}
    else:
        assert "reviewer: user" in contract
