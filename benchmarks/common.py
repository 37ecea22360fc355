"""What the benchmarks share: the stand-ins, a gateway over them, a client, a clock."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from adapters.standin.process import RunningStandin, start_standin
from gateway.config import GatewayConfig
from gateway.demo import DEMO_PASSWORD, prepare_store
from gateway.services import Gateway

#: The order the benchmarks index their stand-ins in: employment, labour, unemployment.
STANDINS = ("employment", "labor", "unemployment")


@contextlib.contextmanager
def standins(directory: Path) -> Iterator[list[RunningStandin]]:
    """The three seeded stand-ins as processes on loopback, stopped after."""
    started: list[RunningStandin] = []
    try:
        for name in STANDINS:
            started.append(start_standin(name, directory))
        yield started
    finally:
        for s in started:
            s.stop()


_SYSTEMS = ("EMPLOYMENT", "LABOUR", "UNEMPLOYMENT")
#: The benchmarks' gateways' secrets (``HRSS_TOKEN_SECRET``, ``HRSS_AUDIT_KEY``).
TOKEN_SECRET = "b" * 32
AUDIT_KEY = "k" * 32


def system_urls(running: list[RunningStandin]) -> dict[str, str]:
    """The ``HRSS_<SYSTEM>_URL`` variables that point a gateway at the stand-ins."""
    return {f"HRSS_{p}_URL": s.url for p, s in zip(_SYSTEMS, running, strict=True)}


async def start_gateway(
    running: list[RunningStandin],
    directory: Path,
    *,
    system_timeout: float | None = None,
    **settings: Any,
) -> Gateway:
    """A gateway over the stand-ins with the demo accounts; ``settings`` override the
    configuration (``store_url`` defaults to a SQLite file in ``directory``)."""
    # Cheap password hashes: the benchmarks sign in, they do not measure Argon2.
    cheap = {"TIME_COST": "1", "MEMORY_KIB": "8", "PARALLELISM": "1"}
    os.environ.update({f"HRSS_ARGON2_{k}": v for k, v in cheap.items()})
    env = system_urls(running)
    if system_timeout is not None:
        env.update({f"HRSS_{p}_TIMEOUT": str(system_timeout) for p in _SYSTEMS})
    settings.setdefault("store_url", f"sqlite+aiosqlite:///{directory}/gateway.db")
    config = GatewayConfig.load(
        environ=env,
        token_secret=TOKEN_SECRET,
        audit_key=AUDIT_KEY,
        data_dir=str(directory),
        employer_passwords=True,  # the benchmarks sign the demo employer in with its password
        **settings,
    )
    gw = await Gateway.start(config)
    await prepare_store(gw.store)
    return gw


class Client:
    """GraphQL over the app in this process (httpx's ASGI transport)."""

    def __init__(self, app: Any, token: str | None = None) -> None:
        self.app = app
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        )
        self.token = token

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        r = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = r.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return body

    async def login(self, username: str) -> Client:
        body = await self.post(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
            {"u": username, "p": DEMO_PASSWORD},
        )
        return Client(self.app, body["data"]["login"]["token"])


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start
