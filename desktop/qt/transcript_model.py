"""TranscriptModel: one session's rows for a QListView, in batches, with a window over the tail.

The core Transcript keeps every row; the model shows the newest WINDOW of them (plus a header row offering
the earlier ones, and the outbox's pending messages at the end). QListView asks the delegate for the size of
every row it shows on each layout, so showing 100,000 rows would make each batch cost O(100,000); the window
keeps it O(WINDOW) however long the session gets. Scrolling up and asking for earlier rows grows the window;
following the tail trims it. Rows before the window are packed by the core's RowStore (not Python objects).

UI state lives here, not in the core's rows: which rows are expanded.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from desktop.core.outbox import OutboxItem, OutboxState
from desktop.core.transcript import Batch, Row, RowKind, Transcript

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
WINDOW = 100
SLACK = 50
MORE_STEP = 1000
PACKS_PER_CALL = 1

_DISPLAY = Qt.ItemDataRole.DisplayRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_ENABLED = Qt.ItemFlag.ItemIsEnabled
_SELECTABLE = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

Index = QModelIndex | QPersistentModelIndex


class TranscriptModel(QAbstractListModel):
    sizes_changed = Signal()
    """Rows changed height (text grew, a tool call expanded); the view must lay out again."""
    plan_changed = Signal()
    """The agent's plan (transcript.plan) changed."""
    totals_changed = Signal(str)
    """The session's totals so far, as one line (transcript.totals.text())."""

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
        self._expanded: set[int] = set()
        """Transcript indexes of the rows shown expanded (tool calls, thinking)."""
        self._batch: Batch | None = None
        self._batch_started = 0.0
        self._count = 1
        self._plan_version = 0
        self._turns = 0

    # ---------------------------------------------------------------- Qt API

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default argument)
        # Qt calls this for every row it lays out (QAbstractListModel.index checks the bounds): a cached int.
        return 0 if parent.isValid() else self._count

    def _recount(self) -> None:
        """Call after every change to the rows, offset or pending rows (before Qt's end...Rows())."""
        self._count = 1 + len(self.transcript.rows) - self.offset + len(self.pending)

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

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        row = self.row_at(index.row()) if index.isValid() else None
        if row is None:
            return None
        if role == ROW_ROLE:
            return row
        if role == _DISPLAY:
            return row.copy_text()
        if role == _TOOLTIP and row.seq:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.ts)) if row.ts else ""
            return f"#{row.seq}  {stamp}"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ENABLED if index.row() == 0 else _SELECTABLE

    # ---------------------------------------------------------------- updates

    def apply_events(self, events: list[dict[str, Any]]) -> None:
        """One batch of events: changed rows announced with one dataChanged, new rows with one insertion."""
        self.prepare_events(events)
        self.commit_events()

    def prepare_events(self, events: list[dict[str, Any]]) -> None:
        """Work out events into the batch being prepared; nothing is shown until commit_events(). A big batch
        is prepared in slices (one per event-loop turn) and still shown as one insertion."""
        self._batch = self.transcript.prepare(events, self._batch)
        if self._batch_started == 0.0:
            self._batch_started = time.monotonic()

    def has_prepared(self) -> bool:
        """Whether a batch is worked out and waits for commit_events()."""
        return self._batch is not None

    def prepared_events(self) -> int:
        return self._batch.events if self._batch is not None else 0

    def pending_age(self) -> float:
        """Seconds since the batch being prepared got its first events (0 when there is none)."""
        return time.monotonic() - self._batch_started if self._batch is not None else 0.0

    def commit_events(self) -> int:
        """Show the prepared batch; returns how many events it held."""
        batch, self._batch, self._batch_started = self._batch, None, 0.0
        if batch is None:
            return 0
        count = len(self.transcript.rows)
        new = len(batch.new_rows)
        offset_before = self.offset
        if new:
            shown = count - self.offset
            new_offset = self.offset
            if self.follow_tail and shown + new > WINDOW + SLACK:
                # The window would be trimmed right after: announce only what stays. The shown rows that
                # leave go first, then the new rows that stay are inserted (a catch-up of 100,000 events
                # inserts WINDOW rows, not 100,000 the view would take in only to drop them).
                new_offset = count + new - WINDOW
                leaving = min(shown, new_offset - self.offset)
                if leaving > 0:
                    self.beginRemoveRows(QModelIndex(), 1, leaving)
                    self.offset += leaving
                    self._recount()
                    self.endRemoveRows()
                    if self._expanded:
                        self._expanded = {i for i in self._expanded if i >= new_offset}
            inserted = new - (new_offset - self.offset)  # the new rows that stay in the window
            first = 1 + count - self.offset
            self.beginInsertRows(QModelIndex(), first, first + inserted - 1)
            self.transcript.commit(batch)
            self.offset = new_offset
            self._recount()
            self.insert_batches += 1
            self.endInsertRows()
        else:
            self.transcript.commit(batch)
        visible = [v for v in (self.model_row(r) for r in batch.changed) if v >= 0]
        if visible:
            self.dataChanged.emit(self.index(min(visible)), self.index(max(visible)))
            self.sizes_changed.emit()
        if (count == 0 and new) or self.offset != offset_before:
            self._header_changed()  # the header says "beginning of the transcript" or how many are hidden
        self.trim()
        self._announce_summaries()
        return batch.events

    def _announce_summaries(self) -> None:
        t = self.transcript
        if t.plan.version != self._plan_version:
            self._plan_version = t.plan.version
            self.plan_changed.emit()
        if t.totals.turns != self._turns:
            self._turns = t.totals.turns
            self.totals_changed.emit(t.totals.text())

    def pack_some(self) -> bool:
        """Pack a few of the rows that left the window (~0.3 ms a chunk: the bridge spreads the work over idle
        event-loop turns). Returns whether more are left."""
        return self.transcript.rows.objects_from(self.offset, max_packs=PACKS_PER_CALL)

    def trim(self) -> None:
        """While following the tail, keep the window near WINDOW rows."""
        shown = len(self.transcript.rows) - self.offset
        if not self.follow_tail or shown <= WINDOW + SLACK:
            return
        k = shown - WINDOW
        self.beginRemoveRows(QModelIndex(), 1, k)
        self.offset += k
        self._recount()
        self.endRemoveRows()
        if self._expanded:
            self._expanded = {i for i in self._expanded if i >= self.offset}
        self._header_changed()

    def show_earlier(self, count: int = MORE_STEP) -> int:
        k = min(self.offset, count)
        if k <= 0:
            return 0
        # Unpack first: the view asks for the new rows as soon as they are announced.
        self.transcript.rows.objects_from(self.offset - k)
        self.beginInsertRows(QModelIndex(), 1, k)
        self.offset -= k
        self._recount()
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
            self._recount()
            self.endRemoveRows()
        if rows:
            self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
            self.pending = rows
            self._recount()
            self.endInsertRows()

    def reset(self) -> None:
        self.beginResetModel()
        self.transcript = Transcript()
        self._batch, self._batch_started = None, 0.0
        self.offset = 0
        self.pending = []
        self._expanded = set()
        self._recount()
        self.endResetModel()
        self._announce_summaries()

    def is_expanded(self, row: Row) -> bool:
        return row.index >= 0 and row.index in self._expanded

    def toggle_expanded(self, model_row: int) -> None:
        row = self.row_at(model_row)
        if row is not None:
            self.toggle_row(row)

    def toggle_row(self, row: Row) -> None:
        """Expand or fold `row` (a Row, not a model row number: those shift when the window trims)."""
        model_row = self.model_row(row)
        if row.index < 0 or model_row < 0:
            return
        self._expanded ^= {row.index}
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
