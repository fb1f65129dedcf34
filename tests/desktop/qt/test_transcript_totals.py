"""Issue 12 item 6: the session header shows the cost, tokens and time so far, summed from turn_end events."""

from __future__ import annotations

from typing import Any

from desktop.core.view import SessionInfo
from desktop.qt.bridge import ViewBridge
from desktop.qt.main_window import MainWindow


def test_totals_in_the_session_header(qtbot: Any) -> None:
    bridge = ViewBridge()
    window = MainWindow(bridge, "test")  # not qtbot.addWidget: its close is the app's decision (it ignores close)
    for sid in ("a", "b"):
        window.sessions_model.upsert(SessionInfo(id=sid, title=f"session {sid}", agent="claude", status="idle"))
    window.show()
    window.select_session("a")
    assert window.session_totals.text() == ""
    bridge.events("a", [
        {"seq": 1, "kind": "assistant", "message_id": "m1", "text": "done"},
        {"seq": 2, "kind": "turn_end", "status": "success", "cost_usd": 0.0225, "duration_ms": 1500,
         "usage": {"input_tokens": 1000, "output_tokens": 200}},
    ])
    qtbot.waitUntil(lambda: window.session_totals.text() == "$0.0225 · 1,200 tokens · 1.5 s · 1 turn",
                    timeout=10_000)
    assert window.session_totals.isVisible()
    bridge.events("a", [{"seq": 3, "kind": "turn_end", "status": "success", "cost_usd": 0.01, "duration_ms": 2500,
                         "usage": {"input_tokens": 100, "output_tokens": 50}}])
    qtbot.waitUntil(lambda: window.session_totals.text() == "$0.0325 · 1,350 tokens · 4.0 s · 2 turns",
                    timeout=10_000)
    # Another session has its own totals (none yet); back to the first, its totals again.
    window.select_session("b")
    assert window.session_totals.text() == ""
    window.select_session("a")
    assert window.session_totals.text() == "$0.0325 · 1,350 tokens · 4.0 s · 2 turns"
    window.hide()
    window.deleteLater()
    bridge.deleteLater()
