"""One system slow or down costs its own calls and nothing more: the other
systems' calls, and the graph's fields that do not touch it, are unaffected."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS, WORKERS
from gateway.app import create_app
from gateway.demo import prepare_store
from gateway.domain.model import System
from gateway.registry import adapter_as
from gateway.resilience import (
    CircuitOpen,
    Resilient,
)
from gateway.services import Gateway
from gateway.systems import EmploymentSystem, LabourSystem, Unavailable, UnemploymentSystem
from tests.gateway.conftest import GraphQLClient, error_codes, gateway_config
from tests.resilience.conftest import QUICK, Wrappers, requests

UNIT = EMPLOYERS[0]
PERSON = next(w for w in WORKERS if w.employer == 0).person.id_number


async def test_a_slow_system_does_not_hold_up_the_others(
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
    wrappers: Wrappers,
) -> None:
    policy = dataclasses.replace(QUICK, deadline_s=8.0)
    employment = wrappers.employment(employment_standin, policy)
    labour = wrappers.labour(labor_standin, policy)
    unemployment = wrappers.unemployment(unemployment_standin, policy)
    await labour.ping()  # its WSDL, before the fault
    labor_standin.faults(latency_ms=10_000)

    stuck = [asyncio.create_task(labour.query([PERSON], UNIT.labour_id)) for _ in range(12)]
    try:
        for _ in range(3):
            assert await employment.query([PERSON], UNIT.employment_id)
            assert await unemployment.query([PERSON]) is not None
        assert not any(t.done() for t in stuck)
    finally:
        for t in stuck:
            t.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)


async def test_a_dead_system_does_not_hold_up_the_others(
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
    wrappers: Wrappers,
) -> None:
    policy = dataclasses.replace(QUICK, breaker_threshold=2, breaker_recovery_s=60)
    employment = wrappers.employment(employment_standin, policy)
    labour = wrappers.labour(labor_standin, policy)
    unemployment = wrappers.unemployment(unemployment_standin, policy)
    labor_standin.faults(down=True)
    for _ in range(2):
        with pytest.raises(Unavailable):
            await labour.query([PERSON], UNIT.labour_id)
    assert labour.breaker_state == "open"

    assert await employment.query([PERSON], UNIT.employment_id)
    assert await unemployment.query([PERSON]) is not None
    assert employment.breaker_state == unemployment.breaker_state == "closed"


def test_each_wrapper_is_its_systems_kind_only(
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
    wrappers: Wrappers,
) -> None:
    employment = wrappers.employment(employment_standin)
    labour = wrappers.labour(labor_standin)
    unemployment = wrappers.unemployment(unemployment_standin)
    assert isinstance(employment, EmploymentSystem)
    assert isinstance(labour, LabourSystem)
    assert isinstance(unemployment, UnemploymentSystem)
    assert not isinstance(employment, UnemploymentSystem)
    assert not isinstance(unemployment, EmploymentSystem)
    # Each system's registered writes check their adapter so.
    assert adapter_as(employment, EmploymentSystem) is employment
    assert adapter_as(labour, LabourSystem) is labour
    assert adapter_as(unemployment, UnemploymentSystem) is unemployment
    assert [w.system for w in (employment, labour, unemployment)] == list(System)


# --------------------------------------------------------- through the graph

NOT_LABOUR = """query($c: String!) { employer(creditCode: $c) { workers(first: 5) {
  edges { node { idNumber employmentRecords { state }
  unemploymentRegistrations { state } } } } } }"""
WITH_LABOUR = """query($c: String!) { employer(creditCode: $c) { workers(first: 5) {
  edges { node { idNumber employmentRecords { state } labourContracts { state } } } } } }"""


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRSS_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("HRSS_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("HRSS_ARGON2_PARALLELISM", "1")


@pytest.fixture
async def resilient_gateway(
    tmp_path: Path,
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
) -> AsyncIterator[Gateway]:
    """The real gateway, its adapters wrapped by ``Gateway.start`` from the configuration
    (a low breaker threshold and short pauses, so that the test is quick)."""
    config = gateway_config(
        tmp_path,
        employment_standin,
        labor_standin,
        unemployment_standin,
        breaker_threshold=2,
        backoff_base_s=0.01,
    )
    gw = await Gateway.start(config)
    assert all(isinstance(a, Resilient) for a in gw.adapters.values())
    await prepare_store(gw.store)
    yield gw
    await gw.close()


async def test_the_graph_keeps_answering_without_a_dead_system(
    resilient_gateway: Gateway, labor_standin: RunningStandin
) -> None:
    gw = resilient_gateway
    app = create_app(gw.config, gateway=gw)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        admin = await GraphQLClient(http).login("demo-admin")
        variables = {"c": UNIT.profile.credit_code}
        labor_standin.faults(down=True)

        for _ in range(3):
            await gw.cache.clear()
            body = await admin.post(NOT_LABOUR, variables)
            assert "errors" not in body, body
            assert body["data"]["employer"]["workers"]["edges"]

        for _ in range(3):
            await gw.cache.clear()
            body = await admin.post(WITH_LABOUR, variables)
            # Only the labour fields fail; the rest of each worker is there.
            assert set(error_codes(body)) == {"SYSTEM_UNAVAILABLE"}
            nodes = [e["node"] for e in body["data"]["employer"]["workers"]["edges"]]
            assert nodes
            assert all(n["labourContracts"] is None for n in nodes)
            assert all(n["employmentRecords"] is not None for n in nodes)

        # The breaker opened on the first query's failed tries: the labour system
        # was not called again, and readiness says why.
        assert gw.labour.breaker_state == "open"  # type: ignore[attr-defined]
        assert requests(labor_standin) <= 2
        assert (await gw.readiness())[System.LABOUR] == CircuitOpen.__name__
