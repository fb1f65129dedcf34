"""TranscriptModel: one session's rows for a QListView, in batches, with a window over the tail.

The core Transcript keeps every row; the model shows the newest WINDOW of them (plus a header row offering
the earlier ones, and the outbox's pending messages at the end). QListView lays out every row it shows on
each insertion, so showing 100,000 rows would make each batch cost O(100,000); the window keeps it O(WINDOW)
however long the session gets. Scrolling up and asking for earlier rows grows the window; following the tail
trims it.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from desktop.core.outbox import OutboxItem, OutboxState
from desktop.core.transcript import Row, RowKind, Transcript

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
WINDOW = 2000
SLACK = 500
MORE_STEP = 2000

Index = QModelIndex | QPersistentModelIndex


class TranscriptModel(QAbstractListModel):
    sizes_changed = Signal()
    """Rows changed height (text grew, a tool call expanded); the view must lay out again."""

    def __init__(self, session_id: str, parent: Any = None) -> None:
        super().__init__(parent)
        self.session_id = session_id
        self.transcript = Transcript()
        self.offset = 0
        self.pending: list[Row] = []
        self.header = Row(RowKind.HEADER, 0)
        self.follow_tail = True
        self.insert_batches = 0
        """How many beginInsertRows calls event batches caused (one per batch)."""

    # ---------------------------------------------------------------- Qt API

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default argument)
        if parent.isValid():
            return 0
        return 1 + len(self.transcript.rows) - self.offset + len(self.pending)

    def row_at(self, i: int) -> Row | None:
        if i == 0:
            return self.header
        j = i - 1 + self.offset
        rows = self.transcript.rows
        if 0 <= j < len(rows):
            return rows[j]
        k = j - len(rows)
        if 0 <= k < len(self.pending):
            return self.pending[k]
        return None

    def model_row(self, row: Row) -> int:
        """The model row showing `row`, or -1 when it is outside the window."""
        if row.kind is RowKind.HEADER:
            return 0
        if row.kind is RowKind.PENDING:
            for k, p in enumerate(self.pending):
                if p is row:
                    return 1 + len(self.transcript.rows) - self.offset + k
            return -1
        if row.index < self.offset:
            return -1
        return 1 + row.index - self.offset

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index.row()) if index.isValid() else None
        if row is None:
            return None
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return row.copy_text()
        if role == Qt.ItemDataRole.ToolTipRole and row.seq:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.ts)) if row.ts else ""
            return f"#{row.seq}  {stamp}"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.row() == 0:
            return Qt.ItemFlag.ItemIsEnabled
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # ---------------------------------------------------------------- updates

    def apply_events(self, events: list[dict[str, Any]]) -> None:
        """One batch of events: changed rows announced with one dataChanged, new rows with one insertion."""
        batch = self.transcript.prepare(events)
        visible = [self.model_row(r) for r in batch.changed]
        visible = [v for v in visible if v >= 0]
        if batch.new_rows:
            first = 1 + len(self.transcript.rows) - self.offset
            self.beginInsertRows(QModelIndex(), first, first + len(batch.new_rows) - 1)
            self.transcript.commit(batch)
            self.insert_batches += 1
            self.endInsertRows()
        else:
            self.transcript.commit(batch)
        if visible:
            self.dataChanged.emit(self.index(min(visible)), self.index(max(visible)))
            self.sizes_changed.emit()
        if self.transcript.rows and len(self.transcript.rows) == len(batch.new_rows):
            self._header_changed()  # first rows: the header now says "beginning of the transcript"
        self.trim()

    def trim(self) -> None:
        """While following the tail, keep the window near WINDOW rows."""
        shown = len(self.transcript.rows) - self.offset
        if not self.follow_tail or shown <= WINDOW + SLACK:
            return
        k = shown - WINDOW
        self.beginRemoveRows(QModelIndex(), 1, k)
        self.offset += k
        self.endRemoveRows()
        self._header_changed()

    def show_earlier(self, count: int = MORE_STEP) -> int:
        k = min(self.offset, count)
        if k <= 0:
            return 0
        self.beginInsertRows(QModelIndex(), 1, k)
        self.offset -= k
        self.endInsertRows()
        self._header_changed()
        return k

    def set_pending(self, items: list[OutboxItem], connected: bool) -> None:
        rows = []
        for item in items:
            if item.state is OutboxState.FAILED:
                state = "failed"
            elif connected:
                state = "sending"
            else:
                state = "waiting"
            rows.append(Row(RowKind.PENDING, 0, time.time(), item.text,
                            {"client_msg_id": item.client_msg_id, "state": state, "error": item.error}))
        start = 1 + len(self.transcript.rows) - self.offset
        if self.pending:
            self.beginRemoveRows(QModelIndex(), start, start + len(self.pending) - 1)
            self.pending = []
            self.endRemoveRows()
        if rows:
            self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
            self.pending = rows
            self.endInsertRows()

    def reset(self) -> None:
        self.beginResetModel()
        self.transcript = Transcript()
        self.offset = 0
        self.pending = []
        self.endResetModel()

    def toggle_expanded(self, model_row: int) -> None:
        row = self.row_at(model_row)
        if row is None:
            return
        row.expanded = not row.expanded
        row.touch()
        idx = self.index(model_row)
        self.dataChanged.emit(idx, idx)
        self.sizes_changed.emit()

    def _header_changed(self) -> None:
        self.header.touch()
        idx = self.index(0)
        self.dataChanged.emit(idx, idx)

    def header_text(self) -> str:
        if self.offset > 0:
            return f"Show {min(self.offset, MORE_STEP):,} earlier of {self.offset:,} hidden items"
        if self.transcript.rows:
            return "Beginning of the transcript"
        return ""
