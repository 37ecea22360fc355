"""A store that cannot be reached: every wait on it bounded, and told apart from
the other errors, so that requests answer ``STORE_UNAVAILABLE`` and the worker
says so once, without a stack, rather than an ``INTERNAL`` error each time.

The PostgreSQL tests reach the database through a loopback proxy they cut or
black-hole (``tests/store/pgproxy.py``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import time
from collections.abc import Awaitable
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.registrations import runner
from gateway.store import database
from gateway.store.database import Database, StoreTimeouts, create_engine, store_unreachable
from tests.services import postgres_url, services
from tests.store.pgproxy import PgProxy

#: Short enough for a test to wait out, long enough for loopback.
SHORT = StoreTimeouts(connect_s=1.0, statement_s=1.0, pool_s=0.5)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def failure(call: Awaitable[object]) -> tuple[BaseException, float]:
    """What ``call`` raised, and after how long."""
    started = time.monotonic()
    try:
        await call
    except Exception as exc:
        return exc, time.monotonic() - started
    raise AssertionError("it did not fail")


async def select_one(db: Database) -> None:
    async with db.read() as conn:
        await conn.execute(sa.text("SELECT 1"))


@pytest.fixture(autouse=True)
def _no_outage_logged_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    # Logged at most once a minute per place and process: this test starts afresh.
    monkeypatch.setattr(database, "_OUTAGE_LOGGED", {})


async def test_a_store_refusing_connections_is_unreachable() -> None:
    db = Database(create_engine(f"postgresql+asyncpg://u:pw@127.0.0.1:{closed_port()}/x", SHORT))
    try:
        exc, _ = await failure(select_one(db))
    finally:
        await db.close()
    assert store_unreachable(exc) == "ConnectionRefusedError"


async def test_other_errors_are_not_the_store_being_unreachable() -> None:
    assert store_unreachable(ValueError("no")) is None
    # A timeout of the gateway's own, not of a driver (a system's call, say).
    with pytest.raises(TimeoutError) as timed_out:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)
    assert store_unreachable(timed_out.value) is None


@services
async def test_a_store_cut_off_is_unreachable_and_comes_back() -> None:
    async with PgProxy.before(postgres_url()) as (proxy, url):
        db = Database(create_engine(url, SHORT))
        try:
            await select_one(db)  # a connection in the pool
            proxy.cut()
            dropped, _ = await failure(select_one(db))  # the pooled one, dropped
            refused, _ = await failure(select_one(db))  # a new one, refused
            assert store_unreachable(dropped)
            assert store_unreachable(refused)
            proxy.restore()
            await select_one(db)
            # A statement's own error is not the store being away.
            async with db.read() as conn:
                wrong, _ = await failure(conn.execute(sa.text("SELECT * FROM no_such_table")))
            assert store_unreachable(wrong) is None
        finally:
            await db.close()


@services
async def test_a_black_holed_store_fails_within_its_timeouts() -> None:
    """Nothing comes back: a statement on a pooled connection ends after the
    statement timeout (and as long again, asyncpg's wait for its cancellation), and
    a new connection after the connect timeout. Before, each waited as long as TCP
    would (minutes)."""
    async with PgProxy.before(postgres_url()) as (proxy, url):
        db = Database(create_engine(url, SHORT))
        try:
            await select_one(db)
            proxy.pause()
            timed_out, took = await failure(select_one(db))
            assert store_unreachable(timed_out) == "TimeoutError"
            assert SHORT.statement_s * 0.9 <= took < SHORT.statement_s * 2.8
            never_opened, took = await failure(select_one(db))
            assert store_unreachable(never_opened) == "TimeoutError"
            assert took < SHORT.connect_s * 1.8
            proxy.restore()
            await select_one(db)
        finally:
            await db.close()


@services
async def test_waiting_for_a_pooled_connection_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "POSTGRES_POOL_SIZE", 1)
    db = Database(create_engine(postgres_url(), SHORT))
    try:
        async with db.read():
            waited, took = await failure(select_one(db))
        assert store_unreachable(waited) == "TimeoutError"
        assert took < SHORT.pool_s * 3
    finally:
        await db.close()


async def test_a_locked_sqlite_store_is_unavailable_after_its_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "s.db"
    db = Database(create_engine(f"sqlite+aiosqlite:///{path}"))
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        await select_one(db)
        other.execute("BEGIN IMMEDIATE")

        async def write() -> None:
            async with db.write() as conn:
                await conn.execute(sa.text("SELECT 1"))

        locked, _ = await failure(write())
        assert store_unreachable(locked)
    finally:
        other.close()
        await db.close()


async def test_the_worker_warns_of_an_unreachable_store_once_without_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``claim failed`` every second at ERROR, each worker, while the store was away:
    a warning naming the exception's type, once a minute; any other failure is
    still an error."""
    db = Database(create_engine(f"postgresql+asyncpg://u@127.0.0.1:{closed_port()}/x", SHORT))
    caplog.set_level(logging.DEBUG, logger="gateway.registrations.engine")
    try:
        for _ in range(3):
            assert await runner._logged("claim", select_one(db)) is None
    finally:
        await db.close()

    async def broken() -> None:
        raise KeyError("a bug")

    assert await runner._logged("sweep", broken()) is None
    records = [r for r in caplog.records if r.name == "gateway.registrations.engine"]
    claims = [r for r in records if "claim failed" in r.getMessage()]
    assert [r.levelno for r in claims] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert "ConnectionRefusedError" in claims[0].getMessage()
    assert all(r.exc_info is None for r in claims)
    sweeps = [r for r in records if "sweep failed" in r.getMessage()]
    assert [r.levelno for r in sweeps] == [logging.ERROR]
