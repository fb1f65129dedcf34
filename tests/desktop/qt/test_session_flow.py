"""The window against a real runner: send and stream, stop, permission prompts, rename, delete, notify."""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from desktop.core.status import Phase
from desktop.core.transcript import RowKind
from tests.desktop.qt.helpers import journal, until

ECHO = ("import sys\n"
        "print('ready', flush=True)\n"
        "for line in sys.stdin:\n"
        "    print('echo: ' + line.rstrip('\\n'), flush=True)\n")
SLEEPER = "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n"


async def live_app(make_app: Any, embedded: Any) -> Any:
    app = make_app(embedded.url, embedded.token)
    await app.start()
    app.window.show()
    await until(lambda: app.core.status.phase is Phase.LIVE, 60, "a live connection")
    return app


def rows(app: Any, sid: str, kind: RowKind) -> list[Any]:
    return [r for r in app.bridge.model(sid).transcript.rows if r.kind is kind]


def test_send_through_the_composer_and_stream_the_output(run: Any, make_app: Any, embedded: Any,
                                                         qtbot: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        sid = await app.create_session({"argv": [sys.executable, "-u", "-c", ECHO], "title": "echo"})
        assert sid is not None and app.window.current == sid
        await until(lambda: any(r.text == "ready" for r in rows(app, sid, RowKind.OUTPUT)), 60, "ready")
        edit = app.window.composer.edit
        QTest.keyClicks(edit, "first line")
        QTest.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # a newline, not a send
        assert edit.toPlainText() == "first line\n"
        QTest.keyClicks(edit, "second line")
        QTest.keyClick(edit, Qt.Key.Key_Return)
        assert edit.toPlainText() == ""
        await until(lambda: [r.text for r in rows(app, sid, RowKind.OUTPUT)][-2:] ==
                    ["echo: first line", "echo: second line"], 60, "the echoed lines")
        (user,) = rows(app, sid, RowKind.USER)
        assert user.text == "first line\nsecond line\n"  # the command agent gets a trailing newline
        assert len(app.core.outbox) == 0
        # What the window shows is exactly what the runner journaled.
        events = await journal(embedded.url, embedded.token, sid)
        transcript = app.bridge.model(sid).transcript
        assert transcript.event_count == len(events) and transcript.out_of_order == 0
        assert [r.text for r in rows(app, sid, RowKind.OUTPUT)] == [
            e["text"] for e in events if e["kind"] == "output"]

    run(scenario())


def test_stop_button_interrupts_and_menu_stop_kills(run: Any, make_app: Any, embedded: Any,
                                                    qtbot: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        sid = await app.create_session({"argv": [sys.executable, "-u", "-c", SLEEPER], "title": "sleeper"})
        await until(lambda: app.core.sessions[sid].status == "running"
                    and any(r.text == "sleeping" for r in rows(app, sid, RowKind.OUTPUT)), 60, "running")
        stop = app.window.header_stop
        await until(lambda: stop.isVisible(), 10, "the stop button")
        QTest.mouseClick(stop, Qt.MouseButton.LeftButton)
        await until(lambda: app.core.sessions[sid].status == "interrupted", 60, "interrupted")
        await until(lambda: any(r.data.get("status") == "interrupted"
                                for r in rows(app, sid, RowKind.STATUS)), 30, "the interrupted row")
        assert not stop.isVisible()

        sid2 = await app.create_session({"argv": [sys.executable, "-u", "-c", SLEEPER], "title": "sleeper 2"})
        await until(lambda: app.core.sessions[sid2].status == "running", 60, "running")
        app.window._stop_current()
        await until(lambda: app.core.sessions[sid2].status in ("exited", "interrupted"), 60, "stopped")

    run(scenario())


def click_permission(app: Any, sid: str, button: str) -> None:
    view = app.window.transcript
    model = app.bridge.model(sid)
    row = next(r for r in reversed(model.transcript.rows)
               if r.kind is RowKind.PERMISSION and r.data.get("behavior") is None)
    index = model.index(model.model_row(row))
    view.scrollTo(index)
    view.doItemsLayout()
    rect = view.visualRect(index)
    layout = view.delegate.layout(row, rect.width(), model)
    point = rect.topLeft() + layout.buttons[button].center()
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_permission_prompt_allow_and_deny(run: Any, make_app: Any, embedded: Any, qtbot: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        sid = await app.create_session({"agent": "claude", "title": "agent", "cwd": embedded.data_dir})
        assert sid is not None
        for behavior in ("allow", "deny"):
            app.send(sid, f"please do it mode:permission ({behavior})")
            await until(lambda: app.core.sessions[sid].status == "needs_approval", 60, "needs approval")
            await until(lambda: any(r.data.get("behavior") is None
                                    for r in rows(app, sid, RowKind.PERMISSION)), 30, "the prompt row")
            click_permission(app, sid, behavior)
            await until(lambda: app.core.sessions[sid].status not in ("needs_approval",), 60, "answered")
            await until(lambda b=behavior: rows(app, sid, RowKind.PERMISSION)[-1].data.get("behavior") == b,
                        30, "the answer in the transcript")
            await until(lambda: app.core.sessions[sid].status == "idle", 60, "turn end")
        events = await journal(embedded.url, embedded.token, sid)
        answers = [e["behavior"] for e in events if e["kind"] == "permission_answer"]
        assert answers == ["allow", "deny"]
        # Tool calls and results are merged into one row each, assistant deltas into one row per message.
        tool_ids = {e["tool_id"] for e in events if e["kind"] == "tool_call"}
        assert len(rows(app, sid, RowKind.TOOL)) == len(tool_ids)
        message_ids = {e["message_id"] for e in events if e["kind"] == "assistant"}
        assert len(rows(app, sid, RowKind.ASSISTANT)) == len(message_ids)

    run(scenario())


def test_rename_delete_and_notifications(run: Any, make_app: Any, embedded: Any, qtbot: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        notified: list[tuple[str, str]] = []
        app.notified.connect(lambda title, body: notified.append((title, body)))
        sid = await app.create_session({"argv": [sys.executable, "-u", "-c", SLEEPER], "title": "old name"})
        await until(lambda: app.core.sessions[sid].status == "running", 60, "running")
        app.window.rename_requested.emit(sid, "new name")
        await until(lambda: app.core.sessions[sid].title == "new name", 30, "rename")
        assert app.window.session_title.full_text() == "new name"
        # The window is not active (offscreen, never activated): a finished command notifies.
        app.window.hide()
        app.window.stop_requested.emit(sid)
        await until(lambda: any("old name" not in t and "new name" in t for t, _ in notified), 60,
                    "a notification")
        app.window.show()
        app.window.delete_requested.emit(sid, False)
        await until(lambda: sid not in app.core.sessions, 30, "delete")
        assert app.window.sessions_model.row_of(sid) == -1 and app.window.current is None

    run(scenario())
