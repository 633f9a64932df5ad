"""Scripted model turns for end-to-end runs of `harness run` against the fake Messages API.

Each helper returns one assistant reply, tagged with the role tool of the agent it answers, so a
step served to the wrong agent fails loudly.
"""

from __future__ import annotations

import json
from typing import Any

from harness.fakeapi import FakeMessagesAPI, Reply, reply, text, tool_use

TEST_FILE = "tests/test_slugify.py"
TESTS = [f"{TEST_FILE}::test_lowercases_and_hyphenates", f"{TEST_FILE}::test_strips_edge_hyphens"]
CRITERIA = [
    {"id": "C1", "behaviour": "slugify('Hello World') returns 'hello-world'", "test": TESTS[0]},
    {"id": "C2", "behaviour": "slugify('  --Hi--  ') returns 'hi'", "test": TESTS[1]},
]
RED_TESTS = """from textkit.slug import slugify


def test_lowercases_and_hyphenates():
    assert slugify("Hello World") == "hello-world"


def test_strips_edge_hyphens():
    assert slugify("  --Hi--  ") == "hi"
"""
IMPLEMENTATION = """import re


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
"""


def propose(criteria: list[dict[str, str]] | None = None, notes: str | None = None) -> Reply:
    fields: dict[str, Any] = {"criteria": criteria or CRITERIA}
    if notes:
        fields["notes"] = notes
    return reply(tool_use("propose_contract", fields), expect_tool="propose_contract")


def review_contract(decision: str = "accept", objections: list[dict[str, str]] | None = None) -> Reply:
    return reply(
        tool_use("review_contract", decision=decision, objections=objections or []),
        expect_tool="review_contract",
    )


def act(expect: str, name: str, **fields: Any) -> Reply:
    """A workspace tool call made by the agent whose role tool is ``expect``."""
    return reply(tool_use(name, fields), expect_tool=expect)


def tests_ready(tests: list[str] | None = None) -> Reply:
    return reply(tool_use("tests_ready", tests=tests or TESTS), expect_tool="tests_ready")


def review_tests(decision: str = "accept", objections: list[dict[str, str]] | None = None) -> Reply:
    return reply(tool_use("review_tests", decision=decision, objections=objections or []), expect_tool="review_tests")


def implementation_ready(note: str | None = None) -> Reply:
    fields = {"note": note} if note else {}
    return reply(tool_use("implementation_ready", fields), expect_tool="implementation_ready")


def submit_verdict(
    verdict: str = "pass",
    statuses: tuple[str, ...] = ("met", "met"),
    findings: list[dict[str, Any]] | None = None,
) -> Reply:
    criteria = [
        {"id": c["id"], "status": s, "evidence": f"checked {c['test']}"}
        for c, s in zip(CRITERIA, statuses, strict=True)
    ]
    return reply(
        tool_use("submit_verdict", verdict=verdict, criteria=criteria, findings=findings or []),
        expect_tool="submit_verdict",
    )


def chatter(expect: str, words: str = "I think the work is done.") -> Reply:
    """An assistant turn that ends without any tool call."""
    return reply(text(words), expect_tool=expect)


def contract_agreed() -> list[Reply]:
    return [propose(), review_contract("accept")]


def red_accepted() -> list[Reply]:
    return [
        act("tests_ready", "write", path=TEST_FILE, content=RED_TESTS),
        tests_ready(),
        review_tests("accept"),
    ]


def green_done() -> list[Reply]:
    return [
        act("implementation_ready", "write", path="textkit/slug.py", content=IMPLEMENTATION),
        implementation_ready(),
    ]


def happy_path() -> list[Reply]:
    return [*contract_agreed(), *red_accepted(), *green_done(), submit_verdict()]


def tool_results(api: FakeMessagesAPI) -> list[str]:
    """Every tool_result text the harness sent back to a model, in order."""
    seen: list[str] = []
    for request in api.requests:
        last = request.body["messages"][-1]
        if last["role"] == "user" and isinstance(last["content"], list):
            for block in last["content"]:
                if block.get("type") == "tool_result":
                    content = block.get("content")
                    seen.append(content if isinstance(content, str) else json.dumps(content))
    return seen
