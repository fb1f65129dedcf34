"""Runner: a SessionManager served over WebSocket. Headless (runner/__main__.py) and embedded (runner/embedded.py)
runners are both this class on an asyncio loop."""

from __future__ import annotations

import os
import secrets
from typing import Any

import platformdirs

from runner.server import RunnerServer
from runner.sessions import SessionManager

TOKEN_BYTES = 32


def default_data_dir() -> str:
    """NIGHTSHIFT_DATA_DIR, else the platform's user data folder."""
    return os.environ.get("NIGHTSHIFT_DATA_DIR") or platformdirs.user_data_dir("nightshift", appauthor=False)


def load_or_create_token(path: str) -> str:
    """Read the token in `path`, or generate one and store it readable by the owner only."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    # O_EXCL|0600 from the start: the token is never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
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

    async def shutdown(self) -> None:
        """Stop accepting views, stop every agent cleanly, commit the journal."""
        await self.server.close()
        await self.manager.shutdown()
