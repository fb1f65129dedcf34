"""Notified of what happened while away: against a real headless runner, across app restarts."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from desktop.settings import SettingsStore
from tests.conftest import TOKEN
from tests.desktop.qt.helpers import until
from tests.fakes.view_client import ViewClient


async def runner_status(url: str, session_id: str) -> str:
    client = await ViewClient.open(url, TOKEN)
    try:
        await client.request({"type": "hello", "protocol": 1})
        listed = await client.request({"type": "list"})
        return next(s["status"] for s in listed["sessions"] if s["id"] == session_id)
    finally:
        await client.close()


def test_a_session_that_ended_while_the_app_was_closed_is_told_once(run: Any, make_app: Any, headless: Any,
                                                                    tmp_path: Path) -> None:
    url = headless.start()
    release = tmp_path / "release"
    # Runs until the test creates `release`: it ends while no app is connected.
    waiter = [sys.executable, "-u", "-c",
              f"import os, time\nwhile not os.path.exists({str(release)!r}): time.sleep(0.05)\nprint('done')"]
    settings_path = tmp_path / "config" / "settings.json"

    async def started() -> tuple[Any, list[str]]:
        app = make_app(url, TOKEN, settings=SettingsStore(settings_path))
        told: list[str] = []
        app.notified.connect(lambda title, _body: told.append(title))
        await app.start()
        await until(lambda: app.core.listed and app.core.status.phase.name == "LIVE", 60, "live and listed")
        return app, told

    async def scenario() -> None:
        app, told = await started()
        sid = await app.create_session({"argv": waiter, "title": "job"})
        assert sid is not None
        await until(lambda: app.core.sessions[sid].status == "running", 60, "running")
        await app.shutdown()

        release.touch()
        for _ in range(600):
            if await runner_status(url, sid) == "exited":
                break
            await asyncio.sleep(0.05)
        assert await runner_status(url, sid) == "exited"

        app, told = await started()
        await until(lambda: app.core.sessions[sid].status == "exited", 60, "the ended session listed")
        await until(lambda: told == ["job finished"], 30, "one notification")
        await app.shutdown()
        assert told == ["job finished"]

        # Restarted again: the list is handled as soon as it arrives; nothing is told twice.
        app, told = await started()
        assert app.core.sessions[sid].status == "exited"
        await app.shutdown()
        assert told == []

    run(scenario())


async def runner_session(url: str, session_id: str) -> dict[str, Any]:
    client = await ViewClient.open(url, TOKEN)
    try:
        await client.request({"type": "hello", "protocol": 1})
        return dict((await client.request({"type": "get", "session": session_id}))["session"])
    finally:
        await client.close()


def test_a_whole_turn_run_while_the_app_was_closed_is_told_once_and_a_live_one_not_again(
        run: Any, make_app: Any, headless: Any, claude_fake: Path, tmp_path: Path) -> None:
    url = headless.start()  # its agent sessions run the fake Claude CLI (claude_fake set the variable first)
    settings_path = tmp_path / "config" / "settings.json"

    async def started() -> tuple[Any, list[str]]:
        app = make_app(url, TOKEN, settings=SettingsStore(settings_path))
        told: list[str] = []
        app.notified.connect(lambda title, _body: told.append(title))
        await app.start()
        await until(lambda: app.core.listed and app.core.status.phase.name == "LIVE", 60, "live and listed")
        return app, told

    async def scenario() -> None:
        app, told = await started()
        sid = await app.create_session({"agent": "claude", "title": "chat", "cwd": str(tmp_path)})
        assert sid is not None
        await until(lambda: app.core.sessions[sid].status == "idle", 60, "idle")
        app.send(sid, "first")  # a live turn: told as it ends (the window is not shown), and only then
        await until(lambda: told == ["chat finished its turn"], 60, "the live turn told")
        await app.shutdown()
        app, told = await started()
        assert app.core.sessions[sid].status == "idle"
        await app.shutdown()
        assert told == []

        # Closed; another view has the agent run a whole turn: idle before and after.
        before = (await runner_session(url, sid))["turn_ended"]
        client = await ViewClient.open(url, TOKEN)
        try:
            await client.request({"type": "hello", "protocol": 1})
            await client.request({"type": "send", "session": sid, "text": "second", "client_msg_id": "away"})
        finally:
            await client.close()
        for _ in range(1200):
            session = await runner_session(url, sid)
            if session["status"] == "idle" and session["turn_ended"] != before:
                break
            await asyncio.sleep(0.05)
        assert session["status"] == "idle" and session["turn_ended"] > before

        app, told = await started()
        await until(lambda: told == ["chat finished its turn"], 30, "the turn run while away told")
        await app.shutdown()
        app, told = await started()
        await app.shutdown()
        assert told == []

    run(scenario())
