"""Reconnect delays: the first retry at once, then exponential with jitter, capped."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Counts consecutive failures and hands out the delay before the next attempt.

    Jitter only shortens a delay (by up to `jitter` of it), so the cap is a real upper bound, and many views
    that lost the same runner at once do not all come back in the same instant.
    """

    base: float = 0.5
    factor: float = 2.0
    cap: float = 15.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        """Record one more failure and return how long to wait before the next attempt."""
        self.failures += 1
        if self.failures == 1:
            return 0.0
        raw = min(self.cap, self.base * self.factor ** (self.failures - 2))
        return raw * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        """A connection succeeded, the network came back, or the user asked: start over from 'at once'."""
        self.failures = 0
