#!/usr/bin/env python3
"""A `claude` stand-in for benchmarks: for each user line on stdin it prints FLOOD_DELTAS text deltas (default
100,000; `deltas:N` in the message overrides it) in Claude Code's stream-json line shapes as fast as the pipe takes
them, then the whole message and a `result` line, and waits for the next user line; exits on stdin EOF.

The lines are built with string formatting and written in large chunks, so this process costs far less CPU than
whatever reads it and never limits the figures. The same lines feed the runner and the relay baseline.

Delta i's text is `delta_text(i)`: distinct per delta (so a reader can check every delta arrived once and in
order), with a non-ASCII character in every tenth, as real model output has.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid

CHUNK_LINES = 2000


def delta_text(i: int) -> str:
    return f"w{i}€ " if i % 10 == 0 else f"w{i} "


def _line(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def turn(session_id: str, n: int) -> None:
    out = sys.stdout.buffer
    mid = f"msg_{uuid.uuid4().hex[:24]}"
    base = {"session_id": session_id, "parent_tool_use_id": None}
    out.write(_line({"type": "system", "subtype": "init", "session_id": session_id, "model": "claude-fake-1",
                     "cwd": os.getcwd(), "permissionMode": "default", "tools": []}))
    out.write(_line({"type": "stream_event", "event": {"type": "message_start", "message": {
        "id": mid, "type": "message", "role": "assistant", "content": []}}, **base}))
    out.write(_line({"type": "stream_event", "event": {"type": "content_block_start", "index": 0,
                                                          "content_block": {"type": "text", "text": ""}}, **base}))
    # What the real CLI prints per delta (node's JSON.stringify: UTF-8 as is, a fresh uuid per line).
    head = '{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
    tail = f'}}}},"session_id":"{session_id}","parent_tool_use_id":null,"uuid":"'
    prefix = uuid.uuid4().hex[:24]
    for start in range(0, n, CHUNK_LINES):
        chunk = "".join(
            f'{head}"text":{json.dumps(delta_text(i), ensure_ascii=False)}{tail}{prefix}{i:08x}"}}\n'
            for i in range(start, min(start + CHUNK_LINES, n))
        )
        out.write(chunk.encode())
    out.write(_line({"type": "stream_event", "event": {"type": "content_block_stop", "index": 0}, **base}))
    out.write(_line({"type": "stream_event", "event": {"type": "message_stop"}, **base}))
    whole = "".join(delta_text(i) for i in range(n))
    out.write(_line({"type": "assistant", "message": {"id": mid, "type": "message", "role": "assistant",
                                                       "content": [{"type": "text", "text": whole}]}, **base}))
    out.write(_line({"type": "result", "subtype": "success", "is_error": False, "duration_ms": 1, "num_turns": 1,
                     "result": "", "session_id": session_id, "total_cost_usd": 0.0,
                     "usage": {"input_tokens": 1, "output_tokens": n}}))
    out.flush()


def main() -> None:
    if "--version" in sys.argv:
        print("2.1.0 (Claude Code)")
        return
    default = int(os.environ.get("FLOOD_DELTAS", "100000"))
    session_id = str(uuid.uuid4())
    for raw in sys.stdin.buffer:
        msg = json.loads(raw)
        if msg.get("type") == "user":
            # "deltas:N" in the message overrides FLOOD_DELTAS for that turn.
            found = re.search(r"deltas:(\d+)", str(msg.get("message", {}).get("content", "")))
            turn(session_id, int(found.group(1)) if found else default)


if __name__ == "__main__":
    main()
