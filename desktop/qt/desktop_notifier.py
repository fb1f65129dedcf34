"""Where notifications go: the tray's balloon, the desktop's notification service over D-Bus, or the log.

`Notifier` is what the app holds: `show(title, body, runner, session_id)`, and `clicked(runner, session_id)` when
the user clicks a notification (the app then opens that session). `make_notifier` picks the backend: the tray
where there is one; otherwise, on Linux with a session bus, the freedesktop notification service
(`org.freedesktop.Notifications`, which every desktop provides, trays or not: GNOME has none); otherwise the
log. A backend that cannot show a notification hands it to its fallback, and the last fallback is the log: a
notification is never dropped silently.

The D-Bus backend speaks D-Bus through jeepney (pure Python, installed with keyring on Linux) rather than
QtDBus: Notify takes a uint32 (`replaces_id`), and PySide6 turns a Python int into an int32 (or, through
QDBusArgument, a uint16), which every notification server refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from desktop.qt.tray import Tray

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
DEFAULT_ACTION = "default"
"""The action a click on the notification itself invokes (the freedesktop notification spec)."""
CALL_TIMEOUT_S = 10.0
KEEP_SHOWN = 256
"""Notifications remembered for a click; a server that never says one was closed cannot grow this forever."""


class Notifier(QObject):
    """Shows a notification about a session; `clicked` when the user clicks one."""

    clicked = Signal(str, str)  # runner (the notification's journal key), session id

    def show(self, title: str, body: str, runner: str, session_id: str) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Let go of what it holds (a bus connection). Notifications shown afterwards are only logged."""


class LogNotifier(Notifier):
    """No tray and no notification service: the log is the last place a notification goes."""

    def show(self, title: str, body: str, runner: str, session_id: str) -> None:
        log.info("notification (%s, %s): %s: %s", runner, session_id, title, body)


class TrayNotifier(Notifier):
    """The tray icon's balloon. QSystemTrayIcon shows one message at a time and reports a click without saying
    on which: it is the last one shown. Where the tray cannot show messages, `fallback` shows them."""

    def __init__(self, tray: Tray, fallback: Notifier | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tray = tray
        self.fallback = fallback if fallback is not None else LogNotifier(self)
        self.fallback.clicked.connect(self.clicked)
        self._last: tuple[str, str] | None = None
        tray.icon.messageClicked.connect(self._message_clicked)

    def show(self, title: str, body: str, runner: str, session_id: str) -> None:
        self._last = (runner, session_id)
        if not self.tray.show_message(title, body):
            self.fallback.show(title, body, runner, session_id)

    def _message_clicked(self) -> None:
        if self._last is not None:
            self.clicked.emit(*self._last)

    async def close(self) -> None:
        await self.fallback.close()


class FreedesktopNotifier(Notifier):
    """org.freedesktop.Notifications on the session bus (`bus_address` None: $DBUS_SESSION_BUS_ADDRESS).

    Each notification offers the "default" action, so a click on it sends ActionInvoked(id, "default") back;
    NotificationClosed(id, reason) forgets it. The connection is opened at the first notification (no bus I/O
    at start-up) and again after the bus went away; a notification the service refuses, or that cannot reach
    it, is logged (`fallback`)."""

    def __init__(self, bus_address: str | None = None, parent: QObject | None = None,
                 fallback: Notifier | None = None, app_name: str = "Nightshift") -> None:
        super().__init__(parent)
        self.bus_address = bus_address
        self.app_name = app_name
        self.fallback = fallback if fallback is not None else LogNotifier(self)
        self.closed = False
        self.shown: OrderedDict[int, tuple[str, str]] = OrderedDict()
        """Notification id (the server's) → (runner, session), until the server says it closed."""
        self._conn: Any = None  # jeepney.io.asyncio.DBusConnection once connected
        self._connecting: asyncio.Future[Any] | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._replies: dict[int, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def show(self, title: str, body: str, runner: str, session_id: str) -> None:
        if self.closed:
            self.fallback.show(title, body, runner, session_id)
            return
        task = asyncio.ensure_future(self._show(title, body, runner, session_id))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("showing a notification failed", exc_info=task.exception())

    async def _show(self, title: str, body: str, runner: str, session_id: str) -> None:
        from jeepney import DBusAddress, MessageType, new_method_call

        notify = new_method_call(DBusAddress(PATH, bus_name=SERVICE, interface=INTERFACE), "Notify",
                                 "susssasa{sv}i", (self.app_name, 0, "", title, body,
                                                   [DEFAULT_ACTION, "Open"],
                                                   {"desktop-entry": ("s", "nightshift")}, -1))
        try:
            reply = await self._call(notify)
            if reply.header.message_type == MessageType.error:
                raise ConnectionError(f"the notification service refused it: {reply.body}")
        except Exception as exc:  # no bus, refused, timed out, an address jeepney cannot use: the log has it
            log.warning("desktop notification not shown (%r)", exc)
            self.fallback.show(title, body, runner, session_id)
            return
        self.shown[int(reply.body[0])] = (runner, session_id)
        while len(self.shown) > KEEP_SHOWN:
            self.shown.popitem(last=False)

    async def _call(self, message: Any) -> Any:
        """Send a method call and wait for its reply (or error) on our receive loop."""
        conn = await self._connected()
        serial = next(conn.outgoing_serial)
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._replies[serial] = reply
        try:
            await conn.send(message, serial=serial)
            return await asyncio.wait_for(reply, CALL_TIMEOUT_S)
        finally:
            self._replies.pop(serial, None)

    async def _connected(self) -> Any:
        if self.closed:
            raise ConnectionError("closed")
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        try:
            return await asyncio.shield(self._connecting)
        except BaseException:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None  # the next notification tries again
            raise

    async def _connect(self) -> Any:
        from jeepney import MessageType
        from jeepney.bus_messages import MatchRule, message_bus
        from jeepney.io.asyncio import open_dbus_connection

        conn = await asyncio.wait_for(open_dbus_connection(self.bus_address or "SESSION"), CALL_TIMEOUT_S)
        if self.closed:
            await conn.close()
            raise ConnectionError("closed")
        self._conn = conn
        self._receiver = asyncio.ensure_future(self._receive(conn))
        rule = MatchRule(type="signal", sender=SERVICE, interface=INTERFACE, path=PATH)
        serial = next(conn.outgoing_serial)
        added: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._replies[serial] = added
        try:
            await conn.send(message_bus.AddMatch(rule), serial=serial)
            reply = await asyncio.wait_for(added, CALL_TIMEOUT_S)
        finally:
            self._replies.pop(serial, None)
        if reply.header.message_type == MessageType.error:
            raise ConnectionError(f"cannot listen to {INTERFACE}: {reply.body}")
        return conn

    async def _receive(self, conn: Any) -> None:
        """Every message of our connection: replies to our calls, and the service's signals."""
        try:
            while True:
                self._dispatch(await conn.receive())
        except Exception as exc:  # the bus went away (EOFError, OSError) or sent what jeepney cannot parse
            if not self.closed:
                log.warning("the session bus connection for notifications ended (%r)", exc)
        finally:
            for reply in self._replies.values():
                if not reply.done():
                    reply.set_exception(ConnectionError("the session bus connection ended"))
            self._replies.clear()
            if self._conn is conn:
                self._conn = None
                self._connecting = None  # the next notification reconnects
                with contextlib.suppress(Exception):
                    conn.writer.close()

    def _dispatch(self, message: Any) -> None:
        from jeepney import HeaderFields, MessageType

        header = message.header
        if header.message_type in (MessageType.method_return, MessageType.error):
            reply = self._replies.get(header.fields.get(HeaderFields.reply_serial, -1))
            if reply is not None and not reply.done():
                reply.set_result(message)
            return
        if header.message_type != MessageType.signal or header.fields.get(HeaderFields.interface) != INTERFACE:
            return
        member = header.fields.get(HeaderFields.member)
        if member == "ActionInvoked" and len(message.body) == 2:
            notification_id, action = message.body
            session = self.shown.get(notification_id)
            if session is not None and action == DEFAULT_ACTION:
                self.clicked.emit(*session)
        elif member == "NotificationClosed" and message.body:
            self.shown.pop(message.body[0], None)

    async def close(self) -> None:
        self.closed = True
        conn = self._conn
        tasks = [*self._tasks, *([self._receiver] if self._receiver is not None else [])]
        if self._connecting is not None and not self._connecting.done():
            tasks.append(self._connecting)  # type: ignore[arg-type]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        conn = conn or self._conn
        self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                await conn.close()
        await self.fallback.close()


def session_bus_configured() -> bool:
    """A freedesktop session bus to try: Linux (and the BSDs) with DBUS_SESSION_BUS_ADDRESS set. Without the
    variable nothing is tried: libdbus's fallback would start a bus of its own."""
    return sys.platform not in ("darwin", "win32") and bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS"))


def make_notifier(tray: Tray | None, *, bus_address: str | None = None,
                  parent: QObject | None = None) -> Notifier:
    """The tray where there is one (the desktop's service, then the log, where it cannot show a message); else
    the desktop's notification service where there is a session bus; else the log."""
    desktop: Notifier | None = None
    if bus_address is not None or session_bus_configured():
        desktop = FreedesktopNotifier(bus_address, parent)
    if tray is not None:
        return TrayNotifier(tray, desktop, parent)
    return desktop if desktop is not None else LogNotifier(parent)
