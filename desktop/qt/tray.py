"""The tray icon: the dot's colour and the number of running agents on the icon, a menu, and notifications."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop.core.status import ConnectionStatus
from desktop.qt import theme


class Tray(QObject):
    show_requested = Signal()
    toggle_requested = Signal()  # a click on the icon: hide the window if it is shown, else show it
    retry_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(theme.app_icon(), self)
        self.menu = QMenu()
        self.menu.addAction("Show Nightshift", self.show_requested.emit)
        self.count_action = self.menu.addAction("No agents running")
        self.count_action.setEnabled(False)
        self.menu.addSeparator()
        self.retry_action = self.menu.addAction("Retry now", self.retry_requested.emit)
        self.menu.addAction("Quit", self.quit_requested.emit)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.show()

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    @property
    def visible(self) -> bool:
        return self.icon.isVisible()

    def tooltip(self) -> str:
        return self.icon.toolTip()

    def update(self, status: ConnectionStatus, running: int) -> None:
        color = theme.current().status_color(status.color)
        self.icon.setIcon(theme.app_icon(color, running))
        agents = f"{running} agent{'s' if running != 1 else ''} running" if running else "No agents running"
        self.icon.setToolTip(f"Nightshift · {status.label()}\n{agents}\n{status.tooltip()}")
        self.count_action.setText(agents)
        self.retry_action.setVisible(status.retry_possible)

    def show_message(self, title: str, body: str) -> bool:
        """Show a notification; False where the tray cannot (the caller may use another way)."""
        if not self.icon.isVisible() or not QSystemTrayIcon.supportsMessages():
            return False
        self.icon.showMessage(title, body, QSystemTrayIcon.MessageIcon.Information, 8000)
        return True

    def hide(self) -> None:
        self.icon.hide()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_requested.emit()
