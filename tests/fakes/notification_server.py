"""A fake freedesktop notification server for tests: owns org.freedesktop.Notifications on a given bus.

Run as a process: `python -m tests.fakes.notification_server --address ADDRESS`. It prints `ready` once it owns
the name, then one line per Notify call it answered: `notify {json}` with the id it returned, every argument and
the call's D-Bus signature. It reads commands from stdin, one per line:
- `invoke ID [ACTION]`  emits ActionInvoked(ID, ACTION or "default") (the user clicked the notification)
- `close ID [REASON]`   emits NotificationClosed(ID, REASON or 2: dismissed by the user)
- `quit`                exits (so does end of input)
and answers each command with `ok <command>` once the signal is on the bus.

jeepney (pure Python, already a dependency of keyring on Linux) speaks D-Bus here rather than QtDBus: a fake
must answer with exact D-Bus types (a uint32 id), which PySide6 cannot build from a Python int.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
from typing import Any

from tests.fakes.dbus_bus import FakeServiceProcess

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"

INTROSPECTION = f"""<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
  <interface name="{INTERFACE}">
    <method name="Notify">
      <arg name="app_name" type="s" direction="in"/>
      <arg name="replaces_id" type="u" direction="in"/>
      <arg name="app_icon" type="s" direction="in"/>
      <arg name="summary" type="s" direction="in"/>
      <arg name="body" type="s" direction="in"/>
      <arg name="actions" type="as" direction="in"/>
      <arg name="hints" type="a{{sv}}" direction="in"/>
      <arg name="expire_timeout" type="i" direction="in"/>
      <arg name="id" type="u" direction="out"/>
    </method>
    <method name="CloseNotification"><arg name="id" type="u" direction="in"/></method>
    <method name="GetCapabilities"><arg name="capabilities" type="as" direction="out"/></method>
    <method name="GetServerInformation">
      <arg name="name" type="s" direction="out"/><arg name="vendor" type="s" direction="out"/>
      <arg name="version" type="s" direction="out"/><arg name="spec_version" type="s" direction="out"/>
    </method>
    <signal name="ActionInvoked"><arg name="id" type="u"/><arg name="action_key" type="s"/></signal>
    <signal name="NotificationClosed"><arg name="id" type="u"/><arg name="reason" type="u"/></signal>
  </interface>
  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
  </interface>
</node>
"""

NOTIFY_SIGNATURE = "susssasa{sv}i"


def main(argv: list[str] | None = None) -> int:
    from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True, help="D-Bus address of the bus to join")
    args = parser.parse_args(argv)

    conn = open_dbus_connection(args.address)
    reply = conn.send_and_get_reply(message_bus.RequestName(SERVICE, 4))  # 4: do not queue
    if reply.body != (1,):  # 1: primary owner
        print(f"error cannot own {SERVICE}: {reply.body}", flush=True)
        return 1
    emitter = DBusAddress(PATH, interface=INTERFACE)
    send_lock = threading.Lock()  # replies from this thread, signals from the stdin thread
    next_id = 0

    def send(message: Any) -> None:
        with send_lock:
            conn.send(message)

    def commands() -> None:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "quit":
                break
            if words[0] == "invoke" and len(words) in (2, 3):
                action = words[2] if len(words) == 3 else "default"
                send(new_signal(emitter, "ActionInvoked", "us", (int(words[1]), action)))
            elif words[0] == "close" and len(words) in (2, 3):
                send(new_signal(emitter, "NotificationClosed", "uu",
                                (int(words[1]), int(words[2]) if len(words) == 3 else 2)))
            else:
                print(f"unknown {line.strip()}", flush=True)
                continue
            print(f"ok {line.strip()}", flush=True)
        send(message_bus.ReleaseName(SERVICE))
        conn.sock.shutdown(socket.SHUT_RDWR)  # wakes the main thread's receive: it closes and returns

    threading.Thread(target=commands, daemon=True).start()
    print("ready", flush=True)
    while True:
        try:
            msg = conn.receive()
        except (OSError, ValueError):  # shut down by the stdin thread: quit
            conn.close()
            return 0
        if msg.header.message_type != MessageType.method_call:
            continue
        member = msg.header.fields.get(HeaderFields.member)
        signature = msg.header.fields.get(HeaderFields.signature, "")
        if member == "Notify":
            if signature != NOTIFY_SIGNATURE:  # as strict as GDBus-based servers
                send(new_error(msg, "org.freedesktop.DBus.Error.InvalidArgs", "s",
                               (f"Notify takes {NOTIFY_SIGNATURE}, not {signature}",)))
                print("notify " + json.dumps({"refused": signature}), flush=True)
                continue
            app_name, replaces_id, icon, summary, body, actions, hints, timeout = msg.body
            next_id += 1
            send(new_method_return(msg, "u", (next_id,)))
            print("notify " + json.dumps({
                "id": next_id, "app_name": app_name, "replaces_id": replaces_id, "app_icon": icon,
                "summary": summary, "body": body, "actions": list(actions), "hints": sorted(hints),
                "expire_timeout": timeout}), flush=True)
        elif member == "CloseNotification":
            send(new_method_return(msg))
            send(new_signal(emitter, "NotificationClosed", "uu", (msg.body[0], 3)))
        elif member == "GetCapabilities":
            send(new_method_return(msg, "as", (["actions", "body"],)))
        elif member == "GetServerInformation":
            send(new_method_return(msg, "ssss", ("fake", "nightshift tests", "1", "1.2")))
        elif member == "Introspect":
            send(new_method_return(msg, "s", (INTROSPECTION,)))
        else:
            send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (f"no method {member}",)))


class FakeNotificationServer(FakeServiceProcess):
    """Runs this module as a separate process on the bus at `address` and drives it. `notifications` fills
    from a reader thread (the test's Qt loop keeps running while it waits on it)."""

    def __init__(self, address: str) -> None:
        super().__init__("tests.fakes.notification_server", address)
        self.notifications: list[dict[str, Any]] = []
        """Every Notify call answered (or refused: {"refused": signature}), in order."""
        self.answers: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            kind, _, rest = line.strip().partition(" ")
            if kind == "notify":
                self.notifications.append(json.loads(rest))
            else:
                self.answers.append(line.strip())

    def invoke(self, notification_id: int, action: str = "default") -> None:
        """The user clicks the notification (or one of its actions)."""
        self.send_line(f"invoke {notification_id} {action}")

    def dismiss(self, notification_id: int, reason: int = 2) -> None:
        self.send_line(f"close {notification_id} {reason}")

    def close(self) -> None:
        self.stop()
        if hasattr(self, "_reader"):  # not when the process never said `ready`
            self._reader.join(10)  # before the pipe is closed under it
        super().close()


if __name__ == "__main__":
    sys.exit(main())
