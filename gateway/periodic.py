"""The background loops of a serving gateway: a step at once, then at an interval.

The audit log's purge, the erasure of finished registrations' personal data and
the registration gauges' refresh each run so; one loop here, each its own step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


async def every(
    interval_s: float,
    stop: asyncio.Event,
    step: Callable[[], Awaitable[None]],
    *,
    failed: Callable[[Exception], None],
) -> None:
    """Run ``step`` at once, then every ``interval_s`` seconds until ``stop`` is set.
    A step that fails is handed to ``failed`` (which logs it) and the loop goes on:
    the next interval tries again."""
    while not stop.is_set():
        try:
            await step()
        except Exception as exc:
            failed(exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
