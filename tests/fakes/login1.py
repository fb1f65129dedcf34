"""A fake systemd-logind for tests: owns org.freedesktop.login1 on a given bus and emits PrepareForSleep.

Run as a process: `python -m tests.fakes.login1 --address ADDRESS` (or `python tests/fakes/login1.py ...`).
It prints `ready` once it owns the name, then reads commands from stdin, one per line:
- `sleep`  emits PrepareForSleep(true)
- `wake`   emits PrepareForSleep(false)
- `quit`   exits (so does end of input)
and answers each command with `ok <command>` after the signal has been handed to the bus.

`dbus-send` cannot own a name, hence this small QtDBus process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QSocketNotifier
from PySide6.QtDBus import QDBusConnection, QDBusMessage

REPO_ROOT = Path(__file__).resolve().parents[2]

SERVICE = "org.freedesktop.login1"
PATH = "/org/freedesktop/login1"
INTERFACE = "org.freedesktop.login1.Manager"


class FakeLogin1(QObject):
    """Owns the logind name on `connection` and emits its sleep signal on request."""

    def __init__(self, connection: QDBusConnection) -> None:
        super().__init__()
        self._connection = connection
        if not connection.isConnected():
            raise RuntimeError(f"not connected to the bus: {connection.lastError().message()}")
        if not connection.registerService(SERVICE):
            raise RuntimeError(f"cannot own {SERVICE}: {connection.lastError().message()}")

    def prepare_for_sleep(self, going_to_sleep: bool) -> bool:
        message = QDBusMessage.createSignal(PATH, INTERFACE, "PrepareForSleep")
        message.setArguments([bool(going_to_sleep)])
        return self._connection.send(message)

    def release(self) -> None:
        self._connection.unregisterService(SERVICE)


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


class DbusDaemonMissing(RuntimeError):
    pass


@contextlib.contextmanager
def private_bus() -> Iterator[str]:
    """A dbus-daemon of our own, open to everyone on this machine (a stand-in for the system bus); yields
    its address. Needs Debian's dbus package (dbus-daemon)."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        raise DbusDaemonMissing(
            "dbus-daemon is missing: install Debian's dbus package (apt-get install -y dbus)"
        )
    # A short folder: unix socket paths are limited to ~108 bytes.
    with tempfile.TemporaryDirectory(prefix="ns-bus-") as folder:
        config = Path(folder) / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket_dir=folder))
        proc = subprocess.Popen(
            [daemon, f"--config-file={config}", "--print-address=1", "--nofork", "--nopidfile"],
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


class FakeLogindProcess:
    """Runs this module as a separate process on the bus at `address` and drives it."""

    def __init__(self, address: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.login1", "--address", address],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._read()
        if line != "ready":
            raise RuntimeError(f"fake login1 said {line!r}")

    def _read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def _command(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        if answer != f"ok {command}":
            raise RuntimeError(f"fake login1 answered {answer!r}")

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
        if self.proc.stdout is not None:
            self.proc.stdout.close()  # unclosed pipes fail tests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True, help="D-Bus address of the bus to join")
    args = parser.parse_args(argv)

    app = QCoreApplication([])
    connection = QDBusConnection.connectToBus(args.address, "fake-login1")
    try:
        login1 = FakeLogin1(connection)
    except RuntimeError as exc:
        print(f"error {exc}", flush=True)
        return 1

    pending = bytearray()

    def on_stdin() -> None:
        # Raw reads: Python's buffered stdin could swallow several lines while the notifier fires once.
        chunk = os.read(sys.stdin.fileno(), 4096)
        if not chunk:
            notifier.setEnabled(False)
            app.quit()
            return
        pending.extend(chunk)
        while b"\n" in pending:
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            run(line.decode().strip())

    def run(command: str) -> None:
        if command == "quit":
            notifier.setEnabled(False)
            app.quit()
        elif command in ("sleep", "wake"):
            sent = login1.prepare_for_sleep(command == "sleep")
            print(f"{'ok' if sent else 'failed'} {command}", flush=True)
        elif command:
            print(f"unknown {command}", flush=True)

    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(on_stdin)
    print("ready", flush=True)
    code = app.exec()
    login1.release()
    return code


if __name__ == "__main__":
    sys.exit(main())
