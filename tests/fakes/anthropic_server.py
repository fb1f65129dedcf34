"""A scripted local server for the Anthropic Messages API (streaming SSE), so the real Claude Code CLI can run
whole turns offline in tests.

Each test queues replies; every main-loop request (one that offers tools to the model) takes the next queued
reply. Side requests the CLI makes on its own (titles, quota probes: requests without tools)
get a short canned text and never consume the script. Every request body is recorded for assertions; `fail_with`
answers every request with an HTTP error (tests/fakes/scripted_server.py).

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
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.scripted_server import ScriptedHandler, ScriptedServer

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


class _Handler(ScriptedHandler):
    server_owner: AnthropicServer

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        # The CLI may probe a few GET endpoints (models, account settings); an empty answer satisfies it.
        self.send_json(200, {"data": [], "has_more": False})

    def do_POST(self) -> None:
        try:
            body = json.loads(self.read_body() or b"{}")
        except json.JSONDecodeError:
            self.send_json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad json"}})
            return
        path = self.path.split("?", 1)[0]
        if path.endswith("/count_tokens"):
            self.send_json(200, {"input_tokens": 10})
            return
        if not path.endswith("/v1/messages"):
            self.send_json(200, {})
            return
        if self.fail_if_asked(body):
            return
        if body.get("tools"):
            reply = self.server_owner.take(body) or Reply.text("(no scripted reply)")
        else:
            self.server_owner.record(body, side=True)
            reply = Reply.text("Scripted title")
        model = str(body.get("model", "claude-test"))
        if body.get("stream"):
            self.stream(self._paced(reply, model))
        else:
            self._whole(reply, model)

    # --- replies --------------------------------------------------------------------------------------------

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
        self.send_json(
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

    def _paced(self, reply: Reply, model: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The reply's events, with `chunk_delay` after each delta."""
        for name, data in self._events(reply, model):
            yield name, data
            if reply.chunk_delay and name == "content_block_delta":
                time.sleep(reply.chunk_delay)

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



class AnthropicServer(ScriptedServer[Reply]):
    """The server on 127.0.0.1 with a random port, run in a daemon thread."""

    handler = _Handler
    thread_name = "anthropic-fake"

    @property
    def url(self) -> str:
        return self.address

    @staticmethod
    def error_body(status: int) -> dict[str, Any]:
        # The bodies the real API sends for a bad key and for a rate limit.
        kind, message = ERRORS.get(status, ("api_error", "scripted error"))
        return {"type": "error", "error": {"type": kind, "message": message}}

    @staticmethod
    def text_reply(text: str) -> Reply:
        return Reply.text(text)


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
