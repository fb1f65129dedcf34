"""The Codex CLI agent: `codex exec --json -` once per turn (the prompt on stdin), then
`codex exec --json resume <thread_id> -`.

CodexTranslator (sans-I/O) maps the CLI's JSON events and item types to normalized events (runner/EVENTS.md).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from runner.agents._cli import Event
from runner.agents.base import AgentError, AgentInfo
from runner.agents.turn import TurnCliAgent, TurnTranslator
from runner.blobs import Image, image_from_base64

TOOL_ITEMS = {"command_execution", "file_change", "mcp_tool_call", "web_search", "todo_list"}


class CodexTranslator(TurnTranslator):
    def __init__(self, known_session_id: str | None = None) -> None:
        super().__init__(known_session_id)
        self._called: set[str] = set()
        # Item ids restart at item_0 every turn: a per-turn prefix keeps message and tool ids unique.
        self._turn_key = f"t{uuid.uuid4().hex[:8]}"

    def feed(self, obj: Mapping[str, Any]) -> list[Event]:
        kind = obj.get("type")
        if kind == "thread.started":
            return self._session(obj.get("thread_id"))
        if kind in ("item.started", "item.updated", "item.completed"):
            item = obj.get("item")
            if isinstance(item, dict):
                return self._item(kind.split(".", 1)[1], item)
            return []
        if kind == "turn.completed":
            self.turn_ended = True
            fields: dict[str, Any] = {"status": "success"}
            if isinstance(obj.get("usage"), dict):
                fields["usage"] = obj["usage"]
            return [("turn_end", fields)]
        if kind == "turn.failed":
            self.turn_ended = True
            self.failed = True
            message = _error_message(obj.get("error"))
            return [
                ("error", {"message": message, "code": "turn_failed"}),
                ("turn_end", {"status": "error", "message": message}),
            ]
        if kind == "error":
            self.failed = True
            return [("error", {"message": _error_message(obj)})]
        return []  # turn.started and later additions carry nothing to show

    def _item(self, phase: str, item: dict[str, Any]) -> list[Event]:
        item_type = item.get("type")
        item_id = f"{self._turn_key}:{item.get('id', '')}"
        if item_type == "agent_message":
            text = str(item.get("text", ""))
            return [("assistant", {"text": text, "message_id": item_id})] if phase == "completed" and text else []
        if item_type == "reasoning":
            text = str(item.get("text", ""))
            return [("thinking", {"text": text, "message_id": item_id})] if phase == "completed" and text else []
        if item_type == "error":
            return (
                [("error", {"message": str(item.get("message", "")), "code": "agent_warning"})]
                if phase == "completed"
                else []
            )
        if item_type not in TOOL_ITEMS:
            return []
        events: list[Event] = []
        if item_id not in self._called:
            self._called.add(item_id)
            name, tool_input = _tool_call(item_type, item)
            events.append(("tool_call", {"tool_id": item_id, "name": name, "input": tool_input}))
        if phase == "completed":
            output, is_error, extra = _tool_result(item_type, item)
            images: list[Image] = extra.pop("images", [])
            if images:  # stored by the agent before this event is journaled
                self.images += images
                extra["images"] = [image.ref for image in images]
            events.append(("tool_result", {"tool_id": item_id, "output": output, "is_error": is_error, **extra}))
        return events


def _error_message(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("message") or json.dumps(obj))
    return str(obj)


def _tool_call(item_type: str, item: dict[str, Any]) -> tuple[str, Any]:
    if item_type == "command_execution":
        return "command", {"command": item.get("command", "")}
    if item_type == "file_change":
        return "file_change", {"changes": item.get("changes", [])}
    if item_type == "mcp_tool_call":
        server, tool = item.get("server", ""), item.get("tool", "")
        return f"{server}.{tool}" if server else str(tool), item.get("arguments", {})
    if item_type == "web_search":
        return "web_search", {"query": item.get("query", "")}
    return "todo_list", {"items": item.get("items", [])}


def _tool_result(item_type: str, item: dict[str, Any]) -> tuple[str, bool, dict[str, Any]]:
    failed = item.get("status") == "failed"
    if item_type == "command_execution":
        code = item.get("exit_code")
        extra = {"exit_code": code} if isinstance(code, int) else {}
        return str(item.get("aggregated_output", "")), failed or (isinstance(code, int) and code != 0), extra
    if item_type == "file_change":
        changes = item.get("changes") or []
        lines = [f"{c.get('kind', '?')} {c.get('path', '?')}" for c in changes if isinstance(c, dict)]
        return "\n".join(lines), failed, {}
    if item_type == "mcp_tool_call":
        error = item.get("error")
        if error:
            return _error_message(error), True, {}
        result = item.get("result")
        if isinstance(result, dict) and isinstance(result.get("content"), list):
            # MCP content blocks: text, and images as {"type":"image","data":BASE64,"mimeType":...}.
            texts, images = [], []
            for block in result["content"]:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "image":
                    image, text = image_from_base64(block.get("data"), block.get("mimeType"))
                    texts.append(text)
                    if image is not None:
                        images.append(image)
                else:
                    texts.append(str(block.get("text", "")))
            return "\n".join(texts), failed, {"images": images} if images else {}
        return json.dumps(result) if result is not None else "", failed, {}
    if item_type == "todo_list":
        items = item.get("items") or []
        return (
            "\n".join(
                f"[{'x' if i.get('completed') else ' '}] {i.get('text', '')}" for i in items if isinstance(i, dict)
            ),
            failed,
            {},
        )
    return "", failed, {}


class CodexAgent(TurnCliAgent):
    name = "codex"
    label = "Codex CLI"
    executable = "codex"
    env_var = "NIGHTSHIFT_CODEX_PATH"
    npm_package = "@openai/codex"
    tested_versions = ("0.171.0", "0.171.0")  # tests/runner/agents/test_codex_real.py
    login_hint = (
        "Run `codex login` in a terminal, or set OPENAI_API_KEY for the runner."
    )
    prompt_on_stdin = True
    resume_gone_markers = ("no rollout found",)

    # permission_mode is Codex's sandbox for the commands the model runs (`--sandbox`).
    permission_modes = ["read-only", "workspace-write", "danger-full-access"]
    # `codex exec` cannot ask the user: commands the sandbox does not allow fail ("never"), or are reviewed
    # automatically (`--approve-for-me`).
    approvals = ["never", "auto_review"]

    @classmethod
    def check_options(cls, request: Mapping[str, Any]) -> dict[str, Any]:
        options = super().check_options(request)
        approval = request.get("approval")
        if approval not in (None, "", *cls.approvals):
            raise AgentError("bad_request", f"'approval' must be one of {cls.approvals}")
        options["approval"] = approval or None
        if approval == "auto_review" and options.get("permission_mode") not in (None, "workspace-write"):
            raise AgentError("bad_request", "'approval' auto_review runs commands in the workspace-write sandbox")
        return options

    @classmethod
    def detect(cls) -> AgentInfo:
        info = super().detect()
        info.options = {"approval": list(cls.approvals)}
        return info

    def make_translator(self, known_session_id: str | None) -> CodexTranslator:
        return CodexTranslator(known_session_id)

    def build_argv(self, executable: str, prompt: str, resume_id: str | None) -> list[str]:
        argv = [executable, "exec", "--json", "--skip-git-repo-check"]
        model = self.host.options.get("model")
        if model:
            argv.append(f"--model={model}")
        # Before `resume`: its subcommand does not take --sandbox (0.171.0).
        sandbox = self.host.options.get("permission_mode")
        if self.host.options.get("approval") == "auto_review":
            argv.append("--approve-for-me")  # implies the workspace-write sandbox; --sandbox may not go with it
        elif sandbox:
            argv.append(f"--sandbox={sandbox}")
        if resume_id:
            argv += ["resume", resume_id]
        # "-": the prompt comes on stdin, so its size is not limited by the command line (128 KiB per argument on
        # Linux, 32 K in all on Windows) and it never looks like a flag.
        return [*argv, "-"]
