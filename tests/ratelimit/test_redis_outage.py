"""Limits while their Redis fails: counted in the process's memory, not switched off.

Twelve wrong passwords with Redis down were all let through to Argon2 (and to the
guesser); now the sixth is ``LOGIN_THROTTLED`` as with Redis up, and requests over
the limit are refused as they would be with ``memory://``. One warning when Redis
fails, one line when it answers, and then the counts are Redis's again. (The
gateway as a whole, its Redis stopped: ``tests/cache/test_gateway_through_outage.py``.)
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.standin.process import free_port
from gateway.http.ratelimit import LoginThrottle, RateLimitMiddleware, RateLimits
from tests.cache.redis_server import RedisServer
from tests.cache.redis_server import own_redis as own_redis

ADDRESS = "198.51.100.1"
LIMITS = RateLimits(
    login_per_username="5 per 15 minutes",
    login_per_address="20 per 15 minutes",
    per_address="2/minute",
    storage_timeout_s=0.3,
    storage_retry_s=3600,
)


@pytest.fixture
def dead_redis() -> str:
    """A Redis URL where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def hung_redis() -> Iterator[str]:
    """A Redis URL whose server takes connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "gateway.http.ratelimit" and r.levelno == logging.WARNING
    ]


async def guesses(throttle: LoginThrottle, n: int, username: str = "alice") -> list[bool]:
    """``n`` wrong passwords as the login mutation handles them: whether each was throttled."""
    throttled = []
    for _ in range(n):
        wait = await throttle.check(username, ADDRESS)
        if wait is None:
            await throttle.failed(username, ADDRESS)
        throttled.append(wait is not None)
    return throttled


@pytest.mark.parametrize("which", ["dead_redis", "hung_redis"])
async def test_wrong_passwords_are_throttled_in_memory_while_redis_fails(
    which: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    url: str = request.getfixturevalue(which)
    throttle = LoginThrottle(LIMITS, url, hash_key=b"k" * 32)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.http.ratelimit"):
            started = time.monotonic()
            assert await guesses(throttle, 12) == [False] * 5 + [True] * 7
            took = time.monotonic() - started
            wait = await throttle.check("alice", ADDRESS)
            assert wait is not None
            assert 14 * 60 < wait <= 15 * 60
            # Another user name is counted apart, as with Redis.
            assert await guesses(throttle, 1, "bob") == [False]
    finally:
        await throttle.aclose()
    [warning] = warnings_of(caplog)
    assert "login throttle" in warning
    assert "memory" in warning
    assert took < 2.0  # one wait for Redis, not one per guess


async def test_a_sign_in_forgets_the_guesses_counted_in_memory(dead_redis: str) -> None:
    throttle = LoginThrottle(LIMITS, dead_redis, hash_key=b"k" * 32)
    try:
        assert await guesses(throttle, 4) == [False] * 4
        assert await throttle.check("alice", ADDRESS) is None
        await throttle.succeeded("alice", ADDRESS)
        assert await guesses(throttle, 6) == [False] * 5 + [True]
    finally:
        await throttle.aclose()


async def hello(request: Request) -> Response:
    return JSONResponse({"data": {"ok": True}})


INNER = Starlette(routes=[Route("/graphql", hello, methods=["POST"])])


async def statuses(middleware: RateLimitMiddleware, n: int) -> list[int]:
    transport = httpx.ASGITransport(middleware, client=("203.0.113.5", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return [
            (await client.post("/graphql", json={"query": "{ a }"})).status_code for _ in range(n)
        ]


@pytest.mark.parametrize("which", ["dead_redis", "hung_redis"])
async def test_requests_over_the_limit_are_refused_in_memory_while_redis_fails(
    which: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    url: str = request.getfixturevalue(which)
    middleware = RateLimitMiddleware(INNER, LIMITS, url)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.http.ratelimit"):
            assert await statuses(middleware, 4) == [200, 200, 429, 429]
    finally:
        await middleware.aclose()
    [warning] = warnings_of(caplog)
    assert "request limits" in warning
    assert "127.0.0.1" not in warning


async def test_counting_returns_to_redis_once_it_answers(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = "hrss-test-outage"
    limits = RateLimits(
        login_per_username="5 per 15 minutes", key_prefix=prefix, storage_retry_s=0.1
    )
    throttle = LoginThrottle(limits, own_redis.url(), hash_key=b"k" * 32)
    try:
        with caplog.at_level(logging.INFO, logger="gateway.http.ratelimit"):
            assert await guesses(throttle, 2) == [False, False]  # in Redis
            own_redis.stop()
            # In memory, from none: what Redis counted is not known there.
            assert await guesses(throttle, 6) == [False] * 5 + [True]
            own_redis.start()  # empty: what it counted is gone
            time.sleep(0.15)  # noqa: ASYNC251 - the pause after the failure, over
            assert await guesses(throttle, 6) == [False] * 5 + [True]  # in Redis again
    finally:
        await throttle.aclose()
    with own_redis.client() as raw:
        assert raw.keys(f"{prefix}*")  # counted there
    [warning] = warnings_of(caplog)
    assert "login throttle" in warning
    infos = [
        r.getMessage()
        for r in caplog.records
        if r.name == "gateway.http.ratelimit" and r.levelno == logging.INFO
    ]
    assert len(infos) == 1
    assert "answers again" in infos[0]
