"""What changes rarely, kept for a while: aiocache, in memory or in Redis.

Kept: employer bindings (which unit is which in each system) and, for a short
time, a worker's records per system and employer. The gateway invalidates a
worker's entries itself when it writes to a system for that worker.

Keys never hold an ID number in clear: a worker's key is an HMAC of the number
under the gateway's secret, so that a Redis shared with others reveals nothing.
Values are pickled domain objects; the Redis instance is the gateway's own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from aiocache import Cache
from aiocache.serializers import PickleSerializer

from gateway.domain.model import System

_MISSING = object()


class GatewayCache:
    def __init__(
        self,
        url: str,
        *,
        key_secret: bytes,
        worker_ttl_s: float,
        employer_ttl_s: float,
        namespace: str = "hrss",
    ) -> None:
        scheme = urlparse(url).scheme
        if scheme in ("", "memory"):
            # No deadline: a dictionary in this process cannot hang, and aiocache's
            # (5 s by default) wraps every call in ``asyncio.wait_for``, a task of
            # its own: 22 us a call instead of 6.
            self._cache: Any = Cache(
                Cache.MEMORY, serializer=PickleSerializer(), namespace=namespace, timeout=None
            )
        elif scheme in ("redis", "rediss"):
            parsed = urlparse(url)
            self._cache = Cache(
                Cache.REDIS,
                endpoint=parsed.hostname or "127.0.0.1",
                port=parsed.port or 6379,
                db=int((parsed.path or "/0").lstrip("/") or 0),
                password=parsed.password,
                serializer=PickleSerializer(),
                namespace=namespace,
            )
        else:
            raise ValueError(f"unsupported cache URL scheme: {scheme}")
        self.url = url
        self._secret = key_secret
        self.worker_ttl_s = worker_ttl_s
        self.employer_ttl_s = employer_ttl_s
        self.hits = 0
        self.misses = 0

    # ------------------------------------------------------------------ keys

    def person_key(self, id_number: str) -> str:
        return hmac.new(self._secret, id_number.encode(), hashlib.sha256).hexdigest()[:32]

    def worker_key(self, system: System, employer_id: str, id_number: str) -> str:
        return f"worker:{system.value}:{employer_id}:{self.person_key(id_number)}"

    @staticmethod
    def employer_key(credit_code: str) -> str:
        return f"employer:{credit_code}"

    @staticmethod
    def account_key(account_id: int) -> str:
        """A signed-in account, as a request's token finds it."""
        return f"account:{account_id}"

    # ------------------------------------------------------------ operations

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        """Values in the order of ``keys``; ``None`` where there is none."""
        if not keys:
            return []
        values: list[Any] = await self._cache.multi_get(list(keys))
        found = sum(v is not None for v in values)
        self.hits += found
        self.misses += len(values) - found
        return values

    async def set_many(self, pairs: Sequence[tuple[str, Any]], ttl: float) -> None:
        if pairs:
            await self._cache.multi_set(list(pairs), ttl=ttl)

    async def get(self, key: str) -> Any:
        return (await self.get_many([key]))[0]

    async def set(self, key: str, value: Any, ttl: float) -> None:
        await self._cache.set(key, value, ttl=ttl)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            await self._cache.delete(key)

    async def forget_account(self, account_id: int) -> None:
        """Forget a signed-in account changed by this process (its password, its
        rights, its sessions): here the change holds at once, in the other
        processes once their copy's time is up (``account_cache_ttl_s``)."""
        await self.delete(self.account_key(account_id))

    async def invalidate_worker(
        self, id_number: str, employer_ids: dict[System, str | None]
    ) -> None:
        """Forget a worker's records at one employer, in every system the gateway wrote to."""
        await self.delete(
            *(
                self.worker_key(system, employer_id, id_number)
                for system, employer_id in employer_ids.items()
                if employer_id
            )
        )

    async def clear(self) -> None:
        await self._cache.clear()

    async def close(self) -> None:
        await self._cache.close()
