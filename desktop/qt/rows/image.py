"""The images of a tool result (a screenshot the agent read) as thumbnails under the call; a click opens one full
size.

The event holds references (EVENTS.md, "Images"), not bytes: each image is fetched from the runner once by its blob id
(`get_blob`, PROTOCOL.md) and kept as a thumbnail in a bounded cache (Thumbnails), shared by every row showing it. A
row's height comes from the reference's size, so it never changes when its image arrives; until then it shows a
placeholder. The app connects a view with `attach_images` (how to reach the shown runner, and a repaint when an image
arrives)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QScrollArea, QVBoxLayout, QWidget

from desktop.core.transcript import Row, RowKind
from desktop.qt import theme
from desktop.qt.rows.base import GAP_Y, MARGIN_X, RowActions, RowContext, RowRenderer, RowState
from desktop.qt.rows.base import Layout as RowLayout

if TYPE_CHECKING:
    from desktop.qt.transcript_view import TranscriptView

log = logging.getLogger(__name__)

THUMB_H = 160
"""The tallest a thumbnail is shown (smaller images keep their own size); the width follows the aspect ratio."""
THUMB_GAP = 8
INDENT = 18
"""Thumbnails sit a little right of the tool call they belong to."""
CACHE_BYTES = 48 * 1024 * 1024
"""Pixels of thumbnails kept (about 90 thumbnails of 160 px at twice the screen's density)."""
RETRY_AFTER = 5.0
"""Seconds before a failed fetch (not connected, say) is tried again when the row is painted."""

Fetch = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
"""Sends a request to the runner and returns its reply; raises when there is none (an `error` reply, no connection)."""


def thumb_size(ref: dict[str, Any], max_w: int) -> QSize:
    """The size a thumbnail is shown at: THUMB_H high at most, as wide as its aspect ratio says, within max_w."""
    width, height = ref.get("width"), ref.get("height")
    if not width or not height:
        return QSize(min(THUMB_H, max_w), THUMB_H)  # unknown: a square box, the image letterboxed in it
    h = min(THUMB_H, height)
    w = max(1, round(width * h / height))
    if w > max_w:
        h = max(1, round(h * max_w / w))
        w = max_w
    return QSize(w, h)


class Thumbnails(QObject):
    """Thumbnails by blob id: fetched once, kept in an LRU bounded in pixels. `loaded(blob)` once one arrives (or
    fails: `failed` then says why)."""

    loaded = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.fetch: Fetch | None = None
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._bytes = 0
        self._loading: dict[str, asyncio.Task[None]] = {}
        self.failed: dict[str, tuple[str, float]] = {}
        """blob -> (why, when) for fetches that failed (tried again after RETRY_AFTER)."""
        self.fetches = 0
        """Requests sent (a test sees that a blob is fetched once)."""

    def get(self, blob: str, scale: float) -> QImage | None:
        """The thumbnail, or None while it is not here (a fetch is then started, if none runs)."""
        image = self._images.get(blob)
        if image is not None:
            self._images.move_to_end(blob)
            return image
        self._start(blob, scale)
        return None

    def _start(self, blob: str, scale: float) -> None:
        if blob in self._loading or self.fetch is None:
            return
        failed = self.failed.get(blob)
        loop = asyncio.get_event_loop()
        if failed is not None and loop.time() - failed[1] < RETRY_AFTER:
            return
        task = loop.create_task(self._load(blob, scale))
        self._loading[blob] = task
        task.add_done_callback(lambda _t: self._loading.pop(blob, None))

    async def full(self, blob: str) -> QImage:
        """The whole image (fetched again: only thumbnails are kept). Raises on failure."""
        assert self.fetch is not None
        return _decode(await self.fetch({"type": "get_blob", "blob": blob}))

    async def _load(self, blob: str, scale: float) -> None:
        assert self.fetch is not None
        self.fetches += 1
        try:
            image = _decode(await self.fetch({"type": "get_blob", "blob": blob}))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # whatever went wrong is shown in the row; the fetch is tried again later
            why = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.failed[blob] = (why, asyncio.get_event_loop().time())
            self.loaded.emit(blob)
            return
        self.failed.pop(blob, None)
        tall = round(THUMB_H * scale)
        if image.height() > tall:
            image = image.scaledToHeight(tall, Qt.TransformationMode.SmoothTransformation)
        image = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        self._images[blob] = image
        self._bytes += image.sizeInBytes()
        while self._bytes > CACHE_BYTES and len(self._images) > 1:
            _, dropped = self._images.popitem(last=False)
            self._bytes -= dropped.sizeInBytes()
        self.loaded.emit(blob)

    def close(self) -> None:
        for task in list(self._loading.values()):
            task.cancel()


def _decode(reply: dict[str, Any]) -> QImage:
    try:
        data = base64.b64decode(str(reply.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the runner sent data that is not base64") from None
    image = QImage()
    if not image.loadFromData(data):
        raise ValueError(f"not an image Qt can read ({reply.get('media_type')})")
    return image


class ImageRenderer(RowRenderer):
    kinds = (RowKind.IMAGE,)

    def __init__(self, ctx: RowContext) -> None:
        super().__init__(ctx)
        self.thumbnails = Thumbnails()
        self.waiting: dict[str, dict[int, Row]] = {}
        """Rows painted with a placeholder, by the blob they wait for: repainted (touched) when it arrives."""
        self.thumbnails.loaded.connect(self._arrived)
        self.repaint: Callable[[], None] = lambda: None
        """Set by attach_images: schedules a repaint of the view."""

    @staticmethod
    def _refs(row: Row) -> list[dict[str, Any]]:
        images = row.data.get("images")
        return images if isinstance(images, list) else []

    def layout(self, row: Row, width: int, state: RowState) -> RowLayout:
        left = self.ctx.left(row) + INDENT
        max_w = max(40, width - left - MARGIN_X)
        x, y, line_h = left, GAP_Y, 0
        lay = RowLayout(0)
        for i, ref in enumerate(self._refs(row)):
            size = thumb_size(ref, max_w)
            if x > left and x + size.width() > left + max_w:  # wrap to the next line of thumbnails
                x, y, line_h = left, y + line_h + THUMB_GAP, 0
            lay.buttons[f"image:{i}"] = QRect(QPoint(x, y), size)
            x += size.width() + THUMB_GAP
            line_h = max(line_h, size.height())
        lay.height = y + line_h + GAP_Y
        return lay

    def paint(self, p: QPainter, row: Row, lay: RowLayout, width: int, state: RowState) -> None:
        t = theme.current()
        scale = p.device().devicePixelRatioF() if p.device() is not None else 1.0
        refs = self._refs(row)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        for i, ref in enumerate(refs):
            rect = lay.buttons.get(f"image:{i}")
            if rect is None:
                continue
            blob = ref["blob"]
            image = self.thumbnails.get(blob, max(1.0, scale))
            if image is not None:
                shown = _fitted(rect, image.size())
                p.drawImage(shown, image)
                # A hairline frame: a white screenshot must not melt into a light window.
                p.setPen(t.accent if state.hover == f"image:{i}" else t.border)
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(shown.adjusted(-0.5, -0.5, 0.5, 0.5))
                continue
            # Placeholder: the image's box, saying what is going on.
            self.waiting.setdefault(blob, {})[id(row)] = row
            p.setPen(t.border)
            p.setBrush(t.surface_alt)
            p.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
            failed = self.thumbnails.failed.get(blob)
            p.setFont(self.ctx.small)
            p.setPen(t.error_fg if failed else t.muted)
            text = f"Image not available: {failed[0]}" if failed else "Loading image…"
            p.drawText(rect.adjusted(6, 4, -6, -4), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def _arrived(self, blob: str) -> None:
        rows = self.waiting.pop(blob, {})
        for row in rows.values():
            row.touch()  # its cached pixmap showed the placeholder
        if rows:
            self.repaint()

    def activate(self, row: Row, name: str, actions: RowActions) -> bool:
        if name.startswith("image:"):
            refs = self._refs(row)
            index = int(name.split(":", 1)[1])
            if 0 <= index < len(refs):
                self.open_full(refs[index])
            return True
        return super().activate(row, name, actions)

    def open_full(self, ref: dict[str, Any]) -> ImageViewer:
        viewer = ImageViewer(self.thumbnails, ref, QApplication.activeWindow())
        viewer.show()
        return viewer

    def title(self, row: Row) -> str:
        return "Images" if len(self._refs(row)) > 1 else "Image"


def _fitted(rect: QRect, size: QSize) -> QRectF:
    """`size` scaled into `rect`, aspect kept, centred."""
    if size.isEmpty():
        return QRectF(rect)
    scale = min(rect.width() / size.width(), rect.height() / size.height())
    w, h = size.width() * scale, size.height() * scale
    return QRectF(rect.x() + (rect.width() - w) / 2, rect.y() + (rect.height() - h) / 2, w, h)


class ImageViewer(QDialog):
    """One image at full size (scrollable when larger than the screen)."""

    def __init__(self, thumbnails: Thumbnails, ref: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        kind = str(ref.get("media_type", "image")).removeprefix("image/").upper()
        dims = f" {ref['width']}x{ref['height']}" if ref.get("width") else ""
        self.setWindowTitle(f"Image: {kind}{dims}")
        self.label = QLabel("Loading image…", self)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea(self)
        scroll.setWidget(self.label)
        scroll.setWidgetResizable(True)
        scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        width, height = int(ref.get("width") or 640), int(ref.get("height") or 480)
        screen = self.screen().availableGeometry() if self.screen() is not None else QRect(0, 0, 1280, 800)
        self.resize(min(width + 24, int(screen.width() * 0.9)), min(height + 24, int(screen.height() * 0.9)))
        self.image: QImage | None = None
        self._task = asyncio.get_event_loop().create_task(self._load(thumbnails, str(ref["blob"])))

    async def _load(self, thumbnails: Thumbnails, blob: str) -> None:
        try:
            image = await thumbnails.full(blob)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.label.setText(f"Image not available: {getattr(exc, 'message', None) or exc}")
            return
        self.image = image
        self.label.setPixmap(QPixmap.fromImage(image))

    def done(self, result: int) -> None:
        self._task.cancel()
        super().done(result)


class _Requests(Protocol):
    async def request(self, message: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]: ...


def attach_images(view: TranscriptView, connection: Callable[[], _Requests | None]) -> None:
    """Let `view`'s image rows fetch their images through `connection()` (the shown runner's connection, None when
    there is none), and repaint the view when one arrives."""

    async def fetch(message: dict[str, Any]) -> dict[str, Any]:
        current = connection()
        if current is None:
            raise ConnectionError("not connected to the runner")
        return await current.request(message)

    renderer = view.delegate.renderers[RowKind.IMAGE]
    assert isinstance(renderer, ImageRenderer)
    renderer.thumbnails.fetch = fetch
    renderer.repaint = view.viewport().update
