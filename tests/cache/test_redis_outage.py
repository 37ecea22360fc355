"""The cache while its Redis is down, refuses, hangs or comes back: it fails open.

A read that Redis cannot answer is a miss and a write or delete is not made, never
an error: the gateway asks its store or the systems instead. One warning when Redis
fails, one line when it answers again, nothing in between; and Redis is left alone
for a pause rather than asked (and waited for) at every request. Each test runs a
Redis of its own (``tests/cache/redis_server.py``) and stops it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import gateway.cache as cache_module
from gateway.access import Access, Principal
from gateway.auth import Role
from gateway.cache import GatewayCache
from gateway.domain.model import System
from gateway.forms.progress import Phase, progress_of, published
from gateway.forms.settings import FormSettings
from gateway.forms.store import MARKED_PATH, fetch_marked, keep_marked
from tests.cache.redis_server import RedisServer
from tests.cache.redis_server import own_redis as own_redis

JINAN = "91370102MA3C4TLQ2N"
#: The pause after a failure, shortened so that a test need not wait a second.
PAUSE_S = 0.05


@pytest.fixture(autouse=True)
def _short_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    # raising=False: so that this file runs (and fails for what it shows) on a cache
    # that has no pause at all.
    monkeypatch.setattr(cache_module, "REDIS_PAUSE_S", PAUSE_S, raising=False)
    monkeypatch.setattr(cache_module, "REDIS_PAUSE_CAP_S", 4 * PAUSE_S, raising=False)


def made(url: str) -> GatewayCache:
    return GatewayCache(
        url, key_secret=b"s" * 32, worker_ttl_s=30, employer_ttl_s=60, namespace="hrss-test"
    )


@pytest.fixture
async def cache(own_redis: RedisServer) -> AsyncIterator[GatewayCache]:
    c = made(own_redis.url())
    try:
        yield c
    finally:
        await c.close()


def cache_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "gateway.cache" and r.levelno == level
    ]


async def answered_again(cache: GatewayCache, within_s: float = 10.0) -> None:
    """Until the cache puts and reads a value in Redis again (its pause over)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        await cache.set("probe", 1, ttl=30)
        if await cache.get("probe") == 1:
            return
        await asyncio.sleep(PAUSE_S / 2)
    raise AssertionError("the cache did not use Redis again once it answered")


async def every_operation(cache: GatewayCache) -> list[Any]:
    """Each thing the gateway asks of its cache, once: what the reads gave."""
    worker = cache.worker_key(System.EMPLOYMENT, "E-1", "370102199001011237")
    found = [await cache.get(cache.account_key(7))]
    found += await cache.get_many([worker, cache.employer_key(JINAN)])
    await cache.set(cache.account_key(7), {"username": "clerk"}, ttl=5)
    await cache.set_many([(worker, [{"name": "x"}])], ttl=30)
    await cache.delete(cache.employer_key(JINAN))
    await cache.forget_account(7)
    await cache.invalidate_worker("370102199001011237", {System.EMPLOYMENT: "E-1"})
    return found


async def test_while_redis_is_down_reads_miss_writes_are_skipped_and_one_warning_is_logged(
    cache: GatewayCache, own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    await cache.set(cache.account_key(7), {"username": "clerk"}, ttl=30)
    assert await cache.get(cache.account_key(7)) == {"username": "clerk"}
    own_redis.stop()
    with caplog.at_level(logging.INFO, logger="gateway.cache"):
        for _ in range(20):
            assert await every_operation(cache) == [None, None, None]
            await asyncio.sleep(PAUSE_S / 5)  # pauses run out: Redis is tried again, and fails
        assert not cache.reachable
        [warning] = cache_lines(caplog, logging.WARNING)
        assert "ConnectionError" in warning
        assert str(own_redis.port) not in warning  # the type of the failure, not its text
        assert cache_lines(caplog, logging.INFO) == []
        own_redis.start()
        await answered_again(cache)
    assert cache.reachable
    assert len(cache_lines(caplog, logging.WARNING)) == 1
    [info] = cache_lines(caplog, logging.INFO)
    assert "answers again" in info
    await cache.set(cache.account_key(8), {"username": "admin"}, ttl=30)
    with own_redis.client() as raw:
        assert raw.exists(cache.stored_name(cache.account_key(8)) or "") == 1
    assert await cache.get(cache.account_key(8)) == {"username": "admin"}


async def test_a_redis_that_is_down_is_left_alone_between_tries(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Not one connection (and one wait) per request: one try, then none for the pause."""
    monkeypatch.setattr(cache_module, "REDIS_PAUSE_S", 60.0, raising=False)
    connections = 0

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.transport.abort()  # a reset, as from a Redis that goes away

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cache = made(f"redis://127.0.0.1:{port}/0")
    try:
        async with asyncio.timeout(10):
            for _ in range(50):
                assert await cache.get(cache.account_key(1)) is None
                await cache.set(cache.account_key(1), {"username": "clerk"}, ttl=5)
    finally:
        await cache.close()
        server.close()
        await server.wait_closed()
    assert 1 <= connections <= 2  # the call that found it down, and its one retry
    assert len(cache_lines(caplog, logging.WARNING)) == 1


@pytest.fixture
def hung_redis() -> Iterator[str]:
    """A Redis URL whose server takes connections and never answers (black-holed)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # the kernel completes the handshakes; nobody ever reads
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


async def test_a_redis_that_never_answers_holds_one_request_for_the_timeout_only(
    hung_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeout = 0.3
    monkeypatch.setattr(cache_module, "REDIS_TIMEOUT_S", timeout)
    monkeypatch.setattr(cache_module, "REDIS_PAUSE_S", 60.0, raising=False)
    cache = made(hung_redis)
    took = []
    try:
        async with asyncio.timeout(30):
            for _ in range(20):
                started = time.monotonic()
                assert await cache.get(cache.account_key(1)) is None
                took.append(time.monotonic() - started)
    finally:
        await cache.close()
    assert took[0] < 3 * timeout + 0.5  # the first waited for Redis, boundedly
    assert sum(took[1:]) < 0.2  # the others did not wait at all


@pytest.mark.parametrize("refusal", ["no-password", "wrong-password", "no-such-database"])
async def test_a_redis_that_refuses_the_gateway_is_a_miss_not_an_error(
    refusal: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(tmp_path, password="right-" + "p" * 16)
    server.start()
    url = {
        "no-password": server.url(password=""),
        "wrong-password": server.url(password="wrong-" + "p" * 16),
        "no-such-database": server.url(db=999),
    }[refusal]
    cache = made(url)
    try:
        assert await every_operation(cache) == [None, None, None]
        assert await every_operation(cache) == [None, None, None]
    finally:
        await cache.close()
        server.stop()
    assert len(cache_lines(caplog, logging.WARNING)) == 1


async def test_after_redis_restarts_the_connections_it_closed_are_replaced_without_a_miss(
    cache: GatewayCache, own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    keys = [cache.account_key(n) for n in range(8)]
    # Eight at once: eight connections in the pool.
    await asyncio.gather(*(cache.set(k, {"n": k}, ttl=60) for k in keys))
    assert await asyncio.gather(*(cache.get(k) for k in keys)) == [{"n": k} for k in keys]
    own_redis.restart()  # every pooled connection now closed by the other end
    await asyncio.gather(*(cache.set(k, {"n": k}, ttl=60) for k in keys))
    assert await asyncio.gather(*(cache.get(k) for k in keys)) == [{"n": k} for k in keys]
    assert cache.reachable
    assert cache_lines(caplog, logging.WARNING) == []


async def test_a_delete_missed_while_redis_was_unreachable_is_made_when_it_answers(
    cache: GatewayCache, own_redis: RedisServer
) -> None:
    """A unit's bindings changed while Redis was cut off: the copy Redis still holds
    when it comes back (kept for ``employer_ttl_s``) is not read again."""
    key = cache.employer_key(JINAN)
    await cache.set(key, {"name": "before"}, ttl=600)
    own_redis.stop(save=True)  # cut off, what it holds kept
    await cache.delete(key)  # the gateway wrote to the unit meanwhile
    own_redis.start()
    with own_redis.client() as raw:
        assert raw.exists(cache.stored_name(key) or "") == 1  # back with its old copy
        await answered_again(cache)
        assert await cache.get(key) is None
        assert raw.exists(cache.stored_name(key) or "") == 0


def form_gateway(cache: GatewayCache) -> Any:
    return SimpleNamespace(
        cache=cache,
        config=SimpleNamespace(forms=FormSettings()),
        clock=lambda: dt.datetime.now(dt.UTC),
    )


async def test_an_upload_while_redis_is_down_keeps_its_marked_form_and_progress_in_the_process(
    cache: GatewayCache, own_redis: RedisServer
) -> None:
    """What an upload keeps for later (its marked form, its progress) is not lost to
    an outage: kept in the process, found there during it and after it."""
    gateway = form_gateway(cache)
    uploader = Access(Principal(Role.EMPLOYER, JINAN))
    async with published(gateway, uploader.principal, "import-1") as progress:
        progress.start(Phase.CHECKING, 3)
        await asyncio.sleep(0.05)  # copied to Redis
        own_redis.stop(save=True)  # cut off, with the progress it was given
        workbook = b"PK\x03\x04 marked"
        path, _ = await keep_marked(gateway, uploader, workbook)
    token = path.removeprefix(MARKED_PATH.split("{")[0]).removesuffix(".xlsx")
    assert await fetch_marked(gateway, uploader, token) == workbook
    found = await progress_of(gateway, uploader.principal, "import-1")
    assert found is not None
    assert found.phase is Phase.DONE
    own_redis.start()  # with its copy of the progress from before: CHECKING
    await answered_again(cache)
    assert await fetch_marked(gateway, uploader, token) == workbook
    found = await progress_of(gateway, uploader.principal, "import-1")
    assert found is not None
    assert found.phase is Phase.DONE  # not the copy Redis kept from before the outage
    # Another uploader's rights still do not open it.
    other = Access(Principal(Role.EMPLOYER, "91370000MA3C4TLQ21"))
    assert await fetch_marked(gateway, other, token) is None
