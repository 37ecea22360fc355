"""The engine against in-memory systems and the real store.

Each test gets three fake systems of its own (``systems``: ``tests/fakes``,
fresh, with the stand-ins' fault switches and request counts; ``adapters``:
the same objects as the engine calls them), a store of its own (a copy of the
session's migrated SQLite store; PostgreSQL too where a test asks for
``store_url`` over ``SQL_BACKENDS``), and engines built with a small lease and
a fast backoff. The store and the engines share the test's ``clock``, which a
test moves forward to pass a deadline or a ``Retry-After`` without waiting.

The few tests that need what only the real adapters do (their logs, the
gateway's own wiring) take ``standins`` (the session's stand-in processes) and
``standin_adapters`` (real adapters over them) instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.employment import EmploymentAdapter
from adapters.labor import LabourAdapter
from adapters.standin.process import RunningStandin
from adapters.unemployment import UnemploymentAdapter
from gateway.auth import HashParams, Passwords
from gateway.cache import GatewayCache
from gateway.domain.model import System
from gateway.registrations.backoff import Backoff
from gateway.registrations.engine import Engine
from gateway.registry import adapter_as
from gateway.settings import SystemSettings
from gateway.store import Store
from gateway.systems import EmploymentSystem, LabourSystem, SystemAdapter, UnemploymentSystem
from tests.clock import MovableClock
from tests.fakes import FakeSystem, fake_systems
from tests.registrations.support import Adapters
from tests.services import copy_sqlite
from tests.services import postgres_database as postgres_database

#: Per-call timeout of the test adapters: a stalled answer is given up after this.
ADAPTER_TIMEOUT = 1.0


@pytest.fixture
def standins(
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
) -> Iterator[dict[System, RunningStandin]]:
    running = {
        System.EMPLOYMENT: employment_standin,
        System.LABOUR: labor_standin,
        System.UNEMPLOYMENT: unemployment_standin,
    }
    yield running
    # The stand-ins are shared by every test of the run: leave no fault behind.
    for standin in running.values():
        standin.reset()


def _settings(system: System, url: str, timeout: float) -> SystemSettings:
    names = {System.EMPLOYMENT: "EMPLOYMENT", System.LABOUR: "LABOUR"}
    prefix = names.get(system, "UNEMPLOYMENT")
    return SystemSettings.from_env(
        system, environ={f"HRSS_{prefix}_URL": url, f"HRSS_{prefix}_TIMEOUT": str(timeout)}
    )


@pytest.fixture
def systems() -> dict[System, FakeSystem]:
    """The test's own three systems, in memory."""
    return fake_systems()


@pytest.fixture
def adapters(systems: dict[System, FakeSystem]) -> Adapters:
    """The test's systems as the engine calls them."""
    return Adapters(
        employment=adapter_as(systems[System.EMPLOYMENT], EmploymentSystem),
        labour=adapter_as(systems[System.LABOUR], LabourSystem),
        unemployment=adapter_as(systems[System.UNEMPLOYMENT], UnemploymentSystem),
    )


@pytest.fixture
async def standin_adapters(standins: dict[System, RunningStandin]) -> AsyncIterator[Adapters]:
    """Real adapters over the stand-in processes, with short timeouts."""
    employment = EmploymentAdapter.from_settings(
        _settings(System.EMPLOYMENT, standins[System.EMPLOYMENT].url, ADAPTER_TIMEOUT)
    )
    labour = LabourAdapter.from_settings(
        _settings(System.LABOUR, standins[System.LABOUR].url, ADAPTER_TIMEOUT)
    )
    unemployment = UnemploymentAdapter.from_settings(
        _settings(System.UNEMPLOYMENT, standins[System.UNEMPLOYMENT].url, ADAPTER_TIMEOUT)
    )
    adapters = Adapters(employment, labour, unemployment)
    yield adapters
    for adapter in adapters.all().values():
        await adapter.aclose()


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A copy of the session's migrated store (SQLite unless the test asks otherwise)."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        return copy_sqlite(template, tmp_path / "gateway.db")
    url: str = request.getfixturevalue("migrated_postgres_database")
    return url


@pytest.fixture
def clock() -> MovableClock:
    """The time of the test's store and engines."""
    return MovableClock()


@pytest.fixture
async def open_store(
    store_url: str, clock: MovableClock
) -> AsyncIterator[Callable[[], Awaitable[Store]]]:
    """Open the test's store (again: a second process's view of the same database)."""
    opened: list[Store] = []

    async def open_() -> Store:
        store = await Store.open(store_url, passwords=Passwords(HashParams.cheap()), clock=clock)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: Callable[[], Awaitable[Store]]) -> Store:
    return await open_store()


@pytest.fixture
async def cache() -> AsyncIterator[GatewayCache]:
    c = GatewayCache("memory://", key_secret=b"k" * 32, worker_ttl_s=60, employer_ttl_s=60)
    yield c
    await c.clear()
    await c.close()


#: Fast enough for tests: a failed attempt is retried within a fraction of a second.
FAST_BACKOFF = Backoff(base=0.05, factor=2.0, cap=0.4, jitter=1.0)


@pytest.fixture
def make_engine(
    store: Store, adapters: Adapters, cache: GatewayCache, clock: MovableClock
) -> Callable[..., Engine]:
    def make(
        *,
        on: Store | None = None,
        using: dict[System, SystemAdapter] | None = None,
        **options: Any,
    ) -> Engine:
        target = on or store
        settings: dict[str, Any] = {
            "employers": target.employers,
            "cache": cache,
            "lease": dt.timedelta(seconds=6),
            "concurrency": 8,
            "backoff": FAST_BACKOFF,
            "step_deadline": dt.timedelta(minutes=5),
            "clock": clock,
        }
        settings.update(options)
        return Engine(target.registrations, using or adapters.all(), **settings)

    return make


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine(owner="test-engine")
