"""Several gateway and worker processes over PostgreSQL (and Redis): they wake each other.

Every process here polls only every 30 s (``HRSS_WORKER_POLL_S``,
``HRSS_SUBSCRIPTION_POLL_S``), and every wait is bounded far below that: what
happens within the bound can only have been started by an event from another
process (gateway/events.py), never by a poll. The bounds are generous, not
timings: a loaded machine passes them, a missing wake-up fails them.

Events travel over PostgreSQL's LISTEN/NOTIFY, or over Redis pub/sub when the
deployment has Redis (``HRSS_CACHE_URL``); both are proven.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from adapters.standin.process import RunningStandin, free_port
from gateway.domain.model import System
from tests.proof.conftest import (
    HIRE,
    Deployment,
    GatewayProcess,
    employer,
    hire_input,
    new_person,
    poll,
    settle,
    submit,
    urls_of,
)
from tests.services import RedisNamespace, services
from tests.subscribe import TRANSPORTS, subscribe

pytestmark = [pytest.mark.proof, services]

#: What every process waits between polls: longer than any bound below.
POLL_S = 30
#: Within this a registration is done, or a subscription has followed it to its end.
BOUND_S = 15

SUBSCRIBE = "subscription($id: ID!) { registrationUpdates(id: $id) { id state version } }"


def _env(carrier: str, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {
        "HRSS_WORKER_POLL_S": str(POLL_S),
        "HRSS_SUBSCRIPTION_POLL_S": str(POLL_S),
        # A deployment of its own: parallel runs never hear each other.
        "HRSS_EVENTS_CHANNEL": f"hrss_proof_{secrets.token_hex(6)}",
    }
    if carrier == "redis":
        namespace: RedisNamespace = request.getfixturevalue("redis_namespace")
        env["HRSS_CACHE_URL"] = namespace.url
        env["HRSS_RATE_LIMIT_KEY_PREFIX"] = namespace.prefix + "ratelimit"
    return env


def _listening(process: GatewayProcess, carrier: str) -> bool:
    log = process.log.read_text(errors="replace")
    ready = "registration worker" in log if process.command == "worker" else True
    return ready and f"{carrier} events: listening" in log


async def _until_listening(processes: list[GatewayProcess], carrier: str) -> None:
    async def all_listening() -> bool:
        return all(_listening(p, carrier) for p in processes)

    await poll(all_listening, within=30, what=f"{carrier} events listening in every process")


@pytest.fixture(params=["postgresql", "redis"])
def carrier(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.timeout(150)
async def test_a_submission_on_one_gateway_wakes_a_worker_process_at_once(
    carrier: str,
    request: pytest.FixtureRequest,
    postgres_database: str,
    tmp_path: Path,
    http: httpx.AsyncClient,
    standins: dict[System, RunningStandin],
    deployments: Callable[..., Deployment],
) -> None:
    running = deployments(
        tmp_path / "gateway",
        urls_of(standins),
        store_url=postgres_database,
        workers=1,  # gateway A carries nothing out; the worker process B does
        env=_env(carrier, request),
    )
    await _until_listening(running.processes(), carrier)
    graph = await employer(http, running)
    for _ in range(2):  # the worker is woken each time, not only once
        started = time.monotonic()
        ids = await submit(graph, HIRE, [hire_input(new_person())])
        settled = await settle(graph, ids, within=BOUND_S, deployment=running)
        assert [r["state"] for r in settled.values()] == ["COMPLETED"]
        assert time.monotonic() - started < POLL_S


@pytest.mark.timeout(180)
async def test_a_subscriber_on_one_gateway_sees_what_a_worker_under_another_does(
    carrier: str,
    request: pytest.FixtureRequest,
    postgres_database: str,
    tmp_path: Path,
    http: httpx.AsyncClient,
    standins: dict[System, RunningStandin],
    deployments: Callable[..., Deployment],
) -> None:
    # Gateway A serves the subscriber and carries nothing out; gateway B carries
    # out what is submitted on A. The labour system answers slowly, so that the
    # subscriber is there before the registration ends.
    standins[System.LABOUR].faults(latency_ms=1500)
    running = deployments(
        tmp_path / "gateway",
        urls_of(standins),
        store_url=postgres_database,
        workers=0,
        timeout=8.0,
        env=_env(carrier, request),
    )
    gateway_b = GatewayProcess(
        "serve",
        {**running.env, "HRSS_RUN_WORKER": "true"},
        running.dir / "serve-b.log",
        running.dir,
        port=free_port(),
    )
    running.workers.append(gateway_b)
    gateway_b.start()
    await _until_listening(running.processes(), carrier)
    graph = await employer(http, running)
    for transport in TRANSPORTS:
        [registration_id] = await submit(graph, HIRE, [hire_input(new_person())])
        async with asyncio.timeout(BOUND_S):
            payloads = await subscribe(
                transport,
                http=http,
                base_url=running.url,
                query=SUBSCRIBE,
                variables={"id": registration_id},
                token=graph.token,
            )
        assert not [p for p in payloads if p.get("errors")], payloads
        updates = [p["data"]["registrationUpdates"] for p in payloads]
        # Seen under way, then seen again each time B changed it, to its end.
        assert updates[0]["state"] != "COMPLETED", (transport, updates)
        assert updates[-1]["state"] == "COMPLETED", (transport, updates)
        versions = [u["version"] for u in updates]
        assert versions == sorted(set(versions)), (transport, versions)
    # Nothing was carried out by gateway A, which has no worker.
    assert "registration worker" not in running.gateway.log.read_text(errors="replace")
