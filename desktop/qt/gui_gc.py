"""GuiThreadCollector: Python's cycle collector runs in the GUI thread only.

The automatic collector runs in whichever thread happens to allocate past its threshold; in this app that is often
the embedded runner's thread or a journal thread. Collecting a Qt object there (qasync's timers and socket
notifiers, or any QObject left in a reference cycle) unregisters its timers from the wrong thread: Qt warns, and
may later deliver an event to the freed object and crash. So the app turns automatic collection off and collects
from a timer in the GUI thread instead, escalating through the generations as the thresholds say.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self.collections = 0

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()

    def collect_due(self) -> int:
        """Collect the youngest generation, or an older one once its threshold is passed; returns which."""
        _, count1, count2 = gc.get_count()
        _, threshold1, threshold2 = self._thresholds
        generation = 2 if count2 > threshold2 else 1 if count1 > threshold1 else 0
        gc.collect(generation)
        self.collections += 1
        return generation
