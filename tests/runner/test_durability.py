"""The journal survives restarts and kill -9; sessions of a dead runner are never left 'running'."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys

from tests.conftest import TOKEN, HeadlessRunner
from tests.fakes.view_client import ViewClient

PY = sys.executable


def journal_rows(data_dir: str) -> dict[str, list[dict]]:
    import json

    conn = sqlite3.connect(f"{data_dir}/journal.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        out: dict[str, list[dict]] = {}
        for sid, payload in conn.execute("SELECT session_id, payload FROM events ORDER BY session_id, seq"):
            out.setdefault(sid, []).append(json.loads(payload))
        return out
    finally:
        conn.close()


async def test_sessions_and_transcripts_survive_a_restart(headless: HeadlessRunner) -> None:
    url = headless.start()
    view = await ViewClient.open(url, TOKEN)
    done = (
        await view.request(
            {"type": "create", "argv": [PY, "-c", "print('one'); print('two')"], "title": "finished"}
        )
    )["session"]["id"]
    live = (
        await view.request(
            {
                "type": "create",
                "argv": [PY, "-u", "-c", "import time\nprint('up')\ntime.sleep(300)"],
                "title": "long",
            }
        )
    )["session"]["id"]
    await view.request({"type": "send", "session": live, "text": "x\n", "client_msg_id": "cm-1"})
    await view.request({"type": "attach", "session": done})
    await view.wait_status(done, "exited")
    await view.request({"type": "attach", "session": live})
    await view.wait_for(lambda: "up" in view.texts(live))
    await view.close()
    assert headless.stop() == 0  # SIGTERM: graceful, agents stopped, exit 0

    url = headless.start()
    view = await ViewClient.open(url, TOKEN)
    try:
        sessions = {s["title"]: s for s in (await view.request({"type": "list"}))["sessions"]}
        assert sessions["finished"]["status"] == "exited"
        assert sessions["long"]["status"] == "exited"  # stopped cleanly by the shutdown
        await view.request({"type": "attach", "session": done})
        await view.wait_status(done, "exited")
        assert view.texts(done) == ["one", "two"]
        again = await view.request({"type": "send", "session": live, "text": "x\n", "client_msg_id": "cm-1"})
        assert again["duplicate"] is True  # client_msg_ids are remembered across restarts
    finally:
        await view.close()
        headless.stop()


async def test_kill_9_loses_at_most_the_commit_window_and_marks_sessions(headless: HeadlessRunner) -> None:
    url = headless.start()
    view = await ViewClient.open(url, TOKEN)
    code = "import time\ni = 0\nwhile True:\n    print(i, flush=True)\n    i += 1\n    time.sleep(0.001)"
    sid = (await view.request({"type": "create", "argv": [PY, "-u", "-c", code]}))["session"]["id"]
    await view.request({"type": "attach", "session": sid})
    await view.wait_for(lambda: len(view.texts(sid)) >= 500)
    seen = list(view.events[sid])
    assert headless.stop(signal.SIGKILL) == -signal.SIGKILL
    await view.closed.wait()

    rows = journal_rows(headless.data_dir)[sid]
    # Everything a view saw was committed (views only get committed events), with no holes.
    assert [e["seq"] for e in rows] == list(range(1, len(rows) + 1))
    assert rows[: len(seen)] == seen

    url = headless.start()
    view = await ViewClient.open(url, TOKEN)
    try:
        got = await view.request({"type": "get", "session": sid})
        assert got["session"]["status"] == "interrupted"
        await view.request({"type": "attach", "session": sid, "after": len(rows)})
        await view.wait_status(sid, "interrupted")
        tail = view.events[sid]
        assert tail[0]["seq"] == len(rows) + 1  # numbering continues after the last committed event
        assert any(e["kind"] == "error" and e["code"] == "runner_restarted" for e in tail)
    finally:
        await view.close()
        headless.stop()


# The agent numbers its lines and records, after each line it printed, the line's number and wall-clock time in a
# side file: the test then knows what was produced when, whatever the runner recorded.
PRODUCER = """
import sys, time
with open(sys.argv[1], "w", buffering=1) as produced:
    i = 0
    while True:
        print(i, flush=True)
        produced.write(f"{i} {time.time()}\\n")
        i += 1
        time.sleep(0.001)
"""

PROMISED_FLUSH_INTERVAL = 0.010
"""README and runner/journal.py: events are group-committed every 10 ms."""
COMMIT_SLACK = 0.5
"""Seconds allowed on top of the flush interval for reading the pipe, the commit itself and a loaded machine."""


def produced_lines(path: str) -> list[tuple[int, float]]:
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and line.endswith("\n"):  # the last line may be half written
                out.append((int(parts[0]), float(parts[1])))
    return out


async def test_kill_9_loses_only_events_younger_than_the_commit_window(
    headless: HeadlessRunner, tmp_path
) -> None:
    """Every line the agent printed more than the flush interval (plus slack) before a kill -9 is in the journal.

    The kill comes at the worst moment a view can see from outside: when no committed event has reached it for
    twice the window while the agent goes on printing (a journal that commits too rarely), or after 3 s."""
    import time

    from runner.journal import FLUSH_INTERVAL

    assert FLUSH_INTERVAL <= PROMISED_FLUSH_INTERVAL
    window = PROMISED_FLUSH_INTERVAL + COMMIT_SLACK
    side = str(tmp_path / "produced.txt")
    script = tmp_path / "producer.py"
    script.write_text(PRODUCER)
    url = headless.start()
    view = await ViewClient.open(url, TOKEN)
    sid = (await view.request({"type": "create", "argv": [PY, "-u", str(script), side]}))["session"]["id"]
    await view.request({"type": "attach", "session": sid})
    await view.wait_for(lambda: len(view.texts(sid)) >= 50)
    last_count, last_change = len(view.events[sid]), time.monotonic()
    started = time.monotonic()
    while time.monotonic() - started < 3.0 and time.monotonic() - last_change < 2 * window:
        await asyncio.sleep(0.01)
        if len(view.events[sid]) != last_count:
            last_count, last_change = len(view.events[sid]), time.monotonic()
    killed_at = time.time()
    assert headless.stop(signal.SIGKILL) == -signal.SIGKILL
    await view.closed.wait()

    recovered = {int(e["text"]) for e in journal_rows(headless.data_dir)[sid] if e["kind"] == "output"}
    produced = produced_lines(side)
    due = [i for i, at in produced if at < killed_at - window]
    assert len(due) >= 50
    missing = sorted(set(due) - recovered)
    lost = len([i for i, at in produced if at < killed_at]) - len(recovered)
    print(f"produced {len(produced)} lines, recovered {len(recovered)}, lost {lost}")
    assert not missing, f"{len(missing)} lines older than {window:.2f} s lost to kill -9 (first {missing[:5]})"


async def test_orphaned_agent_of_a_killed_runner_is_ended_on_restart(headless: HeadlessRunner) -> None:
    from runner.process import live_group_members

    url = headless.start()
    view = await ViewClient.open(url, TOKEN)
    # The command ignores SIGHUP: the runner's death hangs up its terminal, which ends a command that does not.
    sid = (await view.request({"type": "create", "argv": ["sh", "-c", "trap '' HUP; sleep 300 & sleep 300"]}))[
        "session"]["id"]
    await view.close()
    import json

    def committed_pid() -> int | None:
        conn = sqlite3.connect(f"{headless.data_dir}/journal.sqlite3")
        try:
            row = conn.execute("SELECT record FROM sessions WHERE id=?", (sid,)).fetchone()
        finally:
            conn.close()
        return json.loads(row[0]).get("state", {}).get("pid") if row else None

    for _ in range(600):  # until the record with the agent's pid is committed (30 s)
        if committed_pid():
            break
        await asyncio.sleep(0.05)
    pgid = committed_pid()
    assert pgid
    for _ in range(600):  # until the shell has started both sleeps
        if len(live_group_members(pgid)) >= 2:
            break
        await asyncio.sleep(0.05)
    assert live_group_members(pgid)
    headless.stop(signal.SIGKILL)
    assert live_group_members(pgid)  # the agent outlived the runner...
    headless.start()
    try:
        for _ in range(100):
            if not live_group_members(pgid):
                break
            await asyncio.sleep(0.05)
        assert live_group_members(pgid) == []  # ...until the new runner ended it
    finally:
        headless.stop()
