"""Chaos on the desktop side (issue 9 items 1 and 10): the outbox against a flapping link, a view dropped
without a word, and kill -9 of the real app process, each time with a real headless runner.

The invariant: every message the user sent is journaled exactly once, in the order it was typed.

These run for seconds. `NIGHTSHIFT_CHAOS_LONG=1` runs the long variants (more messages, more cuts, more kills).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from desktop.connection import RunnerConnection
from desktop.core.backoff import Backoff
from desktop.core.outbox import Outbox, OutboxItem, OutboxState
from desktop.core.view import ViewCore
from desktop.outbox_store import FileOutboxStore
from tests.conftest import TOKEN, HeadlessRunner
from tests.desktop.qt.helpers import ConnectionLog, CutProxy
from tests.fakes.view_client import ViewClient

LONG = os.environ.get("NIGHTSHIFT_CHAOS_LONG") == "1"
REPO = Path(__file__).resolve().parents[2]
# A program that reads its stdin and prints nothing: the journal then holds only the user events.
CONSUMER = [sys.executable, "-u", "-c", "import sys\nfor _ in sys.stdin: pass"]


class Journal:
    """A raw view attached to one session, counting the `user` events the runner journals."""

    def __init__(self, client: ViewClient, session: str) -> None:
        self.client = client
        self.session = session

    @classmethod
    async def open(cls, url: str) -> tuple[Journal, str]:
        client = await ViewClient.open(url, TOKEN)
        await client.request({"type": "hello", "protocol": 1})
        created = await client.request({"type": "create", "argv": CONSUMER, "title": "chaos", "cwd": str(REPO)})
        session = created["session"]["id"]
        await client.request({"type": "attach", "session": session, "after": 0})
        return cls(client, session), session

    def users(self) -> list[dict[str, Any]]:
        return [e for e in self.client.events.get(self.session, []) if e["kind"] == "user"]

    async def wait_users(self, count: int, timeout: float) -> None:
        await self.client.wait_for(lambda: len(self.users()) >= count, timeout)

    def check(self, expected: list[OutboxItem]) -> dict[str, int]:
        """Exactly once, in order; returns the figures (lost, duplicated)."""
        users = self.users()
        seen = Counter(e.get("client_msg_id") for e in users)
        wanted = {i.client_msg_id for i in expected}
        figures = {"messages": len(expected), "journaled": len(users),
                   "lost": sum(1 for cmid in wanted if seen[cmid] == 0),
                   "duplicated": sum(n - 1 for cmid, n in seen.items() if n > 1)}
        assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
        assert [(e["client_msg_id"], e["text"]) for e in users] == [(i.client_msg_id, i.text) for i in expected]
        seqs = [e["seq"] for e in self.client.events[self.session]]
        assert seqs == list(range(1, len(seqs) + 1))
        return figures

    async def close(self) -> None:
        await self.client.close()


async def test_a_flapping_link_and_a_dropped_view_deliver_every_outbox_message_once_in_order(
        headless: HeadlessRunner, tmp_path: Path) -> None:
    count = 5000 if LONG else 1000
    rng = random.Random(9)
    url = headless.start()
    journal, session = await Journal.open(url)
    port = int(url.rsplit(":", 1)[1].strip("/"))
    proxy = CutProxy(port)
    await proxy.start()
    folder = tmp_path / "outbox"
    views: list[tuple[ViewCore, RunnerConnection]] = []
    log = ConnectionLog()

    def new_view() -> tuple[ViewCore, RunnerConnection]:
        # A settled item is written to disk only a while later (never, here): after a crash the next view finds
        # every message again and resends it; the runner must answer those as duplicates.
        core = ViewCore(outbox=Outbox(FileOutboxStore(folder, proxy.url, delay=3600)))
        connection = RunnerConnection(proxy.url, TOKEN, core, backoff=Backoff(base=0.01, cap=0.05),
                                      observer=log)
        connection.start()
        views.append((core, connection))
        return core, connection

    cuts = 0
    flapping = True

    async def flap() -> None:
        nonlocal cuts
        while flapping:
            await asyncio.sleep(rng.uniform(0.02, 0.15))
            await proxy.cut()
            cuts += 1
            await asyncio.sleep(rng.uniform(0.0, 0.05))
            await restore(proxy)

    flapper = asyncio.create_task(flap())
    sent: list[OutboxItem] = []
    try:
        _core, connection = new_view()
        for n in range(count):
            # Typed in bursts: the core queues each, the connection writes a burst (one write to disk).
            sent.append(connection.core.send_text(session, f"message {n}\n"))
            if n % 50 == 49:
                connection.flush()
                await asyncio.sleep(rng.uniform(0.0, 0.03))
            if n == count // 2 - 1:
                # The app dies here, between two turns of its loop: no clean close, nothing flushed; its socket
                # just goes away.
                connection._abort_socket()
                connection._supervisor.cancel()  # type: ignore[union-attr]
                _core, connection = new_view()
        try:
            await journal.wait_users(count, 240 if LONG else 120)
        except TimeoutError:
            states = Counter(i.state.value for i in connection.core.outbox)
            raise AssertionError(f"{len(journal.users())} of {count} journaled; outbox {dict(states)}; "
                                 f"status {connection.core.status}; cuts {cuts}; flapper {flapper}") from None
        flapping = False
        await flapper
        await asyncio.sleep(0.5)  # a late duplicate would show up now
        figures = journal.check(sent)
        print(f"\nflapping link: {figures} cuts={cuts} views=2 connections={log.opened}")
        assert cuts >= 5
    finally:
        flapping = False
        flapper.cancel()
        for _core, conn in views:
            await conn.close()
        await proxy.close()
        await journal.close()


async def restore(proxy: CutProxy) -> None:
    """Listen again on the same port (the URL is the outbox's key). While it was closed, another process on
    this busy machine may have used the port for a moment: try again rather than end the flapping cut."""
    deadline = time.monotonic() + 30
    while True:
        try:
            await proxy.restore()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def _app_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "NIGHTSHIFT_TOKEN": TOKEN, "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data-home"),
           "XDG_STATE_HOME": str(tmp_path / "state-home"), "XDG_CACHE_HOME": str(tmp_path / "cache-home"),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "PYTHONPATH": str(REPO)}
    env.pop("NIGHTSHIFT_DATA_DIR", None)
    return env


def _start_app(url: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "desktop", "--runner", url, "--log-level", "INFO"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


async def test_kill_9_of_the_real_app_mid_send_then_a_restart_delivers_everything_once(
        headless: HeadlessRunner, tmp_path: Path) -> None:
    """`nightshift --runner URL` with 1,000 messages in its outbox on disk (typed while offline, say), killed
    with SIGKILL at random points while it sends them, then started again."""
    count = 3000 if LONG else 1000
    kills_wanted = 10 if LONG else 3
    rng = random.Random(16)
    url = headless.start()
    journal, session = await Journal.open(url)
    env = _app_env(tmp_path)
    folder = tmp_path / "config" / "nightshift" / "outbox"
    seed = Outbox(FileOutboxStore(folder, url))
    sent = [OutboxItem(f"c-seed-{n}", session, f"typed offline {n}\n") for n in range(count)]
    seed._items = {i.client_msg_id: i for i in sent}  # one write for the lot, not one per message
    seed._save(urgent=True)
    log = tmp_path / "app.log"
    kills = 0
    app: subprocess.Popen[bytes] | None = None
    try:
        while kills < kills_wanted:
            before = len(journal.users())
            app = _start_app(url, env, log)
            # Somewhere in the middle of what is left (or, once all is in, a while after the start).
            target = min(count, before + rng.randint(1, max(1, (count - before) // 2)))
            deadline = time.monotonic() + 60
            while len(journal.users()) < target and time.monotonic() < deadline and app.poll() is None:
                await asyncio.sleep(0.001)
            assert app.poll() is None, log.read_text()
            app.send_signal(signal.SIGKILL)
            app.wait(30)
            kills += 1
            files = list(folder.glob("*.json"))
            assert files, "the outbox must still be on disk after a kill -9"
        connected = log.read_text(errors="replace").count("connected to ")
        app = _start_app(url, env, log)
        await journal.wait_users(count, 120)
        deadline = time.monotonic() + 60
        while log.read_text(errors="replace").count("connected to ") == connected:
            assert time.monotonic() < deadline and app.poll() is None, "the app never connected"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        figures = journal.check(sent)
        app.send_signal(signal.SIGTERM)
        assert app.wait(60) == 0
        text = log.read_text(errors="replace")
        assert "desktop.unhandled" not in text and "Traceback" not in text, text[-3000:]
        print(f"\nkill -9 of the app: {figures} kills={kills}")
    finally:
        if app is not None and app.poll() is None:
            app.kill()
            app.wait(30)
        await journal.close()


class RestartableRunner:
    """`nightshift-runner` as a subprocess that can be killed with SIGKILL and started again on its port."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.env = env
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runner", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("listening on ws://"), line
        url = line.split()[-1]
        self.port = int(url.rsplit(":", 1)[1].strip("/"))
        return url

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


async def test_a_runner_killed_right_after_its_sent_reply_loses_no_message(tmp_path: Path) -> None:
    """kill -9 of the runner the instant its `sent` reply reaches the view. A runner that replied before its
    commit has lost the message; the view still has it (only the journal settles it), sends it again after
    the restart, and it is journaled once."""
    tries = 20 if LONG else 6
    env = {**os.environ, "NIGHTSHIFT_TOKEN": TOKEN,
           "NIGHTSHIFT_CLAUDE_PATH": str(REPO / "tests" / "fakes" / "fake_claude.py")}
    runner = RestartableRunner(tmp_path / "runner-data", env)
    url = runner.start()
    setup = await ViewClient.open(url, TOKEN)
    await setup.request({"type": "hello", "protocol": 1})
    # A Claude Code session (the fake CLI) takes messages again after a runner restart; a command would not.
    session = (await setup.request({"type": "create", "agent": "claude", "cwd": str(tmp_path)}))["session"]["id"]
    await setup.close()

    class KillOnSent:
        def __init__(self) -> None:
            self.armed: OutboxItem | None = None
            self.kills = 0

        def outbox_changed(self, _session: str) -> None:
            item = self.armed
            if item is not None and (item.state is OutboxState.DELIVERED
                                     or item not in list(core.outbox)):
                self.armed = None
                runner.kill()  # synchronously, before anything else runs
                self.kills += 1

        def __getattr__(self, name: str) -> Any:
            return lambda *args, **kwargs: None

    listener = KillOnSent()
    core = ViewCore(listener, outbox=Outbox(FileOutboxStore(tmp_path / "outbox", url)))  # type: ignore[arg-type]
    connection = RunnerConnection(url, TOKEN, core, backoff=Backoff(base=0.05, cap=0.2))
    connection.start()
    sent: list[OutboxItem] = []
    try:
        for n in range(tries):
            sent.append(connection.send_text(session, f"try {n}"))
            listener.armed = sent[-1]
            deadline = time.monotonic() + 60
            while listener.armed:
                assert time.monotonic() < deadline, "no `sent` reply"
                await asyncio.sleep(0.001)
            runner.start()
        # One more connection settles whatever is still only acknowledged (a duplicate answer).
        deadline = time.monotonic() + 60
        while len(core.outbox):
            assert time.monotonic() < deadline, [i.state for i in core.outbox]
            await asyncio.sleep(0.02)
            if core.status.phase.value == "live" and len(core.outbox):
                connection.reconnect_now("settle")
                await asyncio.sleep(0.2)
        check = await ViewClient.open(url, TOKEN)
        await check.request({"type": "hello", "protocol": 1})
        attached = await check.request({"type": "attach", "session": session, "after": 0})
        await check.wait_for(lambda: len(check.events.get(session, [])) >= attached["head"], 60)
        users = [e for e in check.events[session] if e["kind"] == "user"]
        await check.close()
        seen = Counter(e["client_msg_id"] for e in users)
        figures = {"tries": tries, "kills": listener.kills,
                   "lost": sum(1 for i in sent if seen[i.client_msg_id] == 0),
                   "duplicated": sum(n - 1 for n in seen.values() if n > 1)}
        print(f"\nrunner killed on `sent`: {figures}")
        assert figures["lost"] == 0 and figures["duplicated"] == 0, figures
        assert [e["client_msg_id"] for e in users] == [i.client_msg_id for i in sent]
    finally:
        await connection.close()
        runner.kill()
