"""A card of wrapped text with an optional label above it: what assistant, thinking and error rows share."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter

from desktop.core.transcript import Row
from desktop.qt.rows.base import GAP_Y, MARGIN_X, MAX_CHARS, PAD, Layout, RowRenderer, RowState


class TextCardRenderer(RowRenderer):
    labelled = True

    def font(self) -> QFont:
        return self.ctx.body

    def shown_text(self, row: Row, state: RowState) -> str:
        return row.text[:MAX_CHARS].strip("\n") or " "

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        left = self.ctx.left(row)
        inner_w = width - left - MARGIN_X
        text = self.shown_text(row, state)
        label_h = self.ctx.fm_small.height() + 4 if self.labelled else 0
        th = self.ctx.paragraphs.height(self.font(), inner_w - 2 * PAD, text)
        card = QRectF(left, GAP_Y, inner_w, th + 2 * PAD + label_h)
        return Layout(int(card.height() + 2 * GAP_Y), card=card,
                      text=QRect(left + PAD, GAP_Y + PAD + label_h, inner_w - 2 * PAD, th),
                      extra={"text": text, "label_y": GAP_Y + PAD - 2})

    def paint_label(self, p: QPainter, lay: Layout, label: str, color: QColor) -> None:
        assert lay.text is not None
        p.setFont(self.ctx.small)
        p.setPen(color)
        p.drawText(QRect(lay.text.x(), lay.extra["label_y"], lay.text.width(), self.ctx.fm_small.height()),
                   Qt.AlignmentFlag.AlignLeft, label)

    def paint_text(self, p: QPainter, lay: Layout, color: QColor) -> None:
        assert lay.text is not None
        p.setPen(color)
        self.ctx.paragraphs.draw(p, self.font(), lay.text, lay.extra["text"])
