"""RunnerHandle: one runner as the desktop holds it, created and disposed as a unit.

It owns the runner's view core, its connection, its Qt bridge (the transcript models) and, for the embedded
runner, the runner itself. The app keeps one per runner it is connected to (a `RunnerSet`); the window lists
every runner's sessions.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer

from desktop.connection import RunnerConnection
from desktop.core.backoff import Backoff
from desktop.core.outbox import Outbox
from desktop.core.ssh_tunnel import SshTunnel
from desktop.core.view import RELEASE_AFTER_S, ViewCore
from desktop.qt.bridge import ViewBridge
from runner.vocabulary import LIVE_STATUSES

log = logging.getLogger(__name__)


class RunnerHandle:
    def __init__(self, key: str, label: str, url: str, token: str | None, *, outbox: Outbox,
                 parent: QObject | None = None, embedded: Any = None, rendering: bool = True,
                 backoff: Backoff | None = None, connection_options: dict[str, Any] | None = None,
                 release_after_s: float = RELEASE_AFTER_S, tunnel: SshTunnel | None = None) -> None:
        self.key = key
        """EMBEDDED or the runner's URL (settings.py)."""
        self.label = label
        self.embedded = embedded
        """The EmbeddedRunner this handle started and stops, or None for a remote runner."""
        self.tunnel = tunnel
        """The SSH tunnel of an ssh:// runner (its `connect` opens each connection), stopped with the handle."""
        self.bridge = ViewBridge(parent)
        self.core = ViewCore(self.bridge.listener, runner_label=label, outbox=outbox)
        self.core.rendering = rendering
        self.bridge.bind(self.core)
        options = dict(connection_options or {})
        if tunnel is not None:
            options["opener"] = tunnel.connect
        self.connection = RunnerConnection(url, token, self.core, backoff=backoff or Backoff(), **options)
        self.release_after_s = release_after_s
        # Sessions nobody has shown for a while are detached and their transcripts freed.
        self._release_timer = QTimer(self.bridge)
        self._release_timer.setInterval(max(50, int(release_after_s * 1000 / 4)))
        self._release_timer.timeout.connect(self._release_unshown)
        self.closed = False

    def start(self) -> None:
        self.connection.start()
        self._release_timer.start()

    def running_count(self) -> int:
        return sum(1 for s in self.core.sessions.values() if s.status in LIVE_STATUSES)

    def set_rendering(self, enabled: bool) -> None:
        self.bridge.set_rendering(enabled)
        self.connection.set_rendering(enabled)

    def _release_unshown(self) -> None:
        released = self.connection.release_unshown(self.release_after_s)
        if released:
            log.debug("%s: detached %d session(s) nobody showed", self.label, len(released))

    async def close(self) -> None:
        """Disconnect, keep the unsent messages on disk, free the models, and stop the embedded runner (its
        agents stop cleanly). Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._release_timer.stop()
        await self.connection.close()
        if self.tunnel is not None:
            await self.tunnel.close()  # the remote runner keeps running: its agents outlive this view
        self.core.outbox.flush()
        self.bridge.dispose()
        self.bridge.deleteLater()
        if self.embedded is not None:
            runner, self.embedded = self.embedded, None
            await asyncio.get_running_loop().run_in_executor(None, runner.stop)
