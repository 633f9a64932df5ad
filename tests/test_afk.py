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


# --------------------------------------------------------------------------- landing conflicts

REGISTRY = "textkit/registry.py"


def registry_model(resolve: bool) -> Any:
    """Features 7 and 8 both create textkit/registry.py, so the second to land conflicts. Sent back, the
    generator either resolves it (both features listed) or keeps only its own line (which breaks 7)."""

    def respond(body: dict[str, Any]) -> Any:
        from harness.fakeapi import reply, tool_use

        number, role = afkmodel.phase_of(body)
        handoff = afkmodel._text(body["messages"][0])
        answered = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if role == "tests_ready" and answered == 0:
            test = (
                f"from textkit.registry import FEATURES\n\n\ndef test_feature_{number}():\n"
                f"    assert {number} in FEATURES\n"
            )
            return reply(tool_use("write", path=f"tests/test_feature_{number}.py", content=test))
        if role == "implementation_ready" and answered == 0:
            if "could not land" in handoff:
                content = "FEATURES = [7, 8]\n" if resolve else f"FEATURES = [{number}]\n"
            else:
                content = f"FEATURES = [{number}]\n"
            return reply(tool_use("write", path=REGISTRY, content=content))
        return afkmodel.respond(body)

    return respond


@pytest.mark.parametrize("resolve", [True, False], ids=["resolved", "not-resolved"])
def test_a_conflict_goes_back_to_the_generator_once(
    harness: Any, project: Path, api: FakeMessagesAPI, resolve: bool
) -> None:
    api.responder = registry_model(resolve)
    afkmodel.add_feature_issues(project, {7: [], 8: []})

    result, doc = afk(harness, project, "--parallel", "2")

    assert api.problems == []
    states = {i["id"]: i for i in doc["issues"]}
    landed_first, second = sorted(states.values(), key=lambda i: i["state"] != "done" or len(i["commits"]))
    reworked = [i for i in states.values() if any("(land-fix)" in c["subject"] for c in i["commits"])]
    assert len(reworked) == 1, doc  # exactly one issue was sent back, once
    if resolve:
        assert result.exit_code == 0, result.output
        assert {i["state"] for i in states.values()} == {"done"}
        repo = git.Repo(project)
        registry = repo.git.show(f"harness/{doc['batch']['batch']}:{REGISTRY}")
        assert registry.strip() == "FEATURES = [7, 8]"
    else:
        assert result.exit_code == 1, result.output
        blocked = reworked[0]
        assert blocked["state"] == "blocked" and blocked["reason"].startswith("could not land (red)")
        assert blocked["action"] and "by hand" in blocked["action"]
        other = next(i for i in states.values() if i is not blocked)
        assert other["state"] == "done"
    del landed_first, second


# --------------------------------------------------------------------------- stopping: budget, --until


def test_the_batch_budget_stops_the_batch_and_resume_finishes_it(
    harness: Any, project: Path, model: FakeMessagesAPI
) -> None:
    afkmodel.add_feature_issues(project, {2: [], 3: []})

    result, doc = afk(harness, project, "--max-cost", "0.001")

    assert result.exit_code == 3, result.output
    assert doc["batch"]["stopping"] == "budget"
    states = {i["id"]: i["state"] for i in doc["issues"]}
    assert "incomplete" in states.values() and "done" not in states.values()
    # $0.001 cannot pay for the first call's prompt: refused before it is sent, nothing spent
    assert len(model.requests) == 0 and doc["batch"]["cost"] == 0
    report = Path(doc["report"]).read_text(encoding="utf-8")
    assert "--max-cost" in report

    again, doc = afk(harness, project, "--resume", "--max-cost", "100")

    assert again.exit_code == 0, again.output
    assert {i["state"] for i in doc["issues"]} == {"done"}


def test_until_stops_starting_issues(harness: Any, project: Path, model: FakeMessagesAPI) -> None:
    from datetime import datetime, timedelta

    afkmodel.add_feature_issues(project, {2: [], 3: [], 4: []})
    soon = (datetime.now().astimezone() + timedelta(seconds=3)).isoformat(timespec="seconds")

    result, doc = afk(harness, project, "--until", soon)

    assert result.exit_code == 3, result.output
    assert doc["batch"]["stopping"] == "until"
    states = [i["state"] for i in doc["issues"]]
    assert states.count("done") >= 1 and ("waiting" in states or "queued" in states)
    not_started = [i for i in doc["issues"] if i["state"] == "waiting"]
    assert all(i["started"] is None for i in not_started)


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_before_anything_durable(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    afkmodel.add_feature_issues(project, {2: ["009"]})

    unknown, _ = afk(harness, project)

    assert unknown.exit_code == 2 and "009" in unknown.stderr
    assert not (project / ".harness" / "state").exists() and not (project / ".harness" / "runs").exists()
    bad_until, _ = afk(harness, project, "--until", "7 am")
    assert bad_until.exit_code == 2 and "HH:MM" in bad_until.stderr
    afkmodel.add_feature_issues(project, {2: []})
    nothing, _ = afk(harness, project, "--resume")
    assert nothing.exit_code == 2 and "harness afk" in nothing.stderr
    assert api.requests == []


# --------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_twice_stops_at_a_safe_point_and_resume_finishes(
    harness: Any, project: Path, model: FakeMessagesAPI, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    model.delay = 0.3
    afkmodel.add_feature_issues(project, {2: [], 3: []})
    log = (tmp_path / "afk.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "afk", "--repo", str(project)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
        start_new_session=True,
    )
    try:
        progress = project / ".harness" / "runs"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            '"running"' in p.read_text() for p in progress.glob("*/issues/*.json")
        ):
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGINT)  # once: start nothing new
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGINT)  # twice: stop the running agents before their next model call
        assert proc.wait(timeout=120) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    states = sorted(json.loads(p.read_text())["state"] for p in progress.glob("*/issues/*.json"))
    assert states == ["incomplete", "waiting"], (tmp_path / "afk.log").read_text()

    result, doc = afk(harness, project, "--resume")

    assert result.exit_code == 0, result.output
    assert {i["state"] for i in doc["issues"]} == {"done"}


def test_a_batch_left_by_another_state_version_starts_its_issues_over(
    harness: Any, project: Path, model: FakeMessagesAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.afk as afk_module

    afkmodel.add_feature_issues(project, {2: []})
    with monkeypatch.context() as patch:
        patch.setattr(afk_module, "STATE_VERSION", "harness-state-0")
        first, _ = afk(harness, project, "--max-cost", "0.001")  # stops after the first model call
    assert first.exit_code == 3, first.output
    calls = len(model.requests)

    result, doc = afk(harness, project, "--resume", "--max-cost", "100")

    assert result.exit_code == 0, result.output
    assert {i["state"] for i in doc["issues"]} == {"done"}
    roles = [afkmodel.phase_of(r.body)[1] for r in model.requests[calls:]]
    assert roles[0] == "propose_contract"  # the old checkpoint was not trusted: the contract phase ran again


def test_an_issue_over_its_own_budget_is_blocked_with_its_work_kept(
    harness: Any, project: Path, model: FakeMessagesAPI
) -> None:
    afkmodel.add_feature_issues(project, {2: []})
    with (project / "harness.toml").open("a", encoding="utf-8") as config:
        config.write("\n[budget]\nmax_cost_per_issue = 0.001\n")

    result, doc = afk(harness, project)

    assert result.exit_code == 1, result.output
    (issue,) = doc["issues"]
    assert issue["state"] == "blocked" and issue["reason"].startswith("budget:")
    assert "max_cost_per_issue" in issue["action"]
    assert status_of(project, "002") == "blocked"
    assert git.Repo(project).git.branch("--list", "harness/afk-*-002-*")  # the branch is kept


# --------------------------------------------------------------------------- input errors up front, nothing started


def _nothing_started(project: Path) -> None:
    assert not list((project / ".harness").glob("runs/*/batch.json"))
    assert not [b for b in git.Repo(project).branches if b.name.startswith("harness/")]


def test_a_dependency_cycle_is_an_input_error_naming_it(harness: Any, project: Path, model: FakeMessagesAPI) -> None:
    afkmodel.add_feature_issues(project, {2: ["003"], 3: ["002"], 4: []})
    result, _ = afk(harness, project)
    assert result.exit_code == 2, result.output
    assert "002 → 003 → 002" in result.output or "003 → 002 → 003" in result.output
    assert model.requests == []
    _nothing_started(project)


def test_an_until_already_past_starts_nothing(harness: Any, project: Path, model: FakeMessagesAPI) -> None:
    from datetime import datetime, timedelta

    afkmodel.add_feature_issues(project, {2: []})
    past = (datetime.now().astimezone() - timedelta(minutes=5)).isoformat(timespec="seconds")
    result, _ = afk(harness, project, "--until", past)
    assert result.exit_code == 2 and "already past" in result.output, result.output
    _nothing_started(project)


def test_a_readme_in_the_issues_folder_is_not_an_issue(harness: Any, project: Path, model: FakeMessagesAPI) -> None:
    afkmodel.add_feature_issues(project, {2: []})
    (project / ".harness" / "issues" / "README.md").write_text("# Our issues\n\nWritten by `harness slice`.\n")
    result, doc = afk(harness, project)
    assert result.exit_code == 0, result.output
    assert [i["id"] for i in doc["issues"]] == ["002"]


def test_resume_keeps_the_batchs_parallel(harness: Any, project: Path, model: FakeMessagesAPI) -> None:
    afkmodel.add_feature_issues(project, {2: [], 3: []})
    result, _ = afk(harness, project, "--parallel", "2", "--max-cost", "0.001")
    assert result.exit_code == 3, result.output  # stopped by the budget: resumable
    batch = next(project.glob(".harness/runs/*/batch.json"))
    assert json.loads(batch.read_text())["parallel"] == 2
    afk(harness, project, "--resume", "--max-cost", "100")
    assert json.loads(batch.read_text())["parallel"] == 2  # not the CLI's default of 1
