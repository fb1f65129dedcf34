"""The transcript list: a QListView, a delegate painting each row kind, autoscroll and copy."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from desktop.core.questions import is_question
from desktop.core.transcript import Row, RowKind, format_value
from desktop.qt import theme
from desktop.qt.transcript_model import ROW_ROLE, TranscriptModel

MARGIN_X = 22
SUBAGENT_INDENT = 28
GAP_Y = 5
PAD = 10
RADIUS = 10.0
MAX_CHARS = 40_000
"""Text beyond this is not laid out in a row (the text viewer and Copy have all of it)."""
TOOL_LINES = 40
COLLAPSED_THINKING_LINES = 3
BUTTON_W = 86
BUTTON_H = 28
CAPTION_H = 18

WRAP = int(Qt.TextFlag.TextWordWrap) | int(Qt.TextFlag.TextWrapAnywhere)
_SELECTED = QStyle.StateFlag.State_Selected
PIXMAP_BUDGET = 32 * 2**20
"""Bytes of painted rows kept (about ten screens: scrolling back a little blits instead of painting)."""
MAX_CACHED_HEIGHT = 2000
"""Taller rows are painted directly each time (their pixmap would cost more memory than it saves)."""


def _clip_lines(text: str, lines: int) -> tuple[str, int]:
    """The first `lines` lines of text and how many were left out."""
    parts = text.split("\n")
    if len(parts) <= lines:
        return text, 0
    return "\n".join(parts[:lines]), len(parts) - lines


def permission_summary(value: Any) -> str:
    """What a permission prompt shows: the command or path when there is one, else the input as JSON."""
    if isinstance(value, dict):
        if isinstance(value.get("command"), str):
            text = "$ " + value["command"]
            if isinstance(value.get("description"), str):
                text += "\n# " + value["description"]
            return text
        if isinstance(value.get("file_path"), str) and len(value) <= 2:
            return value["file_path"]
    return format_value(value)


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


@dataclass
class Layout:
    height: int
    card: QRectF | None = None
    text: QRect | None = None
    buttons: dict[str, QRect] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class TranscriptDelegate(QStyledItemDelegate):
    """Paints rows by kind. Every geometry comes from `layout()`, shared by sizeHint, paint and clicks."""

    permission_answered = Signal(str, str)  # request_id, behavior
    question_requested = Signal(str, object)  # request_id, the AskUserQuestion input (answered in a dialog)
    outbox_action = Signal(str, str)  # client_msg_id, "retry" | "discard"
    show_earlier = Signal()
    toggle_row = Signal(int)  # model row

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view
        self.body = QFont(view.font())
        self.small = QFont(view.font())
        self.small.setPointSizeF(max(7.0, self.body.pointSizeF() - 1.5))
        self.bold = QFont(self.body)
        self.bold.setBold(True)
        self.italic = QFont(self.body)
        self.italic.setItalic(True)
        self.mono = theme.mono_font()
        self.fm = QFontMetrics(self.body)
        self.fm_small = QFontMetrics(self.small)
        self.fm_mono = QFontMetrics(self.mono)
        self.fm_bold = QFontMetrics(self.bold)
        # A monospace line of ASCII is exactly len * advance wide: most output lines need no text layout.
        self.mono_advance = self.fm_mono.horizontalAdvance("M")
        self.mono_exact = all(self.fm_mono.horizontalAdvance(c) == self.mono_advance for c in "il.W _")
        self.mono_row_h = self.fm_mono.height() + 2
        self.hover: tuple[int, str] | None = None
        self.paragraphs = ParagraphLayouts()
        self.model: TranscriptModel | None = None
        self.width = 200
        """The viewport's width (kept by the view: read from Qt for every row it would cost a call each)."""
        self._sizes: dict[int, tuple[int, int, int, int]] = {}
        """Laid-out heights of committed rows by transcript index: (id(row), version, width, height)."""
        self._pixmaps: OrderedDict[int, tuple[tuple[Any, ...], QPixmap]] = OrderedDict()
        self._pixmap_bytes = 0
        self._painted_once: dict[int, tuple[Any, ...]] = {}
        """Painted rows by transcript index (least recently painted first), with what they were painted for."""

    def set_model(self, model: TranscriptModel | None) -> None:
        self.model = model
        self._sizes = {}
        self._pixmaps.clear()
        self._pixmap_bytes = 0
        self._painted_once = {}

    def expanded(self, row: Row) -> bool:
        return self.model is not None and self.model.is_expanded(row)

    # ---------------------------------------------------------------- geometry

    def _width(self) -> int:
        return max(200, self.width)

    def _one_mono_line(self, text: str, width: int) -> bool:
        """Whether `text` is one line of the monospace font within `width`, known without laying it out."""
        return (self.mono_exact and len(text) * self.mono_advance <= width and text.isascii()
                and text.isprintable())

    def _text_h(self, fm: QFontMetrics, width: int, text: str) -> int:
        if not text:
            return fm.height()
        if fm is self.fm_mono and self._one_mono_line(text, width):
            return fm.height()
        return fm.boundingRect(QRect(0, 0, max(10, width), 1_000_000), WRAP, text).height()

    def layout(self, row: Row, width: int, model: TranscriptModel | None = None) -> Layout:
        # Rows of a sub-agent (started by a tool call) are indented under it.
        left = MARGIN_X + (SUBAGENT_INDENT if row.data.get("parent_tool_id") else 0)
        inner_w = width - left - MARGIN_X
        kind = row.kind
        if kind is RowKind.HEADER:
            text = model.header_text() if model is not None else ""
            if not text:
                return Layout(1)
            h = self.fm_small.height() + 2 * PAD
            lay = Layout(h, extra={"text": text})
            if model is not None and model.offset > 0:
                tw = self.fm_small.horizontalAdvance(text) + 28
                lay.buttons["more"] = QRect((width - tw) // 2, PAD // 2, tw, self.fm_small.height() + PAD)
            return lay
        if kind is RowKind.OUTPUT:
            text = row.text[:MAX_CHARS]
            h = self._text_h(self.fm_mono, inner_w, text)
            return Layout(h + 2, text=QRect(left, 1, inner_w, h))
        if kind in (RowKind.USER, RowKind.PENDING):
            max_w = int(inner_w * 0.72)
            text = row.text.rstrip("\n")[:MAX_CHARS] or " "
            natural = self.fm.boundingRect(QRect(0, 0, max_w - 2 * PAD, 1_000_000), WRAP, text)
            bw = min(max_w, natural.width() + 2 * PAD + 2)
            bh = natural.height() + 2 * PAD
            card = QRectF(width - MARGIN_X - bw, GAP_Y, bw, bh)
            lay = Layout(int(bh + 2 * GAP_Y), card=card,
                         text=QRect(int(card.x()) + PAD, int(card.y()) + PAD, bw - 2 * PAD, natural.height()))
            if kind is RowKind.PENDING:
                cap_y = int(card.bottom()) + 3
                lay.height += CAPTION_H
                lay.extra["caption"] = QRect(left, cap_y, inner_w, CAPTION_H - 3)
                if row.data.get("state") == "failed":
                    rw = self.fm_small.horizontalAdvance("Retry") + 12
                    dw = self.fm_small.horizontalAdvance("Discard") + 12
                    right = width - MARGIN_X
                    lay.buttons["discard"] = QRect(right - dw, cap_y, dw, CAPTION_H - 3)
                    lay.buttons["retry"] = QRect(right - dw - rw - 4, cap_y, rw, CAPTION_H - 3)
            return lay
        if kind in (RowKind.ASSISTANT, RowKind.ERROR, RowKind.THINKING):
            text = row.text[:MAX_CHARS].strip("\n") or " "
            if kind is RowKind.THINKING and not self.expanded(row):
                text, _ = _clip_lines(text, COLLAPSED_THINKING_LINES)
            label_h = self.fm_small.height() + 4 if kind is not RowKind.ERROR else 0
            font = self.italic if kind is RowKind.THINKING else self.body
            th = self.paragraphs.height(font, inner_w - 2 * PAD, text)
            card = QRectF(left, GAP_Y, inner_w, th + 2 * PAD + label_h)
            return Layout(int(card.height() + 2 * GAP_Y), card=card,
                          text=QRect(left + PAD, GAP_Y + PAD + label_h, inner_w - 2 * PAD, th),
                          extra={"text": text, "label_y": GAP_Y + PAD - 2})
        if kind is RowKind.TOOL:
            head_h = max(self.fm_bold.height(), 20)
            card_h = head_h + 2 * PAD - 4
            lay = Layout(0, extra={"head_h": head_h})
            if self.expanded(row):
                blocks = []
                for label, value in (("Input", row.data.get("input")), ("Output", row.data.get("output"))):
                    if value is None:
                        continue
                    body, more = _clip_lines(format_value(value)[:MAX_CHARS], TOOL_LINES)
                    if more:
                        body += f"\n… {more:,} more lines (Copy or View text shows everything)"
                    h = self._text_h(self.fm_mono, inner_w - 4 * PAD, body)
                    blocks.append((label, body, h))
                    card_h += self.fm_small.height() + 6 + h + 2 * PAD // 2 + 6
                lay.extra["blocks"] = blocks
            lay.card = QRectF(left, GAP_Y, inner_w, card_h)
            lay.buttons["toggle"] = QRect(left, GAP_Y, inner_w, head_h + 2 * PAD - 4)
            lay.height = int(card_h + 2 * GAP_Y)
            return lay
        if kind is RowKind.PERMISSION:
            title_h = self.fm_bold.height()
            # Questions read as questions (the choices come in the dialog); other tools show their input.
            summary = row.text if is_question(row.data.get("tool_name")) else \
                permission_summary(row.data.get("input"))
            summary, more = _clip_lines(summary[:MAX_CHARS], 12)
            if more:
                summary += f"\n… {more:,} more lines"
            sh = self._text_h(self.fm_mono, inner_w - 2 * PAD, summary)
            answered = row.data.get("behavior") is not None
            foot = BUTTON_H + PAD
            card_h = PAD + title_h + 6 + sh + PAD + foot
            card = QRectF(left, GAP_Y, inner_w, card_h)
            lay = Layout(int(card_h + 2 * GAP_Y), card=card,
                         text=QRect(left + PAD, GAP_Y + PAD + title_h + 6, inner_w - 2 * PAD, sh),
                         extra={"summary": summary, "title_y": GAP_Y + PAD})
            by = int(card.bottom()) - PAD - BUTTON_H
            if not answered:
                right = int(card.right()) - PAD
                lay.buttons["deny"] = QRect(right - BUTTON_W, by, BUTTON_W, BUTTON_H)
                lay.buttons["allow"] = QRect(right - 2 * BUTTON_W - 8, by, BUTTON_W, BUTTON_H)
            lay.extra["foot_y"] = by
            return lay
        if kind in (RowKind.STATUS, RowKind.TURN_END):
            return Layout(self.fm_small.height() + 2 * GAP_Y + 4)
        # generic
        text = row.text[:2000]
        h = self._text_h(self.fm_mono, inner_w, text)
        return Layout(h + 2 * GAP_Y, text=QRect(left, GAP_Y, inner_w, h))

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        # Called for every row of the window on every layout: the cached path must stay a few dict lookups.
        model = self.model
        row = model.row_at(index.row()) if model is not None else index.data(ROW_ROLE)
        if row is None:
            return QSize(0, 0)
        return QSize(max(200, self.width), self.height(row))

    def height(self, row: Row) -> int:
        """The row's height at the current width (cached by row and version)."""
        model = self.model
        width = max(200, self.width)
        if row.kind is RowKind.OUTPUT and not row.data.get("parent_tool_id"):
            # Most rows of a busy session; known without a layout (and not worth a cache entry).
            text = row.text
            if len(text) * self.mono_advance <= width - 2 * MARGIN_X and self._one_mono_line(text, width):
                return self.mono_row_h
        i = row.index
        if i >= 0:
            cached = self._sizes.get(i)
            if cached is not None and cached[0] == id(row) and cached[1] == row.version and cached[2] == width:
                return cached[3]
        h = self.layout(row, width, model).height
        if i >= 0:
            sizes = self._sizes
            sizes[i] = (id(row), row.version, width, h)
            if model is not None and len(sizes) > 4 * (model.rowCount() + 256):
                self._sizes = {k: v for k, v in sizes.items() if k >= model.offset}
        return h

    @staticmethod
    def _model(index: QModelIndex) -> TranscriptModel | None:
        model = index.model()
        return model if isinstance(model, TranscriptModel) else None

    # ---------------------------------------------------------------- painting

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        model = self.model
        row = model.row_at(index.row()) if model is not None else index.data(ROW_ROLE)
        if row is not None:
            self.paint_row(p, row, option.rect, bool(option.state & _SELECTED), index.row())

    def paint_row(self, p: QPainter, row: Row, rect: QRect, selected: bool, model_row: int) -> None:
        if row.kind is RowKind.OUTPUT and not selected:
            # Most rows of a busy session: one line of output, drawn directly (cheaper than a pixmap).
            left = MARGIN_X + (SUBAGENT_INDENT if row.data.get("parent_tool_id") else 0)
            if self._one_mono_line(row.text, rect.width() - left - MARGIN_X):
                t = theme.current()
                p.setFont(self.mono)
                p.setPen(t.stderr if row.data.get("stream") == "stderr" else t.text)
                p.drawText(rect.left() + left, rect.top() + 1 + self.fm_mono.ascent(), row.text)
                return
        hover = self.hover[1] if self.hover is not None and self.hover[0] == model_row else None
        if row.index < 0 or rect.height() > MAX_CACHED_HEIGHT:
            p.save()
            p.translate(rect.topLeft())
            self._paint_row(p, row, rect.width(), rect.height(), selected, model_row)
            p.restore()
            return
        # Rows are painted once into a pixmap and blitted afterwards: while a session streams, the view
        # repaints every visible row ~30 times a second, and laying out wrapped text each time costs
        # far more than a blit.
        t = theme.current()
        ratio = p.device().devicePixelRatioF()
        key = (id(row), row.version, rect.width(), rect.height(), selected, hover, self.expanded(row),
               t.window.rgba(), ratio)
        cached = self._pixmaps.get(row.index)
        if cached is not None and cached[0] == key:
            self._pixmaps.move_to_end(row.index)
            p.drawPixmap(rect.topLeft(), cached[1])
            return
        if self._painted_once.get(row.index) != key:
            # First paint in this state: drawn directly. While a session streams, most rows are painted once
            # or twice before they scroll away; a pixmap pays off from the second paint on.
            self._painted_once[row.index] = key
            if len(self._painted_once) > 4096:
                self._painted_once.clear()
            p.save()
            p.translate(rect.topLeft())
            self._paint_row(p, row, rect.width(), rect.height(), selected, model_row)
            p.restore()
            return
        pixmap = QPixmap(int(rect.width() * ratio), int(rect.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(t.window)
        painter = QPainter(pixmap)
        self._paint_row(painter, row, rect.width(), rect.height(), selected, model_row)
        painter.end()
        old = self._pixmaps.pop(row.index, None)
        if old is not None:
            self._pixmap_bytes -= old[1].width() * old[1].height() * 4
        self._pixmaps[row.index] = (key, pixmap)
        self._pixmap_bytes += pixmap.width() * pixmap.height() * 4
        while self._pixmap_bytes > PIXMAP_BUDGET and len(self._pixmaps) > 1:
            _key, (_k, dropped) = self._pixmaps.popitem(last=False)
            self._pixmap_bytes -= dropped.width() * dropped.height() * 4
        p.drawPixmap(rect.topLeft(), pixmap)

    def _paint_row(self, p: QPainter, row: Row, width: int, height: int, selected: bool,
                   model_row: int) -> None:
        t = theme.current()
        lay = self.layout(row, width, self.model)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if selected:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(t.selection)
            p.drawRoundedRect(QRectF(6, 1, width - 12, height - 2), 6, 6)
        painter = getattr(self, f"_paint_{row.kind.value}", self._paint_generic)
        painter(p, row, lay, width, t, model_row)

    def _paint_header(self, p: QPainter, row: Row, lay: Layout, width: int,
                    t: theme.Theme, model_row: int) -> None:
        text = lay.extra.get("text")
        if not text:
            return
        p.setFont(self.small)
        more = lay.buttons.get("more")
        if more is not None:
            hover = self.hover == (model_row, "more")
            p.setPen(QPen(t.accent, 1))
            p.setBrush(t.surface_alt if hover else t.surface)
            p.drawRoundedRect(QRectF(more), more.height() / 2, more.height() / 2)
            p.setPen(t.accent)
            p.drawText(more, Qt.AlignmentFlag.AlignCenter, text)
        else:
            p.setPen(t.muted)
            p.drawText(QRect(0, 0, width, lay.height), Qt.AlignmentFlag.AlignCenter, text)

    def _paint_output(self, p: QPainter, row: Row, lay: Layout, width: int,
                    t: theme.Theme, model_row: int) -> None:
        p.setFont(self.mono)
        p.setPen(t.stderr if row.data.get("stream") == "stderr" else t.text)
        assert lay.text is not None
        p.drawText(lay.text, WRAP, row.text[:MAX_CHARS])

    def _paint_user(self, p: QPainter, row: Row, lay: Layout, width: int, t: theme.Theme, model_row: int) -> None:
        assert lay.card is not None and lay.text is not None
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(t.user_bubble)
        p.drawRoundedRect(lay.card, RADIUS + 2, RADIUS + 2)
        p.setFont(self.body)
        p.setPen(t.user_text)
        p.drawText(lay.text, WRAP, row.text.rstrip("\n")[:MAX_CHARS])

    def _paint_pending(self, p: QPainter, row: Row, lay: Layout, width: int,
                    t: theme.Theme, model_row: int) -> None:
        assert lay.card is not None and lay.text is not None
        failed = row.data.get("state") == "failed"
        bubble = QColor(t.user_bubble)
        bubble.setAlpha(110)
        p.setBrush(bubble if not failed else t.error_bg)
        pen = QPen(t.user_bubble if not failed else t.error_fg, 1.2, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRoundedRect(lay.card, RADIUS + 2, RADIUS + 2)
        p.setFont(self.body)
        p.setPen(t.user_text if not failed else t.error_fg)
        p.drawText(lay.text, WRAP, row.text.rstrip("\n")[:MAX_CHARS])
        cap: QRect = lay.extra["caption"]
        state = row.data.get("state")
        if state == "failed":
            caption = f"Not delivered: {row.data.get('error')}"
            color = t.error_fg
        elif state == "sending":
            caption, color = "Sending…", t.muted
        else:
            caption, color = "Waiting for the connection, will send when it is back", t.muted
        p.setFont(self.small)
        p.setPen(color)
        left = cap.adjusted(0, 0, -(sum(b.width() + 6 for b in lay.buttons.values())), 0)
        text = self.fm_small.elidedText(caption, Qt.TextElideMode.ElideRight, left.width())
        p.drawText(left, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        for name, r in lay.buttons.items():
            p.setPen(t.accent if name == "retry" else t.muted)
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, name.capitalize())

    def _card(self, p: QPainter, lay: Layout, fill: QColor, border: QColor | None) -> None:
        assert lay.card is not None
        p.setBrush(fill)
        p.setPen(QPen(border, 1) if border is not None else Qt.PenStyle.NoPen)
        p.drawRoundedRect(lay.card.adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)

    def _paint_assistant(self, p: QPainter, row: Row, lay: Layout, width: int, t: theme.Theme,
                         model_row: int) -> None:
        self._card(p, lay, t.surface, t.border)
        assert lay.text is not None and lay.card is not None
        p.setFont(self.small)
        p.setPen(t.accent)
        p.drawText(QRect(lay.text.x(), lay.extra["label_y"], lay.text.width(), self.fm_small.height()),
                   Qt.AlignmentFlag.AlignLeft, "Assistant")
        p.setPen(t.text)
        self.paragraphs.draw(p, self.body, lay.text, lay.extra["text"])

    def _paint_thinking(self, p: QPainter, row: Row, lay: Layout, width: int, t: theme.Theme,
                        model_row: int) -> None:
        self._card(p, lay, t.window, t.border)
        assert lay.text is not None
        p.setFont(self.small)
        p.setPen(t.muted)
        label = "Thinking  ▾" if self.expanded(row) else "Thinking  ▸ (click to expand)"
        p.drawText(QRect(lay.text.x(), lay.extra["label_y"], lay.text.width(), self.fm_small.height()),
                   Qt.AlignmentFlag.AlignLeft, label)
        self.paragraphs.draw(p, self.italic, lay.text, lay.extra["text"])

    def _paint_error(self, p: QPainter, row: Row, lay: Layout, width: int,
                    t: theme.Theme, model_row: int) -> None:
        self._card(p, lay, t.error_bg, t.error_fg)
        assert lay.text is not None
        p.setPen(t.error_fg)
        self.paragraphs.draw(p, self.body, lay.text, lay.extra["text"])

    def _paint_tool(self, p: QPainter, row: Row, lay: Layout, width: int, t: theme.Theme, model_row: int) -> None:
        assert lay.card is not None
        self._card(p, lay, t.surface_alt, t.border)
        head = lay.buttons["toggle"].adjusted(PAD, 0, -PAD, 0)
        is_error = row.data.get("is_error")
        done = row.data.get("output") is not None
        chip = "✗ failed" if is_error else ("✓ done" if done else "running…")
        chip_color = t.error_fg if is_error else (t.success if done else t.muted)
        p.setFont(self.small)
        chip_w = self.fm_small.horizontalAdvance(chip) + 6
        p.setPen(chip_color)
        p.drawText(QRect(head.right() - chip_w, head.y(), chip_w, head.height()),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, chip)
        x = head.x()
        p.setFont(self.body)
        p.setPen(t.muted)
        expanded = self.expanded(row)
        arrow = "▾" if expanded else "▸"
        p.drawText(QRect(x, head.y(), 16, head.height()), Qt.AlignmentFlag.AlignVCenter, arrow)
        x += 18
        name = str(row.data.get("name") or "tool")
        p.setFont(self.bold)
        p.setPen(t.text)
        name_w = self.fm_bold.horizontalAdvance(name)
        p.drawText(QRect(x, head.y(), name_w + 2, head.height()), Qt.AlignmentFlag.AlignVCenter, name)
        x += name_w + 10
        p.setFont(self.mono)
        p.setPen(t.muted)
        avail = head.right() - chip_w - 8 - x
        if avail > 20:
            summary = self.fm_mono.elidedText(row.text, Qt.TextElideMode.ElideRight, avail)
            p.drawText(QRect(x, head.y(), avail, head.height()), Qt.AlignmentFlag.AlignVCenter, summary)
        if not expanded:
            return
        y = lay.buttons["toggle"].bottom() + 2
        inner = QRect(int(lay.card.x()) + PAD, 0, int(lay.card.width()) - 2 * PAD, 0)
        for label, body, h in lay.extra.get("blocks", []):
            p.setFont(self.small)
            p.setPen(t.muted)
            p.drawText(QRect(inner.x(), y, inner.width(), self.fm_small.height()), Qt.AlignmentFlag.AlignLeft,
                       label)
            y += self.fm_small.height() + 4
            box = QRectF(inner.x(), y, inner.width(), h + PAD)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(t.surface)
            p.drawRoundedRect(box, 6, 6)
            p.setFont(self.mono)
            p.setPen(t.error_fg if (label == "Output" and is_error) else t.text)
            p.drawText(QRect(inner.x() + PAD, y + PAD // 2, inner.width() - 2 * PAD, h), WRAP, body)
            y += h + PAD + 8

    def _paint_permission(self, p: QPainter, row: Row, lay: Layout, width: int, t: theme.Theme,
                          model_row: int) -> None:
        behavior = row.data.get("behavior")
        if behavior is None:
            self._card(p, lay, t.warn_bg, t.warn_fg)
        else:
            self._card(p, lay, t.surface_alt, t.border)
        assert lay.text is not None and lay.card is not None
        p.setFont(self.bold)
        p.setPen(t.warn_fg if behavior is None else t.muted)
        if is_question(row.data.get("tool_name")):
            title = "The agent asks you" if behavior is None else "The agent asked you"
        else:
            title = f"{'Permission needed' if behavior is None else 'Permission'}: {row.data.get('tool_name')}"
        p.drawText(QRect(lay.text.x(), lay.extra["title_y"], lay.text.width(), self.fm_bold.height()),
                   Qt.AlignmentFlag.AlignLeft, title)
        p.setFont(self.mono)
        p.setPen(t.text)
        p.drawText(lay.text, WRAP, lay.extra["summary"])
        foot = QRect(lay.text.x(), lay.extra["foot_y"], lay.text.width(), BUTTON_H)
        if behavior is not None:
            allowed = behavior == "allow"
            p.setFont(self.bold)
            p.setPen(t.success if allowed else (t.muted if behavior == "cancelled" else t.error_fg))
            answer = {"allow": "✓ Allowed", "deny": "✗ Denied"}.get(str(behavior), "Withdrawn")
            message = row.data.get("message")
            if message:
                answer += f": {message}"
            p.drawText(foot, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, answer)
            return
        p.setFont(self.small)
        p.setPen(t.muted)
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        p.drawText(foot, left, "The agent waits for you")
        for name, r in lay.buttons.items():
            hover = self.hover == (model_row, name)
            primary = name == "allow"
            fill = QColor(t.accent if primary else t.surface)
            if hover:
                fill = fill.darker(112) if primary else QColor(t.surface_alt)
            p.setBrush(fill)
            p.setPen(QPen(t.accent if primary else t.border, 1))
            p.drawRoundedRect(QRectF(r).adjusted(0.5, 0.5, -0.5, -0.5), 7, 7)
            p.setFont(self.bold)
            p.setPen(t.accent_text if primary else t.text)
            asks = is_question(row.data.get("tool_name"))
            p.drawText(r, Qt.AlignmentFlag.AlignCenter,
                       ("Answer…" if asks else "Allow") if primary else ("Decline" if asks else "Deny"))

    def _paint_status(self, p: QPainter, row: Row, lay: Layout, width: int,
                    t: theme.Theme, model_row: int) -> None:
        p.setFont(self.small)
        status = row.data.get("status")
        color = t.error_fg if status == "error" or (row.data.get("exit_code") not in (None, 0)) else t.muted
        text = row.text
        tw = self.fm_small.horizontalAdvance(text) + 24
        mid = lay.height // 2
        p.setPen(QPen(t.border, 1))
        p.drawLine(MARGIN_X, mid, (width - tw) // 2, mid)
        p.drawLine((width + tw) // 2, mid, width - MARGIN_X, mid)
        p.setPen(color)
        p.drawText(QRect(0, 0, width, lay.height), Qt.AlignmentFlag.AlignCenter, text)

    def _paint_turn_end(self, p: QPainter, row: Row, lay: Layout, width: int, t: theme.Theme,
                        model_row: int) -> None:
        p.setFont(self.small)
        p.setPen(t.muted)
        p.drawText(QRect(MARGIN_X, 0, width - 2 * MARGIN_X, lay.height),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, row.text)

    def _paint_generic(self, p: QPainter, row: Row, lay: Layout, width: int,
                    t: theme.Theme, model_row: int) -> None:
        p.setFont(self.mono)
        p.setPen(t.muted)
        if lay.text is not None:
            p.drawText(lay.text, WRAP, row.text[:2000])

    # ---------------------------------------------------------------- clicks

    def hit(self, index: QModelIndex, pos: QPoint) -> str | None:
        row: Row | None = index.data(ROW_ROLE)
        if row is None:
            return None
        rect = self._view.visualRect(index)
        local = pos - rect.topLeft()
        lay = self.layout(row, rect.width(), self._model(index))
        for name, r in lay.buttons.items():
            if r.contains(local):
                return name
        if row.kind is RowKind.THINKING and lay.card is not None and lay.card.contains(local.toPointF()):
            return "toggle"
        return None

    def activate(self, index: QModelIndex, name: str) -> bool:
        row: Row | None = index.data(ROW_ROLE)
        if row is None:
            return False
        if name == "allow" and row.kind is RowKind.PERMISSION and is_question(row.data.get("tool_name")):
            self.question_requested.emit(str(row.data.get("request_id")), row.data.get("input"))
        elif name in ("allow", "deny") and row.kind is RowKind.PERMISSION:
            self.permission_answered.emit(str(row.data.get("request_id")), name)
        elif name in ("retry", "discard") and row.kind is RowKind.PENDING:
            self.outbox_action.emit(str(row.data.get("client_msg_id")), name)
        elif name == "more":
            self.show_earlier.emit()
        elif name == "toggle":
            self.toggle_row.emit(index.row())
        else:
            return False
        return True


class TranscriptView(QListView):
    """Follows the tail until the user scrolls up; then offers "Jump to latest"."""

    permission_answered = Signal(str, str, str)  # session, request_id, behavior
    question_requested = Signal(str, str, object)  # session, request_id, the questions
    outbox_action = Signal(str, str)
    view_text = Signal(str, str, bool)  # title, text, monospace

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setUniformItemSizes(False)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setMouseTracking(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.DefaultContextMenu)
        self.verticalScrollBar().setSingleStep(24)
        self.delegate = TranscriptDelegate(self)
        self.setItemDelegate(self.delegate)
        self.follow = True
        self.unseen_rows = 0
        self._auto_scroll = False
        self._pressed: tuple[Row, str] | None = None
        """The row and button a click started on (a Row: model row numbers shift when the window trims)."""
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range)
        bar.valueChanged.connect(self._on_value)
        self.jump_button = QPushButton("↓  Jump to latest", self.viewport())
        self.jump_button.setObjectName("jumpToLatest")
        self.jump_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.jump_button.hide()
        self.jump_button.clicked.connect(self.jump_to_latest)
        self.delegate.permission_answered.connect(self._on_permission)
        self.delegate.question_requested.connect(self._on_question)
        self.delegate.outbox_action.connect(self.outbox_action)
        self.delegate.show_earlier.connect(self._show_earlier)
        self.delegate.toggle_row.connect(self._toggle)
        copy = QAction("Copy", self)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selection)
        self.addAction(copy)

    # ---------------------------------------------------------------- model

    def transcript_model(self) -> TranscriptModel | None:
        model = self.model()
        return model if isinstance(model, TranscriptModel) else None

    def setModel(self, model: Any) -> None:
        old = self.transcript_model()
        if old is not None:
            old.sizes_changed.disconnect(self._relayout)
            old.rowsInserted.disconnect(self._on_rows_inserted)
        self.delegate.set_model(model if isinstance(model, TranscriptModel) else None)
        super().setModel(model)
        if isinstance(model, TranscriptModel):
            model.sizes_changed.connect(self._relayout)
            model.rowsInserted.connect(self._on_rows_inserted)
            model.follow_tail = True
        self.follow = True
        self.unseen_rows = 0
        self._update_jump()
        self.scrollToBottom()

    def _relayout(self) -> None:
        self.scheduleDelayedItemsLayout()

    def paintEvent(self, event: QPaintEvent) -> None:
        # The rows that intersect the exposed area, painted in one Python call: QListView's own loop calls
        # the delegate once per row with a style option PySide converts each time (~0.1 ms a row).
        model = self.transcript_model()
        if model is None:
            super().paintEvent(event)
            return
        area = event.rect()
        first = self.indexAt(QPoint(area.left() + 1, area.top()))
        r = first.row() if first.isValid() else 0
        count = model.rowCount()
        if r >= count:
            return
        selection = self.selectionModel()
        painter = QPainter(self.viewport())
        # Only the first row's place comes from Qt (visualRect asks the delegate for the row's size); the
        # rows below follow it at the heights QListView laid them out with (the delegate's cache).
        rect = self.visualRect(model.index(r))
        y, width, bottom = rect.top(), rect.width(), area.bottom()
        delegate = self.delegate
        while r < count and y <= bottom:
            row = model.row_at(r)
            if row is None:
                break
            h = delegate.height(row)
            if h > 0:
                index = model.index(r)
                delegate.paint_row(painter, row, QRect(rect.left(), y, width, h), selection.isSelected(index), r)
            y += h
            r += 1
        painter.end()

    def _on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if not self.follow:
            self.unseen_rows += last - first + 1
            self._update_jump()

    # ---------------------------------------------------------------- autoscroll

    def _on_range(self, _minimum: int, maximum: int) -> None:
        if self.follow:
            self._auto_scroll = True
            self.verticalScrollBar().setValue(maximum)
            self._auto_scroll = False

    def _on_value(self, value: int) -> None:
        if self._auto_scroll:
            return
        at_bottom = value >= self.verticalScrollBar().maximum() - 4
        if at_bottom != self.follow:
            self.follow = at_bottom
            if at_bottom:
                self.unseen_rows = 0
            model = self.transcript_model()
            if model is not None:
                model.follow_tail = at_bottom
                if at_bottom:
                    model.trim()
            self._update_jump()

    def jump_to_latest(self) -> None:
        self.follow = True
        self.unseen_rows = 0
        model = self.transcript_model()
        if model is not None:
            model.follow_tail = True
            model.trim()
        self.scrollToBottom()
        self._update_jump()

    def _update_jump(self) -> None:
        if self.follow:
            self.jump_button.hide()
            return
        label = "↓  Jump to latest"
        if self.unseen_rows:
            label += f"  ·  {self.unseen_rows:,} new"
        self.jump_button.setText(label)
        self.jump_button.adjustSize()
        self._place_jump()
        self.jump_button.show()
        self.jump_button.raise_()

    def _place_jump(self) -> None:
        vp = self.viewport()
        b = self.jump_button
        b.move((vp.width() - b.width()) // 2, vp.height() - b.height() - 14)

    def resizeEvent(self, event: Any) -> None:
        self._sync_width()
        super().resizeEvent(event)
        self._place_jump()

    def doItemsLayout(self) -> None:
        self._sync_width()
        super().doItemsLayout()

    def _sync_width(self) -> None:
        delegate = getattr(self, "delegate", None)  # QListView lays out once from its own constructor
        if delegate is not None:
            delegate.width = self.viewport().width()

    # ---------------------------------------------------------------- actions

    def _show_earlier(self) -> None:
        model = self.transcript_model()
        if model is None:
            return
        # Keep the row that is at the top in place while rows appear above it.
        anchor = self.indexAt(QPoint(10, 10))
        anchor_row = anchor.row() if anchor.isValid() else 1
        added = model.show_earlier()
        if added:
            self.doItemsLayout()
            self.scrollTo(model.index(anchor_row + added), QAbstractItemView.ScrollHint.PositionAtTop)

    def _toggle(self, model_row: int) -> None:
        model = self.transcript_model()
        if model is not None:
            model.toggle_expanded(model_row)

    def _toggle_row(self, row: Row) -> None:
        model = self.transcript_model()
        if model is not None:
            model.toggle_row(row)

    def _on_question(self, request_id: str, tool_input: object) -> None:
        model = self.transcript_model()
        if model is not None:
            self.question_requested.emit(model.session_id, request_id, tool_input)

    def _on_permission(self, request_id: str, behavior: str) -> None:
        model = self.transcript_model()
        if model is not None:
            self.permission_answered.emit(model.session_id, request_id, behavior)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        name = self.delegate.hit(index, event.position().toPoint()) if index.isValid() else None
        if name is not None and event.button() == Qt.MouseButton.LeftButton:
            self._pressed = (index.data(ROW_ROLE), name)
            event.accept()
            return
        self._pressed = None
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        pressed, self._pressed = self._pressed, None
        if pressed is not None:
            index = self.indexAt(event.position().toPoint())
            name = self.delegate.hit(index, event.position().toPoint()) if index.isValid() else None
            if index.isValid() and index.data(ROW_ROLE) is pressed[0] and name == pressed[1]:
                self.delegate.activate(index, pressed[1])
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        name = self.delegate.hit(index, event.position().toPoint()) if index.isValid() else None
        hover = (index.row(), name) if name else None
        if hover != self.delegate.hover:
            self.delegate.hover = hover
            shape = Qt.CursorShape.PointingHandCursor if hover else Qt.CursorShape.ArrowCursor
            self.viewport().setCursor(shape)
            self.viewport().update()
        super().mouseMoveEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        if index.isValid() and self.delegate.hit(index, event.position().toPoint()) is None:
            self.open_text(index)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave and self.delegate.hover is not None:
            self.delegate.hover = None
            self.viewport().update()
        return super().event(event)

    def selected_rows(self) -> list[Row]:
        model = self.transcript_model()
        if model is None:
            return []
        rows = sorted(i.row() for i in self.selectionModel().selectedIndexes())
        return [r for r in (model.row_at(i) for i in rows) if r is not None and r.kind is not RowKind.HEADER]

    def copy_selection(self) -> str:
        text = "\n".join(r.copy_text() for r in self.selected_rows())
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def open_text(self, index: QModelIndex) -> None:
        row: Row | None = index.data(ROW_ROLE)
        if row is not None:
            self.open_row_text(row)

    def open_row_text(self, row: Row) -> None:
        if row.kind is RowKind.HEADER:
            return
        mono = row.kind in (RowKind.OUTPUT, RowKind.TOOL, RowKind.GENERIC, RowKind.PERMISSION)
        title = row.kind.value.capitalize()
        if row.kind is RowKind.TOOL:
            title = f"Tool call: {row.data.get('name')}"
        self.view_text.emit(title, row.copy_text(), mono)

    def contextMenuEvent(self, event: Any) -> None:
        index = self.indexAt(event.pos())
        menu = QMenu(self)
        if self.selected_rows():
            menu.addAction("Copy", self.copy_selection)
        if index.isValid() and index.row() > 0:
            # The actions hold the Row itself: the menu stays open while events arrive, and a trim of the
            # window shifts every model row number (the index would then point at another row).
            row: Row = index.data(ROW_ROLE)
            menu.addAction("Copy this item", lambda: QGuiApplication.clipboard().setText(row.copy_text()))
            menu.addAction("Select text…", lambda: self.open_row_text(row))
            if row.kind in (RowKind.TOOL, RowKind.THINKING):
                menu.addAction("Collapse" if self.delegate.expanded(row) else "Expand",
                               lambda: self._toggle_row(row))
        menu.addSeparator()
        menu.addAction("Select all", self.selectAll)
        if not self.follow:
            menu.addAction("Jump to latest", self.jump_to_latest)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one menu per right click; none pile up
        menu.popup(event.globalPos())
