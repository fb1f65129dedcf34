"""The view core without sockets or Qt: cursors, outbox, backoff, status, transcript rows."""

from __future__ import annotations

import random
import time
from typing import Any

from desktop.core.backoff import Backoff
from desktop.core.cursor import SessionCursor
from desktop.core.outbox import OutboxState
from desktop.core.status import Color, ConnectionStatus, Phase
from desktop.core.transcript import RowKind, Transcript
from desktop.core.view import RED_AFTER_FAILURES, ViewCore, ViewListener


class Recorder(ViewListener):
    def __init__(self) -> None:
        self.statuses: list[ConnectionStatus] = []
        self.delivered: dict[str, list[list[dict[str, Any]]]] = {}
        self.reset_to: list[str] = []
        self.updates: list[tuple[str, str | None, str]] = []

    def status_changed(self, status: ConnectionStatus) -> None:
        self.statuses.append(status)

    def events(self, session_id: str, events: list[dict[str, Any]]) -> None:
        self.delivered.setdefault(session_id, []).append(list(events))

    def runner_changed(self, runner_id: str) -> None:
        self.reset_to.append(runner_id)

    def session_updated(self, info: Any, previous_status: str | None) -> None:
        self.updates.append((info.id, previous_status, info.status))

    def seqs(self, sid: str) -> list[int]:
        return [e["seq"] for batch in self.delivered.get(sid, []) for e in batch]


def ev(seq: int, kind: str = "output", **fields: Any) -> dict[str, Any]:
    return {"seq": seq, "ts": 1.0, "kind": kind, **fields}


def connect(core: ViewCore, runner_id: str = "r1",
            sessions: list[dict[str, Any]] | None = None) -> list[dict]:
    core.connecting(1)
    core.opened()
    out = core.drain()
    assert [m["type"] for m in out] == ["hello"]
    core.receive({"type": "welcome", "protocol": 1, "runner_id": runner_id, "re": out[0]["id"]})
    sent = core.drain()
    core.receive({"type": "sessions", "sessions": sessions or []})
    return sent


def attach_live(core: ViewCore, sid: str, head: int = 0) -> None:
    """Follow a session and have the runner confirm the attach at `head` (after `connect`)."""
    core.open_session(sid)
    core.drain()
    core.receive({"type": "attached", "session": sid, "head": head})


def test_backoff_first_retry_at_once_then_exponential_capped() -> None:
    b = Backoff(base=0.5, factor=2, cap=15, jitter=0.5, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(12)]
    assert delays[0] == 0.0
    for n, d in enumerate(delays[1:], start=2):
        raw = min(15, 0.5 * 2 ** (n - 2))
        assert raw * 0.5 <= d <= raw
    assert max(delays) <= 15 and delays[-1] >= 7.5
    b.reset()
    assert b.next_delay() == 0.0


def test_cursor_drops_duplicates_and_detects_gaps() -> None:
    c = SessionCursor("s")
    assert c.accept([ev(1)]) == ([], False)  # not subscribed: nothing taken
    c.start_attach()
    c.confirm_attach(5)
    taken, gap = c.accept([ev(1), ev(2), ev(2), ev(1), ev(3)])
    assert [e["seq"] for e in taken] == [1, 2, 3] and not gap
    taken, gap = c.accept([ev(4), ev(6), ev(7)])
    assert [e["seq"] for e in taken] == [4] and gap
    assert c.last == 4 and not c.caught_up
    c.accept([ev(5)])
    assert c.caught_up


def test_first_connect_and_reconnect_send_the_same_requests() -> None:
    rec = Recorder()
    core = ViewCore(rec)
    core.open_session("s1")
    first = connect(core, sessions=[{"id": "s1", "head": 3}])
    core.receive({"type": "attached", "session": "s1", "head": 3})
    core.receive({"type": "events", "session": "s1", "events": [ev(1), ev(2), ev(3)]})
    core.closed("lost")
    again = connect(core, sessions=[{"id": "s1", "head": 3}])
    strip = [{k: v for k, v in m.items() if k != "id"} for m in first]
    assert [m["type"] for m in first] == [m["type"] for m in again] == ["list", "attach", "agents"]
    assert strip[1]["after"] == 0 and again[1]["after"] == 3


def test_catch_up_is_held_and_delivered_in_one_batch_then_live() -> None:
    rec = Recorder()
    core = ViewCore(rec)
    core.open_session("s1")
    connect(core, sessions=[{"id": "s1", "head": 1000}])
    core.receive({"type": "attached", "session": "s1", "head": 1000})
    assert core.status.phase is Phase.CATCHING_UP and core.status.color is Color.YELLOW
    for start in range(1, 1001, 100):
        batch = [ev(s) for s in range(start, start + 100)]
        core.receive({"type": "events", "session": "s1", "events": batch})
        if start < 901:
            assert rec.delivered == {}
    assert len(rec.delivered["s1"]) == 1 and rec.seqs("s1") == list(range(1, 1001))
    assert core.status.phase is Phase.LIVE
    core.receive({"type": "event", "session": "s1", **ev(1001)})
    assert len(rec.delivered["s1"]) == 2 and rec.seqs("s1")[-1] == 1001


def test_gap_triggers_reattach_and_nothing_is_doubled_or_lost() -> None:
    rec = Recorder()
    core = ViewCore(rec)
    core.open_session("s1")
    connect(core)
    core.drain()
    core.receive({"type": "attached", "session": "s1", "head": 0})
    core.receive({"type": "events", "session": "s1", "events": [ev(1), ev(2)]})
    core.receive({"type": "events", "session": "s1", "events": [ev(5), ev(6)]})  # 3 and 4 went missing
    out = core.drain()
    assert [(m["type"], m["after"]) for m in out] == [("attach", 2)]
    core.receive({"type": "events", "session": "s1", "events": [ev(7)]})  # old stream, ignored
    assert core.drain() == []  # no second re-attach while one is pending
    core.receive({"type": "attached", "session": "s1", "head": 7})
    core.receive({"type": "events", "session": "s1", "events": [ev(s) for s in range(3, 8)]})
    assert rec.seqs("s1") == list(range(1, 8))


def test_status_grey_yellow_red_and_token_refused() -> None:
    core = ViewCore(Recorder(), runner_label="ws://x")
    assert core.status.phase is Phase.NOT_CONNECTED and core.status.color is Color.GREY
    core.connecting(1)
    core.connect_failed("connection refused", next_retry_at=100.0)
    assert core.status.phase is Phase.RECONNECTING and core.status.color is Color.YELLOW
    assert "attempt 1" in core.status.tooltip(now=50) and "connection refused" in core.status.tooltip(now=50)
    for n in range(2, RED_AFTER_FAILURES + 1):
        core.connecting(n)
        core.connect_failed("connection refused", next_retry_at=100.0)
    assert core.status.phase is Phase.UNREACHABLE and core.status.color is Color.RED
    assert "Next retry" in core.status.tooltip(now=50)
    connect(core)
    assert core.status.phase is Phase.LIVE
    core.closed("lost", next_retry_at=None)
    assert core.status.phase is Phase.RECONNECTING
    core.connecting(1)
    core.connect_failed("the runner refused the token (HTTP 401)", auth=True)
    assert core.status.phase is Phase.TOKEN_REFUSED and core.status.color is Color.RED
    assert "token" in core.status.tooltip()


def test_outbox_queued_offline_sent_once_on_connect_and_confirmed() -> None:
    rec = Recorder()
    core = ViewCore(rec)
    item = core.send_text("s1", "hello\n")
    assert core.drain() == [] and item.state is OutboxState.QUEUED
    sent = connect(core, sessions=[{"id": "s1", "head": 0}])
    sends = [m for m in sent if m["type"] == "send"]
    assert len(sends) == 1 and sends[0]["client_msg_id"] == item.client_msg_id
    assert item.state is OutboxState.IN_FLIGHT
    # Lost before the reply: resent with the same id on the next connection (the runner dedupes).
    core.closed("lost")
    again = [m for m in connect(core, sessions=[{"id": "s1", "head": 0}]) if m["type"] == "send"]
    assert [m["client_msg_id"] for m in again] == [item.client_msg_id]
    core.receive({"type": "sent", "session": "s1", "client_msg_id": item.client_msg_id, "duplicate": True})
    assert len(core.outbox) == 0
    core.closed("lost")
    assert [m for m in connect(core, sessions=[{"id": "s1"}]) if m["type"] == "send"] == []


def test_outbox_failure_is_kept_until_retried_or_discarded() -> None:
    core = ViewCore(Recorder())
    connect(core, sessions=[{"id": "s1", "head": 0}])
    item = core.send_text("s1", "x")
    (msg,) = core.drain()
    core.receive({"type": "error", "code": "not_running", "message": "not running", "re": msg["id"]})
    assert item.state is OutboxState.FAILED and item.error == "not running"
    core.closed("lost")
    assert [m for m in connect(core, sessions=[{"id": "s1"}]) if m["type"] == "send"] == []
    core.retry_outbox(item.client_msg_id)
    assert [m["type"] for m in core.drain()] == ["send"]
    core.discard_outbox(item.client_msg_id)
    assert len(core.outbox) == 0


def test_a_refused_send_keeps_the_runners_words_and_each_outbox_change_names_its_session() -> None:
    class OutboxRecorder(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.outbox_sessions: list[str] = []

        def outbox_changed(self, session_id: str) -> None:
            self.outbox_sessions.append(session_id)

    rec = OutboxRecorder()
    core = ViewCore(rec)
    connect(core, sessions=[{"id": "s1", "head": 0}, {"id": "s2", "head": 0}])
    refusals = [
        ({"code": "not_running", "message": "s2 has ended"}, "s2 has ended"),
        ({"code": "not_running"}, "not_running"),  # no message: the code says what happened
        ({}, "error"),
    ]
    for reply, shown in refusals:
        item = core.send_text("s2", "x")
        (msg,) = core.drain()
        rec.outbox_sessions.clear()
        core.receive({"type": "error", **reply, "re": msg["id"]})
        assert item.state is OutboxState.FAILED and item.error == shown
        assert rec.outbox_sessions == ["s2"]
        rec.outbox_sessions.clear()
        core.retry_outbox(item.client_msg_id)
        assert rec.outbox_sessions == ["s2"] and item.state is OutboxState.IN_FLIGHT
        core.drain()
        rec.outbox_sessions.clear()
        core.discard_outbox(item.client_msg_id)
        assert rec.outbox_sessions == ["s2"]
    rec.outbox_sessions.clear()
    core.discard_outbox("c-unknown")
    core.retry_outbox("c-unknown")
    assert rec.outbox_sessions == []  # nothing changed, nothing to redraw


def test_only_an_unknown_session_reply_to_an_attach_forgets_the_session() -> None:
    class NoticeRecorder(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.notices: list[str] = []
            self.removed: list[str] = []

        def notice(self, level: str, message: str) -> None:
            self.notices.append(message)

        def session_removed(self, session_id: str) -> None:
            self.removed.append(session_id)

    rec = NoticeRecorder()
    core = ViewCore(rec)
    connect(core, sessions=[{"id": "s1", "head": 0}, {"id": "s2", "head": 0}])
    core.open_session("s1")
    (attach,) = core.drain()
    core.receive({"type": "error", "code": "internal", "message": "try later", "re": attach["id"]})
    assert "s1" in core.sessions and "s1" in core.cursors and rec.removed == []  # kept, and the user is told
    assert rec.notices == ["try later"]
    core.open_session("s2")
    (attach,) = core.drain()
    core.receive({"type": "error", "code": "unknown_session", "message": "no such session", "re": attach["id"]})
    assert "s2" not in core.sessions and "s2" not in core.cursors and rec.removed == ["s2"]
    assert rec.notices == ["try later"]


def test_set_rendering_detaches_and_resumes_after_the_last_seq() -> None:
    rec = Recorder()
    core = ViewCore(rec)
    core.open_session("s1")
    connect(core, sessions=[{"id": "s1", "head": 2}])
    core.receive({"type": "attached", "session": "s1", "head": 2})
    core.receive({"type": "events", "session": "s1", "events": [ev(1), ev(2)]})
    core.drain()
    core.set_rendering(False)
    assert [(m["type"], m["session"]) for m in core.drain()] == [("detach", "s1")]
    core.receive({"type": "events", "session": "s1", "events": [ev(3)]})  # in flight before the detach
    core.receive({"type": "heads", "heads": {"s1": 50}})
    assert rec.seqs("s1") == [1, 2] and core.sessions["s1"].head == 50
    assert core.status.phase is Phase.LIVE
    core.set_rendering(True)
    (attach,) = core.drain()
    assert attach["type"] == "attach" and attach["after"] == 2
    assert core.status.phase is Phase.CATCHING_UP
    core.receive({"type": "attached", "session": "s1", "head": 50})
    core.receive({"type": "events", "session": "s1", "events": [ev(s) for s in range(3, 51)]})
    assert rec.seqs("s1") == list(range(1, 51)) and len(rec.delivered["s1"]) == 2
    assert core.status.phase is Phase.LIVE


def test_another_runner_id_resets_cursors() -> None:
    rec = Recorder()
    core = ViewCore(rec)
    core.open_session("s1")
    connect(core, runner_id="r1", sessions=[{"id": "s1", "head": 2}])
    core.receive({"type": "attached", "session": "s1", "head": 2})
    core.receive({"type": "events", "session": "s1", "events": [ev(1), ev(2)]})
    core.closed("lost")
    sent = connect(core, runner_id="r2", sessions=[{"id": "s1", "head": 1}])
    assert rec.reset_to == ["r2"]
    assert [m["after"] for m in sent if m["type"] == "attach"] == [0]


def test_unread_counts_follow_heads_except_for_the_selected_session() -> None:
    core = ViewCore(Recorder())
    connect(core, sessions=[{"id": "a", "head": 10}, {"id": "b", "head": 4}])
    assert core.sessions["a"].unread == 0  # history from before the app started is not unread
    core.select("a")
    core.receive({"type": "heads", "heads": {"a": 15, "b": 9}})
    assert core.sessions["a"].unread == 0 and core.sessions["b"].unread == 5
    core.select("b")
    assert core.sessions["b"].unread == 0


def test_transcript_merges_deltas_tools_permissions_and_survives_unknown_kinds() -> None:
    t = Transcript()
    t.apply([
        ev(1, "user", text="hi"),
        ev(2, "assistant", message_id="m1", text="Hel"),
        ev(3, "assistant", message_id="m1", text="lo"),
        ev(4, "tool_call", tool_id="t1", name="Bash", input={"command": "ls -la"}),
        ev(5, "agent_session", agent_session_id="x"),
    ])
    batch = t.apply([
        ev(6, "assistant", message_id="m1", text="!"),
        ev(7, "tool_result", tool_id="t1", output="a\nb", is_error=False),
        ev(8, "permission_request", request_id="p1", tool_name="Write", input={"file_path": "/tmp/x"}),
        ev(9, "permission_answer", request_id="p1", behavior="allow"),
        ev(10, "brand_new_kind", foo=1),
        ev(11, "output", stream="stdout", text="aaa", truncated=True),
        ev(12, "output", stream="stdout", text="bbb"),
        ev(13, "status", status="exited", exit_code=0),
        ev(14, "status", status="idle"),
        ev(15, "turn_end", status="success", duration_ms=1500, cost_usd=0.01),
        ev(16, "error", message="boom"),
    ])
    kinds = [r.kind for r in t.rows]
    assert kinds == [RowKind.USER, RowKind.ASSISTANT, RowKind.TOOL, RowKind.PERMISSION, RowKind.GENERIC,
                     RowKind.OUTPUT, RowKind.STATUS, RowKind.TURN_END, RowKind.ERROR]
    assert t.rows[1].text == "Hello!" and t.rows[2].data["output"] == "a\nb" and t.rows[2].text == "ls -la"
    assert t.rows[3].data["behavior"] == "allow" and t.rows[5].text == "aaabbb"
    assert {r.index for r in batch.changed} == {1, 2}
    assert t.rows[6].text == "Exited with code 0" and "1.5 s" in t.rows[7].text
    assert t.event_count == 16 and t.out_of_order == 0


class Released(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.released: list[str] = []
        self.notices: list[str] = []

    def session_released(self, session_id: str) -> None:
        self.released.append(session_id)

    def notice(self, level: str, message: str) -> None:
        self.notices.append(message)


def test_sessions_nobody_shows_are_detached_after_a_while() -> None:
    rec = Released()
    core = ViewCore(rec)
    connect(core, sessions=[{"id": "a", "head": 3}, {"id": "b", "head": 2}])
    for sid in ("a", "b"):
        core.open_session(sid)
        core.select(sid)  # shown one after the other: "a" is not shown any more from here
    core.drain()
    now = time.monotonic()
    assert core.release_unshown(60, now=now + 30) == []  # not long enough
    assert core.release_unshown(60, now=now + 61) == ["a"]  # "b" is shown: kept however long
    assert [m for m in core.drain() if m["type"] == "detach"] == [{"type": "detach", "session": "a"}]
    assert rec.released == ["a"] and set(core.cursors) == {"b"}
    # Shown again: followed from its start.
    core.select("a")
    core.open_session("a")
    assert [(m["type"], m["after"]) for m in core.drain()] == [("attach", 0)]
    assert core.release_unshown(60, now=time.monotonic() + 61) == ["b"]


def test_a_callers_request_gets_its_reply_and_the_core_keeps_no_entry() -> None:
    rec = Released()
    core = ViewCore(rec)
    connect(core)
    core.drain()
    waiting = core.open_requests  # the connection's own (list, agents): unanswered here
    replies: list[dict[str, Any] | None] = []
    rid = core.request({"type": "rename", "session": "s", "title": "t"}, replies.append)
    other = core.request({"type": "stop", "session": "s"}, replies.append)
    (rename, stop) = core.drain()
    assert (rename["id"], stop["id"]) == (rid, other) and rid != other
    core.receive({"type": "error", "code": "unknown_session", "message": "no session 's'", "re": rid})
    # The caller reports its own errors: the core says nothing about them.
    assert replies == [{"type": "error", "code": "unknown_session", "message": "no session 's'", "re": rid}]
    assert rec.notices == [] and core.open_requests == waiting + 1
    core.closed("connection lost")
    assert replies[-1] is None and core.open_requests == 0  # told the connection ended, not left waiting


class HeadsRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.heads: list[list[str]] = []
        self.outbox: list[str] = []

    def heads_changed(self, session_ids: list[str]) -> None:
        self.heads.append(list(session_ids))

    def outbox_changed(self, session_id: str) -> None:
        self.outbox.append(session_id)


def test_events_taken_move_the_head_and_the_shown_session_is_read_without_a_heads_signal() -> None:
    rec = HeadsRecorder()
    core = ViewCore(rec)
    connect(core, sessions=[{"id": "a", "head": 2}, {"id": "b", "head": 2}])
    for sid in ("a", "b"):
        attach_live(core, sid, head=2)
    core.select("a")
    rec.heads.clear()
    core.receive({"type": "events", "session": "a", "events": [ev(1), ev(2), ev(3), ev(4)]})
    core.receive({"type": "events", "session": "b", "events": [ev(1), ev(2), ev(3)]})
    assert core.sessions["a"].head == 4 and core.sessions["a"].unread == 0  # shown: read as it arrives
    assert core.sessions["b"].head == 3 and core.sessions["b"].unread == 1  # not shown: one new event
    assert rec.heads == []  # the list learns of heads from `heads` pushes, not once per frame
    core.receive({"type": "events", "session": "a", "events": [ev(3)]})  # a duplicate moves nothing
    assert core.sessions["a"].head == 4
    core.receive({"type": "events", "session": 7, "events": [ev(5)]})  # not a session id: ignored
    core.receive({"type": "events", "session": "nope", "events": [ev(5)]})
    assert rec.seqs("a") == [1, 2, 3, 4]


def test_a_journaled_user_event_confirms_its_message_and_tells_the_outbox_listener_once() -> None:
    rec = HeadsRecorder()
    core = ViewCore(rec)
    connect(core, sessions=[{"id": "a", "head": 0}])
    attach_live(core, "a")
    core.send_text("a", "hello")
    (send,) = [m for m in core.drain() if m["type"] == "send"]
    rec.outbox.clear()
    core.receive({"type": "events", "session": "a", "events": [ev(1, "output", text="x")]})
    assert rec.outbox == []  # nothing confirmed: no outbox change
    core.receive({"type": "events", "session": "a", "events": [
        ev(2, "user", text="hello", client_msg_id=send["client_msg_id"]), ev(3, "user", text="other")]})
    assert rec.outbox == ["a"]
    assert core.outbox.for_session("a") == []


def test_heads_pushes_move_heads_up_only_and_name_the_sessions_that_changed() -> None:
    rec = HeadsRecorder()
    core = ViewCore(rec)
    connect(core, sessions=[{"id": "a", "head": 10}, {"id": "b", "head": 4}, {"id": "c", "head": 7}])
    core.select("a")
    rec.heads.clear()
    core.receive({"type": "heads", "heads": {"a": 12, "b": 4, "c": 3, "gone": 99, "x": "7"}})
    assert rec.heads == [["a"]]  # b did not move, c cannot go back, unknown sessions and bad heads ignored
    assert core.sessions["a"].head == 12 and core.sessions["a"].unread == 0  # the shown session: read
    assert core.sessions["c"].head == 7 and core.sessions["b"].unread == 0
    core.receive({"type": "heads", "heads": {"b": 6}})
    assert rec.heads == [["a"], ["b"]] and core.sessions["b"].unread == 2
    core.receive({"type": "heads", "heads": ["a"]})
    assert rec.heads == [["a"], ["b"]]


def test_opening_a_session_twice_keeps_its_place_and_nothing_is_sent_before_the_connection() -> None:
    rec = HeadsRecorder()
    core = ViewCore(rec)
    cursor = core.open_session("a")
    assert core.drain() == []  # not connected: the attach waits for the connection
    sent = connect(core, sessions=[{"id": "a", "head": 3}])
    assert [(m["type"], m["after"]) for m in sent if m["type"] == "attach"] == [("attach", 0)]
    core.receive({"type": "attached", "session": "a", "head": 3})
    core.receive({"type": "events", "session": "a", "events": [ev(1), ev(2), ev(3)]})
    assert core.open_session("a") is cursor and cursor.last == 3
    assert core.drain() == []  # already attached: not attached again


def test_sessions_opened_but_not_shown_are_released_after_a_while_the_shown_one_never() -> None:
    rec = HeadsRecorder()
    core = ViewCore(rec)
    connect(core, sessions=[{"id": "a", "head": 0}, {"id": "b", "head": 0}, {"id": "c", "head": 0}])
    core.select("a")
    for sid in ("a", "b"):
        core.open_session(sid)
    opened = time.monotonic()
    assert core.release_unshown(older_than=60, now=opened + 30) == []
    assert core.release_unshown(older_than=60, now=opened + 61) == ["b"]  # "a" is shown
    assert set(core.cursors) == {"a"}
    core.open_session("c")
    core.select("c")  # "a" is no longer shown from now on
    switched = time.monotonic()
    assert core.release_unshown(older_than=60, now=switched + 61) == ["a"]
    assert set(core.cursors) == {"c"}


def test_a_cursor_forgets_the_head_when_it_stops_following_or_the_journal_changes() -> None:
    c = SessionCursor("s")
    c.start_attach()
    c.confirm_attach(5)
    c.accept([ev(1), ev(2)])
    assert c.behind == 3 and not c.caught_up
    c.unsubscribe()
    assert (c.subscribed, c.attach_pending, c.head, c.behind, c.caught_up) == (False, False, None, 0, False)
    assert c.accept([ev(3)]) == ([], False) and c.last == 2  # not following: nothing taken
    c.start_attach()
    c.confirm_attach(4)
    c.held.append(ev(3))
    c.reset()  # another runner_id: seqs of the old journal mean nothing
    assert (c.last, c.head, c.behind, c.held, c.caught_up) == (0, None, 0, [], False)
    assert c.subscribed  # still following: the next attach starts from 0


def test_session_pushes_create_and_update_sessions_with_defaults_for_missing_fields() -> None:
    rec = HeadsRecorder()
    core = ViewCore(rec)
    connect(core, sessions=[{"id": "a", "head": 5, "title": "first", "agent": "claude", "status": "running"}])
    core.select("a")
    info = core.sessions["a"]
    assert (info.title, info.agent, info.status, info.head) == ("first", "claude", "running", 5)
    rec.updates.clear()
    core.receive({"type": "session", "session": {"id": "a", "head": 7, "status": "idle", "pending_permissions": 2}})
    assert (info.title, info.agent, info.status, info.head, info.unread) == ("", "command", "idle", 7, 0)
    assert info.pending_permissions == 2 and info.data["pending_permissions"] == 2
    core.receive({"type": "session_changed", "session": {"id": "a", "head": 3, "title": "renamed", "agent": "codex",
                                                         "status": None, "pending_permissions": "2"}})
    assert (info.title, info.agent, info.status, info.head) == ("renamed", "codex", "idle", 7)  # heads never go back
    assert info.pending_permissions == 0
    core.receive({"type": "created", "session": {"id": "b", "title": 12, "head": "x"}})
    b = core.sessions["b"]
    assert (b.title, b.agent, b.status, b.head, b.unread) == ("12", "command", "idle", 0, 0)
    assert rec.updates == [("a", "running", "idle"), ("a", "idle", "idle"), ("b", None, "idle")]
    for bad in ({"type": "created", "session": {"title": "no id"}}, {"type": "session_changed", "session": "a"},
                {"type": "session", "session": {"id": 5}}):
        core.receive(bad)
    assert set(core.sessions) == {"a", "b"} and len(rec.updates) == 3


def test_resuming_rendering_marks_the_shown_session_read_and_closing_a_detached_one_sends_nothing() -> None:
    rec = HeadsRecorder()
    core = ViewCore(rec)
    connect(core, sessions=[{"id": "a", "head": 4}, {"id": "b", "head": 0}])
    core.select("a")
    core.set_rendering(False)  # minimized
    core.drain()
    rec.heads.clear()
    core.receive({"type": "heads", "heads": {"a": 9}})
    assert core.sessions["a"].unread == 5  # nobody is looking while minimized
    core.set_rendering(True)
    assert core.sessions["a"].unread == 0 and rec.heads == [["a"], ["a"]]
    core.set_rendering(False)
    core.drain()
    core.open_session("b")  # opened while paused: not attached
    core.close_session("b")
    assert core.drain() == []  # nothing to detach


def test_a_session_selected_but_never_opened_is_not_released() -> None:
    core = ViewCore(HeadsRecorder())
    connect(core, sessions=[{"id": "a", "head": 0}, {"id": "b", "head": 0}])
    core.select("a")
    core.select("b")
    assert core.release_unshown(older_than=0, now=time.monotonic() + 1) == []


def test_each_connection_starts_with_a_hello_naming_the_protocol_and_the_client() -> None:
    from runner.vocabulary import PROTOCOL_VERSION

    for core, client in ((ViewCore(Recorder()), "nightshift-desktop"),
                         (ViewCore(Recorder(), client_name="tester"), "tester")):
        for _ in range(2):  # the first connection and a reconnect alike
            core.connecting(1)
            core.opened()
            [hello] = core.drain()
            assert {k: v for k, v in hello.items() if k != "id"} == {
                "type": "hello", "protocol": PROTOCOL_VERSION, "client": client}
            assert core.status.phase is Phase.CATCHING_UP  # connected, not yet welcomed nor listed
            core.receive({"type": "welcome", "protocol": 1, "runner_id": "r1", "re": hello["id"]})
            assert core.status.phase is Phase.CATCHING_UP  # welcomed, the session list not in yet
            core.drain()
            core.receive({"type": "sessions", "sessions": []})
            assert core.status.phase is Phase.LIVE
            core.closed("lost")
            assert core.status.phase is Phase.RECONNECTING and core.status.reason == "lost"


def test_the_dot_turns_red_at_exactly_the_failure_limit_and_a_working_connection_starts_over() -> None:
    core = ViewCore(Recorder(), runner_label="lab")
    assert core.status == ConnectionStatus(Phase.NOT_CONNECTED, runner="lab")  # nothing tried, nothing said
    for _ in range(2):
        for n in range(1, RED_AFTER_FAILURES + 1):
            core.connecting(n)
            assert core.status.next_retry_at is None and core.status.attempt == n  # trying now
            core.connect_failed("refused", next_retry_at=100.0 + n)
            expected = Phase.UNREACHABLE if n == RED_AFTER_FAILURES else Phase.RECONNECTING
            assert core.status.phase is expected, n
            assert core.status.reason == "refused" and core.status.next_retry_at == 100.0 + n
        connect(core)
        assert core.status == ConnectionStatus(Phase.LIVE, runner="lab", attempt=1)
        core.closed("lost", next_retry_at=7.0)
        assert core.status.next_retry_at == 7.0 and core.status.phase is Phase.RECONNECTING
    core.connecting(1)
    core.connect_failed("not trusted", untrusted=True)
    assert core.status.phase is Phase.UNTRUSTED and core.status.next_retry_at is None
    core.connecting(2)
    core.connect_failed("refused", next_retry_at=1.0)
    assert core.status.phase is Phase.RECONNECTING  # the certificate is no longer what failed


def test_an_error_the_runner_pushes_is_a_notice_and_an_error_reply_goes_to_its_caller_only() -> None:
    class Notices(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.notices: list[tuple[str, str]] = []

        def notice(self, level: str, message: str) -> None:
            self.notices.append((level, message))

    rec = Notices()
    core = ViewCore(rec)
    connect(core)
    core.receive({"type": "error", "code": "journal_failed", "message": "the disk is full"})
    core.receive({"type": "error", "code": "journal_failed"})
    core.receive({"type": "error"})
    assert rec.notices == [("error", "the disk is full"), ("error", "journal_failed"), ("error", "error")]
    replies: list[Any] = []
    waiting = core.open_requests  # the connection's own (list, agents), not answered here
    rid = core.request({"type": "rename", "session": "s", "title": "t"}, replies.append)
    core.receive({"type": "error", "code": "unknown_session", "message": "no such session", "re": rid})
    assert replies == [{"type": "error", "code": "unknown_session", "message": "no such session", "re": rid}]
    assert len(rec.notices) == 3 and core.open_requests == waiting
    core.receive({"type": 7})  # a type that is not text: ignored, not a crash
    core.receive({"type": "pong", "re": 12345})  # a reply nobody waits for: ignored
    assert len(rec.notices) == 3


def test_another_runner_id_starts_every_sessions_heads_and_reads_over() -> None:
    rec = Recorder()
    core = ViewCore(rec)
    connect(core, runner_id="r1", sessions=[{"id": "s1", "head": 5}, {"id": "s2", "head": 3}])
    assert (core.sessions["s2"].head, core.sessions["s2"].seen) == (3, 3)  # the first list: all read
    core.closed("lost")
    connect(core, runner_id="r2", sessions=[{"id": "s2", "head": 0}])
    assert rec.reset_to == ["r2"]
    # The new journal's head and read mark, not the old ones kept as a floor (heads otherwise only move up).
    assert (core.sessions["s2"].head, core.sessions["s2"].seen) == (0, 0)
    assert "s1" not in core.sessions


class NoticeRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.notices: list[tuple[str, str]] = []
        self.listed: list[list[Any]] = []
        self.agents: list[list[dict[str, Any]]] = []

    def notice(self, level: str, message: str) -> None:
        self.notices.append((level, message))

    def sessions_listed(self, sessions: list[Any]) -> None:
        self.listed.append(sessions)

    def agents_listed(self, agents: list[dict[str, Any]]) -> None:
        self.agents.append(agents)


def test_the_cores_own_requests_that_fail_are_told_once_each_in_words() -> None:
    rec = NoticeRecorder()
    core = ViewCore(rec)
    sent = connect(core, sessions=[{"id": "s1", "head": 0}])
    core.open_session("s1")
    [attach] = [m for m in core.drain() if m["type"] == "attach"]
    core.receive({"type": "error", "code": "internal", "message": "cannot read the journal", "re": attach["id"]})
    assert rec.notices == [("error", "cannot read the journal")]
    assert "s1" in core.cursors and "s1" in core.sessions  # not forgotten: only an unknown session is

    item = core.answer("s1", "r1", "allow")
    [answer] = [m for m in core.drain() if m["type"] == "answer"]
    core.receive({"type": "error", "code": "bad_request", "message": "no such choice", "re": answer["id"]})
    assert rec.notices[-1] == ("error", "The permission answer was not delivered: no such choice")
    assert item.client_msg_id not in [i.client_msg_id for i in core.outbox.to_send()]  # settled, not resent
    core.answer("s1", "r2", "deny")
    [again] = [m for m in core.drain() if m["type"] == "answer"]
    core.receive({"type": "error", "code": "unknown_request", "message": "gone", "re": again["id"]})
    assert len(rec.notices) == 2  # an answer resent after a crash was applied before: nothing to say

    core.send_text("s1", "hi")
    [send] = [m for m in core.drain() if m["type"] == "send"]
    core.receive({"type": "error", "code": "session_exited", "message": "the agent has exited", "re": send["id"]})
    assert len(rec.notices) == 2  # a refused message is shown on the message itself, not as a notice
    [agents] = [m for m in sent if m["type"] == "agents"]
    core.receive({"type": "error", "code": "internal", "message": "no agents", "re": agents["id"]})
    assert rec.notices[-1] == ("error", "no agents") and len(rec.notices) == 3


def test_lists_of_sessions_and_agents_reach_the_listener_and_bad_entries_are_skipped() -> None:
    rec = NoticeRecorder()
    core = ViewCore(rec)
    connect(core, sessions=[{"id": "s1", "head": 2}, {"id": 5}, "junk", {"title": "no id"}])
    assert [[s.id for s in listed] for listed in rec.listed] == [["s1"]]
    core.receive({"type": "agents", "agents": [{"name": "claude"}, "junk", {"name": "codex"}]})
    assert rec.agents == [[{"name": "claude"}, {"name": "codex"}]] and core.agents == rec.agents[0]
    core.receive({"type": "agents", "agents": "not a list"})
    assert len(rec.agents) == 1


def test_the_status_carries_the_runner_attempt_reason_and_next_retry_in_every_phase() -> None:
    core = ViewCore(Recorder(), runner_label="lab")
    core.connecting(3)
    core.connect_failed("not trusted", untrusted=True)
    assert core.status == ConnectionStatus(Phase.UNTRUSTED, runner="lab", attempt=3, reason="not trusted")
    core.connecting(4)
    core.connect_failed("bad token", auth=True)
    assert core.status == ConnectionStatus(Phase.TOKEN_REFUSED, runner="lab", attempt=4, reason="bad token")
    for n in range(5, 5 + RED_AFTER_FAILURES):
        core.connecting(n)
        core.connect_failed("refused", next_retry_at=9.0)
    assert core.status == ConnectionStatus(Phase.UNREACHABLE, runner="lab", attempt=n, reason="refused",
                                           next_retry_at=9.0)
    core.open_session("s1")
    core.connecting(1)
    core.opened()
    [hello] = core.drain()
    core.receive({"type": "welcome", "protocol": 1, "runner_id": "r", "re": hello["id"]})
    core.receive({"type": "sessions", "sessions": [{"id": "s1", "head": 40}]})
    core.drain()
    core.receive({"type": "attached", "session": "s1", "head": 40})
    assert core.status == ConnectionStatus(Phase.CATCHING_UP, runner="lab", attempt=1, behind=40)


def test_what_existed_before_the_view_is_read_what_comes_after_is_unread_and_the_shown_is_read_quietly() -> None:
    class Heads(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.heads: list[list[str]] = []

        def heads_changed(self, session_ids: list[str]) -> None:
            self.heads.append(list(session_ids))

    rec = Heads()
    core = ViewCore(rec)
    core.select("shown")
    connect(core, sessions=[{"id": "old", "head": 4}, {"id": "headless"}, {"id": "shown", "head": 2}])
    assert [(core.sessions[s].head, core.sessions[s].unread) for s in ("old", "headless", "shown")] == [
        (4, 0), (0, 0), (2, 0)]
    core.receive({"type": "sessions", "sessions": [
        {"id": "old", "head": 4}, {"id": "headless", "head": 5}, {"id": "shown", "head": 3},
        {"id": "new", "head": 3}]})
    assert core.sessions["headless"].unread == 5  # nothing of it was read: its 5 events are all new
    assert core.sessions["new"].unread == 3  # appeared after the view started: unread
    assert core.sessions["shown"].unread == 0  # the shown session is read as it grows...
    core.receive({"type": "session_changed", "session": {"id": "shown", "head": 6}})
    assert core.sessions["shown"].unread == 0
    assert rec.heads == []  # ... without a heads signal: the list and the session update already say so


def test_replies_and_pushes_about_sessions_the_view_does_not_follow_change_nothing() -> None:
    class Removals(NoticeRecorder):
        def __init__(self) -> None:
            super().__init__()
            self.removed: list[str] = []

        def session_removed(self, session_id: str) -> None:
            self.removed.append(session_id)

    rec = Removals()
    core = ViewCore(rec)
    connect(core, sessions=[{"id": "s1", "head": 3}])
    core.receive({"type": "session_deleted", "session": "nope"})
    core.receive({"type": "attached", "session": "nope", "head": 4})
    core.receive({"type": "events", "session": ["not", "an", "id"], "events": [ev(1)]})
    assert rec.removed == [] and rec.notices == [] and "nope" not in core.cursors

    core.open_session("s1")
    [attach] = [m for m in core.drain() if m["type"] == "attach"]
    core.receive({"type": "attached", "session": "s1", "head": 7, "re": attach["id"]})
    assert rec.notices == []  # a successful attach is not an error
    assert core.sessions["s1"].head == 7 and core.cursors["s1"].subscribed  # the attach tells the newest head
    core.set_rendering(False)  # minimized: every followed session is detached
    core.drain()
    core.receive({"type": "attached", "session": "s1", "head": 8})  # late, for the attach before
    assert not core.cursors["s1"].subscribed  # not followed again behind the view's back

    core.open_session("unlisted")  # a session the list does not have (deleted meanwhile, say)
    core.set_rendering(True)
    attaches = [m for m in core.drain() if m["type"] == "attach" and m["session"] == "unlisted"]
    core.receive({"type": "error", "code": "unknown_session", "message": "no such session",
                  "re": attaches[-1]["id"]})
    assert "unlisted" not in core.cursors and rec.notices == []
    assert "unlisted" not in core.release_unshown(0, now=time.monotonic() + 10**6)  # nothing of it is left
    core.close_session("never-opened")  # nothing to close: nothing happens
    core.select("s1")
    core.close_session("s1")
    assert "s1" not in core.cursors


def test_a_message_typed_before_the_welcome_goes_out_once_after_it() -> None:
    core = ViewCore(Recorder())
    core.connecting(1)
    assert core.status.phase is Phase.NOT_CONNECTED  # trying for the first time: not yet a failure
    core.opened()
    core.send_text("s1", "early")
    [hello] = core.drain()  # only the hello: the runner has not said who it is yet
    assert hello["type"] == "hello"
    core.receive({"type": "welcome", "protocol": 1, "runner_id": "r1", "re": hello["id"]})
    assert [m["text"] for m in core.drain() if m["type"] == "send"] == ["early"]


def test_another_runners_first_list_counts_its_new_sessions_as_read() -> None:
    core = ViewCore(Recorder())
    connect(core, runner_id="r1", sessions=[{"id": "s1", "head": 2}])
    core.closed("lost")
    connect(core, runner_id="r2", sessions=[{"id": "s1", "head": 5}, {"id": "s3", "head": 4}])
    assert core.sessions["s3"].unread == 0  # there before this view knew the runner: not news
    assert core.sessions["s1"].unread == 5  # its old read mark meant another journal
