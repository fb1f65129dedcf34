"""Find in a session (Ctrl+F) and the sidebar's filter, in the window against a real runner: the runner's
`search` finds rows long out of the transcript's window; next/previous scroll to them and highlight them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from desktop.core.transcript import RowKind
from desktop.qt.sessions import ID_ROLE
from tests.desktop.qt.helpers import until
from tests.desktop.qt.test_session_flow import live_app, rows

# Three lines holding the word, the first two far above the newest rows (the model's window holds ~100).
PRINTER = ("print('the needle starts early', flush=True)\n"
           "for i in range(400): print(f'filler {i}')\n"
           "print('a second NEEDLE in the middle')\n"
           "for i in range(400): print(f'more filler {i}')\n"
           "print('a late needle', flush=True)\n"
           "for i in range(20): print(f'tail {i}')\n")


def found_row(app: Any) -> Any:
    """The row the view highlights, and its model row (checked against the view's current index)."""
    view = app.window.transcript
    model = view.transcript_model()
    assert view.delegate.found >= 0, "no row highlighted"
    row = model.transcript.rows[view.delegate.found]
    assert view.currentIndex().row() == model.model_row(row)
    return row


def row_shown(view: Any, row: Any) -> bool:
    model = view.transcript_model()
    model_row = model.model_row(row)
    if model_row < 0:
        return False
    rect = view.visualRect(model.index(model_row))
    return rect.height() > 0 and view.viewport().rect().intersects(rect)


def test_find_counts_moves_and_highlights_matches_out_of_the_window(run: Any, make_app: Any, embedded: Any,
                                                                    qtbot: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        sid = await app.create_session({"argv": [sys.executable, "-u", "-c", PRINTER], "title": "printer"})
        assert sid is not None
        await until(lambda: any(r.text == "tail 19" for r in rows(app, sid, RowKind.OUTPUT)), 60, "all lines")
        window, view = app.window, app.window.transcript
        model = view.transcript_model()
        early = next(r for r in rows(app, sid, RowKind.OUTPUT) if r.text == "the needle starts early")
        assert model.model_row(early) < 0, "the early row should be out of the model's window"

        window.activateWindow()
        view.setFocus()
        QTest.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        bar = window.find_bar
        assert bar.isVisible() and bar.edit.hasFocus()
        QTest.keyClicks(bar.edit, "needle")
        await until(lambda: bar.count.text() == "1 of 3", 60, "the count")
        # The newest match first: shown and highlighted.
        await until(lambda: view.delegate.found >= 0, 30, "a highlighted row")
        assert found_row(app).text == "a late needle" and row_shown(view, found_row(app))

        QTest.keyClick(bar.edit, Qt.Key.Key_Return)  # next: further back
        assert bar.count.text() == "2 of 3"
        assert found_row(app).text == "a second NEEDLE in the middle" and row_shown(view, found_row(app))
        QTest.keyClick(bar.edit, Qt.Key.Key_F3)
        row = found_row(app)
        assert row.text == "the needle starts early" and bar.count.text() == "3 of 3"
        qtbot.waitUntil(lambda: row_shown(view, row), timeout=10_000)
        assert not view.follow  # off the tail: new rows do not scroll the match away

        # The highlight is painted: the row looks different without it.
        rect = view.visualRect(model.index(model.model_row(row)))
        with_highlight = view.viewport().grab(rect).toImage()
        view.clear_match()
        without = view.viewport().grab(rect).toImage()
        assert with_highlight != without
        QTest.keyClick(bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # previous: newer
        row = found_row(app)
        assert row.text == "a second NEEDLE in the middle" and bar.count.text() == "2 of 3"
        # 400 rows below the one shown: only scrolling to it shows it.
        qtbot.waitUntil(lambda: row_shown(view, row), timeout=10_000)
        QTest.keyClick(bar.edit, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
        row = found_row(app)
        assert row.text == "a late needle" and bar.count.text() == "1 of 3"
        qtbot.waitUntil(lambda: row_shown(view, row), timeout=10_000)

        QTest.keyClick(bar.edit, Qt.Key.Key_Escape)
        assert not bar.isVisible() and view.delegate.found == -1
        # Reopened: the last query, searched again.
        QTest.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        assert bar.isVisible() and bar.edit.selectedText() == "needle"
        await until(lambda: bar.count.text() == "1 of 3", 60, "the count again")
        assert found_row(app).text == "a late needle"

    run(scenario())


def test_session_filter_hides_sessions_not_matching_title_folder_or_agent(run: Any, make_app: Any, embedded: Any,
                                                                          tmp_path: Path, qtbot: Any) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        quiet = "import time\ntime.sleep(600)\n"
        folder = tmp_path / "website-sources"
        folder.mkdir()
        first = await app.create_session({"argv": [sys.executable, "-c", quiet], "title": "build the docs",
                                          "cwd": str(folder)})
        second = await app.create_session({"argv": [sys.executable, "-c", quiet], "title": "fix the parser"})
        window = app.window
        sessions = window.sessions_view

        def shown() -> set[str]:
            model = window.sessions_model
            ids = (model.data(model.index(i), ID_ROLE) for i in range(model.rowCount()) if not sessions.isRowHidden(i))
            return {sid for sid in ids if sid is not None}  # None: a runner's header

        await until(lambda: shown() == {first, second}, 30, "both sessions listed")
        QTest.keyClicks(window.session_filter, "PARSER")
        assert shown() == {second}
        window.session_filter.clear()
        assert shown() == {first, second}
        QTest.keyClicks(window.session_filter, "command docs")  # the agent and a word of the title
        assert shown() == {first}
        # A session arriving while the filter is set is filtered too.
        third = await app.create_session({"argv": [sys.executable, "-c", quiet], "title": "more docs"})
        await until(lambda: window.sessions_model.row_of(third) >= 0, 30, "the third session listed")
        assert shown() == {first, third}
        window.session_filter.setText("website-sources")  # the folder
        assert shown() == {first}
        window.session_filter.setText("no such session")
        assert shown() == set()

    run(scenario())
