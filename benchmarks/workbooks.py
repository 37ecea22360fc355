"""Workbooks written beside the event loop: what the loop's other work waits.

Exports of ``BENCH_ROWS`` registrations (1,500) are written ``BENCH_AT_ONCE`` (6) at a
time, as six accounts asking together would, on as many threads (what the default
executor of ``asyncio.to_thread`` gives on two cores) and on the gateway's form
threads (``form_workbook_threads``, 1 by default). Meanwhile a probe on the event
loop measures how long twenty turns of the loop take, about what a small request
needs, every 10 ms: its median and 95th centile, against the loop alone. The
interpreter runs one thread at a time, so the workbooks take as long either way.

Run: ``.venv/bin/python -m benchmarks.workbooks``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks.registrations import people, planned
from gateway.forms.printing import export_workbook, exported
from gateway.forms.settings import FormSettings
from gateway.forms.writing import ExportedRow

TURNS = 20


def rows(n: int) -> list[ExportedRow]:
    return [
        item
        for r in planned(people(n, 1980), dt.date.today())
        if (item := exported(r, reveal=False)) is not None
    ]


async def probe(stop: asyncio.Event) -> list[float]:
    """Seconds that ``TURNS`` turns of the loop took, every 10 ms until ``stop``."""
    took = []
    while not stop.is_set():
        began = time.perf_counter()
        for _ in range(TURNS):
            await asyncio.sleep(0)
        took.append(time.perf_counter() - began)
        await asyncio.sleep(0.01)
    return took


async def measured(
    threads: int, at_once: int, items: list[ExportedRow]
) -> tuple[float, float, float]:
    """Wall seconds for the workbooks, and the probe's median and 95th centile (ms)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    probing = asyncio.create_task(probe(stop))
    await asyncio.sleep(0)  # the probe running before the workbooks start
    began = time.perf_counter()
    if threads:
        with ThreadPoolExecutor(threads) as pool:
            await asyncio.gather(
                *(loop.run_in_executor(pool, export_workbook, {}, items) for _ in range(at_once))
            )
    else:
        await asyncio.sleep(2)
    wall = time.perf_counter() - began
    stop.set()
    took = sorted(await probing)
    return wall, statistics.median(took) * 1000, took[int(len(took) * 0.95)] * 1000


async def main() -> None:
    n = int(os.environ.get("BENCH_ROWS", "1500"))
    at_once = int(os.environ.get("BENCH_AT_ONCE", "6"))
    items = rows(n)
    print(f"{at_once} exports of {n} rows at once; {TURNS} turns of the event loop meanwhile:")
    print("                                  wall s   median ms   p95 ms")
    for label, threads in (
        ("the loop alone", 0),
        (f"{at_once} threads (asyncio.to_thread)", at_once),
        (f"the form threads ({FormSettings().workbook_threads})", FormSettings().workbook_threads),
    ):
        wall, median, p95 = await measured(threads, at_once, items)
        print(f"   {label:30s} {wall:6.2f}   {median:9.1f}   {p95:6.1f}")


if __name__ == "__main__":
    asyncio.run(main())
