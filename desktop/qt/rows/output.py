"""A line a process printed (stdout, or stderr in its own colour): most rows of a busy session."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QPainter

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import MARGIN_X, MAX_CHARS, WRAP, Layout, RowRenderer, RowState


class OutputRenderer(RowRenderer):
    kinds = (RowKind.OUTPUT,)
    monospace = True

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        left = self.ctx.left(row)
        inner_w = width - left - MARGIN_X
        h = self.ctx.text_h(self.ctx.fm_mono, inner_w, row.text[:MAX_CHARS])
        return Layout(h + 2, text=QRect(left, 1, inner_w, h))

    def quick_height(self, row: Row, width: int) -> int | None:
        ctx = self.ctx
        text = row.text
        if (not row.data.get("parent_tool_id") and len(text) * ctx.mono_advance <= width - 2 * MARGIN_X
                and ctx.one_mono_line(text, width)):
            return ctx.mono_row_h
        return None

    def quick_paint(self, p: QPainter, row: Row, rect: QRect) -> bool:
        # One line of output is drawn directly: cheaper than a layout or a pixmap.
        ctx = self.ctx
        left = ctx.left(row)
        if not ctx.one_mono_line(row.text, rect.width() - left - MARGIN_X):
            return False
        t = theme.current()
        p.setFont(ctx.mono)
        p.setPen(t.stderr if row.data.get("stream") == "stderr" else t.text)
        p.drawText(rect.left() + left, rect.top() + 1 + ctx.fm_mono.ascent(), row.text)
        return True

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        t = theme.current()
        p.setFont(self.ctx.mono)
        p.setPen(t.stderr if row.data.get("stream") == "stderr" else t.text)
        assert lay.text is not None
        p.drawText(lay.text, WRAP, row.text[:MAX_CHARS])
