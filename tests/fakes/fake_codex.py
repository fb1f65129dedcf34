#!/usr/bin/env python3
"""A faithful fake of `codex exec --json [--model=M] [resume THREAD_ID] -` (prompt on stdin): thread.started,
turn.started, item.* events of every item type, turn.completed or turn.failed, one JSON object per line,
flushed per line. SIGINT ends the turn with exit code 1, as the real CLI does. See fake_common.py for the
modes.
"""

from __future__ import annotations

import base64
import os
import signal
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_common as fc


def item(phase: str, body: dict) -> None:
    fc.emit({"type": f"item.{phase}", "item": body})


def main() -> int:
    if fc.version_requested():
        print("codex-cli 0.50.0")
        return 0
    fc.log_argv()
    args = sys.argv[1:]
    if not args or args[0] != "exec" or "--json" not in args:
        sys.stderr.write("usage: codex exec --json ...\n")
        return 2
    thread_id = args[args.index("resume") + 1] if "resume" in args else str(uuid.uuid4())
    if args[-1] == "-":
        prompt = sys.stdin.read()  # to EOF, as the real CLI does
    else:
        prompt = fc.positional_after_dashdash() or ""
    if "resume" in args and "forget" in fc.modes(""):
        sys.stderr.write(f"Error: thread/resume: thread/resume failed: no rollout found for thread id {thread_id}\n")
        return 1
    modes = fc.modes(prompt)
    signal.signal(signal.SIGINT, lambda *_: os._exit(1))
    if "ignore_term" in modes:
        fc.ignore_term()
    fc.emit({"type": "thread.started", "thread_id": thread_id})
    fc.emit({"type": "turn.started"})
    if "stderr" in modes:
        fc.noise("codex turn")
    if "hang" in modes or "ignore_term" in modes:
        fc.hang_forever()
    if "slow" in modes:
        for _ in range(600):
            time.sleep(0.1)
    if "crash" in modes:
        item(
            "started",
            {
                "id": "item_0",
                "type": "command_execution",
                "command": "make",
                "status": "in_progress",
                "aggregated_output": "",
            },
        )
        sys.stderr.write("thread 'main' panicked: fake crash\n")
        return 3
    if "fail" in modes:
        fc.emit({"type": "error", "message": "stream disconnected before completion"})
        fc.emit({"type": "turn.failed", "error": {"message": "fake failure"}})
        return 1
    item("completed", {"id": "item_0", "type": "reasoning", "text": "**Thinking** about the prompt"})
    if "image" in modes:
        # An MCP tool that returns a screenshot: MCP content blocks, the image as base64 with its mimeType.
        call = {"id": "item_7", "type": "mcp_tool_call", "server": "browser", "tool": "screenshot", "arguments": {}}
        item("started", {**call, "status": "in_progress"})
        item("completed", {**call, "status": "completed", "result": {"content": [
            {"type": "text", "text": "the page:"},
            {"type": "image", "data": base64.b64encode(fc.fake_image()).decode(), "mimeType": fc.fake_image_type()},
        ], "structured_content": None}})
    if "tool" in modes or "big" in modes:
        output = fc.big_text() if "big" in modes else "hi\n"
        item(
            "started",
            {
                "id": "item_1",
                "type": "command_execution",
                "command": "bash -lc 'echo hi'",
                "aggregated_output": "",
                "exit_code": None,
                "status": "in_progress",
            },
        )
        item(
            "completed",
            {
                "id": "item_1",
                "type": "command_execution",
                "command": "bash -lc 'echo hi'",
                "aggregated_output": output,
                "exit_code": 0,
                "status": "completed",
            },
        )
        item(
            "completed",
            {
                "id": "item_2",
                "type": "file_change",
                "status": "completed",
                "changes": [{"path": "a.txt", "kind": "add"}, {"path": "b.txt", "kind": "update"}],
            },
        )
        item(
            "started",
            {
                "id": "item_3",
                "type": "mcp_tool_call",
                "server": "docs",
                "tool": "search",
                "arguments": {"q": "x"},
                "status": "in_progress",
            },
        )
        item(
            "completed",
            {
                "id": "item_3",
                "type": "mcp_tool_call",
                "server": "docs",
                "tool": "search",
                "arguments": {"q": "x"},
                "status": "failed",
                "error": {"message": "server down"},
            },
        )
        item("started", {"id": "item_4", "type": "web_search", "query": "python asyncio"})
        item("completed", {"id": "item_4", "type": "web_search", "query": "python asyncio"})
        item("started", {"id": "item_5", "type": "todo_list", "items": [{"text": "read", "completed": False}]})
        item("updated", {"id": "item_5", "type": "todo_list", "items": [{"text": "read", "completed": True}]})
        item(
            "completed",
            {
                "id": "item_5",
                "type": "todo_list",
                "items": [{"text": "read", "completed": True}, {"text": "write", "completed": False}],
            },
        )
        item("completed", {"id": "item_6", "type": "error", "message": "model metadata not found"})
    text = f"Echo: {prompt}"
    if "grandchild" in modes:
        text = f"grandchild={fc.spawn_grandchild()}"
    if "badutf8" in modes:
        text = f"bad bytes here: {fc.BAD_UTF8_MARK} end"
    item("completed", {"id": "item_9", "type": "agent_message", "text": text})
    fc.emit(
        {
            "type": "turn.completed",
            "usage": {"input_tokens": 20, "cached_input_tokens": 0, "output_tokens": 7},
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
