#!/usr/bin/env python3
"""A faithful fake of `claude --input-format stream-json --output-format stream-json --verbose
--include-partial-messages`: the real line shapes, one JSON object per line, flushed per line.

For each user line on stdin: system/init, then per API message a status line and the stream_events, each content
block's whole assistant line coming right after its last delta (all sharing the message id), tool results as user
lines, and a result line. Answers control requests (interrupt, set_model, set_permission_mode, initialize; any other
subtype or a missing/wrong field gets an error response) and asks can_use_tool in `mode:permission` and
`mode:parallel`. Exits 0 on stdin EOF. See fake_common.py for the modes. The order and the shapes are checked
against a recording of the real CLI (tests/fakes/recorded/, tests/runner/agents/test_fake_claude_matches_recording.py).
"""

from __future__ import annotations

import base64
import json
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_common as fc

VERSION = "2.1.0 (Claude Code)"
PERMISSION_MODES = ("acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan")


class FakeClaude:
    def __init__(self) -> None:
        resume = fc.option("resume")
        self.session_id = resume or str(uuid.uuid4())
        self.model = fc.option("model") or "claude-fake-1"
        self.permission_mode = fc.option("permission-mode") or "default"
        self.inbox: queue.Queue[dict | None] = queue.Queue()
        self.interrupted = False
        self.total_cost = 0.0
        self.allowed_rules: list[str | None] = []  # Bash commands allowed for the session ("always allow")
        self.eof = False
        self.ignoring_term = False

    # --- stdin
    # ------------------------------------------------------------------------------------------------

    def read_stdin(self) -> None:
        for raw in sys.stdin.buffer:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                fc.noise(f"bad input line {line[:40]!r}")
                continue
            if msg.get("type") == "control_request":
                self.control(msg)
            else:
                self.inbox.put(msg)
        self.inbox.put(None)

    def control_error(self, rid: object, error: str, code: str) -> None:
        fc.emit(
            {
                "type": "control_response",
                "response": {"subtype": "error", "request_id": rid, "error": error, "error_code": code},
            }
        )

    def control(self, msg: dict) -> None:
        """Answer a control request as the real 2.1.x does (tests/fakes/recorded/claude-stream-json.jsonl): unknown
        subtypes and missing or wrong fields get an error response, never a success."""
        rid = msg.get("request_id")
        req = msg.get("request") or {}
        sub = req.get("subtype")
        response: dict = {}
        if sub == "interrupt":
            self.interrupted = True
            response = {"still_queued": []}
        elif sub == "initialize":
            response = {"commands": [], "models": []}
        elif sub == "set_model":
            if not isinstance(req.get("model"), str):
                self.control_error(rid, "Cannot set model: 'model' must be a string", "invalid_model")
                return
            self.model = req["model"]
            response = {"model": self.model}
        elif sub == "set_permission_mode":
            mode = req.get("mode")
            if mode not in PERMISSION_MODES:
                self.control_error(
                    rid, f"Cannot set permission mode: must be one of {', '.join(PERMISSION_MODES)}", "invalid_mode"
                )
                return
            if mode == "bypassPermissions":
                self.control_error(rid, "Cannot set permission mode to bypassPermissions", "bypass_not_launched")
                return
            self.permission_mode = mode
            response = {"mode": self.permission_mode}
        else:
            self.control_error(rid, f"Unsupported control request subtype: {sub}", "unsupported_request")
            return
        fc.emit(
            {
                "type": "control_response",
                "response": {"subtype": "success", "request_id": rid, "response": response},
            }
        )

    # --- lines
    # --------------------------------------------------------------------------------------------------

    def base(self, parent: str | None = None) -> dict:
        return {"session_id": self.session_id, "parent_tool_use_id": parent, "uuid": str(uuid.uuid4())}

    def stream(self, event: dict, parent: str | None = None) -> None:
        fc.emit({"type": "stream_event", "event": event, **self.base(parent)})

    def assistant(self, message_id: str, block: dict, parent: str | None = None) -> None:
        fc.emit(
            {
                "type": "assistant",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [block],
                    "stop_reason": None,
                    "usage": {"input_tokens": 5, "output_tokens": 1},
                },
                **self.base(parent),
            }
        )

    def tool_result(
        self,
        tool_id: str,
        content: str,
        is_error: bool = False,
        parent: str | None = None,
        ensure_ascii: bool = True,
    ) -> None:
        fc.emit(
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "tool_use_id": tool_id,
                            "type": "tool_result",
                            "content": content,
                            "is_error": is_error,
                        }
                    ],
                },
                **self.base(parent),
            },
            ensure_ascii,
        )

    def image_result(self, tool_id: str, data: bytes, media_type: str) -> None:
        """A Read of an image file's result, shaped as the real 2.1.x prints it: the content is a list holding one
        base64 `image` block, and `tool_use_result` repeats the bytes with their size (reference doc, section 3)."""
        encoded = base64.b64encode(data).decode("ascii")
        fc.emit(
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "tool_use_id": tool_id,
                            "type": "tool_result",
                            "content": [
                                {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                                             "data": encoded}}
                            ],
                        }
                    ],
                },
                **self.base(),
                "tool_use_result": {
                    "type": "image",
                    "file": {"base64": encoded, "type": media_type, "originalSize": len(data),
                             "dimensions": {"originalWidth": 1, "originalHeight": 1,
                                            "displayWidth": 1, "displayHeight": 1}},
                },
            }
        )

    def message(
        self,
        blocks: list[dict],
        modes: set[str],
        delay: float = 0.0,
        on_block: Callable[[dict], None] | None = None,
    ) -> bool:
        """Stream one API message as the real 2.1.x does: per block its deltas, then its whole assistant line, then
        content_block_stop (`on_block` runs between the last two: the CLI asks for a tool's permission there).
        False if interrupted."""
        mid = f"msg_{uuid.uuid4().hex[:24]}"
        fc.emit({"type": "system", "subtype": "status", "status": "requesting", **self.base()})
        self.stream(
            {
                "type": "message_start",
                "message": {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": self.model,
                },
            }
        )
        for index, block in enumerate(blocks):
            kind = block["type"]
            start = (
                {"type": kind, "text": ""}
                if kind == "text"
                else (
                    {"type": "thinking", "thinking": ""}
                    if kind == "thinking"
                    else {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                )
            )
            self.stream({"type": "content_block_start", "index": index, "content_block": start})
            if kind in ("text", "thinking"):
                text = block[kind if kind == "thinking" else "text"]
                step = max(len(text), 1) if fc.BAD_UTF8_MARK in text else 7
                for i in range(0, len(text), step):
                    if self.interrupted:
                        return False
                    piece = text[i : i + step]
                    delta = (
                        {"type": "text_delta", "text": piece}
                        if kind == "text"
                        else {"type": "thinking_delta", "thinking": piece}
                    )
                    self.stream({"type": "content_block_delta", "index": index, "delta": delta})
                    if "stderr" in modes:
                        fc.noise(f"delta {i}")
                    if delay:
                        time.sleep(delay)
            else:
                raw = json.dumps(block["input"])
                for i in range(0, len(raw), 4):  # split mid-token, as the API does
                    self.stream(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": raw[i : i + 4]},
                        }
                    )
            self.assistant(mid, block)
            if on_block is not None:
                on_block(block)
            self.stream({"type": "content_block_stop", "index": index})
        stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        self.stream(
            {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": 9}}
        )
        self.stream({"type": "message_stop"})
        return True

    def result(self, subtype: str = "success", text: str = "") -> None:
        self.total_cost += 0.0125
        fc.emit(
            {
                "type": "result",
                "subtype": subtype,
                "is_error": subtype != "success",
                "duration_ms": 42,
                "duration_api_ms": 30,
                "num_turns": 1,
                "result": text,
                "session_id": self.session_id,
                "total_cost_usd": round(self.total_cost, 6),
                "usage": {"input_tokens": 5, "output_tokens": 9},
            }
        )

    def wait_answer(self, request_id: str) -> dict | None:
        """Wait for the control_response to our can_use_tool; None if interrupted or stdin closed first."""
        answers = self.wait_answers([request_id])
        return None if answers is None else answers[request_id]

    def wait_answers(self, request_ids: list[str]) -> dict[str, dict] | None:
        """Wait for the answers to several open can_use_tool requests, in whatever order they come; None if
        interrupted or stdin closed first. An answer naming no open request is an error, as for the real CLI."""
        answers: dict[str, dict] = {}
        while len(answers) < len(request_ids):
            if self.interrupted:
                return None
            try:
                msg = self.inbox.get(timeout=0.05)
            except queue.Empty:
                continue
            if msg is None:
                self.eof = True
                return None
            if msg.get("type") == "control_response":
                resp = msg.get("response") or {}
                rid = resp.get("request_id")
                if rid in request_ids and rid not in answers:
                    answers[rid] = resp.get("response") or {}
                else:
                    fc.noise(f"control_response for no open request: {rid!r}")
            else:
                self.inbox.put(msg)  # a user message queued behind this turn
                time.sleep(0.05)
        return answers

    def ask_permission(self, tool_id: str, command: str) -> str:
        """Send a can_use_tool control request; return its request_id. Like the real 2.1.x for Bash, it suggests
        an "always allow" rule for the exact command."""
        rid = str(uuid.uuid4())
        fc.emit(
            {
                "type": "control_request",
                "request_id": rid,
                "request": {
                    "subtype": "can_use_tool",
                    "tool_name": "Bash",
                    "input": {"command": command},
                    "tool_use_id": tool_id,
                    "description": "make a file",
                    "permission_suggestions": [
                        {"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": command}],
                         "behavior": "allow", "destination": "localSettings"}
                    ],
                },
            }
        )
        return rid

    def ask_question(self, tool_id: str, questions: list[dict]) -> str:
        """AskUserQuestion as the real CLI asks it: an ordinary can_use_tool needing the user, no suggestions."""
        rid = str(uuid.uuid4())
        fc.emit({"type": "control_request", "request_id": rid, "request": {
            "subtype": "can_use_tool", "tool_name": "AskUserQuestion", "display_name": "AskUserQuestion",
            "input": {"questions": questions}, "tool_use_id": tool_id, "requires_user_interaction": True}})
        return rid

    def apply_answer(self, tool_id: str, answer: dict) -> None:
        if answer.get("behavior") == "allow":
            for update in answer.get("updatedPermissions") or []:  # "always allow": remembered as the CLI does
                self.allowed_rules.extend(r.get("ruleContent") for r in update.get("rules") or [])
            self.tool_result(tool_id, f"ran {answer.get('updatedInput', {}).get('command')}")
        else:
            self.tool_result(tool_id, answer.get("message", "denied"), is_error=True)

    def refused_by_interrupt(self, tool_ids: list[str], request_ids: list[str]) -> None:
        for rid in request_ids:
            fc.emit({"type": "control_cancel_request", "request_id": rid})
        for tool_id in tool_ids:
            self.tool_result(tool_id, "The user doesn't want to proceed with this tool use.", True)
        fc.emit(
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [{"type": "text", "text": "[Request interrupted by user for tool use]"}],
                },
                **self.base(),
            }
        )
        self.result("error_during_execution")

    # --- a turn
    # -------------------------------------------------------------------------------------------------

    def turn(self, text: str) -> None:
        modes = fc.modes(text)
        self.interrupted = False
        fc.emit(
            {
                "type": "system",
                "subtype": "init",
                "session_id": self.session_id,
                "cwd": os.getcwd(),
                "model": self.model,
                "permissionMode": self.permission_mode,
                "tools": ["Bash", "Read", "Task"],
                "uuid": str(uuid.uuid4()),
            }
        )
        fc.emit({"type": "rate_limit_event", "rate_limit_info": {"status": "allowed"}, **self.base()})
        if "stderr" in modes:
            fc.noise("turn start")
        if "hang" in modes:
            fc.hang_forever()
        reply = f"Echo: {text}"
        if "grandchild" in modes:
            reply = f"grandchild={fc.spawn_grandchild()}"
        if "badutf8" in modes:
            reply = f"bad bytes here: {fc.BAD_UTF8_MARK} end"
        if "crash" in modes:
            mid = f"msg_{uuid.uuid4().hex[:24]}"
            self.stream({"type": "message_start", "message": {"id": mid, "content": []}})
            self.stream(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
            )
            self.stream(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "partial"},
                }
            )
            sys.stderr.write("fatal: the fake crashed on purpose\n")
            sys.stderr.flush()
            os._exit(3)
        if "flood" in modes:
            # Many small deltas as fast as possible (tests/benchmarks/bench_agents.py).
            self.message([{"type": "text", "text": "x" * 7 * 20000}], modes)
        elif "multi" in modes:
            blocks = [
                {"type": "thinking", "thinking": "Let me think about it."},
                {"type": "text", "text": "First part. "},
                {"type": "text", "text": "Second part."},
            ]
            self.message(blocks, modes)
        elif "subagent" in modes:
            task_id = f"toolu_{uuid.uuid4().hex[:20]}"
            self.message(
                [
                    {
                        "type": "tool_use",
                        "id": task_id,
                        "name": "Task",
                        "input": {"description": "look around", "prompt": "list files"},
                    }
                ],
                modes,
            )
            sub_mid = f"msg_{uuid.uuid4().hex[:24]}"
            fc.emit(
                {"type": "user", "message": {"role": "user", "content": "list files"}, **self.base(task_id)}
            )
            self.assistant(sub_mid, {"type": "text", "text": "Subagent says hi."}, parent=task_id)
            self.tool_result(task_id, "subagent finished")
            self.message([{"type": "text", "text": "Done with the subagent."}], modes)
        elif "ask" in modes:
            tool_id = f"toolu_{uuid.uuid4().hex[:20]}"
            questions = [
                {"question": "Which database should we use?", "header": "Database", "multiSelect": False,
                 "options": [{"label": "SQLite", "description": "a file"},
                             {"label": "PostgreSQL", "description": "a server"}]},
                {"question": "Which features?", "header": "Features", "multiSelect": True,
                 "options": [{"label": "Auth", "description": "log in"}, {"label": "Search", "description": "find"}]},
            ]
            asked = []
            self.message([{"type": "tool_use", "id": tool_id, "name": "AskUserQuestion",
                           "input": {"questions": questions}}], modes,
                         on_block=lambda b: asked.append(self.ask_question(b["id"], questions)))
            answer = self.wait_answer(asked[0])
            if answer is None:
                self.refused_by_interrupt([tool_id], asked)
                return
            if answer.get("behavior") != "allow":
                self.tool_result(tool_id, answer.get("message", "denied"), is_error=True)
            else:
                given = (answer.get("updatedInput") or {}).get("answers") or {}
                pairs = ", ".join(f'"{q}"="{a}"' for q, a in given.items())
                self.tool_result(tool_id, f"Your questions have been answered: {pairs}. You can now continue with "
                                 "these answers in mind.")
                self.message([{"type": "text", "text": f"Going with: {pairs}"}], modes)
        elif "image" in modes:
            # Read of an image file (fc.fake_image).
            path = os.environ.get("FAKE_CLI_IMAGE", "")
            data, media_type = fc.fake_image(), fc.fake_image_type()
            tool_id = f"toolu_{uuid.uuid4().hex[:20]}"
            self.message([{"type": "tool_use", "id": tool_id, "name": "Read",
                           "input": {"file_path": path or os.path.join(os.getcwd(), "shot.png")}}], modes)
            self.image_result(tool_id, data, media_type)
            self.message([{"type": "text", "text": "I see the image."}], modes)
        elif "parallel" in modes:
            # Two tool calls in one message, both asked at once (as the real CLI does for parallel tool calls):
            # two permission requests are open together and may be answered in any order.
            tools = [(f"toolu_{uuid.uuid4().hex[:20]}", f"touch parallel-{n}") for n in (1, 2)]
            rids: list[str] = []
            self.message(
                [
                    {"type": "text", "text": "Running two."},
                    *({"type": "tool_use", "id": t, "name": "Bash", "input": {"command": c}} for t, c in tools),
                ],
                modes,
                on_block=lambda b: rids.append(self.ask_permission(b["id"], b["input"]["command"]))
                if b["type"] == "tool_use"
                else None,
            )
            answers = self.wait_answers(rids)
            if answers is None:
                self.refused_by_interrupt([t for t, _ in tools], rids)
                return
            for (tool_id, _), rid in zip(tools, rids, strict=True):
                self.apply_answer(tool_id, answers[rid])
            self.message([{"type": "text", "text": "Tools finished."}], modes)
        elif "tool" in modes or "big" in modes or "huge" in modes or "hugeutf8" in modes or "permission" in modes:
            tool_id = f"toolu_{uuid.uuid4().hex[:20]}"
            command = "touch made-by-fake" if "permission" in modes else "echo fake-tool"
            if command in self.allowed_rules:  # an "always allow" rule answers before anyone is asked
                modes = (modes - {"permission"}) | {"allowed"}
            asked: list[str] = []
            self.message(
                [
                    {"type": "text", "text": "Running a tool."},
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": "Bash",
                        "input": {"command": command, "description": 'a "quoted" {tricky} input'},
                    },
                ],
                modes,
                on_block=lambda b: asked.append(self.ask_permission(b["id"], command))
                if "permission" in modes and b["type"] == "tool_use"
                else None,
            )
            if "permission" in modes:
                (rid,) = asked
                answer = self.wait_answer(rid)
                if answer is None:
                    self.refused_by_interrupt([tool_id], [rid])
                    return
                self.apply_answer(tool_id, answer)
            elif "hugeutf8" in modes:
                self.tool_result(tool_id, fc.HUGE_UTF8_TEXT, ensure_ascii=False)
            elif "allowed" in modes:
                self.tool_result(tool_id, f"ran {command}")
            else:
                size = 20_000_000 if "huge" in modes else fc.BIG_SIZE if "big" in modes else 0
                self.tool_result(tool_id, fc.big_text(size) if size else "fake-tool")
            self.message([{"type": "text", "text": "Tool finished."}], modes)
        else:
            delay = 0.05 if "slow" in modes else 0.0
            if "slow" in modes:
                reply = " ".join(f"word{i}" for i in range(2000))
            if not self.message([{"type": "text", "text": reply}], modes, delay=delay):
                fc.emit(
                    {
                        "type": "user",
                        "message": {
                            "role": "user",
                            "content": [{"type": "text", "text": "[Request interrupted by user]"}],
                        },
                        **self.base(),
                    }
                )
                self.result("error_during_execution")
                return
        if "stderr" in modes:
            fc.noise("turn end")
        self.result("success", reply)

    def run(self) -> int:
        fc.log_argv()
        if fc.option("resume") and "forget" in fc.modes(""):
            # What the real CLI does when --resume names a conversation it does not have.
            sys.stderr.write(f"No conversation found with session ID: {self.session_id}\n")
            sys.stdin.buffer.readline()
            self.result("error_during_execution")
            return 1
        if "ignore_term" in fc.modes(""):
            fc.ignore_term()
            self.ignoring_term = True
        threading.Thread(target=self.read_stdin, daemon=True).start()
        while True:
            msg = self.inbox.get()
            if msg is None:
                break
            if msg.get("type") == "user":
                content = msg.get("message", {}).get("content")
                text = content if isinstance(content, str) else json.dumps(content)
                if "ignore_term" in fc.modes(text):
                    fc.ignore_term()
                    self.ignoring_term = True
                self.turn(text)
                if self.eof:
                    break
        if self.ignoring_term:
            fc.hang_forever()  # a CLI stuck after stdin closed: only SIGKILL ends it
        return 0


def main() -> int:
    if fc.version_requested():
        print(VERSION)
        return 0
    if os.environ.get("CLAUDECODE"):
        # The real CLI refuses to nest; the fake makes a leaked variable visible to tests.
        sys.stderr.write("Error: Claude Code cannot be launched inside another Claude Code session.\n")
        return 1
    return FakeClaude().run()


if __name__ == "__main__":
    sys.exit(main())
