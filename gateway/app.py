"""The gateway as an ASGI application: ``/graphql``, ``/healthz``, ``/readyz``.

``create_app`` composes the pieces; the process-wide ``Gateway`` (adapters,
store, cache) is built in the lifespan, and each GraphQL request gets its own
context with the caller's account and fresh loaders.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from gateway.auth import AuthenticationError, verify_token
from gateway.config import GatewayConfig
from gateway.http.graphiql import GRAPHIQL_ASSETS_PATH, graphiql_assets_app
from gateway.http.view import GatewayGraphQL
from gateway.registrations.engine import run_worker
from gateway.schema import build_schema
from gateway.schema.context import Context, build_context
from gateway.services import Gateway
from gateway.store.model import Account


async def authenticate(gateway: Gateway, authorization: str | None) -> tuple[Account | None, bool]:
    """The account a bearer token stands for, and whether a token was refused."""
    if not authorization:
        return None, False
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, True
    try:
        claims = verify_token(token.strip(), secret=gateway.token_secret)
    except AuthenticationError:
        return None, True
    account = await _account(gateway, claims.account_id)
    if account is None or account.disabled or account.role != claims.role:
        return None, True
    return account, False


async def _account(gateway: Gateway, account_id: int) -> Account | None:
    """The account, kept for ``account_cache_ttl_s``: looking it up in the store on
    every request would cost more than the rest of a cached query. A disabled
    account is refused within that time."""
    key = f"account:{account_id}"
    account: Account | None = await gateway.cache.get(key)
    if account is None:
        account = await gateway.store.accounts.get_by_id(account_id)
        if account is not None:
            await gateway.cache.set(key, account, ttl=gateway.config.account_cache_ttl_s)
    return account


def create_app(config: GatewayConfig, *, gateway: Gateway | None = None) -> Starlette:
    """The application; pass ``gateway`` to share one already started (tests, benchmarks)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = gateway is None
        gw: Gateway = gateway or await Gateway.start(config)
        app.state.gateway = gw
        stop = asyncio.Event()
        worker = (
            asyncio.create_task(run_worker(gw, stop=stop), name="registration-worker")
            if owned and config.run_worker
            else None
        )
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            if owned:
                await gw.close()

    async def context_getter(
        request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        gw: Gateway = request.app.state.gateway
        account, refused = await authenticate(gw, request.headers.get("authorization"))
        return build_context(gw, account, token_refused=refused, request=request, response=response)

    graphql = GatewayGraphQL(
        build_schema(), graphiql=config.graphiql, context_getter=context_getter
    )
    routes: list[Any] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        # No methods= here: the view itself answers other methods with 405 and Allow.
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
    ]
    if config.graphiql:
        routes.insert(0, Mount(GRAPHIQL_ASSETS_PATH, graphiql_assets_app()))
    app = Starlette(routes=routes, lifespan=lifespan)
    if gateway is not None:
        app.state.gateway = gateway  # usable without running the lifespan (ASGI tests)
    return app


async def healthz(request: Request) -> Response:
    """Alive: the process answers. Says nothing of the systems behind it."""
    return JSONResponse({"status": "alive"})


async def readyz(request: Request) -> Response:
    """Ready: each system answers, reported per system; 503 when any does not."""
    gw: Gateway = request.app.state.gateway
    problems = await gw.readiness()
    systems = {
        s.value: ({"ready": True} if p is None else {"ready": False, "reason": p})
        for s, p in problems.items()
    }
    ready = all(p is None for p in problems.values())
    return JSONResponse(
        {"status": "ready" if ready else "degraded", "systems": systems},
        status_code=200 if ready else 503,
    )
