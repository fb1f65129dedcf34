"""What the agent said."""

from __future__ import annotations

from PySide6.QtGui import QPainter

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import Layout, RowState
from desktop.qt.rows.card import TextCardRenderer


class AssistantRenderer(TextCardRenderer):
    kinds = (RowKind.ASSISTANT,)
    markdown = True

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        t = theme.current()
        assert lay.card is not None
        self.ctx.card(p, lay.card, t.surface, t.border)
        self.paint_label(p, lay, "Assistant", t.accent)
        self.paint_text(p, lay, t.text)
