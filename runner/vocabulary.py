"""The protocol's vocabulary, shared by the runner, the desktop and the tests (runner/PROTOCOL.md, runner/EVENTS.md).

Names only, no I/O and no Qt: the protocol version, the message types and their fields, the event kinds and their
fields, the session statuses, the error codes, and the one error class that carries a code. A name used on the wire
is spelled here once; a message's fields are the keys of its TypedDict, so `message_problems()` can check any frame
(and every example in the two documents, tests/runner/test_vocabulary.py) against the same lists the code uses.

No `from __future__ import annotations` here: on Python 3.11 it hides NotRequired from TypedDict.
"""

from collections.abc import Mapping
from typing import Any, Final, Literal, NotRequired, TypedDict

PROTOCOL_VERSION: Final = 1


# --- session statuses ------------------------------------------------------------------------------------------


class Status:
    IDLE: Final = "idle"
    RUNNING: Final = "running"
    NEEDS_APPROVAL: Final = "needs_approval"
    INTERRUPTED: Final = "interrupted"
    ERROR: Final = "error"
    EXITED: Final = "exited"


StatusName = Literal["idle", "running", "needs_approval", "interrupted", "error", "exited"]
STATUSES: Final = frozenset(
    {Status.IDLE, Status.RUNNING, Status.NEEDS_APPROVAL, Status.INTERRUPTED, Status.ERROR, Status.EXITED}
)
LIVE_STATUSES: Final = frozenset({Status.RUNNING, Status.NEEDS_APPROVAL})
"""A turn or process is under way: the agent is working (or waiting for a permission answer)."""


# --- error codes -------------------------------------------------------------------------------------------------


class ErrorCode:
    # Requests (PROTOCOL.md, "Requests and replies").
    BAD_JSON: Final = "bad_json"
    BAD_REQUEST: Final = "bad_request"
    UNKNOWN_TYPE: Final = "unknown_type"
    UNSUPPORTED_PROTOCOL: Final = "unsupported_protocol"
    UNKNOWN_SESSION: Final = "unknown_session"
    UNKNOWN_AGENT: Final = "unknown_agent"
    AGENT_UNAVAILABLE: Final = "agent_unavailable"
    NOT_RUNNING: Final = "not_running"
    UNKNOWN_REQUEST: Final = "unknown_request"
    BINARY_FRAME: Final = "binary_frame"
    NOT_SAVED: Final = "not_saved"
    INTERNAL: Final = "internal"
    # Worktrees (PROTOCOL.md, "Worktrees").
    NOT_A_REPOSITORY: Final = "not_a_repository"
    DETACHED_HEAD: Final = "detached_head"
    UNKNOWN_BRANCH: Final = "unknown_branch"
    NO_WORKTREE: Final = "no_worktree"
    WORKTREE_MISSING: Final = "worktree_missing"
    BUSY: Final = "busy"
    NOTHING_TO_COMMIT: Final = "nothing_to_commit"
    UNCOMMITTED_CHANGES: Final = "uncommitted_changes"
    BASE_NOT_CHECKED_OUT: Final = "base_not_checked_out"
    DIRTY_BASE: Final = "dirty_base"
    NOTHING_TO_MERGE: Final = "nothing_to_merge"
    NOT_FAST_FORWARD: Final = "not_fast_forward"
    MERGE_CONFLICT: Final = "merge_conflict"
    WOULD_LOSE_WORK: Final = "would_lose_work"
    GIT_UNAVAILABLE: Final = "git_unavailable"
    GIT_FAILED: Final = "git_failed"
    # Folders (PROTOCOL.md, "Browsing the runner's folders").
    NOT_FOUND: Final = "not_found"
    PERMISSION_DENIED: Final = "permission_denied"
    NOT_A_DIRECTORY: Final = "not_a_directory"
    BAD_PATH: Final = "bad_path"
    IO_ERROR: Final = "io_error"
    # `error` events only (EVENTS.md, `error`).
    SPAWN_FAILED: Final = "spawn_failed"
    AGENT_EXITED: Final = "agent_exited"
    AUTH_REQUIRED: Final = "auth_required"
    RATE_LIMITED: Final = "rate_limited"
    TURN_FAILED: Final = "turn_failed"
    AGENT_WARNING: Final = "agent_warning"
    BAD_AGENT_SESSION_ID: Final = "bad_agent_session_id"
    RESUME_FAILED: Final = "resume_failed"
    LINE_TOO_LONG: Final = "line_too_long"
    RUNNER_RESTARTED: Final = "runner_restarted"


ERROR_CODES: Final = frozenset(v for k, v in vars(ErrorCode).items() if k.isupper())


class RequestError(Exception):
    """A request that cannot be carried out, with a protocol error `code` (ErrorCode) and a `message` for people.

    The one error class of both sides: the runner's parts raise it (the server turns it into the `error` reply), and
    the desktop raises it when the runner answered a request with `error`. `re` is the request's id when known."""

    def __init__(self, code: str, message: str, re: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.re = re

    def to_frame(self, re: Any = None, **extra: Any) -> "ErrorReply":
        """The `error` frame saying this: the one place error frames are built. `re` (else self.re) is echoed."""
        frame: ErrorReply = {"type": "error", "code": self.code, "message": self.message, **extra}  # type: ignore[typeddict-item]
        re = self.re if re is None else re
        if re is not None:
            frame["re"] = re
        return frame

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> "RequestError":
        return cls(str(frame.get("code")), str(frame.get("message")), frame.get("re"))


# --- requests (views -> runner) -------------------------------------------------------------------------------

FieldKind = Literal["str", "int", "strlist", "bool", "strmap", "objlist"]
"""How a request field is checked: "int" is non-negative and not a bool; "strmap" an object of strings."""

_SESSION: dict[str, tuple[FieldKind, bool]] = {"session": ("str", True)}
REQUEST_FIELDS: Final[dict[str, dict[str, tuple[FieldKind, bool]]]] = {
    # type -> field -> (kind, required). Every request may also carry "id".
    "hello": {"protocol": ("int", False), "client": ("str", False)},
    "list": {},
    "agents": {},
    "ping": {},
    "get": _SESSION,
    "create": {
        "agent": ("str", False),
        "argv": ("strlist", False),
        "cwd": ("str", False),
        "title": ("str", False),
        "model": ("str", False),
        "permission_mode": ("str", False),
        "worktree": ("bool", False),
        "base": ("str", False),
    },
    "attach": {**_SESSION, "after": ("int", False)},
    "detach": _SESSION,
    "send": {**_SESSION, "text": ("str", True), "client_msg_id": ("str", False)},
    "interrupt": _SESSION,
    "stop": _SESSION,
    "delete": {**_SESSION, "discard_worktree": ("bool", False)},
    "changes": _SESSION,
    "commit": {**_SESSION, "message": ("str", True)},
    "merge": {**_SESSION, "fast_forward_only": ("bool", False)},
    "discard": {**_SESSION, "force": ("bool", False)},
    "rename": {**_SESSION, "title": ("str", True)},
    "answer": {
        **_SESSION,
        "request_id": ("str", True),
        "behavior": ("str", True),
        "message": ("str", False),
        "answers": ("strmap", False),
        "updated_permissions": ("objlist", False),
    },
    "configure": {**_SESSION, "model": ("str", False), "permission_mode": ("str", False)},
    "resize": {**_SESSION, "cols": ("int", True), "rows": ("int", True)},
    "search": {**_SESSION, "query": ("str", True), "limit": ("int", False), "before_seq": ("int", False)},
    "list_dir": {"path": ("str", False)},
    "get_blob": {"blob": ("str", True)},
}
ANSWER_BEHAVIORS: Final = ("allow", "deny")
"""What a view may answer; a `permission_answer` event may also say "cancelled" (the agent withdrew the request)."""


# --- shapes inside messages -------------------------------------------------------------------------------------


class WorktreeInfo(TypedDict):
    branch: str
    base: str
    path: str
    repo: str
    changed_files: int | None


class SessionInfo(TypedDict):
    """A session as views see it (`list`, `get`, `created`, `session_changed`)."""

    id: str
    title: str
    agent: str
    status: StatusName
    reason: str | None
    """The reason given with the newest status change (`agent_exited`, `spawn_failed`, `runner_restarted`, ...)."""
    head: int
    """The seq of the newest committed event (0 for none)."""
    cwd: str
    created_at: float
    updated_at: float
    exit_code: int | None
    options: dict[str, Any]
    pending_permissions: int
    turn_ended: int | None
    """The seq of the newest status event that ended a turn or process (from running/needs_approval), or None."""
    argv: NotRequired[list[str]]
    worktree: NotRequired[WorktreeInfo]


class AgentInfo(TypedDict):
    name: str
    label: str
    available: bool
    version: str | None
    path: str | None
    models: list[str]
    permission_modes: list[str]
    options: dict[str, list[str]]
    reason: str | None
    warning: str | None


class ChangedFile(TypedDict):
    path: str
    status: Literal["added", "modified", "deleted", "renamed", "copied"]
    added: int
    removed: int
    diff: str
    old_path: NotRequired[str]


# --- events (EVENTS.md) ------------------------------------------------------------------------------------------


class Kind:
    USER: Final = "user"
    ASSISTANT: Final = "assistant"
    THINKING: Final = "thinking"
    TOOL_CALL: Final = "tool_call"
    TOOL_RESULT: Final = "tool_result"
    TURN_END: Final = "turn_end"
    AGENT_SESSION: Final = "agent_session"
    PERMISSION_REQUEST: Final = "permission_request"
    PERMISSION_ANSWER: Final = "permission_answer"
    STATUS: Final = "status"
    OUTPUT: Final = "output"
    ERROR: Final = "error"
    WORKTREE: Final = "worktree"


class _Event(TypedDict):
    seq: int
    ts: float
    kind: str
    parent_tool_id: NotRequired[str]


class UserEvent(_Event):
    text: str
    client_msg_id: NotRequired[str]


class AssistantEvent(_Event):
    text: str
    message_id: str


class ThinkingEvent(AssistantEvent):
    pass


class ToolCallEvent(_Event):
    tool_id: str
    name: str
    input: Any


class PatchHunk(TypedDict):
    old_start: int
    old_lines: int
    new_start: int
    new_lines: int
    lines: list[str]
class ImageRef(TypedDict):
    """An image of a tool result, stored once by the runner (runner/blobs.py); its bytes come with `get_blob`."""

    blob: str
    media_type: str
    bytes: int
    width: NotRequired[int]
    height: NotRequired[int]


class ToolResultEvent(_Event):
    tool_id: str
    output: str
    is_error: bool
    exit_code: NotRequired[int | None]
    patch: NotRequired[list[PatchHunk]]
    images: NotRequired[list[ImageRef]]


class TurnEndEvent(_Event):
    status: Literal["success", "error", "interrupted"]
    reason: NotRequired[str | None]
    message: NotRequired[str | None]
    usage: NotRequired[dict[str, Any] | None]
    cost_usd: NotRequired[float | None]
    total_cost_usd: NotRequired[float | None]
    duration_ms: NotRequired[float | None]
    num_turns: NotRequired[int | None]
    exit_code: NotRequired[int | None]


class AgentSessionEvent(_Event):
    agent_session_id: str
    model: NotRequired[str | None]
    permission_mode: NotRequired[str | None]
    cwd: NotRequired[str | None]


class PermissionRequestEvent(_Event):
    request_id: str
    tool_name: str
    input: Any
    tool_id: NotRequired[str | None]
    description: NotRequired[str | None]
    blocked_path: NotRequired[str | None]
    suggestions: NotRequired[list[dict[str, Any]] | None]


class PermissionAnswerEvent(_Event):
    request_id: str
    behavior: Literal["allow", "deny", "cancelled"]
    message: NotRequired[str | None]
    answers: NotRequired[dict[str, str] | None]
    updated_permissions: NotRequired[list[dict[str, Any]] | None]


class StatusEvent(_Event):
    status: StatusName
    exit_code: NotRequired[int | None]
    reason: NotRequired[str | None]
    pid: NotRequired[int]
    """The process that started (on the runner's machine), with `running` when an agent's process starts."""


class OutputEvent(_Event):
    stream: Literal["stdout", "stderr"]
    text: str
    part: NotRequired[int]
    truncated: NotRequired[bool]


class ErrorEvent(_Event):
    message: str
    code: NotRequired[str]
    severity: NotRequired[str]
    exit_code: NotRequired[int | None]


class WorktreeEvent(_Event):
    action: Literal["commit", "merge", "discard"]
    commit: NotRequired[str]
    message: NotRequired[str]
    base: NotRequired[str]
    fast_forward: NotRequired[bool]
    branch: NotRequired[str]


EVENTS: Final[dict[str, type]] = {
    Kind.USER: UserEvent,
    Kind.ASSISTANT: AssistantEvent,
    Kind.THINKING: ThinkingEvent,
    Kind.TOOL_CALL: ToolCallEvent,
    Kind.TOOL_RESULT: ToolResultEvent,
    Kind.TURN_END: TurnEndEvent,
    Kind.AGENT_SESSION: AgentSessionEvent,
    Kind.PERMISSION_REQUEST: PermissionRequestEvent,
    Kind.PERMISSION_ANSWER: PermissionAnswerEvent,
    Kind.STATUS: StatusEvent,
    Kind.OUTPUT: OutputEvent,
    Kind.ERROR: ErrorEvent,
    Kind.WORKTREE: WorktreeEvent,
}
"""Kind -> its TypedDict. Views must ignore kinds and fields they do not know (later runners may add some)."""
EVENT_ENVELOPE: Final = frozenset(_Event.__required_keys__ | _Event.__optional_keys__)


# --- replies and pushes (runner -> views) -----------------------------------------------------------------------


class _Reply(TypedDict):
    type: str
    re: NotRequired[str | int | float]
    """The id of the request this answers."""


class ErrorReply(_Reply):
    code: str
    message: str
    session: NotRequired[str]
    """Set when a session's attachment failed (the connection then closes with 1011)."""


class Welcome(_Reply):
    protocol: int
    runner: str
    runner_id: str


class Sessions(_Reply):
    sessions: list[SessionInfo]


class SessionReply(_Reply):
    session: SessionInfo


class Agents(_Reply):
    agents: list[AgentInfo]


class Attached(_Reply):
    session: str
    head: int
    """The session's newest committed seq when the attach was served."""


class SessionIdReply(_Reply):
    session: str


class Sent(_Reply):
    session: str
    client_msg_id: str | None
    duplicate: bool


class Changes(_Reply):
    session: str
    branch: str
    base: str
    files: list[ChangedFile]
    uncommitted: int
    commits: int
    truncated: bool


class Committed(_Reply):
    session: str
    commit: str


class Merged(_Reply):
    session: str
    commit: str
    fast_forward: bool


class EventFrame(_Reply):
    """One event: the envelope's fields and the kind's, beside `type` and `session`."""

    session: str


class EventsFrame(_Reply):
    session: str
    events: list[dict[str, Any]]


class Heads(_Reply):
    heads: dict[str, int]
    """New committed heads of sessions that grew (at most twice a second): what views are told of a session's size."""


class JournalErrorPush(_Reply):
    message: str
    ok: NotRequired[bool]
    """True when the journal recovered (then `message` is empty)."""


class SearchMatch(TypedDict):
    seq: int
    kind: str
    snippet: str
    start: int
    end: int


class SearchResults(_Reply):
    session: str
    query: str
    matches: list[SearchMatch]
    complete: bool
    next_before: NotRequired[int | None]


class DirEntry(TypedDict):
    name: str
    is_dir: bool
    hidden: bool
    is_link: NotRequired[bool]
    undecodable: NotRequired[bool]


class Dir(_Reply):
    path: str
    parent: str | None
    home: str | None
    sep: str
    truncated: bool
    total: int
    entries: list[DirEntry]


class Blob(_Reply):
    blob: str
    media_type: str
    bytes: int
    data: str
    """The bytes, base64-encoded."""


REPLIES: Final[dict[str, type]] = {
    "error": ErrorReply,
    "welcome": Welcome,
    "pong": _Reply,
    "ok": _Reply,
    "sessions": Sessions,
    "session": SessionReply,
    "created": SessionReply,
    "agents": Agents,
    "attached": Attached,
    "detached": SessionIdReply,
    "sent": Sent,
    "changes": Changes,
    "committed": Committed,
    "merged": Merged,
    "search_results": SearchResults,
    "dir": Dir,
    "blob": Blob,
    "event": EventFrame,
    "events": EventsFrame,
    # Pushed to every view, unasked:
    "session_changed": SessionReply,
    "session_deleted": SessionIdReply,
    "heads": Heads,
    "journal_error": JournalErrorPush,
}
"""Type -> TypedDict of everything the runner sends."""


class MessageType:
    """The names of every message type (the keys of REQUEST_FIELDS and REPLIES)."""

    HELLO: Final = "hello"
    WELCOME: Final = "welcome"
    ERROR: Final = "error"
    EVENT: Final = "event"
    EVENTS: Final = "events"
    ATTACHED: Final = "attached"
    SESSION_CHANGED: Final = "session_changed"
    SESSION_DELETED: Final = "session_deleted"
    HEADS: Final = "heads"
    JOURNAL_ERROR: Final = "journal_error"


# --- checking a message against the vocabulary ----------------------------------------------------------------

ELIDED: Final = "..."
"""The key documents use for "and the other fields" in an example."""


def _keys(shape: type) -> tuple[frozenset[str], frozenset[str]]:
    required: frozenset[str] = shape.__required_keys__  # type: ignore[attr-defined]
    optional: frozenset[str] = shape.__optional_keys__  # type: ignore[attr-defined]
    return required, optional


def _check_fields(value: Any, shape: type, where: str, problems: list[str], extra: frozenset[str] = frozenset()
                  ) -> None:
    if not isinstance(value, Mapping):
        problems.append(f"{where}: not an object")
        return
    required, optional = _keys(shape)
    elided = ELIDED in value
    for name in sorted(set(value) - required - optional - extra - {ELIDED}):
        problems.append(f"{where}: unknown field {name!r}")
    if not elided:
        for name in sorted(required - set(value)):
            problems.append(f"{where}: missing field {name!r}")


def _check_session(value: Any, where: str, problems: list[str]) -> None:
    _check_fields(value, SessionInfo, where, problems)
    if isinstance(value, Mapping):
        if "status" in value and value["status"] not in STATUSES:
            problems.append(f"{where}: unknown status {value['status']!r}")
        if isinstance(value.get("worktree"), Mapping):
            _check_fields(value["worktree"], WorktreeInfo, f"{where}.worktree", problems)


def _check_event(event: Any, where: str, problems: list[str], envelope: frozenset[str] = frozenset()) -> None:
    if not isinstance(event, Mapping):
        problems.append(f"{where}: not an object")
        return
    shape = EVENTS.get(event.get("kind"))  # type: ignore[arg-type]
    if shape is None:
        problems.append(f"{where}: unknown event kind {event.get('kind')!r}")
        return
    _check_fields(event, shape, f"{where} ({event['kind']})", problems, envelope)
    if event["kind"] == Kind.STATUS and event.get("status") not in STATUSES:
        problems.append(f"{where}: unknown status {event.get('status')!r}")
    if event["kind"] == Kind.ERROR and "code" in event and event["code"] not in ERROR_CODES:
        problems.append(f"{where}: unknown error code {event['code']!r}")


def request_problems(message: Mapping[str, Any]) -> list[str]:
    """What is wrong with `message` as a request (unknown type, unknown or missing fields); [] when nothing."""
    kind = message.get("type")
    fields = REQUEST_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        return [f"unknown request type {kind!r}"]
    problems = [f"{kind}: unknown field {name!r}" for name in sorted(set(message) - set(fields) - {"type", "id"})]
    problems += [f"{kind}: missing field {name!r}" for name, (_, required) in fields.items()
                 if required and name not in message]
    return problems


def reply_problems(message: Mapping[str, Any]) -> list[str]:
    """What is wrong with `message` as something the runner sends; [] when nothing."""
    kind = message.get("type")
    shape = REPLIES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        return [f"unknown message type {kind!r}"]
    problems: list[str] = []
    if kind == MessageType.EVENT:
        _check_event(message, "event", problems, frozenset({"type", "session"}))
        return problems
    _check_fields(message, shape, str(kind), problems)
    if kind == MessageType.ERROR and message.get("code") not in ERROR_CODES:
        problems.append(f"error: unknown error code {message.get('code')!r}")
    if kind == MessageType.EVENTS:
        for i, event in enumerate(message.get("events") or []):
            _check_event(event, f"events[{i}]", problems)
    if isinstance(message.get("session"), Mapping):
        _check_session(message["session"], f"{kind}.session", problems)
    for i, session in enumerate(message.get("sessions") or []):
        _check_session(session, f"{kind}.sessions[{i}]", problems)
    for i, agent in enumerate(message.get("agents") or []):
        _check_fields(agent, AgentInfo, f"{kind}.agents[{i}]", problems)
    for i, changed in enumerate(message.get("files") or []):
        _check_fields(changed, ChangedFile, f"{kind}.files[{i}]", problems)
    return problems


def message_problems(message: Mapping[str, Any]) -> list[str]:
    """What is wrong with `message` as either a request or something the runner sends ("agents" and "changes" are
    both); [] when it is a well-formed message of the protocol."""
    as_request = request_problems(message)
    if not as_request:
        return []
    as_reply = reply_problems(message)
    if not as_reply:
        return []
    if message.get("type") in REQUEST_FIELDS and message.get("type") not in REPLIES:
        return as_request
    return as_reply
