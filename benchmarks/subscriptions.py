"""What subscriptions that wait cost the gateway, measured side by side in one run.

The demo employer hires ``BENCH_SUBSCRIPTIONS`` workers (100: as many as an
account may follow at once) and no worker carries them out, so that each
registration stays under way as one does while a system is down. The gateway
(this process, served by uvicorn on loopback with the embedded store) is measured
idle, then with one subscription per registration over server-sent events, each
open, read by its client and waiting: this process's CPU time per second of each (``BENCH_SECONDS``,
10), the clients' share included (they wait for bytes that do not come).

Run: ``.venv/bin/python -m benchmarks.subscriptions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import uvicorn

from adapters.standin.process import free_port
from benchmarks.common import Client, standins, start_gateway
from benchmarks.registrations import HIRE, hire_input, people
from gateway.app import create_app
from gateway.serving import gateway_options

SUBSCRIBE = "subscription($id: ID!) { registrationUpdates(id: $id) { id state version } }"
#: Workers per hire mutation.
PER_HIRE = 50


async def cpu_share(seconds: float) -> float:
    """This process's CPU time over ``seconds`` of waiting, as a share of one core."""
    cpu, began = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu) / (time.perf_counter() - began)


async def read(response: httpx.Response, first: asyncio.Event) -> None:
    """Every line of a subscription's stream, as a client reads it; ``first`` set at
    its first update."""
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            first.set()


async def main() -> None:
    n = int(os.environ.get("BENCH_SUBSCRIPTIONS", "100"))
    seconds = float(os.environ.get("BENCH_SECONDS", "10"))
    with tempfile.TemporaryDirectory() as directory, standins(Path(directory)) as running:
        gw = await start_gateway(running, Path(directory))
        app = create_app(gw.config, gateway=gw)
        port = free_port()
        options = gateway_options(gw.config.limits)
        served = uvicorn.Server(uvicorn.Config(app, port=port, log_level="error", **options))
        serving = asyncio.create_task(served.serve())
        try:
            while not served.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
                await asyncio.sleep(0.05)
            employer = await Client(app).login("demo-employer")
            ids: list[str] = []
            hired = people(n, 1975)
            for at in range(0, n, PER_HIRE):
                rows = [hire_input(p, dt.date.today()) for p in hired[at : at + PER_HIRE]]
                body = await employer.post(HIRE, {"w": rows, "k": uuid.uuid4().hex})
                ids += [r["id"] for r in body["data"]["hire"]["registrations"]]
            idle = await cpu_share(seconds)
            headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {employer.token}"}
            async with (
                httpx.AsyncClient(
                    timeout=httpx.Timeout(30, read=None), limits=httpx.Limits(max_connections=n)
                ) as http,
                contextlib.AsyncExitStack() as streams,
            ):
                readers = []
                for registration in ids:
                    response = await streams.enter_async_context(
                        http.stream(
                            "POST",
                            f"http://127.0.0.1:{port}/graphql",
                            json={"query": SUBSCRIBE, "variables": {"id": registration}},
                            headers=headers,
                        )
                    )
                    first = asyncio.Event()
                    readers.append(asyncio.create_task(read(response, first)))
                    await asyncio.wait_for(first.wait(), 30)
                waiting = await cpu_share(seconds)
                for reader in readers:
                    reader.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
        finally:
            served.should_exit = True
            await serving
            await gw.close()
    per = (waiting - idle) / n * 1000
    print(f"Subscriptions waiting for a change, {seconds:.0f} s each, this process's CPU:")
    print(f"   idle                              {idle * 100:6.1f} % of a core")
    print(f"   {n:4d} subscriptions waiting          {waiting * 100:6.1f} % of a core")
    print(f"   per subscription                  {per:6.2f} ms of CPU a second")
    print(f"   waiting / idle                    {waiting / max(idle, 1e-9):6.1f}")


if __name__ == "__main__":
    asyncio.run(main())
