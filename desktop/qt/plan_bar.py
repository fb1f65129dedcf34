"""The agent's latest plan, pinned above the transcript (TranscriptView keeps room for it)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent, QTextDocument
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from desktop.core.plan import PlanItem
from desktop.qt import theme


class PlanBar(QFrame):
    """The agent's latest plan, pinned above the transcript: how far it got, and its items (a click folds it to
    the item in progress)."""

    SHOWN_ITEMS = 8
    folded_changed = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("planBar")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 8, 22, 8)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout.addWidget(self.label)
        self.folded = False
        self.items: list[PlanItem] = []
        self.hide()

    def set_items(self, items: list[PlanItem]) -> None:
        self.items = list(items)
        self._render()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.folded = not self.folded
        self._render()
        self.folded_changed.emit()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        event.accept()  # the press folded or unfolded the bar

    def text(self) -> str:
        """What the bar shows, as plain text."""
        doc = QTextDocument()
        doc.setHtml(self.label.text())
        return doc.toPlainText()

    def _render(self) -> None:
        t = theme.current()
        self.setStyleSheet(f"#planBar {{ background: {t.surface.name()}; border-bottom: 1px solid {t.border.name()}; }}"
                           f" QLabel {{ color: {t.text.name()}; }}")
        items = self.items
        done = sum(1 for i in items if i.status == "completed")
        current = next((i for i in items if i.status == "in_progress"), None)
        head = f"<b>Plan</b> &nbsp;<span style='color:{t.muted.name()}'>{done} of {len(items)} done"
        head += " &nbsp;▸</span>" if self.folded else " &nbsp;▾</span>"
        lines = [head]
        shown = [current] if self.folded and current is not None else ([] if self.folded else items)
        for item in shown[: self.SHOWN_ITEMS]:
            mark, color, weight = "☐", t.text, "normal"
            if item.status == "completed":
                mark, color = "☑", t.muted
            elif item.status == "in_progress":
                mark, color, weight = "◐", t.accent, "bold"
            text = html.escape(item.text)
            if item.status == "completed":
                text = f"<s>{text}</s>"
            lines.append(f"<span style='color:{color.name()}; font-weight:{weight}'>{mark}&nbsp; {text}</span>")
        if len(shown) > self.SHOWN_ITEMS:
            lines.append(f"<span style='color:{t.muted.name()}'>… {len(shown) - self.SHOWN_ITEMS} more</span>")
        self.label.setText("<br>".join(lines))
