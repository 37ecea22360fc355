"""Each system's fault points, through real processes: nothing lost, nothing doubled.

A batch of registrations is submitted over HTTP to ``hrss-gateway serve``;
``hrss-gateway worker`` processes carry them out while one stand-in misbehaves.
Once every registration is final, what each system holds is counted in the
stand-in itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.standin.process import RunningStandin
from gateway.domain.model import System
from tests.proof.conftest import (
    END,
    HIRE,
    QUERY,
    UNIT,
    WRITE,
    Deployment,
    Graph,
    Ledger,
    deploy,
    domain_person,
    employer,
    end_input,
    ended_once,
    fetch,
    hire_input,
    hired_once,
    new_person,
    other_term,
    poll,
    settle,
    states,
    step,
    submit,
    summary,
    urls_of,
)
from tests.services import SQL_BACKENDS

BATCH = 6

#: Each fault point as the stand-in's ``/__sim/faults`` settings. The gateway's
#: per-call timeout is 1 s, so a response held back 3 s is a lost answer.
FAULTS: dict[str, dict[str, Any]] = {
    "down": {"down": True},
    "commit_then_drop": {"commit_then_drop": 1.0, "stall_s": 3.0},
    "error_after_commit": {"error_after_commit": 1.0},
    "maintenance": {"maintenance": True, "retry_after_s": 1},
}
#: Faults that stop the system until lifted (the others stay on to the end).
LIFTED = {"down": {"down": False}, "maintenance": {"maintenance": False}}


@pytest.fixture(scope="module")
def deployment(
    shared_standins: dict[System, RunningStandin], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """One gateway and one worker process over an SQLite store, for this module."""
    running = deploy(tmp_path_factory.mktemp("faults"), urls_of(shared_standins), timeout=1.0)
    yield running
    running.stop()


@pytest.fixture
async def graph(http: httpx.AsyncClient, deployment: Deployment) -> Graph:
    return await employer(http, deployment)


@pytest.fixture
def ledger(
    standins: dict[System, RunningStandin], ledgers: Callable[[dict[System, str]], Ledger]
) -> Ledger:
    return ledgers(urls_of(standins))


async def _hire(graph: Graph, people: list[dict[str, Any]], deployment: Deployment) -> None:
    ids = await submit(graph, HIRE, [hire_input(p) for p in people])
    hired = await settle(graph, ids, within=30, deployment=deployment)
    assert {r["state"] for r in hired.values()} == {"COMPLETED"}, summary(hired.values())


async def _met_the_fault(
    graph: Graph, ids: list[str], system: System, deployment: Deployment
) -> None:
    """Every registration's step on ``system`` has been tried and failed."""

    async def check() -> bool:
        found = await fetch(graph, ids)
        return all(step(r, system)["lastError"] is not None for r in found.values())

    await poll(
        check,
        within=20,
        what=f"every {system.value} step meets the fault",
        explain=deployment.logs,
    )


async def _run_faulted_batch(
    system: System,
    fault: str,
    graph: Graph,
    standin: RunningStandin,
    deployment: Deployment,
) -> tuple[list[str], dict[str, dict[str, Any]], dict[str, int]]:
    """Submit a batch whose ``system`` steps meet ``fault``; let the worker
    process finish it; the workers' ID numbers, the registrations, the
    stand-in's request counts."""
    people = [new_person() for _ in range(BATCH)]
    numbers = [p["idNumber"] for p in people]
    if system is System.UNEMPLOYMENT:
        # Unemployment is written when a worker's employment ends: hire them first.
        await _hire(graph, people, deployment)
        rows, mutation = [end_input(p) for p in people], END
    else:
        rows, mutation = [hire_input(p) for p in people], HIRE
    standin.reset()
    standin.faults(**FAULTS[fault])
    ids = await submit(graph, mutation, rows)
    if fault in LIFTED:
        await _met_the_fault(graph, ids, system, deployment)
        standin.faults(**LIFTED[fault])
    done = await settle(graph, ids, within=45, deployment=deployment)
    counts = standin.stats()
    return numbers, done, counts


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("system", list(System), ids=[s.value for s in System])
async def test_a_faulty_system_leaves_every_registration_done_once(
    system: System,
    fault: str,
    graph: Graph,
    ledger: Ledger,
    standins: dict[System, RunningStandin],
    deployment: Deployment,
) -> None:
    numbers, done, counts = await _run_faulted_batch(
        system, fault, graph, standins[system], deployment
    )
    # None lost: every registration completed (an infrastructure fault is no refusal).
    assert [r["state"] for r in done.values()] == ["COMPLETED"] * BATCH, summary(done.values())
    # Nothing doubled: exactly one record per registration in each system concerned.
    check = ended_once if system is System.UNEMPLOYMENT else hired_once
    assert await check(ledger, numbers) == []
    if fault in ("commit_then_drop", "error_after_commit"):
        # Every write was committed and its answer lost: the worker asked the
        # system instead of sending again, so the system saw each write once. (The
        # gateway may count more attempts: once its circuit breaker opens, an attempt
        # is refused in the gateway without reaching the system.)
        assert counts.get(WRITE[system]) == BATCH, counts
        assert counts.get(QUERY[system], 0) >= BATCH, counts
    else:
        # Steps failed while the fault lasted and were tried again, yet only one
        # record each. Once the gateway's circuit breaker opened, calls were held
        # back in the gateway, sparing a system that is down: those are no
        # attempts, so the gateway counts no more attempts than calls went out
        # (a stand-in that is down may not count the calls it drops by name).
        attempts = [step(r, system)["attempts"] for r in done.values()]
        assert max(attempts) >= 2, summary(done.values())
        assert sum(attempts) >= counts.get(WRITE[system], 0) >= BATCH, (attempts, counts)


REFUSALS = 4


@pytest.mark.parametrize("retried", [False, True], ids=["refused_at_once", "refused_on_retry"])
async def test_a_labour_refusal_revokes_the_employment_registration(
    retried: bool,
    graph: Graph,
    ledger: Ledger,
    standins: dict[System, RunningStandin],
    deployment: Deployment,
) -> None:
    """Workers who already have a contract in force with the unit (filed directly
    in the labour system beforehand) are refused by it; their employment
    registration, done first, is revoked. Others in the same batch complete.

    ``refused_on_retry``: the labour system is down at first, so the refusal
    ("already exists") comes to a second attempt, where it could be taken for
    the gateway's own earlier write: it must be checked, not trusted.
    """
    refused = [new_person() for _ in range(REFUSALS)]
    fine = [new_person() for _ in range(2)]
    earlier = dt.date.today() - dt.timedelta(days=200)
    for person in refused:
        await ledger.labour.file(UNIT.labour_id, domain_person(person), other_term(earlier))
    labour = standins[System.LABOUR]
    # The labour system answers after the employment system: its refusal comes
    # once the employment registration is done.
    labour.faults(latency_ms=400, **({"down": True} if retried else {}))
    ids = await submit(graph, HIRE, [hire_input(p) for p in [*refused, *fine]])
    if retried:
        await _met_the_fault(graph, ids, System.LABOUR, deployment)
        labour.faults(down=False)
    done = await settle(graph, ids, within=45, deployment=deployment)
    registrations = [done[i] for i in ids]
    assert [r["state"] for r in registrations] == ["COMPENSATED"] * REFUSALS + ["COMPLETED"] * 2, (
        summary(registrations)
    )
    for registration in registrations[:REFUSALS]:
        assert registration["failure"]["code"] == "SYSTEM_DUPLICATE"
        assert registration["failure"]["systemCode"] == "LD2002"
        assert step(registration, System.EMPLOYMENT)["state"] == "UNDONE"
        assert step(registration, System.LABOUR)["state"] == "REFUSED"
    numbers = [p["idNumber"] for p in refused]
    jobs, contracts = await ledger.jobs(numbers), await ledger.contracts(numbers)
    for i, number in enumerate(numbers):
        # The employment registration is there once, revoked...
        assert states(jobs[number]) == ["REVOKED"], i
        # ...and the contract filed beforehand is untouched: still the only one, in force.
        assert [(c.state.value, c.term.start_date) for c in contracts[number]] == [
            ("IN_FORCE", earlier)
        ], i
    assert await hired_once(ledger, [p["idNumber"] for p in fine]) == []


@pytest.mark.parametrize("backend", SQL_BACKENDS)
async def test_two_worker_processes_on_each_store_send_every_write_once(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    http: httpx.AsyncClient,
    standins: dict[System, RunningStandin],
    ledgers: Callable[[dict[System, str]], Ledger],
    deployments: Callable[..., Deployment],
) -> None:
    """The representative fault (labour answers lost after commit) on the
    embedded SQLite store and on PostgreSQL, with two worker processes sharing
    the store: each step is carried out by one of them, once. The employment
    system answers slowly (0.8 s, within its 5 s timeout), so that the two
    workers look for due steps while the other one's calls are under way."""
    store_url = None
    if backend == "postgresql":  # a copy of the session's migrated template
        store_url = request.getfixturevalue("migrated_postgres_database")
    urls = urls_of(standins)
    timeouts = {System.EMPLOYMENT: 5.0, System.LABOUR: 1.0, System.UNEMPLOYMENT: 1.0}
    running = deployments(
        tmp_path / "gateway", urls, store_url=store_url, workers=2, timeout=timeouts
    )
    graph = await employer(http, running)
    people = [new_person() for _ in range(8)]
    standins[System.LABOUR].faults(**FAULTS["commit_then_drop"])
    standins[System.EMPLOYMENT].faults(latency_ms=800)
    ids = [
        *await submit(graph, HIRE, [hire_input(p) for p in people[:4]]),
        *await submit(graph, HIRE, [hire_input(p) for p in people[4:]]),
    ]
    done = await settle(graph, ids, within=45, deployment=running)
    labour_counts = standins[System.LABOUR].stats()
    employment_counts = standins[System.EMPLOYMENT].stats()
    assert {r["state"] for r in done.values()} == {"COMPLETED"}, summary(done.values())
    assert await hired_once(ledgers(urls), [p["idNumber"] for p in people]) == []
    # Two workers, one write per step: neither took a step the other held.
    assert labour_counts.get(WRITE[System.LABOUR]) == len(people), labour_counts
    assert employment_counts.get(WRITE[System.EMPLOYMENT]) == len(people), employment_counts
    assert all(w.alive() for w in running.workers), running.logs()
    running.stop()  # before its PostgreSQL database is dropped
