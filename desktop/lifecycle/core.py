"""Sans-I/O core of the lifecycle watcher: merging and de-duplicating what the sources report.

Sources report raw facts ("the window was minimized", "logind says we are about to sleep", "the clock jumped
300 s"). `LifecycleFilter` turns them into the normalized events the app acts on, so that several sources
seeing the same thing (logind and the clock gap both noticing one wake; a minimize also seen as a Hide)
produce one event. Nothing here needs Qt, sockets or a real clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from desktop.lifecycle.clock import Clock


class Network(enum.Enum):
    """Reachability as the watcher needs it (QNetworkInformation's Local and Site are LIMITED)."""

    OFFLINE = "offline"
    LIMITED = "limited"  # some network, maybe not the one the runner is on
    ONLINE = "online"


class LifecycleEvent(enum.Enum):
    HIDDEN = "hidden"
    SHOWN = "shown"
    SUSPENDING = "suspending"
    RESUMED = "resumed"
    NETWORK_ONLINE = "network_online"
    NETWORK_OFFLINE = "network_offline"


@dataclass(frozen=True)
class Emitted:
    event: LifecycleEvent
    seconds_asleep: float = -1.0
    """Only for RESUMED: how long the machine slept, or -1 when unknown."""


# A wake report from another source within this many seconds of the last one, with no suspend announced
# in between, is the same wake seen twice (logind's PrepareForSleep(false) and the clock-gap tick land a
# second or two apart). A source reports each wake of its own once, so its next report is a new wake...
DEFAULT_RESUME_COALESCE_SECONDS = 10.0
# ...unless it comes this soon: no machine sleeps and wakes twice within a second; a burst is a fault.
MIN_RESUME_SPACING_SECONDS = 1.0


class LifecycleFilter:
    def __init__(self, clock: Clock, resume_coalesce_seconds: float = DEFAULT_RESUME_COALESCE_SECONDS) -> None:
        self._clock = clock
        self._resume_coalesce = resume_coalesce_seconds
        self._hidden_reasons: set[str] = set()
        self._suspended = False
        self._suspended_at_boot: float | None = None
        self._suspended_at_wall: float | None = None
        self._last_resume_mono: float | None = None
        self._last_resume_source: str | None = None
        self._network: Network | None = None  # last definite reachability; None = never known
        self._network_unknown = False  # the latest report was "unknown"

    # -- window --

    @property
    def hidden(self) -> bool:
        return bool(self._hidden_reasons)

    @property
    def hidden_reasons(self) -> frozenset[str]:
        return frozenset(self._hidden_reasons)

    def prime_hidden(self, reason: str) -> None:
        """Record a state that held before anyone listened (a window not shown yet), without announcing it."""
        self._hidden_reasons.add(reason)

    def hide(self, reason: str) -> list[Emitted]:
        was_hidden = self.hidden
        self._hidden_reasons.add(reason)
        return [] if was_hidden else [Emitted(LifecycleEvent.HIDDEN)]

    def show(self, reason: str) -> list[Emitted]:
        if reason not in self._hidden_reasons:
            return []
        self._hidden_reasons.discard(reason)
        return [] if self.hidden else [Emitted(LifecycleEvent.SHOWN)]

    # -- sleep --

    @property
    def suspended(self) -> bool:
        return self._suspended

    def suspend(self) -> list[Emitted]:
        if self._suspended:
            return []
        last = self._last_resume_mono
        if last is not None and self._clock.monotonic() - last < MIN_RESUME_SPACING_SECONDS:
            # The announcement of the sleep that just ended, read only after the wake (nothing makes the
            # system wait for us before it sleeps) while a clock-gap tick reported the wake first. Taking it
            # as a new sleep would announce that one wake twice.
            return []
        self._suspended = True
        self._suspended_at_boot = self._clock.boottime()
        self._suspended_at_wall = self._clock.wall()
        return [Emitted(LifecycleEvent.SUSPENDING)]

    def resume(self, seconds_asleep: float | None = None, source: str = "") -> list[Emitted]:
        now = self._clock.monotonic()
        last = self._last_resume_mono
        if not self._suspended and last is not None:
            since = now - last
            seen_elsewhere = source != self._last_resume_source and since < self._resume_coalesce
            if seen_elsewhere or since < MIN_RESUME_SPACING_SECONDS:
                return []
        if seconds_asleep is None:
            seconds_asleep = self._measured_sleep()
        self._suspended = False
        self._suspended_at_boot = None
        self._suspended_at_wall = None
        self._last_resume_mono = now
        self._last_resume_source = source
        return [Emitted(LifecycleEvent.RESUMED, seconds_asleep)]

    def _measured_sleep(self) -> float:
        """Time since the suspend announcement, by the best clock that counts sleep; -1 if there was none."""
        if self._suspended_at_boot is not None:
            boot = self._clock.boottime()
            if boot is not None:
                return max(0.0, boot - self._suspended_at_boot)
        if self._suspended_at_wall is not None:
            return max(0.0, self._clock.wall() - self._suspended_at_wall)
        return -1.0

    # -- network --

    @property
    def network_online(self) -> bool:
        """False only while the latest report is a definite "offline"; unknown counts as online."""
        return self._network_unknown or self._network is not Network.OFFLINE

    def network(self, state: Network | None) -> list[Emitted]:
        """A reachability report; None means the backend does not know (online, but announces nothing).

        NETWORK_ONLINE is announced only on a change to ONLINE (the moment a reconnect is worth trying at
        once), NETWORK_OFFLINE on a change to OFFLINE. Changes count against the last definite report, so
        offline -> unknown -> online is one NETWORK_ONLINE, when Online arrives; the very first definite
        report is the starting state, not a change.
        """
        self._network_unknown = state is None
        if state is None:
            return []
        previous = self._network
        self._network = state
        if previous is None or previous is state:
            return []
        if state is Network.ONLINE:
            return [Emitted(LifecycleEvent.NETWORK_ONLINE)]
        if state is Network.OFFLINE:
            return [Emitted(LifecycleEvent.NETWORK_OFFLINE)]
        return []


class SuspendGapDetector:
    """Notices a sleep from clocks alone, checked on a periodic tick.

    With CLOCK_BOOTTIME (Linux) the answer is exact: boottime - monotonic grows by the time asleep. Elsewhere
    two signs count: wall time moving further than monotonic (macOS, where monotonic stops) and the tick
    arriving far later than scheduled (Windows, where monotonic counts the sleep). The second also fires when
    the process was merely starved for that long, which costs one harmless connection probe.
    """

    def __init__(
        self,
        clock: Clock,
        interval: float,
        gap_threshold: float = 3.0,
        late_threshold: float = 15.0,
    ) -> None:
        self._clock = clock
        self._interval = interval
        self._gap_threshold = gap_threshold
        self._late_threshold = late_threshold
        self.reset()

    def reset(self) -> None:
        self._mono = self._clock.monotonic()
        self._wall = self._clock.wall()
        boot = self._clock.boottime()
        self._boot_offset = None if boot is None else boot - self._mono

    def check(self) -> float | None:
        """Seconds slept since the last check, or None if no sleep was noticed."""
        mono = self._clock.monotonic()
        wall = self._clock.wall()
        boot = self._clock.boottime()
        mono_elapsed = mono - self._mono
        wall_elapsed = wall - self._wall
        previous_offset = self._boot_offset
        self._mono, self._wall = mono, wall
        self._boot_offset = None if boot is None else boot - mono

        if previous_offset is not None and self._boot_offset is not None:
            gap = self._boot_offset - previous_offset
            return gap if gap >= self._gap_threshold else None
        wall_gap = wall_elapsed - mono_elapsed
        if wall_gap >= self._gap_threshold:
            return wall_gap
        late = mono_elapsed - self._interval
        if late >= self._late_threshold:
            return late
        return None
