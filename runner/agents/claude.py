"""The Claude Code agent: one long-lived `claude` process per session, stream-json in both directions.

ClaudeTranslator is the sans-I/O part: it turns each JSON line the CLI prints into normalized events (see
runner/EVENTS.md) and into control messages to write back, and builds the lines we send (user messages,
interrupts, permission answers, model and permission-mode changes). ClaudeAgent is the thin I/O wrapper around
an AgentProcess.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.agents._cli import CliAgent, Event, check_model, child_env
from runner.agents.base import AgentError, AgentHost
from runner.agents.errors import classify, explain
from runner.agents.winshim import launch_argv
from runner.process import AgentProcess, SpawnError

# "ask" sends every permission prompt to the views (--permission-prompt-tool stdio with the CLI's default
# mode). The other modes are the CLI's own; with them the CLI asks less often (or never), and whatever it
# still asks goes to the views as well.
LOGIN_HINT = "Run `claude` in a terminal and log in with /login, or set ANTHROPIC_API_KEY for the runner."
PERMISSION_MODES = ["ask", "acceptEdits", "plan", "bypassPermissions"]
# Accepted as well: the CLI's names for its default mode, and modes some CLI versions have.
EXTRA_PERMISSION_MODES = {"default", "manual", "auto", "dontAsk"}
DEFAULT_PERMISSION_MODE = "ask"
MODELS = ["sonnet", "opus", "haiku"]

CONTROL_TIMEOUT_SECONDS = 15.0
# A clean stop closes stdin and gives the CLI this long to flush its session file before SIGTERM.
EOF_GRACE_SECONDS = 3.0
RECENT_MESSAGES = 16
# What the CLI prints to stderr when --resume names a conversation it does not have.
RESUME_GONE = "No conversation found"


def cli_permission_mode(mode: str) -> str | None:
    """The CLI's --permission-mode value for one of our modes (None: the CLI's default)."""
    return None if mode in ("ask", "default", "manual") else mode


@dataclass(slots=True)
class Step:
    """What one CLI line means: events to journal, lines to write to the CLI's stdin, answers to our requests.
    """

    events: list[Event] = field(default_factory=list)
    outgoing: list[dict[str, Any]] = field(default_factory=list)
    acks: list[tuple[str, bool, Any]] = field(default_factory=list)
    """(request_id, ok, response-or-error-message) for control_responses to our control requests."""
    inited: bool = False
    """The CLI printed system/init (it takes interrupts from then on)."""
    turn_ends: int = 0
    """`turn_end` events among `events`."""
    pending_changed: bool = False
    """A permission request was asked, withdrawn or answered."""
    agent_session_id: str | None = None
    """The CLI's session id, when it is new."""


@dataclass(slots=True)
class _Block:
    kind: str  # "text" | "thinking" | "tool_use" | other
    # Streamed text: `parts` holds chunks of it, `recent` the deltas since the last chunk. Joined only when needed
    # (no quadratic +=), and 512 deltas at a time, as a string object per delta costs ten times its text.
    parts: list[str] = field(default_factory=list)
    recent: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        recent = self.recent
        recent.append(text)
        if len(recent) >= 512:
            self.parts.append("".join(recent))
            recent.clear()
        self.streamed = True

    def take_text(self) -> str:
        """The streamed text, forgotten here (it is compared once with the whole message)."""
        text = "".join(self.parts) + "".join(self.recent)
        self.parts, self.recent = [], []
        return text
    fragments: list[str] = field(default_factory=list)
    tool_id: str = ""
    name: str = ""
    streamed: bool = False  # deltas were seen (text/thinking)
    claimed: bool = False  # the whole-message copy in an assistant line was matched to these deltas


@dataclass
class _Message:
    blocks: dict[int, _Block] = field(default_factory=dict)


class ClaudeTranslator:
    """Sans-I/O protocol state for one `claude` process."""

    def __init__(self, known_session_id: str | None = None) -> None:
        self.session_id = known_session_id
        self.pending: dict[str, dict[str, Any]] = {}
        """Permission requests waiting for an answer: request_id -> the permission_request fields."""
        self.interrupt_requested = False
        self.in_turn = False
        self._messages: collections.OrderedDict[str, _Message] = collections.OrderedDict()
        # parent_tool_use_id -> (message id, message) being streamed
        self._current: dict[str | None, tuple[str, _Message]] = {}
        self._emitted_tools: set[str] = set()
        self._last_total_cost: float | None = None
        self.process_inited = False
        """The process printed system/init at least once."""
        self.turn_inited = False
        """The current turn's system/init has been printed (until its `result`)."""
        self._ids = itertools.count(1)

    # --- lines we send --------------------------------------------------------------------------------------

    def user_message(self, text: str) -> dict[str, Any]:
        self.in_turn = True
        return {
            "type": "user",
            "message": {"role": "user", "content": text},
            "parent_tool_use_id": None,
            "session_id": self.session_id or "default",
        }

    def control_request(self, request: dict[str, Any]) -> dict[str, Any]:
        request_id = f"req_{next(self._ids)}_{uuid.uuid4().hex[:8]}"
        return {"type": "control_request", "request_id": request_id, "request": request}

    def interrupt(self) -> dict[str, Any]:
        self.interrupt_requested = True
        return self.control_request({"subtype": "interrupt"})

    def set_model(self, model: str | None) -> dict[str, Any]:
        return self.control_request({"subtype": "set_model", "model": model or "default"})

    def set_permission_mode(self, mode: str) -> dict[str, Any]:
        return self.control_request(
            {"subtype": "set_permission_mode", "mode": cli_permission_mode(mode) or "default"}
        )

    def answer(self, request_id: str, behavior: str, message: str | None, *,
               answers: Mapping[str, str] | None = None,
               updated_permissions: list[dict[str, Any]] | None = None) -> Step:
        """Answer a pending permission request. Raises KeyError if it is not pending.

        The answers to an AskUserQuestion go back in `updatedInput` beside the questions (what the CLI reads);
        "always allow" rules go in `updatedPermissions`."""
        request = self.pending.pop(request_id)
        if behavior == "allow":
            updated = dict(request.get("input") or {})
            if answers:
                updated["answers"] = dict(answers)
            response: dict[str, Any] = {"behavior": "allow", "updatedInput": updated}
            if updated_permissions:
                response["updatedPermissions"] = list(updated_permissions)
        else:
            response = {"behavior": "deny", "message": message or "The user denied this tool use."}
        fields: dict[str, Any] = {"request_id": request_id, "behavior": behavior}
        if message:
            fields["message"] = message
        if answers and behavior == "allow":
            fields["answers"] = dict(answers)
        if updated_permissions and behavior == "allow":
            fields["updated_permissions"] = list(updated_permissions)
        if "parent_tool_id" in request:
            fields["parent_tool_id"] = request["parent_tool_id"]
        return Step(
            events=[("permission_answer", fields)],
            outgoing=[
                {
                    "type": "control_response",
                    "response": {"subtype": "success", "request_id": request_id, "response": response},
                }
            ],
        )

    def process_exited(self) -> list[Event]:
        """The process is gone: its pending requests can never be answered."""
        events = [
            (
                "permission_answer",
                {"request_id": rid, "behavior": "cancelled", "message": "the agent process ended"},
            )
            for rid in self.pending
        ]
        self.pending.clear()
        self.in_turn = False
        return events

    # --- lines the CLI prints -------------------------------------------------------------------------------

    def feed(self, obj: Mapping[str, Any]) -> Step:
        step = Step()
        self.feed_into(obj, step)
        return step

    def feed_into(self, obj: Mapping[str, Any], step: Step) -> None:
        """Add what one CLI line means to `step` (the lines of one read share a step)."""
        start = len(step.events)
        kind = obj.get("type")
        parent = obj.get("parent_tool_use_id")
        parent = parent if isinstance(parent, str) and parent else None
        if kind == "stream_event":
            self._stream_event(obj.get("event"), parent, step)
        elif kind == "assistant":
            self._assistant(obj.get("message"), parent, step)
        elif kind == "user":
            self._user(obj, parent, step)
        elif kind == "system":
            self._system(obj, step)
        elif kind == "result":
            self._result(obj, step)
        elif kind == "control_request":
            self._control_request(obj, step)
        elif kind == "control_cancel_request":
            rid = obj.get("request_id")
            if isinstance(rid, str) and rid in self.pending:
                request = self.pending.pop(rid)
                fields = {
                    "request_id": rid,
                    "behavior": "cancelled",
                    "message": "the agent withdrew the request",
                }
                if "parent_tool_id" in request:
                    fields["parent_tool_id"] = request["parent_tool_id"]
                step.events.append(("permission_answer", fields))
                step.pending_changed = True
        elif kind == "control_response":
            self._control_response(obj.get("response"), step)
        # Anything else (rate_limit_event, keep_alive, new line types of later versions) is skipped
        # on purpose.
        if parent is not None:
            for _, fields in step.events[start:]:
                fields.setdefault("parent_tool_id", parent)

    def _message(self, message_id: str) -> _Message:
        msg = self._messages.get(message_id)
        if msg is None:
            msg = self._messages[message_id] = _Message()
            while len(self._messages) > RECENT_MESSAGES:
                self._messages.popitem(last=False)
        return msg

    def _stream_event(self, event: Any, parent: str | None, step: Step) -> None:
        if not isinstance(event, dict):
            return
        etype = event.get("type")
        current = self._current.get(parent)
        index = event.get("index")
        if etype == "content_block_delta":  # most lines: kept short
            if current is None:
                return
            message_id, msg = current
            block = msg.blocks.get(index)
            if block is None:
                if not isinstance(index, int):
                    return
                block = msg.blocks[index] = _Block(kind="text")
            delta = event.get("delta")
            if not isinstance(delta, dict):
                return
            dtype = delta.get("type")
            if dtype == "text_delta":
                text = delta.get("text")
                if text:
                    text = text if type(text) is str else str(text)
                    block.add(text)
                    step.events.append(("assistant", {"text": text, "message_id": message_id}))
            elif dtype == "thinking_delta":
                text = delta.get("thinking")
                if text:
                    text = text if type(text) is str else str(text)
                    block.add(text)
                    step.events.append(("thinking", {"text": text, "message_id": message_id}))
            elif dtype == "input_json_delta":
                block.fragments.append(str(delta.get("partial_json", "")))
            return
        if etype == "message_start":
            message = event.get("message") or {}
            message_id = message.get("id")
            if isinstance(message_id, str):
                self._current[parent] = (message_id, self._message(message_id))
            return
        if current is None:
            return
        msg = current[1]
        if etype == "content_block_start" and isinstance(index, int):
            cb = event.get("content_block") or {}
            cb_type = cb.get("type", "")
            block = _Block(kind=cb_type)
            if cb_type in ("tool_use", "server_tool_use"):
                block.tool_id = str(cb.get("id", ""))
                block.name = str(cb.get("name", ""))
            msg.blocks[index] = block
        elif etype == "content_block_stop" and isinstance(index, int):
            block = msg.blocks.get(index)
            if block is not None and block.kind in ("tool_use", "server_tool_use") and block.tool_id:
                self._tool_call(block.tool_id, block.name, self._assembled_input(block), step)

    @staticmethod
    def _assembled_input(block: _Block) -> Any:
        raw = "".join(block.fragments)
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # an input cut short (an interrupt mid-stream): show what arrived

    def _tool_call(self, tool_id: str, name: str, tool_input: Any, step: Step) -> None:
        if tool_id in self._emitted_tools:
            return
        self._emitted_tools.add(tool_id)
        step.events.append(("tool_call", {"tool_id": tool_id, "name": name, "input": tool_input}))

    def _assistant(self, message: Any, parent: str | None, step: Step) -> None:
        if not isinstance(message, dict):
            return
        message_id = message.get("id")
        message_id = (
            message_id if isinstance(message_id, str) and message_id else f"local_{uuid.uuid4().hex[:12]}"
        )
        msg = self._messages.get(message_id)
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if not isinstance(content, list):
            return
        for block in content:
            if not isinstance(block, dict):
                continue
            btype = block.get("type")
            if btype in ("text", "thinking"):
                whole = str(block.get("text" if btype == "text" else "thinking", ""))
                kind = "assistant" if btype == "text" else "thinking"
                rest = self._unstreamed_part(msg, btype, whole)
                if rest:
                    step.events.append((kind, {"text": rest, "message_id": message_id}))
            elif btype in ("tool_use", "server_tool_use"):
                self._tool_call(
                    str(block.get("id", "")), str(block.get("name", "")), block.get("input", {}), step
                )
            elif btype == "web_search_tool_result" or (
                isinstance(btype, str) and btype.endswith("_tool_result")
            ):
                step.events.append(
                    (
                        "tool_result",
                        {
                            "tool_id": str(block.get("tool_use_id", "")),
                            "output": _result_text(block.get("content")),
                            "is_error": False,
                        },
                    )
                )

    @staticmethod
    def _unstreamed_part(msg: _Message | None, btype: str, whole: str) -> str:
        """The part of a whole text/thinking block that its deltas did not deliver already (usually none)."""
        if msg is None:
            return whole
        for _, block in sorted(msg.blocks.items()):
            if block.kind == btype and block.streamed and not block.claimed:
                block.claimed = True
                streamed = block.take_text()  # not kept for the 16 recent messages: a reply can be long
                if whole.startswith(streamed):
                    return whole[len(streamed) :]
                return ""  # differs from the deltas: the deltas were shown already, do not repeat
        return whole

    def _user(self, obj: Mapping[str, Any], parent: str | None, step: Step) -> None:
        if obj.get("isReplay"):
            return
        message = obj.get("message")
        if not isinstance(message, dict):
            return
        content = message.get("content")
        if isinstance(content, str):
            # Top-level user text is what we sent (already journaled by the session) or a CLI
            # notice; a subagent's prompt is shown in its line.
            if parent is not None:
                step.events.append(("user", {"text": content}))
            return
        if not isinstance(content, list):
            return
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result":
                step.events.append(
                    (
                        "tool_result",
                        {
                            "tool_id": str(block.get("tool_use_id", "")),
                            "output": _result_text(block.get("content")),
                            "is_error": bool(block.get("is_error", False)),
                        },
                    )
                )
            elif block.get("type") == "text":
                text = str(block.get("text", ""))
                if text.startswith("[Request interrupted by user"):
                    self.interrupt_requested = True
                elif parent is not None:
                    step.events.append(("user", {"text": text}))

    def _system(self, obj: Mapping[str, Any], step: Step) -> None:
        if obj.get("subtype") == "api_retry" and obj.get("attempt") == 1:
            # The CLI retries a refused key or a rate limit for minutes: say what is going on at the first retry.
            detail = f"HTTP {obj.get('error_status')} {obj.get('error', '')}"
            kind = classify(detail)
            if kind is not None:
                message = explain(ClaudeAgent.label, kind, LOGIN_HINT, detail, retrying=True)
                step.events.append(("error", {"code": kind, "message": message}))
            return
        if obj.get("subtype") != "init":
            return  # status, hooks, task progress, compaction: nothing a transcript needs
        step.inited = self.process_inited = self.turn_inited = True
        sid = obj.get("session_id")
        if isinstance(sid, str) and sid and sid != self.session_id:
            self.session_id = sid
            fields: dict[str, Any] = {"agent_session_id": sid}
            for src, dst in (("model", "model"), ("permissionMode", "permission_mode"), ("cwd", "cwd")):
                if isinstance(obj.get(src), str):
                    fields[dst] = obj[src]
            step.events.append(("agent_session", fields))
            step.agent_session_id = sid

    def _result(self, obj: Mapping[str, Any], step: Step) -> None:
        subtype = obj.get("subtype")
        if subtype == "success" and not obj.get("is_error"):
            status = "success"
        elif self.interrupt_requested:
            status = "interrupted"
        else:
            status = "error"
        fields: dict[str, Any] = {"status": status}
        if isinstance(subtype, str) and subtype != "success":
            fields["reason"] = subtype
        if isinstance(obj.get("usage"), dict):
            fields["usage"] = obj["usage"]
        total = obj.get("total_cost_usd")
        if isinstance(total, (int, float)):
            # The CLI reports the process's running total; a turn's cost is the difference.
            last = self._last_total_cost
            fields["cost_usd"] = round(total - last, 8) if last is not None and total >= last else total
            fields["total_cost_usd"] = total
            self._last_total_cost = float(total)
        for src, dst in (("duration_ms", "duration_ms"), ("num_turns", "num_turns")):
            if isinstance(obj.get(src), (int, float)):
                fields[dst] = obj[src]
        if status == "error":
            errors = obj.get("errors")
            if isinstance(errors, list) and errors:
                fields["message"] = "; ".join(str(e) for e in errors)[:4000]
            elif isinstance(obj.get("result"), str):
                fields["message"] = obj["result"][:4000]
            kind = classify(fields.get("message", "")) if status == "error" else None
            if kind is not None:
                message = explain(ClaudeAgent.label, kind, LOGIN_HINT, fields["message"])
                step.events.append(("error", {"code": kind, "message": message}))
        step.events.append(("turn_end", fields))
        step.turn_ends += 1
        self.interrupt_requested = False
        self.in_turn = False
        self.turn_inited = False
        self._current.clear()

    def _control_request(self, obj: Mapping[str, Any], step: Step) -> None:
        rid = obj.get("request_id")
        request = obj.get("request")
        if not isinstance(rid, str) or not isinstance(request, dict):
            return
        subtype = request.get("subtype")
        if subtype == "can_use_tool":
            fields: dict[str, Any] = {
                "request_id": rid,
                "tool_name": str(request.get("tool_name", "")),
                "input": request.get("input", {}),
            }
            if isinstance(request.get("tool_use_id"), str):
                fields["tool_id"] = request["tool_use_id"]
            if isinstance(request.get("description"), str):
                fields["description"] = request["description"]
            if isinstance(request.get("blocked_path"), str):
                fields["blocked_path"] = request["blocked_path"]
            suggestions = request.get("permission_suggestions")
            if isinstance(suggestions, list) and suggestions:
                fields["suggestions"] = suggestions  # what "always allow" would add, as the CLI proposes it
            self.pending[rid] = fields
            step.events.append(("permission_request", fields))
            step.pending_changed = True
        elif subtype == "initialize":
            step.outgoing.append(
                {
                    "type": "control_response",
                    "response": {"subtype": "success", "request_id": rid, "response": {}},
                }
            )
        else:
            # Hooks and SDK MCP servers are not ours; say so at once rather than leave the CLI waiting.
            step.outgoing.append(
                {
                    "type": "control_response",
                    "response": {
                        "subtype": "error",
                        "request_id": rid,
                        "error": f"unsupported control request {subtype!r}",
                    },
                }
            )

    @staticmethod
    def _control_response(response: Any, step: Step) -> None:
        if not isinstance(response, dict) or not isinstance(response.get("request_id"), str):
            return
        if response.get("subtype") == "success":
            step.acks.append((response["request_id"], True, response.get("response")))
        else:
            step.acks.append((response["request_id"], False, str(response.get("error", "error"))))


def _result_text(content: Any) -> str:
    """A tool result's content as text (text blocks joined; images named, not inlined)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for item in content:
            if isinstance(item, dict):
                if item.get("type") == "text":
                    parts.append(str(item.get("text", "")))
                elif item.get("type") == "image":
                    parts.append("[image]")
                else:
                    parts.append(json.dumps(item))
            else:
                parts.append(str(item))
        return "\n".join(parts)
    return json.dumps(content)


def check_permission_mode(value: object) -> str:
    if value is None or value == "":
        return DEFAULT_PERMISSION_MODE
    if not isinstance(value, str) or (value not in PERMISSION_MODES and value not in EXTRA_PERMISSION_MODES):
        raise AgentError("bad_request", f"'permission_mode' must be one of {PERMISSION_MODES}")
    return value


class ClaudeAgent(CliAgent):
    name = "claude"
    label = "Claude Code"
    executable = "claude"
    env_var = "NIGHTSHIFT_CLAUDE_PATH"
    npm_package = "@anthropic-ai/claude-code"
    tested_versions = ("2.1.197", "2.1.332")  # tests/runner/agents/test_claude_real.py
    login_hint = LOGIN_HINT
    models = MODELS
    permission_modes = PERMISSION_MODES

    def __init__(self, host: AgentHost) -> None:
        super().__init__(host)
        self._proc: AgentProcess | None = None
        self._translator: ClaudeTranslator | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._turns = 0  # user messages written whose `result` has not arrived yet
        self._status: str | None = None
        self._stopping = False
        self._acks: dict[str, asyncio.Future[tuple[bool, Any]]] = {}
        self._interrupt_waiting_for_init = False
        self._pending_changed = False  # a permission request was asked or answered since the last save
        self._start_lock = asyncio.Lock()

    @classmethod
    def check_options(cls, request: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "model": check_model(request.get("model")),
            "permission_mode": check_permission_mode(request.get("permission_mode")),
        }

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.running

    @property
    def pending_permissions(self) -> int:
        return len(self._translator.pending) if self._translator else 0

    # --- process --------------------------------------------------------------------------------------------

    def build_argv(self, executable: str, resume_id: str | None) -> list[str]:
        argv = [
            executable,
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--permission-prompt-tool",
            "stdio",
        ]
        model = self.host.options.get("model")
        if model:
            argv.append(f"--model={model}")
        mode = cli_permission_mode(self.host.options.get("permission_mode") or DEFAULT_PERMISSION_MODE)
        if mode:
            argv.append(f"--permission-mode={mode}")
        if resume_id:
            argv.append(f"--resume={resume_id}")  # the `=` form: an id can never be read as a flag
        return argv

    async def _ensure_process(self) -> bool:
        async with self._start_lock:
            if self.running:
                return True
            path, reason = self.locate()
            if path is None:
                self.host.emit("error", code="agent_unavailable", message=reason or "claude not found")
                self._set_status("error", reason="agent_unavailable")
                return False
            resume_id = self._resume_id()
            self._stderr_tail.clear()
            self._partial.clear()
            translator = ClaudeTranslator(known_session_id=resume_id)
            try:
                proc = await AgentProcess.spawn(
                    launch_argv(self.build_argv(path, resume_id)),
                    self.host.cwd,
                    self,
                    env=child_env(),
                    backpressure=self.host.backpressure,
                )
            except SpawnError as exc:
                self.host.emit("error", code="spawn_failed", message=str(exc))
                self._set_status("error", reason="spawn_failed")
                return False
            self._translator = translator
            self._proc = proc
            self._stopping = False
            self._turns = 0
            self._watch_task = asyncio.create_task(self._watch(proc, translator, resume_id))
            return True

    async def _write(self, obj: dict[str, Any]) -> None:
        if self._proc is None:
            raise AgentError("not_running", "Claude Code is not running")
        try:
            await self._proc.write((json.dumps(obj) + "\n").encode("utf-8"))
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise AgentError("not_running", "Claude Code has closed its input") from exc

    async def _watch(self, proc: AgentProcess, translator: ClaudeTranslator, resume_id: str | None) -> None:
        code = await proc.wait()
        if resume_id and not translator.process_inited and not self._stopping and RESUME_GONE in self._stderr_summary():
            # The CLI has no such conversation (its session files were removed, or HOME changed). Retrying would
            # fail forever: forget the id so the next message starts a new conversation, and say so.
            self.host.save_state(agent_session_id=None)
            self.host.emit(
                "error",
                code="resume_failed",
                message=f"Claude Code cannot resume conversation {resume_id}: it no longer exists. "
                "Your next message starts a new conversation.",
            )
        had_turn = self._turns > 0
        self._emit_all(translator.process_exited())
        self._save_pending()
        for fut in self._acks.values():
            if not fut.done():
                fut.set_result((False, "the agent process ended"))
        self._acks.clear()
        if self._proc is proc:
            self._proc = None
        self._turns = 0
        if self._stopping:
            self._set_status("idle", reason="stopped", exit_code=code)
        elif had_turn or code != 0:
            tail = self._stderr_summary()
            message = f"Claude Code exited with code {code}" + (" during a turn" if had_turn else "")
            self.host.emit(
                "error", code="agent_exited", message=message + (f"\n{tail}" if tail else ""), exit_code=code
            )
            self._set_status("error", reason="agent_exited", exit_code=code)
        else:
            self._set_status("idle", reason="exited", exit_code=code)

    def _set_status(self, status: str, **fields: Any) -> None:
        if status == self._status and not fields:
            return
        self._status = status
        self.host.set_status(status, **fields)

    def _save_pending(self) -> None:
        # The session reports len(state["pending_permissions"]) to views; the ids also survive a runner
        # restart so resume_after_restart can withdraw them.
        pending = dict(self._translator.pending) if self._translator else {}
        self.host.save_state(pending_permissions=pending)

    # --- lines from the CLI ---------------------------------------------------------------------------------

    def _on_json(self, obj: dict[str, Any]) -> None:
        self._on_json_lines([obj])

    def _on_json_lines(self, objs: list[dict[str, Any]]) -> None:
        translator = self._translator
        if translator is None:
            return
        step = Step()
        for obj in objs:
            translator.feed_into(obj, step)
        if step.events:
            self.host.emit_events(step.events)
        if step.agent_session_id is not None:
            self.host.save_state(agent_session_id=step.agent_session_id)
        if step.turn_ends:
            self._turns = max(0, self._turns - step.turn_ends)
        if step.pending_changed:
            self._pending_changed = True
        for out in step.outgoing:
            self._write_soon(out)
        for request_id, ok, payload in step.acks:
            fut = self._acks.pop(request_id, None)
            if fut is not None and not fut.done():
                fut.set_result((ok, payload))
        if step.inited and self._interrupt_waiting_for_init:
            # An interrupt sent before init is ignored by the CLI, so it was held until now (unless that turn
            # has ended already, within these lines).
            self._interrupt_waiting_for_init = False
            if translator.turn_inited:
                self._write_soon(translator.interrupt())

    def _after_lines(self) -> None:
        # Once per read of the CLI's output, not per line: a read holds hundreds of deltas.
        if self._pending_changed:
            self._pending_changed = False
            self._save_pending()
        self._update_status()

    def _write_soon(self, obj: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None:
            return

        async def write() -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await proc.write((json.dumps(obj) + "\n").encode("utf-8"))

        asyncio.get_running_loop().create_task(write())

    def _update_status(self) -> None:
        if not self.running:
            return
        if self.pending_permissions:
            self._set_status("needs_approval")
        elif self._turns > 0:
            self._set_status("running")
        else:
            self._set_status("idle")

    # --- Agent interface ------------------------------------------------------------------------------------

    async def send(self, text: str) -> None:
        if not await self._ensure_process():
            return
        assert self._translator is not None
        await self._write(self._translator.user_message(text))
        self._turns += 1
        self._update_status()

    async def interrupt(self) -> None:
        if not self.running or self._translator is None:
            raise AgentError("not_running", "Claude Code is not running")
        if self._turns > 0 and not self._translator.turn_inited:
            self._interrupt_waiting_for_init = True
            self._translator.interrupt_requested = True
            return
        await self._write(self._translator.interrupt())

    async def answer(self, request_id: str, behavior: str, message: str | None, *,
                     answers: Mapping[str, str] | None = None,
                     updated_permissions: list[dict[str, Any]] | None = None) -> None:
        if behavior not in ("allow", "deny"):
            raise AgentError("bad_request", "'behavior' must be 'allow' or 'deny'")
        if message is not None and not isinstance(message, str):
            raise AgentError("bad_request", "'message' must be a string")
        translator = self._translator
        if translator is None or request_id not in translator.pending:
            raise AgentError("unknown_request", f"no pending permission request {request_id!r}")
        if not self.running:
            raise AgentError("not_running", "Claude Code is not running")
        step = translator.answer(request_id, behavior, message, answers=answers,
                                 updated_permissions=updated_permissions)
        for out in step.outgoing:
            await self._write(out)
        self._emit_all(step.events)
        self._save_pending()
        self._update_status()

    async def configure(self, options: Mapping[str, Any]) -> None:
        unknown = set(options) - {"model", "permission_mode"}
        if unknown:
            raise AgentError("bad_request", f"the claude agent has no option(s) {sorted(unknown)}")
        changes: dict[str, Any] = {}
        if "model" in options:
            changes["model"] = check_model(options.get("model"))
        if "permission_mode" in options:
            changes["permission_mode"] = check_permission_mode(options.get("permission_mode"))
        if self.running and self._translator is not None:
            failure = None
            if "model" in changes and changes["model"] != self.host.options.get("model"):
                failure = await self._control(self._translator.set_model(changes["model"]))
            if failure is None and "permission_mode" in changes:
                failure = await self._control(
                    self._translator.set_permission_mode(changes["permission_mode"])
                )
            if failure is not None:
                if self._turns > 0:
                    raise AgentError("bad_request", f"Claude Code refused the change: {failure}")
                # Between turns: the next message starts a new process (resuming the
                # session) with the new flags.
                await self.stop()
        self.host.options.update(changes)

    async def _control(self, request: dict[str, Any]) -> str | None:
        """Send a control request and wait for its answer; the error message, or None on success."""
        fut: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
        self._acks[request["request_id"]] = fut
        await self._write(request)
        try:
            ok, payload = await asyncio.wait_for(fut, CONTROL_TIMEOUT_SECONDS)
        except TimeoutError:
            self._acks.pop(request["request_id"], None)
            return "no answer from Claude Code"
        return None if ok else str(payload)

    async def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._stopping = True
        await proc.terminate(eof_wait=EOF_GRACE_SECONDS)
        if self._watch_task is not None:
            await self._watch_task

    def resume_after_restart(self) -> None:
        # The process that asked is gone with the previous runner: its requests can never be answered.
        state = self.host.state
        stale = list(state.get("pending_permissions") or [])
        for rid in stale:
            self.host.emit(
                "permission_answer", request_id=str(rid), behavior="cancelled", message="the runner restarted"
            )
        if stale:
            self.host.save_state(pending_permissions={})
