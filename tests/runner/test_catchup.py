"""Exact catch-up: every event after the view's cursor, in order, once, whatever the agent does meanwhile."""

from __future__ import annotations

import random
import sys

from runner.runner import Runner
from tests.conftest import TOKEN
from tests.fakes.view_client import ViewClient

PY = sys.executable


def journal_payload_seqs(runner: Runner, sid: str) -> list[int]:
    import sqlite3

    conn = sqlite3.connect(runner.manager.journal.path)
    try:
        return [
            row[0] for row in conn.execute("SELECT seq FROM events WHERE session_id=? ORDER BY seq", (sid,))
        ]
    finally:
        conn.close()


async def make_session(client: ViewClient, argv: list[str]) -> str:
    reply = await client.request({"type": "create", "argv": argv})
    return reply["session"]["id"]


async def test_attach_from_zero_and_from_the_middle_of_10000_events(
    client: ViewClient, runner: Runner
) -> None:
    sid = await make_session(client, [PY, "-c", "for i in range(10000): print(i)"])
    await client.request({"type": "attach", "session": sid})
    await client.wait_status(sid, "exited")
    head = runner.manager.get(sid).committed
    assert client.seqs(sid) == list(range(1, head + 1))

    for after in (0, 4321, head - 1, head):
        view = await ViewClient.open(runner.url, TOKEN)
        try:
            attached = await view.request({"type": "attach", "session": sid, "after": after})
            assert attached == {"type": "attached", "session": sid, "head": head, "re": attached["re"]}
            await view.wait_for(lambda v=view, a=after: (v.seqs(sid)[-1:] or [a])[0] >= head)
            assert view.seqs(sid) == list(range(after + 1, head + 1))
            # Large backlogs go out batched, not one frame per event.
            frames = [f for f in view.frames if f.get("type") in ("event", "events")]
            if head - after > 1000:
                assert len(frames) < (head - after) / 100
        finally:
            await view.close()
    texts = [e["text"] for e in client.events[sid] if e["kind"] == "output"]
    assert texts == [str(i) for i in range(10000)]


async def test_attach_while_the_agent_produces(client: ViewClient, runner: Runner) -> None:
    """Views attach and detach in a loop from random cursors while events are appended continuously."""
    code = (
        "import time\nfor i in range(6000):\n    print(i, flush=True)\n    if i % 50 == 0: time.sleep(0.005)"
    )
    sid = await make_session(client, [PY, "-u", "-c", code])
    rng = random.Random(7)
    checked = 0
    view = await ViewClient.open(runner.url, TOKEN)
    try:
        while runner.manager.get(sid).status == "running" or checked < 3:
            head = runner.manager.get(sid).committed
            after = rng.randint(0, max(head, 0))
            view.events.pop(sid, None)
            await view.request({"type": "attach", "session": sid, "after": after})
            target = runner.manager.get(sid).committed + 20
            try:
                await view.wait_for(lambda t=target: (view.seqs(sid)[-1:] or [0])[0] >= t, timeout=5)
            except TimeoutError:
                pass  # the agent finished before producing 20 more
            seqs = view.seqs(sid)
            assert seqs == list(range(after + 1, after + 1 + len(seqs))), "gap or duplicate"
            await view.request({"type": "detach", "session": sid})
            checked += 1
        # Finally everything, once, matching the journal (the final status event may still be uncommitted).
        await runner.manager.journal.flush()
        view.events.pop(sid, None)
        await view.request({"type": "attach", "session": sid, "after": 0})
        head = runner.manager.get(sid).committed
        await view.wait_for(lambda: (view.seqs(sid)[-1:] or [0])[0] >= head)
        assert view.seqs(sid) == journal_payload_seqs(runner, sid) == list(range(1, head + 1))
    finally:
        await view.close()
    assert checked >= 3


async def test_reattach_after_a_dropped_connection(client: ViewClient, runner: Runner) -> None:
    code = "import time\nfor i in range(400):\n    print(i, flush=True)\n    time.sleep(0.002)"
    sid = await make_session(client, [PY, "-u", "-c", code])
    seen: list[dict] = []
    last = 0
    for _ in range(4):
        view = await ViewClient.open(runner.url, TOKEN)
        await view.request({"type": "attach", "session": sid, "after": last})
        await view.wait_for(
            lambda v=view: len(v.events.get(sid, [])) >= 5 or runner.manager.get(sid).status != "running",
            timeout=10,
        )
        # Drop the TCP connection abruptly, as a sleeping laptop would.
        view.ws.transport.abort()
        await view.closed.wait()
        got = view.events.get(sid, [])
        seen.extend(got)
        if got:
            last = got[-1]["seq"]
    view = await ViewClient.open(runner.url, TOKEN)
    try:
        await view.request({"type": "attach", "session": sid, "after": last})
        await view.wait_status(sid, "exited")
        seen.extend(view.events[sid])
    finally:
        await view.close()
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
    assert [e["text"] for e in seen if e["kind"] == "output"] == [str(i) for i in range(400)]


async def test_two_views_see_the_same_history(client: ViewClient, runner: Runner) -> None:
    other = await ViewClient.open(runner.url, TOKEN)
    try:
        sid = await make_session(client, [PY, "-c", "for i in range(3000): print(i)"])
        await client.request({"type": "attach", "session": sid})
        await client.wait_for(lambda: len(client.events.get(sid, [])) > 0)  # the second view joins mid-stream
        await other.request({"type": "attach", "session": sid, "after": 0})
        await client.wait_status(sid, "exited")
        await other.wait_status(sid, "exited")
        assert client.events[sid] == other.events[sid]
    finally:
        await other.close()
