"""The watcher with real sources: window events, application state, clock gap, network, failing sources."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtNetwork import QNetworkInformation
from PySide6.QtWidgets import QMainWindow
from pytestqt.qtbot import QtBot

from desktop.lifecycle import LifecycleWatcher, create_watcher
from desktop.lifecycle.clock import ManualClock
from desktop.lifecycle.sources.base import LifecycleSink, LifecycleSource, SourceUnavailable
from desktop.lifecycle.sources.clockgap import ClockGapSource
from desktop.lifecycle.sources.network import NetworkSource
from desktop.lifecycle.sources.window import AppStateSource, WindowSource

Reachability = QNetworkInformation.Reachability


class Recorder:
    """Every signal of a watcher, in order."""

    def __init__(self, watcher: LifecycleWatcher) -> None:
        self.events: list[str] = []
        watcher.hidden.connect(lambda: self.events.append("hidden"))
        watcher.shown.connect(lambda: self.events.append("shown"))
        watcher.suspending.connect(lambda: self.events.append("suspending"))
        watcher.resumed.connect(lambda seconds: self.events.append(f"resumed {seconds:.0f}"))
        watcher.network_online.connect(lambda: self.events.append("online"))
        watcher.network_offline.connect(lambda: self.events.append("offline"))


@pytest.fixture
def window(qtbot: QtBot) -> QMainWindow:
    w = QMainWindow()
    w.resize(400, 300)
    qtbot.addWidget(w)
    return w


@pytest.fixture
def watcher() -> LifecycleWatcher:
    w = LifecycleWatcher(clock=ManualClock())
    yield w
    w.stop()


def test_minimize_and_restore_emit_hidden_then_shown_once(
    qtbot: QtBot, window: QMainWindow, watcher: LifecycleWatcher
) -> None:
    window.show()
    qtbot.waitExposed(window)
    assert watcher.add_source(WindowSource(window))
    rec = Recorder(watcher)
    window.showMinimized()
    qtbot.waitUntil(lambda: rec.events == ["hidden"])
    # The platform echoes each state change back asynchronously; a user never restores within a millisecond.
    qtbot.wait(50)
    assert rec.events == ["hidden"]
    assert watcher.is_hidden
    window.showNormal()
    qtbot.waitUntil(lambda: rec.events == ["hidden", "shown"])
    qtbot.wait(50)
    assert rec.events == ["hidden", "shown"]
    assert not watcher.is_hidden


def test_hide_to_tray_and_show_emit_hidden_then_shown(
    qtbot: QtBot, window: QMainWindow, watcher: LifecycleWatcher
) -> None:
    window.show()
    qtbot.waitExposed(window)
    watcher.add_source(WindowSource(window))
    rec = Recorder(watcher)
    window.hide()
    assert rec.events == ["hidden"]
    window.show()
    assert rec.events == ["hidden", "shown"]


def test_a_window_not_shown_yet_counts_as_hidden_and_its_first_show_is_shown(
    qtbot: QtBot, window: QMainWindow, watcher: LifecycleWatcher
) -> None:
    watcher.add_source(WindowSource(window))
    rec = Recorder(watcher)
    assert watcher.is_hidden
    window.show()
    assert rec.events == ["shown"]


def test_focus_changes_do_nothing_only_background_and_return_count(qtbot: QtBot, watcher: LifecycleWatcher) -> None:
    assert watcher.add_source(AppStateSource())
    rec = Recorder(watcher)
    app = QGuiApplication.instance()
    assert app is not None
    for state in (Qt.ApplicationState.ApplicationInactive, Qt.ApplicationState.ApplicationActive) * 3:
        app.applicationStateChanged.emit(state)
    assert rec.events == []
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationHidden)
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationSuspended)
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationInactive)
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationActive)
    assert rec.events == ["hidden", "shown"]


def test_window_and_app_state_together_need_both_back_before_shown(
    qtbot: QtBot, window: QMainWindow, watcher: LifecycleWatcher
) -> None:
    window.show()
    qtbot.waitExposed(window)
    watcher.add_source(WindowSource(window))
    watcher.add_source(AppStateSource())
    rec = Recorder(watcher)
    app = QGuiApplication.instance()
    window.showMinimized()
    qtbot.wait(50)
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationHidden)
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationActive)
    assert rec.events == ["hidden"]
    window.showNormal()
    qtbot.waitUntil(lambda: rec.events == ["hidden", "shown"])


def test_clock_gap_source_reports_an_injected_sleep_with_its_length(qtbot: QtBot) -> None:
    clock = ManualClock("linux")
    watcher = LifecycleWatcher(clock=clock)
    source = ClockGapSource(clock, interval=0.02)
    assert watcher.add_source(source)
    rec = Recorder(watcher)
    qtbot.wait(100)
    assert rec.events == []
    clock.suspend(42)
    with qtbot.waitSignal(watcher.resumed, timeout=10_000) as blocker:
        pass
    assert blocker.args == [pytest.approx(42.0)]
    qtbot.wait(100)
    assert rec.events == ["resumed 42"]  # the gap is reported once, not on every later tick
    watcher.stop()


class FakeReachability(QObject):
    """Stands in for Qt's QNetworkInformation (not our code), whose backends a test cannot switch."""

    reachabilityChanged = Signal(QNetworkInformation.Reachability)

    def __init__(self, value: QNetworkInformation.Reachability) -> None:
        super().__init__()
        self.value = value

    def reachability(self) -> QNetworkInformation.Reachability:
        return self.value

    def set(self, value: QNetworkInformation.Reachability) -> None:
        self.value = value
        self.reachabilityChanged.emit(value)


def test_network_source_reports_changes_to_and_from_disconnected(watcher: LifecycleWatcher) -> None:
    info = FakeReachability(Reachability.Online)
    assert watcher.add_source(NetworkSource(info))
    rec = Recorder(watcher)
    info.set(Reachability.Online)
    assert rec.events == []
    info.set(Reachability.Disconnected)
    assert rec.events == ["offline"]
    assert not watcher.is_network_online
    info.set(Reachability.Unknown)  # unknown: treated as online, but not a reason to reconnect
    assert rec.events == ["offline"]
    assert watcher.is_network_online
    info.set(Reachability.Online)
    assert rec.events == ["offline", "online"]
    info.set(Reachability.Local)
    assert rec.events == ["offline", "online"]
    info.set(Reachability.Disconnected)
    info.set(Reachability.Site)  # some network again, not yet Online: no reconnect storm on the way up
    assert rec.events == ["offline", "online", "offline"]
    info.set(Reachability.Online)
    assert rec.events == ["offline", "online", "offline", "online"]


def test_the_real_network_information_either_works_or_is_skipped_quietly(qtbot: QtBot) -> None:
    watcher = LifecycleWatcher()
    ok = watcher.add_source(NetworkSource())
    assert ok == ("network" in watcher.active_sources)
    assert ok != ("network" in watcher.failed_sources)
    watcher.stop()


class BrokenSource(LifecycleSource):
    name = "broken"

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.stopped = False

    def start(self, sink: LifecycleSink) -> None:
        raise self.error

    def stop(self) -> None:
        self.stopped = True


def test_a_failing_source_is_logged_once_and_the_others_work(
    qtbot: QtBot, window: QMainWindow, caplog: pytest.LogCaptureFixture
) -> None:
    watcher = LifecycleWatcher(clock=ManualClock())
    caplog.set_level(logging.INFO, logger="desktop.lifecycle")
    crashing = BrokenSource(RuntimeError("boom"))
    assert not watcher.add_source(crashing)
    assert not watcher.add_source(BrokenSource(SourceUnavailable("not here")))
    assert watcher.add_source(WindowSource(window))
    assert crashing.stopped  # cleaned up after the failed start
    assert watcher.failed_sources == {"broken": "not here"}
    assert sum("RuntimeError: boom" in r.getMessage() for r in caplog.records) == 1
    rec = Recorder(watcher)
    window.show()
    assert rec.events == ["shown"]
    watcher.stop()


def test_create_watcher_builds_the_platform_sources_and_survives_missing_ones(
    qtbot: QtBot, window: QMainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No system bus here unless a test provides one: logind must fail quietly, not break the app.
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/nightshift-test-bus")
    watcher = create_watcher(window, clock=ManualClock(), system_bus_address="unix:path=/nonexistent/bus")
    try:
        assert {"window", "app_state", "clock_gap"} <= set(watcher.active_sources)
        assert "logind" in watcher.failed_sources
        rec = Recorder(watcher)
        window.show()
        assert rec.events == ["shown"]
    finally:
        watcher.stop()
