"""What a process loads at start-up: only what it runs.

Every stand-in, worker and command the tests (and operators) start goes through
``gateway.cli``; loading Strawberry, SQLAlchemy, Alembic and Prometheus there cost
each of them well over a second. Each check runs a fresh interpreter, as a
process started by the tests does, and lists the heavy packages it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import copy_sqlite

ROOT = Path(__file__).resolve().parents[1]

#: Packages that a module imported at start-up must not bring along.
HEAVY = ("strawberry", "graphql", "sqlalchemy", "alembic", "prometheus_client", "zeep", "spyne")

PROBE = """
import importlib, json, sys
for module in sys.argv[1].split(","):
    importlib.import_module(module)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))))
"""


def heavy_packages_loaded_by(module: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, *HEAVY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize(
    "module",
    [
        # The light settings: where each system lives, the defaults.
        "gateway.settings",
        # The configuration a worker and ``serve`` read first.
        "gateway.config",
        # The command line itself (``legacy``, ``accounts``, ``audit``, ``--help``).
        "gateway.cli",
        "gateway.logs",
        # The store's plain records, without the engine that stores them.
        "gateway.store.model",
    ],
)
def test_a_light_module_loads_nothing_heavy(module: str) -> None:
    assert heavy_packages_loaded_by(module) == []


def test_the_probe_sees_heavy_packages_where_they_are() -> None:
    """The check can fail: the store's engine does load SQLAlchemy, the app Strawberry."""
    assert "sqlalchemy" in heavy_packages_loaded_by("gateway.store.database")
    assert {"strawberry", "graphql"} <= set(heavy_packages_loaded_by("gateway.app"))


def test_a_worker_loads_neither_strawberry_nor_alembic() -> None:
    """A worker serves no GraphQL and migrates nothing once the store is at its
    head: Strawberry (about 70 ms of CPU to import) and Alembic (about 170 ms, with
    Mako and Pygments) were loaded by every worker, ``serve`` and store command
    at start all the same, through modules that held a name or two of theirs.
    What ``hrss-gateway worker`` imports: the configuration, the gateway's
    services (the store, the adapters, the metrics), the engine."""
    worker = "gateway.config,gateway.services,gateway.registrations.wiring"
    loaded = set(heavy_packages_loaded_by(worker))
    assert "sqlalchemy" in loaded  # what it does load: the probe sees them
    assert not {"strawberry", "alembic", "spyne"} & loaded


OPEN = """
import asyncio, json, sys
from gateway.auth import HashParams, Passwords
from gateway.store import Store

async def main():
    store = await Store.open(sys.argv[1], passwords=Passwords(HashParams.cheap()))
    await store.close()

asyncio.run(main())
print(json.dumps("alembic" in sys.modules))
"""


def alembic_loaded_opening(url: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", OPEN, url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    loaded: bool = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_opening_a_store_at_its_head_loads_no_alembic(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """The heads are compared without Alembic; only a store behind them (here, a new
    one) loads it, to migrate."""
    assert not alembic_loaded_opening(copy_sqlite(sqlite_template, tmp_path / "at" / "g.db"))
    assert alembic_loaded_opening(f"sqlite+aiosqlite:///{tmp_path}/new/g.db")
