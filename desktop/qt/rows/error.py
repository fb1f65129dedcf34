"""Something went wrong: the message in a red card."""

from __future__ import annotations

from PySide6.QtGui import QPainter

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import Layout, RowState
from desktop.qt.rows.card import TextCardRenderer


class ErrorRenderer(TextCardRenderer):
    kinds = (RowKind.ERROR,)
    labelled = False

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        t = theme.current()
        assert lay.card is not None
        self.ctx.card(p, lay.card, t.error_bg, t.error_fg)
        self.paint_text(p, lay, t.error_fg)
