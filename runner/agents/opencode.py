"""The OpenCode agent: `opencode run --format json` once per turn with the prompt on stdin, `--session=<id>` for
later turns.

OpenCodeTranslator (sans-I/O) maps step_start, text, reasoning, tool_use, step_finish and error to normalized
events (runner/EVENTS.md). Text parts arrive whole; the parts of one message share its messageID.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Mapping
from typing import Any

from runner.agents._cli import Event
from runner.agents.turn import TurnCliAgent, TurnTranslator
from runner.blobs import image_from_base64


class OpenCodeTranslator(TurnTranslator):
    def __init__(self, known_session_id: str | None = None) -> None:
        super().__init__(known_session_id)
        self._called: set[str] = set()
        self._tokens: dict[str, Any] = {}
        self._cost = 0.0
        self._steps = 0

    def feed(self, obj: Mapping[str, Any]) -> list[Event]:
        events = self._session(obj.get("sessionID"))
        kind = obj.get("type")
        part = obj.get("part")
        part = part if isinstance(part, dict) else {}
        message_id = str(part.get("messageID") or part.get("id") or "")
        if kind == "text":
            text = str(part.get("text", ""))
            if text:
                events.append(("assistant", {"text": text, "message_id": message_id}))
        elif kind == "reasoning":
            text = str(part.get("text", ""))
            if text:
                events.append(("thinking", {"text": text, "message_id": message_id}))
        elif kind == "tool_use":
            events += self._tool(part)
        elif kind == "step_finish":
            self._steps += 1
            tokens = part.get("tokens")
            if isinstance(tokens, dict):
                _add_tokens(self._tokens, tokens)
            if isinstance(part.get("cost"), (int, float)):
                self._cost += float(part["cost"])
        elif kind == "error":
            self.failed = True
            events.append(("error", {"message": _error_message(obj.get("error", obj))}))
        return events

    def _tool(self, part: dict[str, Any]) -> list[Event]:
        call_id = str(part.get("callID") or part.get("id") or "")
        state = part.get("state") if isinstance(part.get("state"), dict) else {}
        events: list[Event] = []
        if call_id not in self._called:
            self._called.add(call_id)
            events.append(
                (
                    "tool_call",
                    {"tool_id": call_id, "name": str(part.get("tool", "")), "input": state.get("input", {})},
                )
            )
        status = state.get("status")
        if status == "completed":
            output = state.get("output", "")
            fields: dict[str, Any] = {
                "tool_id": call_id,
                "is_error": False,
                "output": output if isinstance(output, str) else json.dumps(output),
            }
            self._attachments(state.get("attachments"), fields)
            events.append(("tool_result", fields))
        elif status == "error":
            events.append(
                ("tool_result", {"tool_id": call_id, "is_error": True, "output": str(state.get("error", ""))})
            )
        return events

    def _attachments(self, attachments: Any, fields: dict[str, Any]) -> None:
        """Image attachments of a tool's result (OpenCode's `read` of an image file): file parts whose `url` is a
        base64 `data:` URL. Each is referred to in `images` and named in `output`; other files are left out."""
        if not isinstance(attachments, list):
            return
        notes = []
        for part in attachments:
            if not isinstance(part, dict) or not str(part.get("mime", "")).startswith("image/"):
                continue
            header, _, encoded = str(part.get("url", "")).partition(",")
            if not header.startswith("data:") or not header.endswith(";base64"):
                continue
            image, text = image_from_base64(encoded, part.get("mime"))
            notes.append(text)
            if image is not None:
                fields.setdefault("images", []).append(image.ref)
                self.images.append(image)
        if notes:
            fields["output"] = "\n".join([fields["output"], *notes]) if fields["output"] else "\n".join(notes)

    def finish(self, exit_code: int | None, interrupted: bool) -> list[Event]:
        # `opencode run` prints one step_finish per model step; the turn ends when the process does.
        events = super().finish(exit_code, interrupted)
        for kind, fields in events:
            if kind == "turn_end":
                if self._tokens:
                    fields["usage"] = self._tokens
                if self._steps:
                    fields["cost_usd"] = round(self._cost, 8)
                    fields["num_turns"] = self._steps
        return events


def _add_tokens(total: dict[str, Any], tokens: dict[str, Any]) -> None:
    for key, value in tokens.items():
        if isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, dict):
            _add_tokens(total.setdefault(key, {}), value)


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        data = error.get("data")
        if isinstance(data, dict) and data.get("message"):
            status = data.get("statusCode")
            # The HTTP status tells a refused key (401) or a rate limit (429) apart from other failures.
            return str(data["message"]) + (f" (HTTP {status})" if isinstance(status, int) else "")
        if error.get("message"):
            return str(error["message"])
        return str(error.get("name") or json.dumps(error))
    return str(error)


class OpenCodeAgent(TurnCliAgent):
    name = "opencode"
    label = "OpenCode"
    executable = "opencode"
    env_var = "NIGHTSHIFT_OPENCODE_PATH"
    npm_package = "opencode-ai"
    tested_versions = ("1.18.33", "1.18.33")  # tests/runner/agents/test_opencode_real.py
    login_hint = (
        "Run `opencode auth login` in a terminal, or set the provider's API key (ANTHROPIC_API_KEY, "
        "OPENAI_API_KEY, ...) for the runner."
    )
    prompt_on_stdin = True
    resume_gone_markers = ("Session not found",)
    # `opencode run` has no SIGINT handler, and a process started with SIGINT ignored (a runner started in the
    # background by a shell) keeps it ignored, so SIGINT may do nothing. SIGTERM ends the turn the same way:
    # the session keeps the user message and what was finished.
    interrupt_signal = signal.SIGTERM

    def make_translator(self, known_session_id: str | None) -> OpenCodeTranslator:
        return OpenCodeTranslator(known_session_id)

    def build_argv(self, executable: str, prompt: str, resume_id: str | None) -> list[str]:
        # The prompt goes on stdin: `run` joins argv words with spaces and quotes any word holding a space, so a
        # prompt given as one argument would reach the model wrapped in quotes (and argv is size-limited).
        argv = [executable, "run", "--format", "json"]
        model = self.host.options.get("model")
        if model:
            argv.append(f"--model={model}")
        if resume_id:
            argv.append(f"--session={resume_id}")
        return argv
