"""RecentEvents: a session's last committed events, kept in memory for its live followers (runner/sessions.py).

Kept as the commits brought them, a list of (seq, payload) per commit: adding a commit and dropping old ones cost
nothing per event (a flood commits thousands of events at a time, and popping them one by one was a Python step per
event on the event loop). Sans I/O: no asyncio, no SQLite.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from operator import itemgetter

Event = tuple[int, str]
"""(seq, payload) of a committed event."""

_PAYLOAD = itemgetter(1)


class RecentEvents:
    """Consecutive committed events of one session, the newest last, within bounds given at each `add`."""

    def __init__(self) -> None:
        self._commits: deque[list[Event]] = deque()
        self._sizes: deque[int] = deque()  # payload characters of each commit
        self.events = 0
        self.nbytes = 0

    def add(self, events: list[Event], max_events: int, max_bytes: int) -> None:
        """Keep `events` (the next seqs after those held), then drop the oldest commits while the rest still
        holds `max_events` events and `max_bytes` payload characters; a commit that alone exceeds them is cut to
        its last events (at least one) within them."""
        if not events:
            return
        size = sum(map(len, map(_PAYLOAD, events)))
        self._commits.append(events)
        self._sizes.append(size)
        self.events += len(events)
        self.nbytes += size
        while len(self._commits) > 1 and (
            self.events - len(self._commits[0]) >= max_events or self.nbytes > max_bytes
        ):
            self.events -= len(self._commits.popleft())
            self.nbytes -= self._sizes.popleft()
        if len(self._commits) == 1 and (self.events > max_events or self.nbytes > max_bytes):
            only = self._commits[0]
            # The newest events whose sizes, summed from the end, stay within max_bytes (the last one always).
            from_end = list(itertools.accumulate(map(len, map(_PAYLOAD, reversed(only)))))
            keep = max(1, min(max_events, bisect.bisect_right(from_end, max_bytes)))
            kept = only[-keep:]
            self._commits[0] = kept
            self._sizes[0] = from_end[keep - 1]
            self.events, self.nbytes = keep, from_end[keep - 1]

    def after(self, after: int, limit: int) -> list[Event] | None:
        """Up to `limit` events with seq > after, in order; None when some of them are older than those held."""
        commits = self._commits
        if not commits or after + 1 < commits[0][0][0]:
            return None
        out: list[Event] = []
        # From the newest commit back to the one holding seq after + 1: a live follower is near the end.
        start = len(commits) - 1
        while start > 0 and commits[start][0][0] > after + 1:
            start -= 1
        for commit in itertools.islice(commits, start, None):
            skip = max(0, after + 1 - commit[0][0])  # only in the first commit read
            out += commit[skip:skip + limit - len(out)]
            if len(out) >= limit:
                break
        return out

    def clear(self) -> None:
        self._commits.clear()
        self._sizes.clear()
        self.events = self.nbytes = 0
