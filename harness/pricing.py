"""The one place that prices tokens.

Prices in USD per million tokens. Cache writes are the 5-minute kind (1.25x input) unless a model
says otherwise; cache reads are priced per model. An unknown model has no price: its cost is
unknown (None), never zero, and the caller warns about it loudly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_read: float
    cache_write: float


def _price(input: float, output: float, cache_read_ratio: float) -> Price:
    return Price(input=input, output=output, cache_read=input * cache_read_ratio, cache_write=input * 1.25)


# Longest prefix wins, so dated ids (claude-haiku-4-5-20251001) find their family.
PRICES: dict[str, Price] = {
    "claude-fable-5-2": _price(10.0, 50.0, 0.025),
    "claude-mythos-5-2": _price(10.0, 50.0, 0.025),
    "claude-fable-5-1": _price(10.0, 50.0, 0.025),
    "claude-mythos-5-1": _price(10.0, 50.0, 0.025),
    "claude-fable-5": _price(10.0, 50.0, 0.10),
    "claude-mythos-5": _price(10.0, 50.0, 0.10),
    "claude-opus-5-5": _price(4.0, 20.0, 0.05),
    "claude-opus-5": _price(5.0, 25.0, 0.10),
    "claude-opus-4-8": _price(5.0, 25.0, 0.10),
    "claude-opus-4-7": _price(5.0, 25.0, 0.10),
    "claude-opus-4-6": _price(5.0, 25.0, 0.10),
    "claude-opus-4-5": _price(5.0, 25.0, 0.10),
    "claude-opus-4-1": _price(15.0, 75.0, 0.10),
    "claude-opus-4": _price(15.0, 75.0, 0.10),
    "claude-sonnet-5-5": _price(2.0, 10.0, 0.05),
    "claude-sonnet-5": _price(2.0, 10.0, 0.10),
    "claude-sonnet-4": _price(3.0, 15.0, 0.10),
    "claude-haiku-5-5": _price(0.10, 0.50, 0.10),
    "claude-haiku-4-5": _price(1.0, 5.0, 0.10),
    # Claude 3.x ids put the version before the family name.
    "claude-3-7-sonnet": _price(3.0, 15.0, 0.10),
    "claude-3-5-sonnet": _price(3.0, 15.0, 0.10),
    "claude-3-5-haiku": _price(0.80, 4.0, 0.10),
    "claude-3-haiku": _price(0.25, 1.25, 0.12),
    "claude-3-opus": _price(15.0, 75.0, 0.10),
}


def price_for(model: str) -> Price | None:
    matches = [prefix for prefix in PRICES if model == prefix or model.startswith(prefix + "-")]
    return PRICES[max(matches, key=len)] if matches else None


def cost(
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_write_tokens: int = 0,
    cache_read_tokens: int = 0,
) -> float | None:
    """USD for one call, or None when the model has no known price."""
    price = price_for(model)
    if price is None:
        return None
    return (
        input_tokens * price.input
        + output_tokens * price.output
        + cache_write_tokens * price.cache_write
        + cache_read_tokens * price.cache_read
    ) / 1_000_000
