"""logind's PrepareForSleep over a private D-Bus bus, from a fake org.freedesktop.login1 process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from PySide6.QtCore import SLOT, QCoreApplication, QObject, Slot
from PySide6.QtDBus import QDBusConnection, QDBusMessage
from pytestqt.qtbot import QtBot

from desktop.lifecycle import LifecycleWatcher
from desktop.lifecycle.clock import ManualClock
from desktop.lifecycle.sources.clockgap import ClockGapSource
from desktop.lifecycle.sources.logind import SIGNAL, LogindSource
from tests.desktop.lifecycle.conftest import REPO_ROOT, FakeLogind
from tests.desktop.lifecycle.test_watcher import Recorder


def test_prepare_for_sleep_true_then_false_is_suspending_then_resumed(
    qtbot: QtBot, private_bus: str, fake_logind: FakeLogind
) -> None:
    clock = ManualClock("linux")
    watcher = LifecycleWatcher(clock=clock)
    assert watcher.add_source(LogindSource(private_bus)), watcher.failed_sources
    rec = Recorder(watcher)
    with qtbot.waitSignal(watcher.suspending, timeout=10_000):
        fake_logind.sleep()
    assert watcher.is_suspended
    clock.suspend(90)
    with qtbot.waitSignal(watcher.resumed, timeout=10_000) as blocker:
        fake_logind.wake()
    assert blocker.args == [90.0]  # measured by boottime from the announcement
    assert rec.events == ["suspending", "resumed 90"]
    watcher.stop()


def test_logind_and_clock_gap_seeing_one_wake_give_one_resumed(
    qtbot: QtBot, private_bus: str, fake_logind: FakeLogind
) -> None:
    clock = ManualClock("linux")
    watcher = LifecycleWatcher(clock=clock)
    assert watcher.add_source(LogindSource(private_bus))
    gap_source = ClockGapSource(clock, interval=0.02)
    assert watcher.add_source(gap_source)
    rec = Recorder(watcher)
    with qtbot.waitSignal(watcher.suspending, timeout=10_000):
        fake_logind.sleep()
    clock.suspend(60)
    qtbot.waitUntil(lambda: any(e.startswith("resumed") for e in rec.events), timeout=10_000)
    fake_logind.wake()  # arrives after the clock tick already noticed the gap
    qtbot.wait(300)
    assert rec.events == ["suspending", "resumed 60"]
    watcher.stop()


def test_the_fake_appearing_after_we_subscribed_still_reaches_us(qtbot: QtBot, private_bus: str) -> None:
    watcher = LifecycleWatcher(clock=ManualClock())
    assert watcher.add_source(LogindSource(private_bus))
    fake = FakeLogind(private_bus)  # logind restarted, or started after the app
    try:
        # Our connection learns the new owner of the name asynchronously: a signal sent before that is not ours
        # to hear, so say it again until it is heard.
        def heard() -> bool:
            if not watcher.is_suspended:
                fake.sleep()
            return watcher.is_suspended

        qtbot.waitUntil(heard, timeout=10_000)
    finally:
        fake.close()
        watcher.stop()


class _Barrier(QObject):
    """Counts the test's barrier signals that reach one bus connection."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    @Slot()
    def onBarrier(self) -> None:
        self.seen += 1


def test_signals_from_an_impostor_without_the_logind_name_are_ignored(
    qtbot: QtBot, private_bus: str, fake_logind: FakeLogind
) -> None:
    """An impostor: a second connection on the bus that owns no login1 name broadcasts PrepareForSleep, a signal
    the bus does route to anyone whose match rule does not name the sender. Then it broadcasts a barrier signal
    that our source's connection listens for from any sender: a connection receives one sender's messages in
    order, so once the barrier is in, the impostor's PrepareForSleep has reached us if it ever will."""
    source = LogindSource(private_bus)
    watcher = LifecycleWatcher(clock=ManualClock())
    assert watcher.add_source(source)
    rec = Recorder(watcher)
    ours = QDBusConnection(source._connection_name)
    barrier = _Barrier()
    assert ours.connect("", "/test", "test.Barrier", "Barrier", barrier, SLOT("onBarrier()"))
    impostor = QDBusConnection.connectToBus(private_bus, "impostor")
    try:
        assert impostor.isConnected()
        assert impostor.baseService() != ours.interface().serviceOwner("org.freedesktop.login1").value()
        # The barrier from the impostor itself first, until it arrives: our match rules are installed by then.
        impostor.send(QDBusMessage.createSignal("/test", "test.Barrier", "Barrier"))
        qtbot.waitUntil(lambda: barrier.seen == 1, timeout=10_000)
        signal = QDBusMessage.createSignal("/org/freedesktop/login1", "org.freedesktop.login1.Manager", SIGNAL)
        signal.setArguments([True])
        assert impostor.send(signal)
        impostor.send(QDBusMessage.createSignal("/test", "test.Barrier", "Barrier"))
        qtbot.waitUntil(lambda: barrier.seen == 2, timeout=10_000)
        QCoreApplication.processEvents()
        assert rec.events == []
        # The real logind is still heard on the same subscription.
        with qtbot.waitSignal(watcher.suspending, timeout=10_000):
            fake_logind.sleep()
        assert rec.events == ["suspending"]
    finally:
        QDBusConnection.disconnectFromBus("impostor")
        ours.disconnect("", "/test", "test.Barrier", "Barrier", barrier, SLOT("onBarrier()"))
        watcher.stop()


def test_no_bus_makes_the_source_unavailable_without_breaking_anything(qtbot: QtBot) -> None:
    watcher = LifecycleWatcher(clock=ManualClock())
    assert not watcher.add_source(LogindSource("unix:path=/nonexistent/nightshift-bus"))
    assert "logind" in watcher.failed_sources
    watcher.stop()


APP_SCRIPT = textwrap.dedent(
    """
    import sys
    from PySide6.QtWidgets import QApplication
    from desktop.lifecycle import create_watcher

    app = QApplication([])
    watcher = create_watcher(None)
    watcher.suspending.connect(lambda: print("suspending", flush=True))
    def resumed(seconds):
        print("resumed", flush=True)
        app.quit()
    watcher.resumed.connect(resumed)
    print("sources", ",".join(watcher.active_sources), flush=True)
    sys.exit(app.exec())
    """
)


def test_the_app_default_uses_the_system_bus_named_by_dbus_system_bus_address(
    private_bus: str, fake_logind: FakeLogind
) -> None:
    """The path the app takes (create_watcher with no bus address) in a fresh process, as Qt reads the
    variable only when the system bus is first used."""
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": private_bus, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [sys.executable, "-c", APP_SCRIPT], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[0] == "sources" and "logind" in first[1].split(","), first
        fake_logind.sleep()
        assert proc.stdout.readline().strip() == "suspending"
        fake_logind.wake()
        assert proc.stdout.readline().strip() == "resumed"
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]  (an unclosed pipe is a ResourceWarning: an error here)
