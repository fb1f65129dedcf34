"""The fake Claude CLI (tests/fakes/fake_claude.py) against a recording of the real 2.1.x CLI
(tests/fakes/recorded/claude-stream-json.jsonl, made by `python -m tests.fakes.record_claude`): for the same exchange
it prints the same kinds of lines in the same order, with no field the real CLI does not have, and refuses the
control requests the real CLI refuses. The tests of the runner against the fake only mean something if this holds.
"""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

import pytest

from runner.agents.claude import ClaudeAgent
from tests.fakes import record_claude
from tests.fakes.recording_host import RecordingHost

RECORDING = record_claude.DEFAULT_OUT


def load_recording() -> tuple[str, list[dict[str, Any]]]:
    with RECORDING.open() as f:
        header = json.loads(f.readline())
        return header["recorded_with"], [json.loads(line) for line in f]


def signature(line: dict[str, Any]) -> str | None:
    """What the runner's translator tells lines apart by; None for lines it skips (runner/agents/claude.py feed)."""
    kind = line.get("type")
    if kind == "stream_event":
        event = line["event"]
        block = event.get("content_block", {}).get("type")
        return f"stream_event:{event['type']}" + (f":{block}" if block else "")
    if kind == "assistant":
        return "assistant:" + ",".join(b["type"] for b in line["message"]["content"])
    if kind == "user":
        content = line["message"]["content"]
        return "user:" + (",".join(b["type"] for b in content) if isinstance(content, list) else "text")
    if kind == "system":
        return "system:init" if line.get("subtype") == "init" else None
    if kind == "result":
        return f"result:{line['subtype']}"
    if kind == "control_request":
        return f"control_request:{line['request']['subtype']}"
    if kind == "control_response":
        response = line["response"]
        return f"control_response:{response['subtype']}:{response.get('error_code', '')}"
    if kind == "control_cancel_request":
        return kind
    return None  # rate_limit_event, keep_alive, ...


def printed(transcript: list[dict[str, Any]]) -> list[str]:
    """The signatures of what the CLI printed, in order, runs of one signature (deltas) counted once."""
    signatures = [signature(e["line"]) for e in transcript if e["dir"] == "out"]
    return [s for s, _ in groupby(s for s in signatures if s is not None)]


@pytest.fixture(scope="module")
def fake_transcript() -> list[dict[str, Any]]:
    return record_claude.replay_fake()


def test_the_recording_was_made_with_the_runners_flags(tmp_path) -> None:
    agent = ClaudeAgent(RecordingHost(str(tmp_path), options=ClaudeAgent.check_options({})))
    assert agent.build_argv("claude", None)[1:] == record_claude.ARGV_FLAGS
    version, transcript = load_recording()
    assert version.startswith("2.1.")
    assert transcript[0]["dir"] == "in"


def test_the_fake_prints_the_same_lines_in_the_same_order(fake_transcript: list[dict[str, Any]]) -> None:
    _, real = load_recording()
    assert printed(fake_transcript) == printed(real)


def test_each_whole_assistant_line_comes_before_its_block_stop(fake_transcript: list[dict[str, Any]]) -> None:
    """The real CLI prints a block's whole assistant line right after its last delta, before content_block_stop
    (and asks a tool's permission there, before the rest of the message has streamed)."""
    for transcript in (load_recording()[1], fake_transcript):
        order = printed(transcript)
        for i, sig in enumerate(order):
            if sig.startswith("assistant:"):
                assert order[i - 1] == "stream_event:content_block_delta", order[i - 2 : i + 2]
                following = order[i + 1 : i + 3]
                assert "stream_event:content_block_stop" in following, following


def fields(line: dict[str, Any]) -> set[str]:
    """Field paths of a line down to the level the translator reads."""
    out = set()
    for key, value in line.items():
        out.add(key)
        if key in ("message", "event", "request", "response") and isinstance(value, dict):
            out.update(f"{key}.{sub}" for sub in value)
    return out


def test_the_fake_has_no_field_the_real_cli_lacks(fake_transcript: list[dict[str, Any]]) -> None:
    _, real = load_recording()
    real_fields: dict[str, set[str]] = {}
    for entry in real:
        sig = signature(entry["line"])
        if entry["dir"] == "out" and sig is not None:
            real_fields.setdefault(sig, set()).update(fields(entry["line"]))
    for entry in fake_transcript:
        sig = signature(entry["line"])
        if entry["dir"] != "out" or sig is None:
            continue
        extra = fields(entry["line"]) - real_fields[sig]
        assert not extra, f"{sig}: the fake has {sorted(extra)}, the real CLI does not"


def test_the_fake_refuses_what_the_real_cli_refuses(fake_transcript: list[dict[str, Any]]) -> None:
    _, real = load_recording()

    def refusals(transcript: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
        return {
            e["line"]["response"]["request_id"]: (e["line"]["response"]["subtype"], e["line"]["response"]["error_code"])
            for e in transcript
            if e["dir"] == "out" and e["line"].get("type") == "control_response"
            and e["line"]["response"].get("subtype") == "error"
        }

    expected = {
        "req_1_unknown": ("error", "unsupported_request"),
        "req_2_wrong_field": ("error", "invalid_mode"),
    }
    assert refusals(real) == expected
    assert refusals(fake_transcript) == expected


def test_two_permission_requests_open_at_once_in_both(fake_transcript: list[dict[str, Any]]) -> None:
    """Parallel tool calls: the second can_use_tool comes before the first is answered, and each answer goes to
    the request it names (the deny reaches the first tool, the allow the second)."""
    for transcript in (load_recording()[1], fake_transcript):
        asks = [e["line"] for e in transcript if e["dir"] == "out" and e["line"].get("type") == "control_request"]
        first_answer = next(
            i for i, e in enumerate(transcript) if e["dir"] == "in" and e["line"]["type"] == "control_response"
        )
        asked_before = [
            e for e in transcript[:first_answer] if e["dir"] == "out" and e["line"].get("type") == "control_request"
        ]
        assert len(asks) == len(asked_before) == 2
        results = {
            block["tool_use_id"]: block.get("is_error", False)
            for e in transcript
            if e["dir"] == "out" and e["line"].get("type") == "user"
            for block in e["line"]["message"]["content"]
            if isinstance(block, dict) and block.get("type") == "tool_result"
        }
        first, second = (a["request"]["tool_use_id"] for a in asks)
        assert results == {first: True, second: False}
