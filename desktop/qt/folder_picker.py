"""FolderPicker: a folder on the runner's machine, browsed through `list_dir` (runner/PROTOCOL.md).

Used for every runner, the embedded one too: its file system is this machine's, so the folders are the same, and
one picker means one path tested against a real runner. (QFileDialog's static getters also run a nested event
loop, which the qasync loop must not be inside.) The state is `FolderBrowser` (desktop/core); this is its view.
Requests are tasks: the dialog never waits, a slow runner shows "Loading…", and closing the dialog cancels them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.connection import NotConnected
from desktop.core.folder_browser import FolderBrowser, FolderEntry, Ticket
from desktop.qt import theme
from runner.vocabulary import RequestError

Request = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
"""A runner connection's `request`: the reply, or RequestError / NotConnected / TimeoutError."""


def failure_text(exc: BaseException) -> str:
    """What a failed request to the runner is, for the user."""
    if isinstance(exc, RequestError):
        return exc.message
    if isinstance(exc, NotConnected):
        return "Not connected to the runner: try again once its dot is green."
    if isinstance(exc, TimeoutError):
        return "The runner did not answer in time."
    return f"Cannot ask the runner: {exc}"


class FolderPicker(QDialog):
    """Path field (type and press Enter), up and home buttons, the folder's entries (folders first, files greyed),
    hidden ones on demand, and a line for errors and cut listings. `chosen` carries the runner's path."""

    chosen = Signal(str)

    def __init__(self, request: Request, start: str = "", runner_name: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._request = request
        self.browser = FolderBrowser()
        self._tasks: set[asyncio.Task[None]] = set()
        self.setWindowTitle(f"Choose a folder on {runner_name}" if runner_name else "Choose a folder")
        self.resize(560, 460)
        style = self.style()
        self.up_button = QToolButton(self)
        self.up_button.setText("↑ Up")  # text, like Home: the styles' arrow icon is black on a dark theme
        self.up_button.setToolTip("Parent folder (Alt+Up)")
        self.up_button.setShortcut("Alt+Up")
        self.home_button = QToolButton(self)
        self.home_button.setText("Home")  # the styles' home icon is often just a folder
        self.home_button.setToolTip("The home folder on the runner")
        self.path_field = QLineEdit(self)
        self.path_field.setPlaceholderText("A folder on the runner: /path, ~/path or a path from the home folder")
        self.list = QListWidget(self)
        self.list.setUniformItemSizes(True)  # a cut listing still holds 10,000 rows
        self.hidden_box = QCheckBox("Show hidden", self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        std = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(std.Ok | std.Cancel, self)
        self.choose_button = self.buttons.button(std.Ok)
        self.choose_button.setObjectName("primary")
        self.choose_button.setDefault(True)  # drawn as the dialog's main button (Enter is handled below)
        top = QHBoxLayout()
        top.addWidget(self.up_button)
        top.addWidget(self.home_button)
        top.addWidget(self.path_field, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.hidden_box)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.buttons)
        self._dir_icon = style.standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        self._link_icon = style.standardIcon(QStyle.StandardPixmap.SP_DirLinkIcon)
        self._file_icon = style.standardIcon(QStyle.StandardPixmap.SP_FileIcon)
        self.up_button.clicked.connect(lambda: self._ask(self.browser.up()))
        self.home_button.clicked.connect(lambda: self._ask(self.browser.go("")))
        self.path_field.returnPressed.connect(lambda: self._ask(self.browser.go(self.path_field.text())))
        self.list.itemActivated.connect(self._activated)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.hidden_box.toggled.connect(self._hidden_toggled)
        self.buttons.accepted.connect(self._choose)
        self.buttons.rejected.connect(self.reject)
        self.finished.connect(lambda _r: self._cancel_requests())
        tasks = self._tasks  # not self: the slot runs while the C++ object is being destroyed
        self.destroyed.connect(lambda *_: [t.cancel() for t in list(tasks)])
        self._ask(self.browser.go(start))
        self._update_buttons()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Enter in the path field goes there and Enter on a folder opens it (their own signals); what they pass
        # on must not reach QDialog, which would press Choose. A focused button handles Enter itself.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return
        super().keyPressEvent(event)

    # ---------------------------------------------------------------- requests

    def _ask(self, ticket: Ticket | None) -> None:
        if ticket is None:
            return
        self._show_status()
        task = asyncio.ensure_future(self._fetch(ticket))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, ticket: Ticket) -> None:
        message: dict[str, Any] = {"type": "list_dir"}
        if ticket.path:
            message["path"] = ticket.path
        try:
            reply = await self._request(message)
        except (RequestError, NotConnected, TimeoutError, OSError) as exc:
            self._ask(self.browser.failed(ticket, failure_text(exc)))
            self._show_status()
            return
        if self.browser.listed(ticket, reply):
            self._fill()

    def _cancel_requests(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    # ---------------------------------------------------------------- the view

    def _fill(self) -> None:
        self.path_field.setText(self.browser.path or "")
        self.list.clear()
        muted = theme.current().muted
        for entry in self.browser.visible():
            item = QListWidgetItem(entry.shown_name)
            item.setData(Qt.ItemDataRole.UserRole, entry)
            if entry.is_dir:
                item.setIcon(self._link_icon if entry.is_link else self._dir_icon)
            else:
                item.setIcon(self._file_icon)
            if not entry.openable:
                item.setForeground(muted)  # files and undecodable names: context, not choices
                if entry.undecodable:
                    item.setToolTip("This name is not UTF-8 on the runner's machine: it cannot be opened here")
            self.list.addItem(item)
        self._show_status()
        self._update_buttons()

    def _show_status(self) -> None:
        text = "Loading…" if self.browser.pending is not None and not self.browser.error else self.browser.status()
        palette = theme.current()
        self.status.setStyleSheet(f"color: {(palette.error_fg if self.browser.error else palette.muted).name()}")
        self.status.setText(text)
        self.up_button.setEnabled(self.browser.parent is not None)

    def _update_buttons(self) -> None:
        """Choose says which folder it takes: the selected subfolder, else the one shown."""
        selected = self.selected_entry()
        self.choose_button.setEnabled(self.browser.chosen(selected) is not None)
        if selected is not None and selected.openable:
            name = selected.shown_name
            self.choose_button.setText(f"Choose “{name if len(name) <= 24 else name[:23] + '…'}”")
        else:
            self.choose_button.setText("Choose this folder")

    def selected_entry(self) -> FolderEntry | None:
        item = self.list.currentItem()
        entry = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return entry if isinstance(entry, FolderEntry) else None

    def _activated(self, item: QListWidgetItem) -> None:
        entry = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(entry, FolderEntry):
            self._ask(self.browser.into(entry))

    def _hidden_toggled(self, on: bool) -> None:
        self.browser.show_hidden = on
        self._fill()

    def _choose(self) -> None:
        folder = self.browser.chosen(self.selected_entry())
        if folder is None:
            return
        self.chosen.emit(folder)
        self.accept()

    def entry_names(self) -> list[str]:
        """The names listed, as shown."""
        return [self.list.item(i).text() for i in range(self.list.count())]
