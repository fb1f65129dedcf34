"""LifecycleWatcher: one QObject that turns every lifecycle source into the same few signals."""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QWindow
from PySide6.QtWidgets import QWidget

from desktop.lifecycle.clock import Clock, SystemClock
from desktop.lifecycle.core import (
    DEFAULT_RESUME_COALESCE_SECONDS,
    Emitted,
    LifecycleEvent,
    LifecycleFilter,
    Network,
)
from desktop.lifecycle.sources.base import LifecycleSource, SourceUnavailable

log = logging.getLogger(__name__)


class LifecycleWatcher(QObject):
    """Signals, each emitted once per real change however many sources saw it:

    - hidden / shown: the main window left the screen (minimized, hidden to the tray, app in the background)
      / came back;
    - suspending: the machine is about to sleep;
    - resumed(seconds_asleep): the machine woke up (-1 when the length of the sleep is unknown);
    - network_online / network_offline: reachability changed (the starting state is not a change).

    Sources call the report_* methods (the LifecycleSink interface) from the GUI thread.
    """

    hidden = Signal()
    shown = Signal()
    suspending = Signal()
    resumed = Signal(float)
    network_online = Signal()
    network_offline = Signal()

    def __init__(
        self,
        clock: Clock | None = None,
        resume_coalesce_seconds: float = DEFAULT_RESUME_COALESCE_SECONDS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.clock: Clock = clock or SystemClock()
        self._filter = LifecycleFilter(self.clock, resume_coalesce_seconds)
        self._sources: list[LifecycleSource] = []
        self.failed_sources: dict[str, str] = {}
        """Sources that could not start here, with the reason (shown in diagnostics, logged once)."""

    # -- sources --

    def add_source(self, source: LifecycleSource) -> bool:
        """Start a source; on failure log once, remember why, and go on without it."""
        try:
            source.start(self)
        except SourceUnavailable as exc:
            self._record_failure(source, str(exc), logging.INFO)
            return False
        except Exception as exc:
            self._record_failure(source, f"{type(exc).__name__}: {exc}", logging.WARNING)
            return False
        self._sources.append(source)
        return True

    def _record_failure(self, source: LifecycleSource, reason: str, level: int) -> None:
        self.failed_sources[source.name] = reason
        log.log(level, "lifecycle source %s unavailable: %s", source.name, reason)
        try:
            source.stop()
        except Exception:
            log.debug("stopping the failed source %s failed too", source.name, exc_info=True)

    @property
    def active_sources(self) -> list[str]:
        return [source.name for source in self._sources]

    def source(self, name: str) -> LifecycleSource | None:
        return next((source for source in self._sources if source.name == name), None)

    def stop(self) -> None:
        for source in reversed(self._sources):
            try:
                source.stop()
            except Exception:
                log.warning("stopping lifecycle source %s failed", source.name, exc_info=True)
        self._sources.clear()

    # -- state --

    @property
    def is_hidden(self) -> bool:
        return self._filter.hidden

    @property
    def is_suspended(self) -> bool:
        return self._filter.suspended

    @property
    def is_network_online(self) -> bool:
        return self._filter.network_online

    # -- LifecycleSink --

    def prime_hidden(self, reason: str) -> None:
        self._filter.prime_hidden(reason)

    def report_hidden(self, reason: str) -> None:
        self._emit(self._filter.hide(reason), reason)

    def report_shown(self, reason: str) -> None:
        self._emit(self._filter.show(reason), reason)

    def report_suspending(self, source: str) -> None:
        self._emit(self._filter.suspend(), source)

    def report_resumed(self, source: str, seconds_asleep: float | None = None) -> None:
        self._emit(self._filter.resume(seconds_asleep, source), source)

    def report_network(self, source: str, state: Network | None) -> None:
        self._emit(self._filter.network(state), source)

    def _emit(self, emitted: list[Emitted], origin: str) -> None:
        for item in emitted:
            log.info("lifecycle: %s (from %s)", item.event.value, origin)
            if item.event is LifecycleEvent.HIDDEN:
                self.hidden.emit()
            elif item.event is LifecycleEvent.SHOWN:
                self.shown.emit()
            elif item.event is LifecycleEvent.SUSPENDING:
                self.suspending.emit()
            elif item.event is LifecycleEvent.RESUMED:
                self.resumed.emit(item.seconds_asleep)
            elif item.event is LifecycleEvent.NETWORK_ONLINE:
                self.network_online.emit()
            elif item.event is LifecycleEvent.NETWORK_OFFLINE:
                self.network_offline.emit()


def platform_sources(
    window: QWidget | QWindow | None,
    *,
    clock: Clock | None = None,
    system_bus_address: str | None = None,
    clock_interval: float | None = None,
    network: bool = True,
) -> list[LifecycleSource]:
    """The sources that make sense on this platform; each may still turn out unavailable when started."""
    from desktop.lifecycle.sources.clockgap import DEFAULT_INTERVAL_SECONDS, ClockGapSource
    from desktop.lifecycle.sources.window import AppStateSource, WindowSource

    sources: list[LifecycleSource] = []
    if window is not None:
        sources.append(WindowSource(window))
    sources.append(AppStateSource())
    if sys.platform.startswith("linux"):
        from desktop.lifecycle.sources.logind import LogindSource

        sources.append(LogindSource(system_bus_address))
    elif sys.platform == "darwin":
        from desktop.lifecycle.sources.macos import MacSleepSource

        sources.append(MacSleepSource())
    elif sys.platform == "win32":
        from desktop.lifecycle.sources.windows import WindowsPowerSource

        sources.append(WindowsPowerSource())
    # Always on, even with an OS source: it costs one timer tick every two seconds and covers machines whose
    # OS signal is missing or not delivered to us; the watcher merges the two reports of one wake.
    sources.append(ClockGapSource(clock, interval=clock_interval or DEFAULT_INTERVAL_SECONDS))
    if network:
        from desktop.lifecycle.sources.network import NetworkSource

        sources.append(NetworkSource())
    return sources


def create_watcher(
    window: QWidget | QWindow | None,
    *,
    clock: Clock | None = None,
    system_bus_address: str | None = None,
    clock_interval: float | None = None,
    network: bool = True,
    parent: QObject | None = None,
) -> LifecycleWatcher:
    """The one place the app builds its watcher: every platform source started, unavailable ones skipped."""
    watcher = LifecycleWatcher(clock=clock, parent=parent)
    for source in platform_sources(
        window,
        clock=watcher.clock,
        system_bus_address=system_bus_address,
        clock_interval=clock_interval,
        network=network,
    ):
        watcher.add_source(source)
    log.info(
        "lifecycle sources: %s (unavailable: %s)",
        ", ".join(watcher.active_sources) or "none",
        ", ".join(f"{name}: {why}" for name, why in watcher.failed_sources.items()) or "none",
    )
    return watcher
