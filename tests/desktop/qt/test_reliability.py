"""Issue 9 on the desktop side, with the real app and real runners: the `sent` reply, runner switches racing,
a write that cannot go out, and exceptions nobody handled."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from desktop.core.outbox import OutboxState
from desktop.core.status import Phase
from tests.desktop.qt.helpers import ConnectionLog, journal, until

READER = [sys.executable, "-u", "-c", "import sys\nfor line in sys.stdin: print('got', line.strip(), flush=True)"]


def test_the_sent_reply_acknowledges_a_message_the_stream_has_not_shown_yet(run: Any, make_app: Any,
                                                                            embedded: Any) -> None:
    """The window is minimized right after Enter: the transcript is detached, so no `user` event can arrive.
    Only the runner's `sent` reply can tell the user the message got there (issue 16's "desktop ignoring the
    runner's `sent` reply")."""

    async def scenario() -> None:
        app = make_app(embedded.url, embedded.token)
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        sid = await app.create_session({"argv": READER, "title": "reader"})
        model = app.bridge.model(sid)
        app.set_rendering(False)
        app.send(sid, "hello")
        item = next(iter(app.core.outbox))
        await until(lambda: item.state is OutboxState.DELIVERED, 30, "the runner's acknowledgement")
        assert model.pending == [] and app.core.outbox.undelivered() == 0
        app.request_quit()  # nothing undelivered and no agent of ours: no question asked
        assert app.quit_box is None
        users = [e for e in await journal(embedded.url, embedded.token, sid) if e["kind"] == "user"]
        assert [(e["text"], e["client_msg_id"]) for e in users] == [("hello\n", item.client_msg_id)]

    run(scenario())


def test_messages_typed_offline_survive_an_app_that_dies_and_go_out_once_with_the_next(
        run: Any, make_app: Any, embedded: Any) -> None:
    from tests.desktop.qt.helpers import CutProxy

    async def scenario() -> None:
        proxy = CutProxy(embedded.port)
        await proxy.start()
        first = make_app(proxy.url, embedded.token)
        await first.start()
        await until(lambda: first.core.status.phase is Phase.LIVE, 60, "live")
        sid = await first.create_session({"argv": READER, "title": "reader"})
        await proxy.cut()
        await until(lambda: not first.core.connected, 30, "offline")
        texts = ["one", "two", "three"]
        for text in texts:
            first.send(sid, text)
        assert first.core.outbox.undelivered() == 3
        # The app dies: no shutdown, nothing flushed, its connection just stops.
        first.connection._supervisor.cancel()
        await proxy.restore()
        second = make_app(proxy.url, embedded.token)
        await second.start()
        await until(lambda: second.core.status.phase is Phase.LIVE, 60, "the next run live")
        await until(lambda: second.core.outbox.undelivered() == 0, 60, "the restored messages delivered")
        users = [e for e in await journal(embedded.url, embedded.token, sid) if e["kind"] == "user"]
        assert [e["text"] for e in users] == [t + "\n" for t in texts]
        await proxy.close()

    run(scenario())


def test_a_second_runner_switch_while_the_first_is_closing_leaves_one_connection(
        run: Any, make_app: Any, embedded: Any, tmp_path: Any) -> None:
    from runner.embedded import EmbeddedRunner

    other = EmbeddedRunner(data_dir=str(tmp_path / "other-runner"))
    other.start()
    try:
        async def scenario() -> None:
            app = make_app(embedded.url, embedded.token)
            await app.start()
            await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
            app.explicit_token = other.token
            app.tokens.set(other.url, other.token)
            app.tokens.set(embedded.url, embedded.token)
            # Two switches in a row: the first one is still closing the old connection when the second starts.
            app.switch_runner(other.url)
            app.switch_runner(embedded.url)
            await until(lambda: not app._tasks and not app.runner_set.busy, 60, "both switches")
            await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live on the last runner chosen")
            assert app.runner_key == embedded.url and app.connection.url == embedded.url
            await asyncio.sleep(0.5)  # an orphaned connection would be up by now
            assert view_count(other) == 0
            assert view_count(embedded) == 1

        run(scenario())
    finally:
        other.stop()


def view_count(embedded: Any) -> int:
    return len(embedded._runner.server.views)


def test_a_request_that_cannot_be_written_fails_at_once_and_leaves_the_connection_working(
        run: Any, make_app: Any, embedded: Any) -> None:
    async def scenario() -> None:
        log = ConnectionLog()
        app = make_app(embedded.url, embedded.token, connection_options={"observer": log})
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        connection = app.connection
        await until(lambda: app.core.open_requests == 0, 60, "the connection's own requests answered")
        with pytest.raises(ValueError, match="cannot send"):
            await connection.request({"type": "rename", "session": "s-x", "title": object()}, timeout=10)
        with pytest.raises(ValueError, match="cannot send"):
            await connection.request({"type": "ping", "value": float("nan")}, timeout=10)
        assert app.core.open_requests == 0
        assert (await connection.request({"type": "ping"}, timeout=10))["type"] == "pong"
        assert log.opened == 1

    run(scenario())


def test_the_app_logs_every_task_exception_nobody_retrieved(
    run: Any, make_app: Any, embedded: Any, fail_on_unhandled_exceptions: list[Any],
    fail_on_unretrieved_task_exceptions: dict[int, str],
) -> None:
    async def scenario() -> None:
        app = make_app(embedded.url, embedded.token)
        await app.start()
        await until(lambda: app.core.status.phase is Phase.LIVE, 60, "live")
        loop = asyncio.get_running_loop()

        async def fails() -> None:
            raise RuntimeError("nobody waits for me")

        task = loop.create_task(fails())
        await asyncio.sleep(0.05)
        del task
        gc.collect()

    run(scenario())
    logged = [r for r in fail_on_unhandled_exceptions if r.name == "desktop.unhandled"]
    assert len(logged) == 1 and "never retrieved" in logged[0].getMessage()
    assert logged[0].exc_info and str(logged[0].exc_info[1]) == "nobody waits for me"
    fail_on_unhandled_exceptions.clear()  # expected here; any other test would fail on it
    gc.collect()
    assert len(fail_on_unretrieved_task_exceptions) == 1  # the loop reported it too (to the app's handler)
    fail_on_unretrieved_task_exceptions.clear()


@pytest.mark.qt_no_exception_capture
def test_the_process_hooks_log_exceptions_from_qt_slots_and_threads(qapp: Any, qtbot: Any,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    fail_on_unhandled_exceptions: list[Any]) -> None:
    import threading

    from desktop.unhandled import install_process_hooks

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    install_process_hooks()

    def slot() -> None:
        raise ValueError("raised in a slot")

    QTimer.singleShot(0, slot)
    qtbot.waitUntil(lambda: bool(fail_on_unhandled_exceptions), timeout=10_000)
    thread = threading.Thread(target=lambda: 1 / 0, name="doomed")
    thread.start()
    thread.join()
    messages = [(r.levelno, r.getMessage(), repr(r.exc_info[1])) for r in fail_on_unhandled_exceptions]
    assert messages == [
        (logging.ERROR, "uncaught exception (in a Qt slot or callback)", "ValueError('raised in a slot')"),
        (logging.ERROR, "uncaught exception in thread doomed", "ZeroDivisionError('division by zero')"),
    ]
    fail_on_unhandled_exceptions.clear()


@pytest.mark.qt_log_ignore("This plugin does not support grabbing the keyboard")  # offscreen, the menu popup
def test_the_transcript_menu_acts_on_the_row_clicked_even_after_the_window_trims(qtbot: Any) -> None:
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QMenu

    from desktop.qt.transcript_model import SLACK, WINDOW
    from tests.desktop.qt.test_transcript_view import make_view

    def lines(start: int, count: int) -> list[dict[str, Any]]:
        return [{"seq": s, "kind": "output", "stream": "stdout", "text": f"line {s}"}
                for s in range(start, start + count)]

    view, model = make_view(qtbot)
    model.apply_events(lines(1, WINDOW))
    index = model.index(model.rowCount() - 3)
    view.scrollTo(index)
    clicked = model.row_at(index.row())
    assert clicked is not None and clicked.text == f"line {WINDOW - 2}"
    where = view.visualRect(index).center()
    view.contextMenuEvent(QContextMenuEvent(QContextMenuEvent.Reason.Mouse, where, view.viewport().mapToGlobal(where)))
    menu = view.findChildren(QMenu)[-1]
    # The menu is open; the agent goes on and the window drops its oldest rows.
    model.apply_events(lines(WINDOW + 1, SLACK + 100))
    assert model.offset > 0
    shown: list[str] = []
    view.view_text.connect(lambda _title, text, _mono: shown.append(text))
    next(a for a in menu.actions() if a.text() == "View text…").trigger()
    assert shown == [clicked.copy_text()]
    menu.close()
