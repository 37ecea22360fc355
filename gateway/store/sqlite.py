"""The embedded store's connections: one trip to SQLite's thread per statement.

aiosqlite runs a connection's calls on a thread of its own, and SQLAlchemy's
adapter asks it for every part of a statement in turn: a cursor, the execution,
the rows, the cursor closed, each a trip to that thread and back (a queue put
that wakes the thread, a wake-up of the event loop through its socket, a
future, two greenlet switches). A statement costs microseconds in SQLite and
about 30 µs of this process's CPU per trip, so the trips were most of what the
store cost per statement.

``Connection`` is aiosqlite's connection (its thread, its queue) whose cursor
runs the whole statement in one trip: executed, its rows fetched, its row
count and description kept, the cursor closed. The transaction's ``BEGIN`` is
held back and run in the same trip as the transaction's first statement (the
write lock is taken then, as before, and a transaction with no statement
costs no trip), and a rollback when no transaction is open (the pool's reset of
every connection given back) costs none either.

SQLAlchemy's aiosqlite dialect takes it through ``async_creator``
(``database.create_engine``); nothing else changes for the code above.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

#: What one trip brings back: description, row count, last row id, rows, and
#: whether a transaction is open after it.
_Outcome = tuple[Any, int, int | None, list[Any], bool]


def _run(
    conn: sqlite3.Connection, begin: str | None, sql: str, parameters: Any, many: bool
) -> _Outcome:
    """One statement on SQLite's thread, after the transaction's BEGIN when held back."""
    if begin is not None:
        conn.execute(begin)
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        elif parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        description = cursor.description
        # All of them, before the row count: with RETURNING, SQLite counts the
        # rows changed as they are stepped through.
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows, conn.in_transaction
    finally:
        cursor.close()


def _commit(conn: sqlite3.Connection) -> None:
    conn.commit()


def _rollback(conn: sqlite3.Connection) -> None:
    conn.rollback()


class Cursor:
    """A cursor whose every statement is one trip to the connection's thread;
    its rows are fetched in that trip and handed out from memory."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: deque[Any] = deque()

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        self._took(await self._connection._statement(sql, parameters, many=False))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        self._took(await self._connection._statement(sql, list(parameters), many=True))
        return self

    def _took(self, outcome: _Outcome) -> None:
        self.description, self.rowcount, self.lastrowid, rows, _ = outcome
        self._rows = deque(rows)

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        self._rows.clear()

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    async def nextset(self) -> None:
        return None


class Connection(aiosqlite.Connection):
    """aiosqlite's connection to the file at ``path``, with ``Cursor`` for cursors,
    the transaction's BEGIN run with its first statement, and no trip for a
    commit or rollback with nothing to end."""

    def __init__(self, path: str) -> None:
        super().__init__(lambda: sqlite3.connect(path), iter_chunk_size=64)
        # Not a reason to keep the process alive (as SQLAlchemy marks its own).
        self._thread.daemon = True
        #: The BEGIN held back until the transaction's first statement.
        self._begin: str | None = None
        #: Whether SQLite had a transaction open after the last trip.
        self._open = False

    def begin(self, statement: str) -> None:
        """Begin a transaction with ``statement`` (``BEGIN``, ``BEGIN IMMEDIATE``),
        run in the same trip as the next statement."""
        self._begin = statement

    def cursor(self) -> Cursor:  # type: ignore[override]
        return Cursor(self)

    async def execute(  # type: ignore[override]
        self, sql: str, parameters: Sequence[Any] | None = None
    ) -> Cursor:
        return await Cursor(self).execute(sql, parameters)

    async def _statement(self, sql: str, parameters: Any, *, many: bool) -> _Outcome:
        begin, self._begin = self._begin, None
        try:
            outcome: _Outcome = await self._execute(_run, self._conn, begin, sql, parameters, many)
        except BaseException:
            # An error in SQLite leaves the transaction open or not: a rollback
            # asks the thread (below) rather than guess.
            self._open = True
            raise
        self._open = outcome[4]
        return outcome

    async def commit(self) -> None:
        if self._begin is not None:
            self._begin = None  # nothing was run in it
            return
        if not self._open:
            return
        self._open = True  # until SQLite says otherwise
        await self._execute(_commit, self._conn)
        self._open = False

    async def rollback(self) -> None:
        self._begin = None
        if not self._open:
            return
        await self._execute(_rollback, self._conn)
        self._open = False
