"""What changes rarely, kept for a while: in this process (aiocache), or in Redis.

Kept: employer bindings (which unit is which in each system; no personal data),
signed-in accounts (5 s: user name, role, divisions; no password hash), and for a
short time a worker's records per system and employer (30 s: the whole person,
ID number, mobile, name and addresses); the registration form's marked workbooks
(every row of an uploaded form, for ``form_marked_ttl_s``) and the progress of an
import (three numbers). The gateway invalidates a worker's entries itself when it
writes to a system for that worker.

In this process (``memory://``) values are pickled copies; nothing leaves it.

In Redis, which may be shared with others or reached by whoever gets onto its
network, nothing is in clear and nothing is taken on trust:

- **Key names** never hold personal data or a caller's own text: a worker's is a
  keyed hash of the ID number (HMAC-SHA256 under ``key_secret``), a marked
  workbook's a keyed hash of its link's token, an import's progress a keyed hash
  of its uploader and idempotency key (:meth:`GatewayCache.keyed`). What stays in
  clear: ``employer:`` and a credit code, ``account:`` and an account's number,
  a system's name and its own unit id.
- **Values** are sealed (:class:`SealedValues`): pickled, then encrypted and
  authenticated with AES-256-GCM (``cryptography``) under a key derived by
  HKDF-SHA256 from ``key_secret`` (itself derived from ``HRSS_AUDIT_KEY``, which
  production requires), bound to the entry's full name and to the time it
  expires. A value that does not open under the key, was moved under another
  name, or is read after it expired (written back by someone who kept a copy) is
  a miss, logged at WARNING without the value, and is never unpickled: pickle
  only ever reads what a gateway with the same secret sealed.
- Sealed entries are named ``<namespace>:s1:<key>``: a gateway of an earlier
  version (plain pickles under ``<namespace>:<key>``) running beside this one
  during an upgrade neither reads them nor is read.

A Redis that is down, refuses (its password, its database, its memory) or does not
answer takes nothing down with it: the cache **fails open** (:class:`_Outage`).
Each call to Redis is bounded (``REDIS_TIMEOUT_S`` a read or write of the socket,
three times that in all); one that fails makes every read a miss (the gateway asks
the store or the systems) and every write and delete a no-op, logged once at
WARNING; Redis is then left alone for ``REDIS_PAUSE_S``, and asked again by one
call at a time, the pause doubling up to ``REDIS_PAUSE_CAP_S`` while it still
fails; the first call it answers is logged at INFO. The deletes it missed meanwhile
(an account changed, a worker written to) are made then, before anything is read
from it. A connection of the pool that Redis closed (a restart) is replaced and the
command sent again, once (redis-py's ``Retry``). What must outlive an outage, a
marked form and an import's progress, is put with :meth:`GatewayCache.keep` and
read with :meth:`GatewayCache.find`: kept in this process while Redis cannot take
it (``KEPT_HERE_BYTES`` at most), found there by this process only.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import pickle
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlparse

from aiocache import Cache
from aiocache.serializers import PickleSerializer
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.exceptions import RedisError

from gateway.domain.model import System

log = logging.getLogger("gateway.cache")

#: The shortest ``key_secret`` a cache in Redis takes (the hash's own size).
MIN_SECRET_BYTES = 32
#: The segment after the namespace of every sealed entry's name (``hrss:s1:worker:…``).
SEALED_TAG = "s1"
#: How long one read or write of a socket to Redis may take, connecting included: a
#: ``GET`` takes 0.1 ms, a marked form of 5 MB some milliseconds. A whole call, its
#: one retry on a connection found closed included, may take three times this.
REDIS_TIMEOUT_S = 1.0
#: After Redis failed, how long the cache leaves it alone before one call tries it again;
REDIS_PAUSE_S = 1.0
#: doubled at each try that fails, up to this.
REDIS_PAUSE_CAP_S = 30.0
#: Deletes missed while Redis was down, made once it answers: the most remembered
#: (the oldest forgotten first: its entry expires by itself in any case).
MISSED_DELETES_KEPT = 10_000
#: What :meth:`GatewayCache.keep` holds in this process while Redis cannot take it,
#: in bytes (pickled): past it the oldest entries go first.
KEPT_HERE_BYTES = 64 * 2**20

#: What a call to Redis fails with: refused, reset or closed connections and
#: timeouts (``ConnectionError``, ``TimeoutError``), a password or database refused
#: (``AuthenticationError``, ``ResponseError``), TLS (``OSError``), the deadline.
REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)

T = TypeVar("T")


class SealedValues:
    """Values as Redis keeps them: ``seal`` and ``open``, each bound to the entry's name.

    AES-256-GCM (``cryptography``), under a subkey derived by HKDF-SHA256 from the
    secret and a random salt of this instance (a new one every ``ROTATE_AFTER``
    values): a random 96-bit nonce is safe for 2**32 values under one key, and a
    gateway keeps its secret for the life of its store. A sealed value is::

        version (1 byte) | salt (16) | expires at, ms since the epoch (8) | nonce (12)
        | AES-GCM ciphertext of the pickle | tag (16)

    with everything before the nonce and the entry's full name as associated data.
    GCM authenticates the whole before anything is decrypted; the expiry is checked
    next, and only then is the pickle read.
    """

    VERSION = 1
    #: HKDF's ``info``: these keys are for nothing but the cache's values.
    INFO = b"hrss-gateway cache values v1"
    #: Values sealed under one subkey before the next salt is drawn.
    ROTATE_AFTER = 2**24
    _SALT, _NONCE = 16, 12
    _EXPIRES = struct.Struct(">Q")
    #: Subkeys of salts met (other processes', and this one's earlier), by salt.
    _KEYS_KEPT = 256

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"the cache's secret must be at least {MIN_SECRET_BYTES} bytes to seal "
                "what it puts in Redis"
            )
        self._secret = secret
        self._clock = clock
        self._keys: OrderedDict[bytes, AESGCM] = OrderedDict()
        self._salt = b""
        self._sealed = self.ROTATE_AFTER  # draws a salt at the first value

    def _key(self, salt: bytes) -> AESGCM:
        key = self._keys.get(salt)
        if key is None:
            derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=self.INFO)
            key = self._keys[salt] = AESGCM(derived.derive(self._secret))
            if len(self._keys) > self._KEYS_KEPT:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(salt)
        return key

    def seal(self, name: str, value: Any, ttl: float | None) -> bytes:
        """``value`` sealed for the entry ``name``, good for ``ttl`` seconds (None: ever)."""
        if self._sealed >= self.ROTATE_AFTER:
            self._salt, self._sealed = os.urandom(self._SALT), 0
        self._sealed += 1
        expires = 0 if ttl is None else int((self._clock() + ttl) * 1000)
        head = bytes([self.VERSION]) + self._salt + self._EXPIRES.pack(expires)
        nonce = os.urandom(self._NONCE)
        pickled = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        return head + nonce + self._key(self._salt).encrypt(nonce, pickled, head + name.encode())

    def open(self, name: str, sealed: bytes | str | None) -> Any:
        """The value sealed for ``name``; None when there is none or it cannot be trusted
        (logged at WARNING with the kind of entry, never the value)."""
        if sealed is None:
            return None
        data = memoryview(sealed.encode() if isinstance(sealed, str) else sealed)
        head_size = 1 + self._SALT + self._EXPIRES.size
        at = head_size + self._NONCE
        if len(data) < at + 16 or data[0] != self.VERSION:
            log.warning("a cache value under %s is not the gateway's: ignored", _kind(name))
            return None
        head = bytes(data[:head_size])
        try:
            pickled = self._key(head[1 : 1 + self._SALT]).decrypt(
                bytes(data[head_size:at]), data[at:], head + name.encode()
            )
        except InvalidTag:
            # Not sealed with this secret, changed, or sealed for another entry.
            log.warning("a cache value under %s is not the gateway's: ignored", _kind(name))
            return None
        (expires,) = self._EXPIRES.unpack_from(head, 1 + self._SALT)
        if expires and expires <= self._clock() * 1000:
            # Written back by someone who kept a copy after it expired.
            log.warning("a cache value under %s is past its time: ignored", _kind(name))
            return None
        try:
            return pickle.loads(pickled)  # noqa: S301 (sealed by a gateway, checked)
        except Exception as exc:  # a class changed between versions of the gateway
            log.warning(
                "a cache value under %s could not be read (%s)", _kind(name), type(exc).__name__
            )
            return None


def _kind(name: str) -> str:
    """The kind of an entry (``worker``, ``account``...), for a log line: no id in it."""
    parts = name.split(":")
    after = parts.index(SEALED_TAG) + 1 if SEALED_TAG in parts else 0
    return parts[after] if after < len(parts) else "?"


class _Outage:
    """Whether to ask Redis: always while it answers; after a failure, not for a pause,
    then one call at a time (the probe) until one is answered, the pause doubling at
    each probe that fails. Logs once when Redis fails, once when it answers again."""

    def __init__(
        self, pause_s: float, pause_cap_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._first_pause = pause_s
        self._cap = max(pause_cap_s, pause_s)
        self._clock = clock
        self.pause = pause_s
        #: When Redis last failed while it was thought up; None while it answers.
        self.down_since: float | None = None
        self._retry_at = 0.0
        self._probing = False

    def may_ask(self) -> bool | None:
        """None: leave Redis alone; False: ask it (it answers); True: ask it, as the
        probe (it failed before): this call's outcome decides for the others."""
        if self.down_since is None:
            return False
        if self._probing or self._clock() < self._retry_at:
            return None
        self._probing = True
        return True

    def failed(self, error: BaseException, *, probe: bool) -> None:
        now = self._clock()
        if self.down_since is None:
            self.down_since, self.pause = now, self._first_pause
            self._retry_at = now + self.pause
            # Its type only: the text may name the host, and the URL holds the password.
            log.warning(
                "the cache's Redis failed (%s): every read is a miss and nothing is put "
                "in it until it answers again; tried again in %g s",
                type(error).__name__,
                self.pause,
            )
        elif probe:
            self._probing = False
            self.pause = min(self.pause * 2, self._cap)
            self._retry_at = now + self.pause
            log.debug("the cache's Redis still fails (%s)", type(error).__name__)
        # else: a call begun before the failure that stopped the others; nothing new.

    def answered(self, *, probe: bool) -> None:
        if probe and self.down_since is not None:
            log.info(
                "the cache's Redis answers again, after %.1f s", self._clock() - self.down_since
            )
            self.down_since, self._probing, self.pause = None, False, self._first_pause

    def abandoned(self, *, probe: bool) -> None:
        """The probe was cancelled before Redis said anything: another call may try."""
        if probe:
            self._probing = False


class _KeptHere:
    """What :meth:`GatewayCache.keep` could not put in Redis, in this process: pickled
    copies (as ``memory://`` keeps them) until they expire, ``limit`` bytes at most,
    the oldest dropped first. Not sealed: nothing of it leaves the process."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    def __bool__(self) -> bool:
        return bool(self._entries)

    def put(self, key: str, value: Any, ttl: float) -> bool:
        """Whether it is kept (not when larger than everything it may hold)."""
        self.discard(key)
        pickled = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        if len(pickled) > self._limit:
            return False
        self._expire()
        while self._entries and self._bytes + len(pickled) > self._limit:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= len(dropped)
        self._entries[key] = (self._clock() + ttl, pickled)
        self._bytes += len(pickled)
        return True

    def get(self, key: str) -> Any:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= self._clock():
            self.discard(key)
            return None
        return pickle.loads(found[1])  # noqa: S301 (pickled by this process)

    def discard(self, key: str) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self._bytes -= len(found[1])

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            self.discard(key)


class _Redis:
    """The cache's entries in Redis (redis-py's asyncio client), sealed, under
    ``namespace:``. Bytes in, bytes out: nothing here unpickles.

    Not aiocache's Redis backend (aiocache stays for the in-process cache): its
    0.12 release builds its client in a way that drops a ``rediss://`` URL's TLS
    and user name, and calls redis-py functions deprecated since 5.0, and its
    serializers would unpickle before any check.

    Every call fails open (the module's docstring): a read that fails is a miss, a
    write or delete that fails is not made (the delete is remembered, and made when
    Redis answers again)."""

    def __init__(
        self,
        url: str,
        namespace: str,
        sealed: SealedValues,
        *,
        timeout_s: float,
        pause_s: float,
        pause_cap_s: float,
    ) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        self._client = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            # Once, at once, and only when the connection failed: a connection of the
            # pool that Redis closed (it restarted) is replaced and the command sent
            # again. redis-py's default (ten tries, backing off up to a second each,
            # timeouts included) held a request for many seconds on a Redis that was
            # down, and for a minute on one that does not answer.
            retry=Retry(NoBackoff(), 1, (RedisConnectionError,)),
        )
        # Sealed entries have names of their own: a gateway of an earlier version,
        # still running beside this one while a deployment is upgraded, neither
        # reads them (its pickle would fail on them) nor is read by it.
        self._prefix = f"{namespace}:{SEALED_TAG}:" if namespace else f"{SEALED_TAG}:"
        self._sealed = sealed
        self._deadline = 3 * timeout_s
        self.outage = _Outage(pause_s, pause_cap_s)
        #: Names whose entry may be out of date in Redis, deleted once it answers.
        self._missed: dict[str, None] = {}

    def _name(self, key: str) -> str:
        return self._prefix + key

    def name(self, key: str) -> str:
        """The name Redis keeps ``key`` under."""
        return self._name(key)

    def missed(self, key: str) -> None:
        """``key``'s entry in Redis, if it has one, is out of date: deleted before
        anything is read from Redis again."""
        name = self._name(key)
        self._missed.pop(name, None)
        self._missed[name] = None
        while len(self._missed) > MISSED_DELETES_KEPT:
            del self._missed[next(iter(self._missed))]

    async def _asked(self, call: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
        """``(True, what call returned)``; ``(False, None)`` when Redis was left alone
        or failed (the outage's business)."""
        probe = self.outage.may_ask()
        if probe is None:
            return False, None
        try:
            async with asyncio.timeout(self._deadline):
                if self._missed:
                    await self._delete_missed()
                result = await call()
        except REDIS_FAILURES as e:
            self.outage.failed(e, probe=probe)
            return False, None
        except BaseException:
            self.outage.abandoned(probe=probe)
            raise
        self.outage.answered(probe=probe)
        return True, result

    async def _delete_missed(self) -> None:
        names = list(self._missed)
        for at in range(0, len(names), 500):
            await self._client.delete(*names[at : at + 500])
        for name in names:
            self._missed.pop(name, None)

    async def multi_get(self, keys: list[str]) -> list[Any]:
        names = [self._name(k) for k in keys]
        asked, values = await self._asked(lambda: self._client.mget(names))
        if not asked or values is None:
            return [None] * len(keys)
        return [self._sealed.open(n, v) for n, v in zip(names, values, strict=True)]

    async def multi_set(self, pairs: list[tuple[str, Any]], ttl: float) -> bool:
        ms = max(1, int(ttl * 1000))
        sealed = [
            (name, self._sealed.seal(name, value, ttl))
            for name, value in ((self._name(k), v) for k, v in pairs)
        ]

        async def put() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                for name, value in sealed:
                    pipe.set(name, value, px=ms)
                await pipe.execute()

        asked, _ = await self._asked(put)
        return asked

    async def set(self, key: str, value: Any, ttl: float) -> bool:
        """Whether Redis took it."""
        name = self._name(key)
        sealed = self._sealed.seal(name, value, ttl)
        asked, _ = await self._asked(
            lambda: self._client.set(name, sealed, px=max(1, int(ttl * 1000)))
        )
        return asked

    async def delete(self, key: str) -> None:
        name = self._name(key)
        asked, _ = await self._asked(lambda: self._client.delete(name))
        if not asked:
            self.missed(key)

    async def clear(self) -> None:
        """Every sealed entry of the namespace."""

        async def clear() -> None:
            batch: list[bytes] = []
            async for name in self._client.scan_iter(match=self._prefix + "*", count=500):
                batch.append(name)
                if len(batch) >= 500:
                    await self._client.delete(*batch)
                    batch = []
            if batch:
                await self._client.delete(*batch)

        # A scan of the whole namespace is bounded as a whole by no deadline of one call.
        probe = self.outage.may_ask()
        if probe is None:
            return
        try:
            await clear()
        except REDIS_FAILURES as e:
            self.outage.failed(e, probe=probe)
        except BaseException:
            self.outage.abandoned(probe=probe)
            raise
        else:
            self._missed.clear()
            self.outage.answered(probe=probe)

    async def close(self) -> None:
        await self._client.aclose()


class GatewayCache:
    def __init__(
        self,
        url: str,
        *,
        key_secret: bytes,
        worker_ttl_s: float,
        employer_ttl_s: float,
        namespace: str = "hrss",
        clock: Callable[[], float] = time.time,
        redis_timeout_s: float | None = None,
        redis_pause_s: float | None = None,
        redis_pause_cap_s: float | None = None,
    ) -> None:
        """``redis_*``: by default ``REDIS_TIMEOUT_S``, ``REDIS_PAUSE_S`` and
        ``REDIS_PAUSE_CAP_S`` (read when the cache is made)."""
        scheme = urlparse(url).scheme
        if scheme in ("", "memory"):
            # No deadline: a dictionary in this process cannot hang, and aiocache's
            # (5 s by default) wraps every call in ``asyncio.wait_for``, a task of
            # its own: 22 us a call instead of 6.
            self._cache: Any = Cache(
                Cache.MEMORY, serializer=PickleSerializer(), namespace=namespace, timeout=None
            )
        elif scheme in ("redis", "rediss"):
            self._cache = _Redis(
                url,
                namespace,
                SealedValues(key_secret, clock=clock),
                timeout_s=REDIS_TIMEOUT_S if redis_timeout_s is None else redis_timeout_s,
                pause_s=REDIS_PAUSE_S if redis_pause_s is None else redis_pause_s,
                pause_cap_s=REDIS_PAUSE_CAP_S if redis_pause_cap_s is None else redis_pause_cap_s,
            )
        else:
            raise ValueError(f"unsupported cache URL scheme: {scheme}")
        self.url = url
        self._secret = key_secret
        self.worker_ttl_s = worker_ttl_s
        self.employer_ttl_s = employer_ttl_s
        self.hits = 0
        self.misses = 0
        self._here = _KeptHere(KEPT_HERE_BYTES)

    @property
    def reachable(self) -> bool:
        """False while the cache's Redis is down (since it last failed, until it answers)."""
        return not isinstance(self._cache, _Redis) or self._cache.outage.down_since is None

    def stored_name(self, key: str) -> str | None:
        """The name Redis keeps ``key`` under; None in memory."""
        return self._cache.name(key) if isinstance(self._cache, _Redis) else None

    # ------------------------------------------------------------------ keys

    def person_key(self, id_number: str) -> str:
        return hmac.new(self._secret, id_number.encode(), hashlib.sha256).hexdigest()[:32]

    def keyed(self, kind: str, text: str) -> str:
        """A name for an entry holding ``text`` (a link's token, a caller's key) without
        holding it: hex HMAC-SHA256 under the cache's secret, one per ``kind``."""
        return hmac.new(self._secret, f"{kind}\0{text}".encode(), hashlib.sha256).hexdigest()[:32]

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
            self._here.discard(key)
            await self._cache.delete(key)

    async def keep(self, key: str, value: Any, ttl: float) -> None:
        """``set`` for what must outlive an outage of Redis (a marked form, an import's
        progress): while Redis cannot take it, kept in this process instead
        (``KEPT_HERE_BYTES`` at most, the oldest dropped first), where :meth:`find`
        finds it, and its older copy in Redis, if any, deleted once Redis answers.
        Another process does not find it: its Redis is down too, or was, and the
        entry was not there."""
        if not isinstance(self._cache, _Redis):
            await self._cache.set(key, value, ttl=ttl)
        elif await self._cache.set(key, value, ttl=ttl):
            self._here.discard(key)
        else:
            self._cache.missed(key)
            if not self._here.put(key, value, ttl):
                log.warning("a %s entry is too large to keep in the process: lost", _kind(key))

    async def find(self, key: str) -> Any:
        """What :meth:`keep` kept: from the cache, else from this process."""
        value = await self.get(key)
        if value is None and self._here:
            value = self._here.get(key)
        return value

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
        self._here.clear()
        await self._cache.clear()

    async def close(self) -> None:
        await self._cache.close()
