"""Find text in a session's journal (the `search` request, runner/PROTOCOL.md): what a view's Ctrl+F uses to reach
rows it no longer holds in memory.

A match is a row as a view shows it: streamed `assistant`/`thinking` deltas are merged per message (a word cut
between two deltas is still found), the parts of a long or unfinished `output` line are joined, and terminal text is
searched without its escape sequences. Matching is case-insensitive with Unicode case folding. Newest matches come
first; `before_seq` pages back.

The scan runs in a worker thread on its own read-only connection (WAL lets it read beside the runner's writer and
its catch-up reader), newest events first, in batches. Rows that cannot match are skipped without being parsed: the
query, encoded as the journal encodes strings, must appear in the payload, case-folded (folding is per character,
so a payload that holds the text holds its folding). Only the kinds that need joining (deltas, line parts) and
terminal lines holding escapes or carriage returns are parsed regardless.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import orjson

from runner.export import plain_terminal_line
from runner.search_index import (
    MESSAGE_ID,
    MESSAGE_KINDS,
    ROW_GROUP,
    ROW_MESSAGE,
    SIMPLE_KINDS,
    TEXT,
    kind_of,
    loads,
    match_expression,
    query_words,
    searchable,
    text_of,
)
from runner.vocabulary import RequestError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_QUERY_CHARS = 1000
BATCH = 4096
SCAN_BUDGET = 100_000
"""Events one request examines at most (about a second on a loaded machine); past it the reply says
`complete: false` and where to go on, so a view shows the first results while it asks for more."""
DELTA_GAP = 256
"""Events between two deltas of one message beyond which a message read newest first counts as complete."""
SNIPPET_BEFORE = 40
SNIPPET_AFTER = 80


def check(query: Any, limit: Any, before_seq: Any) -> tuple[str, int, int | None]:
    """Validated (query, limit, before_seq); RequestError("bad_request") naming what is wrong."""
    if not isinstance(query, str) or not query.strip():
        raise RequestError("bad_request", "'query' must be a non-empty string")
    if len(query) > MAX_QUERY_CHARS:
        raise RequestError("bad_request", f"'query' is longer than {MAX_QUERY_CHARS} characters")
    if limit is None:
        limit = DEFAULT_LIMIT
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise RequestError("bad_request", f"'limit' must be an integer from 1 to {MAX_LIMIT}")
    if before_seq is not None and (not isinstance(before_seq, int) or isinstance(before_seq, bool)
                                   or before_seq < 1):
        raise RequestError("bad_request", "'before_seq' must be a positive integer")
    return query, limit, before_seq


def snippet(text: str, at: int, length: int) -> dict[str, Any]:
    """Some text around a match, on one line, and where the match is in it."""
    start = max(at - SNIPPET_BEFORE, 0)
    stop = min(at + length + SNIPPET_AFTER, len(text))
    lead = "…" if start > 0 else ""
    shown = lead + text[start:stop] + ("…" if stop < len(text) else "")
    shown = shown.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    begin = len(lead) + at - start
    return {"snippet": shown, "start": begin, "end": begin + length}


@dataclass
class _Row:
    """A row being put together from events read newest first: its parts, oldest last in `parts`."""

    kind: str
    seq: int
    parts: list[str] = field(default_factory=list)
    stream: Any = None


# Output that is searched after interpretation: parts of a line, escape sequences, carriage returns, backspaces.
_TERMINAL = re.compile(r'"part":|\\u001b|\\r|\\b')


def _text(event: dict[str, Any]) -> str:
    text = event.get("text")
    return text if isinstance(text, str) else ""


_SEARCHED_KINDS = {"user", "assistant", "thinking", "tool_call", "tool_result", "output", "error",
                   "permission_request"}


class _Scan:
    def __init__(self, query: str, limit: int) -> None:
        self.query = query
        self.folded = query.casefold()
        # The query as the journal's JSON holds it (quotes, backslashes and control characters escaped).
        self.needle = orjson.dumps(query).decode()[1:-1].casefold()
        self.length = len(query)
        self.limit = limit
        self.matches: list[dict[str, Any]] = []
        self.messages: dict[tuple[str, str], _Row] = {}  # deltas of a message, until its first one is passed
        self.line: _Row | None = None  # parts of an output line, newest first

    def match(self, kind: str, seq: int, text: str) -> None:
        folded = text.casefold()
        at = folded.find(self.folded)
        if at < 0:
            return
        length = self.length
        if len(folded) != len(text):
            # Folding changed lengths (ß -> ss): walk the original text to where the folded match starts and ends.
            start = end = folded_pos = 0
            for i, ch in enumerate(text):
                if folded_pos <= at:
                    start = i
                folded_pos += len(ch.casefold())
                if folded_pos >= at + len(self.folded):
                    end = i + 1
                    break
            at, length = start, max(end - start, 1)
        self.matches.append({"seq": seq, "kind": kind, **snippet(text, at, length)})

    def feed(self, rows: list[tuple[int, str]]) -> None:
        """Rows of (seq, payload), newest first."""
        needle = self.needle
        for seq, payload in rows:
            kind = kind_of(payload)
            if kind == "assistant" or kind == "thinking":
                event = loads(payload)
                message_id = event.get("message_id")
                key = (kind, str(message_id) if message_id is not None else f"#{seq}")
                row = self.messages.get(key)
                if row is None:
                    row = self.messages[key] = _Row(kind, seq)
                row.parts.append(_text(event))
                row.seq = seq
            elif kind == "output":
                if self.line is None and needle not in payload.casefold() and not _TERMINAL.search(payload):
                    continue  # a whole plain line without the query
                event = loads(payload)
                text, part, stream = _text(event), event.get("part"), event.get("stream")
                if self.line is not None and stream == self.line.stream:
                    self.line.parts.append(text)
                    self.line.seq = seq
                    if not part:  # part 0: the line is complete
                        self.close_line()
                elif part:  # the last part of a line: the earlier ones follow
                    self.line = _Row("output", seq, [text], stream)
                else:  # a whole line (the other stream's lines may come between the parts of one)
                    self.match(kind, seq, plain_terminal_line(text))
            elif kind in _SEARCHED_KINDS and needle in payload.casefold():
                self.match(kind, seq, searchable(loads(payload)))
        # A message with no delta among the last events read has been read whole (its deltas come close together:
        # a message left open at the end of a batch is finished by the next one).
        bottom = rows[-1][0] + DELTA_GAP if rows else 0
        for key in [k for k, m in self.messages.items() if m.seq > bottom]:
            self.close_message(key)

    def settled(self) -> bool:
        """Whether the `limit` newest matches are known: rows still being put together start below their current
        lowest seq, so below every match newer than that."""
        if len(self.matches) < self.limit:
            return False
        kth = sorted((m["seq"] for m in self.matches), reverse=True)[self.limit - 1]
        open_rows = [m.seq for m in self.messages.values()] + ([self.line.seq] if self.line is not None else [])
        return kth > max(open_rows, default=0)

    def close_line(self) -> None:
        line, self.line = self.line, None
        if line is not None:
            self.match("output", line.seq, plain_terminal_line("".join(reversed(line.parts))))

    def close_message(self, key: tuple[str, str]) -> None:
        message = self.messages.pop(key)
        self.match(message.kind, message.seq, "".join(reversed(message.parts)))

    def close_all(self) -> None:
        self.close_line()
        for key in list(self.messages):
            self.close_message(key)


def search_journal(path: str, session_id: str, query: str, limit: int, before_seq: int | None) -> dict[str, Any]:
    """The `search` reply's fields: newest matches first with seq < before_seq, and where to go on."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        try:
            indexed = conn.execute("SELECT 1 FROM search_backlog WHERE session_id=?", (session_id,)).fetchone() is None
        except sqlite3.OperationalError:
            indexed = False  # a journal no runner with an index has opened yet
        scan = _Scan(query, limit)
        if indexed:
            more, cursor = _search_index(conn, session_id, scan, before_seq), None
        else:
            more, cursor = _scan_journal(conn, session_id, scan, before_seq)
    finally:
        conn.close()
    matches = sorted(scan.matches, key=lambda m: m["seq"], reverse=True)
    more = more or len(matches) > limit
    matches = matches[:limit]
    if len(matches) == limit and more:
        next_before: int | None = matches[-1]["seq"]
    elif cursor is not None:
        next_before = cursor  # the budget ran out before `limit` matches: go on below what was examined
    else:
        next_before = None
    return {"matches": matches, "complete": next_before is None, "next_before": next_before}


def _search_index(conn: sqlite3.Connection, session_id: str, scan: _Scan, before_seq: int | None) -> bool:
    """Find the matches through the index (runner/search_index.py): its candidates, newest first, each checked
    against its events as a scan would, until the `limit` newest are known. Whether candidates were left."""
    before = before_seq if before_seq is not None else 2**63 - 1
    words = query_words(scan.query)
    expression = match_expression(words)
    newest = f"CASE WHEN row={ROW_GROUP} THEN min(hi, ?) ELSE lo END"
    if expression is not None:
        docs = conn.execute(
            # CROSS JOIN: the index's few matches first, not every document of the session probed in the index.
            f"SELECT d.lo, d.row, {newest} AS newest FROM search_words CROSS JOIN search_docs d "
            "ON d.docid = search_words.rowid WHERE search_words MATCH ? AND d.session_id=? AND d.lo<? "
            f"UNION ALL SELECT lo, row, {newest} FROM search_docs WHERE session_id=? AND lo<? AND words IS NULL "
            "ORDER BY newest DESC",
            (before - 1, expression, session_id, before, before - 1, session_id, before))
    else:  # words too short for trigrams: look for the longest in each document's words
        docs = conn.execute(
            f"SELECT lo, row, {newest} AS newest FROM search_docs WHERE session_id=? AND lo<? "
            "AND (words IS NULL OR instr(words, ?)>0) ORDER BY newest DESC",
            (before - 1, session_id, before, max(words, key=len)))
    seen: set[tuple[int, int]] = set()
    checked: set[int] = set()
    kth = 0  # seq of the limit-th newest match so far
    for lo, row, newest_seq in docs:
        if newest_seq < kth:
            docs.close()
            return True
        if (row, lo) in seen:  # a message's documents share their `lo`
            continue
        seen.add((row, lo))
        if row == ROW_GROUP:
            _check_group(conn, session_id, scan, lo, newest_seq, checked)
        else:
            _check_row(conn, session_id, scan, row, lo, before - 1)
        if len(scan.matches) >= scan.limit:
            kth = sorted((m["seq"] for m in scan.matches), reverse=True)[scan.limit - 1]
    return False


def _check_group(conn: sqlite3.Connection, session_id: str, scan: _Scan, lo: int, hi: int, checked: set[int]
                 ) -> None:
    """The events of a group that match (messages and parts of lines are candidates of their own); `checked`: the
    seqs of events checked already (groups of events journaled out of seq order may overlap)."""
    needle = scan.needle
    for seq, payload in conn.execute("SELECT seq, payload FROM events WHERE session_id=? AND seq>=? AND seq<=? "
                                     "ORDER BY seq DESC", (session_id, lo, hi)):
        if seq in checked:
            continue
        checked.add(seq)
        kind = kind_of(payload)
        if kind == "output":
            if needle not in payload.casefold() and not _TERMINAL.search(payload):
                continue
            event = loads(payload)
            if "part" not in event:
                scan.match(kind, seq, plain_terminal_line(text_of(event)))
        elif kind in SIMPLE_KINDS and needle in payload.casefold():
            scan.match(kind, seq, searchable(loads(payload)))


def _check_row(conn: sqlite3.Connection, session_id: str, scan: _Scan, row: int, lo: int, end: int) -> None:
    """A message (its deltas joined) or a line in parts (joined, then as the terminal shows it) starting at `lo`."""
    rows = conn.execute(
        "SELECT payload FROM events WHERE session_id=? AND seq>=? AND seq<=min(?, (SELECT max(hi) FROM search_docs "
        "WHERE session_id=? AND lo=? AND row=?)) ORDER BY seq", (session_id, lo, end, session_id, lo, row)).fetchall()
    if not rows:
        return
    kind = kind_of(rows[0][0])
    first = loads(rows[0][0])
    if row == ROW_MESSAGE and kind in MESSAGE_KINDS:
        message_id = first.get("message_id")
        texts = [] if message_id is not None else [text_of(first)]
        for (payload,) in rows if message_id is not None else ():
            if kind_of(payload) != kind:
                continue  # only events of the row's kind can be part of it: the others are not parsed
            if "\\" not in payload and isinstance(message_id, str):
                # Compact JSON without escapes holds its strings as they are: no need to parse it.
                found_id, found_text = MESSAGE_ID.search(payload), TEXT.search(payload)
                if found_id is not None and found_text is not None:
                    if found_id.group(1) == message_id:
                        texts.append(found_text.group(1))
                    continue
            event = loads(payload)
            if event.get("message_id") == message_id:
                texts.append(text_of(event))
        scan.match(str(kind), lo, "".join(texts))
    elif kind == "output":
        stream = first.get("stream")
        parts = [event for event in map(loads, (payload for payload, in rows if kind_of(payload) == "output"))
                 if event.get("stream") == stream and "part" in event]
        scan.match("output", lo, plain_terminal_line("".join(text_of(e) for e in parts)))


def _scan_journal(conn: sqlite3.Connection, session_id: str, scan: _Scan, before_seq: int | None
                  ) -> tuple[bool, int | None]:
    """Find the matches by reading the session newest first (a session not indexed yet). Whether more may be
    left, and where to go on if the budget ran out first."""
    cursor = before_seq if before_seq is not None else 2**63 - 1
    scanned = 0
    while True:
        rows = conn.execute(
            "SELECT seq, payload FROM events WHERE session_id=? AND seq<? ORDER BY seq DESC LIMIT ?",
            (session_id, cursor, BATCH),
        ).fetchall()
        if not rows:
            scan.close_all()
            return False, None
        scan.feed(rows)
        cursor = rows[-1][0]
        scanned += len(rows)
        if scan.settled():
            return True, None
        if scanned >= SCAN_BUDGET:
            scan.close_all()
            return True, cursor if len(scan.matches) < scan.limit else None


async def search(path: str, session_id: str, query: Any, limit: Any = None, before_seq: Any = None
                 ) -> dict[str, Any]:
    query, limit, before_seq = check(query, limit, before_seq)
    try:
        return await asyncio.to_thread(search_journal, path, session_id, query, limit, before_seq)
    except sqlite3.Error as exc:
        raise RequestError("internal", f"the journal could not be searched: {exc}") from exc
