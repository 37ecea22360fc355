"""Worker processes on PostgreSQL: the same hires carried out by one, two and three
``hrss-gateway worker`` processes over one store, each against the ceiling measured
just before it in the same run (the hires straight through the adapters, as in
``benchmarks.registrations``).

The hires are stored first, each a submission of its own as employers send
them, then the workers are started side by side: the rate runs from the first
registration a worker takes to the last one completed (the first worker up works
alone until the others have started: each start is mostly its imports, about a
second). Their steps in flight are shared out (32 in all). A claim that fails (a
deadlock PostgreSQL broke, a lost connection) is logged by the worker that made it
and counted here from the workers' logs: the steps are claimed again, but a failed
claim costs its worker a poll.

Run: ``make bench`` (or ``.venv/bin/python -m benchmarks.workers``);
``BENCH_REGISTRATIONS`` (600), ``BENCH_ROUNDS`` (1). PostgreSQL as in
``benchmarks.registrations`` (``HRSS_BENCH_POSTGRES_URL``); without a server, it
says so and measures nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from adapters.standin.process import RunningStandin
from benchmarks.common import AUDIT_KEY, TOKEN_SECRET, standins, system_urls
from benchmarks.registrations import (
    IN_FLIGHT,
    ceiling,
    create_database,
    drop_database,
    finished,
    gateway_for,
    store_for,
    store_hires,
    watcher,
)
from gateway.registrations.model import RegistrationState

#: What a worker logs when a claim raised (``gateway.registrations.runner``).
CLAIM_FAILED = "claim failed"
#: How long the workers may take to take their first step: a bound, not a measure.
STARTUP_S = 120.0


def worker_env(
    store_url: str, running: list[RunningStandin], tmp: Path, steps: int
) -> dict[str, str]:
    """What the worker processes are started with: the gateway's settings as
    ``start_gateway`` gives them, as variables."""
    return {
        **os.environ,
        **system_urls(running),
        "HRSS_STORE_URL": store_url,
        "HRSS_TOKEN_SECRET": TOKEN_SECRET,
        "HRSS_AUDIT_KEY": AUDIT_KEY,
        "HRSS_DATA_DIR": str(tmp),
        "HRSS_WORKER_CONCURRENCY": str(steps),
    }


def spawn(env: dict[str, str], logs: list[Path]) -> list[subprocess.Popen[bytes]]:
    """``hrss-gateway worker`` processes, each writing to its log."""
    workers = []
    for log in logs:
        with log.open("wb") as out:
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gateway.cli", "worker"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    return workers


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    """Gracefully (SIGTERM: the calls under way end), killed after 30 s."""
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()


def ended(workers: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    """Raises, with the end of its log, if a worker process has ended."""
    for worker, log in zip(workers, logs, strict=True):
        if worker.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"a worker process ended ({worker.returncode}):\n{tail}")


async def carried(
    running: list[RunningStandin], tmp: Path, n: int, processes: int, year: int
) -> tuple[float, int]:
    """Hires per second carried out by ``processes`` worker processes, and how many
    claims failed meanwhile."""
    async with store_for("PostgreSQL", tmp, f"workers{year}") as url:
        gw = await gateway_for(running, url, tmp)
        logs = [tmp / f"worker-{year}-{i}.log" for i in range(processes)]
        env = worker_env(url, running, tmp, max(1, IN_FLIGHT // processes))
        workers: list[subprocess.Popen[bytes]] = []
        try:
            await store_hires(gw, n, year)
            workers = spawn(env, logs)
            async with watcher(url) as engine:
                deadline = time.monotonic() + STARTUP_S
                while await finished(engine, None, [RegistrationState.ACCEPTED.value]) == n:
                    ended(workers, logs)
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no worker took a step within {STARTUP_S:.0f} s")
                    await asyncio.sleep(0.01)
                began = time.perf_counter()
                while await finished(engine, None) < n:
                    ended(workers, logs)
                    await asyncio.sleep(0.02)
                elapsed = time.perf_counter() - began
                completed = await finished(engine, None, [RegistrationState.COMPLETED.value])
            if completed != n:
                raise RuntimeError(f"only {completed} of {n} hires completed")
        finally:
            stop(workers)
            await gw.close()
    failed = sum(log.read_text(errors="replace").count(CLAIM_FAILED) for log in logs)
    return n / elapsed, failed


async def main() -> None:
    n = int(os.environ.get("BENCH_REGISTRATIONS", "600"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "1"))
    probe = await create_database()
    if probe is None:
        print("\n4. Worker processes: PostgreSQL not reachable, nothing measured")
        return
    await drop_database(probe)
    with tempfile.TemporaryDirectory() as tmp, standins(Path(tmp)) as running:
        tmp_path = Path(tmp)
        print(
            f"\n4. Worker processes (PostgreSQL): {n} hires stored, each a submission, then"
            f" carried out\n   by `hrss-gateway worker` processes ({IN_FLIGHT} steps in"
            f" flight in all), each against\n   the ceiling measured just before it"
        )
        print(
            f"   {'processes':>9}{'steps each':>11}{'ceiling/s':>10}{'hires/s':>9}"
            f"{'ratio':>7}{'claims failed':>15}"
        )
        year = 1930
        for _ in range(rounds):
            for processes in (1, 2, 3):
                top, _cpu = await ceiling(running, tmp_path, n, year)
                rate, failed = await carried(running, tmp_path, n, processes, year + 1)
                year += 2
                print(
                    f"   {processes:>9}{max(1, IN_FLIGHT // processes):>11}{top:>10.1f}"
                    f"{rate:>9.1f}{rate / top:>7.2f}{failed:>15}"
                )


if __name__ == "__main__":
    asyncio.run(main())
