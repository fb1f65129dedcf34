"""An event of a kind the view does not know: its kind and fields as text, never an exception."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QPainter

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import GAP_Y, MARGIN_X, WRAP, Layout, RowRenderer, RowState

MAX_GENERIC_CHARS = 2000


class GenericRenderer(RowRenderer):
    kinds = (RowKind.GENERIC,)
    monospace = True

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        left = self.ctx.left(row)
        inner_w = width - left - MARGIN_X
        h = self.ctx.text_h(self.ctx.fm_mono, inner_w, row.text[:MAX_GENERIC_CHARS])
        return Layout(h + 2 * GAP_Y, text=QRect(left, GAP_Y, inner_w, h))

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        p.setFont(self.ctx.mono)
        p.setPen(theme.current().muted)
        if lay.text is not None:
            p.drawText(lay.text, WRAP, row.text[:MAX_GENERIC_CHARS])
