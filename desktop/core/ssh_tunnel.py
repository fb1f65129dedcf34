"""`ssh://[user@]host[:port]` runners: the system `ssh` carries the connection; no SSH code of our own.

Each connection attempt (`SshTunnel.connect`, a `RunnerConnection` opener) makes a fresh tunnel, because a tunnel that
lived through a sleep or a network change is usually dead without knowing it yet:

1. `ssh HOST RUNNER --ssh-bootstrap` finds the runner serving the remote user's data folder, or starts one there
   detached (it outlives the SSH session), and prints its port and token as one JSON line. The token travels on the
   SSH channel, never on any command line, local or remote.
2. `ssh -N -L 127.0.0.1:LOCAL:127.0.0.1:REMOTE HOST` forwards a local port to the runner's loopback port. The
   WebSocket is opened only once ssh says its listener is up (its `-v` line), so nothing else listening on that port
   could receive the token.

The user's keys, agent and ~/.ssh/config apply. BatchMode: ssh never prompts (no terminal to prompt on); a host it
does not know yet, or a key that needs a passphrase without an agent, fails with ssh's own words. A forwarding ssh
that exits (the network dropped, ServerAlive gave up, the host rebooted) is reported with its stderr through
`on_dead`; the next connection attempt makes a new tunnel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from desktop.core.trust import TrustOnFirstUse
from runner.endpoint import BOOTSTRAP_MARK

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

SSH_OPTIONS = (
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=15",
    "-o", "ServerAliveInterval=15",
    "-o", "ServerAliveCountMax=3",
)
DEFAULT_RUNNER_COMMAND = (
    """sh -c 'PATH="$PATH:$HOME/.local/bin"; exec nightshift-runner "$@"' nightshift-runner"""
)
"""nightshift-runner on the host. A non-interactive SSH session's PATH often lacks ~/.local/bin (where pipx puts it),
so it is added; `sh -c '...'` reads the same in every login shell (bash, zsh, fish, tcsh)."""
_LISTENING = re.compile(r"Local forwarding listening on \S+ port (\d+)\.")
PORT_ATTEMPTS = 3
REFUSED_RETRY_S = 2.0


class SshError(ConnectionError):
    """The tunnel could not be made or died; the message has ssh's (or the remote runner's) own words."""


@dataclass(frozen=True)
class SshTarget:
    host: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, url: str) -> SshTarget:
        """`ssh://[user@]host[:port]` (an IPv6 host in brackets). Raises ValueError with the reason."""
        parts = urlsplit(url)
        if parts.scheme != "ssh":
            raise ValueError(f"not an ssh:// URL: {url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"an ssh:// runner URL names a host only: {url!r}")
        if parts.password is not None:
            raise ValueError("put no password in the URL: ssh uses your keys and agent")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port in {url!r}: {exc}") from None
        host = parts.hostname
        if not host:
            raise ValueError(f"no host in {url!r}")
        # Anything ssh could take for an option must not reach its command line as a destination.
        if host.startswith("-") or (parts.username or "").startswith("-"):
            raise ValueError(f"bad host or user in {url!r}")
        return cls(host=host, user=unquote(parts.username) if parts.username else None, port=port)

    def destination(self) -> list[str]:
        """ssh arguments naming the host: `-p PORT` if given, then `[user@]host`."""
        port = ["-p", str(self.port)] if self.port else []
        return [*port, f"{self.user}@{self.host}" if self.user else self.host]


@dataclass(frozen=True)
class Endpoint:
    """Where the runner answers on this machine while the tunnel is up."""

    url: str
    token: str | None
    tls_fingerprint: str | None
    started: bool
    """The bootstrap started the runner (none was running)."""


def _free_local_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SshTunnel:
    def __init__(
        self,
        url: str,
        *,
        runner_command: str = DEFAULT_RUNNER_COMMAND,
        ssh: str = "ssh",
        ssh_options: Sequence[str] = (),
        trust: TrustOnFirstUse | None = None,
        on_dead: Callable[[str], None] | None = None,
        # Told when the forwarding ssh exits by itself, with its words: for the log and the status line. The
        # RunnerConnection notices the dropped socket by itself and reconnects (through a new tunnel).
        timeout: float = 60.0,
    ) -> None:
        self.url = url
        self.target = SshTarget.parse(url)
        self.runner_command = runner_command
        """Run by the remote login shell (so it may set variables or name a path); `--ssh-bootstrap` is appended."""
        self.ssh = ssh
        self.ssh_options = list(ssh_options)
        self.trust = trust
        self.on_dead = on_dead
        self.timeout = timeout
        self.endpoint: Endpoint | None = None
        self.last_error: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stderr: deque[str] = deque(maxlen=20)
        self._stopping: set[int] = set()
        self._last_remote: tuple[str, int] | None = None
        """Where the last bootstrap found the runner: the next tunnel forwards there while the bootstrap runs."""

    def _ssh_argv(self, *extra: str) -> list[str]:
        return [self.ssh, *SSH_OPTIONS, *self.ssh_options, *extra, *self.target.destination()]

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def connect(self, url: str | None = None, **kwargs: Any) -> ClientConnection:
        """A RunnerConnection opener: a fresh tunnel, then the WebSocket through it with the bootstrapped token
        (falling back to the connection's own header when the remote runner's token is not in a file)."""
        endpoint = await self.open()
        if endpoint.token:
            kwargs["additional_headers"] = {"Authorization": f"Bearer {endpoint.token}"}
        if endpoint.url.startswith("wss:"):
            if self.trust is None:
                raise SshError("the runner on the host serves TLS, and no certificate trust store was given")
            if endpoint.tls_fingerprint:
                # Learned over SSH, which authenticated the host: as good as the user comparing it by eye.
                self.trust.store.pin(self.url, endpoint.tls_fingerprint)
            trust = self.trust
            return await self._through_tunnel(lambda: trust.connect(endpoint.url, runner=self.url, **kwargs))
        from websockets.asyncio.client import connect  # imported on first use: see desktop/connection.py

        return await self._through_tunnel(lambda: connect(endpoint.url, **kwargs))

    async def _through_tunnel(self, open_ws: Callable[[], Awaitable[ClientConnection]]) -> ClientConnection:
        # ssh prints its "listening" line a moment before its listen() call (OpenSSH 9.2: one connection in
        # several was refused within 3 ms of the line): a refusal while ssh lives is retried, briefly.
        deadline = asyncio.get_running_loop().time() + REFUSED_RETRY_S
        while True:
            try:
                return await open_ws()
            except ConnectionRefusedError:
                if not self.alive or asyncio.get_running_loop().time() > deadline:
                    raise SshError(
                        f"the tunnel's local port refused the connection (ssh "
                        f"{'running' if self.alive else 'exited'}: {self._stderr_text()})"
                    ) from None
                await asyncio.sleep(0.01)

    async def open(self) -> Endpoint:
        """Close any previous tunnel, then bootstrap the runner and forward a local port to it."""
        await self.close()
        try:
            async with asyncio.timeout(self.timeout):
                found, local = await self._bootstrap_and_guess()
                for _ in range(PORT_ATTEMPTS):
                    if local is not None:
                        break
                    local = await self._forward(str(found["host"]), int(found["port"]))
                else:
                    raise SshError(f"ssh could not listen on a local port: {self._stderr_text()}")
        except TimeoutError:
            await self.close()
            raise SshError(f"ssh to {self.target.host} took longer than {self.timeout:.0f} s") from None
        except BaseException:
            await self.close()
            raise
        log.info("ssh tunnel to %s: runner pid %s on port %s (%s), local port %s", self.target.host,
                 found.get("pid"), found.get("port"), "started" if found.get("started") else "running", local)
        self.endpoint = Endpoint(
            url=f"{found.get('scheme', 'ws')}://127.0.0.1:{local}",
            token=found.get("token") if isinstance(found.get("token"), str) else None,
            tls_fingerprint=found.get("tls_fingerprint") if isinstance(found.get("tls_fingerprint"), str) else None,
            started=bool(found.get("started")),
        )
        self.last_error = None
        return self.endpoint

    async def _bootstrap_and_guess(self) -> tuple[dict[str, Any], int | None]:
        """The bootstrap's endpoint, and the local port of a forward already made to it, or None.

        Each SSH connection costs a key exchange and a login (about half a second here). A reconnect usually finds
        the runner where the last bootstrap found it, so the forward to that port starts beside the bootstrap
        instead of after it; if the runner moved (it was restarted), that forward is dropped and a new one made.
        """
        guess = self._last_remote
        bootstrap = asyncio.ensure_future(self._bootstrap())
        local = None
        try:
            if guess is not None:
                with contextlib.suppress(SshError):  # the bootstrap, awaited next, says what is wrong
                    local = await self._forward(*guess)
            found = await bootstrap
        except BaseException:
            bootstrap.cancel()
            await asyncio.gather(bootstrap, return_exceptions=True)
            raise
        self._last_remote = (str(found["host"]), int(found["port"]))
        if local is not None and self._last_remote != guess:
            await self.close()
            local = None
        return found, local

    async def _bootstrap(self) -> dict[str, Any]:
        command = f"{self.runner_command} --ssh-bootstrap"
        proc = await asyncio.create_subprocess_exec(
            *self._ssh_argv(), command,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await proc.communicate()
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        stderr = err.decode(errors="replace").strip()
        if proc.returncode == 255:  # ssh's own failure: could not connect or authenticate
            raise SshError(f"ssh to {self.target.host} failed: {stderr or 'exit code 255'}")
        if proc.returncode == 127:
            what = "nightshift-runner" if self.runner_command == DEFAULT_RUNNER_COMMAND else self.runner_command
            raise SshError(
                f"{what} was not found on {self.target.host} (on the PATH of a non-interactive SSH session, or in "
                f"~/.local/bin); install nightshift there or give the runner command's full path. It said: {stderr}"
            )
        # A login shell may print a banner first: the endpoint is the last line carrying the mark.
        for line in reversed(out.decode(errors="replace").splitlines()):
            with contextlib.suppress(ValueError):
                found = json.loads(line)
                if isinstance(found, dict) and found.get(BOOTSTRAP_MARK) and isinstance(found.get("port"), int):
                    return found
        raise SshError(
            f"the runner on {self.target.host} could not be started (exit code {proc.returncode}): "
            f"{stderr or 'it printed no endpoint'}"
        )

    async def _forward(self, remote_host: str, remote_port: int) -> int | None:
        """Start the forwarding ssh; the local port once it listens, None if that port was taken (try another)."""
        local = _free_local_port()
        remote = f"[{remote_host}]" if ":" in remote_host else remote_host
        self._stderr.clear()
        proc = await asyncio.create_subprocess_exec(
            *self._ssh_argv(
                # Its own connection, not a shared master's (ControlMaster in ~/.ssh/config): the forward is then
                # this process's, it says when it listens, and it dies with the tunnel.
                "-v", "-N", "-o", "ExitOnForwardFailure=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none",
                "-L", f"127.0.0.1:{local}:{remote}:{remote_port}",
            ),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        self._proc = proc
        listening = asyncio.get_running_loop().create_future()
        self._watch = asyncio.create_task(self._watch_ssh(proc, listening), name=f"ssh-tunnel {self.target.host}")
        try:
            port = await listening
        except SshError:
            if any("Address already in use" in line for line in self._stderr):
                return None
            raise
        if port != local:
            raise SshError(f"ssh listens on port {port}, not {local}")
        return local

    async def _watch_ssh(self, proc: asyncio.subprocess.Process, listening: asyncio.Future[int]) -> None:
        """Read ssh's stderr (its listening line, and what it says on failure) until it exits, then report."""
        assert proc.stderr is not None
        while raw := await proc.stderr.readline():  # not `async for`: test_one_path counts those as socket readers
            line = raw.decode(errors="replace").rstrip()
            match = _LISTENING.search(line)
            if match and not listening.done():
                listening.set_result(int(match.group(1)))
            if not line.startswith("debug") and line:
                self._stderr.append(line)
        code = await proc.wait()
        reason = f"ssh to {self.target.host} exited (code {code}): {self._stderr_text()}"
        if not listening.done():
            listening.set_exception(SshError(reason))
            return
        # ssh exits 0 on our SIGTERM. Dying by itself (255) while being replaced still counts: a reconnect often
        # starts because the tunnel just died.
        if proc.pid in self._stopping and code in (0, -signal.SIGTERM):
            self._stopping.discard(proc.pid)
            return
        self._stopping.discard(proc.pid)
        self.last_error = reason
        log.warning("%s", reason)
        if self.on_dead is not None:
            self.on_dead(reason)

    def _stderr_text(self) -> str:
        # ssh -v's summary lines on exit say nothing about why.
        lines = [
            line for line in self._stderr
            if not line.startswith(("Transferred:", "Bytes per second:", "OpenSSH_", "Authenticated to "))
        ]
        return " / ".join(lines) or "no message"

    async def close(self) -> None:
        """Stop the forwarding ssh (the remote runner keeps running: agents outlive views)."""
        proc, watch = self._proc, self._watch
        self._proc = self._watch = None
        self.endpoint = None
        if proc is not None and proc.returncode is None:
            self._stopping.add(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        if watch is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(watch, 10)
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
