"""The GraphQL endpoint's HTTP layer, following the GraphQL-over-HTTP specification.

:class:`GatewayGraphQL` is Strawberry's ASGI view with the parts of the
specification (https://graphql.github.io/graphql-over-http/draft/) that
Strawberry 0.341 does not do itself:

Response media type, from the request's ``Accept`` header
    ``application/graphql-response+json`` when the client lists it first or alone;
    ``application/json`` when the client lists that first, or accepts anything
    (``*/*``, ``application/*``): generic clients (curl, ``fetch``, requests)
    send that by default and expect the legacy behaviour. No ``Accept`` header at
    all means ``application/graphql-response+json``, as the specification asks
    from 2025-01-01. An ``Accept`` header with neither type, nor a wildcard,
    gets 406. Either way the ``Content-Type`` says which, with ``charset=utf-8``.

Status codes
    ==========================================  ==========  ==================
    case                                         graphql-    application/json
                                                 response+
                                                 json
    ==========================================  ==========  ==================
    operation executed (data present, even       200         200
    null after a field error)
    document does not parse                      400         200
    document fails validation                    400         200
    operation cannot be determined               400         200
    (``operationName`` missing or unknown)
    variable values cannot be coerced            400         200
    subscription over plain HTTP                 400         200
    not a well-formed GraphQL-over-HTTP          400         400
    request (bad JSON, JSON too deep or with
    too many values, body not an object,
    missing ``query``, ``query``/
    ``operationName`` not a string,
    ``variables``/``extensions`` not an object)
    POST body not ``application/json`` (or not   415         415
    UTF-8), including a missing Content-Type
    mutation over GET (or a query over GET when  405, Allow: POST
    ``allow_queries_via_get`` is off)
    method other than GET or POST                405, Allow: GET, POST
    no acceptable media type                     406
    several operations in a JSON array while     400         400
    batching is off (``BATCHING_DISABLED``), or
    more than allowed (``TOO_MANY_OPERATIONS``)
    an unexpected exception outside GraphQL      500         500
    execution (masked, logged by type and stack)
    the store unreachable outside GraphQL        503, Retry-After
    execution (``STORE_UNAVAILABLE``)
    ==========================================  ==========  ==================

    The five middle rows are *GraphQL request errors*: nothing was executed, so
    the body has ``errors`` and no ``data`` entry (GraphQL spec, "Response"). A
    status a resolver sets on the response (``info.context["response"]``) wins.
    Every refusal outside GraphQL execution has a GraphQL-shaped body,
    ``{"errors": [{"message", "extensions": {"code", "message_en", "message_zh"}}]}``
    (a :class:`~gateway.errors.Refusal`), as every GraphQL error has: clients read
    one format. The codes: ``INVALID_JSON``, ``JSON_TOO_DEEP``, ``JSON_TOO_LARGE``
    (:mod:`gateway.http.body`), ``MALFORMED_REQUEST``, ``MISSING_QUERY`` (400),
    ``METHOD_NOT_ALLOWED`` (405), ``NOT_ACCEPTABLE`` (406),
    ``UNSUPPORTED_MEDIA_TYPE`` (415), ``INTERNAL`` (500), ``STORE_UNAVAILABLE``
    (503 with ``Retry-After``: the store, where the caller is looked up before
    execution, cannot be reached; in a resolver the same failure is an error with
    that code and ``retry_after``, status 200).

    Body size and CSRF are refused before the view, by :mod:`gateway.http.guards`.

GraphiQL
    Served on GET when the ``Accept`` header names ``text/html`` and GraphiQL is
    enabled (see :mod:`gateway.http.graphiql`); otherwise a GET without ``query``
    is simply a malformed request. Rendering the page does not build a context.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any, Literal

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from graphql.language import Lexer, Source, TokenKind
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from gateway.errors import (
    STORE_UNAVAILABLE,
    GatewayError,
    Refusal,
    client_error,
    log_store_unreachable,
    operation_name_required,
    store_unreachable,
)
from gateway.http.body import JsonRefused, load_bounded
from gateway.http.graphiql import GRAPHIQL_ASSETS_PATH, graphiql_page_response
from gateway.http.headers import weighted
from gateway.http.refusals import (
    BATCHING_DISABLED,
    GRAPHQL_RESPONSE_JSON,
    INTERNAL,
    JSON,
    MALFORMED_REQUEST,
    METHOD_NOT_ALLOWED,
    MISSING_QUERY,
    NOT_ACCEPTABLE,
    POST_REQUIRED,
    SUBSCRIPTION_NEEDS_WEBSOCKET,
    TOO_MANY_OPERATIONS,
    UNSUPPORTED_MEDIA_TYPE,
    refusal_for,
)
from gateway.profile import RequestLimits

MediaType = Literal["application/graphql-response+json", "application/json"]
ContextGetter = Callable[[Request | WebSocket, Response | WebSocket], Awaitable[Any]]

_EXCHANGE = "gateway.graphql"

#: Where subscriptions are served: WebSocket (graphql-transport-ws, and the older
#: graphql-ws), server-sent events (graphql-sse, distinct connections mode) and
#: multipart HTTP (Apollo's multipart subscriptions, which Apollo Router speaks to
#: subgraphs). The last two are Strawberry's own transports.
SUBSCRIPTION_PROTOCOLS: tuple[str, ...] = (
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    GRAPHQL_SSE_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)

logger = logging.getLogger("gateway.http")


class RequestRefused(HTTPException):
    """A refusal before any GraphQL execution, with the headers it needs (Allow)."""

    def __init__(
        self,
        status_code: int,
        refusal: Refusal,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, refusal.message_en)
        self.headers = dict(headers or {})
        self.refusal = refusal


@dataclass
class _Exchange:
    """What the view learnt about one HTTP request while Strawberry handled it."""

    media_type: MediaType
    # One entry per operation answered: was it a GraphQL request error (not executed)?
    request_errors: list[bool] = field(default_factory=list)


def negotiate_media_type(accept: str | None) -> MediaType | None:
    """The response media type for an ``Accept`` header, or None when none is acceptable."""
    if accept is None or not accept.strip():
        return GRAPHQL_RESPONSE_JSON
    ranges = weighted(accept)
    explicit: dict[str, tuple[float, int]] = {}
    for index, (media_range, q) in enumerate(ranges):
        explicit.setdefault(media_range, (q, index))
    wildcard = explicit.get("application/*") or explicit.get("*/*")
    wildcard_q = wildcard[0] if wildcard else 0.0
    best: tuple[tuple[float, int, int, int], MediaType] | None = None
    candidates: tuple[MediaType, ...] = (GRAPHQL_RESPONSE_JSON, JSON)
    for media_type in candidates:
        if media_type in explicit:
            q, index = explicit[media_type]
            key = (q, 1, -index, 0)
        else:
            # A bare wildcard is a generic client: give it the legacy type.
            key = (wildcard_q, 0, 0, int(media_type == JSON))
        if key[0] > 0 and (best is None or key > best[0]):
            best = (key, media_type)
    return best[1] if best else None


def accepts_html(accept: str | None) -> bool:
    return any(media == "text/html" and q > 0 for media, q in weighted(accept or ""))


def _is_request_error(result: ExecutionResult) -> bool:
    # Parse and validation errors come back as PreExecutionError; variable coercion
    # errors as a plain result without data whose errors have no path. An executed
    # operation whose data was nulled by a field error always has a path on its errors.
    if result.data is not None:
        return False
    if isinstance(result, PreExecutionError):
        return True
    errors = result.errors or []
    return bool(errors) and all(error.path is None for error in errors)


_OPENING = {TokenKind.BRACE_L, TokenKind.PAREN_L, TokenKind.BRACKET_L}
_CLOSING = {TokenKind.BRACE_R, TokenKind.PAREN_R, TokenKind.BRACKET_R}


@lru_cache(maxsize=512)  # the same few documents come again and again, as for the parser
def _has_several_operations(query: str) -> bool:
    """Whether a document defines more than one operation, found by lexing alone.

    GraphQL's GetOperation() needs ``operationName`` then, but Strawberry picks the
    first operation. Lexing stops at the second operation and, unlike a second parse,
    costs no syntax tree; a document that does not lex is left to the parser's errors.
    """
    lexer = Lexer(Source(query))
    depth = operations = 0
    in_definition = False  # between a definition's keyword and its selection set
    try:
        token = lexer.advance()
        while token.kind != TokenKind.EOF:
            if token.kind in _OPENING:
                if depth == 0 and token.kind == TokenKind.BRACE_L:
                    operations += not in_definition  # a bare "{ ... }" is a query
                    in_definition = False
                depth += 1
            elif token.kind in _CLOSING:
                depth -= 1
            elif depth == 0 and not in_definition and token.kind == TokenKind.NAME:
                in_definition = True
                operations += token.value != "fragment"
            if operations > 1:
                return True
            token = lexer.advance()
    except GraphQLError:
        return False
    return False


def _error_body(refusal: Refusal) -> bytes:
    return json.dumps({"errors": [refusal.error()]}, ensure_ascii=False).encode("utf-8")


def refusal_response(
    status: int,
    message: Refusal,
    media_type: str = JSON,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A refusal outside GraphQL execution, GraphQL-shaped, in ``media_type``."""
    return Response(
        _error_body(message),
        status_code=status,
        headers=dict(headers or {}),
        media_type=f"{media_type}; charset=utf-8",
    )


def store_unavailable_response(media_type: str = JSON) -> Response:
    """503 ``STORE_UNAVAILABLE`` with ``Retry-After``: the gateway's store cannot be
    reached just now (a route outside GraphQL answers it for the same failure)."""
    refusal = STORE_UNAVAILABLE
    retry_after = {"Retry-After": str(refusal.retry_after)}
    return refusal_response(503, refusal, media_type, retry_after)


#: The status of a request whose caller hung up before it was read (nginx's).
CLIENT_CLOSED_REQUEST = 499


class GatewayGraphQL(GraphQL[Any, Any]):
    """Strawberry's ASGI view, made to follow GraphQL-over-HTTP (see module docstring).

    Mount it with a Starlette ``Route`` (HTTP) and ``WebSocketRoute`` (subscriptions)
    at the same path, and :func:`gateway.http.graphiql.graphiql_assets_app` at
    ``graphiql_assets_path`` when ``graphiql`` is on.
    """

    def __init__(
        self,
        schema: BaseSchema,
        *,
        graphiql: bool = False,
        allow_queries_via_get: bool = True,
        context_getter: ContextGetter | None = None,
        graphiql_assets_path: str = GRAPHIQL_ASSETS_PATH,
        subscription_protocols: Sequence[str] = SUBSCRIPTION_PROTOCOLS,
        connection_init_wait_timeout: timedelta = timedelta(minutes=1),
        allowed_origins: Sequence[str] = (),
        limits: RequestLimits | None = None,
    ) -> None:
        limits = limits or RequestLimits()
        self.max_json_depth = limits.max_json_depth
        self.max_json_values = limits.max_json_values
        #: Operations one WebSocket may have running at once (the app's handlers hold it).
        self.max_socket_operations = limits.max_socket_operations
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=allow_queries_via_get,
            subscription_protocols=subscription_protocols,
            connection_init_wait_timeout=connection_init_wait_timeout,
            allowed_origins=allowed_origins,
        )
        self.context_getter = context_getter
        self.graphiql_assets_path = graphiql_assets_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._respond(request)
        finally:
            # An upload's parts are temporary files: closed here whatever became of the
            # request (refused before it ran, they were left to the garbage collector,
            # a file descriptor each once a part is large enough to go to disk).
            await request.close()
        # An answer is the caller's own and may hold personal data: no cache keeps it
        # or serves it to another caller (a GET is cacheable by default).
        response.headers["Vary"] = "Accept, Authorization"
        response.headers.setdefault("Cache-Control", "no-store")
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return self._refusal(405, METHOD_NOT_ALLOWED, JSON, {"Allow": "GET, POST"})
        if self.should_render_graphql_ide(self.request_adapter_class(request)):
            return await self.render_graphql_ide(request)
        media_type = negotiate_media_type(request.headers.get("accept"))
        if media_type is None:
            if self._get_stream_transport_from_headers(request.headers) is None:
                return self._refusal(406, NOT_ACCEPTABLE, JSON)
            # A stream (SSE, multipart): what is refused before it starts is JSON.
            media_type = JSON
        exchange = _Exchange(media_type)
        request.scope[_EXCHANGE] = exchange
        try:
            response = await self.run(request)
        except RequestRefused as refused:
            return self._refusal(refused.status_code, refused.refusal, media_type, refused.headers)
        except HTTPException as refused:
            refusal = refusal_for(refused.status_code, refused.reason)
            return self._refusal(refused.status_code, refusal, media_type)
        except ClientDisconnect:
            # The caller hung up before its body was read: nobody to answer, nothing
            # wrong here. Logged as an error with its stack, anyone could fill the log
            # by opening requests and hanging up (400 KB of tracebacks a minute from
            # one address within its rate limit), and bury the real errors. 499,
            # nginx's "client closed request", for the access log and the metrics.
            logger.debug("the caller hung up before its request was read")
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        except Exception as unexpected:
            unreachable = store_unreachable(unexpected)
            if unreachable is not None:
                # Building the context looks the caller up in the store: while it
                # cannot be reached, a refusal the client can act on, said once a minute.
                log_store_unreachable(logger, unreachable)
                return store_unavailable_response(media_type)
            # Building the context reaches the store and the cache: their exceptions
            # name hosts and carry SQL. Logged by type and stack only, as in the schema.
            stack = "".join(traceback.format_tb(unexpected.__traceback__))
            logger.error("unexpected %s in the GraphQL view\n%s", type(unexpected).__name__, stack)
            return self._refusal(500, INTERNAL, media_type)
        if exchange.request_errors and not isinstance(response, StreamingResponse):
            response.headers["Content-Type"] = f"{media_type}; charset=utf-8"
            if (
                media_type == GRAPHQL_RESPONSE_JSON
                and all(exchange.request_errors)
                and response.status_code == 200
            ):
                response.status_code = 400
        return response

    @staticmethod
    def _refusal(
        status: int,
        message: Refusal,
        media_type: MediaType,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        return refusal_response(status, message, media_type, headers)

    def should_render_graphql_ide(self, request: Any) -> bool:
        return (
            self.graphql_ide is not None
            and request.method == "GET"
            and "query" not in request.query_params
            and accepts_html(request.headers.get("accept"))
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        # A path behind a reverse proxy's prefix (uvicorn --root-path) keeps working.
        root = request.scope.get("app_root_path", request.scope.get("root_path", ""))
        return graphiql_page_response(root.rstrip("/") + self.graphiql_assets_path)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Any:
        if self.context_getter is None:
            return await super().get_context(request, response)
        return await self.context_getter(request, response)

    def encode_json(self, data: object) -> str:
        # Names and addresses are Chinese: raw UTF-8 is a third the size of \u escapes.
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    def decode_json(self, data: str | bytes) -> object:
        # Every JSON the view reads: request bodies, variables in a GET, WebSocket
        # messages (where a refusal closes the socket as a message that is not JSON).
        return load_bounded(data, max_depth=self.max_json_depth, max_values=self.max_json_values)

    def parse_json(self, data: str | bytes) -> Any:
        # Every JSON value the protocol carries (the body, and variables or extensions in
        # a GET) is an object, or a list for a batch; anything else is malformed.
        try:
            value = self.decode_json(data)
        except JsonRefused as refused:
            raise RequestRefused(400, refused.refusal) from None
        if not isinstance(value, dict | list):
            raise RequestRefused(400, MALFORMED_REQUEST)
        return value

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, str]:
        # The upload's ``map`` must be {part: [path, ...]}, each path reaching a
        # variable: Strawberry walks it as given, and a list for the map, a number for
        # a path or a path through a string raised out of it (HTTP 500).
        try:
            return await super().parse_multipart(request)
        except (AttributeError, TypeError, ValueError, IndexError):
            raise RequestRefused(400, MALFORMED_REQUEST) from None

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST":
            media_type, params = parse_content_type(request.content_type or "")
            multipart = self.multipart_uploads_enabled and media_type == "multipart/form-data"
            if media_type != JSON and not multipart:
                raise RequestRefused(415, UNSUPPORTED_MEDIA_TYPE)
            if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
                raise RequestRefused(415, UNSUPPORTED_MEDIA_TYPE)
        parsed = await super().parse_http_body(request)
        for data in parsed if isinstance(parsed, list) else [parsed]:
            if not isinstance(data.operation_name, str | None):
                raise RequestRefused(400, MALFORMED_REQUEST)
        return parsed

    def _validate_batch_request(self, request_data: list[Any], protocol: Any) -> None:
        batching = self.schema.config.batching_config
        if batching is None:
            raise RequestRefused(400, BATCHING_DISABLED)
        if len(request_data) > batching["max_operations"]:
            raise RequestRefused(400, TOO_MANY_OPERATIONS)
        super()._validate_batch_request(request_data, protocol)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Any,
        root_value: Any | None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        method = request_adapter.method
        allowed = OperationType.from_http(method)
        if not self.allow_queries_via_get and method == "GET":
            allowed = allowed - {OperationType.QUERY}
        # Subscriptions reach this point only on a plain HTTP request (streaming ones go
        # through Strawberry's stream transports); they need the WebSocket.
        allowed = allowed - {OperationType.SUBSCRIPTION}
        if (
            request_data.operation_name is None
            and request_data.query
            and _has_several_operations(request_data.query)
        ):
            return PreExecutionError(data=None, errors=[operation_name_required()])
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except MissingQueryError as e:
            raise RequestRefused(400, MISSING_QUERY) from e
        except CannotGetOperationTypeError as e:
            error = client_error(GraphQLError(str(e), original_error=e))
            return PreExecutionError(data=None, errors=[error])
        except InvalidOperationTypeError as e:
            if e.operation_type is OperationType.SUBSCRIPTION:
                error = GatewayError(*SUBSCRIPTION_NEEDS_WEBSOCKET)
                return PreExecutionError(data=None, errors=[error])
            raise RequestRefused(405, POST_REQUIRED, headers={"Allow": "POST"}) from e

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # The schema shapes its errors already; the view's own pass over them (and
        # over those it made itself) costs nothing for an error already coded.
        if result.errors:
            result.errors = [client_error(e) for e in result.errors]
        body = await super().process_result(request, result)
        request_error = _is_request_error(result)
        if request_error:
            body.pop("data", None)
        exchange = request.scope.get(_EXCHANGE)
        if isinstance(exchange, _Exchange):
            exchange.request_errors.append(request_error)
        return body
