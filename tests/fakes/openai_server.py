"""A scripted local server for the OpenAI Responses API (streaming SSE), so the real Codex CLI can run whole turns
offline in tests (tests/runner/agents/test_codex_real.py).

Codex reads its provider from $CODEX_HOME/config.toml; `config_toml()` writes one pointing here. Each POST to
/v1/responses takes the next queued reply (a text message, or an `exec_command` function call the CLI runs and
answers with a function_call_output in its next request). Request bodies are recorded for assertions.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERRORS = {
    401: ("invalid_api_key", "Incorrect API key provided: dummy. You can find your API key at https://platform.openai.com/account/api-keys."),
    429: ("rate_limit_exceeded", "Rate limit reached for requests per min (RPM). Please try again in 1s."),
}


@dataclass
class ResponseReply:
    kind: str  # "text" | "exec"
    text: str = ""
    command: str = ""
    delay: float = 0.0  # seconds before the reply completes (for interrupts)

    @classmethod
    def message(cls, text: str, delay: float = 0.0) -> ResponseReply:
        return cls("text", text=text, delay=delay)

    @classmethod
    def exec_command(cls, command: str) -> ResponseReply:
        return cls("exec", command=command)


class OpenAIServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: list[ResponseReply] = []
        self.requests: list[dict[str, Any]] = []
        self.fail_with = 0
        """Non-zero: every /responses request is answered with this HTTP error (retries too): 401, 429."""
        self._httpd: ThreadingHTTPServer | None = None

    def queue(self, *replies: ResponseReply) -> None:
        with self._lock:
            self._script.extend(replies)

    def _take(self, body: dict[str, Any]) -> ResponseReply:
        with self._lock:
            self.requests.append(body)
            return self._script.pop(0) if self._script else ResponseReply.message("(no scripted reply)")

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def config_toml(self, model: str = "gpt-5-codex", retries: int | None = None) -> str:
        """A CODEX_HOME/config.toml pointing here; `retries` caps the CLI's request and stream retries."""
        text = (
            f'model_provider = "mock"\nmodel = "{model}"\n\n[model_providers.mock]\nname = "mock"\n'
            f'base_url = "{self.url}"\nenv_key = "OPENAI_API_KEY"\nwire_api = "responses"\n'
        )
        if retries is not None:
            text += f"request_max_retries = {retries}\nstream_max_retries = {retries}\n"
        return text

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="openai-fake", daemon=True).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


def texts_sent(body: dict[str, Any]) -> list[str]:
    """The user texts and function outputs in one request's input, in order."""
    out: list[str] = []
    for item in body.get("input", []):
        if item.get("type") == "function_call_output":
            out.append(str(item.get("output", "")))
        content = item.get("content")
        if item.get("role") == "user" and isinstance(content, list):
            out += [c.get("text", "") for c in content if c.get("type") == "input_text"]
    return out


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int) -> None:
        # The bodies the real API sends for a bad key and for a rate limit.
        code, message = ERRORS.get(status, ("server_error", "scripted error"))
        data = json.dumps({"error": {"message": message, "type": code, "param": None, "code": code}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("retry-after", "1")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._json({"object": "list", "data": [], "models": []})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw or b"{}")
        if not self.path.split("?")[0].endswith("/responses"):
            self._json({})
            return
        if self.owner.fail_with:
            with self.owner._lock:
                self.owner.requests.append(body)
            self._error(self.owner.fail_with)
            return
        reply = self.owner._take(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for event in self._events(reply):
                self.wfile.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _events(reply: ResponseReply) -> Iterator[dict[str, Any]]:
        rid = f"resp_{uuid.uuid4().hex[:16]}"
        yield {
            "type": "response.created",
            "response": {"id": rid, "object": "response", "status": "in_progress", "output": []},
        }
        if reply.kind == "exec":
            item: dict[str, Any] = {
                "type": "function_call",
                "id": f"fc_{uuid.uuid4().hex[:12]}",
                "call_id": f"call_{uuid.uuid4().hex[:12]}",
                "name": "exec_command",
                "arguments": json.dumps({"cmd": reply.command}),
                "status": "completed",
            }
            yield {"type": "response.output_item.added", "output_index": 0, "item": {**item, "arguments": ""}}
        else:
            item = {
                "type": "message",
                "id": f"msg_{uuid.uuid4().hex[:12]}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
            }
            yield {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**item, "status": "in_progress", "content": []},
            }
            yield {
                "type": "response.output_text.delta",
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "delta": reply.text,
            }
        if reply.delay:
            time.sleep(reply.delay)
        yield {"type": "response.output_item.done", "output_index": 0, "item": item}
        yield {
            "type": "response.completed",
            "response": {
                "id": rid,
                "object": "response",
                "status": "completed",
                "output": [item],
                "usage": {
                    "input_tokens": 10,
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": 5,
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": 15,
                },
            },
        }
