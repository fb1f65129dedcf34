"""Session totals summed from turn_end events (desktop/core/totals.py)."""

from __future__ import annotations

from desktop.core.totals import Totals, usage_tokens


def test_totals_sum_cost_tokens_time_and_turns() -> None:
    totals = Totals()
    assert totals.text() == ""
    totals.add({"status": "success", "cost_usd": 0.0225, "duration_ms": 1500,
                "usage": {"input_tokens": 1000, "output_tokens": 200, "cache_read_input_tokens": 300,
                          "service_tier": "standard", "server_tool_use": {"web_search_requests": 0}}})
    totals.add({"status": "success", "cost_usd": 0.0056, "duration_ms": 65_000,
                "usage": {"input_tokens": 100, "output_tokens": 50}})
    assert round(totals.cost_usd, 6) == 0.0281 and totals.all_tokens == 1650 and totals.turns == 2
    assert totals.text() == "$0.0281 · 1,650 tokens · 1 min 06 s · 2 turns"


def test_totals_per_agent_usage_shapes() -> None:
    assert usage_tokens({"total_tokens": 16, "input_tokens": 11, "output_tokens": 5}) == 16  # Gemini stats
    assert usage_tokens({"total": 16, "input": 11, "output": 5, "cache": {"read": 0}}) == 16  # OpenCode
    codex = Totals()  # Codex reports the thread's running total each turn
    codex.add({"status": "success", "usage": {"input_tokens": 5000, "cached_input_tokens": 3000,
                                              "output_tokens": 250}})
    codex.add({"status": "success", "usage": {"input_tokens": 6000, "cached_input_tokens": 3000,
                                              "output_tokens": 300}})
    assert codex.all_tokens == 9300 and codex.text() == "9,300 tokens · 2 turns"
