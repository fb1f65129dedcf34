"""runner/sessions.py at start-up: what a runner finds in the journal that an earlier runner left behind (a crash
mid-turn, an agent type it lacks, a worktree removed by hand). In-process runners on a journal written beforehand,
so the start-up path runs in the test's own process; real agent processes where a pid matters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from runner.journal import Journal
from runner.process import proc_stat
from runner.runner import Runner
from tests.conftest import TOKEN
from tests.fakes.view_client import ViewClient

PY = sys.executable


def record(sid: str, cwd: str, **fields: Any) -> dict[str, Any]:
    return {"id": sid, "title": f"title of {sid}", "agent": "command", "cwd": cwd,
            "options": {"argv": [PY, "-c", "pass"]}, "state": {}, "status": "idle", "created_at": 1000.0,
            "updated_at": 1000.0, **fields}


async def write_journal(data_dir: str, records: list[dict[str, Any]], events: int = 3) -> None:
    """What an earlier runner left on disk: these sessions, each with `events` output events."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    journal = await Journal.open(str(Path(data_dir) / "journal.sqlite3"), lambda committed: None)
    for rec in records:
        journal.save_session(rec["id"], rec)
        for seq in range(1, events + 1):
            journal.append(rec["id"], seq, f'{{"seq":{seq},"ts":1,"kind":"output","stream":"stdout","text":"{seq}"}}')
    await journal.close()


async def session_events(url: str, sid: str, after: int, count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first `count` events of the session after `after` (what start-up wrote may still be on its way to disk
    when the view attaches), then the session as `get` shows it."""
    client = await ViewClient.open(url, TOKEN)
    try:
        await client.request({"type": "hello", "protocol": 1})
        await client.request({"type": "attach", "session": sid, "after": after})
        await client.wait_for(lambda: len(client.events.get(sid, [])) >= count)
        info = (await client.request({"type": "get", "session": sid}))["session"]
        return info, client.events.get(sid, [])
    finally:
        await client.close()


def sleeper() -> subprocess.Popen[bytes]:
    """An agent's process group as a crashed runner leaves it: a leader in a session of its own."""
    return subprocess.Popen([PY, "-c", "import time; time.sleep(120)"], start_new_session=True)


def start_time(pid: int) -> str:
    fields = proc_stat(pid)
    assert fields is not None
    return fields[19].decode()


async def test_a_session_running_when_the_runner_died_is_interrupted_and_its_leftover_group_killed(
    data_dir: str, tmp_path: Path
) -> None:
    agent = sleeper()
    try:
        await write_journal(data_dir, [record("s-1", str(tmp_path), status="running",
                                              state={"pid": agent.pid, "pid_start": start_time(agent.pid)})])
        runner = await Runner.start(data_dir, TOKEN, "127.0.0.1", 0)
        try:
            info, events = await session_events(runner.url, "s-1", after=3, count=2)
            # The leftover group got SIGKILL: nothing else would ever end it.
            assert agent.wait(timeout=30) == -9
        finally:
            await runner.shutdown()
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert [(e["seq"], e["kind"]) for e in events] == [(4, "error"), (5, "status")]
    assert events[0]["code"] == "runner_restarted"
    assert events[1]["status"] == "interrupted" and events[1]["reason"] == "runner_restarted"
    assert info["status"] == "interrupted" and info["reason"] == "runner_restarted" and info["head"] == 5


async def test_a_pid_now_used_by_another_process_is_not_killed_on_restart(data_dir: str, tmp_path: Path) -> None:
    # Same pid, different start time: the pid was reused after the old agent ended; it is someone else's now.
    other = sleeper()
    try:
        await write_journal(data_dir, [record("s-1", str(tmp_path), status="running",
                                              state={"pid": other.pid, "pid_start": "1"})])
        runner = await Runner.start(data_dir, TOKEN, "127.0.0.1", 0)
        try:
            info, _ = await session_events(runner.url, "s-1", after=3, count=2)
        finally:
            await runner.shutdown()
        assert info["status"] == "interrupted"
        assert other.poll() is None, "a process that only shares the old agent's pid was killed"
    finally:
        other.kill()
        other.wait()


async def test_sessions_that_were_not_running_come_back_as_they_were(data_dir: str, tmp_path: Path) -> None:
    await write_journal(data_dir, [record("s-1", str(tmp_path), status="exited", exit_code=3, reason="agent_exited"),
                                   record("s-2", str(tmp_path), agent="an-agent-this-runner-lacks")])
    runner = await Runner.start(data_dir, TOKEN, "127.0.0.1", 0)
    try:
        exited, events = await session_events(runner.url, "s-1", after=0, count=3)
        unknown, _ = await session_events(runner.url, "s-2", after=0, count=3)
    finally:
        await runner.shutdown()
    assert [e["seq"] for e in events] == [1, 2, 3]  # nothing added
    assert (exited["status"], exited["exit_code"], exited["reason"], exited["head"]) == ("exited", 3, "agent_exited", 3)
    assert exited["title"] == "title of s-1" and exited["created_at"] == 1000.0
    # An agent type this runner does not have: the transcript stays readable as a command session.
    assert unknown["agent"] == "command" and unknown["head"] == 3


async def test_a_worktree_removed_by_hand_is_reported_once_across_restarts(data_dir: str, tmp_path: Path) -> None:
    gone = tmp_path / "removed-worktree"
    worktree = {"repo": str(tmp_path), "path": str(gone), "branch": "nightshift/x", "base": "main",
                "base_commit": "0" * 40}
    await write_journal(data_dir, [record("s-1", str(tmp_path), worktree=worktree, changed_files=0)])
    for _restart in range(2):
        runner = await Runner.start(data_dir, TOKEN, "127.0.0.1", 0)
        try:
            info, events = await session_events(runner.url, "s-1", after=0, count=4)
        finally:
            await runner.shutdown()
        # Reported by the first start, not again by the second.
        assert [(e["seq"], e["kind"], e.get("code")) for e in events] == [
            (1, "output", None), (2, "output", None), (3, "output", None), (4, "error", "worktree_missing")]
        assert str(gone) in events[3]["message"]
        assert info["status"] == "idle" and info["worktree"]["path"] == str(gone) and info["head"] == 4

