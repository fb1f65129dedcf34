"""The runners in the sidebar: one row per runner with its status dot and session count; a click shows it."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from desktop.core.status import ConnectionStatus
from desktop.qt import theme

KEY_ROLE = Qt.ItemDataRole.UserRole


class RunnerList(QListWidget):
    """Hidden while there is only one runner (nothing to choose)."""

    runner_chosen = Signal(str)  # key: EMBEDDED or a runner URL

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runners")
        self.setIconSize(QSize(10, 10))
        self.setFrameShape(QListWidget.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.itemClicked.connect(lambda item: self.runner_chosen.emit(item.data(KEY_ROLE)))
        self.statuses: dict[str, ConnectionStatus] = {}
        self.hide()

    def set_runners(self, runners: list[tuple[str, str]]) -> None:
        """(key, label) in sidebar order; rows of runners no longer listed go."""
        shown = self.shown_key()
        self.clear()
        for key, label in runners:
            item = QListWidgetItem(label)
            item.setData(KEY_ROLE, key)
            self.addItem(item)
            self.set_status(key, self.statuses.get(key, ConnectionStatus(runner=label)), 0)
        self.statuses = {k: v for k, v in self.statuses.items() if k in dict(runners)}
        if shown is not None:
            self.set_shown(shown)
        self.setVisible(len(runners) > 1)
        self.setFixedHeight(self.sizeHintForRow(0) * len(runners) + 4 if runners else 0)

    def _item(self, key: str) -> QListWidgetItem | None:
        return next((self.item(i) for i in range(self.count()) if self.item(i).data(KEY_ROLE) == key), None)

    def set_status(self, key: str, status: ConnectionStatus, sessions: int) -> None:
        self.statuses[key] = status
        item = self._item(key)
        if item is None:
            return
        label = status.runner or key
        item.setText(f"{label}  ·  {sessions} session{'s' if sessions != 1 else ''}")
        item.setIcon(QIcon(theme.dot_pixmap(theme.current().status_color(status.color), 10)))
        item.setToolTip(f"{status.label()}\n{status.tooltip()}")

    def set_shown(self, key: str) -> None:
        item = self._item(key)
        if item is not None:
            self.setCurrentItem(item)

    def shown_key(self) -> str | None:
        item = self.currentItem()
        return str(item.data(KEY_ROLE)) if item is not None else None
