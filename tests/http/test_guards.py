"""CSRF and the body size limit, in front of an app that accepts anything (so the rules
hold whatever the view does), in front of the view, and in the real application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.http.guards import BodySizeLimit, CSRFGuard
from tests.http.conftest import ClientFactory, make_app

MUTATION = "mutation { bump }"
PREFLIGHT = {"Apollo-Require-Preflight": "true"}


def anything_app(seen: list[bytes], *middleware: Middleware) -> Starlette:
    """Accepts every request with any body: only the guards can refuse."""

    async def accept(request: Request) -> JSONResponse:
        body = await request.body()
        seen.append(body)
        return JSONResponse({"received": len(body)})

    return Starlette(
        routes=[Route("/graphql", accept, methods=["GET", "POST", "PUT", "DELETE"])],
        middleware=list(middleware),
    )


def codes(response: httpx.Response) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in response.json().get("errors", [])]


# --- CSRF ----------------------------------------------------------------------------------


@pytest.fixture
def seen() -> list[bytes]:
    return []


@pytest.fixture
def guarded(client_factory: ClientFactory, seen: list[bytes]) -> httpx.AsyncClient:
    return client_factory(anything_app(seen, Middleware(CSRFGuard)))


FORM_TYPES = [
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=----x",
    "  Text/Plain ; charset=utf-8",
]


@pytest.mark.parametrize("content_type", FORM_TYPES)
async def test_a_form_content_type_is_refused(
    guarded: httpx.AsyncClient, seen: list[bytes], content_type: str
) -> None:
    response = await guarded.post(
        "/graphql", content=f'{{"query": "{MUTATION}"}}', headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    assert codes(response) == ["CSRF_REFUSED"]
    assert "message_zh" in response.json()["errors"][0]["extensions"]
    assert seen == [], "the app never sees a forged request"


async def test_no_content_type_is_refused(guarded: httpx.AsyncClient, seen: list[bytes]) -> None:
    # fetch() of a Blob without a type sends none, and needs no preflight.
    request = guarded.build_request("POST", "/graphql", content=b"{}")
    assert "content-type" not in request.headers
    response = await guarded.send(request)
    assert codes(response) == ["CSRF_REFUSED"]
    assert seen == []


@pytest.mark.parametrize(
    "header", ["Apollo-Require-Preflight", "X-Apollo-Operation-Name", "X-Requested-With"]
)
@pytest.mark.parametrize("content_type", FORM_TYPES)
async def test_a_preflight_header_lets_it_through(
    guarded: httpx.AsyncClient, seen: list[bytes], header: str, content_type: str
) -> None:
    response = await guarded.post(
        "/graphql", content=b"{}", headers={"Content-Type": content_type, header: "1"}
    )
    assert response.status_code == 200
    assert seen == [b"{}"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Apollo-Require-Preflight": ""},
        {"Apollo-Require-Preflight": "  "},
        # Browsers attach cached Basic or Negotiate credentials by themselves.
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer abc"},
        # Added by a proxy in front, not by the page.
        {"X-Forwarded-For": "10.0.0.1"},
        {"Origin": "http://gateway.test"},
    ],
)
async def test_other_headers_do_not_count(
    guarded: httpx.AsyncClient, seen: list[bytes], headers: dict[str, str]
) -> None:
    response = await guarded.post(
        "/graphql", content=b"{}", headers={"Content-Type": "text/plain", **headers}
    )
    assert codes(response) == ["CSRF_REFUSED"]
    assert seen == []


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/graphql-response+json", "application/x-anything", "???"],
)
async def test_content_types_that_need_a_preflight_pass(
    guarded: httpx.AsyncClient, seen: list[bytes], content_type: str
) -> None:
    response = await guarded.post("/graphql", content=b"{}", headers={"Content-Type": content_type})
    assert response.status_code == 200
    assert seen == [b"{}"]


async def test_two_content_types_one_of_them_simple_is_refused(
    guarded: httpx.AsyncClient, seen: list[bytes]
) -> None:
    request = guarded.build_request("POST", "/graphql", content=b"{}")
    request.headers = httpx.Headers(
        [("Content-Type", "application/json"), ("Content-Type", "text/plain")]
    )
    response = await guarded.send(request)
    assert codes(response) == ["CSRF_REFUSED"]
    assert seen == []


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_other_unsafe_methods_are_guarded(
    guarded: httpx.AsyncClient, seen: list[bytes], method: str
) -> None:
    response = await guarded.request(method, "/graphql", headers={"Content-Type": "text/plain"})
    assert codes(response) == ["CSRF_REFUSED"]


async def test_get_is_not_guarded(guarded: httpx.AsyncClient, seen: list[bytes]) -> None:
    response = await guarded.get("/graphql", params={"query": "{ hello }"})
    assert response.status_code == 200
    assert seen == [b""]


# --- CSRF in front of the view ---------------------------------------------------------------


@pytest.fixture
async def view() -> AsyncIterator[tuple[httpx.AsyncClient, list[int]]]:
    counter: list[int] = []
    app = make_app(counter)
    app.add_middleware(CSRFGuard)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        yield client, counter


@pytest.mark.parametrize("content_type", FORM_TYPES)
async def test_a_forged_mutation_never_runs(
    view: tuple[httpx.AsyncClient, list[int]], content_type: str
) -> None:
    client, counter = view
    forged = await client.post(
        "/graphql", content=f'{{"query": "{MUTATION}"}}', headers={"Content-Type": content_type}
    )
    assert codes(forged) == ["CSRF_REFUSED"]
    # With the header the view answers in its own way, and still runs nothing.
    unforged = await client.post(
        "/graphql",
        content=f'{{"query": "{MUTATION}"}}',
        headers={"Content-Type": content_type, **PREFLIGHT},
    )
    assert unforged.status_code == 415
    assert counter == []
    sent = await client.post("/graphql", json={"query": MUTATION})
    assert sent.json() == {"data": {"bump": 1}}


async def test_a_mutation_over_get_never_runs(view: tuple[httpx.AsyncClient, list[int]]) -> None:
    client, counter = view
    response = await client.get("/graphql", params={"query": MUTATION})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert counter == []


async def test_the_refusal_speaks_the_negotiated_media_type(
    view: tuple[httpx.AsyncClient, list[int]],
) -> None:
    client, _ = view
    response = await client.post(
        "/graphql",
        content=b"{}",
        headers={"Content-Type": "text/plain", "Accept": "application/graphql-response+json"},
    )
    assert response.headers["content-type"] == "application/graphql-response+json; charset=utf-8"


# --- body size -------------------------------------------------------------------------------

LIMIT = 64


@pytest.fixture
def limited(client_factory: ClientFactory, seen: list[bytes]) -> httpx.AsyncClient:
    return client_factory(anything_app(seen, Middleware(BodySizeLimit, max_bytes=LIMIT)))


async def test_a_body_at_the_limit_passes_whole(
    limited: httpx.AsyncClient, seen: list[bytes]
) -> None:
    response = await limited.post("/graphql", content=b"x" * LIMIT)
    assert response.json() == {"received": LIMIT}
    assert seen == [b"x" * LIMIT]


async def test_a_body_over_the_limit_is_refused(
    limited: httpx.AsyncClient, seen: list[bytes]
) -> None:
    response = await limited.post("/graphql", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert codes(response) == ["BODY_TOO_LARGE"]
    assert seen == []


async def chunks(total: int, size: int = 10) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield b"y" * min(size, total - start)


@pytest.mark.parametrize(("length", "status"), [(LIMIT, 200), (LIMIT + 1, 413)])
async def test_a_chunked_body_is_counted(
    limited: httpx.AsyncClient, seen: list[bytes], length: int, status: int
) -> None:
    request = limited.build_request("POST", "/graphql", content=chunks(length))
    assert "content-length" not in request.headers
    response = await limited.send(request)
    assert response.status_code == status
    assert seen == ([b"y" * LIMIT] if status == 200 else [])


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    seen: list[bytes] = []
    received: list[Any] = []
    app = anything_app(seen, Middleware(BodySizeLimit, max_bytes=LIMIT))
    sent: list[Any] = []

    async def receive() -> Any:
        received.append(1)
        return {"type": "http.request", "body": b"z" * 16, "more_body": True}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(b"content-length", str(LIMIT + 1).encode())],
        "server": ("gateway.test", 80),
        "client": ("127.0.0.1", 1234),
        "http_version": "1.1",
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert received == [], "not one byte of the body was read"
    assert seen == []


async def test_the_real_application_has_both_guards() -> None:
    from gateway.app import create_app
    from gateway.config import GatewayConfig
    from gateway.schema.limits import RequestLimits

    app = create_app(GatewayConfig(), limits=RequestLimits(max_body_bytes=LIMIT))
    # No lifespan, no gateway: both refusals come before anything needs one.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as client:
        forged = await client.post(
            "/graphql",
            content=b'{"query": "mutation { x }"}',
            headers={"Content-Type": "text/plain"},
        )
        assert codes(forged) == ["CSRF_REFUSED"]
        large = await client.post("/graphql", json={"query": "{ " + "a " * LIMIT + "}"})
        assert large.status_code == 413
        assert codes(large) == ["BODY_TOO_LARGE"]
