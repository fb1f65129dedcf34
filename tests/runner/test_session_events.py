"""Session.emit_lines formats `output` payloads itself (no dict per line): they must be the events emit_events
would journal, whatever the text holds. And the committed events a session keeps in memory for its followers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from runner.journal import MAX_PENDING_EVENTS
from runner.sessions import UNFOLLOWED_TAIL_EVENTS, SessionManager

TEXTS = ["plain", 'quote " backslash \\ tab \t', "nul \x00 and esc \x1b[31m", "\u2028 emoji 🙂 é", "",
         'a","b', "ends in \\", '","', "\ud800 lone"]


async def test_emit_lines_journals_what_emit_events_would(tmp_path: Path) -> None:
    manager = await SessionManager.open(str(tmp_path / "data"))
    try:
        session = await manager.create({"agent": "command", "argv": ["true"], "cwd": str(tmp_path)})
        start = session.assigned
        session.emit_lines("stderr", TEXTS[:-1])  # encoded all at once
        session.emit_lines("stderr", TEXTS[-1:])  # a lone surrogate: the stdlib encoder
        session.emit_events([("output", {"stream": "stderr", "text": text}) for text in TEXTS])
        # Ours are the next seqs (no await above); the command's own exit may follow them, later.
        await manager.journal.flush()
        rows = await manager.journal.read(session.id, start, start + 2 * len(TEXTS), 100, 10**9)
    finally:
        await manager.shutdown()
    events = [json.loads(payload) for _, payload in rows]
    assert [e["seq"] for e in events] == list(range(start + 1, start + 2 * len(TEXTS) + 1))
    for event in events:
        del event["seq"], event["ts"]
    by_lines, by_events = events[:len(TEXTS)], events[len(TEXTS):]
    assert by_lines == by_events
    assert [e["text"] for e in by_lines] == TEXTS
    assert all(e["kind"] == "output" and e["stream"] == "stderr" for e in by_lines)


async def test_the_memory_tail_serves_followers_and_stays_small_without_them(tmp_path: Path) -> None:
    """A followed session keeps more than a commit's worth of recent events in memory (a live follower must not
    fall back to reading the journal during a flood); one nobody follows keeps only a little."""
    manager = await SessionManager.open(str(tmp_path / "data"))
    try:
        session = await manager.create({"agent": "command", "argv": ["true"], "cwd": str(tmp_path)})
        session.emit_lines("stdout", [f"line {i}" for i in range(5000)])
        await manager.journal.flush()
        assert 0 < session.recent.events <= UNFOLLOWED_TAIL_EVENTS
        cached = session.cached_after(session.committed - 1, 10)
        assert cached is not None and [seq for seq, _ in cached] == [session.committed]

        session.followers.add(asyncio.Event())
        before = session.committed
        session.emit_lines("stdout", [f"line {i}" for i in range(MAX_PENDING_EVENTS + 2000)])
        await manager.journal.flush()
        cached = session.cached_after(before, 10**9)
        assert cached is not None and [seq for seq, _ in cached] == list(range(before + 1, session.committed + 1))
    finally:
        await manager.shutdown()
