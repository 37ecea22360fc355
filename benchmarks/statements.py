"""What one statement costs this process, layer by layer, measured side by side in one run.

The engine's store work is some nine small statements a hire (``docs/benchmarks.md``),
each a conditional UPDATE or a read by key. This measures the same trivial UPDATE of
a step by id (no row matches: the database's own work is nearly nothing) executed
``BENCH_STATEMENTS`` times (5,000) in one transaction of the gateway's own store, on
SQLite and on PostgreSQL, through each layer the store could use:

- ``execute``: SQLAlchemy's async ``Connection.execute`` of the statement built once,
  as the store executes every statement (a greenlet per call);
- ``run_sync``: the same statements run in one greenlet (``AsyncConnection.run_sync``);
- ``driver sql``: SQLAlchemy's ``exec_driver_sql``, the SQL text as the driver takes it;
- ``driver``: the driver's connection itself (the store's aiosqlite connection with its
  one trip to SQLite's thread; asyncpg).

Printed: this process's CPU time per statement (every thread: SQLite's included) and
each layer's as a ratio of the driver's, the rounds alternating the layers so that the
machine's drift falls on each alike; the median of ``BENCH_ROUNDS`` (3).

Run: ``.venv/bin/python -m benchmarks.statements``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from benchmarks.registrations import asyncpg_url, create_database, drop_database
from gateway.store import tables as t
from gateway.store.database import Database, create_engine

#: A step saved by id, as the store's statements are built: once, values as parameters.
UPDATE = (
    sa.update(t.steps)
    .where(t.steps.c.id == sa.bindparam("b_id"))
    .values(attempts=t.steps.c.attempts)
)
LAYERS = ("execute", "run_sync", "driver sql", "driver")


def _layers(
    conn: AsyncConnection, driver: Any, postgresql: bool, n: int
) -> dict[str, Callable[[], Awaitable[None]]]:
    # The driver's own placeholder: asyncpg numbers them, sqlite3 does not.
    text = (
        "UPDATE steps SET attempts=attempts WHERE id=$1"
        if postgresql
        else "UPDATE steps SET attempts=attempts WHERE id=?"
    )
    parameters = {"b_id": "none"}

    async def execute() -> None:
        for _ in range(n):
            await conn.execute(UPDATE, parameters)

    async def run_sync() -> None:
        def many(sync: sa.Connection) -> None:
            for _ in range(n):
                sync.execute(UPDATE, parameters)

        await conn.run_sync(many)

    async def driver_sql() -> None:
        for _ in range(n):
            await conn.exec_driver_sql(text, ("none",))

    async def raw() -> None:
        for _ in range(n):
            if postgresql:
                await driver.execute(text, "none")
            else:
                await driver.execute(text, ("none",))

    return dict(zip(LAYERS, (execute, run_sync, driver_sql, raw), strict=True))


async def measure(url: str, n: int, rounds: int) -> dict[str, float]:
    """CPU ms per statement by layer, the median of ``rounds``."""
    db = Database(create_engine(url))
    try:
        await db.migrate()
        cpu: dict[str, list[float]] = {layer: [] for layer in LAYERS}
        async with db.write() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            layers = _layers(conn, driver, db.dialect == "postgresql", n)
            for _ in range(rounds):
                for layer, run in layers.items():
                    start = time.process_time()
                    await run()
                    cpu[layer].append((time.process_time() - start) / n * 1000)
        return {layer: statistics.median(values) for layer, values in cpu.items()}
    finally:
        await db.engine.dispose()


async def main() -> None:
    n = int(os.environ.get("BENCH_STATEMENTS", "5000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    print(f"\nOne UPDATE by id, {n} in a transaction, medians of {rounds} rounds")
    print(f"   {'store':12}" + "".join(f"{layer:>18}" for layer in LAYERS))
    print(f"   {'':12}" + "".join(f"{'cpu ms (ratio)':>18}" for _ in LAYERS))
    with tempfile.TemporaryDirectory() as tmp:
        stores = [("SQLite", f"sqlite+aiosqlite:///{Path(tmp)}/statements.db")]
        database = await create_database()
        if database is not None:
            stores.append(("PostgreSQL", asyncpg_url(database)))
        try:
            for name, url in stores:
                ms = await measure(url, n, rounds)
                driver = ms["driver"]
                cells = "".join(
                    f"{f'{ms[layer]:.3f} ({ms[layer] / driver:.1f})':>18}" for layer in LAYERS
                )
                print(f"   {name:12}{cells}")
            if database is None:
                print("   PostgreSQL   not reachable")
        finally:
            if database is not None:
                await drop_database(database)


if __name__ == "__main__":
    asyncio.run(main())
