"""The shown command session's terminal follows the transcript's size (PROTOCOL.md, "resize").

A command session's program runs in a pseudo-terminal; it wraps and draws progress bars to the terminal's width,
so that width should be what the view shows: the columns of the monospace font that fit the transcript."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Signal

from desktop.core.view import SessionInfo
from desktop.qt.rows.base import MARGIN_X
from desktop.qt.transcript_view import TranscriptView

DEBOUNCE_MS = 150
"""A window dragged wider resizes the view many times a second; the program gets the size it settles at."""


class TerminalSizer(QObject):
    resize_requested = Signal(str, int, int)
    """session, cols, rows: send `resize` to the runner."""

    def __init__(self, view: TranscriptView, session_info: Callable[[str], SessionInfo | None]) -> None:
        super().__init__(view)
        self.view = view
        self.session_info = session_info
        self.session: str | None = None
        self._sent: dict[str, tuple[int, int]] = {}
        """The size last asked for each session, so the same size is not sent again."""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.update)
        view.viewport().installEventFilter(self)

    def size(self) -> tuple[int, int]:
        """(cols, rows) of the monospace font that fit the transcript's viewport."""
        ctx = self.view.delegate.ctx
        viewport = self.view.viewport()
        cols = (viewport.width() - 2 * MARGIN_X) // max(1, ctx.mono_advance)
        rows = viewport.height() // max(1, ctx.mono_row_h)
        return max(1, min(cols, 10_000)), max(1, min(rows, 10_000))

    def show(self, session_id: str | None) -> None:
        """The view shows `session_id` now: it gets the view's size (again: another view may have resized it)."""
        self.session = session_id
        if session_id is not None:
            self._sent.pop(session_id, None)
        self.update()

    def update(self) -> None:
        """Send the size to the shown session if it is a running command session that does not have it yet."""
        sid = self.session
        if sid is None or not self.view.isVisible():
            return
        info = self.session_info(sid)
        if info is None or info.agent != "command" or info.status != "running":
            return
        size = self.size()
        if self._sent.get(sid) != size:
            self._sent[sid] = size
            self.resize_requested.emit(sid, *size)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._timer.start()
        return False
