"""Small widgets: the composer, the connection status indicator."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QPainter, QResizeEvent
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

from desktop.core.status import ConnectionStatus, Phase
from desktop.qt import theme


class ElidedLabel(QLabel):
    """A one-line label that elides its text to the width it gets (the full text is in the tooltip), so a long
    path or command line never widens the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(10, self.width() - 2)
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width))


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
        lines = max(1, int(self.document().size().height()))
        shown = min(8, lines)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if lines > 8
                                        else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        margins = int(self.document().documentMargin() * 2) + 14
        self.setFixedHeight(shown * line + margins)


class Composer(QWidget):
    """Where the user types. (Stopping a running turn is the session header's Stop button.)"""

    send_requested = Signal(str)

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
        layout.addWidget(self.edit, 1)
        buttons = QVBoxLayout()
        buttons.setSpacing(6)
        buttons.addStretch(1)
        buttons.addWidget(self.send_button)
        layout.addLayout(buttons)

    def set_accepting(self, accepting: bool, placeholder: str) -> None:
        """Whether the session takes input now (a finished command does not), and the hint saying so."""
        self.edit.setPlaceholderText(placeholder)
        self.edit.setEnabled(accepting)
        self.send_button.setEnabled(accepting)
        # QPlainTextEdit does not repaint its placeholder by itself.
        self.edit.viewport().update()

    def _submit(self) -> None:
        text = self.edit.toPlainText()
        if not text.strip():
            return
        self.edit.clear()
        self.send_requested.emit(text)


class Badge(QWidget):
    """A rounded status pill, painted like the ones in the sidebar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._bg = QColor("#888888")
        self._fg = QColor("#ffffff")
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
        font.setWeight(QFont.Weight.DemiBold)
        self.setFont(font)

    def set_badge(self, text: str, bg: QColor, fg: QColor) -> None:
        self._text, self._bg, self._fg = text, bg, fg
        self.updateGeometry()
        self.update()

    def text(self) -> str:
        return self._text

    def sizeHint(self) -> QSize:
        fm = self.fontMetrics()
        return QSize(fm.horizontalAdvance(self._text) + 20, fm.height() + 6)

    def paintEvent(self, _event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self._bg)
        p.drawRoundedRect(r, r.height() / 2, r.height() / 2)
        p.setPen(self._fg)
        p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._text)
        p.end()


class StatusDot(QLabel):
    def __init__(self, size: int = 12, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._size = size
        self.setFixedSize(QSize(size, size))

    def set_color(self, color: object) -> None:
        pixmap = theme.dot_pixmap(color, self._size)  # type: ignore[arg-type]
        if self.pixmap().cacheKey() != pixmap.cacheKey():  # most status changes keep the colour
            self.setPixmap(pixmap)


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
        texts = QVBoxLayout()
        texts.setSpacing(0)
        self.label = ElidedLabel(self)
        self.label.setObjectName("statusLabel")
        self.detail = ElidedLabel(self)
        self.detail.setObjectName("statusDetail")
        texts.addWidget(self.label)
        texts.addWidget(self.detail)
        self.retry_button = QToolButton(self)
        self.retry_button.setObjectName("retryNow")
        self.retry_button.setText("Retry now")
        self.retry_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.retry_button.clicked.connect(self.retry_requested)
        layout.addWidget(self.dot)
        layout.addLayout(texts, 1)
        layout.addWidget(self.retry_button)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._refresh_tooltip)
        self.set_status(self.status)

    def set_status(self, status: ConnectionStatus) -> None:
        self.status = status
        self.dot.set_color(theme.current().status_color(status.color))
        self.label.set_full_text(status.label())
        self.retry_button.setVisible(status.retry_possible)
        self._refresh_tooltip()
        if status.next_retry_at is not None:
            self._timer.start()
        else:
            self._timer.stop()

    def detail_text(self) -> str:
        s = self.status
        runner = s.runner or "runner"
        if s.phase is Phase.CATCHING_UP and s.behind:
            return f"{s.behind:,} events to go · {runner}"
        if s.phase in (Phase.RECONNECTING, Phase.UNREACHABLE):
            if s.next_retry_at is not None:
                wait = s.next_retry_at - time.time()
                when = f"retry in {wait:.0f} s" if wait >= 1 else "retrying"
            else:
                when = "retrying"
            return f"attempt {s.attempt} · {when}"
        if s.phase is Phase.TOKEN_REFUSED:
            return "check the token in Settings"
        return runner

    def _refresh_tooltip(self) -> None:
        self.detail.set_full_text(self.detail_text())
        tip = self.status.tooltip()
        for w in (self, self.dot, self.label, self.detail):
            w.setToolTip(tip)
