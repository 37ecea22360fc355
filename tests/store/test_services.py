"""The service helpers: skip without a service, fail under CI, isolate each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
import redis
from sqlalchemy.engine import make_url

from tests.services import (
    _SNAPSHOT,
    RedisNamespace,
    _find_postgres,
    _referencing_first,
    _Reusable,
    postgres_template,
    postgres_url,
    redis_namespace,
    run_isolated,
    services,
    unavailable,
)
from tests.services import postgres_database as postgres_database

__all__ = ["postgres_template", "redis_namespace"]  # a fixture used below


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


async def _sql(url: str, *statements: str) -> list[tuple[Any, ...]]:
    """Run ``statements``; the rows of the last."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows: list[tuple[Any, ...]] = []
        for statement in statements:
            rows = [tuple(r) for r in await conn.fetch(statement)]
        return rows
    finally:
        await conn.close()


async def _reset_past_a_leak(reusable: _Reusable) -> None:
    """Reset while a connection is open inside a transaction that locks a table,
    as a test that did not close its store, or a process it started, leaves it."""
    conn = await asyncpg.connect(reusable.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        await reusable.reset()
        assert conn.is_closed() or not await _alive(conn)
    finally:
        conn.terminate()


async def _alive(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False
    return True


ACCOUNT = (
    "INSERT INTO accounts (username, password_hash, role, disabled, created_at)"
    " VALUES ('someone', 'x', 'clerk', false, now()) RETURNING id"
)


@services
def test_the_reused_database_is_emptied_to_what_the_migrations_wrote(
    postgres_template: str,
) -> None:
    reusable = _Reusable(postgres_url(), postgres_template)
    run_isolated(reusable.create())
    try:
        run_isolated(reusable.reset())  # the first test takes it as created
        url, name = reusable.url, reusable.name
        migrated = {
            table: run_isolated(_sql(url, f"SELECT * FROM {table}"))  # noqa: S608
            for table in ("audit_head", "alembic_version")
        }
        assert all(migrated.values())
        assert run_isolated(_sql(url, ACCOUNT)) == [(1,)]
        run_isolated(_sql(url, ACCOUNT.replace("someone", "another")))
        run_isolated(_sql(url, "UPDATE audit_head SET last_id = 7"))

        run_isolated(_reset_past_a_leak(reusable))

        assert reusable.name == name  # the same database, emptied
        assert run_isolated(_sql(url, "SELECT count(*) FROM accounts")) == [(0,)]
        for table, rows in migrated.items():
            assert run_isolated(_sql(url, f"SELECT * FROM {table}")) == rows  # noqa: S608
        assert run_isolated(_sql(url, ACCOUNT)) == [(1,)]  # the sequence starts again
    finally:
        run_isolated(reusable.drop())


@services
@pytest.mark.parametrize(
    "change",
    [
        "ALTER TABLE accounts ADD COLUMN extra text",
        "ALTER TABLE accounts ALTER COLUMN display_name SET NOT NULL",
        "CREATE INDEX accounts_extra ON accounts (role)",
        "ALTER TABLE audit_head DROP CONSTRAINT ck_audit_head_ck_audit_head_single_row",
        "CREATE TABLE leftover (id int)",
    ],
)
def test_a_test_that_changed_the_schema_leaves_the_next_a_new_copy(
    postgres_template: str, change: str
) -> None:
    reusable = _Reusable(postgres_url(), postgres_template)
    run_isolated(reusable.create())
    try:
        run_isolated(reusable.reset())
        changed = reusable.name
        run_isolated(_sql(reusable.url, change))

        run_isolated(reusable.reset())

        assert reusable.name != changed
        assert changed not in run_isolated(_databases(postgres_url()))
        fresh = run_isolated(_sql(reusable.url, _SNAPSHOT))
        template = make_url(postgres_url()).set(database=postgres_template)
        assert fresh == run_isolated(_sql(template.render_as_string(False), _SNAPSHOT))
    finally:
        run_isolated(reusable.drop())


def test_tables_are_emptied_referencing_ones_first() -> None:
    # parent <- child <- grandchild, a table referencing itself, one alone.
    references = [
        ("child", "parent"),
        ("grandchild", "child"),
        ("tree", "tree"),
        ('"Mixed"', "parent"),
    ]
    tables = ["parent", "child", "grandchild", "tree", "alone", "Mixed"]
    order = _referencing_first(tables, references)
    assert sorted(order) == sorted(tables)
    assert order.index("grandchild") < order.index("child") < order.index("parent")
    assert order.index("Mixed") < order.index("parent")


@services
def test_a_database_whose_tables_reference_each_other_is_emptied(
    postgres_database: str,
) -> None:
    run_isolated(
        _sql(
            postgres_database,
            "CREATE TABLE a_parent (id serial PRIMARY KEY)",
            "CREATE TABLE b_child (id serial PRIMARY KEY, parent int NOT NULL REFERENCES a_parent)",
        )
    )
    reusable = _Reusable(postgres_url(), postgres_database.rsplit("/", 1)[1])
    run_isolated(reusable.create())
    try:
        run_isolated(reusable.reset())
        name = reusable.name
        run_isolated(
            _sql(
                reusable.url,
                "INSERT INTO a_parent DEFAULT VALUES",
                "INSERT INTO b_child (parent) VALUES (1)",
            )
        )

        run_isolated(reusable.reset())

        assert reusable.name == name  # the same copy, emptied, not a new one
        # In the catalogue's (alphabetical) order the referenced table came first.
        counts = "SELECT (SELECT count(*) FROM a_parent), (SELECT count(*) FROM b_child)"
        assert run_isolated(_sql(reusable.url, counts)) == [(0, 0)]
        again = "INSERT INTO a_parent DEFAULT VALUES RETURNING id"
        assert run_isolated(_sql(reusable.url, again)) == [(1,)]
    finally:
        run_isolated(reusable.drop())
