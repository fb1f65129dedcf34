"""Window minimized/restored and hidden/shown; the application leaving or returning from the background."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QGuiApplication, QWindow
from PySide6.QtWidgets import QWidget

from desktop.lifecycle.sources.base import LifecycleSink, LifecycleSource, SourceUnavailable

MINIMIZED = "minimized"
WINDOW_HIDDEN = "window_hidden"
APP_BACKGROUND = "app_background"


class _WindowEventFilter(QObject):
    def __init__(self, window: QWidget | QWindow, sink: LifecycleSink) -> None:
        super().__init__()
        self._window = window
        self._sink = sink

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _STATE_EVENTS:
            # Read the state instead of trusting the event: the platform's own (spontaneous) Hide for a
            # minimize can arrive after the window was already restored.
            report_window_state(self._window, self._sink)
        return False


_STATE_EVENTS = (QEvent.Type.WindowStateChange, QEvent.Type.Hide, QEvent.Type.Show)


def report_window_state(window: QWidget | QWindow, sink: LifecycleSink) -> None:
    if window.windowState() & Qt.WindowState.WindowMinimized:
        sink.report_hidden(MINIMIZED)
    else:
        sink.report_shown(MINIMIZED)
    if window.isVisible():
        sink.report_shown(WINDOW_HIDDEN)
    else:
        sink.report_hidden(WINDOW_HIDDEN)


class WindowSource(LifecycleSource):
    """Watches the main window through an event filter (minimize, restore, hide to tray, show)."""

    name = "window"

    def __init__(self, window: QWidget | QWindow) -> None:
        self._window = window
        self._filter: _WindowEventFilter | None = None

    def start(self, sink: LifecycleSink) -> None:
        self._filter = _WindowEventFilter(self._window, sink)
        self._window.installEventFilter(self._filter)
        # A window that is not on screen yet (created before show(), or started in the tray) is hidden
        # already; its first Show is then a real "shown".
        if self._window.windowState() & Qt.WindowState.WindowMinimized:
            sink.prime_hidden(MINIMIZED)
        if not self._window.isVisible():
            sink.prime_hidden(WINDOW_HIDDEN)

    def stop(self) -> None:
        if self._filter is not None:
            self._window.removeEventFilter(self._filter)
            self._filter = None


class AppStateSource(LifecycleSource):
    """QGuiApplication.applicationStateChanged: Hidden/Suspended is the background; Active/Inactive is not.

    Active <-> Inactive is only a focus change (another window got the keyboard) and reports nothing, so
    clicking between windows never triggers catch-up or reconnects.
    """

    name = "app_state"

    def __init__(self) -> None:
        self._app: QGuiApplication | None = None
        self._sink: LifecycleSink | None = None

    def start(self, sink: LifecycleSink) -> None:
        app = QGuiApplication.instance()
        if not isinstance(app, QGuiApplication):
            raise SourceUnavailable("no QGuiApplication")
        self._app = app
        self._sink = sink
        app.applicationStateChanged.connect(self._on_state_changed)

    def _on_state_changed(self, state: Qt.ApplicationState) -> None:
        if self._sink is None:
            return
        if state in (Qt.ApplicationState.ApplicationHidden, Qt.ApplicationState.ApplicationSuspended):
            self._sink.report_hidden(APP_BACKGROUND)
        else:
            self._sink.report_shown(APP_BACKGROUND)

    def stop(self) -> None:
        if self._app is not None:
            self._app.applicationStateChanged.disconnect(self._on_state_changed)
            self._app = None
        self._sink = None
