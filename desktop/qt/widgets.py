"""Small widgets: the composer, the connection status indicator."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.status import ConnectionStatus
from desktop.qt import theme


class ComposerEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter inserts a newline."""

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composerEdit")
        self.setTabChangesFocus(True)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._fit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            mods = event.modifiers()
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
                return
            if not mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
                self.submitted.emit()
                return
        super().keyPressEvent(event)

    def _fit(self, *_args: object) -> None:
        # Grow with the text from one line up to about eight, then scroll.
        line = self.fontMetrics().lineSpacing()
        lines = max(1, min(8, int(self.document().size().height())))
        self.setFixedHeight(lines * line + 18)


class Composer(QWidget):
    send_requested = Signal(str)
    interrupt_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 14)
        layout.setSpacing(8)
        self.edit = ComposerEdit(self)
        self.edit.setPlaceholderText("Message the agent…  (Enter sends, Shift+Enter for a new line)")
        self.edit.submitted.connect(self._submit)
        self.send_button = QPushButton("Send", self)
        self.send_button.setObjectName("primary")
        self.send_button.setDefault(False)
        self.send_button.clicked.connect(self._submit)
        self.stop_button = QPushButton("■  Stop", self)
        self.stop_button.setObjectName("danger")
        self.stop_button.setToolTip("Interrupt the agent (Ctrl+.)")
        self.stop_button.clicked.connect(self.interrupt_requested)
        self.stop_button.hide()
        layout.addWidget(self.edit, 1)
        buttons = QVBoxLayout()
        buttons.setSpacing(6)
        buttons.addStretch(1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.send_button)
        layout.addLayout(buttons)

    def set_running(self, running: bool) -> None:
        self.stop_button.setVisible(running)

    def set_placeholder(self, text: str) -> None:
        self.edit.setPlaceholderText(text)

    def _submit(self) -> None:
        text = self.edit.toPlainText()
        if not text.strip():
            return
        self.edit.clear()
        self.send_requested.emit(text)


class StatusDot(QLabel):
    def __init__(self, size: int = 12, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._size = size
        self.setFixedSize(QSize(size, size))

    def set_color(self, color: object) -> None:
        self.setPixmap(theme.dot_pixmap(color, self._size))  # type: ignore[arg-type]


class StatusIndicator(QWidget):
    """The dot with its label; the tooltip counts down to the next retry; "Retry now" when it helps."""

    retry_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusIndicator")
        self.status = ConnectionStatus()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 10, 10)
        layout.setSpacing(8)
        self.dot = StatusDot(12, self)
        self.label = QLabel(self)
        self.label.setObjectName("statusLabel")
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.retry_button = QToolButton(self)
        self.retry_button.setObjectName("retryNow")
        self.retry_button.setText("Retry now")
        self.retry_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.retry_button.clicked.connect(self.retry_requested)
        layout.addWidget(self.dot)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.retry_button)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._refresh_tooltip)
        self.set_status(self.status)

    def set_status(self, status: ConnectionStatus) -> None:
        self.status = status
        self.dot.set_color(theme.current().status_color(status.color))
        runner = status.runner or "runner"
        self.label.setText(f"{status.label()} · {runner}")
        self.retry_button.setVisible(status.retry_possible)
        self._refresh_tooltip()
        if status.next_retry_at is not None:
            self._timer.start()
        else:
            self._timer.stop()

    def _refresh_tooltip(self) -> None:
        tip = self.status.tooltip()
        for w in (self, self.dot, self.label):
            w.setToolTip(tip)
