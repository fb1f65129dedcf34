"""Protocol v1 without I/O: request validation and frame building (see PROTOCOL.md).

Everything a client can send is checked here before it reaches a session, so the server only ever sees well-formed
requests, and every mistake becomes an `error` reply naming the field.
"""

from __future__ import annotations

import json
import math
import re as _re
from collections.abc import Iterable
from typing import Any

PROTOCOL_VERSION = 1
MAX_INCOMING_FRAME = 4 * 1024 * 1024
BATCH_EVENTS = 500
BATCH_BYTES = 1024 * 1024


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, re: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.re = re

    def to_json(self) -> dict[str, Any]:
        reply: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.re is not None:
            reply["re"] = self.re
        return reply


# field name -> (type, required). Types: "str", "int" (non-negative, not bool), "strlist", "bool".
_SESSION = {"session": ("str", True)}
REQUESTS: dict[str, dict[str, tuple[str, bool]]] = {
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
    "list_dir": {"path": ("str", False)},
}


def _check(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63
    if kind == "strlist":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "strmap":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if kind == "objlist":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    raise AssertionError(kind)


_KIND_NAMES = {
    "str": "a string",
    "int": "a non-negative integer",
    "strlist": "a list of strings",
    "bool": "true or false",
    "strmap": "an object of strings",
    "objlist": "a list of objects",
}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


# A JSON escape of a UTF-16 surrogate: the only way a lone surrogate can get into a parsed frame (the frame itself
# arrived as valid UTF-8). Pairs are fine (json joins them); only frames with such an escape are searched deeply.
_SURROGATE_ESCAPE = _re.compile(r"\\u[dD][89a-fA-F]")


def lone_surrogate_path(value: Any, path: str = "") -> str | None:
    """The path of the first string (key or value) holding a lone surrogate, which UTF-8 cannot encode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "frame"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = lone_surrogate_path(key, path or "frame") or lone_surrogate_path(item, f"{path}.{key}" if path
                                                                                     else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate_path(item, f"{path}[{i}]")
            if found:
                return found
    return None


def scrub_surrogates(value: Any) -> Any:
    """`value` with lone surrogates replaced by U+FFFD (for records stored before the door check existed)."""
    if isinstance(value, str):
        if lone_surrogate_path(value) is None:
            return value
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    if isinstance(value, dict):
        return {scrub_surrogates(k): scrub_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_surrogates(v) for v in value]
    return value


def parse_request(text: str) -> dict[str, Any]:
    """Parse and validate one frame from a view. Raises ProtocolError with `re` set when the frame had an id."""
    try:
        msg = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("bad_json", f"frame is not valid JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("bad_json", "frame must be a JSON object")
    re = msg.get("id")
    if re is not None and (isinstance(re, bool) or not isinstance(re, (str, int, float))):
        raise ProtocolError("bad_request", "'id' must be a string or a number")
    if _SURROGATE_ESCAPE.search(text):
        where = lone_surrogate_path(msg)
        if where is not None:
            # Never echo the bad id back: it is what could not be encoded.
            safe_re = None if lone_surrogate_path(re) else re
            raise ProtocolError(
                "bad_request", f"'{where}' holds a lone UTF-16 surrogate, which is not valid Unicode text", safe_re
            )
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_request", "'type' is missing or not a string", re)
    fields = REQUESTS.get(kind)
    if fields is None:
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}", re)
    for name, (ftype, required) in fields.items():
        if name not in msg or msg[name] is None:
            if required:
                raise ProtocolError("bad_request", f"'{kind}' needs '{name}'", re)
            msg.pop(name, None)
            continue
        if not _check(msg[name], ftype):
            raise ProtocolError("bad_request", f"'{name}' must be {_KIND_NAMES[ftype]}", re)
    if kind == "answer" and msg["behavior"] not in ("allow", "deny"):
        raise ProtocolError("bad_request", "'behavior' must be 'allow' or 'deny'", re)
    return msg


def reply(message: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """Attach the request's id as `re`."""
    if "id" in request:
        message["re"] = request["id"]
    return message


def events_frame(session_id: str, events: Iterable[tuple[int, str]]) -> str:
    """One frame for committed events, given as (seq, payload JSON) pairs; a single event is an `event` frame.

    Payloads are spliced in as stored, so a backlog of thousands of events costs one string join, not a JSON
    round trip per event.
    """
    payloads = [p for _, p in events]
    sid = json.dumps(session_id)
    if len(payloads) == 1:
        # '{"seq":...' -> '{"type":"event","session":ID,"seq":...'
        return '{"type":"event","session":' + sid + "," + payloads[0][1:]
    return '{"type":"events","session":' + sid + ',"events":[' + ",".join(payloads) + "]}"
