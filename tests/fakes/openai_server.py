"""A scripted local server for the OpenAI Responses API (streaming SSE), so the real Codex CLI can run whole turns
offline in tests (tests/runner/agents/test_codex_real.py).

Codex reads its provider from $CODEX_HOME/config.toml; `config_toml()` writes one pointing here. Each POST to
/v1/responses takes the next queued reply (a text message, or an `exec_command` function call the CLI runs and
answers with a function_call_output in its next request). Request bodies are recorded for assertions; `fail_with`
answers every request with an HTTP error (tests/fakes/scripted_server.py).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.fakes.scripted_server import ScriptedHandler, ScriptedServer

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


class _Handler(ScriptedHandler):
    server_owner: OpenAIServer

    def do_GET(self) -> None:
        self.send_json(200, {"object": "list", "data": [], "models": []})

    def do_POST(self) -> None:
        body = json.loads(self.read_body() or b"{}")
        if not self.path.split("?")[0].endswith("/responses"):
            self.send_json(200, {})
            return
        if self.fail_if_asked(body):
            return
        reply = self.server_owner.take(body) or ResponseReply.message("(no scripted reply)")
        self.stream((event["type"], event) for event in self._events(reply))

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


class OpenAIServer(ScriptedServer[ResponseReply]):
    handler = _Handler
    thread_name = "openai-fake"

    @property
    def url(self) -> str:
        return f"{self.address}/v1"

    @staticmethod
    def error_body(status: int) -> dict[str, Any]:
        # The bodies the real API sends for a bad key and for a rate limit.
        code, message = ERRORS.get(status, ("server_error", "scripted error"))
        return {"error": {"message": message, "type": code, "param": None, "code": code}}

    @staticmethod
    def text_reply(text: str) -> ResponseReply:
        return ResponseReply.message(text)

    def config_toml(self, model: str = "gpt-5-codex", retries: int | None = None) -> str:
        """A CODEX_HOME/config.toml pointing here; `retries` caps the CLI's request and stream retries."""
        text = (
            f'model_provider = "mock"\nmodel = "{model}"\n\n[model_providers.mock]\nname = "mock"\n'
            f'base_url = "{self.url}"\nenv_key = "OPENAI_API_KEY"\nwire_api = "responses"\n'
        )
        if retries is not None:
            text += f"request_max_retries = {retries}\nstream_max_retries = {retries}\n"
        return text
