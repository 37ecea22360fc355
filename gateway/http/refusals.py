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
NOT_ACCEPTABLE = Refusal(
    "NOT_ACCEPTABLE",
    f"Accept {GRAPHQL_RESPONSE_JSON} or {JSON} for GraphQL responses.",
    f"请接受 {GRAPHQL_RESPONSE_JSON} 或 {JSON} 格式的响应。",
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
SUBSCRIPTION_NEEDS_WEBSOCKET = (
    "SUBSCRIPTION_NEEDS_WEBSOCKET",
    "Subscriptions are served over WebSocket (graphql-transport-ws) at this URL.",
    "订阅须通过本地址的 WebSocket（graphql-transport-ws）进行。",
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


def refusal_for(status: int, reason: str) -> Refusal:
    """The coded refusal for an HTTP status and Strawberry's reason for it."""
    return _BY_REASON.get(reason) or _BY_STATUS.get(status) or INTERNAL


__all__ = [
    "BATCHING_DISABLED",
    "GRAPHQL_RESPONSE_JSON",
    "INTERNAL",
    "JSON",
    "MALFORMED_REQUEST",
    "METHOD_NOT_ALLOWED",
    "MISSING_QUERY",
    "NOT_ACCEPTABLE",
    "NOT_FOUND",
    "POST_REQUIRED",
    "SUBSCRIPTION_NEEDS_WEBSOCKET",
    "TOO_MANY_OPERATIONS",
    "UNSUPPORTED_MEDIA_TYPE",
    "refusal_for",
]
