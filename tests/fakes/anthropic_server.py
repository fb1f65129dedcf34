"""A scripted local server for the Anthropic Messages API (streaming SSE), so the real Claude Code CLI can run
whole turns offline in tests.

Each test queues replies; every main-loop request (one that offers tools to the model) takes the next queued
reply. Side requests the CLI makes on its own (titles, quota probes: requests without tools)
get a short canned text and never consume the script. Every request body is recorded for assertions.

    server = AnthropicServer()
    server.start()
    server.queue(Reply.text("Hello there"))
    server.queue(Reply.tool_use("Bash", {"command": "echo hi"}), Reply.text("done"))
    env["ANTHROPIC_BASE_URL"] = server.url
    ...
    server.stop()
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERRORS = {
    401: ("authentication_error", "invalid x-api-key"),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
}


@dataclass
class Block:
    """One content block of a scripted reply: text, or a tool_use the CLI should run."""

    kind: str  # "text" | "tool_use" | "thinking"
    text: str = ""
    name: str = ""
    input: dict[str, Any] = field(default_factory=dict)
    tool_id: str = ""


@dataclass
class Reply:
    """A scripted assistant message. `chunk_delay` paces the deltas (a slow stream lets a test interrupt)."""

    blocks: list[Block]
    chunk_delay: float = 0.0
    chunk_size: int = 8

    @classmethod
    def text(cls, text: str, chunk_delay: float = 0.0, chunk_size: int = 8) -> Reply:
        return cls([Block("text", text=text)], chunk_delay=chunk_delay, chunk_size=chunk_size)

    @classmethod
    def tool_use(cls, name: str, tool_input: dict[str, Any], text: str = "") -> Reply:
        blocks = [Block("text", text=text)] if text else []
        blocks.append(
            Block("tool_use", name=name, input=tool_input, tool_id=f"toolu_{uuid.uuid4().hex[:24]}")
        )
        return cls(blocks)

    @classmethod
    def slow_text(cls, words: int = 400, delay: float = 0.1) -> Reply:
        """A long reply streamed slowly, for interrupt tests."""
        return cls([Block("text", text=" ".join(f"word{i}" for i in range(words)))], chunk_delay=delay)

    def stop_reason(self) -> str:
        return "tool_use" if any(b.kind == "tool_use" for b in self.blocks) else "end_turn"


def _chunks(text: str, size: int) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


class AnthropicServer:
    """The server on 127.0.0.1 with a random port, run in a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        """Bodies of main-loop requests, in order."""
        self.side_requests: list[dict[str, Any]] = []
        self.streams_cut = 0
        """How many streamed replies ended early because the client went away (an interrupt)."""
        self.fail_with = 0
        """Non-zero: every /v1/messages request is answered with this HTTP error (retries too): 401, 429."""
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- scripting ------------------------------------------------------------------------------------------

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)
            self._lock.notify_all()

    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def wait_requests(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Wait until at least `count` main-loop requests have arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"only {len(self.requests)} of {count} requests arrived")
                self._lock.wait(left)
            return list(self.requests)

    def _take(self, body: dict[str, Any]) -> Reply | None:
        with self._lock:
            self.requests.append(body)
            self._lock.notify_all()
            return self._script.pop(0) if self._script else None

    # --- lifecycle ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="anthropic-fake", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> AnthropicServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    owner: AnthropicServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet; pytest shows failures anyway
        pass

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        # The CLI may probe a few GET endpoints (models, account settings); an empty answer satisfies it.
        self._json(200, {"data": [], "has_more": False})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._json(
                400, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad json"}}
            )
            return
        path = self.path.split("?", 1)[0]
        if path.endswith("/count_tokens"):
            self._json(200, {"input_tokens": 10})
            return
        if not path.endswith("/v1/messages"):
            self._json(200, {})
            return
        if self.owner.fail_with:
            with self.owner._lock:
                self.owner.requests.append(body)
            self._error(self.owner.fail_with)
            return
        if body.get("tools"):
            reply = self.owner._take(body) or Reply.text("(no scripted reply)")
        else:
            with self.owner._lock:
                self.owner.side_requests.append(body)
            reply = Reply.text("Scripted title")
        model = str(body.get("model", "claude-test"))
        if body.get("stream"):
            self._stream(reply, model)
        else:
            self._whole(reply, model)

    # --- replies --------------------------------------------------------------------------------------------

    def _error(self, status: int) -> None:
        # The bodies the real API sends for a bad key and for a rate limit.
        kind, message = ERRORS.get(status, ("api_error", "scripted error"))
        data = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("retry-after", "1")  # as the API does; clients that honour it retry quickly
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _usage(output_tokens: int) -> dict[str, int]:
        return {
            "input_tokens": 12,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }

    def _whole(self, reply: Reply, model: str) -> None:
        content: list[dict[str, Any]] = []
        for b in reply.blocks:
            if b.kind == "text":
                content.append({"type": "text", "text": b.text})
            elif b.kind == "thinking":
                content.append({"type": "thinking", "thinking": b.text, "signature": "sig"})
            else:
                content.append({"type": "tool_use", "id": b.tool_id, "name": b.name, "input": b.input})
        self._json(
            200,
            {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": reply.stop_reason(),
                "stop_sequence": None,
                "usage": self._usage(5),
            },
        )

    def _stream(self, reply: Reply, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for name, data in self._events(reply, model):
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
                if reply.chunk_delay and name == "content_block_delta":
                    time.sleep(reply.chunk_delay)
        except (BrokenPipeError, ConnectionResetError):
            with self.owner._lock:
                self.owner.streams_cut += 1

    def _events(self, reply: Reply, model: str) -> Iterator[tuple[str, dict[str, Any]]]:
        msg_id = f"msg_{uuid.uuid4().hex[:24]}"
        yield (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": self._usage(1),
                },
            },
        )
        yield "ping", {"type": "ping"}
        out_tokens = 0
        for index, b in enumerate(reply.blocks):
            if b.kind == "text":
                yield (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
                for piece in _chunks(b.text, reply.chunk_size):
                    out_tokens += 1
                    yield (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                    )
            elif b.kind == "thinking":
                yield (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "thinking", "thinking": ""},
                    },
                )
                for piece in _chunks(b.text, reply.chunk_size):
                    yield (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "thinking_delta", "thinking": piece},
                        },
                    )
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "signature_delta", "signature": "sig"},
                    },
                )
            else:
                yield (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "tool_use", "id": b.tool_id, "name": b.name, "input": {}},
                    },
                )
                # Fragments split mid-token, as the real API does.
                for piece in _chunks(json.dumps(b.input), 5):
                    yield (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        },
                    )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason(), "stop_sequence": None},
                "usage": {"output_tokens": max(out_tokens, 1)},
            },
        )
        yield "message_stop", {"type": "message_stop"}


if __name__ == "__main__":
    # Manual use: serve a few text replies and print the URL.
    srv = AnthropicServer()
    srv.start()
    srv.queue(*(Reply.text(f"Reply number {i}.") for i in range(1, 20)))
    print(srv.url, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        srv.stop()
