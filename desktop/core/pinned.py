"""The WebSocket client connection of trust on first use (desktop/core/trust.py), in a module of its own so that
websockets is imported only when a `wss://` runner is first connected to."""

from __future__ import annotations

from typing import Any

from websockets.asyncio.client import ClientConnection

from desktop.core.trust import CertificateChanged, CertificateError, FirstSight
from runner.tls import fingerprint, same_fingerprint


class PinnedConnection(ClientConnection):
    """Checks the peer certificate before the opening handshake's request (which carries the token) is written."""

    def __init__(self, *args: Any, runner: str, expected: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._runner = runner
        self._expected = expected

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        tls = self.transport.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True) if tls is not None else None
        if not der:
            raise CertificateError("the runner presented no TLS certificate; the token was not sent")
        got = fingerprint(der)
        if self._expected is None:
            raise FirstSight(got)
        if not same_fingerprint(got, self._expected):
            raise CertificateChanged(self._runner, self._expected, got)
        await super().handshake(*args, **kwargs)
