"""The view's state machine: sessions, cursors, outbox and connection status, with no sockets and no Qt.

`ViewCore` is fed connection lifecycle calls (`connecting`, `opened`, `closed`, `connect_failed`) and every
message the runner sends (`receive`). It queues the messages to send in `outgoing` (the connection drains
them) and reports what changed to a `ViewListener`. The first connection and every reconnect go through
exactly the same calls: a first connection is a reconnect with every cursor at 0.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from desktop.core.cursor import SessionCursor
from desktop.core.outbox import Outbox, OutboxItem, OutboxState
from desktop.core.status import ConnectionStatus, Phase
from runner.vocabulary import PROTOCOL_VERSION

log = logging.getLogger(__name__)

RED_AFTER_FAILURES = 5
"""Consecutive failed attempts after which the dot turns from yellow (reconnecting) to red (unreachable)."""
RELEASE_AFTER_S = 300.0
"""A session nobody has shown for this long is detached and its cursor dropped (`release_unshown`): a view open
for days must not stay attached to, and hold the transcript of, every session it ever showed."""

ReplyHandler = Callable[[dict[str, Any] | None], None]
"""Called once with the reply to a request, or with None when the connection ended before it came."""


@dataclass
class _Pending:
    """A request of the current connection waiting for its reply: the core's own (purpose and key say what to
    settle) or a caller's (`on_reply` gets the reply)."""

    purpose: str
    key: str | None = None
    on_reply: ReplyHandler | None = None


@dataclass
class SessionInfo:
    id: str
    title: str = ""
    agent: str = "command"
    status: str = "idle"
    head: int = 0
    seen: int = 0
    """Newest seq the user has looked at; unread = head - seen."""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def unread(self) -> int:
        return max(0, self.head - self.seen)

    @property
    def pending_permissions(self) -> int:
        value = self.data.get("pending_permissions") or 0
        return value if isinstance(value, int) else 0

    def update(self, data: dict[str, Any]) -> None:
        self.data = dict(data)
        self.title = str(data.get("title") or "")
        self.agent = str(data.get("agent") or "command")
        self.status = str(data.get("status") or "idle")
        head = data.get("head")
        if isinstance(head, int):
            self.head = max(self.head, head)


class ViewListener:
    """What the core reports. Every method is optional (the defaults do nothing)."""

    def status_changed(self, status: ConnectionStatus) -> None: ...

    def runner_changed(self, runner_id: str) -> None:
        """A different journal: every transcript must be cleared (cursors restart at 0)."""

    def sessions_listed(self, sessions: list[SessionInfo]) -> None: ...

    def session_updated(self, info: SessionInfo, previous_status: str | None) -> None:
        """A session was created (previous_status None) or changed."""

    def session_removed(self, session_id: str) -> None: ...

    def session_released(self, session_id: str) -> None:
        """The view stopped following a session nobody shows (close_session): its transcript may be freed."""

    def heads_changed(self, session_ids: list[str]) -> None: ...

    def events(self, session_id: str, events: list[dict[str, Any]]) -> None:
        """New events, exactly the next ones after what was handed over before, in order."""

    def outbox_changed(self, session_id: str) -> None: ...

    def agents_listed(self, agents: list[dict[str, Any]]) -> None: ...

    def notice(self, level: str, message: str) -> None: ...


class ViewCore:
    def __init__(self, listener: ViewListener | None = None, runner_label: str = "",
                 client_name: str = "nightshift-desktop", outbox: Outbox | None = None) -> None:
        self.listener = listener or ViewListener()
        self.runner_label = runner_label
        self.client_name = client_name
        self.sessions: dict[str, SessionInfo] = {}
        self.cursors: dict[str, SessionCursor] = {}
        self.outbox = outbox if outbox is not None else Outbox()
        self.agents: list[dict[str, Any]] = []
        self.outgoing: list[dict[str, Any]] = []
        self.runner_id: str | None = None
        self.connected = False
        self.ready = False  # `welcome` received on the current connection
        self.listed = False  # `sessions` received on the current connection
        self.rendering = True
        self.selected: str | None = None
        self.ever_connected = False
        self.attempt = 0
        self.failures = 0
        self.auth_refused = False
        self.untrusted = False
        self.reason: str | None = None
        self.next_retry_at: float | None = None
        self._ids = itertools.count(1)
        self._pending: dict[Any, _Pending] = {}
        """The one table of requests waiting for a reply, keyed by their `id` (a reply's `re`)."""
        self._unshown_since: dict[str, float] = {}
        """Sessions with a cursor that are not selected, and since when (monotonic)."""
        self._first_list = True
        self.status = ConnectionStatus(runner=runner_label)

    # ----------------------------------------------------------------- ids and output

    def _queue(self, msg: dict[str, Any], purpose: str | None = None, key: str | None = None,
               on_reply: ReplyHandler | None = None) -> None:
        if purpose is not None:
            msg["id"] = next(self._ids)
            self._pending[msg["id"]] = _Pending(purpose, key, on_reply)
        self.outgoing.append(msg)

    def request(self, message: dict[str, Any], on_reply: ReplyHandler) -> int:
        """Queue a caller's request on the current connection; `on_reply` gets its reply (an `error` too) or
        None if the connection ends first. Returns its id (for `forget_request`)."""
        msg = dict(message)
        self._queue(msg, "call", on_reply=on_reply)
        return int(msg["id"])

    def forget_request(self, request_id: int) -> None:
        """The caller stopped waiting (a timeout): a late reply is then only state, nobody's answer."""
        self._pending.pop(request_id, None)

    def abandon_requests(self) -> None:
        """The connection ended: no reply will come to anything still waiting."""
        pending, self._pending = self._pending, {}
        for request in pending.values():
            if request.on_reply is not None:
                request.on_reply(None)

    def drain(self) -> list[dict[str, Any]]:
        out, self.outgoing = self.outgoing, []
        return out

    @property
    def open_requests(self) -> int:
        """Requests of this connection still waiting for their reply (bookkeeping that must not grow)."""
        return len(self._pending)

    # ----------------------------------------------------------------- connection lifecycle

    def connecting(self, attempt: int) -> None:
        self.attempt = attempt
        self.next_retry_at = None
        self._update_status()

    def connect_failed(self, reason: str, *, auth: bool = False, untrusted: bool = False,
                       next_retry_at: float | None = None) -> None:
        """`auth`: the token was refused; `untrusted`: the certificate was (the token was never sent). Both wait
        for the user."""
        self.failures += 1
        self.auth_refused = auth
        self.untrusted = untrusted
        self.reason = reason
        self.next_retry_at = next_retry_at
        self._update_status()

    def opened(self) -> None:
        self.connected = True
        self.ready = False
        self.listed = False
        self.failures = 0
        self.auth_refused = False
        self.untrusted = False
        self.reason = None
        self.next_retry_at = None
        self.outgoing.clear()
        self.abandon_requests()
        self.outbox.connection_lost()
        self._queue({"type": "hello", "protocol": PROTOCOL_VERSION, "client": self.client_name}, "hello")
        self._update_status()

    def closed(self, reason: str, next_retry_at: float | None = None) -> None:
        was_connected = self.connected
        self.connected = False
        self.ready = False
        self.listed = False
        self.outgoing.clear()
        self.abandon_requests()
        self.outbox.connection_lost()
        for cursor in self.cursors.values():
            cursor.unsubscribe()
        if was_connected:
            self.ever_connected = True
        self.reason = reason
        self.next_retry_at = next_retry_at
        self._update_status()

    def waiting_for_user(self) -> None:
        """The connection tries again only when the user acts (a refused token): no retry time to show."""
        self.next_retry_at = None
        self._update_status()

    # ----------------------------------------------------------------- user actions

    def open_session(self, session_id: str) -> SessionCursor:
        """Follow a session's transcript (from its start, or from where this view already is)."""
        cursor = self.cursors.get(session_id)
        if cursor is None:
            cursor = self.cursors[session_id] = SessionCursor(session_id)
        if session_id != self.selected:
            self._unshown_since.setdefault(session_id, time.monotonic())
        if self.ready and self.rendering and not cursor.subscribed:
            self._attach(cursor)
        self._update_status()
        return cursor

    def close_session(self, session_id: str) -> None:
        """Stop following a session: detach, drop its cursor, and let the listener free its transcript (opening
        it again starts from seq 0)."""
        cursor = self.cursors.pop(session_id, None)
        self._unshown_since.pop(session_id, None)
        if cursor is None:
            return
        if cursor.subscribed and self.ready:
            self._queue({"type": "detach", "session": session_id})
        self.listener.session_released(session_id)
        self._update_status()

    def release_unshown(self, older_than: float = RELEASE_AFTER_S, now: float | None = None) -> list[str]:
        """Close every followed session that has not been selected for `older_than` seconds; returns them."""
        now = time.monotonic() if now is None else now
        released = [sid for sid, since in self._unshown_since.items()
                    if sid != self.selected and now - since >= older_than]
        for sid in released:
            self.close_session(sid)
        return released

    def select(self, session_id: str | None) -> None:
        previous, self.selected = self.selected, session_id
        if previous is not None and previous != session_id and previous in self.cursors:
            self._unshown_since[previous] = time.monotonic()
        if session_id is not None:
            self._unshown_since.pop(session_id, None)
            self._mark_read(session_id)

    def send_text(self, session_id: str, text: str) -> OutboxItem:
        item = self.outbox.add(session_id, text)
        if self.ready:
            self._send_item(item)
        self.listener.outbox_changed(session_id)
        return item

    def answer(self, session_id: str, request_id: str, behavior: str, message: str | None = None,
               answers: dict[str, str] | None = None,
               updated_permissions: list[dict[str, Any]] | None = None) -> OutboxItem:
        """A permission answer (with the user's `answers` to an agent's questions): kept in the outbox (on disk)
        until the runner settles it, like a message."""
        item = self.outbox.add_answer(session_id, request_id, behavior, message, answers, updated_permissions)
        if self.ready and item.state is OutboxState.QUEUED:
            self._send_item(item)
        return item

    def retry_outbox(self, client_msg_id: str) -> None:
        item = self.outbox.retry(client_msg_id)
        if item is None:
            return
        if self.ready:
            self._send_item(item)
        self.listener.outbox_changed(item.session)

    def discard_outbox(self, client_msg_id: str) -> None:
        item = self.outbox.discard(client_msg_id)
        if item is not None:
            self.listener.outbox_changed(item.session)

    def set_rendering(self, enabled: bool) -> None:
        """Off: detach every session (only statuses and heads keep flowing). On: re-attach each after the
        last seq handed over, so the missed events arrive as one batch."""
        if enabled == self.rendering:
            return
        self.rendering = enabled
        if self.ready:
            for cursor in self.cursors.values():
                if enabled and not cursor.subscribed:
                    self._attach(cursor)
                elif not enabled and cursor.subscribed:
                    cursor.unsubscribe()
                    self._queue({"type": "detach", "session": cursor.session_id})
        if enabled and self.selected:
            self._mark_read(self.selected)
        self._update_status()

    # ----------------------------------------------------------------- the one dispatcher

    def receive(self, msg: dict[str, Any]) -> None:
        """Handle any message from the runner: first what it says (state), then, for a reply, the request it
        settles (each reply settles exactly one request, in one place)."""
        kind = msg.get("type")
        handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) else None
        if handler is not None:
            handler(msg)
        re = msg.get("re")
        request = self._pending.pop(re, None) if re is not None else None
        if request is not None:
            self._settle(request, msg)
        elif kind == "error" and re is None:
            self.listener.notice("error", _error_text(msg))
        self._update_status()

    def _on_welcome(self, msg: dict[str, Any]) -> None:
        runner_id = msg.get("runner_id")
        if isinstance(runner_id, str) and self.runner_id is not None and runner_id != self.runner_id:
            # Another journal: our seqs point into a different history.
            for cursor in self.cursors.values():
                cursor.reset()
            for info in self.sessions.values():
                info.head = 0
                info.seen = 0
            self._first_list = True
            self.listener.runner_changed(runner_id)
        if isinstance(runner_id, str):
            self.runner_id = runner_id
        self.ready = True
        # The runner serves a connection's requests in order, and `agents` may run each CLI's --version: ask
        # for it last, after the session list, the catch-up the user waits for (after a wake, say) and the
        # outbox (on a flapping link a connection may not live long enough for anything behind it).
        self._queue({"type": "list"}, "list")
        if self.rendering:
            for cursor in self.cursors.values():
                self._attach(cursor)
        for item in self.outbox.to_send():
            self._send_item(item)
        self._queue({"type": "agents"}, "agents")

    def _on_sessions(self, msg: dict[str, Any]) -> None:
        raw = msg.get("sessions") or []
        listed = [s for s in raw if isinstance(s, dict) and isinstance(s.get("id"), str)]
        present = {s["id"] for s in listed}
        for gone in [sid for sid in self.sessions if sid not in present]:
            self._remove(gone)
        # Items restored from disk for sessions deleted meanwhile: there is nowhere to show or send them.
        orphaned = {i.session for i in self.outbox} - present
        for sid in sorted(orphaned):
            self._drop_outbox(sid)
        for data in listed:
            info = self.sessions.get(data["id"])
            if info is None:
                info = self.sessions[data["id"]] = SessionInfo(data["id"])
                if self._first_list:
                    # What existed before this view started is not "unread".
                    head = data.get("head")
                    info.seen = head if isinstance(head, int) else 0
            info.update(data)
        self._first_list = False
        self.listed = True
        if self.selected:
            self._mark_read(self.selected, notify=False)
        self.listener.sessions_listed(list(self.sessions.values()))

    def _upsert(self, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return
        info = self.sessions.get(data["id"])
        previous = None if info is None else info.status
        if info is None:
            info = self.sessions[data["id"]] = SessionInfo(data["id"])
        info.update(data)
        if info.id == self.selected:
            self._mark_read(info.id, notify=False)
        self.listener.session_updated(info, previous)

    def _on_session_changed(self, msg: dict[str, Any]) -> None:
        self._upsert(msg.get("session"))

    def _on_session(self, msg: dict[str, Any]) -> None:
        self._upsert(msg.get("session"))

    def _on_created(self, msg: dict[str, Any]) -> None:
        self._upsert(msg.get("session"))

    def _on_session_deleted(self, msg: dict[str, Any]) -> None:
        sid = msg.get("session")
        if isinstance(sid, str) and sid in self.sessions:
            self._remove(sid)

    def _remove(self, sid: str) -> None:
        self.sessions.pop(sid, None)
        self.cursors.pop(sid, None)
        self._unshown_since.pop(sid, None)
        if self.selected == sid:
            self.selected = None
        self.listener.session_removed(sid)
        self._drop_outbox(sid)

    def _drop_outbox(self, sid: str) -> None:
        dropped = self.outbox.drop_session(sid)
        if dropped:
            n = len(dropped)
            self.listener.notice("warning", f"{n} unsent message(s) dropped: the session was deleted")

    def _on_heads(self, msg: dict[str, Any]) -> None:
        heads = msg.get("heads")
        if not isinstance(heads, dict):
            return
        changed = []
        for sid, head in heads.items():
            info = self.sessions.get(sid)
            if info is not None and isinstance(head, int) and head > info.head:
                info.head = head
                changed.append(sid)
        if self.selected in changed:
            self._mark_read(self.selected, notify=False)
        if changed:
            self.listener.heads_changed(changed)

    def _on_attached(self, msg: dict[str, Any]) -> None:
        cursor = self.cursors.get(msg.get("session"))  # type: ignore[arg-type]
        head = msg.get("head")
        if cursor is None or not cursor.subscribed or not isinstance(head, int):
            return
        cursor.confirm_attach(head)
        info = self.sessions.get(cursor.session_id)
        if info is not None and head > info.head:
            info.head = head
        self._deliver(cursor, [])

    def _on_event(self, msg: dict[str, Any]) -> None:
        event = {k: v for k, v in msg.items() if k not in ("type", "session")}
        self._take(msg.get("session"), [event])

    def _on_events(self, msg: dict[str, Any]) -> None:
        events = msg.get("events")
        if isinstance(events, list):
            self._take(msg.get("session"), [e for e in events if isinstance(e, dict)])

    def _take(self, sid: Any, events: list[dict[str, Any]]) -> None:
        cursor = self.cursors.get(sid) if isinstance(sid, str) else None
        if cursor is None:
            return
        taken, gap = cursor.accept(events)
        if gap and not cursor.attach_pending and self.ready:
            self._attach(cursor)
        if taken:
            confirmed = False
            for event in taken:
                kind = event.get("kind")
                if kind == "user":
                    cmid = event.get("client_msg_id")
                    if isinstance(cmid, str) and self.outbox.confirm(cmid):
                        confirmed = True
                elif kind == "permission_answer":
                    request_id = event.get("request_id")
                    if isinstance(request_id, str):
                        self.outbox.settle_answer(cursor.session_id, request_id)
            info = self.sessions.get(cursor.session_id)
            if info is not None and cursor.last > info.head:
                info.head = cursor.last
            if info is not None and info.id == self.selected and self.rendering:
                self._mark_read(info.id, notify=False)
            if confirmed:
                self.listener.outbox_changed(cursor.session_id)
        self._deliver(cursor, taken)

    def _deliver(self, cursor: SessionCursor, taken: list[dict[str, Any]]) -> None:
        """Hand events over: at once when live, in one batch at the end of a catch-up."""
        if cursor.caught_up and not cursor.held:
            if taken:
                self.listener.events(cursor.session_id, taken)
            return
        cursor.held.extend(taken)
        if cursor.caught_up and cursor.held:
            batch, cursor.held = cursor.held, []
            self.listener.events(cursor.session_id, batch)

    def _on_sent(self, msg: dict[str, Any]) -> None:
        cmid = msg.get("client_msg_id")
        if not isinstance(cmid, str):
            return
        if msg.get("duplicate") is True:
            # Applied before this send, on an earlier connection or by an earlier run: the runner has it in
            # its journal (its dedup outlives restarts), and catch-up shows the event.
            item = self.outbox.confirm(cmid)
        else:
            # Acknowledged; kept until the journal shows it (the module doc of desktop.core.outbox says why).
            item = self.outbox.delivered(cmid)
        if item is not None:
            self.listener.outbox_changed(item.session)

    def _on_agents(self, msg: dict[str, Any]) -> None:
        agents = msg.get("agents")
        if isinstance(agents, list):
            self.agents = [a for a in agents if isinstance(a, dict)]
            self.listener.agents_listed(self.agents)

    def _on_journal_error(self, msg: dict[str, Any]) -> None:
        self.listener.notice("warning", f"The runner cannot write its journal: {msg.get('message')}")

    def _settle(self, request: _Pending, reply: dict[str, Any]) -> None:
        """A reply to one of this connection's requests: a caller's goes to the caller (who reports its errors),
        the core's own settles what it was sent for."""
        if request.on_reply is not None:
            try:
                request.on_reply(reply)
            except Exception:  # the caller's bug must not cost the core this message
                log.exception("a reply handler failed")
            return
        failed = reply.get("type") == "error"
        key = request.key
        if request.purpose == "send" and key is not None and failed:
            item = self.outbox.fail(key, _error_text(reply))
            if item is not None:
                self.listener.outbox_changed(item.session)
        elif request.purpose == "answer" and key is not None:
            # Settled either way: an answer cannot be retried into a request that is gone. `unknown_request`
            # is the normal fate of an answer resent after a crash (it was applied before), so say nothing.
            self.outbox.confirm(key)
            if failed and reply.get("code") != "unknown_request":
                self.listener.notice("error", f"The permission answer was not delivered: {_error_text(reply)}")
        elif request.purpose == "attach" and key is not None and failed:
            if reply.get("code") == "unknown_session":
                if key in self.sessions:
                    self._remove(key)
                else:
                    self.cursors.pop(key, None)
                    self._unshown_since.pop(key, None)
            else:
                self.listener.notice("error", _error_text(reply))
        elif failed and request.purpose != "send":
            self.listener.notice("error", _error_text(reply))

    # ----------------------------------------------------------------- helpers

    def _attach(self, cursor: SessionCursor) -> None:
        after = cursor.start_attach()
        msg = {"type": "attach", "session": cursor.session_id, "after": after}
        self._queue(msg, "attach", cursor.session_id)

    def _send_item(self, item: OutboxItem) -> None:
        if item.answer is not None:
            msg: dict[str, Any] = {"type": "answer", "session": item.session, **item.answer}
            self._queue(msg, "answer", item.client_msg_id)
        else:
            msg = {"type": "send", "session": item.session, "text": item.text,
                   "client_msg_id": item.client_msg_id}
            self._queue(msg, "send", item.client_msg_id)
        self.outbox.in_flight(item)

    def _mark_read(self, sid: str, notify: bool = True) -> None:
        info = self.sessions.get(sid)
        if info is None or not self.rendering:
            return
        if info.seen != info.head:
            info.seen = info.head
            if notify:
                self.listener.heads_changed([sid])

    def subscribed_cursors(self) -> Iterable[SessionCursor]:
        return (c for c in self.cursors.values() if c.subscribed)

    def _compute_status(self) -> ConnectionStatus:
        base = {"runner": self.runner_label, "attempt": self.attempt}
        if self.connected:
            behind = sum(c.behind for c in self.subscribed_cursors())
            behind_any = any(not c.caught_up for c in self.subscribed_cursors())
            waiting = not self.ready or not self.listed or behind_any
            if waiting:
                return ConnectionStatus(Phase.CATCHING_UP, behind=behind, **base)
            return ConnectionStatus(Phase.LIVE, **base)
        extra = {"reason": self.reason, "next_retry_at": self.next_retry_at}
        if self.untrusted:
            return ConnectionStatus(Phase.UNTRUSTED, **base, **extra)
        if self.auth_refused:
            return ConnectionStatus(Phase.TOKEN_REFUSED, **base, **extra)
        if self.failures >= RED_AFTER_FAILURES:
            return ConnectionStatus(Phase.UNREACHABLE, **base, **extra)
        if self.failures == 0 and not self.ever_connected:
            return ConnectionStatus(Phase.NOT_CONNECTED, **base)
        return ConnectionStatus(Phase.RECONNECTING, **base, **extra)

    def _update_status(self) -> None:
        status = self._compute_status()
        if status != self.status:
            self.status = status
            self.listener.status_changed(status)


def _error_text(msg: dict[str, Any]) -> str:
    return str(msg.get("message") or msg.get("code") or "error")
