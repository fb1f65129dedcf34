"""`nightshift-runner --ssh-bootstrap`: finds the data folder's runner or starts one detached, and says where."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def bootstrap(data_dir: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "runner", "--ssh-bootstrap", "--data-dir", str(data_dir)],
                         capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={k: v for k, v in os.environ.items() if k != "NIGHTSHIFT_TOKEN"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def gone(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def stop(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while not gone(pid):
        assert time.monotonic() < deadline, "the runner did not stop"
        time.sleep(0.05)


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "data"
    try:
        yield folder
    finally:
        record = folder / "endpoint.json"
        if record.exists():
            pid = json.loads(record.read_text())["pid"]
            if not gone(pid):
                stop(pid)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_concurrent_bootstraps_start_one_runner_and_a_stopped_one_is_replaced(data: Path) -> None:
    with ThreadPoolExecutor(3) as pool:
        found = list(pool.map(bootstrap, [data] * 3))
    assert len({(f["pid"], f["port"]) for f in found}) == 1
    assert sorted(f["started"] for f in found) == [False, False, True]
    first = found[0]
    assert first["token"] == (data / "token").read_text().strip() and first["scheme"] == "ws"
    assert first["host"] == "127.0.0.1" and first["tls_fingerprint"] is None
    record = json.loads((data / "endpoint.json").read_text())
    assert "token" not in record and os.stat(data / "endpoint.json").st_mode & 0o077 == 0

    stop(first["pid"])
    assert not (data / "endpoint.json").exists()  # removed by the runner on its way out
    again = bootstrap(data)
    assert again["started"] and again["pid"] != first["pid"] and again["token"] == first["token"]

    # A record left by a runner that was killed (no clean stop) names a dead process: a new runner is started.
    os.kill(again["pid"], signal.SIGKILL)
    while not gone(again["pid"]):
        time.sleep(0.05)
    assert (data / "endpoint.json").exists()
    third = bootstrap(data)
    assert third["started"] and third["pid"] != again["pid"]


def test_a_runner_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "token").write_text("t\n")
    os.chmod(tmp_path / "data" / "token", 0o644)  # refused by the runner: readable by others
    out = subprocess.run([sys.executable, "-m", "runner", "--ssh-bootstrap", "--data-dir", str(tmp_path / "data")],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 1 and out.stdout == ""
    assert "the runner exited at start (code 2)" in out.stderr and "readable by other users" in out.stderr
