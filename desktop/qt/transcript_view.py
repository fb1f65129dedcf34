"""The transcript list: a QListView, a delegate that hands each row to the renderer of its kind
(desktop/qt/rows/), pixmap caching, autoscroll, selecting text across rows and copying it, find's highlights.

Selection (issue 12 item 9) is the view's own, as in a terminal: from a character of one row to a character of
another, kept as two positions (transcript index, offset; desktop/core/selection.py), so it survives rows
streaming in, the window trimming and scrolling, and copying reads rows from the transcript, not from widgets."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QDesktopServices,
    QGuiApplication,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QInputDialog,
    QListView,
    QMenu,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from desktop.core.find import Match, row_index_for_match
from desktop.core.selection import END, TextPos, find_spans, ordered, row_range, selected_text, word_at
from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.plan_bar import PlanBar
from desktop.qt.rows import Layout, RowContext, RowRenderer, RowState, renderer_table
from desktop.qt.rows.markdown import warm_up as warm_up_highlighting
from desktop.qt.rows.text_runs import offset_in_runs, rects_in_runs
from desktop.qt.transcript_model import ROW_ROLE, TranscriptModel

Marks = tuple[tuple[int, int, bool], ...]
PIXMAP_BUDGET = 32 * 2**20
"""Bytes of painted rows kept (about ten screens: scrolling back a little blits instead of painting)."""
MAX_CACHED_HEIGHT = 2000
"""Taller rows are painted directly each time (their pixmap would cost more memory than it saves)."""
WARM_UP_AFTER_MS = 1500
"""When syntax highlighting is loaded (in a thread) after the view is first shown: after the app's start-up."""
FOUND_FILL = QColor(255, 196, 0, 90)
FOUND_CURRENT = QColor(255, 128, 0, 170)
FOUND_EDGE = QColor(230, 160, 0)
"""Find: every occurrence of the query in the rows shown in a translucent amber over the text, the current match a
stronger orange, and a bar left of the current match's row (its match may be in text the row folds away)."""
SELECTION_ALPHA = 110
"""The selection: the palette's highlight colour, translucent over the text (renderers paint their own cards)."""
DRAG_SCROLL_MS = 30
MAX_DRAG_SCROLL = 120
"""Dragging a selection past the top or bottom scrolls, faster the further out the mouse is (pixels a tick)."""


class TranscriptDelegate(QStyledItemDelegate):
    """Sizes, paints and clicks of rows, each by the renderer of the row's kind. The delegate keeps what is per
    view: the laid-out heights and painted pixmaps (by row and version), the hover, the viewport's width."""

    permission_answered = Signal(str, str, object)  # request_id, behavior, {message?, updated_permissions?}
    deny_message_requested = Signal(object)  # the permission Row: ask the user what to tell the agent
    question_requested = Signal(str, object)  # request_id, the AskUserQuestion input (answered in a dialog)
    outbox_action = Signal(str, str)  # client_msg_id, "retry" | "discard"
    show_earlier = Signal()
    toggle_row = Signal(object)  # the Row
    link_opened = Signal(str)  # a URL the user clicked in a row (opened in the browser)

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view
        self.ctx = RowContext(view.font())
        self.renderers: dict[RowKind, RowRenderer] = renderer_table(self.ctx)
        self.hover: tuple[int, str] | None = None
        self.model: TranscriptModel | None = None
        self.width = 200
        """The viewport's width (kept by the view: read from Qt for every row it would cost a call each)."""
        self._sizes: dict[int, tuple[int, int, int, int]] = {}
        """Laid-out heights of committed rows by transcript index: (id(row), version, width, height)."""
        self._pixmaps: OrderedDict[int, tuple[tuple[Any, ...], QPixmap]] = OrderedDict()
        self._pixmap_bytes = 0
        self._painted_once: dict[int, tuple[Any, ...]] = {}
        """Painted rows by transcript index (least recently painted first), with what they were painted for."""
        self.found = -1
        """Transcript index of the row holding the current find match (highlighted), -1 for none."""
        self.find_query = ""
        """Find's query: its occurrences in the rows shown are highlighted ("" while no match is shown)."""
        self._marks: dict[int, tuple[tuple[Any, ...], Marks]] = {}
        """Find's highlights by transcript index, with what they were worked out for."""
        self.selection: tuple[TextPos, TextPos] | None = None
        """The selected text, from the first position to the last (kept by the view)."""

    def set_model(self, model: TranscriptModel | None) -> None:
        self.model = model
        self._sizes = {}
        self._pixmaps.clear()
        self._pixmap_bytes = 0
        self._painted_once = {}
        self._marks = {}
        self.found = -1
        self.find_query = ""
        self.selection = None

    def renderer(self, row: Row) -> RowRenderer:
        return self.renderers[row.kind]

    def expanded(self, row: Row) -> bool:
        return self.model is not None and self.model.is_expanded(row)

    def state(self, row: Row, model: TranscriptModel | None = None, model_row: int = -1) -> RowState:
        model = model if model is not None else self.model
        hover = self.hover[1] if self.hover is not None and self.hover[0] == model_row else None
        return RowState(expanded=model is not None and model.is_expanded(row), hover=hover, model=model)

    # ---------------------------------------------------------------- geometry

    def layout(self, row: Row, width: int, model: TranscriptModel | None = None) -> Layout:
        return self.renderers[row.kind].layout(row, width, self.state(row, model))

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        # Called for every row of the window on every layout: the cached path must stay a few dict lookups.
        model = self.model
        row = model.row_at(index.row()) if model is not None else index.data(ROW_ROLE)
        if row is None:
            return QSize(0, 0)
        return QSize(max(200, self.width), self.height(row))

    def height(self, row: Row) -> int:
        """The row's height at the current width (cached by row and version)."""
        width = max(200, self.width)
        renderer = self.renderers[row.kind]
        quick = renderer.quick_height(row, width)
        if quick is not None:
            return quick  # most rows of a busy session; not worth a cache entry
        i = row.index
        if i >= 0:
            cached = self._sizes.get(i)
            if cached is not None and cached[0] == id(row) and cached[1] == row.version and cached[2] == width:
                return cached[3]
        model = self.model
        h = renderer.measure(row, width, self.state(row, model))
        if i >= 0:
            sizes = self._sizes
            sizes[i] = (id(row), row.version, width, h)
            if model is not None and len(sizes) > 4 * (model.rowCount() + 256):
                self._sizes = {k: v for k, v in sizes.items() if k >= model.offset}
        return h

    # ---------------------------------------------------------------- painting

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        model = self.model
        row = model.row_at(index.row()) if model is not None else index.data(ROW_ROLE)
        if row is not None:
            self.paint_row(p, row, option.rect, index.row())

    def selected_range(self, row: Row) -> tuple[int, int] | None:
        """The selected part [a, b) of the row's text, None when none of it is."""
        if self.selection is None or row.index < 0:
            return None
        return row_range(self.selection[0], self.selection[1], row.index)

    def find_marks(self, row: Row) -> Marks:
        """Find's highlights in the row: (start, end, is the current match) of each occurrence of the query."""
        renderer = self.renderers[row.kind]
        if not self.find_query or row.index < 0 or not renderer.selects_text:
            return ()
        expanded = self.expanded(row)
        key = (id(row), row.version, expanded, self.find_query, self.found)
        cached = self._marks.get(row.index)
        if cached is not None and cached[0] == key:
            return cached[1]
        spans = find_spans(renderer.selectable_text(row, self.state(row)), self.find_query)
        # The runner finds one match per row, its first occurrence: that one is the current match.
        marks = tuple((a, b, row.index == self.found and k == 0) for k, (a, b) in enumerate(spans))
        if len(self._marks) > 4096:
            self._marks.clear()
        self._marks[row.index] = (key, marks)
        return marks

    @staticmethod
    def selection_color() -> QColor:
        color = QColor(QGuiApplication.palette().color(QPalette.ColorRole.Highlight))
        color.setAlpha(SELECTION_ALPHA)
        return color

    def row_text(self, row: Row) -> str:
        """The text a selection's offsets in `row` count in."""
        return self.renderers[row.kind].selectable_text(row, self.state(row))

    def offset_at(self, row: Row, rect: QRect, point: QPoint) -> int:
        """The offset in the row's text at `point` (viewport coordinates) of the row painted in `rect`."""
        renderer = self.renderers[row.kind]
        local = QPointF(point - rect.topLeft())
        if not renderer.selects_text:
            return 0 if local.y() < rect.height() / 2 else END  # selected whole: before it or after it
        state = self.state(row)
        lay = renderer.layout(row, rect.width(), state)
        return offset_in_runs(renderer.text_runs(row, lay, state) or [], local)

    def paint_row(self, p: QPainter, row: Row, rect: QRect, model_row: int) -> None:
        renderer = self.renderers[row.kind]
        found = row.index >= 0 and row.index == self.found
        selected = self.selected_range(row) if self.selection is not None else None
        marks = self.find_marks(row) if self.find_query else ()
        if not marks and not found:
            if selected is None and renderer.quick_paint(p, row, rect):
                return
            if selected is not None and selected[0] <= 0 and selected[1] >= END:
                # A row in the middle of a selection (select all, then the agent goes on): the quick way too.
                text_rect = renderer.quick_text_rect(row, rect)
                if text_rect is not None and renderer.quick_paint(p, row, rect):
                    p.setPen(Qt.PenStyle.NoPen)
                    p.setBrush(self.selection_color())
                    p.drawRect(text_rect)
                    return
        state = self.state(row, None, model_row)
        if row.index < 0 or rect.height() > MAX_CACHED_HEIGHT:
            p.save()
            p.translate(rect.topLeft())
            self._paint_row(p, renderer, row, rect.width(), rect.height(), state, found, selected, marks)
            p.restore()
            return
        # Rows are painted once into a pixmap and blitted afterwards: while a session streams, the view
        # repaints every visible row ~30 times a second, and laying out wrapped text each time costs
        # far more than a blit.
        t = theme.current()
        ratio = p.device().devicePixelRatioF()
        key = (id(row), row.version, rect.width(), rect.height(), selected, state.hover, state.expanded,
               t.window.rgba(), ratio, found, marks)
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
            self._paint_row(p, renderer, row, rect.width(), rect.height(), state, found, selected, marks)
            p.restore()
            return
        pixmap = QPixmap(int(rect.width() * ratio), int(rect.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(t.window)
        painter = QPainter(pixmap)
        self._paint_row(painter, renderer, row, rect.width(), rect.height(), state, found, selected, marks)
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

    def _paint_row(self, p: QPainter, renderer: RowRenderer, row: Row, width: int, height: int,
                   state: RowState, found: bool = False, selected: tuple[int, int] | None = None,
                   marks: Marks = ()) -> None:
        lay = renderer.layout(row, width, state)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.paint(p, row, lay, width, state)
        # Highlights go over the row, not under it: renderers paint their own backgrounds (bubbles, cards).
        p.setPen(Qt.PenStyle.NoPen)
        if marks or selected is not None:
            runs = renderer.text_runs(row, lay, state) if renderer.selects_text else None
            for a, b, current in marks:
                p.setBrush(FOUND_CURRENT if current else FOUND_FILL)
                for r in rects_in_runs(runs or [], a, b):
                    p.drawRect(r)
            if selected is not None and selected[0] < selected[1]:
                p.setBrush(self.selection_color())
                if runs is None:
                    p.drawRoundedRect(lay.card or QRectF(6, 1, width - 12, height - 2), 8, 8)
                else:
                    for r in rects_in_runs(runs, *selected):
                        p.drawRect(r)
        if found:
            p.setBrush(FOUND_EDGE)
            p.drawRoundedRect(QRectF(4, 3, 3, height - 6), 1.5, 1.5)

    # ---------------------------------------------------------------- clicks

    def hit(self, index: QModelIndex, pos: QPoint) -> str | None:
        row: Row | None = index.data(ROW_ROLE)
        if row is None:
            return None
        rect = self._view.visualRect(index)
        model = index.model()
        renderer = self.renderers[row.kind]
        state = self.state(row, model if isinstance(model, TranscriptModel) else None)
        return renderer.hit(row, renderer.layout(row, rect.width(), state), pos - rect.topLeft())

    def activate(self, index: QModelIndex, name: str) -> bool:
        row: Row | None = index.data(ROW_ROLE)
        if row is None:
            return False
        return self.renderers[row.kind].activate(row, name, self)

    # RowActions: what renderers ask for on a click.

    def answer_permission(self, row: Row, behavior: str, updated_permissions: list[Any] | None = None) -> None:
        extra = {"updated_permissions": updated_permissions} if updated_permissions else {}
        self.permission_answered.emit(str(row.data.get("request_id")), behavior, extra)

    def deny_with_message(self, row: Row) -> None:
        self.deny_message_requested.emit(row)

    def ask_question(self, row: Row) -> None:
        self.question_requested.emit(str(row.data.get("request_id")), row.data.get("input"))

    def act_on_outbox(self, row: Row, action: str) -> None:
        self.outbox_action.emit(str(row.data.get("client_msg_id")), action)

    def show_earlier_rows(self) -> None:
        self.show_earlier.emit()

    def toggle(self, row: Row) -> None:
        self.toggle_row.emit(row)

    def open_link(self, url: str) -> None:
        self.link_opened.emit(url)
        QDesktopServices.openUrl(QUrl(url))


class TranscriptView(QListView):
    """Follows the tail until the user scrolls up; then offers "Jump to latest"."""

    permission_answered = Signal(str, str, str, object)
    """session, request_id, behavior, and {"message"?, "updated_permissions"?}"""
    question_requested = Signal(str, str, object)  # session, request_id, the questions
    outbox_action = Signal(str, str)
    view_text = Signal(str, str, bool)  # title, text, monospace
    totals_changed = Signal(str)  # the shown session's cost, tokens and time so far, as one line

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setUniformItemSizes(False)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)  # ours: text, not whole items
        self.setMouseTracking(True)
        self.viewport().setCursor(Qt.CursorShape.IBeamCursor)  # text to select; buttons and links show a hand
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
        self._anchor: TextPos | None = None
        self._cursor: TextPos | None = None
        """Where the selection started and where it ends now (in either order)."""
        self._press_at: QPoint | None = None
        """Where the left button went down, while it is down (a selection is being dragged)."""
        self._drag_at = QPoint()
        self._drag_scroll = QTimer(self)
        self._drag_scroll.setInterval(DRAG_SCROLL_MS)
        self._drag_scroll.timeout.connect(self._scroll_while_dragging)
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range)
        bar.valueChanged.connect(self._on_value)
        self.jump_button = QPushButton("↓  Jump to latest", self.viewport())
        self.jump_button.setObjectName("jumpToLatest")
        self.jump_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.jump_button.hide()
        self.jump_button.clicked.connect(self.jump_to_latest)
        self.plan_bar = PlanBar(self)
        self.plan_bar.folded_changed.connect(self.place_plan_bar)
        self.delegate.permission_answered.connect(self._on_permission)
        self.delegate.deny_message_requested.connect(self.ask_deny_message)
        self.deny_dialog: QInputDialog | None = None
        self.delegate.question_requested.connect(self._on_question)
        self.delegate.outbox_action.connect(self.outbox_action)
        self.delegate.show_earlier.connect(self._show_earlier)
        self.delegate.toggle_row.connect(self._toggle_row)
        copy = QAction("Copy", self)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selection)
        self.addAction(copy)
        select_all = QAction("Select all", self)
        select_all.setShortcut(QKeySequence.StandardKey.SelectAll)
        select_all.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        select_all.triggered.connect(self.selectAll)
        self.addAction(select_all)

    # ---------------------------------------------------------------- model

    def transcript_model(self) -> TranscriptModel | None:
        model = self.model()
        return model if isinstance(model, TranscriptModel) else None

    def setModel(self, model: Any) -> None:
        old = self.transcript_model()
        if old is not None:
            old.sizes_changed.disconnect(self._relayout)
            old.rowsInserted.disconnect(self._on_rows_inserted)
            old.plan_changed.disconnect(self._update_plan)
            old.totals_changed.disconnect(self.totals_changed)
            old.modelReset.disconnect(self.clear_selection)
        self.delegate.set_model(model if isinstance(model, TranscriptModel) else None)
        super().setModel(model)
        if isinstance(model, TranscriptModel):
            model.sizes_changed.connect(self._relayout)
            model.rowsInserted.connect(self._on_rows_inserted)
            model.plan_changed.connect(self._update_plan)
            model.totals_changed.connect(self.totals_changed)
            model.modelReset.connect(self.clear_selection)
            model.follow_tail = True
        self._anchor = self._cursor = None
        self.totals_changed.emit(model.transcript.totals.text() if isinstance(model, TranscriptModel) else "")
        self._update_plan()
        self.follow = True
        self.unseen_rows = 0
        self._update_jump()
        self.scrollToBottom()

    def _update_plan(self) -> None:
        model = self.transcript_model()
        items = model.transcript.plan.items if model is not None else []
        self.plan_bar.set_items(items)
        self.plan_bar.setVisible(bool(items))
        self.place_plan_bar()

    def place_plan_bar(self) -> None:
        """The plan sits above the rows (in the viewport's top margin), never over them."""
        bar = self.plan_bar
        if not bar.isVisibleTo(self):
            self.setViewportMargins(0, 0, 0, 0)
            return
        frame = self.frameWidth()
        width = self.width() - 2 * frame
        height = bar.heightForWidth(width) if bar.hasHeightForWidth() else bar.sizeHint().height()
        bar.setGeometry(frame, frame, width, height)
        self.setViewportMargins(0, height, 0, 0)

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
                delegate.paint_row(painter, row, QRect(rect.left(), y, width, h), r)
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

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        QTimer.singleShot(WARM_UP_AFTER_MS, warm_up_highlighting)

    def resizeEvent(self, event: Any) -> None:
        self._sync_width()
        super().resizeEvent(event)
        self._place_jump()
        if self.plan_bar.isVisibleTo(self):
            self.place_plan_bar()

    def doItemsLayout(self) -> None:
        self._sync_width()
        super().doItemsLayout()

    def _sync_width(self) -> None:
        delegate = getattr(self, "delegate", None)  # QListView lays out once from its own constructor
        if delegate is not None:
            delegate.width = self.viewport().width()

    # ---------------------------------------------------------------- actions

    def show_match(self, match: Match, query: str) -> Row | None:
        """Find: scroll to the row showing `match` (of `query`) and highlight it, bringing it into the model's
        window if it had left. None when no row shows it (not received yet)."""
        model = self.transcript_model()
        if model is None:
            return None
        i = row_index_for_match(model.transcript.rows, match, query)
        if i < 0:
            return None
        # Off the tail: a trim of the window must not drop the match, nor new rows scroll it away.
        self.follow = False
        model.follow_tail = False
        if i < model.offset:
            model.show_earlier(model.offset - i)
            self.doItemsLayout()
        row = model.transcript.rows[i]
        index = model.index(model.model_row(row))
        self.delegate.found = i
        self.delegate.find_query = query
        self.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        # A match in the last screen (or a transcript that fits) leaves the view at the bottom: following again.
        self._on_value(self.verticalScrollBar().value())
        self._update_jump()
        self.viewport().update()
        return row

    def clear_match(self) -> None:
        if self.delegate.found >= 0 or self.delegate.find_query:
            self.delegate.found = -1
            self.delegate.find_query = ""
            self.viewport().update()

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

    def _toggle_row(self, row: Row) -> None:
        model = self.transcript_model()
        if model is not None:
            model.toggle_row(row)

    def _on_question(self, request_id: str, tool_input: object) -> None:
        model = self.transcript_model()
        if model is not None:
            self.question_requested.emit(model.session_id, request_id, tool_input)

    def _on_permission(self, request_id: str, behavior: str, extra: dict[str, Any]) -> None:
        model = self.transcript_model()
        if model is not None:
            self.permission_answered.emit(model.session_id, request_id, behavior, extra)

    def ask_deny_message(self, row: Row) -> QInputDialog | None:
        """Deny with a message: the agent reads it as the reason (and may try another way)."""
        model = self.transcript_model()
        if model is None:
            return None
        session_id, request_id = model.session_id, str(row.data.get("request_id"))
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Deny with a message")
        dialog.setLabelText(f"Deny {row.data.get('tool_name')} and tell the agent why, or what to do instead:")
        dialog.setOkButtonText("Deny")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def send() -> None:
            message = dialog.textValue().strip()
            self.permission_answered.emit(session_id, request_id, "deny", {"message": message} if message else {})

        dialog.accepted.connect(send)
        dialog.open()
        self.deny_dialog = dialog
        return dialog

    # ---------------------------------------------------------------- selecting and copying

    def position_at(self, point: QPoint) -> TextPos | None:
        """The text position under `point` (viewport coordinates; above or below the viewport: its edge row).
        Past the last row (or on the outbox's pending rows): the end of the last row."""
        model = self.transcript_model()
        rows = model.transcript.rows if model is not None else None
        if model is None or not rows:
            return None
        point = QPoint(point.x(), max(0, min(point.y(), self.viewport().height() - 1)))
        index = self.indexAt(point)
        row = model.row_at(index.row()) if index.isValid() else None
        if row is None or row.kind is RowKind.PENDING:
            return TextPos(len(rows) - 1, END)
        if row.kind is RowKind.HEADER:
            return TextPos(model.offset, 0)
        return TextPos(row.index, self.delegate.offset_at(row, self.visualRect(index), point))

    def selection(self) -> tuple[TextPos, TextPos] | None:
        """The selected text's first and last positions, None when nothing is selected."""
        return self.delegate.selection

    def set_selection(self, anchor: TextPos | None, cursor: TextPos | None) -> None:
        self._anchor, self._cursor = anchor, cursor
        selection = ordered(anchor, cursor) if anchor is not None and cursor is not None else None
        if selection is not None and selection[0] == selection[1]:
            selection = None
        if selection != self.delegate.selection:
            self.delegate.selection = selection
            self.viewport().update()

    def clear_selection(self) -> None:
        self.set_selection(None, None)

    def selectAll(self) -> None:
        model = self.transcript_model()
        if model is not None and model.transcript.rows:
            self.set_selection(TextPos(0, 0), TextPos(len(model.transcript.rows) - 1, END))

    def copy_selection(self) -> str:
        """Copy the selected text as plain text (Markdown rows as their Markdown, terminal output without escape
        codes): rows out of the window are read from the transcript (unpacked), not from anything shown."""
        model = self.transcript_model()
        selection = self.delegate.selection
        if model is None or selection is None:
            return ""
        text = selected_text(model.transcript.rows, selection[0], selection[1], self.delegate.row_text)
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.accept()  # the context menu comes with its own event; the selection stays for its Copy
            return
        point = event.position().toPoint()
        index = self.indexAt(point)
        name = self.delegate.hit(index, point) if index.isValid() else None
        # A press on a button or link clicks it on release, unless the mouse moves: then it selects from here.
        self._pressed = (index.data(ROW_ROLE), name) if name is not None else None
        self._press_at = self._drag_at = point
        at = self.position_at(point)
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier and self._anchor is not None:
            self.set_selection(self._anchor, at)
        else:
            self.set_selection(at, at)
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        point = event.position().toPoint()
        if self._press_at is not None and event.buttons() & Qt.MouseButton.LeftButton:
            if (self._pressed is not None
                    and (point - self._press_at).manhattanLength() < QApplication.startDragDistance()):
                return
            self._pressed = None  # a drag, not a click
            self._drag_at = point
            self.set_selection(self._anchor, self.position_at(point))
            if not 0 <= point.y() < self.viewport().height():
                if not self._drag_scroll.isActive():
                    self._drag_scroll.start()
            event.accept()
            return
        index = self.indexAt(point)
        name = self.delegate.hit(index, point) if index.isValid() else None
        hover = (index.row(), name) if name else None
        if hover != self.delegate.hover:
            self.delegate.hover = hover
            shape = Qt.CursorShape.PointingHandCursor if hover else Qt.CursorShape.IBeamCursor
            self.viewport().setCursor(shape)
            self.viewport().update()
        super().mouseMoveEvent(event)

    def _scroll_while_dragging(self) -> None:
        y, height = self._drag_at.y(), self.viewport().height()
        step = y if y < 0 else (y - height + 1 if y >= height else 0)
        if self._press_at is None or step == 0:
            self._drag_scroll.stop()
            return
        bar = self.verticalScrollBar()
        bar.setValue(bar.value() + max(-MAX_DRAG_SCROLL, min(MAX_DRAG_SCROLL, step)))
        self.set_selection(self._anchor, self.position_at(self._drag_at))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        pressed, self._pressed = self._pressed, None
        self._press_at = None
        self._drag_scroll.stop()
        if event.button() != Qt.MouseButton.LeftButton:
            event.accept()
            return
        if pressed is not None:
            point = event.position().toPoint()
            index = self.indexAt(point)
            name = self.delegate.hit(index, point) if index.isValid() else None
            if index.isValid() and index.data(ROW_ROLE) is pressed[0] and name == pressed[1]:
                self.delegate.activate(index, pressed[1])
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """A double click selects the word under the mouse (a row selected whole: the row)."""
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self._pressed = None
        self._press_at = None
        at = self.position_at(event.position().toPoint())
        model = self.transcript_model()
        if at is None or model is None or at.offset >= END:
            event.accept()
            return
        row = model.transcript.rows[at.row]
        if not self.delegate.renderer(row).selects_text:
            self.set_selection(TextPos(at.row, 0), TextPos(at.row, END))
        else:
            a, b = word_at(self.delegate.row_text(row), at.offset)
            self.set_selection(TextPos(at.row, a), TextPos(at.row, b))
        event.accept()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave and self.delegate.hover is not None:
            self.delegate.hover = None
            self.viewport().update()
        return super().event(event)

    def open_text(self, index: QModelIndex) -> None:
        row: Row | None = index.data(ROW_ROLE)
        if row is not None:
            self.open_row_text(row)

    def open_row_text(self, row: Row) -> None:
        if row.kind is RowKind.HEADER:
            return
        renderer = self.delegate.renderer(row)
        self.view_text.emit(renderer.title(row), row.copy_text(), renderer.monospace)

    def contextMenuEvent(self, event: Any) -> None:
        index = self.indexAt(event.pos())
        menu = QMenu(self)
        if self.delegate.selection is not None:
            menu.addAction("Copy", self.copy_selection)
        if index.isValid() and index.row() > 0:
            # The actions hold the Row itself: the menu stays open while events arrive, and a trim of the
            # window shifts every model row number (the index would then point at another row).
            row: Row = index.data(ROW_ROLE)
            menu.addAction("Copy this item", lambda: QGuiApplication.clipboard().setText(row.copy_text()))
            menu.addAction("View text…", lambda: self.open_row_text(row))
            if self.delegate.renderer(row).expandable:
                menu.addAction("Collapse" if self.delegate.expanded(row) else "Expand",
                               lambda: self._toggle_row(row))
        menu.addSeparator()
        menu.addAction("Select all", self.selectAll)
        if not self.follow:
            menu.addAction("Jump to latest", self.jump_to_latest)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one menu per right click; none pile up
        menu.popup(event.globalPos())
