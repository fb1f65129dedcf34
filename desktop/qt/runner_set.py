"""RunnerSet: every runner the app is connected to, one `RunnerHandle` each, opened and closed as a unit.

`sync(keys)` makes the set match a list of runner keys (EMBEDDED or URLs): new ones are opened all at once (a
remote runner connects while the embedded one starts), removed ones are closed. A handle is opened once
however many ask for it at once (`ensure`). The lifecycle calls (`set_rendering`, `reconnect_now`, `probe`,
`retry_now`, `network_back`) apply to every runner, in parallel: one unreachable runner never delays the
others. The app wires each handle as `opened` announces it and unwires it on `closing`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from desktop.core.backoff import Backoff
from desktop.core.outbox import Outbox
from desktop.core.ssh_tunnel import SshTunnel
from desktop.core.status import ConnectionStatus, worst
from desktop.core.tasks import BackgroundTasks
from desktop.core.trust import TrustOnFirstUse
from desktop.core.view import RELEASE_AFTER_S
from desktop.outbox_store import FileOutboxStore
from desktop.qt.runner_handle import RunnerHandle
from desktop.settings import EMBEDDED

log = logging.getLogger(__name__)


class RunnerSet(QObject):
    opened = Signal(object)  # RunnerHandle: started, connecting
    closing = Signal(object)  # RunnerHandle: about to close (stop listening to its bridge)

    def __init__(self, *, label: Callable[[str], str], token_for: Callable[[str], str | None],
                 data_dir: str | None, outbox_dir: Path, trust: TrustOnFirstUse,
                 notice: Callable[[str, str], None], backoff: Backoff | None = None,
                 connection_options: dict[str, Any] | None = None, tunnel_options: dict[str, Any] | None = None,
                 release_after_s: float = RELEASE_AFTER_S, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.label = label
        self.token_for = token_for
        self.data_dir = data_dir
        self.outbox_dir = outbox_dir
        self.trust = trust
        self.notice = notice
        """Tells the user (level, message): a store that failed, a task that failed."""
        self.backoff = backoff
        self.connection_options = connection_options or {}
        self.tunnel_options = tunnel_options or {}
        """Extra SshTunnel arguments for ssh:// runners (a test's sshd: its ssh options, the runner command)."""
        self.release_after_s = release_after_s
        self.handles: dict[str, RunnerHandle] = {}
        """Every runner connected, by key (EMBEDDED or URL)."""
        self.keys: list[str] = []
        """The runners wanted, in sidebar order (the last `sync`)."""
        self.rendering = True
        self.closed = False
        self._opening: dict[str, asyncio.Future[RunnerHandle | None]] = {}
        self._tasks = BackgroundTasks("opening or closing a runner", lambda text: self.notice("error", text))

    def __iter__(self) -> Iterator[RunnerHandle]:
        return iter(list(self.handles.values()))

    def get(self, key: str | None) -> RunnerHandle | None:
        return self.handles.get(key) if key is not None else None

    def handle_for(self, session_id: str | None, current: str | None) -> RunnerHandle | None:
        """The runner an action about `session_id` goes to: `current` when it has the session (the same journal
        may sit behind two addresses), else the runner that has it, else `current`."""
        preferred = self.get(current)
        if session_id is None or (preferred is not None and session_id in preferred.core.sessions):
            return preferred
        return next((h for h in self.handles.values() if session_id in h.core.sessions), preferred)

    def tokens_changed(self) -> None:
        """A token was set or changed in the settings: each remote runner's connection uses its current one."""
        for key, handle in self.handles.items():
            token = self.token_for(key) if key != EMBEDDED else handle.connection.token
            if token != handle.connection.token:
                handle.connection.set_token(token)

    # ------------------------------------------------------------------ opening and closing

    def sync(self, keys: list[str]) -> None:
        """Connect every runner of `keys` not connected yet, all at once, and close those no longer listed."""
        self.keys = list(keys)
        for key in keys:
            if key not in self.handles and key not in self._opening:
                self._tasks.spawn(self.ensure(key))
        for key, handle in list(self.handles.items()):
            if key not in keys:
                self._tasks.spawn(self.close(handle))
        for key, handle in self.handles.items():
            handle.label = self.label(key)

    async def ensure(self, key: str) -> RunnerHandle | None:
        """The runner's handle, opened (and the embedded runner started) once, however many ask at once."""
        handle = self.handles.get(key)
        if handle is not None or self.closed:
            return handle
        opening = self._opening.get(key)
        if opening is None:
            opening = self._opening[key] = asyncio.ensure_future(self._open(key))
            opening.add_done_callback(lambda _f: self._opening.pop(key, None))
        handle = await asyncio.shield(opening)
        if handle is not None and key not in self.keys and not handle.closed:
            await self.close(handle)  # removed while it was opening
            return None
        return handle

    async def _open(self, key: str) -> RunnerHandle | None:
        if key != EMBEDDED:
            return self._open_handle(key, key, self.token_for(key), None)
        from runner.embedded import EmbeddedRunner

        embedded = EmbeddedRunner(data_dir=self.data_dir)
        try:
            # start() blocks until the runner listens; keep the GUI painting meanwhile.
            await asyncio.get_running_loop().run_in_executor(None, embedded.start)
        except Exception as exc:  # its data folder taken by another runner, unwritable, a port refused...
            log.error("the embedded runner could not start: %s", exc)
            self.notice("error", f"The embedded runner could not start: {exc}")
            return None
        if self.closed:
            await asyncio.get_running_loop().run_in_executor(None, embedded.stop)
            return None
        return self._open_handle(key, embedded.url, embedded.token, embedded)

    def outbox_key(self, key: str) -> str:
        """Which runner an outbox file belongs to: a remote runner's URL, or the embedded runner's folder."""
        if key != EMBEDDED:
            return key
        from runner.environment import default_data_dir

        return "embedded:" + os.path.realpath(self.data_dir or default_data_dir())

    def _open_handle(self, key: str, url: str, token: str | None, embedded: Any) -> RunnerHandle:
        outbox = Outbox(FileOutboxStore(self.outbox_dir, self.outbox_key(key)),
                        on_store_error=lambda problem: self.notice("warning", problem.capitalize()))
        options = dict(self.connection_options)
        tunnel = None
        if url.startswith("ssh://"):
            # The system ssh carries it (the user's keys and ~/.ssh/config); a certificate behind it is pinned too.
            tunnel = SshTunnel(url, trust=self.trust, on_dead=lambda why: log.warning("ssh to %s: %s", url, why),
                               **self.tunnel_options)
        elif url.startswith("wss://"):
            options.setdefault("opener", self.trust.connect)  # trust on first use for a self-signed runner
        handle = RunnerHandle(key, self.label(key), url, token, outbox=outbox, parent=self, embedded=embedded,
                              rendering=self.rendering, backoff=self.backoff or Backoff(),
                              connection_options=options, release_after_s=self.release_after_s, tunnel=tunnel)
        self.handles[key] = handle
        self.opened.emit(handle)
        handle.start()
        return handle

    async def close(self, handle: RunnerHandle) -> None:
        if not handle.closed:
            self.closing.emit(handle)
        await handle.close()
        # Listed until closed: the embedded runner stays reachable until it has stopped.
        if self.handles.get(handle.key) is handle:
            del self.handles[handle.key]

    async def close_all(self) -> None:
        """Close every runner (the embedded one stops its agents cleanly); one still opening closes as soon as
        it has opened. Idempotent."""
        self.closed = True
        await asyncio.gather(*(asyncio.shield(f) for f in list(self._opening.values())), return_exceptions=True)
        await asyncio.gather(*(self.close(h) for h in list(self.handles.values())))

    @property
    def busy(self) -> bool:
        """Some runner is still being opened or closed."""
        return bool(self._tasks or self._opening)

    # ------------------------------------------------------------------ all at once

    @property
    def connected(self) -> bool:
        return any(h.connection.connected for h in self.handles.values())

    def overall_status(self) -> ConnectionStatus:
        return worst([h.core.status for h in self.handles.values() if not h.closed])

    def running_count(self) -> int:
        """Agents running on every runner."""
        return sum(h.running_count() for h in self.handles.values())

    def set_rendering(self, enabled: bool) -> None:
        self.rendering = enabled
        for handle in self.handles.values():
            handle.set_rendering(enabled)

    def reconnect_now(self, reason: str) -> None:
        for handle in self.handles.values():
            handle.connection.reconnect_now(reason)

    async def probe(self, timeout: float) -> bool:
        """Probe every connection in parallel; True if all answered."""
        handles = list(self.handles.values())
        if not handles:
            return False
        return all(await asyncio.gather(*(h.connection.probe(timeout) for h in handles)))

    def retry_now(self) -> None:
        for handle in self.handles.values():
            handle.connection.retry_now()

    def network_back(self) -> None:
        for handle in self.handles.values():
            handle.connection.network_back()
