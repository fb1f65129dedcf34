"""The notification policy without Qt: which status changes are worth telling, and each one only once."""

from __future__ import annotations

from pathlib import Path

from desktop.core.notifications import FileNotifiedStore, MemoryNotifiedStore, NotificationPolicy
from desktop.core.view import SessionInfo


def session(status: str, head: int, **data: object) -> SessionInfo:
    info = SessionInfo("s1", title="job", agent="claude")
    info.update({"title": "job", "agent": "claude", "status": status, "head": head, **data})
    return info


def test_each_change_worth_telling_is_told_with_its_words() -> None:
    policy = NotificationPolicy()
    told = [policy.consider("r", session(status, head, **data), previous, user_watching=False)
            for status, head, previous, data in (
                ("needs_approval", 3, "running", {}),
                ("running", 4, "needs_approval", {}),
                ("idle", 9, "running", {}),
                ("error", 12, "running", {"reason": "the CLI crashed"}),
                ("exited", 15, "running", {"exit_code": 2}),
            )]
    assert [(n.title, n.body, n.seq) if n else None for n in told] == [
        ("job needs approval", "The agent is waiting for you to allow or deny a tool.", 3),
        None,  # running again: nothing to tell
        ("job finished its turn", "The agent is waiting for your next message.", 9),
        ("job failed", "the CLI crashed", 12),
        ("job finished", "Exit code 2.", 15),
    ]


def test_a_change_is_told_once_per_seq_and_never_for_an_older_one() -> None:
    store = MemoryNotifiedStore()
    policy = NotificationPolicy(store)
    assert policy.consider("r", session("idle", 9), "running", user_watching=False) is not None
    # The same change seen again (a replay after a reconnect, or by a policy reading the same store after a
    # restart) is not told again; nor is an older one.
    assert policy.consider("r", session("idle", 9), "running", user_watching=False) is None
    assert NotificationPolicy(store).consider("r", session("idle", 9), "running", user_watching=False) is None
    assert policy.consider("r", session("needs_approval", 7), "running", user_watching=False) is None
    # The next turn's end is new, and the same seqs on another runner are another journal.
    assert policy.consider("r", session("idle", 20), "running", user_watching=False) is not None
    assert policy.consider("other", session("idle", 9), "running", user_watching=False) is not None


def test_a_change_seen_while_the_user_watches_counts_as_told() -> None:
    policy = NotificationPolicy()
    assert policy.consider("r", session("needs_approval", 5), "running", user_watching=True) is None
    assert policy.consider("r", session("needs_approval", 5), "running", user_watching=False) is None


def test_a_deleted_session_is_forgotten() -> None:
    store = MemoryNotifiedStore()
    policy = NotificationPolicy(store)
    policy.consider("r", session("idle", 9), "running", user_watching=False)
    assert len(store) == 1
    policy.session_removed("r", "s1")
    assert len(store) == 0


def test_a_change_while_away_is_told_once_from_the_list_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "notified.json"
    policy = NotificationPolicy(FileNotifiedStore(path))
    # The app saw the session running, then went away (closed, asleep, offline).
    assert policy.listed("r", [session("running", 4)], user_watching=False) == []
    # Back: the list says it ended meanwhile. One notification, from the status last seen.
    policy = NotificationPolicy(FileNotifiedStore(path))
    told = policy.listed("r", [session("exited", 9, exit_code=0)], user_watching=False)
    assert [(n.title, n.seq) for n in told] == [("job finished", 9)]
    # The next reconnect, and the next restart, tell nothing more.
    assert policy.listed("r", [session("exited", 9, exit_code=0)], user_watching=False) == []
    policy = NotificationPolicy(FileNotifiedStore(path))
    assert policy.listed("r", [session("exited", 9, exit_code=0)], user_watching=False) == []


def test_a_session_never_seen_before_is_not_told_and_a_deleted_one_is_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "notified.json"
    policy = NotificationPolicy(FileNotifiedStore(path))
    # First start against a runner: its sessions' states are history, not news.
    assert policy.listed("r", [session("error", 9, reason="crash")], user_watching=False) == []
    assert policy.listed("r", [], user_watching=False) == []
    assert len(FileNotifiedStore(path)) == 0


def test_an_unreadable_file_is_set_aside_and_a_failed_write_is_retried(tmp_path: Path) -> None:
    path = tmp_path / "notified.json"
    path.write_text("{not json", encoding="utf-8")
    store = FileNotifiedStore(path)
    assert len(store) == 0 and path.with_suffix(".bad").read_text(encoding="utf-8") == "{not json"
    path.mkdir()  # a folder where the file goes: the write fails
    policy = NotificationPolicy(store)
    policy.listed("r", [session("running", 4)], user_watching=False)
    assert store.dirty
    path.rmdir()
    policy.listed("r", [session("running", 4)], user_watching=False)
    assert not store.dirty and FileNotifiedStore(path).last("r", "s1") == (4, "running", None)


def test_a_turn_that_ran_whole_while_away_is_told_once_and_a_watched_one_never(tmp_path: Path) -> None:
    path = tmp_path / "notified.json"
    policy = NotificationPolicy(FileNotifiedStore(path))
    # A turn the user watched end: seen (not told), and its session object's head may lag behind the status
    # event that ended it (the push is sent before the journal commits it).
    assert policy.consider("r", session("running", 5, turn_ended=None), "idle", user_watching=True) is None
    assert policy.consider("r", session("idle", 8, turn_ended=9), "running", user_watching=True) is None
    # Reconnects and restarts later: the head moved on (committed), the turn is the same: nothing to tell.
    assert policy.listed("r", [session("idle", 9, turn_ended=9)], user_watching=False) == []
    # Nor for an idle session whose head moved without a turn (a rename).
    assert policy.listed("r", [session("idle", 11, turn_ended=9)], user_watching=False) == []
    # Away while a whole turn ran (another view sent a message): idle before and after, a newer turn ended.
    policy = NotificationPolicy(FileNotifiedStore(path))
    told = policy.listed("r", [session("idle", 20, turn_ended=19)], user_watching=False)
    assert [(n.title, n.body, n.seq) for n in told] == [
        ("job finished its turn", "The agent is waiting for your next message.", 20)]
    # Once: not on the next reconnect, nor after a restart.
    assert policy.listed("r", [session("idle", 20, turn_ended=19)], user_watching=False) == []
    assert NotificationPolicy(FileNotifiedStore(path)).listed(
        "r", [session("idle", 20, turn_ended=19)], user_watching=False) == []
    # The first turn of a session seen before any had ended is news too; a runner that does not say is not.
    policy.consider("r", SessionInfo("s2", title="fresh"), "idle", user_watching=False)
    fresh = SessionInfo("s2")
    fresh.update({"title": "fresh", "status": "idle", "head": 6, "turn_ended": 5})
    assert [n.title for n in policy.listed("r", [fresh], user_watching=False)] == ["fresh finished its turn"]
    older = SessionInfo("s3")
    older.update({"title": "older", "status": "idle", "head": 1})
    policy.consider("r", older, "idle", user_watching=False)
    older.update({"title": "older", "status": "idle", "head": 7})
    assert policy.listed("r", [older], user_watching=False) == []


def test_sessions_remembered_by_an_older_version_are_not_told_a_turn_they_may_have_seen(tmp_path: Path) -> None:
    path = tmp_path / "notified.json"
    path.write_text('{"runners": {"r": {"s1": [9, "idle"]}}}', encoding="utf-8")
    policy = NotificationPolicy(FileNotifiedStore(path))
    # Whether the turn that ended at 12 was seen is unknown: not told, but remembered from now on.
    assert policy.listed("r", [session("idle", 13, turn_ended=12)], user_watching=False) == []
    assert FileNotifiedStore(path).last("r", "s1") == (13, "idle", 12)
    told = policy.listed("r", [session("idle", 20, turn_ended=19)], user_watching=False)
    assert [n.title for n in told] == ["job finished its turn"]
