"""The Gemini CLI agent: `gemini --output-format stream-json` once per turn with the prompt on stdin, with
`--resume=<session_id>` for later turns.

GeminiTranslator (sans-I/O) maps init, message (whole or delta), tool_use, tool_result, error and result to
normalized events (runner/EVENTS.md).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from typing import Any

from runner.agents._cli import Event
from runner.agents.turn import TurnCliAgent, TurnTranslator


class GeminiTranslator(TurnTranslator):
    def __init__(self, known_session_id: str | None = None) -> None:
        super().__init__(known_session_id)
        self._message_id: str | None = None  # the assistant message that deltas are appended to
        self._ids = itertools.count(1)
        self._turn_key = f"gm_{uuid.uuid4().hex[:10]}"

    def _new_message_id(self) -> str:
        return f"{self._turn_key}_{next(self._ids)}"

    def feed(self, obj: Mapping[str, Any]) -> list[Event]:
        kind = obj.get("type")
        if kind != "message":
            # Deltas after a tool call belong to a new assistant message.
            self._message_id = None
        if kind == "init":
            model = obj.get("model")
            return self._session(obj.get("session_id"), **({"model": model} if isinstance(model, str) else {}))
        if kind == "message":
            if obj.get("role") != "assistant":
                self._message_id = None
                return []  # the CLI echoes our prompt as a user message; the session journaled it already
            text = str(obj.get("content", ""))
            if obj.get("delta"):
                if self._message_id is None:
                    self._message_id = self._new_message_id()
                message_id = self._message_id
            else:
                self._message_id = None
                message_id = self._new_message_id()
            return [("assistant", {"text": text, "message_id": message_id})] if text else []
        if kind == "tool_use":
            return [
                (
                    "tool_call",
                    {
                        "tool_id": str(obj.get("tool_id", "")),
                        "name": str(obj.get("tool_name", "")),
                        "input": obj.get("parameters", {}),
                    },
                )
            ]
        if kind == "tool_result":
            status = obj.get("status")
            error = obj.get("error")
            output = obj.get("output")
            if output is None and isinstance(error, dict):
                output = error.get("message", "")
            return [
                (
                    "tool_result",
                    {
                        "tool_id": str(obj.get("tool_id", "")),
                        "output": "" if output is None else str(output),
                        "is_error": status not in (None, "success"),
                    },
                )
            ]
        if kind == "error":
            fields: dict[str, Any] = {"message": str(obj.get("message", ""))}
            if isinstance(obj.get("severity"), str):
                fields["severity"] = obj["severity"]
            return [("error", fields)]
        if kind == "result":
            self.turn_ended = True
            ok = obj.get("status") == "success"
            self.failed = not ok
            fields = {"status": "success" if ok else "error"}
            stats = obj.get("stats")
            if isinstance(stats, dict):
                fields["usage"] = stats
                if isinstance(stats.get("duration_ms"), (int, float)):
                    fields["duration_ms"] = stats["duration_ms"]
            error = obj.get("error")
            events: list[Event] = []
            if isinstance(error, dict) and error.get("message"):
                fields["message"] = str(error["message"])
                events.append(("error", {"message": str(error["message"])}))
            events.append(("turn_end", fields))
            return events
        return []


class GeminiAgent(TurnCliAgent):
    name = "gemini"
    label = "Gemini CLI"
    executable = "gemini"
    env_var = "NIGHTSHIFT_GEMINI_PATH"
    npm_package = "@google/gemini-cli"
    tested_versions = ("0.61.0", "0.61.0")  # tests/runner/agents/test_gemini_real.py
    login_hint = (
        "Run `gemini` in a terminal and sign in, or set GEMINI_API_KEY for the runner."
    )
    auth_exit_codes = (41,)  # FatalAuthenticationError: no key, or no auth method chosen
    # --approval-mode: headless, "default" offers the model no tool that needs approval (no shell); "yolo" runs
    # everything, "auto_edit" file edits only, "plan" is read-only. None keeps the CLI's own default.
    permission_modes = ["default", "auto_edit", "yolo", "plan"]
    prompt_on_stdin = True
    resume_gone_markers = ("Invalid session identifier", "No previous sessions found", "Session not found")

    def make_translator(self, known_session_id: str | None) -> GeminiTranslator:
        return GeminiTranslator(known_session_id)

    def extra_env(self) -> dict[str, str]:
        # Gemini CLI 0.61 refuses to run headless in a folder the user has not trusted (exit 55). The user
        # picked this folder for the session, which is that trust. The variable, unlike --skip-trust, is
        # harmless to versions that do not know it.
        return {"GEMINI_CLI_TRUST_WORKSPACE": "true"}

    def build_argv(self, executable: str, prompt: str, resume_id: str | None) -> list[str]:
        # No --prompt: with stdin not a terminal the CLI runs headless and reads the prompt from stdin to EOF, so
        # its size is not limited by the command line and it can never be read as a flag.
        argv = [executable, "--output-format", "stream-json"]
        model = self.host.options.get("model")
        if model:
            argv.append(f"--model={model}")
        mode = self.host.options.get("permission_mode")
        if mode:
            argv.append(f"--approval-mode={mode}")
        if resume_id:
            argv.append(f"--resume={resume_id}")
        return argv
