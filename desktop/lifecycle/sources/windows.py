"""Windows sleep/wake from WM_POWERBROADCAST, seen by a native event filter installed on the application.

This cannot run on the development machines (Linux); it is kept small. The broadcast goes to top-level
windows, which every Qt app with a window (or a tray icon) has. The filter always lets Qt handle the
message too.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from PySide6.QtCore import QAbstractNativeEventFilter, QByteArray, QCoreApplication

from desktop.lifecycle.sources.base import LifecycleSink, LifecycleSource, SourceUnavailable

WM_POWERBROADCAST = 0x0218
PBT_APMSUSPEND = 0x0004
PBT_APMRESUMESUSPEND = 0x0007  # resume after a suspend the user caused (follows PBT_APMRESUMEAUTOMATIC)
PBT_APMRESUMEAUTOMATIC = 0x0012  # every resume, user present or not
_POWER_CODES = (PBT_APMSUSPEND, PBT_APMRESUMEAUTOMATIC, PBT_APMRESUMESUSPEND)
_MSG_EVENT_TYPES = (b"windows_generic_MSG", b"windows_dispatcher_MSG")

log = logging.getLogger(__name__)
IS_WINDOWS = sys.platform == "win32"


class _PowerBroadcastFilter(QAbstractNativeEventFilter):
    def __init__(self, on_power: Any) -> None:
        super().__init__()
        self._on_power = on_power
        import ctypes.wintypes

        self._msg_type = ctypes.wintypes.MSG
        self._failed = False

    def nativeEventFilter(self, event_type: QByteArray | bytes, message: Any) -> tuple[bool, int]:
        if self._failed:
            return False, 0
        try:
            kind = bytes(event_type.data()) if isinstance(event_type, QByteArray) else bytes(event_type)
            if kind in _MSG_EVENT_TYPES:
                msg = self._msg_type.from_address(int(message))
                if msg.message == WM_POWERBROADCAST and msg.wParam in _POWER_CODES:
                    self._on_power(int(msg.wParam))
        except Exception:
            # This runs for every native message: give up for good after the first failure, and say so once.
            self._failed = True
            log.exception("WM_POWERBROADCAST filter failed; sleep/wake from Windows is off")
        return False, 0


class WindowsPowerSource(LifecycleSource):
    name = "wm_powerbroadcast"

    def __init__(self) -> None:
        self.native_filter: _PowerBroadcastFilter | None = None
        self._sink: LifecycleSink | None = None
        self._automatic_resume_seen = False

    def start(self, sink: LifecycleSink) -> None:
        if not IS_WINDOWS:
            raise SourceUnavailable("not Windows")
        app = QCoreApplication.instance()
        if app is None:
            raise SourceUnavailable("no QCoreApplication")
        self._sink = sink
        # Kept referenced here: Qt does not own native event filters.
        self.native_filter = _PowerBroadcastFilter(self._on_power)
        app.installNativeEventFilter(self.native_filter)

    def _on_power(self, code: int) -> None:
        if self._sink is None:
            return
        if code == PBT_APMSUSPEND:
            self._automatic_resume_seen = False
            self._sink.report_suspending(self.name)
        elif code == PBT_APMRESUMEAUTOMATIC:
            self._automatic_resume_seen = True
            self._sink.report_resumed(self.name)
        elif not self._automatic_resume_seen:
            # RESUMESUSPEND follows RESUMEAUTOMATIC for the same wake when a user is present: report it only
            # when the automatic one did not come.
            self._sink.report_resumed(self.name)

    def stop(self) -> None:
        app = QCoreApplication.instance()
        if self.native_filter is not None and app is not None:
            app.removeNativeEventFilter(self.native_filter)
        self.native_filter = None
        self._sink = None
