"""Recovery after an outage, measured against the stand-ins on loopback in one run.

200 hires are submitted while the labour system is down, which stays down for
60 s; then it comes back. Two gateways, each with its own store and its worker,
live through the same outage side by side: one whose worker probes a system
whose breaker is open and takes its waiting steps as soon as it answers
(``HRSS_SYSTEM_PROBE_INTERVAL_S``, 1 s), one that never probes and leaves the
steps to their backoff (1 s doubling up to 5 minutes) and the breaker to its
recovery time (30 s), as before. Printed: how long after the return the first
and the last registration were completed, for each, and their ratio. Target:
all within 10 s.

What the second gateway waits depends on where the outage ends in its
breaker's cycle (it lets one call try every 30 s) and on the steps' backoff;
what the first waits after its probe is how fast its worker carries 200 hires.

Run: ``.venv/bin/python -m benchmarks.recovery`` (``make bench`` runs it too).
``BENCH_OUTAGE_S`` and ``BENCH_REGISTRATIONS`` change the outage and the count.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import tempfile
import time
import uuid
from pathlib import Path

from adapters.standin.seed import EMPLOYERS
from benchmarks.common import standins, start_gateway
from benchmarks.registrations import hire_row
from gateway.demo import demo_people
from gateway.registrations.model import Channel
from gateway.registrations.wiring import run_worker
from gateway.services import Gateway

#: A probe interval no outage of the benchmark reaches: the worker never probes.
NEVER = 86_400.0


async def submit(gw: Gateway, n: int, born_from: dt.date) -> list[str]:
    employer = await gw.store.employers.get(EMPLOYERS[0].profile.credit_code)
    actor = await gw.store.accounts.get("demo-employer")
    assert employer is not None
    assert actor is not None
    ids = []
    for person in demo_people(n, born_from=born_from):
        outcome = await gw.registrar.submit(
            actor=actor,
            channel=Channel.GOVERNMENT_PORTAL,
            employer=employer,
            rows=[hire_row(person, dt.date.today())],
            idempotency_key=uuid.uuid4().hex,
        )
        ids.extend(r.id for r in outcome.registrations)
    return ids


async def completed(gw: Gateway, ids: list[str]) -> tuple[float, float]:
    """When (``time.monotonic()``) the first and the last of ``ids`` reached a final state."""
    pending = set(ids)
    first: float | None = None
    while pending:
        for registration_id in list(pending):
            found = await gw.store.registrations.get(registration_id)
            assert found is not None
            if found.state.is_final:
                pending.discard(registration_id)
                first = first or time.monotonic()
        await asyncio.sleep(0.05)
    assert first is not None
    return first, time.monotonic()


async def main() -> None:
    # The breakers' warnings while the system is down are expected: not printed.
    logging.getLogger("gateway.resilience").setLevel(logging.ERROR)
    outage = float(os.environ.get("BENCH_OUTAGE_S", "60"))
    n = int(os.environ.get("BENCH_REGISTRATIONS", "200"))
    with tempfile.TemporaryDirectory() as tmp, standins(Path(tmp)) as running:
        labour = running[1]
        gateways = {}
        for name, interval in (("probing", 1.0), ("backoff only", NEVER)):
            folder = Path(tmp) / name.replace(" ", "-")
            folder.mkdir()
            gateways[name] = await start_gateway(
                running,
                folder,
                worker_concurrency=32,
                system_probe_interval_s=interval,
            )
        labour.faults(down=True)
        ids = {
            name: await submit(gw, n, dt.date(1960 + i * 10, 1, 1))
            for i, (name, gw) in enumerate(gateways.items())
        }
        stop = asyncio.Event()
        workers = [
            asyncio.create_task(run_worker(gw, stop=stop, poll_interval=1.0))
            for gw in gateways.values()
        ]
        await asyncio.sleep(outage)
        labour.faults(down=False)
        back = time.monotonic()
        print(
            f"\nRecovery: {n} hires per gateway, the labour system down {outage:.0f} s, "
            "then back (production backoff and breaker)"
        )
        ends = await asyncio.gather(*(completed(gw, ids[name]) for name, gw in gateways.items()))
        stop.set()
        await asyncio.gather(*workers)
        took = {name: (a - back, z - back) for name, (a, z) in zip(gateways, ends, strict=True)}
        print(f"   {'':14}{'first completed':>17}{'all completed':>15}   (s after the return)")
        for name, (a, z) in took.items():
            print(f"   {name:14}{a:>17.1f}{z:>15.1f}")
        probing, left = took["probing"][1], took["backoff only"][1]
        print(f"   ratio backoff only / probing (all completed): {left / max(probing, 0.001):.1f}")
        print(f"   target, all within 10 s of the return: {'met' if probing <= 10 else 'NOT met'}")
        for gw in gateways.values():
            await gw.close()


if __name__ == "__main__":
    asyncio.run(main())
