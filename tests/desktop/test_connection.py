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
