"""How the graph treats the systems: batching, caching, partial failure, readiness."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS, WORKERS
from gateway.app import create_app
from gateway.demo import populate_employer
from gateway.domain.model import (
    Education,
    EmployerProfile,
    Gender,
    IdType,
    Person,
    System,
)
from gateway.services import Gateway
from tests.factories import credit_code, mobile, resident_id
from tests.gateway.conftest import GraphQLClient, error_codes, started_gateway

JINAN = EMPLOYERS[0].profile.credit_code
WITH_CONTRACT = next(w for w in WORKERS if w.employer == 0 and w.label == "employed")
#: The other worker employed with a contract at the demo employer: the one whose
#: unemployment registration a test makes (and cancels, which leaves a record in the
#: worker's shared stand-in). ``WITH_CONTRACT`` is ``test_hostile.py``'s ``OWN``,
#: which counts on the unemployment system knowing nothing of them.
REGISTERED_HERE = [w for w in WORKERS if w.employer == 0 and w.label == "employed"][1]

PAGE = """query($c: String!, $n: Int!) { employer(creditCode: $c) { workers(first: $n) {
  totalCount edges { node { idNumber status
    employmentRecords { state } labourContracts { state } unemploymentRegistrations { state }
} } } } }"""


def people(n: int) -> list[Person]:
    return [
        Person(
            IdType.RESIDENT_ID,
            resident_id(),
            f"工人{i:03d}",
            Gender.MALE,
            "01",
            Education.SENIOR_HIGH,
            mobile(),
            "山东省济南市历下区1号",
            "山东省济南市历下区1号",
        )
        for i in range(n)
    ]


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    """A deadline no busy machine reaches: the big employer's 100 workers are filed,
    then asked of the unemployment system one call each, a few at a time, and a read
    that ran out of time is not cached (at 3 s, a loaded machine missed it: the second
    page asked again). No test here waits it out; the slow system's has its own."""
    return {
        "environ": {f"HRSS_{s}_TIMEOUT": "20" for s in ("EMPLOYMENT", "LABOUR", "UNEMPLOYMENT")},
        # Readiness looked at anew at each request: a test takes a system down
        # between two (the answer kept in between has a test of its own).
        "readiness_cache_s": 0,
    }


@pytest.fixture
async def big_employer(gateway: Gateway) -> str:
    """A fresh employer with 100 workers, each employed with a contract filed."""
    profile = EmployerProfile(
        credit_code(), "济南百人制造有限公司", "370102", "赵经理", "0531-80000000"
    )
    adapters = (gateway.employment, gateway.labour, gateway.unemployment)
    record = await populate_employer(adapters, gateway.store, profile, people(100))
    return record.credit_code


async def test_a_page_of_100_workers_is_a_handful_of_calls_then_cached(
    client: GraphQLClient,
    big_employer: str,
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
) -> None:
    admin = await client.login("demo-admin")
    for s in (employment_standin, labor_standin, unemployment_standin):
        s.reset()
    body = await admin.post(PAGE, {"c": big_employer, "n": 100})
    assert "errors" not in body, body
    edges = body["data"]["employer"]["workers"]["edges"]
    assert len(edges) == 100
    assert {e["node"]["status"] for e in edges} == {"EMPLOYED_WITH_CONTRACT"}
    employment, labour, unemployment = (
        s.stats() for s in (employment_standin, labor_standin, unemployment_standin)
    )
    assert employment.get("employment.list") == 1
    assert employment.get("employment.query") == 2  # 100 people in chunks of 50
    assert labour.get("QueryContracts") == 1  # chunks of 100
    assert unemployment.get("djxx.by_person") == 100  # no batch query: one call each

    for s in (employment_standin, labor_standin, unemployment_standin):
        s.reset()
    await admin.post(PAGE, {"c": big_employer, "n": 100})
    assert employment_standin.stats() == {"employment.list": 1}  # the records came from the cache
    assert labor_standin.stats() == {}
    assert unemployment_standin.stats() == {}


async def test_unemployment_calls_stay_within_the_configured_bound(
    client: GraphQLClient,
    big_employer: str,
    gateway: Gateway,
    unemployment_standin: RunningStandin,
) -> None:
    admin = await client.login("demo-admin")
    unemployment_standin.faults(latency_ms=20)
    await admin.post(PAGE, {"c": big_employer, "n": 100})
    bound = gateway.config.system(System.UNEMPLOYMENT).max_in_flight
    assert 1 < unemployment_standin.peak_in_flight()["djxx.by_person"] <= bound


async def test_a_system_down_nulls_only_its_own_fields(
    client: GraphQLClient, labor_standin: RunningStandin
) -> None:
    employer = await client.login("demo-employer")
    labor_standin.faults(down=True)
    body = await employer.post(
        """query($n: String!) { employer { name worker(idType: RESIDENT_ID, idNumber: $n) {
        name status unavailableSystems employmentRecords { state } labourContracts { state }
        unemploymentRegistrations { state } } } }""",
        {"n": WITH_CONTRACT.person.id_number},
    )
    labor_standin.reset()
    worker = body["data"]["employer"]["worker"]
    assert body["data"]["employer"]["name"] == EMPLOYERS[0].profile.name
    assert worker["employmentRecords"] == [{"state": "EMPLOYED"}]
    assert worker["labourContracts"] is None
    assert worker["status"] == "UNKNOWN"
    assert worker["unavailableSystems"] == ["LABOUR"]
    [error] = body["errors"]
    assert error["path"] == ["employer", "worker", "labourContracts"]
    assert error["extensions"]["code"] == "SYSTEM_UNAVAILABLE"
    assert error["extensions"]["system"] == "labour"
    assert error["extensions"]["message_zh"]


async def test_a_slow_system_costs_its_fields_their_deadline_only(
    short_deadline_client: GraphQLClient, unemployment_standin: RunningStandin
) -> None:
    employer = await short_deadline_client.login("demo-employer")
    unemployment_standin.faults(latency_ms=10_000)  # the gateway's deadline is 1 s here
    body = await employer.post(
        """query($n: String!) { employer { worker(idType: RESIDENT_ID, idNumber: $n) {
        labourContracts { state } unemploymentRegistrations { state } } } }""",
        {"n": WITH_CONTRACT.person.id_number},
    )
    unemployment_standin.reset()
    worker = body["data"]["employer"]["worker"]
    assert worker["labourContracts"] == [{"state": "IN_FORCE"}]
    assert worker["unemploymentRegistrations"] is None
    assert error_codes(body) == ["SYSTEM_UNAVAILABLE"]


async def test_the_cache_is_invalidated_when_the_gateway_writes(
    client: GraphQLClient, gateway: Gateway
) -> None:
    admin = await client.login("demo-admin")
    query = f"""query($n: String!) {{ employer(creditCode: "{JINAN}") {{
      worker(idType: {REGISTERED_HERE.person.id_type.name}, idNumber: $n) {{
        unemploymentRegistrations {{ state }} }} }} }}"""
    variables = {"n": REGISTERED_HERE.person.id_number}
    before = await admin.post(query, variables)
    assert before["data"]["employer"]["worker"]["unemploymentRegistrations"] == []
    # A write for this worker, then the invalidation every gateway write performs.
    from gateway.domain.model import EndReason, UnemploymentRequest

    reference = await gateway.unemployment.register(
        UnemploymentRequest(
            EMPLOYERS[0].unemployment_id,
            REGISTERED_HERE.person,
            dt.date(2026, 1, 31),
            EndReason.AGREEMENT,
        )
    )
    try:
        stale = await admin.post(query, variables)
        assert stale == before  # still cached: nobody said it changed
        await gateway.cache.invalidate_worker(
            REGISTERED_HERE.person.id_number, {System.UNEMPLOYMENT: EMPLOYERS[0].unemployment_id}
        )
        after = await admin.post(query, variables)
        assert after["data"]["employer"]["worker"]["unemploymentRegistrations"] == [
            {"state": "REGISTERED"}
        ]
    finally:
        await gateway.unemployment.cancel(reference)


async def test_readiness_is_reported_per_system(
    client: GraphQLClient, employment_standin: RunningStandin
) -> None:
    ready = await client.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    employment_standin.faults(down=True)
    degraded = await client.http.get("/readyz")
    employment_standin.reset()
    assert degraded.status_code == 503
    assert degraded.json()["systems"]["employment"]["ready"] is False
    assert degraded.json()["systems"]["labour"] == {"ready": True}
    assert (await client.http.get("/healthz")).json() == {"status": "alive"}


async def test_readiness_looks_at_the_systems_once_in_its_interval(
    standins: dict[System, RunningStandin], tmp_path: Path
) -> None:
    # Anyone may ask /readyz as often as they like: the systems are asked once per
    # readiness_cache_s, by one of the requests, the others given its answer.
    named = {"employment": standins[System.EMPLOYMENT], "labor": standins[System.LABOUR]}
    named["unemployment"] = standins[System.UNEMPLOYMENT]
    async with started_gateway(named, tmp_path, readiness_cache_s=60) as gw:
        app = create_app(gw.config, gateway=gw)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            for standin in standins.values():
                standin.reset()
            answers = await asyncio.gather(*(http.get("/readyz") for _ in range(20)))
            assert {a.status_code for a in answers} == {200}
            # One look: each system's ping once (the labour client reads its WSDL first).
            assert {system: s.stats() for system, s in standins.items()} == {
                System.EMPLOYMENT: {"unit.get": 1},
                System.LABOUR: {"wsdl": 1, "GetEmployer": 1},
                System.UNEMPLOYMENT: {"dw.get": 1},
            }
            # Down since: the answer of the last look stands until the interval ends.
            standins[System.EMPLOYMENT].faults(down=True)
            try:
                again = await http.get("/readyz")
            finally:
                standins[System.EMPLOYMENT].reset()
            assert again.status_code == 200
            assert again.json() == answers[0].json()


async def test_federation_subgraph(client: GraphQLClient) -> None:
    sdl = (await client.post("{ _service { sdl } }"))["data"]["_service"]["sdl"]
    assert 'type Employer @key(fields: "creditCode")' in sdl
    assert 'type Worker @key(fields: "idType idNumber")' in sdl
    employer = await client.login("demo-employer")
    body = await employer.post(
        """query($r: [_Any!]!) { _entities(representations: $r) {
          ... on Employer { name } ... on Worker { name status } } }""",
        {
            "r": [
                {"__typename": "Employer", "creditCode": JINAN},
                {
                    "__typename": "Worker",
                    "idType": "RESIDENT_ID",
                    "idNumber": WITH_CONTRACT.person.id_number,
                },
                {"__typename": "Employer", "creditCode": EMPLOYERS[1].profile.credit_code},
            ]
        },
    )
    entities = body["data"]["_entities"]
    assert entities[0] == {"name": EMPLOYERS[0].profile.name}
    assert entities[1] == {"name": WITH_CONTRACT.person.name, "status": "EMPLOYED_WITH_CONTRACT"}
    assert entities[2] is None  # another employer's: not found
    assert error_codes(body) == ["NOT_FOUND"]


async def test_graphiql_is_served_without_external_urls(client: GraphQLClient) -> None:
    page = await client.http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    assert "unpkg.com" not in page.text
    assert "cdn" not in page.text.lower()
