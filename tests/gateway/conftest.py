"""A gateway wired to the three stand-in processes, with the demo accounts.

The gateway runs in the test's process (over ASGI) and reaches the stand-ins
over real HTTP on loopback, as in production. Each test gets a fresh gateway:
its own store and an empty cache.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from adapters.labor import soap
from adapters.standin.process import RunningStandin, free_port
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.demo import DEMO_PASSWORD, prepare_store
from gateway.domain.model import EmployerProfile, System
from gateway.registrations.wiring import run_worker
from gateway.services import Gateway
from gateway.serving import gateway_options
from tests.conftest import shared_standin, start_missing
from tests.services import SQL_BACKENDS, copy_sqlite, sqlite_store
from tests.services import postgres_database as postgres_database


def gateway_config(
    tmp_path: Path,
    employment: RunningStandin,
    labor: RunningStandin,
    unemployment: RunningStandin,
    **overrides: Any,
) -> GatewayConfig:
    env = {
        "HRSS_EMPLOYMENT_URL": employment.url,
        "HRSS_LABOUR_URL": labor.url,
        "HRSS_UNEMPLOYMENT_URL": unemployment.url,
        "HRSS_EMPLOYMENT_TIMEOUT": "3",
        "HRSS_LABOUR_TIMEOUT": "3",
        "HRSS_UNEMPLOYMENT_TIMEOUT": "3",
    }
    settings: dict[str, Any] = {
        "token_secret": "t" * 32,
        "audit_key": "a" * 32,
        "data_dir": str(tmp_path),
        "graphiql": True,
        # Most tests sign the demo employer in with its password; the tests of
        # the production profile (employers only through the identity platform)
        # turn this off.
        "employer_passwords": True,
    }
    if "store_url" not in overrides:
        # Migrated already (a template's copy), or the store a test started before.
        settings["store_url"] = sqlite_store(tmp_path / "gateway.db")
    # ``environ``: more variables (another system switched on, say).
    env |= overrides.pop("environ", {})
    settings.update(overrides)
    return GatewayConfig.load(environ=env, **settings)


#: Every write of each stand-in, as its ``/__sim/stats`` counts them.
WRITES = {
    System.EMPLOYMENT: {
        "unit.open",
        "employment.register",
        "employment.dismiss",
        "employment.revoke",
    },
    System.LABOUR: set(soap.WRITES),
    System.UNEMPLOYMENT: {"dw.create", "djxx.create", "djxx.cancel"},
}


@pytest.fixture
def standins(
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
) -> dict[System, RunningStandin]:
    return {
        System.EMPLOYMENT: employment_standin,
        System.LABOUR: labor_standin,
        System.UNEMPLOYMENT: unemployment_standin,
    }


async def known_only_to_the_systems(
    gateway: Gateway,
    standins: dict[System, RunningStandin],
    unit: EmployerProfile,
    holders: str,
) -> list[System]:
    """``unit`` opened in the systems (``"every-system"``, or ``"one-system"``: the
    unemployment system alone) and not in the gateway's store, those systems then put
    down: the systems that hold it."""
    holding = list(standins) if holders == "every-system" else [System.UNEMPLOYMENT]
    for system in holding:
        await gateway.adapters[system].ensure_employer(unit)
        standins[system].faults(down=True)
    return holding


def writes(standins: dict[System, RunningStandin]) -> dict[str, int]:
    """Writes each stand-in has counted (since its last reset), by operation."""
    counted = {}
    for system, standin in standins.items():
        stats = standin.stats()
        counted |= {f"{system}:{op}": stats.get(op, 0) for op in WRITES[system]}
    return counted


def sent_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {op: after[op] - before[op] for op in after if after[op] != before[op]}


@pytest.fixture(params=SQL_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The gateway's store on each SQL backend, for the tests that must hold on both:
    migrated already (a copy of a template), as the migration tests prove migrating."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("migrated_postgres_database")
        return url
    return sqlite_store(tmp_path / "gateway.db")


#: Argon2 at its cheapest, for gateways whose password hashes prove nothing.
CHEAP_HASHES = {
    "HRSS_ARGON2_TIME_COST": "1",
    "HRSS_ARGON2_MEMORY_KIB": "8",
    "HRSS_ARGON2_PARALLELISM": "1",
}


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CHEAP_HASHES.items():
        monkeypatch.setenv(name, value)


@contextlib.asynccontextmanager
async def started_gateway(
    standins: dict[str, RunningStandin], directory: Path, **settings: Any
) -> AsyncIterator[Gateway]:
    """The ``gateway`` fixture's gateway, for a fixture of a wider scope (one gateway
    for a module whose tests do not change it): over the stand-ins named as
    ``tests/conftest.py`` names them, with the demo accounts, Argon2 at its cheapest."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in CHEAP_HASHES.items():
            env.setenv(name, value)
        config = gateway_config(
            directory,
            standins["employment"],
            standins["labor"],
            standins["unemployment"],
            **settings,
        )
        gw = await Gateway.start(config)
        try:
            await prepare_store(gw.store)
        except BaseException:
            await gw.close()
            raise
    try:
        yield gw
    finally:
        await gw.close()


def worker_standins(
    pool: dict[str, RunningStandin], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, RunningStandin]:
    """The worker's shared stand-ins (the ``_standins`` pool of ``tests/conftest.py``),
    for a fixture of a wider scope than the tests' ``*_standin`` fixtures."""
    logs = tmp_path_factory.getbasetemp()
    names = ("employment", "labor", "unemployment")
    start_missing(names, pool, logs)
    return {name: shared_standin(name, pool, logs) for name in names}


#: Per process: a store ``prepare_store`` has filled, by the configuration that
#: decides what it writes (the audit log's key, Argon2's settings).
_PREPARED: dict[tuple[str | None, tuple[tuple[str, str], ...]], Path] = {}


async def prepared_store(config: GatewayConfig, path: Path) -> str:
    """The URL of an SQLite store at ``path`` holding what ``prepare_store`` writes
    for ``config`` (the seed employers' bindings in every system, the demo accounts
    and their audit records): a copy of a store prepared once per process. Preparing
    (each account's password judged and hashed, each employer written in its own
    transaction) cost 19 ms of CPU, most of what a gateway's start costs a test;
    ``tests/gateway/test_prepared.py`` proves the copy holds what preparing writes."""
    argon2 = tuple((name, os.environ.get(name, "")) for name in sorted(CHEAP_HASHES))
    key = (config.audit_key, argon2)
    if key not in _PREPARED:
        folder = Path(tempfile.mkdtemp(prefix="hrss-prepared-store-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = folder / "gateway.db"
        made = dataclasses.replace(config, store_url=sqlite_store(template))
        gw = await Gateway.start(made)
        try:
            await prepare_store(gw.store)
        finally:
            await gw.close()
        _PREPARED[key] = template
    return copy_sqlite(_PREPARED[key], path)


async def start_prepared(
    tmp_path: Path, standins: tuple[RunningStandin, ...], settings: dict[str, Any]
) -> Gateway:
    """A gateway as ``gateway_config`` makes it for ``settings``, over the employment,
    labour and unemployment ``standins``, with what the demo prepares in its store.

    A test's own store (PostgreSQL, say) is prepared as the demo prepares it; the
    default one, new, is a copy of one prepared so (``prepared_store``)."""
    path = tmp_path / "gateway.db"  # where ``gateway_config`` puts it, for a restart
    default = "store_url" not in settings and not path.exists()
    store = {"store_url": f"sqlite+aiosqlite:///{path}"} if default else {}
    config = gateway_config(tmp_path, *standins, **{**settings, **store})
    if default:
        config = dataclasses.replace(config, store_url=await prepared_store(config, path))
    gw = await Gateway.start(config)
    if not default:
        try:
            await prepare_store(gw.store)
        except BaseException:
            await gw.close()
            raise
    return gw


@pytest.fixture
async def gateway(
    tmp_path: Path,
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
    gateway_settings: dict[str, Any],
) -> AsyncIterator[Gateway]:
    standins = (employment_standin, labor_standin, unemployment_standin)
    gw = await start_prepared(tmp_path, standins, gateway_settings)
    yield gw
    await gw.close()


@pytest.fixture
async def worker(gateway: Gateway) -> AsyncIterator[None]:
    """The registration worker, in the background as `serve` runs it."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(gateway, stop=stop))
    yield
    stop.set()
    await asyncio.wait_for(task, 10)


@pytest.fixture
async def server(gateway: Gateway) -> AsyncIterator[int]:
    """The app on a real loopback port, with uvicorn set as ``serve`` sets it where
    the gateway's limits decide: WebSockets need a real server."""
    port = free_port()
    app = create_app(gateway.config, gateway=gateway)
    options = gateway_options(gateway.config.limits)
    served = uvicorn.Server(uvicorn.Config(app, port=port, log_level="error", **options))
    serving = asyncio.create_task(served.serve())
    while not served.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    yield port
    served.should_exit = True
    await serving


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient
    token: str | None = None

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        r = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Accept": "application/graphql-response+json", **headers},
        )
        body: dict[str, Any] = r.json()
        return body

    async def login(self, username: str, password: str = DEMO_PASSWORD) -> GraphQLClient:
        body = await self.post(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
            {"u": username, "p": password},
        )
        assert "errors" not in body, body
        return GraphQLClient(self.http, body["data"]["login"]["token"])


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[GraphQLClient]:
    app = create_app(gateway.config, gateway=gateway)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        yield GraphQLClient(http)


#: The systems' deadline of ``short_deadline_client``'s gateway, in seconds.
SHORT_DEADLINE_S = 1


@pytest.fixture
async def short_deadline_client(
    tmp_path: Path,
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
    gateway_settings: dict[str, Any],
) -> AsyncIterator[GraphQLClient]:
    """``client``, over a gateway whose systems' deadline is 1 s instead of 3 s, for the
    tests that wait a slow system's deadline out: that wait is the test's length. 1 s
    is still long beside what the systems that are not slowed take to answer (some
    10 ms; the labour client's first call reads its WSDL, some 30 ms)."""
    deadlines = {
        f"HRSS_{s}_TIMEOUT": str(SHORT_DEADLINE_S) for s in ("EMPLOYMENT", "LABOUR", "UNEMPLOYMENT")
    }
    settings = dict(gateway_settings)
    settings["environ"] = {**settings.get("environ", {}), **deadlines}
    standins = (employment_standin, labor_standin, unemployment_standin)
    gw = await start_prepared(tmp_path, standins, settings)
    try:
        app = create_app(gw.config, gateway=gw)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as http:
            yield GraphQLClient(http)
    finally:
        await gw.close()


async def erased(gateway: Gateway, registration_id: str) -> None:
    """The registration cancelled (no worker need run) and its personal data erased,
    as once its retention has passed."""
    from gateway.registrations.model import RegistrationState

    now = dt.datetime.now(dt.UTC)
    registrations = gateway.store.registrations
    await registrations.update_registration(
        registration_id, state=RegistrationState.CANCELLED, now=now, release_worker=True
    )
    ended_before = now + dt.timedelta(seconds=1)
    assert await registrations.erase_personal_data(ended_before=ended_before, now=now) == 1


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]
