"""Linux sleep/wake from systemd-logind's PrepareForSleep(bool) signal on the system D-Bus."""

from __future__ import annotations

import itertools

from PySide6.QtCore import SLOT, QObject, Slot
from PySide6.QtDBus import QDBusConnection

from desktop.lifecycle.sources.base import LifecycleSink, LifecycleSource, SourceUnavailable

SERVICE = "org.freedesktop.login1"
PATH = "/org/freedesktop/login1"
INTERFACE = "org.freedesktop.login1.Manager"
SIGNAL = "PrepareForSleep"

_private_names = itertools.count(1)


class _SleepReceiver(QObject):
    """QtDBus delivers signals to a slot of a QObject by signature; a plain Python callable is refused."""

    def __init__(self, sink: LifecycleSink, source_name: str) -> None:
        super().__init__()
        self._sink = sink
        self._source_name = source_name

    @Slot(bool)
    def onPrepareForSleep(self, going_to_sleep: bool) -> None:
        if going_to_sleep:
            self._sink.report_suspending(self._source_name)
        else:
            self._sink.report_resumed(self._source_name)


class LogindSource(LifecycleSource):
    """`bus_address` None means the system bus (honouring DBUS_SYSTEM_BUS_ADDRESS); tests pass their own."""

    name = "logind"

    def __init__(self, bus_address: str | None = None) -> None:
        self._bus_address = bus_address
        self._connection_name: str | None = None
        self._bus: QDBusConnection | None = None
        self._receiver: _SleepReceiver | None = None

    def start(self, sink: LifecycleSink) -> None:
        if self._bus_address is None:
            bus = QDBusConnection.systemBus()
        else:
            self._connection_name = f"nightshift-lifecycle-{next(_private_names)}"
            bus = QDBusConnection.connectToBus(self._bus_address, self._connection_name)
        if not bus.isConnected():
            raise SourceUnavailable(f"no system D-Bus: {bus.lastError().message() or 'not connected'}")
        receiver = _SleepReceiver(sink, self.name)
        if not bus.connect(SERVICE, PATH, INTERFACE, SIGNAL, receiver, SLOT("onPrepareForSleep(bool)")):
            raise SourceUnavailable(f"cannot subscribe to {SIGNAL}: {bus.lastError().message()}")
        # Both must stay referenced: QtDBus holds neither the receiver nor (for us) the connection object.
        self._bus = bus
        self._receiver = receiver

    def stop(self) -> None:
        if self._bus is not None and self._receiver is not None:
            slot = SLOT("onPrepareForSleep(bool)")
            self._bus.disconnect(SERVICE, PATH, INTERFACE, SIGNAL, self._receiver, slot)
        self._bus = None
        self._receiver = None
        if self._connection_name is not None:
            QDBusConnection.disconnectFromBus(self._connection_name)
            self._connection_name = None
