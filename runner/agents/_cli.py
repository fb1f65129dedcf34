"""What the agent CLIs (Claude Code, Codex, Gemini, OpenCode) have in common.

- strict validation of anything an agent or a view hands us that ends up on a command line;
- CliAgent: line handling shared by every CLI agent (JSON lines to a sans-I/O translator, stderr tail,
  lines cut at the reader's limit put back together);
- TurnCliAgent: agents that run one process per turn (Codex, Gemini, OpenCode).

Finding a CLI, its version and its environment is in runner/agents/locate.py. The normalized event kinds are
documented in runner/EVENTS.md.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
import signal
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from runner.agents.base import Agent, AgentError, AgentHost, AgentInfo
from runner.agents.command import line_part
from runner.agents.errors import AUTH_REQUIRED, classify, explain
from runner.agents.locate import child_env, locate, npm_package_version, probe_version, untested_version_warning
from runner.agents.winshim import launch_argv
from runner.process import MAX_LINE_BYTES, AgentProcess, SpawnError

Event = tuple[str, dict[str, Any]]
"""One normalized event: (kind, fields), journaled with host.emit(kind, **fields)."""

# Ids the CLIs hand out (UUIDs, "ses_...", thread ids). Starting with an alphanumeric means an id can never
# be read as a flag, and the character set excludes whitespace, quotes and path separators.
AGENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
# Model names: "sonnet", "claude-opus-4-1[1m]", "openai/gpt-5", "gemini-2.5-pro", "anthropic/claude@latest".
MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@\[\]-]{0,127}$")
STDERR_TAIL_LINES = 40
# A JSON line longer than the reader's per-line limit arrives in parts; up to this many parts are joined (64 MiB).
MAX_JOINED_LINE_PARTS = 4


def valid_agent_id(value: object) -> bool:
    return isinstance(value, str) and AGENT_ID_RE.match(value) is not None


def check_model(value: object) -> str | None:
    """Validate a `model` option (None or "" means the CLI's default)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not MODEL_RE.match(value):
        raise AgentError("bad_request", "'model' must be a model name (letters, digits and ._:/@[]-)")
    return value


# --- agents -------------------------------------------------------------------------------------------------


class CliAgent(Agent):
    """Base of the agents that drive a JSON-lines CLI."""

    executable: ClassVar[str]
    env_var: ClassVar[str]
    models: ClassVar[list[str]] = []
    permission_modes: ClassVar[list[str]] = []
    npm_package: ClassVar[str] = ""
    """The npm package the CLI comes in, if any (its version is then read from its package.json)."""
    tested_versions: ClassVar[tuple[str, str] | None] = None
    """(oldest, newest) CLI versions this adapter was tested with end to end; others get a warning in `agents`."""
    login_hint: ClassVar[str] = ""
    """What to do when the CLI is not signed in or its key is refused (shown with auth_required errors)."""

    def __init__(self, host: AgentHost) -> None:
        super().__init__(host)
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._partial: list[str] = []

    @classmethod
    def locate(cls) -> tuple[str | None, str | None]:
        return locate(cls.executable, cls.env_var)

    @classmethod
    def detect(cls) -> AgentInfo:
        path, reason = cls.locate()
        if path is None:
            return AgentInfo(
                cls.name,
                cls.label,
                available=False,
                reason=reason,
                models=list(cls.models),
                permission_modes=list(cls.permission_modes),
            )
        version = npm_package_version(path, cls.npm_package) if cls.npm_package else None
        error = None
        if version is None:
            version, error = probe_version(path)
        return AgentInfo(
            cls.name,
            cls.label,
            available=error is None,
            version=version,
            path=path,
            reason=error,
            models=list(cls.models),
            permission_modes=list(cls.permission_modes),
            warning=untested_version_warning(cls.label, version, cls.tested_versions),
        )

    # --- output lines ---------------------------------------------------------------------------------------

    def on_lines(self, stream: str, lines: list[str]) -> None:
        if stream == "stderr":
            self._stderr_tail.extend(lines)
            self.host.emit_events([("output", {"stream": "stderr", "text": text}) for text in lines])
            return
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        run: list[dict[str, Any]] = []  # consecutive JSON lines, handled together
        for text in lines:
            if text[:1] == "{":  # the CLIs' lines: skip strip() and its copy
                try:
                    obj = loads(text)
                except decode_error:
                    obj = None
            else:
                stripped = text.strip()
                if not stripped:
                    continue
                obj = None
                if stripped[0] == "{":
                    try:
                        obj = loads(stripped)
                    except decode_error:
                        pass
            if type(obj) is dict:
                run.append(obj)
                continue
            # Not one of the CLI's JSON lines (a warning printed to stdout, say): keep it as plain output, in order.
            if run:
                self._on_json_lines(run)
                run = []
            self.host.emit("output", stream="stdout", text=text)
        if run:
            self._on_json_lines(run)
        self._after_lines()

    def on_part(self, stream: str, text: str, index: int, last: bool) -> None:
        if stream == "stderr":
            self._stderr_tail.append(text)
            self.host.emit("output", **line_part("stderr", text, index, last))
            return
        # A JSON line longer than the reader's limit: join its parts (bounded) and parse the whole.
        if index == 0:
            self._partial.clear()
        if index < MAX_JOINED_LINE_PARTS:
            self._partial.append(text)
        if not last:
            return
        parts, self._partial = self._partial, []
        if index >= MAX_JOINED_LINE_PARTS:
            self.host.emit(
                "error",
                code="line_too_long",
                message=f"the agent printed a line over {MAX_JOINED_LINE_PARTS * MAX_LINE_BYTES} bytes; skipped",
            )
            return
        self.on_lines("stdout", ["".join(parts)])

    def _after_lines(self) -> None:
        """Called after each batch of stdout lines (per read, not per line): state derived from many lines,
        such as the session's status, is computed here once."""

    @abstractmethod
    def _on_json(self, obj: dict[str, Any]) -> None:
        """Handle one parsed JSON line from stdout."""

    def _on_json_lines(self, objs: list[dict[str, Any]]) -> None:
        """Handle consecutive parsed JSON lines from stdout (agents with a hot path override this)."""
        for obj in objs:
            self._on_json(obj)

    def _emit_all(self, events: list[Event]) -> None:
        emit = self.host.emit
        for kind, fields in events:
            emit(kind, **fields)
            if kind == "agent_session":
                self.host.save_state(agent_session_id=fields["agent_session_id"])

    def _stderr_summary(self) -> str:
        return "\n".join(self._stderr_tail)

    def _resume_id(self) -> str | None:
        """The stored agent session id, if it is safe to put on a command line."""
        sid = self.host.state.get("agent_session_id")
        if sid is None:
            return None
        if not valid_agent_id(sid):
            self.host.emit(
                "error",
                code="bad_agent_session_id",
                message=f"not resuming: stored agent session id {str(sid)[:80]!r} is not a valid id",
            )
            return None
        return str(sid)


class TurnTranslator:
    """Base of the per-turn translators: one instance per turn (process)."""

    def __init__(self, known_session_id: str | None = None) -> None:
        self.session_id = known_session_id
        self.turn_ended = False
        self.failed = False

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

    def __init__(self, host: AgentHost) -> None:
        super().__init__(host)
        self._proc: AgentProcess | None = None
        self._translator: TurnTranslator | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._queue: collections.deque[str] = collections.deque()
        self._turn_errors: list[str] = []
        self._interrupted = False
        self._stopping = False

    @classmethod
    def check_options(cls, request: Mapping[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {"model": check_model(request.get("model"))}
        if cls.permission_modes:
            options["permission_mode"] = cls.check_permission_mode(request.get("permission_mode"))
        return options

    @classmethod
    def check_permission_mode(cls, value: object) -> str | None:
        """Validate a `permission_mode` option (None or "" means the CLI's default)."""
        if value is None or value == "":
            return None
        if value not in cls.permission_modes:
            raise AgentError("bad_request", f"'permission_mode' must be one of {cls.permission_modes}")
        return str(value)

    interrupt_signal: ClassVar[int] = signal.SIGINT
    """What interrupt sends to the turn's process group."""

    @abstractmethod
    def make_translator(self, known_session_id: str | None) -> TurnTranslator: ...

    prompt_on_stdin: ClassVar[bool] = False
    """True if build_argv asks the CLI to read the prompt from stdin (no size limit, nothing on the command line);
    the prompt is then written to stdin, which is closed after it."""

    resume_gone_markers: ClassVar[tuple[str, ...]] = ()
    """What the CLI prints (stderr or error events) when the session to resume does not exist."""

    @abstractmethod
    def build_argv(self, executable: str, prompt: str, resume_id: str | None) -> list[str]:
        """The command line for one turn. The prompt is one argv element; never a shell string."""

    def extra_env(self) -> dict[str, str]:
        """Variables this CLI needs on top of the runner's environment."""
        return {}

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.running

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
        path, reason = self.locate()
        if path is None:
            self.host.emit(
                "error", code="agent_unavailable", message=reason or f"{self.executable} not found"
            )
            self.host.set_status("error", reason="agent_unavailable")
            return
        resume_id = self._resume_id()
        argv = launch_argv(self.build_argv(path, text, resume_id))
        self._stderr_tail.clear()
        self._partial.clear()
        self._interrupted = False
        self._stopping = False
        self._turn_errors = []
        translator = self.make_translator(resume_id)
        self._translator = translator
        try:
            proc = await AgentProcess.spawn(
                argv,
                self.host.cwd,
                self,
                env=child_env(self.extra_env()),
                backpressure=self.host.backpressure,
                stdin=self.prompt_on_stdin,
            )
        except SpawnError as exc:
            self.host.emit("error", code="spawn_failed", message=str(exc))
            self.host.set_status("error", reason="spawn_failed")
            return
        self._proc = proc
        self.host.set_status("running", pid=proc.pid)
        if self.prompt_on_stdin:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await proc.write(text.encode("utf-8"))
            proc.close_stdin()
        self._watch_task = asyncio.create_task(self._watch(proc, translator, resume_id))

    def _on_json(self, obj: dict[str, Any]) -> None:
        if self._translator is None:
            return
        events = self._translator.feed(obj)
        self._turn_errors += [str(f.get("message", "")) for k, f in events if k == "error"]
        self._emit_all(events)

    def _resume_lost(self, stderr_tail: str) -> bool:
        text = stderr_tail + "\n" + "\n".join(self._turn_errors)
        return any(marker in text for marker in self.resume_gone_markers)

    auth_exit_codes: ClassVar[tuple[int, ...]] = ()
    """Exit codes by which the CLI says it has no usable credentials."""

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
            self.host.set_status("idle", reason="stopped", exit_code=code)
            return
        problem = None
        if not self._interrupted and (code != 0 or translator.failed):
            problem = self._explain_failure(code)
        if self._interrupted:
            self.host.set_status("idle", reason="interrupted", exit_code=code)
        elif code != 0:
            tail = self._stderr_summary()
            if resume_id and problem is None and self._resume_lost(tail):
                # The CLI no longer has that session: retrying would fail forever. Forget the id, so the next
                # message starts a new session, and say so.
                self.host.save_state(agent_session_id=None)
                self.host.emit(
                    "error",
                    code="resume_failed",
                    message=f"{self.label} cannot resume session {resume_id}: it no longer exists. "
                    "Your next message starts a new session.",
                )
            message = f"{self.label} exited with code {code}"
            if tail and problem is None:  # an explained failure needs no raw stderr (it is in the output anyway)
                message += f"\n{tail}"
            self.host.emit("error", code="agent_exited", message=message, exit_code=code)
            self.host.set_status("error", reason=problem or "agent_exited", exit_code=code)
        elif problem is not None:
            self.host.set_status("idle", reason=problem, exit_code=code)
        else:
            self.host.set_status("idle", exit_code=code)
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
        proc = self._proc
        if proc is None:
            return
        self._stopping = True
        await proc.terminate()
        if self._watch_task is not None:
            await self._watch_task

    async def configure(self, options: Mapping[str, Any]) -> None:
        # Each turn is a new process, so new options simply apply from the next turn on.
        known = {"model", "permission_mode"} if self.permission_modes else {"model"}
        unknown = set(options) - known
        if unknown:
            raise AgentError("bad_request", f"the {self.name} agent has no option(s) {sorted(unknown)}")
        changes: dict[str, Any] = {}
        if "model" in options:
            changes["model"] = check_model(options.get("model"))
        if "permission_mode" in options:
            changes["permission_mode"] = self.check_permission_mode(options.get("permission_mode"))
        self.host.options.update(changes)
