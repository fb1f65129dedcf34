"""The end of a turn: its time, cost and tokens, small and on the right."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPainter

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import GAP_Y, MARGIN_X, Layout, RowRenderer, RowState


class TurnEndRenderer(RowRenderer):
    kinds = (RowKind.TURN_END,)

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        return Layout(self.ctx.fm_small.height() + 2 * GAP_Y + 4)

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        p.setFont(self.ctx.small)
        p.setPen(theme.current().muted)
        p.drawText(QRect(MARGIN_X, 0, width - 2 * MARGIN_X, lay.height),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, row.text)
