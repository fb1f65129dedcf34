"""A card of text with an optional label above it: what assistant, thinking and error rows share. Assistant and
thinking text is Markdown (rows/markdown.py); error text is plain."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter

from desktop.core.transcript import Row
from desktop.qt.rows.base import GAP_Y, MARGIN_X, MAX_CHARS, PAD, Layout, RowRenderer, RowState
from desktop.qt.rows.markdown import draw_pieces, link_at, piece_runs
from desktop.qt.rows.text_runs import TextRun


class TextCardRenderer(RowRenderer):
    selects_text = True
    labelled = True
    markdown = False

    def font(self) -> QFont:
        return self.ctx.body

    def shown_text(self, row: Row, state: RowState) -> str:
        return row.text[:MAX_CHARS].strip("\n") or " "

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        ctx = self.ctx
        left = ctx.left(row)
        inner_w = width - left - MARGIN_X
        text = self.shown_text(row, state)
        label_h = ctx.fm_small.height() + 4 if self.labelled else 0
        extra: dict[str, object] = {"text": text, "label_y": GAP_Y + PAD - 2}
        if self.markdown:
            pieces, th = ctx.markdown.pieces(text, self.font(), inner_w - 2 * PAD, ctx.fm.height() // 2)
            extra["pieces"] = pieces
        else:
            th = ctx.paragraphs.height(self.font(), inner_w - 2 * PAD, text)
        card = QRectF(left, GAP_Y, inner_w, th + 2 * PAD + label_h)
        return Layout(int(card.height() + 2 * GAP_Y), card=card,
                      text=QRect(left + PAD, GAP_Y + PAD + label_h, inner_w - 2 * PAD, th), extra=extra)

    def paint_label(self, p: QPainter, lay: Layout, label: str, color: QColor) -> None:
        assert lay.text is not None
        p.setFont(self.ctx.small)
        p.setPen(color)
        p.drawText(QRect(lay.text.x(), lay.extra["label_y"], lay.text.width(), self.ctx.fm_small.height()),
                   Qt.AlignmentFlag.AlignLeft, label)

    def paint_text(self, p: QPainter, lay: Layout, color: QColor) -> None:
        assert lay.text is not None
        if "pieces" in lay.extra:
            draw_pieces(p, lay.extra["pieces"], lay.text.x(), lay.text.y(), lay.text.width(), color,
                        self.ctx.paragraphs)
            return
        p.setPen(color)
        self.ctx.paragraphs.draw(p, self.font(), lay.text, lay.extra["text"])

    def selectable_text(self, row: Row, state: RowState) -> str:
        return self.shown_text(row, state)

    def text_runs(self, row: Row, lay: Layout, state: RowState) -> list[TextRun] | None:
        assert lay.text is not None
        if "pieces" in lay.extra:
            return piece_runs(lay.extra["pieces"], lay.extra["text"], lay.text.x(), lay.text.y(), lay.text.width(),
                              self.ctx.paragraphs)
        return self.ctx.paragraphs.runs(self.font(), lay.text, lay.extra["text"])

    def hit(self, row: Row, lay: Layout, pos: QPoint) -> str | None:
        if "pieces" in lay.extra and lay.text is not None and lay.text.contains(pos):
            url = link_at(lay.extra["pieces"], pos.x() - lay.text.x(), pos.y() - lay.text.y())
            if url:
                return "link:" + url
        return super().hit(row, lay, pos)
