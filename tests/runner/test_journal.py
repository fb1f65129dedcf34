"""The Journal on a real SQLite file: group commit, ordering, reading back, and a full disk."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from runner.journal import Journal


class Commits:
    def __init__(self) -> None:
        self.got: dict[str, list[int]] = {}
        self.errors: list[str | None] = []

    def __call__(self, committed: dict[str, list[tuple[int, str]]]) -> None:
        for sid, events in committed.items():
            self.got.setdefault(sid, []).extend(seq for seq, _ in events)


def ev(seq: int, text: str = "x") -> str:
    return json.dumps({"seq": seq, "kind": "output", "text": text})


async def test_group_commit_and_read_back(tmp_path) -> None:
    commits = Commits()
    journal = await Journal.open(str(tmp_path / "j.sqlite3"), commits)
    for seq in range(1, 5001):
        journal.append("a", seq, ev(seq))
        if seq % 2:
            journal.append("b", (seq + 1) // 2, ev(seq))
    await journal.flush()
    assert commits.got["a"] == list(range(1, 5001))
    assert commits.got["b"] == list(range(1, 2501))
    assert journal.commits < 50  # thousands of events, a handful of transactions
    rows = await journal.read("a", 100, 5000, limit=50, max_bytes=10**9)
    assert [s for s, _ in rows] == list(range(101, 151))
    rows = await journal.read("a", 0, 5000, limit=10**6, max_bytes=1000)
    assert 1 <= len(rows) < 50
    await journal.close()
    conn = sqlite3.connect(str(tmp_path / "j.sqlite3"))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_sessions_and_client_msgs_load_after_reopen(tmp_path) -> None:
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, Commits())
    runner_id = journal.runner_id
    journal.save_session("a", {"id": "a", "title": "t", "created_at": 1})
    journal.append("a", 1, ev(1))
    journal.append("a", 2, ev(2))
    journal.record_client_msg("a", "m1")
    journal.save_session("gone", {"id": "gone", "created_at": 2})
    journal.append("gone", 1, ev(1))
    await journal.flush()
    journal.delete_session("gone")
    await journal.close()
    again = await Journal.open(path, Commits())
    loaded = await again.load()
    assert again.runner_id == runner_id
    assert [(s.record["id"], s.head, s.client_msg_ids) for s in loaded] == [("a", 2, {"m1"})]
    await again.close()


async def test_a_full_disk_keeps_every_event_and_recovers(tmp_path, monkeypatch) -> None:
    import runner.journal as jmod

    monkeypatch.setattr(jmod, "RETRY_DELAY", 0.05)
    commits = Commits()
    errors: list[str | None] = []
    journal = await Journal.open(str(tmp_path / "j.sqlite3"), commits, errors.append)
    journal.append("a", 1, ev(1))
    await journal.flush()
    # Let the database grow no further: SQLite then fails like on a full disk (SQLITE_FULL).
    pages = journal._wconn.execute("PRAGMA page_count").fetchone()[0]
    journal._wconn.execute(f"PRAGMA max_page_count={pages}")
    big = "y" * 200_000
    for seq in range(2, 12):
        journal.append("a", seq, ev(seq, big))
    for _ in range(200):
        if errors:
            break
        await asyncio.sleep(0.01)
    assert errors and "full" in errors[0]
    assert commits.got["a"] == [1]  # nothing was handed out as committed
    # Space comes back: everything held in memory is committed, in order, once.
    journal._wconn.execute("PRAGMA max_page_count=1073741823")
    await asyncio.wait_for(journal.flush(), 10)
    assert commits.got["a"] == list(range(1, 12))
    assert errors[-1] is None
    rows = await journal.read("a", 0, 100, 100, 10**9)
    assert [s for s, _ in rows] == list(range(1, 12))
    await journal.close()
