"""A permission prompt (or an agent's question to the user) with its buttons, then its answer."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from desktop.core.questions import is_question
from desktop.core.transcript import Row, RowKind, format_value
from desktop.qt import theme
from desktop.qt.rows.base import (
    BUTTON_H,
    BUTTON_W,
    GAP_Y,
    MARGIN_X,
    MAX_CHARS,
    PAD,
    WRAP,
    Layout,
    RowActions,
    RowRenderer,
    RowState,
    clip_lines,
)

SUMMARY_LINES = 12


def permission_summary(value: Any) -> str:
    """What a permission prompt shows: the command or path when there is one, else the input as JSON."""
    if isinstance(value, dict):
        if isinstance(value.get("command"), str):
            text = "$ " + value["command"]
            if isinstance(value.get("description"), str):
                text += "\n# " + value["description"]
            return text
        if isinstance(value.get("file_path"), str) and len(value) <= 2:
            return value["file_path"]
    return format_value(value)


class PermissionRenderer(RowRenderer):
    kinds = (RowKind.PERMISSION,)
    monospace = True

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        ctx = self.ctx
        left = ctx.left(row)
        inner_w = width - left - MARGIN_X
        title_h = ctx.fm_bold.height()
        # Questions read as questions (the choices come in the dialog); other tools show their input.
        summary = row.text if is_question(row.data.get("tool_name")) else permission_summary(row.data.get("input"))
        summary, more = clip_lines(summary[:MAX_CHARS], SUMMARY_LINES)
        if more:
            summary += f"\n… {more:,} more lines"
        sh = ctx.text_h(ctx.fm_mono, inner_w - 2 * PAD, summary)
        card_h = PAD + title_h + 6 + sh + PAD + BUTTON_H + PAD
        card = QRectF(left, GAP_Y, inner_w, card_h)
        lay = Layout(int(card_h + 2 * GAP_Y), card=card,
                     text=QRect(left + PAD, GAP_Y + PAD + title_h + 6, inner_w - 2 * PAD, sh),
                     extra={"summary": summary, "title_y": GAP_Y + PAD})
        by = int(card.bottom()) - PAD - BUTTON_H
        if row.data.get("behavior") is None:
            offered = self.buttons(row)
            lay.extra["labels"] = dict(offered)
            x = int(card.right()) - PAD
            for name, label in reversed(offered):  # placed from the right edge
                w = max(BUTTON_W, ctx.fm_bold.horizontalAdvance(label) + 24)
                x -= w
                lay.buttons[name] = QRect(x, by, w, BUTTON_H)
                x -= 8
        lay.extra["foot_y"] = by
        return lay

    @staticmethod
    def buttons(row: Row) -> list[tuple[str, str]]:
        """The answers offered, left to right: (name, label)."""
        if is_question(row.data.get("tool_name")):
            return [("allow", "Answer…"), ("deny", "Decline")]
        offered = [("allow", "Allow")]
        if row.data.get("suggestions"):  # the CLI proposes rules that stop it asking again
            offered.append(("allow_session", "Allow for this session"))
        return [*offered, ("deny", "Deny"), ("deny_message", "Deny with a message…")]

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        ctx = self.ctx
        t = theme.current()
        behavior = row.data.get("behavior")
        assert lay.text is not None and lay.card is not None
        if behavior is None:
            ctx.card(p, lay.card, t.warn_bg, t.warn_fg)
        else:
            ctx.card(p, lay.card, t.surface_alt, t.border)
        asks = is_question(row.data.get("tool_name"))
        p.setFont(ctx.bold)
        p.setPen(t.warn_fg if behavior is None else t.muted)
        if asks:
            title = "The agent asks you" if behavior is None else "The agent asked you"
        else:
            title = f"{'Permission needed' if behavior is None else 'Permission'}: {row.data.get('tool_name')}"
        p.drawText(QRect(lay.text.x(), lay.extra["title_y"], lay.text.width(), ctx.fm_bold.height()),
                   Qt.AlignmentFlag.AlignLeft, title)
        p.setFont(ctx.mono)
        p.setPen(t.text)
        p.drawText(lay.text, WRAP, lay.extra["summary"])
        foot = QRect(lay.text.x(), lay.extra["foot_y"], lay.text.width(), BUTTON_H)
        if behavior is not None:
            p.setFont(ctx.bold)
            p.setPen(t.success if behavior == "allow" else (t.muted if behavior == "cancelled" else t.error_fg))
            answer = {"allow": "✓ Allowed", "deny": "✗ Denied"}.get(str(behavior), "Withdrawn")
            if behavior == "allow" and row.data.get("updated_permissions"):
                answer += " for this session"
            message = row.data.get("message")
            if message:
                answer += f": {message}"
            p.drawText(foot, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, answer)
            return
        p.setFont(ctx.small)
        p.setPen(t.muted)
        p.drawText(foot, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "The agent waits for you")
        for name, r in lay.buttons.items():
            primary = name == "allow"
            fill = QColor(t.accent if primary else t.surface)
            if state.hover == name:
                fill = fill.darker(112) if primary else QColor(t.surface_alt)
            p.setBrush(fill)
            p.setPen(QPen(t.accent if primary else t.border, 1))
            p.drawRoundedRect(QRectF(r).adjusted(0.5, 0.5, -0.5, -0.5), 7, 7)
            p.setFont(ctx.bold)
            p.setPen(t.accent_text if primary else t.text)
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, lay.extra["labels"][name])

    def activate(self, row: Row, name: str, actions: RowActions) -> bool:
        if name == "allow" and is_question(row.data.get("tool_name")):
            actions.ask_question(row)
        elif name in ("allow", "deny"):
            actions.answer_permission(row, name)
        elif name == "allow_session":
            actions.answer_permission(row, "allow", list(row.data.get("suggestions") or []))
        elif name == "deny_message":
            actions.deny_with_message(row)
        else:
            return False
        return True
