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
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import pickle
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlparse

from aiocache import Cache
from aiocache.serializers import PickleSerializer
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.domain.model import System

log = logging.getLogger("gateway.cache")

#: The shortest ``key_secret`` a cache in Redis takes (the hash's own size).
MIN_SECRET_BYTES = 32
#: The segment after the namespace of every sealed entry's name (``hrss:s1:worker:…``).
SEALED_TAG = "s1"
#: How long one call to Redis may take, connecting included (aiocache's default).
REDIS_TIMEOUT_S = 5.0


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


class _Redis:
    """The cache's entries in Redis (redis-py's asyncio client), sealed, under
    ``namespace:``. Bytes in, bytes out: nothing here unpickles.

    Not aiocache's Redis backend (aiocache stays for the in-process cache): its
    0.12 release builds its client in a way that drops a ``rediss://`` URL's TLS
    and user name, and calls redis-py functions deprecated since 5.0, and its
    serializers would unpickle before any check."""

    def __init__(self, url: str, namespace: str, sealed: SealedValues) -> None:
        from redis.asyncio import Redis

        self._client = Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        # Sealed entries have names of their own: a gateway of an earlier version,
        # still running beside this one while a deployment is upgraded, neither
        # reads them (its pickle would fail on them) nor is read by it.
        self._prefix = f"{namespace}:{SEALED_TAG}:" if namespace else f"{SEALED_TAG}:"
        self._sealed = sealed

    def _name(self, key: str) -> str:
        return self._prefix + key

    def name(self, key: str) -> str:
        """The name Redis keeps ``key`` under."""
        return self._name(key)

    async def multi_get(self, keys: list[str]) -> list[Any]:
        names = [self._name(k) for k in keys]
        values = await self._client.mget(names)
        return [self._sealed.open(n, v) for n, v in zip(names, values, strict=True)]

    async def multi_set(self, pairs: list[tuple[str, Any]], ttl: float) -> None:
        ms = max(1, int(ttl * 1000))
        async with self._client.pipeline(transaction=True) as pipe:
            for key, value in pairs:
                name = self._name(key)
                pipe.set(name, self._sealed.seal(name, value, ttl), px=ms)
            await pipe.execute()

    async def set(self, key: str, value: Any, ttl: float) -> None:
        name = self._name(key)
        await self._client.set(
            name, self._sealed.seal(name, value, ttl), px=max(1, int(ttl * 1000))
        )

    async def delete(self, key: str) -> None:
        await self._client.delete(self._name(key))

    async def clear(self) -> None:
        """Every sealed entry of the namespace."""
        batch: list[bytes] = []
        async for name in self._client.scan_iter(match=self._prefix + "*", count=500):
            batch.append(name)
            if len(batch) >= 500:
                await self._client.delete(*batch)
                batch = []
        if batch:
            await self._client.delete(*batch)

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
            self._cache = _Redis(url, namespace, SealedValues(key_secret, clock=clock))
        else:
            raise ValueError(f"unsupported cache URL scheme: {scheme}")
        self.url = url
        self._secret = key_secret
        self.worker_ttl_s = worker_ttl_s
        self.employer_ttl_s = employer_ttl_s
        self.hits = 0
        self.misses = 0

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
