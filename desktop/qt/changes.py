"""The changes panel of a session that works in its own git worktree: the diff against its base, file by file, and
keep (commit, merge) or discard. Every git operation happens on the runner (PROTOCOL.md, "Worktrees")."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.core.worktree import DiffLineKind, diff_lines, loss_summary, suggested_commit_message
from desktop.qt import theme

Request = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]
"""Sends a request to the runner; returns its reply, or None after showing the user why it failed."""

STATUS_MARK = {"added": "A", "modified": "M", "deleted": "D", "renamed": "R", "copied": "C"}


def diff_html(diff: str) -> str:
    """A unified diff as HTML with added/removed/hunk colours of the current theme."""
    t = theme.current()
    colours = {
        DiffLineKind.ADDED: (t.success.name(), "#e6f6ec" if not t.dark else "#173324"),
        DiffLineKind.REMOVED: (t.error_fg.name(), t.error_bg.name()),
        DiffLineKind.HUNK: (t.accent.name(), t.surface_alt.name()),
        DiffLineKind.FILE: (t.muted.name(), ""),
        DiffLineKind.CONTEXT: (t.text.name(), ""),
    }
    rows = []
    for line in diff_lines(diff):
        fg, bg = colours[line.kind]
        style = f"color:{fg};" + (f"background:{bg};" if bg else "")
        rows.append(f'<div style="{style} white-space:pre">{html.escape(line.text) or "&nbsp;"}</div>')
    return "".join(rows) or f'<div style="color:{t.muted.name()}">No textual changes.</div>'


class ChangesDialog(QDialog):
    """Non-modal: it stays open beside the transcript and refreshes when a turn ends."""

    changed = Signal()  # after a commit, merge or discard

    def __init__(self, session_id: str, title: str, request: Request, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_id = session_id
        self._request = request
        self._summary: dict[str, Any] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.setWindowTitle(f"Changes · {title}")
        self.resize(900, 600)

        self.heading = QLabel(self)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.files = QListWidget(self)
        self.files.currentRowChanged.connect(self._show_file)
        self.diff = QTextBrowser(self)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.diff.setFont(mono)
        split = QSplitter(self)
        split.addWidget(self.files)
        split.addWidget(self.diff)
        split.setStretchFactor(1, 3)

        self.message = QLineEdit(suggested_commit_message(title), self)
        self.message.setPlaceholderText("Commit message")
        self.commit_button = QPushButton("Commit", self)
        self.commit_button.clicked.connect(lambda: self._run(self.commit()))
        self.merge_mode = QComboBox(self)
        self.merge_mode.addItem("Fast-forward only", True)
        self.merge_mode.addItem("Merge commit", False)
        self.merge_button = QPushButton("Merge into base", self)
        self.merge_button.setObjectName("primary")
        self.merge_button.clicked.connect(lambda: self._run(self.merge()))
        self.discard_button = QPushButton("Discard…", self)
        self.discard_button.setObjectName("danger")
        self.discard_button.clicked.connect(self.ask_discard)
        refresh = QPushButton("Refresh", self)
        refresh.clicked.connect(lambda: self._run(self.refresh()))

        commit_row = QHBoxLayout()
        commit_row.addWidget(self.message, 1)
        commit_row.addWidget(self.commit_button)
        actions = QHBoxLayout()
        actions.addWidget(refresh)
        actions.addStretch(1)
        actions.addWidget(self.discard_button)
        actions.addWidget(self.merge_mode)
        actions.addWidget(self.merge_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(split, 1)
        layout.addLayout(commit_row)
        layout.addLayout(actions)
        self.discard_box: QMessageBox | None = None

    def _run(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh(self) -> None:
        reply = await self._request({"type": "changes", "session": self.session_id})
        if reply is None:
            return
        self._summary = reply
        files = reply.get("files") or []
        self.heading.setText(
            f"<b>{html.escape(str(reply.get('branch')))}</b> → {html.escape(str(reply.get('base')))} · "
            f"{len(files)} file{'s' if len(files) != 1 else ''} changed · {reply.get('uncommitted', 0)} uncommitted"
            f" · {reply.get('commits', 0)} commit{'s' if reply.get('commits') != 1 else ''}"
        )
        current = self.files.currentItem().data(Qt.ItemDataRole.UserRole) if self.files.currentItem() else None
        self.files.clear()
        for f in files:
            item = QListWidgetItem(f"{STATUS_MARK.get(f.get('status'), '?')}  {f.get('path')}   "
                                   f"+{f.get('added', 0)} -{f.get('removed', 0)}")
            item.setData(Qt.ItemDataRole.UserRole, f.get("path"))
            self.files.addItem(item)
        rows = [self.files.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.files.count())]
        self.files.setCurrentRow(rows.index(current) if current in rows else 0 if rows else -1)
        if not rows:
            self.diff.setHtml(diff_html(""))
        self.commit_button.setEnabled(bool(reply.get("uncommitted")))
        self.merge_button.setEnabled(bool(reply.get("commits")) and not reply.get("uncommitted"))

    def _show_file(self, row: int) -> None:
        files = self._summary.get("files") or []
        if 0 <= row < len(files):
            diff = files[row].get("diff") or ""
            self.diff.setHtml(diff_html(diff) if diff else diff_html("") if not self._summary.get("truncated")
                              else "The diff is too large to show here.")

    def diff_text(self) -> str:
        """What the diff pane shows, as plain text (for tests and copying)."""
        return self.diff.toPlainText()

    async def commit(self) -> None:
        message = self.message.text().strip()
        if await self._request({"type": "commit", "session": self.session_id, "message": message}) is not None:
            self.changed.emit()
            await self.refresh()

    async def merge(self) -> None:
        reply = await self._request({"type": "merge", "session": self.session_id,
                                     "fast_forward_only": bool(self.merge_mode.currentData())})
        if reply is not None:
            self.changed.emit()
            await self.refresh()

    def ask_discard(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Discard the worktree",
                          "Remove this session's worktree and delete its branch?", parent=self)
        box.setInformativeText(loss_summary(self._summary) + " This cannot be undone.")
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: button is discard and self._run(self.discard()))
        box.open()
        self.discard_box = box

    async def discard(self) -> None:
        if await self._request({"type": "discard", "session": self.session_id, "force": True}) is not None:
            self.changed.emit()
            self.accept()
