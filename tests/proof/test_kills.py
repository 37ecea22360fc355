"""Processes killed mid-registration (SIGKILL): nothing lost, nothing doubled.

The worker process, and the gateway process carrying registrations out in its
background, are killed while their calls to the systems are in flight, and
started again; a stand-in is killed while the gateway's writes are in flight
to it, and started again on its data file. Every registration ends final, and
each system holds exactly one record per registration.

``engine_for`` makes the engine's lease ``max(HRSS_WORKER_LEASE_S, 4 x the
slowest system timeout)``: with the 3 s timeout here, and the configured floor
set below it, 12 s. A step a killed worker was sending stays leased to it for
those 12 s, so the restarted processes take it only then: the two process kills
share one wait by running side by side.
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
    Ledger,
    employer,
    fetch,
    hire_input,
    hired_once,
    new_person,
    poll,
    settle,
    step,
    stored_steps,
    submit,
    summary,
    urls_of,
)

BATCH = 5
#: The employment and labour systems' timeout in these deployments: the kill comes
#: before it, so that no call has timed out when the processes die. (Unemployment,
#: which a hire does not write, keeps 1 s.)
TIMEOUT_S = 3.0
TIMEOUTS = {System.EMPLOYMENT: TIMEOUT_S, System.LABOUR: TIMEOUT_S, System.UNEMPLOYMENT: 1.0}
#: The engine's lease as ``engine_for`` sets it for these deployments: the configured
#: floor (production: 60 s) is set below 4 x the timeout, which decides.
LEASE_S = 4 * TIMEOUT_S
#: The workers poll every 0.2 s (production: 1 s): a batch submitted on ``serve`` is
#: claimed by the worker process at once (an SQLite deployment has no wake-ups between
#: processes), and a lease that ran out is noticed at once.
DEPLOYMENT_ENV = {"HRSS_WORKER_LEASE_S": "1", "HRSS_WORKER_POLL_S": "0.2"}
#: How long the systems hold each write of the batch before answering: past the
#: timeout, so that no answer comes before the kill (a kill that came too late would
#: find the calls timed out, not in flight, and fail below); within the lease, so that
#: each write has been kept or dropped before the restarted processes ask. The labour
#: stand-in reads a request before its delay and commits it after, though its sender
#: is dead; the employment stand-in reads a request after its delay and drops one
#: whose client is gone.
ANSWER_MS = {System.EMPLOYMENT: 5000, System.LABOUR: 5000}


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
    processes sent: the restarted ones must find them and not send them again.
    The employment stand-in drops the registrations whose sender died: those
    writes are lost with their sender, and must be sent once more after asking."""
    urls = urls_of(standins)
    options = {"timeout": TIMEOUTS, "env": DEPLOYMENT_ENV}
    worker_side, gateway_side = await asyncio.gather(
        asyncio.to_thread(deployments, tmp_path / "worker", urls, workers=1, **options),
        asyncio.to_thread(
            deployments, tmp_path / "gateway", urls, workers=0, gateway_worker=True, **options
        ),
    )
    sides: dict[str, tuple[Deployment, GatewayProcess]] = {
        "worker": (worker_side, worker_side.workers[0]),
        "gateway": (gateway_side, gateway_side.gateway),
    }
    graphs = {name: await employer(http, d) for name, (d, _) in sides.items()}

    async def hire(name: str, people: list[dict[str, str]]) -> list[str]:
        return await submit(graphs[name], HIRE, [hire_input(p) for p in people])

    # One hire each first, answered at once: each process has read the labour
    # system's WSDL, so that the batch's filings go out as soon as it is claimed.
    first = {name: await hire(name, [new_person()]) for name in sides}
    for name, (deployment, _) in sides.items():
        warm = await settle(graphs[name], first[name], within=60, deployment=deployment)
        assert {r["state"] for r in warm.values()} == {"COMPLETED"}, summary(warm.values())
    for system, latency in ANSWER_MS.items():
        standins[system].reset()  # the counts below are the batch's only
        standins[system].faults(latency_ms=latency)
    people = {name: [new_person() for _ in range(BATCH)] for name in sides}
    ids = {name: await hire(name, people[name]) for name in sides}

    async def received() -> bool:
        return all(
            standins[s].stats().get(WRITE[s], 0) >= 2 * BATCH
            for s in (System.EMPLOYMENT, System.LABOUR)
        )

    await poll(received, within=TIMEOUT_S, what="every write reached its system", interval=0.05)
    for _, victim in sides.values():
        victim.kill()
    for system in ANSWER_MS:
        standins[system].faults(latency_ms=0)  # the counts stay: they are checked below
    for name, (deployment, victim) in sides.items():
        # The kill caught every step in flight: sent once, unanswered, still leased to
        # the dead process (read from the store, which nothing alive writes to now).
        held = [
            (s["state"], s["attempts"], s["lease_pid"]) for s in stored_steps(deployment, ids[name])
        ]
        assert held == [("SENDING", 1, str(victim.pid))] * (2 * BATCH), (name, held)
    await asyncio.gather(*(asyncio.to_thread(victim.start) for _, victim in sides.values()))
    assert all(victim.starts == 2 for _, victim in sides.values())
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
        # The filings the labour system kept were found by asking it, not sent again...
        assert {step(r, System.LABOUR)["attempts"] for r in registrations} == {1}, name
        # ...and the registrations the employment system dropped were sent again.
        assert min(step(r, System.EMPLOYMENT)["attempts"] for r in registrations) >= 2, name
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
