"""The dot, reconnects, exact catch-up, the outbox and paused rendering, against real loopback runners."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from desktop.core.status import Color, ConnectionStatus, Phase
from desktop.core.transcript import RowKind
from tests.desktop.qt.helpers import ConnectionLog, CutProxy, journal, kill_view_sockets, until
from tests.fakes.reply_dropping_proxy import ReplyDroppingProxy

ECHO = ("import sys\n"
        "print('ready', flush=True)\n"
        "for line in sys.stdin:\n"
        "    print('echo: ' + line.rstrip('\\n'), flush=True)\n")


def streamer(lines: int, pause_every: int = 200, pause: float = 0.01) -> list[str]:
    code = (f"import time\nfor i in range({lines}):\n    print('line', i, flush=True)\n"
            f"    if i % {pause_every} == 0: time.sleep({pause})\n")
    return [sys.executable, "-u", "-c", code]


class Phases:
    def __init__(self, app: Any) -> None:
        self.seen: list[ConnectionStatus] = [app.core.status] if app.core else []
        app.status_changed.connect(self.seen.append)

    def colors(self) -> list[Color]:
        out: list[Color] = []
        for s in self.seen:
            if not out or out[-1] is not s.color:
                out.append(s.color)
        return out


async def assert_exact(app: Any, url: str, token: str, sid: str) -> None:
    """The view's transcript holds exactly the journal: no event missing, none doubled, in order."""
    events = await journal(url, token, sid)
    await until(lambda: app.bridge.model(sid).transcript.last_seq >= len(events), 60, "the view to catch up")
    transcript = app.bridge.model(sid).transcript
    while len(events) < transcript.last_seq:
        # The view may already have an event committed after the journal was read (the final status comes
        # after the `exited` the test waited for): read it again rather than compare with a shorter one.
        events = await journal(url, token, sid)
    assert transcript.event_count == len(events)
    assert transcript.out_of_order == 0
    shown = [r.text for r in transcript.rows if r.kind is RowKind.OUTPUT]
    assert shown == [e["text"] for e in events if e["kind"] == "output"]


def test_runner_socket_killed_goes_yellow_then_green(run: Any, make_app: Any, embedded: Any) -> None:
    async def scenario() -> None:
        log = ConnectionLog()
        app = make_app(embedded.url, embedded.token, connection_options={"observer": log})
        phases = Phases(app)
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        assert phases.colors()[0] is Color.GREY and phases.colors()[-1] is Color.GREEN
        mark = len(phases.seen)
        assert kill_view_sockets(embedded) == 1
        await until(lambda: any(s.phase is Phase.RECONNECTING for s in phases.seen[mark:]), 30, "yellow")
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "green again")
        after = [s.color for s in phases.seen[mark:]]
        assert Color.YELLOW in after and after[-1] is Color.GREEN and Color.RED not in after
        assert log.opened == 2 and log.max_live == 1

    run(scenario())


def test_wrong_token_is_red_and_waits_for_a_new_token(run: Any, make_app: Any, embedded: Any) -> None:
    async def scenario() -> None:
        log = ConnectionLog()
        app = make_app(embedded.url, "not-the-token", connection_options={"observer": log})
        await app.start()
        await until(lambda: app.core.status.phase is Phase.TOKEN_REFUSED, 30, "token refused")
        status = app.core.status
        assert status.color is Color.RED and "401" in (status.reason or "")
        assert "token" in status.tooltip().lower()
        assert app.window.indicator.retry_button.isVisibleTo(app.window)
        attempts = app.core.attempt
        await asyncio.sleep(1.0)
        assert app.core.attempt == attempts and log.opened == 0  # no retry storm
        app.connection.set_token(embedded.token)
        await until(lambda: app.core.status.phase is Phase.LIVE, 30, "live with the right token")

    run(scenario())


def test_runner_down_yellow_then_red_then_back_with_exact_catch_up(run: Any, make_app: Any, embedded: Any,
                                                                   qasync_loop: Any) -> None:
    from runner.embedded import EmbeddedRunner

    async def scenario() -> None:
        app = make_app(embedded.url, embedded.token)
        phases = Phases(app)
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        sid = await app.create_session({"argv": streamer(300), "title": "before"})
        await until(lambda: app.core.sessions[sid].status == "exited", 60, "exited")
        mark = len(phases.seen)
        port, data_dir, token = embedded.port, embedded.data_dir, embedded.token
        await asyncio.get_running_loop().run_in_executor(None, embedded.stop)
        await until(lambda: app.core.status.phase is Phase.UNREACHABLE, 60, "red")
        colors = [s.color for s in phases.seen[mark:]]
        assert colors.index(Color.YELLOW) < colors.index(Color.RED)
        assert "attempt" in app.core.status.tooltip() and app.core.status.reason
        back = EmbeddedRunner(data_dir=data_dir, port=port, token=token)
        await asyncio.get_running_loop().run_in_executor(None, back.start)
        try:
            app.retry_now()
            await until(lambda: app.core.status.phase is Phase.LIVE, 60, "green after the runner is back")
            await assert_exact(app, back.url, token, sid)
        finally:
            await app.shutdown()
            await asyncio.get_running_loop().run_in_executor(None, back.stop)

    run(scenario())


def test_exact_catch_up_across_forced_reconnects_while_streaming(run: Any, make_app: Any,
                                                                  embedded: Any) -> None:
    async def scenario() -> None:
        log = ConnectionLog()
        app = make_app(embedded.url, embedded.token, connection_options={"observer": log})
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        sid = await app.create_session({"argv": streamer(20000, 100, 0.005), "title": "stream"})

        def shown() -> int:
            return app.bridge.model(sid).transcript.last_seq if app.core.sessions.get(sid) else 0

        def finished() -> bool:
            return app.core.sessions.get(sid) is not None and app.core.sessions[sid].status == "exited"

        for i in range(10):
            # Each cut comes once the view is live again and has received more of the stream.
            made, seen = log.opened, shown()
            await until(lambda seen=seen: app.core.status.phase is Phase.LIVE and (shown() > seen or finished()),
                        60, "more events while live")
            if i % 2:
                app.reconnect_now("test")
            else:
                kill_view_sockets(embedded)
            await until(lambda made=made: log.opened > made, 60, "a new connection")
        await until(finished, 120, "the streamer to finish")
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        await assert_exact(app, embedded.url, embedded.token, sid)
        assert log.opened >= 11
        assert log.max_live == 1

    run(scenario())


def test_outbox_sends_exactly_once_after_the_network_returns(run: Any, make_app: Any, embedded: Any) -> None:
    async def scenario() -> None:
        # The view -> a proxy that can cut the network -> a proxy that can lose one reply -> the runner.
        lossy = await ReplyDroppingProxy(embedded.port).start()
        proxy = CutProxy(lossy.port)
        await proxy.start()
        log = ConnectionLog()
        app = make_app(proxy.url, embedded.token, connection_options={"observer": log})
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        sid = await app.create_session({"argv": [sys.executable, "-u", "-c", ECHO], "title": "echo"})
        model = app.bridge.model(sid)
        await until(lambda: any(r.text == "ready" for r in model.transcript.rows), 60, "ready")
        await proxy.cut()
        await until(lambda: app.core.status.color in (Color.YELLOW, Color.RED)
                    and not app.core.connected, 30, "disconnected")
        texts = [f"offline message {i}" for i in range(3)]
        for text in texts:
            app.send(sid, text)
        assert [r.data["state"] for r in model.pending] == ["waiting"] * 3
        assert app.window.banner.isVisibleTo(app.window)
        await proxy.restore()
        app.retry_now()
        await until(lambda: app.core.ready and len(app.core.outbox) == 0, 60, "the offline messages delivered")
        made = log.opened
        # One more, which the runner takes and answers, but the answer is lost with the connection: the view
        # must send it again on the next connection, and the runner must take it only once.
        lossy.drop_next(lambda m: m.get("type") == "sent")
        app.send(sid, "reply lost")
        texts.append("reply lost")
        await until(lambda: len(lossy.dropped) == 1, 30, "the runner's reply to be lost")
        await until(lambda: log.opened > made and app.core.ready, 60, "reconnected")
        await until(lambda: len(app.core.outbox) == 0 and not model.pending, 60, "the outbox to drain")
        await until(lambda: sum(1 for r in model.transcript.rows if r.kind is RowKind.OUTPUT
                                and r.text.startswith("echo: ")) >= len(texts), 60, "the echoes")
        # A duplicate would be journaled before this marker, which is sent after the outbox drained.
        app.send(sid, "marker")
        texts.append("marker")
        await until(lambda: any(r.text == "echo: marker" for r in model.transcript.rows), 60, "the marker")
        events = await journal(embedded.url, embedded.token, sid)
        users = [e["text"] for e in events if e["kind"] == "user"]
        assert users == [t + "\n" for t in texts]
        echoes = [e["text"] for e in events if e["kind"] == "output" and e["text"].startswith("echo: ")]
        assert echoes == [f"echo: {t}" for t in texts]
        await assert_exact(app, embedded.url, embedded.token, sid)
        await proxy.close()
        await lossy.close()

    run(scenario())


def test_paused_rendering_catches_up_in_one_batch(run: Any, make_app: Any, embedded: Any) -> None:
    async def scenario() -> None:
        log = ConnectionLog()
        app = make_app(embedded.url, embedded.token, connection_options={"observer": log})
        await app.start()
        app.window.show()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        sid = await app.create_session({"argv": streamer(3000, 100, 0.05), "title": "stream"})
        model = app.bridge.model(sid)
        await until(lambda: model.transcript.event_count > 50, 60, "some events")
        mark = len(log.events)
        app.set_rendering(False)
        await until(lambda: "recv:detached" in log.events[mark:], 30, "the runner to confirm the detach")
        batches, count = model.insert_batches, model.transcript.event_count
        head_before = app.core.sessions[sid].head
        await until(lambda: app.core.sessions[sid].status == "exited", 120, "the end while hidden")
        await until(lambda: app.core.sessions[sid].head > head_before, 10, "heads to keep flowing")
        assert model.insert_batches == batches and model.transcript.event_count == count
        assert app.core.status.phase is Phase.LIVE
        statuses: list[Phase] = []
        app.status_changed.connect(lambda s: statuses.append(s.phase))
        app.set_rendering(True)
        await until(lambda: app.core.status.phase is Phase.LIVE and model.transcript.event_count > count, 60,
                    "catch-up")
        await assert_exact(app, embedded.url, embedded.token, sid)
        assert model.insert_batches == batches + 1
        assert Phase.CATCHING_UP in statuses

    run(scenario())


def test_probe_replaces_a_half_open_socket_and_catches_up(run: Any, make_app: Any, embedded: Any) -> None:
    from tests.fakes.blackhole_proxy import BlackholeProxy

    async def scenario() -> None:
        with BlackholeProxy("127.0.0.1", embedded.port) as proxy:
            log = ConnectionLog()
            app = make_app(proxy.url, embedded.token, connection_options={"observer": log})
            await app.start()
            await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
            assert await app.probe(2.0) is True
            sid = await app.create_session({"argv": streamer(2000, 50, 0.02), "title": "stream"})
            await until(lambda: app.bridge.model(sid).transcript.event_count > 20, 60, "streaming")
            assert proxy.freeze() == 1  # the socket stays open but nothing passes any more
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert await app.probe(1.0) is False
            await until(lambda: log.opened == 2
                        and app.core.status.phase is Phase.LIVE, 30, "live again on a new socket")
            assert loop.time() - started < 5.0  # not the keepalive's 40 s
            assert log.max_live == 1
            await until(lambda: app.core.sessions[sid].status == "exited", 120, "the end")
            await assert_exact(app, embedded.url, embedded.token, sid)
            await app.shutdown()

    run(scenario())
