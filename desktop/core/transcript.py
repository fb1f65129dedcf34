"""Turning a session's events into transcript rows, without Qt.

One row per thing a reader sees: a user message, one assistant message (its streamed deltas merged), one
tool call with its result, a permission prompt with its answer, one output line, an error, a notable status
change. Events that say nothing to a reader (agent_session, routine running/idle flips of an agent) get no
row. Unknown kinds get a generic row, never an exception.

`prepare()` works out a batch (changes to existing rows and the new rows) without touching the row list, so
the Qt model can announce the insertion before `commit()` appends.

Rows live in a `RowStore`: the rows a view shows are Python objects; older ones are packed in compressed chunks
(a session of a million events would otherwise hold a million objects) and unpacked when asked for.
"""

from __future__ import annotations

import json
import marshal
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from desktop.core.plan import Plan, is_plan_tool
from desktop.core.questions import is_question, question_summary
from desktop.core.terminal import carried_sgr, shown_text
from desktop.core.totals import Totals, usage_tokens


class RowKind(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    THINKING = "thinking"
    TOOL = "tool"
    PERMISSION = "permission"
    OUTPUT = "output"
    ERROR = "error"
    STATUS = "status"
    TURN_END = "turn_end"
    GENERIC = "generic"
    PENDING = "pending"  # an outbox item, not (yet) an event
    HEADER = "header"  # the first row of the Qt model (start of transcript / show earlier)
    IMAGE = "image"  # the images of a tool result (their bytes are fetched from the runner by blob id)


@dataclass(slots=True, eq=False)
class Row:
    kind: RowKind
    seq: int
    ts: float = 0.0
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    index: int = -1
    """Position in Transcript.rows once committed (-1 before)."""
    version: int = 0
    """Bumped on every change, so caches keyed by it (a view's laid-out height) know when to recompute."""

    def touch(self) -> None:
        self.version += 1

    def packed(self) -> tuple[str, int, float, str, dict[str, Any]]:
        return (self.kind.value, self.seq, self.ts, self.text, self.data)

    def copy_text(self) -> str:
        """What Copy puts on the clipboard for this row."""
        if self.kind is RowKind.TOOL:
            parts = [f"{self.data.get('name') or 'tool'}: {self.text}"]
            if self.data.get("input") is not None:
                parts.append("input:\n" + format_value(self.data.get("input")))
            if self.data.get("output") is not None:
                parts.append("output:\n" + format_value(self.data.get("output")))
            return "\n".join(parts)
        if self.kind is RowKind.PERMISSION:
            answer = self.data.get("behavior")
            tail = f" ({answer})" if answer else ""
            body = format_value(self.data.get("input"))
            return f"Permission request: {self.data.get('tool_name')}{tail}\n{body}"
        if self.kind is RowKind.OUTPUT:
            return shown_text(self.text)  # a terminal's text as it shows it, without escape codes
        return self.text


_BLOB_ID = re.compile(r"^[0-9a-f]{64}$")


def image_refs(value: Any) -> list[dict[str, Any]]:
    """The well-formed image references of a tool_result's `images` (EVENTS.md, "Images"); others are skipped."""
    if not isinstance(value, list):
        return []
    refs = []
    for ref in value:
        if not isinstance(ref, dict) or not isinstance(ref.get("blob"), str) or not _BLOB_ID.match(ref["blob"]):
            continue
        clean: dict[str, Any] = {"blob": ref["blob"], "media_type": str(ref.get("media_type") or "image"),
                                 "bytes": ref.get("bytes") if isinstance(ref.get("bytes"), int) else 0}
        if all(isinstance(ref.get(k), int) and not isinstance(ref.get(k), bool) and ref[k] > 0
               for k in ("width", "height")):
            clean.update(width=ref["width"], height=ref["height"])
        refs.append(clean)
    return refs


def image_captions(refs: list[dict[str, Any]]) -> str:
    """The text of an image row (Copy, find): one line per image, as `[image: PNG 640x480, 12 KB]`."""
    lines = []
    for ref in refs:
        kind = str(ref["media_type"]).removeprefix("image/").upper().replace("JPEG", "JPG")
        dims = f" {ref['width']}x{ref['height']}" if "width" in ref else ""
        size = ref["bytes"]
        size_text = f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{max(1, round(size / 1024))} KB"
        lines.append(f"[image: {kind}{dims}, {size_text}]")
    return "\n".join(lines)


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, dict) and v.get("type") == "text" for v in value):
        # Tool results in content-block form: show the text.
        return "\n".join(str(v.get("text", "")) for v in value)
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        return repr(value)


def summarize_tool_input(name: str, value: Any, limit: int = 160) -> str:
    """A one-line description of a tool call for its collapsed row."""
    text = ""
    if isinstance(value, dict):
        for key in ("command", "file_path", "path", "pattern", "url", "query", "description", "prompt"):
            if isinstance(value.get(key), str) and value[key]:
                text = value[key]
                break
        else:
            text = json.dumps(value, ensure_ascii=False)
    elif value is not None:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_STATUS_TEXT = {
    "exited": "Exited",
    "error": "Failed",
    "interrupted": "Interrupted",
}


CHUNK = 256
"""Rows per packed chunk of a RowStore."""
_KINDS = {k.value: k for k in RowKind}


def _pack(rows: list[Row]) -> bytes:
    # marshal: the fastest stdlib codec for the JSON-shaped values rows hold; zlib level 1 shrinks the
    # repetitive transcript text about tenfold for ~0.3 ms per chunk.
    return zlib.compress(marshal.dumps([r.packed() for r in rows]), 1)


def _unpack(blob: bytes, first_index: int) -> list[Row]:
    kinds = _KINDS
    return [Row(kinds[kind], seq, ts, text, data, first_index + k)
            for k, (kind, seq, ts, text, data) in enumerate(marshal.loads(zlib.decompress(blob)))]


class RowStore:
    """A list of rows, in chunks of CHUNK. Chunks before `objects_from` are packed bytes; from there on they are
    Row objects with a stable identity (what a view shows). Reading a packed row unpacks a copy."""

    def __init__(self) -> None:
        self._chunks: list[list[Row] | bytes] = [[]]
        self._len = 0
        self._first_object_chunk = 0
        self._cached: tuple[int, list[Row]] | None = None
        """The last packed chunk read (iterating or paging reads each chunk many times in a row)."""

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def append(self, row: Row) -> None:
        last = self._chunks[-1]
        assert isinstance(last, list)
        if len(last) == CHUNK:
            last = []
            self._chunks.append(last)
        row.index = self._len
        last.append(row)
        self._len += 1

    def extend(self, rows: list[Row]) -> None:
        """append() for many rows: whole slices per chunk."""
        i, n = 0, len(rows)
        while i < n:
            last = self._chunks[-1]
            assert isinstance(last, list)
            if len(last) == CHUNK:
                last = []
                self._chunks.append(last)
            part = rows[i:i + CHUNK - len(last)]
            for index, row in enumerate(part, self._len):
                row.index = index
            last.extend(part)
            self._len += len(part)
            i += len(part)

    def _chunk(self, c: int) -> list[Row]:
        chunk = self._chunks[c]
        if isinstance(chunk, list):
            return chunk
        if self._cached is not None and self._cached[0] == c:
            return self._cached[1]
        rows = _unpack(chunk, c * CHUNK)
        self._cached = (c, rows)
        return rows

    def __getitem__(self, i: int) -> Row:
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(i)
        c, k = divmod(i, CHUNK)
        return self._chunk(c)[k]

    def __iter__(self) -> Iterator[Row]:
        for c in range(len(self._chunks)):
            yield from self._chunk(c)

    def __reversed__(self) -> Iterator[Row]:
        for c in range(len(self._chunks) - 1, -1, -1):
            yield from reversed(self._chunk(c))

    def is_object(self, row: Row) -> bool:
        """Whether `row` is the object the store holds (not a copy from a packed chunk, nor a row whose chunk
        was packed and unpacked since)."""
        if not 0 <= row.index < self._len:
            return False
        c, k = divmod(row.index, CHUNK)
        chunk = self._chunks[c]
        return isinstance(chunk, list) and chunk[k] is row

    def objects_from(self, index: int, max_packs: int | None = None) -> bool:
        """Keep the rows from `index` on as objects; pack the whole chunks before it (at most `max_packs` now,
        so a caller on the GUI thread can spread the work). Returns whether chunks are left to pack."""
        target = min(max(0, index) // CHUNK, len(self._chunks) - 1)
        while self._first_object_chunk < target:
            if max_packs is not None:
                if max_packs <= 0:
                    self._cached = None
                    return True
                max_packs -= 1
            c = self._first_object_chunk
            chunk = self._chunks[c]
            if isinstance(chunk, list):
                self._chunks[c] = _pack(chunk)
            self._first_object_chunk += 1
        while self._first_object_chunk > target:
            self._first_object_chunk -= 1
            c = self._first_object_chunk
            chunk = self._chunks[c]
            if isinstance(chunk, bytes):
                self._chunks[c] = _unpack(chunk, c * CHUNK)
        self._cached = None
        return False

    def packed_chunks(self) -> int:
        return sum(1 for c in self._chunks if isinstance(c, bytes))

    def store(self, row: Row) -> None:
        """Write a changed row back (a row still referenced for merging may sit in a packed chunk)."""
        c, k = divmod(row.index, CHUNK)
        chunk = self._chunks[c]
        if isinstance(chunk, list):
            chunk[k] = row
            return
        rows = _unpack(chunk, c * CHUNK)
        rows[k] = row
        self._chunks[c] = _pack(rows)
        self._cached = None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


MERGE_KEYS = 256
"""Streamed messages kept open for more deltas (the newest ones; agents stream one or a few at a time)."""


@dataclass
class Batch:
    new_rows: list[Row] = field(default_factory=list)
    changed: list[Row] = field(default_factory=list)
    """Committed rows whose content changed."""
    events: int = 0
    changed_ids: set[int] = field(default_factory=set)


class Transcript:
    def __init__(self) -> None:
        self.rows = RowStore()
        self.last_seq = 0
        """Of the events committed (shown); a batch being prepared has its own."""
        self.event_count = 0
        self._prepared_seq = 0
        self.out_of_order = 0
        """Events that did not continue the seq exactly (the core prevents this; counted to prove it)."""
        # Rows later events merge into. Answered tools and requests leave, so these stay small however long
        # the session; their rows may be packed meanwhile (store() writes a change back).
        self._messages: dict[tuple[str, str], Row] = {}
        self._tools: dict[str, Row] = {}
        self._requests: dict[str, Row] = {}
        self._sgr: dict[str, str] = {}
        """Per output stream, the SGR sequence of the style its last line left (a colour lasts across lines until
        reset, as in a terminal): the next output row starts in it (`data["sgr"]`)."""
        self.plan = Plan()
        """The agent's latest plan (todo list), shown at the top of the session."""
        self.totals = Totals()
        """Cost, tokens and time of the turns so far, shown in the session header."""

    def __len__(self) -> int:
        return len(self.rows)

    def prepare(self, events: list[dict[str, Any]], batch: Batch | None = None) -> Batch:
        """Work out `events` into `batch` (a new one, or one still being prepared: a big batch can be prepared
        in slices, then committed as one)."""
        if batch is None:
            batch = Batch()
        changed_ids = batch.changed_ids

        rows = self.rows

        def changed(row: Row) -> None:
            row.touch()
            if row.index >= 0:
                if not rows.is_object(row):
                    rows.store(row)
                if id(row) not in changed_ids:
                    changed_ids.add(id(row))
                    batch.changed.append(row)

        prepared = self._prepared_seq
        new_rows = batch.new_rows
        output_kind = RowKind.OUTPUT
        for event in events:
            seq = event.get("seq")
            if type(seq) is not int:
                seq = prepared + 1
            if seq != prepared + 1:
                self.out_of_order += 1
            if seq > prepared:
                prepared = seq
            kind = event.get("kind")
            parent = event.get("parent_tool_id")
            if kind == "output" and not parent:
                # The fast path for the commonest event (a command session is nothing else).
                stream = event.get("stream")
                if stream != "stderr":
                    stream = "stdout"
                text = event.get("text")
                if type(text) is not str:
                    text = str(text if text is not None else "")
                last = new_rows[-1] if new_rows else (rows[-1] if rows else None)
                if (last is not None and last.kind is output_kind and last.data.get("truncated")
                        and last.data.get("stream") == stream):
                    # The continuation of a line cut because it was over the runner's line limit.
                    last.text += text
                    last.data["truncated"] = bool(event.get("truncated"))
                    if "\x1b" in text:
                        self._sgr[stream] = carried_sgr(last.data.get("sgr", "") + last.text)
                    changed(last)
                    continue
                ts = event.get("ts")
                data = {"stream": stream, "truncated": bool(event.get("truncated"))}
                sgr = self._sgr.get(stream)
                if sgr:
                    data["sgr"] = sgr
                if "\x1b" in text:
                    self._sgr[stream] = carried_sgr((sgr or "") + text)
                new_rows.append(Row(output_kind, seq, ts if type(ts) is float else _number(ts), text, data))
                continue
            row = self._row_for(event, seq, batch, changed)
            if row is not None:
                if isinstance(parent, str) and parent:
                    row.data["parent_tool_id"] = parent
                new_rows.append(row)
        batch.events += len(events)
        self._prepared_seq = prepared
        return batch

    def commit(self, batch: Batch) -> None:
        self.rows.extend(batch.new_rows)
        self.last_seq = self._prepared_seq
        self.event_count += batch.events

    def apply(self, events: list[dict[str, Any]]) -> Batch:
        batch = self.prepare(events)
        self.commit(batch)
        return batch

    def _last_row(self, batch: Batch) -> Row | None:
        if batch.new_rows:
            return batch.new_rows[-1]
        return self.rows[-1] if self.rows else None

    def _row_for(self, event: dict[str, Any], seq: int, batch: Batch, changed: Any) -> Row | None:
        kind = event.get("kind")
        ts = event.get("ts") if isinstance(event.get("ts"), (int, float)) else 0.0
        if kind == "output":
            text = str(event.get("text", ""))
            stream = event.get("stream") if event.get("stream") in ("stdout", "stderr") else "stdout"
            last = self._last_row(batch)
            if (last is not None and last.kind is RowKind.OUTPUT and last.data.get("truncated")
                    and last.data.get("stream") == stream):
                # The continuation of a line cut because it was over the runner's line limit.
                last.text += text
                last.data["truncated"] = bool(event.get("truncated"))
                if "\x1b" in text:
                    self._sgr[stream] = carried_sgr(last.data.get("sgr", "") + last.text)
                changed(last)
                return None
            data = {"stream": stream, "truncated": bool(event.get("truncated"))}
            sgr = self._sgr.get(stream)
            if sgr:
                data["sgr"] = sgr
            if "\x1b" in text:
                self._sgr[stream] = carried_sgr((sgr or "") + text)
            return Row(RowKind.OUTPUT, seq, ts, text, data)
        if kind in ("assistant", "thinking"):
            text = str(event.get("text", ""))
            message_id = event.get("message_id")
            row_kind = RowKind.ASSISTANT if kind == "assistant" else RowKind.THINKING
            if isinstance(message_id, str) and message_id:
                existing = self._messages.get((kind, message_id))
                if existing is not None:
                    existing.text += text
                    changed(existing)
                    return None
                row = Row(row_kind, seq, ts, text, {"message_id": message_id})
                messages = self._messages
                messages[(kind, message_id)] = row
                if len(messages) > MERGE_KEYS:
                    del messages[next(iter(messages))]
                return row
            return Row(row_kind, seq, ts, text, {})
        if kind == "user":
            return Row(RowKind.USER, seq, ts, str(event.get("text", "")),
                       {"client_msg_id": event.get("client_msg_id")})
        if kind == "tool_call":
            tool_id = str(event.get("tool_id") or f"seq-{seq}")
            name = str(event.get("name") or "tool")
            existing = self._tools.get(tool_id)
            if existing is not None:
                existing.data.update(name=name, input=event.get("input"))
                existing.text = summarize_tool_input(name, event.get("input"))
                self._plan_call(existing)
                changed(existing)
                return None
            row = Row(RowKind.TOOL, seq, ts, summarize_tool_input(name, event.get("input")),
                      {"tool_id": tool_id, "name": name, "input": event.get("input"), "output": None,
                       "is_error": None, "parent_tool_id": event.get("parent_tool_id")})
            self._plan_call(row)
            self._tools[tool_id] = row
            return row
        if kind == "tool_result":
            tool_id = str(event.get("tool_id") or "")
            images = image_refs(event.get("images"))
            existing = self._tools.pop(tool_id, None)
            if existing is not None:
                existing.data["output"] = event.get("output")
                existing.data["is_error"] = bool(event.get("is_error"))
                if event.get("patch"):
                    existing.data["patch"] = event["patch"]  # the edit's hunks, numbered as in the file
                name = str(existing.data.get("name"))
                if is_plan_tool(name) and self.plan.update_result(name, tool_id, event.get("output"),
                                                                  bool(event.get("is_error"))):
                    existing.data["plan"] = self.plan.snapshot()
                changed(existing)
                if images:  # shown under the call, as thumbnails
                    return Row(RowKind.IMAGE, seq, ts, image_captions(images), {"images": images,
                                                                                "tool_id": tool_id})
                return None
            row = Row(RowKind.TOOL, seq, ts, "(result of an earlier call)",
                      {"tool_id": tool_id, "name": "tool", "input": None, "output": event.get("output"),
                       "is_error": bool(event.get("is_error"))})
            if images:
                return Row(RowKind.IMAGE, seq, ts, image_captions(images), {"images": images, "tool_id": tool_id})
            return row
        if kind == "permission_request":
            request_id = str(event.get("request_id") or f"seq-{seq}")
            tool_name = str(event.get("tool_name") or "a tool")
            summary = question_summary(event.get("input")) if is_question(tool_name) else \
                summarize_tool_input(tool_name, event.get("input"))
            row = Row(RowKind.PERMISSION, seq, ts, summary,
                      {"request_id": request_id, "tool_name": tool_name, "input": event.get("input"),
                       "behavior": None, "message": None, "suggestions": event.get("suggestions")})
            self._requests[request_id] = row
            return row
        if kind == "permission_answer":
            request_id = str(event.get("request_id") or "")
            existing = self._requests.pop(request_id, None)
            if existing is not None:
                existing.data["behavior"] = event.get("behavior")
                existing.data["message"] = event.get("message")
                existing.data["updated_permissions"] = event.get("updated_permissions")
                changed(existing)
                return None
            return Row(RowKind.STATUS, seq, ts, f"Permission {event.get('behavior')}", {})
        if kind == "error":
            message = str(event.get("message") or "error")
            return Row(RowKind.ERROR, seq, ts, message, {"code": event.get("code")})
        if kind == "status":
            return self._status_row(event, seq, ts)
        if kind == "turn_end":
            self.totals.add(event)
            return Row(RowKind.TURN_END, seq, ts, _turn_text(event), {
                "status": event.get("status"), "usage": event.get("usage"),
                "cost_usd": event.get("cost_usd"), "duration_ms": event.get("duration_ms")})
        if kind == "agent_session":
            return None
        fields = {k: v for k, v in event.items() if k not in ("seq", "ts", "kind")}
        return Row(RowKind.GENERIC, seq, ts, f"{kind}: {json.dumps(fields, ensure_ascii=False, default=str)}",
                   {"kind": kind})

    def _plan_call(self, row: Row) -> None:
        """A plan tool's call updates the session's plan; its row keeps the plan as this call left it."""
        name = str(row.data.get("name"))
        if is_plan_tool(name):
            self.plan.update_call(name, str(row.data.get("tool_id")), row.data.get("input"))
            row.data["plan"] = self.plan.snapshot()

    def _status_row(self, event: dict[str, Any], seq: int, ts: float) -> Row | None:
        status = event.get("status")
        reason = event.get("reason")
        if status == "running" and event.get("pid") is not None:
            return Row(RowKind.STATUS, seq, ts, f"Started (pid {event.get('pid')})", {"status": status})
        if status not in _STATUS_TEXT:
            return None
        text = _STATUS_TEXT[str(status)]
        if status == "exited" and event.get("exit_code") is not None:
            text = f"Exited with code {event.get('exit_code')}"
        if reason:
            text += f" ({str(reason).replace('_', ' ')})"
        return Row(RowKind.STATUS, seq, ts, text, {"status": status, "exit_code": event.get("exit_code")})


def _turn_text(event: dict[str, Any]) -> str:
    parts = []
    status = event.get("status")
    parts.append("Turn finished" if status in (None, "success", "ok", "done") else f"Turn ended: {status}")
    duration = event.get("duration_ms")
    if isinstance(duration, (int, float)):
        parts.append(f"{duration / 1000:.1f} s")
    cost = event.get("cost_usd")
    if isinstance(cost, (int, float)):
        parts.append(f"${cost:.4f}")
    tokens = usage_tokens(event.get("usage"))
    if tokens:
        parts.append(f"{tokens:,} tokens")
    return " · ".join(parts)
