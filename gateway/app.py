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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlparse

import sqlalchemy as sa
from graphql import GraphQLFormattedError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage as TransportWSError,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    Message as TransportWSMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as WSError
from strawberry.subscriptions.protocols.graphql_ws.types import OperationMessage, StartMessage
from strawberry.types.unset import UNSET, UnsetType

from gateway.access import Access
from gateway.auth import AuthenticationError, ConfigurationError, verify_token
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

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        # ``payload?: Record<string, unknown> | null`` (the protocol): null is no payload,
        # which Strawberry takes as an empty one; it closed a null one as invalid (4400).
        if message.get("payload", {}) is None:
            message = ConnectionInitMessage(type="connection_init", payload={})
        await super().handle_connection_init(message)

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


#: The keys of a ``connection_init`` payload that carry a token (in any case).
_TOKEN_KEYS = ("authorization", "token")


def _bearer(value: str) -> str:
    """The token of an ``Authorization`` value, with or without its ``Bearer`` scheme."""
    scheme, _, rest = value.strip().partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else value.strip()


def _payload_tokens(params: object) -> set[str]:
    """The tokens a ``connection_init`` payload carries (a key of ``_TOKEN_KEYS``, its
    scheme optional); a null value is none."""
    if not isinstance(params, dict):
        return set()
    return {
        _bearer(str(v))
        for k, v in params.items()
        if isinstance(k, str) and k.lower() in _TOKEN_KEYS and v is not None
    }


def _header_token(websocket: object) -> str | None:
    """The bearer token of the upgrade's ``Authorization`` header; None without one.
    Credentials of another scheme are no token: browsers attach cached Basic or
    Negotiate credentials (a proxy's sign-in) to an upgrade by themselves, and a page
    can neither replace nor remove them."""
    headers = getattr(websocket, "headers", None)
    value = headers.get("authorization") if headers is not None else None
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class _GraphQL(GatewayGraphQL):
    """The view, signing a WebSocket in at ``connection_init``: with the token of the
    upgrade's ``Authorization`` header, or the one of the init payload (a browser
    cannot set headers on a WebSocket, so GraphQL clients send it there), alike.

    A token that does not sign in is refused at once, wherever it was sent (closed
    4403 on graphql-transport-ws, ``connection_error`` on graphql-ws), rather than
    acknowledged and refused at each operation; two different tokens are refused
    rather than one picked; a socket with no token at all is acknowledged and runs
    what needs no sign-in."""

    graphql_transport_ws_handler_class = _RecheckedTransportWS
    graphql_ws_handler_class = _RecheckedWS

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        header = _header_token(context.request)
        tokens = _payload_tokens(context.connection_params)
        if header is not None:
            tokens.add(header)
        if len(tokens) > 1:
            raise ConnectionRejectionError  # which one was meant cannot be known
        if not tokens:
            # Signed in as no one; credentials of another scheme, which ``context_getter``
            # refused as every request's, are no token here.
            context.token_refused = False
            return UNSET
        [token] = tokens
        if header is not None:
            # ``context_getter`` has signed the header's token in already.
            if context.token_refused:
                raise ConnectionRejectionError
            return UNSET
        authorization = f"Bearer {token}"
        caller = await authenticate(context.gateway, authorization)
        if caller.refused:
            raise ConnectionRejectionError
        context.account, context.proven = caller.account, caller.proven
        context.token_refused, context.provider_unavailable = False, False
        context.reauthenticate = _rechecked(context.gateway, authorization, caller)
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


class _NoCrossOrigin:
    """No origin may call the gateway from a browser (``HRSS_CORS_ORIGINS`` empty, the
    default and the demo's): a browser's preflight (``OPTIONS`` with ``Origin`` and
    ``Access-Control-Request-Method``) is refused as ``_CodedCORS`` refuses one from an
    origin not listed, 403 ``CROSS_ORIGIN_REFUSED``, before any limit or guard (the
    CSRF guard answered it 400, telling the page to send what it was sending). Other
    requests pass untouched, and no answer carries a CORS header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                await refusal_response(403, CROSS_ORIGIN_REFUSED)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _cors(config: GatewayConfig) -> list[Middleware]:
    """Browsers' cross-origin calls from the configured origins: a preflight is
    answered here, before any limit, and every answer (a refusal included, which a
    page must be able to read) carries the headers. Tokens travel in a header, not
    in cookies, so no credentials are allowed. Without origins, every preflight is
    refused here."""
    if not config.cors_origins:
        return [Middleware(_NoCrossOrigin)]
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
            app.state.readiness.stop()
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
    app.state.readiness = Readiness()
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


#: How long ``/readyz`` waits for the store's answer, or Redis's, before reporting it
#: not ready: a store behind a network that drops every packet would otherwise hold
#: the probe for as long as the driver waits (minutes), the load balancer's own
#: probe long gone by then.
READINESS_TIMEOUT_S = 2.0


def _failure(exc: BaseException) -> str:
    """Why a part did not answer, as ``/readyz`` shows it: the kinds of error only (the
    one raised, and the first that caused it: ``DBAPIError (ConnectionDoesNotExistError)``),
    never a message, which names hosts, ports, users and databases."""
    root, seen = exc, 0
    while seen < 10 and (root.__cause__ or root.__context__) is not None:
        root, seen = cast(BaseException, root.__cause__ or root.__context__), seen + 1
    outer, inner = type(exc).__name__, type(root).__name__
    return outer if inner == outer else f"{outer} ({inner})"


def _retrieved(task: asyncio.Task[None]) -> None:
    """A look finished after ``/readyz`` stopped waiting for it: its error is taken here
    (else logged at ERROR when the task is collected); the next look reports it."""
    if not task.cancelled():
        task.exception()


async def _ask_store(gw: Gateway) -> None:
    """A trivial query through the pool every request uses."""
    async with gw.store.db.read() as conn:
        await conn.execute(sa.text("SELECT 1"))


async def _ping_redis(url: str) -> None:
    """PING over a connection of its own (each look a new one: whether the server takes
    the URL, its password and database included, is decided as a connection opens)."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    client = Redis.from_url(
        url,
        socket_timeout=READINESS_TIMEOUT_S,
        socket_connect_timeout=READINESS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        await client.ping()
    finally:
        await client.aclose()


def _token_problem(gw: Gateway) -> str | None:
    """Whether the token secret can sign and check tokens at all (a secret shorter than
    HS256 takes fails every sign-in and every signed-in request)."""
    try:
        verify_token("readiness", secret=gw.token_secret)
    except ConfigurationError as exc:
        return str(exc)  # names the setting and its rule, never the value
    except AuthenticationError:
        pass  # the secret works: this token is refused, as it must be
    return None


class Readiness:
    """What ``/readyz`` finds of what every signed-in request needs besides the
    systems: the store (a trivial query), the token secret and, when the cache is
    Redis, the cache (PING); for each, None when it answers, else why not.

    Looked at as the systems are (``Gateway.readiness``): once per
    ``readiness_cache_s``, by one request, the others given its answer, since
    anyone may ask ``/readyz`` and a flood of probes would otherwise take the
    store's pooled connections from the requests. Each part is waited for at most
    ``READINESS_TIMEOUT_S``; a look that has not ended by then goes on in the
    background, and the next look waits for it rather than starting another, so
    that a store that never answers holds one connection for the probes, not one
    per probe."""

    def __init__(self) -> None:
        self._last: tuple[float, dict[str, str | None]] | None = None
        self._lock = asyncio.Lock()
        self._running: dict[str, asyncio.Task[None]] = {}

    async def problems(self, gw: Gateway) -> dict[str, str | None]:
        ttl = gw.config.readiness_cache_s
        fresh = self._fresh(ttl)
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self._fresh(ttl)
            if fresh is not None:
                return fresh
            redis = urlparse(gw.cache.url).scheme in ("redis", "rediss")
            store, cache = await asyncio.gather(
                self._bounded("store", lambda: _ask_store(gw)),
                self._bounded("cache", lambda: _ping_redis(gw.cache.url)) if redis else _none(),
            )
            found = {"store": store, "tokens": _token_problem(gw), "cache": cache}
            self._last = (time.monotonic(), found)
            return dict(found)

    def stop(self) -> None:
        """The looks still waiting for an answer are given up (the gateway stops)."""
        for task in self._running.values():
            task.cancel()

    def _fresh(self, ttl: float) -> dict[str, str | None] | None:
        if self._last is None or ttl <= 0:
            return None
        at, found = self._last
        return dict(found) if time.monotonic() - at < ttl else None

    async def _bounded(self, part: str, ask: Callable[[], Coroutine[Any, Any, None]]) -> str | None:
        task = self._running.get(part)
        if task is None or task.done():
            task = self._running[part] = asyncio.create_task(ask())
            task.add_done_callback(_retrieved)
        done, _ = await asyncio.wait({task}, timeout=READINESS_TIMEOUT_S)
        if not done:
            return f"no answer within {READINESS_TIMEOUT_S:g} s"
        if task.cancelled():
            return "CancelledError"
        exc = task.exception()
        return None if exc is None else _failure(exc)


async def _none() -> None:
    return None


def _part(problem: str | None) -> dict[str, Any]:
    return {"ready": True} if problem is None else {"ready": False, "reason": problem}


async def readyz(request: Request) -> Response:
    """Ready: the store answers, the token secret can sign tokens and each system
    answers; 503 (``not_ready``) when any does not, naming it. Redis, when it is the
    cache, is reported too; the cache fails open (a Redis outage costs speed, not
    answers), so without it the gateway is ``degraded`` and still ready (200)."""
    gw: Gateway = request.app.state.gateway
    readiness: Readiness = request.app.state.readiness
    systems, parts = await asyncio.gather(gw.readiness(), readiness.problems(gw))
    ready = all(p is None for p in systems.values()) and all(
        parts[name] is None for name in ("store", "tokens")
    )
    status = "not_ready" if not ready else "ready" if parts["cache"] is None else "degraded"
    return JSONResponse(
        {
            "status": status,
            "store": _part(parts["store"]),
            "tokens": _part(parts["tokens"]),
            "cache": _part(parts["cache"]),
            "systems": {s.value: _part(p) for s, p in systems.items()},
        },
        status_code=200 if ready else 503,
    )
