"""The gateway as an ASGI application: ``/graphql``, ``/healthz``, ``/readyz``.

``create_app`` composes the pieces; the process-wide ``Gateway`` (adapters,
store, cache) is built in the lifespan, and each GraphQL request gets its own
context with the caller's account and fresh loaders.

Outside the demo the application is in its production profile: introspection,
field suggestions and GraphiQL off unless enabled, and every limit of
:class:`~gateway.schema.limits.RequestLimits` enforced. :func:`middleware` lists
what wraps the routes, outermost first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from graphql import GraphQLFormattedError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage as TransportWSError,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    Message as TransportWSMessage,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as WSError
from strawberry.subscriptions.protocols.graphql_ws.types import OperationMessage, StartMessage
from strawberry.types.unset import UNSET, UnsetType

from gateway.access import Access
from gateway.auth import AuthenticationError, verify_token
from gateway.config import GatewayConfig
from gateway.forms.http import UploadSizeLimit, form_routes
from gateway.http.graphiql import GRAPHIQL_ASSETS_PATH, graphiql_assets_app
from gateway.http.guards import CSRFGuard
from gateway.http.ratelimit import (
    OPERATION_LIMIT_SCOPE_KEY,
    OperationLimit,
    RateLimitMiddleware,
    bearer_account_key,
    rate_limited_body,
)
from gateway.http.refusals import (
    CROSS_ORIGIN_REFUSED,
    INTERNAL,
    TOO_MANY_SOCKET_OPERATIONS,
    refusal_for,
)
from gateway.http.view import GatewayGraphQL, refusal_response
from gateway.observability import GatewayMetrics, HttpMetricsMiddleware, RequestIdMiddleware
from gateway.observability.registrations import refresh_registrations
from gateway.oidc import OidcVerifier, ProvenEmployer, ProviderUnavailable
from gateway.profile import Disclosure, RequestLimits
from gateway.registrations.wiring import run_worker
from gateway.schema import build_schema
from gateway.schema.context import Context, build_context
from gateway.services import Gateway
from gateway.store.audit import purge_periodically
from gateway.store.model import Account
from gateway.store.registrations.erasing import erase_periodically


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request's bearer token proves the caller to be.

    ``account``: the gateway account acting. ``proven``: an employer proven by
    the identity platform (with ``account`` its account, or None while it has
    none). ``refused``: a token was sent and refused."""

    account: Account | None = None
    proven: ProvenEmployer | None = None
    refused: bool = False
    #: The identity platform could not be asked: the token is neither good nor bad.
    provider_unavailable: bool = False

    def context_args(self) -> dict[str, Any]:
        return {
            "token_refused": self.refused,
            "proven": self.proven,
            "provider_unavailable": self.provider_unavailable,
        }


async def authenticate(gateway: Gateway, authorization: str | None) -> Caller:
    """The caller a bearer token stands for: one of the gateway's own tokens (clerks,
    administrators, and employers where their passwords are on), or one issued by
    the identity platform to an employer's legal-person account."""
    if not authorization:
        return Caller()
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return Caller(refused=True)
    verifier = gateway.oidc
    if verifier is not None and verifier.is_provider_token(token):
        return await _proven_employer(gateway, verifier, token)
    try:
        claims = verify_token(token, secret=gateway.token_secret)
    except AuthenticationError:
        return Caller(refused=True)
    account = await _cached_account(
        gateway,
        gateway.cache.account_key(claims.account_id),
        lambda: gateway.store.accounts.get_by_id(claims.account_id),
    )
    if account is None or account.disabled or account.role != claims.role:
        return Caller(refused=True)
    if _issued_before_reset(claims.issued_at, account):
        return Caller(refused=True)  # ended: its password set, account disabled, signed out
    if not Access.of(account, gateway.config.reveal_roles).may_sign_in_with_password(
        gateway.config.employer_passwords_enabled
    ):
        return Caller(refused=True)  # issued while employer passwords were on
    return Caller(account=account)


def _issued_before_reset(issued_at: dt.datetime, account: Account) -> bool:
    """Whether a token was issued before the account's sessions were last ended.
    A token's time is in whole seconds; sessions end at a whole second, the one
    after the change (``gateway.store.accounts``), and the sessions opened after it
    are issued at that second at the earliest: a token of the second of the
    change is refused, a sign-in just after it is not. (An end stored with a
    fraction of a second, by an earlier version, keeps that second's tokens.)"""
    # An account cached by a gateway of the version before has no such field.
    changed: dt.datetime | None = getattr(account, "credentials_changed_at", None)
    return changed is not None and issued_at < changed.replace(microsecond=0)


async def _cached_account(
    gateway: Gateway, key: str, load: Callable[[], Awaitable[Account | None]]
) -> Account | None:
    """The account, kept for ``account_cache_ttl_s``: looking it up in the store on
    every request would cost more than the rest of a cached query. A disabled
    account is refused within that time."""
    account: Account | None = await gateway.cache.get(key)
    if account is None:
        account = await load()
        if account is not None:
            await gateway.cache.set(key, account, ttl=gateway.config.account_cache_ttl_s)
    return account


async def _proven_employer(gateway: Gateway, verifier: OidcVerifier, token: str) -> Caller:
    try:
        proven = await verifier.verify(token)
    except ProviderUnavailable:
        return Caller(refused=True, provider_unavailable=True)
    except AuthenticationError:
        return Caller(refused=True)
    account = await _cached_account(
        gateway,
        f"employer-account:{proven.credit_code}",
        lambda: gateway.store.accounts.of_employer(proven.credit_code),
    )
    if account is not None and account.disabled:
        return Caller(refused=True)
    return Caller(account=account, proven=proven)


async def _refused_to_start(
    context: Context, running: int, view: GatewayGraphQL
) -> list[GraphQLFormattedError] | None:
    """Why one more operation may not start on a socket, as its error: as many running
    as a socket may hold (``RequestLimits.max_socket_operations``), or over the rate
    limits, each operation counted as a request over HTTP is (the middleware's
    ``OPERATION_LIMIT_SCOPE_KEY``). None when it may."""
    if running >= view.max_socket_operations:
        return [cast("GraphQLFormattedError", TOO_MANY_SOCKET_OPERATIONS.error())]
    request = context.request
    count: OperationLimit | None = (
        request.scope.get(OPERATION_LIMIT_SCOPE_KEY) if request is not None else None
    )
    if count is None:
        return None
    wait = await count(str(context.account.id) if context.account is not None else None)
    if wait is None:
        return None
    errors: list[GraphQLFormattedError] = rate_limited_body(max(1, math.ceil(wait)))["errors"]
    return errors


#: The types of message a client may send over graphql-transport-ws (Strawberry's
#: dispatch): any other is closed as unknown.
_TRANSPORT_WS_TYPES = frozenset({"connection_init", "ping", "pong", "subscribe", "complete"})

#: Strawberry's own close reason for a message it cannot read (one without a type).
_UNREADABLE = "Failed to parse message"
_ID_NOT_A_STRING = "Invalid message: id must be a string"


def _operation_fault(message: dict[str, Any]) -> str | None:
    """What is wrong with the shape of a message starting an operation (``subscribe``
    of graphql-transport-ws, ``start`` of graphql-ws), as the reason to close its
    socket with: never anything of the message itself, which may be longer than a
    close frame may carry (123 bytes) or hold a person's data. None when nothing is.

    Strawberry reads these fields as typed without checking them: an id that is no
    string, say, raised out of its handler (``unhashable type``), the socket dropped
    with no close frame and a traceback logged at ERROR for each such message."""
    if not isinstance(message.get("id"), str):
        return _ID_NOT_A_STRING
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return "Invalid message: payload must be an object"
    if not isinstance(payload.get("query"), str):
        return "Invalid message: query must be a string"
    for name in ("variables", "extensions"):
        if not isinstance(payload.get(name), dict | None):
            return f"Invalid message: {name} must be an object or null"
    if not isinstance(payload.get("operationName"), str | None):
        return "Invalid message: operationName must be a string or null"
    return None


def _transport_ws_fault(message: object) -> str | None:
    """What is wrong with the shape of a graphql-transport-ws message from a client,
    as the reason to close its socket with (4400, the protocol's answer to an invalid
    message); None when nothing is. Checked once, before Strawberry dispatches it."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return _UNREADABLE
    kind = message["type"]
    if kind not in _TRANSPORT_WS_TYPES:
        # Strawberry's reason names the type: one longer than a close frame may carry
        # raised out of its handler instead of closing.
        return "Unknown message type"
    if kind == "subscribe":
        return _operation_fault(message)
    if kind == "complete" and not isinstance(message.get("id"), str):
        return _ID_NOT_A_STRING
    return None


def _graphql_ws_fault(message: object) -> str | None:
    """Likewise for the older graphql-ws, whose other types Strawberry ignores."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return _UNREADABLE
    if message["type"] == "start":
        return _operation_fault(message)
    if message["type"] == "stop" and not isinstance(message.get("id"), str):
        return _ID_NOT_A_STRING
    return None


class _RecheckedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, each operation started only while the socket's token
    still signs it in (else the socket is closed as unauthorised, 4401) and counted
    against the rate limits as a request is, up to as many at once as a socket may
    hold (over either: that operation's error, the socket kept). A message of the
    wrong shape closes the socket as invalid (4400), as one without a type does."""

    async def handle_message(self, message: TransportWSMessage) -> None:
        fault = _transport_ws_fault(message)
        if fault is not None:
            await self.handle_invalid_message(fault)
            return
        await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged:
            if message["id"] in self.operations:
                # Strawberry's reason names the id, which may be longer than a close
                # frame may carry: its close then raised instead.
                await self.websocket.close(code=4409, reason="Subscriber already exists")
                return
            if not await self.context.still_signed_in():
                await self.websocket.close(code=4401, reason="Unauthorized")
                return
            refused = await _refused_to_start(
                self.context, len(self.operations), cast("GatewayGraphQL", self.view)
            )
            if refused is not None:
                await self.send_message(
                    TransportWSError(id=message["id"], type="error", payload=refused)
                )
                return
        await super().handle_subscribe(message)


class _RecheckedWS(BaseGraphQLWSHandler[Context, None]):
    """The older graphql-ws, likewise; a message of the wrong shape closes the socket
    as graphql-transport-ws closes it (4400), this protocol having no code of its own."""

    async def handle_message(self, message: OperationMessage) -> None:
        fault = _graphql_ws_fault(message)
        if fault is not None:
            await self.websocket.close(code=4400, reason=fault)
            return
        await super().handle_message(message)

    async def handle_start(self, message: StartMessage) -> None:
        if not await self.context.still_signed_in():
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        refused = await _refused_to_start(
            self.context, len(self.tasks), cast("GatewayGraphQL", self.view)
        )
        if refused is not None:
            await self.send_message(WSError(type="error", id=message["id"], payload=refused[0]))
            return
        await super().handle_start(message)


class _GraphQL(GatewayGraphQL):
    """The view, signing a WebSocket in from its ``connection_init`` payload: a browser
    cannot set headers on a WebSocket, so GraphQL clients send the token there."""

    graphql_transport_ws_handler_class = _RecheckedTransportWS
    graphql_ws_handler_class = _RecheckedWS

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        if context.account is None and isinstance(context.connection_params, dict):
            token = next(
                (
                    str(v)
                    for k, v in context.connection_params.items()
                    if k.lower() in ("authorization", "token")
                ),
                None,
            )
            if token is not None:
                if not token.lower().startswith("bearer "):
                    token = f"Bearer {token}"
                caller = await authenticate(context.gateway, token)
                if caller.refused:
                    raise ConnectionRejectionError
                context.account, context.proven = caller.account, caller.proven
                context.reauthenticate = _rechecked(context.gateway, token, caller)
        return UNSET


def _rechecked(
    gateway: Gateway, authorization: str | None, caller: Caller
) -> Callable[[], Awaitable[bool]] | None:
    """Whether ``authorization`` still signs in whom it signed in as ``caller``
    (``Context.still_signed_in``); None for a caller signed in as no one."""
    if caller.account is None and caller.proven is None:
        return None
    first = caller.account

    async def recheck() -> bool:
        again = await authenticate(gateway, authorization)
        if again.provider_unavailable:
            # The platform's keys cannot be had just now to check its token again: what
            # was proven at the start stands until they can, rather than every employer's
            # subscriptions ending with the platform's hiccup.
            return True
        if again.refused:
            return False
        return first is None or (again.account is not None and again.account.id == first.id)

    return recheck


class _CodedCORS(CORSMiddleware):
    """Starlette's CORS, its refused preflight coded as every refusal is."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        return refusal_response(403, CROSS_ORIGIN_REFUSED)


def _cors(config: GatewayConfig) -> list[Middleware]:
    """Browsers' cross-origin calls from the configured origins: a preflight is
    answered here, before any limit, and every answer (a refusal included, which a
    page must be able to read) carries the headers. Tokens travel in a header, not
    in cookies, so no credentials are allowed."""
    if not config.cors_origins:
        return []
    return [
        Middleware(
            _CodedCORS,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Accept",
                "Apollo-Require-Preflight",
                "X-Apollo-Operation-Name",
                "X-Requested-With",
                "X-Request-Id",
            ],
            expose_headers=["X-Request-Id", "Retry-After"],
            allow_credentials=False,
            max_age=600,
        )
    ]


def middleware(
    config: GatewayConfig, limits: RequestLimits, metrics: GatewayMetrics
) -> list[Middleware]:
    """What wraps the routes, outermost first: each refuses before what it wraps runs,
    and every refusal is counted and carries a request id."""
    return [
        Middleware(RequestIdMiddleware),
        Middleware(HttpMetricsMiddleware, metrics=metrics),
        *_cors(config),
        Middleware(
            RateLimitMiddleware,
            limits=config.rate_limits,
            storage_url=config.cache_url,
            # The token secret is known once the gateway has started (demo secrets).
            account_of=bearer_account_key(lambda scope: scope["app"].state.gateway.token_secret),
        ),
        # Headers only: nothing of the body is read for a forged request.
        Middleware(CSRFGuard),
        # Multipart bodies (the form's uploads) have a limit of their own.
        Middleware(
            UploadSizeLimit,
            body_bytes=limits.max_body_bytes,
            upload_bytes=config.forms.max_upload_bytes,
        ),
    ]


def create_app(
    config: GatewayConfig,
    *,
    gateway: Gateway | None = None,
    limits: RequestLimits | None = None,
    disclosure: Disclosure | None = None,
) -> Starlette:
    """The application; pass ``gateway`` to share one already started (tests, benchmarks).

    ``limits`` and ``disclosure`` default to the production profile, or to the
    demo's (introspection and suggestions on) when ``config.demo``.
    """
    limits = limits or config.limits
    disclosure = disclosure or config.disclosure()
    metrics = gateway.metrics if gateway is not None else GatewayMetrics(config.observability)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = gateway is None
        gw: Gateway = gateway or await Gateway.start(config, metrics=metrics)
        app.state.gateway = gw
        stop = asyncio.Event()
        # The background work of a gateway process that owns its Gateway.
        tasks = []
        if owned:
            obs = config.observability
            if config.run_worker:
                tasks.append(run_worker(gw, stop=stop, poll_interval=config.worker_poll_s))
            tasks.append(purge_periodically(gw.store.audit, stop=stop, clock=gw.clock))
            if config.registration_retention_days:
                tasks.append(
                    erase_periodically(
                        gw.store.registrations,
                        retention=dt.timedelta(days=config.registration_retention_days),
                        every_s=config.audit_purge_every_s,
                        stop=stop,
                        clock=gw.clock,
                    )
                )
            if obs.registrations_refresh_s > 0:
                tasks.append(
                    refresh_registrations(
                        metrics, gw.store.db, stop=stop, interval_s=obs.registrations_refresh_s
                    )
                )
        running = [asyncio.create_task(t) for t in tasks]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*running, return_exceptions=True)
            if owned:
                await gw.close()

    async def context_getter(
        request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        gw: Gateway = request.app.state.gateway
        authorization = request.headers.get("authorization")
        caller = await authenticate(gw, authorization)
        context = build_context(
            gw, caller.account, request=request, response=response, **caller.context_args()
        )
        context.reauthenticate = _rechecked(gw, authorization, caller)
        return context

    graphql = _GraphQL(
        build_schema(limits, disclosure),
        graphiql=config.graphiql,
        context_getter=context_getter,
        limits=limits,
    )
    # The registration form as a file comes as a multipart upload (importRegistrationForm).
    graphql.multipart_uploads_enabled = True
    routes: list[Any] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        # No methods= here: the view itself answers other methods with 405 and Allow.
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        *form_routes(authenticate),
    ]
    if config.graphiql:
        routes.insert(0, Mount(GRAPHIQL_ASSETS_PATH, graphiql_assets_app()))
    if config.observability.metrics_enabled:
        routes.append(metrics.route())
    app = Starlette(
        routes=routes,
        middleware=middleware(config, limits, metrics),
        lifespan=lifespan,
        # Outside /graphql too, a refusal has the shape every error has.
        exception_handlers={HTTPException: http_refusal, Exception: internal_error},
    )
    app.state.metrics = metrics
    if gateway is not None:
        app.state.gateway = gateway  # usable without running the lifespan (ASGI tests)
    return app


async def http_refusal(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such path, a method a route does not take), coded."""
    assert isinstance(exc, HTTPException)
    refusal = refusal_for(exc.status_code, "")
    headers = dict(exc.headers or {})
    return refusal_response(exc.status_code, refusal, headers=headers)


async def internal_error(request: Request, exc: Exception) -> Response:
    # Logged by ServerErrorMiddleware, which calls this for the answer only.
    return refusal_response(500, INTERNAL)


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
