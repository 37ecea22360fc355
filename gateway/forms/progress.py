"""How far an import has got, for a front end to draw a bar from.

The import runs its reading and checking in a thread, which moves a
:class:`Progress` along; the event loop copies it to the gateway's cache a few
times a second under a keyed hash of the uploader and its idempotency key, where
the query ``formImportProgress`` reads it (from any gateway process sharing the
cache). While the cache's Redis cannot be reached it is kept in the importing
process (``GatewayCache.keep``): read there, and null from the other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from gateway.access import Principal

if TYPE_CHECKING:
    from gateway.services import Gateway

#: How often the thread's progress is copied to the cache.
FLUSH_S = 0.25
_KEY = "form-progress:{key}"


class Phase(StrEnum):
    READING = "READING"  # rows read from the file (``total`` from its declared size)
    CHECKING = "CHECKING"  # rows checked
    STORING = "STORING"  # the accepted rows being stored
    DONE = "DONE"


@dataclass(slots=True)
class Progress:
    """Moved along by one thread, read by the event loop: plain attribute writes."""

    phase: Phase = Phase.READING
    done: int = 0
    total: int | None = None

    def start(self, phase: Phase, total: int | None) -> None:
        self.phase, self.done, self.total = phase, 0, total


def _key(gateway: Gateway, principal: Principal, idempotency_key: str) -> str:
    # The key is the client's; with the principal in it, no one reads another's. Both
    # by a keyed hash: a front end may build its key from a worker's ID number, and the
    # cache may be a Redis others can list.
    return _KEY.format(key=gateway.cache.keyed("form-progress", f"{principal!r}:{idempotency_key}"))


@contextlib.asynccontextmanager
async def published(
    gateway: Gateway, principal: Principal, idempotency_key: str
) -> AsyncIterator[Progress]:
    """A Progress, copied to the cache until the block ends (then DONE)."""
    progress = Progress()
    key, ttl = _key(gateway, principal, idempotency_key), gateway.config.forms.marked_ttl_s

    ended = asyncio.Event()

    async def flush() -> None:
        while not ended.is_set():
            await gateway.cache.keep(key, asdict(progress), ttl=ttl)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), FLUSH_S)

    # Told to stop, not cancelled: aiocache bounds each call with asyncio.wait_for,
    # which on Python 3.11 drops a cancellation that comes in the turn of the event
    # loop in which the call finished; a cancelled copier then went on copying for
    # ever and the import, waiting for it, never answered.
    task = asyncio.create_task(flush())
    try:
        yield progress
    finally:
        ended.set()
        await task
        progress.phase = Phase.DONE
        await gateway.cache.keep(key, asdict(progress), ttl=ttl)


async def progress_of(
    gateway: Gateway, principal: Principal, idempotency_key: str
) -> Progress | None:
    found = await gateway.cache.find(_key(gateway, principal, idempotency_key))
    if not isinstance(found, dict):
        return None
    return Progress(Phase(found["phase"]), int(found["done"]), found.get("total"))
