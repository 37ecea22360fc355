"""Processes killed mid-registration (SIGKILL): nothing lost, nothing doubled.

The worker process, and the gateway process carrying registrations out in its
background, are killed while their calls to the systems are in flight, and
started again; a stand-in is killed while the gateway's writes are in flight
to it, and started again on its data file. Every registration ends final, and
each system holds exactly one record per registration.

``engine_for`` makes the engine's lease ``max(HRSS_WORKER_LEASE_S, 4 x the
slowest system timeout)``: with the 10 s timeout these slow answers need, and
the configured floor set below it, 40 s. A step a killed worker was sending
stays leased to it for those 40 s, so the restarted processes take it only
then: the two process kills share one wait by running side by side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from adapters.standin.process import RunningStandin
from gateway.domain.model import System
from tests.proof.conftest import (
    HIRE,
    WRITE,
    Deployment,
    GatewayProcess,
    Graph,
    Ledger,
    employer,
    fetch,
    hire_input,
    hired_once,
    new_person,
    poll,
    settle,
    step,
    submit,
    summary,
    urls_of,
)

BATCH = 5
#: Each system's timeout in these deployments: the slow answers below fit in one call.
TIMEOUT_S = 10.0
#: The engine's lease as ``engine_for`` sets it for these deployments: the configured
#: floor (production: 60 s) is set below 4 x the timeout, which decides.
LEASE_S = 4 * TIMEOUT_S
LEASE_ENV = {"HRSS_WORKER_LEASE_S": "1"}
#: How long the systems take to answer while the processes are killed. The
#: labour adapter first reads the WSDL (answered after 3 s too), so the filings
#: reach the labour system 3 s after the registrations start, while the
#: employment registrations, sent at once, are still waiting for their answer.
ANSWER_MS = {System.EMPLOYMENT: 6000, System.LABOUR: 3000}


async def _all_sending(graph: Graph, ids: list[str], deployment: Deployment) -> None:
    """Both steps of every registration are being sent (saved SENDING)."""

    async def check() -> bool:
        found = await fetch(graph, ids)
        return all(s["state"] == "SENDING" for r in found.values() for s in r["steps"])

    await poll(check, within=20, what="every step in flight", explain=deployment.logs)


@pytest.mark.timeout(LEASE_S + 110)
async def test_killed_worker_and_gateway_processes_leave_every_registration_done_once(
    tmp_path: Path,
    http: httpx.AsyncClient,
    standins: dict[System, RunningStandin],
    ledgers: Callable[[dict[System, str]], Ledger],
    deployments: Callable[..., Deployment],
) -> None:
    """Two deployments side by side over stores of their own: in one a
    ``hrss-gateway worker`` process carries registrations out, in the other
    ``hrss-gateway serve`` does in its background. Each is SIGKILLed while
    every step of its batch has reached its system and waits for the answer,
    and started again. The labour stand-in commits the filings the dead
    processes sent (it reads a request before its delay): the restarted ones
    must find them and not send them again. The employment stand-in reads a
    request after its delay and drops one whose client is gone: those writes
    are lost with their sender, and must be sent once more after asking."""
    urls = urls_of(standins)
    # A 10 s timeout keeps the slow answers within one call; the lease is 40 s.
    worker_side = deployments(
        tmp_path / "worker", urls, workers=1, timeout=TIMEOUT_S, env=LEASE_ENV
    )
    gateway_side = deployments(
        tmp_path / "gateway",
        urls,
        workers=0,
        gateway_worker=True,
        timeout=TIMEOUT_S,
        env=LEASE_ENV,
    )
    sides: dict[str, tuple[Deployment, GatewayProcess]] = {
        "worker": (worker_side, worker_side.workers[0]),
        "gateway": (gateway_side, gateway_side.gateway),
    }
    graphs = {name: await employer(http, d) for name, (d, _) in sides.items()}
    people = {name: [new_person() for _ in range(BATCH)] for name in sides}
    for system, latency in ANSWER_MS.items():
        standins[system].faults(latency_ms=latency)
    ids = {
        name: await submit(graphs[name], HIRE, [hire_input(p) for p in people[name]])
        for name in sides
    }
    await asyncio.gather(*(_all_sending(graphs[n], ids[n], sides[n][0]) for n in sides))

    async def received() -> bool:
        return all(
            standins[s].stats().get(WRITE[s], 0) >= 2 * BATCH
            for s in (System.EMPLOYMENT, System.LABOUR)
        )

    await poll(received, within=10, what="every write reached its system")
    for _, victim in sides.values():
        victim.kill()
    for system in ANSWER_MS:
        standins[system].faults(latency_ms=0)  # the counts stay: they are checked below
    for _, victim in sides.values():
        victim.start()
        assert victim.starts == 2
    for name in sides:
        # The kill caught every step in flight: still SENDING, leased to the dead process.
        left = await fetch(graphs[name], ids[name])
        assert {s["state"] for r in left.values() for s in r["steps"]} == {"SENDING"}, name
    done = dict(
        zip(
            sides,
            await asyncio.gather(
                *(
                    settle(graphs[n], ids[n], within=LEASE_S + 40, deployment=sides[n][0])
                    for n in sides
                )
            ),
            strict=True,
        )
    )
    ledger = ledgers(urls)
    attempts: dict[System, int] = {System.EMPLOYMENT: 0, System.LABOUR: 0}
    for name in sides:
        registrations = list(done[name].values())
        assert {r["state"] for r in registrations} == {"COMPLETED"}, (name, summary(registrations))
        # The filings the labour system kept were found by asking it, not sent again.
        assert {step(r, System.LABOUR)["attempts"] for r in registrations} == {1}, name
        for system in attempts:
            attempts[system] += sum(step(r, system)["attempts"] for r in registrations)
        # Counted in the systems: one employment record and one contract each.
        assert await hired_once(ledger, [p["idNumber"] for p in people[name]]) == [], name
    for system, recorded in attempts.items():
        # Every write a system received is an attempt the gateway recorded before
        # sending it: none was sent behind the store's back.
        counts = standins[system].stats()
        assert counts.get(WRITE[system]) == recorded, (system, counts, recorded)


@pytest.mark.timeout(90)
async def test_a_system_killed_mid_batch_loses_nothing_and_doubles_nothing(
    tmp_path: Path,
    http: httpx.AsyncClient,
    standins: dict[System, RunningStandin],
    standin_factory: Callable[..., RunningStandin],
    ledgers: Callable[[dict[System, str]], Ledger],
    deployments: Callable[..., Deployment],
) -> None:
    """The labour stand-in (on a data file) is SIGKILLed while some filings of a
    batch are answered and others are still in flight, then started again on
    the same file. The worker process asks what the system kept and sends only
    what it does not hold."""
    labour = standin_factory("labor", seed=True, data=str(tmp_path / "labour.db"))
    urls = {**urls_of(standins), System.LABOUR: labour.url}
    running = deployments(tmp_path / "gateway", urls, workers=1, timeout=10.0)
    graph = await employer(http, running)
    batch = 8
    people = [new_person() for _ in range(batch)]
    # Answers spread over 0.2 to 3.2 s: the kill finds some done, some in flight.
    labour.faults(latency_ms=200, jitter_ms=3000)
    ids = await submit(graph, HIRE, [hire_input(p) for p in people])

    async def midway() -> bool:
        found = await fetch(graph, ids)
        labour_states = [step(r, System.LABOUR)["state"] for r in found.values()]
        return (
            "DONE" in labour_states
            and labour_states.count("SENDING") >= 2
            and labour.stats().get(WRITE[System.LABOUR], 0) >= batch
        )

    await poll(midway, within=20, what="some filings answered, others in flight", interval=0.05)
    first_pid = labour.proc.pid if labour.proc else None
    labour.restart(kill=True)
    assert labour.proc is not None
    assert labour.proc.pid != first_pid
    done = await settle(graph, ids, within=60, deployment=running)
    registrations = [done[i] for i in ids]
    assert {r["state"] for r in registrations} == {"COMPLETED"}, summary(registrations)
    # Some filings were lost with the process and sent again after it came back.
    assert max(step(r, System.LABOUR)["attempts"] for r in registrations) >= 2, summary(
        registrations
    )
    assert await hired_once(ledgers(urls), [p["idNumber"] for p in people]) == []
