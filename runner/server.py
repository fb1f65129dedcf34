"""The WebSocket server: authentication, one ViewConnection per view, and per-session followers.

A follower is a task with a cursor: after the `attached` reply it pulls committed events after the cursor in batches
until it reaches the session's committed head, then sleeps until the next commit wakes it. There is no per-view
event queue to overflow; a slow view just falls behind and reads from the journal.

Every frame to a view (replies, pushes, `attached`, events) goes out through its one SocketWriter, in the order it
was produced: a `sent` reply never overtakes what the view was sent before it, and no event of a session follows
its `detached`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import http
import json
import logging
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from runner import __version__, files
from runner.agents import detect_agents
from runner.journal import JournalError
from runner.protocol import BATCH_BYTES, BATCH_EVENTS, MAX_INCOMING_FRAME, parse_request, reply
from runner.search import search
from runner.sessions import Session, SessionManager
from runner.vocabulary import PROTOCOL_VERSION, ErrorCode, RequestError

log = logging.getLogger(__name__)

# A follower reads this many frames' worth of events at once: each journal read is a round trip to the reader
# thread (and a wait for the GIL back), which dominated catch-up when taken per frame.
READ_EVENTS = 8 * BATCH_EVENTS
READ_BYTES = 8 * BATCH_BYTES

MAX_PENDING_CONTROL = 10_000
MAX_PENDING_CONTROL_BYTES = 16 * 1024 * 1024
"""Replies and pushes queued for one view (count and bytes); a view that lets more pile up is disconnected: it
reconnects and catches up from its cursors, so nothing is lost, and its backlog no longer holds the runner's memory."""


class RunnerServer:
    """Serves a SessionManager over WebSocket. `await start()`, then `.port`; `await close()`."""

    def __init__(
        self,
        manager: SessionManager,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allowed_origins: Sequence[str] = (),
        ssl_context: ssl.SSLContext | None = None,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
    ) -> None:
        if not token:
            raise ValueError("a token is required")
        self.manager = manager
        self._token = token.encode()
        self.host = host
        self.port = port
        self._origins = set(allowed_origins)
        self._ssl = ssl_context
        self._ping = (ping_interval, ping_timeout)
        self._server: Server | None = None
        self.views: set[ViewConnection] = set()

    @property
    def url(self) -> str:
        scheme = "wss" if self._ssl else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._check_handshake,
            max_size=MAX_INCOMING_FRAME,
            ssl=self._ssl,
            ping_interval=self._ping[0],
            ping_timeout=self._ping[1],
            # On shutdown, a view that does not answer the closing handshake (asleep, half-open) is not waited
            # for long: agents and the journal are what shutdown is for.
            close_timeout=2.0,
            # Compression costs more CPU than it saves on loopback, where most views live.
            compression=None,
            # Let frames queue in the kernel rather than in Python when a view reads slowly.
            write_limit=1024 * 1024,
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]

    def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        origins = request.headers.get_all("Origin")
        auths = request.headers.get_all("Authorization")
        if len(origins) > 1 or len(auths) > 1:
            return _refuse(connection, http.HTTPStatus.BAD_REQUEST, "duplicate Origin or Authorization header\n")
        origin = origins[0] if origins else None
        if origin is not None and origin not in self._origins:
            return _refuse(connection, http.HTTPStatus.FORBIDDEN, "origin is not allowed\n")
        auth = auths[0] if auths else ""
        scheme, _, presented = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), self._token):
            return _refuse(connection, http.HTTPStatus.UNAUTHORIZED, "missing or wrong token\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        view = ViewConnection(ws, self.manager)
        self.views.add(view)
        try:
            await view.run()
        finally:
            self.views.discard(view)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def _refuse(connection: ServerConnection, status: http.HTTPStatus, body: str) -> Response:
    response = connection.respond(status, body)
    if status == http.HTTPStatus.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


class ViewClosed(Exception):
    """The view's connection is closing: what was queued for it is dropped (it re-attaches from its cursors)."""


class SocketWriter:
    """The one writer of a view's socket: frames go out in the order they were handed over.

    Replies and pushes are queued without waiting, at most MAX_PENDING_CONTROL(_BYTES) of them (`put` says False
    beyond that: the caller closes the view). A follower's frame is waited for (`send`), so a slow view holds its
    followers back, and they read from the journal later, instead of filling the runner's memory."""

    def __init__(self, ws: ServerConnection) -> None:
        self._ws = ws
        self._frames: deque[tuple[str, asyncio.Future[None] | None]] = deque()
        self._ready = asyncio.Event()
        self._in_flight: asyncio.Future[None] | None = None
        self._queued_replies = 0
        self._queued_reply_bytes = 0
        self.closed = False

    @property
    def idle(self) -> bool:
        return not self._frames

    def put(self, frame: str) -> bool:
        """Queue a reply or a push; False when the view has let too many pile up."""
        if self.closed:
            return True  # the connection is going away: nothing more is written to it
        if (
            self._queued_replies >= MAX_PENDING_CONTROL
            or self._queued_reply_bytes + len(frame) > MAX_PENDING_CONTROL_BYTES
        ):
            return False
        self._queued_replies += 1
        self._queued_reply_bytes += len(frame)
        self._frames.append((frame, None))
        self._ready.set()
        return True

    async def send(self, frame: str) -> None:
        """Queue a follower's frame and return once it is written. Raises ViewClosed if it never will be."""
        if self.closed:
            raise ViewClosed
        written = asyncio.get_running_loop().create_future()
        self._frames.append((frame, written))
        self._ready.set()
        await written  # a follower cancelled meanwhile cancels this too, and its frame is skipped

    def close(self) -> None:
        """Drop everything queued; followers waiting for their frames get ViewClosed."""
        self.closed = True
        waiting = [written for _, written in self._frames if written is not None]
        if self._in_flight is not None:
            waiting.append(self._in_flight)
        self._frames.clear()
        self._queued_replies = self._queued_reply_bytes = 0
        for written in waiting:
            if not written.done():
                written.set_exception(ViewClosed())

    async def run(self) -> None:
        frames = self._frames
        try:
            while True:
                if not frames:
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                frame, written = frames.popleft()
                if written is None:
                    self._queued_replies -= 1
                    self._queued_reply_bytes -= len(frame)
                elif written.done():  # its follower was cancelled (detach, re-attach) before it went out
                    continue
                self._in_flight = written
                await self._ws.send(frame)
                self._in_flight = None
                if written is not None and not written.done():
                    written.set_result(None)
        finally:
            self.close()


def _error_frame(exc: BaseException, request: dict[str, Any]) -> dict[str, Any]:
    """The `error` reply for what a request raised: the one mapping from exceptions to error codes."""
    if isinstance(exc, RequestError):
        return dict(exc.to_frame(request.get("id")))
    if isinstance(exc, JournalError):
        return dict(RequestError(ErrorCode.NOT_SAVED, str(exc)).to_frame(request.get("id")))
    # A bug: nothing a client sends may take the runner down, and the view hears what failed.
    log.error("internal error handling %r", request.get("type"), exc_info=exc)
    return dict(RequestError(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}").to_frame(request.get("id")))


class ViewConnection:
    """One connected view: reads its requests, replies, pushes list changes, and runs its followers."""

    def __init__(self, ws: ServerConnection, manager: SessionManager) -> None:
        self.ws = ws
        self.manager = manager
        self.followers: dict[str, asyncio.Task[None]] = {}
        self._writer = SocketWriter(ws)
        self._closing = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        self.manager.add_listener(self._push)
        writer = asyncio.create_task(self._write())
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    self._send(RequestError(ErrorCode.BINARY_FRAME, "only text frames are accepted").to_frame())
                    continue
                await self._dispatch(frame)
        except ConnectionClosed:
            pass
        finally:
            self.manager.remove_listener(self._push)
            writer.cancel()
            for task in self.followers.values():
                task.cancel()
            # Requests in flight (stop, delete, ...) run to completion: a view going away never cancels them.

    # --- outgoing ----------------------------------------------------------------------------------------------

    def _send(self, message: Any) -> None:
        """Queue a reply or push (a dict) for the view."""
        if self._closing:
            return
        if not self._writer.put(json.dumps(message, ensure_ascii=False)):
            log.warning("view is not reading its replies; closing its connection (it catches up when it returns)")
            self._abandon(1013, "view too slow")

    def _push(self, message: dict[str, Any]) -> None:
        self._send(message)

    def _abandon(self, code: int, reason: str) -> None:
        """Close this view's connection and drop what was queued for it; the view reconnects from its cursors."""
        if self._closing:
            return
        self._closing = True
        self._writer.close()
        self._spawn(self.ws.close(code, reason))

    async def _write(self) -> None:
        try:
            await self._writer.run()
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("could not send a frame to a view; closing its connection")
            self._abandon(1011, "internal error")

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- requests ----------------------------------------------------------------------------------------------

    async def _dispatch(self, frame: str) -> None:
        request: dict[str, Any] = {}
        try:
            request = parse_request(frame)
            handler = getattr(self, "_on_" + request["type"])
            await handler(request)
        except Exception as exc:
            self._send(_error_frame(exc, request))

    def _in_background(self, request: dict[str, Any], coro: Any, done: dict[str, Any]) -> None:
        """Run a slow request (stop, delete, ...) without holding up this view's other requests."""

        async def result() -> dict[str, Any]:
            await coro
            return done

        self._reply_with(request, result())

    def _reply_with(self, request: dict[str, Any], coro: Any) -> None:
        """Run `coro` in the background and send the reply it returns (or the error it raises)."""

        async def run() -> None:
            try:
                done = await coro
            except Exception as exc:
                self._send(_error_frame(exc, request))
            else:
                self._send(reply(done, request))

        self._spawn(run())

    async def _on_hello(self, request: dict[str, Any]) -> None:
        version = request.get("protocol", PROTOCOL_VERSION)
        if version != PROTOCOL_VERSION:
            raise RequestError(
                ErrorCode.UNSUPPORTED_PROTOCOL,
                f"this runner speaks protocol {PROTOCOL_VERSION}, not {version}",
                request.get("id"),
            )
        self._send(
            reply(
                {
                    "type": "welcome",
                    "protocol": PROTOCOL_VERSION,
                    "runner": f"nightshift-runner {__version__}",
                    "runner_id": self.manager.runner_id,
                },
                request,
            )
        )

    async def _on_ping(self, request: dict[str, Any]) -> None:
        self._send(reply({"type": "pong"}, request))

    async def _on_list(self, request: dict[str, Any]) -> None:
        self._send(
            reply({"type": "sessions", "sessions": [s.to_json() for s in self.manager.list()]}, request)
        )

    async def _on_get(self, request: dict[str, Any]) -> None:
        session = self.manager.get(request["session"])
        self._send(reply({"type": "session", "session": session.to_json()}, request))

    async def _on_agents(self, request: dict[str, Any]) -> None:
        infos = await detect_agents()
        self._send(reply({"type": "agents", "agents": [i.to_json() for i in infos]}, request))

    async def _on_create(self, request: dict[str, Any]) -> None:
        session = await self.manager.create(request)
        self._send(reply({"type": "created", "session": session.to_json()}, request))

    def _when_saved(self, request: dict[str, Any], done: dict[str, Any]) -> None:
        """Reply `done` once everything enqueued so far is committed: nothing is confirmed before it is durable.
        The wait runs beside the view's next requests, so a burst of sends is not one commit window apiece."""
        self._in_background(request, self.manager.journal.sync(), done)

    async def _on_rename(self, request: dict[str, Any]) -> None:
        self.manager.rename(request["session"], request["title"])
        self._when_saved(request, {"type": "ok"})

    async def _on_send(self, request: dict[str, Any]) -> None:
        session = self.manager.get(request["session"])
        cmid = request.get("client_msg_id")
        applied = session.send(request["text"], cmid)  # a duplicate's original may still be pending: sync waits
        self._when_saved(
            request, {"type": "sent", "session": session.id, "client_msg_id": cmid, "duplicate": not applied}
        )

    async def _on_interrupt(self, request: dict[str, Any]) -> None:
        self.manager.get(request["session"])
        self._in_background(request, self.manager.interrupt(request["session"]), {"type": "ok"})

    async def _on_stop(self, request: dict[str, Any]) -> None:
        self.manager.get(request["session"])
        self._in_background(request, self.manager.stop(request["session"]), {"type": "ok"})

    async def _on_delete(self, request: dict[str, Any]) -> None:
        self.manager.get(request["session"])
        self._in_background(
            request, self.manager.delete(request["session"], request.get("discard_worktree", False)), {"type": "ok"}
        )

    # Worktree requests run git, which can take a while: in the background, like stop and delete.

    async def _on_changes(self, request: dict[str, Any]) -> None:
        async def run() -> dict[str, Any]:
            summary = await self.manager.changes(request["session"])
            return {"type": "changes", "session": request["session"], **summary}

        self._reply_with(request, run())

    async def _on_commit(self, request: dict[str, Any]) -> None:
        async def run() -> dict[str, Any]:
            sha = await self.manager.commit(request["session"], request["message"])
            await self.manager.journal.sync()
            return {"type": "committed", "session": request["session"], "commit": sha}

        self._reply_with(request, run())

    async def _on_merge(self, request: dict[str, Any]) -> None:
        async def run() -> dict[str, Any]:
            result = await self.manager.merge(request["session"], request.get("fast_forward_only", False))
            await self.manager.journal.sync()
            return {"type": "merged", "session": request["session"], **result}

        self._reply_with(request, run())

    async def _on_discard(self, request: dict[str, Any]) -> None:
        async def run() -> dict[str, Any]:
            await self.manager.discard(request["session"], request.get("force", False))
            await self.manager.journal.sync()
            return {"type": "ok"}

        self._reply_with(request, run())

    async def _on_answer(self, request: dict[str, Any]) -> None:
        await self.manager.answer(
            request["session"], request["request_id"], request["behavior"], request.get("message"),
            answers=request.get("answers"), updated_permissions=request.get("updated_permissions"),
        )
        self._when_saved(request, {"type": "ok"})

    async def _on_configure(self, request: dict[str, Any]) -> None:
        options = {k: request[k] for k in ("model", "permission_mode") if k in request}
        session = await self.manager.configure(request["session"], options)
        self._when_saved(request, {"type": "session", "session": session.to_json()})

    async def _on_resize(self, request: dict[str, Any]) -> None:
        session = self.manager.get(request["session"])
        resize = getattr(session.agent, "resize", None)
        if resize is None:
            raise RequestError(ErrorCode.BAD_REQUEST, f"session {session.id} has no terminal to resize")
        await resize(request["cols"], request["rows"])
        self._send(reply({"type": "ok"}, request))

    async def _on_search(self, request: dict[str, Any]) -> None:
        session = self.manager.get(request["session"])

        async def run() -> dict[str, Any]:
            found = await search(self.manager.journal.path, session.id, request["query"],
                                 request.get("limit"), request.get("before_seq"))
            return {"type": "search_results", "session": session.id, "query": request["query"], **found}

        self._reply_with(request, run())

    async def _on_list_dir(self, request: dict[str, Any]) -> None:
        self._reply_with(request, files.list_dir(request.get("path", "")))

    async def _on_get_blob(self, request: dict[str, Any]) -> None:
        blobs = self.manager.blobs
        blob_id = request["blob"]

        async def run() -> None:
            try:
                media_type, data = await blobs.read(blob_id)
                frame = json.dumps(reply({"type": "blob", "blob": blob_id, "media_type": media_type,
                                          "bytes": len(data), "data": base64.b64encode(data).decode("ascii")},
                                         request))
                del data
                # Waited for like a follower's frame, not queued as a reply: a few images of some MB each must not
                # count as a view that does not read its replies.
                await self._writer.send(frame)
            except (ConnectionClosed, ViewClosed):
                pass
            except Exception as exc:
                self._send(_error_frame(exc, request))

        self._spawn(run())

    async def _on_attach(self, request: dict[str, Any]) -> None:
        session = self.manager.get(request["session"])
        old = self.followers.pop(session.id, None)
        if old is not None:
            old.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await old
        # Queued before the follower's first frame, so `attached` comes first and in order with other replies.
        self._send(reply({"type": "attached", "session": session.id, "head": session.committed}, request))
        self.followers[session.id] = asyncio.create_task(self._follow(session, request.get("after", 0)))

    async def _on_detach(self, request: dict[str, Any]) -> None:
        session_id = request["session"]
        task = self.followers.pop(session_id, None)
        if task is None:
            self.manager.get(session_id)  # an unknown id is an error; detaching twice is not
        else:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._send(reply({"type": "detached", "session": session_id}, request))

    async def _follow(self, session: Session, after: int) -> None:
        """Send the backlog after `after`, then live events; exact by construction (see module doc)."""
        wake = asyncio.Event()
        session.followers.add(wake)
        ahead: asyncio.Future[list[tuple[int, str]]] | None = None  # the next frames, read while these are sent
        try:
            cursor = after
            while not session.deleted:
                wake.clear()
                while cursor < session.committed and not session.deleted:
                    if ahead is None:
                        frames = await self.manager.frames_after(session, cursor, READ_EVENTS, READ_BYTES)
                    else:
                        frames, ahead = await ahead, None
                    if not frames:
                        break
                    cursor = frames[-1][0]
                    if cursor < session.committed:
                        # A backlog: read the next events from the journal while these are being sent.
                        ahead = asyncio.ensure_future(
                            self.manager.frames_after(session, cursor, READ_EVENTS, READ_BYTES)
                        )
                    for _, frame in frames:
                        await self._writer.send(frame)
                if session.deleted:
                    break
                await wake.wait()
        except (ConnectionClosed, ViewClosed):
            pass
        except Exception as exc:
            # Say so and close: the view reconnects and re-attaches from its cursor, so nothing is lost.
            log.exception("follower of session %s failed", session.id)
            self._send(RequestError(ErrorCode.INTERNAL, f"follower failed: {exc}").to_frame(session=session.id))
            self._spawn(self._close_after_replies(1011, "follower failed"))
        finally:
            session.followers.discard(wake)
            if ahead is not None:
                ahead.cancel()
                ahead.add_done_callback(lambda task: task.cancelled() or task.exception())

    async def _close_after_replies(self, code: int, reason: str) -> None:
        """Give the writer a moment to send what is queued (the error saying why), then close."""
        for _ in range(100):
            if self._writer.idle:
                break
            await asyncio.sleep(0.01)
        self._abandon(code, reason)
