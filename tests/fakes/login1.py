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
import os
import sys

from PySide6.QtCore import QCoreApplication, QObject, QSocketNotifier
from PySide6.QtDBus import QDBusConnection, QDBusMessage

from tests.fakes.dbus_bus import FakeServiceProcess

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




class FakeLogindProcess(FakeServiceProcess):
    """Runs this module as a separate process on the bus at `address` and drives it."""

    def __init__(self, address: str) -> None:
        super().__init__("tests.fakes.login1", address)

    def _command(self, command: str) -> None:
        self.send_line(command)
        answer = self.read_line()
        if answer != f"ok {command}":
            raise RuntimeError(f"fake login1 answered {answer!r}")

    def sleep(self) -> None:
        """PrepareForSleep(true)."""
        self._command("sleep")

    def wake(self) -> None:
        """PrepareForSleep(false)."""
        self._command("wake")


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
