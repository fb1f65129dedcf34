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
    assert not store.dirty and FileNotifiedStore(path).last("r", "s1") == (4, "running")
