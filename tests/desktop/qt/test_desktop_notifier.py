"""Notifications through the tray, the desktop's notification service (freedesktop, over a real session bus with
a fake server on it) or the log; a click on one opens its session, on whichever runner it belongs to."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.qt.desktop_notifier import (
    FreedesktopNotifier,
    LogNotifier,
    TrayNotifier,
    make_notifier,
)
from desktop.qt.tray import Tray
from tests.conftest import TOKEN, HeadlessRunner
from tests.desktop.qt.helpers import until
from tests.fakes.dbus_bus import session_bus
from tests.fakes.notification_server import FakeNotificationServer
from tests.fakes.view_client import ViewClient

NO_TRAY = pytest.mark.qt_log_ignore(r"No such signal QPlatformNativeInterface::systemTrayWindowChanged")
"""Offscreen has no tray: Qt says so when a tray icon is built anyway."""
WAITER = [sys.executable, "-u", "-c", "import sys\nprint('up')\nsys.stdin.readline()"]
"""A job that ends when sent a line."""


@pytest.fixture
def bus() -> Iterator[str]:
    with session_bus() as address:
        yield address


@pytest.fixture
def server(bus: str) -> Iterator[FakeNotificationServer]:
    fake = FakeNotificationServer(bus)
    try:
        yield fake
    finally:
        fake.close()


def test_a_notification_reaches_the_service_and_its_click_comes_back(
        run: Any, bus: str, server: FakeNotificationServer) -> None:
    async def scenario() -> None:
        notifier = FreedesktopNotifier(bus)
        clicks: list[tuple[str, str]] = []
        notifier.clicked.connect(lambda runner, sid: clicks.append((runner, sid)))
        try:
            notifier.show("job finished", "Exit code 0.", "runner-a", "s-1")
            notifier.show("other failed", "The agent stopped with an error.", "runner-b", "s-2")
            await until(lambda: len(server.notifications) == 2 and len(notifier.shown) == 2, 30, "two Notify calls")
            first, second = server.notifications
            assert {k: first[k] for k in ("app_name", "replaces_id", "summary", "body", "actions")} == {
                "app_name": "Nightshift", "replaces_id": 0, "summary": "job finished", "body": "Exit code 0.",
                "actions": ["default", "Open"]}
            assert second["summary"] == "other failed"
            # A click on the first one: that session, not the last one shown.
            server.invoke(first["id"])
            await until(lambda: clicks == [("runner-a", "s-1")], 30, "the click")
            # Closed by the user: forgotten, and an action invoked on it afterwards opens nothing.
            server.dismiss(second["id"])
            await until(lambda: second["id"] not in notifier.shown, 30, "the closed notification forgotten")
            server.invoke(second["id"])
            server.invoke(first["id"])
            await until(lambda: len(clicks) == 2, 30, "the second click")
            assert clicks == [("runner-a", "s-1")] * 2
        finally:
            await notifier.close()

    run(scenario())


def test_without_a_service_a_notification_is_logged(run: Any, bus: str, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        notifier = FreedesktopNotifier(bus)
        try:
            with caplog.at_level(logging.INFO, logger="desktop.qt.desktop_notifier"):
                notifier.show("job finished", "Exit code 0.", "r", "s-1")
                await until(lambda: "job finished: Exit code 0." in caplog.text, 30, "the notification logged")
            assert notifier.shown == {}
        finally:
            await notifier.close()

    run(scenario())


@NO_TRAY
def test_the_tray_first_then_the_desktop_service_then_the_log(qapp: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert type(make_notifier(None)) is LogNotifier
    assert type(make_notifier(None, bus_address="unix:path=/nonexistent")) is FreedesktopNotifier
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    tray = Tray()
    try:
        notifier = make_notifier(tray)
        assert type(notifier) is TrayNotifier and type(notifier.fallback) is FreedesktopNotifier
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
        assert type(make_notifier(tray).fallback) is LogNotifier  # type: ignore[attr-defined]
    finally:
        tray.hide()


async def _create_on(url: str, argv: list[str], title: str) -> str:
    """A session made by another view of that runner (the app shows another runner)."""
    client = await ViewClient.open(url, TOKEN)
    try:
        await client.request({"type": "hello", "protocol": 1})
        reply = await client.request({"type": "create", "agent": "command", "argv": argv, "title": title})
        return str(reply["session"]["id"])
    finally:
        await client.close()


async def _send_line(url: str, session_id: str) -> None:
    client = await ViewClient.open(url, TOKEN)
    try:
        await client.request({"type": "hello", "protocol": 1})
        await client.request({"type": "send", "session": session_id, "text": "\n", "client_msg_id": "end"})
    finally:
        await client.close()


@pytest.fixture
def two_runners(tmp_path: Path) -> Iterator[tuple[str, str]]:
    first, second = HeadlessRunner(str(tmp_path / "one")), HeadlessRunner(str(tmp_path / "two"))
    try:
        yield first.start(), second.start()
    finally:
        first.release()
        second.release()


def test_a_click_on_a_desktop_notification_opens_its_session_on_the_other_runner(
        run: Any, make_app: Any, bus: str, server: FakeNotificationServer, two_runners: tuple[str, str]) -> None:
    first_url, second_url = two_runners

    async def scenario() -> None:
        app = make_app(runner_urls=[first_url, second_url], token=TOKEN, notifier=FreedesktopNotifier(bus))
        await app.start()
        await until(lambda: set(app.runners) == {first_url, second_url}
                    and all(h.core.listed for h in app.runners.values()), 60, "both runners listed")
        assert app.runner_key == first_url and not app.window.isVisible()
        sid = await _create_on(second_url, WAITER, "job")
        other = app.runners[second_url]
        await until(lambda: sid in other.core.sessions and other.core.sessions[sid].status == "running", 60,
                    "the job running on the second runner")
        await _send_line(second_url, sid)  # it ends: nobody is watching (the window is not even shown)
        await until(lambda: len(server.notifications) == 1, 60, "the desktop notification")
        shown = server.notifications[0]
        assert (shown["summary"], shown["body"]) == ("job finished", "Exit code 0.")

        server.invoke(shown["id"])
        await until(lambda: app.runner_key == second_url and app.window.current == sid, 60,
                    "the second runner shown with the job selected")
        assert app.window.isVisible()
        assert app.window.sessions_view.currentIndex().row() == app.window.sessions_model.row_of(sid)

    run(scenario())


@NO_TRAY
def test_a_click_on_the_tray_message_opens_its_session(run: Any, make_app: Any,
                                                       two_runners: tuple[str, str]) -> None:
    first_url, second_url = two_runners

    async def scenario() -> None:
        app = make_app(runner_urls=[first_url, second_url], token=TOKEN)
        tray = app.install_tray()  # offscreen has no tray: built anyway
        app.set_notifier(TrayNotifier(tray, parent=app))
        await app.start()
        await until(lambda: set(app.runners) == {first_url, second_url}
                    and all(h.core.listed for h in app.runners.values()), 60, "both runners listed")
        sid = await _create_on(second_url, WAITER, "job")
        await until(lambda: sid in app.runners[second_url].core.sessions, 60, "the job listed")
        told: list[str] = []
        app.notified.connect(lambda title, _body: told.append(title))
        await _send_line(second_url, sid)
        await until(lambda: told == ["job finished"], 60, "the notification")
        tray.icon.messageClicked.emit()
        await until(lambda: app.runner_key == second_url and app.window.current == sid, 60,
                    "the second runner shown with the job selected")
        assert app.window.isVisible()

    run(scenario())
