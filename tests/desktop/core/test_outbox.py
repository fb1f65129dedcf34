"""The outbox: what settles an item, what only acknowledges it, and how it survives the app on disk."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from desktop.core.outbox import Outbox, OutboxState
from desktop.core.view import ViewCore, ViewListener
from desktop.outbox_store import FileOutboxStore
from tests.desktop.core.test_core import attach_live, connect, ev


class Changes(ViewListener):
    def __init__(self) -> None:
        self.outbox: list[str] = []
        self.notices: list[tuple[str, str]] = []

    def outbox_changed(self, session_id: str) -> None:
        self.outbox.append(session_id)

    def notice(self, level: str, message: str) -> None:
        self.notices.append((level, message))


def sends(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] in ("send", "answer")]


def test_sent_acknowledges_but_only_the_journaled_user_event_settles() -> None:
    changes = Changes()
    core = ViewCore(changes)
    connect(core, sessions=[{"id": "s1", "head": 0}])
    attach_live(core, "s1")
    item = core.send_text("s1", "hello\n")
    (msg,) = sends(core.drain())
    core.receive({"type": "sent", "session": "s1", "client_msg_id": item.client_msg_id, "duplicate": False,
                  "re": msg["id"]})
    # Acknowledged: no longer shown as waiting, not counted as undelivered, but still kept.
    assert item.state is OutboxState.DELIVERED
    assert core.outbox.for_session("s1") == [] and core.outbox.undelivered() == 0
    assert item in list(core.outbox) and changes.outbox == ["s1", "s1"]  # added, acknowledged
    core.receive({"type": "event", "session": "s1", **ev(1, "user", text="hello\n",
                                                       client_msg_id=item.client_msg_id)})
    assert len(core.outbox) == 0


def test_an_acknowledged_message_the_runner_lost_is_sent_again_and_a_duplicate_answer_settles() -> None:
    core = ViewCore(Changes())
    connect(core, sessions=[{"id": "s1", "head": 0}])
    item = core.send_text("s1", "x\n")
    core.receive({"type": "sent", "session": "s1", "client_msg_id": item.client_msg_id, "duplicate": False})
    core.closed("lost")  # the runner died right after its reply; nobody saw the user event
    again = sends(connect(core, sessions=[{"id": "s1", "head": 0}]))
    assert [m["client_msg_id"] for m in again] == [item.client_msg_id]
    # This runner had lost it: applied now, acknowledged again, still kept.
    core.receive({"type": "sent", "session": "s1", "client_msg_id": item.client_msg_id, "duplicate": False})
    assert len(core.outbox) == 1
    core.closed("lost")
    again = sends(connect(core, sessions=[{"id": "s1", "head": 0}]))
    assert [m["client_msg_id"] for m in again] == [item.client_msg_id]
    core.receive({"type": "sent", "session": "s1", "client_msg_id": item.client_msg_id, "duplicate": True})
    assert len(core.outbox) == 0
    core.closed("lost")
    assert sends(connect(core, sessions=[{"id": "s1", "head": 0}])) == []


def test_replies_leave_no_request_bookkeeping_behind() -> None:
    core = ViewCore(Changes())
    core.connecting(1)
    core.opened()
    (hello,) = core.drain()
    core.receive({"type": "welcome", "protocol": 1, "runner_id": "r", "re": hello["id"]})
    listed, agents = core.drain()
    core.receive({"type": "sessions", "sessions": [{"id": "s1", "head": 0}], "re": listed["id"]})
    core.receive({"type": "agents", "agents": [], "re": agents["id"]})
    core.open_session("s1")
    (attach,) = core.drain()
    core.receive({"type": "attached", "session": "s1", "head": 0, "re": attach["id"]})
    for i in range(50):
        item = core.send_text("s1", f"{i}\n")
        (msg,) = sends(core.drain())
        core.receive({"type": "sent", "session": "s1", "client_msg_id": item.client_msg_id,
                      "duplicate": False, "re": msg["id"]})
    assert core.open_requests == 0


def test_permission_answers_wait_offline_and_are_settled_by_ok_event_or_unknown_request() -> None:
    changes = Changes()
    core = ViewCore(changes)
    first = core.answer("s1", "req-1", "allow")
    assert core.answer("s1", "req-1", "deny") is first  # one answer per request
    second = core.answer("s1", "req-2", "deny")
    core.answer("s1", "req-3", "allow")
    assert core.drain() == [] and core.outbox.for_session("s1") == []  # answers are not message rows
    out = sends(connect(core, sessions=[{"id": "s1", "head": 0}]))
    assert [(m["type"], m["request_id"], m["behavior"]) for m in out] == [
        ("answer", "req-1", "allow"), ("answer", "req-2", "deny"), ("answer", "req-3", "allow")]
    core.receive({"type": "ok", "re": out[0]["id"]})
    # Resent after a crash: already applied, so the runner no longer knows the request. Settled, silently.
    core.receive({"type": "error", "code": "unknown_request", "message": "no such request", "re": out[1]["id"]})
    assert first not in list(core.outbox) and second not in list(core.outbox)
    assert changes.notices == []
    attach_live(core, "s1")
    core.receive({"type": "event", "session": "s1",
                  **ev(1, "permission_answer", request_id="req-3", behavior="allow")})
    assert len(core.outbox) == 0


def test_the_outbox_is_on_disk_private_and_taken_over_by_the_next_run(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    first = Outbox(FileOutboxStore(folder, "ws://runner-a/"))
    a = first.add("s1", "one\n")
    b = first.add("s1", "two\n")
    first.add_answer("s1", "req-1", "deny", "not that file")
    first.fail(b.client_msg_id, "not running")
    first.flush()
    other = Outbox(FileOutboxStore(folder, "ws://runner-b/"))
    other.add("s9", "for another runner\n")
    (mine,) = [p for p in folder.iterdir() if json.loads(p.read_text())["runner"] == "ws://runner-a/"]
    assert stat.S_IMODE(mine.stat().st_mode) == 0o600
    if os.name == "posix":
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700

    # The app is gone without a word (nothing closed, nothing flushed on purpose); the next run loads it all.
    del first
    again = Outbox(FileOutboxStore(folder, "ws://runner-a/"))
    items = list(again)
    assert [(i.client_msg_id, i.text, i.state) for i in items[:2]] == [
        (a.client_msg_id, "one\n", OutboxState.QUEUED), (b.client_msg_id, "two\n", OutboxState.FAILED)]
    assert items[1].error == "not running"
    assert items[2].answer == {"request_id": "req-1", "behavior": "deny", "message": "not that file"}
    assert [i.client_msg_id for i in again.to_send()] == [a.client_msg_id, items[2].client_msg_id]
    # Once its own file holds them, the old file goes; the other runner's file stays.
    again.confirm(a.client_msg_id)
    again.flush()
    files = {json.loads(p.read_text())["runner"]: p for p in folder.iterdir()}
    assert set(files) == {"ws://runner-a/", "ws://runner-b/"} and files["ws://runner-a/"] != mine
    assert [r["id"] for r in json.loads(files["ws://runner-a/"].read_text())["items"]] == [
        b.client_msg_id, items[2].client_msg_id]
    assert not list(folder.glob("*.tmp"))
    # Settling everything removes the file.
    for item in list(again):
        again.confirm(item.client_msg_id)
    again.flush()
    assert {json.loads(p.read_text())["runner"] for p in folder.iterdir()} == {"ws://runner-b/"}


def test_a_new_message_is_written_to_disk_right_away(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    core = ViewCore(Changes(), outbox=Outbox(FileOutboxStore(folder, "ws://r/")))
    connect(core, sessions=[{"id": "s1", "head": 0}])
    item = core.send_text("s1", "hello\n")
    assert sends(core.drain())
    (path,) = folder.iterdir()
    assert json.loads(path.read_text())["items"][0]["id"] == item.client_msg_id


def test_an_unreadable_outbox_file_is_left_alone_and_a_lone_surrogate_survives(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    store = FileOutboxStore(folder, "ws://r/")
    folder.mkdir()
    broken = folder / f"{store.digest}-broken.json"
    broken.write_text("{not json")
    outbox = Outbox(store)
    assert len(outbox) == 0
    item = outbox.add("s1", "odd \ud800 text\n")
    loaded = list(Outbox(FileOutboxStore(folder, "ws://r/")))
    assert [i.text for i in loaded] == [item.text]
    assert [p for p in folder.iterdir() if p.read_text() == "{not json"]  # kept (under another name)


def test_a_store_that_cannot_write_keeps_the_items_and_says_so_once(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    problems: list[str] = []
    outbox = Outbox(FileOutboxStore(blocker / "outbox", "ws://r/"), on_store_error=problems.append)
    outbox.add("s1", "a\n")
    outbox.add("s1", "b\n")
    assert len(outbox) == 2 and len(problems) == 1 and "cannot be saved" in problems[0]


def test_items_restored_for_a_session_deleted_meanwhile_are_dropped_with_a_word(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    before = Outbox(FileOutboxStore(folder, "ws://r/"))
    before.add("s-gone", "never delivered\n")
    kept = before.add("s-here", "still wanted\n")
    changes = Changes()
    core = ViewCore(changes, outbox=Outbox(FileOutboxStore(folder, "ws://r/")))
    connect(core, sessions=[{"id": "s-here", "head": 0}])
    assert [i.client_msg_id for i in core.outbox] == [kept.client_msg_id]
    assert changes.notices == [("warning", "1 unsent message(s) dropped: the session was deleted")]


async def test_messages_added_in_one_turn_of_the_loop_cost_one_write_and_failures_are_reported(
        tmp_path: Path) -> None:
    import asyncio

    store = FileOutboxStore(tmp_path / "outbox", "ws://r/")
    outbox = Outbox(store)
    for n in range(100):
        outbox.add("s1", f"{n}\n")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert store.writes == 1 and len(list(Outbox(FileOutboxStore(tmp_path / "outbox", "ws://r/")))) == 100

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    problems: list[str] = []
    broken = Outbox(FileOutboxStore(blocker / "outbox", "ws://r/"), on_store_error=problems.append)
    broken.add("s1", "a\n")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(problems) == 1 and "cannot be saved" in problems[0]


def test_taking_over_the_file_of_an_instance_still_running_never_deletes_what_it_writes_later(
        tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    running = Outbox(FileOutboxStore(folder, "ws://r/"))
    first = running.add("s1", "before the other instance started\n")
    taker = Outbox(FileOutboxStore(folder, "ws://r/"))
    assert [i.client_msg_id for i in taker] == [first.client_msg_id]
    later = running.add("s1", "typed after that\n")  # the running instance writes its file again
    taker.add("s1", "typed in the other instance\n")  # the taker writes its own and drops what it took over
    taker.flush()
    everything = {i.client_msg_id for i in Outbox(FileOutboxStore(folder, "ws://r/"))}
    assert later.client_msg_id in everything and first.client_msg_id in everything


class Removals(Changes):
    def __init__(self) -> None:
        super().__init__()
        self.removed: list[str] = []

    def session_removed(self, session_id: str) -> None:
        self.removed.append(session_id)


def test_an_answer_given_while_connected_goes_out_at_once_with_everything_the_user_said() -> None:
    core = ViewCore(Changes())
    connect(core, sessions=[{"id": "s1", "head": 0}])
    core.answer("s1", "req-1", "allow", "only this once", {"Which file?": "a.txt"},
                [{"type": "addRules", "rules": [{"toolName": "Bash"}], "behavior": "allow"}])
    (msg,) = sends(core.drain())
    del msg["id"]
    assert msg == {"type": "answer", "session": "s1", "request_id": "req-1", "behavior": "allow",
                   "message": "only this once", "answers": {"Which file?": "a.txt"},
                   "updated_permissions": [{"type": "addRules", "rules": [{"toolName": "Bash"}], "behavior": "allow"}]}
    # Given twice (a double click): one answer, not sent again.
    core.answer("s1", "req-1", "deny")
    assert sends(core.drain()) == []


def test_a_journaled_answer_settles_only_the_answer_to_that_request_in_that_session() -> None:
    core = ViewCore(Changes())
    connect(core, sessions=[{"id": "s1", "head": 0}, {"id": "s2", "head": 0}])
    # The same request id in another session, and another request of this session, come first in the outbox.
    same_id_elsewhere = core.answer("s2", "req-1", "deny")
    other_request = core.answer("s1", "req-2", "deny")
    mine = core.answer("s1", "req-1", "allow")
    core.drain()
    attach_live(core, "s1")
    core.receive({"type": "event", "session": "s1", **ev(1, "permission_answer", request_id="req-1", behavior="allow")})
    assert list(core.outbox) == [same_id_elsewhere, other_request]
    assert mine not in list(core.outbox)


def test_a_deleted_session_is_forgotten_whether_or_not_it_was_open() -> None:
    changes = Removals()
    core = ViewCore(changes)
    connect(core, sessions=[{"id": "s1", "head": 0}, {"id": "s2", "head": 0}, {"id": "s3", "head": 0}])
    attach_live(core, "s1")
    core.select("s1")
    core.send_text("s1", "not sent yet\n")
    core.open_session("s3")  # followed in the background, not shown
    # s2 was never opened (no cursor, nothing unshown): deleting it must not trip over what it lacks.
    core.receive({"type": "session_deleted", "session": "s2"})
    assert changes.removed == ["s2"] and "s2" not in core.sessions and core.selected == "s1"
    core.receive({"type": "session_deleted", "session": "s1"})
    assert changes.removed == ["s2", "s1"]
    assert "s1" not in core.sessions and "s1" not in core.cursors and core.selected is None
    assert len(core.outbox) == 0
    assert changes.notices == [("warning", "1 unsent message(s) dropped: the session was deleted")]
    core.receive({"type": "session_deleted", "session": "s3"})
    # Nothing of a deleted session is left to release later.
    assert core.release_unshown(older_than=0) == [] and core.sessions == {}


def test_undelivered_counts_each_message_the_runner_has_not_acknowledged_once() -> None:
    core = ViewCore(Changes())
    core.send_text("s1", "one\n")
    core.send_text("s1", "two\n")
    assert core.outbox.undelivered() == 2


def test_pausing_rendering_detaches_followed_sessions_and_resuming_reattaches_each_after_its_last_seq() -> None:
    core = ViewCore(Changes())
    connect(core, sessions=[{"id": "s1", "head": 5}, {"id": "s2", "head": 0}])
    attach_live(core, "s1", head=5)
    core.receive({"type": "event", "session": "s1", **ev(1)})
    core.open_session("s2")
    core.select("s1")
    core.drain()
    core.set_rendering(False)
    assert [(m["type"], m["session"]) for m in core.drain()] == [("detach", "s1"), ("detach", "s2")]
    core.set_rendering(True)
    assert core.rendering is True
    out = core.drain()
    assert [(m["type"], m["session"], m.get("after")) for m in out] == [("attach", "s1", 1), ("attach", "s2", 0)]
    core.receive({"type": "attached", "session": "s1", "head": 5, "re": out[0]["id"]})
    # Rendering again: no detach of what was just re-attached.
    assert [m for m in core.drain() if m["type"] == "detach"] == []


GOOD_ANSWER = {"request_id": "r1", "behavior": "allow", "message": "ok", "answers": {"Which?": "A"},
               "updated_permissions": [{"type": "addRules"}]}


def test_records_read_back_keep_valid_answers_and_drop_malformed_ones() -> None:
    """A record from disk is restored only when every field has the type the protocol needs (a hand-edited or
    corrupted file must not send a malformed answer)."""
    from desktop.core.outbox import OutboxItem

    base = {"id": "m1", "session": "s1", "text": ""}
    item = OutboxItem.from_record({**base, "answer": GOOD_ANSWER})
    assert item is not None and item.answer == GOOD_ANSWER and item.state is OutboxState.QUEUED
    assert item.to_record() == {**base, "answer": GOOD_ANSWER}
    assert OutboxItem.from_record({**base, "answer": {"request_id": "r1", "behavior": "deny"}}) is not None
    failed = OutboxItem.from_record({**base, "text": "hi", "error": "refused"})
    assert failed is not None and failed.state is OutboxState.FAILED and failed.error == "refused"
    assert failed.to_record() == {**base, "text": "hi", "error": "refused"}
    malformed = [
        {"behavior": "allow"},  # no request_id
        {"request_id": "r1"},  # no behavior
        {**GOOD_ANSWER, "request_id": 7},
        {**GOOD_ANSWER, "message": None},
        {**GOOD_ANSWER, "answers": ["A"]},
        {**GOOD_ANSWER, "answers": {"Which?": 1}},
        {**GOOD_ANSWER, "updated_permissions": {"type": "addRules"}},
        {**GOOD_ANSWER, "updated_permissions": ["addRules"]},
        "allow",
    ]
    for answer in malformed:
        assert OutboxItem.from_record({**base, "answer": answer}) is None, answer
    for record in ({"session": "s1", "text": ""}, {**base, "id": 1}, {**base, "session": None}, {**base, "text": 2},
                   ["m1", "s1", ""]):
        assert OutboxItem.from_record(record) is None, record


class RecordingStore:
    """An OutboxStore that keeps what it is given and fails while `failing` is set."""

    def __init__(self) -> None:
        self.saves: list[tuple[list[dict[str, Any]], bool]] = []
        self.failing: OSError | None = None
        self.on_error = None

    def load(self) -> list[dict[str, Any]]:
        return []

    def save(self, records: list[dict[str, Any]], urgent: bool) -> None:
        if self.failing is not None:
            raise self.failing
        self.saves.append((records, urgent))

    def flush(self) -> None:
        if self.failing is not None:
            raise self.failing


def test_new_items_are_saved_at_once_and_settled_ones_may_wait() -> None:
    """A new message or answer must be durable before the app sends it (urgent); a change that only settles,
    fails or retries an item may be written a moment later (the runner's duplicate answer covers a crash)."""
    store = RecordingStore()
    outbox = Outbox(store)
    message = outbox.add("s1", "hello")
    answer = outbox.add_answer("s1", "r1", "allow")
    assert [urgent for _, urgent in store.saves] == [True, True]
    assert store.saves[-1][0] == [message.to_record(), answer.to_record()]
    assert answer.text == "" and answer.answer == {"request_id": "r1", "behavior": "allow"}
    assert message.client_msg_id != answer.client_msg_id
    outbox.fail(message.client_msg_id, "refused")
    outbox.retry(message.client_msg_id)
    outbox.confirm(answer.client_msg_id)
    outbox.drop_session("s1")
    assert [urgent for _, urgent in store.saves] == [True, True, False, False, False, False]
    assert store.saves[-1][0] == []


def test_retry_clears_the_error_and_unknown_ids_change_nothing() -> None:
    outbox = Outbox(RecordingStore())
    item = outbox.add("s1", "hello")
    assert outbox.delivered("unknown") is None and outbox.retry("unknown") is None
    assert outbox.fail("unknown", "x") is None
    outbox.fail(item.client_msg_id, "refused")
    assert outbox.delivered(item.client_msg_id) is item and item.state is OutboxState.FAILED  # stays failed
    outbox.retry(item.client_msg_id)
    assert item.state is OutboxState.QUEUED and item.error is None
    assert item.to_record() == {"id": item.client_msg_id, "session": "s1", "text": "hello"}
    item.state, item.error = OutboxState.FAILED, None
    assert item.to_record()["error"] == "failed"  # a failed item always says so on disk


def test_a_store_that_recovers_is_trusted_again_and_a_new_failure_is_reported_again() -> None:
    store = RecordingStore()
    problems: list[str] = []
    outbox = Outbox(store, on_store_error=problems.append)
    store.failing = OSError("disk full")
    outbox.add("s1", "a")
    outbox.add("s1", "b")
    assert len(problems) == 1 and "disk full" in problems[0] and outbox.store_problem == problems[0]
    store.failing = None
    outbox.add("s1", "c")
    assert outbox.store_problem is None and len(store.saves[-1][0]) == 3  # nothing was lost meanwhile
    store.failing = OSError("read-only file system")
    outbox.flush()
    assert len(problems) == 2 and "read-only" in problems[1]


def test_a_record_with_an_error_that_is_not_text_is_restored_as_queued() -> None:
    from desktop.core.outbox import OutboxItem

    item = OutboxItem.from_record({"id": "m1", "session": "s1", "text": "hi", "error": 5})
    assert item is not None and item.state is OutboxState.QUEUED and item.error is None
