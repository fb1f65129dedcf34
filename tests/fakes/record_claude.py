"""Record what the real Claude Code CLI prints for the exchanges the runner depends on, offline, and replay the same
exchanges against the fake (tests/fakes/fake_claude.py) for comparison.

    python -m tests.fakes.record_claude [--cli PATH] [--out tests/fakes/recorded/claude-stream-json.jsonl]

The CLI runs with the runner's flags (ClaudeAgent.build_argv) against the scripted API server
(tests/fakes/anthropic_server.py), in a temporary HOME. The exchange (SCRIPT): control requests of an unknown
subtype and with a wrong field name, a turn whose reply has two text blocks, then a turn with two tool calls in one
message whose permission requests are answered in the reverse order. Each line is stored as
{"dir": "in"|"out", "line": {...}}; tests/runner/agents/test_fake_claude_matches_recording.py compares the fake's
lines with it.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CLI = REPO / ".cache" / "claude-code" / "node_modules" / ".bin" / "claude"
DEFAULT_OUT = REPO / "tests" / "fakes" / "recorded" / "claude-stream-json.jsonl"
FAKE = REPO / "tests" / "fakes" / "fake_claude.py"

ARGV_FLAGS = [
    "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
    "--include-partial-messages", "--permission-prompt-tool", "stdio",
]
"""What ClaudeAgent.build_argv passes (tests/runner/agents/test_fake_claude_matches_recording.py checks it)."""

TWO_PARTS = "mode:multi please answer in two parts"
TWO_TOOLS = "mode:parallel please run two commands at once"


def _control(request_id: str, request: dict[str, Any]) -> dict[str, Any]:
    return {"type": "control_request", "request_id": request_id, "request": request}


def _user(text: str) -> dict[str, Any]:
    return {"type": "user", "message": {"role": "user", "content": text}}


class Session:
    """One CLI process: lines in and out, all kept in order."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd
        )
        self.transcript: list[dict[str, Any]] = []
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            self._lines.put(obj)
        self._lines.put(None)

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.transcript.append({"dir": "in", "line": obj})
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        self.proc.stdin.flush()

    def until(self, predicate: Any, timeout: float = 120.0) -> dict[str, Any]:
        """Read lines until one matches; return it."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching line from the CLI")
            obj = self._lines.get(timeout=left)
            if obj is None:
                raise EOFError("the CLI ended")
            self.transcript.append({"dir": "out", "line": obj})
            if predicate(obj):
                return obj

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.until(lambda obj: False, timeout=60)
        except (EOFError, TimeoutError, queue.Empty):
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(30)  # it reads stdout to its end; close the pipe only after that
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def response_to(request_id: str) -> Any:
    return lambda obj: obj.get("type") == "control_response" and obj["response"].get("request_id") == request_id


def is_result(obj: dict[str, Any]) -> bool:
    return obj.get("type") == "result"


def run_script(session: Session) -> None:
    """The exchange, the same for the real CLI and the fake."""
    session.send(_control("req_1_unknown", {"subtype": "no_such_request"}))
    session.until(response_to("req_1_unknown"))
    session.send(_control("req_2_wrong_field", {"subtype": "set_permission_mode", "permissionMode": "plan"}))
    session.until(response_to("req_2_wrong_field"))
    session.send(_user(TWO_PARTS))
    session.until(is_result)
    session.send(_user(TWO_TOOLS))
    asks = [session.until(lambda obj: obj.get("type") == "control_request") for _ in range(2)]
    for ask, behavior in zip(reversed(asks), ("allow", "deny"), strict=True):
        response: dict[str, Any] = (
            {"behavior": "allow", "updatedInput": ask["request"]["input"]}
            if behavior == "allow"
            else {"behavior": "deny", "message": "not this one"}
        )
        session.send(
            {
                "type": "control_response",
                "response": {"subtype": "success", "request_id": ask["request_id"], "response": response},
            }
        )
    session.until(is_result)
    session.close()


def record_real(cli: str) -> list[dict[str, Any]]:
    from tests.fakes.anthropic_server import AnthropicServer, Block, Reply

    # Read is a tool the CLI runs concurrently; files outside the working folder need permission in the default
    # mode, so the two calls have their permission requests open at the same time.
    tmp = tempfile.TemporaryDirectory(prefix="ns-record-")
    outside = Path(tmp.name, "outside")
    outside.mkdir()
    for name in ("one.txt", "two.txt"):
        (outside / name).write_text(f"contents of {name}\n")
    server = AnthropicServer()
    server.start()
    server.queue(
        Reply(
            [
                Block("thinking", text="Let me think about it."),
                Block("text", text="First part. "),
                Block("text", text="Second part."),
            ]
        ),
        Reply(
            [
                Block("text", text="Running two."),
                Block("tool_use", name="Read", input={"file_path": str(outside / "one.txt")}, tool_id="toolu_par1"),
                Block("tool_use", name="Read", input={"file_path": str(outside / "two.txt")}, tool_id="toolu_par2"),
            ]
        ),
        Reply.text("Tools finished."),
    )
    try:
        with tmp:
            home, work = Path(tmp.name, "home"), Path(tmp.name, "work")
            home.mkdir()
            work.mkdir()
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(home),
                "ANTHROPIC_BASE_URL": server.url,
                "ANTHROPIC_API_KEY": "dummy",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "DISABLE_AUTOUPDATER": "1",
            }
            session = Session([cli, *ARGV_FLAGS], env, str(work))
            try:
                run_script(session)
            except BaseException:
                for entry in session.transcript:
                    print(json.dumps(entry)[:300], file=sys.stderr)
                session.proc.kill()
                raise
            # The temporary folder's name changes from run to run: keep the recording stable.
            return json.loads(json.dumps(session.transcript).replace(tmp.name, "/tmp/ns-record"))
    finally:
        server.stop()


def replay_fake() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="ns-fake-") as work:
        env = {k: v for k, v in os.environ.items() if k not in ("CLAUDECODE", "FAKE_CLI_MODES")}
        session = Session([sys.executable, str(FAKE), *ARGV_FLAGS], env, work)
        run_script(session)
        return session.transcript


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default=os.environ.get("NIGHTSHIFT_CLAUDE_PATH") or str(DEFAULT_CLI))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()
    version = subprocess.run([args.cli, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    transcript = record_real(args.cli)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        f.write(json.dumps({"recorded_with": version}) + "\n")
        for entry in transcript:
            f.write(json.dumps(entry) + "\n")
    print(f"{len(transcript)} lines from {version} in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
