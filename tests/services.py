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

Migrating a store takes 60 to 120 ms; copying one that is migrated takes a
few. ``migrated_postgres_database`` copies a template database that the
session (each xdist worker) migrated once (``CREATE DATABASE ... TEMPLATE``);
``sqlite_template`` is the same for SQLite, a file copied by ``copy_sqlite``.
A store opened on the copy still runs the migrations, which find nothing to do.
The tests that prove the migrations themselves take an empty database.

Import the fixtures into a ``conftest.py`` to use them, and mark tests (or
parameters) ``services`` so ``-m "not services"`` can leave them out.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import getpass
import os
import secrets
import shutil
import socket
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
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


@pytest.fixture
def migrated_postgres_database(postgres_template: str) -> Iterator[str]:
    """The URL of a new database already at the newest schema, dropped after the test."""
    admin = postgres_url()
    name = f"hrss_test_{secrets.token_hex(6)}"
    run_isolated(_admin(admin, f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        run_isolated(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
