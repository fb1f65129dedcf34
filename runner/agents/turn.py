"""Agents that run their CLI once per turn (Codex, Gemini, OpenCode): TurnTranslator, the base of their sans-I/O
translators (one per turn), and TurnCliAgent, the process driver. Later turns resume the CLI's own session id."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import signal
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from runner.agents._cli import CliAgent, Event, check_model, child_env
from runner.agents.base import AgentError, AgentHost
from runner.agents.errors import AUTH_REQUIRED, classify, explain
from runner.blobs import Image
from runner.process import AgentProcess


class TurnTranslator:
    """Base of the per-turn translators: one instance per turn (process)."""

    def __init__(self, known_session_id: str | None = None) -> None:
        self.session_id = known_session_id
        self.turn_ended = False
        self.failed = False
        self.images: list[Image] = []
        """Images the events of the last feed() refer to (`images` of a tool_result), to store before emitting."""

    def feed(self, obj: Mapping[str, Any]) -> list[Event]:
        raise NotImplementedError

    def _session(self, sid: object, **extra: Any) -> list[Event]:
        if not isinstance(sid, str) or not sid or sid == self.session_id:
            return []
        self.session_id = sid
        return [("agent_session", {"agent_session_id": sid, **extra})]

    def finish(self, exit_code: int | None, interrupted: bool) -> list[Event]:
        """Events for the end of the process: a turn_end if the CLI did not print one."""
        if self.turn_ended:
            return []
        self.turn_ended = True
        if interrupted:
            status = "interrupted"
        elif exit_code == 0 and not self.failed:
            status = "success"
        else:
            status = "error"
        return [("turn_end", {"status": status, "exit_code": exit_code})]


class TurnCliAgent(CliAgent):
    """An agent that runs its CLI once per turn; later turns resume the agent's own session id.

    Messages sent while a turn runs wait and run as the next turns, in order.
    """

    interrupt_signal: ClassVar[int] = signal.SIGINT
    """What interrupt sends to the turn's process group."""
    prompt_on_stdin: ClassVar[bool] = False
    """True if build_argv asks the CLI to read the prompt from stdin (no size limit, nothing on the command line);
    the prompt is then written to stdin, which is closed after it."""
    auth_exit_codes: ClassVar[tuple[int, ...]] = ()
    """Exit codes by which the CLI says it has no usable credentials."""

    def __init__(self, host: AgentHost) -> None:
        super().__init__(host)
        self._translator: TurnTranslator | None = None
        self._queue: collections.deque[str] = collections.deque()
        self._turn_errors: list[str] = []
        self._interrupted = False

    @classmethod
    def check_options(cls, request: Mapping[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {"model": check_model(request.get("model"))}
        if cls.permission_modes:
            options["permission_mode"] = cls.check_permission_mode(request.get("permission_mode"))
        return options

    @abstractmethod
    def make_translator(self, known_session_id: str | None) -> TurnTranslator: ...

    @abstractmethod
    def build_argv(self, executable: str, prompt: str, resume_id: str | None) -> list[str]:
        """The command line for one turn. The prompt is one argv element; never a shell string."""

    def extra_env(self) -> dict[str, str]:
        """Variables this CLI needs on top of the runner's environment."""
        return {}

    @property
    def busy(self) -> bool:
        return self._watch_task is not None and not self._watch_task.done()

    async def send(self, text: str) -> None:
        if "\0" in text:
            raise AgentError("bad_request", "'text' must not contain NUL characters")
        if self.busy:
            self._queue.append(text)
            return
        await self._start_turn(text)

    async def _start_turn(self, text: str) -> None:
        self._interrupted = False
        self._turn_errors = []
        started = await self._spawn(
            lambda path, resume_id: self.build_argv(path, text, resume_id),
            child_env(self.extra_env()),
            stdin=self.prompt_on_stdin,
        )
        if started is None:
            return
        proc, resume_id = started
        # In time: the process's output is read from the next await on.
        translator = self._translator = self.make_translator(resume_id)
        self._set_status("running", pid=proc.pid)
        if self.prompt_on_stdin:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await proc.write(text.encode("utf-8"))
            proc.close_stdin()
        self._watch_task = asyncio.create_task(self._watch(proc, translator, resume_id))

    def _on_json_lines(self, objs: list[dict[str, Any]]) -> None:
        translator = self._translator
        if translator is None:
            return
        for obj in objs:
            events = translator.feed(obj)
            if translator.images:  # stored before the events that refer to them
                for image in translator.images:
                    self.host.store_image(image)
                translator.images.clear()
            self._turn_errors += [str(f.get("message", "")) for k, f in events if k == "error"]
            self._emit_all(events)

    def _explain_failure(self, exit_code: int | None) -> str | None:
        """Journal a failed turn's cause in words if it is one the user can act on (see errors.py); its code."""
        lines = [*self._turn_errors, *self._stderr_tail]
        kind = classify("\n".join(lines))
        if kind is None and exit_code in self.auth_exit_codes:
            kind = AUTH_REQUIRED
        if kind is None:
            return None
        detail = next((line for line in lines if classify(line) == kind), lines[-1] if lines else "")
        self.host.emit("error", code=kind, message=explain(self.label, kind, self.login_hint, detail))
        return kind

    async def _watch(self, proc: AgentProcess, translator: TurnTranslator, resume_id: str | None) -> None:
        code = await proc.wait()
        self._emit_all(translator.finish(code, self._interrupted))
        if self._proc is proc:
            self._proc = None
        if self._stopping:
            self._set_status("idle", reason="stopped", exit_code=code)
            return
        problem = None
        if not self._interrupted and (code != 0 or translator.failed):
            problem = self._explain_failure(code)
        if self._interrupted:
            self._set_status("idle", reason="interrupted", exit_code=code)
        elif code != 0:
            tail = self._stderr_summary()
            if problem is None:
                self._forget_lost_conversation(resume_id, "\n".join([tail, *self._turn_errors]))
            message = f"{self.label} exited with code {code}"
            if tail and problem is None:  # an explained failure needs no raw stderr (it is in the output anyway)
                message += f"\n{tail}"
            self.host.emit("error", code="agent_exited", message=message, exit_code=code)
            self._set_status("error", reason=problem or "agent_exited", exit_code=code)
        elif problem is not None:
            self._set_status("idle", reason=problem, exit_code=code)
        else:
            self._set_status("idle", exit_code=code)
        if self._queue:
            # The next queued message starts its turn; _start_turn replaces self._watch_task
            # with the new watcher.
            await self._start_turn(self._queue.popleft())

    async def interrupt(self) -> None:
        if not self.running or self._proc is None:
            raise AgentError("not_running", f"{self.label} is not working on a turn")
        self._interrupted = True
        self._proc.signal_group(self.interrupt_signal)

    async def stop(self) -> None:
        self._queue.clear()
        await self._terminate()

    async def configure(self, options: Mapping[str, Any]) -> None:
        # Each turn is a new process, so new options simply apply from the next turn on.
        changes = self.checked_changes(options)
        self.host.options.update(changes)
