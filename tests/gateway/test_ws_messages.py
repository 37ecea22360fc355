"""Malformed protocol messages on ``/graphql``'s WebSocket: anyone, signed in or not,
can send them. Each closes its socket as the protocol answers an invalid message
(4400, with a reason that echoes nothing sent), never as a crash of the socket's
handler (an unhandled exception: the socket dropped with 1011 and a traceback
logged at ERROR each time, a flood of the logs for the asking); and the server goes
on serving other sockets."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from tests.gateway.conftest import GraphQLClient
from tests.gateway.test_registrations_api import HIRE, hire_input

#: graphql-transport-ws: after ``connection_init`` (acknowledged), each of these.
#: Strawberry closed four of them 4400 itself, a field missing (its KeyError caught):
#: ``subscribe`` without id, without payload or with an empty one, ``complete``
#: without id. They stay, the shape now checked before Strawberry reads any field.
TRANSPORT_WS: dict[str, Any] = {
    "subscribe-id-an-object": {
        "type": "subscribe",
        "id": {"a": 1},
        "payload": {"query": "{__typename}"},
    },
    "subscribe-id-a-number": {"type": "subscribe", "id": 1, "payload": {"query": "{__typename}"}},
    "subscribe-without-id": {"type": "subscribe", "payload": {"query": "{__typename}"}},
    "subscribe-payload-a-list": {"type": "subscribe", "id": "1", "payload": [1]},
    "subscribe-payload-a-string": {"type": "subscribe", "id": "1", "payload": "{__typename}"},
    "subscribe-payload-null": {"type": "subscribe", "id": "1", "payload": None},
    "subscribe-without-payload": {"type": "subscribe", "id": "1"},
    "subscribe-payload-empty": {"type": "subscribe", "id": "1", "payload": {}},
    "subscribe-query-a-list": {"type": "subscribe", "id": "1", "payload": {"query": ["{a}"]}},
    "subscribe-query-an-object": {"type": "subscribe", "id": "1", "payload": {"query": {"a": 1}}},
    "subscribe-variables-a-list": {
        "type": "subscribe",
        "id": "1",
        "payload": {"query": "{__typename}", "variables": [1]},
    },
    "subscribe-extensions-a-string": {
        "type": "subscribe",
        "id": "1",
        "payload": {"query": "{__typename}", "extensions": "x"},
    },
    "subscribe-operation-name-an-object": {
        "type": "subscribe",
        "id": "1",
        "payload": {"query": "{__typename}", "operationName": {"a": 1}},
    },
    "complete-id-an-object": {"type": "complete", "id": {"x": 1}},
    "complete-id-a-list": {"type": "complete", "id": [1]},
    "complete-without-id": {"type": "complete"},
    "type-an-object": {"type": {"a": 1}},
    "type-unknown-and-long": {"type": "x" * 300},
    "a-list": [1, 2],
    "a-string": "x",
    "a-number": 1,
    "null": None,
}

#: The older graphql-ws: after an anonymous ``connection_init`` (acknowledged), each.
GRAPHQL_WS: dict[str, Any] = {
    "start-id-an-object": {"type": "start", "id": {"a": 1}, "payload": {"query": "{__typename}"}},
    "start-id-a-number": {"type": "start", "id": 1, "payload": {"query": "{__typename}"}},
    "start-without-id": {"type": "start", "payload": {"query": "{__typename}"}},
    "start-payload-empty": {"type": "start", "id": "1", "payload": {}},
    "start-payload-a-list": {"type": "start", "id": "1", "payload": [1]},
    "start-payload-null": {"type": "start", "id": "1", "payload": None},
    "start-without-payload": {"type": "start", "id": "1"},
    "start-query-a-list": {"type": "start", "id": "1", "payload": {"query": ["{a}"]}},
    "start-variables-a-string": {
        "type": "start",
        "id": "1",
        "payload": {"query": "{__typename}", "variables": "x"},
    },
    "start-operation-name-a-list": {
        "type": "start",
        "id": "1",
        "payload": {"query": "{__typename}", "operationName": [1]},
    },
    "stop-id-an-object": {"type": "stop", "id": {"a": 1}},
    "stop-without-id": {"type": "stop"},
    "type-an-object": {"type": {"a": 1}},
    "a-list": [1, 2],
    "a-string": "x",
    "a-number": 1,
    "null": None,
}

CASES = [
    pytest.param("graphql-transport-ws", message, id=f"transport-ws-{name}")
    for name, message in TRANSPORT_WS.items()
] + [
    pytest.param("graphql-ws", message, id=f"graphql-ws-{name}")
    for name, message in GRAPHQL_WS.items()
]


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    # A subscription reads its registration again only when woken (or after 30 s):
    # one followed here stays running for the test's length.
    return {"subscription_poll_s": 30.0}


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """``caplog``, hearing uvicorn too: its loggers (``uvicorn.error`` writes "Exception
    in ASGI application") do not propagate to the root, where ``caplog`` listens."""
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        uvicorn.removeHandler(caplog.handler)


async def _socket(port: int, protocol: str) -> websockets.ClientConnection:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/graphql", subprotocols=[websockets.Subprotocol(protocol)]
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    async with asyncio.timeout(10):
        assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


async def _read_on(ws: websockets.ClientConnection) -> None:
    async with asyncio.timeout(10):
        while True:
            await ws.recv()


async def _closed_with(ws: websockets.ClientConnection) -> tuple[int, str]:
    """The close frame the server sent (whatever else it sent before)."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await _read_on(ws)
    received = closed.value.rcvd
    assert received is not None, "dropped without a close frame"
    return received.code, received.reason


@pytest.mark.parametrize(("protocol", "message"), CASES)
async def test_a_malformed_message_closes_its_socket_4400_and_nothing_else(
    server: int, server_log: pytest.LogCaptureFixture, protocol: str, message: Any
) -> None:
    ws = await _socket(server, protocol)
    await ws.send(json.dumps(message))
    code, reason = await _closed_with(ws)
    assert code == 4400, (code, reason)
    assert reason
    # The reason says what was wrong, not what was sent.
    assert "{" not in reason
    assert "[" not in reason
    # The server goes on serving: a new socket, a query answered.
    again = await _socket(server, "graphql-transport-ws")
    try:
        ok = {"id": "2", "type": "subscribe", "payload": {"query": "{ __typename }"}}
        await again.send(json.dumps(ok))
        async with asyncio.timeout(10):
            answer = json.loads(await again.recv())
    finally:
        await again.close()
    assert answer["payload"] == {"data": {"__typename": "Query"}}
    errors = [r for r in server_log.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def test_a_second_operation_under_a_running_ones_long_id_is_closed_4409(
    server: int, client: GraphQLClient, server_log: pytest.LogCaptureFixture
) -> None:
    # Strawberry's reason for this close named the id: one longer than a close frame
    # may carry (123 bytes) raised out of the handler instead of closing the socket.
    employer = await client.login("demo-employer")
    body = await employer.post(HIRE, {"w": [hire_input()], "k": uuid.uuid4().hex})
    [registration] = body["data"]["hire"]["registrations"]
    ws = await websockets.connect(
        f"ws://127.0.0.1:{server}/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
    )
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": employer.token}})
    )
    async with asyncio.timeout(10):
        assert json.loads(await ws.recv())["type"] == "connection_ack"
    long_id = "x" * 200
    subscribe = {
        "type": "subscribe",
        "id": long_id,
        "payload": {
            "query": "subscription($id: ID!) { registrationUpdates(id: $id) { state } }",
            "variables": {"id": registration["id"]},
        },
    }
    await ws.send(json.dumps(subscribe))
    async with asyncio.timeout(10):
        first = json.loads(await ws.recv())
    assert (first["type"], first["id"]) == ("next", long_id), first  # running
    await ws.send(json.dumps(subscribe))
    code, reason = await _closed_with(ws)
    assert code == 4409, (code, reason)
    assert reason
    assert long_id not in reason
    errors = [r for r in server_log.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


#: Operations that cannot be run as sent, each with a mobile number in it, on each
#: protocol: answered with an ``error`` message for the operation's id, the socket
#: kept, as a document that does not parse always was. graphql-ws runs subscriptions
#: only. The code each is answered with.
INVALID_OPERATIONS = [
    pytest.param(protocol, payload, code, id=f"{name}-{protocol}")
    for protocol in ("graphql-transport-ws", "graphql-ws")
    for name, payload, code in [
        ("syntax-error", {"query": "{ 13733334444"}, "GRAPHQL_PARSE_FAILED"),
        (
            "operation-name-naming-nothing",
            {"query": "subscription A { __typename }", "operationName": "x13733334444"},
            "OPERATION_NOT_FOUND",
        ),
        (
            "operation-name-naming-nothing-of-several",
            {
                "query": "subscription A { __typename } subscription B { __typename }",
                "operationName": "C13733334444",
            },
            "OPERATION_NOT_FOUND",
        ),
        (
            "operation-name-of-a-subscription-naming-nothing",
            {
                "query": "subscription S($id: ID!) { registrationUpdates(id: $id) { state } }",
                "operationName": "T13733334444",
                "variables": {"id": "1"},
            },
            "OPERATION_NOT_FOUND",
        ),
        ("query-empty", {"query": ""}, "MISSING_QUERY"),
    ]
] + [
    pytest.param(
        "graphql-ws",
        {"query": "query Q13733334444 { __typename }"},
        "OPERATION_NOT_ALLOWED",
        id="a-query-graphql-ws",
    )
]


@pytest.mark.parametrize(("protocol", "payload", "code"), INVALID_OPERATIONS)
async def test_an_invalid_operation_is_its_error_and_the_socket_goes_on(
    server: int,
    server_log: pytest.LogCaptureFixture,
    protocol: str,
    payload: dict[str, Any],
    code: str,
) -> None:
    """The finding: an ``operationName`` naming no operation of the document wrote an
    ERROR line with a stack for each message (``unexpected CannotGetOperationTypeError``),
    anyone sending them without signing in (so did an empty query, and a query over
    graphql-ws). Each is answered as a document that does not parse is: an ``error``
    message for its id, coded, echoing nothing; the socket goes on."""
    # The client library logs every frame it sends, the mobile in clear with it.
    server_log.set_level(logging.INFO, logger="websockets.client")
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    ws = await _socket(server, protocol)
    try:
        for n in range(3):
            await ws.send(json.dumps({"id": f"bad-{n}", "type": start, "payload": payload}))
            async with asyncio.timeout(10):
                raw = await ws.recv()
            assert "13733334444" not in raw
            answer = json.loads(raw)
            assert (answer["type"], answer["id"]) == ("error", f"bad-{n}"), answer
            errors = answer["payload"]
            [error] = errors if isinstance(errors, list) else [errors]
            assert error["extensions"]["code"] == code, error
            assert error["extensions"]["message_zh"]
        # The same socket runs the next operation.
        query = "subscription { __typename }" if protocol == "graphql-ws" else "{ __typename }"
        await ws.send(json.dumps({"id": "ok", "type": start, "payload": {"query": query}}))
        async with asyncio.timeout(10):
            answer = json.loads(await ws.recv())
        assert answer["id"] == "ok", answer
        assert answer["type"] in ("next", "data", "error"), answer
    finally:
        await ws.close()
    errors = [r for r in server_log.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
