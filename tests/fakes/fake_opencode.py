#!/usr/bin/env python3
"""A faithful fake of `opencode run --format json [--session=ID] [--model=M]` with the prompt on stdin: objects of
{type, timestamp, sessionID, part} for step_start, text (whole parts), reasoning, tool_use, step_finish and
error. See fake_common.py for the modes.
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


def main() -> int:
    if fc.version_requested():
        print("0.15.3")
        return 0
    fc.log_argv()
    args = sys.argv[1:]
    if not args or args[0] != "run" or fc.option("format") != "json":
        sys.stderr.write("fake opencode: needs run --format json\n")
        return 2
    # As the real CLI: the message words, then stdin (when not a terminal) read to EOF.
    words = fc.positional_after_dashdash()
    piped = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    prompt = "\n".join(p for p in (words, piped) if p)
    modes = fc.modes(prompt)
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    if "ignore_term" in modes:
        fc.ignore_term()
    session_id = fc.option("session") or f"ses_{uuid.uuid4().hex[:24]}"
    if fc.option("session") and "forget" in fc.modes(""):
        fc.emit(
            {
                "type": "error",
                "timestamp": int(time.time() * 1000),
                "sessionID": session_id,
                "error": {"name": "NotFoundError", "data": {"message": f"Session not found: {session_id}"}},
            }
        )
        return 1
    message_id = f"msg_{uuid.uuid4().hex[:20]}"

    def out(kind: str, part: dict) -> None:
        fc.emit(
            {
                "type": kind,
                "timestamp": int(time.time() * 1000),
                "sessionID": session_id,
                "part": {
                    "id": f"prt_{uuid.uuid4().hex[:12]}",
                    "sessionID": session_id,
                    "messageID": message_id,
                    "type": kind.replace("_", "-"),
                    **part,
                },
            }
        )

    out("step_start", {"snapshot": "abc"})
    if "stderr" in modes:
        fc.noise("opencode turn")
    if "hang" in modes or "ignore_term" in modes:
        fc.hang_forever()
    if "slow" in modes:
        time.sleep(60)
    if "crash" in modes:
        out("text", {"text": "partial"})
        return 3
    if "fail" in modes:
        fc.emit(
            {
                "type": "error",
                "timestamp": int(time.time() * 1000),
                "sessionID": session_id,
                "error": {"name": "ProviderAuthError", "data": {"message": "no API key"}},
            }
        )
        return 1
    if "multi" in modes:
        out("reasoning", {"text": "Thinking it over."})
        out("text", {"text": "Part one. "})
        out("text", {"text": "Part two."})
    if "image" in modes:
        # `read` of an image file: the image comes back as an attachment, a file part with a data: URL.
        data = base64.b64encode(fc.fake_image()).decode()
        out("tool_use", {"callID": "call_img", "tool": "read", "state": {
            "status": "completed", "input": {"filePath": "shot.png"}, "output": "Image read successfully",
            "title": "shot.png", "metadata": {}, "time": {"start": 1, "end": 2},
            "attachments": [{"id": "prt_att", "sessionID": session_id, "messageID": message_id, "type": "file",
                             "mime": fc.fake_image_type(), "filename": "shot.png",
                             "url": f"data:{fc.fake_image_type()};base64,{data}"}]}})
    if "tool" in modes or "big" in modes:
        out(
            "tool_use",
            {
                "callID": "call_1",
                "tool": "bash",
                "state": {
                    "status": "completed",
                    "input": {"command": "ls"},
                    "output": fc.big_text() if "big" in modes else "a.txt\nb.txt",
                    "title": "ls",
                },
            },
        )
        out(
            "tool_use",
            {
                "callID": "call_2",
                "tool": "read",
                "state": {"status": "error", "input": {"filePath": "/nope"}, "error": "File not found"},
            },
        )
        out(
            "step_finish",
            {
                "reason": "tool-calls",
                "cost": 0.001,
                "tokens": {"input": 10, "output": 5, "reasoning": 0, "cache": {"read": 0, "write": 0}},
            },
        )
        message_id = f"msg_{uuid.uuid4().hex[:20]}"
        out("step_start", {"snapshot": "def"})
    text = f"Echo: {prompt}"
    if "grandchild" in modes:
        text = f"grandchild={fc.spawn_grandchild()}"
    if "badutf8" in modes:
        text = f"bad bytes here: {fc.BAD_UTF8_MARK} end"
    out("text", {"text": text, "time": {"start": 1, "end": 2}})
    out(
        "step_finish",
        {
            "reason": "stop",
            "cost": 0.002,
            "tokens": {"input": 20, "output": 7, "reasoning": 0, "cache": {"read": 0, "write": 0}},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
