"""The full-text index behind `search` (runner/search.py), kept by the journal's writer in the same transactions as
the events it describes, so it is never behind or ahead of them.

The index narrows a search to a few candidate rows; runner/search.py then checks each candidate against the
events themselves, so results are exactly what a scan of the journal gives. It therefore only has to hold a
superset of what can match: for each document, the searchable text case-folded as search folds, in an FTS5 table
with the trigram tokenizer. A query's words, folded the same way, each lie inside one word of the text of any row
that matches, so every trigram of them is in that row's document. A document holds either the folded text as it is
(a command's flood: FTS5 keeps each trigram once per document, in C) or only its distinct words (runs without
whitespace), cheaper where words repeat in few events (messages, mixed commits).

Documents (`search_docs`), per session:
- a group: the searchable events of one commit other than streamed messages (`user`, `tool_call`, `tool_result`,
  `error`, `permission_request`, whole `output` lines), `lo`..`hi` their seqs, `row` 0;
- a message: the deltas of one `assistant`/`thinking` message in one commit, `lo` the seq of the message's first
  delta (the seq its row has in results), `row` 1. A word cut between two commits' deltas is kept whole by starting
  each document with the last word of the message so far;
- a line handed out in `part`s (a terminal's unfinished line: a prompt, a progress bar; or a line over the
  reader's limit): per part, the words of the whole line so far as the terminal shows it, `lo` the seq of its first
  part, `row` 2. A line longer than LINE_CHARS is not indexed (`words` NULL): always a candidate (rare).

Journals written before the index existed are indexed after open in bounded slices between commits
(`search_backlog` lists the sessions still to do); until a session is done, search scans it as before.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

from runner.export import plain_terminal_line

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS search_docs (
    docid INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL,
    row INTEGER NOT NULL,
    words TEXT
);
CREATE INDEX IF NOT EXISTS search_docs_by_session ON search_docs (session_id, lo);
CREATE VIRTUAL TABLE IF NOT EXISTS search_words USING fts5(
    words, content='search_docs', content_rowid='docid',
    tokenize='trigram case_sensitive 1', detail=none, columnsize=0
);
CREATE TABLE IF NOT EXISTS search_backlog (
    session_id TEXT PRIMARY KEY,
    upto INTEGER NOT NULL,
    done INTEGER NOT NULL
);
"""
INDEX_VERSION = "1"
"""Stored in meta under `search_index`: a journal without it has events the index has not seen."""

GROUP_EVENTS = 128
"""Events per group document: a candidate group costs reading that many events (and what lies between them)."""
TAIL_CHARS = 4000
"""Characters of a message's unfinished last word carried into its next document (more than any query word)."""
STALE_GAP = 10_000
"""Seqs after its last delta at which an open message's carried state is dropped."""
LINE_CHARS = 65_536
"""Characters of a line in parts kept to index it whole; a longer one is checked at every search instead."""
RAW_CHARS = 32_768
"""Characters of a group of short lines indexed as they are: FTS5 keeps each trigram once per document in C, which
costs less than splitting the text into distinct words in Python (holding the GIL). Longer groups (long lines)
are indexed by their distinct words, so the index never holds a copy of a flood of big lines."""
MIGRATION_SLICE = 5_000
"""Events indexed per migration step: one step holds the writer for about as long as a large commit."""

ROW_GROUP, ROW_MESSAGE, ROW_PARTS = 0, 1, 2
SIMPLE_KINDS = frozenset({"user", "tool_call", "tool_result", "error", "permission_request"})
MESSAGE_KINDS = frozenset({"assistant", "thinking"})


def fold(text: str) -> str:
    """Text as the index holds it: case-folded as search folds, and JSON's punctuation (with NUL, which ends FTS5's
    text) as spaces, so a payload's own text stands for the words it holds (see `_index`). Applied alike to text
    and queries, so a query's words still lie inside the text's."""
    # ASCII folds as it lowers, and lower() is much cheaper (isascii() is a flag check). Chained replace() is
    # cheaper than translate() on text that is not ASCII (a scan in C per character, no lookup).
    folded = text.lower() if text.isascii() else text.casefold()
    return (folded.replace("\x00", " ").replace('"', " ").replace("{", " ").replace("}", " ").replace(":", " ")
            .replace(",", " "))


MESSAGE_ID = re.compile(r'"message_id":"([^"]*)"')
TEXT = re.compile(r'"text":"([^"]*)"')
_SESSION_OF, _PAYLOAD_OF = itemgetter(0), itemgetter(2)


def storable(text: str) -> str:
    """Lone surrogates (which SQLite cannot store) as '?': only ever makes the index match more, never less."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode()
    return text


def loads(payload: str) -> dict[str, Any]:
    """An event from its payload, whatever it holds: orjson refuses escaped lone surrogates, json takes them."""
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            event = json.loads(payload)
        except ValueError:
            return {}
    return event if isinstance(event, dict) else {}


def kind_of(payload: str) -> str:
    """The event's kind, without parsing it for payloads as the runner writes them (compact JSON: the first
    `"kind":"` is the key, since a string value's quotes are escaped)."""
    at = payload.find('"kind":"') + 8
    if at >= 8:
        return payload[at:payload.find('"', at)]
    kind = loads(payload).get("kind") if '"kind"' in payload else None  # JSON written some other way
    return kind if isinstance(kind, str) else ""


def searchable(event: dict[str, Any]) -> str:
    """The text a view shows for a non-streamed event, as search matches it."""
    kind = event.get("kind")
    if kind == "tool_call":
        tool_input = event.get("input")
        shown = tool_input if isinstance(tool_input, str) else orjson.dumps(tool_input).decode()
        return f"{event.get('name', '')} {shown}"
    if kind == "tool_result":
        return str(event.get("output", ""))
    if kind == "error":
        return str(event.get("message", ""))
    if kind == "permission_request":
        return f"{event.get('tool_name', '')} {orjson.dumps(event.get('input')).decode()}"
    if kind == "output":
        return plain_terminal_line(text_of(event))
    return text_of(event)


def text_of(event: dict[str, Any]) -> str:
    text = event.get("text")
    return text if isinstance(text, str) else ""


def query_words(query: str) -> list[str]:
    return fold(query).split()


def match_expression(words: list[str]) -> str | None:
    """An FTS5 query for rows whose words hold these words (every trigram of each), or None when no word has three
    characters (trigrams cannot narrow it)."""
    grams: dict[str, None] = {}
    for word in words:
        for i in range(len(word) - 2):
            grams[word[i:i + 3]] = None
    if not grams:
        return None
    # A few dozen trigrams narrow as well as all of them, and keep a long query's expression small.
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in list(grams)[:48])


@dataclass
class _Message:
    lo: int  # seq of the first delta
    last: int  # seq of the latest delta
    tail: str = ""  # the message's unfinished last word (raw text)


@dataclass(frozen=True)
class _Line:
    first: int  # seq of its first part
    text: str | None  # its parts so far, joined; None past LINE_CHARS


@dataclass
class _State:
    """What indexing carries from one commit to the next: open messages, and long lines' first parts."""

    messages: dict[tuple[str, str, str], _Message] = field(default_factory=dict)
    lines: dict[tuple[str, str], _Line] = field(default_factory=dict)  # by (session, stream)
    staged: list[tuple[dict[Any, Any], Any, Any]] = field(default_factory=list)
    """(dict, key, new value or None to remove): changes made once the batch's documents are stored."""
    undo: list[tuple[dict[Any, Any], Any, Any]] = field(default_factory=list)
    """(dict, key, value before) of the last batch's changes: what a rolled-back transaction takes back."""

    def apply(self) -> None:
        for table, key, value in self.staged:
            self.undo.append((table, key, table.get(key)))
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
        self.staged.clear()

    def rollback(self) -> None:
        for table, key, before in reversed(self.undo):
            if before is None:
                table.pop(key, None)
            else:
                table[key] = before
        self.undo.clear()

    def forget(self, session_id: str) -> None:
        self.messages = {k: m for k, m in self.messages.items() if k[0] != session_id}
        self.lines = {k: v for k, v in self.lines.items() if k[0] != session_id}
        self.undo.clear()
        self.staged.clear()


_Doc = tuple[str, int, int, int, str | None]
"""(session_id, lo, hi, row, words) of a document."""


def _tail(text: str) -> str:
    if not text or text[-1].isspace():
        return ""
    return text.rsplit(None, 1)[-1][-TAIL_CHARS:]


class SearchIndex:
    """Indexes committed events; every method runs on the journal's writer thread, inside its transaction."""

    def __init__(self) -> None:
        self._live = _State()
        self._saved: _State | None = None
        self._migration = _State()
        self._migration_started = time.monotonic()

    # --- schema and migration ----------------------------------------------------------------------------------

    def create(self, conn: sqlite3.Connection) -> None:
        """Create the tables; list the sessions of a journal written without the index (or whose indexing was
        interrupted) as still to do."""
        conn.executescript(SCHEMA)
        version = conn.execute("SELECT value FROM meta WHERE key='search_index'").fetchone()
        conn.execute("BEGIN")
        try:
            if version is None:
                conn.execute("INSERT OR REPLACE INTO search_backlog SELECT session_id, MAX(seq), 0 FROM events "
                             "GROUP BY session_id")
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('search_index', ?)", (INDEX_VERSION,))
            # Slices of a session indexed before a restart lost the state that joined them: start it over.
            for sid, upto in conn.execute("SELECT session_id, upto FROM search_backlog WHERE done != 0").fetchall():
                self.forget(conn, sid, upto)
                conn.execute("UPDATE search_backlog SET done=0 WHERE session_id=?", (sid,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        backlog = conn.execute("SELECT count(*), coalesce(sum(upto), 0) FROM search_backlog").fetchone()
        self._migration_started = time.monotonic()
        if backlog[0]:
            log.info("search index: %d sessions (up to %d events) to index", backlog[0], backlog[1])

    def migrate_step(self, conn: sqlite3.Connection) -> bool:
        """Index the next slice of a session listed in the backlog, in its own transaction; False when none is
        left."""
        conn.execute("BEGIN")
        try:
            row = conn.execute("SELECT session_id, upto, done FROM search_backlog WHERE done >= 0 "
                               "ORDER BY upto LIMIT 1").fetchone()
            if row is None:
                conn.execute("COMMIT")
                return False
            sid, upto, done = row
            rows = conn.execute(
                "SELECT session_id, seq, payload FROM events WHERE session_id=? AND seq>? AND seq<=? "
                "ORDER BY seq LIMIT ?", (sid, done, upto, MIGRATION_SLICE)).fetchall()
            finished = not rows or rows[-1][1] >= upto
            if not self._add(conn, rows, self._migration):
                finished = False
            elif finished:
                conn.execute("DELETE FROM search_backlog WHERE session_id=?", (sid,))
            else:
                conn.execute("UPDATE search_backlog SET done=? WHERE session_id=?", (rows[-1][1], sid))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._migration.rollback()
            raise
        self._migration.undo.clear()
        if finished:
            self._migration.forget(sid)
            left = conn.execute("SELECT count(*) FROM search_backlog WHERE done >= 0").fetchone()[0]
            log.info("search index: session %s indexed (%d events); %d sessions left", sid, upto, left)
            if not left:
                log.info("search index built in %.1f s", time.monotonic() - self._migration_started)
        return True

    # --- commits -----------------------------------------------------------------------------------------------

    def add(self, conn: sqlite3.Connection, events: list[tuple[str, int, str]]) -> None:
        """Index committed (session_id, seq, payload) rows, in seq order per session, inside the caller's
        transaction. If that transaction is rolled back, call `rollback()`."""
        self._add(conn, events, self._live)

    def rollback(self) -> None:
        """The transaction of the last `add` was rolled back: so is what it carried over to the next commit."""
        self._live.rollback()

    def _add(self, conn: sqlite3.Connection, events: list[tuple[str, int, str]], state: _State) -> bool:
        # Nothing here may stop a commit: a failure takes the index part back and leaves the sessions to a scan
        # (retried at the next start). Whether the events themselves are stored is the caller's business.
        state.undo.clear()
        state.staged.clear()
        conn.execute("SAVEPOINT search_index")
        try:
            self._index(conn, events, state)
        except Exception:
            log.exception("search index: events could not be indexed; their sessions are searched by a scan")
            conn.execute("ROLLBACK TO search_index")
            state.rollback()
            sessions: dict[str, int] = {}
            for sid, seq, _ in events:
                sessions[sid] = max(seq, sessions.get(sid, 0))
            conn.executemany("INSERT INTO search_backlog VALUES (?, ?, -1) ON CONFLICT (session_id) DO UPDATE "
                             "SET upto=max(upto, excluded.upto), done=-1", list(sessions.items()))
            conn.execute("RELEASE search_index")
            return False
        conn.execute("RELEASE search_index")
        return True

    def forget(self, conn: sqlite3.Connection, session_id: str, upto: int | None = None) -> None:
        """Remove a session's documents (those starting at or below `upto`, if given) from the index."""
        bound = 2**63 - 1 if upto is None else upto
        conn.execute("INSERT INTO search_words(search_words, rowid, words) SELECT 'delete', docid, words "
                     "FROM search_docs WHERE session_id=? AND lo<=? AND words IS NOT NULL", (session_id, bound))
        conn.execute("DELETE FROM search_docs WHERE session_id=? AND lo<=?", (session_id, bound))
        if upto is None:
            conn.execute("DELETE FROM search_backlog WHERE session_id=?", (session_id,))
            self._live.forget(session_id)
            self._migration.forget(session_id)

    def _index(self, conn: sqlite3.Connection, events: list[tuple[str, int, str]], state: _State) -> None:
        if not events:
            return
        docs = _bulk(events, state)
        if docs is None:
            docs = self._per_event(events, state)
        if docs:
            docs = [d if d[4] is None else (*d[:4], storable(d[4])) for d in docs]
            first_id = conn.execute("SELECT coalesce(max(docid), 0) + 1 FROM search_docs").fetchone()[0]
            conn.executemany("INSERT INTO search_docs VALUES (?, ?, ?, ?, ?, ?)",
                             [(first_id + i, *doc) for i, doc in enumerate(docs)])
            conn.executemany("INSERT INTO search_words(rowid, words) VALUES (?, ?)",
                             [(first_id + i, doc[4]) for i, doc in enumerate(docs) if doc[4] is not None])
        state.apply()

    def _per_event(self, events: list[tuple[str, int, str]], state: _State) -> list[_Doc]:
        # Per event only string scans: a payload written by the runner (compact JSON) without a backslash holds its
        # strings as they are, so from its kind on it is a superset of the event's searchable text (the keys, seen
        # as words, only make the index match more), folded and split in bulk per group. Escaped characters
        # (quotes, newlines, terminal controls) and DEL (removed by the terminal rendering) take the slow path:
        # the event parsed and its text rendered as search shows it.
        docs: list[_Doc] = []
        group: list[str] = []
        group_sid, group_lo, group_hi = "", 0, 0
        # Changes to the carried state are made on copies and applied once the documents are stored.
        messages: dict[tuple[str, str, str], _Message] = {}
        chunks: dict[tuple[str, str, str], list[str]] = {}
        lines: dict[tuple[str, str], _Line | None] = {}
        newest: dict[str, int] = {}

        def close_group() -> None:
            if group:
                docs.append((group_sid, group_lo, group_hi, ROW_GROUP, " ".join(set(fold(" ".join(group)).split()))))
                group.clear()

        for sid, seq, payload in events:
            at = payload.find('"kind":"') + 8
            if at >= 8:
                kind = payload[at:payload.find('"', at)]
                plain = "\\" not in payload
            else:
                kind, plain = kind_of(payload), False
            if kind in MESSAGE_KINDS:
                start = payload.find('"message_id":"') + 14
                text_at = payload.find('"text":"') + 8
                if plain and start >= 14 and text_at >= 8:
                    message_id = payload[start:payload.find('"', start)]
                    text = payload[text_at:payload.find('"', text_at)]
                else:
                    event = loads(payload)
                    raw_id = event.get("message_id")
                    message_id = str(raw_id) if raw_id is not None else f"#{seq}"
                    text = text_of(event)
                key = (sid, kind, message_id)
                message = messages.get(key)
                if message is None:
                    known = state.messages.get(key)
                    message = messages[key] = _Message(seq, seq) if known is None else _Message(
                        known.lo, seq, known.tail)
                    chunks[key] = []
                message.last = seq
                chunks[key].append(text)
                newest[sid] = seq
                continue
            if kind == "output":
                if '"part":' in payload:
                    event = loads(payload)
                    if isinstance(event.get("part"), int):
                        line_key = (sid, str(event.get("stream")))
                        line = lines.get(line_key, state.lines.get(line_key))
                        if event["part"] == 0 or line is None:
                            line = _Line(seq, "")
                        text = text_of(event)
                        if line.text is not None and len(line.text) + len(text) <= LINE_CHARS:
                            line = _Line(line.first, line.text + text)
                            # The whole line so far: a carriage return may have redrawn what earlier parts showed.
                            words = " ".join(set(fold(plain_terminal_line(line.text)).split()))
                            docs.append((sid, line.first, seq, ROW_PARTS, words))
                        else:
                            line = _Line(line.first, None)
                            docs.append((sid, line.first, seq, ROW_PARTS, None))
                        lines[line_key] = line if event.get("truncated") else None
                        continue
                plain = plain and "\x7f" not in payload
            elif kind not in SIMPLE_KINDS:
                continue
            if sid != group_sid or len(group) >= GROUP_EVENTS:
                close_group()
                group_sid, group_lo = sid, seq
            group.append(payload[at:] if plain else searchable(loads(payload)))
            group_hi = seq
        close_group()
        for key, message in messages.items():
            text = message.tail + "".join(chunks[key])
            docs.append((key[0], message.lo, message.last, ROW_MESSAGE, " ".join(set(fold(text).split()))))
            message.tail = _tail(text)
        for key, message in messages.items():
            state.staged.append((state.messages, key, message))
        for line_key, first in lines.items():
            state.staged.append((state.lines, line_key, first))
        if len(state.messages) > 64:
            # Messages long finished: their deltas come close together, so nothing more will join them.
            for key, message in state.messages.items():
                if message.last < newest.get(key[0], message.last) - STALE_GAP:
                    state.staged.append((state.messages, key, None))
        return docs


def _bulk(events: list[tuple[str, int, str]], state: _State) -> list[_Doc] | None:
    """The documents of a batch of one session that is all plain lines (a command's flood) or all deltas of one
    message (an agent's), found by scans of the whole batch in C instead of a Python step per event; None for any
    other batch."""
    sid = events[0][0]
    if not all(map(sid.__eq__, map(_SESSION_OF, events))):
        return None
    payloads = list(map(_PAYLOAD_OF, events))
    batch = "\n".join(payloads)  # compact JSON holds no raw newline
    if batch.count('"kind":"') != len(events):
        return None
    if '"kind":"assistant"' not in batch and '"kind":"thinking"' not in batch:
        if "\\" in batch or "\x7f" in batch or '"part":' in batch:
            return None
        # Lines from their text's first character on (seq, time, kind, stream and the "text" key are of no use to
        # a search, and every character costs FTS5 a trigram); other events whole (those of kinds not searched
        # only add a few words to their group).
        if batch.count('"kind":"output"') == len(events):
            texts = [payload[payload.find('"text":"') + 8:] for payload in payloads]
        else:
            texts = payloads
        docs: list[_Doc] = []
        for i in range(0, len(events), GROUP_EVENTS):
            text = fold("\n".join(texts[i:i + GROUP_EVENTS]))
            if len(text) > RAW_CHARS:
                text = " ".join(set(text.split()))
            docs.append((sid, events[i][1], events[min(i + GROUP_EVENTS, len(events)) - 1][1], ROW_GROUP, text))
        return docs
    # One message's deltas: every payload of the same kind and message id (counted, not parsed: compact JSON with
    # no backslash has no quote inside a string).
    if "\\" in batch:
        return None
    first = payloads[0]
    at = first.find('"kind":"') + 8
    kind = first[at:first.find('"', at)]
    at = first.find('"message_id":"') + 14
    if at < 14 or kind not in MESSAGE_KINDS:
        return None
    message_id = first[at:first.find('"', at)]
    if batch.count(f'"kind":"{kind}"') != len(events) or batch.count(f'"message_id":"{message_id}"') != len(events):
        return None
    texts = TEXT.findall(batch)
    if len(texts) != len(events):
        return None
    key = (sid, kind, message_id)
    known = state.messages.get(key)
    message = _Message(events[0][1], events[-1][1]) if known is None else _Message(known.lo, events[-1][1], known.tail)
    text = message.tail + "".join(texts)
    message.tail = _tail(text)
    state.staged.append((state.messages, key, message))
    return [(sid, message.lo, message.last, ROW_MESSAGE, " ".join(set(fold(text).split())))]
