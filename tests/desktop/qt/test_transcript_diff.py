"""Issue 12 item 2: a tool call that edits files shows a file header and a coloured unified diff, folded when long
and expandable with a click; a Write shows its content as added lines; Codex file changes list their files."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtTest import QTest

from desktop.core.worktree import DiffLineKind
from desktop.qt import theme
from desktop.qt.rows.tool import FOLDED_DIFF_LINES, diff_colors
from tests.desktop.qt.test_transcript_view import make_view


def tool_row(qtbot: Any, name: str, tool_input: Any, output: str | None = "ok") -> tuple[Any, Any, Any]:
    view, model = make_view(qtbot)
    events: list[dict[str, Any]] = [{"seq": 1, "kind": "tool_call", "tool_id": "t1", "name": name,
                                     "input": tool_input}]
    if output is not None:
        events.append({"seq": 2, "kind": "tool_result", "tool_id": "t1", "output": output, "is_error": False})
    model.apply_events(events)
    view.doItemsLayout()
    return view, model, model.transcript.rows[0]


def shown_lines(view: Any, model: Any, row: Any) -> list[tuple[str, str]]:
    lay = view.delegate.layout(row, view.viewport().width(), model)
    return [(what, text) for what, text, _kind in lay.extra.get("diff", [])]


def paint(view: Any, model: Any, row: Any) -> tuple[QImage, Any]:
    lay = view.delegate.layout(row, view.viewport().width(), model)
    image = QImage(view.viewport().width(), lay.height, QImage.Format.Format_ARGB32)
    image.fill(theme.current().window)
    painter = QPainter(image)
    view.delegate.paint_row(painter, row, image.rect(), model.model_row(row))
    painter.end()
    return image, lay


def test_diff_of_an_edit_with_added_and_removed_colours(qtbot: Any) -> None:
    view, model, row = tool_row(qtbot, "Edit", {"file_path": "/home/me/proj/a.txt", "old_string": "hello\nworld",
                                                "new_string": "hello\nthere", "replace_all": False},
                                "The file /home/me/proj/a.txt has been updated successfully.")
    assert shown_lines(view, model, row) == [("file", "/home/me/proj/a.txt  +1 -1"), ("line", " hello"),
                                             ("line", "-world"), ("line", "+there")]
    image, lay = paint(view, model, row)
    # Each diff line's background is its kind's colour, across the line.
    line_h = view.delegate.renderers[row.kind].line_h()
    first_line_y = lay.buttons["toggle"].bottom() + 2 + 10 // 4 + line_h  # under the file header
    x = int(lay.card.right()) - 20
    _fg, removed_bg = diff_colors(DiffLineKind.REMOVED)
    _fg, added_bg = diff_colors(DiffLineKind.ADDED)
    assert QColor(image.pixel(x, first_line_y + line_h + line_h // 2)) == removed_bg
    assert QColor(image.pixel(x, first_line_y + 2 * line_h + line_h // 2)) == added_bg
    assert QColor(image.pixel(x, first_line_y + line_h // 2)) == theme.current().surface  # context: no tint
    # And the text of those lines is drawn in the kind's colour (some pixels of it, over the tint).
    removed_fg, _ = diff_colors(DiffLineKind.REMOVED)
    row_pixels = {QColor(image.pixel(px, first_line_y + line_h + line_h // 2)).name()
                  for px in range(int(lay.card.x()), int(lay.card.right()))}
    assert removed_fg.name() in row_pixels or len(row_pixels) > 2


def test_diff_of_a_new_file_write_shows_its_content_as_added_lines(qtbot: Any) -> None:
    view, model, row = tool_row(qtbot, "Write", {"file_path": "/p/new.py", "content": "import os\nprint(os.sep)\n"},
                                "File created successfully at: /p/new.py")
    assert shown_lines(view, model, row) == [("file", "/p/new.py  +2 -0"), ("line", "+import os"),
                                             ("line", "+print(os.sep)")]


def test_diff_when_long_is_folded_and_a_click_expands_it(qtbot: Any) -> None:
    content = "\n".join(f"line {i}" for i in range(50))
    view, model, row = tool_row(qtbot, "Write", {"file_path": "/p/long.txt", "content": content})
    lines = shown_lines(view, model, row)
    assert len([w for w, _ in lines if w == "line"]) == FOLDED_DIFF_LINES
    assert lines[-1] == ("more", f"… {50 - FOLDED_DIFF_LINES} more lines (click to expand)")
    folded_height = view.delegate.height(row)
    index = model.index(model.model_row(row))
    rect = view.visualRect(index)
    lay = view.delegate.layout(row, rect.width(), model)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.topLeft() + lay.buttons["more"].center())
    assert model.is_expanded(row)
    lines = shown_lines(view, model, row)
    assert [t for w, t in lines if w == "line"] == [f"+line {i}" for i in range(50)]
    assert view.delegate.height(row) > folded_height
    # The head folds it again.
    rect = view.visualRect(model.index(model.model_row(row)))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.topLeft() + QPoint(60, 16))
    assert not model.is_expanded(row)


def test_diff_of_notebook_codex_gemini_and_opencode_edits(qtbot: Any) -> None:
    view, model, row = tool_row(qtbot, "NotebookEdit", {"notebook_path": "/p/n.ipynb", "cell_id": "c1",
                                                        "new_source": "print(2)", "edit_mode": "replace"})
    assert shown_lines(view, model, row) == [("file", "/p/n.ipynb  +1 -0"), ("line", "replace cell c1"),
                                             ("line", "+print(2)")]
    view, model, row = tool_row(qtbot, "file_change", {"changes": [
        {"path": "/p/a.txt", "kind": "update"}, {"path": "/p/gone.txt", "kind": "delete"}]}, "update /p/a.txt")
    assert shown_lines(view, model, row) == [("file", "update  /p/a.txt"), ("file", "delete  /p/gone.txt")]
    view, model, row = tool_row(qtbot, "replace", {"file_path": "/g.txt", "old_string": "a", "new_string": "b"})
    assert shown_lines(view, model, row)[1:] == [("line", "-a"), ("line", "+b")]
    view, model, row = tool_row(qtbot, "edit", {"filePath": "/o.txt", "oldString": "a", "newString": "c"})
    assert shown_lines(view, model, row)[1:] == [("line", "-a"), ("line", "+c")]
    view, model, row = tool_row(qtbot, "Bash", {"command": "ls"})
    assert shown_lines(view, model, row) == []  # not an edit: the usual folded tool row
