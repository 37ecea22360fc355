"""A large submission: what storing a form's rows costs, and how long the event loop waits.

``BENCH_ROWS`` hires (10,000, a form's limit) of the demo employer are submitted
through the registrar, as an import does once the file is read and checked:
checked again, planned and stored in one transaction. Twice: hires starting today,
and late ones (started 90 days ago: each row carries two warnings, late
employment registration and late contract filing). Printed: this process's CPU
seconds, and the longest waits of a probe that asks the event loop for a turn every
5 ms meanwhile (what every other request of the process waits at worst).

Run: ``.venv/bin/python -m benchmarks.submissions``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.common import standins, start_gateway
from benchmarks.registrations import UNIT, hire_row, people
from gateway.registrations.model import Channel
from gateway.services import Gateway


async def probe(stop: asyncio.Event, waits: list[float]) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        await asyncio.sleep(0.005)
        waits.append(time.perf_counter() - began - 0.005)


async def submitted(gw: Gateway, n: int, start: dt.date, year: int) -> tuple[float, list[float]]:
    """CPU seconds to submit ``n`` hires starting on ``start``, and the longest waits."""
    employer = await gw.store.employers.get(UNIT.profile.credit_code)
    actor = await gw.store.accounts.get("demo-employer")
    assert employer is not None
    assert actor is not None
    rows = [hire_row(p, start) for p in people(n, year)]
    stop, waits = asyncio.Event(), []
    probing = asyncio.create_task(probe(stop, waits))
    await asyncio.sleep(0)  # the probe waiting before the submission's first stretch
    cpu = time.process_time()
    outcome = await gw.registrar.submit(
        actor=actor,
        channel=Channel.GOVERNMENT_PORTAL,
        employer=employer,
        rows=rows,
        idempotency_key=uuid.uuid4().hex,
    )
    cpu = time.process_time() - cpu
    stop.set()
    await probing
    if len(outcome.registrations) != n:
        raise RuntimeError(f"{len(outcome.registrations)} of {n} hires stored")
    return cpu, sorted(waits, reverse=True)[:3]


async def main() -> None:
    n = int(os.environ.get("BENCH_ROWS", "10000"))
    today = dt.date.today()
    with tempfile.TemporaryDirectory() as directory, standins(Path(directory)) as running:
        gw = await start_gateway(running, Path(directory))
        try:
            on_time = await submitted(gw, n, today, 1940)
            late = await submitted(gw, n, today - dt.timedelta(days=90), 1941)
        finally:
            await gw.close()
    print(f"A submission of {n} hires through the registrar (checked, planned, stored):")
    print("                          cpu s   longest waits of the event loop, ms")
    for label, (cpu, waits) in (("starting today", on_time), ("late (two warnings)", late)):
        print(f"   {label:21s} {cpu:6.2f}   " + ", ".join(f"{w * 1000:.0f}" for w in waits))
    print(f"   late / today          {late[0] / on_time[0]:6.2f}")


if __name__ == "__main__":
    asyncio.run(main())
