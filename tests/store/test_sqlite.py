"""The embedded store's connections (``gateway/store/sqlite.py``): each statement one
trip to SQLite's thread, the BEGIN with the first, and nothing lost on the way."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.store import sqlite
from gateway.store.database import Database, create_engine
from tests.store.conftest import another_writer_gets_in


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path}/s.db"))
    async with database.write() as conn:
        await conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    yield database
    await database.close()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function run on a connection's thread, in order."""
    seen: list[str] = []
    original = sqlite.Connection._execute

    async def counted(self: sqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(fn.__name__)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(sqlite.Connection, "_execute", counted)
    return seen


async def test_a_statement_is_one_trip_and_begin_goes_with_the_first(
    db: Database, trips: list[str]
) -> None:
    async with db.write() as conn:
        await conn.execute(sa.text("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')"))
        rows = (await conn.execute(sa.text("SELECT v FROM t ORDER BY id"))).scalars().all()
    assert rows == ["a", "b", "c"]
    # BEGIN IMMEDIATE with the insert, the select, the commit; the pool's
    # rollback of the connection given back needs none.
    assert trips == ["_run", "_run", "_commit"]


async def test_rows_and_row_counts_come_back_whole(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(
            sa.text("INSERT INTO t (v) VALUES (:v)"), [{"v": str(i)} for i in range(5)]
        )
        changed = await conn.execute(
            sa.text("UPDATE t SET v = v || '!' WHERE id <= 3 RETURNING id, v")
        )
        assert sorted(changed.all()) == [(1, "0!"), (2, "1!"), (3, "2!")]
        assert changed.rowcount == 3
        none = await conn.execute(sa.text("UPDATE t SET v = 'x' WHERE id = 99"))
        assert none.rowcount == 0
    async with db.read() as conn:
        result = await conn.execute(sa.text("SELECT id FROM t ORDER BY id"))
        assert result.fetchone() == (1,)
        assert result.fetchmany(2) == [(2,), (3,)]
        assert result.fetchall() == [(4,), (5,)]


async def test_a_failed_transaction_is_rolled_back(db: Database, trips: list[str]) -> None:
    async def both() -> None:
        async with db.write() as conn:
            await conn.execute(sa.text("INSERT INTO t (id, v) VALUES (1, 'kept?')"))
            await conn.execute(sa.text("INSERT INTO t (id, v) VALUES (2, NULL)"))

    with pytest.raises(sa.exc.IntegrityError):
        await both()
    assert trips[-1] == "_rollback"
    async with db.read() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM t"))).scalar() == 0


async def test_a_transaction_without_statements_takes_no_lock_nor_trip(
    db: Database, tmp_path: Path, trips: list[str]
) -> None:
    other = sqlite3.connect(tmp_path / "s.db", timeout=0, isolation_level=None)
    try:
        async with db.write():
            assert another_writer_gets_in(other)  # nothing was run: nothing is held
        assert trips == []
        async with db.write() as conn:
            await conn.execute(sa.text("SELECT count(*) FROM t"))
            assert not another_writer_gets_in(other)
        assert another_writer_gets_in(other)
    finally:
        other.close()


async def test_a_statement_cancelled_on_its_way_is_rolled_back(db: Database) -> None:
    """Cancelled while SQLite's thread runs it, the statement may still have run, and
    its BEGIN with it: the connection given back must not keep that transaction."""
    async with db.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert isinstance(driver, sqlite.Connection)
        driver.begin("BEGIN IMMEDIATE")
        cursor = driver.cursor()
        task = asyncio.ensure_future(cursor.execute("INSERT INTO t (v) VALUES ('cancelled')"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await driver.rollback()
    async with db.read() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM t"))).scalar() == 0
