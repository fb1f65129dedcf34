"""The notification policy without Qt: which status changes are worth telling, and each one only once."""

from __future__ import annotations

from desktop.core.notifications import MemoryNotifiedStore, NotificationPolicy
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
