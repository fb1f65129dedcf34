"""LifecycleController: what the desktop app does when the watcher reports something.

- hidden: stop rendering live events (the connection detaches the transcripts; statuses and heads keep
  flowing for the tray and notifications);
- shown: render again; the view re-attaches after the last seq it rendered and gets what it missed in one
  batch (yellow while catching up, then green); the connection is probed as well, since a long absence may
  have left a dead socket behind;
- suspending: nothing is stopped or interrupted;
- resumed: open a new connection at once and drop the old socket. A sleep often leaves a half-open socket
  behind, and a probe would take its whole timeout to find out; a new connection costs milliseconds and
  catch-up from the cursors makes it exact, so nothing is gained by waiting to see if the old one answers;
- network_online: reset the backoff and connect at once when not connected, else probe (the route changed).

Triggers that arrive while a probe is running join it, so a burst of them (logind, clock gap, network and
window all firing after one wake) costs one ping and at most one reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QWindow
from PySide6.QtWidgets import QWidget

from desktop.lifecycle.clock import Clock
from desktop.lifecycle.watcher import LifecycleWatcher, create_watcher

log = logging.getLogger(__name__)

DEFAULT_PROBE_TIMEOUT = 1.0
"""Seconds a pong may take after a wake. Loopback and LAN answer in milliseconds; with the reconnect that
follows a failed probe, a dead socket is replaced well within two seconds of the wake."""


class Reconnectable(Protocol):
    """What the controller needs: desktop.connection.RunnerConnection or the NightshiftApp wrapping it.

    An optional `connected` attribute lets the controller retry at once instead of probing when it already
    knows there is no connection (probe() itself does that too).
    """

    def set_rendering(self, enabled: bool) -> None: ...

    def retry_now(self) -> None: ...

    def reconnect_now(self, reason: str) -> None: ...

    def network_back(self) -> None: ...

    def probe(self, timeout: float = ...) -> Coroutine[Any, Any, bool]: ...


class LifecycleController(QObject):
    acted = Signal(str)
    """What it did: "probe" (a probe started), "probe failed" (no answer: the socket was replaced) or
    "wake reconnect" (the connection replaced at once after a wake). For logs, diagnostics and tests."""

    def __init__(
        self,
        watcher: LifecycleWatcher,
        connection: Reconnectable,
        *,
        probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
        loop: asyncio.AbstractEventLoop | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.watcher = watcher
        self.connection = connection
        self.probe_timeout = probe_timeout
        self._loop = loop
        self._probe: asyncio.Task[bool] | None = None
        self.last_trigger: tuple[str, float] | None = None
        """The latest reason to check the connection, with its time.monotonic()."""
        watcher.hidden.connect(self._on_hidden)
        watcher.shown.connect(self._on_shown)
        watcher.suspending.connect(self._on_suspending)
        watcher.resumed.connect(self._on_resumed)
        watcher.network_online.connect(self._on_network_online)
        watcher.network_offline.connect(self._on_network_offline)

    # -- reactions --

    def _on_hidden(self) -> None:
        self.connection.set_rendering(False)

    def _on_shown(self) -> None:
        self.connection.set_rendering(True)
        self.check_connection("window shown")

    def _on_suspending(self) -> None:
        # Deliberately nothing: agents and the connection go on until the machine stops; the wake decides.
        log.info("the machine is going to sleep")

    def _on_resumed(self, seconds_asleep: float) -> None:
        slept = f"{seconds_asleep:.0f} s" if seconds_asleep >= 0 else "an unknown time"
        reason = f"woke up after {slept}"
        self.last_trigger = (reason, time.monotonic())
        if self._connected() is False:
            log.info("%s: not connected, retrying at once", reason)
            self.connection.retry_now()
            return
        log.info("%s: replacing the connection at once", reason)
        self.acted.emit("wake reconnect")
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()  # it would only report on the socket being dropped now
        self.connection.reconnect_now(reason)

    def _on_network_online(self) -> None:
        if self._connected() is False:
            self.last_trigger = ("network back", time.monotonic())
            self.connection.network_back()
        else:
            self.check_connection("network back")

    def _on_network_offline(self) -> None:
        log.info("the network is gone; the connection keeps retrying with backoff")

    # -- the one check --

    @property
    def probing(self) -> bool:
        return self._probe is not None and not self._probe.done()

    def check_connection(self, reason: str) -> None:
        """Make sure the connection is alive now: retry at once if down, else probe (unless a probe runs)."""
        self.last_trigger = (reason, time.monotonic())
        if self._connected() is False:
            log.info("%s: not connected, retrying at once", reason)
            self.connection.retry_now()
            return
        if self.probing:
            return
        log.info("%s: probing the connection", reason)
        self.acted.emit("probe")
        self._probe = self._spawn(self._run_probe(reason))

    def _connected(self) -> bool | None:
        """Whether the target says it is connected; None when it does not say."""
        connected = getattr(self.connection, "connected", None)
        return connected if isinstance(connected, bool) else None

    async def _run_probe(self, reason: str) -> bool:
        # RunnerConnection.probe replaces the socket itself when no pong arrives in time.
        alive = await self.connection.probe(self.probe_timeout)
        if not alive:
            self.acted.emit("probe failed")
            log.info("%s: the connection did not answer; it was replaced", reason)
        return alive

    def _spawn(self, coro: Coroutine[Any, Any, bool]) -> asyncio.Task[bool]:
        loop = self._loop
        if loop is None:
            try:
                loop = asyncio.get_running_loop()  # qasync: Qt slots run inside the running loop
            except RuntimeError:
                loop = asyncio.get_event_loop_policy().get_event_loop()
        task = loop.create_task(coro, name="lifecycle-probe")
        task.add_done_callback(_log_failure)
        return task

    def close(self) -> None:
        for signal, slot in (
            (self.watcher.hidden, self._on_hidden),
            (self.watcher.shown, self._on_shown),
            (self.watcher.suspending, self._on_suspending),
            (self.watcher.resumed, self._on_resumed),
            (self.watcher.network_online, self._on_network_online),
            (self.watcher.network_offline, self._on_network_offline),
        ):
            signal.disconnect(slot)
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()


def _log_failure(task: asyncio.Task[bool]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("connection probe failed", exc_info=task.exception())


def install_lifecycle(
    window: QWidget | QWindow | None,
    connection: Reconnectable,
    *,
    clock: Clock | None = None,
    system_bus_address: str | None = None,
    clock_interval: float | None = None,
    network: bool = True,
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
    parent: QObject | None = None,
) -> LifecycleController:
    """Build the watcher with every source this platform has and connect it to the connection.

    The app calls this once, after its main window and connection exist. The watcher lives as long as the
    controller (`controller.watcher`); `shutdown_lifecycle()` stops both.
    """
    watcher = create_watcher(
        window,
        clock=clock,
        system_bus_address=system_bus_address,
        clock_interval=clock_interval,
        network=network,
    )
    controller = LifecycleController(watcher, connection, probe_timeout=probe_timeout, parent=parent)
    watcher.setParent(controller)
    return controller


def shutdown_lifecycle(controller: LifecycleController) -> None:
    controller.close()
    controller.watcher.stop()
