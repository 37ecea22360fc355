"""A hire submitted on one gateway and carried out by a worker of another, measured.

Two gateways over one PostgreSQL store stand for two processes: each has its own
store connections, its own events carrier and its own origin, so that what
reaches gateway B from gateway A travels as it would between two machines (the
database server or Redis in between). A takes the hire over GraphQL; only B runs
a worker, polling every second as ``hrss-gateway worker`` does. Measured: from
the mutation sent to A until the registration is completed, per carrier:

- ``same process``: the reference, A's own worker woken in its process (one ``serve``);
- ``local``: no events between processes, B finds the hire at its next poll;
- ``postgresql``: LISTEN/NOTIFY on the store;
- ``redis``: pub/sub on the cache's Redis.

Run: ``.venv/bin/python -m benchmarks.events`` (``BENCH_RUNS=15``). PostgreSQL as in
``benchmarks.registrations``; Redis from ``HRSS_BENCH_REDIS_URL`` or 127.0.0.1:6379.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from adapters.standin.process import RunningStandin
from benchmarks.common import standins, start_gateway
from benchmarks.registrations import (
    HIRE,
    asyncpg_url,
    create_database,
    drop_database,
    hire_input,
)
from gateway.app import create_app
from gateway.demo import DEMO_PASSWORD, demo_people
from gateway.events import PostgresEvents, RedisEvents
from gateway.registrations.engine import run_worker
from gateway.services import Gateway

REDIS_URL = os.environ.get("HRSS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POLL_S = 1.0


async def _listening(gw: Gateway) -> None:
    if isinstance(gw.events, PostgresEvents | RedisEvents):
        await asyncio.wait_for(gw.events.listening.wait(), 10)


async def measure(
    running: list[RunningStandin], store_url: str, tmp: Path, carrier: str, runs: int, born: int
) -> list[float]:
    events_url = {"local": "local", "postgresql": store_url, "redis": REDIS_URL}.get(
        carrier, "local"
    )
    settings = {
        "store_url": store_url,
        "events_url": events_url,
        "events_channel": f"hrss_bench_{secrets.token_hex(4)}",
        "run_worker": False,
    }
    a = await start_gateway(running, tmp, **settings)
    b = await start_gateway(running, tmp, **settings)
    await asyncio.gather(_listening(a), _listening(b))
    app = create_app(a.config, gateway=a)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    login = 'mutation($p: String!) { login(username: "demo-employer", password: $p) { token } }'
    body = await http.post("/graphql", json={"query": login, "variables": {"p": DEMO_PASSWORD}})
    headers = {"Authorization": f"Bearer {body.json()['data']['login']['token']}"}
    stop = asyncio.Event()
    # The reference: A's own worker, woken in its process, as one `serve` does.
    works = a if carrier == "same process" else b
    worker = asyncio.create_task(run_worker(works, stop=stop, poll_interval=POLL_S))
    people = demo_people(runs + 1, born_from=dt.date(1960, 1, 1) + dt.timedelta(days=born))
    start = dt.date.today()

    async def hire(index: int) -> float:
        began = time.perf_counter()
        variables = {"w": [hire_input(people[index], start)], "k": uuid.uuid4().hex}
        payload = {"query": HIRE, "variables": variables}
        answer = await http.post("/graphql", json=payload, headers=headers)
        registration_id = answer.json()["data"]["hire"]["registrations"][0]["id"]
        while True:
            found = await a.store.registrations.get(registration_id)
            assert found is not None
            if found.state.is_final:
                return time.perf_counter() - began
            await asyncio.sleep(0.002)

    try:
        await hire(runs)  # warm: the WSDL, the connections, the statement caches
        samples = []
        for i in range(runs):
            samples.append(await hire(i))
            # Not in step with B's poll: each hire lands somewhere else in its second.
            await asyncio.sleep(0.137)
        return samples
    finally:
        stop.set()
        await worker
        await http.aclose()
        await a.close()
        await b.close()


async def main() -> None:
    runs = int(os.environ.get("BENCH_RUNS", "15"))
    database = await create_database()
    if database is None:
        print("PostgreSQL not reachable: nothing measured")
        return
    print(f"A hire submitted on gateway A, carried out by gateway B's worker (poll {POLL_S} s)")
    print(f"   {'events':12}{'median ms':>10}{'p90 ms':>9}{'slowest ms':>11}")
    try:
        with tempfile.TemporaryDirectory() as tmp, standins(Path(tmp)) as running:
            carriers = ("same process", "local", "postgresql", "redis")
            for n, carrier in enumerate(carriers):
                samples = await measure(
                    running, asyncpg_url(database), Path(tmp), carrier, runs, born=n * 400
                )
                ms = sorted(s * 1000 for s in samples)
                p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
                print(f"   {carrier:12}{statistics.median(ms):>10.1f}{p90:>9.1f}{ms[-1]:>11.1f}")
    finally:
        await drop_database(database)


if __name__ == "__main__":
    asyncio.run(main())
