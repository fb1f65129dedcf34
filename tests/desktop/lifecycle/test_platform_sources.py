"""The sources for other platforms, as far as they can run here: their logic, and failing cleanly."""

from __future__ import annotations

import ctypes
import sys

import pytest
from pytestqt.qtbot import QtBot

from desktop.lifecycle import LifecycleWatcher
from desktop.lifecycle.clock import ManualClock
from desktop.lifecycle.sources import windows
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


def test_windows_source_reports_one_suspend_and_one_resume_per_wake(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Installed for real on this (non-Windows) app: it sees only foreign native events, which it ignores;
    # the Windows messages are then fed to the filter it installed.
    monkeypatch.setattr(windows, "IS_WINDOWS", True)
    clock = ManualClock("windows")
    watcher = LifecycleWatcher(clock=clock)
    source = WindowsPowerSource()
    assert watcher.add_source(source)
    assert source.native_filter is not None
    rec = Recorder(watcher)

    def broadcast(code: int) -> None:
        msg, address = native_message(WM_POWERBROADCAST, code)
        assert source.native_filter.nativeEventFilter(b"windows_generic_MSG", address) == (False, 0)
        del msg

    broadcast(PBT_APMSUSPEND)
    clock.suspend(50)
    broadcast(PBT_APMRESUMEAUTOMATIC)
    broadcast(PBT_APMRESUMESUSPEND)  # the same wake, with a user present
    assert rec.events == ["suspending", "resumed 50"]
    clock.advance(60)
    broadcast(PBT_APMSUSPEND)
    clock.suspend(5)
    broadcast(PBT_APMRESUMESUSPEND)  # only this one came: still a wake
    assert rec.events == ["suspending", "resumed 50", "suspending", "resumed 5"]
    watcher.stop()
    assert source.native_filter is None


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
