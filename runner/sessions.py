"""Sessions and the SessionManager.

A Session numbers its events (seq 1, 2, 3, ... with no holes), hands them to the Journal, and after each commit
wakes the views that follow it. Views do not get a queue of pushed events: each follower keeps a cursor and pulls
everything after it, from a small in-memory tail of recent events or from the journal. That makes catch-up exact by
construction (no race between backlog and live events, no fixed ring) and means a slow view can never slow the
agent or another view.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import json
import logging
import os
import secrets
import signal
import time
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

import orjson

from runner import worktrees
from runner.agents import AGENT_TYPES, Agent
from runner.blobs import BlobStore, Image
from runner.datalock import DataFolderLock
from runner.journal import Journal, StoredSession
from runner.memory import keep_big_allocations_apart, return_freed_memory
from runner.process import proc_stat
from runner.protocol import BATCH_BYTES, BATCH_EVENTS, events_frames, joined_events_frame, scrub_surrogates
from runner.recent import RecentEvents
from runner.vocabulary import LIVE_STATUSES, STATUSES, ErrorCode, Kind, MessageType, RequestError, Status
from runner.worktrees import Worktree

log = logging.getLogger(__name__)

TAIL_EVENTS = 32_768
TAIL_BYTES = 4 * 1024 * 1024
"""Recent committed events kept in memory per followed session (at most this many, and about this many bytes), so
live followers never touch SQLite: more than one commit can hold (MAX_PENDING_EVENTS plus a read), since a follower
that fell behind by a commit read it back from the journal (a command's flood spent an eighth of its CPU there).
Bounded in bytes too: a thousand 1 MB lines must not stay in memory."""
UNFOLLOWED_TAIL_EVENTS = 1024
"""The tail of a session no view follows: enough for a view that comes back after a moment, small for many idle
sessions."""

SHUTDOWN_BUDGET = 12.0
"""Seconds shutdown may take in all (agents get SIGKILL after 5 s; the rest is for the journal)."""

Push = Callable[[dict[str, Any]], None]
_PAYLOAD = itemgetter(1)

# Compact, and UTF-8 kept as is (frames are text; escaping would only inflate them). orjson is several times
# faster than the json module here; the json module takes what orjson refuses (integers beyond 64 bits).
_encode_stdlib = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _encode(event: dict[str, Any]) -> str:
    try:
        return orjson.dumps(event).decode()
    except TypeError:
        return _encode_stdlib(event)


class Session:
    """One session: metadata, sequence bookkeeping, followers, and its agent. Implements AgentHost."""

    def __init__(
        self, manager: SessionManager, record: dict[str, Any], committed: int, client_msg_ids: set[str]
    ) -> None:
        self._manager = manager
        self.id: str = record["id"]
        self.title: str = record["title"]
        self.agent_name: str = record["agent"]
        self.cwd: str = record["cwd"]
        self.options: dict[str, Any] = record.get("options", {})
        self.state: dict[str, Any] = record.get("state", {})
        self.status: str = record.get("status", Status.IDLE)
        self.reason: str | None = record.get("reason")
        """Why the newest status change happened, when it said (`agent_exited`, `runner_restarted`, ...)."""
        self.exit_code: int | None = record.get("exit_code")
        self.created_at: float = record.get("created_at", time.time())
        self.updated_at: float = record.get("updated_at", self.created_at)
        # The two heads of a session: `assigned` is the newest seq handed out (to an event that may still be on its
        # way to disk), `committed` the newest one known to be on disk, the only one views ever hear of.
        self.assigned = committed
        self.committed = committed
        self.recent = RecentEvents()
        self.client_msg_ids = client_msg_ids
        self.followers: set[asyncio.Event] = set()
        self.deleted = False
        self.deleting: asyncio.Task[None] | None = None
        self.worktree = Worktree.from_json(record.get("worktree"))
        self.changed_files: int | None = record.get("changed_files")
        """Files the worktree changed against its base, as of the last turn's end (None: not known yet)."""
        self.agent: Agent = AGENT_TYPES[self.agent_name](self)
        self._input_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- AgentHost -----------------------------------------------------------------------------------------------

    def emit(self, kind: str, **fields: Any) -> None:
        if self.deleted:
            return
        self.assigned += 1
        event = {"seq": self.assigned, "ts": round(time.time(), 3), "kind": kind, **fields}
        self._manager.journal.append(self.id, self.assigned, _encode(event))

    def emit_events(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """emit() for many events (an agent's lines of one read): one timestamp, one append to the journal."""
        if self.deleted or not events:
            return
        ts = round(time.time(), 3)
        seq = self.assigned
        sid = self.id
        rows = []
        nbytes = 0
        dumps = orjson.dumps
        for kind, fields in events:
            seq += 1
            event = {"seq": seq, "ts": ts, "kind": kind, **fields}
            try:  # _encode() inlined: this loop runs for every line an agent prints
                payload = dumps(event).decode()
            except TypeError:
                payload = _encode_stdlib(event)
            nbytes += len(payload)
            rows.append((sid, seq, payload))
        self.assigned = seq
        self._manager.journal.extend(rows, nbytes)

    def emit_lines(self, stream: str, lines: list[str]) -> None:
        """emit_events() of `output` lines, each payload formatted around its text's JSON: no dict per line (a
        command's flood is mostly this)."""
        if self.deleted or not lines:
            return
        ts = round(time.time(), 3)
        head = f',"ts":{orjson.dumps(ts).decode()},"kind":"output","stream":{orjson.dumps(stream).decode()},"text":"'
        first = self.assigned + 1
        seqs = range(first, first + len(lines))
        try:
            # All the texts encoded at once, cut apart where one string ends and the next begins: `","` cannot
            # occur inside an encoded string (its quotes are escaped).
            texts = orjson.dumps(lines)[2:-2].decode().split('","')
        except TypeError:  # a lone surrogate: the stdlib encoder writes it, the journal escapes it
            texts = []
        if len(texts) == len(lines):
            payloads = [f'{{"seq":{seq}{head}{text}"}}' for seq, text in zip(seqs, texts, strict=True)]
        else:
            payloads = [_encode_stdlib({"seq": seq, "ts": ts, "kind": "output", "stream": stream, "text": text})
                        for seq, text in zip(seqs, lines, strict=True)]
        self.assigned = seqs[-1]
        self._manager.journal.extend(list(zip(itertools.repeat(self.id), seqs, payloads)),
                                     sum(map(len, payloads)))

    def store_image(self, image: Image) -> None:
        """Keep an image's bytes in the data folder before the event referring to it is committed, and list it among
        this session's blobs (committed with that event), so deleting the session can remove it."""
        if self.deleted:
            return
        self._manager.blobs.store(image, self._manager.journal.before_commit)
        blobs = self.state.setdefault("blobs", [])
        if image.blob_id not in blobs:
            blobs.append(image.blob_id)
            self.persist()

    def set_status(self, status: str, **fields: Any) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        ends_turn = self.status in LIVE_STATUSES and status not in LIVE_STATUSES
        if ends_turn:
            if self.worktree is not None:
                self.spawn(self.refresh_changes())  # a turn ended: the header's "N files changed" follows it
            # What a long turn's output needed is free now: give it back to the OS (glibc keeps it otherwise).
            asyncio.get_running_loop().call_later(0.5, return_freed_memory)
        self.status = status
        self.reason = fields.get("reason")
        if "exit_code" in fields:
            self.exit_code = fields["exit_code"]
        elif status in LIVE_STATUSES:
            self.exit_code = None
        if "pid" in fields:
            # Remember the process, so a runner restarted after a crash can end what this one left behind. The
            # event keeps it too: views show "Started (pid N)".
            pid = fields["pid"]
            self.state.update(pid=pid, pid_start=_process_start_time(pid))
        self.emit(Kind.STATUS, status=status, **fields)
        if ends_turn:
            # Its seq, in the session object: a view away during a whole turn (idle before and after) still
            # sees that one ended (PROTOCOL.md, `turn_ended`).
            self.state["turn_ended"] = self.assigned
        self.persist()
        self._manager.notify_changed(self)

    def save_state(self, **values: Any) -> None:
        self.state.update(values)
        self.persist()

    async def backpressure(self) -> None:
        await self._manager.journal.wait_capacity()

    # --- bookkeeping ---------------------------------------------------------------------------------------------

    def persist(self) -> None:
        if self.deleted:
            return
        self.updated_at = time.time()
        self._manager.journal.save_session(self.id, self.record())

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "agent": self.agent_name,
            "cwd": self.cwd,
            "options": self.options,
            "state": self.state,
            "status": self.status,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            **({"worktree": self.worktree.to_json(), "changed_files": self.changed_files} if self.worktree else {}),
        }

    def to_json(self) -> dict[str, Any]:
        """The session as views see it (PROTOCOL.md, `list`)."""
        info = {
            "id": self.id,
            "title": self.title,
            "agent": self.agent_name,
            "status": self.status,
            "reason": self.reason,
            "head": self.committed,
            "cwd": self.cwd,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "exit_code": self.exit_code,
            "options": {k: v for k, v in self.options.items()},
            "pending_permissions": len(self.state.get("pending_permissions", {})),
            "turn_ended": self.state.get("turn_ended"),
        }
        if "argv" in self.options:
            info["argv"] = self.options["argv"]
        if self.worktree is not None:
            info["worktree"] = {"branch": self.worktree.branch, "base": self.worktree.base,
                                "path": self.worktree.path, "repo": self.worktree.repo,
                                "changed_files": self.changed_files}
        return info

    def committed_events(self, events: list[tuple[int, str]]) -> None:
        self.committed = events[-1][0]
        self.recent.add(events, TAIL_EVENTS if self.followers else UNFOLLOWED_TAIL_EVENTS, TAIL_BYTES)
        for wake in self.followers:
            wake.set()

    def cached_after(self, after: int, limit: int) -> list[tuple[int, str]] | None:
        """Committed events after `after` from memory, or None when they are older than those kept."""
        return self.recent.after(after, limit)

    async def refresh_changes(self) -> None:
        if self.worktree is None or self.deleted:
            return
        for attempt in range(3):
            try:
                summary = await worktrees.changes(self.worktree)
                break
            except RequestError as exc:
                # git may be busy in that repository (its index lock held by the agent's own git, say): the
                # header's count would stay stale until the next turn, so try again shortly.
                log.warning("session %s: cannot read its worktree's changes: %s", self.id, exc.message)
                if attempt == 2 or self.deleted:
                    return
                await asyncio.sleep(0.5 * (attempt + 1))
            except Exception:
                log.exception("session %s: reading its worktree's changes failed", self.id)
                return
        if len(summary["files"]) != self.changed_files and not self.deleted:
            self.changed_files = len(summary["files"])
            self.persist()
            self._manager.notify_changed(self)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def background_tasks(self) -> list[asyncio.Task[Any]]:
        return list(self._tasks)

    # --- requests ------------------------------------------------------------------------------------------------

    def send(self, text: str, client_msg_id: str | None) -> bool:
        """Journal user text and queue it for the agent. Returns False if client_msg_id was already applied."""
        if client_msg_id is not None:
            if client_msg_id in self.client_msg_ids:
                return False
        if not self.agent.accepts_input():
            raise RequestError(ErrorCode.NOT_RUNNING, f"session {self.id} is {self.status} and takes no input")
        if client_msg_id is not None:
            self.client_msg_ids.add(client_msg_id)
            self._manager.journal.record_client_msg(self.id, client_msg_id)
            self.emit("user", text=text, client_msg_id=client_msg_id)
        else:
            self.emit("user", text=text)
        self.spawn(self._deliver(text))
        return True

    async def _deliver(self, text: str) -> None:
        # One lock per session keeps inputs in the order they were journaled, without making the view that sent
        # them wait for a process that is slow to read its stdin.
        async with self._input_lock:
            try:
                await self.agent.send(text)
            except RequestError as exc:
                self.emit(Kind.ERROR, message=f"input not delivered: {exc.message}", code=exc.code)
            except Exception as exc:  # an agent bug must not take the runner down
                log.exception("agent %s failed to take input", self.agent_name)
                self.emit(Kind.ERROR, message=f"input not delivered: {exc}", code=ErrorCode.INTERNAL)


def _process_start_time(pid: int | None) -> str | None:
    """Linux: the start time of pid (field 22 of /proc/PID/stat), to tell a reused pid from our old agent."""
    fields = None if pid is None else proc_stat(pid)
    return None if fields is None else fields[19].decode()


class SessionManager:
    """All sessions of one runner: create, list, get, rename, stop, delete; pushes list changes to listeners."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self.sessions: dict[str, Session] = {}
        self._listeners: set[Push] = set()
        self._unannounced: set[str] = set()
        """Sessions whose committed head grew since the last `heads` push."""
        self._heads_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.journal: Journal
        self._lock = DataFolderLock(data_dir)
        self.blobs: BlobStore

    @classmethod
    async def open(cls, data_dir: str) -> SessionManager:
        manager = cls(data_dir)
        keep_big_allocations_apart()
        os.makedirs(data_dir, exist_ok=True)
        manager._lock.acquire()
        try:
            manager.journal = await Journal.open(
                os.path.join(data_dir, "journal.sqlite3"), manager._on_commit, manager._on_journal_error
            )
            manager.blobs = await asyncio.to_thread(BlobStore.open, os.path.join(data_dir, "blobs"))
        except BaseException:
            manager._lock.release()
            raise
        for stored in await manager.journal.load():
            manager._restore(stored)
        await asyncio.to_thread(manager.blobs.sweep, manager.referenced_blobs())
        # Worktrees removed by hand leave administrative files behind in their repository: tidy them.
        await worktrees.prune({s.worktree.repo for s in manager.sessions.values() if s.worktree is not None})
        manager._heads_task = asyncio.create_task(manager._push_heads())
        return manager

    def referenced_blobs(self) -> set[str]:
        """The blobs the sessions' events refer to."""
        return {b for s in self.sessions.values() if not s.deleted for b in s.state.get("blobs", ())}

    @property
    def runner_id(self) -> str:
        return self.journal.runner_id

    def _restore(self, stored: StoredSession) -> None:
        # Journals written before input was checked at the door may hold lone surrogates, which no reply can carry.
        record = scrub_surrogates(stored.record)
        if record.get("agent") not in AGENT_TYPES:
            record["agent"] = "command"  # an agent type this runner lacks: keep the transcript readable
        session = Session(self, record, stored.committed, stored.client_msg_ids)
        self.sessions[session.id] = session
        if session.worktree is not None and not os.path.isdir(session.worktree.path) \
                and not session.state.get("worktree_missing"):
            session.emit(Kind.ERROR, code=ErrorCode.WORKTREE_MISSING,
                         message=f"the worktree {session.worktree.path} was removed outside Nightshift")
            session.save_state(worktree_missing=True)
        if session.status in LIVE_STATUSES:
            # Its process belonged to the runner that died; end whatever is left of its group.
            _kill_leftover_group(session.state.get("pid"), session.state.get("pid_start"))
            session.emit(
                Kind.ERROR, message="the runner stopped while this session was running",
                code=ErrorCode.RUNNER_RESTARTED,
            )
            session.set_status(Status.INTERRUPTED, reason=ErrorCode.RUNNER_RESTARTED)
        session.agent.resume_after_restart()

    # --- listeners -------------------------------------------------------------------------------------------------

    def add_listener(self, push: Push) -> None:
        self._listeners.add(push)

    def remove_listener(self, push: Push) -> None:
        self._listeners.discard(push)

    def _push(self, message: dict[str, Any]) -> None:
        for push in list(self._listeners):
            push(message)

    def notify_changed(self, session: Session) -> None:
        self._push({"type": MessageType.SESSION_CHANGED, "session": session.to_json()})

    def _on_commit(self, committed: dict[str, list[tuple[int, str]]]) -> None:
        for sid, events in committed.items():
            session = self.sessions.get(sid)
            if session is not None and not session.deleted:
                session.committed_events(events)
                self._unannounced.add(sid)

    def _on_journal_error(self, message: str | None) -> None:
        self._push({"type": MessageType.JOURNAL_ERROR, "message": message or "", "ok": message is None})

    async def _push_heads(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if not self._unannounced:
                continue
            heads = {sid: self.sessions[sid].committed for sid in self._unannounced if sid in self.sessions}
            self._unannounced.clear()
            if heads:
                self._push({"type": MessageType.HEADS, "heads": heads})

    # --- requests --------------------------------------------------------------------------------------------------

    def get(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None or session.deleted:
            raise RequestError(ErrorCode.UNKNOWN_SESSION, f"no session {session_id!r}")
        return session

    def list(self) -> list[Session]:
        return [s for s in self.sessions.values() if not s.deleted]

    async def create(self, request: Mapping[str, Any]) -> Session:
        agent_name = request.get("agent", "command")
        agent_type = AGENT_TYPES.get(agent_name)
        if agent_type is None:
            raise RequestError(ErrorCode.UNKNOWN_AGENT, f"no agent type {agent_name!r}")
        options = agent_type.check_options(request)
        cwd = request.get("cwd") or os.path.expanduser("~")
        if not os.path.isdir(cwd):
            raise RequestError(ErrorCode.BAD_REQUEST, f"'cwd' is not a folder: {cwd}")
        title = request.get("title") or _default_title(agent_name, options)
        now = time.time()
        session_id = "s-" + secrets.token_hex(6)
        record = {
            "id": session_id,
            "title": title,
            "agent": agent_name,
            "cwd": os.path.abspath(cwd),
            "options": options,
            "state": {},
            "status": Status.IDLE,
            "created_at": now,
            "updated_at": now,
        }
        if request.get("worktree"):
            wt, start = await worktrees.create(
                os.path.join(self.data_dir, "worktrees"), session_id, title, cwd, request.get("base")
            )
            record.update(cwd=start, worktree=wt.to_json(), changed_files=0)
        session = Session(self, record, 0, set())
        self.sessions[session.id] = session
        session.set_status(Status.IDLE)
        await session.agent.start()
        await self.journal.sync()
        return session

    def rename(self, session_id: str, title: str) -> Session:
        """Rename (enqueued for the journal: confirm it to the view after `journal.sync()`)."""
        session = self.get(session_id)
        session.title = title
        session.persist()
        self.notify_changed(session)
        return session

    async def interrupt(self, session_id: str) -> None:
        session = self.get(session_id)
        await session.agent.interrupt()

    async def stop(self, session_id: str) -> None:
        session = self.get(session_id)
        await session.agent.stop()

    async def delete(self, session_id: str, discard_worktree: bool = False) -> None:
        """Delete a session. Its worktree and branch stay on disk unless `discard_worktree` (the user confirmed
        losing what is in them)."""
        session = self.get(session_id)
        # Two views deleting at once share one deletion, and both hear it succeed.
        if session.deleting is None:
            session.deleting = asyncio.ensure_future(self._delete(session, discard_worktree))
        await asyncio.shield(session.deleting)

    async def _delete(self, session: Session, discard_worktree: bool) -> None:
        await session.agent.stop()
        if discard_worktree and session.worktree is not None:
            try:
                await worktrees.discard(session.worktree, force=True)
            except RequestError:
                session.deleting = None
                raise
        session.deleted = True
        for wake in session.followers:
            wake.set()
        self.journal.delete_session(session.id)
        self.sessions.pop(session.id, None)
        self._unannounced.discard(session.id)
        session.recent.clear()  # give the memory back now, not when the last follower lets go
        await self.journal.sync()
        # Only once the deletion is committed: a crash before it must find the session's images still there.
        unreferenced = set(session.state.get("blobs", ())) - self.referenced_blobs()
        if unreferenced:
            self.blobs.forget(unreferenced, self.journal.before_commit)
            await self.journal.sync()
        self._push({"type": MessageType.SESSION_DELETED, "session": session.id})
        await self.journal.purged()  # its events, removed a slice at a time so other sessions go on meanwhile
        await self.journal.release_memory()
        return_freed_memory()

    async def answer(self, session_id: str, request_id: str, behavior: str, message: str | None, *,
                     answers: Mapping[str, str] | None = None,
                     updated_permissions: list[dict[str, Any]] | None = None) -> None:
        session = self.get(session_id)
        await session.agent.answer(request_id, behavior, message, answers=answers,
                                   updated_permissions=updated_permissions)

    async def configure(self, session_id: str, options: Mapping[str, Any]) -> Session:
        session = self.get(session_id)
        await session.agent.configure(options)
        session.persist()
        self.notify_changed(session)
        return session

    # --- worktrees ---------------------------------------------------------------------------------------------

    def _worktree(self, session_id: str) -> tuple[Session, Worktree]:
        session = self.get(session_id)
        if session.worktree is None:
            raise RequestError(ErrorCode.NO_WORKTREE, f"session {session_id} does not work in a worktree of its own")
        return session, session.worktree

    async def changes(self, session_id: str) -> dict[str, Any]:
        session, wt = self._worktree(session_id)
        summary = await worktrees.changes(wt)
        if len(summary["files"]) != session.changed_files:
            session.changed_files = len(summary["files"])
            session.persist()
            self.notify_changed(session)
        return summary

    async def commit(self, session_id: str, message: str) -> str:
        session, wt = self._worktree(session_id)
        if session.status in LIVE_STATUSES:
            raise RequestError(ErrorCode.BUSY, "the agent is working in this worktree: wait for the turn to end")
        sha = await worktrees.commit(wt, message)
        session.emit(Kind.WORKTREE, action="commit", commit=sha, message=message)
        return sha

    async def merge(self, session_id: str, fast_forward_only: bool) -> dict[str, Any]:
        session, wt = self._worktree(session_id)
        result = await worktrees.merge(wt, fast_forward_only)
        session.emit(Kind.WORKTREE, action="merge", base=wt.base, **result)
        return result

    async def discard(self, session_id: str, force: bool) -> None:
        session, wt = self._worktree(session_id)
        if session.status in LIVE_STATUSES:
            raise RequestError(ErrorCode.BUSY, "the agent is working in this worktree: interrupt or stop it first")
        await worktrees.discard(wt, force)
        session.emit(Kind.WORKTREE, action="discard", branch=wt.branch)
        session.worktree = None
        session.persist()
        self.notify_changed(session)

    async def frames_after(
        self, session: Session, after: int, limit: int, max_bytes: int
    ) -> list[tuple[int, str]]:
        """Committed events with seq > after (at most about `limit` of them and `max_bytes` of payload) as
        (last seq, frame) pairs, in order: from memory when recent, else from the journal."""
        cached = session.cached_after(after, limit)
        if cached is not None:
            # Up to and including the event that reaches max_bytes, summed in C rather than per event in Python.
            sizes = list(itertools.accumulate(map(len, map(_PAYLOAD, cached))))
            return list(events_frames(session.id, cached[: bisect.bisect_left(sizes, max_bytes) + 1]))
        joined = await self.journal.read_joined(session.id, after, session.committed, limit, max_bytes,
                                                BATCH_EVENTS, BATCH_BYTES)
        return [(last, joined_events_frame(session.id, count, body)) for last, count, body in joined]

    async def shutdown(self, budget: float = SHUTDOWN_BUDGET) -> int:
        """Stop every agent cleanly (in parallel), then commit the journal and close it, within about `budget`
        seconds even when the disk cannot be written. Returns the number of events that could not be saved."""
        deadline = time.monotonic() + budget
        if self._heads_task is not None:
            self._heads_task.cancel()
        self.journal.release_backpressure()
        results = await asyncio.gather(
            *(s.agent.stop() for s in self.sessions.values()), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                log.error("an agent failed to stop cleanly: %r", result)
        # What sessions still had running in the background (a worktree's changes being counted, input on its way
        # to an agent that is gone now) ends here, not when the loop closes under it.
        leftovers = [t for s in self.sessions.values() for t in s.background_tasks() if not t.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=max(1.0, deadline - time.monotonic()) / 2)
        try:
            await self.journal.close(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            self._lock.release()
        return self.journal.unsaved


def _default_title(agent: str, options: Mapping[str, Any]) -> str:
    argv = options.get("argv")
    if argv:
        return " ".join(argv)[:60]
    return f"{agent} session"


def _kill_leftover_group(pid: int | None, start: str | None) -> None:
    """Kill the process group of an agent orphaned by a runner crash, if it is still the same process."""
    if pid is None or start is None or os.name != "posix":
        return
    if _process_start_time(pid) != start:
        return  # gone, or the pid now belongs to someone else
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
