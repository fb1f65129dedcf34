"""The Journal on a real SQLite file: group commit, ordering, reading back, and a full disk."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterator

import pytest

from runner import journal as journal_module
from runner.journal import Journal, JournalError
from tests.desktop.qt.helpers import until


class Commits:
    def __init__(self) -> None:
        self.got: dict[str, list[int]] = {}
        self.errors: list[str | None] = []

    def __call__(self, committed: dict[str, list[tuple[int, str]]]) -> None:
        for sid, events in committed.items():
            self.got.setdefault(sid, []).extend(seq for seq, _ in events)


def ev(seq: int, text: str = "x") -> str:
    return json.dumps({"seq": seq, "kind": "output", "text": text})


@contextlib.contextmanager
def write_locked(journal: Journal) -> Iterator[sqlite3.Connection]:
    """Another connection holds the journal's write lock (as another process would): every commit fails at once
    (the writer's busy time-out set to 0) until the block ends or the test rolls the returned connection back."""
    journal._wconn.execute("PRAGMA busy_timeout=0")
    blocker = sqlite3.connect(journal.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield blocker
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()



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
    assert [(s.record["id"], s.committed, s.client_msg_ids) for s in loaded] == [("a", 2, {"m1"})]
    await again.close()


async def test_deleting_a_session_drops_its_uncommitted_writes_and_keeps_the_others(tmp_path) -> None:
    """A session deleted while its events wait for the next commit: none of them is committed or handed to views,
    nothing of it is left after a reopen, and the other sessions' writes of the same window are all kept."""
    path = str(tmp_path / "j.sqlite3")
    commits = Commits()
    journal = await Journal.open(path, commits)
    for sid in ("a", "b"):
        journal.save_session(sid, {"id": sid, "created_at": 1 if sid == "a" else 2})
        journal.append(sid, 1, ev(1))
        journal.record_client_msg(sid, f"{sid}-m1")
    journal.delete_session("a")  # in the same commit window: nothing of "a" reached the disk yet
    journal.append("b", 2, ev(2))
    journal.record_client_msg("b", "b-m2")
    await journal.flush()
    assert commits.got == {"b": [1, 2]}
    assert await journal.read("a", 0, 10, limit=10, max_bytes=10**6) == []
    await journal.close()
    again = await Journal.open(path, Commits())
    loaded = await again.load()
    assert [(s.record["id"], s.committed, s.client_msg_ids) for s in loaded] == [("b", 2, {"b-m1", "b-m2"})]
    await again.close()


async def test_read_stops_at_the_row_that_reaches_max_bytes(tmp_path) -> None:
    journal = await Journal.open(str(tmp_path / "j.sqlite3"), Commits())
    payloads = [ev(seq, "x" * 20) for seq in range(1, 6)]
    size = len(payloads[0])
    assert all(len(p) == size for p in payloads)
    for seq, payload in enumerate(payloads, 1):
        journal.append("a", seq, payload)
    await journal.flush()

    async def seqs(max_bytes: int, after: int = 0, upto: int = 5, limit: int = 10) -> list[int]:
        return [s for s, _ in await journal.read("a", after, upto, limit=limit, max_bytes=max_bytes)]

    assert await seqs(2 * size) == [1, 2]  # exactly reached after two rows
    assert await seqs(2 * size + 1) == [1, 2, 3]  # not reached after two: a third
    assert await seqs(1) == [1]  # at least one row, however large
    assert await seqs(10**6, after=1, upto=4) == [2, 3, 4]
    assert await seqs(10**6, limit=2) == [1, 2]
    assert [p for _, p in await journal.read("a", 0, 5, limit=10, max_bytes=10**6)] == payloads
    await journal.close()


async def test_load_orders_sessions_by_creation_and_fills_in_empty_ones(tmp_path) -> None:
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, Commits())
    journal.save_session("new", {"id": "new", "created_at": 30})  # no events, no client_msg_ids yet
    journal.save_session("old", {"id": "old", "created_at": 10})
    journal.save_session("mid", {"id": "mid", "created_at": 20})
    journal.save_session("undated", {"id": "undated"})  # from before records had a time: first
    journal.save_session("early", {"id": "early", "created_at": 0.5})
    journal.append("old", 1, ev(1))
    journal.record_client_msg("old", "m1")
    await journal.flush()
    await journal.close()
    again = await Journal.open(path, Commits())
    loaded = await again.load()
    assert [(s.record["id"], s.committed, s.client_msg_ids) for s in loaded] == [
        ("undated", 0, set()),
        ("early", 0, set()),
        ("old", 1, {"m1"}),
        ("mid", 0, set()),
        ("new", 0, set()),
    ]
    loaded[3].client_msg_ids.add("x")
    assert loaded[4].client_msg_ids == set()  # each session its own set
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
    # Held back, the 2 MB count against the memory bound through every failed retry: writers keep waiting.
    monkeypatch.setattr(jmod, "MAX_PENDING_BYTES", 1_000_000)
    assert journal.over_capacity
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(journal.wait_capacity(), 0.5)  # several failed rounds (RETRY_DELAY is 0.05 s)
    assert journal.over_capacity
    monkeypatch.setattr(jmod, "MAX_PENDING_BYTES", 64 * 1024 * 1024)
    # Space comes back: everything held in memory is committed, in order, once.
    journal._wconn.execute("PRAGMA max_page_count=1073741823")
    await asyncio.wait_for(journal.flush(), 10)
    assert commits.got["a"] == list(range(1, 12))
    assert errors[-1] is None
    rows = await journal.read("a", 0, 100, 100, 10**9)
    assert [s for s, _ in rows] == list(range(1, 12))
    await journal.close()


# An agent that prints `count` lines of `size` bytes as fast as it can and records in a side file how many it has
# written (a write blocks once the pipe is full, so the side file shows how far the runner let it get).
FLOOD = """
import sys
count, size = int(sys.argv[2]), int(sys.argv[3])
line = "x" * (size - 1) + "\\n"
with open(sys.argv[1], "w", buffering=1) as progress:
    for i in range(count):
        sys.stdout.write(line)
        sys.stdout.flush()
        progress.write(f"{i + 1}\\n")
"""


def written(path) -> int:
    try:
        lines = path.read_text().split()
    except FileNotFoundError:
        return 0
    return int(lines[-1]) if lines else 0


async def test_a_stalled_disk_holds_the_agent_back_and_bounds_pending_bytes(
    data_dir: str, tmp_path, monkeypatch
) -> None:
    """With the journal unable to commit, a fast agent is held back once MAX_PENDING_BYTES are pending (its pipe
    fills and its writes block), rather than the runner buffering everything; once the disk is back, every line
    arrives, in order."""
    import sys
    import time

    import runner.journal as journal_module
    from runner.runner import Runner
    from tests.conftest import TOKEN
    from tests.fakes.view_client import ViewClient

    bound = 1 << 20
    monkeypatch.setattr(journal_module, "MAX_PENDING_BYTES", bound)
    count, size = 20_000, 1000  # 20 MB in all, twenty times the bound
    slack = 2 << 20  # the pipe, the read chunk and the stream reader's buffer, with room to spare
    progress = tmp_path / "progress.txt"
    script = tmp_path / "flood.py"
    script.write_text(FLOOD)
    runner = await Runner.start(data_dir, TOKEN, "127.0.0.1", 0)
    view = await ViewClient.open(runner.url, TOKEN)
    # Another connection holds SQLite's write lock: every commit waits for it, fails, and is retried.
    blocker = sqlite3.connect(runner.manager.journal.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        # `created` is only sent once the session is on disk, after the stall: watch the push for its id.
        create = asyncio.ensure_future(view.request(
            {"type": "create", "argv": [sys.executable, str(script), str(progress), str(count), str(size)]},
            timeout=300,
        ))
        await view.wait_for(lambda: any(p.get("type") == "session_changed" for p in view.pushes))
        sid = next(p["session"]["id"] for p in view.pushes if p.get("type") == "session_changed")
        assert not create.done()  # nothing is confirmed while nothing can be committed
        # Wait until the agent has made no progress for a while (held back), or has written everything.
        last, since, deadline = -1, time.monotonic(), time.monotonic() + 120
        while time.monotonic() < deadline:
            now = written(progress)
            if now != last:
                last, since = now, time.monotonic()
            elif now == count or (now > 0 and time.monotonic() - since > 2.0):
                break
            await asyncio.sleep(0.05)
        assert last * size <= bound + slack, f"the agent wrote {last * size} bytes while nothing could commit"
        assert runner.manager.journal.over_capacity
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    try:
        assert (await create)["type"] == "created"
        await view.request({"type": "attach", "session": sid})
        await view.wait_status(sid, "exited", timeout=180)
        texts = view.texts(sid)
        assert len(texts) == count and set(texts) == {"x" * (size - 1)}
        assert view.seqs(sid) == list(range(1, len(view.seqs(sid)) + 1))
    finally:
        await view.close()
        await runner.shutdown()


async def test_payloads_are_stored_exactly_whatever_they_hold(tmp_path) -> None:
    """Every payload reads back as written, in batches of one session (stored as one JSON array) and of several
    (row by row); a lone surrogate is escaped, not lost, and does not stop the rest."""
    hostile = ['quote " and backslash \\\\ ', "nul \\u0000 escaped", "\u2028\u2029 separators", "emoji 🙂 ok",
               "escapes \\n \\t \\ud83d\\ude42", "\u00e9\u0301 combining", "{} [] : , json punctuation", ""]
    commits = Commits()
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, commits)
    written = {seq: json.dumps({"seq": seq, "text": text}, ensure_ascii=False)
               for seq, text in enumerate(hostile * 50, start=1)}
    journal.extend([("a", seq, payload) for seq, payload in written.items()], 0)
    await journal.flush()
    for seq, payload in written.items():  # two sessions in one batch, then a seq gap
        journal.append("b", seq, payload)
        journal.append("c", 2 * seq, payload)
    await journal.flush()
    lone = '{"text":"\ud800 lone"}'
    journal.extend([("a", 401, '{"n":401}'), ("a", 402, lone), ("a", 403, '{"n":403}')], 0)
    await journal.flush()
    await journal.close()
    conn = sqlite3.connect(path)
    try:
        stored = {(sid, seq): payload for sid, seq, payload in conn.execute("SELECT * FROM events")}
    finally:
        conn.close()
    for seq, payload in written.items():
        assert stored["a", seq] == stored["b", seq] == stored["c", 2 * seq] == payload
    assert stored["a", 401] == '{"n":401}' and stored["a", 403] == '{"n":403}'
    assert stored["a", 402] == '{"text":"\\ud800 lone"}'
    assert commits.got["a"] == list(range(1, 404))


async def test_joined_reads_give_the_frames_row_reads_give(tmp_path) -> None:
    """A catch-up's groups joined by SQLite are exactly the frames cut from rows read one by one: at most 500
    events each, each ending with the event that reaches 1 MiB, whatever the sizes and however written."""
    from runner.protocol import BATCH_BYTES, BATCH_EVENTS, events_frames, joined_events_frame

    journal = await Journal.open(str(tmp_path / "j.sqlite3"), Commits())
    sizes = [10] * 1300 + [600_000, 10, 700_000, 900_000] + [10] * 700 + [2_000_000] + [10] * 3
    for seq, size in enumerate(sizes, start=1):
        journal.append("a", seq, json.dumps({"seq": seq, "kind": "output", "text": "x" * size}, separators=(",", ":")))
    journal.append("b", 1, '{"seq": 1, "kind": "output", "text": "written some other way"}')
    await journal.flush()
    try:
        for sid, head in (("a", len(sizes)), ("b", 1)):
            rows = await journal.read(sid, 0, head, limit=10**6, max_bytes=10**12)
            expected = list(events_frames(sid, rows))
            got: list[tuple[int, str]] = []
            after = 0
            while after < head:  # as a follower reads: a few frames at a time
                groups = await journal.read_joined(sid, after, head, 4 * BATCH_EVENTS, 4 * BATCH_BYTES,
                                                   BATCH_EVENTS, BATCH_BYTES)
                got.extend((last, joined_events_frame(sid, count, body)) for last, count, body in groups)
                after = groups[-1][0]
            assert [last for last, _ in got] == [last for last, _ in expected]
            assert got == expected
        assert await journal.read_joined("a", 5, 4, 100, 10**6, 10, 10**6) == []  # nothing asked for
        assert await journal.read_joined("a", len(sizes), len(sizes) + 5, 100, 10**6, 10, 10**6) == []  # none there
    finally:
        await journal.close()


async def test_the_journal_and_its_folder_are_private_and_an_old_one_is_narrowed(tmp_path) -> None:
    import os
    import stat

    def mode(path) -> int:
        return stat.S_IMODE(os.stat(path).st_mode)

    fresh = tmp_path / "new" / "j.sqlite3"
    journal = await Journal.open(str(fresh), Commits())
    journal.append("a", 1, ev(1))
    await journal.flush()
    try:
        assert mode(fresh.parent) == 0o700
        for suffix in ("", "-wal", "-shm"):
            assert mode(f"{fresh}{suffix}") == 0o600, suffix
    finally:
        await journal.close()

    # An older install's journal, readable by others, its -wal and -shm left by a process still using it.
    old = tmp_path / "old" / "j.sqlite3"
    old.parent.mkdir(mode=0o755)
    old.parent.chmod(0o755)
    other = sqlite3.connect(str(old), isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x)")
    other.execute("INSERT INTO t VALUES (1)")
    try:
        for suffix in ("", "-wal", "-shm"):
            os.chmod(f"{old}{suffix}", 0o644)
        journal = await Journal.open(str(old), Commits())
        await journal.close()
        assert mode(old.parent) == 0o700
        for suffix in ("", "-wal", "-shm"):
            assert mode(f"{old}{suffix}") == 0o600, suffix
    finally:
        other.close()


async def test_sync_waits_for_a_commit_already_in_flight_and_before_actions_run_once_in_order(tmp_path) -> None:
    """A reply must not be sent before its commit, also when the commit has already left for the writer thread
    (nothing pending): sync() waits for that batch. Actions queued with before_commit run on the writer thread,
    once each, in order, before the events they came with are committed."""
    import threading

    commits = Commits()
    journal = await Journal.open(str(tmp_path / "j.sqlite3"), commits)
    gate = threading.Event()
    ran: list[str] = []
    try:
        journal.before_commit(lambda: ran.append("first"))
        journal.before_commit(lambda: (gate.wait(30), ran.append("second")))
        journal.append("a", 1, ev(1))
        await asyncio.sleep(0.1)  # the batch is on the writer thread, held by the second action
        synced = asyncio.ensure_future(journal.sync())
        await asyncio.sleep(0.1)
        assert not synced.done() and commits.got == {}
        gate.set()
        await asyncio.wait_for(synced, 10)
        assert commits.got == {"a": [1]} and ran == ["first", "second"]
        journal.append("a", 2, ev(2))
        await journal.sync()
        assert ran == ["first", "second"] and commits.got == {"a": [1, 2]}  # done once, not again
    finally:
        gate.set()
        await journal.close()
    assert journal.unsaved == 0


async def test_writes_close_together_share_one_commit_and_commits_are_counted(tmp_path) -> None:
    """Writes arriving within the commit window (10 ms) after the first go in its transaction, not one each."""
    commits = Commits()
    journal = await Journal.open(str(tmp_path / "j.sqlite3"), commits)
    try:
        assert journal.commits == 0
        journal.append("a", 1, ev(1))
        await asyncio.sleep(0.002)  # a later turn of the loop, well inside the window
        journal.append("a", 2, ev(2))
        await journal.flush()
        assert commits.got == {"a": [1, 2]} and journal.commits == 1
        journal.append("a", 3, ev(3))
        await journal.flush()
        assert journal.commits == 2
    finally:
        await journal.close()


async def test_close_retries_a_failing_disk_and_then_says_what_was_lost(tmp_path, monkeypatch) -> None:
    import runner.journal as jmod

    monkeypatch.setattr(jmod, "RETRY_DELAY", 0.05)
    path = str(tmp_path / "j.sqlite3")
    errors: list[str | None] = []
    journal = await Journal.open(path, Commits(), errors.append)
    with write_locked(journal) as blocker:
        journal.append("a", 1, ev(1))
        await until(lambda: bool(errors), 30, "a failed commit")
        assert "locked" in str(errors[0])
        # The lock goes away while closing: close() keeps retrying and saves everything.
        asyncio.get_running_loop().call_later(0.3, blocker.execute, "ROLLBACK")
        await journal.close(timeout=20)
    assert journal.unsaved == 0 and errors[-1] is None and errors.count(None) == 1
    again = await Journal.open(path, Commits())
    assert [s for s, _ in await again.read("a", 0, 10, 10, 10**6)] == [1]
    with write_locked(again):
        again.append("a", 2, ev(2))
        again.append("a", 3, ev(3))
        synced = asyncio.ensure_future(again.sync())
        started = asyncio.get_running_loop().time()
        await again.close(timeout=0.5)  # never recovers: gives up after its time-out and counts the loss
        assert 0.5 <= asyncio.get_running_loop().time() - started < 10
        assert again.unsaved == 2
        with pytest.raises(JournalError, match=r"^the journal closed before these writes were saved$"):
            await synced


async def test_failed_commits_are_retried_after_a_pause_and_reported_once_until_they_work(tmp_path,
                                                                                           monkeypatch) -> None:
    import runner.journal as jmod

    monkeypatch.setattr(jmod, "RETRY_DELAY", 0.1)
    path = str(tmp_path / "j.sqlite3")
    errors: list[str | None] = []
    commits = Commits()
    journal = await Journal.open(path, commits, errors.append)
    begins: list[str] = []
    journal._wconn.set_trace_callback(lambda sql: begins.append(sql) if sql == "BEGIN" else None)
    with write_locked(journal):
        journal.append("a", 1, ev(1))
        await asyncio.sleep(0.55)
        assert 2 <= len(begins) <= 8  # about one attempt per RETRY_DELAY, not a busy loop
        assert len(errors) == 1 and errors[0] is not None and "1 events held in memory" in errors[0]
    await asyncio.wait_for(journal.flush(), 10)
    journal.append("a", 2, ev(2))
    await journal.flush()
    assert commits.got == {"a": [1, 2]}
    assert errors[1:] == [None]  # recovery told once, later commits say nothing
    await journal.close()


async def test_text_utf8_cannot_hold_is_repaired_at_once_with_the_rest_of_its_batch(tmp_path, monkeypatch) -> None:
    """A lone surrogate in an event or a client_msg_id is stored escaped; the session saved in the same batch is
    kept, and the batch is retried at once (not after the pause for a failing disk)."""
    import runner.journal as jmod

    monkeypatch.setattr(jmod, "RETRY_DELAY", 60)
    path = str(tmp_path / "j.sqlite3")
    errors: list[str | None] = []
    commits = Commits()
    journal = await Journal.open(path, commits, errors.append)
    journal.save_session("s", {"id": "s", "created_at": 1})
    journal.append("s", 1, json.dumps({"seq": 1, "text": "a\ud800b"}, ensure_ascii=False))
    journal.record_client_msg("s", "m-\udc00")
    await asyncio.wait_for(journal.sync(), 10)
    journal.append("s", 2, ev(2))
    await asyncio.wait_for(journal.sync(), 10)
    assert commits.got == {"s": [1, 2]}
    assert json.loads((await journal.read("s", 0, 1, 10, 10**6))[0][1])["text"] == "a\ud800b"  # lossless
    assert len(errors) == 2 and errors[-1] is None  # reported, then cleared
    await journal.close()
    again = await Journal.open(path, Commits())
    [stored] = await again.load()
    assert stored.record == {"id": "s", "created_at": 1} and stored.committed == 2
    assert stored.client_msg_ids == {"m-\\udc00"}
    await again.close()


async def test_a_writer_that_stops_says_so_and_a_normal_close_says_nothing(tmp_path, caplog) -> None:
    import logging

    def broken_listener(message: str | None) -> None:
        raise RuntimeError("listener bug")

    path = str(tmp_path / "j.sqlite3")
    with caplog.at_level(logging.ERROR, logger="runner.journal"):
        journal = await Journal.open(path, Commits())
        journal.append("a", 1, ev(1))
        await journal.flush()
        await journal.close()
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

        journal = await Journal.open(path, Commits(), broken_listener)
        try:
            with write_locked(journal):
                journal.append("a", 2, ev(2))
                await until(lambda: any("the writer stopped; nothing more is saved" in r.getMessage()
                                        for r in caplog.records), 30, "the writer's end logged")
        finally:
            await journal.close(timeout=0.2)


async def test_a_joined_read_stops_at_the_group_that_reaches_its_event_or_byte_bound(tmp_path) -> None:
    """A follower asks for about `limit` events and `max_bytes` of payload at a time: the read ends with the group
    that reaches either bound (never reading on to the head: a big backlog is not held in memory at once)."""
    journal = await Journal.open(str(tmp_path / "j.sqlite3"), Commits())
    payloads = [json.dumps({"seq": seq, "text": "x" * 40}, separators=(",", ":")) for seq in range(1, 2001)]
    journal.extend([("a", seq, p) for seq, p in enumerate(payloads, start=1)], sum(map(len, payloads)))
    await journal.flush()
    four_groups = sum(map(len, payloads[:400]))
    try:
        async def groups(limit: int, max_bytes: int) -> list[int]:
            return [count for _, count, _ in await journal.read_joined("a", 0, 2000, limit, max_bytes, 100, 10**6)]

        assert await groups(400, 10**9) == [100] * 4  # reached exactly with the fourth group
        assert await groups(401, 10**9) == [100] * 5  # not reached after four: a fifth
        assert await groups(10**6, four_groups) == [100] * 4
        assert await groups(10**6, four_groups + 1) == [100] * 5
        assert await groups(10**6, 10**9) == [100] * 20  # everything up to `upto`, and no further
    finally:
        await journal.close()


async def test_a_repaired_batch_keeps_its_deletions(tmp_path) -> None:
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, Commits())
    journal.save_session("gone", {"id": "gone", "created_at": 1})
    journal.append("gone", 1, ev(1))
    await journal.flush()
    journal.delete_session("gone")  # in the same batch as text UTF-8 cannot hold
    journal.save_session("s", {"id": "s", "created_at": 2})
    journal.append("s", 1, json.dumps({"seq": 1, "text": "\ud800"}, ensure_ascii=False))
    await asyncio.wait_for(journal.sync(), 10)
    await journal.close()
    again = await Journal.open(path, Commits())
    assert [(s.record["id"], s.committed) for s in await again.load()] == [("s", 1)]
    await again.close()


async def test_a_journal_that_cannot_be_opened_says_where_and_why(tmp_path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(JournalError, match=r"^cannot create journal .*a-file/j\.sqlite3: File exists$"):
        await Journal.open(str(tmp_path / "a-file" / "j.sqlite3"), Commits())
    (tmp_path / "garbage.sqlite3").write_bytes(b"this is not a database, " * 100)
    with pytest.raises(JournalError, match=r"^cannot open journal .*garbage\.sqlite3: file is not a database$"):
        await Journal.open(str(tmp_path / "garbage.sqlite3"), Commits())


async def test_a_failing_before_commit_action_is_retried_and_logged_as_unexpected(tmp_path, caplog,
                                                                                  monkeypatch) -> None:
    """An action that raises (a bug, or a file it cannot write) holds its batch back like a failed commit, and,
    not being a disk or SQLite error, is logged with its traceback."""
    import logging

    import runner.journal as jmod

    monkeypatch.setattr(jmod, "RETRY_DELAY", 0.05)
    commits = Commits()
    errors: list[str | None] = []
    journal = await Journal.open(str(tmp_path / "j.sqlite3"), commits, errors.append)
    attempts: list[int] = []

    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("could not write the blob")

    with caplog.at_level(logging.ERROR, logger="runner.journal"):
        journal.before_commit(flaky)
        journal.append("a", 1, ev(1))
        await asyncio.wait_for(journal.sync(), 10)
    assert attempts == [1, 1] and commits.got == {"a": [1]}
    assert errors[0] is not None and "could not write the blob" in errors[0] and errors[-1] is None
    unexpected = [r for r in caplog.records if "unexpected error while committing" in r.getMessage()]
    assert len(unexpected) == 1 and unexpected[0].exc_info is not None
    await journal.close()


async def test_writes_that_arrive_during_a_failing_commit_count_against_the_memory_bound(tmp_path,
                                                                                         monkeypatch) -> None:
    import threading

    import runner.journal as jmod

    monkeypatch.setattr(jmod, "RETRY_DELAY", 0.05)
    path = str(tmp_path / "j.sqlite3")
    errors: list[str | None] = []
    commits = Commits()
    journal = await Journal.open(path, commits, errors.append)
    gate = threading.Event()
    try:
        with write_locked(journal):  # the commit below will fail
            journal.before_commit(lambda: gate.wait(30))  # holds the commit on the writer thread
            journal.append("a", 1, ev(1, "x" * 1000))
            await asyncio.sleep(0.1)
            journal.append("a", 2, ev(2, "y" * 500_000))  # arrives while that commit is under way
            monkeypatch.setattr(jmod, "MAX_PENDING_BYTES", 400_000)
            gate.set()
            await until(lambda: bool(errors), 30, "a failed commit")
            assert errors[0] is not None
            assert journal.over_capacity  # both held in memory: 501 kB, over the 400 kB bound
    finally:
        gate.set()
    await asyncio.wait_for(journal.flush(), 10)
    assert commits.got == {"a": [1, 2]} and not journal.over_capacity
    await journal.close()


async def test_a_batch_of_one_sessions_next_events_goes_in_as_one_statement(tmp_path) -> None:
    """The hot path's insert (issue 10): one statement for a commit of one session's consecutive events (two or
    more), not one per row; a batch of several sessions, or with a gap, row by row. Both store the same."""
    journal = await Journal.open(str(tmp_path / "j.sqlite3"), Commits())
    inserts: list[str] = []
    journal._wconn.set_trace_callback(
        lambda sql: inserts.append(sql) if sql.startswith("INSERT OR REPLACE INTO events") else None)
    try:
        journal.extend([("a", seq, ev(seq)) for seq in (1, 2)], 2 * len(ev(1)))
        await journal.flush()
        assert len(inserts) == 1
        journal.extend([("a", seq, ev(seq)) for seq in range(3, 1003)], 1000 * len(ev(1000)))
        await journal.flush()
        assert len(inserts) == 2
        inserts.clear()
        journal.extend([("a", 1003, ev(1003)), ("b", 1, ev(1)), ("a", 1005, ev(1005))], 300)
        await journal.flush()
        assert len(inserts) == 3  # row by row
        rows = await journal.read("a", 0, 2000, 10_000, 10**9)
        assert [s for s, _ in rows] == [*range(1, 1004), 1005] and all(p == ev(s) for s, p in rows)
    finally:
        await journal.close()


async def test_before_commit_actions_alone_are_committed_and_count_against_the_bound(tmp_path,
                                                                                     monkeypatch) -> None:
    import runner.journal as jmod

    journal = await Journal.open(str(tmp_path / "j.sqlite3"), Commits())
    ran: list[int] = []
    try:
        journal.before_commit(lambda: ran.append(1))  # a file to write, nothing else in the batch
        await asyncio.wait_for(journal.sync(), 10)
        assert ran == [1]
        monkeypatch.setattr(jmod, "MAX_PENDING_BYTES", 500_500)
        journal.append("a", 1, ev(1, "x" * 1000))
        journal.before_commit(lambda: None, nbytes=500_000)  # an image held in memory until then
        assert journal.over_capacity
        await journal.flush()
        assert not journal.over_capacity
    finally:
        await journal.close()


async def test_close_closes_the_files_and_returns_even_when_a_commit_hangs(tmp_path, monkeypatch) -> None:
    """A clean close leaves no -wal file (SQLite removes it when the last connection closes); a commit stuck on
    a hung disk does not hold shutdown: close() gives up on it after its time-outs and counts what was lost."""
    import os
    import threading
    import time

    import runner.journal as jmod

    monkeypatch.setattr(jmod, "CLOSE_WAIT", 0.2)

    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, Commits())
    journal.append("a", 1, ev(1))
    await journal.flush()
    assert os.path.exists(path + "-wal")
    await journal.close()
    assert not os.path.exists(path + "-wal")

    hung = await Journal.open(path, Commits())
    gate = threading.Event()
    try:
        hung.before_commit(lambda: gate.wait(30))
        hung.append("a", 2, ev(2))
        await asyncio.sleep(0.1)  # the commit is stuck on the writer thread
        started = time.monotonic()
        await hung.close(timeout=0.2)
        assert time.monotonic() - started < 10  # not the 30 s the writer is stuck for
        assert hung.unsaved == 1
    finally:
        gate.set()


async def test_releasing_backpressure_frees_writers_waiting_for_a_stalled_disk(tmp_path, monkeypatch) -> None:
    import runner.journal as jmod

    monkeypatch.setattr(jmod, "RETRY_DELAY", 0.05)
    monkeypatch.setattr(jmod, "MAX_PENDING_EVENTS", 5)
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, Commits())
    with write_locked(journal):
        journal.extend([("a", seq, ev(seq)) for seq in range(1, 11)], 10 * len(ev(10)))
        waiting = asyncio.ensure_future(journal.wait_capacity())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # held back while the disk stalls
        journal.release_backpressure()  # shutting down: agents' readers must not wait any more
        await asyncio.wait_for(waiting, 10)
        assert journal.over_capacity  # still held in memory, for close() to save or count
    await journal.close()
    assert journal.unsaved == 0


def checkpoint_idle(journal: Journal) -> bool:
    return journal._checkpoint is None or journal._checkpoint.done()


async def write_flood(journal: Journal, *, one_checkpoint_at_a_time: bool) -> int:
    """40 commits of 460 KB of payload (18 MB, over four times CHECKPOINT_BYTES); returns the last seq.
    `one_checkpoint_at_a_time`: each commit once the checkpoint before it ended (so every checkpoint due is
    started, none skipped as one is running); else back to back, checkpoints running beside them."""
    seq = 0
    for _ in range(40):
        # Rows well under a page's local payload limit (about 1,000 bytes): no overflow pages, so the file is
        # about as big as what it holds.
        rows = [("a", seq + i + 1, f'{{"seq":{seq + i + 1},"text":"{"x" * 900}"}}') for i in range(500)]
        seq += len(rows)
        journal.extend(rows, sum(len(p) for _, _, p in rows))
        await journal.flush()
        if one_checkpoint_at_a_time:
            await until(lambda: checkpoint_idle(journal), 30, "the checkpoint")
    await until(lambda: checkpoint_idle(journal), 30, "the last checkpoint")
    return seq


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_commits_are_checkpointed_beside_the_writer_as_they_go(tmp_path, monkeypatch, caplog) -> None:
    """The WAL is copied into the database file while the journal is open, by the checkpointer's thread, again
    after every CHECKPOINT_BYTES, quietly. (The writer's own checkpoints, past WAL_LIMIT_PAGES, are put out of
    reach here: 18 MB of payload make more WAL frames than the limit's 16,000.)"""
    monkeypatch.setattr(journal_module, "WAL_LIMIT_PAGES", 10**9)
    path = tmp_path / "j.sqlite3"
    journal = await Journal.open(str(path), Commits())
    seq = await write_flood(journal, one_checkpoint_at_a_time=True)
    copied = path.stat().st_size
    assert warnings_in(caplog) == []
    rows = await journal.read("a", 0, seq, limit=10**6, max_bytes=10**12)
    assert [s for s, _ in rows] == list(range(1, seq + 1))
    await journal.close()
    assert not (tmp_path / "j.sqlite3-wal").exists()
    # All but the last few MB (less than a checkpoint's worth) were in the database file before the close.
    whole = path.stat().st_size
    assert whole > 16 * 1024 * 1024 and copied > whole - 2 * journal_module.CHECKPOINT_BYTES, (copied, whole)


async def test_a_checkpoint_that_fails_is_a_warning_and_commits_go_on(tmp_path, caplog) -> None:
    """Checkpoints are not the commits' business (they are durable in the WAL): one that fails is logged, and
    the events are committed and read back all the same."""
    path = tmp_path / "j.sqlite3"
    journal = await Journal.open(str(path), Commits())
    assert journal._cconn is not None
    journal._cconn.close()  # every checkpoint from now on raises sqlite3.ProgrammingError
    seq = await write_flood(journal, one_checkpoint_at_a_time=True)
    assert any("checkpoint failed" in m for m in warnings_in(caplog)), warnings_in(caplog)
    rows = await journal.read("a", 0, seq, limit=10**6, max_bytes=10**12)
    assert [s for s, _ in rows] == list(range(1, seq + 1))
    assert journal.failing is None
    await journal.close()


async def test_the_wal_starts_over_past_its_limit_during_a_flood(tmp_path, monkeypatch) -> None:
    """Checkpoints beside the commits never find the WAL all copied, so it would grow with the journal: past
    WAL_LIMIT_PAGES (here 4 MB) the writer's own checkpoints complete and the WAL starts over."""
    monkeypatch.setattr(journal_module, "WAL_LIMIT_PAGES", 1000)
    path = tmp_path / "j.sqlite3"
    journal = await Journal.open(str(path), Commits())
    seq = await write_flood(journal, one_checkpoint_at_a_time=False)
    wal = (tmp_path / "j.sqlite3-wal").stat().st_size
    assert wal < 12 * 1024 * 1024, f"the WAL grew to {wal} bytes"
    rows = await journal.read("a", 0, seq, limit=10**6, max_bytes=10**12)
    assert [s for s, _ in rows] == list(range(1, seq + 1))
    await journal.close()


def rows_of(path, session_id: str) -> tuple[int, int]:
    """(events, search documents) the journal file still holds for a session."""
    conn = sqlite3.connect(path)
    try:
        return (conn.execute("SELECT count(*) FROM events WHERE session_id=?", (session_id,)).fetchone()[0],
                conn.execute("SELECT count(*) FROM search_docs WHERE session_id=?", (session_id,)).fetchone()[0])
    finally:
        conn.close()


async def fill(journal: Journal, session_id: str, n: int) -> None:
    journal.save_session(session_id, {"id": session_id, "created_at": 1})
    for start in range(0, n, 5000):
        rows = [(session_id, seq, ev(seq)) for seq in range(start + 1, min(start + 5000, n) + 1)]
        journal.extend(rows, sum(len(p) for _, _, p in rows))
        await journal.flush()


async def delete_a_big_session(journal: Journal) -> None:
    """Session "gone" with 20,000 events, then its deletion committed: the purge of its events starts after it."""
    await fill(journal, "gone", 20_000)
    journal.delete_session("gone")
    await journal.sync()


async def test_a_deleted_sessions_events_go_a_slice_at_a_time_while_others_commit(tmp_path, monkeypatch) -> None:
    """Deleting is one small commit (the session is gone from the next load on); its events and search
    documents are removed after it in slices, and another session's writes are committed in between."""
    monkeypatch.setattr(journal_module, "PURGE_SLICE", 100)
    path = str(tmp_path / "j.sqlite3")
    commits = Commits()
    journal = await Journal.open(path, commits)
    await journal.purged()
    await fill(journal, "gone", 20_000)
    assert rows_of(path, "gone") >= (20_000, 1)
    journal.save_session("b", {"id": "b", "created_at": 2})
    journal.delete_session("gone")
    await journal.sync()
    journal.append("b", 1, ev(1))
    await journal.sync()
    assert commits.got["b"] == [1]
    assert rows_of(path, "gone")[0] > 0, "the other session's commit waited for the whole deletion"
    await journal.purged()
    assert rows_of(path, "gone") == (0, 0)
    assert [s.record["id"] for s in await journal.load()] == ["b"]
    await journal.close()


async def test_a_purge_and_commits_take_turns_on_the_writer(tmp_path, monkeypatch, caplog) -> None:
    """The purge's slices run on the writer's one thread between commits: two transactions on its one
    connection at once would fail (or worse). Another session commits throughout a deletion without an error."""
    monkeypatch.setattr(journal_module, "PURGE_SLICE", 50)
    path = str(tmp_path / "j.sqlite3")
    commits = Commits()
    journal = await Journal.open(path, commits, commits.errors.append)
    journal.save_session("b", {"id": "b", "created_at": 2})
    await delete_a_big_session(journal)
    purging = asyncio.create_task(journal.purged())
    seq = 0
    while not purging.done():  # up to 400 slices, each beside commits of b's
        seq += 1
        journal.append("b", seq, ev(seq))
        await journal.flush()
    await purging
    assert commits.errors == [] and warnings_in(caplog) == []
    assert seq > 1 and commits.got["b"] == list(range(1, seq + 1))
    assert rows_of(path, "gone") == (0, 0)
    await journal.close()


async def test_what_a_deletion_left_at_close_is_removed_after_the_next_open(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(journal_module, "PURGE_SLICE", 100)
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, Commits())
    await delete_a_big_session(journal)
    await journal.close()  # long before 200 slices are done
    assert rows_of(path, "gone")[0] > 0
    again = await Journal.open(path, Commits())
    assert await again.load() == []
    await asyncio.wait_for(again.purged(), 60)
    assert rows_of(path, "gone") == (0, 0)
    await again.close()


async def test_a_purge_that_fails_says_so_and_ends_and_the_next_start_finishes_it(tmp_path, monkeypatch,
                                                                                   caplog) -> None:
    """A slice that cannot be removed (another process holds the write lock): a warning, and `purged()` returns
    (a delete request waits on it); what is left is removed after the next open."""
    monkeypatch.setattr(journal_module, "PURGE_SLICE", 100)
    path = str(tmp_path / "j.sqlite3")
    journal = await Journal.open(path, Commits())
    await delete_a_big_session(journal)
    with write_locked(journal):  # within the first of 200 slices
        await asyncio.wait_for(journal.purged(), 30)
    assert "could not be removed yet" in caplog.text
    assert rows_of(path, "gone")[0] > 0
    await journal.close()
    again = await Journal.open(path, Commits())
    await asyncio.wait_for(again.purged(), 60)
    assert rows_of(path, "gone") == (0, 0)
    await again.close()
