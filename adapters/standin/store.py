"""A stand-in's records: SQLite, in memory or in a file that survives restarts.

The stand-ins are small, so one connection guarded by a lock is enough; every
write runs in one ``BEGIN IMMEDIATE`` transaction, so that a process killed
mid-request leaves either all of a write or none of it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


class Store:
    def __init__(self, path: str | None, schema: str) -> None:
        self.path = path
        self._conn = sqlite3.connect(
            path or ":memory:", check_same_thread=False, isolation_level=None
        )
        self._conn.row_factory = sqlite3.Row
        if path:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        self._lock = threading.RLock()
        # executescript commits whatever is open, so the schema is laid outside a
        # transaction; every statement in it is CREATE ... IF NOT EXISTS.
        self._conn.executescript(
            "CREATE TABLE IF NOT EXISTS sim_sequence (name TEXT PRIMARY KEY, value INTEGER);\n"
            + schema
        )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work: committed on success, rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @staticmethod
    def next_value(tx: sqlite3.Connection, name: str, start: int = 1) -> int:
        """The next number of a named sequence, inside the caller's transaction."""
        row = tx.execute("SELECT value FROM sim_sequence WHERE name = ?", (name,)).fetchone()
        value = start if row is None else row[0] + 1
        tx.execute(
            "INSERT INTO sim_sequence (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )
        return value

    @staticmethod
    def advance(tx: sqlite3.Connection, name: str, at_least: int) -> None:
        """Move a sequence on to ``at_least`` (so that it continues after seeded numbers)."""
        tx.execute(
            "INSERT INTO sim_sequence (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)",
            (name, at_least),
        )

    def is_empty(self, table: str) -> bool:
        return self.one(f"SELECT 1 FROM {table} LIMIT 1") is None  # noqa: S608 - our own table names

    def close(self) -> None:
        with self._lock:
            self._conn.close()
