"""The transcript list: a QListView, a delegate that hands each row to the renderer of its kind
(desktop/qt/rows/), pixmap caching, autoscroll and copy."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
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
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QInputDialog,
    QListView,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from desktop.core.find import Match, row_index_for_match
from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.plan_bar import PlanBar
from desktop.qt.rows import Layout, RowContext, RowRenderer, RowState, renderer_table
from desktop.qt.rows.markdown import warm_up as warm_up_highlighting
from desktop.qt.transcript_model import ROW_ROLE, TranscriptModel

_SELECTED = QStyle.StateFlag.State_Selected
PIXMAP_BUDGET = 32 * 2**20
"""Bytes of painted rows kept (about ten screens: scrolling back a little blits instead of painting)."""
MAX_CACHED_HEIGHT = 2000
"""Taller rows are painted directly each time (their pixmap would cost more memory than it saves)."""
WARM_UP_AFTER_MS = 1500
"""When syntax highlighting is loaded (in a thread) after the view is first shown: after the app's start-up."""
FOUND_FILL = QColor(255, 196, 0, 64)
FOUND_EDGE = QColor(230, 160, 0)
"""The find match's row: a translucent amber over whatever the row's renderer painted, and a bar on its left."""


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

    def set_model(self, model: TranscriptModel | None) -> None:
        self.model = model
        self._sizes = {}
        self._pixmaps.clear()
        self._pixmap_bytes = 0
        self._painted_once = {}
        self.found = -1

    def renderer(self, row: Row) -> RowRenderer:
        return self.renderers[row.kind]

    def expanded(self, row: Row) -> bool:
        return self.model is not None and self.model.is_expanded(row)

    def state(self, row: Row, model: TranscriptModel | None = None, selected: bool = False,
              model_row: int = -1) -> RowState:
        model = model if model is not None else self.model
        hover = self.hover[1] if self.hover is not None and self.hover[0] == model_row else None
        return RowState(expanded=model is not None and model.is_expanded(row), selected=selected, hover=hover,
                        model=model)

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
            self.paint_row(p, row, option.rect, bool(option.state & _SELECTED), index.row())

    def paint_row(self, p: QPainter, row: Row, rect: QRect, selected: bool, model_row: int) -> None:
        renderer = self.renderers[row.kind]
        found = row.index >= 0 and row.index == self.found
        if not selected and not found and renderer.quick_paint(p, row, rect):
            return
        state = self.state(row, None, selected, model_row)
        if row.index < 0 or rect.height() > MAX_CACHED_HEIGHT:
            p.save()
            p.translate(rect.topLeft())
            self._paint_row(p, renderer, row, rect.width(), rect.height(), state, found)
            p.restore()
            return
        # Rows are painted once into a pixmap and blitted afterwards: while a session streams, the view
        # repaints every visible row ~30 times a second, and laying out wrapped text each time costs
        # far more than a blit.
        t = theme.current()
        ratio = p.device().devicePixelRatioF()
        key = (id(row), row.version, rect.width(), rect.height(), selected, state.hover, state.expanded,
               t.window.rgba(), ratio, found)
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
            self._paint_row(p, renderer, row, rect.width(), rect.height(), state, found)
            p.restore()
            return
        pixmap = QPixmap(int(rect.width() * ratio), int(rect.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(t.window)
        painter = QPainter(pixmap)
        self._paint_row(painter, renderer, row, rect.width(), rect.height(), state, found)
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
                   state: RowState, found: bool = False) -> None:
        lay = renderer.layout(row, width, state)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if state.selected:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(theme.current().selection)
            p.drawRoundedRect(QRectF(6, 1, width - 12, height - 2), 6, 6)
        renderer.paint(p, row, lay, width, state)
        if found:
            # Over the row, not under it: renderers paint their own backgrounds (bubbles, cards).
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(FOUND_FILL)
            p.drawRoundedRect(QRectF(4, 1, width - 8, height - 2), 6, 6)
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
        self.delegate.set_model(model if isinstance(model, TranscriptModel) else None)
        super().setModel(model)
        if isinstance(model, TranscriptModel):
            model.sizes_changed.connect(self._relayout)
            model.rowsInserted.connect(self._on_rows_inserted)
            model.plan_changed.connect(self._update_plan)
            model.totals_changed.connect(self.totals_changed)
            model.follow_tail = True
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
        self.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        # A match in the last screen (or a transcript that fits) leaves the view at the bottom: following again.
        self._on_value(self.verticalScrollBar().value())
        self._update_jump()
        self.viewport().update()
        return row

    def clear_match(self) -> None:
        if self.delegate.found >= 0:
            self.delegate.found = -1
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
        renderer = self.delegate.renderer(row)
        self.view_text.emit(renderer.title(row), row.copy_text(), renderer.monospace)

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
            if self.delegate.renderer(row).expandable:
                menu.addAction("Collapse" if self.delegate.expanded(row) else "Expand",
                               lambda: self._toggle_row(row))
        menu.addSeparator()
        menu.addAction("Select all", self.selectAll)
        if not self.follow:
            menu.addAction("Jump to latest", self.jump_to_latest)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one menu per right click; none pile up
        menu.popup(event.globalPos())
