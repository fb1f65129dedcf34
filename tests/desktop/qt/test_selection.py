"""Issue 12 item 9: select and copy across rows in place, as in a terminal: drag from a character of one row to a
character of another, shift+click, double-click, Ctrl+A, Ctrl+C, painted in the palette's highlight colour,
kept while rows stream in; and find's highlight of the matched words (not the whole row)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QMouseEvent, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop.core.find import Match
from desktop.core.selection import END, TextPos
from desktop.core.transcript import Row
from desktop.qt.rows.text_runs import rects_in_runs
from desktop.qt.transcript_model import TranscriptModel
from desktop.qt.transcript_view import FOUND_CURRENT, FOUND_FILL, TranscriptView
from tests.desktop.qt.test_transcript_view import make_view

MARKDOWN = ("## Steps\n\nRun **all** the `tests` first.\n\n```python\nvalue = compute(1)\n```\n\n"
            "| File | Lines |\n|---|---|\n| parser.py | +2 -2 |\n\nThen *ship* it.")


def output(seq: int, text: str) -> dict[str, Any]:
    return {"seq": seq, "kind": "output", "stream": "stdout", "text": text}


def laid_out(view: TranscriptView) -> None:
    view.doItemsLayout()
    QApplication.processEvents()


def char_rect(view: TranscriptView, row: Row, offset: int) -> Any:
    """Where character `offset` of `row` is painted, in viewport coordinates."""
    model = view.transcript_model()
    assert model is not None
    index = model.index(model.model_row(row))
    view.scrollTo(index)
    laid_out(view)
    rect = view.visualRect(index)
    delegate = view.delegate
    renderer = delegate.renderer(row)
    state = delegate.state(row)
    runs = renderer.text_runs(row, renderer.layout(row, rect.width(), state), state)
    assert runs is not None
    (r, *_) = rects_in_runs(runs, offset, offset + 1)
    return r.translated(QPointF(rect.topLeft()))


def before_char(view: TranscriptView, row: Row, offset: int) -> QPoint:
    """A point just right of the left edge of character `offset`: the boundary before it is the nearest."""
    r = char_rect(view, row, offset)
    return QPoint(int(r.left()) + 1, int(r.center().y()))


def mouse(view: TranscriptView, kind: QEvent.Type, at: QPoint, buttons: Qt.MouseButton = Qt.MouseButton.LeftButton,
          modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    vp = view.viewport()
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    event = QMouseEvent(kind, QPointF(at), QPointF(vp.mapToGlobal(at)), button, buttons, modifiers)
    QApplication.sendEvent(vp, event)


def drag(view: TranscriptView, start: QPoint, end: QPoint) -> None:
    mouse(view, QEvent.Type.MouseButtonPress, start)
    mid = (start + end) / 2
    mouse(view, QEvent.Type.MouseMove, mid)
    mouse(view, QEvent.Type.MouseMove, end)
    mouse(view, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def copy_keys(view: TranscriptView) -> str:
    QGuiApplication.clipboard().clear()
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    return QGuiApplication.clipboard().text()


def three_kinds(model: TranscriptModel) -> tuple[Row, Row, Row]:
    model.apply_events([
        output(1, "first output line"),
        {"seq": 2, "kind": "assistant", "message_id": "m", "text": MARKDOWN},
        {"seq": 3, "kind": "user", "text": "please tidy the docs"},
    ])
    rows = model.transcript.rows
    return rows[0], rows[1], rows[2]


def test_selection_drag_from_one_row_to_another_copies_exactly_the_text_between(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    out, answer, user = three_kinds(model)
    laid_out(view)
    # From "output line" in the output row to "please tidy" in the user's message, over the Markdown answer.
    drag(view, before_char(view, out, 6), before_char(view, user, 11))
    expected = "output line\n" + MARKDOWN + "\nplease tidy"
    assert view.selection() == (TextPos(out.index, 6), TextPos(user.index, 11))
    assert copy_keys(view) == expected
    # Backwards (from the end to the start) selects the same text.
    drag(view, before_char(view, user, 11), before_char(view, out, 6))
    assert view.copy_selection() == expected
    # Shift+click moves the end: now it ends inside the answer's plain last paragraph ("Then *ship*" is Markdown,
    # so the second block with a plain one: the code block's line).
    mouse(view, QEvent.Type.MouseButtonPress, before_char(view, out, 0))
    mouse(view, QEvent.Type.MouseButtonRelease, before_char(view, out, 0), Qt.MouseButton.NoButton)
    code_at = MARKDOWN.index("compute")
    at = before_char(view, answer, code_at)
    mouse(view, QEvent.Type.MouseButtonPress, at, modifiers=Qt.KeyboardModifier.ShiftModifier)
    mouse(view, QEvent.Type.MouseButtonRelease, at, Qt.MouseButton.NoButton, Qt.KeyboardModifier.ShiftModifier)
    assert view.copy_selection() == "first output line\n" + MARKDOWN[:code_at]
    # A click without a drag clears it (as in a terminal): nothing to copy.
    mouse(view, QEvent.Type.MouseButtonPress, at)
    mouse(view, QEvent.Type.MouseButtonRelease, at, Qt.MouseButton.NoButton)
    assert view.selection() is None and view.copy_selection() == ""


def test_selection_of_a_markdown_row_copies_its_markdown(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    _out, answer, _user = three_kinds(model)
    laid_out(view)
    # Part of a fenced code block (a rendered document): exactly its characters.
    start = MARKDOWN.index("compute")
    drag(view, before_char(view, answer, start), before_char(view, answer, start + len("compute(1")))
    assert copy_keys(view) == "compute(1"
    # Within rendered Markdown, offsets are the source's, the syntax around the words selected taken with them.
    start = MARKDOWN.index("all")
    drag(view, before_char(view, answer, start), before_char(view, answer, MARKDOWN.index(" first") + 6))
    assert copy_keys(view) == "**all** the `tests` first"
    # The whole row, from before its first character to below its last: the Markdown as the agent wrote it.
    first = before_char(view, answer, MARKDOWN.index("Steps")) - QPoint(4, 0)
    model_row = model.model_row(answer)
    below = view.visualRect(model.index(model_row)).bottomLeft() + QPoint(200, -2)
    drag(view, first, below)
    assert copy_keys(view) == MARKDOWN
    # Each character is painted where a click finds it, in every kind of block (a table's cells too): a click
    # at its right edge is the boundary after it.
    model_row = model.model_row(answer)
    top_left = view.visualRect(model.index(model_row)).topLeft()
    for word in ("Steps", "all", "compute", "parser.py", "Lines", "-2", "ship"):
        for offset in range(MARKDOWN.index(word), MARKDOWN.index(word) + len(word)):
            r = char_rect(view, answer, offset)
            assert view.delegate.offset_at(answer, view.visualRect(model.index(model_row)),
                                           QPoint(int(r.right()), int(r.center().y()))) == offset + 1, \
                (word, offset)
    assert top_left == view.visualRect(model.index(model_row)).topLeft()
    # Double-click: the word.
    at = before_char(view, answer, MARKDOWN.index("ship") + 1)
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert copy_keys(view) == "ship"


def test_selection_select_all_and_copy_with_the_keys_reads_packed_rows(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    events = [output(seq, f"line {seq}") for seq in range(1, 1200)]
    events[5] = output(6, "\x1b[31mred\x1b[0m and plain")
    events[7] = {"seq": 8, "kind": "assistant", "message_id": "m", "text": "**bold** answer"}
    model.apply_events(events)
    model.transcript.rows.objects_from(model.offset)  # rows out of the window packed, as the bridge does
    assert model.transcript.rows.packed_chunks() > 0
    laid_out(view)
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    copied = copy_keys(view)
    lines = copied.split("\n")
    assert len(lines) == 1199
    assert lines[0] == "line 1" and lines[5] == "red and plain" and lines[7] == "**bold** answer"
    assert lines[-1] == "line 1199"
    # The context menu's Copy does the same.
    QGuiApplication.clipboard().clear()
    assert view.copy_selection() == copied and QGuiApplication.clipboard().text() == copied


def highlight_painted(view: TranscriptView, r: Any) -> bool:
    """Whether the selection's colour (the palette's highlight, translucent) is painted in rect `r` of the
    viewport: pixels there lean towards it, where the rows' own text and background are grey."""
    image: QImage = view.viewport().grab().toImage()
    highlight = QGuiApplication.palette().color(QPalette.ColorRole.Highlight)
    assert highlight.blue() > highlight.red() + 60, "the test expects a bluish highlight"
    for x in range(int(r.left()), int(r.right())):
        for y in range(int(r.top()), int(r.bottom())):
            c = QColor(image.pixel(x, y))
            if c.blue() > c.red() + 30:
                return True
    return False


def test_selection_is_painted_and_survives_streaming_and_scrolling(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([output(seq, f"row {seq} with some words") for seq in range(1, 61)])
    laid_out(view)
    rows = model.transcript.rows
    a, b = rows[40], rows[42]
    drag(view, before_char(view, a, 4), before_char(view, b, 6))
    expected = "41 with some words\nrow 42 with some words\nrow 43"
    assert view.copy_selection() == expected
    middle = char_rect(view, rows[41], 2)
    outside = char_rect(view, rows[43], 2)
    assert highlight_painted(view, middle) and not highlight_painted(view, outside)
    # The agent goes on: the view follows, the window trims the selected rows away and they get packed.
    for start in range(61, 1000, 100):
        model.apply_events([output(seq, f"row {seq} with some words") for seq in range(start, start + 100)])
        laid_out(view)
    model.transcript.rows.objects_from(model.offset)
    assert model.model_row(a) < 0 and model.transcript.rows.packed_chunks() > 0
    assert view.copy_selection() == expected
    # Scrolled back to them: still selected, still painted.
    model.show_earlier(model.offset)
    laid_out(view)
    rows = model.transcript.rows
    assert highlight_painted(view, char_rect(view, rows[41], 2))
    assert not highlight_painted(view, char_rect(view, rows[43], 2))
    assert view.selection() == (TextPos(40, 4), TextPos(42, 6))


def test_selection_drag_past_the_top_scrolls_and_extends(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([output(seq, f"row {seq}") for seq in range(1, 141)])
    laid_out(view)
    bar = view.verticalScrollBar()
    assert bar.value() == bar.maximum() > 0
    bottom_row = model.transcript.rows[139]
    start = before_char(view, bottom_row, 2)
    top_before = view.position_at(QPoint(30, 1))
    assert top_before is not None
    mouse(view, QEvent.Type.MouseButtonPress, start)
    mouse(view, QEvent.Type.MouseMove, QPoint(start.x(), -40))  # above the view, button held
    qtbot.waitUntil(lambda: bar.value() < bar.maximum() - 200, timeout=20_000)
    mouse(view, QEvent.Type.MouseButtonRelease, QPoint(start.x(), -40), Qt.MouseButton.NoButton)
    selection = view.selection()
    assert selection is not None
    assert selection[1] == TextPos(139, 2) and selection[0].row < top_before.row


def test_selection_of_rows_selected_whole(qtbot: Any) -> None:
    """A tool call is a card: a selection takes it whole (its copy text), even when it ends or starts in it."""
    view, model = make_view(qtbot)
    model.apply_events([
        output(1, "before the tool"),
        {"seq": 2, "kind": "tool_call", "tool_id": "t", "name": "Bash", "input": {"command": "ls -l"}},
        {"seq": 3, "kind": "tool_result", "tool_id": "t", "output": "total 0", "is_error": False},
    ])
    laid_out(view)
    out, tool = model.transcript.rows[0], model.transcript.rows[1]
    tool_rect = view.visualRect(model.index(model.model_row(tool)))
    drag(view, before_char(view, out, 7), tool_rect.bottomLeft() + QPoint(60, -3))
    assert view.copy_selection() == "the tool\n" + tool.copy_text()
    assert view.selection() == (TextPos(0, 7), TextPos(1, END))


def test_find_highlights_the_matched_words_not_the_row(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([
        output(1, "a needle, then another NEEDLE here"),
        output(2, "nothing to see"),
        {"seq": 3, "kind": "assistant", "message_id": "m", "text": "the **needle** is found"},
    ])
    laid_out(view)
    rows = model.transcript.rows
    shown = view.show_match(Match(1, "output", "a needle, then another NEEDLE here", 2, 8), "needle")
    assert shown is rows[0]
    laid_out(view)
    view.clear_match()
    before = view.viewport().grab().toImage()  # at the same scroll position
    view.show_match(Match(1, "output", "a needle, then another NEEDLE here", 2, 8), "needle")
    # Every occurrence in the rows shown, the current match (the runner's: the row's first) marked as such.
    assert view.delegate.find_marks(rows[0]) == ((2, 8, True), (23, 29, False))
    assert view.delegate.find_marks(rows[1]) == ()
    needle_at = "the **needle**".index("needle")
    assert view.delegate.find_marks(rows[2]) == ((needle_at, needle_at + 6, False),)
    image = view.viewport().grab().toImage()

    def color_at(img: QImage, r: Any) -> QColor:
        return QColor(img.pixel(int(r.center().x()), int(r.bottom()) - 2))

    def amber(c: QColor) -> bool:
        return c.red() > c.blue() + 60 and c.green() > c.blue()

    current = char_rect(view, rows[0], 4)  # inside "needle"
    other = char_rect(view, rows[0], 25)  # inside "NEEDLE"
    rendered = char_rect(view, rows[2], needle_at + 2)  # inside the bold "needle" of the Markdown answer
    plain = char_rect(view, rows[0], 12)  # "then": not a match
    for r in (current, other, rendered):
        assert amber(color_at(image, r)) and not amber(color_at(before, r))
    assert not amber(color_at(image, plain))
    # The current match in a stronger colour than the others.
    strong, weak = color_at(image, current), color_at(image, other)
    assert strong.blue() < weak.blue() and FOUND_CURRENT.alpha() > FOUND_FILL.alpha()
    view.clear_match()
    assert view.delegate.find_marks(rows[0]) == ()
    assert not amber(color_at(view.viewport().grab().toImage(), current))


def test_selection_geometry_is_where_drawtext_paints(qtbot: Any) -> None:
    """Rows painted with QPainter.drawText (user messages, command output) find their characters by laying the
    text out as drawText does: the two must put every glyph in the same place, or selections would be off."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QPainter

    from desktop.qt.rows.base import WRAP
    from desktop.qt.rows.text_runs import drawn_text_runs

    view, _model = make_view(qtbot)
    ctx = view.delegate.ctx
    texts = ["short", "two\nlines", "a long line of words " * 12, "x" * 300, "tab\tseparated\tcolumns\n\nafter a gap",
             "mixed ünïcödé — and → arrows " * 6]
    for font in (ctx.body, ctx.mono):
        for text in texts:
            rect = QRect(7, 5, 410, 400)
            images = []
            for draw in ("drawText", "layout"):
                image = QImage(430, 420, QImage.Format.Format_ARGB32)
                image.fill(0xFFFFFFFF)
                p = QPainter(image)
                p.setFont(font)
                p.setPen(QColor("black"))
                if draw == "drawText":
                    p.drawText(rect, WRAP, text)
                else:
                    (run,) = drawn_text_runs(font, rect, text)
                    run.layout.draw(p, run.origin)
                p.end()
                images.append(image)
            assert images[0] == images[1], (font.family(), text[:30])
