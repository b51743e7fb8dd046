"""Estimated cost of an LLM call from published list prices, for metrics only.

Prices are US dollars per million tokens (input, output), matched by the longest model-name
prefix. A model not listed (a local model behind an OpenAI-compatible server, a new release)
costs nothing here: the token counters stay exact and the estimate is only as good as this table.
"""

from __future__ import annotations

LIST_PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4o": (2.5, 10.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1": (2.0, 8.0),
}
_BY_LONGEST_PREFIX = sorted(LIST_PRICES.items(), key=lambda item: -len(item[0]))


def estimated_dollars(model: str, *, input_tokens: int, output_tokens: int) -> float:
    for prefix, (input_price, output_price) in _BY_LONGEST_PREFIX:
        if model.startswith(prefix):
            return (input_tokens * input_price + output_tokens * output_price) / 1_000_000
    return 0.0
