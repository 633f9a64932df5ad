"""A model for `harness afk` tests: answers any agent of any issue from what the request shows, so issues
can run in parallel, be killed and resumed, in any order.

Issue N ("feature N") asks for ``textkit/feature_N.py`` with ``feature_N()`` returning N, proved by
``tests/test_feature_N.py::test_feature_N``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from harness.fakeapi import Reply, reply, tool_use

_ISSUE = re.compile(r"Issue (\d+):")


def feature_issue(number: int, *, blocked_by: list[str] | None = None, kind: str = "AFK") -> str:
    blockers = f"blocked_by: [{', '.join(repr(b) for b in blocked_by)}]\n" if blocked_by else ""
    return (
        f"---\nid: \"{number:03d}\"\ntitle: Feature {number}\nkind: {kind}\n{blockers}---\n\n"
        f"Add `feature_{number}()` in `textkit.feature_{number}`.\n\n## Acceptance criteria\n\n"
        f"- [ ] `feature_{number}()` returns {number}\n"
    )


def add_feature_issues(project: Path, specs: dict[int, list[str]], *, hitl: tuple[int, ...] = ()) -> None:
    """Replace the project's issues with feature issues (number → blocked_by ids) and commit them."""
    issues = project / ".harness" / "issues"
    for old in issues.glob("*.md"):
        old.unlink()
    for number, blockers in specs.items():
        kind = "HITL" if number in hitl else "AFK"
        (issues / f"{number:03d}-feature-{number}.md").write_text(
            feature_issue(number, blocked_by=blockers, kind=kind), encoding="utf-8"
        )
    subprocess.run(["git", "add", "-A"], cwd=project, check=True, capture_output=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "issues"], cwd=project, check=True
    )


def _text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "\n".join(block.get("text", "") for block in content if isinstance(block, dict))


def respond(body: dict[str, Any]) -> Reply:
    tools = {tool["name"] for tool in body.get("tools") or []}
    messages = body["messages"]
    match = _ISSUE.search(_text(messages[0]))
    assert match, "no issue in the handoff"
    number = int(match[1])
    test_id = f"tests/test_feature_{number}.py::test_feature_{number}"
    answered = sum(1 for m in messages if m["role"] == "assistant")
    if "propose_contract" in tools:
        criterion = {"id": "C1", "behaviour": f"feature_{number}() returns {number}", "test": test_id}
        return reply(tool_use("propose_contract", criteria=[criterion]))
    if "review_contract" in tools:
        return reply(tool_use("review_contract", decision="accept", objections=[]))
    if "tests_ready" in tools:
        if answered == 0:
            test = (
                f"from textkit.feature_{number} import feature_{number}\n\n\n"
                f"def test_feature_{number}():\n    assert feature_{number}() == {number}\n"
            )
            return reply(tool_use("write", path=f"tests/test_feature_{number}.py", content=test))
        return reply(tool_use("tests_ready", tests=[test_id]))
    if "review_tests" in tools:
        return reply(tool_use("review_tests", decision="accept", objections=[]))
    if "implementation_ready" in tools:
        if answered == 0:
            code = f"def feature_{number}() -> int:\n    return {number}\n"
            return reply(tool_use("write", path=f"textkit/feature_{number}.py", content=code))
        return reply(tool_use("implementation_ready"))
    if "submit_verdict" in tools:
        return reply(
            tool_use(
                "submit_verdict",
                verdict="pass",
                criteria=[{"id": "C1", "status": "met", "evidence": f"ran {test_id}"}],
                findings=[],
            )
        )
    raise AssertionError(f"no scripted answer for tools {sorted(tools)}")


# The pipeline phase each role tool belongs to, and how many model calls ``respond`` takes to get through
# each phase of an issue: contract = propose + review; red = write the test + tests_ready + test review;
# green = write the code + implementation_ready; verdict = one submit_verdict. Baseline only runs the suite.
PHASE_OF_ROLE = {
    "propose_contract": "contract",
    "review_contract": "contract",
    "tests_ready": "red",
    "review_tests": "red",
    "implementation_ready": "green",
    "submit_verdict": "verdict",
}
CALLS_PER_PHASE = {"baseline": 0, "contract": 2, "red": 3, "green": 2, "verdict": 1}


def phase_of(body: dict[str, Any]) -> tuple[int, str]:
    """(issue number, role tool) of a recorded request: which phase of which issue it belongs to."""
    tools = {tool["name"] for tool in body.get("tools") or []}
    match = _ISSUE.search(_text(body["messages"][0]))
    role = next(name for name in PHASE_OF_ROLE if name in tools)
    return (int(match[1]) if match else 0), role
