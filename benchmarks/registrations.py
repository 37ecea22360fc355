"""Integrated registrations, measured against the stand-ins on loopback in one run.

1. Throughput: hires stored, then carried out by one worker, on the embedded
   SQLite store and on PostgreSQL, each as a share of the ceiling: the same
   hires sent straight through the gateway's adapters (32 calls in flight, no
   store), measured just before and just after, as the machine's load drifts
   (targets: at least 0.5 on SQLite, 0.7 on PostgreSQL); the store's work per hire
   (transactions and statements, counted by SQLAlchemy event listeners while
   the worker runs; the benchmark's own polling uses an engine of its own); and
   this process's CPU time per hire, the ceiling's and the gateway's (``cpu
   ms/hire``, ceiling/gateway, every thread of the process: the stand-ins run in
   processes of their own). The machine's load moves the rates a lot and the CPU
   time little: the CPU per hire says what the gateway itself costs.
2. One hire, from the mutation to the registration completed, with injected
   latencies, against the same hire's two writes sent straight through the
   adapters (target: at most 1.2 times).
3. Scaling: 50 ms injected in every system; two workers (engines with owners of
   their own, ``worker_concurrency`` 2 each, in this process) against one (target:
   at least 1.7). Few steps in flight keep each worker bound by the systems'
   latency rather than by this process's share of a shared machine.

Run: ``make bench`` (or ``.venv/bin/python -m benchmarks.registrations``).
PostgreSQL is taken from ``HRSS_BENCH_POSTGRES_URL`` or the local server
(127.0.0.1:5432, database ``test``); without one, its rows say so. A server on
the same machine through its Unix socket:
``HRSS_BENCH_POSTGRES_URL='postgresql://postgres@/test?host=/var/run/postgresql'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from benchmarks.common import standins, start_gateway
from gateway.app import create_app
from gateway.demo import DEMO_PASSWORD, demo_people
from gateway.domain.model import Business as RowBusiness
from gateway.domain.model import (
    ContractType,
    EmploymentForm,
    EmploymentPersonCategory,
    FilingPersonCategory,
    Person,
    RegistrationRow,
    System,
)
from gateway.registrations.model import Channel, Registration, RegistrationState
from gateway.registrations.operations import write
from gateway.registrations.plan import new_id, plan_row
from gateway.registrations.wiring import run_worker
from gateway.services import Gateway
from gateway.store import tables as t

HIRE = """mutation($w: [HireInput!]!, $k: String!) {
  hire(workers: $w, idempotencyKey: $k) { registrations { id } problems { code } } }"""

UNIT = EMPLOYERS[0]
#: Calls in flight for the ceiling, and steps in flight for a worker of the throughput.
IN_FLIGHT = 32
#: Steps in flight per worker in the scaling measure.
SCALING_CONCURRENCY = 2
FINAL = [s.value for s in RegistrationState if s.is_final]


def people(n: int, year: int) -> list[Person]:
    """``n`` people for one measure: each measure hires people of its own."""
    return demo_people(n, born_from=dt.date(year, 1, 1))


def hire_input(p: Person, start: dt.date) -> dict[str, Any]:
    return {
        "person": {
            "name": p.name,
            "gender": p.gender.name,
            "ethnicity": p.ethnicity,
            "idType": p.id_type.name,
            "idNumber": p.id_number,
            "mobile": p.mobile,
            "householdAddress": p.household_address,
            "currentAddress": p.current_address,
            "education": p.education.name,
        },
        "contract": {
            "contractType": "FIXED_TERM",
            "startDate": start.isoformat(),
            "endDate": (start + dt.timedelta(days=1095)).isoformat(),
            "filingPersonCategory": "URBAN_EMPLOYEE",
            "employmentForm": "FULL_TIME",
            "post": "装配工",
            "labourFilingLocality": "370102",
        },
        "employmentPersonCategory": "NEW_URBAN_ENTRANT",
        "employmentLocality": "370102",
    }


def hire_row(p: Person, start: dt.date) -> RegistrationRow:
    return RegistrationRow(
        RowBusiness.HIRE,
        p.name,
        p.gender,
        p.ethnicity,
        p.id_type,
        p.id_number,
        p.mobile,
        p.household_address,
        p.current_address,
        p.education,
        contract_type=ContractType.FIXED_TERM,
        start_date=start,
        contract_end_date=start + dt.timedelta(days=1095),
        employment_person_category=EmploymentPersonCategory.NEW_URBAN_ENTRANT,
        filing_person_category=FilingPersonCategory.URBAN_EMPLOYEE,
        employment_form=EmploymentForm.FULL_TIME,
        post="装配工",
        employment_locality="370102",
        labour_filing_locality="370102",
    )


async def gateway_for(
    running: list[RunningStandin], store_url: str, tmp: Path, concurrency: int = IN_FLIGHT
) -> Gateway:
    return await start_gateway(running, tmp, store_url=store_url, worker_concurrency=concurrency)


def planned(hired: Sequence[Person], start: dt.date) -> list[Registration]:
    """The hires as the gateway plans them, for sending without it."""
    ids = {
        System.EMPLOYMENT: UNIT.employment_id,
        System.LABOUR: UNIT.labour_id,
        System.UNEMPLOYMENT: UNIT.unemployment_id,
    }
    now = dt.datetime.now(dt.UTC)
    return [
        plan_row(
            hire_row(p, start),
            UNIT.profile.credit_code,
            UNIT.profile.division,
            ids,
            submission_id=new_id(),
            channel=Channel.GOVERNMENT_PORTAL,
            actor_id=None,
            actor_username=None,
            warnings=[],
            now=now,
            step_deadline=dt.timedelta(hours=1),
        )
        for p in hired
    ]


async def straight(gw: Gateway, registrations: Sequence[Registration], in_flight: int) -> float:
    """Seconds to send every step of ``registrations`` through the adapters, no store."""
    slots = asyncio.Semaphore(in_flight)

    async def send(registration: Registration) -> None:
        async def one(index: int) -> None:
            step = registration.steps[index]
            async with slots:
                await write(gw.adapters[step.system], step)

        await asyncio.gather(*(one(i) for i in range(len(registration.steps))))

    began = time.perf_counter()
    await asyncio.gather(*(send(r) for r in registrations))
    return time.perf_counter() - began


async def ceiling(
    running: list[RunningStandin], tmp: Path, n: int, year: int
) -> tuple[float, float]:
    """Hires per second straight through the adapters, and this process's CPU
    time per hire (ms) meanwhile."""
    gw = await gateway_for(running, f"sqlite+aiosqlite:///{tmp}/ceiling{year}.db", tmp)
    try:
        registrations = planned(people(n, year), dt.date.today())
        warm = planned(people(1, year - 30), dt.date.today())
        await straight(gw, warm, IN_FLIGHT)  # the WSDL, the connections
        cpu = time.process_time()
        seconds = await straight(gw, registrations, IN_FLIGHT)
        return n / seconds, (time.process_time() - cpu) * 1000 / n
    finally:
        await gw.close()


@dataclass
class Work:
    """What the store was asked while a worker ran."""

    transactions: int = 0
    statements: int = 0


@contextlib.contextmanager
def counted(gw: Gateway) -> Any:
    engine = gw.store.db.engine.sync_engine
    work = Work()

    def begin(_conn: Any) -> None:
        work.transactions += 1

    def execute(*args: Any) -> None:
        statement: str = args[2]
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's, counted above
            work.statements += 1

    sa.event.listen(engine, "begin", begin)
    sa.event.listen(engine, "before_cursor_execute", execute)
    try:
        yield work
    finally:
        sa.event.remove(engine, "begin", begin)
        sa.event.remove(engine, "before_cursor_execute", execute)


@contextlib.asynccontextmanager
async def watcher(store_url: str) -> AsyncIterator[Any]:
    """A connection pool of the benchmark's own, to see registrations finish."""
    engine = create_async_engine(store_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def finished(engine: Any, ids: Sequence[str] | None, state: Sequence[str] = FINAL) -> int:
    """How many of ``ids`` (every registration in the store when None) are in ``state``."""
    r = t.registrations
    async with engine.connect() as conn:
        query = sa.select(sa.func.count()).where(r.c.state.in_(state))
        if ids is not None:
            query = query.where(r.c.id.in_(ids))
        found: int = (await conn.execute(query)).scalar_one()
    return found


@dataclass
class Rate:
    per_second: float
    work: Work
    n: int
    #: This process's CPU time (every thread) while the worker ran, per hire, ms.
    cpu_ms: float


async def store_hires(gw: Gateway, n: int, year: int) -> None:
    """``n`` hires at the demo employer, each a submission of its own as employers
    send them, for a worker to carry out."""
    employer = await gw.store.employers.get(UNIT.profile.credit_code)
    actor = await gw.store.accounts.get("demo-employer")
    assert employer is not None
    assert actor is not None
    start = dt.date.today()
    for p in people(n, year):
        await gw.registrar.submit(
            actor=actor,
            channel=Channel.GOVERNMENT_PORTAL,
            employer=employer,
            rows=[hire_row(p, start)],
            idempotency_key=uuid.uuid4().hex,
        )


async def throughput(
    running: list[RunningStandin],
    store_url: str,
    tmp: Path,
    n: int,
    *,
    year: int,
    workers: int = 1,
    concurrency: int = IN_FLIGHT,
    latency_ms: int = 0,
) -> Rate:
    gw = await gateway_for(running, store_url, tmp, concurrency)
    await store_hires(gw, n, year)  # stored first, then carried out: the rate is the worker's
    for s in running:
        s.faults(latency_ms=latency_ms)
    try:
        async with watcher(store_url) as engine:
            with counted(gw) as work:
                stop = asyncio.Event()
                began = time.perf_counter()
                cpu = time.process_time()
                tasks = [
                    asyncio.create_task(run_worker(gw, stop=stop, poll_interval=0.05))
                    for _ in range(workers)
                ]
                # Polled (the workers report nothing), counting every registration
                # of the store, which holds only these: one small query, where a
                # list of every id was a statement of n parameters 50 times a second.
                while True:
                    if await finished(engine, None) == n:
                        break
                    await asyncio.sleep(0.02)
                elapsed = time.perf_counter() - began
                cpu = time.process_time() - cpu
                stop.set()
                await asyncio.gather(*tasks)
            completed = await finished(engine, None, [RegistrationState.COMPLETED.value])
            if completed != n:
                raise RuntimeError(f"only {completed} of {n} hires completed")
    finally:
        for s in running:
            s.reset()
        await gw.close()
    return Rate(n / elapsed, work, n, cpu * 1000 / n)


async def end_to_end(running: list[RunningStandin], tmp: Path, runs: int) -> None:
    gw = await gateway_for(running, f"sqlite+aiosqlite:///{tmp}/e2e.db", tmp)
    app = create_app(gw.config, gateway=gw)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    body = (
        await http.post(
            "/graphql",
            json={
                "query": 'mutation($p: String!) { login(username: "demo-employer",'
                " password: $p) { token } }",
                "variables": {"p": DEMO_PASSWORD},
            },
        )
    ).json()
    headers = {"Authorization": f"Bearer {body['data']['login']['token']}"}
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(gw, stop=stop, poll_interval=1.0))
    hired = people(runs * 3 + 1, 1985)
    direct = planned(people(runs * 3 + 1, 1986), dt.date.today())
    print("\n2. One hire, from the mutation to the registration completed (SQLite)")
    print(
        f"   {'latencies (ms) e/l':20}{'gateway ms':>11}{'straight ms':>12}{'ratio':>7}"
        f"{'/ slowest':>10}"
    )
    start = dt.date.today()

    async def hire(person: Person) -> float:
        began = time.perf_counter()
        answer = await http.post(
            "/graphql",
            json={
                "query": HIRE,
                "variables": {"w": [hire_input(person, start)], "k": uuid.uuid4().hex},
            },
            headers=headers,
        )
        registration_id = answer.json()["data"]["hire"]["registrations"][0]["id"]
        while True:  # polled through a pool of its own, with one small query
            if await finished(watch, [registration_id]):
                return time.perf_counter() - began
            await asyncio.sleep(0.003)

    watch = create_async_engine(f"sqlite+aiosqlite:///{tmp}/e2e.db")
    await hire(hired[-1])  # warm: the WSDL, the connections, the statement caches
    await straight(gw, direct[-1:], IN_FLIGHT)
    for index, latencies in enumerate(((100, 200), (200, 100), (200, 200))):
        running[0].faults(latency_ms=latencies[0])
        running[1].faults(latency_ms=latencies[1])
        through = [await hire(hired[index * runs + i]) for i in range(runs)]
        alone = [await straight(gw, [direct[index * runs + i]], IN_FLIGHT) for i in range(runs)]
        median = statistics.median(through) * 1000
        bare = statistics.median(alone) * 1000
        print(
            f"   {'/'.join(map(str, latencies)):20}{median:>11.1f}{bare:>12.1f}"
            f"{median / bare:>7.2f}{median / max(latencies):>10.2f}"
        )
    for s in running:
        s.reset()
    stop.set()
    await worker
    await watch.dispose()
    await http.aclose()
    await gw.close()


ADMIN_URL = os.environ.get("HRSS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def create_database() -> str | None:
    """A database of its own for this run (dropped after), or None without a server."""
    name = f"hrss_bench_{uuid.uuid4().hex[:8]}"
    try:
        conn = await asyncpg.connect(ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=3)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def asyncpg_url(database: str) -> str:
    """The store URL of ``database`` on ADMIN_URL's server, its query kept (a Unix
    socket's folder: ``postgresql://postgres@/test?host=/var/run/postgresql``)."""
    url = make_url(ADMIN_URL).set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def store_for(name: str, tmp: Path, label: str) -> AsyncIterator[str]:
    """A new, empty store of that backend for one measure (a PostgreSQL database
    of its own, dropped after)."""
    if name == "SQLite":
        yield f"sqlite+aiosqlite:///{tmp}/{label}.db"
        return
    database = await create_database()
    assert database is not None
    try:
        yield asyncpg_url(database)
    finally:
        await drop_database(database)


async def main() -> None:
    runs = int(os.environ.get("BENCH_RUNS", "7"))
    n = int(os.environ.get("BENCH_REGISTRATIONS", "200"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    with tempfile.TemporaryDirectory() as tmp, standins(Path(tmp)) as running:
        tmp_path = Path(tmp)
        probe = await create_database()
        names = ["SQLite"]
        if probe:
            await drop_database(probe)
            names.append("PostgreSQL")
        print(
            f"\n1. Throughput: {n} hires stored, then carried out by one worker"
            f" ({IN_FLIGHT} steps in flight),\n   against the ceiling: the same hires"
            f" straight through the adapters ({IN_FLIGHT} calls\n   in flight, no store),"
            f" measured back to back; medians of {rounds} rounds"
        )
        print(
            f"   {'store':12}{'ceiling/s':>10}{'hires/s':>9}{'ratio':>7}{'txns/hire':>11}"
            f"{'stmts/hire':>12}{'cpu ms/hire':>13}"
        )
        year = 1960
        for name in names:
            # The machine's load drifts within seconds: each round measures the
            # ceiling and the gateway back to back, each first in turn.
            ratios, rates, tops, work = [], [], [], Work()
            cpus: list[float] = []
            top_cpus: list[float] = []
            for round_ in range(rounds):
                async with store_for(name, tmp_path, f"rate{year}") as url:
                    top, top_cpu = 0.0, 0.0
                    if round_ % 2 == 0:
                        top, top_cpu = await ceiling(running, tmp_path, n, year)
                    rate = await throughput(running, url, tmp_path, n, year=year + 1)
                    if round_ % 2 == 1:
                        top, top_cpu = await ceiling(running, tmp_path, n, year)
                year += 2
                ratios.append(rate.per_second / top)
                rates.append(rate.per_second)
                tops.append(top)
                cpus.append(rate.cpu_ms)
                top_cpus.append(top_cpu)
                work.transactions += rate.work.transactions
                work.statements += rate.work.statements
            hires = n * rounds
            print(
                f"   {name:12}{statistics.median(tops):>10.1f}"
                f"{statistics.median(rates):>9.1f}{statistics.median(ratios):>7.2f}"
                f"{work.transactions / hires:>11.1f}{work.statements / hires:>12.1f}"
                f"{statistics.median(top_cpus):>6.1f}/{statistics.median(cpus):<6.1f}"
            )
        if len(names) == 1:
            print("   PostgreSQL   not reachable")
        await end_to_end(running, tmp_path, runs)
        print(
            f"\n3. Scaling: {n} hires, 50 ms injected in every system,"
            f" {SCALING_CONCURRENCY} steps in flight per worker"
        )
        print(f"   {'store':12}{'1 worker/s':>11}{'2 workers/s':>12}{'ratio':>7}")
        for name in names:
            carried = []
            for workers in (1, 2):
                async with store_for(name, tmp_path, f"scale{year}") as url:
                    rate = await throughput(
                        running,
                        url,
                        tmp_path,
                        n,
                        year=year,
                        workers=workers,
                        concurrency=SCALING_CONCURRENCY,
                        latency_ms=50,
                    )
                year += 1
                carried.append(rate.per_second)
            one, two = carried
            print(f"   {name:12}{one:>11.1f}{two:>12.1f}{two / one:>7.2f}")


if __name__ == "__main__":
    asyncio.run(main())
