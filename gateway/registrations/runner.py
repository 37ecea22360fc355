"""The worker loop: claim due steps under a lease, carry them out, sweep.

Which worker carries a step out is decided by the store's leases, so several
engines (tasks or processes) can share one store. What follows a step is
decided by whichever worker finished it, and by a periodic sweep for a worker
that died in between: deciding is idempotent, so doing it again is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from gateway.registrations import declarations
from gateway.registrations.decisions import UNDER_WAY, stalled, to_send
from gateway.registrations.ports import Claimed, RegistrationFilter, RegistrationStore

# The engine's parts log as the engine: one name for operators to follow.
log = logging.getLogger("gateway.registrations.engine")

T = TypeVar("T")


class Runner:
    """Takes due steps from ``store`` for ``owner``, at most ``concurrency`` at a
    time, and hands each to ``carry_out``; ``advance`` decides again for a
    registration (the sweep's part)."""

    def __init__(
        self,
        store: RegistrationStore,
        *,
        owner: str,
        lease: dt.timedelta,
        concurrency: int,
        clock: Callable[[], dt.datetime],
        sweep_interval: float,
        call_timeout: float,
        carry_out: Callable[[Claimed], Coroutine[Any, Any, None]],
        advance: Callable[[str], Awaitable[None]],
    ) -> None:
        self.store = store
        self.owner = owner
        self.lease = lease
        self.concurrency = concurrency
        self.clock = clock
        self.sweep_interval = sweep_interval
        self.call_timeout = call_timeout
        self.carry_out = carry_out
        self.advance = advance

    async def run_once(self) -> int:
        """Claim the steps due now (at most ``concurrency``), carry them out
        concurrently, and return how many there were."""
        claimed = await self.claim(self.concurrency)
        if claimed:
            await asyncio.gather(*(self.carry_out(c) for c in claimed))
        return len(claimed)

    async def run(
        self,
        stop: asyncio.Event,
        poll_interval: float = 1.0,
        nudge: asyncio.Event | None = None,
        *,
        back: asyncio.Event | None = None,
    ) -> None:
        """Carry steps out until ``stop`` is set.

        Steps are taken as slots free up rather than batch by batch, so that a
        slow system does not hold back the others, and a finished step wakes
        the loop at once (its next stage is due now). One step's failure is
        logged and never stops the loop. ``nudge`` wakes it as soon as something is
        submitted, ``back`` as soon as a system that was down answers again (its
        waiting steps were made due: ``recovery``).
        """
        loop = asyncio.get_running_loop()
        in_flight: set[asyncio.Task[None]] = set()
        wake = asyncio.Event()
        next_sweep = loop.time()

        def finished(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            wake.set()

        log.info("registration worker %s started", self.owner)
        try:
            while not stop.is_set():
                wake.clear()
                others = [e for e in (nudge, back) if e is not None]
                for event in others:
                    event.clear()
                if loop.time() >= next_sweep:
                    await _logged("sweep", self.sweep())
                    next_sweep = loop.time() + self.sweep_interval
                free = self.concurrency - len(in_flight)
                if free > 0:
                    claimed = await _logged("claim", self.claim(free))
                    for one in claimed or []:
                        task = asyncio.create_task(self.carry_out(one))
                        in_flight.add(task)
                        task.add_done_callback(finished)
                await _first_of(stop, wake, *others, within=poll_interval)
        finally:
            # Graceful: let the calls under way end (each is bounded by the call
            # timeout). Cancelled instead, a step stays SENDING and the next
            # worker reconciles it, which is safe, only slower.
            if in_flight and stop.is_set():
                await asyncio.wait(set(in_flight), timeout=self.call_timeout)
            for task in list(in_flight):
                task.cancel()
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            log.info("registration worker %s stopped", self.owner)

    async def claim(self, limit: int) -> list[Claimed]:
        now = self.clock()
        return await self.store.take(
            self.owner,
            now=now,
            lease=self.lease,
            limit=limit,
            send=lambda step, registration: to_send(
                step, registration, now, renumbered=declarations.is_declaration(step)
            ),
        )

    async def sweep(self) -> int:
        """Decide again for every registration under way with no step left to take.

        A worker that died between finishing a step and deciding what follows
        (the next stage, the end, compensation) leaves such a registration;
        deciding is idempotent, so doing it again is always safe. Returns how
        many registrations were looked at again.
        """
        after: str | None = None
        count = 0
        while True:
            page = await self.store.list(
                RegistrationFilter(states=list(UNDER_WAY), stalled=True), first=100, after=after
            )
            for registration in stalled(page.items):
                count += 1
                # Read again: the page may be older than a decision taken since.
                await self.advance(registration.id)
            if not page.has_next_page:
                return count
            after = page.end_cursor


async def _logged(what: str, call: Awaitable[T]) -> T | None:
    try:
        return await call
    except Exception as exc:
        # Imported here: what the store raises is the store's to recognise.
        from gateway.store.database import outage_log_level, store_unreachable

        unreachable = store_unreachable(exc)
        if unreachable is None:
            log.error("registration worker: %s failed: %s", what, type(exc).__name__)
        else:
            # An outage, not a fault of the worker's: said once a minute, tried every poll.
            log.log(
                outage_log_level(f"worker {what}"),
                "registration worker: %s failed: %s (the store cannot be reached)",
                what,
                unreachable,
            )
        return None


async def _first_of(*events: asyncio.Event, within: float) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        for waiter in waiters:
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
