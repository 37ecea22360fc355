"""Failing systems, measured against the stand-ins on loopback, side by side in one run.

The labour system is the one that fails: healthy, at 10 s latency (its timeout
here is 2 s), or down (answering 503). The gateway is the real one, its
adapters wrapped by ``gateway.resilience`` with the default policy (breaker
opens after 5 consecutive failures, recovers after 30 s; reads tried 3 times).
Worker records are not cached, so that every query reaches the systems.

1. Isolation: the median latency of a query that does not touch labour (20
   workers' employment and unemployment records) in each state, alone and
   while 4 clients keep querying labour; the ratio to the healthy state.
2. The query that touches labour (the same workers' employment records and
   labour contracts): the first query, the queries it takes for the breaker to
   open, and the median once it is open; and the same without the wrapper.

Run: ``make bench`` (or ``.venv/bin/python -m benchmarks.resilience``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import statistics
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from benchmarks.common import Client, standins, start_gateway, timed
from gateway.app import create_app
from gateway.domain.model import System
from gateway.http.ratelimit import RateLimits
from gateway.resilience import ResiliencePolicy, Resilient
from gateway.services import Gateway
from gateway.systems import LabourSystem

TIMEOUT_S = 2.0
SLOW_MS = 10_000
USERS = 4

NOT_LABOUR = """query($c: String!) { employer(creditCode: $c) { workers(first: 20) {
  edges { node { idNumber employmentRecords { state }
  unemploymentRegistrations { state } } } } } }"""
WITH_LABOUR = """query($c: String!) { employer(creditCode: $c) { workers(first: 20) {
  edges { node { idNumber employmentRecords { state } labourContracts { state } } } } } }"""
VARIABLES = {"c": EMPLOYERS[0].profile.credit_code}

#: The labour system's states, as stand-in faults.
STATES: dict[str, dict[str, Any]] = {
    "healthy": {},
    f"{SLOW_MS // 1000} s latency": {"latency_ms": SLOW_MS},
    "down": {"down": True},
}


async def raw_post(client: Client, query: str) -> dict[str, Any]:
    """The answer, errors and all (``Client.post`` raises on any error)."""
    headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
    r = await client.http.post(
        "/graphql", json={"query": query, "variables": VARIABLES}, headers=headers
    )
    body: dict[str, Any] = r.json()
    return body


class Bench:
    def __init__(self, gw: Gateway, labour: LabourSystem, standin: RunningStandin) -> None:
        self.gw = gw
        self.bare_labour = labour
        self.standin = standin

    def fresh_breaker(self) -> Resilient[LabourSystem]:
        """A new wrapper around the same adapter: a closed breaker for each measurement."""
        policy = ResiliencePolicy.for_system(self.gw.config.system(System.LABOUR))
        wrapped = Resilient(self.bare_labour, policy)
        self.gw.labour = wrapped  # type: ignore[assignment]
        return wrapped

    @contextlib.contextmanager
    def labour_state(self, state: str) -> Iterator[None]:
        self.standin.reset()
        self.standin.faults(**STATES[state])
        try:
            yield
        finally:
            self.standin.reset()


@contextlib.asynccontextmanager
async def users_of_labour(client: Client, n: int) -> AsyncIterator[None]:
    """``n`` clients querying labour back to back, until the block ends."""
    done = asyncio.Event()

    async def user() -> None:
        # Each finishes the query it is in (cancelling it mid-way would leave
        # the GraphQL executor's coroutines half-run).
        while not done.is_set():
            await raw_post(client, WITH_LABOUR)
            await asyncio.sleep(0.02)

    tasks = [asyncio.create_task(user()) for _ in range(n)]
    try:
        yield
    finally:
        done.set()
        await asyncio.gather(*tasks)


async def isolation(bench: Bench, client: Client, runs: int) -> None:
    print(
        f"\n1. A query that does not touch labour (20 workers, employment and unemployment),"
        f"\n   median of {runs * 3} runs per state alone (twice as many healthy: first and"
        f" last),\n   {runs // 3 * 3} with users; labour's timeout {TIMEOUT_S:g} s"
    )
    print(f"   {'labour is':16}{'alone ms':>10}{'ratio':>7}{f'+{USERS} users ms':>15}{'ratio':>7}")
    medians: dict[tuple[str, int], float] = {}
    samples: dict[tuple[str, int], list[float]] = {}
    order = ["healthy", *list(STATES)[1:], "healthy"]
    for _ in range(runs):  # warm: parsers, caches, connections
        await client.post(NOT_LABOUR, VARIABLES)
    # Alone, nothing calls labour: its state can change between two samples,
    # so that the states are measured in turn, sample by sample.
    for _ in range(runs * 3):
        for state in order:
            with bench.labour_state(state):
                samples.setdefault((state, 0), []).append(
                    await timed(lambda: client.post(NOT_LABOUR, VARIABLES))
                )
                # The query really leaves labour alone.
                assert not bench.standin.stats(), bench.standin.stats()
    # With users of labour, each state needs a moment of its own (the users'
    # calls in flight, the breaker): short blocks, taken in turn over rounds.
    per_block = 3
    for _ in range(max(1, runs // per_block)):
        for state in order:
            bench.fresh_breaker()
            with bench.labour_state(state):
                async with users_of_labour(client, USERS):
                    for _ in range(per_block):
                        samples.setdefault((state, USERS), []).append(
                            await timed(lambda: client.post(NOT_LABOUR, VARIABLES))
                        )
    for key, values in samples.items():
        medians[key] = statistics.median(values) * 1000
    for state in STATES:
        alone, loaded = medians[(state, 0)], medians[(state, USERS)]
        print(
            f"   {state:16}{alone:>10.1f}{alone / medians[('healthy', 0)]:>7.2f}"
            f"{loaded:>15.1f}{loaded / medians[('healthy', USERS)]:>7.2f}"
        )


async def touching(bench: Bench, client: Client, runs: int) -> None:
    print("\n2. A query that touches labour (20 workers, employment records and labour contracts)")
    print(
        f"   {'labour is':16}{'first ms':>10}{'until open':>12}"
        f"{'then median ms':>16}{'unwrapped median ms':>21}"
    )
    for state in STATES:
        with bench.labour_state(state):
            wrapped = bench.fresh_breaker()
            first = await timed(lambda: raw_post(client, WITH_LABOUR))
            until_open = 1
            while wrapped.breaker_state == "closed" and until_open < 50:
                await raw_post(client, WITH_LABOUR)
                until_open += 1
            after = [await timed(lambda: raw_post(client, WITH_LABOUR)) for _ in range(runs)]
            opened = str(until_open) if wrapped.breaker_state != "closed" else "never"

            # The same without the wrapper: a bare adapter pays every time.
            bench.gw.labour = bench.bare_labour
            bare_runs = max(3, runs // 3) if state != "healthy" else runs
            bare = [await timed(lambda: raw_post(client, WITH_LABOUR)) for _ in range(bare_runs)]
        print(
            f"   {state:16}{first * 1000:>10.1f}{opened:>12}"
            f"{statistics.median(after) * 1000:>16.1f}{statistics.median(bare) * 1000:>21.1f}"
        )


async def main() -> None:
    # The breaker's warnings are expected here; the table says what happened.
    logging.getLogger("gateway.resilience").setLevel(logging.ERROR)
    runs = int(os.environ.get("BENCH_RUNS", "15"))
    with tempfile.TemporaryDirectory() as tmp, standins(Path(tmp)) as running:
        gw = await start_gateway(
            running,
            Path(tmp),
            system_timeout=TIMEOUT_S,
            # Worker records gone at once: every query reaches the systems.
            worker_cache_ttl_s=0.001,
            # Hundreds of queries from one account: the limits would measure themselves.
            rate_limits=RateLimits(enabled=False),
        )
        assert isinstance(gw.labour, Resilient)
        bare_labour = gw.labour.wrapped  # the adapter itself, for the "unwrapped" column
        admin = await Client(create_app(gw.config, gateway=gw)).login("demo-admin")
        bench = Bench(gw, bare_labour, running[1])
        bench.fresh_breaker()
        await admin.post(WITH_LABOUR, VARIABLES)  # the WSDL, the bindings: warm
        await isolation(bench, admin, runs)
        await touching(bench, admin, runs)
        await gw.close()


if __name__ == "__main__":
    asyncio.run(main())
