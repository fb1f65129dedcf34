"""A notable change of the session's state, as a line across the transcript."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPainter, QPen

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import GAP_Y, MARGIN_X, Layout, RowRenderer, RowState


class StatusRenderer(RowRenderer):
    kinds = (RowKind.STATUS,)

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        return Layout(self.ctx.fm_small.height() + 2 * GAP_Y + 4)

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        t = theme.current()
        p.setFont(self.ctx.small)
        failed = row.data.get("status") == "error" or row.data.get("exit_code") not in (None, 0)
        tw = self.ctx.fm_small.horizontalAdvance(row.text) + 24
        mid = lay.height // 2
        p.setPen(QPen(t.border, 1))
        p.drawLine(MARGIN_X, mid, (width - tw) // 2, mid)
        p.drawLine((width + tw) // 2, mid, width - MARGIN_X, mid)
        p.setPen(t.error_fg if failed else t.muted)
        p.drawText(QRect(0, 0, width, lay.height), Qt.AlignmentFlag.AlignCenter, row.text)
