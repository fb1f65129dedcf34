"""Output rows drawn as a terminal shows them (issue 12 item 8): styles and colours as the view renders them, the
theme's palette for the 16 basic colours, no escape code ever drawn, and plain lines kept off the interpreter."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QFont, QTextCharFormat

from desktop.core.terminal import interpret_line
from desktop.core.transcript import RowKind
from desktop.qt import theme
from desktop.qt.rows.output import ANSI_DARK, ANSI_LIGHT, OutputRenderer
from tests.desktop.qt.test_transcript_view import make_view


def formats(view: Any, text: str) -> list[tuple[str, Any]]:
    """(text, char format) of each styled run of a row with `text`, as the view's output renderer lays it out."""
    renderer = view.delegate.renderers[RowKind.OUTPUT]
    assert isinstance(renderer, OutputRenderer)
    layouts, _ = renderer.terminal.get(text, 600, False)
    out = []
    for layout in layouts:
        for r in layout.formats():
            out.append((layout.text()[r.start:r.start + r.length], QTextCharFormat(r.format)))
    return out


def test_terminal_row_styles_and_colours(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    text = ("\x1b[1mbold\x1b[0m \x1b[3mitalic\x1b[23m \x1b[4munder\x1b[24m \x1b[7minv\x1b[27m "
            "\x1b[38;5;208morange\x1b[39m \x1b[48;2;1;2;3mtrue\x1b[49m \x1b[92mbright")
    model.apply_events([{"seq": 1, "kind": "output", "stream": "stdout", "text": text}])
    (row,) = list(model.transcript.rows)
    assert row.copy_text() == "bold italic under inv orange true bright"
    runs = {t: f for t, f in formats(view, row.text) if t.strip()}
    t = theme.current()
    assert runs["bold"].fontWeight() == QFont.Weight.Bold
    assert runs["italic"].fontItalic()
    assert runs["under"].fontUnderline()
    # Inverse with default colours: the text in the background colour on the text colour.
    assert runs["inv"].foreground().color() == t.window and runs["inv"].background().color() == t.text
    assert runs["orange"].foreground().color() == QColor("#ff8700")  # 256-colour palette, as given
    assert runs["true"].background().color() == QColor("#010203")
    assert runs["bright"].foreground().color() == QColor(ANSI_LIGHT[10])


def test_terminal_row_basic_colours_follow_the_theme(qtbot: Any) -> None:
    view, _model = make_view(qtbot)
    before = theme.current()
    try:
        theme._current = theme.DARK
        ((_, fmt),) = formats(view, "\x1b[31mred")
        assert fmt.foreground().color() == QColor(ANSI_DARK[1])
        theme._current = theme.LIGHT
        ((_, fmt),) = formats(view, "\x1b[31mred")
        assert fmt.foreground().color() == QColor(ANSI_LIGHT[1])
    finally:
        theme._current = before


def test_terminal_row_never_shows_escape_codes(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    texts = ["\x1b]0;a title\x07\x1b[?25l\x1b[2J\x1b[Hhello\x1b[5A", "50%\r\x1b[K100%", "cut \x1b[3"]
    model.apply_events([{"seq": i + 1, "kind": "output", "stream": "stdout", "text": t}
                        for i, t in enumerate(texts)])
    assert [r.copy_text() for r in model.transcript.rows] == ["hello", "100%", "cut "]
    for row in model.transcript.rows:
        assert all("\x1b" not in t and "[" not in t for t, _ in formats(view, row.text))
        # The row is as tall as a plain line: one line of text, not the raw sequence wrapped.
        assert view.delegate.height(row) == view.delegate.ctx.mono_row_h


def test_terminal_row_plain_lines_skip_the_interpreter(qtbot: Any) -> None:
    view, model = make_view(qtbot)
    model.apply_events([{"seq": i, "kind": "output", "stream": "stdout", "text": f"plain line {i}\ttab"
                         if i % 2 else f"plain line {i}"} for i in range(1, 200)])
    before = interpret_line.cache_info()
    view.viewport().grab()  # paints every shown row
    for row in model.transcript.rows:
        view.delegate.height(row)
        row.copy_text()
    after = interpret_line.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)
