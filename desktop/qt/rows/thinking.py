"""The agent's thinking: folded to its first lines, a click unfolds it."""

from __future__ import annotations

from PySide6.QtCore import QPoint
from PySide6.QtGui import QFont, QPainter

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import MAX_CHARS, Layout, RowState, clip_lines
from desktop.qt.rows.card import TextCardRenderer

FOLDED_LINES = 3


class ThinkingRenderer(TextCardRenderer):
    kinds = (RowKind.THINKING,)
    expandable = True
    markdown = True

    def font(self) -> QFont:
        return self.ctx.italic

    def shown_text(self, row: Row, state: RowState) -> str:
        text = row.text[:MAX_CHARS].strip("\n") or " "
        return text if state.expanded else clip_lines(text, FOLDED_LINES)[0]

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        t = theme.current()
        assert lay.card is not None
        self.ctx.card(p, lay.card, t.window, t.border)
        self.paint_label(p, lay, "Thinking  ▾" if state.expanded else "Thinking  ▸ (click to expand)", t.muted)
        self.paint_text(p, lay, t.muted)

    def hit(self, row: Row, lay: Layout, pos: QPoint) -> str | None:
        found = super().hit(row, lay, pos)
        if found is None and lay.card is not None and lay.card.contains(pos.toPointF()):
            return "toggle"
        return found
