"""Issue 12 item 1: assistant and thinking text rendered as Markdown, code highlighted, links opened, Copy gives
the Markdown, and a streamed message re-parses only its last block."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QPoint, QUrl, Slot
from PySide6.QtGui import QColor, QDesktopServices, QFont, QGuiApplication, QImage, QPainter, QTextCursor

from desktop.core.markdown import split_blocks
from desktop.core.transcript import RowKind
from desktop.qt import theme
from tests.desktop.qt.test_transcript_view import make_view

ANSWER = """# Plan

Use **bold** and *care*; call `run()` first. See [the docs](https://example.org/docs).

- one
- two

> quoted

| name | size |
|------|------|
| a.py | 10 |

```python
def greet(name):
    return "hi " + name
```
"""


def assistant_layout(qtbot: Any, text: str) -> tuple[Any, Any, Any]:
    view, model = make_view(qtbot)
    model.apply_events([{"seq": 1, "kind": "assistant", "message_id": "m", "text": text}])
    row = model.transcript.rows[0]
    return view, model, view.delegate.layout(row, view.viewport().width(), model)


def test_markdown_renders_headings_emphasis_lists_quotes_tables_and_code(qtbot: Any) -> None:
    view, model, lay = assistant_layout(qtbot, ANSWER)
    pieces = lay.extra["pieces"]
    shown = [p.shown_text() for p in pieces]
    # What the reader sees: the words, not the Markdown syntax.
    assert shown[0] == "Plan"
    assert shown[1] == "Use bold and care; call run() first. See the docs."
    assert shown[2].split("\n") == ["one", "two"]
    assert shown[3] == "quoted"
    assert "name" in shown[4] and "a.py" in shown[4] and "|" not in shown[4]
    assert shown[5] == 'def greet(name):\n    return "hi " + name'
    assert [p.code for p in pieces] == [False] * 5 + [True]
    assert not any("**" in s or "`" in s or "# " in s for s in shown)

    def format_at(doc: Any, word: str) -> Any:
        cursor = QTextCursor(doc)
        cursor.setPosition(doc.toPlainText().index(word) + 1)
        return cursor.charFormat()

    heading = format_at(pieces[0].doc, "Plan")
    body = format_at(pieces[1].doc, "Use")
    assert heading.fontWeight() >= QFont.Weight.Bold or heading.fontPointSize() > body.fontPointSize()
    assert format_at(pieces[1].doc, "bold").fontWeight() == QFont.Weight.Bold
    assert format_at(pieces[1].doc, "care").fontItalic()
    code = format_at(pieces[1].doc, "run()")
    assert code.background().color() == theme.current().surface_alt
    link = format_at(pieces[1].doc, "docs")
    assert link.isAnchor() and link.anchorHref() == "https://example.org/docs"
    assert link.foreground().color() == theme.current().accent
    assert pieces[4].doc.rootFrame().childFrames(), "the table is a table"
    # Syntax highlighting: the keyword and the string get their own colours, not the text colour.
    keyword = format_at(pieces[5].doc, "def").foreground().color()
    string = format_at(pieces[5].doc, '"hi').foreground().color()
    plain = format_at(pieces[5].doc, "greet").foreground().color()
    assert keyword.isValid() and string.isValid() and keyword != string and keyword != plain

    # Painted: the code block sits on its tinted box.
    image = QImage(view.viewport().width(), lay.height, QImage.Format.Format_ARGB32)
    image.fill(theme.current().window)
    painter = QPainter(image)
    view.delegate.paint_row(painter, model.transcript.rows[0], image.rect(), 1)
    painter.end()
    code_box_y = lay.text.y() + pieces[5].y + 2
    assert QColor(image.pixel(lay.text.x() + lay.text.width() - 4, code_box_y)) == theme.current().surface_alt


class _Browser(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toString())


def test_markdown_link_click_opens_the_browser_and_copy_gives_the_markdown(qtbot: Any) -> None:
    view, model, lay = assistant_layout(qtbot, "See [the docs](https://example.org/docs) now.")
    browser = _Browser()
    QDesktopServices.setUrlHandler("https", browser, "open")
    try:
        row = model.transcript.rows[0]
        index = model.index(model.model_row(row))
        view.doItemsLayout()
        rect = view.visualRect(index)
        doc = lay.extra["pieces"][0].doc
        # Find the link's place from the document's own layout: the x of the word "docs".
        cursor = QTextCursor(doc)
        cursor.setPosition(doc.toPlainText().index("docs") + 1)
        line = cursor.block().layout().lineForTextPosition(cursor.positionInBlock())
        x = int(line.cursorToX(cursor.positionInBlock())[0])
        point = rect.topLeft() + lay.text.topLeft() + QPoint(x, int(line.y() + line.height() / 2))
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
        assert browser.opened == ["https://example.org/docs"]
        # Elsewhere on the text: nothing opens.
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.topLeft() + lay.text.topLeft()
                         + QPoint(2, 4))
        assert browser.opened == ["https://example.org/docs"]
    finally:
        QDesktopServices.unsetUrlHandler("https")
    view.selectAll()
    assert view.copy_selection() == "See [the docs](https://example.org/docs) now."
    assert QGuiApplication.clipboard().text() == "See [the docs](https://example.org/docs) now."


def test_markdown_streaming_reparses_only_the_last_block(qtbot: Any, monkeypatch: Any) -> None:
    from PySide6.QtGui import QTextDocument

    import desktop.qt.rows.markdown as rendering

    parsed: list[str] = []

    class CountingDocument(QTextDocument):  # Qt's class, counted: how much Markdown gets parsed per delta
        def setMarkdown(self, text: str, *args: Any) -> None:
            parsed.append(text)
            super().setMarkdown(text, *args)

    monkeypatch.setattr(rendering, "QTextDocument", CountingDocument)
    view, model = make_view(qtbot)
    paragraphs = [f"Paragraph {i} with **some** words in it." for i in range(60)]
    model.apply_events([{"seq": 1, "kind": "assistant", "message_id": "m", "text": "\n\n".join(paragraphs)}])
    view.doItemsLayout()
    QGuiApplication.processEvents()
    row = model.transcript.rows[0]
    docs = view.delegate.ctx.markdown
    view.delegate.layout(row, view.viewport().width(), model)
    before = len(docs)
    parsed.clear()
    for k in range(10):
        model.apply_events([{"seq": 2 + k, "kind": "assistant", "message_id": "m", "text": f" more{k}"}])
        lay = view.delegate.layout(row, view.viewport().width(), model)
        assert lay.extra["pieces"][-1].shown_text().endswith(f"more{k}")
    # One new document per delta (the last paragraph), not sixty.
    assert len(docs) - before == 10
    assert len(parsed) == 10 and all(text.startswith("Paragraph 59") for text in parsed)
    assert len(split_blocks(row.text)) == 60


def test_markdown_in_folded_thinking(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([{"seq": 1, "kind": "thinking", "message_id": "t",
                         "text": "**Considering** the `options`\n\nsecond\n\nthird\n\nfourth"}])
    row = model.transcript.rows[0]
    assert row.kind is RowKind.THINKING
    lay = view.delegate.layout(row, view.viewport().width(), model)
    shown = [p.shown_text() for p in lay.extra["pieces"]]
    assert shown[0] == "Considering the options" and "fourth" not in shown  # folded to its first lines
    model.toggle_row(row)
    lay = view.delegate.layout(row, view.viewport().width(), model)
    assert [p.shown_text() for p in lay.extra["pieces"]][-1] == "fourth"


def test_markdown_plain_paragraphs_read_as_markdown_would_show_them(qtbot: Any) -> None:
    """Paragraphs without any Markdown syntax skip the parser; they must look the same as parsed ones."""
    _view, _model, lay = assistant_layout(qtbot, "A plain line\nwrapped by the agent.\n\nThen *this* one.")
    pieces = lay.extra["pieces"]
    assert [p.shown_text() for p in pieces] == ["A plain line wrapped by the agent.", "Then this one."]
    assert pieces[0].doc is None and pieces[1].doc is not None
