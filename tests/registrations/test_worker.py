"""``run_worker``: the engine as ``hrss-gateway serve`` and ``hrss-gateway worker`` run it.

Over the stand-in processes: the gateway is started from its configuration,
so its adapters (and their resilience layer) are the ones production builds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.standin.process import RunningStandin
from gateway.domain.model import System
from gateway.registrations.model import RegistrationState
from gateway.registrations.wiring import engine_for, run_worker
from gateway.services import Gateway
from tests.gateway.conftest import gateway_config
from tests.registrations.support import Adapters, at_rest, employed, hire_row, submit


@pytest.fixture
async def gateway(
    tmp_path: Path, standins: dict[System, RunningStandin], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    monkeypatch.setenv("HRSS_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("HRSS_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("HRSS_ARGON2_PARALLELISM", "1")
    config = gateway_config(
        tmp_path,
        standins[System.EMPLOYMENT],
        standins[System.LABOUR],
        standins[System.UNEMPLOYMENT],
    )
    gw = await Gateway.start(config)
    yield gw
    await gw.close()


async def test_run_worker_carries_registrations_out_until_stopped(
    gateway: Gateway, standin_adapters: Adapters
) -> None:
    rows = [hire_row(), hire_row()]
    registrations = await submit(gateway.store, rows)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(gateway, stop=stop, poll_interval=0.05))
    try:
        deadline = time.monotonic() + 30
        while True:
            current = [await gateway.store.registrations.get(r.id) for r in registrations]
            if all(r is not None and at_rest(r) for r in current):
                break
            assert time.monotonic() < deadline, "the worker did not finish the registrations"
            assert not worker.done()
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=10)
    assert [r.state for r in current if r is not None] == [RegistrationState.COMPLETED] * 2
    for row in rows:
        assert len(await employed(standin_adapters, row.id_number)) == 1


def test_each_engine_has_an_owner_of_its_own(gateway: Gateway) -> None:
    first, second = engine_for(gateway), engine_for(gateway)
    assert first.owner != second.owner
    host, pid, _ = first.owner.split(":")
    assert host
    assert pid.isdigit()
    # A lease outlasts the calls one step makes at the slowest system's timeout.
    assert first.call_timeout >= max(gateway.config.system(s).timeout for s in System)
