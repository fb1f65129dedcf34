"""A tool call with its result: a one-line head (name, what it works on, its state); a click unfolds the input
and the output."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QPainter

from desktop.core.transcript import Row, RowKind, format_value
from desktop.qt import theme
from desktop.qt.rows.base import GAP_Y, MARGIN_X, MAX_CHARS, PAD, WRAP, Layout, RowRenderer, RowState, clip_lines

TOOL_LINES = 40


class ToolRenderer(RowRenderer):
    kinds = (RowKind.TOOL,)
    expandable = True
    monospace = True

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        ctx = self.ctx
        left = ctx.left(row)
        inner_w = width - left - MARGIN_X
        head_h = max(ctx.fm_bold.height(), 20)
        card_h = head_h + 2 * PAD - 4
        lay = Layout(0, extra={"head_h": head_h})
        if state.expanded:
            blocks = []
            for label, value in (("Input", row.data.get("input")), ("Output", row.data.get("output"))):
                if value is None:
                    continue
                body, more = clip_lines(format_value(value)[:MAX_CHARS], TOOL_LINES)
                if more:
                    body += f"\n… {more:,} more lines (Copy or View text shows everything)"
                h = ctx.text_h(ctx.fm_mono, inner_w - 4 * PAD, body)
                blocks.append((label, body, h))
                card_h += ctx.fm_small.height() + 6 + h + 2 * PAD // 2 + 6
            lay.extra["blocks"] = blocks
        lay.card = QRectF(left, GAP_Y, inner_w, card_h)
        lay.buttons["toggle"] = QRect(left, GAP_Y, inner_w, head_h + 2 * PAD - 4)
        lay.height = int(card_h + 2 * GAP_Y)
        return lay

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        ctx = self.ctx
        t = theme.current()
        assert lay.card is not None
        ctx.card(p, lay.card, t.surface_alt, t.border)
        head = lay.buttons["toggle"].adjusted(PAD, 0, -PAD, 0)
        is_error = row.data.get("is_error")
        done = row.data.get("output") is not None
        chip = "✗ failed" if is_error else ("✓ done" if done else "running…")
        p.setFont(ctx.small)
        chip_w = ctx.fm_small.horizontalAdvance(chip) + 6
        p.setPen(t.error_fg if is_error else (t.success if done else t.muted))
        p.drawText(QRect(head.right() - chip_w, head.y(), chip_w, head.height()),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, chip)
        x = head.x()
        p.setFont(ctx.body)
        p.setPen(t.muted)
        p.drawText(QRect(x, head.y(), 16, head.height()), Qt.AlignmentFlag.AlignVCenter,
                   "▾" if state.expanded else "▸")
        x += 18
        name = str(row.data.get("name") or "tool")
        p.setFont(ctx.bold)
        p.setPen(t.text)
        name_w = ctx.fm_bold.horizontalAdvance(name)
        p.drawText(QRect(x, head.y(), name_w + 2, head.height()), Qt.AlignmentFlag.AlignVCenter, name)
        x += name_w + 10
        p.setFont(ctx.mono)
        p.setPen(t.muted)
        avail = head.right() - chip_w - 8 - x
        if avail > 20:
            summary = ctx.fm_mono.elidedText(row.text, Qt.TextElideMode.ElideRight, avail)
            p.drawText(QRect(x, head.y(), avail, head.height()), Qt.AlignmentFlag.AlignVCenter, summary)
        if not state.expanded:
            return
        y = lay.buttons["toggle"].bottom() + 2
        inner = QRect(int(lay.card.x()) + PAD, 0, int(lay.card.width()) - 2 * PAD, 0)
        for label, body, h in lay.extra.get("blocks", []):
            p.setFont(ctx.small)
            p.setPen(t.muted)
            p.drawText(QRect(inner.x(), y, inner.width(), ctx.fm_small.height()), Qt.AlignmentFlag.AlignLeft,
                       label)
            y += ctx.fm_small.height() + 4
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(t.surface)
            p.drawRoundedRect(QRectF(inner.x(), y, inner.width(), h + PAD), 6, 6)
            p.setFont(ctx.mono)
            p.setPen(t.error_fg if (label == "Output" and is_error) else t.text)
            p.drawText(QRect(inner.x() + PAD, y + PAD // 2, inner.width() - 2 * PAD, h), WRAP, body)
            y += h + PAD + 8

    def title(self, row: Row) -> str:
        return f"Tool call: {row.data.get('name')}"
