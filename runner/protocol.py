"""Protocol v1 without I/O: request validation and frame building (see PROTOCOL.md).

Everything a client can send is checked here, against the fields runner/vocabulary.py lists, before it reaches a
session, so the server only ever sees well-formed requests, and every mistake becomes an `error` reply naming the
field.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import re as _re
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Any

from runner.vocabulary import ANSWER_BEHAVIORS, REQUEST_FIELDS, ErrorCode, RequestError

MAX_INCOMING_FRAME = 4 * 1024 * 1024
BATCH_EVENTS = 500
BATCH_BYTES = 1024 * 1024


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
    """Parse and validate one frame from a view. Raises RequestError with `re` set when the frame had an id."""
    try:
        msg = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise RequestError(ErrorCode.BAD_JSON, f"frame is not valid JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise RequestError(ErrorCode.BAD_JSON, "frame must be a JSON object")
    re = msg.get("id")
    if re is not None and (isinstance(re, bool) or not isinstance(re, (str, int, float))):
        raise RequestError(ErrorCode.BAD_REQUEST, "'id' must be a string or a number")
    if _SURROGATE_ESCAPE.search(text):
        where = lone_surrogate_path(msg)
        if where is not None:
            # Never echo the bad id back: it is what could not be encoded.
            safe_re = None if lone_surrogate_path(re) else re
            raise RequestError(
                ErrorCode.BAD_REQUEST,
                f"'{where}' holds a lone UTF-16 surrogate, which is not valid Unicode text",
                safe_re,
            )
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise RequestError(ErrorCode.BAD_REQUEST, "'type' is missing or not a string", re)
    fields = REQUEST_FIELDS.get(kind)
    if fields is None:
        raise RequestError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}", re)
    for name, (ftype, required) in fields.items():
        if name not in msg or msg[name] is None:
            if required:
                raise RequestError(ErrorCode.BAD_REQUEST, f"'{kind}' needs '{name}'", re)
            msg.pop(name, None)
            continue
        if not _check(msg[name], ftype):
            raise RequestError(ErrorCode.BAD_REQUEST, f"'{name}' must be {_KIND_NAMES[ftype]}", re)
    if kind == "answer" and msg["behavior"] not in ANSWER_BEHAVIORS:
        raise RequestError(ErrorCode.BAD_REQUEST, "'behavior' must be 'allow' or 'deny'", re)
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
    return joined_events_frame(session_id, len(payloads), ",".join(payloads))


def joined_events_frame(session_id: str, count: int, joined: str) -> str:
    """events_frame() of `count` payloads already joined with commas (by SQLite, for a catch-up)."""
    sid = json.dumps(session_id)
    if count == 1:
        # '{"seq":...' -> '{"type":"event","session":ID,"seq":...'
        return '{"type":"event","session":' + sid + "," + joined[1:]
    return '{"type":"events","session":' + sid + ',"events":[' + joined + "]}"


def events_frames(session_id: str, events: list[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """(last seq, frame) for events as frames of at most BATCH_EVENTS events, each ending with the event that
    reaches BATCH_BYTES."""
    start = 0
    while start < len(events):
        chunk = events[start : start + BATCH_EVENTS]
        sizes = list(itertools.accumulate(map(len, map(itemgetter(1), chunk))))
        chunk = chunk[: bisect.bisect_left(sizes, BATCH_BYTES) + 1]
        start += len(chunk)
        yield chunk[-1][0], events_frame(session_id, chunk)
