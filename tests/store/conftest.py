"""A store on each backend: every test taking ``store`` runs on SQLite and on PostgreSQL.

``store_url`` is a copy of a database the session migrated once (see
tests/services.py); ``empty_store_url`` is a database nothing has touched, for
the tests that prove the migrations.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.auth import HashParams, Passwords
from gateway.store import Store
from tests.services import SQL_BACKENDS, copy_sqlite
from tests.services import postgres_database as postgres_database

AUDIT_KEY = secrets.token_bytes(32)


def cheap_passwords() -> Passwords:
    return Passwords(HashParams.cheap())


@pytest.fixture(params=SQL_BACKENDS)
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        # A folder that does not exist yet: opening the store creates it.
        return f"sqlite+aiosqlite:///{tmp_path}/data/gateway.db"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture(params=SQL_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        return copy_sqlite(template, tmp_path / "data" / "gateway.db")
    url: str = request.getfixturevalue("migrated_postgres_database")
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await Store.open(store_url, passwords=cheap_passwords(), audit_key=AUDIT_KEY)
    try:
        yield s
    finally:
        await s.close()


def another_writer_gets_in(other: sqlite3.Connection) -> bool:
    """Whether ``other`` (a connection of its own, ``timeout=0``) can take SQLite's
    write lock at once; it lets it go again."""
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        if "locked" not in str(e):
            raise
        return False
    other.execute("ROLLBACK")
    return True
