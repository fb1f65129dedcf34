"""The first row: "Beginning of the transcript", or a button showing the rows before the window."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QPainter, QPen

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import PAD, Layout, RowActions, RowRenderer, RowState


class HeaderRenderer(RowRenderer):
    kinds = (RowKind.HEADER,)

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        model = state.model
        text = model.header_text() if model is not None else ""
        if not text:
            return Layout(1)
        fm = self.ctx.fm_small
        lay = Layout(fm.height() + 2 * PAD, extra={"text": text})
        if model is not None and model.offset > 0:
            tw = fm.horizontalAdvance(text) + 28
            lay.buttons["more"] = QRect((width - tw) // 2, PAD // 2, tw, fm.height() + PAD)
        return lay

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        text = lay.extra.get("text")
        if not text:
            return
        t = theme.current()
        p.setFont(self.ctx.small)
        more = lay.buttons.get("more")
        if more is not None:
            p.setPen(QPen(t.accent, 1))
            p.setBrush(t.surface_alt if state.hover == "more" else t.surface)
            p.drawRoundedRect(QRectF(more), more.height() / 2, more.height() / 2)
            p.setPen(t.accent)
            p.drawText(more, Qt.AlignmentFlag.AlignCenter, text)
        else:
            p.setPen(t.muted)
            p.drawText(QRect(0, 0, width, lay.height), Qt.AlignmentFlag.AlignCenter, text)

    def activate(self, row: Row, name: str, actions: RowActions) -> bool:
        if name == "more":
            actions.show_earlier_rows()
            return True
        return False
