"""Session.emit_lines formats `output` payloads itself (no dict per line): they must be the events emit_events
would journal, whatever the text holds."""

from __future__ import annotations

import json
from pathlib import Path

from runner.sessions import SessionManager

TEXTS = ["plain", 'quote " backslash \\ tab \t', "nul \x00 and esc \x1b[31m", "\u2028 emoji 🙂 é", "", "\ud800 lone"]


async def test_emit_lines_journals_what_emit_events_would(tmp_path: Path) -> None:
    manager = await SessionManager.open(str(tmp_path / "data"))
    try:
        session = await manager.create({"agent": "command", "argv": ["true"], "cwd": str(tmp_path)})
        start = session.assigned
        session.emit_lines("stderr", TEXTS)
        session.emit_events([("output", {"stream": "stderr", "text": text}) for text in TEXTS])
        await manager.journal.flush()
        rows = await manager.journal.read(session.id, start, session.assigned, 100, 10**9)
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
