"""What the agent CLIs (Claude Code, Codex, Gemini, OpenCode) have in common.

- strict validation of anything an agent or a view hands us that ends up on a command line;
- CliAgent: the process an agent drives (started with the stored session to resume, stopped, its status) and the
  lines it prints (JSON lines to the agent's sans-I/O translator, stderr tail, lines cut at the reader's limit put
  back together), and what to do when the CLI no longer has the session it was asked to resume.

Finding a CLI and its version is in runner/agents/locate.py; the agents that run one process per turn (Codex,
Gemini, OpenCode) share runner/agents/turn.py. The normalized event kinds are documented in runner/EVENTS.md.
"""

from __future__ import annotations

import asyncio
import collections
import re
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import orjson

from runner.agents.base import Agent, AgentError, AgentHost, AgentInfo
from runner.agents.command import line_part
from runner.agents.locate import child_env, locate, npm_package_version, probe_version, untested_version_warning
from runner.agents.winshim import launch_argv
from runner.process import MAX_LINE_BYTES, AgentProcess, SpawnError

__all__ = ["AGENT_ID_RE", "MODEL_RE", "CliAgent", "Event", "check_model", "child_env", "valid_agent_id"]

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
    resume_gone_markers: ClassVar[tuple[str, ...]] = ()
    """What the CLI prints (stderr or error events) when the session to resume does not exist."""
    conversation: ClassVar[str] = "session"
    """What the CLI calls what it resumes, in messages to the user."""

    def __init__(self, host: AgentHost) -> None:
        super().__init__(host)
        self._proc: AgentProcess | None = None
        self._watch_task: asyncio.Task[None] | None = None
        """Waits for the process to exit and reports how it ended."""
        self._stopping = False
        """stop() is ending the process: its exit is no failure."""
        self._status: str | None = None
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

    @classmethod
    def check_permission_mode(cls, value: object) -> str | None:
        """Validate a `permission_mode` option (None or "" means the CLI's default)."""
        if value is None or value == "":
            return None
        if value not in cls.permission_modes:
            raise AgentError("bad_request", f"'permission_mode' must be one of {cls.permission_modes}")
        return str(value)

    def checked_changes(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """A `configure` request's options, validated: only those this agent has."""
        known = {"model", "permission_mode"} if self.permission_modes else {"model"}
        unknown = set(options) - known
        if unknown:
            raise AgentError("bad_request", f"the {self.name} agent has no option(s) {sorted(unknown)}")
        changes: dict[str, Any] = {}
        if "model" in options:
            changes["model"] = check_model(options.get("model"))
        if "permission_mode" in options:
            changes["permission_mode"] = self.check_permission_mode(options.get("permission_mode"))
        return changes

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.running

    # --- the process ----------------------------------------------------------------------------------------

    async def _spawn(
        self, build_argv: Callable[[str, str | None], list[str]], env: dict[str, str], stdin: bool = True
    ) -> tuple[AgentProcess, str | None] | None:
        """Start the CLI with build_argv(path, resume_id): the process and the session id it resumes, or None
        (the reason is journaled and the status set to error)."""
        path, reason = self.locate()
        if path is None:
            self.host.emit("error", code="agent_unavailable", message=reason or f"{self.executable} not found")
            self._set_status("error", reason="agent_unavailable")
            return None
        resume_id = self._resume_id()
        argv = launch_argv(build_argv(path, resume_id))
        self._stderr_tail.clear()
        self._partial.clear()
        self._stopping = False
        try:
            proc = await AgentProcess.spawn(
                argv, self.host.cwd, self, env=env, backpressure=self.host.backpressure, stdin=stdin
            )
        except SpawnError as exc:
            self.host.emit("error", code="spawn_failed", message=str(exc))
            self._set_status("error", reason="spawn_failed")
            return None
        self._proc = proc
        return proc, resume_id

    async def _terminate(self, **options: float) -> None:
        """Stop the process gracefully (AgentProcess.terminate with `options`) and wait until its exit is reported."""
        proc = self._proc
        if proc is None:
            return
        self._stopping = True
        await proc.terminate(**options)
        if self._watch_task is not None:
            await self._watch_task

    def _set_status(self, status: str, **fields: Any) -> None:
        if status == self._status and not fields:
            return
        self._status = status
        self.host.set_status(status, **fields)

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

    def _forget_lost_conversation(self, resume_id: str | None, said: str) -> bool:
        """After a process that was to resume `resume_id` failed: if what the CLI `said` shows it does not have
        that session (its files were removed, or HOME changed), forget the id and tell the user. Retrying would
        fail forever; the next message starts a new session. True if so."""
        if not resume_id or not any(marker in said for marker in self.resume_gone_markers):
            return False
        self.host.save_state(agent_session_id=None)
        self.host.emit(
            "error",
            code="resume_failed",
            message=f"{self.label} cannot resume {self.conversation} {resume_id}: it no longer exists. "
            f"Your next message starts a new {self.conversation}.",
        )
        return True

    # --- output lines ---------------------------------------------------------------------------------------

    def on_lines(self, stream: str, lines: list[str]) -> None:
        if stream == "stderr":
            self._stderr_tail.extend(lines)
            self.host.emit_lines("stderr", lines)
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

    @abstractmethod
    def _on_json_lines(self, objs: list[dict[str, Any]]) -> None:
        """Handle consecutive parsed JSON lines from stdout (those of one read, up to a line that is not JSON)."""

    def _after_lines(self) -> None:
        """Called after each batch of stdout lines (per read, not per line): state derived from many lines,
        such as the session's status, is computed here once."""

    def _emit_all(self, events: list[Event]) -> None:
        emit = self.host.emit
        for kind, fields in events:
            emit(kind, **fields)
            if kind == "agent_session":
                self.host.save_state(agent_session_id=fields["agent_session_id"])

    def _stderr_summary(self) -> str:
        return "\n".join(self._stderr_tail)
