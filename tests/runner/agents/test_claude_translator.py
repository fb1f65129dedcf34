"""ClaudeTranslator without a process: the real CLI's recorded output (tests/fakes/recorded/claude-stream-json.jsonl)
replayed into it, driven the way ClaudeAgent drives it, and hand-written lines in the shapes seen from Claude Code
2.1.x for what the recording does not hold (interrupts, subagents, errors, malformed lines)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from runner.agents.claude_translator import ClaudeTranslator, Step, TurnState
from tests.fakes import record_claude
from tests.fakes.images import png

SID = "879d94bd-4d2e-44e8-87d0-8e975e38deb9"
Events = list[tuple[str, dict[str, Any]]]


def se(event: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    return {"type": "stream_event", "event": event, "session_id": SID, "parent_tool_use_id": parent, "uuid": "u"}


def assistant(mid: str, block: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    return {
        "type": "assistant",
        "message": {"id": mid, "role": "assistant", "content": [block]},
        "parent_tool_use_id": parent,
        "session_id": SID,
    }


def text_delta(text: str, index: int = 0, parent: str | None = None) -> dict[str, Any]:
    return se({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}, parent)


INIT = {"type": "system", "subtype": "init", "session_id": SID, "model": "m", "permissionMode": "default", "cwd": "/w"}
FAILED = {"type": "result", "subtype": "error_during_execution", "is_error": True}
SUCCESS = {"type": "result", "subtype": "success", "is_error": False}


def feed(t: ClaudeTranslator, *lines: dict[str, Any]) -> Events:
    """The events of `lines` fed one read each (the agent feeds a read's lines together: see the batch test)."""
    events: Events = []
    for line in lines:
        events += t.feed_lines([line]).events
    return events


# --- the recording ----------------------------------------------------------------------------------------------


def recording() -> list[dict[str, Any]]:
    with record_claude.DEFAULT_OUT.open() as f:
        f.readline()  # the header: which CLI version
        return [json.loads(line) for line in f]


class Replay:
    """The recorded exchange through a translator: our lines built by it and compared with what was sent, the CLI's
    lines fed to it one read (here: one line) at a time."""

    def __init__(self, batch: bool = False) -> None:
        self.t = ClaudeTranslator()
        self.events: Events = []
        self.outgoing: list[dict[str, Any]] = []
        self.acks: list[tuple[str, bool, Any]] = []
        self.states: list[TurnState] = []
        self.saved_session_ids: list[str] = []
        pending_out: list[dict[str, Any]] = []
        for entry in recording():
            line = entry["line"]
            if entry["dir"] == "out":
                pending_out.append(line)
                if not batch:
                    self._take(self.t.feed_lines(pending_out))
                    pending_out = []
                continue
            if pending_out:
                self._take(self.t.feed_lines(pending_out))
                pending_out = []
            if line["type"] == "user":
                sent = self.t.user_message(line["message"]["content"])
                assert sent["message"] == line["message"] and sent["type"] == "user"
            elif line["type"] == "control_response":
                response = line["response"]
                answer = response["response"]
                step = self.t.answer(response["request_id"], answer["behavior"], answer.get("message"))
                assert step.outgoing == [line], "the answer differs from what the real CLI took"
                self.events += step.events
            self.states.append(self.t.turn)
        self._take(self.t.feed_lines(pending_out))
        self.states.append(self.t.turn)

    def _take(self, step: Step) -> None:
        self.events += step.events
        self.outgoing += step.outgoing
        self.acks += step.acks
        if step.agent_session_id is not None:
            self.saved_session_ids.append(step.agent_session_id)
        self.states.append(self.t.turn)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [fields for k, fields in self.events if k == kind]


def whole_blocks(kind: str) -> dict[str, str]:
    """message id -> the text of its whole `kind` blocks ("text" or "thinking") in the recorded assistant lines."""
    out: dict[str, str] = {}
    for entry in recording():
        line = entry["line"]
        if entry["dir"] == "out" and line.get("type") == "assistant":
            for block in line["message"]["content"]:
                if block["type"] == kind:
                    out[line["message"]["id"]] = out.get(line["message"]["id"], "") + block[kind]
    return out


def joined(events: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for fields in events:
        out[fields["message_id"]] = out.get(fields["message_id"], "") + fields["text"]
    return out


@pytest.fixture(scope="module")
def replay() -> Replay:
    return Replay()


def test_recorded_text_and_thinking_arrive_once_each(replay: Replay) -> None:
    # Streamed as deltas; the whole assistant lines that follow add nothing.
    assert joined(replay.of("assistant")) == whole_blocks("text")
    assert joined(replay.of("thinking")) == whole_blocks("thinking")
    assert len(replay.of("assistant")) > len(whole_blocks("text"))  # deltas, not the whole blocks


def test_recorded_session_tools_permissions_and_turns(replay: Replay) -> None:
    (session,) = replay.of("agent_session")
    init = next(e["line"] for e in recording() if e["line"].get("subtype") == "init")
    assert session == {"agent_session_id": init["session_id"], "model": init["model"],
                       "permission_mode": init["permissionMode"], "cwd": init["cwd"]}
    assert replay.saved_session_ids == [init["session_id"]]
    calls = replay.of("tool_call")
    recorded_calls = [b for e in recording() if e["dir"] == "out" and e["line"]["type"] == "assistant"
                      for b in e["line"]["message"]["content"] if b["type"] == "tool_use"]
    assert [(c["tool_id"], c["name"], c["input"]) for c in calls] == [
        (b["id"], b["name"], b["input"]) for b in recorded_calls
    ]
    asks = replay.of("permission_request")
    assert [a["tool_id"] for a in asks] == [c["tool_id"] for c in calls]
    assert replay.t.pending == {}
    # Each answer reached the request it named: the denied tool failed, the allowed one ran.
    tool_of = {a["request_id"]: a["tool_id"] for a in asks}
    denied = {tool_of[a["request_id"]]: a["behavior"] == "deny" for a in replay.of("permission_answer")}
    assert sorted(denied.values()) == [False, True]
    assert {r["tool_id"]: r["is_error"] for r in replay.of("tool_result")} == denied
    ends = replay.of("turn_end")
    assert [e["status"] for e in ends] == ["success", "success"]
    assert all(e["cost_usd"] >= 0 for e in ends) and ends[-1]["total_cost_usd"] >= ends[0]["total_cost_usd"]
    # Answers to the two control requests the recording probed the CLI with (not ours, so nobody waits for them).
    assert [(rid, ok) for rid, ok, _ in replay.acks] == [("req_1_unknown", False), ("req_2_wrong_field", False)]
    assert replay.outgoing == []  # the recording holds no request the translator must answer by itself


def test_recorded_turns_walk_the_state_machine(replay: Replay) -> None:
    walked = [s for i, s in enumerate(replay.states) if i == 0 or s is not replay.states[i - 1]]
    turn = [TurnState.WAITING, TurnState.RUNNING, TurnState.IDLE]
    assert walked == [TurnState.IDLE, *turn, *turn]


def as_viewed(events: Events) -> Events:
    """Events as a view shows them: consecutive streamed texts of one message joined (EVENTS.md)."""
    out: Events = []
    for kind, fields in events:
        last = out[-1] if out else None
        if (kind in ("assistant", "thinking") and last is not None and last[0] == kind
                and last[1].get("message_id") == fields.get("message_id")
                and last[1].get("parent_tool_id") == fields.get("parent_tool_id")):
            out[-1] = (kind, {**last[1], "text": last[1]["text"] + fields["text"]})
        else:
            out.append((kind, dict(fields)))
    return out


def test_recording_fed_in_reads_gives_the_same_events(replay: Replay) -> None:
    # The agent feeds every line of one read together: what a view shows must not depend on how lines are
    # grouped; the deltas of a message that come in one read are one event.
    batched = Replay(batch=True).events
    assert as_viewed(batched) == as_viewed(replay.events)
    assert len(batched) < len(replay.events)
    assert all(fields["text"] for kind, fields in batched if kind in ("assistant", "thinking"))


# --- hand-written lines -----------------------------------------------------------------------------------------


def test_text_once_when_the_whole_line_comes_first_or_last() -> None:
    t = ClaudeTranslator()
    t.user_message("hi")
    start = [
        INIT,
        se({"type": "message_start", "message": {"id": "msg_1", "content": []}}),
        se({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        text_delta("Hello th"),
        text_delta("ere."),
    ]
    events = feed(t, *start, assistant("msg_1", {"type": "text", "text": "Hello there."}),
                  se({"type": "content_block_stop", "index": 0}), {"type": "rate_limit_event"},
                  {**SUCCESS, "duration_ms": 26, "num_turns": 1, "total_cost_usd": 0.000108,
                   "usage": {"input_tokens": 12}})
    assert events == [
        ("agent_session", {"agent_session_id": SID, "model": "m", "permission_mode": "default", "cwd": "/w"}),
        ("assistant", {"text": "Hello th", "message_id": "msg_1"}),
        ("assistant", {"text": "ere.", "message_id": "msg_1"}),
        ("turn_end", {"status": "success", "usage": {"input_tokens": 12}, "cost_usd": 0.000108,
                      "total_cost_usd": 0.000108, "duration_ms": 26, "num_turns": 1}),
    ]
    # The next init of the same process repeats the id: nothing new to report.
    assert feed(t, INIT) == []


def test_tool_use_from_the_assistant_line_or_the_fragments_exactly_once() -> None:
    start = [
        se({"type": "message_start", "message": {"id": "msg_2", "content": []}}),
        se({"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}}),
        se({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"comm'}}),
        se({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": 'and": "ls"}'}}),
    ]
    full = assistant("msg_2", {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}})
    stop = se({"type": "content_block_stop", "index": 0})
    real = feed(ClaudeTranslator(), *start, full, stop)  # the real CLI's order: the assistant line first
    assert real == [("tool_call", {"tool_id": "toolu_1", "name": "Bash", "input": {"command": "ls"}})]
    assert feed(ClaudeTranslator(), *start, stop, full) == real  # the docs' order: the input from the fragments


def test_unstreamed_blocks_and_missing_parts() -> None:
    t = ClaudeTranslator()
    # No partial messages for this message (a subagent line): the whole text is used.
    events = feed(t, assistant("msg_s", {"type": "text", "text": "whole"}, parent="toolu_task"))
    assert events == [("assistant", {"text": "whole", "message_id": "msg_s", "parent_tool_id": "toolu_task"})]
    # Deltas that missed the end of the text (an interrupt mid-stream): only the rest is added.
    events = feed(
        t,
        se({"type": "message_start", "message": {"id": "msg_3"}}),
        se({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        se({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
        se({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        text_delta("abc", index=1),
        assistant("msg_3", {"type": "thinking", "thinking": "hmm"}),
        assistant("msg_3", {"type": "text", "text": "abcdef"}),
    )
    assert events == [
        ("thinking", {"text": "hmm", "message_id": "msg_3"}),
        ("assistant", {"text": "abc", "message_id": "msg_3"}),
        ("assistant", {"text": "def", "message_id": "msg_3"}),
    ]


def test_long_streams_are_joined_exactly() -> None:
    # Over 512 deltas: the block keeps its text in chunks; the whole line must still match it exactly.
    t = ClaudeTranslator()
    pieces = [f"w{i} " for i in range(1500)]
    feed(t, se({"type": "message_start", "message": {"id": "msg_l"}}),
         se({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
    assert t.feed_lines([text_delta(p) for p in pieces]).events == [
        ("assistant", {"text": "".join(pieces), "message_id": "msg_l"})
    ]
    assert feed(t, assistant("msg_l", {"type": "text", "text": "".join(pieces) + "tail"})) == [
        ("assistant", {"text": "tail", "message_id": "msg_l"})
    ]


def test_subagent_lines_carry_their_parent() -> None:
    t = ClaudeTranslator()
    events = feed(
        t,
        {"type": "user", "message": {"role": "user", "content": "list files"}, "parent_tool_use_id": "toolu_task"},
        se({"type": "message_start", "message": {"id": "msg_sub"}}, parent="toolu_task"),
        text_delta("Sub", parent="toolu_task"),
        se({"type": "message_start", "message": {"id": "msg_top"}}),
        text_delta("Top"),
    )
    assert events == [
        ("user", {"text": "list files", "parent_tool_id": "toolu_task"}),
        ("assistant", {"text": "Sub", "message_id": "msg_sub", "parent_tool_id": "toolu_task"}),
        ("assistant", {"text": "Top", "message_id": "msg_top"}),
    ]


def test_the_deltas_of_one_read_are_one_event_per_run_of_one_message() -> None:
    """Consecutive deltas of the same kind of one message, in one read, make one event; anything between them
    (another kind, another message, a subagent's, a tool call) or a new read starts another."""
    t = ClaudeTranslator()
    feed(t, se({"type": "message_start", "message": {"id": "msg_a"}}))
    sub_start = se({"type": "message_start", "message": {"id": "msg_s"}}, parent="toolu_task")
    tool_block = {"type": "tool_use", "id": "toolu_1", "name": "Read"}
    thinking = se({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}})
    step = t.feed_lines([
        thinking, thinking, text_delta("a", 1), text_delta("b", 1), sub_start, text_delta("s1", parent="toolu_task"),
        text_delta("c", 1), text_delta("s2", parent="toolu_task"), text_delta("s3", parent="toolu_task"),
        se({"type": "content_block_start", "index": 2, "content_block": tool_block}),
        se({"type": "content_block_delta", "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"file_path":"/a"}'}}),
        se({"type": "content_block_stop", "index": 2}),
        text_delta("d", 3), text_delta("e", 3),
    ])
    assert step.events == [
        ("thinking", {"text": "hmhm", "message_id": "msg_a"}),
        ("assistant", {"text": "ab", "message_id": "msg_a"}),
        ("assistant", {"text": "s1", "message_id": "msg_s", "parent_tool_id": "toolu_task"}),
        ("assistant", {"text": "c", "message_id": "msg_a"}),
        ("assistant", {"text": "s2s3", "message_id": "msg_s", "parent_tool_id": "toolu_task"}),
        ("tool_call", {"tool_id": "toolu_1", "name": "Read", "input": {"file_path": "/a"}}),
        ("assistant", {"text": "de", "message_id": "msg_a"}),
    ]
    assert t.feed_lines([text_delta("f", 3)]).events == [("assistant", {"text": "f", "message_id": "msg_a"})]


def test_tool_results_and_user_lines() -> None:
    t = ClaudeTranslator()
    events = feed(
        t,
        {"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": "toolu_1", "type": "tool_result", "content": "hi-from-tool", "is_error": False}]}},
        {"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
             "content": [{"type": "text", "text": "line1"}, {"type": "image", "source": {}}]}]}},
        {"type": "user", "message": {"role": "user", "content": "<local-command-stdout>x</local-command-stdout>"},
         "isReplay": True},
        {"type": "user", "message": {"role": "user", "content": "echo of our prompt"}},
    )
    assert events == [
        ("tool_result", {"tool_id": "toolu_1", "output": "hi-from-tool", "is_error": False}),
        ("tool_result", {"tool_id": "toolu_2", "output": "line1\n[image not shown: no image data]", "is_error": True}),
    ]


def test_an_image_in_a_tool_result_becomes_a_reference_and_bytes_to_store() -> None:
    """Read of a PNG, as the real CLI prints it: the event keeps a reference, the step hands over the bytes."""
    data = png(4, 2, (0, 128, 255))
    step = ClaudeTranslator().feed_lines([
        {"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": "toolu_r1", "type": "tool_result", "content": [
                {"type": "text", "text": "here:"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": base64.b64encode(data).decode()}}]}]},
         "parent_tool_use_id": None, "tool_use_result": {"type": "image"}},
    ])
    ref = {"blob": hashlib.sha256(data).hexdigest(), "media_type": "image/png", "bytes": len(data),
           "width": 4, "height": 2}
    assert step.events == [("tool_result", {"tool_id": "toolu_r1", "output": "here:\n[image: PNG 4x2, 1 KB]",
                                            "is_error": False, "images": [ref]})]
    assert [(image.data, image.ref) for image in step.images] == [(data, ref)]


def test_control_requests_permissions_and_acks() -> None:
    t = ClaudeTranslator()
    init = t.feed_lines([{"type": "control_request", "request_id": "r0", "request": {"subtype": "initialize"}}])
    assert init.outgoing == [
        {"type": "control_response", "response": {"subtype": "success", "request_id": "r0", "response": {}}}
    ]
    hook = t.feed_lines([{"type": "control_request", "request_id": "r1", "request": {"subtype": "hook_callback"}}])
    assert hook.outgoing[0]["response"]["subtype"] == "error" and hook.events == []
    ask = t.feed_lines([{
        "type": "control_request", "request_id": "8862cd2f",
        "request": {"subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "touch x"},
                    "description": "make", "blocked_path": "/tmp/x", "permission_suggestions": []},
    }])
    assert ask.pending_changed and ask.events == [(
        "permission_request",
        {"request_id": "8862cd2f", "tool_name": "Bash", "input": {"command": "touch x"}, "description": "make",
         "blocked_path": "/tmp/x"},
    )]
    assert list(t.pending) == ["8862cd2f"]
    answer = t.answer("8862cd2f", "allow", None, answers={"Q?": "A"})
    assert answer.outgoing == [{"type": "control_response", "response": {
        "subtype": "success", "request_id": "8862cd2f",
        "response": {"behavior": "allow", "updatedInput": {"command": "touch x", "answers": {"Q?": "A"}}},
    }}]
    assert answer.events == [("permission_answer", {"request_id": "8862cd2f", "behavior": "allow",
                                                    "answers": {"Q?": "A"}})]
    with pytest.raises(KeyError):
        t.answer("8862cd2f", "allow", None)
    t.feed_lines([{"type": "control_request", "request_id": "r2",
                   "request": {"subtype": "can_use_tool", "tool_name": "Write", "input": {}}}])
    cancel = t.feed_lines([{"type": "control_cancel_request", "request_id": "r2"}])
    assert cancel.events[0][1]["behavior"] == "cancelled" and t.pending == {}
    asked = t.set_model("opus")
    acks = t.feed_lines([{"type": "control_response",
                          "response": {"subtype": "error", "request_id": asked["request_id"], "error": "nope"}}]).acks
    assert acks == [(asked["request_id"], False, "nope")]


def test_interrupt_held_until_the_turn_starts() -> None:
    t = ClaudeTranslator()
    t.user_message("long task")
    assert t.turn is TurnState.WAITING
    assert t.interrupt() is None  # before the turn's init the CLI would drop it
    assert t.interrupt() is None and t.turn is TurnState.INTERRUPT_HELD
    step = t.feed_lines([INIT])
    assert [out["request"] for out in step.outgoing] == [{"subtype": "interrupt"}]
    assert t.turn is TurnState.INTERRUPTING
    (end,) = feed(t, {**FAILED, "total_cost_usd": 0.5})
    assert end[1]["status"] == "interrupted" and end[1]["reason"] == "error_during_execution"
    assert t.turn is TurnState.IDLE and not t.busy


def test_a_held_interrupt_is_dropped_when_its_turn_ends_in_the_same_read() -> None:
    t = ClaudeTranslator()
    t.user_message("quick")
    t.user_message("next")  # waits behind the first
    t.interrupt()
    step = t.feed_lines([INIT, SUCCESS])
    assert step.outgoing == []  # the next turn must not be interrupted in its place
    assert [f["status"] for k, f in step.events if k == "turn_end"] == ["success"]
    assert t.turn is TurnState.WAITING
    assert t.feed_lines([INIT]).outgoing == [] and t.turn is TurnState.RUNNING


def test_interrupt_of_a_running_turn_and_running_cost() -> None:
    t = ClaudeTranslator()
    t.user_message("one")
    feed(t, INIT, {**SUCCESS, "total_cost_usd": 0.5})
    assert t.interrupt() is not None and t.turn is TurnState.IDLE  # nothing runs: the next turn is not affected
    t.user_message("two")
    feed(t, INIT)
    line = t.interrupt()
    assert line is not None and line["request"] == {"subtype": "interrupt"} and t.turn is TurnState.INTERRUPTING
    (end,) = feed(t, {**FAILED, "total_cost_usd": 0.75})
    assert end[1]["status"] == "interrupted" and end[1]["cost_usd"] == 0.25 and end[1]["total_cost_usd"] == 0.75
    t.user_message("three")
    (end,) = feed(t, INIT, {**FAILED, "subtype": "error_max_turns", "errors": ["too many turns"]})
    assert end[1]["status"] == "error" and end[1]["message"] == "too many turns"


def test_the_cli_reporting_an_interrupt_makes_the_turn_interrupted() -> None:
    t = ClaudeTranslator()
    t.user_message("go")
    events = feed(
        t, INIT,
        {"type": "user", "message": {"role": "user", "content": [
            {"type": "text", "text": "[Request interrupted by user for tool use]"}]}},
        FAILED,
    )
    assert [f["status"] for k, f in events if k == "turn_end"] == ["interrupted"]


def test_messages_written_during_a_turn_each_get_their_turn() -> None:
    t = ClaudeTranslator()
    for text in ("a", "b", "c"):
        t.user_message(text)
    for left in (TurnState.WAITING, TurnState.WAITING, TurnState.IDLE):
        feed(t, INIT, SUCCESS)
        assert t.turn is left
    assert not t.busy


def test_process_exit_cancels_open_requests_and_ends_the_turn() -> None:
    t = ClaudeTranslator()
    t.user_message("go")
    feed(t, INIT, {"type": "control_request", "request_id": "r9",
                   "request": {"subtype": "can_use_tool", "tool_name": "Bash", "input": {}}})
    assert t.busy and list(t.pending) == ["r9"]
    assert t.process_exited() == [
        ("permission_answer", {"request_id": "r9", "behavior": "cancelled", "message": "the agent process ended"})
    ]
    assert not t.busy and t.pending == {}


def test_rate_limit_and_refused_key_in_words() -> None:
    t = ClaudeTranslator()
    (retry,) = feed(t, {"type": "system", "subtype": "api_retry", "attempt": 1, "error_status": 429,
                        "error": "rate_limit_error"})
    assert retry[0] == "error" and retry[1]["code"] == "rate_limited" and "Claude Code" in retry[1]["message"]
    assert feed(t, {"type": "system", "subtype": "api_retry", "attempt": 2, "error_status": 429}) == []
    error, end = feed(t, {**FAILED, "subtype": "success", "result": "Invalid API key · Please run /login"})
    assert error[1]["code"] == "auth_required" and "/login" in error[1]["message"]
    assert end[1]["status"] == "error"


def test_unknown_lines_are_skipped() -> None:
    t = ClaudeTranslator()
    for line in (
        {"type": "keep_alive"},
        {"type": "system", "subtype": "task_progress"},
        {"type": "brand_new"},
        {"no_type": 1},
        {"type": "stream_event", "event": "garbage"},
        {"type": "assistant"},
    ):
        step = t.feed_lines([line])
        assert step.events == [] and step.outgoing == []


@pytest.mark.parametrize(
    "bad",
    [
        se({"type": "content_block_delta", "index": [0], "delta": {"type": "text_delta", "text": "x"}}),
        se({"type": "content_block_delta", "index": 0, "delta": {"type": ["text_delta"], "text": "x"}}),
        se({"type": "content_block_start", "index": 1, "content_block": ["text"]}),
        se({"type": "message_start", "message": "msg"}),
    ],
)
def test_a_malformed_line_is_kept_as_output_and_the_stream_goes_on(bad: dict[str, Any]) -> None:
    t = ClaudeTranslator()
    feed(t, se({"type": "message_start", "message": {"id": "msg_1"}}))
    step = t.feed_lines([bad, text_delta("after")])
    assert step.events == [
        ("output", {"stream": "stdout", "text": json.dumps(bad)}),
        ("assistant", {"text": "after", "message_id": "msg_1"}),
    ]
