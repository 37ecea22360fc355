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
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.standin.process import RunningStandin, free_port
from gateway.domain.model import System
from tests.proof.conftest import (
    HIRE,
    Deployment,
    GatewayProcess,
    _prepare,
    deployment_env,
    employer,
    hire_input,
    new_person,
    poll,
    settle,
    submit,
    until_listening,
    urls_of,
)
from tests.services import RedisNamespace, run_isolated, services
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


@pytest.fixture(params=["postgresql", "redis"])
def carrier(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.timeout(150)
async def test_a_submission_on_one_gateway_wakes_a_worker_process_at_once(
    carrier: str,
    request: pytest.FixtureRequest,
    migrated_postgres_database: str,
    tmp_path: Path,
    http: httpx.AsyncClient,
    standins: dict[System, RunningStandin],
    deployments: Callable[..., Deployment],
) -> None:
    running = deployments(
        tmp_path / "gateway",
        urls_of(standins),
        store_url=migrated_postgres_database,
        workers=1,  # gateway A carries nothing out; the worker process B does
        env=_env(carrier, request),
    )
    await until_listening(running.processes(), carrier)
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
    migrated_postgres_database: str,
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
        store_url=migrated_postgres_database,
        workers=0,
        timeout=8.0,
        env=_env(carrier, request),
        gateways=[{"HRSS_RUN_WORKER": "true"}],  # B, started beside A
    )
    await until_listening(running.processes(), carrier)
    graph = await employer(http, running)

    async def follow(transport: str) -> list[dict[str, Any]]:
        """A hire submitted on A, followed over ``transport`` by a subscriber on A."""
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
        assert not [p for p in payloads if p.get("errors")], (transport, payloads)
        return [p["data"]["registrationUpdates"] for p in payloads]

    # One hire and one subscriber per transport, side by side.
    followed = await asyncio.gather(*(follow(t) for t in TRANSPORTS))
    for transport, updates in zip(TRANSPORTS, followed, strict=True):
        # Seen under way, then seen again each time B changed it, to its end.
        assert updates[0]["state"] != "COMPLETED", (transport, updates)
        assert updates[-1]["state"] == "COMPLETED", (transport, updates)
        versions = [u["version"] for u in updates]
        assert versions == sorted(set(versions)), (transport, versions)
    # Nothing was carried out by gateway A, which has no worker.
    assert "registration worker" not in running.gateway.log.read_text(errors="replace")


def _children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (from /proc, Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(entry.name))
    return found


def _start_cluster(
    env: dict[str, str], directory: Path, log: Path, port: int
) -> subprocess.Popen[bytes]:
    command = ["cluster", "--gateways", "2", "--workers", "1", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=directory,
        )


@pytest.mark.timeout(150)
async def test_the_cluster_command_serves_on_one_port_and_its_workers_are_woken(
    request: pytest.FixtureRequest,
    migrated_postgres_database: str,
    tmp_path: Path,
    http: httpx.AsyncClient,
    standins: dict[System, RunningStandin],
) -> None:
    """``hrss-gateway cluster --gateways 2 --workers 1`` as docs/deployment.md gives
    it: one port, two gateway processes and a worker process, which carries out
    a hire at once though it polls every 30 s; SIGTERM stops them all."""
    directory = tmp_path / "cluster"
    directory.mkdir()
    run_isolated(_prepare(migrated_postgres_database))
    env = deployment_env(
        migrated_postgres_database,
        urls_of(standins),
        timeout=3.0,
        run_worker=True,  # the cluster's gateways are told otherwise
        data_dir=directory,
        extra=_env("redis", request),
    )
    port = free_port()
    log = directory / "cluster.log"
    cluster = _start_cluster(env, directory, log, port)
    try:

        async def all_started() -> bool:
            text = log.read_text(errors="replace")
            return (
                text.count("Application startup complete") == 2
                and text.count("redis events: listening") == 3
                and "registration worker" in text
            )

        await poll(all_started, within=60, what="the cluster's processes started")
        assert len(_children(cluster.pid)) == 3
        serving = GatewayProcess("serve", env, log, directory, port=port)
        deployment = Deployment(migrated_postgres_database, env, directory, serving)
        graph = await employer(http, deployment)
        started = time.monotonic()
        ids = await submit(graph, HIRE, [hire_input(new_person())])
        settled = await settle(graph, ids, within=BOUND_S)
        assert [r["state"] for r in settled.values()] == ["COMPLETED"]
        assert time.monotonic() - started < POLL_S
        text = log.read_text(errors="replace")
        assert text.count("registration worker") == 1, "only the worker process works"
    finally:
        cluster.terminate()
        status = cluster.wait(timeout=30)
    assert status == 0, log.read_text(errors="replace")[-3000:]
    assert "registration worker" in log.read_text(errors="replace")
