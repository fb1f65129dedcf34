"""Shared pieces of the fake agent CLIs (fake_claude.py, fake_codex.py, fake_gemini.py, fake_opencode.py).

Modes choose the failure path a turn exercises. They come from words `mode:NAME` in the prompt (so one
session can try several) and from the env var FAKE_CLI_MODES (comma separated, applied to every turn):

    multi        several assistant lines sharing one message id (thinking + two text blocks)
    tool         a tool call (Claude: input built from input_json_delta fragments) and its result
    big          a line over 1 MB (a tool result of 1.5 MB)
    huge         (Claude) a 20 MB line, more than the runner's 16 MiB line limit (it arrives in parts)
    hugeutf8     (Claude) an 18 MB line of '€' as raw UTF-8 (3 bytes each: 16 MiB cuts fall inside characters)
    stderr       noise on stderr between the JSON lines
    badutf8      non-UTF-8 bytes inside a streamed text
    crash        exit with code 3 in the middle of the stream
    ignore_term  ignore SIGTERM (and, for Claude, keep running after stdin closes)
    hang         print nothing more and never end the turn
    slow         a long reply streamed slowly (for interrupts)
    grandchild   spawn a grandchild `sleep` that outlives nothing; its pid is in the reply text
    permission   (Claude) ask for permission to run a tool and wait for the answer (with an "always allow"
                 suggestion; once allowed with it, the same command is not asked again)
    ask          (Claude) AskUserQuestion: one single-choice and one multi-select question, answers echoed back
    parallel     (Claude) two tool calls in one message with two permission requests open at once
    subagent     (Claude) a Task tool whose lines carry parent_tool_use_id
    fail         (per-turn CLIs) the turn fails
    forget       (env only) resuming fails as for a session the CLI does not have
    flood        (Claude) 20,000 text deltas as fast as possible, for benchmarks

FAKE_CLI_LOG names a file each invocation appends its argv to (one JSON list per line).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

BIG_SIZE = 1_500_000
BAD_UTF8_MARK = "@@BADUTF8@@"
HUGE_UTF8_TEXT = "€" * 6_000_000
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63fccfc0500f000485018084a9"
    "8c210000000049454e44ae426082"
)
"""A 1x1 PNG (what mode:image reads when FAKE_CLI_IMAGE names no file)."""


def fake_image() -> bytes:
    """What mode:image shows: the file FAKE_CLI_IMAGE names (any bytes: the runner must check them), else TINY_PNG."""
    path = os.environ.get("FAKE_CLI_IMAGE", "")
    if not path:
        return TINY_PNG
    with open(path, "rb") as f:
        return f.read()


def fake_image_type() -> str:
    """The media type mode:image declares (FAKE_CLI_IMAGE_TYPE, default image/png): not necessarily the truth."""
    return os.environ.get("FAKE_CLI_IMAGE_TYPE", "image/png")


def modes(text: str) -> set[str]:
    found = set(re.findall(r"mode:([a-z_0-9]+)", text))
    env = os.environ.get("FAKE_CLI_MODES", "")
    found.update(m.strip() for m in env.split(",") if m.strip())
    return found


def log_argv() -> None:
    path = os.environ.get("FAKE_CLI_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(sys.argv[1:]) + "\n")


def emit(obj: dict, ensure_ascii: bool = True) -> None:
    """One JSON line, flushed at once (as the real CLIs do; they print UTF-8 as is, ensure_ascii=False)."""
    data = json.dumps(obj, ensure_ascii=ensure_ascii).encode("utf-8") + b"\n"
    if BAD_UTF8_MARK.encode() in data:
        data = data.replace(BAD_UTF8_MARK.encode(), b"\xff\xfe\xc3(")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def noise(tag: str) -> None:
    sys.stderr.write(f"[fake] debug noise {tag}\n")
    sys.stderr.flush()


def big_text(size: int = BIG_SIZE) -> str:
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


def spawn_grandchild() -> int:
    """A child of ours in our process group that would outlive us if nobody cleaned up."""
    child = subprocess.Popen(
        ["sleep", "1000"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return child.pid


def ignore_term() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def hang_forever() -> None:
    while True:
        time.sleep(3600)


def version_requested() -> bool:
    args = sys.argv[1:]
    if "--" in args:
        args = args[: args.index("--")]  # a prompt saying "--version" is still a prompt
    return "--version" in args


def option(name: str) -> str | None:
    """The value of --name=VALUE or --name VALUE in argv."""
    args = sys.argv[1:]
    for i, a in enumerate(args):
        if a == "--":
            break
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
        if a == f"--{name}" and i + 1 < len(args):
            return args[i + 1]
    return None


def positional_after_dashdash() -> str | None:
    args = sys.argv[1:]
    if "--" in args:
        rest = args[args.index("--") + 1 :]
        return " ".join(rest)
    return None
