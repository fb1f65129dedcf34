"""One runner per data folder: a second one refuses to start, names the first, and the first serves on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runner.datalock import DataFolderInUse
from runner.embedded import EmbeddedRunner
from runner.sessions import SessionManager
from tests.fakes.view_client import ViewClient

RUNNER = [sys.executable, "-m", "runner", "--port", "0"]
TOKEN = "datalock-test-token"


def start_runner(data: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([*RUNNER, "--data-dir", str(data)], env={**os.environ, "NIGHTSHIFT_TOKEN": TOKEN},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, (line, proc.stderr.read() if proc.stderr else "")
    proc.url = line.split()[-1]  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
    proc.communicate(timeout=60)


async def test_a_second_runner_on_the_same_folder_refuses_and_the_first_serves_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_runner(data)
    try:
        second = subprocess.run([*RUNNER, "--data-dir", str(data)], env={**os.environ, "NIGHTSHIFT_TOKEN": TOKEN},
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert f"the data folder {data} is in use by another runner (pid {first.pid})" in second.stderr
        assert "listening on" not in second.stdout
        client = await ViewClient.open(first.url, TOKEN)  # type: ignore[attr-defined]
        try:
            await client.request({"type": "list"})
        finally:
            await client.close()
    finally:
        stop(first)


def test_a_runner_killed_leaves_no_stale_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    stop(start_runner(data), signal.SIGKILL)  # no clean-up at all: the system drops the lock with the process
    stop(start_runner(data))


async def test_in_one_process_the_folder_is_taken_until_shut_down(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    manager = await SessionManager.open(data)
    try:
        with pytest.raises(DataFolderInUse, match=rf"in use by another runner \(pid {os.getpid()}\)"):
            await SessionManager.open(data)
        # The embedded runner says the same, instead of sharing the journal.
        embedded = EmbeddedRunner(data_dir=data)
        with pytest.raises(DataFolderInUse):
            embedded.start()
        embedded.stop()
    finally:
        await manager.shutdown()
    again = await SessionManager.open(data)
    await again.shutdown()
