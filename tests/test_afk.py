"""`harness afk` end to end: the real CLI, DBOS on SQLite, the real SDK against the fake Messages API, real
worktrees, real pytest runs, a real lander."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import afkmodel
import git
import pytest

from harness.artifacts import load_issue
from harness.fakeapi import FakeMessagesAPI
from harness.testrunner import run_tests


@pytest.fixture
def model(api: FakeMessagesAPI) -> FakeMessagesAPI:
    api.responder = afkmodel.respond
    return api


def afk(harness: Any, project: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    result = harness("afk", "--repo", str(project), "--json", *args)
    document = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result, document


def status_of(project: Path, issue_id: str) -> str:
    return load_issue(next((project / ".harness" / "issues").glob(f"{issue_id}-*.md"))).status


def test_a_batch_lands_ready_issues_in_dependency_order(harness: Any, project: Path, model: FakeMessagesAPI) -> None:
    afkmodel.add_feature_issues(project, {2: [], 3: ["002"], 4: []}, hitl=(4,))
    user_head = git.Repo(project).head.commit.hexsha

    result, doc = afk(harness, project)

    assert result.exit_code == 0, result.output
    assert model.problems == []
    states = {i["id"]: i["state"] for i in doc["issues"]}
    assert states == {"002": "done", "003": "done", "004": "hitl"}
    assert status_of(project, "002") == "done" and status_of(project, "003") == "done"
    assert status_of(project, "004") == "todo"  # HITL: never started
    repo = git.Repo(project)
    assert repo.head.commit.hexsha == user_head  # the user's branch never moves
    branch = doc["batch"]["integration_branch"] if isinstance(doc["batch"], dict) else f"harness/{doc['batch']}"
    subjects = [c.summary for c in repo.iter_commits(branch)]
    landings = [s for s in subjects if s.startswith("land:")]
    assert landings == ["land: 003 Feature 3", "land: 002 Feature 2"]  # 003 waited for 002
    # The integration branch is green with both features.
    with_both = project.parent / "check"
    repo.git.worktree("add", "--detach", str(with_both), branch)
    report = run_tests(with_both, ["python", "-m", "pytest"])
    assert report.ran and not report.failed() and {
        "tests/test_feature_2.py::test_feature_2",
        "tests/test_feature_3.py::test_feature_3",
    } <= report.passed()
    assert Path(doc["report"]).is_file()
