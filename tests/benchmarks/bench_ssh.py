"""What an ssh:// runner costs per connection: a fresh tunnel (the bootstrap's SSH session, then the forwarding
one) and the WebSocket through it, against the same runner reached directly on loopback, measured in the same run.

    python tests/benchmarks/bench_ssh.py [--smoke]

Needs sshd (openssh-server); tests/fakes/sshd.py starts one on loopback with its own keys. The baseline is one SSH
login (`ssh HOST true`), the least any reconnect through SSH can cost. Every reconnect of an SSH runner pays this
(issue 13: a tunnel that lived through a sleep is usually dead, so none is reused).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402

from desktop.core.ssh_tunnel import SshTunnel  # noqa: E402
from tests.benchmarks._harness import row  # noqa: E402
from tests.fakes.sshd import Sshd, runner_command, sshd_missing  # noqa: E402

TARGET_S = 2.0


async def _ping(open_ws: Any) -> float:
    start = time.perf_counter()
    ws = await open_ws()
    await ws.send(json.dumps({"type": "ping", "id": 1}))
    assert json.loads(await ws.recv())["type"] == "pong"
    elapsed = time.perf_counter() - start
    await ws.close()
    return elapsed


async def _one_login(tunnel: SshTunnel) -> float:
    """The floor of any SSH runner: one connection, key exchange and login running `true`."""
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*tunnel._ssh_argv(), "true", stdin=asyncio.subprocess.DEVNULL)
    if await proc.wait() != 0:
        raise RuntimeError("`ssh HOST true` failed")
    return time.perf_counter() - start


async def _measure(smoke: bool) -> list[dict[str, Any]]:
    problem = sshd_missing()
    if problem:
        return [row("ssh:// reconnect (tunnel + WebSocket)", f"not measured: {problem}", f"< {TARGET_S} s", False)]
    rounds = 2 if smoke else 10
    with tempfile.TemporaryDirectory() as tmp:
        sshd = Sshd(Path(tmp))
        sshd.start()
        data = Path(tmp) / "remote-data"
        tunnel = SshTunnel(sshd.url, runner_command=runner_command(data), ssh_options=sshd.options())
        try:
            first = await _ping(lambda: tunnel.connect(proxy=None))
            record = json.loads((data / "endpoint.json").read_text())
            token = (data / "token").read_text().strip()
            direct_url = f"ws://127.0.0.1:{record['port']}"
            headers = {"Authorization": f"Bearer {token}"}
            through_ssh, direct, login = [], [], []
            for _ in range(rounds):  # interleaved, so all see the same machine load
                through_ssh.append(await _ping(lambda: tunnel.connect(proxy=None)))
                direct.append(await _ping(lambda: connect(direct_url, additional_headers=headers, proxy=None)))
                login.append(await _one_login(tunnel))
        finally:
            await tunnel.close()
            if (data / "endpoint.json").exists():
                os.kill(json.loads((data / "endpoint.json").read_text())["pid"], signal.SIGTERM)
            sshd.stop()
    ssh_s, direct_s, login_s = statistics.median(through_ssh), statistics.median(direct), statistics.median(login)
    print(f"first connection (starts the runner): {first * 1000:.0f} ms")
    print(f"reconnect through ssh: median {ssh_s * 1000:.0f} ms; direct: median {direct_s * 1000:.1f} ms; "
          f"one `ssh HOST true`: median {login_s * 1000:.0f} ms (n={rounds})")
    return [
        row("ssh:// reconnect: new tunnel + WebSocket + ping (median)", f"{ssh_s * 1000:.0f} ms", f"< {TARGET_S} s",
            ssh_s < TARGET_S, baseline=f"one SSH login (`ssh HOST true`): {login_s * 1000:.0f} ms; "
            f"direct on loopback: {direct_s * 1000:.1f} ms", ratio=f"{ssh_s / login_s:.2f}x a login"),
        row("ssh:// first connection, starting the runner", f"{first * 1000:.0f} ms", "< 10 s", first < 10.0),
    ]


def measure(smoke: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(_measure(smoke))


if __name__ == "__main__":
    for r in measure(smoke="--smoke" in sys.argv):
        print(r)
