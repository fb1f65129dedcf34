"""runner/server.py: one ordered writer per view, and its bound on what a view lets pile up."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from runner.runner import Runner
from tests.conftest import TOKEN
from tests.fakes.view_client import ViewClient


async def test_attached_and_events_keep_their_place_behind_replies_already_queued(
    runner: Runner, client: ViewClient, tmp_path: Path
) -> None:
    # Replies of about 1 MB each keep the view's writer busy for a while; an `attach` sent behind them is answered
    # behind them, and its events after its `attached`, whatever the follower is quick to find.
    created = await client.request({"type": "create", "argv": [sys.executable, "-c", "print('hello')"],
                                    "cwd": str(tmp_path), "title": "t" * 1_000_000})
    sid = created["session"]["id"]
    frames = [{"type": "get", "session": sid, "id": f"get-{i}"} for i in range(10)]
    frames.append({"type": "attach", "session": sid, "after": 0, "id": "attach"})
    frames.append({"type": "ping", "id": "ping"})
    for frame in frames:
        await client.send_raw(json.dumps(frame))
    await client.wait_for(lambda: any(f.get("re") == "ping" for f in client.frames), 60)
    await client.wait_status(sid, "exited", timeout=60)
    order = [f.get("re") or f["type"] for f in client.frames if f.get("re") in {m["id"] for m in frames}
             or (f.get("session") == sid and f["type"] in ("event", "events"))]
    replies = [r for r in order if r not in ("event", "events")]
    assert replies == [m["id"] for m in frames]  # in request order
    assert order.index("attach") < order.index("event" if "event" in order else "events")


async def test_a_view_that_does_not_read_is_disconnected_and_the_runner_keeps_serving(
    runner: Runner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "runner.server")
    view = await ViewClient.open(runner.url, TOKEN)
    created = await view.request({"type": "create", "argv": [sys.executable, "-c", "pass"], "cwd": str(tmp_path),
                                  "title": "t" * 200_000})
    sid = created["session"]["id"]
    await view.close()
    # A raw client that sends and never reads: its socket, then the runner's write buffer, then the reply queue fill.
    silent = await connect(runner.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, proxy=None,
                           max_size=None, max_queue=1)
    try:
        frame = json.dumps({"type": "get", "session": sid})
        for _ in range(600):  # 600 replies of 200 kB: far beyond the 16 MiB bound
            await silent.send(frame)

        async def dropped() -> None:
            while runner.server.views:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(dropped(), 60)
    finally:
        silent.transport.abort()
    assert any("not reading its replies" in r.getMessage() for r in caplog.records)
    other = await ViewClient.open(runner.url, TOKEN)  # everybody else is served as before
    try:
        assert (await other.request({"type": "get", "session": sid}))["session"]["id"] == sid
    finally:
        await other.close()
