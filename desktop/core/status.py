"""The connection status shown by the dot in the window and the tray icon's tint."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum


class Color(StrEnum):
    GREY = "grey"
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class Phase(StrEnum):
    NOT_CONNECTED = "not_connected"  # grey: nothing has worked or failed yet
    LIVE = "live"  # green: connected and caught up
    CATCHING_UP = "catching_up"  # yellow: connected, backlog still arriving
    RECONNECTING = "reconnecting"  # yellow: trying again
    UNREACHABLE = "unreachable"  # red: several attempts failed (still retrying)
    TOKEN_REFUSED = "token_refused"  # red: the runner answered 401; waits for the user
    UNTRUSTED = "untrusted"  # red: a certificate not pinned or not confirmed; waits for the user


PHASE_COLOR = {
    Phase.NOT_CONNECTED: Color.GREY,
    Phase.LIVE: Color.GREEN,
    Phase.CATCHING_UP: Color.YELLOW,
    Phase.RECONNECTING: Color.YELLOW,
    Phase.UNREACHABLE: Color.RED,
    Phase.TOKEN_REFUSED: Color.RED,
    Phase.UNTRUSTED: Color.RED,
}


@dataclass(frozen=True)
class ConnectionStatus:
    phase: Phase = Phase.NOT_CONNECTED
    runner: str = ""
    attempt: int = 0
    next_retry_at: float | None = None
    """Wall-clock time (time.time()) of the next automatic attempt, None when none is scheduled."""
    reason: str | None = None
    behind: int = 0
    """While catching up: events still to arrive."""

    @property
    def color(self) -> Color:
        return PHASE_COLOR[self.phase]

    @property
    def retry_possible(self) -> bool:
        return self.phase in (Phase.RECONNECTING, Phase.UNREACHABLE, Phase.TOKEN_REFUSED, Phase.UNTRUSTED)

    def label(self) -> str:
        return {
            Phase.NOT_CONNECTED: "Connecting",
            Phase.LIVE: "Live",
            Phase.CATCHING_UP: "Catching up",
            Phase.RECONNECTING: "Reconnecting",
            Phase.UNREACHABLE: "Offline",
            Phase.TOKEN_REFUSED: "Token refused",
            Phase.UNTRUSTED: "Certificate not trusted",
        }[self.phase]

    def tooltip(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        where = f" to {self.runner}" if self.runner else ""
        if self.phase is Phase.NOT_CONNECTED:
            return f"Not connected yet{where}"
        if self.phase is Phase.LIVE:
            return f"Connected{where} and up to date"
        if self.phase is Phase.CATCHING_UP:
            left = f" ({self.behind:,} events to go)" if self.behind else ""
            return f"Connected{where}, catching up{left}"
        lines = []
        if self.phase is Phase.RECONNECTING:
            lines.append(f"Reconnecting{where} (attempt {self.attempt})")
        elif self.phase is Phase.UNREACHABLE:
            lines.append(f"Runner unreachable{where} (attempt {self.attempt})")
        elif self.phase is Phase.UNTRUSTED:
            lines.append(f"The certificate of the runner{where} is not trusted; the token was not sent")
        else:
            lines.append(f"The runner{where} refused the token")
        if self.reason:
            lines.append(f"Reason: {self.reason}")
        if self.next_retry_at is not None:
            wait = max(0.0, self.next_retry_at - now)
            clock = time.strftime("%H:%M:%S", time.localtime(self.next_retry_at))
            lines.append(f"Next retry at {clock} (in {wait:.0f} s)" if wait >= 1 else "Retrying now")
        elif self.phase is Phase.TOKEN_REFUSED:
            lines.append("Fix the token in Settings, then Retry now")
        elif self.phase is Phase.UNTRUSTED:
            lines.append("Compare it with `nightshift-runner --fingerprint` on its machine, then Retry now")
        return "\n".join(lines)


# How much a colour asks for attention: the overall dot of several runners is the one that asks most.
_ATTENTION = {Color.GREEN: 0, Color.GREY: 1, Color.YELLOW: 2, Color.RED: 3}


def worst(statuses: list[ConnectionStatus]) -> ConnectionStatus:
    """The status that needs the user most among several runners' (the first of equals); grey when none."""
    return max(statuses, key=lambda s: _ATTENTION[s.color], default=ConnectionStatus())
