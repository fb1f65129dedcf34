"""The find bar (Ctrl+F) over the shown session's transcript: the query, "3 of 12", previous/next, close.

The search runs in the runner (the `search` request over the journal, so rows the view no longer holds are found
too); the state is desktop/core/find.py's `Find`. Typing searches after a short pause; Enter or F3 goes to the next
match (further back), Shift+Enter or Shift+F3 to the previous one, Esc closes the bar.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from desktop.core.find import Find, Match

log = logging.getLogger(__name__)

TYPING_PAUSE_MS = 200
"""A search starts once typing pauses this long (not one request per key)."""

Request = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]
"""Sends a request to the shown runner; the reply, or None when it failed (the caller has told the user)."""


class FindBar(QFrame):
    match_selected = Signal(object)  # the Match to show
    match_cleared = Signal()  # no match to show any more (a new query, the bar closed)
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findBar")
        self.request: Request | None = None
        """Set by the app: how a search reaches the runner (one request path: the connection's)."""
        self.find: Find | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 6, 10, 6)
        layout.setSpacing(6)
        self.edit = QLineEdit(self)
        self.edit.setObjectName("findEdit")
        self.edit.setPlaceholderText("Find in this session")
        self.edit.setClearButtonEnabled(True)
        self.edit.installEventFilter(self)
        self.count = QLabel(self)
        self.count.setObjectName("findCount")
        self.count.setMinimumWidth(90)
        self.previous_button = self._button("↑", "Previous match, newer (Shift+Enter, Shift+F3)", self.previous)
        self.next_button = self._button("↓", "Next match, further back (Enter, F3)", self.next)
        close = self._button("✕", "Close (Esc)", self.close_bar)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.count)
        layout.addWidget(self.previous_button)
        layout.addWidget(self.next_button)
        layout.addWidget(close)
        self._typing = QTimer(self)
        self._typing.setSingleShot(True)
        self._typing.setInterval(TYPING_PAUSE_MS)
        self._typing.timeout.connect(self.search_now)
        self.edit.textEdited.connect(lambda _text: self._typing.start())
        self.hide()

    def _button(self, text: str, tip: str, slot: Callable[[], Any]) -> QToolButton:
        button = QToolButton(self)
        button.setObjectName("iconButton")
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    # ---------------------------------------------------------------- opening and closing

    def open_bar(self, session_id: str | None) -> None:
        """Ctrl+F: show the bar with the query selected (typing replaces it)."""
        if session_id is None:
            return
        self.set_session(session_id)
        self.show()
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()
        if self.find is not None and self.edit.text().strip() and self.find.query != self.edit.text():
            self.search_now()  # reopened with the last query: its matches again

    def close_bar(self) -> None:
        self._typing.stop()
        if self.find is not None:
            self.find.start("")  # replies still on their way are dropped
        self.hide()
        self._update()
        self.match_cleared.emit()
        self.closed.emit()

    def set_session(self, session_id: str | None) -> None:
        """Another session is shown: search it for the same query (or close, when none is shown)."""
        if self.find is not None and self.find.session_id == session_id:
            return
        self.find = Find(session_id) if session_id is not None else None
        if session_id is None:
            if self.isVisible():
                self.close_bar()
            return
        if self.isVisible() and self.edit.text().strip():
            self.search_now()

    # ---------------------------------------------------------------- searching

    def search_now(self) -> None:
        self._typing.stop()
        if self.find is None:
            return
        self._send(self.find.start(self.edit.text()))
        self.match_cleared.emit()
        self._update()

    def _send(self, request: dict[str, Any] | None) -> None:
        if request is None or self.find is None:
            return
        task = asyncio.ensure_future(self._search(self.find, self.find.generation, request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _search(self, find: Find, generation: int, request: dict[str, Any]) -> None:
        reply: dict[str, Any] | None = None
        if self.request is not None:
            try:
                reply = await self.request(request)
            except Exception:  # a search failing must not take anything else down: it says so in the bar
                log.exception("search failed")
        if find is not self.find:
            return  # another session is shown now
        match = find.accept(generation, reply)
        self._update()
        if match is not None:
            self.match_selected.emit(match)

    def next(self) -> None:
        if self._typing.isActive() or (self.find is not None and self.find.query != self.edit.text()):
            self.search_now()  # Enter right after typing: search what was typed first
            return
        if self.find is None:
            return
        match, request = self.find.next()
        self._send(request)
        self._update()
        if match is not None:
            self.match_selected.emit(match)

    def previous(self) -> None:
        if self.find is None:
            return
        match = self.find.previous()
        self._update()
        if match is not None:
            self.match_selected.emit(match)

    def current(self) -> Match | None:
        find = self.find
        return find.matches[find.current] if find is not None and find.current >= 0 else None

    def _update(self) -> None:
        self.count.setText(self.find.label() if self.find is not None else "")
        has = self.find is not None and bool(self.find.matches)
        self.previous_button.setEnabled(has)
        self.next_button.setEnabled(has)

    # ---------------------------------------------------------------- keys

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit and event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
            assert isinstance(event, QKeyEvent)
            key, shift = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F3, Qt.Key.Key_Escape):
                if event.type() == QEvent.Type.ShortcutOverride:
                    # Ours while typing here: Esc must close the bar, not interrupt the agent (the window's
                    # shortcut).
                    event.accept()
                    return True
                if key == Qt.Key.Key_Escape:
                    self.close_bar()
                elif shift:
                    self.previous()
                else:
                    self.next()
                return True
        return super().eventFilter(watched, event)
