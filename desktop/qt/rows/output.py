"""A line a process printed (stdout, or stderr in its own colour): most rows of a busy session.

A command session runs in a terminal, so a line may carry escape codes and carriage returns: such a line is drawn
as the terminal shows it (desktop/core/terminal.py), in colour. Plain lines, nearly all of them, never meet the
interpreter: the one-line fast path is taken before anything looks for escape codes."""

from __future__ import annotations

import math
from collections import OrderedDict

from PySide6.QtCore import QPointF, QRect, QRectF
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QTextCharFormat, QTextLayout, QTextOption

from desktop.core.terminal import Style, color_hex, has_terminal_codes, interpret_line, shown_text
from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import MARGIN_X, MAX_CHARS, WRAP, Layout, RowContext, RowRenderer, RowState
from desktop.qt.rows.text_runs import LayoutRun, TextRun, drawn_text_runs

# The 16 basic colours, readable on each theme's background (xterm's own are too pale on white, too dark on black).
ANSI_LIGHT = (
    "#1d2127", "#c0262d", "#1a7f37", "#8a6a00", "#1f5fd1", "#a333b8", "#0f7c8c", "#8b93a1",
    "#5b6270", "#e5484d", "#22a55b", "#b08800", "#3b7bf5", "#c34fd8", "#1598aa", "#c8ccd3",
)
ANSI_DARK = (
    "#3a404a", "#ff6b70", "#4cc38a", "#e0c050", "#6f9cff", "#d787f0", "#4cc8d8", "#d4d8de",
    "#7a8290", "#ff8f94", "#6fdca6", "#ffe07a", "#93b4ff", "#e6a8f5", "#7ae0ec", "#ffffff",
)


def terminal_color(color: int | str, dark: bool) -> QColor:
    """A terminal colour in this theme: the basic 16 from the theme's palette, the others as given."""
    if isinstance(color, int) and color < 16:
        return QColor((ANSI_DARK if dark else ANSI_LIGHT)[color])
    return QColor(color_hex(color))


def char_format(style: Style, default_fg: QColor, default_bg: QColor, dark: bool) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fg = terminal_color(style.fg, dark) if style.fg is not None else QColor(default_fg)
    bg = terminal_color(style.bg, dark) if style.bg is not None else None
    if style.inverse:
        fg, bg = (bg if bg is not None else QColor(default_bg)), fg
    if style.dim:
        fg.setAlphaF(0.6)
    fmt.setForeground(QBrush(fg))
    if bg is not None:
        fmt.setBackground(QBrush(bg))
    if style.bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    if style.italic:
        fmt.setFontItalic(True)
    if style.underline:
        fmt.setFontUnderline(True)
    if style.strike:
        fmt.setFontStrikeOut(True)
    return fmt


class TerminalLayouts:
    """Interpreted rows laid out with their colours, cached by (text, width, colours): a progress line redrawn
    in place is laid out once per state it shows."""

    ENTRIES = 256

    def __init__(self, ctx: RowContext) -> None:
        self.ctx = ctx
        self._layouts: OrderedDict[tuple[str, int, bool, bool], tuple[list[QTextLayout], int]] = OrderedDict()
        self._option = QTextOption()
        self._option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)

    def get(self, text: str, width: int, stderr: bool) -> tuple[list[QTextLayout], int]:
        t = theme.current()
        key = (text, width, stderr, t.dark)
        found = self._layouts.get(key)
        if found is not None:
            self._layouts.move_to_end(key)
            return found
        default_fg = t.stderr if stderr else t.text
        layouts: list[QTextLayout] = []
        y = 0.0
        for line in interpret_line(text):
            layout = QTextLayout(line.text, self.ctx.mono)
            layout.setTextOption(self._option)
            ranges = []
            start = 0
            for span in line.spans:
                r = QTextLayout.FormatRange()
                r.start, r.length = start, len(span.text)
                r.format = char_format(span.style, default_fg, t.window, t.dark)
                ranges.append(r)
                start += len(span.text)
            layout.setFormats(ranges)
            layout.beginLayout()
            top = y
            while True:
                tl = layout.createLine()
                if not tl.isValid():
                    break
                tl.setLineWidth(max(10, width))
                tl.setPosition(QPointF(0, y - top))
                y += tl.height()
            layout.endLayout()
            layout.setPosition(QPointF(0, top))
            layouts.append(layout)
        found = (layouts, max(self.ctx.fm_mono.height(), math.ceil(y)))
        self._layouts[key] = found
        if len(self._layouts) > self.ENTRIES:
            self._layouts.popitem(last=False)
        return found


class OutputRenderer(RowRenderer):
    kinds = (RowKind.OUTPUT,)
    selects_text = True
    monospace = True

    def __init__(self, ctx: RowContext) -> None:
        super().__init__(ctx)
        self.terminal = TerminalLayouts(ctx)

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        left = self.ctx.left(row)
        inner_w = width - left - MARGIN_X
        text = row.data.get("sgr", "") + row.text[:MAX_CHARS]  # in the colours earlier lines left
        if has_terminal_codes(text):
            h = self.terminal.get(text, inner_w, row.data.get("stream") == "stderr")[1]
        else:
            h = self.ctx.text_h(self.ctx.fm_mono, inner_w, text)
        return Layout(h + 2, text=QRect(left, 1, inner_w, h))

    def quick_height(self, row: Row, width: int) -> int | None:
        ctx = self.ctx
        text = row.text
        if (not row.data.get("parent_tool_id") and len(text) * ctx.mono_advance <= width - 2 * MARGIN_X
                and ctx.one_mono_line(text, width)):
            return ctx.mono_row_h
        return None

    def quick_paint(self, p: QPainter, row: Row, rect: QRect) -> bool:
        # One line of output is drawn directly: cheaper than a layout or a pixmap. (A line with escape codes or
        # carriage returns is not printable, so it never gets here.)
        ctx = self.ctx
        left = ctx.left(row)
        if "sgr" in row.data or not ctx.one_mono_line(row.text, rect.width() - left - MARGIN_X):
            return False  # in colours an earlier line set, or more than one line
        t = theme.current()
        p.setFont(ctx.mono)
        p.setPen(t.stderr if row.data.get("stream") == "stderr" else t.text)
        p.drawText(rect.left() + left, rect.top() + 1 + ctx.fm_mono.ascent(), row.text)
        return True

    def quick_text_rect(self, row: Row, rect: QRect) -> QRectF | None:
        ctx = self.ctx
        left = ctx.left(row)
        if not ctx.one_mono_line(row.text, rect.width() - left - MARGIN_X):
            return None
        return QRectF(rect.left() + left, rect.top() + 1, len(row.text) * ctx.mono_advance, ctx.fm_mono.height())

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        t = theme.current()
        stderr = row.data.get("stream") == "stderr"
        text = row.data.get("sgr", "") + row.text[:MAX_CHARS]  # in the colours earlier lines left
        assert lay.text is not None
        if has_terminal_codes(text):
            layouts, _ = self.terminal.get(text, lay.text.width(), stderr)
            origin = QPointF(lay.text.topLeft())
            for layout in layouts:
                layout.draw(p, origin)
            return
        p.setFont(self.ctx.mono)
        p.setPen(t.stderr if stderr else t.text)
        p.drawText(lay.text, WRAP, text)

    def selectable_text(self, row: Row, state: RowState) -> str:
        return shown_text(row.text[:MAX_CHARS])

    def text_runs(self, row: Row, lay: Layout, state: RowState) -> list[TextRun] | None:
        text = row.text[:MAX_CHARS]
        assert lay.text is not None
        if not has_terminal_codes(text):
            return drawn_text_runs(self.ctx.mono, lay.text, text)
        layouts, _ = self.terminal.get(text, lay.text.width(), row.data.get("stream") == "stderr")
        runs: list[TextRun] = []
        start = 0
        for layout in layouts:  # one per line of the terminal's text, as shown_text() joins them
            runs.append(LayoutRun(start, layout, QPointF(lay.text.topLeft()) + layout.position()))
            start += len(layout.text()) + 1
        return runs
