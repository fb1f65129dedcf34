"""Per-session position of a view in a runner's journal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SessionCursor:
    """What a view has of one session's event stream.

    `last` is the seq of the newest event handed to the view; every event with seq <= last is a duplicate.
    An event with seq > last + 1 means something was missed: the view re-attaches after `last` and ignores
    everything that is not contiguous until the runner confirms the new attach.
    """

    session_id: str
    last: int = 0
    head: int | None = None
    """The head announced by the latest `attached`; None until the current attach is confirmed."""
    subscribed: bool = False
    """An attach was sent on the current connection and no detach since."""
    attach_pending: bool = False
    """An attach was sent and its `attached` has not arrived yet."""
    held: list[dict[str, Any]] = field(default_factory=list)
    """Events received while catching up, handed to the view in one batch once caught up."""

    @property
    def caught_up(self) -> bool:
        if not self.subscribed or self.attach_pending or self.head is None:
            return False
        return self.last >= self.head

    @property
    def behind(self) -> int:
        if self.head is None:
            return 0
        return max(0, self.head - self.last)

    def start_attach(self) -> int:
        """Called when an attach is sent; returns the `after` to ask for."""
        self.subscribed = True
        self.attach_pending = True
        self.head = None
        return self.last

    def confirm_attach(self, head: int) -> None:
        self.attach_pending = False
        self.head = head

    def unsubscribe(self) -> None:
        """After a detach or a lost connection: stop taking events until the next attach."""
        self.subscribed = False
        self.attach_pending = False
        self.head = None

    def accept(self, events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """Take the events that continue the stream exactly; return them and whether a gap was seen."""
        if not self.subscribed:
            return [], False
        last = self.last
        if [event.get("seq") for event in events] == list(range(last + 1, last + 1 + len(events))):
            # The usual batch: exactly the next events, checked in C instead of event by event.
            self.last = last + len(events)
            return list(events), False
        taken: list[dict[str, Any]] = []
        gap = False
        for event in events:
            seq = event.get("seq")
            if not isinstance(seq, int) or seq <= self.last:
                continue
            if seq != self.last + 1:
                gap = True
                # Anything after a hole is unusable until the stream restarts after `last`.
                break
            taken.append(event)
            self.last = seq
        return taken, gap

    def reset(self) -> None:
        """A different journal (runner_id): positions from the old one mean nothing."""
        self.last = 0
        self.head = None
        self.held.clear()
