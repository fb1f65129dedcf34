"""Terminal sessions in the window (issue 12 item 8): colours and progress lines as a terminal shows them, live and
after a catch-up, and a terminal as wide as the view. Against a real runner and real programs in a pty."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage, QPainter

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import MARGIN_X
from desktop.qt.rows.output import terminal_color
from tests.desktop.qt.helpers import until
from tests.desktop.qt.test_session_flow import live_app, rows

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="command sessions run on pipes on Windows")

COLOURS_AND_PROGRESS = ("printf '\\033[31mred\\033[0m\\n'; "
                        "for i in 1 2 3; do printf '\\r%d%%' $i; sleep 0.2; done; echo; echo done")

SIZE_ON_SIGWINCH = ("import os, signal\n"
                    "def show(*_):\n"
                    "    print('size %d %d' % tuple(os.get_terminal_size()), flush=True)\n"
                    "signal.signal(signal.SIGWINCH, show)\n"
                    "show()\n"
                    "while True:\n"
                    "    signal.pause()\n")


def shown(app: Any, sid: str) -> list[str]:
    return [r.copy_text() for r in rows(app, sid, RowKind.OUTPUT)]


def red_pixels(app: Any, row: Row) -> int:
    """How many pixels of the row, painted by the view's delegate, are the theme's terminal red."""
    view = app.window.transcript
    width = view.viewport().width()
    height = view.delegate.height(row)
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(theme.current().window)
    painter = QPainter(image)
    view.delegate.paint_row(painter, row, QRect(0, 0, width, height), -1)
    painter.end()
    red = terminal_color(1, theme.current().dark)
    count = 0
    for y in range(height):
        for x in range(width):
            c = QColor(image.pixel(x, y))
            if abs(c.red() - red.red()) + abs(c.green() - red.green()) + abs(c.blue() - red.blue()) < 40:
                count += 1
    return count


def check_rendered(app: Any, sid: str) -> None:
    texts = shown(app, sid)
    assert texts[:3] == ["red", "3%", "done"]
    red_row, progress_row = rows(app, sid, RowKind.OUTPUT)[:2]
    # The view's own rendering: the word in red, no escape code drawn (the text viewer and Copy agree).
    layouts, _ = app.window.transcript.delegate.renderers[RowKind.OUTPUT].terminal.get(
        red_row.text, 400, False)
    (layout,) = layouts
    assert layout.text() == "red"
    (fmt,) = layout.formats()
    assert fmt.format.foreground().color() == terminal_color(1, theme.current().dark)
    assert red_pixels(app, red_row) > 5
    assert red_pixels(app, progress_row) == 0
    model = app.bridge.model(sid)
    assert model.data(model.index(model.model_row(progress_row))) == "3%"  # what Copy takes


def test_pty_colours_and_progress_line_live_and_after_catch_up(run: Any, make_app: Any, embedded: Any,
                                                               qtbot: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        sid = await app.create_session({"argv": ["/bin/sh", "-c", COLOURS_AND_PROGRESS], "title": "colours"})
        assert sid is not None
        seen: list[str] = []

        def progress() -> bool:
            out = rows(app, sid, RowKind.OUTPUT)
            if len(out) >= 2:
                text = out[1].copy_text()
                if not seen or seen[-1] != text:
                    seen.append(text)
            return any(r.text == "done" for r in out)

        await until(progress, 60, "the program's output")
        # The progress line is one row, updated in place: it never showed two states at once.
        assert all("\r" not in s and "%" in s and len(s) <= 3 for s in seen), seen
        assert rows(app, sid, RowKind.OUTPUT)[1].text.count("\r") == 3  # the journal keeps the raw text
        check_rendered(app, sid)

        # A second window attaches from seq 0: the same rows, rendered the same.
        second = await live_app(make_app, embedded)
        await until(lambda: sid in second.core.sessions, 60, "the session listed")
        second.window.select_session(sid)
        await until(lambda: len(shown(second, sid)) >= 3, 60, "the catch-up")
        check_rendered(second, sid)

    run(scenario())


def test_pty_terminal_follows_the_views_width(run: Any, make_app: Any, embedded: Any, qtbot: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        sid = await app.create_session({"argv": [sys.executable, "-u", "-c", SIZE_ON_SIGWINCH], "title": "size"})
        assert sid is not None and app.window.current == sid
        view = app.window.transcript
        ctx = view.delegate.ctx

        def cols() -> int:
            return (view.viewport().width() - 2 * MARGIN_X) // ctx.mono_advance

        def reported() -> list[int]:
            return [int(t.split()[1]) for t in shown(app, sid) if t.startswith("size ")]

        first = cols()
        assert first != 80  # else the test could not tell the view's size from the default
        await until(lambda: reported()[-1:] == [first], 60, f"the program seeing {first} columns")
        assert reported()[-1] == app.window.terminal_sizer.size()[0]

        app.window.resize(app.window.width() - 300, app.window.height())
        await until(lambda: cols() < first, 30, "the view narrower")
        await until(lambda: reported()[-1:] == [cols()], 60, f"the program seeing {cols()} columns")

    run(scenario())


def test_pty_resize_only_for_command_sessions_and_refusals_are_quiet(run: Any, make_app: Any, embedded: Any,
                                                                     qtbot: Any, caplog: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        asked: list[tuple[str, int, int]] = []
        app.window.terminal_sizer.resize_requested.connect(lambda *args: asked.append(args))
        notices: list[str] = []
        app.window.show_notice = lambda level, message: notices.append(message)
        sid = await app.create_session({"agent": "claude", "title": "agent", "cwd": embedded.data_dir})
        assert sid is not None and app.window.current == sid
        await until(lambda: app.core.sessions.get(sid) is not None
                    and app.core.sessions[sid].agent == "claude", 60, "the agent session listed")
        app.window.resize(app.window.width() - 200, app.window.height())
        app.window.terminal_sizer.update()
        assert asked == []  # an agent session has no terminal
        # Were it asked anyway (an older runner, an agent session), the refusal is logged, not shown.
        with caplog.at_level("DEBUG", logger="desktop.app"):
            await app.resize_terminal(sid, 100, 30)
        assert notices == []
        assert any("not applied" in r.getMessage() and "bad_request" in r.getMessage() for r in caplog.records)

    run(scenario())
