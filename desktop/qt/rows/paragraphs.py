"""Plain wrapped text, laid out paragraph by paragraph and cached (what most rows' text needs)."""

from __future__ import annotations

import math
from collections import OrderedDict

from PySide6.QtCore import QPointF, QRect
from PySide6.QtGui import QFont, QPainter, QTextLayout, QTextOption

from desktop.qt.rows.text_runs import LayoutRun, TextRun


class ParagraphLayouts:
    """Wrapped text laid out paragraph by paragraph, each layout cached by (font, width, text).

    A streamed message grows at its end: re-measuring and re-drawing all of it for every batch of deltas cost
    milliseconds per batch for a few KB; this way only its last paragraph is laid out again."""

    CHARS = 400_000
    """Characters of laid-out text kept (a layout holds its glyphs: tens of bytes a character)."""

    def __init__(self) -> None:
        self._layouts: OrderedDict[tuple[str, int, str], tuple[QTextLayout, int]] = OrderedDict()
        self._chars = 0
        self._option = QTextOption()
        self._option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)

    def _get(self, font: QFont, width: int, text: str) -> tuple[QTextLayout, int]:
        key = (font.key(), width, text)
        found = self._layouts.get(key)
        if found is not None:
            self._layouts.move_to_end(key)
            return found
        layout = QTextLayout(text, font)
        layout.setTextOption(self._option)
        layout.setCacheEnabled(True)
        layout.beginLayout()
        y = 0.0
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            line.setPosition(QPointF(0, y))
            y += line.height()
        layout.endLayout()
        found = (layout, max(1, math.ceil(y)))
        self._layouts[key] = found
        self._chars += len(text) + 1
        while self._chars > self.CHARS and len(self._layouts) > 1:
            dropped, _ = self._layouts.popitem(last=False)
            self._chars -= len(dropped[2]) + 1
        return found

    def height(self, font: QFont, width: int, text: str) -> int:
        width = max(10, width)
        return sum(self._get(font, width, para)[1] for para in text.split("\n"))

    def draw(self, p: QPainter, font: QFont, rect: QRect, text: str) -> None:
        width = max(10, rect.width())
        y = rect.top()
        for para in text.split("\n"):
            layout, h = self._get(font, width, para)
            layout.draw(p, QPointF(rect.left(), y))
            y += h

    def runs(self, font: QFont, rect: QRect, text: str, start: int = 0) -> list[TextRun]:
        """Where draw() puts each paragraph of `text` (for selecting it), its offsets counted from `start`."""
        width = max(10, rect.width())
        y = rect.top()
        out: list[TextRun] = []
        for para in text.split("\n"):
            layout, h = self._get(font, width, para)
            out.append(LayoutRun(start, layout, QPointF(rect.left(), y)))
            start += len(para) + 1
            y += h
        return out
