"""A message the user sent: a bubble on the right."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QPainter

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import GAP_Y, MARGIN_X, MAX_CHARS, PAD, RADIUS, WRAP, Layout, RowRenderer, RowState
from desktop.qt.rows.text_runs import TextRun, drawn_text_runs


class UserRenderer(RowRenderer):
    kinds = (RowKind.USER,)
    selects_text = True

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        inner_w = width - self.ctx.left(row) - MARGIN_X
        max_w = int(inner_w * 0.72)
        text = row.text.rstrip("\n")[:MAX_CHARS] or " "
        natural = self.ctx.fm.boundingRect(QRect(0, 0, max_w - 2 * PAD, 1_000_000), WRAP, text)
        bw = min(max_w, natural.width() + 2 * PAD + 2)
        bh = natural.height() + 2 * PAD
        card = QRectF(width - MARGIN_X - bw, GAP_Y, bw, bh)
        return Layout(int(bh + 2 * GAP_Y), card=card,
                      text=QRect(int(card.x()) + PAD, int(card.y()) + PAD, bw - 2 * PAD, natural.height()))

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        assert lay.card is not None and lay.text is not None
        t = theme.current()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(t.user_bubble)
        p.drawRoundedRect(lay.card, RADIUS + 2, RADIUS + 2)
        p.setFont(self.ctx.body)
        p.setPen(t.user_text)
        p.drawText(lay.text, WRAP, row.text.rstrip("\n")[:MAX_CHARS])

    def selectable_text(self, row: Row, state: RowState) -> str:
        return row.text.rstrip("\n")[:MAX_CHARS]

    def text_runs(self, row: Row, lay: Layout, state: RowState) -> list[TextRun] | None:
        assert lay.text is not None
        return drawn_text_runs(self.ctx.body, lay.text, self.selectable_text(row, state))
