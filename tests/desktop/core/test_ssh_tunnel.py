"""ssh:// runners against a real sshd on loopback, started by the test with its own config, host key and user key.

The remote command is this checkout's runner: the bootstrap starts it detached on the "remote" host (this machine,
through sshd), and the desktop's RunnerConnection reaches it through the tunnel.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.connection import RunnerConnection
from desktop.core.ssh_tunnel import SshError, SshTarget, SshTunnel
from desktop.core.status import Color, Phase
from desktop.core.trust import PinStore, TrustOnFirstUse
from desktop.core.view import ViewCore, ViewListener
from runner.tls import certificate_file_fingerprint
from tests.conftest import missing
from tests.desktop.core.test_trust import make_certificate
from tests.desktop.qt.helpers import until
from tests.fakes.sshd import Sshd, runner_command, sshd_missing

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    problem = sshd_missing()
    if problem:
        missing(problem)
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


def running(pid: int) -> bool:
    """Alive and not a zombie (a detached runner may end up our child: reap it if so)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def endpoint_pid(data_dir: Path, missing_ok: bool = False) -> int | None:
    try:
        return int(json.loads((data_dir / "endpoint.json").read_text())["pid"])
    except FileNotFoundError:
        if missing_ok:
            return None
        raise


@pytest.fixture
def remote_data(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "remote-data"
    try:
        yield data
    finally:
        # The runner was started detached on purpose; the test stops it.
        with contextlib.suppress(ProcessLookupError):
            if (data / "endpoint.json").exists():
                pid = endpoint_pid(data)
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 60
                while running(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)


class Nothing(ViewListener):
    """Keeps the reasons of failed attempts, to say why a test saw more attempts than it expected."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def status_changed(self, status: Any) -> None:
        if status.reason and status.reason not in self.reasons:
            self.reasons.append(status.reason)


@pytest.fixture
async def ssh_connection(sshd: Sshd, remote_data: Path) -> AsyncIterator[tuple[RunnerConnection, SshTunnel, list[str]]]:
    deaths: list[str] = []
    tunnel = SshTunnel(sshd.url, runner_command=runner_command(remote_data), ssh_options=sshd.options(),
                       on_dead=deaths.append)
    opened: list[str] = []  # one "opened" per WebSocket that came up
    conn = RunnerConnection(sshd.url, None, ViewCore(Nothing()), opener=tunnel.connect, open_timeout=60,
                            observer=lambda what: opened.append(what) if what == "opened" else None)
    conn.opened = opened  # type: ignore[attr-defined]
    try:
        yield conn, tunnel, deaths
    finally:
        await conn.close()
        await tunnel.close()


async def _sessions_end(sshd: Sshd) -> bool:
    await until(lambda: sshd.session_processes() == [], 60, "sshd's sessions to end")
    return True


def processes_showing(secret: str) -> list[str]:
    """Every process whose command line or environment holds `secret`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        for what in ("cmdline", "environ"):
            with contextlib.suppress(OSError):
                if secret.encode() in (entry / what).read_bytes():
                    found.append(f"{entry.name} {what}: {(entry / 'cmdline').read_bytes()[:200]!r}")
    return found


@pytest.mark.slow
async def test_the_runner_is_started_over_ssh_detached_and_reached_through_the_tunnel(
    sshd: Sshd, remote_data: Path, ssh_connection: tuple[RunnerConnection, SshTunnel, list[str]]
) -> None:
    conn, tunnel, deaths = ssh_connection
    conn.start()
    await until(lambda: conn.core.status.phase is Phase.LIVE, 90, "live through the SSH tunnel")
    # Started by the bootstrap (on a loaded machine an attempt may time out and the next one find it running).
    assert (remote_data / "runner.log").exists(), conn.core.listener.reasons
    assert tunnel.endpoint is not None and (tunnel.endpoint.started or conn.core.listener.reasons)
    assert tunnel.endpoint.url.startswith("ws://127.0.0.1:")
    token = (remote_data / "token").read_text().strip()
    assert tunnel.endpoint.token == token

    # The runner is detached: its own session, still running after the bootstrap's SSH session ended.
    pid = endpoint_pid(remote_data)
    assert running(pid) and os.getsid(pid) == pid
    # Requests go through: the remote folder picker lists the remote host's folders.
    listing = await conn.request({"type": "list_dir", "path": str(remote_data)})
    assert "token" in [e["name"] for e in listing["entries"]]

    # The token is on no command line and in no environment, local or "remote".
    assert processes_showing(token) == []
    assert deaths == []
    # With every SSH connection gone, the runner (and its agents) keep running.
    await conn.close()
    await tunnel.close()
    assert sshd.session_processes() == [] or await _sessions_end(sshd)
    assert running(pid)


@pytest.mark.slow
async def test_reconnect_makes_a_new_tunnel_and_a_dead_ssh_is_reported_with_its_words(
    sshd: Sshd, remote_data: Path, ssh_connection: tuple[RunnerConnection, SshTunnel, list[str]]
) -> None:
    conn, tunnel, deaths = ssh_connection
    conn.start()
    await until(lambda: conn.core.status.phase is Phase.LIVE, 90, "live")
    first_ssh, runner_pid = tunnel.pid, endpoint_pid(remote_data)

    # The host ends the SSH connection (sshd's session process dies): ssh exits, saying why.
    for pid in sshd.session_processes():
        os.kill(pid, signal.SIGTERM)
    await until(lambda: bool(deaths), 60, "the dead ssh reported")
    assert deaths[0].startswith("ssh to 127.0.0.1 exited (code 255): ")
    assert "closed by remote host" in deaths[0].lower() or "connection" in deaths[0].lower(), deaths[0]
    await until(lambda: len(conn.opened) == 2 and conn.core.status.phase is Phase.LIVE, 90, "reconnected")
    assert tunnel.pid != first_ssh and tunnel.alive
    assert tunnel.endpoint is not None and not tunnel.endpoint.started  # the same runner, found again
    assert endpoint_pid(remote_data) == runner_pid

    # The runner itself stops on the host: the next tunnel's bootstrap starts another one.
    os.kill(runner_pid, signal.SIGTERM)
    await until(lambda: not running(runner_pid), 60, "the runner stopped")
    await until(lambda: len(conn.opened) >= 3 and conn.core.status.phase is Phase.LIVE
                and endpoint_pid(remote_data, missing_ok=True) not in (None, runner_pid),
                120, "reconnected to a new runner")
    assert tunnel.endpoint is not None and (tunnel.endpoint.started or conn.core.listener.reasons)
    assert (remote_data / "runner.log").read_text().count("listening on") == 2
    assert endpoint_pid(remote_data) != runner_pid


@pytest.mark.slow
async def test_ssh_failures_are_reported_in_ssh_s_words(sshd: Sshd, remote_data: Path, tmp_path: Path) -> None:
    wrong_key = SshTunnel(sshd.url, runner_command=runner_command(remote_data), ssh_options=sshd.options("other_key"))
    with pytest.raises(SshError, match=r"ssh to 127\.0\.0\.1 failed: .*Permission denied \(publickey\)"):
        await wrong_key.open()

    nowhere = SshTunnel(sshd.url, runner_command="/no/such/nightshift-runner", ssh_options=sshd.options())
    with pytest.raises(SshError, match=r"/no/such/nightshift-runner was not found on 127\.0\.0\.1"):
        await nowhere.open()
    # The default command looks on PATH and in ~/.local/bin; with neither holding it, it says so.
    default = SshTunnel(sshd.url, ssh_options=sshd.options())
    installed = subprocess.run(
        ["ssh", *sshd.options(), "-p", str(sshd.port), f"{sshd.user}@127.0.0.1",
         'PATH="$PATH:$HOME/.local/bin" command -v nightshift-runner'], capture_output=True, timeout=60,
    ).returncode == 0
    if not installed:  # where it is installed, the default would start the real one on the user's data: not here
        with pytest.raises(SshError, match=r"^nightshift-runner was not found on 127\.0\.0\.1"):
            await default.open()

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    broken = SshTunnel(sshd.url, runner_command=runner_command(blocked / "data"), ssh_options=sshd.options())
    with pytest.raises(SshError, match="could not be started"):
        await broken.open()
    assert not wrong_key.alive and not nowhere.alive and not broken.alive

    # Through a RunnerConnection: the dot shows ssh's reason.
    conn = RunnerConnection(sshd.url, None, ViewCore(Nothing()), opener=wrong_key.connect, open_timeout=60)
    conn.start()
    try:
        await until(lambda: conn.core.status.reason is not None, 60, "a reason")
        assert "Permission denied (publickey)" in conn.core.status.reason
        assert conn.core.status.color in (Color.YELLOW, Color.RED)
    finally:
        await conn.close()


def test_ssh_urls() -> None:
    assert SshTarget.parse("ssh://box") == SshTarget("box")
    assert SshTarget.parse("ssh://me@box:2222") == SshTarget("box", "me", 2222)
    assert SshTarget.parse("ssh://me@[::1]:22/").destination() == ["-p", "22", "me@::1"]
    for bad in ("ws://box", "ssh://", "ssh://box/path", "ssh://me:pw@box", "ssh://-oProxyCommand=x", "ssh://box:99999",
                "ssh://-x@box"):
        with pytest.raises(ValueError):
            SshTarget.parse(bad)


@pytest.mark.slow
async def test_a_tls_runner_over_ssh_is_pinned_from_what_ssh_vouched_for(
    sshd: Sshd, remote_data: Path, tmp_path: Path
) -> None:
    cert, key = make_certificate(tmp_path, "remote")
    runner = subprocess.Popen(
        [sys.executable, "-m", "runner", "--port", "0", "--data-dir", str(remote_data), "--tls-cert", str(cert),
         "--tls-key", str(key)],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env={k: v for k, v in os.environ.items()
                                                          if k != "NIGHTSHIFT_TOKEN"},
    )
    assert runner.stdout is not None and runner.stdout.readline().startswith("listening on wss://")

    def never_asked(url: str, fingerprint: str) -> bool:
        raise AssertionError("the fingerprint came over SSH: the user must not be asked")

    pins = PinStore(tmp_path / "pins.json")
    tunnel = SshTunnel(sshd.url, runner_command=runner_command(remote_data), ssh_options=sshd.options(),
                       trust=TrustOnFirstUse(pins, never_asked))
    conn = RunnerConnection(sshd.url, None, ViewCore(Nothing()), opener=tunnel.connect, open_timeout=60)
    conn.start()
    try:
        await until(lambda: conn.core.status.phase is Phase.LIVE, 90, "live over SSH and TLS")
        assert tunnel.endpoint is not None and tunnel.endpoint.url.startswith("wss://127.0.0.1:")
        assert not tunnel.endpoint.started and endpoint_pid(remote_data) == runner.pid
        assert pins.get(sshd.url) == certificate_file_fingerprint(str(cert))
    finally:
        await conn.close()
        await tunnel.close()
        runner.terminate()
        assert runner.wait(60) == 0
        runner.stdout.close()


@pytest.mark.slow
async def test_a_shared_master_connection_in_the_user_s_config_does_not_get_in_the_way(
    sshd: Sshd, remote_data: Path
) -> None:
    tunnel = SshTunnel(sshd.url, runner_command=runner_command(remote_data), ssh_options=sshd.options("mux"))
    conn = RunnerConnection(sshd.url, None, ViewCore(Nothing()), opener=tunnel.connect, open_timeout=60)
    conn.start()
    try:
        await until(lambda: conn.core.status.phase is Phase.LIVE, 90, "live with ControlMaster auto")
        assert tunnel.alive
    finally:
        await conn.close()
        await tunnel.close()
        subprocess.run(["ssh", *sshd.options("mux"), "-p", str(sshd.port), "-O", "exit", f"{sshd.user}@127.0.0.1"],
                       capture_output=True, timeout=60)


@pytest.mark.slow
async def test_every_fresh_tunnel_connects_at_once(sshd: Sshd, remote_data: Path) -> None:
    """ssh prints its listening line a moment before it listens: without waiting that moment out, about one
    connection in seven was refused (so 15 in a row passed about 9% of the time)."""
    tunnel = SshTunnel(sshd.url, runner_command=runner_command(remote_data), ssh_options=sshd.options())
    try:
        for _ in range(15):
            ws = await tunnel.connect(proxy=None, open_timeout=60)
            await ws.close()
    finally:
        await tunnel.close()


@pytest.mark.slow
async def test_a_reconnect_forwards_beside_the_bootstrap_and_follows_a_runner_that_moved(
    sshd: Sshd, remote_data: Path
) -> None:
    """A reconnect forwards to the runner's last port while the bootstrap runs (one SSH login's wait instead of
    two); when the runner was restarted on another port meanwhile, that guess is dropped and the very next
    connection still reaches the new runner."""
    tunnel = SshTunnel(sshd.url, runner_command=runner_command(remote_data), ssh_options=sshd.options())
    try:
        ws = await tunnel.connect(proxy=None, open_timeout=60)
        await ws.close()
        first_pid, first = endpoint_pid(remote_data), tunnel.endpoint
        assert first is not None

        ws = await tunnel.connect(proxy=None, open_timeout=60)  # same runner: the guess is used
        await ws.send(json.dumps({"type": "ping", "id": 1}))
        assert json.loads(await ws.recv())["type"] == "pong"
        await ws.close()
        assert endpoint_pid(remote_data) == first_pid

        await tunnel.close()
        os.kill(first_pid, signal.SIGTERM)
        await until(lambda: not running(first_pid), 60, "the runner stopped")
        # The next bootstrap starts a new runner on another port (port 0: the system picks a free one).
        ws = await tunnel.connect(proxy=None, open_timeout=60)
        await ws.send(json.dumps({"type": "ping", "id": 2}))
        assert json.loads(await ws.recv())["type"] == "pong"
        await ws.close()
        assert tunnel.endpoint is not None and tunnel.endpoint.started
        assert endpoint_pid(remote_data) != first_pid
    finally:
        await tunnel.close()
