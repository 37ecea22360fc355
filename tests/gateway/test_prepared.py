"""The ``gateway`` fixture's store, a copy of one ``prepare_store`` filled once per
process, holds what preparing the test's own store would have written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from gateway.demo import DEMO_PASSWORD, prepare_store
from gateway.services import Gateway
from gateway.store.store import Store
from tests.gateway.conftest import gateway_config
from tests.services import sqlite_store

#: What may differ between two preparations: when each row was written, and what
#: is derived from random salts or from the time (the hashes, the audit chain).
VARYING = {"created_at", "password_hash", "at", "hash", "prev_hash", "last_hash", "updated_at"}


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, without the columns that vary between two preparations."""
    db = sqlite3.connect(path)
    try:
        tables = [
            t
            for (t,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        rows = {}
        for table in tables:
            cursor = db.execute(f'SELECT * FROM "{table}" ORDER BY 1')  # noqa: S608
            kept = [i for i, d in enumerate(cursor.description) if d[0] not in VARYING]
            rows[table] = [tuple(row[i] for i in kept) for row in cursor.fetchall()]
        return rows
    finally:
        db.close()


async def _everything(store: Store) -> tuple[object, ...]:
    employers = [
        (e.credit_code, e.name, e.division, dict(e.ids))
        for s in EMPLOYERS
        if (e := await store.employers.get(s.profile.credit_code))
    ]
    assert len(employers) == len(EMPLOYERS)
    accounts = [
        (a.id, a.username, a.role, a.display_name, a.credit_code, a.divisions, a.disabled)
        for a in await store.accounts.list()
    ]
    return employers, accounts, (await store.audit.verify_chain()).ok


async def test_the_copy_holds_what_preparing_writes(
    gateway: Gateway,
    tmp_path: Path,
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
) -> None:
    prepared_here = tmp_path / "here" / "gateway.db"
    config = gateway_config(
        tmp_path / "here",
        employment_standin,
        labor_standin,
        unemployment_standin,
        store_url=sqlite_store(prepared_here),
    )
    here = await Gateway.start(config)
    try:
        await prepare_store(here.store)
        assert await _everything(gateway.store) == await _everything(here.store)
        for username in ("demo-employer", "demo-clerk", "demo-admin"):
            assert await gateway.store.accounts.authenticate(username, DEMO_PASSWORD)
    finally:
        await here.close()
    await gateway.store.close()
    copied = Path(gateway.config.store_url.removeprefix("sqlite+aiosqlite:///"))
    assert copied == tmp_path / "gateway.db"
    assert _rows(copied) == _rows(prepared_here)
