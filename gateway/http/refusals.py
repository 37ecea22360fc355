"""The refusals of the GraphQL endpoint outside GraphQL execution, each with its code.

Every one is a :class:`~gateway.errors.Refusal`, answered as ``{"errors": [...]}``
with ``extensions.code``, ``message_en`` and ``message_zh`` (see
:func:`gateway.http.view.refusal_response`); the codes are listed in
``docs/graph.md``. Messages name the limits and media types, never what was sent.
"""

from __future__ import annotations

from typing import Final

from gateway.errors import MISSING_QUERY, Refusal
from gateway.http.body import INVALID_JSON

GRAPHQL_RESPONSE_JSON: Final = "application/graphql-response+json"
JSON: Final = "application/json"

BATCHING_DISABLED = Refusal(
    "BATCHING_DISABLED",
    "Send one operation per request: batching is disabled.",
    "每个请求只能包含一个操作：未开启批量请求。",
)
TOO_MANY_OPERATIONS = Refusal(
    "TOO_MANY_OPERATIONS",
    "Too many operations in one request.",
    "一个请求中的操作过多。",
)
INTERNAL = Refusal("INTERNAL", "Internal error.", "内部错误。")
MALFORMED_REQUEST = Refusal(
    "MALFORMED_REQUEST",
    "Not a GraphQL request: send an object with query (a string), and operationName "
    "(a string), variables and extensions (objects) when needed.",
    "不是有效的 GraphQL 请求：请发送包含 query（字符串）的对象，需要时再加 operationName"
    "（字符串）、variables 和 extensions（对象）。",
)
UNSUPPORTED_MEDIA_TYPE = Refusal(
    "UNSUPPORTED_MEDIA_TYPE",
    f"Send the request body as {JSON} in UTF-8.",
    f"请求体须为 UTF-8 编码的 {JSON}。",
)
#: The ``Accept`` values of the two streaming transports over plain HTTP.
EVENT_STREAM = "text/event-stream"
MULTIPART_SUBSCRIPTION = 'multipart/mixed;subscriptionSpec="1.0"'

NOT_ACCEPTABLE = Refusal(
    "NOT_ACCEPTABLE",
    f"Accept {GRAPHQL_RESPONSE_JSON} or {JSON} for GraphQL responses, or, for a "
    f"subscription, {EVENT_STREAM} (graphql-sse) or {MULTIPART_SUBSCRIPTION}.",
    f"请接受 {GRAPHQL_RESPONSE_JSON} 或 {JSON} 格式的响应；订阅可接受 {EVENT_STREAM}"
    f"（graphql-sse）或 {MULTIPART_SUBSCRIPTION}。",
)
METHOD_NOT_ALLOWED = Refusal(
    "METHOD_NOT_ALLOWED",
    "GraphQL is served over GET and POST only.",
    "GraphQL 仅支持 GET 和 POST 请求。",
)
POST_REQUIRED = Refusal(
    "METHOD_NOT_ALLOWED",
    "Send this operation with POST: GET carries queries only.",
    "该操作须以 POST 发送：GET 仅用于查询。",
)
NOT_FOUND = Refusal("NOT_FOUND", "Nothing is served here.", "此处没有可用的资源。")
#: A subscription sent as a plain request. The code predates the HTTP transports
#: and is kept, as every code is, for the clients that read it.
SUBSCRIPTION_NEEDS_WEBSOCKET = (
    "SUBSCRIPTION_NEEDS_WEBSOCKET",
    "Subscriptions are served at this URL over WebSocket (graphql-transport-ws), over "
    f"server-sent events (graphql-sse: POST with Accept: {EVENT_STREAM}) or as multipart "
    f"HTTP (Accept: {MULTIPART_SUBSCRIPTION}), not as a plain request.",
    "订阅须在本地址通过 WebSocket（graphql-transport-ws）、服务器推送事件（graphql-sse："
    f"以 POST 发送并带 Accept: {EVENT_STREAM}）或 multipart HTTP（Accept: "
    f"{MULTIPART_SUBSCRIPTION}）进行，不能作为普通请求。",
)

# Strawberry's refusals carry English reasons only; each is answered with its code.
_BY_STATUS = {
    400: MALFORMED_REQUEST,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    406: NOT_ACCEPTABLE,
    415: UNSUPPORTED_MEDIA_TYPE,
}
_BY_REASON = {
    "Unable to parse request body as JSON": INVALID_JSON,
    "No GraphQL query found in the request": MISSING_QUERY,
}


TOO_MANY_SOCKET_OPERATIONS = Refusal(
    "TOO_MANY_SOCKET_OPERATIONS",
    "Too many operations running on this connection: complete some, or open another.",
    "此连接上同时进行的操作过多：请先结束部分操作，或另建连接。",
)
#: A browser's preflight from an origin (or with a method or header) not allowed.
CROSS_ORIGIN_REFUSED = Refusal(
    "CROSS_ORIGIN_REFUSED",
    "This page's origin, method or headers may not call the gateway from a browser "
    "(HRSS_CORS_ORIGINS lists the origins that may).",
    "该网页的来源、请求方法或请求头不允许从浏览器调用本网关（允许的来源见 HRSS_CORS_ORIGINS）。",
)


def refusal_for(status: int, reason: str) -> Refusal:
    """The coded refusal for an HTTP status and Strawberry's reason for it."""
    return _BY_REASON.get(reason) or _BY_STATUS.get(status) or INTERNAL


__all__ = [
    "BATCHING_DISABLED",
    "CROSS_ORIGIN_REFUSED",
    "EVENT_STREAM",
    "GRAPHQL_RESPONSE_JSON",
    "INTERNAL",
    "JSON",
    "MALFORMED_REQUEST",
    "METHOD_NOT_ALLOWED",
    "MISSING_QUERY",
    "MULTIPART_SUBSCRIPTION",
    "NOT_ACCEPTABLE",
    "NOT_FOUND",
    "POST_REQUIRED",
    "SUBSCRIPTION_NEEDS_WEBSOCKET",
    "TOO_MANY_OPERATIONS",
    "TOO_MANY_SOCKET_OPERATIONS",
    "UNSUPPORTED_MEDIA_TYPE",
    "refusal_for",
]
