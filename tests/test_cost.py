"""Cost, caching and budgets (SPEC §9) through `harness run`, the real SDK and the fake Messages API.

The prices in these tests are Anthropic's published list prices per million tokens; the expected
costs are worked out by hand here, never with ``harness.pricing``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import script as s
from test_run import run

from harness.fakeapi import FakeMessagesAPI, Reply


def configure(project: Path, text: str) -> None:
    (project / "harness.toml").write_text((project / "harness.toml").read_text() + "\n" + text)


def billed(step: Reply, input: int, output: int, cache_write: int, cache_read: int) -> Reply:
    """``step`` with the usage the fake reports for it set explicitly."""
    usage = {
        "input_tokens": input,
        "output_tokens": output,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
    }
    return dataclasses.replace(step, usage=usage)


def events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(doc["trace"]).read_text().splitlines()]


def breakpoints(body: dict[str, Any]) -> int:
    """How many cache_control markers a request carries (the API allows 4)."""
    blocks = [*body.get("tools", []), *body.get("system", [])]
    for message in body["messages"]:
        if isinstance(message["content"], list):
            blocks += message["content"]
    return sum(1 for block in blocks if "cache_control" in block) + ("cache_control" in body)


def test_the_run_cost_is_the_hand_computed_sum_of_every_call(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    configure(project, '[models]\ngenerator = "claude-haiku-4-5"\nevaluator = "claude-opus-4-5"\n')
    propose, review_contract = s.contract_agreed()
    write_tests, tests_ready, review_tests = s.red_accepted()
    write_code, implementation_ready = s.green_done()
    api.add(
        billed(propose, 1_000, 200, 4_000, 0),  # generator
        billed(review_contract, 1_500, 300, 5_000, 0),  # evaluator
        billed(write_tests, 500, 800, 3_000, 2_000),  # generator
        billed(tests_ready, 300, 100, 900, 5_000),  # generator
        billed(review_tests, 800, 150, 2_000, 5_000),  # evaluator
        billed(write_code, 400, 1_200, 2_500, 2_000),  # generator
        billed(implementation_ready, 200, 50, 1_300, 4_500),  # generator
        billed(s.submit_verdict(), 2_000, 600, 3_000, 7_000),  # evaluator
    )

    result, doc = run(harness, project)

    assert result.exit_code == 0, result.output
    # Generator, Claude Haiku 4.5: $1 input, $5 output, $1.25 cache write (5 min), $0.10 cache read per MTok.
    #   input        1000 + 500 + 300 + 400 + 200    =  2,400 tokens x $1.00 =  2,400
    #   output        200 + 800 + 100 + 1200 + 50    =  2,350 tokens x $5.00 = 11,750
    #   cache write  4000 + 3000 + 900 + 2500 + 1300 = 11,700 tokens x $1.25 = 14,625
    #   cache read      0 + 2000 + 5000 + 2000 + 4500 = 13,500 tokens x $0.10 =  1,350
    #                                                                   sum = 30,125 / 1e6 = $0.030125
    generator = (2_400 * 1.00 + 2_350 * 5.00 + 11_700 * 1.25 + 13_500 * 0.10) / 1_000_000
    # Evaluator, Claude Opus 4.5: $5 input, $25 output, $6.25 cache write, $0.50 cache read per MTok.
    #   input        1500 + 800 + 2000  =  4,300 tokens x  $5.00 = 21,500
    #   output        300 + 150 + 600   =  1,050 tokens x $25.00 = 26,250
    #   cache write  5000 + 2000 + 3000 = 10,000 tokens x  $6.25 = 62,500
    #   cache read      0 + 5000 + 7000 = 12,000 tokens x  $0.50 =  6,000
    #                                                       sum = 116,250 / 1e6 = $0.11625
    evaluator = (4_300 * 5.00 + 1_050 * 25.00 + 10_000 * 6.25 + 12_000 * 0.50) / 1_000_000
    assert generator == pytest.approx(0.030125) and evaluator == pytest.approx(0.11625)
    assert doc["cost_known"] is True
    # $0.030125 + $0.11625 = $0.146375 (the JSON rounds to 6 decimals)
    assert doc["cost_usd"] == pytest.approx(0.146375, abs=1e-6) == pytest.approx(generator + evaluator, abs=1e-6)
    assert doc["tokens"] == {"input": 6_700, "output": 3_400, "cache_write": 21_700, "cache_read": 25_500}
    # Cache reads over every input-side token: 25,500 / (6,700 + 21,700 + 25,500) = 25,500 / 53,900.
    assert doc["cache_read_share"] == round(25_500 / 53_900, 4) == 0.4731
    # Every call is in the trace with its own cost, and they add up to the run's.
    trace = events(doc)
    calls = [e for e in trace if e["kind"] == "model_call"]
    assert [c["cost"] for c in calls][:2] == [
        pytest.approx((1_000 * 1.00 + 200 * 5.00 + 4_000 * 1.25) / 1e6),  # $0.007
        pytest.approx((1_500 * 5.00 + 300 * 25.00 + 5_000 * 6.25) / 1e6),  # $0.04625
    ]
    assert sum(c["cost"] for c in calls) == pytest.approx(0.146375)
    finished = trace[-1]
    assert finished["kind"] == "run_finished" and finished["cost"] == pytest.approx(0.146375)
    assert finished["cache_read_share"] == pytest.approx(25_500 / 53_900)
    assert "$0.1464" in result.output and "47.3% of input-side tokens read from the prompt cache" in result.output


def test_an_unpriced_model_is_a_loud_warning_and_an_unknown_cost_never_zero(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    configure(project, '[models]\ngenerator = "claude-haiku-4-5"\nevaluator = "claude-unreleased-9"\n')
    api.add(*s.happy_path())

    result, doc = run(harness, project)

    assert result.exit_code == 0, result.output
    assert doc["cost_known"] is False
    trace = events(doc)
    warnings = [e for e in trace if e["kind"] == "unpriced_model"]
    assert [w["model"] for w in warnings] == ["claude-unreleased-9"]  # once, at its first call
    evaluator_calls = [e for e in trace if e["kind"] == "model_call" and e["agent"] == "evaluator"]
    assert len(evaluator_calls) == 3 and all(c["cost"] is None for c in evaluator_calls)
    generator_calls = [e for e in trace if e["kind"] == "model_call" and e["agent"] == "generator"]
    # The run's cost counts the priced calls only: a lower bound, flagged by cost_known, not a zero for the rest.
    assert doc["cost_usd"] > 0
    assert doc["cost_usd"] == pytest.approx(sum(c["cost"] for c in generator_calls), abs=1e-6)
    assert trace[-1]["cost_known"] is False
    output = result.output
    assert "WARNING: model claude-unreleased-9 has no price in harness/pricing.py" in output
    assert "cost UNKNOWN" in output  # on every evaluator turn's line
    assert "UNKNOWN (at least $" in output and "budget could not limit them" in output


def test_the_budget_stops_the_run_before_the_call_that_would_exceed_it(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    configure(project, '[models]\ngenerator = "claude-haiku-4-5"\n\n[budget]\nmax_cost_per_issue = 0.012\n')
    # (1,000 x $1 + 200 x $5 + 4,000 x $1.25) / 1e6 = $0.007 spent. The generator's next call would cost
    # about as much again ($0.014 in all), more than the $0.012 allowed, so it is never sent.
    api.add(billed(s.act("propose_contract", "glob", pattern="**/*.py"), 1_000, 200, 4_000, 0), s.propose())

    result, doc = run(harness, project)

    assert result.exit_code == 3, result.output
    assert len(api.requests) == 1
    assert doc["outcome"] == "incomplete" and doc["cost_usd"] == pytest.approx(0.007)
    assert "the next model call would exceed the $0.012 allowed for this run ($0.0070 spent" in doc["reason"]
    assert "max_cost_per_issue" in doc["reason"]
    assert "the next model call would exceed" in result.output


def test_a_spent_budget_stops_before_any_further_call(harness: Any, project: Path, api: FakeMessagesAPI) -> None:
    configure(project, '[models]\ngenerator = "claude-haiku-4-5"\n\n[budget]\nmax_cost_per_issue = 0.005\n')
    api.add(billed(s.propose(), 1_000, 200, 4_000, 0), s.review_contract())  # $0.007 > $0.005 after one call

    result, doc = run(harness, project)

    assert result.exit_code == 3, result.output
    assert len(api.requests) == 1
    assert "budget exhausted: $0.0070 spent of the $0.005 allowed" in doc["reason"]


def test_a_moving_cache_breakpoint_lets_each_turn_read_the_previous_one(
    harness: Any, project: Path, api: FakeMessagesAPI
) -> None:
    # A long tool loop in red: eight reads before the tests are written. Usage is as the fake models it:
    # prompt caching with the API's rules and a 1,024-token minimum.
    reads = [s.act("tests_ready", "read", path=path) for path in ["textkit/__init__.py", "tests/test_words.py"] * 4]
    api.add(*s.contract_agreed(), *reads, *s.red_accepted(), *s.green_done(), s.submit_verdict())

    result, doc = run(harness, project)

    assert result.exit_code == 0, result.output
    assert api.problems == []  # the fake rejects a request with more than 4 cache_control blocks
    for request in api.requests:
        body = request.body
        assert breakpoints(body) <= 4
        # The newest user message carries a breakpoint on its last block.
        assert body["messages"][-1]["role"] == "user"
        assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    trace = events(doc)
    red = [e for e in trace if e["kind"] == "model_call" and e["phase"] == "red"]
    first, second = red[0], red[1]
    # Turn 1 writes its whole prompt to the cache; turn 2 reads all of it back, not just system and tools.
    assert first["cache_read_tokens"] == 0 and first["cache_write_tokens"] == first["context_tokens"]
    assert second["cache_read_tokens"] == first["context_tokens"]
    assert second["input_tokens"] == 0 and second["cache_write_tokens"] > 0
    # Every agent's second and later turns read from the cache.
    calls = [e for e in trace if e["kind"] == "model_call"]
    assert all(c["cache_read_tokens"] > 0 for c in calls if c["turn"] > 1)
    # Over the red loop, most of what the generator sends comes from the cache.
    red_read = sum(c["cache_read_tokens"] for c in red)
    assert red_read / sum(c["context_tokens"] for c in red) > 0.8
    tokens = doc["tokens"]
    share = tokens["cache_read"] / (tokens["input"] + tokens["cache_write"] + tokens["cache_read"])
    assert doc["cache_read_share"] == round(share, 4) and share > 0.5
    assert trace[-1]["cache_read_share"] == pytest.approx(share)
