"""Refusals before the GraphQL view reads a request: CSRF, and the body's size.

Both are plain ASGI middlewares (``Middleware(CSRFGuard)``,
``Middleware(BodySizeLimit, max_bytes=...)``) that hold whatever the app behind
them does: they look at headers and bytes only, never at GraphQL.

CSRF
    Apollo Server's rule (``csrfPrevention``), applied to every method but GET and
    HEAD: a request whose ``Content-Type`` is absent or is one that an HTML form or
    a "simple" ``fetch`` can send without a CORS preflight (``text/plain``,
    ``application/x-www-form-urlencoded``, ``multipart/form-data``) is refused unless
    it carries a non-empty header that a browser only sends after a preflight:
    ``Apollo-Require-Preflight``, ``X-Apollo-Operation-Name`` (sent by Apollo's
    mobile clients) or ``X-Requested-With``. A ``Content-Type`` that does not parse
    as a media type is not one a browser sends without a preflight, and passes (the
    view then answers 415).

    Not every non-safelisted header would do: a reverse proxy adds some (``X-Forwarded-For``)
    to a forged request, and browsers attach cached Basic or Negotiate credentials
    in ``Authorization`` by themselves, so neither proves a preflight.

    GET is left alone, unlike Apollo: it carries queries only (a mutation over GET
    is 405), and a query reads with the caller's bearer token, which a browser never
    attaches on its own, so a forged GET runs anonymously. Apollo also guards GET
    against cross-site timing of responses, which needs ambient credentials the
    gateway does not honour.

    Bearer tokens make CSRF moot for the gateway itself today; the rule stands for
    deployments where something in front adds credentials by network position or
    client certificate, and for a cookie session should one ever come.

Body size
    A declared ``Content-Length`` over the limit is refused at once; a body sent
    without one (chunked) is read up to the limit and refused at the first byte over
    it. Below the limit, the body is replayed to the app. Answered with 413 and the
    code ``BODY_TOO_LARGE``.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import Refusal
from gateway.http.view import JSON, negotiate_media_type, refusal_response

#: Content types a page can send cross-site without a CORS preflight
#: (https://fetch.spec.whatwg.org/#cors-safelisted-request-header).
SIMPLE_CONTENT_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name", "x-requested-with")
SAFE_METHODS = frozenset({"GET", "HEAD"})

CSRF_REFUSED = Refusal(
    "CSRF_REFUSED",
    "This request looks like a cross-site request forgery: send it as application/json, "
    "or with an Apollo-Require-Preflight header.",
    "该请求疑似跨站请求伪造：请以 application/json 发送，或带上 Apollo-Require-Preflight 请求头。",
)


def body_too_large(max_bytes: int) -> Refusal:
    return Refusal(
        "BODY_TOO_LARGE",
        f"The request body is larger than {max_bytes} bytes.",
        f"请求体超过 {max_bytes} 字节。",
    )


def _essence(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def forgeable(headers: Headers, preflight_headers: Iterable[str] = PREFLIGHT_HEADERS) -> bool:
    """Whether a browser could have sent a request with these headers from any page."""
    content_types = headers.getlist("content-type")
    if content_types and not any(_essence(c) in SIMPLE_CONTENT_TYPES for c in content_types):
        return False
    return not any(headers.get(name, "").strip() for name in preflight_headers)


def _media_type(headers: Headers) -> str:
    return negotiate_media_type(headers.get("accept")) or JSON


class CSRFGuard:
    """Refuses (400, ``CSRF_REFUSED``) what a page on another site could have sent."""

    def __init__(self, app: ASGIApp, *, preflight_headers: Iterable[str] = PREFLIGHT_HEADERS):
        self.app = app
        self.preflight_headers = tuple(h.lower() for h in preflight_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            if forgeable(headers, self.preflight_headers):
                response = refusal_response(400, CSRF_REFUSED, _media_type(headers))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Refuses (413, ``BODY_TOO_LARGE``) a request body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, headers)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # the client left; the app sees it too
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, headers)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        response = refusal_response(413, body_too_large(self.max_bytes), _media_type(headers))
        # The rest of the body is not read: the connection closes after the answer.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
