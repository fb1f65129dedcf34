"""Find in a session (Ctrl+F) and the sidebar's session filter, without Qt.

`Find` holds one search of one session: the query, the matches the runner's `search` request returned (newest
first, as the runner pages them), which one is current, and whether more pages are left. The runner's journal is
the source, so rows a view no longer holds are found too. Matches are numbered from the newest, where the user
reads: "next" (Enter) goes further back, "previous" comes forward, as in a terminal's find.

Replies to an older query (the user kept typing) carry an older generation and are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAGE = 100
LOOK_BACK = 2000
"""Rows searched back from a tool result's seq for the tool row that holds it."""
"""Matches asked for per request: enough for the count most searches need in one round trip."""


@dataclass(frozen=True, slots=True)
class Match:
    seq: int
    kind: str
    snippet: str
    start: int
    end: int


class Find:
    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.query = ""
        self.matches: list[Match] = []
        self.current = -1
        """Index into `matches` of the match shown, -1 for none."""
        self.complete = True
        self.next_before: int | None = None
        self.generation = 0
        self.loading = False
        self.error = ""
        self._advance_when_loaded = False

    def start(self, query: str) -> dict[str, Any] | None:
        """A new query: forget the old matches; the request to send (None for a blank query: nothing to find)."""
        self.generation += 1
        self.query = query
        self.matches, self.current, self.error = [], -1, ""
        self.complete, self.next_before = True, None
        self._advance_when_loaded = False
        if not query.strip():
            self.loading = False
            return None
        self.loading = True
        return {"type": "search", "session": self.session_id, "query": query, "limit": PAGE}

    def accept(self, generation: int, reply: dict[str, Any] | None) -> Match | None:
        """The runner's reply to request `generation` (None: it failed). Returns the match to show now, if the
        current one changed (the newest on a first page; the next one when the user asked for it past the page)."""
        if generation != self.generation:
            return None  # an older query's answer
        self.loading = False
        if reply is None:
            self.error = "Search failed"
            self._advance_when_loaded = False
            return None
        page = [Match(int(m["seq"]), str(m.get("kind", "")), str(m.get("snippet", "")), int(m.get("start", 0)),
                      int(m.get("end", 0))) for m in reply.get("matches") or []]
        self.matches.extend(page)
        self.complete = bool(reply.get("complete", True))
        next_before = reply.get("next_before")
        self.next_before = next_before if isinstance(next_before, int) and not self.complete else None
        if self.current < 0 and self.matches:
            self.current = 0
            return self.matches[0]
        if self._advance_when_loaded:
            self._advance_when_loaded = False
            if self.current + 1 < len(self.matches):
                self.current += 1
                return self.matches[self.current]
        return None

    def more_request(self) -> dict[str, Any] | None:
        """The request for the next page (older matches), or None when there is none or one is on its way."""
        if self.complete or self.next_before is None or self.loading:
            return None
        self.loading = True
        return {"type": "search", "session": self.session_id, "query": self.query, "limit": PAGE,
                "before_seq": self.next_before}

    def next(self) -> tuple[Match | None, dict[str, Any] | None]:
        """One match further back: (the match to show, a request to send first). Past the last match loaded, the
        next page is asked for (and the move happens when it arrives); past the oldest, it wraps to the newest."""
        if not self.matches:
            return None, None
        if self.current + 1 < len(self.matches):
            self.current += 1
            return self.matches[self.current], None
        if not self.complete:
            request = self.more_request()
            if request is not None or self.loading:
                self._advance_when_loaded = True
            return None, request
        self.current = 0
        return self.matches[0], None

    def previous(self) -> Match | None:
        """One match forward (newer); from the newest it wraps to the oldest once all are known."""
        if not self.matches:
            return None
        if self.current > 0:
            self.current -= 1
        elif self.complete:
            self.current = len(self.matches) - 1
        else:
            return None
        return self.matches[self.current]

    def label(self) -> str:
        """What the find bar shows next to the query: '3 of 12', '3 of 100+', 'No matches', ..."""
        if not self.query.strip():
            return ""
        if self.error:
            return self.error
        if not self.matches:
            return "Searching…" if self.loading or not self.complete else "No matches"
        total = f"{len(self.matches):,}" + ("" if self.complete else "+")
        return f"{self.current + 1:,} of {total}"


def session_matches(query: str, *fields: str) -> bool:
    """Whether a session shows under the sidebar's filter: every word of `query` is in one of `fields` (its
    title, folder, agent), ignoring case. A blank query shows every session."""
    haystack = "\n".join(fields).casefold()
    return all(word in haystack for word in query.casefold().split())


def row_index_for_seq(rows: Any, seq: int) -> int:
    """The index of the row holding event `seq` in `rows` (ordered by seq, each row at its first event's seq):
    the last row starting at or before it. -1 when every row starts after it. A binary search: `rows` may be a
    RowStore whose older rows are packed, and each look unpacks a chunk."""
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if rows[mid].seq <= seq:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


def row_index_for_match(rows: Any, match: Match, query: str) -> int:
    """The index of the row showing `match`. A tool result is shown in its call's row, which starts earlier
    (other rows may come between): the nearest tool row before it that holds the query."""
    i = row_index_for_seq(rows, match.seq)
    if match.kind != "tool_result" or i < 0:
        return i
    folded = query.casefold()
    for j in range(i, max(-1, i - LOOK_BACK), -1):
        row = rows[j]
        if row.kind == "tool" and folded in row.copy_text().casefold():
            return j
    return i
