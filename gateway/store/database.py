"""The async engine, its transactions, and schema migrations at start-up.

SQLite (the embedded default) is set up for several writers on one machine:
WAL so that readers never wait for a writer, a busy timeout so that writers
queue instead of failing, foreign keys on, and write transactions that take
the write lock when they begin (``BEGIN IMMEDIATE``). A deferred transaction
that reads and then writes can fail at once with "database is locked" when
another writer committed in between, whatever the busy timeout; taking the
lock up front turns that into waiting. Within one process the writers also
queue on an asyncio lock before they begin: SQLite's busy handler polls with
sleeps of up to 100 ms, so writers of one process contending for the file
would each wait far longer than the writes take; queued, each starts as soon as
the one before commits (other processes still wait through the busy timeout).
PostgreSQL needs none of this.

No wait on the store is unbounded (``StoreTimeouts``, the ``store_*_timeout_s``
settings): opening a PostgreSQL connection, each statement, and waiting for a
connection of the pool each have a timeout, and the pool's connections send TCP
keepalives, so that a database that went away silently is found out while they
idle. (A statement that times out is cancelled, which asyncpg waits for as long
again; when the cancellation gets no answer either, asyncpg closes the connection,
and the pool replaces it.) What a store that
cannot be reached raises is told apart from every other error by
:func:`store_unreachable`: requests answer ``STORE_UNAVAILABLE`` for it, and it is
logged as a warning once a minute (:func:`outage_log_level`), not with a stack.

Migrations run with Alembic from the scripts in ``migrations/``, inside one
transaction that holds a lock, so that several gateway instances starting at
once migrate once.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import contextvars
import datetime as dt
import functools
import logging
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import tenacity
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.store import sqlite

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

#: How long a SQLite writer waits for the lock before giving up, milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 10_000

#: Connections one process keeps to PostgreSQL (a worker's steps, requests, sweeps).
POSTGRES_POOL_SIZE = 20

#: Seconds after which a PostgreSQL connection is replaced when next taken from
#: the pool, so that none outlives what a firewall or the server lets idle.
POSTGRES_POOL_RECYCLE_S = 1800

#: TCP keepalives on each PostgreSQL connection: the first probe after this many
#: idle seconds, then one every interval, the connection given up after the count
#: unanswered (about a minute for a database that vanished without a word).
POSTGRES_KEEPALIVE_IDLE_S = 30
POSTGRES_KEEPALIVE_INTERVAL_S = 10
POSTGRES_KEEPALIVE_COUNT = 3

#: How often, at most, each place that meets the store unreachable logs it (WARNING).
OUTAGE_LOG_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class StoreTimeouts:
    """How long the gateway waits on PostgreSQL, seconds (``store_*_timeout_s``)."""

    #: Opening a connection (asyncpg's ``timeout``).
    connect_s: float = 5.0
    #: One statement, its round trip included (asyncpg's ``command_timeout``).
    statement_s: float = 30.0
    #: A connection of the pool, when all are taken (SQLAlchemy's ``pool_timeout``).
    pool_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("connect_s", "statement_s", "pool_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"the store's {name} timeout must be more than 0 seconds")


#: The timeouts of the engines made in this context: a gateway's, while it opens its
#: store (``store_timeouts``); the defaults elsewhere (commands, tests).
_DEFAULT_TIMEOUTS = StoreTimeouts()
_TIMEOUTS: contextvars.ContextVar[StoreTimeouts] = contextvars.ContextVar(
    "hrss_store_timeouts", default=_DEFAULT_TIMEOUTS
)


@contextlib.contextmanager
def store_timeouts(timeouts: StoreTimeouts) -> Iterator[None]:
    """``create_engine`` gives the engines made within the block ``timeouts``."""
    token = _TIMEOUTS.set(timeouts)
    try:
        yield
    finally:
        _TIMEOUTS.reset(token)


# Any constant: the key of the PostgreSQL advisory lock held while migrating.
_MIGRATION_LOCK = 0x6872_7373_6777  # "hrssgw"

_WRITE = "hrss_write"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def shown_url(url: str) -> str:
    """``url`` as a person should read it: the password hidden, an embedded store's
    file made absolute (a relative one is relative to where the command ran)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        database = parsed.database
        if database != ":memory:" and not database.startswith("file:"):
            parsed = parsed.set(database=str(Path(database).resolve()))
    return parsed.render_as_string(hide_password=True)


def create_engine(url: str, timeouts: StoreTimeouts | None = None) -> AsyncEngine:
    """An engine for ``sqlite+aiosqlite:///file`` or ``postgresql+asyncpg://...``;
    ``timeouts`` for PostgreSQL, by default those of the context (``store_timeouts``)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("sqlite", "postgresql") and parsed.drivername not in _DRIVERS:
        raise ValueError(
            f"unsupported store driver {parsed.drivername!r}: use sqlite+aiosqlite or "
            "postgresql+asyncpg"
        )
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or database.startswith("file:"):
            raise ValueError("the embedded store needs a file: sqlite+aiosqlite:///path/to.db")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Connections of our own (``sqlite.Connection``): each statement one trip
        # to SQLite's thread, where aiosqlite through SQLAlchemy took four.
        engine = create_async_engine(parsed, async_creator=lambda: sqlite.Connection(database))
        _set_up_sqlite(engine)
        return engine
    if backend == "postgresql":
        # A fixed pool: beyond it a transaction waits for a connection instead of
        # opening one that is closed again when returned (each opening costs a
        # server process and blocks the event loop for a while). No ping when a
        # connection is taken: it was a round trip more for every transaction
        # (a fifth of a hire's). A connection the server dropped (a restart)
        # fails the one transaction that finds it, which rolls back; SQLAlchemy
        # then replaces every connection opened before, so that the next
        # transactions find new ones. A worker's step saved nothing and is taken
        # again from the state saved before; a request answers an error once.
        # Every wait bounded (the module's docstring).
        timeouts = timeouts or _TIMEOUTS.get()
        engine = create_async_engine(
            parsed,
            pool_pre_ping=False,
            pool_recycle=POSTGRES_POOL_RECYCLE_S,
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=0,
            pool_timeout=timeouts.pool_s,
            connect_args={"timeout": timeouts.connect_s, "command_timeout": timeouts.statement_s},
        )
        sa.event.listen(engine.sync_engine, "connect", _keepalive)
        return engine
    raise ValueError(
        f"unsupported store backend {backend!r}: use sqlite+aiosqlite or postgresql+asyncpg"
    )


#: The drivers the store runs on, as SQLAlchemy names them.
_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


def _keepalive(dbapi_connection: Any, _record: Any) -> None:
    """TCP keepalives on a new PostgreSQL connection's socket (asyncpg sets none)."""
    transport = getattr(getattr(dbapi_connection, "_connection", None), "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # a Unix socket: nothing between it and the server to fail silently
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (
            ("TCP_KEEPIDLE", POSTGRES_KEEPALIVE_IDLE_S),
            ("TCP_KEEPINTVL", POSTGRES_KEEPALIVE_INTERVAL_S),
            ("TCP_KEEPCNT", POSTGRES_KEEPALIVE_COUNT),
        ):
            if hasattr(socket, option):  # Linux names; other systems keep their defaults
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _set_up_sqlite(engine: AsyncEngine) -> None:
    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling would issue BEGIN lazily and
        # COMMIT before DDL; we issue BEGIN ourselves (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            _in_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL
        finally:
            cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        # Run on SQLite's thread with the transaction's first statement, in the
        # same trip (``sqlite.Connection.begin``): a trip of its own is one more
        # wait for that thread to be scheduled, while the writers of this
        # process queue behind the transaction.
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite.Connection)
        driver.begin("BEGIN IMMEDIATE" if write else "BEGIN")


class _NotInWal(Exception):
    """SQLite left the journal mode as it was (another connection held the file)."""


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, _NotInWal) or "database is locked" in str(exc)


@tenacity.retry(
    retry=tenacity.retry_if_exception(_locked),
    stop=tenacity.stop_after_delay(SQLITE_BUSY_TIMEOUT_MS / 1000),
    wait=tenacity.wait_random(0.01, 0.05),
    reraise=True,
)
def _in_wal(cursor: Any) -> None:
    """Put the file in WAL mode, which it keeps: only a new file needs the change.

    The change needs the file to itself, and SQLite refuses it at once ("database
    is locked", or the old mode kept), without waiting its busy timeout, while
    another connection is opening the same new file (instances starting
    together): so it is tried again, briefly, within the busy timeout. That
    blocks the event loop for those few milliseconds, only when a store is new.
    """
    cursor.execute("PRAGMA journal_mode")
    (mode,) = cursor.fetchone()
    if mode != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
        (mode,) = cursor.fetchone()
    if mode != "wal":
        raise _NotInWal(mode)


class Database:
    """An engine, the two kinds of transaction the repositories use, and the
    clock they stamp rows with (a test's own, which also drives its engine)."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], dt.datetime] = now) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.clock = clock
        # SQLite: one writer at a time in this process (see the module's docstring).
        self._writer = asyncio.Lock() if self.dialect == "sqlite" else None
        # The same engine and pool, its connections marked for writing when taken
        # (marked after, each was one more trip through SQLAlchemy's greenlet).
        self._writes = engine.execution_options(**{_WRITE: True})

    def now(self) -> dt.datetime:
        return self.clock()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that only reads."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that writes: committed when the block ends without error.

        Never opened inside another write of the same task (on SQLite it would
        wait for itself)."""
        async with contextlib.AsyncExitStack() as stack:
            if self._writer is not None:
                await stack.enter_async_context(self._writer)
            conn = await stack.enter_async_context(self._writes.connect())
            await stack.enter_async_context(conn.begin())
            yield conn

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision``, the newest by default (does nothing
        when it is there).

        On SQLite, foreign keys are not enforced while it runs: a migration that
        rebuilds a table others refer to (batch mode) drops it first, which SQLite
        would refuse, or cascade. They are checked before the migration commits.
        """
        sqlite = self.dialect == "sqlite"
        async with self.engine.connect() as conn, _no_statement_timeout(conn):
            if sqlite:
                # Outside any transaction: inside one, the pragma does nothing.
                await conn.run_sync(_foreign_keys, False)
            try:
                await conn.execution_options(**{_WRITE: True})
                async with conn.begin():
                    if not sqlite:
                        # Released at commit; SQLite's BEGIN IMMEDIATE already serializes.
                        await conn.execute(
                            sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK))
                        )
                    else:
                        # SQLite's lock taken now, with a statement of its own (the BEGIN
                        # runs with the first, ``sqlite.Connection.begin``), before
                        # Alembic starts: its context is one per process, and two
                        # migrations of this process interleaved in it would run one's
                        # statements on the other's connection, still waiting for the lock.
                        await conn.exec_driver_sql("PRAGMA schema_version")
                    await conn.run_sync(_upgrade, revision)
                    if sqlite:
                        broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                        if broken:
                            raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
            finally:
                if sqlite:
                    await conn.run_sync(_foreign_keys, True)

    async def revision(self) -> str | None:
        """The schema revision the database is at (None before the first migration)."""
        async with self.read() as conn:
            return await conn.run_sync(_current_revision)

    async def close(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def _no_statement_timeout(conn: AsyncConnection) -> AsyncIterator[None]:
    """No statement timeout on this PostgreSQL connection for the block: a migration
    may take longer than any statement of the gateway, and the instances starting
    beside the one migrating wait for its lock meanwhile. (asyncpg's timeout lives
    in the connection's configuration; nothing else sets it for one connection.)"""
    if conn.dialect.name != "postgresql":
        yield
        return
    raw: Any = (await conn.get_raw_connection()).driver_connection
    config = getattr(raw, "_config", None)
    if config is None or not hasattr(config, "_replace"):
        yield
        return
    raw._config = config._replace(command_timeout=None)
    try:
        yield
    finally:
        raw._config = config


# --------------------------------------------------- a store that cannot be reached

#: The drivers whose frames a timeout or a socket error came through, when it was
#: the store's (a timeout of the gateway's own, a system's call, is not).
_DRIVER_MODULES = ("asyncpg", "sqlalchemy", "aiosqlite", "gateway.store")

#: When each place last logged the store unreachable (``outage_log_level``).
_OUTAGE_LOGGED: dict[str, float] = {}


def store_unreachable(exc: BaseException) -> str | None:
    """Why the store could not be reached, when that is what ``exc`` says: the name of
    the driver's exception (``ConnectionRefusedError``, ``TimeoutError``, ...); None
    for anything else (a statement's own error, a bug, a timeout not the store's).

    The store is unreachable when a connection cannot be opened or was lost (refused,
    reset, closed under a statement, the server shutting down or starting up, out of
    connections), when a statement or the wait for a pooled connection timed out, and,
    for SQLite, when another process held the write lock past the busy timeout."""
    found = _first_in_chain(exc, lambda e: _unreachable_one(e) is not None)
    return None if found is None else _unreachable_one(found)


def _unreachable_one(e: BaseException) -> str | None:
    name = type(e).__name__
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None:
        if isinstance(e, sa_exc.TimeoutError):  # the pool's: no connection came free
            return "TimeoutError"
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            cause = e.orig if isinstance(e.orig, BaseException) else e
            return type(cause.__cause__ or cause).__name__
    asyncpg_exc = sys.modules.get("asyncpg.exceptions")
    if asyncpg_exc is not None and isinstance(
        e,
        (
            asyncpg_exc.PostgresConnectionError,  # class 08
            asyncpg_exc.ConnectionDoesNotExistError,
            asyncpg_exc.CannotConnectNowError,
            asyncpg_exc.AdminShutdownError,
            asyncpg_exc.CrashShutdownError,
            asyncpg_exc.TooManyConnectionsError,
        ),
    ):
        return name
    if asyncpg_exc is not None and isinstance(e, asyncpg_exc.InterfaceError):
        return name if "connection is closed" in str(e) else None
    if isinstance(e, sqlite3.OperationalError) and "database is locked" in str(e):
        return name
    if isinstance(e, OSError) and _through_drivers(e):  # TimeoutError is one
        return name
    return None


def _through_drivers(e: BaseException) -> bool:
    tb = e.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith(_DRIVER_MODULES):
            return True
        tb = tb.tb_next
    return False


def unreached_at_start(url: str, exc: BaseException) -> str | None:
    """Why the store of ``url`` could not be opened at start, when that is what ``exc``
    says (unreachable, as ``store_unreachable`` has it, or a database that does not
    exist, a role or password refused): one line for an operator, the URL's password
    hidden; None for any other failure."""
    found = _first_in_chain(exc, _refused_at_start)
    if found is None:
        return None
    said = str(found).strip() or f"no answer within {_TIMEOUTS.get().connect_s:g} s"
    password = make_url(url).password
    if password:
        said = said.replace(str(password), "***")
    return f"the store {shown_url(url)} cannot be reached: {type(found).__name__}: {said}"


def _refused_at_start(e: BaseException) -> bool:
    if _unreachable_one(e) is not None and not _is_wrapper(e):
        return True
    asyncpg_exc = sys.modules.get("asyncpg.exceptions")
    return asyncpg_exc is not None and isinstance(
        e,
        (
            asyncpg_exc.InvalidCatalogNameError,  # the database does not exist
            asyncpg_exc.InvalidAuthorizationSpecificationError,  # role or password
        ),
    )


def _is_wrapper(e: BaseException) -> bool:
    """SQLAlchemy's exception around the driver's, whose message carries its own."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    return sa_exc is not None and isinstance(e, sa_exc.DBAPIError)


def _first_in_chain(
    exc: BaseException, wanted: Callable[[BaseException], bool]
) -> BaseException | None:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if wanted(e):
            return e
        todo.extend(c for c in (e.__cause__, e.__context__, getattr(e, "orig", None)) if c)
    return None


def outage_log_level(place: str) -> int:
    """WARNING the first time in ``OUTAGE_LOG_EVERY_S`` that ``place`` (requests, the
    worker's claims, ...) meets the store unreachable; DEBUG until then: an outage is
    said once a minute, not once a request."""
    now = time.monotonic()
    last = _OUTAGE_LOGGED.get(place)
    if last is not None and now - last < OUTAGE_LOG_EVERY_S:
        return logging.DEBUG
    _OUTAGE_LOGGED[place] = now
    return logging.WARNING


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration, built in code: users need no alembic.ini.

    A developer adds a revision with
    ``alembic.command.revision(alembic_config(), "message")`` and writes it by
    hand to match ``tables.py`` (the schema test says whether it does).
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: sa.Connection, revision: str) -> None:
    # At the head already (every start but the first after a release): nothing
    # to run, and nothing to load. Alembic's upgrade reads and executes every
    # revision file each time it is asked (7 ms of a store's 9 ms to open), and
    # importing Alembic costs a process about 0.17 s of CPU (with Mako and
    # Pygments), every worker, gateway and command that opens a store: both
    # heads are read here without it, and a test holds them to Alembic's own
    # answers (tests/store/test_schema.py).
    if revision == "head" and _current_heads(connection) == _heads():
        return
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


#: The table where Alembic keeps the revisions a database is at (its default name).
_VERSION_TABLE = sa.table("alembic_version", sa.column("version_num", sa.String))


@functools.cache
def _heads() -> frozenset[str]:
    """The newest revisions of the migrations this process ships: those no other
    revision revises, from each file's ``revision`` and ``down_revision`` (read
    once), as Alembic's ``ScriptDirectory.get_heads`` finds them."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        names = _literals(ast.parse(path.read_text(encoding="utf-8")))
        if not isinstance(names.get("revision"), str):
            continue  # not a revision (``__init__.py``)
        revisions.add(names["revision"])
        down = names.get("down_revision")
        revised.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - revised)


def _literals(module: ast.Module) -> dict[str, Any]:
    """The module's top-level names assigned a literal (``x = ...``, ``x: T = ...``)."""
    found: dict[str, Any] = {}
    for node in module.body:
        targets: list[ast.expr]
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                with contextlib.suppress(ValueError):
                    found[target.id] = ast.literal_eval(value)
    return found


def _current_heads(connection: sa.Connection) -> frozenset[str]:
    """The revisions the database is at, as Alembic's ``get_current_heads`` reads
    them: none before the first migration."""
    if not sa.inspect(connection).has_table(_VERSION_TABLE.name):
        return frozenset()
    rows = connection.execute(sa.select(_VERSION_TABLE.c.version_num))
    return frozenset(rows.scalars())


def _foreign_keys(connection: sa.Connection, on: bool) -> None:
    """Switch SQLite's enforcement of foreign keys for this connection (not in a transaction)."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _current_revision(connection: sa.Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
