"""macOS sleep/wake from NSWorkspace notifications, through pyobjc where it is installed.

This cannot run on the development machines (Linux); it is kept small and every import is guarded. The
observer must be registered on NSWorkspace's own notification center (not the default center) and kept alive.
Notifications arrive on the main thread's run loop, which Qt's Cocoa event dispatcher runs.
"""

from __future__ import annotations

import sys
from typing import Any

from desktop.lifecycle.sources.base import LifecycleSink, LifecycleSource, SourceUnavailable

_observer_class: Any = None


def _get_observer_class() -> Any:
    """Define the Objective-C observer class once per process (the runtime refuses a second definition)."""
    global _observer_class
    if _observer_class is not None:
        return _observer_class
    import objc  # type: ignore[import-not-found]
    from Foundation import NSObject  # type: ignore[import-not-found]

    class NightshiftSleepObserver(NSObject):  # type: ignore[misc, valid-type]
        def initWithCallback_(self, callback: Any) -> Any:
            self = objc.super(NightshiftSleepObserver, self).init()
            if self is None:
                return None
            self._callback = callback
            return self

        def willSleep_(self, _notification: Any) -> None:
            self._callback(True)

        def didWake_(self, _notification: Any) -> None:
            self._callback(False)

    _observer_class = NightshiftSleepObserver
    return _observer_class


class MacSleepSource(LifecycleSource):
    name = "nsworkspace"

    def __init__(self) -> None:
        self._observer: Any = None
        self._center: Any = None
        self._sink: LifecycleSink | None = None

    def start(self, sink: LifecycleSink) -> None:
        if sys.platform != "darwin":
            raise SourceUnavailable("not macOS")
        try:
            from AppKit import (  # type: ignore[import-not-found]
                NSWorkspace,
                NSWorkspaceDidWakeNotification,
                NSWorkspaceWillSleepNotification,
            )

            observer_class = _get_observer_class()
        except ImportError as exc:
            raise SourceUnavailable(f"pyobjc is not installed ({exc})") from exc
        self._sink = sink
        self._observer = observer_class.alloc().initWithCallback_(self._on_power)
        self._center = NSWorkspace.sharedWorkspace().notificationCenter()
        self._center.addObserver_selector_name_object_(
            self._observer, "willSleep:", NSWorkspaceWillSleepNotification, None
        )
        self._center.addObserver_selector_name_object_(self._observer, "didWake:", NSWorkspaceDidWakeNotification, None)

    def _on_power(self, going_to_sleep: bool) -> None:
        if self._sink is None:
            return
        if going_to_sleep:
            self._sink.report_suspending(self.name)
        else:
            self._sink.report_resumed(self.name)

    def stop(self) -> None:
        if self._center is not None and self._observer is not None:
            self._center.removeObserver_(self._observer)
        self._center = None
        self._observer = None
        self._sink = None
