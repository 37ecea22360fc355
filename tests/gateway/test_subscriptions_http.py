"""Subscriptions over plain HTTP: server-sent events and multipart, as routers use them.

A hire is carried out by the worker in the background while the subscription
follows it over each transport, to its end. Who may follow what is decided as
for every other request: the same token, the same rights, the same refusals,
whichever the transport.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

import httpx
import pytest

from adapters.standin.process import RunningStandin
from gateway.app import create_app
from gateway.http.ratelimit import RateLimits
from gateway.services import Gateway
from tests.gateway.conftest import GraphQLClient
from tests.gateway.test_registrations_api import HIRE, hire_input
from tests.subscribe import TRANSPORTS, over_http, parse_multipart, parse_sse, subscribe

SUBSCRIBE = "subscription($id: ID!) { registrationUpdates(id: $id) { id state version } }"

#: Subscriptions here read their registration again only when woken (or after 30 s):
#: following one to its end within the tests' time shows the wake-ups at work.
POLL_S = 30.0


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return {"subscription_poll_s": POLL_S}


async def hire(employer: GraphQLClient) -> str:
    body = await employer.post(HIRE, {"w": [hire_input()], "k": uuid.uuid4().hex})
    [registration] = body["data"]["hire"]["registrations"]
    registration_id: str = registration["id"]
    return registration_id


def codes(payloads: list[dict[str, Any]]) -> list[str]:
    return [e["extensions"]["code"] for p in payloads for e in p.get("errors", [])]


@pytest.mark.parametrize("transport", ["sse", "multipart"])
async def test_a_registration_is_followed_to_its_end_over_http(
    transport: str, worker: None, client: GraphQLClient, labor_standin: RunningStandin
) -> None:
    # The contract filing takes a while: the subscription starts before the end.
    labor_standin.faults(latency_ms=600)
    employer = await client.login("demo-employer")
    registration_id = await hire(employer)
    async with asyncio.timeout(POLL_S / 2):
        _, payloads = await over_http(
            client.http, "/graphql", transport, SUBSCRIBE, {"id": registration_id}, employer.token
        )
    updates = [p["data"]["registrationUpdates"] for p in payloads]
    assert {u["id"] for u in updates} == {registration_id}
    assert updates[0]["state"] != "COMPLETED"
    assert updates[-1]["state"] == "COMPLETED"
    # One payload per version seen, in order, never the same one twice.
    versions = [u["version"] for u in updates]
    assert versions == sorted(set(versions))


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_without_a_token_every_transport_refuses_alike(
    transport: str, gateway: Gateway, client: GraphQLClient, server: int
) -> None:
    employer = await client.login("demo-employer")
    registration_id = await hire(employer)
    async with httpx.AsyncClient(timeout=30) as http:
        payloads = await subscribe(
            transport,
            http=http,
            base_url=f"http://127.0.0.1:{server}",
            query=SUBSCRIBE,
            variables={"id": registration_id},
        )
    assert codes(payloads) == ["UNAUTHENTICATED"]
    assert all(p.get("data") is None for p in payloads)


@pytest.mark.parametrize("transport", ["sse", "multipart"])
async def test_a_forged_token_is_refused_over_http_as_on_any_request(
    transport: str, gateway: Gateway, client: GraphQLClient
) -> None:
    employer = await client.login("demo-employer")
    registration_id = await hire(employer)
    plain = await GraphQLClient(client.http, "forged").post(
        "query($id: ID!) { registration(id: $id) { id } }", {"id": registration_id}
    )
    _, payloads = await over_http(
        client.http, "/graphql", transport, SUBSCRIBE, {"id": registration_id}, "forged"
    )
    assert codes(payloads) == codes([plain]) != []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_registration_out_of_reach_is_not_found_over_every_transport(
    transport: str, gateway: Gateway, client: GraphQLClient, server: int
) -> None:
    employer = await client.login("demo-employer")
    async with httpx.AsyncClient(timeout=30) as http:
        payloads = await subscribe(
            transport,
            http=http,
            base_url=f"http://127.0.0.1:{server}",
            query=SUBSCRIBE,
            variables={"id": str(uuid.uuid4())},
            token=employer.token,
        )
    assert codes(payloads) == ["NOT_FOUND"]


async def test_a_plain_request_is_told_which_transports_serve_subscriptions(
    client: GraphQLClient,
) -> None:
    body = await client.post(SUBSCRIBE, {"id": "x"})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "SUBSCRIPTION_NEEDS_WEBSOCKET"
    for transport in ("graphql-transport-ws", "graphql-sse", "text/event-stream", "multipart"):
        assert transport in error["extensions"]["message_en"]
        assert transport in error["extensions"]["message_zh"]


async def test_an_unknown_media_type_is_told_the_streaming_ones_too(client: GraphQLClient) -> None:
    r = await client.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Accept": "text/csv"}
    )
    assert r.status_code == 406
    [error] = r.json()["errors"]
    assert "text/event-stream" in error["extensions"]["message_en"]
    assert "subscriptionSpec" in error["extensions"]["message_en"]


@pytest.mark.parametrize("transport", ["sse", "multipart"])
async def test_a_document_that_does_not_parse_is_answered_in_the_stream(
    transport: str, client: GraphQLClient
) -> None:
    _, payloads = await over_http(client.http, "/graphql", transport, "subscription {", {})
    assert codes(payloads) == ["GRAPHQL_PARSE_FAILED"]


async def test_streams_count_against_the_rate_limit_as_every_request_does(
    gateway: Gateway,
) -> None:
    config = dataclasses.replace(gateway.config, rate_limits=RateLimits(per_address="2/minute"))
    app = create_app(config, gateway=gateway)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        statuses = []
        for transport in ("sse", "multipart", "sse"):
            response, _ = await over_http(http, "/graphql", transport, SUBSCRIBE, {"id": "x"})
            statuses.append(response.status_code)
    assert statuses == [200, 200, 429]


def test_the_parsers_read_the_protocols_framing() -> None:
    sse = (
        'event: next\r\ndata: {"data":{"a":1}}\r\n\r\n'
        ": ping\r\n\r\n"
        "event: complete\r\ndata: \r\n\r\n"
    )
    assert parse_sse(sse) == ([{"data": {"a": 1}}], True)
    assert parse_sse('event: next\ndata: {"data":null}\n\n') == ([{"data": None}], False)
    part = "Content-Type: application/json; charset=utf-8\r\n\r\n"
    body = (
        f"--graphql\r\n{part}{{}}\r\n"
        f'--graphql\r\n{part}{{"payload":{{"data":{{"a":1}}}}}}\r\n'
        "--graphql--\r\n"
    )
    assert parse_multipart(body) == ([{"data": {"a": 1}}], True)
    assert parse_multipart(body.removesuffix("--graphql--\r\n")) == ([{"data": {"a": 1}}], False)
