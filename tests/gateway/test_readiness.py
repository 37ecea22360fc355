"""``/readyz`` over what every signed-in request needs besides the systems: the store
(a trivial query, bounded), the token secret and, when the cache is Redis, the cache
(PING, bounded; the cache fails open, so a Redis outage is reported, degraded, and
the gateway stays ready). ``/healthz`` asks nothing of any of them.

The store is made unreachable for real: a PostgreSQL store reached through a TCP
relay of the test's own, which is then cut (connections refused, those open
closed) or turned into a black hole (connections accepted, nothing ever answered).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from adapters.standin.process import RunningStandin, free_port
from gateway.app import create_app
from gateway.domain.model import System
from gateway.services import Gateway
from tests.gateway.conftest import gateway_config
from tests.services import services, sqlite_store

#: How long ``/readyz`` waits for the store or Redis (``gateway.app.READINESS_TIMEOUT_S``).
READINESS_TIMEOUT_S = 2.0


class Relay:
    """A TCP relay on loopback to ``port``: forwards both ways until it is ``cut``
    (listening stops, open connections are closed: a server gone) or made a
    ``black_hole`` (connections accepted, held open, nothing forwarded: a network
    that drops every packet)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self.mode = "forward"
        #: Connections accepted since the relay started.
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.accepted += 1
        if self.mode != "forward":
            return  # held open, never answered
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self._writers.add(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            sink.close()  # one side closed: so is the other

    async def black_hole(self) -> None:
        """Nothing forwarded from now on, on the open connections as on new ones."""
        self.mode = "black-hole"
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def cut(self) -> None:
        """Nothing listens any more, and every open connection is closed."""
        self.mode = "cut"
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()


def _named(standins: dict[System, RunningStandin]) -> tuple[RunningStandin, ...]:
    return (standins[System.EMPLOYMENT], standins[System.LABOUR], standins[System.UNEMPLOYMENT])


@contextlib.asynccontextmanager
async def _readyz(
    standins: dict[System, RunningStandin], tmp_path: Path, **settings: Any
) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    """A gateway over the stand-ins (in-process events, a look at every request) and a
    client of its application."""
    settings = {"events_url": "local", "readiness_cache_s": 0, **settings}
    for standin in standins.values():
        standin.reset()
    gw = await Gateway.start(gateway_config(tmp_path, *_named(standins), **settings))
    try:
        app = create_app(gw.config, gateway=gw)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield gw, http
    finally:
        await gw.close()


def _shows_nothing_of(body: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in body, secret


@pytest.fixture
async def relay(migrated_postgres_database: str) -> AsyncIterator[tuple[Relay, str]]:
    """A relay to the test's PostgreSQL database, and the store URL through it."""
    url = make_url(migrated_postgres_database)
    relay = Relay(url.port or 5432)
    await relay.start()
    try:
        yield relay, url.set(host="127.0.0.1", port=relay.port).render_as_string(False)
    finally:
        await relay.cut()


@services
@pytest.mark.parametrize("failure", ["cut", "black-hole"])
async def test_a_store_that_cannot_answer_makes_the_gateway_not_ready(
    standins: dict[System, RunningStandin],
    tmp_path: Path,
    relay: tuple[Relay, str],
    failure: str,
) -> None:
    proxy, store_url = relay
    async with _readyz(standins, tmp_path, store_url=store_url) as (_gw, http):
        try:
            await _store_fails(http, proxy, failure)
        finally:
            # Before the gateway closes: a connection held in a black hole would
            # wait for ever for the server to see it closed.
            await proxy.cut()


async def _store_fails(http: httpx.AsyncClient, proxy: Relay, failure: str) -> None:
    """Ready over the relay; not ready once it fails, within the bound."""
    ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    if failure == "cut":
        await proxy.cut()
    else:
        await proxy.black_hole()
    started = time.monotonic()
    answer = await http.get("/readyz")
    took = time.monotonic() - started
    # Bounded: a black hole is waited for READINESS_TIMEOUT_S, not the driver's minute.
    assert took < READINESS_TIMEOUT_S + 3, took
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["status"] == "not_ready"
    assert body["store"]["ready"] is False
    assert body["store"]["reason"]
    assert ready.json()["store"] == {"ready": True}
    # The rest is reported as it is: the systems answer.
    assert all(s == {"ready": True} for s in body["systems"].values()), body
    _shows_nothing_of(answer.text, str(proxy.port), "127.0.0.1", "postgres", "asyncpg")
    if failure == "black-hole":
        # The look still waiting is waited for again, not one more connection
        # opened into the hole (and held there) at every probe.
        accepted = proxy.accepted
        again = await http.get("/readyz")
        assert again.status_code == 503
        assert again.json()["store"]["ready"] is False
        assert proxy.accepted == accepted
    # Alive all the same: liveness asks nothing of the store.
    alive = await http.get("/healthz")
    assert (alive.status_code, alive.json()) == (200, {"status": "alive"})


@pytest.mark.parametrize("refusal", ["closed-port", pytest.param("refused-url", marks=services)])
async def test_redis_down_is_reported_degraded_and_the_gateway_stays_ready(
    standins: dict[System, RunningStandin], tmp_path: Path, refusal: str
) -> None:
    """The cache fails open (a Redis outage costs speed, not answers): ready, 200,
    the cache reported not ready, nothing of its URL shown."""
    if refusal == "closed-port":
        cache_url = f"redis://:s3cret-password@127.0.0.1:{free_port()}/0"
    else:  # a server that answers, and refuses the URL (a database it does not have)
        from tests.services import redis_url

        cache_url = str(make_url(redis_url()).set(database="99999"))
        cache_url = cache_url.replace("redis://", "redis://:s3cret-password@", 1)
    async with _readyz(standins, tmp_path, cache_url=cache_url) as (_gw, http):
        started = time.monotonic()
        answer = await http.get("/readyz")
        assert time.monotonic() - started < READINESS_TIMEOUT_S + 3
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "degraded"
    assert body["cache"]["ready"] is False
    assert body["cache"]["reason"]
    assert body["store"] == {"ready": True}
    _shows_nothing_of(answer.text, "s3cret-password", "127.0.0.1", "99999", "6379")


@services
async def test_a_redis_cache_that_answers_is_ready(
    standins: dict[System, RunningStandin], tmp_path: Path, redis_namespace: Any
) -> None:
    async with _readyz(standins, tmp_path, cache_url=redis_namespace.url) as (_gw, http):
        answer = await http.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ready"
    assert answer.json()["cache"] == {"ready": True}


async def test_a_token_secret_no_token_can_be_signed_with_makes_the_gateway_not_ready(
    standins: dict[System, RunningStandin], tmp_path: Path
) -> None:
    """Every sign-in and every signed-in request fails (500) with a secret shorter than
    HS256 takes: the gateway is not ready, and says which part, never the secret."""
    async with _readyz(standins, tmp_path) as (gw, http):
        gw.token_secret = b"short-secret"
        answer = await http.get("/readyz")
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["status"] == "not_ready"
    assert body["tokens"]["ready"] is False
    assert body["store"] == {"ready": True}
    _shows_nothing_of(answer.text, "short-secret")


async def test_a_sqlite_store_that_cannot_be_opened_makes_the_gateway_not_ready(
    standins: dict[System, RunningStandin], tmp_path: Path
) -> None:
    """The embedded store's file gone with its folder: what the pool held closed, a new
    connection cannot open it again."""
    folder = tmp_path / "store"
    store_url = sqlite_store(folder / "gateway.db")
    async with _readyz(standins, tmp_path, store_url=store_url) as (gw, http):
        assert (await http.get("/readyz")).status_code == 200
        await gw.store.db.engine.dispose()  # what a restart of the pool does
        for path in sorted(folder.iterdir()):
            path.unlink()
        folder.rmdir()
        folder.touch()  # a file where the folder was: nothing can be opened under it
        answer = await http.get("/readyz")
        assert answer.status_code == 503, answer.text
        assert answer.json()["store"]["ready"] is False
        _shows_nothing_of(answer.text, str(tmp_path))


async def test_the_probes_of_an_interval_ask_the_store_once(
    standins: dict[System, RunningStandin], tmp_path: Path
) -> None:
    """Anyone may ask ``/readyz``: a flood of probes is one query to the store per
    ``readiness_cache_s``, not one per probe taking the requests' pooled connections."""
    async with _readyz(standins, tmp_path, readiness_cache_s=60) as (gw, http):
        asked: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            asked.append(statement)

        sa.event.listen(gw.store.db.engine.sync_engine, "before_cursor_execute", count)
        answers = await asyncio.gather(*(http.get("/readyz") for _ in range(20)))
        sa.event.remove(gw.store.db.engine.sync_engine, "before_cursor_execute", count)
    assert {a.status_code for a in answers} == {200}
    assert asked == ["SELECT 1"]
