"""nightshift-runner's command line and the embedded runner thread."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import threading

from runner.embedded import EmbeddedRunner
from runner.process import live_group_members
from tests.fakes.view_client import ViewClient

RUNNER = [sys.executable, "-m", "runner"]


def test_help_and_version() -> None:
    out = subprocess.run([*RUNNER, "--help"], capture_output=True, text=True, check=True).stdout
    assert "--data-dir" in out and "--token-file" in out
    out = subprocess.run([*RUNNER, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("nightshift-runner ")


def test_non_loopback_bind_needs_flags(tmp_path) -> None:
    r = subprocess.run(
        [*RUNNER, "--host", "0.0.0.0", "--data-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert r.returncode == 2 and "--allow-remote" in r.stderr
    r = subprocess.run(
        [*RUNNER, "--host", "0.0.0.0", "--allow-remote", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "--insecure" in r.stderr


async def test_token_file_is_created_private_and_used(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NIGHTSHIFT_TOKEN"}
    token_file = tmp_path / "secret" / "token"
    proc = await asyncio.create_subprocess_exec(
        *RUNNER,
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "d"),
        "--token-file",
        str(token_file),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert line.startswith("listening on ws://127.0.0.1:") and not line.endswith(":0\n")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert len(token) >= 32
    view = await ViewClient.open(line.split()[-1], token)
    assert (await view.request({"type": "hello", "protocol": 1}))["type"] == "welcome"
    await view.close()
    proc.send_signal(2)  # SIGINT: graceful
    assert await asyncio.wait_for(proc.wait(), 30) == 0


def test_embedded_runner_starts_serves_and_joins(tmp_path) -> None:
    before = {t.name for t in threading.enumerate()}
    embedded = EmbeddedRunner(str(tmp_path / "data"))
    embedded.start()
    assert embedded.url.startswith("ws://127.0.0.1:") and embedded.token

    async def use() -> int:
        view = await ViewClient.open(embedded.url, embedded.token)
        reply = await view.request({"type": "create", "argv": ["sh", "-c", "sleep 313.25 & sleep 313.25"]})
        await view.close()
        return int(reply["session"]["id"] != "")

    assert asyncio.run(use()) == 1
    assert embedded.running
    embedded.stop()
    assert not embedded.running
    left = {t.name for t in threading.enumerate()} - before
    assert not left, left
    # No agent process outlives the runner (a sleep length no other test uses marks ours).
    out = subprocess.run(["ps", "-eo", "pgid,stat,args"], capture_output=True, text=True).stdout
    ours = [line.split() for line in out.splitlines() if "sleep 313.25" in line and "ps -eo" not in line]
    assert all(not live_group_members(int(fields[0])) for fields in ours), ours


def test_embedded_runner_reports_an_unusable_data_dir(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    embedded = EmbeddedRunner(str(blocker / "data"))
    try:
        embedded.start()
    except OSError as exc:
        assert "file" in str(exc) or exc.errno is not None
    else:
        raise AssertionError("start() should have failed")


async def test_tls_runner_serves_wss(tmp_path) -> None:
    import shutil
    import ssl

    from tests.conftest import missing

    if shutil.which("openssl") is None:
        missing("the openssl command is not installed (needed to make a test certificate)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    env = {**os.environ, "NIGHTSHIFT_TOKEN": "tls-token"}
    proc = await asyncio.create_subprocess_exec(
        *RUNNER, "--port", "0", "--data-dir", str(tmp_path / "d"), "--tls-cert", str(cert), "--tls-key", str(key),
        stdout=asyncio.subprocess.PIPE, env=env)
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("listening on wss://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        view = await ViewClient.open(line.split()[-1], "tls-token", ssl=context)
        assert (await view.request({"type": "ping"}))["type"] == "pong"
        await view.close()
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
