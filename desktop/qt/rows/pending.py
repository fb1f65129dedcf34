"""A message in the outbox, not (yet) journaled: a dashed bubble with its state, Retry and Discard if it failed."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import CAPTION_H, MARGIN_X, MAX_CHARS, RADIUS, WRAP, Layout, RowActions, RowState
from desktop.qt.rows.user import UserRenderer


class PendingRenderer(UserRenderer):
    kinds = (RowKind.PENDING,)

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        lay = super().layout(row, width, state)
        assert lay.card is not None
        left = self.ctx.left(row)
        cap_y = int(lay.card.bottom()) + 3
        lay.height += CAPTION_H
        lay.extra["caption"] = QRect(left, cap_y, width - left - MARGIN_X, CAPTION_H - 3)
        if row.data.get("state") == "failed":
            fm = self.ctx.fm_small
            rw = fm.horizontalAdvance("Retry") + 12
            dw = fm.horizontalAdvance("Discard") + 12
            right = width - MARGIN_X
            lay.buttons["discard"] = QRect(right - dw, cap_y, dw, CAPTION_H - 3)
            lay.buttons["retry"] = QRect(right - dw - rw - 4, cap_y, rw, CAPTION_H - 3)
        return lay

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        assert lay.card is not None and lay.text is not None
        t = theme.current()
        failed = row.data.get("state") == "failed"
        bubble = QColor(t.user_bubble)
        bubble.setAlpha(110)
        p.setBrush(bubble if not failed else t.error_bg)
        p.setPen(QPen(t.user_bubble if not failed else t.error_fg, 1.2, Qt.PenStyle.DashLine))
        p.drawRoundedRect(lay.card, RADIUS + 2, RADIUS + 2)
        p.setFont(self.ctx.body)
        p.setPen(t.user_text if not failed else t.error_fg)
        p.drawText(lay.text, WRAP, row.text.rstrip("\n")[:MAX_CHARS])
        cap: QRect = lay.extra["caption"]
        row_state = row.data.get("state")
        if row_state == "failed":
            caption, color = f"Not delivered: {row.data.get('error')}", t.error_fg
        elif row_state == "sending":
            caption, color = "Sending…", t.muted
        else:
            caption, color = "Waiting for the connection, will send when it is back", t.muted
        p.setFont(self.ctx.small)
        p.setPen(color)
        left = cap.adjusted(0, 0, -(sum(b.width() + 6 for b in lay.buttons.values())), 0)
        text = self.ctx.fm_small.elidedText(caption, Qt.TextElideMode.ElideRight, left.width())
        p.drawText(left, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        for name, r in lay.buttons.items():
            p.setPen(t.accent if name == "retry" else t.muted)
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, name.capitalize())

    def activate(self, row: Row, name: str, actions: RowActions) -> bool:
        if name in ("retry", "discard"):
            actions.act_on_outbox(row, name)
            return True
        return False
