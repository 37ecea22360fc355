"""Three gateway processes and three worker processes over one PostgreSQL store and
Redis; one worker and then one gateway are SIGKILLed mid-batch. Every registration ends
once in the systems, and a subscriber on gateway A follows, over WebSocket, SSE and
multipart, registrations that worker processes carry out.

The deployment is what ``hrss-gateway cluster --gateways 3 --workers 3`` runs, as
separate processes so that one can be killed alone (under ``cluster`` the supervisor
stops the others when one dies, for the machine's supervisor to start them all again):
the gateways carry nothing out (``HRSS_RUN_WORKER=false``), the workers carry out
everything. Redis is the cache, the rate limits' store and the carrier of the wake-ups
(``gateway/events.py``); PostgreSQL ``LISTEN``/``NOTIFY`` between processes is proven in
``test_events.py``.

One batch of 36 hires, in twelve submissions spread over the three gateways, while the
employment and labour systems take 1.5 s to answer so that writes are in flight:

1. a **worker** process is killed while it holds steps it is sending, once every write
   recorded so far has reached its system (frozen to look, then killed), and is not
   started again: its steps stay leased to it until the lease runs out (``engine_for``:
   4 x the slowest timeout, 12 s here), then the other workers take them, ask the system
   what it holds and send only what it lacks (the labour stand-in kept the dead worker's
   filings; the employment stand-in dropped its registrations, whose sender was gone).
   The subscriber on A follows the registrations it held: seen under way (they cannot
   move before the lease ends), then to their end, carried out by another worker process;
2. while the others wait for that lease, a **gateway** process (C, never A) is killed
   once more of the batch is accepted and being carried out, a submission on its way to
   it; the client sends that one and the rest, C's share included, to the gateways left,
   each submission under its own idempotency key (a submission C had accepted, sent
   again to A, is replayed, not stored twice), and C is started again.

Subscriptions re-read only every 60 s when nothing wakes them (``HRSS_SUBSCRIPTION_POLL_S``),
and each is bounded far below that: what reaches the subscriber on A within the bound
was woken by an event from a worker process. The workers keep the production poll
(1 s): it is how a worker notices a lease that ran out.

What each system holds is counted in the system (its own queries and its request
counts), never in the gateway's store; the store is read only to choose the moment of
the worker's kill (which steps it holds, and the attempts recorded so far).

Checked against itself: with ``HRSS_EVENTS_URL=local`` (no wake-ups between processes)
the subscribers fail; with reconciliation made to find nothing, the filings the dead
worker sent are filed again, the labour system refuses them, and their registrations
end compensated.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url

from adapters.standin.process import RunningStandin, free_port
from gateway.domain.model import System
from tests.proof.conftest import (
    HIRE,
    WRITE,
    GatewayProcess,
    Graph,
    Ledger,
    _prepare,
    deployment_env,
    fetch,
    hire_input,
    hired_once,
    new_key,
    new_person,
    poll,
    settle,
    step,
    stop_all,
    summary,
    until_listening,
    urls_of,
)
from tests.services import RedisNamespace, run_isolated, services
from tests.subscribe import TRANSPORTS, subscribe

pytestmark = [pytest.mark.proof, services]

GATEWAYS = 3
WORKERS = 3
#: Hires per submission, and submissions (spread over the gateways in turn).
ROWS = 3
SUBMISSIONS = 12
#: Each system's timeout; the engine's lease is 4 x the slowest (the configured
#: floor, ``HRSS_WORKER_LEASE_S``, is set below it).
TIMEOUT_S = 3.0
LEASE_S = 4 * TIMEOUT_S
#: How long the systems take to answer: long enough that a kill finds writes in
#: flight. The labour stand-in commits a filing whose sender died meanwhile; the
#: employment stand-in drops a registration whose sender is gone (it reads the request
#: after the delay): a write the takers must find, one they must send again.
ANSWER_MS = {System.EMPLOYMENT: 1500, System.LABOUR: 1500}
#: What a subscription waits between reads when nothing wakes it: longer than any bound.
SUBSCRIPTION_POLL_S = 60
#: Within this each subscriber has followed its registration to its end (after the
#: killed worker's lease).
SUBSCRIBER_BOUND_S = LEASE_S + 20
#: Within this the whole batch is at rest.
SETTLE_S = LEASE_S + 40
#: Within this six processes that start at once answer (each imports and starts the
#: gateway: about 3 s of CPU, on a machine that may be running much else).
STARTUP_S = GatewayProcess.STARTUP_S

SUBSCRIBE = "subscription($id: ID!) { registrationUpdates(id: $id) { id state version } }"


@dataclass
class Cluster:
    """The processes of one deployment: ``gateways[0]`` is A, where the subscriber is."""

    store_url: str
    env: dict[str, str]
    gateways: list[GatewayProcess] = field(default_factory=list)
    workers: list[GatewayProcess] = field(default_factory=list)

    def processes(self) -> list[GatewayProcess]:
        return [*self.gateways, *self.workers]

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.processes())

    def stop(self) -> None:
        stop_all(self.processes())


def _cluster_env(redis: RedisNamespace) -> dict[str, str]:
    return {
        # Redis: the cache, the rate limits' store and the carrier of the wake-ups.
        "HRSS_CACHE_URL": redis.url,
        "HRSS_RATE_LIMIT_KEY_PREFIX": redis.prefix + "ratelimit",
        "HRSS_EVENTS_URL": redis.url,
        # A deployment of its own: parallel runs never hear each other.
        "HRSS_EVENTS_CHANNEL": f"hrss_proof_{secrets.token_hex(6)}",
        "HRSS_SUBSCRIPTION_POLL_S": str(SUBSCRIPTION_POLL_S),
        # Below 4 x the timeout, which decides the lease.
        "HRSS_WORKER_LEASE_S": "1",
        # Few steps per worker at once, so that the batch is spread over all three.
        "HRSS_WORKER_CONCURRENCY": "4",
    }


@pytest.fixture
def cluster(
    migrated_postgres_database: str,
    redis_namespace: RedisNamespace,
    standins: dict[System, RunningStandin],
    tmp_path: Path,
) -> Iterator[Cluster]:
    """3 ``serve`` processes (no worker in them) and 3 ``worker`` processes over a
    PostgreSQL database of the test's own (a copy of the session's migrated template,
    dropped after), started side by side."""
    postgres_database = migrated_postgres_database
    run_isolated(_prepare(postgres_database))
    env = deployment_env(
        postgres_database,
        urls_of(standins),
        timeout=TIMEOUT_S,
        run_worker=False,
        data_dir=tmp_path,
        extra=_cluster_env(redis_namespace),
    )
    running = Cluster(postgres_database, env)
    running.gateways = [
        GatewayProcess("serve", env, tmp_path / f"serve-{name}.log", tmp_path, port=free_port())
        for name in "ABC"
    ]
    running.workers = [
        GatewayProcess("worker", env, tmp_path / f"worker-{n}.log", tmp_path)
        for n in range(1, WORKERS + 1)
    ]
    try:
        for worker in running.workers:
            worker.start()
        # Each start waits for its process to answer: the three at once.
        run_isolated(_start_all(running.gateways))
        yield running
    finally:
        running.stop()


async def _start_all(gateways: list[GatewayProcess]) -> None:
    await asyncio.gather(*(asyncio.to_thread(g.start) for g in gateways))


async def _query(store_url: str, sql: str, *args: Any) -> list[Any]:
    dsn = make_url(store_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        rows: list[Any] = await conn.fetch(sql, *args)
    finally:
        await conn.close()
    return rows


async def _held_by(store_url: str, pid: int) -> list[tuple[str, System]]:
    """(registration id, system) of every step being sent under a lease of process ``pid``
    (``new_owner``: host, pid and a random part)."""
    rows = await _query(
        store_url,
        "SELECT registration_id, system FROM steps"
        " WHERE state = 'SENDING' AND split_part(lease_owner, ':', 2) = $1",
        str(pid),
    )
    return [(r["registration_id"], System(r["system"])) for r in rows]


async def _attempts_of(
    store_url: str, held: list[tuple[str, System]]
) -> dict[tuple[str, System], int]:
    """The attempts recorded for each of ``held`` (registration id, system)."""
    rows = await _query(
        store_url,
        "SELECT registration_id, system, attempts FROM steps WHERE registration_id = ANY($1)",
        sorted({rid for rid, _ in held}),
    )
    found = {(r["registration_id"], System(r["system"])): int(r["attempts"]) for r in rows}
    return {key: found[key] for key in held}


async def _attempts(store_url: str) -> dict[System, int]:
    """The attempts recorded so far, per system (each saved before it is sent)."""
    rows = await _query(store_url, "SELECT system, sum(attempts) AS n FROM steps GROUP BY system")
    return {System(r["system"]): int(r["n"]) for r in rows}


class Client:
    """A front end that spreads its submissions over the gateways and, when one does
    not answer, sends the same submission (same idempotency key) to the next."""

    def __init__(self, http: httpx.AsyncClient, gateways: list[GatewayProcess], token: str):
        self.graphs = [Graph(http, g.url, token) for g in gateways]
        #: How many submissions failed over to another gateway.
        self.failovers = 0

    async def submit(
        self, first: int, rows: list[dict[str, Any]], key: str
    ) -> tuple[int, dict[str, Any]]:
        """Submit ``rows`` under ``key`` to gateway ``first``, else to the next ones; which
        gateway took it, and its answer."""
        failures: list[str] = []
        for n in range(len(self.graphs)):
            taker = (first + n) % len(self.graphs)
            graph = self.graphs[taker]
            try:
                data = await graph.data(HIRE, {"w": rows, "k": key})
            except httpx.TransportError as exc:  # the gateway is down, or died mid-request
                failures.append(f"{graph.url}: {type(exc).__name__}")
                self.failovers += 1
                continue
            result: dict[str, Any] = data["hire"]
            assert result["accepted"] is True, result
            assert result["problems"] == [], result
            assert len(result["registrations"]) == len(rows), result
            return taker, result
        raise AssertionError(f"no gateway took the submission: {failures}")


async def _poll_briefly(check: Callable[[], Awaitable[bool]], within: float = 1.5) -> bool:
    """Whether ``check`` comes true within ``within`` seconds (asked every 50 ms)."""
    try:
        await poll(check, within=within, what="", interval=0.05)
    except AssertionError:
        return False
    return True


async def _follow(graph: Graph, transport: str, registration_id: str) -> list[dict[str, Any]]:
    """The updates a subscriber on ``graph``'s gateway receives, to the registration's end."""
    try:
        async with asyncio.timeout(SUBSCRIBER_BOUND_S):
            payloads = await subscribe(
                transport,
                http=graph.http,
                base_url=graph.url,
                query=SUBSCRIBE,
                variables={"id": registration_id},
                token=graph.token,
            )
    except TimeoutError:
        raise AssertionError(
            f"the subscriber over {transport} on A did not see its registration end within "
            f"{SUBSCRIBER_BOUND_S} s: no wake-up reached A (it re-reads every "
            f"{SUBSCRIPTION_POLL_S} s otherwise)"
        ) from None
    assert not [p for p in payloads if p.get("errors")], (transport, payloads)
    return [p["data"]["registrationUpdates"] for p in payloads]


@pytest.mark.timeout(STARTUP_S + 180)
async def test_a_worker_and_a_gateway_killed_mid_batch_lose_nothing_and_double_nothing(
    cluster: Cluster,
    http: httpx.AsyncClient,
    standins: dict[System, RunningStandin],
    ledgers: Callable[[dict[System, str]], Ledger],
) -> None:
    await until_listening(cluster.processes(), "redis", within=STARTUP_S)
    a, _, c = cluster.gateways
    token = (await Graph(http, a.url).login()).token
    assert token is not None
    client = Client(http, cluster.gateways, token)
    on_a = client.graphs[0]
    for system, latency in ANSWER_MS.items():
        standins[system].faults(latency_ms=latency)

    people = [[new_person() for _ in range(ROWS)] for _ in range(SUBMISSIONS)]
    keys = [new_key() for _ in range(SUBMISSIONS)]
    # Submission i goes to gateway i % 3 first: B, C, A, B, C, A, ...
    target = [(i + 1) % GATEWAYS for i in range(SUBMISSIONS)]
    ids: list[list[str]] = [[] for _ in range(SUBMISSIONS)]
    taken_by: list[int] = []
    sent = 0

    async def send_next(first: int | None = None) -> None:
        nonlocal sent
        i = sent
        rows = [hire_input(p) for p in people[i]]
        taker, result = await client.submit(target[i] if first is None else first, rows, keys[i])
        ids[i] = [r["id"] for r in result["registrations"]]
        taken_by.append(taker)
        sent += 1

    def writes() -> int:
        return sum(standins[s].stats().get(WRITE[s], 0) for s in ANSWER_MS)

    # 1. A worker process is killed while it waits for answers: submissions go on until
    # one of them holds a filing, and every write recorded so far has reached its
    # system. It is frozen (SIGSTOP) to look, so that what it holds cannot change
    # before the SIGKILL. Whichever worker it is: the three share the steps, and on
    # a busy machine one of them may take none of the filings of a few submissions.
    chosen: list[GatewayProcess] = []

    async def holds_a_filing(worker: GatewayProcess) -> bool:
        # The labour system keeps a filing though its sender died: the takers must find it.
        held = await _held_by(cluster.store_url, worker.pid)
        return System.LABOUR in {s for _, s in held}

    async def frozen_in_flight() -> bool:
        for worker in cluster.workers:
            if not await holds_a_filing(worker):
                continue
            os.kill(worker.pid, signal.SIGSTOP)
            # The systems' counts first, then the attempts recorded: each write is
            # recorded before it is sent, so counts at least the attempts recorded
            # later mean every attempt recorded before the counts, the frozen
            # worker's among them, has arrived. Read the other way round, with
            # the other workers running, a write of theirs recorded and sent in
            # between made up for one the frozen worker had not sent yet (its
            # taker then found nothing and rightly sent it, once).
            received = {s: standins[s].stats().get(WRITE[s], 0) for s in ANSWER_MS}
            recorded = await _attempts(cluster.store_url)
            if await holds_a_filing(worker) and all(
                received[s] >= recorded.get(s, 0) for s in ANSWER_MS
            ):
                chosen.append(worker)
                return True
            os.kill(worker.pid, signal.SIGCONT)  # not yet: it goes on
        return False

    await send_next()
    while not await _poll_briefly(frozen_in_flight):
        # Half the batch at most: the other half is for the gateway's kill.
        assert sent < SUBMISSIONS // 2, "no worker held a filing in flight"
        await send_next()
    [worker] = chosen
    worker.kill()
    # What it was sending stays leased to it until the lease runs out.
    held = await _held_by(cluster.store_url, worker.pid)
    assert System.LABOUR in {s for _, s in held}, held
    # What it had sent of each (an earlier attempt may have timed out on a busy
    # machine and been sent again after a reconciliation, before the kill).
    sent_before = await _attempts_of(cluster.store_url, held)
    # The subscriber on A follows what it held, over each transport: first what was
    # submitted on B or C.
    on_gateway = {rid: taken_by[i] for i, chunk in enumerate(ids) for rid in chunk}
    stuck = sorted({rid for rid, _ in held}, key=lambda rid: (on_gateway[rid] == 0, rid))
    followed = {t: stuck[n % len(stuck)] for n, t in enumerate(TRANSPORTS)}
    subscribers = {t: asyncio.create_task(_follow(on_a, t, rid)) for t, rid in followed.items()}
    restart: asyncio.Task[Any] | None = None
    try:
        # 2. Gateway C is killed once more of the batch is accepted and reaching the
        # systems, with a submission sent to it: answered before, or failed over to A
        # (replayed there if C had stored it, else stored there), never stored twice.
        before = writes()
        for _ in range(2):
            await send_next()

        async def more_writes() -> bool:
            return writes() > before

        await poll(more_writes, within=20, what="writes of the batch's second part")
        in_flight_to_c = asyncio.create_task(send_next(first=2))
        await asyncio.sleep(0.02)  # the request on its way: C dies before or after storing it
        c.kill()
        await in_flight_to_c
        sent_at_kill = sent
        while sent < SUBMISSIONS:  # C's share fails over to the next gateway
            await send_next()
        assert client.failovers >= 1
        assert 2 not in taken_by[sent_at_kill:]
        # A submission C had accepted, sent again to A under its key: replayed, not doubled.
        on_c = taken_by.index(2)
        taker, again = await client.submit(0, [hire_input(p) for p in people[on_c]], keys[on_c])
        assert taker == 0
        assert again["replayed"] is True, again
        assert [r["id"] for r in again["registrations"]] == ids[on_c]
        restart = asyncio.create_task(asyncio.to_thread(c.start))

        all_ids = [rid for chunk in ids for rid in chunk]
        assert len(set(all_ids)) == ROWS * SUBMISSIONS
        outcomes = await asyncio.gather(*subscribers.values(), return_exceptions=True)
        failed = [str(o) for o in outcomes if isinstance(o, BaseException)]
        assert not failed, failed
        updates = {t: o for t, o in zip(subscribers, outcomes, strict=True) if isinstance(o, list)}
        done = await settle(on_a, all_ids, within=SETTLE_S)
        await restart
    finally:
        # A subscriber still waiting when something failed is ended; a restart, awaited.
        for task in subscribers.values():
            task.cancel()
        await asyncio.gather(*subscribers.values(), return_exceptions=True)
        if restart is not None:
            await asyncio.gather(restart, return_exceptions=True)
    registrations = [done[i] for i in all_ids]
    assert {r["state"] for r in registrations} == {"COMPLETED"}, (
        summary(registrations),
        cluster.logs(),
    )
    assert c.starts == 2
    assert c.alive()
    # C, started again, answers over the same store.
    assert {r["state"] for r in (await fetch(client.graphs[2], ids[0])).values()} == {"COMPLETED"}
    # In the systems: one employment record and one contract per hire...
    ledger = ledgers(urls_of(standins))
    numbers = [p["idNumber"] for chunk in people for p in chunk]
    assert await hired_once(ledger, numbers) == []
    # ...and no write the store does not know of: each is an attempt recorded before it was sent.
    for system in ANSWER_MS:
        recorded = sum(step(r, system)["attempts"] for r in registrations)
        received = standins[system].stats().get(WRITE[system], 0)
        assert len(numbers) <= received <= recorded, (system, received, recorded)

    # The steps the killed worker held were finished by the others, after its lease.
    # The filings it sent, which the labour system kept, were found by asking, not sent
    # again (the registrations the employment system dropped were sent once more: the
    # systems' counts above, checked first so that a failure here says whether
    # anything was doubled in a system).
    for registration_id, system in held:
        taken_over = step(done[registration_id], system)
        assert taken_over["state"] == "DONE"
        if system == System.LABOUR:
            assert taken_over["attempts"] == sent_before[registration_id, system], taken_over

    # The subscriber on A saw each registration under way, then each change, to its end.
    for transport, seen in updates.items():
        assert seen[0]["state"] != "COMPLETED", (transport, seen)
        assert seen[-1]["state"] == "COMPLETED", (transport, seen)
        versions = [u["version"] for u in seen]
        assert versions == sorted(set(versions)), (transport, versions)
    # The gateways carried nothing out; every step was the worker processes' doing.
    for gateway in cluster.gateways:
        assert "registration worker" not in gateway.log.read_text(errors="replace")
