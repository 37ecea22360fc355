"""Migrations: fresh, repeated, concurrent, and matching ``tables.py`` exactly."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from gateway.domain.model import System
from gateway.store import Store, database
from gateway.store import tables as t
from gateway.store.database import Database, alembic_config, create_engine
from gateway.store.tables import UTCDateTime, metadata
from tests.store.conftest import AUDIT_KEY, another_writer_gets_in, cheap_passwords

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _differences(connection: sa.Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


@pytest.fixture
async def fresh(empty_store_url: str) -> AsyncIterator[Store]:
    """A store opened on a database nothing had touched: migrated by the opening."""
    store = await Store.open(empty_store_url, passwords=cheap_passwords(), audit_key=AUDIT_KEY)
    try:
        yield store
    finally:
        await store.close()


async def test_a_fresh_store_is_migrated_to_the_head(fresh: Store) -> None:
    assert HEAD is not None
    assert await fresh.db.revision() == HEAD
    async with fresh.db.read() as conn:
        names = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert set(metadata.tables) <= names


async def test_the_migrated_schema_matches_the_tables(fresh: Store) -> None:
    async with fresh.db.read() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []


async def test_the_tests_template_store_is_at_the_head(store: Store) -> None:
    """The copies most tests open were migrated by the same scripts, once."""
    assert await store.db.revision() == HEAD


async def test_reopening_migrates_nothing_and_keeps_the_data(store_url: str, store: Store) -> None:
    await store.accounts.create("admin1", "lantern-orchid-1", "admin")
    again = await Store.open(store_url, passwords=cheap_passwords(), audit_key=AUDIT_KEY)
    try:
        await again.migrate()
        assert await again.db.revision() == HEAD
        assert [a.username for a in await again.accounts.list()] == ["admin1"]
    finally:
        await again.close()


async def test_only_a_store_behind_the_head_runs_alembic(
    store_url: str, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the head, opening reads the revision and stops: Alembic's upgrade, which
    reads and runs every revision file even with nothing to do, is not asked."""
    upgrades: list[str] = []
    monkeypatch.setattr(command, "upgrade", lambda _config, rev: upgrades.append(rev))
    again = await Store.open(store_url, passwords=cheap_passwords(), audit_key=AUDIT_KEY)
    await again.close()
    assert upgrades == []
    # An empty database is behind: Alembic upgrades it (here, told to, it does nothing).
    with contextlib.suppress(sa.exc.SQLAlchemyError):
        empty = f"sqlite+aiosqlite:///{tmp_path}/behind/gateway.db"
        behind = await Store.open(empty, passwords=cheap_passwords())
        await behind.close()
    assert upgrades == ["head"]


async def test_the_heads_are_read_as_alembic_reads_them(empty_store_url: str) -> None:
    """Opening a store compares the scripts' heads with the database's, both read
    without Alembic (importing it costs every process that opens a store about
    0.17 s of CPU): what Alembic itself reads, on a database empty, behind the
    head and at it."""
    assert database._heads() == frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())

    def both(c: sa.Connection) -> tuple[frozenset[str], frozenset[str]]:
        alembics = frozenset(MigrationContext.configure(c).get_current_heads())
        return database._current_heads(c), alembics

    engine = create_engine(empty_store_url)
    seen = []
    try:
        for revision in (None, "0003", "head"):
            async with engine.begin() as conn:
                if revision is not None:
                    await conn.run_sync(lambda c, r=revision: command.upgrade(alembic_config(c), r))
                seen.append(await conn.run_sync(both))
    finally:
        await engine.dispose()
    assert [ours for ours, _ in seen] == [frozenset(), {"0003"}, database._heads()]
    assert [alembics for _, alembics in seen] == [ours for ours, _ in seen]


async def test_instances_starting_together_migrate_once(empty_store_url: str) -> None:
    stores = await asyncio.gather(
        *(Store.open(empty_store_url, passwords=cheap_passwords()) for _ in range(4))
    )
    try:
        assert {await s.db.revision() for s in stores} == {HEAD}
        async with stores[0].db.read() as conn:
            heads = await conn.scalar(sa.text("SELECT count(*) FROM audit_head"))
        assert heads == 1
    finally:
        for s in stores:
            await s.close()


async def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    store = await Store.open(
        f"sqlite+aiosqlite:///{tmp_path}/a/b/g.db", passwords=cheap_passwords()
    )
    try:
        async with store.db.read() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 10_000
        assert (tmp_path / "a" / "b" / "g.db").exists()
    finally:
        await store.close()


async def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        async with store.db.write() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO account_divisions (account_id, division) VALUES (999, '370102')"
                )
            )


@pytest.mark.parametrize(
    "url",
    ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:", "mysql+aiomysql://u@h/db"],
)
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="store"):
        create_engine(url)


async def test_sqlite_write_transactions_take_the_write_lock_at_once(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    store = await Store.open(f"sqlite+aiosqlite:///{path}", passwords=cheap_passwords())
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        async with store.db.read():
            assert another_writer_gets_in(other)  # a reader does not hold writers back
        async with store.db.write() as conn:
            # Only read so far, nothing written, and still no other writer gets in: a
            # read-then-write transaction cannot be overtaken and fail with "database
            # is locked". (The BEGIN runs with the transaction's first statement.)
            await conn.execute(sa.text("SELECT count(*) FROM registrations"))
            assert not another_writer_gets_in(other)
        assert another_writer_gets_in(other)
    finally:
        other.close()
        await store.close()


async def test_steps_stored_before_kinds_existed_are_core_but_an_endings_unemployment(
    empty_store_url: str,
) -> None:
    """Revision 0005 keeps every step and says which were follow-ups all along: the
    unemployment registration of an ending; alone (separate handling) it is core."""
    engine = create_engine(empty_store_url)
    at = dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)
    registrations = sa.table(
        "registrations",
        *(
            sa.column(c)
            for c in [
                "id",
                "submission_id",
                "ordinal",
                "business",
                "state",
                "credit_code",
                "division",
                "person_key",
                "payload",
                "channel",
                "actor_id",
                "actor_username",
                "warnings",
                "failure",
                "version",
            ]
        ),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    steps = sa.table(
        "steps",
        *(
            sa.column(c)
            for c in [
                "id",
                "registration_id",
                "ordinal",
                "system",
                "operation",
                "stage",
                "payload",
                "state",
                "attempts",
            ]
        ),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    planned = {
        "end": ("END", [("DISMISS", "employment", 0), ("END_CONTRACT", "labour", 0)]),
        "end-u": (
            "END",
            [("DISMISS", "employment", 0), ("REGISTER_UNEMPLOYMENT", "unemployment", 1)],
        ),
        "alone": ("SEPARATE", [("REGISTER_UNEMPLOYMENT", "unemployment", 0)]),
        "hire": ("HIRE", [("REGISTER_EMPLOYMENT", "employment", 0)]),
    }
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0003"))
            for n, (registration_id, (business, ops)) in enumerate(planned.items()):
                await conn.execute(
                    sa.insert(registrations).values(
                        id=registration_id,
                        submission_id="s",
                        ordinal=n,
                        business=business,
                        state="IN_PROGRESS",
                        credit_code="91370100MA3C0000X1",
                        division="370102",
                        person_key=f"RESIDENT_ID:{n}",
                        payload="{}",
                        channel="service_window",
                        actor_id=None,
                        actor_username=None,
                        warnings="[]",
                        failure=None,
                        version=0,
                        created_at=at,
                        updated_at=at,
                    )
                )
                for i, (operation, system, stage) in enumerate(ops):
                    await conn.execute(
                        sa.insert(steps).values(
                            id=f"{registration_id}-{i}",
                            registration_id=registration_id,
                            ordinal=i,
                            system=system,
                            operation=operation,
                            stage=stage,
                            payload="{}",
                            state="DONE",
                            attempts=1,
                            created_at=at,
                            updated_at=at,
                        )
                    )
    finally:
        await engine.dispose()
    store = await Store.open(empty_store_url, passwords=cheap_passwords(), audit_key=AUDIT_KEY)
    try:
        assert await store.db.revision() == HEAD
        kinds = {}
        for registration_id in planned:
            found = await store.registrations.get(registration_id)
            assert found is not None
            kinds[registration_id] = [(s.operation.value, s.kind.value) for s in found.steps]
        assert kinds == {
            "end": [("DISMISS", "CORE"), ("END_CONTRACT", "CORE")],
            "end-u": [("DISMISS", "CORE"), ("REGISTER_UNEMPLOYMENT", "FOLLOW_UP")],
            "alone": [("REGISTER_UNEMPLOYMENT", "CORE")],
            "hire": [("REGISTER_EMPLOYMENT", "CORE")],
        }
        # The rebuild kept the older constraints, and the new one holds.
        for change in ({"kind": "LATER"}, {"state": "FORGOTTEN"}):
            with pytest.raises(sa.exc.IntegrityError):
                async with store.db.write() as conn:
                    await conn.execute(
                        sa.update(t.steps).where(t.steps.c.id == "end-0").values(change)
                    )
    finally:
        await store.close()


async def test_employer_ids_move_from_columns_to_rows(empty_store_url: str) -> None:
    """0004 moves each unit's ids out of the ``employers`` columns into
    ``employer_systems``, keeping them, with the accounts that refer to the units."""
    db = Database(create_engine(empty_store_url))
    try:
        await db.migrate("0003")
        async with db.write() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO employers (credit_code, name, division, employment_id, "
                    "labour_id, unemployment_id, updated_at) VALUES "
                    "('91370102MA3C000001', 'A', '370102', 'E1', 'L1', NULL, CURRENT_TIMESTAMP), "
                    "('91370102MA3C000002', 'B', '370102', NULL, NULL, 'U2', CURRENT_TIMESTAMP)"
                )
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO accounts (username, password_hash, role, credit_code, disabled, "
                    "created_at) VALUES ('unit-a', 'x', 'employer', '91370102MA3C000001', "
                    ":no, CURRENT_TIMESTAMP)"
                ),
                {"no": False},
            )
        await db.migrate("0004")
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    sa.text(
                        "SELECT credit_code, system, employer_id FROM employer_systems "
                        "ORDER BY credit_code, system"
                    )
                )
            ).all()
            accounts = (await conn.execute(sa.text("SELECT credit_code FROM accounts"))).all()
        assert [tuple(r) for r in rows] == [
            ("91370102MA3C000001", "employment", "E1"),
            ("91370102MA3C000001", "labour", "L1"),
            ("91370102MA3C000002", "unemployment", "U2"),
        ]
        assert [tuple(a) for a in accounts] == [("91370102MA3C000001",)]
    finally:
        await db.close()
    store = await Store.open(empty_store_url, passwords=cheap_passwords(), audit_key=AUDIT_KEY)
    try:
        record = await store.employers.get("91370102MA3C000001")
        assert record is not None
        assert dict(record.ids) == {System.EMPLOYMENT: "E1", System.LABOUR: "L1"}
        assert record.employment_id == "E1"
        assert record.unemployment_id is None
        if store.db.dialect == "sqlite":  # enforced again once the migration is over
            async with store.db.read() as conn:
                assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await store.close()
