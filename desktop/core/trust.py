"""Trust on first use for `wss://` runners with certificates no authority vouches for (self-signed), as SSH does.

The first connection to a runner shows the user its certificate's SHA-256 fingerprint (`nightshift-runner` prints
the same at start and with `--fingerprint`); once confirmed, it is pinned for that runner and any other certificate
is refused. The check runs on the TLS connection itself, after the TLS handshake and before the WebSocket opening
request is written, so a runner whose certificate does not match never receives a byte of the token (which travels
in that request). No Qt here: asking the user is a callable the UI provides.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.atomic_file import write_atomically

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

AskTrust = Callable[[str, str], "bool | Awaitable[bool]"]
"""(runner, fingerprint) -> whether the user trusts that certificate for that runner."""

PINS_FILE = "trusted-certificates.json"


class CertificateError(ConnectionError):
    """The runner's certificate is not trusted; nothing was sent to it. The message says why, for the status."""


class CertificateChanged(CertificateError):
    def __init__(self, runner: str, expected: str, got: str) -> None:
        super().__init__(
            f"certificate changed: expected {expected} got {got}. The token was not sent. If the runner's "
            f"certificate was replaced on purpose, forget the old one for {runner} and connect again."
        )
        self.expected = expected
        self.got = got


class CertificateRejected(CertificateError):
    """The user did not trust a certificate seen for the first time."""


class FirstSight(Exception):
    """No pin yet: the connection is dropped before the request, the user is asked, then it is made again."""

    def __init__(self, fingerprint: str) -> None:
        super().__init__(fingerprint)
        self.fingerprint = fingerprint


class PinStore:
    """Pinned fingerprints per runner (its URL as the user gave it), a JSON file readable by the owner only."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from runner.environment import default_data_dir

            path = Path(default_data_dir()) / PINS_FILE
        self.path = path
        self._pins: dict[str, str] = {}
        self.load()

    def load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            # Unreadable pins must not turn into "no pins" silently: every runner would then be asked about again.
            raise OSError(f"cannot read the trusted certificates in {self.path}: {exc}") from exc
        pins = data.get("pins") if isinstance(data, dict) else None
        self._pins = {k: v for k, v in (pins or {}).items() if isinstance(k, str) and isinstance(v, str)}

    def get(self, runner: str) -> str | None:
        return self._pins.get(runner)

    def pin(self, runner: str, fingerprint: str) -> None:
        self._pins[runner] = fingerprint
        self._save()

    def forget(self, runner: str) -> None:
        if self._pins.pop(runner, None) is not None:
            self._save()

    def _save(self) -> None:
        """Atomically, created 0600: a crash never loses the pins."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(self.path, json.dumps({"pins": self._pins}, indent=1, sort_keys=True).encode())


def _any_certificate_context() -> ssl.SSLContext:
    """TLS that accepts any certificate: the pin, checked right after the TLS handshake, is what trusts it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class TrustOnFirstUse:
    """Opens `wss://` connections whose certificate matches the runner's pin, asking `ask` when there is none."""

    def __init__(self, store: PinStore, ask: AskTrust) -> None:
        self.store = store
        self.ask = ask

    async def connect(self, url: str, runner: str | None = None, **kwargs: Any) -> ClientConnection:
        """`websockets.connect(url, **kwargs)` with the certificate checked against the pin of `runner` (default:
        `url`; an SSH runner's pin is kept under its ssh:// URL, not the tunnel's local one). Raises
        CertificateError (CertificateChanged, CertificateRejected) without having sent anything."""
        runner = runner or url
        try:
            return await self._connect(url, runner, self.store.get(runner), kwargs)
        except FirstSight as seen:
            got = seen.fingerprint
        # Asked outside the connection's open timeout: the user may take a while to compare fingerprints.
        answer = self.ask(runner, got)
        if inspect.isawaitable(answer):
            answer = await answer
        if not answer:
            raise CertificateRejected(
                f"the certificate {got} was not trusted; the token was not sent"
            ) from None
        self.store.pin(runner, got)
        log.info("pinned the certificate of %s: %s", runner, got)
        try:
            return await self._connect(url, runner, got, kwargs)
        except FirstSight as never:  # pragma: no cover - a pin was just given
            raise AssertionError("pinned connection found no pin") from never

    @staticmethod
    async def _connect(url: str, runner: str, expected: str | None, kwargs: dict[str, Any]) -> ClientConnection:
        # websockets loads on the first connection, not at start-up (it is a tenth of the app's start).
        from websockets.asyncio.client import connect

        from desktop.core.pinned import PinnedConnection

        return await connect(
            url,
            ssl=_any_certificate_context(),
            create_connection=functools.partial(  # type: ignore[arg-type]  # a factory, as websockets calls it
                PinnedConnection, runner=runner, expected=expected
            ),
            **kwargs,
        )
