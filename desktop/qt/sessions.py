"""The sidebar: one row per session with title, agent, status badge and unread count."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from desktop.core.find import session_matches
from desktop.core.view import SessionInfo
from desktop.qt import theme

INFO_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2

STATUS_LABEL = {
    "running": "running",
    "idle": "idle",
    "needs_approval": "needs approval",
    "error": "error",
    "exited": "exited",
    "interrupted": "interrupted",
}

Index = QModelIndex | QPersistentModelIndex


def agent_label(agent: str) -> str:
    return {"command": "Command", "claude": "Claude Code", "codex": "Codex"}.get(agent, agent.capitalize())


def session_subtitle(info: SessionInfo) -> str:
    parts = [agent_label(info.agent)]
    cwd = info.data.get("cwd")
    if isinstance(cwd, str) and cwd:
        parts.append(os.path.basename(cwd.rstrip("/\\")) or cwd)
    return " · ".join(parts)


class SessionListModel(QAbstractListModel):
    """Sessions, newest first."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.items: list[SessionInfo] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default argument)
        return 0 if parent.isValid() else len(self.items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        info = self.items[index.row()]
        if role == INFO_ROLE:
            return info
        if role == ID_ROLE:
            return info.id
        if role == Qt.ItemDataRole.DisplayRole:
            return info.title or info.id
        if role == Qt.ItemDataRole.ToolTipRole:
            status = STATUS_LABEL.get(info.status, info.status)
            lines = [info.title or info.id, session_subtitle(info), f"Status: {status}"]
            if info.data.get("cwd"):
                lines.append(f"Folder: {info.data['cwd']}")
            if info.unread:
                lines.append(f"{info.unread:,} new events")
            return "\n".join(lines)
        return None

    @staticmethod
    def _key(info: SessionInfo) -> float:
        created = info.data.get("created_at")
        return -(created if isinstance(created, (int, float)) else 0.0)

    def row_of(self, session_id: str) -> int:
        for i, info in enumerate(self.items):
            if info.id == session_id:
                return i
        return -1

    def set_sessions(self, sessions: list[SessionInfo]) -> None:
        self.beginResetModel()
        self.items = sorted(sessions, key=self._key)
        self.endResetModel()

    def upsert(self, info: SessionInfo) -> None:
        row = self.row_of(info.id)
        if row >= 0:
            self.items[row] = info
            self.dataChanged.emit(self.index(row), self.index(row))
            return
        pos = 0
        while pos < len(self.items) and self._key(self.items[pos]) <= self._key(info):
            pos += 1
        self.beginInsertRows(QModelIndex(), pos, pos)
        self.items.insert(pos, info)
        self.endInsertRows()

    def remove(self, session_id: str) -> None:
        row = self.row_of(session_id)
        if row >= 0:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self.items[row]
            self.endRemoveRows()

    def refresh(self, session_ids: list[str] | None = None) -> None:
        if not self.items:
            return
        rows = [self.row_of(s) for s in session_ids] if session_ids is not None else [0, len(self.items) - 1]
        rows = [r for r in rows if r >= 0]
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))


class SessionDelegate(QStyledItemDelegate):
    HEIGHT = 60

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        base = parent.font()
        self.title = QFont(base)
        self.title.setWeight(QFont.Weight.DemiBold)
        self.small = QFont(base)
        self.small.setPointSizeF(max(7.0, base.pointSizeF() - 1.5))
        self.badge = QFont(self.small)
        self.badge.setWeight(QFont.Weight.DemiBold)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(200, self.HEIGHT)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        info: SessionInfo | None = index.data(INFO_ROLE)
        if info is None:
            return
        t = theme.current()
        r = QRect(option.rect).adjusted(6, 2, -6, -2)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(t.selection if selected else t.surface_alt)
            p.drawRoundedRect(QRectF(r), 8, 8)
        inner = r.adjusted(12, 8, -10, -8)
        # Right column: status badge, unread count under it.
        label = STATUS_LABEL.get(info.status, info.status)
        bfm = QFontMetrics(self.badge)
        bw = bfm.horizontalAdvance(label) + 14
        bh = bfm.height() + 4
        badge = QRect(inner.right() - bw, inner.top(), bw, bh)
        bg, fg = t.badge_colors(info.status)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(bg)
        p.drawRoundedRect(QRectF(badge), bh / 2, bh / 2)
        p.setFont(self.badge)
        p.setPen(fg)
        p.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)
        if info.unread:
            text = f"{info.unread:,}" if info.unread < 10_000 else "9999+"
            uw = max(bh, bfm.horizontalAdvance(text) + 12)
            unread = QRect(inner.right() - uw, inner.bottom() - bh + 1, uw, bh)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(t.accent)
            p.drawRoundedRect(QRectF(unread), bh / 2, bh / 2)
            p.setPen(t.accent_text)
            p.drawText(unread, Qt.AlignmentFlag.AlignCenter, text)
        text_w = inner.width() - bw - 10
        p.setFont(self.title)
        p.setPen(t.text)
        tfm = QFontMetrics(self.title)
        title = tfm.elidedText(info.title or info.id, Qt.TextElideMode.ElideRight, text_w)
        p.drawText(QRect(inner.left(), inner.top(), text_w, tfm.height()), Qt.AlignmentFlag.AlignLeft, title)
        p.setFont(self.small)
        p.setPen(t.muted)
        sfm = QFontMetrics(self.small)
        sub = sfm.elidedText(session_subtitle(info), Qt.TextElideMode.ElideRight, text_w)
        p.drawText(QRect(inner.left(), inner.bottom() - sfm.height() + 1, text_w, sfm.height()),
                   Qt.AlignmentFlag.AlignLeft, sub)
        p.restore()


class SessionListView(QListView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessions")
        self.setItemDelegate(SessionDelegate(self))
        self.setMouseTracking(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setUniformItemSizes(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.filter_text = ""

    def setModel(self, model: Any) -> None:
        super().setModel(model)
        # Rows hidden by the filter are hidden in the view, not removed from the model: row numbers stay the
        # model's (selection, row_of). Any change to the rows applies the filter again.
        for signal in (model.modelReset, model.rowsInserted, model.dataChanged, model.rowsRemoved):
            signal.connect(self.apply_filter)

    def set_filter(self, text: str) -> None:
        """Show only the sessions whose title, folder or agent hold every word of `text`."""
        self.filter_text = text
        self.apply_filter()

    def apply_filter(self, *_args: Any) -> None:
        model = self.model()
        if not isinstance(model, SessionListModel):
            return
        for i, info in enumerate(model.items):
            cwd = info.data.get("cwd")
            self.setRowHidden(i, not session_matches(self.filter_text, info.title, str(cwd or ""), info.agent,
                                                     agent_label(info.agent)))
