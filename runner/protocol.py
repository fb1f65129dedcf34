"""Protocol v1 without I/O: request validation and frame building (see PROTOCOL.md).

Everything a client can send is checked here before it reaches a session, so the server only ever sees well-formed
requests, and every mistake becomes an `error` reply naming the field.
"""

from __future__ import annotations

import json
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
    },
    "attach": {**_SESSION, "after": ("int", False)},
    "detach": _SESSION,
    "send": {**_SESSION, "text": ("str", True), "client_msg_id": ("str", False)},
    "interrupt": _SESSION,
    "stop": _SESSION,
    "delete": _SESSION,
    "rename": {**_SESSION, "title": ("str", True)},
    "answer": {
        **_SESSION,
        "request_id": ("str", True),
        "behavior": ("str", True),
        "message": ("str", False),
    },
    "configure": {**_SESSION, "model": ("str", False), "permission_mode": ("str", False)},
}


def _check(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == "strlist":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "bool":
        return isinstance(value, bool)
    raise AssertionError(kind)


_KIND_NAMES = {
    "str": "a string",
    "int": "a non-negative integer",
    "strlist": "a list of strings",
    "bool": "true or false",
}


def parse_request(text: str) -> dict[str, Any]:
    """Parse and validate one frame from a view. Raises ProtocolError with `re` set when the frame had an id."""
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("bad_json", f"frame is not valid JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("bad_json", "frame must be a JSON object")
    re = msg.get("id")
    if re is not None and (isinstance(re, bool) or not isinstance(re, (str, int, float))):
        raise ProtocolError("bad_request", "'id' must be a string or a number")
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
