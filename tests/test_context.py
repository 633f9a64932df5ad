"""The context ceiling (SPEC §9): an agent whose context passes ``[limits] context_ceiling`` goes on in a
fresh context, fed by the original handoff and a summary the harness writes from its own record."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import script as s
from test_cost import breakpoints, configure, events
from test_run import run

from harness.config import default_toml, load_config
from harness.errors import UsageError
from harness.fakeapi import FakeMessagesAPI, Reply

ALREADY_PASSING = (
    "def test_lowercases_and_hyphenates():\n    assert True\n\n\ndef test_strips_edge_hyphens():\n    assert True\n"
)


def huge(step: Reply) -> Reply:
    """``step`` reported as a call whose context was 20,000 tokens (the ceiling in these tests is 8,000)."""
    return dataclasses.replace(
        step, usage={"input_tokens": 19_000, "output_tokens": 50, "cache_read_input_tokens": 1_000}
    )


def text_of(message: dict[str, Any]) -> str:
    return "\n".join(block.get("text", "") for block in message["content"] if block["type"] == "text")


def test_an_agent_over_the_ceiling_continues_in_a_fresh_context_with_a_summary(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    configure(project, "[limits]\ncontext_ceiling = 8000\n")
    api.add(
        *s.contract_agreed(),
        # red, first context: a tool call whose reply reports 20,000 context tokens ...
        huge(s.act("tests_ready", "write", path=s.TEST_FILE, content=ALREADY_PASSING)),
        # ... so this turn runs in a fresh context; it is over the ceiling too, and the harness rejects its red
        huge(s.tests_ready()),
        # a third context gets the rejection in its summary and gets red right
        s.act("tests_ready", "write", path=s.TEST_FILE, content=s.RED_TESTS),
        s.tests_ready(),
        s.review_tests("accept"),
        *s.green_done(),
        s.submit_verdict(),
    )

    result, doc = run(harness, project)

    assert result.exit_code == 0, result.output
    assert api.problems == []  # every request was protocol-valid: no tool_result without its tool_use
    red = [r.body for r in api.requests if any(t["name"] == "tests_ready" for t in r.body["tools"])]
    original = text_of(red[0]["messages"][0])
    assert "Write the failing tests, then call `tests_ready`." in original

    # 1. Mid tool loop: the write's result was pending. The new conversation is one user message: the original
    #    handoff, then the harness's summary, with the pending result folded in as text.
    first_handoff = red[1]["messages"]
    assert len(first_handoff) == 1 and first_handoff[0]["role"] == "user"
    assert [b["type"] for b in first_handoff[0]["content"]] == ["text", "text"]
    assert first_handoff[0]["content"][0]["text"] == original
    summary = first_handoff[0]["content"][1]["text"]
    assert "the previous one reached 20,000 tokens, over this step's ceiling of 8,000" in summary
    assert f"- write {s.TEST_FILE} → ok" in summary
    assert f"Files you wrote or edited: {s.TEST_FILE}" in summary
    assert f"`write {s.TEST_FILE}` returned:" in summary
    assert summary.rstrip().endswith("Continue from here; the step ends when you call `tests_ready`.")
    # The system prompt and the tools are the same, so the fresh context still reads them from the cache.
    assert red[1]["system"] == red[0]["system"] and red[1]["tools"] == red[0]["tools"]

    # 2. At a role call: the harness's answer to `tests_ready` (red rejected) goes into the next summary.
    second = red[2]["messages"]
    assert len(second) == 1
    summary = second[0]["content"][1]["text"]
    assert "REJECTED" in summary and "already passes" in summary
    assert f"`tests_ready {s.TESTS[0]}, {s.TESTS[1]}` returned:" in summary
    assert f"- tests_ready {s.TESTS[0]}, {s.TESTS[1]} → submitted" in summary
    assert all(block["type"] == "text" for block in second[0]["content"])
    assert all(breakpoints(body) <= 4 for body in red)

    trace = events(doc)
    handoffs = [e for e in trace if e["kind"] == "context_handoff"]
    assert [(h["agent"], h["phase"], h["context_tokens"], h["ceiling"]) for h in handoffs] == [
        ("generator", "red", 20_000, 8_000),
        ("generator", "red", 20_000, 8_000),
    ]
    assert handoffs[0]["messages_dropped"] == 3 and handoffs[0]["summary_chars"] == len(
        red[1]["messages"][0]["content"][1]["text"]
    )
    assert doc["peak_context"]["generator/red"] == 20_000
    assert "context 20,000 tokens > ceiling 8,000; continuing in a fresh context" in result.output


def test_under_the_ceiling_the_conversation_keeps_its_history(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    api.add(*s.happy_path())  # default ceiling: 100,000 tokens

    result, doc = run(harness, project)

    assert result.exit_code == 0, result.output
    assert not [e for e in events(doc) if e["kind"] == "context_handoff"]
    red = [r.body for r in api.requests if any(t["name"] == "tests_ready" for t in r.body["tools"])]
    assert [m["role"] for m in red[1]["messages"]] == ["user", "assistant", "user"]
    assert all(0 < peak < 100_000 for peak in doc["peak_context"].values())


def test_the_ceiling_is_a_limits_key(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text("[limits]\ncontext_ceiling = 50000\n")
    assert load_config(tmp_path).limits.context_ceiling == 50_000
    assert "context_ceiling = 100000" in default_toml(["python", "-m", "pytest"])
    (tmp_path / "harness.toml").write_text("[limits]\ncontext_ceiling = 10\n")
    with pytest.raises(UsageError, match="context_ceiling"):  # too small to hold a handoff
        load_config(tmp_path)
