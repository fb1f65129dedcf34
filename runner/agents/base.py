"""The interface between a session and the agent that does its work.

A Session (runner/sessions.py) owns one Agent. The agent owns at most one AgentProcess at a time, turns whatever
the CLI prints into normalized events (see runner/PROTOCOL.md, "Events") and reports state changes. Everything an
agent needs from its session goes through the small AgentHost interface, so agents can be tested with a plain
recording host and no journal or sockets.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from runner.blobs import Image
from runner.vocabulary import RequestError

AgentError = RequestError
"""A request the agent cannot carry out: the protocol's one error class, under the name the agents use."""


class AgentHost(Protocol):
    """What an agent can see and do of its session."""

    session_id: str
    cwd: str
    options: dict[str, Any]
    """Create-time options (argv, model, permission_mode, ...); updated by configure()."""
    state: dict[str, Any]
    """Agent-private state persisted with the session (for example the agent's own session id for resume)."""

    def emit(self, kind: str, **fields: Any) -> None:
        """Journal an event of the session (assigned the next seq)."""

    def emit_events(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Journal several (kind, fields) events, in order: the same as emit() for each, at less cost per event.
        The fields dicts become part of the journaled events (do not reuse them)."""

    def emit_lines(self, stream: str, lines: list[str]) -> None:
        """Journal an `output` event per line: emit_events() of ("output", {"stream": stream, "text": line})."""

    def store_image(self, image: Image) -> None:
        """Keep an image of a tool result (runner/blobs.py); call it before emitting the event that refers to it."""

    def set_status(self, status: str, **fields: Any) -> None:
        """Change the session's state; journals a `status` event and pushes the change to views."""

    def save_state(self, **values: Any) -> None:
        """Merge values into `state` and persist them."""

    async def backpressure(self) -> None:
        """Await this between reads of agent output: it returns at once unless the journal is far behind."""


@dataclass
class AgentInfo:
    """What `agents` reports for one agent type."""

    name: str
    label: str
    available: bool
    version: str | None = None
    path: str | None = None
    models: list[str] = field(default_factory=list)
    permission_modes: list[str] = field(default_factory=list)
    reason: str | None = None
    warning: str | None = None
    """Set when the installed version is outside the versions this adapter was tested with."""
    options: dict[str, list[str]] = field(default_factory=dict)
    """Further create-time options and their choices (Codex: {"approval": [...]})."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "available": self.available,
            "version": self.version,
            "path": self.path,
            "models": self.models,
            "permission_modes": self.permission_modes,
            "reason": self.reason,
            "warning": self.warning,
            "options": self.options,
        }


class Agent(ABC):
    """One session's agent. Subclasses are registered in runner/agents/__init__.py."""

    name: ClassVar[str]
    label: ClassVar[str]

    def __init__(self, host: AgentHost) -> None:
        self.host = host

    @classmethod
    def check_options(cls, request: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a `create` request and return the options to store. Raise AgentError('bad_request', ...)."""
        return {}

    @classmethod
    def detect(cls) -> AgentInfo:
        """Report whether this agent can run on this machine."""
        return AgentInfo(cls.name, cls.label, available=True)

    @property
    @abstractmethod
    def running(self) -> bool:
        """True while the agent has a live process."""

    def accepts_input(self) -> bool:
        """Whether `send` can deliver now (agents that start a process per turn always can)."""
        return True

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Called once when the session is created (the command agent starts its process here)."""

    @abstractmethod
    async def send(self, text: str) -> None:
        """Deliver user text. The session has already journaled the `user` event."""

    @abstractmethod
    async def interrupt(self) -> None:
        """Interrupt the current work with the agent's own mechanism."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop gracefully and reap the whole process group. Must be safe to call when not running."""

    async def answer(self, request_id: str, behavior: str, message: str | None, *,
                     answers: Mapping[str, str] | None = None,
                     updated_permissions: list[dict[str, Any]] | None = None) -> None:
        """Answer a pending permission request (agents that ask for permission override this). `answers` are the
        user's choices for a question the agent asked (Claude Code's AskUserQuestion); `updated_permissions` are
        rules to apply from now on (Claude Code's permission suggestions, "always allow")."""
        raise AgentError("unknown_request", f"this agent has no pending request {request_id!r}")

    async def configure(self, options: Mapping[str, Any]) -> None:
        """Change options between turns (model, permission mode)."""
        raise AgentError("bad_request", f"the {self.name} agent has no options to change")

    def resume_after_restart(self) -> None:  # noqa: B027 - optional hook
        """Called on a runner start for a session loaded from the journal (no process exists any more)."""

