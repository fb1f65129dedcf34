"""The sans-I/O translators of the per-turn CLIs, line by line, with line shapes seen from the real CLIs (no
processes). Claude Code's is in test_claude_translator.py."""

from __future__ import annotations

from runner.agents.codex import CodexTranslator
from runner.agents.gemini import GeminiTranslator
from runner.agents.opencode import OpenCodeTranslator


def test_codex_finish_without_turn_completed() -> None:
    t = CodexTranslator()
    assert t.feed({"type": "thread.started", "thread_id": "th-1"}) == [
        ("agent_session", {"agent_session_id": "th-1"})
    ]
    assert t.finish(1, interrupted=True) == [("turn_end", {"status": "interrupted", "exit_code": 1})]
    assert t.finish(1, interrupted=True) == []  # once
    t2 = CodexTranslator("th-1")
    assert t2.feed({"type": "thread.started", "thread_id": "th-1"}) == []  # resumed: same id
    t2.feed({"type": "turn.completed", "usage": {}})
    assert t2.finish(0, interrupted=False) == []


def test_gemini_message_ids_split_at_tool_calls() -> None:
    t = GeminiTranslator()
    events = []
    for line in (
        {"type": "message", "role": "assistant", "content": "a", "delta": True},
        {"type": "message", "role": "assistant", "content": "b", "delta": True},
        {"type": "tool_use", "tool_name": "ls", "tool_id": "t1", "parameters": {}},
        {"type": "message", "role": "assistant", "content": "c", "delta": True},
        {"type": "message", "role": "assistant", "content": "whole"},
    ):
        events += t.feed(line)
    ids = [f["message_id"] for k, f in events if k == "assistant"]
    assert ids[0] == ids[1] and len({ids[1], ids[2], ids[3]}) == 3


def test_opencode_error_and_finish() -> None:
    t = OpenCodeTranslator()
    events = t.feed(
        {"type": "error", "sessionID": "ses_1", "error": {"name": "X", "data": {"message": "boom"}}}
    )
    assert events == [("agent_session", {"agent_session_id": "ses_1"}), ("error", {"message": "boom"})]
    assert t.finish(0, interrupted=False)[0][1]["status"] == "error"
