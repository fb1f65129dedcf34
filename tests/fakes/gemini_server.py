"""A scripted local server for the Gemini API (`streamGenerateContent?alt=sse`), so the real Gemini CLI can run
whole turns offline in tests (tests/runner/agents/test_gemini_real.py).

The CLI is pointed here with GOOGLE_GEMINI_BASE_URL, GEMINI_API_KEY and a settings file that selects API-key auth
(see `settings()`). Each streamed request that offers tools to the model takes the next queued reply: text
(streamed in chunks, optionally slowly) or a `run_shell_command` function call the CLI runs and answers in its next
request. Other requests (session summaries, the model router) get a short canned answer and never consume the
script. `fail_with` makes every request fail with an HTTP error (401, 429). Request bodies are recorded
(tests/fakes/scripted_server.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.scripted_server import ScriptedHandler, ScriptedServer

# What the Gemini API answers for a bad key and for an exhausted quota (google.rpc.Status in an "error" object).
ERRORS = {
    401: ("UNAUTHENTICATED", "API key not valid. Please pass a valid API key."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
}


@dataclass
class GeminiReply:
    kind: str  # "text" | "call"
    text: str = ""
    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    chunk_size: int = 8
    chunk_delay: float = 0.0

    @classmethod
    def message(cls, text: str, chunk_size: int = 8, chunk_delay: float = 0.0) -> GeminiReply:
        return cls("text", text=text, chunk_size=chunk_size, chunk_delay=chunk_delay)

    @classmethod
    def slow(cls, words: int = 2000, delay: float = 0.05) -> GeminiReply:
        """A long reply streamed slowly, for interrupts."""
        return cls.message(" ".join(f"word{i}" for i in range(words)), chunk_size=16, chunk_delay=delay)

    @classmethod
    def shell(cls, command: str) -> GeminiReply:
        return cls("call", name="run_shell_command", args={"command": command, "description": "scripted call"})


def texts_sent(body: dict[str, Any]) -> list[str]:
    """User texts and function responses of one request, in order (to check history and tool output)."""
    out: list[str] = []
    for content in body.get("contents", []):
        for part in content.get("parts", []):
            if "text" in part and content.get("role") == "user":
                out.append(str(part["text"]))
            elif "functionResponse" in part:
                out.append(json.dumps(part["functionResponse"].get("response", {})))
    return out


class _Handler(ScriptedHandler):
    server_owner: GeminiServer
    retry_after_on_429 = False  # the CLI is set to make one attempt (settings()), so no header to honour

    def do_GET(self) -> None:
        self.send_json(200, {"models": []})

    def do_POST(self) -> None:
        try:
            body = json.loads(self.read_body() or b"{}")
        except json.JSONDecodeError:
            self.send_json(400, {"error": {"code": 400, "message": "bad json", "status": "INVALID_ARGUMENT"}})
            return
        path = self.path.split("?", 1)[0]
        if path.endswith(":countTokens"):
            self.send_json(200, {"totalTokens": 10})
            return
        if self.fail_if_asked(body):
            return
        if not (path.endswith(":streamGenerateContent") and body.get("tools")):
            self.server_owner.record(body, side=True)
            self.send_json(200, _whole("Scripted summary"))
            return
        reply = self.server_owner.take(body) or GeminiReply.message("(no scripted reply)")
        self.stream((None, chunk) for chunk in _chunks(reply))


class GeminiServer(ScriptedServer[GeminiReply]):
    handler = _Handler
    thread_name = "gemini-fake"

    @property
    def url(self) -> str:
        return self.address

    @staticmethod
    def error_body(status: int) -> dict[str, Any]:
        status_name, message = ERRORS.get(status, ("UNKNOWN", "scripted error"))
        return {"error": {"code": status, "message": message, "status": status_name}}

    @staticmethod
    def text_reply(text: str) -> GeminiReply:
        return GeminiReply.message(text)

    @staticmethod
    def settings() -> dict[str, Any]:
        """~/.gemini/settings.json for an offline run: API-key auth (GOOGLE_GEMINI_BASE_URL alone selects a
        "gateway" auth type that 0.61 rejects), no usage statistics or update checks, and no retries, so an error
        reply is reported at once."""
        return {
            "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            "general": {
                "enableAutoUpdate": False,
                "enableAutoUpdateNotification": False,
                "maxAttempts": 1,
                "retryFetchErrors": False,
            },
        }


def _whole(text: str) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7},
        "modelVersion": "fake-gemini",
    }


def _chunks(reply: GeminiReply) -> Iterator[dict[str, Any]]:
    if reply.kind == "call":
        parts: list[list[dict[str, Any]]] = [[{"functionCall": {"name": reply.name, "args": reply.args}}]]
    else:
        text = reply.text
        parts = [[{"text": text[i : i + reply.chunk_size]}] for i in range(0, len(text), reply.chunk_size)] or [
            [{"text": ""}]
        ]
    for n, p in enumerate(parts):
        chunk: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": p}, "index": 0}]}
        if n == len(parts) - 1:
            chunk["candidates"][0]["finishReason"] = "STOP"
            chunk["usageMetadata"] = {"promptTokenCount": 11, "candidatesTokenCount": 5, "totalTokenCount": 16}
            chunk["modelVersion"] = "fake-gemini"
        yield chunk
        if reply.chunk_delay:
            time.sleep(reply.chunk_delay)
