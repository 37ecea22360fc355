"""Integrated registrations, measured against the stand-ins on loopback in one run.

1. End to end: a hire (the mutation, then the worker until the registration is
   completed) with injected latencies, divided by the slowest of its two steps
   (target: at most 1.3; one step after the other would give about 2).
2. Throughput: registrations completed per second with no injected latency, on the
   embedded SQLite store and on PostgreSQL, side by side.

Run: ``make bench`` (or ``.venv/bin/python -m benchmarks.registrations``).
PostgreSQL is taken from ``HRSS_BENCH_POSTGRES_URL`` or the local server
(127.0.0.1:5432, database ``test``); without one, its column says so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

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
)
from gateway.registrations.model import Channel
from gateway.registrations.wiring import run_worker
from gateway.services import Gateway

HIRE = """mutation($w: [HireInput!]!, $k: String!) {
  hire(workers: $w, idempotencyKey: $k) { registrations { id } problems { code } } }"""


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


async def gateway_for(standins: list[RunningStandin], store_url: str, tmp: Path) -> Gateway:
    return await start_gateway(standins, tmp, store_url=store_url, worker_concurrency=32)


async def end_to_end(standins: list[RunningStandin], tmp: Path, runs: int) -> None:
    gw = await gateway_for(standins, f"sqlite+aiosqlite:///{tmp}/e2e.db", tmp)
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
    people = demo_people(runs * 3 + 1, born_from=dt.date(1975, 1, 1))
    print("\n1. End to end: one hire, from the mutation to the registration completed")
    print(f"   {'latencies (ms) e/l':20}{'median ms':>10}{'slowest ms':>11}{'ratio':>7}")
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
        while True:
            found = await gw.store.registrations.get(registration_id)
            assert found is not None
            if found.state.is_final:
                return time.perf_counter() - began
            await asyncio.sleep(0.002)

    await hire(people[-1])  # warm: the WSDL, the connections, the statement caches
    for index, latencies in enumerate(((100, 200), (200, 100), (200, 200))):
        standins[0].faults(latency_ms=latencies[0])
        standins[1].faults(latency_ms=latencies[1])
        samples = [await hire(people[index * runs + i]) for i in range(runs)]
        median = statistics.median(samples) * 1000
        slowest = max(latencies)
        print(
            f"   {'/'.join(map(str, latencies)):20}{median:>10.1f}{slowest:>11}"
            f"{median / slowest:>7.2f}"
        )
    for s in standins:
        s.reset()
    stop.set()
    await worker
    await http.aclose()
    await gw.close()


async def throughput(standins: list[RunningStandin], store_url: str, tmp: Path, n: int) -> float:
    gw = await gateway_for(standins, store_url, tmp)
    employer = await gw.store.employers.get(EMPLOYERS[0].profile.credit_code)
    actor = await gw.store.accounts.get("demo-employer")
    assert employer is not None
    assert actor is not None
    people = demo_people(
        n, born_from=dt.date(1960, 1, 1) + dt.timedelta(days=hash(store_url) % 3000)
    )
    start = dt.date.today()
    outcomes = []
    for p in people:  # stored first, then carried out: the rate is the worker's
        outcomes.append(
            await gw.registrar.submit(
                actor=actor,
                channel=Channel.GOVERNMENT_PORTAL,
                employer=employer,
                rows=[hire_row(p, start)],
                idempotency_key=uuid.uuid4().hex,
            )
        )
    ids = [o.registrations[0].id for o in outcomes]
    stop = asyncio.Event()
    began = time.perf_counter()
    worker = asyncio.create_task(run_worker(gw, stop=stop, poll_interval=0.05))
    for registration_id in ids:
        while True:
            found = await gw.store.registrations.get(registration_id)
            assert found is not None
            if found.state.is_final:
                break
            await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - began
    stop.set()
    await worker
    await gw.close()
    return n / elapsed


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
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


async def main() -> None:
    runs = int(os.environ.get("BENCH_RUNS", "7"))
    n = int(os.environ.get("BENCH_REGISTRATIONS", "200"))
    with tempfile.TemporaryDirectory() as tmp, standins(Path(tmp)) as running:
        tmp_path = Path(tmp)
        await end_to_end(running, tmp_path, runs)
        sqlite = await throughput(running, f"sqlite+aiosqlite:///{tmp}/rate.db", tmp_path, n)
        database = await create_database()
        pg = None
        if database:
            try:
                pg = await throughput(running, asyncpg_url(database), tmp_path, n)
            finally:
                await drop_database(database)
        print(f"\n2. Throughput: {n} hires stored, then carried out (no injected latency)")
        print(
            f"   SQLite {sqlite:.1f} registrations/s; PostgreSQL "
            + (f"{pg:.1f} registrations/s" if pg else "not reachable")
        )


if __name__ == "__main__":
    asyncio.run(main())
