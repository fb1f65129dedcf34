"""RunnerConnection on its own, without Qt: a real runner on loopback, a real ViewCore, and the connection's
observer hook (no private fields)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from desktop.connection import NotConnected, RunnerConnection, RunnerRequestError
from desktop.core.backoff import Backoff
from desktop.core.status import Phase
from desktop.core.view import ViewCore, ViewListener
from tests.conftest import TOKEN
from tests.desktop.qt.helpers import ConnectionLog, until
from tests.fakes.blackhole_proxy import BlackholeProxy


class Notices(ViewListener):
    def __init__(self) -> None:
        self.notices: list[tuple[str, str]] = []
        self.released: list[str] = []
        self.reasons: list[str] = []

    def status_changed(self, status: Any) -> None:
        if status.reason:
            self.reasons.append(status.reason)

    def notice(self, level: str, message: str) -> None:
        self.notices.append((level, message))

    def session_released(self, session_id: str) -> None:
        self.released.append(session_id)


class View:
    def __init__(self, url: str, token: str = TOKEN) -> None:
        self.listener = Notices()
        self.core = ViewCore(self.listener, runner_label="test")
        self.log = ConnectionLog()
        self.connection = RunnerConnection(url, token, self.core, backoff=Backoff(base=0.05, cap=0.2),
                                           observer=self.log)

    async def live(self) -> View:
        self.connection.start()
        await until(lambda: self.core.status.phase is Phase.LIVE, 30, "live")
        return self


@pytest.fixture
async def view(runner: Any) -> AsyncIterator[View]:
    v = View(runner.url)
    try:
        yield await v.live()
    finally:
        await v.connection.close()


async def test_a_request_gets_its_reply_and_an_error_reply_raises_for_its_caller_only(view: View) -> None:
    created = await view.connection.request({"type": "create", "argv": ["/bin/echo", "hi"], "title": "t"})
    assert created["type"] == "created" and created["session"]["title"] == "t"
    with pytest.raises(RunnerRequestError) as refused:
        await view.connection.request({"type": "rename", "session": "s-none", "title": "x"})
    assert refused.value.code == "unknown_session"
    assert view.listener.notices == []  # the caller reports it; the core does not say it a second time
    assert (await view.connection.request({"type": "ping"}))["type"] == "pong"
    await until(lambda: view.core.open_requests == 0, 30, "every request answered")


async def test_without_a_connection_a_request_fails_at_once(runner: Any) -> None:
    v = View(runner.url)
    with pytest.raises(NotConnected):
        await v.connection.request({"type": "ping"})
    assert v.log.events == []


async def test_a_request_waiting_on_a_dead_socket_fails_when_it_is_dropped_not_at_its_timeout(
        runner: Any) -> None:
    with BlackholeProxy("127.0.0.1", urlsplit(runner.url).port or 0) as proxy:
        v = await View(proxy.url).live()
        try:
            await until(lambda: v.core.open_requests == 0, 30, "the connection's own requests answered")
            proxy.freeze()  # half-open: nothing comes back any more
            with pytest.raises(TimeoutError):
                await v.connection.request({"type": "ping"}, timeout=0.3)
            assert v.core.open_requests == 0  # a caller that gave up leaves nothing behind
            waiting = asyncio.ensure_future(v.connection.request({"type": "ping"}, timeout=60))
            await asyncio.sleep(0)  # the request is on its way
            started = time.monotonic()
            v.connection.reconnect_now("test")
            with pytest.raises(NotConnected):
                await waiting
            assert time.monotonic() - started < 10
            await until(lambda: v.core.status.phase is Phase.LIVE and v.log.opened == 2, 30, "a new socket")
            assert (await v.connection.request({"type": "ping"}))["type"] == "pong"
            assert v.log.max_live == 1
        finally:
            await v.connection.close()


async def test_a_refused_token_is_red_and_not_retried_until_a_new_token(runner: Any) -> None:
    v = View(runner.url, token="wrong")
    v.connection.start()
    try:
        await until(lambda: v.core.status.phase is Phase.TOKEN_REFUSED, 30, "token refused")
        await asyncio.sleep(0.5)
        assert v.log.events == ["connecting", "connect_failed"] and v.log.opened == 0
        v.connection.set_token(TOKEN)
        await until(lambda: v.core.status.phase is Phase.LIVE, 30, "live with the right token")
    finally:
        await v.connection.close()


async def test_a_session_nobody_shows_is_detached_on_the_runner(view: View) -> None:
    sids = []
    for title in ("a", "b"):
        created = await view.connection.request({"type": "create", "argv": ["/bin/echo", title],
                                                 "title": title})
        sids.append(created["session"]["id"])
    for sid in sids:
        view.connection.open_session(sid)
        view.core.select(sid)
    await until(lambda: all(c.caught_up for c in view.core.cursors.values()), 30, "both attached")
    mark = len(view.log.events)
    assert view.connection.release_unshown(0) == [sids[0]]
    await until(lambda: "recv:detached" in view.log.events[mark:], 30, "the runner to confirm the detach")
    assert view.listener.released == [sids[0]] and list(view.core.cursors) == [sids[1]]


async def test_a_probe_answers_on_a_live_socket_and_drops_a_half_open_one(runner: Any) -> None:
    idle = View(runner.url)
    assert await idle.connection.probe(timeout=1) is False  # no socket: says so (and asks for a connection)
    await idle.connection.close()
    with BlackholeProxy("127.0.0.1", urlsplit(runner.url).port or 0) as proxy:
        v = await View(proxy.url).live()
        try:
            assert await v.connection.probe(timeout=10) is True
            assert v.log.opened == 1
            proxy.freeze()
            assert await v.connection.probe(timeout=0.3) is False
            # Dropped at once and replaced, not left to the socket's own (much longer) timeout, saying why.
            await until(lambda: v.core.status.phase is Phase.LIVE and v.log.opened == 2, 30, "a new socket")
            assert "no answer to a probe" in v.listener.reasons
        finally:
            await v.connection.close()


async def test_a_message_and_an_answer_sent_through_the_connection_are_settled_by_the_runner(view: View) -> None:
    created = await view.connection.request({"type": "create", "argv": ["cat"], "title": "echo"})
    sid = created["session"]["id"]
    view.core.open_session(sid)
    view.connection.flush()
    item = view.connection.send_text(sid, "hello\n")
    assert item.session == sid and item.text == "hello\n"
    await until(lambda: not view.core.outbox.for_session(sid), 30, "the message journaled")
    answer = view.connection.answer(sid, "no-such-request", "allow", "fine", answers={"Which?": "A"},
                                    updated_permissions=[{"type": "addRules"}])
    assert answer.session == sid and answer.answer == {
        "request_id": "no-such-request", "behavior": "allow", "message": "fine", "answers": {"Which?": "A"},
        "updated_permissions": [{"type": "addRules"}]}
    # The runner knows no such request: its error settles the answer instead of leaving it to be sent forever.
    await until(lambda: len(view.core.outbox) == 0, 30, "the answer settled")


async def test_a_runner_that_is_not_there_is_named_as_such(unused_tcp_port: int) -> None:
    v = View(f"ws://127.0.0.1:{unused_tcp_port}/")
    v.connection.start()
    try:
        await until(lambda: v.core.status.reason is not None, 30, "a failed attempt")
        assert v.core.status.reason == "connection refused (is the runner running?)"
    finally:
        await v.connection.close()


def test_connection_errors_are_described_in_words() -> None:
    from desktop.connection import _describe

    assert _describe(ConnectionRefusedError()) == "connection refused (is the runner running?)"
    assert _describe(TimeoutError()) == "timed out"
    assert _describe(OSError("Network is unreachable")) == "Network is unreachable"
    assert _describe(OSError()) == "OSError"  # no message: at least what it was


class ScriptedServer:
    """A WebSocket server on loopback that plays one script per connection (instead of a runner), for what a real
    runner does not do on demand: refuse with another HTTP status, close with a code, drop the TCP connection."""

    def __init__(self, script: Any = None, status: int | None = None) -> None:
        self.script, self.status, self.connections = script, status, 0

    async def __aenter__(self) -> ScriptedServer:
        from websockets.asyncio.server import serve

        async def handler(ws: Any) -> None:
            self.connections += 1
            await self.script(ws)

        def refuse(ws: Any, request: Any) -> Any:
            return ws.respond(self.status, "refused\n") if self.status else None

        self._server = await serve(handler, "127.0.0.1", 0, process_request=refuse)
        self.url = f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()


async def test_every_connection_opens_with_the_token_keepalive_frame_limit_and_a_short_close(runner: Any) -> None:
    """What the socket is opened with, on the first connection and on a reconnect alike (one path)."""
    from websockets.asyncio.client import connect

    calls: list[dict[str, Any]] = []

    async def recording_opener(url: str, **options: Any) -> Any:
        calls.append(options)
        return await connect(url, **options)

    v = View(runner.url)
    v.connection = RunnerConnection(runner.url, TOKEN, v.core, backoff=Backoff(base=0.05, cap=0.2),
                                    ping_interval=7.0, ping_timeout=8.0, open_timeout=9.0, observer=v.log,
                                    opener=recording_opener)
    await v.live()
    try:
        v.connection.reconnect_now("test")
        await until(lambda: v.log.opened == 2 and v.core.status.phase is Phase.LIVE, 30, "reconnected")
        assert len(calls) == 2 and calls[0] == calls[1]
        options = calls[0]
        assert options["additional_headers"] == {"Authorization": f"Bearer {TOKEN}"}
        assert "proxy" in options and options["proxy"] is None  # loopback and SSH tunnels: never a system proxy
        assert options["max_size"] == 64 * 1024 * 1024  # a catch-up frame of the runner's 1 MiB bound fits
        assert (options["ping_interval"], options["ping_timeout"], options["open_timeout"]) == (7.0, 8.0, 9.0)
        # A half-open peer never answers a close: the wait for it is short.
        assert 0 < options["close_timeout"] <= 1
    finally:
        await v.connection.close()
        await v.connection.close()  # a second close is harmless
    assert not v.connection.connected

    # By default keepalive is on and opening is bounded (the socket's own ping finds a dead peer).
    plain = RunnerConnection(runner.url, None, ViewCore(Notices()))
    assert None not in (plain.ping_interval, plain.ping_timeout) and plain.open_timeout > 0
    await plain.close()


async def test_without_a_token_no_authorization_is_sent_and_the_refusal_waits_for_one(runner: Any) -> None:
    headers: list[Any] = []

    async def recording_opener(url: str, **options: Any) -> Any:
        from websockets.asyncio.client import connect

        headers.append(options["additional_headers"])
        return await connect(url, **options)

    v = View(runner.url)
    v.connection = RunnerConnection(runner.url, None, v.core, observer=v.log, opener=recording_opener)
    v.connection.start()
    try:
        await until(lambda: v.core.status.phase is Phase.TOKEN_REFUSED, 30, "refused")
        assert headers == [{}]
        assert v.core.status.reason == "the runner refused the token (HTTP 401)"
        assert v.core.status.next_retry_at is None  # no retry is scheduled: only a new token helps
    finally:
        await v.connection.close()


async def test_another_http_refusal_is_named_and_retried_on_its_own() -> None:
    async with ScriptedServer(status=503) as server:
        v = View(server.url)
        v.connection.start()
        try:
            await until(lambda: v.log.events.count("connect_failed") >= 3, 30, "three attempts")
            assert v.core.status.reason == "the runner refused the connection (HTTP 503)"
            assert v.core.status.phase is not Phase.TOKEN_REFUSED and v.core.status.next_retry_at is not None
        finally:
            await v.connection.close()


async def test_attempts_are_counted_from_one_and_again_after_a_connection_worked(runner: Any,
                                                                                  unused_tcp_port: int) -> None:
    attempts: list[int] = []

    class Attempts(Notices):
        def status_changed(self, status: Any) -> None:
            if status.phase in (Phase.RECONNECTING, Phase.UNREACHABLE, Phase.NOT_CONNECTED) and (
                    not attempts or attempts[-1] != status.attempt):
                attempts.append(status.attempt)

    core = ViewCore(Attempts(), runner_label="test")
    nowhere = RunnerConnection(f"ws://127.0.0.1:{unused_tcp_port}/", TOKEN, core, backoff=Backoff(base=0.01, cap=0.02))
    nowhere.start()
    try:
        await until(lambda: len(attempts) >= 4, 30, "four attempts")
        assert attempts[:4] == [1, 2, 3, 4]
    finally:
        await nowhere.close()

    v = await View(runner.url).live()
    try:
        seen: list[int] = []
        v.core.listener.status_changed = lambda status: seen.append(status.attempt)  # type: ignore[method-assign]
        v.connection.reconnect_now("test")
        await until(lambda: v.log.opened == 2 and v.core.status.phase is Phase.LIVE, 30, "reconnected")
        assert max(seen) == 1  # the first attempt after a working connection, not the second
    finally:
        await v.connection.close()


async def test_a_close_from_the_runner_and_a_dropped_socket_are_told_apart() -> None:
    async def close_with_a_code(ws: Any) -> None:
        await ws.close(4001, "bye")

    async with ScriptedServer(close_with_a_code) as server:
        v = View(server.url)
        v.connection.start()
        try:
            await until(lambda: "closed by the runner (4001)" in v.listener.reasons, 30, "the runner's close")
        finally:
            await v.connection.close()

    async def drop(ws: Any) -> None:
        ws.transport.abort()

    async with ScriptedServer(drop) as server:
        v = View(server.url)
        v.connection.start()
        try:
            await until(lambda: v.log.events.count("closed") >= 2, 30, "two dropped connections")
            assert set(v.listener.reasons) == {"connection lost"}
        finally:
            await v.connection.close()


async def test_an_untrusted_certificate_waits_for_the_user_and_says_why() -> None:
    from desktop.core.trust import CertificateError

    async def untrusted(url: str, **options: Any) -> Any:
        raise CertificateError("the runner's certificate changed")

    v = View("wss://127.0.0.1:1/")
    v.connection = RunnerConnection(v.connection.url, TOKEN, v.core, backoff=Backoff(base=0.01, cap=0.02),
                                    observer=v.log, opener=untrusted)
    v.connection.start()
    try:
        await until(lambda: v.core.status.phase is Phase.UNTRUSTED, 30, "untrusted")
        assert v.core.status.reason == "the runner's certificate changed"
        await asyncio.sleep(0.2)  # many back-off delays: still not tried again on its own
        assert v.log.events == ["connecting", "connect_failed"]
        v.connection.retry_now()  # the user trusted it
        await until(lambda: v.log.events.count("connect_failed") == 2, 30, "a second attempt")
    finally:
        await v.connection.close()


async def test_a_frame_orjson_refuses_is_still_read(tmp_path: Any) -> None:
    """A lone surrogate (an agent's hostile text, escaped) makes orjson refuse the frame; the standard parser
    takes it, and the message is handled like any other."""
    async def hostile(ws: Any) -> None:
        await ws.send('{"type": "error", "message": "bad \\ud800 text"}')
        await ws.wait_closed()

    async with ScriptedServer(hostile) as server:
        v = View(server.url)
        v.connection.start()
        try:
            await until(lambda: v.listener.notices, 30, "the message handled")
            assert v.listener.notices == [("error", "bad \ud800 text")]
            assert v.log.events.count("opened") == 1 and "closed" not in v.log.events
        finally:
            await v.connection.close()


async def test_requests_that_cannot_go_fail_for_their_caller_in_words(view: View) -> None:
    with pytest.raises(ValueError, match="cannot send this 'ping' message"):
        await view.connection.request({"type": "ping", "x": float("nan")})  # not JSON: never half-sent
    assert view.core.open_requests == 0
    waiting = asyncio.ensure_future(view.connection.request({"type": "ping"}, timeout=60))
    await asyncio.sleep(0)
    view.connection.reconnect_now("test")
    with pytest.raises(NotConnected, match=r"^the connection was lost$"):
        await waiting
    await view.connection.close()
    with pytest.raises(NotConnected, match=r"^not connected to the runner$"):
        await view.connection.request({"type": "ping"})


async def test_failed_attempts_are_spaced_by_the_backoff_and_say_when_the_next_one_is(unused_tcp_port: int) -> None:
    """The first retry is at once, the next ones wait their back-off (0.2-0.4 s here, jitter only shortens), and
    the status says when (wall clock + delay), so the dot's tooltip can count down."""
    core = ViewCore(Notices(), runner_label="test")
    log = ConnectionLog()
    connection = RunnerConnection(f"ws://127.0.0.1:{unused_tcp_port}/", TOKEN, core, observer=log,
                                  backoff=Backoff(base=0.4, factor=1.0, cap=0.4, jitter=0.5),
                                  wall_clock=lambda: 1000.0)
    retry_at: list[float | None] = []
    core.listener.status_changed = lambda status: retry_at.append(status.next_retry_at)  # type: ignore[method-assign]
    started = time.monotonic()
    connection.start()
    try:
        await until(lambda: log.events.count("connect_failed") >= 4, 30, "four attempts")
        elapsed = time.monotonic() - started
    finally:
        await connection.close()
    # Three waits of 0.2-0.4 s after the immediate first retry; without them, hundreds of attempts.
    assert elapsed >= 0.4
    scheduled = [t for t in retry_at if t is not None]
    assert scheduled[0] == 1000.0  # the first retry: at once
    assert all(1000.2 <= t <= 1000.4 for t in scheduled[1:]) and len(scheduled) >= 3


async def test_after_a_working_connection_ends_the_first_retry_is_at_once(runner: Any) -> None:
    v = View(runner.url)
    v.connection = RunnerConnection(runner.url, TOKEN, v.core, backoff=Backoff(base=600, cap=600), observer=v.log,
                                    wall_clock=lambda: 2000.0)
    await v.live()
    between: list[tuple[str | None, float | None]] = []
    v.listener.status_changed = lambda status: (  # type: ignore[method-assign]
        between.append((status.reason, status.next_retry_at)) if status.phase is Phase.RECONNECTING else None)
    try:
        v.connection.reconnect_now("the window was restored")
        # Any back-off would be 5 to 10 minutes here: the reconnect is at once, and the status says so.
        await until(lambda: v.log.opened == 2 and v.core.status.phase is Phase.LIVE, 30, "reconnected at once")
        assert between[0] == ("the window was restored", 2000.0)
    finally:
        await v.connection.close()


async def test_after_a_refused_token_is_replaced_later_drops_are_retried_on_their_own() -> None:
    """Waiting for the user (a refused token) ends with the new token: a connection dropped afterwards, by the
    runner or on request, is retried by itself like any other."""
    async def close_soon(ws: Any) -> None:
        await asyncio.sleep(0.1)
        await ws.close(1012, "restarting")

    async with ScriptedServer(close_soon, status=401) as server:
        v = View(server.url)
        v.connection.start()
        try:
            await until(lambda: v.core.status.phase is Phase.TOKEN_REFUSED, 30, "refused")
            server.status = None
            v.connection.set_token("the new token")
            await until(lambda: v.log.opened >= 3, 30, "reconnected after each close, unasked")
            v.connection.reconnect_now("asked")
            opened = v.log.opened
            await until(lambda: v.log.opened >= opened + 2, 30, "reconnected after a close after the request")
            assert "closed by the runner (1012)" in v.listener.reasons
        finally:
            await v.connection.close()
