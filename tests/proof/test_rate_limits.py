"""Rate limits hold across gateway processes that share Redis."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import httpx

from adapters.standin.process import RunningStandin
from gateway.domain.model import System
from tests.proof.conftest import Deployment
from tests.services import RedisNamespace

QUERY = {"query": '{ codeTable(name: "gender") { name } }'}


async def test_two_gateways_sharing_redis_count_against_one_limit(
    tmp_path: Path,
    deployments: Callable[..., Deployment],
    standins: dict[System, RunningStandin],
    redis_namespace: RedisNamespace,
) -> None:
    deployment = deployments(
        tmp_path,
        {system: s.url for system, s in standins.items()},
        workers=0,
        env={
            "HRSS_CACHE_URL": redis_namespace.url,
            "HRSS_RATE_LIMIT_KEY_PREFIX": redis_namespace.prefix.rstrip(":"),
            "HRSS_RATE_LIMIT_PER_ADDRESS": "10/minute",
        },
        gateways=[{}],  # the second, started beside the first
    )
    [second] = deployment.workers
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=10) as http:
        # Alternate between the two processes: 14 anonymous requests from one address.
        for url in itertools.islice(itertools.cycle([deployment.url, second.url]), 14):
            r = await http.post(url + "/graphql", json=QUERY)
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) > 0
                assert r.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # Each process alone saw 7: only a count shared through Redis refuses any.
    assert statuses[:10] == [200] * 10
    assert statuses[10:] == [429] * 4
