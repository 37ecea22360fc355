"""What the cache puts in Redis: sealed values, keyed names.

A Redis may be shared with others, or reached by whoever gets onto its network:
nothing it holds may give a worker's data away, and nothing written into it by
someone else may run code in the gateway or be taken for the gateway's own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import pickle
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis

from gateway.access import Access, Principal
from gateway.auth import Role
from gateway.cache import GatewayCache, SealedValues
from gateway.domain.model import System
from gateway.forms.progress import Phase, progress_of, published
from gateway.forms.settings import FormSettings
from gateway.forms.store import MARKED_PATH, fetch_marked, keep_marked
from tests.services import RedisNamespace
from tests.services import redis_namespace as redis_namespace

JINAN = "91370102MA3C4TLQ2N"
ID_NUMBER = "370102199001011237"
MOBILE = "13912345678"
NAME = "张三丰"
ADDRESS = "山东省济南市历下区泉城路1号"
#: A worker's records as a system's loader caches them: the whole person.
RECORD = {
    "id_number": ID_NUMBER,
    "mobile": MOBILE,
    "name": NAME,
    "household_address": ADDRESS,
    "current_address": ADDRESS,
}
IN_CLEAR = [s.encode() for s in (ID_NUMBER, MOBILE, NAME, ADDRESS)]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def cache(redis_namespace: RedisNamespace, clock: Clock) -> AsyncIterator[GatewayCache]:
    c = GatewayCache(
        redis_namespace.url,
        key_secret=b"s" * 32,
        worker_ttl_s=30,
        employer_ttl_s=60,
        namespace=redis_namespace.prefix.rstrip(":"),
        clock=clock,
    )
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def raw(redis_namespace: RedisNamespace) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_namespace.url)
    try:
        yield client
    finally:
        client.close()


def _stored(raw: redis.Redis, namespace: RedisNamespace) -> dict[bytes, bytes]:
    """Every key of the test's namespace and its value, as Redis holds them."""
    return {k: _value(raw, k) for k in raw.scan_iter(match=f"{namespace.prefix}*")}


def _name(cache: GatewayCache, key: str) -> str:
    name = cache.stored_name(key)
    assert name is not None
    return name


def _value(raw: redis.Redis, name: bytes) -> bytes:
    """A string's value; another type (a rate limit's window) as ``DUMP`` gives it."""
    if raw.type(name) == b"string":
        return raw.get(name) or b""
    return raw.dump(name) or b""  # type: ignore[return-value]


async def test_a_workers_records_in_redis_are_sealed_and_read_back(
    cache: GatewayCache, raw: redis.Redis, redis_namespace: RedisNamespace
) -> None:
    key = cache.worker_key(System.EMPLOYMENT, "E-1", ID_NUMBER)
    await cache.set_many([(key, [RECORD]), (cache.employer_key(JINAN), {"n": 1})], ttl=30)
    stored = _stored(raw, redis_namespace)
    assert len(stored) == 2
    for name, value in stored.items():
        assert not any(s in name for s in IN_CLEAR), name
        assert not any(s in value for s in IN_CLEAR)
        assert not value.startswith(b"\x80")  # no pickle a reader could load
        assert 0 < raw.pttl(name) <= 30_000
    assert await cache.get(key) == [RECORD]
    assert await cache.get_many([key, "worker:none", cache.employer_key(JINAN)]) == [
        [RECORD],
        None,
        {"n": 1},
    ]


async def test_a_value_someone_else_wrote_is_a_miss_and_never_unpickled(
    cache: GatewayCache,
    raw: redis.Redis,
    redis_namespace: RedisNamespace,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Pickle runs what a value names: a value planted in Redis by anyone who can
    write to it ran code in every gateway that read it."""
    planted = pickle.dumps(_Planted())
    name = _name(cache, cache.account_key(7))
    raw.set(name, planted)
    _Planted.ran = False
    with caplog.at_level(logging.WARNING, logger="gateway.cache"):
        assert await cache.get(cache.account_key(7)) is None
    assert _Planted.ran is False
    warned = [r for r in caplog.records if r.name == "gateway.cache"]
    assert warned
    assert all(r.levelno == logging.WARNING for r in warned)
    assert all(
        planted.hex() not in r.getMessage() and "Planted" not in r.getMessage() for r in warned
    )
    # A damaged sealed value, the same.
    await cache.set(cache.account_key(8), {"role": "clerk"}, ttl=5)
    name = _name(cache, cache.account_key(8))
    value = bytearray(raw.get(name) or b"")
    value[len(value) // 2] ^= 1
    raw.set(name, bytes(value))
    assert await cache.get(cache.account_key(8)) is None


class _Planted:
    ran = False

    def __reduce__(self) -> tuple[Any, ...]:
        return (_run, ())


def _run() -> None:
    _Planted.ran = True


async def test_a_sealed_value_moved_under_another_key_is_a_miss(
    cache: GatewayCache, raw: redis.Redis, redis_namespace: RedisNamespace
) -> None:
    """An administrator's signed-in account copied over a clerk's would have made the
    clerk's token an administrator's; a worker's records over another worker's."""
    await cache.set(cache.account_key(1), {"role": "admin"}, ttl=5)
    admin = raw.get(_name(cache, cache.account_key(1)))
    assert admin is not None
    raw.set(_name(cache, cache.account_key(2)), admin)
    assert await cache.get(cache.account_key(2)) is None
    assert await cache.get(cache.account_key(1)) == {"role": "admin"}


async def test_a_sealed_value_put_back_after_its_time_is_a_miss(
    cache: GatewayCache, raw: redis.Redis, redis_namespace: RedisNamespace, clock: Clock
) -> None:
    """A copy of an account taken before it was disabled, written back without an
    expiry once it had gone, would have let the disabled account's tokens in again."""
    await cache.set(cache.account_key(3), {"disabled": False}, ttl=5)
    name = _name(cache, cache.account_key(3))
    raw.persist(name)  # as if written back with no expiry
    clock.now += 4.9
    assert await cache.get(cache.account_key(3)) == {"disabled": False}
    clock.now += 0.2
    assert await cache.get(cache.account_key(3)) is None


async def test_a_marked_workbook_in_redis_is_sealed_under_no_link(
    cache: GatewayCache, raw: redis.Redis, redis_namespace: RedisNamespace
) -> None:
    gateway: Any = SimpleNamespace(
        cache=cache,
        config=SimpleNamespace(forms=FormSettings()),
        clock=lambda: dt.datetime.now(dt.UTC),
    )
    uploader = Access(Principal(Role.EMPLOYER, JINAN))
    workbook = b"PK\x03\x04" + b"".join(IN_CLEAR) * 10
    path, _ = await keep_marked(gateway, uploader, workbook)
    token = path.removeprefix(MARKED_PATH.split("{")[0]).removesuffix(".xlsx")
    [(name, value)] = _stored(raw, redis_namespace).items()
    assert token.encode() not in name  # a keyed hash of the link, not the link
    assert workbook not in value
    assert not any(s in value for s in IN_CLEAR)
    assert 0 < raw.pttl(name) <= FormSettings().marked_ttl_s * 1000
    assert await fetch_marked(gateway, uploader, token) == workbook
    other = Access(Principal(Role.EMPLOYER, "91370000MA3C4TLQ21"))
    assert await fetch_marked(gateway, other, token) is None


async def test_an_imports_progress_in_redis_is_named_by_a_keyed_hash(
    cache: GatewayCache, raw: redis.Redis, redis_namespace: RedisNamespace
) -> None:
    """A front end may build its idempotency key from the worker's ID number."""
    gateway: Any = SimpleNamespace(cache=cache, config=SimpleNamespace(forms=FormSettings()))
    uploader = Principal(Role.CLERK, None, ("370100",))
    idempotency_key = f"import-{ID_NUMBER}"
    async with published(gateway, uploader, idempotency_key) as progress:
        progress.start(Phase.CHECKING, 3)
        await asyncio.sleep(0)
    stored = _stored(raw, redis_namespace)
    assert stored
    for name, value in stored.items():
        assert ID_NUMBER.encode() not in name
        assert b"Principal" not in name
        assert b"370100" not in name
        assert ID_NUMBER.encode() not in value
    found = await progress_of(gateway, uploader, idempotency_key)
    assert found is not None
    assert found.phase is Phase.DONE
    assert (
        await progress_of(gateway, Principal(Role.CLERK, None, ("370200",)), idempotency_key)
        is None
    )


async def test_the_in_memory_cache_keeps_values_as_they_were() -> None:
    """In memory nothing leaves the process: values are copied (pickled), not sealed."""
    cache = GatewayCache("memory://", key_secret=b"k", worker_ttl_s=5, employer_ttl_s=5)
    record = {"id_number": ID_NUMBER, "list": [1, 2]}
    await cache.set("worker:x", record, ttl=5)
    record["list"].append(3)
    assert await cache.get("worker:x") == {"id_number": ID_NUMBER, "list": [1, 2]}
    assert cache.keyed("form-progress", "a") != cache.keyed("form-marked", "a")
    await cache.close()


def test_a_redis_cache_refuses_a_secret_too_short_to_key_anything() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        GatewayCache("redis://127.0.0.1:1/0", key_secret=b"k", worker_ttl_s=5, employer_ttl_s=5)


def test_every_process_with_the_secret_opens_a_value_and_no_other_secret_does() -> None:
    """Several gateway processes share the Redis: each seals under subkeys of its own
    (a random salt, drawn again every ``ROTATE_AFTER`` values, so that no key meets the
    2**32 random nonces AES-GCM allows), and opens every other's."""
    one, two = SealedValues(b"s" * 32), SealedValues(b"s" * 32)
    one.ROTATE_AFTER = 2  # type: ignore[misc]
    sealed = [one.seal("hrss:s1:worker:x", n, ttl=30) for n in range(5)]
    salts = {s[1:17] for s in sealed}
    assert len(salts) == 3  # a new salt every two values
    assert [two.open("hrss:s1:worker:x", s) for s in sealed] == list(range(5))
    assert [one.open("hrss:s1:worker:x", s) for s in sealed] == list(range(5))
    other = SealedValues(b"t" * 32)
    assert [other.open("hrss:s1:worker:x", s) for s in sealed] == [None] * 5
    # Same plaintext twice: two different sealed values (a fresh nonce each time).
    assert one.seal("hrss:s1:a", "v", 30) != one.seal("hrss:s1:a", "v", 30)


async def test_a_rediss_url_speaks_tls_and_names_its_user() -> None:
    """aiocache was given host, port, database and password alone: ``rediss://`` went
    to Redis in clear, and a user name (Redis ACLs) was dropped."""
    from redis.asyncio.connection import SSLConnection

    cache = GatewayCache(
        "rediss://gateway:secret@cache.example:6380/2",
        key_secret=b"s" * 32,
        worker_ttl_s=5,
        employer_ttl_s=5,
    )
    pool = cache._cache._client.connection_pool
    assert pool.connection_class is SSLConnection
    kwargs = pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.example", 6380, 2)
    assert (kwargs["username"], kwargs["password"]) == ("gateway", "secret")
    await cache.close()
