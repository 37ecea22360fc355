"""Steps waiting for a system that was down are taken as soon as it is back.

While a system is down its steps back off (1 s doubling up to 5 minutes by
default) and its circuit breaker fails calls fast for its recovery time (30 s).
Left to themselves, the steps would sit idle after the system returns until
their next attempt: minutes, after a long outage. So a worker that sees a
system's breaker open asks the system itself, every ``interval`` seconds, whether
it answers (``Resilient.probe``: a ping let through the open breaker). The
first answer closes the breaker and makes every step waiting for that system
due at once (``RegistrationStore.wake``).

At a pace the system can bear: waking changes only when the steps are due. The
workers take them as before, each at most ``concurrency`` at a time, and the
system's bulkhead bounds the calls in flight to it; a worker in another process
finds them at its next claim.

A system failing now and then (its breaker still closed) is not probed: its
steps keep their backoff, so that a system in trouble is not pressed harder.
Nor is one that said when to come back (a quota's 429 or a maintenance's 503
with ``Retry-After``): it is up, and its steps wait what it said; a probe would
only spend the quota the steps need. A failure without ``Retry-After`` (down,
erring) makes it a system to probe again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from gateway.domain.model import System
from gateway.systems import AdapterError, SystemAdapter, Unavailable

__all__ = ["Recovery", "Wakeable"]

log = logging.getLogger(__name__)


class Wakeable(Protocol):
    """What recovery needs of the store (``RegistrationStore.wake``)."""

    async def wake(self, system: System, *, now: dt.datetime) -> int: ...


class Recovery:
    """Watches the systems whose breaker a worker found open, and wakes their
    waiting steps once they answer. ``on_back`` is told (to wake the worker's
    loop) after the steps are due."""

    def __init__(
        self,
        store: Wakeable,
        adapters: Mapping[System, SystemAdapter],
        *,
        clock: Callable[[], dt.datetime],
        interval: float = 1.0,
        on_back: Callable[[System, int], None] | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("the probe interval must be positive")
        self.store = store
        self.adapters = adapters
        self.clock = clock
        self.interval = interval
        self.on_back = on_back
        self._watching: dict[System, asyncio.Task[None]] = {}
        #: Systems whose last answer said when to come back (``Retry-After``).
        self._told: set[System] = set()
        self._closed = False

    def watching(self) -> frozenset[System]:
        """The systems being probed now."""
        return frozenset(self._watching)

    def failed(self, system: System, exc: Unavailable | None = None) -> None:
        """A call to ``system`` failed on the way or in the system: when its breaker
        is no longer closed, probe it until it answers (once per system), unless
        the system itself said when to come back."""
        if exc is not None and exc.reached_system:
            if exc.retry_after is not None:
                self._told.add(system)
            else:
                self._told.discard(system)
        if (
            self._closed
            or system in self._watching
            or system in self._told
            or _breaker(self.adapters.get(system)) == "closed"
        ):
            return
        task = asyncio.get_running_loop().create_task(self._watch(system))
        self._watching[system] = task
        task.add_done_callback(lambda _: self._watching.pop(system, None))

    async def _watch(self, system: System) -> None:
        adapter = self.adapters[system]
        log.info("the %s system is down: asking it every %.1f s", system.value, self.interval)
        while True:
            await asyncio.sleep(self.interval)
            if self._closed or system in self._told:
                return  # closing; or it said when to come back: its steps wait that long
            if await _answers(adapter):
                break
        if self._closed:
            return
        try:
            woken = await self.store.wake(system, now=self.clock())
        except Exception as exc:
            # The steps are still taken at their own next attempt: only later.
            log.error("waking the %s system's steps failed: %s", system.value, type(exc).__name__)
            return
        log.info("the %s system is back: %d waiting steps due now", system.value, woken)
        if self.on_back is not None:
            self.on_back(system, woken)

    async def aclose(self) -> None:
        """Stop probing. Each probe is cancelled and also told to stop: on Python 3.11
        a cancellation that comes in the turn of the event loop in which an
        ``asyncio.wait_for`` inside a probe finished is dropped (the task would go
        on probing, and this would wait for ever); told, it ends at its next turn."""
        self._closed = True
        tasks = list(self._watching.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


def _breaker(adapter: SystemAdapter | None) -> str:
    """The adapter's breaker state; "closed" for one without a breaker."""
    return str(getattr(adapter, "breaker_state", "closed"))


async def _answers(adapter: SystemAdapter) -> bool:
    """Whether the system answers: its breaker closed again by another call, or
    a probe through the open breaker answered."""
    if _breaker(adapter) == "closed":
        return True
    probe = getattr(adapter, "probe", None)
    try:
        if probe is not None:
            return bool(await probe())
        await adapter.ping()
    except AdapterError:
        return False
    return True
