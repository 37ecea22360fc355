"""An ``operationName`` that names no operation of its document, sent by anyone over
every transport that carries one: a coded request error (``OPERATION_NOT_FOUND``), the
name not repeated, nothing logged at ERROR (the WebSocket's protocols:
``tests/gateway/test_ws_messages.py``).

The finding: over the streaming transports each such request wrote an ERROR line with
a stack (``unexpected CannotGetOperationTypeError``), a flood of the logs for anyone
asking without signing in."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import GraphQLClient
from tests.subscribe import MULTIPART_ACCEPT, SSE_ACCEPT, parse_multipart, parse_sse

NAME = "Q370102199304059312"  # the caller's: never repeated, never logged
GQL = "application/graphql-response+json"

#: Documents and the transport that runs them: a query over POST and GET, a
#: subscription over server-sent events and multipart.
QUERY = "query A { __typename }"
SUBSCRIPTION = "subscription A($id: ID!) { registrationUpdates(id: $id) { state } }"


async def _answer(http: httpx.AsyncClient, transport: str) -> tuple[int, str, list[dict[str, Any]]]:
    """The status, the body, and the errors it carries, for a request naming ``NAME``."""
    if transport == "get":
        r = await http.get(
            "/graphql", params={"query": QUERY, "operationName": NAME}, headers={"Accept": GQL}
        )
        return r.status_code, r.text, r.json().get("errors", [])
    if transport == "post":
        body: dict[str, Any] = {"query": QUERY, "operationName": NAME}
        r = await http.post("/graphql", json=body, headers={"Accept": GQL})
        return r.status_code, r.text, r.json().get("errors", [])
    accept = SSE_ACCEPT if transport == "sse" else MULTIPART_ACCEPT
    body = {"query": SUBSCRIPTION, "variables": {"id": "1"}, "operationName": NAME}
    async with http.stream("POST", "/graphql", json=body, headers={"Accept": accept}) as r:
        text = "".join([chunk async for chunk in r.aiter_text()])
    if r.status_code != 200:
        return r.status_code, text, json.loads(text).get("errors", [])
    payloads, completed = parse_sse(text) if transport == "sse" else parse_multipart(text)
    assert completed, text
    return r.status_code, text, [e for p in payloads for e in p.get("errors", [])]


@pytest.mark.parametrize("transport", ["post", "get", "sse", "multipart"])
async def test_an_operation_name_naming_nothing_is_a_request_error_on_every_transport(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture, transport: str
) -> None:
    for _ in range(3):
        status, text, errors = await _answer(client.http, transport)
        assert status in (200, 400), (status, text)
        assert NAME not in text
        assert [e["extensions"]["code"] for e in errors] == ["OPERATION_NOT_FOUND"], text
        assert all(e["extensions"]["message_zh"] for e in errors)
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not logged, [r.getMessage() for r in logged]
