"""Counts shared through Redis, across gateway processes; and a Redis that fails.

The two-process test starts two real uvicorn servers running ``tests.ratelimit.app``
on free loopback ports, both counting in one Redis under the test's own prefix.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.standin import process as standin_process
from adapters.standin.process import ChildProcess, free_port
from gateway.auth import Role, issue_token
from gateway.http.ratelimit import RateLimitMiddleware, RateLimits
from tests.services import RedisNamespace, services

SECRET = "t" * 32
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Principal:
    id: int
    role: Role = Role.CLERK


def bearer(account_id: int) -> dict[str, str]:
    token = issue_token(Principal(account_id), secret=SECRET, ttl=dt.timedelta(hours=1))
    return {"authorization": f"Bearer {token}"}


# ------------------------------------------------------------ two processes


@dataclass
class Server:
    url: str
    proc: ChildProcess
    log: Path


def spawn_server(env: dict[str, str], log: Path) -> Server:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "tests.ratelimit.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with log.open("ab") as out:
        # Forked from the tests' fork server where it runs (tests/forkserver.py).
        proc = standin_process.launch(
            cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )
    return Server(f"http://127.0.0.1:{port}", proc, log)


def wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + 30
    # Asked often, over one client: a refused connection costs next to nothing.
    with httpx.Client(timeout=1.0) as probe:
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(f"the test server exited:\n{server.log.read_text()[-3000:]}")
            try:
                probe.get(server.url + "/healthz").raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.02)
    raise RuntimeError(f"the test server did not start:\n{server.log.read_text()[-3000:]}")


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture
def two_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Server]]:
    """Two processes of the test app; ``request.param`` is the storage: redis or memory."""
    env = {
        "RATELIMIT_TEST_TOKEN_SECRET": SECRET,
        "HRSS_RATE_LIMIT_PER_ADDRESS": "6/minute",
        "HRSS_RATE_LIMIT_PER_ACCOUNT": "4/minute",
    }
    if request.param == "redis":
        namespace: RedisNamespace = request.getfixturevalue("redis_namespace")
        env["RATELIMIT_TEST_STORAGE_URL"] = namespace.url
        env["HRSS_RATE_LIMIT_KEY_PREFIX"] = namespace.prefix.rstrip(":")
    else:
        env["RATELIMIT_TEST_STORAGE_URL"] = "memory://"
    servers: list[Server] = []
    try:
        # Both at once: each takes a few seconds to import.
        servers += [spawn_server(env, tmp_path / f"server-{i}.log") for i in range(2)]
        for server in servers:
            wait_until_up(server)
        yield servers
    finally:
        for server in servers:
            stop_server(server)


def post(server: Server, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        server.url + "/graphql", json={"query": "{ __typename }"}, headers=headers, timeout=10
    )


@services
@pytest.mark.parametrize("two_servers", ["redis"], indirect=True)
def test_requests_spread_over_two_processes_count_against_one_limit(
    two_servers: list[Server],
) -> None:
    a, b = two_servers
    # Anonymous: 6 per address in all, 3 through each process.
    answers = [post(server) for server in (a, b, a, b, a, b)]
    assert [r.status_code for r in answers] == [200] * 6
    pids = {r.json()["data"]["pid"] for r in answers}
    assert pids == {a.proc.pid, b.proc.pid}  # two processes really answered
    refused = post(a)
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert post(b).status_code == 429
    # Signed in: 4 per account in all, whichever process gets the request.
    for server in (b, a, b, a):
        assert post(server, bearer(9)).status_code == 200
    assert post(b, bearer(9)).status_code == 429
    assert post(a, bearer(10)).status_code == 200


@pytest.mark.parametrize("two_servers", ["memory"], indirect=True)
def test_without_redis_each_process_counts_alone(two_servers: list[Server]) -> None:
    """The control of the test above: the same requests with counts in memory."""
    a, b = two_servers
    assert [post(server).status_code for server in (a, b) * 6] == [200] * 12
    assert post(a).status_code == post(b).status_code == 429


# ------------------------------------------------------ shared in one process


async def hello(request: Request) -> Response:
    return JSONResponse({"data": {"ok": True}})


INNER = Starlette(routes=[Route("/graphql", hello, methods=["POST"])])


def client_of(middleware: RateLimitMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(middleware, client=("203.0.113.5", 40000)),
        base_url="http://gateway",
    )


async def statuses(middleware: RateLimitMiddleware, n: int) -> list[int]:
    async with client_of(middleware) as client:
        return [
            (await client.post("/graphql", json={"query": "{ a }"})).status_code for _ in range(n)
        ]


@services
async def test_the_redis_key_prefix_separates_two_gateways(
    redis_namespace: RedisNamespace,
) -> None:
    # Both prefixes start with the test's own, so that the fixture deletes their keys.
    ours, theirs = redis_namespace.prefix + "ours", redis_namespace.prefix + "theirs"
    same = [
        RateLimitMiddleware(INNER, RateLimits(per_address="2/minute", key_prefix=ours), url)
        for url in (redis_namespace.url, "async+" + redis_namespace.url)
    ]
    other = RateLimitMiddleware(
        INNER, RateLimits(per_address="2/minute", key_prefix=theirs), redis_namespace.url
    )
    try:
        assert await statuses(same[0], 1) == [200]
        assert await statuses(same[1], 2) == [200, 429]  # both URL spellings share the count
        assert await statuses(other, 2) == [200, 200]
    finally:
        for middleware in [*same, other]:
            await middleware.aclose()


# Redis that fails: counted in the process's memory meanwhile, and Redis tried again
# after a pause: tests/ratelimit/test_redis_outage.py.
