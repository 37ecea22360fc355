"""The service helpers: skip without a service, fail under CI, isolate each test."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg  # type: ignore[import-untyped]
import pytest
import redis

from tests.services import (
    RedisNamespace,
    _find_postgres,
    postgres_url,
    redis_namespace,
    run_isolated,
    services,
    unavailable,
)
from tests.services import postgres_database as postgres_database

__all__ = ["redis_namespace"]  # a fixture used below


def test_an_unavailable_service_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="nothing here"):
        unavailable("nothing here")


def test_an_unavailable_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="nothing here"):
        unavailable("nothing here")


@pytest.mark.parametrize(
    ("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)]
)
def test_an_unreachable_postgres_skips_or_fails(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("HRSS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/test")
    monkeypatch.setenv("CI", ci)
    _find_postgres.cache_clear()
    try:
        with pytest.raises(outcome, match="PostgreSQL unreachable"):
            postgres_url()
    finally:
        _find_postgres.cache_clear()


async def _databases(url: str) -> set[str]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()


@pytest.fixture
def dropped_afterwards() -> Iterator[list[str]]:
    """Set up before ``postgres_database``, so torn down after it: sees the drop."""
    names: list[str] = []
    yield names
    assert names
    remaining = run_isolated(_databases(postgres_url()))
    assert not set(names) & remaining


@services
def test_each_test_gets_its_own_database_and_it_goes_away(
    dropped_afterwards: list[str], postgres_database: str
) -> None:
    name = postgres_database.rsplit("/", 1)[1]
    assert name.startswith("hrss_test_")
    assert name != "test"
    assert name in run_isolated(_databases(postgres_url()))
    dropped_afterwards.append(name)


@services
def test_redis_is_reached_under_a_private_prefix(redis_namespace: RedisNamespace) -> None:
    client = redis.Redis.from_url(redis_namespace.url)
    try:
        key = redis_namespace.prefix + "probe"
        client.set(key, "1", ex=60)
        assert client.get(key) == b"1"
    finally:
        client.close()
