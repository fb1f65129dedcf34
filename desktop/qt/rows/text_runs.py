"""Where a row's selectable text is drawn, for selecting (a point -> a character offset) and for highlighting a
range of it (a selection, find's matches). A row's text is drawn in runs: a QTextLayout (a paragraph, a terminal
line) or a QTextDocument (a rendered Markdown block), each at its place in the row and covering a stretch
[start, end) of the row's selectable text. Worked out only when the user selects or finds, never while streaming."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import OrderedDict

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QTextDocument, QTextLayout, QTextLine, QTextOption

from desktop.core.selection import align


class TextRun:
    start: int
    end: int

    def top(self) -> float:
        raise NotImplementedError

    def bottom(self) -> float:
        raise NotImplementedError

    def offset_at(self, pos: QPointF) -> int:
        """The offset (in the row's selectable text) of the character boundary nearest `pos` (row coordinates)."""
        raise NotImplementedError

    def rects(self, a: int, b: int) -> list[QRectF]:
        """Where the characters [a, b) of the row's text that fall in this run are drawn (row coordinates)."""
        raise NotImplementedError


def _line_rects(layout: QTextLayout, origin: QPointF, a: int, b: int) -> list[QRectF]:
    """Rects of the characters [a, b) (layout offsets) line by line. A selection going on past a line's end covers
    up to the line's text width (a trailing space or none), as text editors show it."""
    out: list[QRectF] = []
    for n in range(layout.lineCount()):
        line = layout.lineAt(n)
        s, e = line.textStart(), line.textStart() + line.textLength()
        lo, hi = max(a, s), min(b, e)
        if lo > hi or (lo == hi and not (b > e and lo == e)):
            continue
        x1 = line.cursorToX(lo)[0]
        x2 = line.cursorToX(hi)[0] if hi < e or b <= e else max(line.cursorToX(hi)[0], line.naturalTextWidth())
        if x2 - x1 < 1 and b > e:
            x2 = x1 + 4  # a selected line break: a sliver, so an empty line shows it is selected
        out.append(QRectF(origin.x() + x1, origin.y() + line.y(), x2 - x1, line.height()))
    return out


def _line_at(layout: QTextLayout, y: float) -> QTextLine | None:
    """The line of `layout` at height `y` (its own coordinates), the nearest one when above or below them all."""
    count = layout.lineCount()
    if count == 0:
        return None
    for n in range(count):
        line = layout.lineAt(n)
        if y < line.y() + line.height():
            return line
    return layout.lineAt(count - 1)


class LayoutRun(TextRun):
    """A QTextLayout whose lines' (0, 0) is at `origin` of the row; its text is the row's text from `start` on."""

    def __init__(self, start: int, layout: QTextLayout, origin: QPointF) -> None:
        self.start = start
        self.end = start + len(layout.text())
        self.layout = layout
        self.origin = origin

    def top(self) -> float:
        return self.origin.y() + (self.layout.lineAt(0).y() if self.layout.lineCount() else 0.0)

    def bottom(self) -> float:
        count = self.layout.lineCount()
        if not count:
            return self.origin.y()
        last = self.layout.lineAt(count - 1)
        return self.origin.y() + last.y() + last.height()

    def offset_at(self, pos: QPointF) -> int:
        line = _line_at(self.layout, pos.y() - self.origin.y())
        if line is None:
            return self.start
        return self.start + line.xToCursor(pos.x() - self.origin.x())

    def rects(self, a: int, b: int) -> list[QRectF]:
        return _line_rects(self.layout, self.origin, a - self.start, b - self.start)


class DocRun(TextRun):
    """A rendered Markdown block: the row's text [start, end) is its Markdown source; positions in the document
    map to source offsets by aligning the two texts (desktop.core.selection.align)."""

    def __init__(self, start: int, source: str, doc: QTextDocument, origin: QPointF) -> None:
        self.start = start
        self.end = start + len(source)
        self.doc = doc
        self.origin = origin
        self.to_source = align(doc.toRawText(), source)
        """Source offset of each document position (one more entry: the end)."""

    def top(self) -> float:
        return self.origin.y()

    def bottom(self) -> float:
        return self.origin.y() + self.doc.size().height()

    def offset_at(self, pos: QPointF) -> int:
        at = self.doc.documentLayout().hitTest(pos - self.origin, Qt.HitTestAccuracy.FuzzyHit)
        return self.start + self.source_offset(at)

    def source_offset(self, at: int) -> int:
        """The source offset of document position `at` (a boundary between characters): right after the source
        of the character before it, so the Markdown syntax around a selected word is taken with it at both ends
        ("**all** the" from before "all"); the block's own start and end at the document's."""
        if at <= 0:
            return 0
        if at >= len(self.to_source) - 1:
            return self.end - self.start
        return self.to_source[at - 1] + 1

    def rects(self, a: int, b: int) -> list[QRectF]:
        # Source offsets -> document positions (to_source never decreases).
        pa = bisect_left(self.to_source, a - self.start)
        pb = bisect_left(self.to_source, b - self.start)
        # A selection going on past this block extends its last line (as in a paragraph of plain text).
        last = pb if b < self.end else 1 << 30
        out: list[QRectF] = []
        block = self.doc.findBlock(pa)
        doc_layout = self.doc.documentLayout()
        while block.isValid() and block.position() <= min(last, pb):
            layout = block.layout()
            if layout is not None and block.length() > 1:  # empty blocks (around a table) show nothing selected
                at = block.position()
                # Where the block's lines start in the document: its layout's position plus, in a table cell,
                # the cell's (which the layout's own position leaves out).
                origin = self.origin + doc_layout.blockBoundingRect(block).topLeft()
                out += _line_rects(layout, origin, pa - at, last - at)
            block = block.next()
        return out


DRAWN_CACHED = 512
_DRAWN: OrderedDict[tuple[str, int, str], QTextLayout] = OrderedDict()
"""drawn_text_runs()'s layouts (a selected row is painted again on every change: not laid out each time)."""


def drawn_text_runs(font: QFont, rect: QRect, text: str) -> list[TextRun]:
    """Where QPainter.drawText(rect, WRAP, text) puts each character: laid out here as Qt lays it out for drawing
    (one layout, line breaks as line separators, tabs as spaces, wrapped anywhere, each line on a whole pixel
    after the font's leading). Rows that paint with drawText keep doing so (their fast path while streaming); this
    is worked out only when their text is selected or found."""
    # drawText (without TextExpandTabs) shows a tab as a space, and a carriage return too.
    key = (font.key(), rect.width(), text)
    layout = _DRAWN.get(key)
    if layout is not None:
        _DRAWN.move_to_end(key)
        return [LayoutRun(0, layout, QPointF(rect.topLeft()))]
    layout = QTextLayout(text.replace("\r", " ").replace("\t", " ").replace("\n", "\u2028"), font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAnywhere)  # what drawText makes of TextWrapAnywhere
    layout.setTextOption(option)
    leading = QFontMetricsF(font).leading()
    layout.beginLayout()
    y = -leading
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(max(0, rect.width()))
        y = math.ceil(y + leading)
        line.setPosition(QPointF(0, y))
        y += line.height()
    layout.endLayout()
    _DRAWN[key] = layout
    if len(_DRAWN) > DRAWN_CACHED:
        _DRAWN.popitem(last=False)
    return [LayoutRun(0, layout, QPointF(rect.topLeft()))]


def offset_in_runs(runs: list[TextRun], pos: QPointF) -> int:
    """The offset at `pos` among a row's runs: in the run at that height, else at the end of the run above (or
    the start of the first)."""
    if not runs:
        return 0
    if pos.y() < runs[0].top():
        return runs[0].start
    for run in runs:
        if pos.y() < run.top():
            return run.start  # in the gap above this run: the boundary between the two
        if pos.y() < run.bottom():
            return run.offset_at(pos)
    return runs[-1].end


def rects_in_runs(runs: list[TextRun], a: int, b: int) -> list[QRectF]:
    out: list[QRectF] = []
    for run in runs:
        if run.end < a or run.start > b or (run.start == b and b < run.end):
            continue
        out += run.rects(a, b)
    return out
