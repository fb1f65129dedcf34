"""Find's state (desktop/core/find.py): counting, next/previous, paging, stale replies; the sidebar's filter."""

from __future__ import annotations

from typing import Any

from desktop.core.find import Find, session_matches


def page(seqs: list[int], complete: bool, next_before: int | None = None) -> dict[str, Any]:
    return {"type": "search_results", "matches": [{"seq": s, "kind": "output", "snippet": f"x{s}", "start": 0,
                                                   "end": 1} for s in seqs],
            "complete": complete, "next_before": next_before}


def test_find_counts_and_moves_newest_first_with_wrap() -> None:
    find = Find("s1")
    request = find.start("needle")
    assert request == {"type": "search", "session": "s1", "query": "needle", "limit": 100}
    assert find.label() == "Searching…"
    shown = find.accept(find.generation, page([30, 20, 10], complete=True))
    assert shown is not None and shown.seq == 30
    assert find.label() == "1 of 3"
    assert find.next() == (find.matches[1], None) and find.label() == "2 of 3"
    assert find.next()[0].seq == 10  # type: ignore[union-attr]
    assert find.next()[0].seq == 30  # type: ignore[union-attr]  # past the oldest: back to the newest
    assert find.previous().seq == 10  # type: ignore[union-attr]  # before the newest: the oldest
    assert find.label() == "3 of 3"


def test_find_pages_back_when_next_passes_the_loaded_matches() -> None:
    find = Find("s1")
    find.start("needle")
    gen = find.generation
    find.accept(gen, page([50, 40], complete=False, next_before=40))
    assert find.label() == "1 of 2+"
    find.next()
    match, request = find.next()
    assert match is None and request is not None and request["before_seq"] == 40
    assert find.next() == (None, None)  # asked already: no second request
    shown = find.accept(gen, page([5], complete=True))
    assert shown is not None and shown.seq == 5 and find.label() == "3 of 3"
    assert find.previous().seq == 40  # type: ignore[union-attr]
    # Not complete: previous from the newest stays (the oldest is not known yet).
    find.start("other")
    find.accept(find.generation, page([9], complete=False, next_before=9))
    assert find.previous() is None and find.current == 0


def test_find_drops_stale_replies_and_reports_failures() -> None:
    find = Find("s1")
    find.start("nee")
    old = find.generation
    find.start("needle")
    assert find.accept(old, page([1], complete=True)) is None and find.matches == []
    find.accept(find.generation, page([], complete=True))
    assert find.label() == "No matches"
    find.start("needle")
    find.accept(find.generation, None)
    assert find.label() == "Search failed"
    assert find.start("   ") is None and find.label() == ""


def test_session_filter_matches_every_word_in_title_folder_or_agent() -> None:
    fields = ("Fix the login bug", "/home/me/src/api", "claude", "Claude Code")
    assert session_matches("", *fields)
    assert session_matches("LOGIN", *fields)
    assert session_matches("api claude", *fields)  # folder and agent
    assert session_matches("code", *fields)
    assert not session_matches("login codex", *fields)
    assert not session_matches("web", *fields)


def test_a_match_is_shown_in_the_row_holding_its_event() -> None:
    from desktop.core.find import Match, row_index_for_match
    from desktop.core.transcript import Row, RowKind

    rows = [Row(RowKind.USER, 1, text="list the files"),
            Row(RowKind.TOOL, 2, text="ls", data={"name": "Bash", "input": {"command": "ls"},
                                                   "output": "notes.txt\nsecret-plan.md"}),
            Row(RowKind.PERMISSION, 3, data={"tool_name": "Bash", "input": {}}),
            Row(RowKind.OUTPUT, 5, text="the plan"), Row(RowKind.ASSISTANT, 9, text="done")]
    assert row_index_for_match(rows, Match(5, "output", "", 0, 0), "plan") == 3  # exactly its seq
    assert row_index_for_match(rows, Match(9, "assistant", "", 0, 0), "done") == 4
    # A tool result (seq 4, after the permission prompt) is shown in its call's row.
    assert row_index_for_match(rows, Match(4, "tool_result", "", 0, 0), "SECRET-plan") == 1
    assert row_index_for_match(rows, Match(0, "user", "", 0, 0), "x") == -1  # before every row
