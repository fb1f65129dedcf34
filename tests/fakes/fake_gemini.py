#!/usr/bin/env python3
"""A faithful fake of `gemini --output-format stream-json [--resume=ID]` with the prompt on stdin (or --prompt):
init, message (user echo, assistant deltas), tool_use, tool_result, error, result; each line has a timestamp. See
fake_common.py for modes.
"""

from __future__ import annotations

import datetime
import os
import signal
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_common as fc


def out(obj: dict) -> None:
    fc.emit({**obj, "timestamp": datetime.datetime.now(datetime.UTC).isoformat()})


def main() -> int:
    if fc.version_requested():
        print("0.9.0")
        return 0
    fc.log_argv()
    # As the real CLI: stdin (when not a terminal) is read to EOF; --prompt is appended to it.
    parts = [] if sys.stdin is None or sys.stdin.isatty() else [sys.stdin.read()]
    if fc.option("prompt") is not None:
        parts.append(fc.option("prompt") or "")
    prompt = "\n\n".join(p for p in parts if p)
    if not prompt:
        sys.stderr.write(
            "No input provided via stdin. Input can be provided by piping data into gemini "
            "or using the --prompt option.\n"
        )
        return 42
    if fc.option("output-format") != "stream-json":
        sys.stderr.write("fake gemini: needs --output-format stream-json\n")
        return 42
    if os.environ.get("GEMINI_CLI_TRUST_WORKSPACE") != "true":
        # What Gemini CLI 0.61 does in a folder that is not trusted.
        sys.stderr.write(
            "Gemini CLI is not running in a trusted directory. To proceed, either use `--skip-trust`, "
            "set the `GEMINI_CLI_TRUST_WORKSPACE=true` environment variable, ...\n"
        )
        return 55
    modes = fc.modes(prompt)
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    if "ignore_term" in modes:
        fc.ignore_term()
    if fc.option("resume") and "forget" in fc.modes(""):
        sys.stderr.write(f"Invalid session identifier {fc.option('resume')!r}\n")
        return 1
    session_id = fc.option("resume") or str(uuid.uuid4())
    out({"type": "init", "session_id": session_id, "model": fc.option("model") or "gemini-fake"})
    out({"type": "message", "role": "user", "content": prompt})
    if "stderr" in modes:
        fc.noise("gemini turn")
    if "hang" in modes or "ignore_term" in modes:
        fc.hang_forever()
    if "slow" in modes:
        time.sleep(60)
    if "crash" in modes:
        out({"type": "message", "role": "assistant", "content": "partial", "delta": True})
        return 3
    if "fail" in modes:
        out({"type": "error", "severity": "error", "message": "quota exceeded"})
        out(
            {
                "type": "result",
                "status": "error",
                "error": {"type": "ApiError", "message": "quota exceeded"},
                "stats": {"total_tokens": 0, "duration_ms": 5},
            }
        )
        return 1
    if "tool" in modes or "big" in modes:
        out({"type": "message", "role": "assistant", "content": "Let me ", "delta": True})
        out({"type": "message", "role": "assistant", "content": "look.", "delta": True})
        out(
            {
                "type": "tool_use",
                "tool_name": "read_file",
                "tool_id": "read-1",
                "parameters": {"path": "a.txt"},
            }
        )
        out(
            {
                "type": "tool_result",
                "tool_id": "read-1",
                "status": "success",
                "output": fc.big_text() if "big" in modes else "contents of a",
            }
        )
        out(
            {
                "type": "tool_use",
                "tool_name": "run_shell_command",
                "tool_id": "sh-2",
                "parameters": {"command": "x"},
            }
        )
        out(
            {
                "type": "tool_result",
                "tool_id": "sh-2",
                "status": "error",
                "error": {"type": "exec", "message": "command not found"},
            }
        )
        out({"type": "error", "severity": "warning", "message": "loop detected, continuing"})
    text = f"Echo: {prompt}"
    if "grandchild" in modes:
        text = f"grandchild={fc.spawn_grandchild()}"
    if "badutf8" in modes:
        text = f"bad bytes here: {fc.BAD_UTF8_MARK} end"
    step = len(text) if fc.BAD_UTF8_MARK in text else 6  # the mark is replaced only when whole
    for i in range(0, len(text), step):
        out({"type": "message", "role": "assistant", "content": text[i : i + step], "delta": True})
    out(
        {
            "type": "result",
            "status": "success",
            "stats": {
                "total_tokens": 30,
                "input_tokens": 20,
                "output_tokens": 10,
                "duration_ms": 17,
                "tool_calls": 0,
            },
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
