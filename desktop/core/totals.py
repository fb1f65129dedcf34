"""A session's totals so far (cost, tokens, time, turns), summed from its `turn_end` events, without Qt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def usage_tokens(usage: Any) -> int:
    """The tokens one `usage` object counts. Its keys differ per agent: a total when the agent gives one
    (Gemini's `total_tokens`, OpenCode's `total`), else the sum of the `*_tokens` counts (Claude Code, Codex)."""
    if not isinstance(usage, dict):
        return 0
    for key in ("total_tokens", "total"):
        if isinstance(usage.get(key), int) and not isinstance(usage.get(key), bool):
            return int(usage[key])
    return sum(v for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool) and k.endswith("tokens"))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _duration(ms: float) -> str:
    seconds = round(ms / 1000)
    if seconds < 60:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass
class Totals:
    cost_usd: float = 0.0
    tokens: int = 0
    duration_ms: float = 0.0
    turns: int = 0
    has_cost: bool = False
    _thread_tokens: int = 0
    """Codex reports its thread's running total in every turn, not the turn's own count: kept, not summed."""

    def add(self, event: dict[str, Any]) -> None:
        self.turns += 1
        cost = _number(event.get("cost_usd"))
        if cost is not None:
            self.cost_usd += cost
            self.has_cost = True
        usage = event.get("usage")
        if isinstance(usage, dict) and "cached_input_tokens" in usage:  # Codex's shape
            self._thread_tokens = usage_tokens(usage)
        else:
            self.tokens += usage_tokens(usage)
        duration = _number(event.get("duration_ms"))
        if duration is not None:
            self.duration_ms += duration

    @property
    def all_tokens(self) -> int:
        return self.tokens + self._thread_tokens

    def text(self) -> str:
        """One line for the session header ("" before the first turn ended)."""
        if not self.turns:
            return ""
        parts = []
        if self.has_cost:
            parts.append(f"${self.cost_usd:.4f}" if self.cost_usd < 1 else f"${self.cost_usd:.2f}")
        if self.all_tokens:
            parts.append(f"{self.all_tokens:,} tokens")
        if self.duration_ms:
            parts.append(_duration(self.duration_ms))
        parts.append(f"{self.turns} turn{'s' if self.turns != 1 else ''}")
        return " · ".join(parts)
