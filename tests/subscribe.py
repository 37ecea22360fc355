"""A subscriber on each transport the gateway serves, as a client or a router speaks it.

Each function runs one subscription to its end and returns the GraphQL responses it
carried, in order: over WebSocket (graphql-transport-ws), over server-sent events
(graphql-sse, distinct connections mode) and over multipart HTTP (Apollo's
multipart subscriptions, as Apollo Router sends them to a subgraph). The parsers
are written from the protocols' texts, not from the server's code, so that they
check the framing as well as the payloads.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import websockets

TRANSPORTS = ("websocket", "sse", "multipart")

SSE_ACCEPT = "text/event-stream"
MULTIPART_ACCEPT = 'multipart/mixed;subscriptionSpec="1.0", application/json'


def _headers(token: str | None, accept: str) -> dict[str, str]:
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def over_websocket(
    ws_url: str, query: str, variables: dict[str, Any], token: str | None = None
) -> list[dict[str, Any]]:
    """Every ``next`` payload until ``complete`` (an ``error`` message is returned
    as the payload it carries, ``{"errors": [...]}``)."""
    payloads: list[dict[str, Any]] = []
    async with websockets.connect(
        ws_url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    ) as ws:
        init = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        subscribe = {"query": query, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "complete":
                return payloads
            if message["type"] == "error":
                return [*payloads, {"errors": message["payload"]}]
            if message["type"] == "next":
                payloads.append(message["payload"])


def parse_sse(text: str) -> tuple[list[dict[str, Any]], bool]:
    """The ``next`` events' data, and whether a ``complete`` event ended the stream.
    Comments (``: ping``) are heartbeats; an event ends at a blank line."""
    payloads: list[dict[str, Any]] = []
    completed = False
    event, data = "message", []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line == "":
            if data or event != "message":
                if event == "next":
                    payloads.append(json.loads("\n".join(data)))
                elif event == "complete":
                    completed = True
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    return payloads, completed


def parse_multipart(text: str, boundary: str = "graphql") -> tuple[list[dict[str, Any]], bool]:
    """The parts' ``payload`` objects (heartbeats, ``{}``, left out), and whether the
    closing delimiter ``--graphql--`` ended the body."""
    payloads: list[dict[str, Any]] = []
    completed = False
    for segment in text.split(f"--{boundary}"):
        if segment.startswith("--"):
            completed = True
            break
        head, separator, body = segment.partition("\r\n\r\n")
        if not separator or not body.strip():
            continue
        assert "content-type: application/json" in head.lower(), head
        part = json.loads(body)
        if part == {}:
            continue  # a heartbeat
        payloads.append(part["payload"])
    return payloads, completed


async def over_http(
    http: httpx.AsyncClient,
    url: str,
    transport: str,
    query: str,
    variables: dict[str, Any],
    token: str | None = None,
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """POST the subscription with the transport's ``Accept``; the response (its body
    read to the end) and the payloads it carried, which must end as the protocol says."""
    accept = SSE_ACCEPT if transport == "sse" else MULTIPART_ACCEPT
    async with http.stream(
        "POST",
        url,
        json={"query": query, "variables": variables},
        headers=_headers(token, accept),
    ) as response:
        text = "".join([chunk async for chunk in response.aiter_text()])
    if response.status_code != 200:
        return response, [json.loads(text)]
    if transport == "sse":
        assert response.headers["content-type"].startswith("text/event-stream")
        payloads, completed = parse_sse(text)
    else:
        content_type = response.headers["content-type"]
        assert content_type.startswith("multipart/mixed"), content_type
        assert "boundary=graphql" in content_type.replace('"', ""), content_type
        payloads, completed = parse_multipart(text)
    assert completed, text[-500:]
    return response, payloads


async def subscribe(
    transport: str,
    *,
    http: httpx.AsyncClient,
    base_url: str,
    query: str,
    variables: dict[str, Any],
    token: str | None = None,
) -> list[dict[str, Any]]:
    """The payloads of one subscription at ``base_url`` over ``transport``."""
    if transport == "websocket":
        ws_url = base_url.replace("http://", "ws://", 1) + "/graphql"
        return await over_websocket(ws_url, query, variables, token)
    response, payloads = await over_http(
        http, base_url + "/graphql", transport, query, variables, token
    )
    assert response.status_code == 200, (response.status_code, payloads)
    return payloads
