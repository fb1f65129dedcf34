"""Journal: the durable, append-only record of every session's events and metadata (SQLite, WAL mode).

Writes are group-committed: callers enqueue events and metadata changes synchronously (they already carry their seq),
and a flusher task commits everything pending in one transaction on a dedicated writer thread at most
FLUSH_INTERVAL after the first pending write. Only after the commit are events handed to `on_commit`, so views only
ever see committed events and a crash can never re-issue a seq a view has already seen.

Worst case lost on `kill -9` of the runner: the events of the last FLUSH_INTERVAL plus one commit's duration
(typically under 30 ms). WAL with synchronous=NORMAL survives process death without losing committed transactions;
only an OS crash or power loss can roll back the last commits, and never leaves a corrupt file.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

from runner.search_index import SearchIndex

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.010
"""Seconds a pending write may wait for companions before it is committed."""

MAX_PENDING_EVENTS = 10_000
MAX_PENDING_BYTES = 64 * 1024 * 1024
"""Beyond these, agent output readers wait (backpressure) until the journal has caught up."""

ARRAY_INSERT_BYTES = 4 * 1024 * 1024
"""Payload bytes up to which a commit's events are inserted as one JSON array (see _insert_events): more than
MAX_PENDING_EVENTS lines of a few hundred characters (at 1 MB, a flood of 120-character lines went in a row at a
time, at twice the cost per row)."""

RETRY_DELAY = 1.0
"""Seconds between attempts when a commit fails (a full disk, for example)."""

CHECKPOINT_BYTES = 4 * 1024 * 1024
"""Payload bytes committed between two checkpoints (about what SQLite's default of 1,000 pages holds)."""
WAL_LIMIT_PAGES = 16_000
"""WAL pages (64 MB) past which the writer checkpoints itself after each commit, so the WAL starts over (see
`_start_checkpoint`)."""
PURGE_SLICE = 5_000
"""Events of a deleted session removed per transaction (with their search documents): deleting 200,000 at once held
the writer, and every other session's events, for a second."""
CLOSE_WAIT = 2.0
"""Seconds close() waits for each connection to close on its thread (a commit stuck on a hung disk holds the
writer's): then it gives up on it, so shutdown never hangs."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deleted_sessions (session_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS client_msgs (
    session_id TEXT NOT NULL,
    client_msg_id TEXT NOT NULL,
    PRIMARY KEY (session_id, client_msg_id)
) WITHOUT ROWID;
"""


@dataclass
class StoredSession:
    """A session as loaded from the journal: its metadata record, newest committed seq and seen client_msg_ids."""

    record: dict[str, Any]
    committed: int
    client_msg_ids: set[str] = field(default_factory=set)


@dataclass
class _Pending:
    """Writes accepted but not yet committed, in arrival order per table."""

    events: list[tuple[str, int, str]] = field(default_factory=list)
    sessions: dict[str, str | None] = field(default_factory=dict)  # id -> record JSON, None = delete
    client_msgs: list[tuple[str, str]] = field(default_factory=list)
    before: list[Callable[[], None]] = field(default_factory=list)
    """Run on the writer thread before the commit (in order): files events refer to (runner/blobs.py)."""
    nbytes: int = 0
    synced: list[asyncio.Future[None]] = field(default_factory=list)
    """Callers of `Journal.sync()` waiting for exactly these writes to be committed."""

    def __bool__(self) -> bool:
        return bool(self.events or self.sessions or self.client_msgs or self.before)

    def settle(self, error: BaseException | None = None) -> None:
        for fut in self.synced:
            if not fut.done():
                if error is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(error)
        self.synced.clear()


CommitCallback = Callable[[dict[str, list[tuple[int, str]]]], None]
"""Receives, per session id, the (seq, payload) pairs just committed, in seq order."""


def _by_session(events: list[tuple[str, int, str]]) -> dict[str, list[tuple[int, str]]]:
    """Committed rows as (seq, payload) pairs per session, in order."""
    if not events:
        return {}
    sid = events[0][0]
    if all(map(sid.__eq__, map(_SESSION_OF, events))):
        # The usual case, one busy session: zip in C rather than a Python loop per event.
        return {sid: list(zip(map(_SEQ_OF, events), map(_PAYLOAD_OF, events), strict=True))}
    committed: dict[str, list[tuple[int, str]]] = {}
    for sid, seq, payload in events:
        committed.setdefault(sid, []).append((seq, payload))
    return committed


_SESSION_OF, _SEQ_OF, _PAYLOAD_OF = itemgetter(0), itemgetter(1), itemgetter(2)


def _insert_events(conn: sqlite3.Connection, events: list[tuple[str, int, str]], nbytes: int) -> None:
    """Store (session_id, seq, payload) rows. The usual batch, one session's next seqs, goes in as one JSON array
    that SQLite takes apart itself: executemany() would take the GIL back for every row (from a busy event loop:
    up to a switch interval each time) and bind three values per row in Python. Big rows go one by one (the
    array would be two more copies of them, and their per-row cost is small beside their size)."""
    sid, first = events[0][0], events[0][1]
    if (1 < len(events) and nbytes <= ARRAY_INSERT_BYTES and all(map(sid.__eq__, map(_SESSION_OF, events)))
            and list(map(_SEQ_OF, events)) == list(range(first, first + len(events)))):
        try:
            array = orjson.dumps(list(map(_PAYLOAD_OF, events))).decode()
        except orjson.JSONEncodeError:
            pass  # a lone surrogate: executemany() below raises the UnicodeEncodeError the writer repairs
        else:
            # SQLite's JSON strings decode to exactly the text encoded.
            conn.execute("INSERT OR REPLACE INTO events SELECT ?, ? + key, value FROM json_each(?)",
                         (sid, first, array))
            return
    conn.executemany("INSERT OR REPLACE INTO events VALUES (?, ?, ?)", events)


class JournalError(Exception):
    pass


def _create_private(path: str) -> None:
    """Create the journal file owner-only before SQLite opens it: SQLite gives its -wal and -shm files the mode of
    the database file, so every transcript stays private. An existing file is narrowed to 0600 (older installs)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if os.name == "posix":
        os.chmod(directory, 0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if os.name == "posix":
        for name in (path, path + "-wal", path + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(name, 0o600)


def _escape_surrogates(text: str) -> str:
    """Lone surrogates (valid in a Python str, not in UTF-8) as JSON escapes: the payloads are JSON, so the text
    stays lossless and storable. Only used after a write failed on them; the server refuses them at the door."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _make_storable(batch: _Pending) -> None:
    batch.events = [(sid, seq, _escape_surrogates(payload)) for sid, seq, payload in batch.events]
    batch.client_msgs = [(sid, _escape_surrogates(cmid)) for sid, cmid in batch.client_msgs]
    batch.sessions = {
        sid: None if record is None else _escape_surrogates(record) for sid, record in batch.sessions.items()
    }


def _report_flusher_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("journal: the writer stopped; nothing more is saved", exc_info=task.exception())


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class Journal:
    """The SQLite journal. Create with `await Journal.open(path, on_commit)`; call `close()` to flush and close."""

    def __init__(
        self, path: str, on_commit: CommitCallback, on_error: Callable[[str | None], None] | None = None
    ) -> None:
        self.path = path
        self._on_commit = on_commit
        self._on_error = on_error or (lambda message: None)
        # One thread writes, another reads, each with its own connection: a view reading a large backlog never
        # delays a commit (WAL lets readers and the writer proceed together).
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="journal-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="journal-reader")
        # Checkpoints (copying the WAL into the database file, with its fsyncs) on a third thread: on the writer
        # they took a fifth of its time, and the writer is what a flood waits for.
        self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="journal-checkpoint")
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._cconn: sqlite3.Connection | None = None
        self._checkpoint: asyncio.Future[None] | None = None
        self._unchecked_bytes = 0
        self._pending = _Pending()
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False
        self.runner_id = ""
        self._round_done: asyncio.Future[None] | None = None
        self._inflight: _Pending | None = None
        self._give_up = False
        self._releasing = False
        self.failing: str | None = None
        self.commits = 0
        self._index = SearchIndex()
        self._migration: asyncio.Task[None] | None = None
        self._purge: asyncio.Task[None] | None = None
        self._purge_wakeup = asyncio.Event()
        self._purged = asyncio.Event()
        self.unsaved = 0
        """Events that could not be committed before `close()` gave up (a full or read-only disk)."""

    @classmethod
    async def open(
        cls, path: str, on_commit: CommitCallback, on_error: Callable[[str | None], None] | None = None
    ) -> Journal:
        journal = cls(path, on_commit, on_error)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(journal._writer, journal._open_writer)
        await loop.run_in_executor(journal._reader, journal._open_reader)
        await loop.run_in_executor(journal._checkpointer, journal._open_checkpointer)
        journal._flusher = asyncio.create_task(journal._flush_loop(), name="journal-flusher")
        journal._flusher.add_done_callback(_report_flusher_end)
        journal._migration = asyncio.create_task(journal._migrate(), name="journal-search-migration")
        journal._purge = asyncio.create_task(journal._purge_loop(), name="journal-purge")
        journal._purge_wakeup.set()  # what a deletion before a crash or a close left
        return journal

    def _open_writer(self) -> None:
        try:
            _create_private(self.path)
        except OSError as exc:
            raise JournalError(f"cannot create journal {self.path}: {exc.strerror or exc}") from exc
        try:
            conn = _connect(self.path)
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_LIMIT_PAGES}")  # below that, the checkpointer's thread
            conn.executescript(SCHEMA)
            self._index.create(conn)
            row = conn.execute("SELECT value FROM meta WHERE key='runner_id'").fetchone()
            if row is None:
                self.runner_id = uuid.uuid4().hex
                conn.execute("INSERT INTO meta VALUES ('runner_id', ?)", (self.runner_id,))
            else:
                self.runner_id = row[0]
            result = conn.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"cannot open journal {self.path}: {exc}") from exc
        if result[0] != "ok":
            raise JournalError(f"journal {self.path} is damaged: {result[0]}")
        self._wconn = conn

    def _open_reader(self) -> None:
        self._rconn = _connect(self.path)

    def _open_checkpointer(self) -> None:
        self._cconn = _connect(self.path)

    # --- loading -----------------------------------------------------------------------------------------------

    async def load(self) -> list[StoredSession]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._load)

    def _load(self) -> list[StoredSession]:
        assert self._rconn is not None
        conn = self._rconn
        heads = dict(conn.execute("SELECT session_id, MAX(seq) FROM events GROUP BY session_id"))
        msgs: dict[str, set[str]] = {}
        for sid, cid in conn.execute("SELECT session_id, client_msg_id FROM client_msgs"):
            msgs.setdefault(sid, set()).add(cid)
        out = []
        for sid, record in conn.execute("SELECT id, record FROM sessions"):
            out.append(StoredSession(json.loads(record), heads.get(sid, 0), msgs.get(sid, set())))
        out.sort(key=lambda s: s.record.get("created_at", 0))
        return out

    # --- writing -----------------------------------------------------------------------------------------------

    def append(self, session_id: str, seq: int, payload: str) -> None:
        self._pending.events.append((session_id, seq, payload))
        self._pending.nbytes += len(payload)
        self._kick()

    def extend(self, rows: list[tuple[str, int, str]], nbytes: int) -> None:
        """append() for many (session_id, seq, payload) rows; nbytes is the total length of their payloads."""
        self._pending.events += rows
        self._pending.nbytes += nbytes
        self._kick()

    def save_session(self, session_id: str, record: dict[str, Any]) -> None:
        self._pending.sessions[session_id] = json.dumps(record)
        self._kick()

    def delete_session(self, session_id: str) -> None:
        self._pending.events = [e for e in self._pending.events if e[0] != session_id]
        self._pending.client_msgs = [m for m in self._pending.client_msgs if m[0] != session_id]
        self._pending.sessions[session_id] = None
        self._kick()

    def before_commit(self, action: Callable[[], None], nbytes: int = 0) -> None:
        """Run `action` on the writer thread before the commit of what is enqueued from now on: a file that the next
        events refer to is on disk before they are. If it raises, the batch is retried like a failed commit, so it
        must be idempotent. `nbytes` (what it holds in memory until then) counts toward the backpressure bound."""
        self._pending.before.append(action)
        self._pending.nbytes += nbytes
        self._kick()

    def record_client_msg(self, session_id: str, client_msg_id: str) -> None:
        self._pending.client_msgs.append((session_id, client_msg_id))
        self._kick()

    def _kick(self) -> None:
        if not self._wakeup.is_set():  # called per event: skip the work when a flush is already due
            self._drained.clear()
            self._wakeup.set()

    @property
    def over_capacity(self) -> bool:
        # What is held in memory: waiting for the next commit, and the batch being committed (held again if that
        # commit fails); counting only the first let the bound be exceeded twice over while the disk stalled.
        events, nbytes = len(self._pending.events), self._pending.nbytes
        if self._inflight is not None:
            events += len(self._inflight.events)
            nbytes += self._inflight.nbytes
        return events > MAX_PENDING_EVENTS or nbytes > MAX_PENDING_BYTES

    def release_backpressure(self) -> None:
        """Shutdown: agents' output readers stop waiting for capacity, so their processes can be stopped and
        reaped even while the disk cannot be written (what they print meanwhile stays in memory, bounded by their
        pipes, until `close()` saves or counts it)."""
        self._releasing = True
        self._finish_round()

    async def wait_capacity(self) -> None:
        """Return once the pending backlog is below its bound (at once in the normal case)."""
        while self.over_capacity and not self._closing and not self._releasing:
            self._kick()
            await self._commit_round_done()

    async def _commit_round_done(self) -> None:
        if self._round_done is None:
            self._round_done = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._round_done)

    async def sync(self) -> None:
        """Return once every write enqueued before this call is committed.

        Replies that confirm a change (`created`, `sent`, ...) await this first: nothing is acknowledged before it
        is on disk. Raises JournalError if the journal gave up while closing."""
        batch = self._pending if self._pending else self._inflight
        if batch is None:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch.synced.append(fut)
        self._kick()
        await fut

    async def flush(self) -> None:
        """Wait until everything enqueued so far is committed (or the journal has given up while closing)."""
        if self._pending:
            self._kick()
        await self._drained.wait()

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not self._pending:
                self._drained.set()
                if self._closing:
                    return
                continue
            if not self._closing and not self.over_capacity:
                await asyncio.sleep(FLUSH_INTERVAL)
            batch, self._pending = self._pending, _Pending()
            self._inflight = batch
            try:
                await loop.run_in_executor(self._writer, self._commit, batch)
            except Exception as exc:
                # The writer survives anything: keep every event, put the batch back in front of what arrived
                # meanwhile, tell the views, and retry.
                self._inflight = None
                if isinstance(exc, UnicodeEncodeError):
                    _make_storable(batch)
                elif not isinstance(exc, (sqlite3.Error, OSError)):
                    log.exception("journal: unexpected error while committing")
                self._requeue(batch)
                message = f"journal write failed: {exc}; {len(self._pending.events)} events held in memory"
                if self.failing != message:
                    log.error(message)
                    self.failing = message
                    self._on_error(message)
                self._finish_round()
                if self._closing and self._give_up:
                    self._drained.set()
                    return
                if not isinstance(exc, UnicodeEncodeError):  # repaired: retry at once
                    await asyncio.sleep(RETRY_DELAY)
                self._wakeup.set()
                continue
            self._inflight = None
            if self.failing is not None:
                self.failing = None
                self._on_error(None)
            self.commits += 1
            if None in batch.sessions.values():
                self._purged.clear()
                self._purge_wakeup.set()
            self._start_checkpoint(batch.nbytes)
            self._finish_round()
            committed = _by_session(batch.events)
            if committed:
                try:
                    self._on_commit(committed)
                except Exception:
                    log.exception("journal: a commit listener failed")
            batch.settle()
            if self._pending:
                self._wakeup.set()
            else:
                self._drained.set()

    def _finish_round(self) -> None:
        fut, self._round_done = self._round_done, None
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _requeue(self, batch: _Pending) -> None:
        newer = self._pending
        batch.events.extend(newer.events)
        batch.client_msgs.extend(newer.client_msgs)
        batch.before.extend(newer.before)
        batch.sessions.update(newer.sessions)
        batch.nbytes += newer.nbytes
        batch.synced.extend(newer.synced)
        self._pending = batch

    def _commit(self, batch: _Pending) -> None:
        conn = self._wconn
        assert conn is not None
        while batch.before:  # each done once, even when the commit below fails and the batch is retried
            batch.before[0]()
            batch.before.pop(0)
        conn.execute("BEGIN")
        try:
            if batch.events:
                _insert_events(conn, batch.events, batch.nbytes)
                self._index.add(conn, batch.events)
            if batch.client_msgs:
                conn.executemany("INSERT OR IGNORE INTO client_msgs VALUES (?, ?)", batch.client_msgs)
            for sid, record in batch.sessions.items():
                if record is None:
                    # Gone for good with this commit; its events and search documents are removed after it, a
                    # slice at a time (_purge_loop).
                    conn.execute("DELETE FROM client_msgs WHERE session_id=?", (sid,))
                    conn.execute("DELETE FROM sessions WHERE id=?", (sid,))
                    conn.execute("DELETE FROM search_backlog WHERE session_id=?", (sid,))
                    conn.execute("INSERT OR IGNORE INTO deleted_sessions VALUES (?)", (sid,))
                else:
                    conn.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?)", (sid, record))
            conn.execute("COMMIT")
        except BaseException:
            # SQLite rolls back by itself on some errors (SQLITE_FULL among them); don't mask the real error.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._index.rollback()
            raise

    # --- checkpoints ---------------------------------------------------------------------------------------------

    def _start_checkpoint(self, written: int) -> None:
        """Copy what the WAL holds into the database file, on the checkpointer's thread, after every
        CHECKPOINT_BYTES committed (`written`: bytes of payload just committed; one checkpoint at a time).

        Such a checkpoint runs beside the writer's commits, so during a long flood it never finds the WAL
        entirely copied, and SQLite starts the WAL over only after one did: the WAL would grow for as long as the
        flood lasts. So the writer keeps SQLite's own checkpoint after each commit (by default past a thousand
        pages) past WAL_LIMIT_PAGES: one of those that does not meet a checkpoint here completes (what is left to
        copy is small by then), and the next commit starts the WAL over."""
        self._unchecked_bytes += written
        if self._unchecked_bytes < CHECKPOINT_BYTES or self._closing or self._cconn is None:
            return
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        self._unchecked_bytes = 0
        self._checkpoint = asyncio.get_running_loop().run_in_executor(self._checkpointer, self._run_checkpoint)
        self._checkpoint.add_done_callback(self._checkpoint_done)

    def _run_checkpoint(self) -> None:
        assert self._cconn is not None
        self._cconn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    @staticmethod
    def _checkpoint_done(fut: asyncio.Future[None]) -> None:
        # Not the commits' business (they are durable in the WAL); the writer's own checkpoints bound the WAL.
        if not fut.cancelled() and fut.exception() is not None:
            log.warning("journal: checkpoint failed: %s", fut.exception())

    async def _purge_loop(self) -> None:
        """Remove what deleted sessions left (their events and search documents), PURGE_SLICE events per
        transaction on the writer's thread, between commits. Each pass ends by setting `_purged`, failed or not."""
        loop = asyncio.get_running_loop()
        while True:
            await self._purge_wakeup.wait()
            self._purge_wakeup.clear()
            try:
                while not self._closing:
                    assert self._wconn is not None
                    if not await loop.run_in_executor(self._writer, self._purge_step, self._wconn):
                        break
                    # A slice's deletion rewrites far more pages than its events' bytes (the FTS segments, the
                    # freed pages): a checkpoint after each keeps the writer's own (at 64 MB) from ever coming.
                    self._start_checkpoint(CHECKPOINT_BYTES)
            except sqlite3.Error as exc:
                # Left for the next deletion or the next start; the sessions themselves are gone already.
                log.warning("journal: the events of deleted sessions could not be removed yet: %s", exc)
            except Exception:
                log.exception("journal: removing the events of deleted sessions failed")
            self._purged.set()

    def _purge_step(self, conn: sqlite3.Connection) -> bool:
        """Remove the oldest PURGE_SLICE events of a deleted session, in one transaction; False when nothing is
        left to remove."""
        conn.execute("BEGIN")
        try:
            row = conn.execute("SELECT session_id FROM deleted_sessions LIMIT 1").fetchone()
            if row is None:
                conn.execute("COMMIT")
                return False
            sid = row[0]
            first = conn.execute("SELECT min(seq) FROM events WHERE session_id=?", (sid,)).fetchone()[0]
            if first is None:
                self._index.forget(conn, sid)
                conn.execute("DELETE FROM deleted_sessions WHERE session_id=?", (sid,))
            else:
                upto = first + PURGE_SLICE - 1
                conn.execute("DELETE FROM events WHERE session_id=? AND seq<=?", (sid, upto))
                self._index.forget(conn, sid, upto)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return True

    async def purged(self) -> None:
        """Wait until what deleted sessions left is removed, or the attempt failed (logged; tried again at the next
        deletion or start), or the journal is closed."""
        await self._purged.wait()

    async def _migrate(self) -> None:
        """Index what the journal held before it had a search index, a slice at a time between commits (the
        writer thread runs one thing at a time), so opening stays fast and commits wait at most one slice."""
        loop = asyncio.get_running_loop()
        try:
            while not self._closing:
                assert self._wconn is not None
                if not await loop.run_in_executor(self._writer, self._index.migrate_step, self._wconn):
                    break
        except Exception:
            log.exception("journal: indexing for search stopped; unindexed sessions are searched by a scan")

    # --- reading -----------------------------------------------------------------------------------------------

    async def read(
        self, session_id: str, after: int, upto: int, limit: int, max_bytes: int
    ) -> list[tuple[int, str]]:
        """Committed events with after < seq <= upto, at most `limit` of them and about `max_bytes` of payload."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._read, session_id, after, upto, limit, max_bytes)

    def _read(
        self, session_id: str, after: int, upto: int, limit: int, max_bytes: int
    ) -> list[tuple[int, str]]:
        assert self._rconn is not None
        rows = self._rconn.execute(
            "SELECT seq, payload FROM events WHERE session_id=? AND seq>? AND seq<=? ORDER BY seq LIMIT ?",
            (session_id, after, upto, limit),
        ).fetchall()
        # Up to and including the row that reaches max_bytes, summed in C rather than per row in Python.
        sizes = list(itertools.accumulate(map(len, map(itemgetter(1), rows))))
        return rows[: bisect.bisect_left(sizes, max_bytes) + 1]

    async def read_joined(
        self, session_id: str, after: int, upto: int, limit: int, max_bytes: int, frame_events: int,
        frame_bytes: int
    ) -> list[tuple[int, int, str]]:
        """Committed events with after < seq <= upto (about `limit` of them and `max_bytes` of payload) in groups of
        at most `frame_events`, each ending with the event that reaches `frame_bytes`, as (last seq, count,
        payloads joined with commas): a catch-up's frames, put together by SQLite."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._read_joined, session_id, after, upto, limit,
                                          max_bytes, frame_events, frame_bytes)

    def _read_joined(
        self, session_id: str, after: int, upto: int, limit: int, max_bytes: int, frame_events: int,
        frame_bytes: int
    ) -> list[tuple[int, int, str]]:
        # One row per group, joined in C: fetching the events one row each made the reader thread take the GIL
        # back for every event, against the event loop sending the frames (most of a catch-up's time).
        assert self._rconn is not None
        groups: list[tuple[int, int, str]] = []
        events = nbytes = 0
        while events < limit and nbytes < max_bytes and after < upto:
            last, count, joined, size = self._rconn.execute(
                "SELECT max(seq), count(*), group_concat(payload, ','), sum(length(payload)) FROM (SELECT seq, "
                "payload FROM events WHERE session_id=? AND seq>? AND seq<=? ORDER BY seq LIMIT ?)",
                (session_id, after, upto, frame_events)).fetchone()
            if not count:
                break
            # Taken as joined when it is `count` consecutive seqs (none missing or repeated) with the first first and
            # the last last (the runner writes each payload starting with its seq; a string cannot hold that
            # unescaped, a nested object with a `seq` key only sends the group down the slow path), within the
            # byte bound. Otherwise (a group with big events, say) its rows are read one by one and cut at the bound.
            if not (size <= frame_bytes and last - after == count and joined.startswith(f'{{"seq":{after + 1},')
                    and joined.rfind('{"seq":') == joined.rfind(f'{{"seq":{last},')):
                rows = self._read(session_id, after, upto, frame_events, frame_bytes)
                payloads = [p for _, p in rows]
                last, count, joined, size = rows[-1][0], len(rows), ",".join(payloads), sum(map(len, payloads))
            groups.append((last, count, joined))
            after, events, nbytes = last, events + count, nbytes + size
        return groups

    async def release_memory(self) -> None:
        """Let SQLite free the page caches of the connections (after a big session is deleted: its pages are
        still cached, several MB each), each on its own thread."""
        loop = asyncio.get_running_loop()
        for pool, conn in ((self._writer, self._wconn), (self._reader, self._rconn), (self._checkpointer, self._cconn)):
            if conn is not None and not self._closing:
                await loop.run_in_executor(pool, conn.execute, "PRAGMA shrink_memory")

    # --- closing -----------------------------------------------------------------------------------------------

    async def close(self, timeout: float = 10.0) -> None:
        """Commit what is pending (retrying a failing disk for up to `timeout` s), then close the files.

        If the disk never recovers, `unsaved` tells how many events were lost and waiting `sync()` callers get a
        JournalError; the caller decides how loudly to fail."""
        self._closing = True
        self._kick()
        for task in (self._migration, self._purge):
            if task is not None:
                # A step in progress finishes on the writer thread before the connection is closed there.
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._purged.set()  # the rest is removed after the next open
        deadline = time.monotonic() + timeout
        while self._flusher is not None and not self._flusher.done():
            if time.monotonic() > deadline:
                self._give_up = True
                self._flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._flusher
                break
            await asyncio.sleep(0.01)
            self._wakeup.set()
        lost = [b for b in (self._inflight, self._pending) if b is not None]
        self.unsaved = sum(len(b.events) for b in lost)
        for batch in lost:
            batch.settle(JournalError("the journal closed before these writes were saved"))
        if self.unsaved:
            log.error("journal: %d events could not be saved before shutdown", self.unsaved)
        loop = asyncio.get_running_loop()
        # The writer's last: closing the last connection checkpoints the WAL and removes it.
        for pool, conn in ((self._checkpointer, self._cconn), (self._reader, self._rconn), (self._writer, self._wconn)):
            if conn is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(loop.run_in_executor(pool, self._close_conn, conn), CLOSE_WAIT)
        # A commit stuck in the writer thread (a hung disk) must not hang shutdown: don't wait for it.
        self._writer.shutdown(wait=False)
        self._reader.shutdown(wait=False)
        self._checkpointer.shutdown(wait=False)

    @staticmethod
    def _close_conn(conn: sqlite3.Connection) -> None:
        conn.close()
