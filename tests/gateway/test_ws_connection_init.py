"""Signing a WebSocket in at ``connection_init`` (graphql-transport-ws): the token in the
upgrade's ``Authorization`` header, or in the init message's payload (as browsers must
send it), treated alike: a token that does not sign in closes the socket with 4403
wherever it was sent, two different tokens are refused rather than one picked, and a
payload that is absent or null (which the protocol allows) is a socket with no token,
as one without any token is (anonymous operations where the schema allows them).
The protocol: https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
import websockets

from tests.gateway.conftest import GraphQLClient

#: What the init message carries besides its type: nothing, or a null payload.
NO_PAYLOAD: dict[str, Any] = {}
NULL_PAYLOAD: dict[str, Any] = {"payload": None}

ME = "{ me { username } }"


async def _open(
    port: int,
    init: dict[str, Any],
    *,
    header: str | None = None,
    protocol: str = "graphql-transport-ws",
) -> websockets.ClientConnection:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/graphql",
        subprotocols=[websockets.Subprotocol(protocol)],
        additional_headers={"Authorization": header} if header else None,
    )
    await ws.send(json.dumps({"type": "connection_init", **init}))
    return ws


async def _acknowledged(
    port: int, init: dict[str, Any], *, header: str | None = None
) -> websockets.ClientConnection:
    ws = await _open(port, init, header=header)
    async with asyncio.timeout(10):
        answer = json.loads(await ws.recv())
    assert answer["type"] == "connection_ack", answer
    return ws


async def _drained(ws: websockets.ClientConnection) -> None:
    while True:
        await ws.recv()


async def _closed_with(ws: websockets.ClientConnection) -> int:
    """The code of the close frame the server sent, whatever else it sent first."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(_drained(ws), 10)
    assert closed.value.rcvd is not None, "dropped without a close frame"
    return closed.value.rcvd.code


async def _run(ws: websockets.ClientConnection, query: str, op: str = "1") -> dict[str, Any]:
    """The answer to ``query`` on the socket (``next`` or ``error``), its ``complete``
    read too."""
    await ws.send(json.dumps({"id": op, "type": "subscribe", "payload": {"query": query}}))
    async with asyncio.timeout(10):
        answer: dict[str, Any] = json.loads(await ws.recv())
        assert answer["id"] == op, answer
        if answer["type"] == "next":
            assert json.loads(await ws.recv()) == {"id": op, "type": "complete"}
    return answer


def _codes(answer: dict[str, Any]) -> list[str]:
    errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    return [e["extensions"]["code"] for e in errors]


@pytest.mark.parametrize("init", [NULL_PAYLOAD, NO_PAYLOAD], ids=["null", "absent"])
async def test_a_payload_null_or_absent_is_a_socket_with_no_token(
    server: int, init: dict[str, Any]
) -> None:
    """``payload?: Record<string, unknown> | null``: a null payload was closed 4400."""
    ws = await _acknowledged(server, init)
    try:
        answer = await _run(ws, "{ __typename }")
        assert answer["payload"] == {"data": {"__typename": "Query"}}
        me = await _run(ws, ME, "2")
        assert _codes(me) == ["UNAUTHENTICATED"]
    finally:
        await ws.close()


async def test_a_payload_null_with_a_token_in_the_header_signs_in_with_the_header(
    server: int, client: GraphQLClient
) -> None:
    clerk = await client.login("demo-clerk")
    ws = await _acknowledged(server, NULL_PAYLOAD, header=f"Bearer {clerk.token}")
    try:
        answer = await _run(ws, ME)
    finally:
        await ws.close()
    assert answer["payload"]["data"]["me"]["username"] == "demo-clerk"


async def test_different_tokens_in_the_header_and_the_payload_are_refused(
    server: int, client: GraphQLClient
) -> None:
    """The header's token won and the payload's was ignored without a word: the socket
    ran as someone the client may not have meant."""
    clerk = await client.login("demo-clerk")
    employer = await client.login("demo-employer")
    for header, payload in [
        (f"Bearer {employer.token}", f"Bearer {clerk.token}"),
        (f"Bearer {clerk.token}", employer.token),
        (f"Bearer {clerk.token}", "forged"),
    ]:
        for key in ("Authorization", "token"):
            ws = await _open(server, {"payload": {key: payload}}, header=header)
            assert await _closed_with(ws) == 4403, (header[:12], key)


async def test_the_same_token_in_the_header_and_the_payload_signs_in_once(
    server: int, client: GraphQLClient
) -> None:
    clerk = await client.login("demo-clerk")
    assert clerk.token is not None
    for payload in (f"Bearer {clerk.token}", clerk.token, f"bearer  {clerk.token} "):
        ws = await _acknowledged(
            server, {"payload": {"Authorization": payload}}, header=f"Bearer {clerk.token}"
        )
        try:
            answer = await _run(ws, ME)
        finally:
            await ws.close()
        assert answer["payload"]["data"]["me"]["username"] == "demo-clerk"


@pytest.mark.parametrize("where", ["header", "payload"])
@pytest.mark.parametrize("token", ["forged", "eyJhbGciOiJIUzI1NiJ9.e30.x", ""])
async def test_a_token_that_does_not_sign_in_closes_the_socket_4403_wherever_it_is(
    server: int, where: str, token: str
) -> None:
    """A junk token in the header was acknowledged, then refused at each operation, while
    the same in the payload closed the socket at once: alike now, closed at init."""
    if where == "header":
        ws = await _open(server, {"payload": {}}, header=f"Bearer {token}".rstrip() + " ")
    else:
        ws = await _open(server, {"payload": {"Authorization": f"Bearer {token}"}})
    assert await _closed_with(ws) == 4403


async def test_a_token_of_a_disabled_account_in_the_header_closes_the_socket_4403(
    server: int, client: GraphQLClient, gateway: Any
) -> None:
    clerk = await client.login("demo-clerk")
    await gateway.store.accounts.set_disabled("demo-clerk")
    await gateway.cache.clear()
    ws = await _open(server, {"payload": {}}, header=f"Bearer {clerk.token}")
    assert await _closed_with(ws) == 4403


async def test_credentials_of_another_scheme_in_the_header_are_no_token(
    server: int, client: GraphQLClient
) -> None:
    """Browsers attach cached Basic or Negotiate credentials (a proxy's sign-in) to an
    upgrade by themselves, and a page cannot replace them: they are not a bearer token
    the client chose, so neither refused nor set against the payload's."""
    basic = "Basic " + base64.b64encode(b"someone:password").decode()
    clerk = await client.login("demo-clerk")
    ws = await _acknowledged(
        server, {"payload": {"Authorization": f"Bearer {clerk.token}"}}, header=basic
    )
    try:
        signed_in = await _run(ws, ME)
    finally:
        await ws.close()
    assert signed_in["payload"]["data"]["me"]["username"] == "demo-clerk"
    ws = await _acknowledged(server, {"payload": {}}, header=basic)
    try:
        assert (await _run(ws, "{ __typename }"))["payload"] == {"data": {"__typename": "Query"}}
        assert _codes(await _run(ws, ME, "2")) == ["UNAUTHENTICATED"]
    finally:
        await ws.close()


async def test_the_older_protocol_refuses_the_same_tokens_at_init(
    server: int, client: GraphQLClient
) -> None:
    """graphql-ws has no 4403: its refusal is ``connection_error`` and a close."""
    clerk = await client.login("demo-clerk")
    employer = await client.login("demo-employer")
    for header, payload in [
        ("Bearer forged", {}),
        (f"Bearer {clerk.token}", {"Authorization": f"Bearer {employer.token}"}),
    ]:
        ws = await _open(server, {"payload": payload}, header=header, protocol="graphql-ws")
        async with asyncio.timeout(10):
            answer = json.loads(await ws.recv())
        assert answer["type"] == "connection_error", answer
        await _closed_with(ws)
