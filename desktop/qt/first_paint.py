"""Wait for a window's first paint: the app shows its window before it connects, so a user sees it at once."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget


class _PaintWatch(QObject):
    def __init__(self, window: QWidget, done: asyncio.Future[None]) -> None:
        super().__init__(window)
        self._done = done

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self._done.done():
            self._done.set_result(None)
        return False


async def first_paint(window: QWidget, timeout: float = 1.0) -> None:
    """Return once `window` has been painted, or after `timeout` seconds (a window that is never exposed, as on
    some platforms while minimized, must not hold the start back)."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    watch = _PaintWatch(window, done)
    window.installEventFilter(watch)
    try:
        await asyncio.wait_for(asyncio.shield(done), timeout)
    except TimeoutError:
        pass
    finally:
        window.removeEventFilter(watch)
        watch.deleteLater()
