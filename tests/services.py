"""Real PostgreSQL and Redis for the tests that need them.

``postgres_url()`` and ``redis_url()`` find the services on loopback
(PostgreSQL with trust authentication, database ``test``, as ``postgres`` or
the current user; override with ``HRSS_TEST_POSTGRES_URL`` /
``HRSS_TEST_REDIS_URL``). When a service is unreachable the test is skipped
with the reason, except under ``CI=true``, where it fails: CI must not pass by
skipping.

The fixtures isolate each test: ``postgres_database`` creates a database with
a random name and drops it afterwards; ``redis_namespace`` hands out a random
key prefix and deletes its keys afterwards. Concurrent runs and reruns (and
the xdist workers of one run) never see each other's data.

Migrating a store takes 60 to 120 ms, and creating and dropping a PostgreSQL
database 0.2 to 1.6 s. ``migrated_postgres_database`` hands each test the
session's (each xdist worker's) one copy of a template migrated once, emptied
before the test (every row deleted, the sequences set back, then the rows the
migrations wrote put back), a new copy if the test before changed the schema;
``sqlite_template`` is the same for SQLite, a file copied by ``copy_sqlite``.
A store opened on either reads its revision, at the head, and migrates nothing.
The tests that prove the migrations themselves take an empty database.

Import the fixtures into a ``conftest.py`` to use them, and mark tests (or
parameters) ``services`` so ``-m "not services"`` can leave them out.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import getpass
import graphlib
import json
import os
import secrets
import shutil
import socket
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import pytest
import redis
from sqlalchemy.engine import make_url

T = TypeVar("T")

services = pytest.mark.services

#: The two SQL backends, for ``pytest.mark.parametrize`` or ``pytest.fixture(params=...)``.
SQL_BACKENDS = ["sqlite", pytest.param("postgresql", marks=services)]

_PG_HOST, _PG_PORT, _PG_DATABASE = "127.0.0.1", 5432, "test"
_REDIS = "redis://127.0.0.1:6379/0"
_PROBE_TIMEOUT = 3.0


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it under ``CI=true``."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: services are required)", pytrace=False)
    pytest.skip(reason)


def run_isolated(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on its own loop in its own thread, whatever loop the caller has."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:
            box["error"] = e

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


# ----------------------------------------------------------------- PostgreSQL


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _probe_postgres(url: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=_PROBE_TIMEOUT)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


@functools.cache
def _find_postgres() -> tuple[str | None, str]:
    configured = os.environ.get("HRSS_TEST_POSTGRES_URL")
    candidates = (
        [configured]
        if configured
        else [
            f"postgresql+asyncpg://{user}@{_PG_HOST}:{_PG_PORT}/{_PG_DATABASE}"
            for user in dict.fromkeys(["postgres", getpass.getuser()])
        ]
    )
    failures = []
    for url in candidates:
        try:
            run_isolated(_probe_postgres(url))
            return url, ""
        except (TimeoutError, OSError, asyncpg.PostgresError) as e:
            failures.append(f"{make_url(url).username}: {type(e).__name__}")
    return None, f"PostgreSQL unreachable at {_PG_HOST}:{_PG_PORT} ({'; '.join(failures)})"


def postgres_url() -> str:
    """The SQLAlchemy URL of the shared ``test`` database; skips (fails in CI) without it."""
    url, reason = _find_postgres()
    if url is None:
        unavailable(reason)
    return url


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=_PROBE_TIMEOUT)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    admin = postgres_url()
    name = f"hrss_test_{secrets.token_hex(6)}"
    run_isolated(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: a connection the test leaked must not leave the database behind.
        run_isolated(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate(url: str) -> None:
    # Imported here: the store is what the template is made of, not what this
    # module is about (tests that only need Redis do not load it).
    from gateway.store.database import Database, create_engine

    db = Database(create_engine(url))
    try:
        await db.migrate()
    finally:
        await db.close()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a database migrated once for the session (or xdist worker)."""
    admin = postgres_url()
    name = f"hrss_template_{secrets.token_hex(6)}"
    run_isolated(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        run_isolated(
            _migrate(make_url(admin).set(database=name).render_as_string(hide_password=False))
        )
        yield name
    finally:
        run_isolated(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


#: What a reset database must hold again: the rows the migrations wrote (the
#: audit chain's head, the schema's version), the columns and the constraints.
_SNAPSHOT = """
SELECT json_build_object(
  'tables', (SELECT json_agg(c.relname ORDER BY c.relname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')),
  'schema', (SELECT md5(string_agg(concat_ws(':', table_name, column_name, data_type,
                                             column_default, is_nullable), ','
                                   ORDER BY table_name, column_name))
             FROM information_schema.columns WHERE table_schema = 'public'),
  'constraints', (SELECT md5(string_agg(conname || pg_get_constraintdef(oid), ','
                                        ORDER BY conname))
                  FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
  'indexes', (SELECT md5(string_agg(indexdef, ',' ORDER BY indexname))
              FROM pg_indexes WHERE schemaname = 'public'),
  'triggers', (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND NOT t.tgisinternal)
)::text
"""


#: Which table references which, by foreign key, in the public schema.
_REFERENCES = """
SELECT c.conrelid::regclass::text AS referencing, c.confrelid::regclass::text AS referenced
FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
"""

#: The public schema's sequences, by name as ``regclass`` prints it (quoted if need be).
_SEQUENCES = """
SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'S' ORDER BY 1
"""


def _referencing_first(tables: list[str], references: list[Any]) -> list[str]:
    """``tables`` in an order in which each can be emptied by ``DELETE``: a table
    before every table it references (a table referencing itself empties in one
    statement)."""
    unquoted = {_names([t]): t for t in tables}
    # regclass quotes a name only where it must; compare the names as written.
    name = {**{t: t for t in tables}, **unquoted}
    order = graphlib.TopologicalSorter({t: set() for t in tables})
    for referencing, referenced in references:
        if referencing != referenced:
            order.add(name.get(referenced, referenced), name.get(referencing, referencing))
    return [t for t in order.static_order() if t in name]


def _names(tables: list[str]) -> str:
    return ", ".join('"' + table.replace('"', '""') + '"' for table in tables)


@dataclass
class _Reusable:
    """One migrated database per session (xdist worker), emptied for each test.

    ``CREATE DATABASE ... TEMPLATE`` and ``DROP DATABASE`` cost 0.1 to 0.8 s each
    (the server writes and syncs the copy). Emptying the tables of one database,
    setting its sequences back to where the copy had them and writing back the
    rows the migrations left costs a few milliseconds. ``DELETE``, not
    ``TRUNCATE``: the tables hold a test's few rows, and ``TRUNCATE`` gives each
    table new files on disk, 45 to 80 ms for the eleven tables here against 4 ms.
    A test that changed the schema itself (its columns, constraints, indexes or
    triggers) gets a new copy of the template instead."""

    admin: str
    template: str
    name: str = ""
    shape: str = ""
    rows: dict[str, list[str]] = field(default_factory=dict)
    #: One script: every table emptied, referencing tables before those they reference.
    emptying: str = ""
    #: Each sequence's ``(name, last_value, is_called)`` in the new copy.
    sequences: list[tuple[str, int, bool]] = field(default_factory=list)
    used: bool = False

    @property
    def url(self) -> str:
        return make_url(self.admin).set(database=self.name).render_as_string(hide_password=False)

    async def create(self) -> None:
        self.name = f"hrss_test_{secrets.token_hex(6)}"
        await _admin(self.admin, f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template}"')
        conn = await asyncpg.connect(_asyncpg_dsn(self.url), timeout=_PROBE_TIMEOUT)
        try:
            self.shape = await conn.fetchval(_SNAPSHOT)
            tables = json.loads(self.shape)["tables"]
            self.rows = {}
            for table in tables:
                # The names are the catalogue's, quoted: nothing from outside.
                rows = await conn.fetch(f"SELECT row_to_json(t)::text FROM {_names([table])} t")  # noqa: S608
                if rows:
                    self.rows[table] = [r[0] for r in rows]
            self.emptying = "".join(
                f"DELETE FROM {_names([table])};"  # noqa: S608
                for table in _referencing_first(tables, await conn.fetch(_REFERENCES))
            )
            self.sequences = []
            for (sequence,) in await conn.fetch(_SEQUENCES):
                state = await conn.fetchrow(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608
                self.sequences.append((sequence, state["last_value"], state["is_called"]))
        finally:
            await conn.close()
        self.used = False

    async def drop(self) -> None:
        if self.name:
            await _admin(self.admin, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.name = ""

    async def reset(self) -> None:
        """Empty the database for the next test; a new copy if the test changed its shape."""
        if not self.used:
            self.used = True
            return
        conn = await asyncpg.connect(_asyncpg_dsn(self.url), timeout=_PROBE_TIMEOUT)
        try:
            # Whatever the last test left connected (a process it started, a
            # connection it leaked) goes, as DROP DATABASE ... WITH (FORCE) would.
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if await conn.fetchval(_SNAPSHOT) == self.shape:
                async with conn.transaction():
                    await conn.execute(self.emptying)
                    await conn.executemany("SELECT setval($1::regclass, $2, $3)", self.sequences)
                    for table, rows in self.rows.items():
                        await conn.executemany(
                            f"INSERT INTO {_names([table])} SELECT * FROM"  # noqa: S608
                            f" json_populate_record(NULL::{_names([table])}, $1::json)",
                            [(row,) for row in rows],
                        )
                self.used = True
                return
        finally:
            await conn.close()
        await self.drop()
        await self.create()
        self.used = True


@pytest.fixture(scope="session")
def _reusable_postgres(postgres_template: str) -> Iterator[_Reusable]:
    reusable = _Reusable(postgres_url(), postgres_template)
    run_isolated(reusable.create())
    try:
        yield reusable
    finally:
        run_isolated(reusable.drop())


@pytest.fixture
def migrated_postgres_database(_reusable_postgres: _Reusable) -> str:
    """The URL of a database at the newest schema holding only what the migrations
    wrote: the session's one such database, emptied before each test."""
    run_isolated(_reusable_postgres.reset())
    return _reusable_postgres.url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite store file migrated once for the session (or xdist worker)."""
    path = tmp_path_factory.mktemp("template") / "gateway.db"
    run_isolated(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


_PROCESS_TEMPLATE: list[Path] = []


def sqlite_store(path: Path) -> str:
    """The URL of an SQLite store at ``path``, migrated: a copy of a template
    this process migrates once, unless ``path`` holds a store already (a gateway
    started again over the same store keeps its data).

    For code without the ``sqlite_template`` fixture at hand (``gateway_config``):
    every gateway a test starts would otherwise migrate a new file (60 to 120 ms).
    """
    if path.exists():
        return f"sqlite+aiosqlite:///{path}"
    if not _PROCESS_TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="hrss-store-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = folder / "gateway.db"
        run_isolated(_migrate(f"sqlite+aiosqlite:///{template}"))
        _PROCESS_TEMPLATE.append(template)
    return copy_sqlite(_PROCESS_TEMPLATE[0], path)


def copy_sqlite(template: Path, path: Path) -> str:
    """Copy the migrated ``template`` to ``path`` (making its folder); its store URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The template's connections are closed, so its WAL is checkpointed into the file.
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


# ---------------------------------------------------------------------- Redis


def _probe_redis(url: str) -> None:
    parsed = urlsplit(url)
    with socket.create_connection(
        (parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=_PROBE_TIMEOUT
    ) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        reply = s.recv(64)
    if not reply.startswith((b"+PONG", b"-NOAUTH")):
        raise OSError(f"unexpected reply {reply[:16]!r}")


@functools.cache
def _find_redis() -> tuple[str | None, str]:
    url = os.environ.get("HRSS_TEST_REDIS_URL", _REDIS)
    try:
        _probe_redis(url)
    except OSError as e:
        return None, f"Redis unreachable at {url} ({type(e).__name__})"
    return url, ""


def redis_url() -> str:
    """The Redis URL; skips (fails in CI) without Redis."""
    url, reason = _find_redis()
    if url is None:
        unavailable(reason)
    return url


@dataclass(frozen=True, slots=True)
class RedisNamespace:
    """A Redis server and a key prefix that belongs to one test."""

    url: str
    prefix: str


@pytest.fixture
def redis_namespace() -> Iterator[RedisNamespace]:
    """A fresh key prefix on the real Redis; its keys are deleted after the test."""
    namespace = RedisNamespace(url=redis_url(), prefix=f"hrss-test-{secrets.token_hex(6)}:")
    try:
        yield namespace
    finally:
        client = redis.Redis.from_url(namespace.url)
        try:
            keys = list(client.scan_iter(match=f"{namespace.prefix}*", count=500))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
