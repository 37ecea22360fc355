"""A clock the tests own: real time plus an offset that a test moves forward.

The engine and the store take the time from one injected clock
(``Engine(clock=...)``, ``Store.open(clock=...)``, ``Gateway.clock``). A test
that gives them a ``MovableClock`` passes a deadline or a ``Retry-After`` by
``advance``-ing it rather than by waiting: the proof is the same (the step was
held back until then, and not a moment sooner), the wait is gone, and a busy
machine cannot stretch it into a flaky failure.
"""

from __future__ import annotations

import datetime as dt


class MovableClock:
    """``clock()`` is the current UTC time plus every ``advance`` so far."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock the tests own only moves forward")
        self.offset += dt.timedelta(seconds=seconds)
