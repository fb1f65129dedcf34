"""What every row renderer shares: the fonts and caches (RowContext), one row's UI state (RowState), the geometry
a renderer works out once for measuring, painting and clicks (Layout), and the base class (RowRenderer).

A renderer never keeps per-row state: sizes and pixmaps are cached by the delegate, expansion by the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.markdown import MarkdownDocuments
from desktop.qt.rows.paragraphs import ParagraphLayouts
from desktop.qt.rows.text_runs import TextRun

if TYPE_CHECKING:
    from desktop.qt.transcript_model import TranscriptModel

MARGIN_X = 22
SUBAGENT_INDENT = 28
GAP_Y = 5
PAD = 10
RADIUS = 10.0
MAX_CHARS = 40_000
"""Text beyond this is not laid out in a row (the text viewer and Copy have all of it)."""
BUTTON_W = 86
BUTTON_H = 28
CAPTION_H = 18
WRAP = int(Qt.TextFlag.TextWordWrap) | int(Qt.TextFlag.TextWrapAnywhere)


def clip_lines(text: str, lines: int) -> tuple[str, int]:
    """The first `lines` lines of text and how many were left out."""
    parts = text.split("\n")
    if len(parts) <= lines:
        return text, 0
    return "\n".join(parts[:lines]), len(parts) - lines


class RowContext:
    """Fonts, metrics and text caches, made once per view and shared by all its renderers."""

    def __init__(self, font: QFont) -> None:
        self.body = QFont(font)
        self.small = QFont(font)
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
        self.paragraphs = ParagraphLayouts()
        self.markdown = MarkdownDocuments(self.mono, self.paragraphs)

    def one_mono_line(self, text: str, width: int) -> bool:
        """Whether `text` is one line of the monospace font within `width`, known without laying it out."""
        return (self.mono_exact and len(text) * self.mono_advance <= width and text.isascii()
                and text.isprintable())

    def text_h(self, fm: QFontMetrics, width: int, text: str) -> int:
        if not text:
            return fm.height()
        if fm is self.fm_mono and self.one_mono_line(text, width):
            return fm.height()
        return fm.boundingRect(QRect(0, 0, max(10, width), 1_000_000), WRAP, text).height()

    @staticmethod
    def left(row: Row) -> int:
        """Where a row's content starts: rows of a sub-agent (started by a tool call) are indented under it."""
        return MARGIN_X + (SUBAGENT_INDENT if row.data.get("parent_tool_id") else 0)

    @staticmethod
    def card(p: QPainter, rect: QRectF, fill: QColor, border: QColor | None) -> None:
        p.setBrush(fill)
        p.setPen(QPen(border, 1) if border is not None else Qt.PenStyle.NoPen)
        p.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)


@dataclass
class Layout:
    height: int
    card: QRectF | None = None
    text: QRect | None = None
    buttons: dict[str, QRect] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RowState:
    """What the view knows about a row that the Qt-free Row does not."""

    expanded: bool = False
    hover: str | None = None
    """The button of this row under the mouse."""
    model: TranscriptModel | None = None


class RowActions(Protocol):
    """What a click on a row can ask for (the delegate turns these into its signals)."""

    def answer_permission(self, row: Row, behavior: str, updated_permissions: list[Any] | None = None) -> None: ...
    def deny_with_message(self, row: Row) -> None: ...
    def ask_question(self, row: Row) -> None: ...
    def act_on_outbox(self, row: Row, action: str) -> None: ...
    def show_earlier_rows(self) -> None: ...
    def toggle(self, row: Row) -> None: ...
    def open_link(self, url: str) -> None: ...


class RowRenderer:
    """Measures, paints and handles clicks for one row kind. `layout()` is the one source of geometry."""

    kinds: ClassVar[tuple[RowKind, ...]] = ()
    expandable: ClassVar[bool] = False
    """Whether the row folds and unfolds (the context menu offers Expand/Collapse)."""
    monospace: ClassVar[bool] = False
    """Whether its text reads best in the monospace text viewer."""
    selects_text: ClassVar[bool] = False
    """Whether a selection may start or end within its text (text_runs()); else the row is selected whole."""

    def __init__(self, ctx: RowContext) -> None:
        self.ctx = ctx

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        raise NotImplementedError

    def measure(self, row: Row, width: int, state: RowState) -> int:
        return self.layout(row, width, state).height

    def quick_height(self, row: Row, width: int) -> int | None:
        """The height when it is known without a layout (None: lay it out)."""
        return None

    def quick_paint(self, p: QPainter, row: Row, rect: QRect) -> bool:
        """Paint without a layout or pixmap when that is cheaper; False when it is not possible."""
        return False

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        raise NotImplementedError

    def quick_text_rect(self, row: Row, rect: QRect) -> QRectF | None:
        """Where quick_paint() draws the row's whole text, when it can draw the row (a fully selected row is then
        quick-painted with this highlighted, not laid out); None otherwise."""
        return None

    def hit(self, row: Row, lay: Layout, pos: QPoint) -> str | None:
        """The name of the button (or link, "link:URL") at `pos`, in row coordinates."""
        for name, rect in lay.buttons.items():
            if rect.contains(pos):
                return name
        return None

    def activate(self, row: Row, name: str, actions: RowActions) -> bool:
        """Act on a click on `name` (from hit()); False when the name means nothing here."""
        if name == "toggle" and self.expandable:
            actions.toggle(row)
            return True
        if name.startswith("link:"):
            actions.open_link(name[5:])
            return True
        return False

    def selectable_text(self, row: Row, state: RowState) -> str:
        """The text a selection's offsets count in, as the row shows it (a selection of part of it copies that
        part). A row without text_runs() is selected whole: its offsets only say before or after it."""
        return row.copy_text()

    def text_runs(self, row: Row, lay: Layout, state: RowState) -> list[TextRun] | None:
        """Where selectable_text() is drawn, in order (None: the row is selected whole, as a card)."""
        return None

    def title(self, row: Row) -> str:
        """The text viewer's title for this row."""
        return row.kind.value.capitalize()
