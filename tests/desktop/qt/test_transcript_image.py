"""Issue 12 item 10: an image in a tool result (Claude Code's Read of a PNG) shows as a thumbnail in the transcript,
its pixels fetched once from the runner (`get_blob`), the same after a catch-up from the journal, and a click opens
it full size. Against a real runner and the fake Claude CLI printing the real CLI's line shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop.core.transcript import Row, RowKind
from desktop.qt.rows.image import THUMB_H, ImageRenderer, ImageViewer, thumb_size
from tests.desktop.qt.helpers import until
from tests.desktop.qt.test_session_flow import live_app, rows
from tests.fakes.images import png

BLUE, RED = (0, 0, 255), (255, 0, 0)
# Wider than tall and taller than a thumbnail: shown 160 px high, 400 px wide; blue on the left, red on the right.
PICTURE = png(800, 320, RED, left_rgb=BLUE)


def close_to(color: QColor, rgb: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 8 for a, b in zip((color.red(), color.green(), color.blue()), rgb, strict=True))


def thumbnail_pixels(app: Any, row: Row) -> tuple[QColor, QColor, Any]:
    """What the view shows of the row's thumbnail: the colours a quarter in from its left and right edges."""
    view = app.window.transcript
    model = view.transcript_model()
    index = model.index(model.model_row(row))
    view.scrollTo(index)
    rect = view.visualRect(index)
    lay = view.delegate.layout(row, rect.width(), model)
    thumb = lay.buttons["image:0"]
    shot: QImage = view.viewport().grab(rect).toImage()
    ratio = shot.devicePixelRatio()
    y = int((thumb.center().y()) * ratio)
    left = shot.pixelColor(int((thumb.x() + thumb.width() // 4) * ratio), y)
    right = shot.pixelColor(int((thumb.x() + 3 * thumb.width() // 4) * ratio), y)
    return left, right, thumb


@pytest.fixture
def picture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "screenshot.png"
    path.write_bytes(PICTURE)
    monkeypatch.setenv("FAKE_CLI_IMAGE", str(path))  # what the fake Claude's Read returns (mode:image)
    return path


def test_image_thumbnail_shows_the_pictures_pixels_fetched_once_and_again_after_catch_up(
    run: Any, make_app: Any, embedded: Any, picture: Path, qtbot: Any
) -> None:
    async def scenario() -> None:
        app = await live_app(make_app, embedded)
        sid = await app.create_session({"agent": "claude", "title": "looks", "cwd": embedded.data_dir})
        assert sid is not None
        app.send(sid, "look at the screenshot mode:image")
        await until(lambda: rows(app, sid, RowKind.IMAGE), 60, "the image row")
        await until(lambda: app.core.sessions[sid].status == "idle", 60, "the turn's end")
        (row,) = rows(app, sid, RowKind.IMAGE)
        assert row.text.startswith("[image: PNG 800x320, ")
        (tool,) = rows(app, sid, RowKind.TOOL)
        assert tool.data["name"] == "Read" and tool.data["output"] == row.text  # the call keeps the text

        view = app.window.transcript
        renderer = view.delegate.renderers[RowKind.IMAGE]
        assert isinstance(renderer, ImageRenderer)
        blob = row.data["images"][0]["blob"]

        def shows_picture() -> bool:
            left, right, _ = thumbnail_pixels(app, row)
            return close_to(left, BLUE) and close_to(right, RED)

        await until(shows_picture, 60, "the thumbnail's pixels")
        _, _, thumb = thumbnail_pixels(app, row)
        assert (thumb.width(), thumb.height()) == (400, THUMB_H)  # bounded height, aspect kept
        for _ in range(3):  # painted again and again: fetched once
            view.viewport().repaint()
        assert renderer.thumbnails.fetches == 1

        # A click opens it full size.
        model = view.transcript_model()
        rect = view.visualRect(model.index(model.model_row(row)))
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         rect.topLeft() + thumb.center())
        viewers = [w for w in QApplication.topLevelWidgets() if isinstance(w, ImageViewer) and w.isVisible()]
        assert len(viewers) == 1
        viewer = viewers[0]
        await until(lambda: viewer.image is not None, 60, "the full image")
        assert viewer.image is not None and (viewer.image.width(), viewer.image.height()) == (800, 320)
        assert close_to(viewer.image.pixelColor(100, 160), BLUE) and close_to(viewer.image.pixelColor(700, 160), RED)
        viewer.close()

        # Catch-up from the journal (another app attaching afresh) shows the same thumbnail.
        other = await live_app(make_app, embedded)
        await until(lambda: sid in other.core.sessions, 60, "the session listed")
        other.window.select_session(sid)
        await until(lambda: rows(other, sid, RowKind.IMAGE), 60, "the image row after catch-up")
        (again,) = rows(other, sid, RowKind.IMAGE)
        assert again.data["images"] == row.data["images"] and again.data["images"][0]["blob"] == blob

        def other_shows_picture() -> bool:
            left, right, _ = thumbnail_pixels(other, again)
            return close_to(left, BLUE) and close_to(right, RED)

        await until(other_shows_picture, 60, "the thumbnail after catch-up")

    run(scenario())


def test_image_placeholder_until_it_arrives_and_what_a_failure_says(qtbot: Any) -> None:
    """Without a runner to fetch from, the row keeps its size and says what is going on."""
    from desktop.qt.transcript_view import TranscriptView

    view = TranscriptView()
    qtbot.addWidget(view)
    renderer = view.delegate.renderers[RowKind.IMAGE]
    ref = {"blob": "a" * 64, "media_type": "image/png", "bytes": 10, "width": 64, "height": 32}
    row = Row(RowKind.IMAGE, 1, text="[image: PNG 64x32, 1 KB]", data={"images": [ref]})
    lay = renderer.layout(row, 600, view.delegate.state(row))
    assert (lay.buttons["image:0"].width(), lay.buttons["image:0"].height()) == (64, 32)  # small: its own size
    assert thumb_size({"width": 4000, "height": 1000}, 300).toTuple() == (300, 75)  # too wide: fits the width
    assert thumb_size({}, 600).toTuple() == (THUMB_H, THUMB_H)  # size unknown: a square box
    image = QImage(600, lay.height, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    renderer.paint(painter, row, lay, 600, view.delegate.state(row))
    painter.end()
    inside = image.pixelColor(lay.buttons["image:0"].topLeft() + QPoint(3, 16))
    assert inside.alpha() == 255  # the placeholder's box is painted
