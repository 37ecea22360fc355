"""The request id: taken from the client or made here, returned, logged, passed on.

``RequestIdMiddleware`` reads ``X-Request-Id``, keeps it when it is safe
(``valid_request_id``: anything else could forge log lines or smuggle personal
data into them, so it is replaced by a fresh id), puts it in a context variable
for the time of the request and returns it in the response.
Everything that runs for the request sees it through ``current_request_id()``:
the logging filter, and the HTTP clients of the systems through the
``add_request_id_header`` event hook (the labour system's SOAP transport posts
through the same kind of httpx client, so one hook serves all three).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.privacy import UUID_LIKE, redact

REQUEST_ID_HEADER = "X-Request-Id"

# Letters, digits and a few separators that tracing systems use (UUIDs, W3C
# trace ids, "svc:1234"), up to 64 characters: nothing that can end a log line
# or quote a JSON string.
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

# A run of digits as long as a mobile number or longer (an ID number's may end in
# X), whatever it reads as: a number of someone's the masks do not know the shape
# of (a foreign mobile, an ID number mistyped) is not kept either.
_LONG_NUMBER = re.compile(r"\d{10,}[\dXx]")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> bool:
    """Whether a client's id may be kept. It is logged as it is (``request_id`` is
    never masked: it is checked here), returned, and sent on to the systems, so it
    must be: at most 64 of ``[A-Za-z0-9._:-]``, starting with a letter or digit;
    nothing ``redact`` would mask (an ID or mobile number, alone or glued to
    letters: ``ID370102…``, ``tel137…``); and no run of 11 digits or more, except
    within a uuid standing alone (``0af76519…``, with or without its dashes, as in a
    W3C ``traceparent``): one in 18 uuids holds such a run, and tracing ids must
    survive. Anything else is replaced by a fresh id."""
    if value is None or _SAFE.fullmatch(value) is None or redact(value) != value:
        return False
    return _LONG_NUMBER.search(UUID_LIKE.sub("-", value)) is None


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside one (the worker, start-up)."""
    return _current.get()


@contextmanager
def bind_request_id(value: str | None = None) -> Iterator[str]:
    """Run a block under a request id (a fresh one by default): for work that no
    HTTP request started, such as one step of the registration worker."""
    rid = value if valid_request_id(value) else new_request_id()
    assert rid is not None
    token = _current.set(rid)
    try:
        yield rid
    finally:
        _current.reset(token)


class RequestIdMiddleware:
    """ASGI middleware: one request id per HTTP request or WebSocket connection."""

    def __init__(self, app: ASGIApp, *, header: str = REQUEST_ID_HEADER) -> None:
        self.app = app
        self.header = header
        self._raw_header = header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(self.header)
        with bind_request_id(given) as rid:
            scope.setdefault("state", {})["request_id"] = rid
            raw = (self._raw_header, rid.encode("ascii"))

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message.setdefault("headers", [])
                    MutableHeaders(scope=message)[self.header] = rid
                elif message["type"] == "websocket.accept":
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != raw[0]]
                    message["headers"] = [*headers, raw]
                await send(message)

            await self.app(scope, receive, send_with_id)


async def add_request_id_header(request: httpx.Request) -> None:
    """An httpx request event hook: pass the current request id on to a system."""
    rid = current_request_id()
    if rid is not None:
        request.headers[REQUEST_ID_HEADER] = rid


def with_request_id(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """``client``, its requests carrying the current request id from now on."""
    hooks = client.event_hooks
    if add_request_id_header not in hooks["request"]:
        hooks["request"] = [*hooks["request"], add_request_id_header]
        client.event_hooks = hooks
    return client
