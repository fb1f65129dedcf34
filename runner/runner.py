"""Runner: a SessionManager served over WebSocket. Headless (runner/__main__.py) and embedded (runner/embedded.py)
runners are both this class on an asyncio loop."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from typing import Any

from runner.atomic_file import write_atomically
from runner.server import RunnerServer
from runner.sessions import SessionManager

TOKEN_BYTES = 32

log = logging.getLogger("runner")


def log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The runner's loop exception handler: every exception nobody retrieved (a task that died) is logged as an
    error with its traceback, never lost."""
    exc = context.get("exception")
    task = context.get("task") or context.get("future")
    where = f" in {task.get_name()}" if isinstance(task, asyncio.Task) else ""
    log.error("unhandled error%s: %s", where, context.get("message", ""), exc_info=exc)


class TokenFileError(Exception):
    """The token file cannot be used; the message says why and what to do."""


def load_or_create_token(path: str) -> str:
    """Read the token in `path`, or generate one and store it readable by the owner only.

    Like ssh with a private key, a token file others can read is refused. A new file is written atomically (a
    temporary file renamed over it), so a full disk never leaves an empty token file behind; an empty one left by
    an older version is replaced."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        pass
    else:
        with os.fdopen(fd, encoding="utf-8") as f:
            mode = os.fstat(f.fileno()).st_mode
            if os.name == "posix" and mode & 0o077:
                raise TokenFileError(
                    f"token file {path} is readable by other users (mode {mode & 0o777:o}); "
                    f"run: chmod 600 {path}"
                )
            token = f.read().strip()
        if token:
            return token
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    write_atomically(path, (token + "\n").encode())  # 0600 from the start: never readable by others
    return token


class Runner:
    def __init__(self, manager: SessionManager, server: RunnerServer) -> None:
        self.manager = manager
        self.server = server

    @classmethod
    async def start(cls, data_dir: str, token: str, host: str = "127.0.0.1", port: int = 0,
                    **server_options: Any) -> Runner:
        """Open the journal and serve it; `server_options` go to RunnerServer (origins, TLS, keepalive)."""
        manager = await SessionManager.open(data_dir)
        server = RunnerServer(manager, token, host, port, **server_options)
        try:
            await server.start()
        except BaseException:
            await manager.shutdown()
            raise
        return cls(manager, server)

    @property
    def url(self) -> str:
        return self.server.url

    async def shutdown(self) -> int:
        """Stop accepting views, stop every agent cleanly, commit the journal. Returns the number of events that
        could not be saved (0 unless the disk failed and did not recover in time)."""
        await self.server.close()
        return await self.manager.shutdown()
