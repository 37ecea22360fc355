"""When a step that met an infrastructure failure is tried again.

Exponential backoff with full jitter, capped, and never sooner than the
``Retry-After`` a system gave. Written by hand rather than with tenacity: a
retrying call lives only as long as its process, and a step's next attempt must
survive restarts of the worker, so the schedule is a time written to the store
(``next_attempt_at``) and any worker carries it out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    """``base * factor ** (attempt - 1)`` seconds, at most ``cap``; ``jitter`` is the
    share of that delay drawn at random (1.0: full jitter, 0.0: none)."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 1.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError("backoff base and cap must not be negative")
        if self.factor < 1:
            raise ValueError("backoff factor must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("backoff jitter must be between 0 and 1")

    def ceiling(self, attempt: int) -> float:
        """The longest delay after the ``attempt``-th failure (counted from 1)."""
        exponent = max(0, attempt - 1)
        # Past the cap the power only grows: stop computing it before it overflows.
        delay = self.base
        for _ in range(exponent):
            delay *= self.factor
            if delay >= self.cap:
                return self.cap
        return min(self.cap, delay)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``attempt``-th failure.

        Full jitter spreads the retries of many steps that failed together (a
        system that came back from an outage) instead of sending them at once.
        """
        ceiling = self.ceiling(attempt)
        chosen = ceiling * (1.0 - self.jitter * self.rng.random())
        if retry_after is not None and retry_after > chosen:
            return retry_after
        return chosen
