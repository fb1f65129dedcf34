"""The sans-I/O translators, line by line, with line shapes seen from the real CLIs (no processes)."""

from __future__ import annotations

from typing import Any

from runner.agents.claude import ClaudeTranslator
from runner.agents.codex import CodexTranslator
from runner.agents.gemini import GeminiTranslator
from runner.agents.opencode import OpenCodeTranslator

SID = "879d94bd-4d2e-44e8-87d0-8e975e38deb9"


def se(event: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    return {
        "type": "stream_event",
        "event": event,
        "session_id": SID,
        "parent_tool_use_id": parent,
        "uuid": "u",
    }


def assistant(mid: str, block: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    return {
        "type": "assistant",
        "message": {"id": mid, "role": "assistant", "content": [block]},
        "parent_tool_use_id": parent,
        "session_id": SID,
    }


def feed_all(t: ClaudeTranslator, lines: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for line in lines:
        events += t.feed(line).events
    return events


def test_claude_real_order_text_once() -> None:
    # Seen from Claude Code 2.1.x: the whole assistant line comes before content_block_stop.
    t = ClaudeTranslator()
    events = feed_all(
        t,
        [
            {
                "type": "system",
                "subtype": "init",
                "session_id": SID,
                "model": "claude-opus-5-5",
                "permissionMode": "default",
                "cwd": "/tmp/x",
                "tools": [],
            },
            {"type": "system", "subtype": "status", "status": "requesting", "session_id": SID},
            se({"type": "message_start", "message": {"id": "msg_1", "content": []}}),
            se({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            se(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "Hello th"},
                }
            ),
            se({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ere."}}),
            assistant("msg_1", {"type": "text", "text": "Hello there."}),
            se({"type": "content_block_stop", "index": 0}),
            se(
                {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}
            ),
            se({"type": "message_stop"}),
            {"type": "rate_limit_event", "rate_limit_info": {}},
            {
                "type": "result",
                "subtype": "success",
                "is_error": False,
                "duration_ms": 26,
                "num_turns": 1,
                "total_cost_usd": 0.000108,
                "usage": {"input_tokens": 12},
                "session_id": SID,
            },
        ],
    )
    assert events == [
        (
            "agent_session",
            {
                "agent_session_id": SID,
                "model": "claude-opus-5-5",
                "permission_mode": "default",
                "cwd": "/tmp/x",
            },
        ),
        ("assistant", {"text": "Hello th", "message_id": "msg_1"}),
        ("assistant", {"text": "ere.", "message_id": "msg_1"}),
        (
            "turn_end",
            {
                "status": "success",
                "usage": {"input_tokens": 12},
                "cost_usd": 0.000108,
                "total_cost_usd": 0.000108,
                "duration_ms": 26,
                "num_turns": 1,
            },
        ),
    ]
    # The next init of the same process repeats the id: nothing new to report.
    assert t.feed({"type": "system", "subtype": "init", "session_id": SID}).events == []


def test_claude_tool_use_from_assistant_line_or_fragments_exactly_once() -> None:
    t = ClaudeTranslator()
    start = [
        se({"type": "message_start", "message": {"id": "msg_2", "content": []}}),
        se(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}},
            }
        ),
        se(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": '{"comm'},
            }
        ),
        se(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": 'and": "ls"}'},
            }
        ),
    ]
    full = assistant(
        "msg_2", {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
    )
    stop = se({"type": "content_block_stop", "index": 0})
    # Real CLI order: the assistant line first.
    real = feed_all(t, [*start, full, stop])
    assert real == [("tool_call", {"tool_id": "toolu_1", "name": "Bash", "input": {"command": "ls"}})]
    # Order of the docs (and the fake): content_block_stop first; the input comes from the fragments.
    t2 = ClaudeTranslator()
    assert feed_all(t2, [*start, stop, full]) == real


def test_claude_unstreamed_blocks_and_missing_parts() -> None:
    t = ClaudeTranslator()
    # No partial messages for this message (a subagent line): the whole text is used.
    events = feed_all(t, [assistant("msg_s", {"type": "text", "text": "whole"}, parent="toolu_task")])
    assert events == [("assistant", {"text": "whole", "message_id": "msg_s", "parent_tool_id": "toolu_task"})]
    # Deltas that missed the end of the text (an interrupt mid-stream): only the rest is added.
    events = feed_all(
        t,
        [
            se({"type": "message_start", "message": {"id": "msg_3"}}),
            se(
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "thinking", "thinking": ""},
                }
            ),
            se(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": "hmm"},
                }
            ),
            se({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
            se({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "abc"}}),
            assistant("msg_3", {"type": "thinking", "thinking": "hmm"}),
            assistant("msg_3", {"type": "text", "text": "abcdef"}),
        ],
    )
    assert events == [
        ("thinking", {"text": "hmm", "message_id": "msg_3"}),
        ("assistant", {"text": "abc", "message_id": "msg_3"}),
        ("assistant", {"text": "def", "message_id": "msg_3"}),
    ]


def test_claude_tool_results_and_user_lines() -> None:
    t = ClaudeTranslator()
    events = feed_all(
        t,
        [
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "tool_use_id": "toolu_1",
                            "type": "tool_result",
                            "content": "hi-from-tool",
                            "is_error": False,
                        }
                    ],
                },
            },
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_2",
                            "is_error": True,
                            "content": [{"type": "text", "text": "line1"}, {"type": "image", "source": {}}],
                        }
                    ],
                },
            },
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": "<local-command-stdout>Set model</local-command-stdout>",
                },
                "isReplay": True,
            },
            {"type": "user", "message": {"role": "user", "content": "echo of our prompt"}},
        ],
    )
    assert events == [
        ("tool_result", {"tool_id": "toolu_1", "output": "hi-from-tool", "is_error": False}),
        ("tool_result", {"tool_id": "toolu_2", "output": "line1\n[image]", "is_error": True}),
    ]


def test_claude_control_requests() -> None:
    t = ClaudeTranslator()
    init = t.feed({"type": "control_request", "request_id": "r0", "request": {"subtype": "initialize"}})
    assert init.outgoing == [
        {"type": "control_response", "response": {"subtype": "success", "request_id": "r0", "response": {}}}
    ]
    hook = t.feed({"type": "control_request", "request_id": "r1", "request": {"subtype": "hook_callback"}})
    assert hook.outgoing[0]["response"]["subtype"] == "error" and hook.events == []
    ask = t.feed(
        {
            "type": "control_request",
            "request_id": "8862cd2f",
            "request": {
                "subtype": "can_use_tool",
                "tool_name": "Bash",
                "input": {"command": "touch x"},
                "description": "make",
                "blocked_path": "/tmp/x",
                "permission_suggestions": [],
            },
        }
    )
    assert ask.events == [
        (
            "permission_request",
            {
                "request_id": "8862cd2f",
                "tool_name": "Bash",
                "input": {"command": "touch x"},
                "description": "make",
                "blocked_path": "/tmp/x",
            },
        )
    ]
    assert list(t.pending) == ["8862cd2f"]
    answer = t.answer("8862cd2f", "allow", None)
    assert answer.outgoing == [
        {
            "type": "control_response",
            "response": {
                "subtype": "success",
                "request_id": "8862cd2f",
                "response": {"behavior": "allow", "updatedInput": {"command": "touch x"}},
            },
        }
    ]
    assert answer.events == [("permission_answer", {"request_id": "8862cd2f", "behavior": "allow"})]
    t.feed(
        {
            "type": "control_request",
            "request_id": "r2",
            "request": {"subtype": "can_use_tool", "tool_name": "Write", "input": {}},
        }
    )
    cancel = t.feed({"type": "control_cancel_request", "request_id": "r2"})
    assert cancel.events[0][1]["behavior"] == "cancelled" and t.pending == {}
    interrupt = t.interrupt()
    assert interrupt["type"] == "control_request" and interrupt["request"] == {"subtype": "interrupt"}
    acks = t.feed(
        {
            "type": "control_response",
            "response": {"subtype": "error", "request_id": interrupt["request_id"], "error": "nope"},
        }
    ).acks
    assert acks == [(interrupt["request_id"], False, "nope")]


def test_claude_interrupted_result_and_running_cost() -> None:
    t = ClaudeTranslator()
    t.feed({"type": "result", "subtype": "success", "total_cost_usd": 0.5})
    t.interrupt()
    (end,) = t.feed(
        {"type": "result", "subtype": "error_during_execution", "is_error": True, "total_cost_usd": 0.75}
    ).events
    assert end[1]["status"] == "interrupted" and end[1]["reason"] == "error_during_execution"
    assert end[1]["cost_usd"] == 0.25 and end[1]["total_cost_usd"] == 0.75
    (end,) = t.feed(
        {"type": "result", "subtype": "error_max_turns", "is_error": True, "errors": ["too many turns"]}
    ).events
    assert end[1]["status"] == "error" and end[1]["message"] == "too many turns"


def test_claude_skips_unknown_lines() -> None:
    t = ClaudeTranslator()
    for line in (
        {"type": "keep_alive"},
        {"type": "system", "subtype": "task_progress"},
        {"type": "brand_new"},
        {"no_type": 1},
        {"type": "stream_event", "event": "garbage"},
        {"type": "assistant"},
    ):
        step = t.feed(line)
        assert step.events == [] and step.outgoing == []


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
