"""The sources for other platforms, as far as they can run here: their logic, and failing cleanly."""

from __future__ import annotations

import ctypes
import sys

import pytest
from pytestqt.qtbot import QtBot

from desktop.lifecycle import LifecycleWatcher
from desktop.lifecycle.clock import ManualClock
from desktop.lifecycle.sources.macos import MacSleepSource
from desktop.lifecycle.sources.windows import (
    PBT_APMRESUMEAUTOMATIC,
    PBT_APMRESUMESUSPEND,
    PBT_APMSUSPEND,
    WM_POWERBROADCAST,
    WindowsPowerSource,
    _PowerBroadcastFilter,
)
from tests.desktop.lifecycle.test_watcher import Recorder

wintypes = pytest.importorskip("ctypes.wintypes")


def native_message(message: int, wparam: int) -> tuple[object, int]:
    msg = wintypes.MSG()
    msg.message = message
    msg.wParam = wparam
    return msg, ctypes.addressof(msg)


def test_the_native_filter_reads_power_broadcasts_and_lets_qt_handle_everything() -> None:
    seen: list[int] = []
    native_filter = _PowerBroadcastFilter(seen.append)
    for code in (PBT_APMSUSPEND, PBT_APMRESUMEAUTOMATIC, PBT_APMRESUMESUSPEND, 0x000A):
        msg, address = native_message(WM_POWERBROADCAST, code)
        assert native_filter.nativeEventFilter(b"windows_generic_MSG", address) == (False, 0)
    msg, address = native_message(0x0010, PBT_APMSUSPEND)  # WM_CLOSE: not ours
    assert native_filter.nativeEventFilter(b"windows_generic_MSG", address) == (False, 0)
    assert native_filter.nativeEventFilter(b"xcb_generic_event_t", address) == (False, 0)
    assert seen == [PBT_APMSUSPEND, PBT_APMRESUMEAUTOMATIC, PBT_APMRESUMESUSPEND]  # 0x000A is another PBT
    del msg


def test_a_failing_native_filter_gives_up_once_and_never_blocks_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(_code: int) -> None:
        raise RuntimeError("boom")

    native_filter = _PowerBroadcastFilter(broken)
    msg, address = native_message(WM_POWERBROADCAST, PBT_APMSUSPEND)
    for _ in range(3):
        assert native_filter.nativeEventFilter(b"windows_generic_MSG", address) == (False, 0)
    assert sum("WM_POWERBROADCAST filter failed" in r.getMessage() for r in caplog.records) == 1
    del msg


def test_windows_source_reports_one_resume_per_wake(qtbot: QtBot) -> None:
    watcher = LifecycleWatcher(clock=ManualClock("windows"))
    source = WindowsPowerSource()
    source._sink = watcher  # start() needs Windows; the decisions below do not
    rec = Recorder(watcher)
    source._on_power(PBT_APMSUSPEND)
    watcher.clock.suspend(50)  # type: ignore[attr-defined]
    source._on_power(PBT_APMRESUMEAUTOMATIC)
    source._on_power(PBT_APMRESUMESUSPEND)  # same wake, user present
    assert rec.events == ["suspending", "resumed 50"]


@pytest.mark.skipif(sys.platform == "win32", reason="the point is failing cleanly elsewhere")
def test_windows_source_is_unavailable_here(qtbot: QtBot) -> None:
    watcher = LifecycleWatcher(clock=ManualClock())
    assert not watcher.add_source(WindowsPowerSource())
    assert watcher.failed_sources == {"wm_powerbroadcast": "not Windows"}


@pytest.mark.skipif(sys.platform == "darwin", reason="the point is failing cleanly elsewhere")
def test_macos_source_is_unavailable_here(qtbot: QtBot) -> None:
    watcher = LifecycleWatcher(clock=ManualClock())
    assert not watcher.add_source(MacSleepSource())
    assert watcher.failed_sources == {"nsworkspace": "not macOS"}
