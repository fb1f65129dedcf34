"""The Claude Code agent: one long-lived `claude` process per session, stream-json in both directions.

ClaudeAgent drives the process: it starts it (resuming the CLI's conversation), writes what the translator builds,
hands it what the CLI prints, waits for the answers to its control requests, and reports the session's status.
What the lines mean is runner/agents/claude_translator.py's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

from runner.agents._cli import CliAgent, check_model, child_env
from runner.agents.base import AgentError, AgentHost
from runner.agents.claude_translator import LABEL, LOGIN_HINT, ClaudeTranslator, Step, cli_permission_mode
from runner.process import AgentProcess

__all__ = ["ClaudeAgent", "ClaudeTranslator", "check_permission_mode"]

# "ask" sends every permission prompt to the views (--permission-prompt-tool stdio with the CLI's default
# mode). The other modes are the CLI's own; with them the CLI asks less often (or never), and whatever it
# still asks goes to the views as well.
PERMISSION_MODES = ["ask", "acceptEdits", "plan", "bypassPermissions"]
# Accepted as well: the CLI's names for its default mode, and modes some CLI versions have.
EXTRA_PERMISSION_MODES = {"default", "manual", "auto", "dontAsk"}
DEFAULT_PERMISSION_MODE = "ask"
MODELS = ["sonnet", "opus", "haiku"]

CONTROL_TIMEOUT_SECONDS = 15.0
# A clean stop closes stdin and gives the CLI this long to flush its session file before SIGTERM.
EOF_GRACE_SECONDS = 3.0


def check_permission_mode(value: object) -> str:
    if value is None or value == "":
        return DEFAULT_PERMISSION_MODE
    if not isinstance(value, str) or (value not in PERMISSION_MODES and value not in EXTRA_PERMISSION_MODES):
        raise AgentError("bad_request", f"'permission_mode' must be one of {PERMISSION_MODES}")
    return value


class ClaudeAgent(CliAgent):
    name = "claude"
    label = LABEL
    executable = "claude"
    env_var = "NIGHTSHIFT_CLAUDE_PATH"
    npm_package = "@anthropic-ai/claude-code"
    tested_versions = ("2.1.197", "2.1.332")  # tests/runner/agents/test_claude_real.py
    login_hint = LOGIN_HINT
    models = MODELS
    permission_modes = PERMISSION_MODES
    check_permission_mode = staticmethod(check_permission_mode)  # also the CLI's other names for its modes
    resume_gone_markers = ("No conversation found",)
    conversation = "conversation"

    def __init__(self, host: AgentHost) -> None:
        super().__init__(host)
        self._translator: ClaudeTranslator | None = None
        """The protocol state of the current process (a new one per process)."""
        self._acks: dict[str, asyncio.Future[tuple[bool, Any]]] = {}
        self._start_lock = asyncio.Lock()

    @classmethod
    def check_options(cls, request: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "model": check_model(request.get("model")),
            "permission_mode": check_permission_mode(request.get("permission_mode")),
        }

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
            started = await self._spawn(self.build_argv, child_env())
            if started is None:
                return False
            proc, resume_id = started
            translator = self._translator = ClaudeTranslator(known_session_id=resume_id)
            self._watch_task = asyncio.create_task(self._watch(proc, translator, resume_id))
            return True

    async def _write(self, obj: dict[str, Any]) -> None:
        if self._proc is None:
            raise AgentError("not_running", "Claude Code is not running")
        try:
            await self._proc.write((json.dumps(obj) + "\n").encode("utf-8"))
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise AgentError("not_running", "Claude Code has closed its input") from exc

    def _write_soon(self, obj: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None:
            return

        async def write() -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await proc.write((json.dumps(obj) + "\n").encode("utf-8"))

        asyncio.get_running_loop().create_task(write())

    async def _watch(self, proc: AgentProcess, translator: ClaudeTranslator, resume_id: str | None) -> None:
        code = await proc.wait()
        if not self._stopping and code != 0:
            self._forget_lost_conversation(resume_id, self._stderr_summary())
        had_turn = translator.busy
        self._emit_all(translator.process_exited())
        self._save_pending()
        for fut in self._acks.values():
            if not fut.done():
                fut.set_result((False, "the agent process ended"))
        self._acks.clear()
        if self._proc is proc:
            self._proc = None
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

    def _save_pending(self) -> None:
        # The session reports len(state["pending_permissions"]) to views; the ids also survive a runner
        # restart so resume_after_restart can withdraw them.
        pending = dict(self._translator.pending) if self._translator else {}
        self.host.save_state(pending_permissions=pending)

    # --- lines from the CLI ---------------------------------------------------------------------------------

    def _on_json_lines(self, objs: list[dict[str, Any]]) -> None:
        translator = self._translator
        if translator is not None:
            self._apply(translator.feed_lines(objs))

    def _apply(self, step: Step) -> None:
        """Carry out what the translator made of some lines (or of an answer)."""
        for image in step.images:  # before the events that refer to them
            self.host.store_image(image)
        if step.events:
            self.host.emit_events(step.events)
        if step.agent_session_id is not None:
            self.host.save_state(agent_session_id=step.agent_session_id)
        if step.pending_changed:
            self._save_pending()
        for out in step.outgoing:
            self._write_soon(out)
        for request_id, ok, payload in step.acks:
            fut = self._acks.pop(request_id, None)
            if fut is not None and not fut.done():
                fut.set_result((ok, payload))

    def _after_lines(self) -> None:
        # Once per read of the CLI's output, not per line: a read holds hundreds of deltas.
        self._update_status()

    def _update_status(self) -> None:
        if not self.running or self._translator is None:
            return
        if self._translator.pending:
            self._set_status("needs_approval")
        elif self._translator.busy:
            self._set_status("running")
        else:
            self._set_status("idle")

    # --- Agent interface ------------------------------------------------------------------------------------

    async def send(self, text: str) -> None:
        if not await self._ensure_process():
            return
        assert self._translator is not None
        await self._write(self._translator.user_message(text))
        self._update_status()

    async def interrupt(self) -> None:
        if not self.running or self._translator is None:
            raise AgentError("not_running", "Claude Code is not running")
        line = self._translator.interrupt()
        if line is not None:  # None: held until the turn starts (the translator sends it then)
            await self._write(line)

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
        changes = self.checked_changes(options)
        translator = self._translator
        if self.running and translator is not None:
            failure = None
            if "model" in changes and changes["model"] != self.host.options.get("model"):
                failure = await self._control(translator.set_model(changes["model"]))
            if failure is None and "permission_mode" in changes:
                failure = await self._control(translator.set_permission_mode(changes["permission_mode"]))
            if failure is not None:
                if translator.busy:
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
        await self._terminate(eof_wait=EOF_GRACE_SECONDS)

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
