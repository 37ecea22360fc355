"""Request limits in one process: thresholds, the 429 answer, what is counted, and how."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Scope
from starlette.websockets import WebSocket

from gateway.auth import Role, issue_token
from gateway.http.ratelimit import (
    RateLimitMiddleware,
    RateLimits,
    address_key,
    bearer_account_key,
    client_address,
    resolve_client_address,
)

SECRET = "s" * 32


@dataclass(frozen=True)
class Principal:
    id: int
    role: Role = Role.EMPLOYER


def token(account_id: int, *, secret: str = SECRET, ttl_s: int = 3600) -> str:
    return issue_token(Principal(account_id), secret=secret, ttl=dt.timedelta(seconds=ttl_s))


def bearer(account_id: int) -> dict[str, str]:
    return {"authorization": f"Bearer {token(account_id)}"}


class Inner:
    """The app behind the middleware: counts what reaches it, and what address it was told."""

    def __init__(self) -> None:
        self.reached = 0
        self.addresses: list[str | None] = []

        async def graphql(request: Request) -> Response:
            self.reached += 1
            self.addresses.append(client_address(request.scope))
            return JSONResponse({"data": {"ok": True}})

        async def other(request: Request) -> Response:
            return JSONResponse({"ok": True})

        async def subscriptions(websocket: WebSocket) -> None:
            await websocket.accept()
            await websocket.send_json({"ok": True})
            await websocket.close()

        self.app = Starlette(
            routes=[
                Route("/graphql", graphql, methods=["GET", "POST"]),
                WebSocketRoute("/graphql", subscriptions),
                Route("/healthz", other),
                Route("/readyz", other),
                Route("/metrics", other),
                Route("/graphiql/static/app.js", other),
                Route("/forms/registration-template.xlsx", other),
                Route("/forms/marked/{token}.xlsx", other),
            ]
        )


@pytest.fixture
def inner() -> Inner:
    return Inner()


Build = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def build(inner: Inner) -> AsyncIterator[Build]:
    """``build(limits, peer=...)``: a client, from ``peer``, of the middleware around
    ``inner``; clients built with equal limits go through one middleware (one count)."""
    middlewares: dict[RateLimits, RateLimitMiddleware] = {}
    clients: list[httpx.AsyncClient] = []

    def make(limits: RateLimits | None = None, *, peer: str = "203.0.113.7") -> httpx.AsyncClient:
        limits = limits or RateLimits(per_account="4/minute", per_address="3/minute")
        if limits not in middlewares:
            middlewares[limits] = RateLimitMiddleware(
                inner.app, limits, "memory://", account_of=bearer_account_key(SECRET)
            )
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(middlewares[limits], client=(peer, 40000)),
            base_url="http://gateway",
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    for middleware in middlewares.values():
        await middleware.aclose()


def query(client: httpx.AsyncClient, **kwargs: Any) -> Any:
    return client.post("/graphql", json={"query": "{ __typename }"}, **kwargs)


async def test_anonymous_requests_just_at_and_just_over_the_address_limit(
    build: Build, inner: Inner
) -> None:
    client = build()
    for _ in range(3):
        assert (await query(client)).status_code == 200
    refused = await query(client)
    assert refused.status_code == 429
    assert inner.reached == 3  # the refused request never reached GraphQL


async def test_signed_in_requests_just_at_and_just_over_the_account_limit(
    build: Build, inner: Inner
) -> None:
    client = build()
    for _ in range(4):
        assert (await query(client, headers=bearer(1))).status_code == 200
    assert (await query(client, headers=bearer(1))).status_code == 429
    assert inner.reached == 4


async def test_the_refusal_is_graphql_shaped_with_retry_after(build: Build) -> None:
    client = build(RateLimits(per_address="1/minute"))
    await query(client)
    refused = await query(client)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/json; charset=utf-8"
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60
    body = refused.json()
    assert set(body) == {"errors"}
    (error,) = body["errors"]
    extensions = error["extensions"]
    assert extensions["code"] == "RATE_LIMITED"
    assert extensions["retry_after"] == retry_after
    assert error["message"] == extensions["message_en"]
    assert str(retry_after) in extensions["message_en"]
    assert "请求过于频繁" in extensions["message_zh"]
    assert str(retry_after) in extensions["message_zh"]
    assert int(refused.headers["content-length"]) == len(refused.content)


async def test_accounts_and_addresses_are_counted_apart(build: Build) -> None:
    client = build()
    for _ in range(4):
        assert (await query(client, headers=bearer(1))).status_code == 200
    assert (await query(client, headers=bearer(1))).status_code == 429
    # Account 1 has used its share; another account and anonymous callers on the same
    # address (a service hall behind one address) have theirs.
    assert (await query(client, headers=bearer(2))).status_code == 200
    for _ in range(3):
        assert (await query(client)).status_code == 200
    assert (await query(client)).status_code == 429
    # Anonymous requests used up the address: signed-in ones still pass.
    assert (await query(client, headers=bearer(2))).status_code == 200


async def test_an_account_is_one_count_from_every_address(build: Build) -> None:
    first, second = build(peer="198.51.100.1"), build(peer="198.51.100.2")
    for client in (first, second, first, second):
        assert (await query(client, headers=bearer(7))).status_code == 200
    assert (await query(second, headers=bearer(7))).status_code == 429


async def test_a_token_that_is_not_valid_counts_against_the_address(build: Build) -> None:
    client = build()
    forged = {"authorization": f"Bearer {token(1, secret='x' * 32)}"}
    expired = {"authorization": f"Bearer {token(1, ttl_s=-10)}"}
    for headers in (forged, expired, {"authorization": "Basic abc"}):
        assert (await query(client, headers=headers)).status_code == 200
    assert (await query(client)).status_code == 429
    # ...and none of them touched account 1's count.
    for _ in range(4):
        assert (await query(client, headers=bearer(1))).status_code == 200


async def test_other_paths_are_neither_counted_nor_refused(build: Build) -> None:
    client = build(RateLimits(per_address="2/minute"))
    others = ["/healthz", "/readyz", "/metrics", "/graphiql/static/app.js"]
    for path in others * 3:
        assert (await client.get(path)).status_code == 200
    assert (await query(client)).status_code == 200
    assert (await query(client)).status_code == 200
    assert (await query(client)).status_code == 429
    for path in others:
        assert (await client.get(path)).status_code == 200


async def test_the_form_files_count_against_the_same_limit(build: Build) -> None:
    """Each download of a form file writes a workbook: they are counted, as queries are."""
    client = build(RateLimits(per_address="3/minute"))
    assert (await client.get("/forms/registration-template.xlsx")).status_code == 200
    assert (await client.get("/forms/marked/abc.xlsx")).status_code == 200
    assert (await query(client)).status_code == 200
    assert (await client.get("/forms/registration-template.xlsx")).status_code == 429
    assert (await client.get("/healthz")).status_code == 200


async def test_get_and_a_trailing_slash_are_counted_too(build: Build) -> None:
    client = build(RateLimits(per_address="2/minute"))
    assert (await client.get("/graphql", params={"query": "{ __typename }"})).status_code == 200
    assert (await client.get("/graphql/", params={"query": "{ __typename }"})).status_code != 429
    assert (await query(client)).status_code == 429


async def test_disabled_limits_count_nothing(build: Build) -> None:
    client = build(RateLimits(per_address="1/minute", enabled=False))
    for _ in range(5):
        assert (await query(client)).status_code == 200


# ------------------------------------------------------------ client address


async def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(
    build: Build, inner: Inner
) -> None:
    client = build(RateLimits(per_address="2/minute"), peer="203.0.113.9")
    for spoofed in ("10.0.0.1", "10.0.0.2"):
        response = await query(client, headers={"x-forwarded-for": spoofed})
        assert response.status_code == 200
    assert (await query(client, headers={"x-forwarded-for": "10.0.0.3"})).status_code == 429
    assert inner.addresses == ["203.0.113.9", "203.0.113.9"]


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(
    build: Build, inner: Inner
) -> None:
    limits = RateLimits(per_address="1/minute", trusted_proxies=("10.1.0.0/16",))
    client = build(limits, peer="10.1.2.3")
    for address in ("198.51.100.1", "198.51.100.2"):
        response = await query(client, headers={"x-forwarded-for": address})
        assert response.status_code == 200
    response = await query(client, headers={"x-forwarded-for": "198.51.100.1"})
    assert response.status_code == 429
    assert inner.addresses == ["198.51.100.1", "198.51.100.2"]


def scope_of(peer: str | None, forwarded: list[str]) -> Scope:
    return {
        "type": "http",
        "client": (peer, 1234) if peer else None,
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("10.1.0.5", ["198.51.100.1"], "198.51.100.1"),
        # What the client wrote itself stands left of what the proxies appended.
        ("10.1.0.5", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        ("10.1.0.5", ["6.6.6.6, 198.51.100.1, 10.1.0.9"], "198.51.100.1"),
        ("10.1.0.5", ["6.6.6.6", "198.51.100.1, 10.1.0.9"], "198.51.100.1"),
        ("10.1.0.5", ["10.1.0.8, 10.1.0.9"], "10.1.0.8"),
        ("10.1.0.5", [], "10.1.0.5"),
        ("10.1.0.5", ["not-an-address, 10.1.0.9"], "not-an-address"),
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        (None, ["198.51.100.1"], None),
    ],
)
def test_resolve_client_address(
    peer: str | None, forwarded: list[str], expected: str | None
) -> None:
    assert resolve_client_address(scope_of(peer, forwarded), ["10.1.0.0/16"]) == expected


def test_no_trusted_proxy_means_the_peer() -> None:
    assert resolve_client_address(scope_of("10.1.0.5", ["198.51.100.1"])) == "10.1.0.5"


def test_address_keys() -> None:
    assert address_key("198.51.100.1") == "198.51.100.1"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("2001:db8:1:2::1", 128) != address_key("2001:db8:1:2::2", 128)
    assert address_key("::ffff:198.51.100.1") == "198.51.100.1"
    assert address_key(None) == "unknown"


async def test_ipv6_clients_of_one_network_share_a_count(build: Build) -> None:
    limits = RateLimits(per_address="2/minute")
    first, second = build(limits, peer="2001:db8:1:2::1"), build(limits, peer="2001:db8:1:2::99")
    assert (await query(first)).status_code == 200
    assert (await query(second)).status_code == 200
    assert (await query(first)).status_code == 429
    assert (await query(build(limits, peer="2001:db8:1:3::1"))).status_code == 200


# ------------------------------------------------------------------ the rest


async def handshake(app: RateLimitMiddleware, *, denial_response: bool) -> list[dict[str, Any]]:
    """One WebSocket handshake to ``/graphql`` through raw ASGI; what the server sent."""
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/graphql",
        "root_path": "",
        "scheme": "ws",
        "query_string": b"",
        "headers": [],
        "client": ("203.0.113.7", 40000),
        "server": ("gateway", 80),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}} if denial_response else {},
    }
    incoming = iter([{"type": "websocket.connect"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> Any:
        return next(incoming, {"type": "websocket.disconnect", "code": 1000})

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_a_websocket_handshake_is_counted(inner: Inner) -> None:
    middleware = RateLimitMiddleware(inner.app, RateLimits(per_address="1/minute"), "memory://")
    try:
        accepted = await handshake(middleware, denial_response=True)
        assert [m["type"] for m in accepted][:2] == ["websocket.accept", "websocket.send"]
        start, body = await handshake(middleware, denial_response=True)
        assert start["type"] == "websocket.http.response.start"
        assert start["status"] == 429
        assert int(dict(start["headers"])[b"retry-after"]) >= 1
        error = json.loads(body["body"])["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        # A server without denial responses: the handshake is closed, "try again later".
        assert await handshake(middleware, denial_response=False) == [
            {"type": "websocket.close", "code": 1013}
        ]
    finally:
        await middleware.aclose()


async def test_the_storage_is_closed_at_shutdown(inner: Inner) -> None:
    middleware = RateLimitMiddleware(inner.app, RateLimits(), "memory://")
    closed: list[bool] = []

    async def aclose() -> None:
        closed.append(True)

    middleware.aclose = aclose  # type: ignore[method-assign]
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> Any:
        return next(incoming)

    async def send(message: Any) -> None:
        sent.append(message["type"])
        if message["type"] == "lifespan.startup.complete":
            assert not closed

    await middleware({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert closed == [True]


async def test_bearer_account_key() -> None:
    account_of = bearer_account_key(SECRET)

    def scope(authorization: str | None) -> Scope:
        headers = [(b"authorization", authorization.encode())] if authorization else []
        return {"type": "http", "headers": headers}

    assert await account_of(scope(f"Bearer {token(42)}")) == "42"
    assert await account_of(scope(f"bearer  {token(42)}")) == "42"
    assert await account_of(scope(f"Bearer {token(42, secret='x' * 32)}")) is None
    assert await account_of(scope(f"Bearer {token(42, ttl_s=-10)}")) is None
    assert await account_of(scope("Bearer ")) is None
    assert await account_of(scope("Basic Zm9vOmJhcg==")) is None
    assert await account_of(scope(None)) is None


async def test_bearer_account_key_with_a_secret_known_at_start_up() -> None:
    account_of = bearer_account_key(lambda scope: scope["app"].state.secret)
    app = Starlette()
    app.state.secret = SECRET
    headers = [(b"authorization", f"Bearer {token(42)}".encode())]
    assert await account_of({"type": "http", "headers": headers, "app": app}) == "42"
    app.state.secret = "y" * 32
    assert await account_of({"type": "http", "headers": headers, "app": app}) is None


def test_limits_are_checked_at_start_up() -> None:
    with pytest.raises(ValueError, match="per_account"):
        RateLimits(per_account="lots")
    with pytest.raises(ValueError, match="trusted_proxies"):
        RateLimits(trusted_proxies=("10.0.0.300/8",))
    with pytest.raises(ValueError, match="ipv6_prefix"):
        RateLimits(ipv6_prefix=0)


def test_limits_from_the_environment_and_the_file() -> None:
    assert RateLimits.from_env({}) == RateLimits()
    limits = RateLimits.from_env(
        {
            "HRSS_RATE_LIMIT_PER_ACCOUNT": "100/minute",
            "HRSS_RATE_LIMIT_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1",
            "HRSS_RATE_LIMIT_ENABLED": "false",
            "HRSS_RATE_LIMIT_STORAGE_TIMEOUT_S": "0.25",
        },
        {"per_account": "1/second", "per_address": "50/minute", "ipv6_prefix": 56},
    )
    assert limits.per_account == "100/minute"  # the variable wins over the file
    assert limits.per_address == "50/minute"
    assert limits.trusted_proxies == ("10.0.0.0/8", "192.0.2.1")
    assert limits.enabled is False
    assert limits.storage_timeout_s == 0.25
    assert limits.ipv6_prefix == 56
    from_file = RateLimits.from_env({}, {"trusted_proxies": ["10.0.0.0/8"], "enabled": False})
    assert from_file.trusted_proxies == ("10.0.0.0/8",)
    assert from_file.enabled is False
