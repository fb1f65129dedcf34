"""RunnerConnection: the one way the desktop talks to a runner (embedded or remote).

One supervisor task owns at most one WebSocket at a time. Every connection, the first one and each
reconnect, runs through `_connect_once` and every frame through `_dispatch`; the view's logic lives in
`ViewCore`, which does not know whether a connection is the first. Nothing here touches Qt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import orjson

from desktop.core.backoff import Backoff
from desktop.core.outbox import OutboxItem
from desktop.core.trust import CertificateError
from desktop.core.view import ViewCore
from runner.vocabulary import RequestError

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024 * 1024

Observer = Callable[[str], None]
"""Told what the connection does, one word each: `connecting`, `opened`, `closed` (a connection that had
opened ended), `connect_failed`, `recv:TYPE`, `send:TYPE`. For tests and diagnostics; the same lines are
logged at DEBUG."""


RunnerRequestError = RequestError
"""The runner answered a request with an `error` (the protocol's one error class)."""


class NotConnected(ConnectionError):
    """There is no live connection to send a request on."""


class RunnerConnection:
    def __init__(self, url: str, token: str | None, core: ViewCore, *,
                 backoff: Backoff | None = None,
                 ping_interval: float | None = 20.0, ping_timeout: float | None = 20.0,
                 open_timeout: float = 10.0, wall_clock: Callable[[], float] = time.time,
                 observer: Observer | None = None,
                 opener: Callable[..., Awaitable[ClientConnection]] | None = None) -> None:
        # websockets is imported here, when the first connection is made, not when the app starts: the window is
        # painted before (the import is about a tenth of the app's start-up).
        from websockets.asyncio.client import connect

        self.url = url
        self.connect = opener or connect
        """Opens the WebSocket, called like websockets' `connect`: TrustOnFirstUse.connect (certificate pinning) or
        SshTunnel.connect (a tunnel to a runner over SSH) where the plain one is not enough."""
        self.token = token
        self.core = core
        self.backoff = backoff or Backoff()
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self._wall = wall_clock
        self._ws: ClientConnection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._auth_blocked = False
        self._attempt = 0
        self._writer_queue: asyncio.Queue[tuple[str, str]] | None = None
        self._observer = observer

    # ------------------------------------------------------------------ public API

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def start(self) -> None:
        if self._supervisor is None:
            loop = asyncio.get_running_loop()
            self._supervisor = loop.create_task(self._supervise(), name="runner-connection")

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        ws = self._ws
        self._abort_socket()
        if ws is not None:
            # abort() only schedules the socket's closing; let it happen before the loop may stop, or the runner
            # sees this view as connected until the process exits.
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(ws.wait_closed(), 2.0)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._supervisor
            self._supervisor = None

    def reconnect_now(self, reason: str) -> None:
        """Drop the current socket (if any) and connect again at once, with the backoff reset."""
        log.info("reconnect now: %s", reason)
        self.backoff.reset()
        self._auth_blocked = False
        self._drop_reason = reason
        self._abort_socket()
        self._wake.set()

    def retry_now(self) -> None:
        """Skip the wait before the next attempt (nothing happens while connected)."""
        if self._ws is None:
            self.backoff.reset()
            self._auth_blocked = False
            self._wake.set()

    def network_back(self) -> None:
        """The network returned: reset the backoff and, when not connected, try at once."""
        self.retry_now()

    def set_token(self, token: str | None) -> None:
        self.token = token
        if self._ws is None:
            self.retry_now()

    async def probe(self, timeout: float = 2.0) -> bool:
        """Application-level ping. No pong in time means the socket is dead (half-open after a sleep, say):
        drop it and reconnect at once. Returns whether the connection answered."""
        ws = self._ws
        if ws is None:
            self.retry_now()
            return False
        try:
            await self.request({"type": "ping"}, timeout=timeout)
            return True
        except (TimeoutError, NotConnected, RunnerRequestError):
            if self._ws is ws:  # not already replaced meanwhile (a wake, say): never drop a fresh socket
                self.reconnect_now("no answer to a probe")
            return False

    async def request(self, message: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """Send a request and wait for its reply; raises RunnerRequestError for an `error` reply."""
        if self._ws is None or self._writer_queue is None:
            raise NotConnected("not connected to the runner")
        # Checked before anything is registered: a message that cannot be sent fails here, for its caller,
        # and leaves no pending request behind.
        _encode(message)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def on_reply(reply: dict[str, Any] | None) -> None:
            if future.done():
                return
            if reply is None:
                future.set_exception(NotConnected("the connection was lost"))
            else:
                future.set_result(reply)

        # The core's one table of requests keys every reply; this waits on its answer.
        rid = self.core.request(message, on_reply)
        self.flush()
        try:
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self.core.forget_request(rid)
        if reply.get("type") == "error":
            raise RequestError.from_frame(reply)
        return reply

    # Actions that go through the core (so they survive reconnects) -------------------------------

    def open_session(self, session_id: str) -> None:
        self.core.open_session(session_id)
        self.flush()

    def release_unshown(self, older_than: float) -> list[str]:
        """Detach sessions nobody has shown for `older_than` seconds (ViewCore.release_unshown)."""
        released = self.core.release_unshown(older_than)
        self.flush()
        return released

    def send_text(self, session_id: str, text: str) -> OutboxItem:
        item = self.core.send_text(session_id, text)
        self.flush()
        return item

    def answer(self, session_id: str, request_id: str, behavior: str, message: str | None = None,
               answers: dict[str, str] | None = None,
               updated_permissions: list[dict[str, Any]] | None = None) -> OutboxItem:
        item = self.core.answer(session_id, request_id, behavior, message, answers, updated_permissions)
        self.flush()
        return item

    def retry_outbox(self, client_msg_id: str) -> None:
        self.core.retry_outbox(client_msg_id)
        self.flush()

    def set_rendering(self, enabled: bool) -> None:
        self.core.set_rendering(enabled)
        self.flush()

    def flush(self) -> None:
        """Write what the core queued. Without a connection it is dropped: the core regenerates everything
        it needs (attaches, outbox) from its state when the next connection opens."""
        # What the user typed is on disk before it can reach the runner: a crash in between must not leave a
        # message the runner never got and the next run does not know about. (Messages queued together cost
        # one write.)
        self.core.outbox.flush()
        messages = self.core.drain()
        if self._writer_queue is None:
            return
        for message in messages:
            try:
                frame = _encode(message)
            except ValueError:
                # A bug in the core, not the user's doing: log it, send the rest.
                log.exception("cannot encode a %r message", message.get("type"))
                continue
            self._writer_queue.put_nowait((str(message.get("type")), frame))

    # ------------------------------------------------------------------ the one path

    async def _supervise(self) -> None:
        delay = 0.0
        while not self._closing:
            if self._auth_blocked:
                self.core.waiting_for_user()
                await self._sleep_until_woken(None)
            elif delay > 0:
                await self._sleep_until_woken(delay)
            self._wake.clear()
            if self._closing:
                break
            try:
                failure = await self._connect_once()
            except Exception as exc:  # never let the supervisor die: the view would stay offline for good
                log.exception("connection attempt failed unexpectedly")
                failure = (f"internal error: {exc}", None)
            if failure is None:
                # A connection ended after working: the first retry is immediate.
                self.backoff.reset()
                delay = self.backoff.next_delay()
                self.core.closed(self._drop_reason, self._wall() + delay)
                self._observe("closed")
            else:
                reason, blocked = failure
                delay = self.backoff.next_delay()
                self._auth_blocked = blocked is not None
                retry_at = None if blocked else self._wall() + delay
                self.core.connect_failed(reason, auth=blocked == "token", untrusted=blocked == "certificate",
                                         next_retry_at=retry_at)
                self._observe("connect_failed")
            self.flush()

    async def _sleep_until_woken(self, timeout: float | None) -> None:
        """Wait for the backoff delay, cut short by retry_now()/reconnect_now()."""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            waiter.cancel()

    async def _connect_once(self) -> tuple[str, Literal["token", "certificate"] | None] | None:
        """Open one connection and serve it until it ends. If it never opened: (reason, what only the user can
        fix: "token" refused, "certificate" not trusted, or None when retrying may help)."""
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

        self._attempt += 1
        self.core.connecting(self._attempt)
        self._observe("connecting")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            ws = await self.connect(
                self.url, additional_headers=headers, proxy=None, max_size=MAX_FRAME,
                ping_interval=self.ping_interval, ping_timeout=self.ping_timeout,
                # A keepalive timeout closes politely first; a half-open peer never answers that close, so
                # keep the wait short: the dead socket is then replaced about ping_interval + ping_timeout in.
                open_timeout=self.open_timeout, close_timeout=0.5,
            )
        except CertificateError as exc:
            # Not retried on its own: only the user can settle it (trust the certificate, or find out why it changed).
            return str(exc), "certificate"
        except InvalidStatus as exc:
            code = exc.response.status_code
            if code == 401:
                return "the runner refused the token (HTTP 401)", "token"
            return f"the runner refused the connection (HTTP {code})", None
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            return _describe(exc), None
        log.info("connected to %s", self.url)
        self._ws = ws
        self._drop_reason = "connection lost"
        self._writer_queue = asyncio.Queue()
        writer = asyncio.get_running_loop().create_task(self._write(ws, self._writer_queue))
        try:
            self._attempt = 0
            self.core.opened()
            self._observe("opened")
            self.flush()
            async for frame in ws:
                self._dispatch(frame)
        except ConnectionClosed as exc:
            if exc.rcvd is not None and self._drop_reason == "connection lost":
                self._drop_reason = f"closed by the runner ({exc.rcvd.code})"
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            self._ws = None
            self._writer_queue = None
            # Callers waiting for a reply learn now, not at their timeout (also when this task is cancelled).
            self.core.abandon_requests()
            self._abort(ws)
        return None

    def _dispatch(self, frame: str | bytes) -> None:
        """Every message from the runner, of every type, on every connection, goes through here."""
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError:
            # orjson refuses lone surrogates (\ud800), which the runner may have to send for an agent's hostile
            # text; the standard parser takes them.
            try:
                msg = json.loads(frame)
            except ValueError:
                log.warning("runner sent a frame that is not JSON")
                return
        if not isinstance(msg, dict):
            return
        self._observe(f"recv:{msg.get('type')}")
        try:
            self.core.receive(msg)
        except Exception:
            # A bug in handling one message must not take the connection down with it; cursors stay exact
            # (an event not taken is asked for again by the next gap check or reconnect).
            log.exception("failed to handle a %r message", msg.get("type"))
        self.flush()

    async def _write(self, ws: ClientConnection, queue: asyncio.Queue[tuple[str, str]]) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                kind, frame = await queue.get()
                self._observe(f"send:{kind}")
                await ws.send(frame)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("writing to the runner failed")
        finally:
            # However the writer ends, the socket goes with it: a connection that can no longer send must not
            # look alive (requests would wait out their timeouts, sends would never leave). The one path then
            # fails what waits for a reply and reconnects.
            self._abort(ws)

    # ------------------------------------------------------------------ helpers

    _drop_reason = "connection lost"

    def _abort_socket(self) -> None:
        if self._ws is not None:
            self._abort(self._ws)

    @staticmethod
    def _abort(ws: ClientConnection) -> None:
        # Abort rather than close: a half-open socket would hold a polite close for its whole close timeout.
        transport = ws.transport
        if transport is not None and not transport.is_closing():
            transport.abort()

    def _observe(self, what: str) -> None:
        log.debug("%s: %s", self.url, what)
        if self._observer is not None:
            self._observer(what)


def _encode(message: dict[str, Any]) -> str:
    """JSON text for the wire; ValueError when the message cannot be sent (not JSON, or NaN/Infinity)."""
    try:
        return json.dumps(message, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot send this {message.get('type')!r} message: {exc}") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the runner running?)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text
