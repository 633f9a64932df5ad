"""Token pricing (SPEC §9): cache reads and writes priced correctly; an unknown model has no price."""

from __future__ import annotations

import pytest

from harness.pricing import PRICES, cost, price_for


def test_cost_of_a_call_with_every_kind_of_token():
    # claude-haiku-4-5: $1 / M input, $5 / M output, cache write 1.25 x input, cache read 0.1 x input.
    usd = cost(
        "claude-haiku-4-5",
        input_tokens=2_000,
        output_tokens=500,
        cache_write_tokens=10_000,
        cache_read_tokens=100_000,
    )
    expected = (
        2_000 * 1.00  # input          = 2000
        + 500 * 5.00  # output         = 2500
        + 10_000 * 1.25  # cache write = 12500
        + 100_000 * 0.10  # cache read = 10000
    ) / 1_000_000  # = 27000 / 1e6 = 0.027 USD
    assert expected == pytest.approx(0.027)
    assert usd == pytest.approx(expected)


def test_cost_of_an_opus_4_1_call():
    # $15 / M input, $75 / M output, cache write $18.75 / M, cache read $1.50 / M:
    # 1000 * 15 + 1000 * 75 + 1000 * 18.75 + 1000 * 1.5 = 110250 -> 0.11025 USD
    usd = cost(
        "claude-opus-4-1-20250805",
        input_tokens=1_000,
        output_tokens=1_000,
        cache_write_tokens=1_000,
        cache_read_tokens=1_000,
    )
    assert usd == pytest.approx(0.11025)


def test_cache_tokens_default_to_zero():
    # 1M input tokens at $1 + 1M output at $5.
    assert cost("claude-haiku-4-5", input_tokens=1_000_000, output_tokens=1_000_000) == pytest.approx(6.0)


def test_a_known_model_with_no_tokens_costs_zero_not_none():
    assert cost("claude-haiku-4-5", input_tokens=0, output_tokens=0) == 0.0


def test_a_cache_read_is_cheaper_than_input_and_a_cache_write_dearer():
    for model, price in PRICES.items():
        assert price.cache_read < price.input < price.cache_write, model


def test_a_dated_model_id_finds_its_family():
    assert price_for("claude-haiku-4-5-20251001") is PRICES["claude-haiku-4-5"]
    dated = cost("claude-haiku-4-5-20251001", input_tokens=1_000, output_tokens=100)
    assert dated == cost("claude-haiku-4-5", input_tokens=1_000, output_tokens=100)
    assert dated == pytest.approx((1_000 * 1.0 + 100 * 5.0) / 1_000_000)


@pytest.mark.parametrize("model", ["gpt-4o", "claude-unknown-9", "claude-opus-45", "claude-haiku", "", "opus"])
def test_an_unknown_model_has_no_price_not_a_zero_price(model):
    assert price_for(model) is None
    assert cost(model, input_tokens=1_000, output_tokens=1_000) is None


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("claude-opus-4-1", "claude-opus-4-1"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-opus-4", "claude-opus-4"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-opus-4-5-20251101", "claude-opus-4-5"),
        ("claude-opus-5-5", "claude-opus-5-5"),
        ("claude-opus-5", "claude-opus-5"),
    ],
)
def test_the_longest_matching_prefix_wins(model, family):
    assert price_for(model) is PRICES[family]


def test_a_newer_opus_is_not_priced_as_its_older_family():
    # claude-opus-4-5 also starts with the claude-opus-4 prefix, which costs three times as much.
    opus_4_5 = cost("claude-opus-4-5-20251101", input_tokens=1_000_000, output_tokens=0)
    opus_4 = cost("claude-opus-4-20250514", input_tokens=1_000_000, output_tokens=0)
    assert opus_4_5 == pytest.approx(5.0)
    assert opus_4 == pytest.approx(15.0)


def test_claude_3_5_haiku_is_priced_by_its_api_id():
    # $0.80 / M input + $4 / M output.
    usd = cost("claude-3-5-haiku-20241022", input_tokens=1_000_000, output_tokens=1_000_000)
    assert usd == pytest.approx(4.8)
