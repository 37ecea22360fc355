"""The unified graph, measured against the stand-ins on loopback, side by side in one run.

1. Calls per system for one page of 100 workers with all three systems' fields,
   first and repeated (counted by the stand-ins' /__sim/stats).
2. Fan-out: one query touching all three systems with injected latencies, divided
   by the slowest system's latency (target: at most 1.3).
3. Overhead: median latency of a small cached query through the gateway, divided by
   the same query on a bare Strawberry schema in the same process (target: 1.5).

Run: ``make bench`` (or ``.venv/bin/python -m benchmarks.graph``).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
from pathlib import Path

import strawberry
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS, WORKERS
from benchmarks.common import Client, standins, start_gateway, timed
from gateway.app import create_app
from gateway.demo import demo_people, populate_employer
from gateway.domain.identifiers import uscc_check
from gateway.domain.model import EmployerProfile
from gateway.services import Gateway

PAGE = """query($c: String!) { employer(creditCode: $c) { workers(first: 100) {
  edges { node { idNumber status employmentRecords { state } labourContracts { state }
  unemploymentRegistrations { state } } } } } }"""
ONE = """query($c: String!, $n: String!) { employer(creditCode: $c) {
  worker(idType: RESIDENT_ID, idNumber: $n) { status employmentRecords { state }
  labourContracts { state } unemploymentRegistrations { state } } } }"""
SMALL = "{ employer { name creditCode } }"


async def calls_per_page(gw: Gateway, admin: Client, standins: list[RunningStandin]) -> None:
    profile = EmployerProfile(_valid("91370102MA3BENCH0"), "基准测试制造有限公司", "370102")
    adapters = (gw.employment, gw.labour, gw.unemployment)
    record = await populate_employer(adapters, gw.store, profile, demo_people(100))
    print("\n1. Calls per system, one page of 100 workers with all three systems' fields")
    print(f"   {'':10}{'employment':>22}{'labour':>18}{'unemployment':>22}")
    for label in ("first", "repeated"):
        for s in standins:
            s.reset()
        await admin.post(PAGE, {"c": record.credit_code})
        e, lab, u = (s.stats() for s in standins)
        print(f"   {label:10}{_fmt(e):>22}{_fmt(lab):>18}{_fmt(u):>22}")


def _fmt(stats: dict[str, int]) -> str:
    return ", ".join(f"{k.split('.')[-1]} {v}" for k, v in sorted(stats.items())) or "none"


def _valid(body17: str) -> str:
    return body17 + uscc_check(body17)


async def fan_out(gw: Gateway, admin: Client, standins: list[RunningStandin], runs: int) -> None:
    worker = next(w for w in WORKERS if w.employer == 0 and w.label == "employed")
    variables = {"c": EMPLOYERS[0].profile.credit_code, "n": worker.person.id_number}
    await admin.post(ONE, variables)  # the employer binding is cached from here on
    print("\n2. Fan-out: one worker from all three systems, cold record cache")
    print(f"   {'latencies (ms) e/l/u':24}{'median ms':>10}{'slowest ms':>11}{'ratio':>7}")
    for latencies in ((50, 100, 200), (200, 50, 100), (100, 200, 50)):
        for s, ms in zip(standins, latencies, strict=True):
            s.faults(latency_ms=ms)
        samples = []
        for _ in range(runs):
            await gw.cache.clear()
            samples.append(await timed(lambda: admin.post(ONE, variables)))
        # The binding was cleared with the cache: the first sample looked it up again.
        median = statistics.median(samples[1:]) * 1000
        slowest = max(latencies)
        print(
            f"   {'/'.join(map(str, latencies)):24}{median:>10.1f}{slowest:>11}"
            f"{median / slowest:>7.2f}"
        )
    for s in standins:
        s.reset()


@strawberry.type
class _BareEmployer:
    name: str
    credit_code: str


@strawberry.type
class _BareQuery:
    @strawberry.field
    def employer(self) -> _BareEmployer:
        return _BareEmployer(
            name=EMPLOYERS[0].profile.name, credit_code=EMPLOYERS[0].profile.credit_code
        )


async def overhead(employer: Client, runs: int) -> None:
    plain = Client(GraphQL(strawberry.Schema(query=_BareQuery)))
    # The same document caches the gateway uses, so that the ratio is what the
    # gateway adds (sign-in, authorization, context), not what the caches save.
    cached = Client(
        GraphQL(
            strawberry.Schema(
                query=_BareQuery,
                extensions=[lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)],
            )
        )
    )
    clients = {"gateway": employer, "bare": plain, "bare+caches": cached}
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for c in clients.values():
        await c.post(SMALL)
    for _ in range(runs):  # interleaved, so that all see the same machine
        for name, c in clients.items():
            samples[name].append(await timed(lambda c=c: c.post(SMALL)))  # type: ignore[misc]
    ms = {name: statistics.median(v) * 1000 for name, v in samples.items()}
    print("\n3. Overhead of a small cached query (an employer's name and credit code)")
    print(
        f"   gateway {ms['gateway']:.2f} ms; bare Strawberry {ms['bare']:.2f} ms "
        f"(ratio {ms['gateway'] / ms['bare']:.2f}); bare Strawberry with the same "
        f"document caches {ms['bare+caches']:.2f} ms (ratio "
        f"{ms['gateway'] / ms['bare+caches']:.2f})"
    )


async def main() -> None:
    runs = int(os.environ.get("BENCH_RUNS", "15"))
    with tempfile.TemporaryDirectory() as tmp, standins(Path(tmp)) as running:
        gw = await start_gateway(running, Path(tmp))
        anonymous = Client(create_app(gw.config, gateway=gw))
        admin = await anonymous.login("demo-admin")
        await calls_per_page(gw, admin, running)
        await fan_out(gw, admin, running, runs)
        await overhead(await anonymous.login("demo-employer"), runs * 20)
        await gw.close()


if __name__ == "__main__":
    asyncio.run(main())
