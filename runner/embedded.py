"""EmbeddedRunner: the runner on its own asyncio loop in a background thread, for the desktop app.

The app talks to it over loopback WebSocket exactly like to a remote runner, so there is one connection path.
"""

from __future__ import annotations

import asyncio
import secrets
import threading

from runner.environment import default_data_dir
from runner.logredact import redact_in_logs
from runner.runner import Runner, log_loop_exception


class EmbeddedRunner:
    def __init__(
        self, data_dir: str | None = None, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None
    ) -> None:
        self.data_dir = data_dir or default_data_dir()
        self.host = host
        self.port = port
        # A fresh token per app run: only this process knows it, nothing is written to disk.
        self.token = token or secrets.token_urlsafe(32)
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: Runner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self.unsaved = 0
        """Events the journal could not save before the runner stopped (a full or read-only disk)."""

    def start(self, timeout: float = 30.0) -> None:
        """Start the thread and return once the runner listens (raises what prevented it)."""
        self._thread = threading.Thread(target=self._main, name="nightshift-runner", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("embedded runner did not start in time")
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(log_loop_exception)
        redact_in_logs(self.token)
        self._stop = asyncio.Event()
        try:
            self._runner = await Runner.start(self.data_dir, self.token, self.host, self.port)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self.url = self._runner.url
        self.port = self._runner.server.port
        self._ready.set()
        await self._stop.wait()
        self.unsaved = await self._runner.shutdown()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop agents cleanly, flush the journal, and join the thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("embedded runner did not stop in time")
        self._thread = None
