"""Claude Code's stream-json protocol, sans I/O: the CLI's decoded output lines in, normalized events (see
runner/EVENTS.md) and lines to write back out. No process, no asyncio, no Qt: runner/agents/claude.py drives the
process and feeds this.

The turn the CLI is working on is one state machine (TurnState, every transition in TURN_TRANSITIONS); besides it
the translator keeps what the lines refer back to: the messages being streamed, the tools already reported, the
permission requests still open and the CLI's running cost.
"""

from __future__ import annotations

import collections
import enum
import itertools
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runner.agents.errors import classify, explain
from runner.blobs import Image, image_from_base64

if TYPE_CHECKING:  # the module itself needs nothing of the process side
    from runner.agents._cli import Event

LABEL = "Claude Code"
LOGIN_HINT = "Run `claude` in a terminal and log in with /login, or set ANTHROPIC_API_KEY for the runner."
# How many messages' streamed blocks are remembered, to match each whole assistant line to its deltas.
RECENT_MESSAGES = 16

# A delta type that streams text -> (the event kind it becomes, the delta's field holding the text). The hottest
# path of the runner: one lookup per delta line.
STREAMED_TEXT = {"text_delta": ("assistant", "text"), "thinking_delta": ("thinking", "thinking")}
# The same for the whole blocks of an assistant line: block type -> (event kind, the block's text field).
WHOLE_TEXT = {"text": ("assistant", "text"), "thinking": ("thinking", "thinking")}
TOOL_USE_BLOCKS = ("tool_use", "server_tool_use")


def cli_permission_mode(mode: str) -> str | None:
    """The CLI's --permission-mode value for one of our modes (None: the CLI's default)."""
    return None if mode in ("ask", "default", "manual") else mode


class TurnState(enum.Enum):
    """Where the CLI's current turn is (one CLI process runs many turns, one after another)."""

    IDLE = "idle"
    """No turn: none asked for, or the last one's `result` has come."""
    WAITING = "waiting"
    """A message is written but its turn has not started (no system/init yet): the CLI would drop an interrupt."""
    INTERRUPT_HELD = "interrupt_held"
    """As WAITING, with an interrupt to send as soon as the turn starts."""
    RUNNING = "running"
    """The turn started (system/init): the CLI takes interrupts."""
    INTERRUPTING = "interrupting"
    """An interrupt was sent, or the CLI said the user interrupted: a failed `result` means "interrupted"."""


class TurnTrigger(enum.Enum):
    SEND = "send"  # we write a user message
    INTERRUPT = "interrupt"  # we are asked to interrupt
    INIT = "init"  # the CLI prints system/init: the turn starts
    CLI_INTERRUPTED = "cli_interrupted"  # the CLI reports "[Request interrupted by user..."
    RESULT = "result"  # the CLI prints the turn's `result`
    EXIT = "exit"  # the process is gone


_S, _T = TurnState, TurnTrigger
TURN_TRANSITIONS: dict[tuple[TurnState, TurnTrigger], TurnState] = {
    (_S.IDLE, _T.SEND): _S.WAITING,
    (_S.WAITING, _T.INTERRUPT): _S.INTERRUPT_HELD,
    (_S.WAITING, _T.INIT): _S.RUNNING,
    (_S.WAITING, _T.CLI_INTERRUPTED): _S.INTERRUPTING,
    (_S.INTERRUPT_HELD, _T.INIT): _S.INTERRUPTING,  # and the held interrupt is sent
    (_S.RUNNING, _T.INTERRUPT): _S.INTERRUPTING,
    (_S.RUNNING, _T.CLI_INTERRUPTED): _S.INTERRUPTING,
}
"""(state, trigger) -> next state. A pair not listed leaves the state as it is (a message written during a turn
waits behind it; a second interrupt is sent again). RESULT and EXIT end the turn from any state: RESULT goes on
to WAITING when more messages wait, to IDLE otherwise; EXIT goes to IDLE."""


@dataclass(slots=True)
class Step:
    """What some CLI lines mean: events to journal, lines to write to the CLI's stdin, answers to our requests."""

    events: list[Event] = field(default_factory=list)
    outgoing: list[dict[str, Any]] = field(default_factory=list)
    acks: list[tuple[str, bool, Any]] = field(default_factory=list)
    """(request_id, ok, response-or-error-message) for control_responses to our control requests."""
    pending_changed: bool = False
    """A permission request was asked, withdrawn or answered."""
    agent_session_id: str | None = None
    """The CLI's session id, when it is new."""
    interrupt_due: bool = False
    """A held interrupt's turn started in these lines (and has not ended in them): feed_lines adds the interrupt
    to `outgoing`."""
    images: list[Image] = field(default_factory=list)
    """Images the events refer to (`images` of a tool_result): to be stored before the events are journaled."""
    _open_text: tuple[dict[str, Any], list[str]] | None = None
    """The fields of the last event if it is streamed text, and its deltas so far (joined by `close_text`)."""

    def add_text(self, kind: str, text: str, message_id: str) -> None:
        """A delta of a message's text or thinking: one event with the deltas of that message just before it.
        A flood comes hundreds of deltas per read, and an event per delta cost the runner, the journal and every
        view far more than its text; a view concatenates them all the same (EVENTS.md)."""
        events, open_text = self.events, self._open_text
        if (open_text is not None and events[-1][1] is open_text[0] and events[-1][0] == kind
                and open_text[0]["message_id"] == message_id):
            open_text[1].append(text)
            return
        self.close_text()
        fields = {"text": text, "message_id": message_id}
        events.append((kind, fields))
        self._open_text = (fields, [text])

    def close_text(self) -> None:
        if self._open_text is not None:
            fields, parts = self._open_text
            if len(parts) > 1:
                fields["text"] = "".join(parts)
            self._open_text = None


@dataclass(slots=True)
class _Block:
    kind: str  # "text" | "thinking" | "tool_use" | other
    # Streamed text: `parts` holds chunks of it, `recent` the deltas since the last chunk. Joined only when needed
    # (no quadratic +=), and 512 deltas at a time, as a string object per delta costs ten times its text.
    parts: list[str] = field(default_factory=list)
    recent: list[str] = field(default_factory=list)
    fragments: list[str] = field(default_factory=list)  # input_json_delta pieces of a tool_use block
    tool_id: str = ""
    name: str = ""
    claimed: bool = False  # the whole-message copy in an assistant line was matched to these deltas

    def chunk(self) -> None:
        """Join the recent deltas into one part (called every 512 deltas)."""
        self.parts.append("".join(self.recent))
        self.recent.clear()

    @property
    def streamed(self) -> bool:
        """Deltas arrived for this block, and its whole copy has not claimed them yet."""
        return not self.claimed and bool(self.recent or self.parts)

    def take_text(self) -> str:
        """The streamed text, forgotten here (it is compared once with the whole message)."""
        self.claimed = True
        text = "".join(self.parts) + "".join(self.recent)
        self.parts, self.recent = [], []
        return text


@dataclass(slots=True)
class _Message:
    blocks: dict[int, _Block] = field(default_factory=dict)


class ClaudeTranslator:
    """The protocol state of one `claude` process."""

    def __init__(self, known_session_id: str | None = None) -> None:
        self.session_id = known_session_id
        self.turn = TurnState.IDLE
        self.pending: dict[str, dict[str, Any]] = {}
        """Permission requests waiting for an answer: request_id -> the permission_request fields."""
        self._waiting_messages = 0  # user messages written behind the current turn
        self._messages: collections.OrderedDict[str, _Message] = collections.OrderedDict()
        # parent_tool_use_id -> (message id, message) being streamed
        self._current: dict[str | None, tuple[str, _Message]] = {}
        self._emitted_tools: set[str] = set()
        self._last_total_cost: float | None = None
        self._ids = itertools.count(1)

    @property
    def busy(self) -> bool:
        """A message was written whose `result` has not come."""
        return self.turn is not TurnState.IDLE

    def _advance(self, trigger: TurnTrigger) -> TurnState:
        """Move the turn state machine (see TURN_TRANSITIONS); returns the state it left."""
        old = self.turn
        if trigger is TurnTrigger.RESULT:
            if self._waiting_messages:
                self._waiting_messages -= 1
                self.turn = TurnState.WAITING
            else:
                self.turn = TurnState.IDLE
        elif trigger is TurnTrigger.EXIT:
            self._waiting_messages = 0
            self.turn = TurnState.IDLE
        elif trigger is TurnTrigger.SEND and old is not TurnState.IDLE:
            self._waiting_messages += 1
        else:
            self.turn = TURN_TRANSITIONS.get((old, trigger), old)
        return old

    # --- lines we send --------------------------------------------------------------------------------------

    def user_message(self, text: str) -> dict[str, Any]:
        self._advance(TurnTrigger.SEND)
        return {
            "type": "user",
            "message": {"role": "user", "content": text},
            "parent_tool_use_id": None,
            "session_id": self.session_id or "default",
        }

    def control_request(self, request: dict[str, Any]) -> dict[str, Any]:
        request_id = f"req_{next(self._ids)}_{uuid.uuid4().hex[:8]}"
        return {"type": "control_request", "request_id": request_id, "request": request}

    def interrupt(self) -> dict[str, Any] | None:
        """The line that interrupts the turn, or None if it has to wait: before the turn's system/init the CLI
        ignores interrupts, so it is held and comes out of `feed_lines` with the init."""
        if self._advance(TurnTrigger.INTERRUPT) in (TurnState.WAITING, TurnState.INTERRUPT_HELD):
            return None
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
            pending_changed=True,
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
        self._advance(TurnTrigger.EXIT)
        return events

    # --- lines the CLI prints -------------------------------------------------------------------------------

    def feed_lines(self, objs: Iterable[Mapping[str, Any]]) -> Step:
        """What some consecutive lines of the CLI's stdout (each a decoded JSON object) mean, taken together."""
        step = Step()
        feed = self._feed
        for obj in objs:
            feed(obj, step)
        step.close_text()
        if step.interrupt_due:
            step.outgoing.append(self.control_request({"subtype": "interrupt"}))
        return step

    def _feed(self, obj: Mapping[str, Any], step: Step) -> None:
        kind = obj.get("type")
        parent = obj.get("parent_tool_use_id")
        if parent is not None:  # a subagent's line (most lines have null here)
            parent = parent if isinstance(parent, str) and parent else None
            start = len(step.events)
        try:
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
                self._control_cancel(obj, step)
            elif kind == "control_response":
                self._control_response(obj.get("response"), step)
            # Anything else (rate_limit_event, keep_alive, new line types of later versions) is skipped
            # on purpose.
        except (AttributeError, TypeError):
            # A known line type with a field of the wrong JSON type (a list where an object or a string belongs):
            # kept as plain output, as a line that is not JSON is, and the lines after it go on.
            step.events.append(("output", {"stream": "stdout", "text": json.dumps(obj)}))
            return
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
            streamed = STREAMED_TEXT.get(dtype)
            if streamed is not None:
                kind, key = streamed
                text = delta.get(key)
                if text:
                    if type(text) is not str:
                        text = str(text)
                    recent = block.recent
                    recent.append(text)
                    if len(recent) >= 512:
                        block.chunk()
                    step.add_text(kind, text, message_id)
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
            if cb_type in TOOL_USE_BLOCKS:
                block.tool_id = str(cb.get("id", ""))
                block.name = str(cb.get("name", ""))
            msg.blocks[index] = block
        elif etype == "content_block_stop" and isinstance(index, int):
            block = msg.blocks.get(index)
            if block is not None and block.kind in TOOL_USE_BLOCKS and block.tool_id:
                self._tool_call(block.tool_id, block.name, _assembled_input(block), step)

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
            whole_text = WHOLE_TEXT.get(btype) if isinstance(btype, str) else None
            if whole_text is not None:
                kind, key = whole_text
                rest = _unstreamed_part(msg, btype, str(block.get(key, "")))
                if rest:
                    step.events.append((kind, {"text": rest, "message_id": message_id}))
            elif btype in TOOL_USE_BLOCKS:
                self._tool_call(
                    str(block.get("id", "")), str(block.get("name", "")), block.get("input", {}), step
                )
            elif isinstance(btype, str) and btype.endswith("_tool_result"):  # web_search_tool_result and kin
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
        # The line's structured result belongs to its tool_result when there is only one (as the CLI sends them).
        results = sum(1 for block in content if isinstance(block, dict) and block.get("type") == "tool_result")
        patch = _structured_patch(obj.get("tool_use_result")) if results == 1 else None
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result":
                output, images = _result_content(block.get("content"))
                result = {
                    "tool_id": str(block.get("tool_use_id", "")),
                    "output": output,
                    "is_error": bool(block.get("is_error", False)),
                }
                if patch:
                    result["patch"] = patch
                if images:
                    result["images"] = [image.ref for image in images]
                    step.images += images
                step.events.append(("tool_result", result))
            elif block.get("type") == "text":
                text = str(block.get("text", ""))
                if text.startswith("[Request interrupted by user"):
                    self._advance(TurnTrigger.CLI_INTERRUPTED)
                elif parent is not None:
                    step.events.append(("user", {"text": text}))

    def _system(self, obj: Mapping[str, Any], step: Step) -> None:
        if obj.get("subtype") == "api_retry" and obj.get("attempt") == 1:
            # The CLI retries a refused key or a rate limit for minutes: say what is going on at the first retry.
            detail = f"HTTP {obj.get('error_status')} {obj.get('error', '')}"
            kind = classify(detail)
            if kind is not None:
                step.events.append(("error", {"code": kind, "message": explain(LABEL, kind, LOGIN_HINT, detail,
                                                                                retrying=True)}))
            return
        if obj.get("subtype") != "init":
            return  # status, hooks, task progress, compaction: nothing a transcript needs
        if self._advance(TurnTrigger.INIT) is TurnState.INTERRUPT_HELD:
            step.interrupt_due = True
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
        ended = self._advance(TurnTrigger.RESULT)
        step.interrupt_due = False  # its turn is over: an interrupt now would stop the next one
        subtype = obj.get("subtype")
        if subtype == "success" and not obj.get("is_error"):
            status = "success"
        elif ended in (TurnState.INTERRUPTING, TurnState.INTERRUPT_HELD):
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
            kind = classify(fields.get("message", ""))
            if kind is not None:
                step.events.append(("error", {"code": kind, "message": explain(LABEL, kind, LOGIN_HINT,
                                                                                fields["message"])}))
        step.events.append(("turn_end", fields))
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

    def _control_cancel(self, obj: Mapping[str, Any], step: Step) -> None:
        rid = obj.get("request_id")
        if not isinstance(rid, str) or rid not in self.pending:
            return
        request = self.pending.pop(rid)
        fields = {"request_id": rid, "behavior": "cancelled", "message": "the agent withdrew the request"}
        if "parent_tool_id" in request:
            fields["parent_tool_id"] = request["parent_tool_id"]
        step.events.append(("permission_answer", fields))
        step.pending_changed = True

    @staticmethod
    def _control_response(response: Any, step: Step) -> None:
        if not isinstance(response, dict) or not isinstance(response.get("request_id"), str):
            return
        if response.get("subtype") == "success":
            step.acks.append((response["request_id"], True, response.get("response")))
        else:
            step.acks.append((response["request_id"], False, str(response.get("error", "error"))))


def _assembled_input(block: _Block) -> Any:
    raw = "".join(block.fragments)
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # an input cut short (an interrupt mid-stream): show what arrived


def _unstreamed_part(msg: _Message | None, btype: str, whole: str) -> str:
    """The part of a whole text/thinking block that its deltas did not deliver already (usually none)."""
    if msg is None:
        return whole
    for _, block in sorted(msg.blocks.items()):
        if block.kind == btype and block.streamed:
            streamed = block.take_text()  # not kept for the 16 recent messages: a reply can be long
            if whole.startswith(streamed):
                return whole[len(streamed) :]
            return ""  # differs from the deltas: the deltas were shown already, do not repeat
    return whole


MAX_PATCH_CHARS = 1_000_000


def _structured_patch(result: Any) -> list[dict[str, Any]] | None:
    """The hunks of an Edit/Write/MultiEdit result's `structuredPatch`, with the file's line numbers, as EVENTS.md
    documents `patch`; None when there are none or they are not that shape."""
    hunks = result.get("structuredPatch") if isinstance(result, dict) else None
    if not isinstance(hunks, list) or not hunks:
        return None
    out = []
    for hunk in hunks:
        if not isinstance(hunk, dict):
            return None
        numbers = [hunk.get(k) for k in ("oldStart", "oldLines", "newStart", "newLines")]
        lines = hunk.get("lines")
        if (not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers)
                or not isinstance(lines, list) or not all(isinstance(line, str) for line in lines)):
            return None
        out.append(dict(zip(("old_start", "old_lines", "new_start", "new_lines"), numbers, strict=True),
                        lines=lines))
    # A huge rewrite's patch would double what the journal holds of it: views diff the input instead.
    return out if sum(len(line) for hunk in out for line in hunk["lines"]) <= MAX_PATCH_CHARS else None


def _result_text(content: Any) -> str:
    """A tool result's content as text (text blocks joined; images named, not inlined)."""
    return _result_content(content)[0]


def _result_content(content: Any) -> tuple[str, list[Image]]:
    """A tool result's content as text (text blocks joined) and the images in it. Each image block stands in the
    text as a short description, or as why it is not shown (not an image, too big)."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if isinstance(content, list):
        parts = []
        images: list[Image] = []
        for item in content:
            if isinstance(item, dict):
                if item.get("type") == "text":
                    parts.append(str(item.get("text", "")))
                elif item.get("type") == "image":
                    # {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR..."}}
                    source = item.get("source")
                    source = source if isinstance(source, dict) else {}
                    image, text = image_from_base64(source.get("data"), source.get("media_type"))
                    if image is not None:
                        images.append(image)
                    parts.append(text)
                else:
                    parts.append(json.dumps(item))
            else:
                parts.append(str(item))
        return "\n".join(parts), images
    return json.dumps(content), []
