"""A session's journal as a Markdown document: what the user sent, what the agent said, its tool calls with their
inputs and results, edits as unified diffs, a command's output as it looked (escape codes removed).

Reads the journal file directly (read-only), so it needs no running runner and no GUI: `nightshift export SESSION`
(desktop/__main__.py). Streamed text is merged as EVENTS.md says (deltas of one `message_id`, parts of one line).
"""

from __future__ import annotations

import datetime
import difflib
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

JOURNAL_FILE = "journal.sqlite3"
MAX_RESULT_CHARS = 20_000
"""A tool result longer than this is shortened in the export (its start and end kept, the cut said)."""


class ExportError(Exception):
    """The journal or the session cannot be read; the message says why in words."""


def open_journal(data_dir: str) -> sqlite3.Connection:
    path = os.path.join(data_dir, JOURNAL_FILE)
    if not os.path.isfile(path):
        raise ExportError(f"no journal in {data_dir} (looked for {JOURNAL_FILE})")
    try:
        # Read-only: an export never changes the journal, and works while a runner has it open (WAL).
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("SELECT 1 FROM sessions LIMIT 1")
    except sqlite3.Error as exc:
        raise ExportError(f"cannot read the journal {path}: {exc}") from exc
    return conn


def find_session(conn: sqlite3.Connection, wanted: str) -> dict[str, Any]:
    """The session record whose id is `wanted`, whose id starts with it, or whose title is it (exactly one)."""
    records = [json.loads(record) for (record,) in conn.execute("SELECT record FROM sessions")]
    for match in (
        lambda r: r.get("id") == wanted,
        lambda r: str(r.get("id", "")).startswith(wanted),
        lambda r: r.get("title") == wanted,
    ):
        found = [r for r in records if match(r)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(f"{r.get('id')} ({r.get('title')})" for r in found[:10])
            raise ExportError(f"{wanted!r} matches {len(found)} sessions: {names}")
    raise ExportError(f"no session {wanted!r} in the journal (give its id, the start of its id, or its title)")


def read_events(conn: sqlite3.Connection, session_id: str) -> Iterator[dict[str, Any]]:
    for seq, payload in conn.execute("SELECT seq, payload FROM events WHERE session_id=? ORDER BY seq", (session_id,)):
        event = json.loads(payload)
        event.setdefault("seq", seq)
        yield event


def export_session(data_dir: str, wanted: str) -> str:
    conn = open_journal(data_dir)
    try:
        record = find_session(conn, wanted)
        return to_markdown(record, read_events(conn, record["id"]))
    finally:
        conn.close()


# --- rendering ---------------------------------------------------------------------------------------------------

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)|\x1b[ -/]*[0-~]?|[\x00-\x08\x0b-\x1f\x7f]", re.DOTALL
)


def plain_terminal_line(text: str) -> str:
    """A terminal line as plain text: escape sequences and control characters removed, and of a line redrawn with
    carriage returns, what was left on screen."""
    if "\r" in text:
        shown = ""
        for piece in text.split("\r"):
            piece = _ESCAPES.sub("", piece)
            shown = piece + shown[len(piece):]
        return shown
    return _ESCAPES.sub("", text)


def fence(text: str, lang: str = "") -> str:
    """A fenced code block that the text cannot end early (the fence is longer than any backtick run in it)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}{lang}\n{text}\n{marks}"


def _when(ts: Any) -> str:
    if not isinstance(ts, (int, float)):
        return "?"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _unified(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(),
        fromfile="/dev/null" if old == "" else f"a/{path}", tofile=f"b/{path}", lineterm="",
    )
    return "\n".join(lines)


def edit_diff(name: str, tool_input: Any) -> str | None:
    """A unified diff for the edit tools of the agents (Claude Code, Gemini CLI, OpenCode); None for other tools.
    A file written whole shows all its lines added (what it replaced is not in the journal)."""
    if not isinstance(tool_input, dict):
        return None
    get = tool_input.get
    path = str(get("file_path") or get("filePath") or get("notebook_path") or get("path") or "?")
    lowered = name.lower()
    if lowered in ("edit", "replace", "str_replace_editor") and isinstance(get("old_string", get("oldString")), str):
        old, new = get("old_string", get("oldString")), get("new_string", get("newString"))
        return _unified(path, old, new if isinstance(new, str) else "")
    if lowered == "multiedit" and isinstance(get("edits"), list):
        parts = [
            _unified(path, e.get("old_string", ""), e.get("new_string", ""))
            for e in get("edits") if isinstance(e, dict)
        ]
        return "\n".join(p for p in parts if p)
    if lowered in ("write", "write_file") and isinstance(get("content"), str):
        return _unified(path, "", get("content"))
    if lowered == "notebookedit" and isinstance(get("new_source"), str):
        return _unified(path, "", get("new_source"))
    return None


def _shorten(text: str) -> str:
    if len(text) <= MAX_RESULT_CHARS:
        return text
    half = MAX_RESULT_CHARS // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters left out of the export ...]\n{text[-half:]}"


def to_markdown(record: dict[str, Any], events: Iterable[dict[str, Any]]) -> str:
    title = record.get("title") or record.get("id") or "session"
    out: list[str] = [f"# {title}", ""]
    facts = [f"Session `{record.get('id')}`", f"agent {record.get('agent', '?')}"]
    if record.get("cwd"):
        facts.append(f"folder `{record['cwd']}`")
    if isinstance(record.get("options", {}).get("argv"), list):
        facts.append("command `" + " ".join(record["options"]["argv"]) + "`")
    facts.append(f"created {_when(record.get('created_at'))}")
    out += ["- " + "\n- ".join(facts), ""]

    speaker: str | None = None
    text_rows: dict[tuple[str, str], int] = {}  # (kind, message_id) -> index in `out` of its text
    output: list[str] = []  # consecutive output lines, written as one block
    open_part = False
    calls: dict[str, str] = {}  # tool_id -> tool name

    def flush_output() -> None:
        nonlocal open_part
        if output:
            out.extend([fence("\n".join(plain_terminal_line(line) for line in output), "text"), ""])
            output.clear()
        open_part = False

    def heading(who: str) -> None:
        nonlocal speaker
        if speaker != who:
            out.extend([f"## {who}", ""])
            speaker = who

    for event in events:
        kind = event.get("kind")
        if kind != "output":
            flush_output()
        if kind == "user":
            text_rows.clear()
            heading("User")
            out.extend([str(event.get("text", "")).rstrip("\n"), ""])
        elif kind in ("assistant", "thinking"):
            key = (kind, str(event.get("message_id", "")))
            if key in text_rows and text_rows[key] == len(out) - 2:
                out[text_rows[key]] += str(event.get("text", ""))
                continue
            heading("Assistant")
            text = str(event.get("text", ""))
            if kind == "thinking":
                out.extend(["*Thinking:*", ""])
            out.extend([text, ""])
            text_rows[key] = len(out) - 2
        elif kind == "tool_call":
            heading("Assistant")
            name = str(event.get("name", "?"))
            calls[str(event.get("tool_id", ""))] = name
            tool_input = event.get("input")
            diff = edit_diff(name, tool_input)
            out.append(f"**Tool call: {name}**")
            out.append("")
            if diff is not None:
                rest = {k: v for k, v in tool_input.items()
                        if k not in ("old_string", "new_string", "oldString", "newString", "content", "edits",
                                     "new_source")}
                out.extend([fence(json.dumps(rest, indent=2, ensure_ascii=False), "json"), "",
                            fence(diff, "diff"), ""])
            else:
                shown = tool_input if isinstance(tool_input, str) else json.dumps(tool_input, indent=2,
                                                                                 ensure_ascii=False)
                out.extend([fence(shown, "json" if not isinstance(tool_input, str) else ""), ""])
        elif kind == "tool_result":
            name = calls.get(str(event.get("tool_id", "")), "tool")
            label = f"**Result of {name}**" + (" (error)" if event.get("is_error") else "")
            if event.get("exit_code") is not None:
                label += f", exit code {event['exit_code']}"
            out.extend([label, "", fence(_shorten(str(event.get("output", ""))), "text"), ""])
        elif kind == "output":
            text = str(event.get("text", ""))
            if open_part:
                output[-1] += text
            else:
                if not output:
                    heading("Output")
                output.append(text)
            open_part = bool(event.get("truncated"))
        elif kind == "turn_end":
            facts = [f"status {event.get('status', '?')}"]
            for field, label in (("cost_usd", "cost $"), ("duration_ms", "")):
                if isinstance(event.get(field), (int, float)):
                    facts.append(f"{label}{event[field]:.4f}" if field == "cost_usd"
                                 else f"{event[field] / 1000:.1f} s")
            usage = event.get("usage")
            if isinstance(usage, dict):
                tokens = ", ".join(f"{k} {v}" for k, v in usage.items() if isinstance(v, (int, float)))
                if tokens:
                    facts.append(f"tokens: {tokens}")
            out.extend([f"*Turn ended: {'; '.join(facts)}*", ""])
            speaker = None
        elif kind == "permission_request":
            out.extend([f"*Permission asked for {event.get('tool_name', '?')}*", ""])
        elif kind == "permission_answer":
            out.extend([f"*Permission {event.get('behavior', '?')}*"
                        + (f": {event['message']}" if event.get("message") else ""), ""])
        elif kind == "error":
            out.extend([f"> **Error**: {event.get('message', '')}", ""])
        elif kind == "status" and event.get("status") in ("exited", "interrupted", "error"):
            code = event.get("exit_code")
            ended = event["status"].capitalize() + (f" with exit code {code}" if code is not None else "")
            out.extend([f"*{ended}*", ""])
            speaker = None
    flush_output()
    return "\n".join(out).rstrip("\n") + "\n"
