"""The gateway's PostgreSQL store going away: a stable code, a bounded wait, one warning.

The store is reached through a loopback proxy the test cuts (connections reset,
new ones refused) or black-holes (nothing comes back). Before, ``login`` answered
``INTERNAL``, a request whose caller had to be looked up in the store HTTP 500, each
with a stack at ERROR; with the database black-holed, requests hung for as long as
TCP would wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.standin.process import RunningStandin
from gateway.app import create_app
from gateway.demo import DEMO_PASSWORD
from gateway.services import Gateway
from gateway.store import database
from tests.gateway.conftest import start_prepared
from tests.services import services
from tests.store.pgproxy import PgProxy

pytestmark = services

LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
ME = "{ me { username } }"

#: The store's waits, short enough for a test to wait out.
TIMEOUTS = {"store_connect_timeout_s": 1.0, "store_timeout_s": 1.0, "store_pool_timeout_s": 1.0}


class Outage:
    def __init__(self, proxy: PgProxy, gateway: Gateway, http: httpx.AsyncClient) -> None:
        self.proxy = proxy
        self.gateway = gateway
        self.http = http

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str = ""
    ) -> httpx.Response:
        headers = {"Accept": "application/graphql-response+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def login(self) -> httpx.Response:
        return await self.post(LOGIN, {"u": "demo-clerk", "p": DEMO_PASSWORD})


@pytest.fixture
async def outage(
    tmp_path: Path,
    migrated_postgres_database: str,
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Outage]:
    # Logged at most once a minute per place and process: this test starts afresh.
    monkeypatch.setattr(database, "_OUTAGE_LOGGED", {})
    standins = (employment_standin, labor_standin, unemployment_standin)
    async with PgProxy.before(migrated_postgres_database) as (proxy, url):
        settings = {"store_url": url, "events_url": "local", "run_worker": False, **TIMEOUTS}
        gateway = await start_prepared(tmp_path, standins, settings)
        try:
            app = create_app(gateway.config, gateway=gateway)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
                yield Outage(proxy, gateway, http)
        finally:
            proxy.restore()
            await gateway.close()


def store_unavailable(body: dict[str, Any]) -> dict[str, Any]:
    (error,) = body["errors"]
    ext: dict[str, Any] = error["extensions"]
    assert ext["code"] == "STORE_UNAVAILABLE", body
    assert ext["retry_after"] > 0
    assert "store" in ext["message_en"]
    assert ext["message_zh"]
    return ext


async def test_a_store_cut_off_answers_store_unavailable_and_warns_once(
    outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    signed_in = await outage.login()
    token = signed_in.json()["data"]["login"]["token"]
    caplog.set_level(logging.DEBUG)
    outage.proxy.cut()

    for _ in range(3):
        # In a resolver: an error with the code, the operation executed (200).
        login = await outage.login()
        assert login.status_code == 200
        store_unavailable(login.json())
        assert login.json()["data"] is None

    for _ in range(3):
        # Before any resolver, looking up who the caller is (the account no longer
        # cached): refused as a whole, 503 with Retry-After.
        await outage.gateway.cache.clear()
        me = await outage.post(ME, token=token)
        assert me.status_code == 503
        ext = store_unavailable(me.json())
        assert int(me.headers["Retry-After"]) == ext["retry_after"]
        assert "data" not in me.json()

    gateway_logs = [r for r in caplog.records if r.name.startswith("gateway")]
    assert not [r for r in gateway_logs if r.levelno >= logging.ERROR]
    warnings = [r for r in gateway_logs if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "store" in warnings[0].getMessage()
    assert "Traceback" not in caplog.text
    assert "File " not in caplog.text

    outage.proxy.restore()
    again = await outage.login()
    assert "errors" not in again.json(), again.json()


async def test_a_black_holed_store_answers_within_its_timeouts(outage: Outage) -> None:
    """Nothing comes back from the database: the request ends after the store's
    timeouts (1 s here) with the code, instead of hanging."""
    assert "errors" not in (await outage.login()).json()
    outage.proxy.pause()
    started = time.monotonic()
    async with asyncio.timeout(15):
        login = await outage.login()
    assert time.monotonic() - started < 5
    store_unavailable(login.json())
