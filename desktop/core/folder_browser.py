"""The state of a folder picker that browses a runner's file system through `list_dir` (runner/PROTOCOL.md).

No Qt and no I/O: the dialog asks `go`/`up`/`into` for the path to request, sends `list_dir` itself, and hands
the reply (or error) back with the ticket it got. Only the newest request's answer is applied, so a slow reply
to an earlier click never replaces what the user asked for since. Paths are the runner's: joined with the
separator it sent, never with this machine's `os.path`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FolderEntry:
    name: str
    is_dir: bool
    hidden: bool
    is_link: bool = False
    undecodable: bool = False
    """Its name is not UTF-8 on the runner: shown, but no text path can name it, so it cannot be opened."""

    @property
    def openable(self) -> bool:
        return self.is_dir and not self.undecodable

    @property
    def shown_name(self) -> str:
        return shown_name(self.name)


def shown_name(name: str) -> str:
    """A name as text on one line: control characters (a newline in a file name) become visible symbols."""
    return "".join(_visible(ch) for ch in name)


def _visible(ch: str) -> str:
    if ch < " ":
        return chr(0x2400 + ord(ch))  # the Control Pictures block: U+240A for a newline
    if ch == "\x7f":
        return "\u2421"
    if unicodedata.category(ch) == "Cc" or unicodedata.bidirectional(ch) in ("RLO", "LRO", "RLE", "LRE", "PDF",
                                                                           "RLI", "LRI", "FSI", "PDI"):
        return "\ufffd"  # nor may a name reorder the text shown after it
    return ch


@dataclass(frozen=True)
class Ticket:
    """One `list_dir` request: the path to send and its number (a later request makes it stale)."""
    number: int
    path: str


class FolderBrowser:
    """Which folder is shown, what it holds, and the last error, for one picker."""

    def __init__(self) -> None:
        self.path: str | None = None
        """The runner's absolute path of the folder listed, None before the first listing arrives."""
        self.parent: str | None = None
        self.home: str | None = None
        self.sep = "/"
        self.entries: list[FolderEntry] = []
        self.truncated = False
        self.total = 0
        self.error: str | None = None
        self.show_hidden = False
        self.pending: Ticket | None = None
        self._issued = 0
        self._fallback_reason: str | None = None
        """Why the home folder is shown instead of the folder first asked for: kept visible once it is listed."""

    # ---------------------------------------------------------------- where to go

    def go(self, path: str) -> Ticket:
        """A request for `path` as the user typed it ("" is the runner's home folder; the runner expands `~`)."""
        self._issued += 1
        self.pending = Ticket(self._issued, path.strip())
        self.error = None
        return self.pending

    def up(self) -> Ticket | None:
        return self.go(self.parent) if self.parent is not None else None

    def into(self, entry: FolderEntry) -> Ticket | None:
        return self.go(self.child_path(entry.name)) if entry.openable and self.path is not None else None

    def child_path(self, name: str) -> str:
        assert self.path is not None
        return self.path + name if self.path.endswith(self.sep) else self.path + self.sep + name

    # ---------------------------------------------------------------- answers

    def listed(self, ticket: Ticket, reply: dict[str, Any]) -> bool:
        """Apply a `dir` reply; False (and nothing changes) when a newer request was made meanwhile."""
        if ticket != self.pending:
            return False
        self.pending = None
        self.path = str(reply["path"])
        self.parent = reply.get("parent")
        self.home = reply.get("home")
        self.sep = str(reply.get("sep") or "/")
        self.entries = [
            FolderEntry(str(e.get("name", "")), bool(e.get("is_dir")), bool(e.get("hidden")),
                        bool(e.get("is_link")), bool(e.get("undecodable")))
            for e in reply.get("entries") or []
        ]
        self.truncated = bool(reply.get("truncated"))
        self.total = int(reply.get("total") or len(self.entries))  # an older runner does not send `total`
        self.error, self._fallback_reason = self._fallback_reason, None
        return True

    def failed(self, ticket: Ticket, message: str) -> Ticket | None:
        """Record why `ticket` could not be listed; the folder shown so far stays. Returns the request to make
        next: the home folder when the very first folder asked for cannot be listed (a folder typed by hand,
        gone since), so the picker never opens empty."""
        if ticket != self.pending:
            return None
        self.pending = None
        if self.path is None and ticket.path:
            self._fallback_reason = f"{message} (showing the home folder)"
            fallback = self.go("")
            self.error = message
            return fallback
        self.error = message
        return None

    # ---------------------------------------------------------------- what is shown

    def visible(self) -> list[FolderEntry]:
        return [e for e in self.entries if self.show_hidden or not e.hidden]

    def status(self) -> str:
        """One line under the list: the error, else whether the folder was cut or what is hidden."""
        if self.error:
            return self.error
        if self.truncated:
            return f"Showing the first {len(self.entries):,} of {self.total:,} entries (folders first)"
        hidden = sum(1 for e in self.entries if e.hidden)
        if hidden and not self.show_hidden:
            return f"{hidden} hidden" if hidden > 1 else "1 hidden"
        return ""

    def chosen(self, selected: FolderEntry | None) -> str | None:
        """The folder the user picks: the selected subfolder, else the folder shown."""
        if selected is not None and selected.openable and self.path is not None:
            return self.child_path(selected.name)
        return self.path
