"""D-Bus for tests: buses of their own (a dbus-daemon per test) and the driver of a fake service run as a
separate process that prints `ready`, then answers commands on stdin one line each.

Needs Debian's dbus package (dbus-daemon); the set-up installs it.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

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


@contextlib.contextmanager
def private_bus() -> Iterator[str]:
    """A bus open to everyone on this machine (a stand-in for the system bus); yields its address."""
    # A short folder: unix socket paths are limited to ~108 bytes.
    with tempfile.TemporaryDirectory(prefix="ns-bus-") as folder:
        config = Path(folder) / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket_dir=folder))
        with _dbus_daemon([f"--config-file={config}"]) as address:
            yield address


@contextlib.contextmanager
def session_bus() -> Iterator[str]:
    """A session bus of the test's own (`dbus-daemon --session`); yields its address."""
    with tempfile.TemporaryDirectory(prefix="ns-session-bus-") as folder:
        with _dbus_daemon(["--session", f"--address=unix:dir={folder}"]) as address:
            yield address


@contextlib.contextmanager
def _dbus_daemon(args: list[str]) -> Iterator[str]:
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        raise RuntimeError("dbus-daemon is missing: install Debian's dbus package (apt-get install -y dbus)")
    proc = subprocess.Popen(
        [daemon, *args, "--print-address=1", "--nofork", "--nopidfile"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # it complains about the fd limit when it cannot raise it
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        if not address.startswith("unix:"):
            raise RuntimeError(f"dbus-daemon printed {address!r}")
        yield address
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]  (unclosed pipes fail tests)


class FakeServiceProcess:
    """Runs `python -m MODULE --address ADDRESS` and waits for its `ready`."""

    def __init__(self, module: str, address: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", module, "--address", address],
                                     cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.read_line()
        if line != "ready":
            self.close()
            raise RuntimeError(f"{module} said {line!r}")

    def read_line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def send_line(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        """End of input asks the fake to quit; killed if it does not within 10 s."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        self.stop()
        if self.proc.stdout is not None:
            self.proc.stdout.close()  # unclosed pipes fail tests
