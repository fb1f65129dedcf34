"""A portable suspend detector: a slow timer comparing clocks on every tick (see core.SuspendGapDetector)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer

from desktop.lifecycle.clock import Clock, SystemClock
from desktop.lifecycle.core import SuspendGapDetector
from desktop.lifecycle.sources.base import LifecycleSink, LifecycleSource

DEFAULT_INTERVAL_SECONDS = 2.0


class ClockGapSource(LifecycleSource):
    name = "clock_gap"

    def __init__(
        self,
        clock: Clock | None = None,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        gap_threshold: float = 3.0,
        late_threshold: float = 15.0,
    ) -> None:
        self._clock = clock or SystemClock()
        self._interval = interval
        self._detector = SuspendGapDetector(self._clock, interval, gap_threshold, late_threshold)
        self._timer: QTimer | None = None
        self._sink: LifecycleSink | None = None

    def start(self, sink: LifecycleSink) -> None:
        self._sink = sink
        self._detector.reset()
        self._timer = QTimer()
        # A coarse timer lets the OS batch our wake-ups with others; a second of slack is irrelevant here.
        coarse = Qt.TimerType.VeryCoarseTimer if self._interval >= 1 else Qt.TimerType.CoarseTimer
        self._timer.setTimerType(coarse)
        self._timer.setInterval(max(1, round(self._interval * 1000)))
        self._timer.timeout.connect(self.check_now)
        self._timer.start()

    def check_now(self) -> None:
        """Compare the clocks now (the timer calls this; so may anyone who has a reason to look early)."""
        gap = self._detector.check()
        if gap is not None and self._sink is not None:
            self._sink.report_resumed(self.name, gap)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._sink = None
