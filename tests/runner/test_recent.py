"""RecentEvents: the committed events a session keeps in memory, a commit at a time, within its bounds."""

from __future__ import annotations

from runner.recent import RecentEvents


def commit(first: int, count: int, size: int = 10) -> list[tuple[int, str]]:
    return [(seq, "x" * size) for seq in range(first, first + count)]


def seqs(events: list[tuple[int, str]] | None) -> list[int] | None:
    return None if events is None else [seq for seq, _ in events]


def test_reads_across_commits_from_any_seq_it_holds() -> None:
    recent = RecentEvents()
    assert recent.after(0, 10) is None
    for first in (1, 4, 5, 9):
        recent.add(commit(first, {1: 3, 4: 1, 5: 4, 9: 2}[first]), 100, 10**6)
    assert recent.events == 10 and recent.nbytes == 100
    assert seqs(recent.after(0, 100)) == list(range(1, 11))
    assert seqs(recent.after(3, 100)) == list(range(4, 11))
    assert seqs(recent.after(5, 3)) == [6, 7, 8]
    assert seqs(recent.after(6, 4)) == [7, 8, 9, 10]
    assert seqs(recent.after(10, 5)) == []
    assert seqs(recent.after(12, 5)) == []


def test_old_commits_go_while_the_rest_holds_the_bounds() -> None:
    recent = RecentEvents()
    recent.add(commit(1, 5), 8, 10**6)
    recent.add(commit(6, 5), 8, 10**6)
    assert seqs(recent.after(0, 100)) == list(range(1, 11))  # without the first commit only 5 < 8 would be left
    recent.add(commit(11, 5), 8, 10**6)
    assert recent.after(0, 100) is None and recent.after(4, 100) is None
    assert seqs(recent.after(5, 100)) == list(range(6, 16))
    recent.add(commit(16, 1, size=1000), 100, 500)
    assert seqs(recent.after(15, 10)) == [16] and recent.after(14, 10) is None
    assert (recent.events, recent.nbytes) == (1, 1000)  # the newest event stays, however big


def test_a_commit_over_the_bounds_alone_keeps_its_newest_events() -> None:
    recent = RecentEvents()
    recent.add(commit(1, 100), 30, 10**6)
    assert seqs(recent.after(70, 100)) == list(range(71, 101)) and recent.after(69, 10) is None
    recent.add(commit(101, 50, size=10), 1000, 205)
    assert seqs(recent.after(130, 100)) == list(range(131, 151)) and recent.nbytes == 200


def test_clear() -> None:
    recent = RecentEvents()
    recent.add(commit(1, 3), 10, 100)
    recent.clear()
    assert recent.after(0, 10) is None and (recent.events, recent.nbytes) == (0, 0)
