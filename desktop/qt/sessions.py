"""The sidebar: every runner's sessions in one list, grouped under a header per runner (its name, its own
status dot and session count), each session with title, agent, status badge and unread count.

One flat model: a group is its header row followed by its sessions, newest first. Rows are keyed by (runner,
session id): the same journal behind two addresses lists the same ids twice, once per group. With a single
runner the header is not shown (nothing to tell apart).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from desktop.core.find import session_matches
from desktop.core.status import Color, ConnectionStatus
from desktop.core.view import SessionInfo
from desktop.qt import theme

INFO_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2
"""The session id of a session row; None on a runner's header."""
RUNNER_ROLE = Qt.ItemDataRole.UserRole + 3
"""The runner key (EMBEDDED or a URL) of every row, header or session."""
HEADER_ROLE = Qt.ItemDataRole.UserRole + 4
"""The runner's header: its label and status."""

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


@dataclass
class RunnerHeader:
    key: str
    label: str
    status: ConnectionStatus
    sessions: int = 0


@dataclass
class _Row:
    runner: str
    info: SessionInfo | None  # None: the runner's header


class SessionListModel(QAbstractListModel):
    """Every runner's sessions, grouped by runner in sidebar order, newest first within a group."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[_Row] = []
        self.headers: dict[str, RunnerHeader] = {}

    # ------------------------------------------------------------ reading

    @property
    def items(self) -> list[SessionInfo]:
        """Every session listed, in row order."""
        return [r.info for r in self.rows if r.info is not None]

    def runners(self) -> list[str]:
        return [r.runner for r in self.rows if r.info is None]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default argument)
        return 0 if parent.isValid() else len(self.rows)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        # A header is selectable too: choosing it makes its runner the one a new session goes to.
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == RUNNER_ROLE:
            return row.runner
        info = row.info
        if info is None:
            header = self.headers[row.runner]
            if role == HEADER_ROLE:
                return header
            if role == Qt.ItemDataRole.DisplayRole:
                return header.label
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{header.label}: {header.status.label()}\n{header.status.tooltip()}"
            return None
        if role == INFO_ROLE:
            return info
        if role == ID_ROLE:
            return info.id
        if role == Qt.ItemDataRole.DisplayRole:
            return info.title or info.id
        if role == Qt.ItemDataRole.ToolTipRole:
            status = STATUS_LABEL.get(info.status, info.status)
            lines = [info.title or info.id, session_subtitle(info), f"Status: {status}",
                     f"Runner: {self.headers[row.runner].label}"]
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

    def header_row(self, runner: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r.info is None and r.runner == runner), -1)

    def group_end(self, runner: str) -> int:
        """The row after the group's last row."""
        start = self.header_row(runner)
        end = start + 1
        while end < len(self.rows) and self.rows[end].info is not None:
            end += 1
        return end

    def row_of(self, session_id: str | None, runner: str | None = None) -> int:
        """The session's row (in `runner`'s group, or the first group listing it), -1 when not listed."""
        for i, row in enumerate(self.rows):
            if row.info is not None and row.info.id == session_id and runner in (None, row.runner):
                return i
        return -1

    def session_runner(self, session_id: str) -> str | None:
        row = self.row_of(session_id)
        return self.rows[row].runner if row >= 0 else None

    # ------------------------------------------------------------ changing

    def set_runners(self, runners: list[tuple[str, str]]) -> None:
        """(key, label) in sidebar order. A runner's group is listed (empty, grey) before it is connected;
        the sessions of runners still listed are kept."""
        old = {key: [r.info for r in self.rows if r.runner == key and r.info is not None]
               for key in self.runners()}
        self.beginResetModel()
        self.rows = []
        headers = {}
        for key, label in runners:
            previous = self.headers.get(key)
            status = previous.status if previous is not None else ConnectionStatus(runner=label)
            headers[key] = RunnerHeader(key, label, status)
            self.rows.append(_Row(key, None))
            sessions = [s for s in old.get(key, []) if s is not None]
            self.rows.extend(_Row(key, s) for s in sorted(sessions, key=self._key))
            headers[key].sessions = len(sessions)
        self.headers = headers
        self.endResetModel()

    def _ensure_group(self, runner: str | None) -> str:
        """The group `runner` names, or the first one (a group of its own when none is listed yet)."""
        if runner is not None and runner in self.headers:
            return runner
        if runner is None and self.rows:
            return self.rows[0].runner
        key = runner or ""
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows))
        self.headers[key] = RunnerHeader(key, key, ConnectionStatus(runner=key))
        self.rows.append(_Row(key, None))
        self.endInsertRows()
        return key

    def set_sessions(self, sessions: list[SessionInfo], runner: str | None = None) -> None:
        """The runner's whole list (after each connect): rows of sessions gone are removed, the others updated
        in place, so the selection, the scroll position and every other group stay as they are."""
        key = self._ensure_group(runner)
        listed = {s.id: s for s in sessions}
        start, end = self.header_row(key) + 1, self.group_end(key)
        row = end - 1
        while row >= start:  # from the bottom, each run of adjacent rows gone in one removal
            last = row
            while row >= start and self.rows[row].info.id not in listed:  # type: ignore[union-attr]
                row -= 1
            if row < last:
                self.beginRemoveRows(QModelIndex(), row + 1, last)
                del self.rows[row + 1:last + 1]
                self.endRemoveRows()
            row -= 1
        # In bulk (a list of thousands is one signal or two, not thousands): the sessions known are updated in
        # place, and new ones go in one insertion when the group was empty (the first listing).
        end = self.group_end(key)
        known = {r.info.id for r in self.rows[start:end] if r.info is not None}
        for row in range(start, end):
            self.rows[row] = _Row(key, listed[self.rows[row].info.id])  # type: ignore[union-attr]
        if end > start:
            self.dataChanged.emit(self.index(start), self.index(end - 1))
        new = sorted((s for s in sessions if s.id not in known), key=self._key)
        order = [self._key(r.info) for r in self.rows[start:end]]  # type: ignore[arg-type]
        # Merged into the group's order (an equal key goes after), each run of adjacent new rows one insertion.
        i = j = inserted = 0
        while j < len(new):
            while i < len(order) and order[i] <= self._key(new[j]):
                i += 1
            run = []
            while j < len(new) and (i == len(order) or self._key(new[j]) < order[i]):
                run.append(_Row(key, new[j]))
                j += 1
            at = start + i + inserted
            self.beginInsertRows(QModelIndex(), at, at + len(run) - 1)
            self.rows[at:at] = run
            self.endInsertRows()
            inserted += len(run)
        self._count_changed(key)

    def upsert(self, info: SessionInfo, runner: str | None = None) -> None:
        key = self._ensure_group(runner)
        row = self.row_of(info.id, key)
        if row >= 0:
            self.rows[row] = _Row(key, info)
            self.dataChanged.emit(self.index(row), self.index(row))
            return
        pos, end = self.header_row(key) + 1, self.group_end(key)
        while pos < end and self._key(self.rows[pos].info) <= self._key(info):  # type: ignore[arg-type]
            pos += 1
        self.beginInsertRows(QModelIndex(), pos, pos)
        self.rows.insert(pos, _Row(key, info))
        self.endInsertRows()
        self._count_changed(key)

    def remove(self, session_id: str, runner: str | None = None) -> None:
        row = self.row_of(session_id, runner)
        if row >= 0:
            key = self.rows[row].runner
            self.beginRemoveRows(QModelIndex(), row, row)
            del self.rows[row]
            self.endRemoveRows()
            self._count_changed(key)

    def _count_changed(self, runner: str) -> None:
        header = self.header_row(runner)
        self.headers[runner].sessions = self.group_end(runner) - header - 1
        self.dataChanged.emit(self.index(header), self.index(header))

    def set_status(self, runner: str, status: ConnectionStatus) -> None:
        """The runner's own dot, in its header."""
        header = self.headers.get(runner)
        if header is None:
            return
        header.status = status
        row = self.header_row(runner)
        self.dataChanged.emit(self.index(row), self.index(row))

    def refresh(self, session_ids: list[str] | None = None, runner: str | None = None) -> None:
        if not self.rows:
            return
        if session_ids is None:
            self.dataChanged.emit(self.index(0), self.index(len(self.rows) - 1))
            return
        wanted = set(session_ids)
        # Row by row: heads name a few sessions, which may sit far apart.
        for i, r in enumerate(self.rows):
            if r.info is not None and r.info.id in wanted and runner in (None, r.runner):
                self.dataChanged.emit(self.index(i), self.index(i))


class SessionDelegate(QStyledItemDelegate):
    HEIGHT = 60
    HEADER_HEIGHT = 32

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        base = parent.font()
        self.title = QFont(base)
        self.title.setWeight(QFont.Weight.DemiBold)
        self.small = QFont(base)
        self.small.setPointSizeF(max(7.0, base.pointSizeF() - 1.5))
        self.badge = QFont(self.small)
        self.badge.setWeight(QFont.Weight.DemiBold)
        self.header = QFont(self.small)
        self.header.setWeight(QFont.Weight.Bold)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(200, self.HEADER_HEIGHT if index.data(HEADER_ROLE) is not None else self.HEIGHT)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        header: RunnerHeader | None = index.data(HEADER_ROLE)
        if header is not None:
            self._paint_header(p, option, header)
            return
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

    def _paint_header(self, p: QPainter, option: QStyleOptionViewItem, header: RunnerHeader) -> None:
        """The runner's name in capitals after its own dot, its session count (or its trouble) on the right."""
        t = theme.current()
        r = QRect(option.rect).adjusted(6, 1, -6, -1)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(t.selection)
            p.drawRoundedRect(QRectF(r), 6, 6)
        inner = r.adjusted(12, 0, -10, 0)
        dot = 8
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(t.status_color(header.status.color))
        p.drawEllipse(QRectF(inner.left(), inner.center().y() - dot / 2 + 1, dot, dot))
        p.setFont(self.header)
        fm = QFontMetrics(self.header)
        count = f"{header.sessions}"
        state = header.status.label().lower() if header.status.color is not Color.GREEN else ""
        right = f"{state} · {count}" if state else count
        rw = fm.horizontalAdvance(right)
        p.setPen(t.muted)
        p.drawText(QRect(inner.right() - rw, inner.top(), rw, inner.height()),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, right)
        left = inner.left() + dot + 8
        text_w = inner.right() - rw - 10 - left
        p.setPen(t.text if selected else t.muted)
        name = fm.elidedText(header.label.upper(), Qt.TextElideMode.ElideRight, text_w)
        p.drawText(QRect(left, inner.top(), text_w, inner.height()), Qt.AlignmentFlag.AlignVCenter, name)
        p.restore()


class SessionListView(QListView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sessions")
        self.setItemDelegate(SessionDelegate(self))
        self.setMouseTracking(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.filter_text = ""

    def setModel(self, model: Any) -> None:
        super().setModel(model)
        # Rows hidden by the filter are hidden in the view, not removed from the model: row numbers stay the
        # model's (selection, row_of). Rows inserted or changed are filtered again, a reset filters everything,
        # and a removal may leave a group without a match (the view's hidden rows follow the rows).
        model.modelReset.connect(self.apply_filter)
        model.rowsRemoved.connect(lambda *_: self._filter_headers(model.runners()))
        model.rowsInserted.connect(lambda _parent, first, last: self._filter_rows(first, last))
        model.dataChanged.connect(lambda top, bottom, *_: self._filter_rows(top.row(), bottom.row()))

    def set_filter(self, text: str) -> None:
        """Show only the sessions whose title, folder or agent hold every word of `text`, in every group."""
        self.filter_text = text
        self.apply_filter()

    def apply_filter(self, *_args: Any) -> None:
        model = self.model()
        if not isinstance(model, SessionListModel):
            return
        grouped = len(model.headers) > 1
        header = -1
        matched = False
        for i, row in enumerate(model.rows):
            info = row.info
            if info is None:
                if header >= 0:
                    self._show_header(header, grouped, matched)
                header, matched = i, False
                continue
            hidden = not self._matches(info)
            matched = matched or not hidden
            self.setRowHidden(i, hidden)
        if header >= 0:
            self._show_header(header, grouped, matched)

    def _filter_rows(self, first: int, last: int) -> None:
        """Filter rows first..last, then the headers of their groups (one may have gained its first match)."""
        model = self.model()
        if not isinstance(model, SessionListModel):
            return
        runners = set()
        for i in range(first, min(last, len(model.rows) - 1) + 1):
            row = model.rows[i]
            runners.add(row.runner)
            if row.info is not None:
                self.setRowHidden(i, not self._matches(row.info))
        self._filter_headers(runners)

    def _filter_headers(self, runners: Any) -> None:
        model = self.model()
        if not isinstance(model, SessionListModel):
            return
        grouped = len(model.headers) > 1
        for runner in runners:
            header = model.header_row(runner)
            matched = not self.filter_text.strip() or any(
                not self.isRowHidden(i) for i in range(header + 1, model.group_end(runner)))
            self._show_header(header, grouped, matched)

    def _matches(self, info: SessionInfo) -> bool:
        cwd = info.data.get("cwd")
        return session_matches(self.filter_text, info.title, str(cwd or ""), info.agent, agent_label(info.agent))

    def _show_header(self, row: int, grouped: bool, matched: bool) -> None:
        # One runner: no header (nothing to tell apart). While filtering, a group without a match is hidden.
        self.setRowHidden(row, not grouped or (bool(self.filter_text.strip()) and not matched))
