"""What an attacker learns by probing the graph: nothing about who exists elsewhere,
and never a silent null when a system could not be asked.

Against the real gateway over ASGI, with the three stand-ins over HTTP and their
``/__sim/faults`` switched on for the systems under test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS, WORKERS
from gateway.app import create_app
from gateway.domain.model import EmployerProfile, System
from gateway.services import Gateway
from tests.factories import credit_code, resident_id
from tests.gateway.conftest import (
    GraphQLClient,
    known_only_to_the_systems,
    started_gateway,
    worker_standins,
)

#: Known to the employment and labour systems, unknown to unemployment: no test
#: registers them there (``test_systems.py`` registers the other such worker).
OWN = next(w for w in WORKERS if w.employer == 0 and w.label == "employed")
FOREIGN = next(w for w in WORKERS if w.employer == 1)
QINGDAO = EMPLOYERS[1].profile.credit_code

ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Worker { name idNumber status } } }"""


def worker_representation(id_number: str) -> dict[str, Any]:
    return {"__typename": "Worker", "idType": "RESIDENT_ID", "idNumber": id_number}


@pytest.mark.parametrize("username", ["demo-employer", "demo-clerk"])
async def test_entities_answer_a_foreign_worker_as_one_nobody_holds(
    client: GraphQLClient, username: str
) -> None:
    caller = await client.login(username)
    nobody = resident_id()
    foreign = await caller.post(ENTITIES, {"r": [worker_representation(FOREIGN.person.id_number)]})
    unknown = await caller.post(ENTITIES, {"r": [worker_representation(nobody)]})
    assert foreign == unknown == {"data": {"_entities": [None]}}
    # The same request for a worker the caller may reach does find them: the probe
    # above was answered by the rule, not by a lookup that failed for everyone.
    own = await caller.post(ENTITIES, {"r": [worker_representation(OWN.person.id_number)]})
    assert own["data"]["_entities"][0]["name"] == OWN.person.name
    # The same through the root field a window asks of a person who comes in.
    person = "query($n: String!) { worker(idType: RESIDENT_ID, idNumber: $n) { name } }"
    foreign = await caller.post(person, {"n": FOREIGN.person.id_number})
    unknown = await caller.post(person, {"n": nobody})
    assert foreign == unknown == {"data": {"worker": None}}
    own = await caller.post(person, {"n": OWN.person.id_number})
    assert own["data"]["worker"]["name"] == OWN.person.name
    # Employers: another's and one nobody registered get the same NOT_FOUND.
    employers = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Employer { name } } }"""
    other = await caller.post(employers, {"r": [{"__typename": "Employer", "creditCode": QINGDAO}]})
    invented = await caller.post(
        employers, {"r": [{"__typename": "Employer", "creditCode": "91370102MA3C4TLQ3X"}]}
    )
    assert other == invented
    assert [e["extensions"]["code"] for e in other["errors"]] == ["NOT_FOUND"]


async def test_every_field_answers_a_foreign_worker_as_one_nobody_holds(
    client: GraphQLClient,
) -> None:
    employer = await client.login("demo-employer")
    one = """query($n: String!) { employer { worker(idType: RESIDENT_ID, idNumber: $n) {
      name } } }"""
    foreign = await employer.post(one, {"n": FOREIGN.person.id_number})
    unknown = await employer.post(one, {"n": resident_id()})
    assert foreign == unknown == {"data": {"employer": {"worker": None}}}

    # Through the other employer: the same NOT_FOUND as an employer nobody registered.
    other = """query($c: String!, $n: String!) { employer(creditCode: $c) {
      worker(idType: RESIDENT_ID, idNumber: $n) { name } } }"""
    reached = await employer.post(other, {"c": QINGDAO, "n": FOREIGN.person.id_number})
    invented = await employer.post(other, {"c": "91370102MA3C4TLQ3X", "n": resident_id()})
    assert reached == invented
    assert [e["extensions"]["code"] for e in reached["errors"]] == ["NOT_FOUND"]


# --------------------------------------------------------- systems failing

SYSTEMS = ("employment", "labour", "unemployment")
FAULTS: dict[str, dict[str, Any]] = {
    "error": {"error_rate": 1.0},
    "maintenance": {"maintenance": True},
    "down": {"down": True},
}
WORKER = """query($n: String!) { employer { worker(idType: RESIDENT_ID, idNumber: $n) {
  %s } } }"""
EVERY_FIELD = "name status unavailableSystems employmentRecords { state } " + (
    "labourContracts { state } unemploymentRegistrations { state }"
)


def _cases() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Every non-empty set of systems, each failing in each way, and the reported
    case of one system erroring while another is in maintenance."""
    cases = []
    for n in (1, 2, 3):
        for failing in itertools.combinations(SYSTEMS, n):
            cases += [(failing, (kind,) * n) for kind in FAULTS]
    cases.append((("employment", "labour"), ("error", "maintenance")))
    cases.append((("employment", "labour", "unemployment"), ("down", "error", "maintenance")))
    return cases


#: A failing system is asked once: what is shown here is how the graph reports a
#: system it could not ask, not the read retries (``tests/resilience/test_retries.py``),
#: which would have it ask each failing system three times, a backoff between.
ASKED_ONCE = {"read_attempts": 1}


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return dict(ASKED_ONCE)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def employer(
    _standins: dict[str, RunningStandin], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[GraphQLClient]:
    """The demo employer, signed in to one gateway for all the failing-systems cases
    (a gateway each cost more than the cases): its cache of workers' records expires
    at once and its breakers never open, so that each case meets the systems as a
    fresh gateway would."""
    settings = {**ASKED_ONCE, "worker_cache_ttl_s": 0.001, "breaker_threshold": 1_000_000}
    standins = worker_standins(_standins, tmp_path_factory)
    async with started_gateway(standins, tmp_path_factory.mktemp("hostile"), **settings) as gw:
        app = create_app(gw.config, gateway=gw)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield await GraphQLClient(http).login("demo-employer")


@pytest.fixture
def standins(
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
) -> dict[str, RunningStandin]:
    return {
        "employment": employment_standin,
        "labour": labor_standin,
        "unemployment": unemployment_standin,
    }


def unavailable(body: dict[str, Any]) -> set[str]:
    return {
        e["extensions"]["system"]
        for e in body.get("errors", [])
        if e["extensions"]["code"] == "SYSTEM_UNAVAILABLE"
    }


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("failing", "kinds"), _cases())
@pytest.mark.parametrize("fields", [EVERY_FIELD, "name"], ids=["every-field", "name-only"])
async def test_each_system_that_could_not_be_asked_is_reported(
    employer: GraphQLClient,
    standins: dict[str, RunningStandin],
    failing: tuple[str, ...],
    kinds: tuple[str, ...],
    fields: str,
) -> None:
    for system, kind in zip(failing, kinds, strict=True):
        standins[system].faults(**FAULTS[kind])
    try:
        known = await employer.post(WORKER % fields, {"n": OWN.person.id_number})
        nobody = await employer.post(WORKER % fields, {"n": resident_id()})
    finally:
        for system in failing:
            standins[system].reset()
    for body in (known, nobody):
        # Each failing system by name, with both languages; never a silent null.
        assert unavailable(body) == set(failing), body
        for error in body["errors"]:
            assert error["extensions"]["message_zh"]
            assert error["extensions"]["message_en"]
        if body["data"]["employer"]["worker"] is None:
            assert body["errors"]
    # A worker only the failing systems could tell about is an error, not "nobody".
    assert nobody["data"]["employer"]["worker"] is None
    worker = known["data"]["employer"]["worker"]
    if "employment" in failing and "labour" in failing:
        assert worker is None  # the unemployment system has no record of them
    elif worker is not None and fields == EVERY_FIELD:
        assert set(worker["unavailableSystems"]) == {s.upper() for s in failing}


@pytest.mark.parametrize("slow", [("labour",), ("employment", "unemployment"), SYSTEMS])
async def test_systems_that_time_out_are_reported_too(
    short_deadline_client: GraphQLClient,
    standins: dict[str, RunningStandin],
    slow: tuple[str, ...],
) -> None:
    employer = await short_deadline_client.login("demo-employer")
    for system in slow:
        standins[system].faults(latency_ms=10_000)  # the gateway's deadline is 1 s here
    try:
        body = await employer.post(WORKER % "name status", {"n": OWN.person.id_number})
    finally:
        for system in slow:
            standins[system].reset()
    assert unavailable(body) == set(slow), body


# ------------------------------------ a unit the gateway has not met, systems down

HIRE = """mutation($w: [HireInput!]!, $k: String!, $c: String) {
  hire(workers: $w, idempotencyKey: $k, creditCode: $c) { accepted registrations { id } } }"""
EMPLOYER = "query($c: String!) { employer(creditCode: $c) { creditCode name } }"
EMPLOYER_ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Employer { name } } }"""


async def unmet_unit(
    gateway: Gateway, standins: dict[str, RunningStandin], holders: str
) -> tuple[str, set[str]]:
    """A unit of demo-clerk's division that the systems know (every one, or only the
    unemployment system) and the gateway has not met, the systems that hold it put
    down: its code, and the names of the systems down."""
    code = credit_code(division="370102")
    unit = EmployerProfile(code, "济南未见面商贸有限公司", "370102", "孙七", "0531-80000007")
    by_system = {System(name): standin for name, standin in standins.items()}
    holding = await known_only_to_the_systems(gateway, by_system, unit, holders)
    return code, {s.value for s in holding}


@pytest.mark.parametrize("holders", ["every-system", "one-system"])
async def test_a_unit_not_met_yet_while_its_systems_cannot_be_asked_is_unavailable_not_unknown(
    client: GraphQLClient,
    gateway: Gateway,
    standins: dict[str, RunningStandin],
    holders: str,
) -> None:
    """The finding: a unit the gateway had not met yet, while the systems that know it
    could not be asked, was answered "No such employer": a clerk submitting a hire for
    it was told it does not exist. It is the system's unavailability, named."""
    from tests.gateway.test_registrations_api import hire_input

    code, down = await unmet_unit(gateway, standins, holders)
    clerk = await client.login("demo-clerk")
    employer = await client.login("demo-employer")
    try:
        hire = await clerk.post(HIRE, {"w": [hire_input()], "k": uuid.uuid4().hex, "c": code})
        looked_up = await clerk.post(EMPLOYER, {"c": code})
        # Who may not look the unit up (an employer, another's) learns nothing: the
        # same NOT_FOUND as for a code nobody registered, no system asked.
        other = await employer.post(EMPLOYER, {"c": code})
        nobody = await employer.post(EMPLOYER, {"c": credit_code(division="370102")})
    finally:
        for system in down:
            standins[system].reset()
    for body in (hire, looked_up):
        assert [e["extensions"]["code"] for e in body["errors"]] == ["SYSTEM_UNAVAILABLE"], body
        [error] = body["errors"]
        assert error["extensions"]["system"] in down
        assert error["extensions"]["message_zh"]
        assert error["extensions"]["message_en"]
    assert [e["extensions"]["code"] for e in other["errors"]] == ["NOT_FOUND"]
    assert other == nobody
    # Nothing remembered of a lookup that could not be made: asked again once up.
    assert await gateway.store.employers.get(code) is None
    again = await clerk.post(EMPLOYER, {"c": code})
    assert again["data"]["employer"]["creditCode"] == code, again


async def test_a_unit_not_met_yet_is_unavailable_in_its_place_among_entities(
    client: GraphQLClient, gateway: Gateway, standins: dict[str, RunningStandin]
) -> None:
    """Federation resolves each representation on its own: the unit that could not be
    looked up is an error in its place, the others are answered."""
    code, down = await unmet_unit(gateway, standins, "every-system")
    clerk = await client.login("demo-clerk")
    jinan = EMPLOYERS[0].profile
    try:
        body = await clerk.post(
            EMPLOYER_ENTITIES,
            {
                "r": [
                    {"__typename": "Employer", "creditCode": jinan.credit_code},
                    {"__typename": "Employer", "creditCode": code},
                ]
            },
        )
    finally:
        for system in down:
            standins[system].reset()
    assert body["data"]["_entities"] == [{"name": jinan.name}, None], body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "SYSTEM_UNAVAILABLE"
    assert error["path"] == ["_entities", 1]


# ------------------------------------------------------------- WebSocket

ID = "110101199003077777"
MOBILE = "13800138000"


async def _socket(port: int) -> websockets.ClientConnection:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


SUBSCRIPTIONS: dict[str, dict[str, Any]] = {
    "does-not-parse": {"query": f"subscription {{ registrationUpdates(id: {ID} }}"},
    "person-for-an-id": {
        "query": "subscription($id: ID!) { registrationUpdates(id: $id) { state } }",
        "variables": {"id": {"idNumber": ID, "mobile": MOBILE}},
    },
    "unknown-operation": {
        "query": "subscription S($id: ID!) { registrationUpdates(id: $id) { state } }",
        "variables": {"id": ID},
        "operationName": f"Q{ID}",
    },
    "not-signed-in": {
        "query": "subscription($id: ID!) { registrationUpdates(id: $id) { state } }",
        "variables": {"id": ID},
    },
}


@pytest.mark.parametrize("name", list(SUBSCRIPTIONS))
async def test_websocket_errors_are_coded_and_echo_nothing(
    server: int, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The client library logs every frame it sends, the mobile in clear with it.
    caplog.set_level(logging.INFO, logger="websockets.client")
    ws = await _socket(server)
    try:
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": SUBSCRIPTIONS[name]}))
        async with asyncio.timeout(10):
            message = await ws.recv()
    finally:
        await ws.close()
    assert isinstance(message, str)
    assert ID not in message
    assert MOBILE not in message
    answer = json.loads(message)
    errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    assert errors
    for error in errors:
        assert error["extensions"]["code"] not in ("INTERNAL", None)
        assert error["extensions"]["message_en"]
        assert error["extensions"]["message_zh"]


async def test_a_websocket_message_larger_than_a_body_may_be_closes_the_socket(
    server: int, gateway: Gateway
) -> None:
    limit = gateway.config.limits.max_body_bytes  # 1 MiB; uvicorn's own, 16 MiB
    ws = await _socket(server)
    query = "{ __typename }" + " " * limit
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big
    # Within the limit, a socket works.
    again = await _socket(server)
    small = {"id": "2", "type": "subscribe", "payload": {"query": "{ __typename }"}}
    await again.send(json.dumps(small))
    assert json.loads(await again.recv())["payload"] == {"data": {"__typename": "Query"}}
    await again.close()


@pytest.mark.parametrize("payload", ["deep", "half-a-character"])
async def test_a_websocket_message_50000_deep_closes_the_socket_not_the_server(
    server: int, payload: str
) -> None:
    ws = await _socket(server)
    if payload == "deep":
        inner = "[" * 50_000 + "]" * 50_000
    else:  # half a character in a variable: the same refusal as a body's
        inner = '{"query": "subscription($id: ID!) { registrationUpdates(id: $id) { state } }", '
        inner += '"variables": {"id": "\\ud800"}}'
    await ws.send('{"id": "1", "type": "subscribe", "payload": ' + inner + "}")
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
    # The server goes on answering.
    again = await _socket(server)
    await again.close()
