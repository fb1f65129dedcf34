"""Fixtures for the lifecycle tests: a private D-Bus bus with a fake logind, and a half-open TCP proxy."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")

# GUI tests run without a display; the suite's own configuration may already say so.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:dir={socket_dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def private_bus(tmp_path: Path) -> Iterator[str]:
    """A dbus-daemon of our own (standing in for the system bus); yields its address."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.fail("dbus-daemon is missing: install Debian's dbus package (apt-get install -y dbus)")
    # unix socket paths are limited to ~108 bytes; pytest's tmp_path can be longer than that.
    socket_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"ns-bus-{os.getpid()}-{tmp_path.name[-20:]}"
    socket_dir.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket_dir=socket_dir))
    proc = subprocess.Popen(
        [daemon, f"--config-file={config}", "--print-address=1", "--nofork", "--nopidfile"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # it complains about the fd limit when not run by root
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        assert address.startswith("unix:"), f"dbus-daemon printed {address!r}"
        yield address
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(socket_dir, ignore_errors=True)


class FakeLogind:
    """Drives tests/fakes/login1.py, a separate process owning org.freedesktop.login1 on the private bus."""

    def __init__(self, address: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.login1", "--address", address],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._read()
        assert line == "ready", f"fake login1 said {line!r}"

    def _read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def _command(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        assert answer == f"ok {command}", f"fake login1 answered {answer!r}"

    def sleep(self) -> None:
        """PrepareForSleep(true)."""
        self._command("sleep")

    def wake(self) -> None:
        """PrepareForSleep(false)."""
        self._command("wake")

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def fake_logind(private_bus: str) -> Iterator[FakeLogind]:
    fake = FakeLogind(private_bus)
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def qloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop over the test's QApplication, as the app runs: Qt signals and asyncio in one thread."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
    """Run a scenario to its end on the qasync loop (generous timeout: the machine is shared)."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))
