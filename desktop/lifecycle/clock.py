"""Clocks for suspend detection, behind one small interface so tests can inject a sleep.

Three readings matter across a suspend (see shared reference notes, "Clocks lie across a suspend"):
- `monotonic()` stops while the machine sleeps on Linux and macOS and keeps counting on Windows;
- `boottime()` (Linux CLOCK_BOOTTIME) counts the sleep too: boottime - monotonic grows by the time asleep;
- `wall()` counts the sleep everywhere but jumps when the user or NTP sets the time.
"""

from __future__ import annotations

import time
from typing import Literal, Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""

    def boottime(self) -> float | None:
        """Seconds on a monotonic clock that includes suspend, or None where the platform has none."""

    def wall(self) -> float:
        """Seconds since the epoch."""


def _probe_boottime() -> int | None:
    clock_id = getattr(time, "CLOCK_BOOTTIME", None)
    if clock_id is None:
        return None
    try:
        time.clock_gettime(clock_id)
    except OSError:
        return None
    return clock_id


class SystemClock:
    """The real clocks of this machine."""

    def __init__(self) -> None:
        self._boottime_id = _probe_boottime()

    def monotonic(self) -> float:
        return time.monotonic()

    def boottime(self) -> float | None:
        if self._boottime_id is None:
            return None
        return time.clock_gettime(self._boottime_id)

    def wall(self) -> float:
        return time.time()


SleepStyle = Literal["linux", "macos", "windows"]


class ManualClock:
    """A clock that moves only when told to; `suspend()` sleeps the way the platform named by `style` does.

    - "linux": monotonic stands still, boottime and wall move;
    - "macos": no boottime; monotonic stands still, wall moves;
    - "windows": no boottime; monotonic and wall both move (a timer simply fires late).
    """

    def __init__(self, style: SleepStyle = "linux", start: float = 1000.0) -> None:
        self.style = style
        self._mono = start
        self._boot = start + 5.0
        self._wall = 1_764_480_000.0

    def monotonic(self) -> float:
        return self._mono

    def boottime(self) -> float | None:
        return self._boot if self.style == "linux" else None

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        """Time passes with the machine awake."""
        self._mono += seconds
        self._boot += seconds
        self._wall += seconds

    def suspend(self, seconds: float) -> None:
        """The machine sleeps for `seconds`."""
        self._boot += seconds
        self._wall += seconds
        if self.style == "windows":
            self._mono += seconds
